// What the library reports: addresses, events, per-family lease state, gateways, router checks.
// PortAddress and PortEvent are the C structs themselves, so polling copies no more than C does.
using System;
using System.Net;
using System.Runtime.InteropServices;

namespace PortOpen
{
#pragma warning disable 0649 // fields are written by the native side

    /// <summary>An IP address and port (portopen_addr); <see cref="IsNone"/> when there is none.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct PortAddress
    {
        byte family;
        byte reserved;
        ushort port;
        fixed byte ip[16];

        /// <summary>True when there is no address (the family is not open, or not known yet).</summary>
        public bool IsNone { get { return family == 0; } }

        /// <summary>V4 or V6 (meaningless when <see cref="IsNone"/>).</summary>
        public IpFamily Family { get { return (IpFamily)family; } }

        /// <summary>The port (0 when none).</summary>
        public int Port { get { return port; } }

        /// <summary>The address (null when none). Allocates.</summary>
        public IPAddress Address
        {
            get
            {
                if (IsNone) return null;
                var bytes = new byte[family == 4 ? 4 : 16];
                fixed (byte* p = ip)
                {
                    for (int i = 0; i < bytes.Length; i++) bytes[i] = p[i];
                }
                return new IPAddress(bytes);
            }
        }

        /// <summary>As an endpoint (null when none). Allocates.</summary>
        public IPEndPoint ToEndPoint()
        {
            return IsNone ? null : new IPEndPoint(Address, port);
        }

        /// <summary>"1.2.3.4:5", "[2001:db8::1]:5", or "" when none.</summary>
        public override string ToString()
        {
            return IsNone ? "" : ToEndPoint().ToString();
        }
    }

    /// <summary>
    /// A lease event (portopen_event), filled by <see cref="PortOpenClient.TryPollEvent"/>. Reuse one
    /// variable every frame: polling allocates nothing; <see cref="Message"/> decodes on demand.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct PortEvent
    {
        ulong lease_id;
        IpFamily family;
        LeaseEventKind kind;
        PortAddress address;
        uint lease_secs;
        fixed byte message[NativeMethods.EventMessageMax];

        /// <summary>The lease it concerns (<see cref="PortLease.Id"/>).</summary>
        public ulong LeaseId { get { return lease_id; } }

        /// <summary>The family it concerns.</summary>
        public IpFamily Family { get { return family; } }

        /// <summary>What happened.</summary>
        public LeaseEventKind Kind { get { return kind; } }

        /// <summary>The reachable address after the event (IsNone when none).</summary>
        public PortAddress Address { get { return address; } }

        /// <summary>Lease granted (Opened, Renewed, Recovered), zero otherwise.</summary>
        public TimeSpan Lease { get { return TimeSpan.FromSeconds(lease_secs); } }

        /// <summary>Why, in words. Allocates a string on each read.</summary>
        public string Message
        {
            get
            {
                fixed (byte* p = message) return Utf8.Decode(p, NativeMethods.EventMessageMax);
            }
        }

        /// <summary>For logs: "lease 1 V6 Opened [2001:db8::5]:7777 ...".</summary>
        public override string ToString()
        {
            return string.Format("lease {0} {1} {2} {3} {4}", LeaseId, Family, Kind, Address, Message).TrimEnd();
        }
    }
#pragma warning restore 0649

    /// <summary>One family of a lease at one moment (a snapshot; the lease moves on).</summary>
    public sealed class FamilyState
    {
        internal FamilyState(IpFamily family, NativeFamilyState state, string message, PortAddress router, byte notDefaultGateway, byte otherRouters, Route route)
        {
            Router = router;
            NotDefaultGateway = notDefaultGateway != 0;
            OtherRouters = otherRouters;
            Route = route;
            Family = family;
            Status = state.status;
            Internal = state.@internal;
            External = state.external;
            Lease = TimeSpan.FromSeconds(state.lease_secs);
            UpnpCode = state.upnp_code;
            Message = message ?? "";
        }

        /// <summary>V4 (port mapping) or V6 (pinhole).</summary>
        public IpFamily Family { get; private set; }

        /// <summary>Where it stands.</summary>
        public PortStatus Status { get; private set; }

        /// <summary>True when peers can reach the port over this family (Open or OpenAlready).</summary>
        public bool IsOpen { get { return Status == PortStatus.Open || Status == PortStatus.OpenAlready; } }

        /// <summary>The host address and port traffic goes to (IsNone when not known).</summary>
        public PortAddress Internal { get; private set; }

        /// <summary>The address peers send to (IPv6: the host's own); IsNone when not open.</summary>
        public PortAddress External { get; private set; }

        /// <summary>Lease the router granted (zero while Open: permanent, deleted on close).</summary>
        public TimeSpan Lease { get; private set; }

        /// <summary>The protocol that opened it (UPnP, PCP, NAT-PMP); None when not open.</summary>
        public Route Route { get; private set; }

        /// <summary>The router's UPnP error code behind a refusal, 0 when none.</summary>
        public int UpnpCode { get; private set; }

        /// <summary>Why it is in this state, in words ("" when open without remark).</summary>
        public string Message { get; private set; }

        /// <summary>The router this family was asked of (its LOCATION address); IsNone when none was found.</summary>
        public PortAddress Router { get; private set; }

        /// <summary>
        /// True when that router is known not to be this host's default gateway (the default
        /// gateway did not answer, or another router was named): what it opened may not be
        /// reachable from the internet.
        /// </summary>
        public bool NotDefaultGateway { get; private set; }

