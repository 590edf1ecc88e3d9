// The client: discovery, opening ports, the event queue and cancellation. Blocking methods have
// a Task-returning twin that runs them on the thread pool, with the token wired to the C cancel.
using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace PortOpen
{
    /// <summary>
    /// A portopen client: its gateways, its leases, its event queue and its renewal thread. Thread
    /// safe: every member may be called from any thread, concurrently. Dispose it to close every
    /// lease it opened (blocks while the router answers, up to the action timeout per family).
    /// </summary>
    /// <remarks>
    /// Cancellation is per client, as in C: cancelling one call's token (or calling Cancel) stops
    /// every blocking call in flight on this client. Use one client per independent task if that
    /// matters.
    /// </remarks>
    public sealed class PortOpenClient : IDisposable
    {
        static bool abiChecked;
        readonly ClientHandle handle;

        /// <summary>Creates a client (sends nothing). <paramref name="config"/> null: every default.</summary>
        /// <exception cref="PortOpenException">InvalidArgument for a bad config; NotSupported for a mismatched library.</exception>
        public PortOpenClient(PortOpenConfig config = null)
        {
            CheckAbi();
            NativeConfig c;
            NativeMethods.portopen_config_init(out c).ThrowOnError();
            IntPtr client;
            using (var args = new Utf8Args())
            {
                if (config != null) config.CopyTo(ref c, args);
                NativeMethods.portopen_client_new(ref c, out client).ThrowOnError();
            }
            handle = new ClientHandle(client);
        }

        /// <summary>The native library's version ("0.1.0").</summary>
        public static string Version { get { return Utf8.Decode(NativeMethods.portopen_version()); } }

        /// <summary>
        /// Finds the gateway of <paramref name="family"/> now, replacing the one cached. Blocks up
        /// to the discovery timeout (plus the description fetch).
        /// </summary>
        /// <exception cref="PortOpenException">NoGateway when nobody answered.</exception>
        /// <exception cref="OperationCanceledException">Cancel() was called.</exception>
        public Gateway Discover(IpFamily family)
        {
            return Discover(family, CancellationToken.None);
        }

        /// <summary><see cref="Discover(IpFamily)"/> on the thread pool; the token cancels it.</summary>
        public Task<Gateway> DiscoverAsync(IpFamily family, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Run(token => Discover(family, token), cancellationToken);
        }

        /// <summary>
        /// Opens a port: an IPv4 mapping and/or an IPv6 pinhole, in parallel. Blocks up to about the
        /// discovery timeout plus a few action timeouts. Succeeds when the request was valid even if
        /// a family failed: read each family's outcome from the lease (V4, V6).
        /// </summary>
        /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
        /// <exception cref="PortOpenException">InvalidArgument (port 0, bad address, ...).</exception>
        /// <remarks>
        /// Cancel() during Open does not throw: the families it stopped are Failed ("cancelled").
        /// OpenAsync whose token is cancelled does throw, after closing whatever had opened.
        /// </remarks>
        public PortLease Open(OpenOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            return Open(options, CancellationToken.None);
        }

        /// <summary><see cref="Open(OpenOptions)"/> on the thread pool; the token cancels it.</summary>
        public Task<PortLease> OpenAsync(OpenOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (options == null) throw new ArgumentNullException("options");
            return Run(token => Open(options, token), cancellationToken);
        }

        /// <summary>
        /// Takes the next lease event, or returns false when there is none. Never blocks and
        /// allocates nothing: call it every frame with the same variable. The queue keeps the
        /// last 256 events.
        /// </summary>
        public bool TryPollEvent(out PortEvent portEvent)
        {
            using (var client = Handle.Borrow())
            {
                PortOpenStatus status = NativeMethods.portopen_client_poll_event(client.Pointer, out portEvent);
                if (status == PortOpenStatus.NoEvent) return false;
                status.ThrowOnError();
                return true;
            }
        }

        /// <summary>
        /// Checks the router: grades it (A to D, over UPnP) and says which routes it speaks and
        /// through which each family opens. Through each route the config allows it tries a
        /// short-lived pinhole / mapping / PCP or NAT-PMP map on <paramref name="port"/> (0: a high
        /// port of its choosing) and removes it. A router that does not answer is grade D, not an error.
        /// </summary>
        public RouterCheck CheckRouter(ushort port = 0)
        {
            return CheckRouter(port, CancellationToken.None);
        }

        /// <summary><see cref="CheckRouter(ushort)"/> on the thread pool; the token cancels it.</summary>
        public Task<RouterCheck> CheckRouterAsync(ushort port = 0, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Run(token => CheckRouter(port, token), cancellationToken);
        }

        /// <summary>
        /// Removes what an earlier run left open, as listed in the journal file (also done on the
        /// first open of each family). Blocks while it talks to the router. Returns how many.
        /// </summary>
        public int CleanLeftovers()
        {
            return CleanLeftovers(CancellationToken.None);
        }

        /// <summary><see cref="CleanLeftovers()"/> on the thread pool; the token cancels it.</summary>
        public Task<int> CleanLeftoversAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return Run(token => CleanLeftovers(token), cancellationToken);
        }

        /// <summary>
        /// Runs every renewal that is due now on this thread (for ManualRenew clients; harmless
        /// otherwise). Blocks while it talks to the router. Returns the time until the next one
        /// is due, or null when none is.
        /// </summary>
        public TimeSpan? RenewDue()
        {
            uint nextMs;
            using (var client = Handle.Borrow())
            {
                NativeMethods.portopen_client_renew_due(client.Pointer, out nextMs).ThrowOnError();
            }
            return nextMs == uint.MaxValue ? (TimeSpan?)null : TimeSpan.FromMilliseconds(nextMs);
        }

        /// <summary>
        /// Stops every blocking call in flight on this client (they throw OperationCanceledException
        /// within about 20 ms), and later ones until <see cref="ResetCancel"/>. Never blocks.
        /// Closing and disposing still remove what is open.
        /// </summary>
        public void Cancel()
        {
            using (var client = Handle.Borrow())
            {
                NativeMethods.portopen_client_cancel(client.Pointer).ThrowOnError();
            }
        }

        /// <summary>Lets blocking calls run again after <see cref="Cancel"/>.</summary>
        public void ResetCancel()
        {
            using (var client = Handle.Borrow())
            {
                NativeMethods.portopen_client_reset_cancel(client.Pointer).ThrowOnError();
            }
        }

        /// <summary>
        /// Stops calls in flight, then frees the client, which closes every lease it opened
        /// (blocking up to the action timeout per family while the router answers). Lease objects
        /// stay usable (their state is Closed). A second Dispose does nothing.
        /// </summary>
        public void Dispose()
        {
            if (handle.IsClosed) return;
            CancelNative(handle);
            handle.Dispose(); // frees now, or when the last call in flight returns
        }

        ClientHandle Handle
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException(GetType().Name);
                return handle;
            }
        }

        Gateway Discover(IpFamily family, CancellationToken token)
        {
            IntPtr gateway;
            using (var client = Handle.Borrow())
            {
                NativeMethods.portopen_client_discover(client.Pointer, family, out gateway).ThrowOnError(token);
            }
            using (var owner = new GatewayHandle(gateway)) return new Gateway(owner);
        }

        PortLease Open(OpenOptions options, CancellationToken token)
        {
            IntPtr lease;
            using (var client = Handle.Borrow())
            using (var args = new Utf8Args())
            {
                NativeOpenOptions native = options.ToNative(args);
                NativeMethods.portopen_client_open(client.Pointer, ref native, out lease).ThrowOnError(token);
            }
            var result = new PortLease(new LeaseHandle(lease));
            if (token.IsCancellationRequested)
            {
                // The C call reports a cancelled open as OK with failed families; a cancelled
                // task has no result, so close whatever did open and say it was cancelled.
                result.Dispose();
                throw new OperationCanceledException(token);
            }
            return result;
        }

        RouterCheck CheckRouter(ushort port, CancellationToken token)
        {
            var info = new NativeCheckInfo { struct_size = (uint)Marshal.SizeOf(typeof(NativeCheckInfo)) };
            IntPtr report;
            using (var client = Handle.Borrow())
            {
                NativeMethods.portopen_client_check_routes(client.Pointer, port, ref info, out report).ThrowOnError(token);
            }
            return new RouterCheck(info, NativeText.Take(report));
        }

        int CleanLeftovers(CancellationToken token)
        {
            uint removed;
            using (var client = Handle.Borrow())
            {
                NativeMethods.portopen_client_clean_leftovers(client.Pointer, out removed).ThrowOnError(token);
            }
            return (int)removed;
        }

        /// <summary>
        /// Runs a blocking call on the thread pool. A cancelled token calls portopen_client_cancel;
        /// once the call has returned (and the registration can no longer fire) the client's
        /// cancel flag is reset so the next call runs.
        /// </summary>
        Task<T> Run<T>(Func<CancellationToken, T> call, CancellationToken token)
        {
            ClientHandle checkedHandle = Handle; // ObjectDisposedException now, not in the task
            return Task.Run(() =>
            {
                CancellationTokenRegistration registration = token.Register(CancelNative, checkedHandle);
                try
                {
                    return call(token);
                }
                finally
                {
                    registration.Dispose(); // waits for a CancelNative that is running
                    if (token.IsCancellationRequested) ResetNative(checkedHandle);
                }
            }, token);
        }

        static void CancelNative(object state)
        {
            try
            {
                using (var client = ((ClientHandle)state).Borrow())
                {
                    NativeMethods.portopen_client_cancel(client.Pointer);
                }
            }
            catch (ObjectDisposedException)
            {
            }
        }

        static void ResetNative(ClientHandle client)
        {
            try
            {
                using (var borrowed = client.Borrow())
                {
                    NativeMethods.portopen_client_reset_cancel(borrowed.Pointer);
                }
            }
            catch (ObjectDisposedException)
            {
            }
        }

        static void CheckAbi()
        {
            if (abiChecked) return;
            uint abi = NativeMethods.portopen_abi_version();
            if (abi != NativeMethods.AbiVersion)
            {
                throw new PortOpenException(PortOpenStatus.NotSupported, string.Format(
                    "the native portopen library has C ABI {0}, this binding was written for {1}: use matching versions",
                    abi, NativeMethods.AbiVersion), 0);
            }
            abiChecked = true;
        }
    }
}
