// Failures as exceptions: PortOpenException carries the status, the library's message and the
// router's UPnP code; a cancelled call is an OperationCanceledException like any .NET API's.
using System;
using System.Threading;

namespace PortOpen
{
    /// <summary>A portopen call failed: <see cref="Status"/> says how, Message says why.</summary>
    public class PortOpenException : Exception
    {
        /// <summary>Wraps a failure; <paramref name="message"/> is the library's explanation.</summary>
        public PortOpenException(PortOpenStatus status, string message, int upnpCode)
            : base(string.IsNullOrEmpty(message) ? status.ToString() : message)
        {
            Status = status;
            UpnpCode = upnpCode;
        }

        /// <summary>The C status (never Ok, NoEvent or Cancelled).</summary>
        public PortOpenStatus Status { get; private set; }

        /// <summary>The router's UPnP error code (e.g. 606, 718), 0 when not a UPnP refusal.</summary>
        public int UpnpCode { get; private set; }
    }

    internal static class StatusExtensions
    {
        /// <summary>
        /// Throws for a failed status, reading portopen_last_error on this thread: call it on the
        /// thread that made the call, before any other portopen call.
        /// </summary>
        internal static void ThrowOnError(this PortOpenStatus status, CancellationToken token = default(CancellationToken))
        {
            if (status == PortOpenStatus.Ok) return;
            string message = Utf8.Decode(NativeMethods.portopen_last_error());
            if (status == PortOpenStatus.Cancelled) throw new OperationCanceledException(message, token);
            throw new PortOpenException(status, message, NativeMethods.portopen_last_upnp_code());
        }
    }
}
