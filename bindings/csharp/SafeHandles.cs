// Owners of the library's handles and returned strings: released exactly once, by Dispose() or
// by the garbage collector, with the matching C free function (which closes what is open).
using System;
using System.Runtime.InteropServices;

namespace PortOpen
{
    /// <summary>A pointer the library allocated; NULL is invalid (nothing to free).</summary>
    internal abstract class PortOpenHandle : SafeHandle
    {
        protected PortOpenHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
    }

    /// <summary>portopen_client*: freeing it closes every lease the client opened (blocking).</summary>
    internal sealed class ClientHandle : PortOpenHandle
    {
        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_client_free(handle) == PortOpenStatus.Ok;
        }
    }

    /// <summary>portopen_lease*: freeing it closes the port on the router (blocking).</summary>
    internal sealed class LeaseHandle : PortOpenHandle
    {
        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_lease_free(handle) == PortOpenStatus.Ok;
        }
    }

    /// <summary>portopen_gateway*: an immutable snapshot, read once then freed.</summary>
    internal sealed class GatewayHandle : PortOpenHandle
    {
        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_gateway_free(handle) == PortOpenStatus.Ok;
        }
    }

    /// <summary>A char* returned through char**: UTF-8, freed with portopen_string_free.</summary>
    internal sealed class NativeString : PortOpenHandle
    {
        /// <summary>The text (null for a NULL pointer); frees the native string.</summary>
        internal string Take()
        {
            using (this)
            {
                return IsInvalid ? null : Utf8.Decode(handle);
            }
        }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_string_free(handle) == PortOpenStatus.Ok;
        }
    }
}
