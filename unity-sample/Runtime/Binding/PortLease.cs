// An open port: its per-family state, and closing it. Dispose (or the garbage collector, for a
// lease nobody disposed) closes it on the router and frees the handle.
using System;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace PortOpen
{
    /// <summary>
    /// An open port (IPv4 mapping and/or IPv6 pinhole), renewed in the background until closed.
    /// Thread safe. Dispose closes it (blocking while the router answers, up to the action timeout
    /// per family); so does the garbage collector if it is never disposed. It stays usable after
    /// its client is disposed (state Closed).
    /// </summary>
    public sealed class PortLease : IDisposable
    {
        static readonly uint InfoSize = (uint)Marshal.SizeOf(typeof(NativeLeaseInfo));
        readonly LeaseHandle handle;

        internal PortLease(LeaseHandle handle)
        {
            this.handle = handle;
            NativeLeaseInfo info = Info();
            Id = info.id;
            Protocol = (Protocol)info.protocol;
            InternalPort = info.internal_port;
        }

        /// <summary>The lease's id (also in its events), unique within the client.</summary>
        public ulong Id { get; private set; }

        /// <summary>The protocol opened.</summary>
        public Protocol Protocol { get; private set; }

        /// <summary>The port the game listens on (the one asked to be opened).</summary>
        public ushort InternalPort { get; private set; }

        /// <summary>The IPv4 port mapping now.</summary>
        public FamilyState V4 { get { return GetState(IpFamily.V4); } }

        /// <summary>The IPv6 pinhole now.</summary>
        public FamilyState V6 { get { return GetState(IpFamily.V6); } }

        /// <summary>One family's state now (never blocks on the network).</summary>
        public FamilyState GetState(IpFamily family)
        {
            IntPtr message;
            using (var lease = Handle.Borrow())
            {
                NativeMethods.portopen_lease_message(lease.Pointer, family, out message).ThrowOnError();
            }
            string text = NativeText.Take(message);
            NativeLeaseInfo info = Info();
            // A library older than the route fields leaves them 0 (None).
            return family == IpFamily.V4
                ? new FamilyState(family, info.v4, text, info.v4_router, info.v4_not_default_gateway, info.v4_other_routers, (Route)info.v4_route)
                : new FamilyState(family, info.v6, text, info.v6_router, info.v6_not_default_gateway, info.v6_other_routers, (Route)info.v6_route);
        }

        /// <summary>
        /// Deletes the mapping and pinhole on the router (blocks up to the action timeout per
        /// family; works after a cancel). Idempotent. The object stays usable until Dispose.
        /// </summary>
        public void Close()
        {
            Close(Handle);
        }

        /// <summary><see cref="Close"/> on the thread pool (then Dispose returns at once).</summary>
        public Task CloseAsync()
        {
            LeaseHandle checkedHandle = Handle;
            return Task.Run(() => Close(checkedHandle));
        }

        /// <summary>Closes the lease (as <see cref="Close"/>) and frees it. A second Dispose does nothing.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>For logs: "lease 1: V4 Open 11.0.0.1:7777; V6 Open [2001:db8::5]:7777".</summary>
        public override string ToString()
        {
            return handle.IsClosed ? "lease " + Id + ": disposed" : "lease " + Id + ": " + V4 + "; " + V6;
        }

        LeaseHandle Handle
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException(GetType().Name);
                return handle;
            }
        }

        NativeLeaseInfo Info()
        {
            var info = new NativeLeaseInfo { struct_size = InfoSize };
            using (var lease = Handle.Borrow())
            {
                NativeMethods.portopen_lease_get_info(lease.Pointer, ref info).ThrowOnError();
            }
            return info;
        }

        static void Close(LeaseHandle handle)
        {
            using (var lease = handle.Borrow())
            {
                NativeMethods.portopen_lease_close(lease.Pointer).ThrowOnError();
            }
        }
    }
}
