// The C enums, value for value (the header's values are stable; all are uint32_t in C).

using System;

namespace PortOpen
{
    /// <summary>What a portopen call returned (portopen_status).</summary>
    public enum PortOpenStatus : uint
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>An argument was invalid; nothing was done and nothing was sent.</summary>
        InvalidArgument = 1,
        /// <summary>The call's deadline passed.</summary>
        Timeout = 2,
        /// <summary>Stopped by cancellation (surfaces as OperationCanceledException).</summary>
        Cancelled = 3,
        /// <summary>No gateway answered discovery.</summary>
        NoGateway = 4,
        /// <summary>The gateway does not offer the service the action needs.</summary>
        NoService = 5,
        /// <summary>A socket or file operation failed.</summary>
        IoError = 6,
        /// <summary>The router answered with an HTTP error status.</summary>
        HttpError = 7,
        /// <summary>The router's answer could not be understood.</summary>
        InvalidResponse = 8,
        /// <summary>The router refused with a UPnP error (PortOpenException.UpnpCode).</summary>
        UpnpError = 9,
        /// <summary>Valid, but this library or this router cannot do it.</summary>
        NotSupported = 10,
        /// <summary>Reserved.</summary>
        BufferTooSmall = 11,
        /// <summary>The event queue is empty (not an error).</summary>
        NoEvent = 12,
        /// <summary>This host has no address of the family to open for (no global IPv6, no IPv4); no router was asked.</summary>
        NoLocalAddress = 13,
        /// <summary>A bug inside portopen was caught; the library is still usable.</summary>
        InternalError = 99,
    }

    /// <summary>Address family (portopen_family).</summary>
    public enum IpFamily : uint
    {
        /// <summary>IPv4: a port mapping on the router's external address.</summary>
        V4 = 4,
        /// <summary>IPv6: a firewall pinhole for this host's own address.</summary>
        V6 = 6,
    }

    /// <summary>Transport protocol (IANA numbers).</summary>
    public enum Protocol : uint
    {
        /// <summary>TCP.</summary>
        Tcp = 6,
        /// <summary>UDP.</summary>
        Udp = 17,
    }

    /// <summary>The protocol that opened a family of a lease (portopen_route).</summary>
    public enum Route : uint
    {
        /// <summary>Not open.</summary>
        None = 0,
        /// <summary>UPnP IGD.</summary>
        Upnp = 1,
        /// <summary>PCP (RFC 6887).</summary>
        Pcp = 2,
        /// <summary>NAT-PMP (RFC 6886), IPv4 only.</summary>
        NatPmp = 3,
    }

    /// <summary>A set of routes (portopen_route_flag): PortOpenConfig.Routes, RouterCheck.</summary>
    [Flags]
    public enum RouteFlags : byte
    {
        /// <summary>No route.</summary>
        None = 0,
        /// <summary>UPnP IGD.</summary>
        Upnp = 0x10,
        /// <summary>PCP (RFC 6887).</summary>
        Pcp = 0x20,
        /// <summary>NAT-PMP (RFC 6886), IPv4 only.</summary>
        NatPmp = 0x40,
    }

    /// <summary>Where one family of a lease stands (portopen_port_status).</summary>
    public enum PortStatus : uint
    {
        /// <summary>This family was not asked for.</summary>
        NotRequested = 0,
        /// <summary>Open: External is the address peers send to.</summary>
        Open = 1,
        /// <summary>Nothing to open: the router's IPv6 firewall is off, inbound traffic already passes.</summary>
        OpenAlready = 2,
        /// <summary>No gateway answered discovery over this family.</summary>
        NoGateway = 3,
        /// <summary>The gateway has no port mapping service (IPv4) or no IPv6 firewall control (IPv6).</summary>
        NoService = 4,
        /// <summary>IPv4: another NAT sits above the router (CGNAT); nothing was mapped.</summary>
        UpstreamNat = 5,
        /// <summary>IPv6: the router refuses pinholes until the user changes a router setting.</summary>
        NotAllowed = 6,
        /// <summary>The router refused with UPnP error 606 (action not authorized).</summary>
        NotAuthorized = 7,
        /// <summary>IPv4: no external port could be had.</summary>
        NoPortsAvailable = 8,
        /// <summary>The router refused or failed (Message and UpnpCode say how).</summary>
        Failed = 9,
        /// <summary>Was open; the router lost it or stopped answering; recovery is under way.</summary>
        Lost = 10,
        /// <summary>Closed by the caller; nothing of it remains on the router.</summary>
        Closed = 11,
        /// <summary>IPv4: the router reports no usable external address; nothing was mapped.</summary>
        NoExternalAddress = 12,
        /// <summary>This host has no address of the family to open for (IPv6: no global address); no router was asked.</summary>
        NoLocalAddress = 13,
    }

    /// <summary>What happened to one family of a lease (portopen_event_kind).</summary>
    public enum LeaseEventKind : uint
    {
        /// <summary>The port is open (first time).</summary>
        Opened = 1,
        /// <summary>The lease was extended.</summary>
        Renewed = 2,
        /// <summary>The router lost the mapping/pinhole or stopped answering; recovery is under way.</summary>
        Lost = 3,
        /// <summary>Re-opened after a loss (the address or port may have changed).</summary>
        Recovered = 4,
        /// <summary>Opening or recovery failed; the message says why.</summary>
        Failed = 5,
        /// <summary>Closed (by Close, Dispose, the garbage collector or the client's Dispose).</summary>
        Closed = 6,
    }

    /// <summary>Log levels: a higher value is more verbose.</summary>
    public enum LogLevel : uint
    {
        /// <summary>Something failed that the user should know about.</summary>
        Error = 1,
        /// <summary>Something the user should act on.</summary>
        Warn = 2,
        /// <summary>One line per notable step.</summary>
        Info = 3,
        /// <summary>The story of each discovery and action.</summary>
        Debug = 4,
        /// <summary>Everything.</summary>
        Trace = 5,
    }

    /// <summary>The router's grade (PortOpenClient.CheckRouter).</summary>
    public enum RouterGrade : uint
    {
        /// <summary>IPv6 pinholes usable as delivered.</summary>
        A = 1,
        /// <summary>IPv6 pinholes usable after changing a router setting.</summary>
        B = 2,
        /// <summary>Answers discovery, but IPv6 pinholes are unusable.</summary>
        C = 3,
        /// <summary>No answer to discovery.</summary>
        D = 4,
    }
}
