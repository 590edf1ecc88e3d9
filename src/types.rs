//! Small domain types shared by every layer: address family and transport protocol.

use std::fmt;

/// IP address family. IPv4 and IPv6 UPnP are independent: each family is discovered and
/// controlled over its own transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: port mappings (WANIPConnection), discovered over 239.255.255.250.
    V4,
    /// IPv6: firewall pinholes (WANIPv6FirewallControl), discovered over ff02::c / ff05::c.
    V6,
}

impl Family {
    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }

    /// The family of an address.
    pub fn of(ip: &std::net::IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
    /// "IPv4" or "IPv6".
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
    /// Short tag, "v4" or "v6": the state files' and the CLI's JSON spelling.
    pub fn tag(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Transport protocol of a port mapping or pinhole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// UDP ("UDP" on the wire).
    Udp,
    /// TCP ("TCP" on the wire).
    Tcp,
}

impl Protocol {
    /// Name used by WANIPConnection (`NewProtocol`): "UDP" / "TCP".
    pub fn upnp_name(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
        }
    }
    /// IANA protocol number used by WANIPv6FirewallControl (`Protocol`): 17 / 6.
    pub fn iana_number(self) -> u8 {
        match self {
            Protocol::Udp => 17,
            Protocol::Tcp => 6,
        }
    }
    /// Parse "udp"/"tcp" (any case) or "17"/"6".
    pub fn parse(text: &str) -> Option<Protocol> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("udp") || t == "17" {
            Some(Protocol::Udp)
        } else if t.eq_ignore_ascii_case("tcp") || t == "6" {
            Some(Protocol::Tcp)
        } else {
            None
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.upnp_name())
    }
}

/// The protocol that opened a family of a lease on the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// UPnP IGD: WANIPConnection (IPv4) or WANIPv6FirewallControl (IPv6).
    Upnp,
    /// PCP (RFC 6887) MAP, either family.
    Pcp,
    /// NAT-PMP (RFC 6886), IPv4 only.
    NatPmp,
}

impl Route {
    /// "UPnP", "PCP", "NAT-PMP".
    pub fn name(self) -> &'static str {
        match self {
            Route::Upnp => "UPnP",
            Route::Pcp => "PCP",
            Route::NatPmp => "NAT-PMP",
        }
    }
    /// "upnp", "pcp", "natpmp": the CLI's and the journal's spelling.
    pub fn tag(self) -> &'static str {
        match self {
            Route::Upnp => "upnp",
            Route::Pcp => "pcp",
            Route::NatPmp => "natpmp",
        }
    }
    /// Parse a tag (any case).
    pub fn parse(text: &str) -> Option<Route> {
        [Route::Upnp, Route::Pcp, Route::NatPmp].into_iter().find(|r| r.tag().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
