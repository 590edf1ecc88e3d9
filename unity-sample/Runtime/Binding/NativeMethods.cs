// Every function of include/portopen.h as a DllImport, and the C structs laid out as the header
// says. The only file that knows C names; everything else goes through the types over it.
// Handles and strings cross as raw pointers (IntPtr), blittable on Mono, IL2CPP and .NET alike;
// the SafeHandle owners above them (SafeHandles.cs) decide when they are freed.
using System;
using System.Runtime.InteropServices;

namespace PortOpen
{
    internal static class NativeMethods
    {
#if UNITY_IOS && !UNITY_EDITOR
        // iOS players link the static library (libportopen.a) into the executable.
        internal const string Library = "__Internal";
#else
        // portopen.dll, libportopen.so, libportopen.dylib.
        internal const string Library = "portopen";
#endif
        /// <summary>PORTOPEN_ABI_VERSION of the header this file mirrors.</summary>
        internal const uint AbiVersion = 1;
        /// <summary>PORTOPEN_EVENT_MESSAGE_MAX.</summary>
        internal const int EventMessageMax = 256;

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogCallback(LogLevel level, IntPtr message, IntPtr userData);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void EventCallback(IntPtr portEvent, IntPtr userData);

        const CallingConvention Cdecl = CallingConvention.Cdecl;

        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern uint portopen_abi_version();
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern IntPtr portopen_version();
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern IntPtr portopen_status_name(PortOpenStatus status);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern IntPtr portopen_last_error();
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern int portopen_last_upnp_code();
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_string_free(IntPtr text);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_addr_to_string(ref PortAddress address, out IntPtr text);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_set_log_callback(LogCallback callback, LogLevel maxLevel, IntPtr userData);

        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_config_init(out NativeConfig config);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_new(ref NativeConfig config, out IntPtr client);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_free(IntPtr client);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_cancel(IntPtr client);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_reset_cancel(IntPtr client);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_discover(IntPtr client, IpFamily family, out IntPtr gateway);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_open(IntPtr client, ref NativeOpenOptions options, out IntPtr lease);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_poll_event(IntPtr client, out PortEvent portEvent);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_set_event_callback(IntPtr client, EventCallback callback, IntPtr userData);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_renew_due(IntPtr client, out uint nextMs);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_clean_leftovers(IntPtr client, out uint removed);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_check(IntPtr client, ushort port, out RouterGrade grade, out IntPtr reportJson);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_client_check_routes(IntPtr client, ushort port, ref NativeCheckInfo info, out IntPtr reportJson);

        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_open_options_init(out NativeOpenOptions options, Protocol protocol, ushort internalPort);

        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_gateway_free(IntPtr gateway);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_gateway_get_info(IntPtr gateway, ref NativeGatewayInfo info);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_gateway_location(IntPtr gateway, out IntPtr location);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_gateway_server(IntPtr gateway, out IntPtr server);

        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_lease_free(IntPtr lease);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_lease_close(IntPtr lease);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_lease_get_info(IntPtr lease, ref NativeLeaseInfo info);
        [DllImport(Library, CallingConvention = Cdecl)]
        internal static extern PortOpenStatus portopen_lease_message(IntPtr lease, IpFamily family, out IntPtr message);
    }

    // The structs below mirror the header field by field (C names, so they can be compared with
    // offsetof: tests/bindings/csharp.sh does). Pointers are IntPtr, so the layout is right on
    // 32- and 64-bit players alike. PortAddress and PortEvent are public: see Values.cs.
#pragma warning disable 0649 // fields are written by the native side

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeConfig
    {
        public uint struct_size;
        public uint discovery_timeout_ms;
        public uint discovery_grace_ms;
        public uint action_timeout_ms;
        public IntPtr description;
        public IntPtr cache_file;
        public IntPtr journal_file;
        public IntPtr router;
        public IntPtr interface_name;
        public byte no_multicast;
        public byte no_default_gateway;
        public byte manual_renew;
        public byte route;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeOpenOptions
    {
        public uint struct_size;
        public Protocol protocol;
        public ushort internal_port;
        public ushort external_port;
        public byte want_v4;
        public byte want_v6;
        public ushort reserved;
        public uint lease_secs;
        public IntPtr internal_v4;
        public IntPtr internal_v6;
        public IntPtr description;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeGatewayInfo
    {
        public uint struct_size;
        public IpFamily family;
        public uint igd_version;
        public byte has_port_mapping;
        public byte has_pinhole;
        public ushort reserved;
        public PortAddress local_addr;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeFamilyState
    {
        public PortStatus status;
        public PortAddress @internal;
        public PortAddress external;
        public uint lease_secs;
        public int upnp_code;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeLeaseInfo
    {
        public uint struct_size;
        public ulong id;
        public NativeFamilyState v4;
        public NativeFamilyState v6;
        public uint protocol;
        public ushort internal_port;
        public byte v4_not_default_gateway;
        public byte v6_not_default_gateway;
        public byte v4_other_routers;
        public byte v6_other_routers;
        public PortAddress v4_router;
        public PortAddress v6_router;
        public uint v4_route;
        public uint v6_route;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeCheckInfo
    {
        public uint struct_size;
        public RouterGrade grade;
        public RouteFlags v6_routes;
        public RouteFlags v4_routes;
        public RouteFlags v6_speaks;
        public RouteFlags v4_speaks;
        public byte v6_igd_version;
        public byte v4_igd_version;
        public byte v6_open_already;
        public byte pcp_version;
        public uint v6_pcp_epoch;
        public uint v4_pcp_epoch;
        public PortAddress natpmp_external;
    }
#pragma warning restore 0649
}
