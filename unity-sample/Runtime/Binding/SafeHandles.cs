// Owners of the library's handles and returned strings: released exactly once, by Dispose() or
// by the garbage collector, with the matching C free function (which closes what is open). The
// DllImports take raw pointers; a call borrows the pointer from its owner for its duration.
using System;
using System.Runtime.InteropServices;

namespace PortOpen
{
    /// <summary>A pointer the library allocated; NULL is invalid (nothing to free).</summary>
    internal abstract class PortOpenHandle : SafeHandle
    {
        protected PortOpenHandle(IntPtr pointer) : base(IntPtr.Zero, true)
        {
            SetHandle(pointer);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        /// <summary>
        /// The pointer for one native call: until the borrow is disposed, Dispose on another
        /// thread only marks the handle, and the free runs when the last borrow ends (what the
        /// marshaller does for a SafeHandle parameter). Allocates nothing.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The handle was already disposed.</exception>
        internal Borrowed Borrow()
        {
            bool added = false;
            DangerousAddRef(ref added); // throws ObjectDisposedException once closed
            return new Borrowed(this, handle);
        }

        /// <summary>A pointer borrowed from its owner (use with <c>using</c>).</summary>
        internal struct Borrowed : IDisposable
        {
            readonly PortOpenHandle owner;

            internal Borrowed(PortOpenHandle owner, IntPtr pointer)
            {
                this.owner = owner;
                Pointer = pointer;
            }

            /// <summary>The raw pointer, valid until Dispose.</summary>
            internal IntPtr Pointer { get; private set; }

            public void Dispose()
            {
                owner.DangerousRelease();
            }
        }
    }

    /// <summary>portopen_client*: freeing it closes every lease the client opened (blocking).</summary>
    internal sealed class ClientHandle : PortOpenHandle
    {
        internal ClientHandle(IntPtr pointer) : base(pointer) { }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_client_free(handle) == PortOpenStatus.Ok;
        }
    }

    /// <summary>portopen_lease*: freeing it closes the port on the router (blocking).</summary>
    internal sealed class LeaseHandle : PortOpenHandle
    {
        internal LeaseHandle(IntPtr pointer) : base(pointer) { }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_lease_free(handle) == PortOpenStatus.Ok;
        }
    }

    /// <summary>portopen_gateway*: an immutable snapshot, read once then freed.</summary>
    internal sealed class GatewayHandle : PortOpenHandle
    {
        internal GatewayHandle(IntPtr pointer) : base(pointer) { }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.portopen_gateway_free(handle) == PortOpenStatus.Ok;
        }
    }

    /// <summary>A char* the library returned through char**: UTF-8, freed with portopen_string_free.</summary>
    internal static class NativeText
    {
        /// <summary>The text (null for NULL), and the native string freed.</summary>
        internal static string Take(IntPtr text)
        {
            if (text == IntPtr.Zero) return null;
            try
            {
                return Utf8.Decode(text);
            }
            finally
            {
                NativeMethods.portopen_string_free(text);
            }
        }
    }
}