        /// <summary>How many other UPnP gateways answered the same discovery.</summary>
        public int OtherRouters { get; private set; }

        /// <summary>For logs: "V4 Open 11.0.0.1:7777" or "V6 NoGateway (no gateway ...)".</summary>
        public override string ToString()
        {
            string text = Family + " " + Status + (External.IsNone ? "" : " " + External);
            return Message.Length == 0 ? text : text + " (" + Message + ")";
        }
    }

    /// <summary>A gateway found by discovery (a snapshot).</summary>
    public sealed class Gateway
    {
        internal Gateway(GatewayHandle handle)
        {
            var info = new NativeGatewayInfo { struct_size = (uint)Marshal.SizeOf(typeof(NativeGatewayInfo)) };
            IntPtr location, server;
            using (var gateway = handle.Borrow())
            {
                NativeMethods.portopen_gateway_get_info(gateway.Pointer, ref info).ThrowOnError();
                NativeMethods.portopen_gateway_location(gateway.Pointer, out location).ThrowOnError();
                Location = NativeText.Take(location);
                NativeMethods.portopen_gateway_server(gateway.Pointer, out server).ThrowOnError();
                Server = NativeText.Take(server);
            }
            Family = info.family;
            IgdVersion = (int)info.igd_version;
            HasPortMapping = info.has_port_mapping != 0;
            HasPinhole = info.has_pinhole != 0;
            LocalAddress = info.local_addr.Address;
        }

        /// <summary>The family it was found and is controlled over.</summary>
        public IpFamily Family { get; private set; }

        /// <summary>2 for InternetGatewayDevice:2, 1 for :1, 0 when unknown.</summary>
        public int IgdVersion { get; private set; }

        /// <summary>Offers a port mapping service (IPv4).</summary>
        public bool HasPortMapping { get; private set; }

        /// <summary>Offers IPv6 pinholes (WANIPv6FirewallControl:1).</summary>
        public bool HasPinhole { get; private set; }

        /// <summary>This host's address toward the gateway: the default internal address.</summary>
        public IPAddress LocalAddress { get; private set; }

        /// <summary>The description URL ("http://192.168.1.1:5000/rootDesc.xml").</summary>
        public string Location { get; private set; }

        /// <summary>The SERVER header of its discovery answer ("" when none).</summary>
        public string Server { get; private set; }

        /// <summary>For logs.</summary>
        public override string ToString()
        {
            return string.Format("{0} IGD:{1} {2} mapping={3} pinhole={4} local={5} server={6}",
                Family, IgdVersion, Location, HasPortMapping, HasPinhole, LocalAddress, Server);
        }
    }

    /// <summary>
    /// The router check (PortOpenClient.CheckRouter): the working group's grade over UPnP, which
    /// routes the router speaks, and through which routes each family opened in a trial (removed at
    /// once). Only the routes the client allows were tried.
    /// </summary>
    public sealed class RouterCheck
    {
        internal RouterCheck(NativeCheckInfo info, string reportJson)
        {
            Grade = info.grade;
            ReportJson = reportJson;
            V6Routes = info.v6_routes;
            V4Routes = info.v4_routes;
            V6Speaks = info.v6_speaks;
            V4Speaks = info.v4_speaks;
            V6IgdVersion = info.v6_igd_version;
            V4IgdVersion = info.v4_igd_version;
            V6OpenAlready = info.v6_open_already != 0;
            PcpVersion = info.pcp_version;
            V6PcpEpoch = info.v6_pcp_epoch;
            V4PcpEpoch = info.v4_pcp_epoch;
            NatPmpExternal = info.natpmp_external;
        }

        /// <summary>A (pinholes work) to D (no answer): the working group's grade, over UPnP only.</summary>
        public RouterGrade Grade { get; private set; }

        /// <summary>The evidence as one JSON object (its "verdict" says what opens, in words).</summary>
        public string ReportJson { get; private set; }

        /// <summary>The routes whose trial opened IPv6 (None: IPv6 cannot be opened).</summary>
        public RouteFlags V6Routes { get; private set; }

        /// <summary>The routes whose trial opened IPv4 with a public external address.</summary>
        public RouteFlags V4Routes { get; private set; }

        /// <summary>The routes that answered over IPv6 (UPnP: a gateway was discovered).</summary>
        public RouteFlags V6Speaks { get; private set; }

        /// <summary>The routes that answered over IPv4.</summary>
        public RouteFlags V4Speaks { get; private set; }

        /// <summary>The IPv6 UPnP gateway's InternetGatewayDevice version (1 or 2), 0 when none.</summary>
        public int V6IgdVersion { get; private set; }

        /// <summary>The IPv4 UPnP gateway's InternetGatewayDevice version, 0 when none.</summary>
        public int V4IgdVersion { get; private set; }

        /// <summary>IPv6 passes without opening: the router's IPv6 firewall is off.</summary>
        public bool V6OpenAlready { get; private set; }

        /// <summary>The PCP version the router speaks (2), 0 when PCP did not answer.</summary>
        public int PcpVersion { get; private set; }

        /// <summary>The PCP server's epoch over IPv6 (when V6Speaks has Pcp).</summary>
        public uint V6PcpEpoch { get; private set; }

        /// <summary>The PCP server's epoch over IPv4 (when V4Speaks has Pcp).</summary>
        public uint V4PcpEpoch { get; private set; }

        /// <summary>The external IPv4 address NAT-PMP reported (IsNone when it did not answer).</summary>
        public PortAddress NatPmpExternal { get; private set; }
    }
}
