// What a client is configured with and what an open asks for; copied into the C structs
// (portopen_config, portopen_open_options) for the duration of one call.
using System;
using System.Net;

namespace PortOpen
{
    /// <summary>How a client behaves. Every property left at its default means the library's default.</summary>
    public sealed class PortOpenConfig
    {
        /// <summary>Whole-discovery budget per family (zero: 2 s).</summary>
        public TimeSpan DiscoveryTimeout { get; set; }

        /// <summary>How long discovery keeps listening after the first answer (zero: 30 ms).</summary>
        public TimeSpan DiscoveryGrace { get; set; }

        /// <summary>Budget of one router action (zero: 3 s).</summary>
        public TimeSpan ActionTimeout { get; set; }

        /// <summary>Description given to port mappings, 1 to 128 bytes (null: "portopen").</summary>
        public string Description { get; set; }

        /// <summary>Gateway cache file, read at creation and written after each discovery (null: none).</summary>
        public string CacheFile { get; set; }

        /// <summary>Journal of what is open: leftovers of a crashed run are removed (null: none).</summary>
        public string JournalFile { get; set; }

        /// <summary>Also search this address by unicast ("192.168.1.1", "192.168.1.1:1900", "[fe80::1%2]:1900").</summary>
        public string Router { get; set; }

        /// <summary>Send multicast searches only on this interface (null: every interface).</summary>
        public string InterfaceName { get; set; }

        /// <summary>No multicast search (only Router and, unless disabled, the default gateway).</summary>
        public bool NoMulticast { get; set; }

        /// <summary>Do not search the OS's default gateway by unicast.</summary>
        public bool NoDefaultGateway { get; set; }

        /// <summary>No background renewal thread: call PortOpenClient.RenewDue yourself.</summary>
        public bool ManualRenew { get; set; }

        /// <summary>Use this route to the router only (None: every route, PCP/NAT-PMP raced with UPnP).</summary>
        public Route Route { get; set; }

        /// <summary>
        /// Or these routes, raced (RouteFlags.Upnp | RouteFlags.Pcp). None: <see cref="Route"/> decides.
        /// CheckRouter tries only the routes allowed.
        /// </summary>
        public RouteFlags Routes { get; set; }

        internal void CopyTo(ref NativeConfig c, Utf8Args args)
        {
            c.discovery_timeout_ms = Milliseconds(DiscoveryTimeout, "DiscoveryTimeout");
            c.discovery_grace_ms = Milliseconds(DiscoveryGrace, "DiscoveryGrace");
            c.action_timeout_ms = Milliseconds(ActionTimeout, "ActionTimeout");
            c.description = args.Add(Description, "Description");
            c.cache_file = args.Add(CacheFile, "CacheFile");
            c.journal_file = args.Add(JournalFile, "JournalFile");
            c.router = args.Add(Router, "Router");
            c.interface_name = args.Add(InterfaceName, "InterfaceName");
            c.no_multicast = NoMulticast ? (byte)1 : (byte)0;
            c.no_default_gateway = NoDefaultGateway ? (byte)1 : (byte)0;
            c.manual_renew = ManualRenew ? (byte)1 : (byte)0;
            c.route = Routes != RouteFlags.None ? (byte)Routes : (byte)Route;
        }

        internal static uint Milliseconds(TimeSpan value, string name)
        {
            if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, "must not be negative");
            return (uint)Math.Min(Math.Ceiling(value.TotalMilliseconds), uint.MaxValue);
        }
    }

    /// <summary>What to open: by default both families, external port = internal port, 3600 s lease.</summary>
    public sealed class OpenOptions
    {
        /// <summary>Open <paramref name="internalPort"/> (the port the game listens on) over <paramref name="protocol"/>.</summary>
        public OpenOptions(Protocol protocol, ushort internalPort)
        {
            Protocol = protocol;
            InternalPort = internalPort;
            WantV4 = true;
            WantV6 = true;
        }

        /// <summary>UDP or TCP.</summary>
        public Protocol Protocol { get; set; }

        /// <summary>The port the game listens on, 1 to 65535 (routers often refuse pinholes below 1024).</summary>
        public ushort InternalPort { get; set; }

        /// <summary>External IPv4 port wanted (0: same as internal). A wish: the router may grant another.</summary>
        public ushort ExternalPort { get; set; }

        /// <summary>Ask for an IPv4 port mapping (default true).</summary>
        public bool WantV4 { get; set; }

        /// <summary>Ask for an IPv6 pinhole (default true).</summary>
        public bool WantV6 { get; set; }

        /// <summary>Lease wanted (zero: 3600 s), renewed in the background unless ManualRenew.</summary>
        public TimeSpan Lease { get; set; }

        /// <summary>IPv4 address to map to (null: this host's address toward the gateway).</summary>
        public IPAddress InternalV4 { get; set; }

        /// <summary>IPv6 address to open for (null: this host's stable global address).</summary>
        public IPAddress InternalV6 { get; set; }

        /// <summary>Mapping description, 1 to 128 printable bytes (null: the client's).</summary>
        public string Description { get; set; }

        internal NativeOpenOptions ToNative(Utf8Args args)
        {
            NativeOpenOptions o;
            NativeMethods.portopen_open_options_init(out o, Protocol, InternalPort).ThrowOnError();
            o.external_port = ExternalPort;
            o.want_v4 = WantV4 ? (byte)1 : (byte)0;
            o.want_v6 = WantV6 ? (byte)1 : (byte)0;
            if (Lease < TimeSpan.Zero) throw new ArgumentOutOfRangeException("Lease", "must not be negative");
            o.lease_secs = (uint)Math.Min(Math.Ceiling(Lease.TotalSeconds), uint.MaxValue);
            o.internal_v4 = args.Add(InternalV4 == null ? null : InternalV4.ToString(), "InternalV4");
            o.internal_v6 = args.Add(InternalV6 == null ? null : InternalV6.ToString(), "InternalV6");
            o.description = args.Add(Description, "Description");
            return o;
        }
    }
}
