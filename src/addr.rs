//! Address classification and canonical text: is an external address really reachable, and
//! how an IPv6 address is written on the wire (RFC 5952, which old miniupnpd needs).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of IPv4 address a router reported as its external address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V4Class {
    /// Globally routable: a mapping on this router is reachable from the internet.
    Public,
    /// RFC 1918 private: another NAT sits above this router (double NAT).
    Private,
    /// 100.64.0.0/10 shared address space: the ISP's carrier-grade NAT sits above.
    SharedCgnat,
    /// 0.0.0.0: the router has no WAN address (link down, or a placeholder).
    Unspecified,
    /// 127.0.0.0/8: the router reports its own loopback (a misconfigured WAN).
    Loopback,
    /// 169.254.0.0/16: the WAN has no configured address.
    LinkLocal,
    /// Documentation, benchmarking, multicast, reserved or broadcast ranges.
    Reserved,
}

impl V4Class {
    /// The class of an IPv4 address.
    pub fn of(ip: Ipv4Addr) -> V4Class {
        let o = ip.octets();
        if ip.is_unspecified() {
            V4Class::Unspecified
        } else if ip.is_loopback() {
            V4Class::Loopback
        } else if ip.is_private() {
            V4Class::Private
        } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
            V4Class::SharedCgnat
        } else if ip.is_link_local() {
            V4Class::LinkLocal
        } else if ip.is_documentation()
            || ip.is_multicast()
            || ip.is_broadcast()
            || o[0] == 0
            || o[0] >= 240
            || (o[0] == 192 && o[1] == 0 && o[2] == 0)
            || (o[0] == 198 && (o[1] & 0xfe) == 18)
        {
            V4Class::Reserved
        } else {
            V4Class::Public
        }
    }
    /// True only for an address peers on the internet can send to.
    pub fn is_reachable(self) -> bool {
        self == V4Class::Public
    }
    /// Lower-case name, as the CLI and the C API's strings spell it.
    pub fn name(self) -> &'static str {
        match self {
            V4Class::Public => "public",
            V4Class::Private => "private",
            V4Class::SharedCgnat => "shared (100.64/10, CGNAT)",
            V4Class::Unspecified => "unspecified (0.0.0.0)",
            V4Class::Loopback => "loopback",
            V4Class::LinkLocal => "link-local",
            V4Class::Reserved => "reserved",
        }
    }
}

impl fmt::Display for V4Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The external address a router reported over GetExternalIPAddress, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalAddress {
    /// The router answered with an empty address. Normal over IPv6 (no NAT66: the host's own
    /// global address is what peers use); over IPv4 it means the router has none.
    None,
    /// An IPv4 address and its class; only `Public` makes a mapping reachable.
    V4(Ipv4Addr, V4Class),
    /// An IPv6 address (some routers answer their WAN address over IPv6).
    V6(Ipv6Addr),
}

impl ExternalAddress {
    /// What an external address read from the router means (None: the router gave none).
    pub fn classify(ip: Option<IpAddr>) -> ExternalAddress {
        match ip {
            None => ExternalAddress::None,
            Some(IpAddr::V4(v4)) => ExternalAddress::V4(v4, V4Class::of(v4)),
            Some(IpAddr::V6(v6)) => ExternalAddress::V6(v6),
        }
    }
    /// The reachable IPv4 address, if the router has one.
    pub fn public_v4(&self) -> Option<Ipv4Addr> {
        match self {
            ExternalAddress::V4(ip, V4Class::Public) => Some(*ip),
            _ => None,
        }
    }
}

impl fmt::Display for ExternalAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalAddress::None => f.write_str("none (empty answer)"),
            ExternalAddress::V4(ip, class) => write!(f, "{ip} ({class})"),
            ExternalAddress::V6(ip) => write!(f, "{ip}"),
        }
    }
}

/// RFC 5952 canonical text of an IPv6 address: lowercase, no leading zeros, the longest run
/// (first on a tie) of two or more zero groups shortened to `::`, IPv4-mapped as `::ffff:a.b.c.d`.
/// miniupnpd before 2.3.3 compares addresses as text, so a pinhole added as `2001:DB8::0:1`
/// and deleted as `2001:db8::1` would not match: we always send this form.
pub fn ipv6_canonical(ip: &Ipv6Addr) -> String {
    // std's Display implements exactly RFC 5952 section 4 (checked by the table test below).
    ip.to_string()
}

/// How usable an IPv6 address of this host is for a pinhole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum V6Scope {
    /// Not usable for a pinhole: loopback, link-local, multicast, unspecified.
    Unusable,
    /// Unique local (fc00::/7): reachable only inside the site.
    UniqueLocal,
    /// Global unicast.
    Global,
}

impl V6Scope {
    pub fn of(ip: &Ipv6Addr) -> V6Scope {
        let seg0 = ip.segments()[0];
        if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || (seg0 & 0xffc0) == 0xfe80 {
            V6Scope::Unusable
        } else if (seg0 & 0xfe00) == 0xfc00 {
            V6Scope::UniqueLocal
        } else if ip.to_ipv4_mapped().is_some() {
            V6Scope::Unusable
        } else {
            V6Scope::Global
        }
    }
}

/// True for fe80::/10.
pub fn is_ipv6_link_local(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_text_is_rfc5952_canonical() {
        // (input in any valid form, RFC 5952 canonical form)
        let table = [
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:DB8::0:1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),    // first of two equal runs
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), // a single zero group is not shortened
            ("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"),      // the longest run wins
            ("0:0:0:0:0:0:0:1", "::1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("fe80:0:0:0:0200:5eff:fe00:5300", "fe80::200:5eff:fe00:5300"),
            ("2001:db8:1::100", "2001:db8:1::100"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("2001:0DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"),
            ("1:0:0:0:0:0:0:0", "1::"),
        ];
        for (input, canonical) in table {
            let ip: Ipv6Addr = input.parse().unwrap();
            assert_eq!(ipv6_canonical(&ip), canonical, "input {input}");
        }
    }

    #[test]
    fn external_ipv4_classes_say_whether_a_mapping_is_reachable() {
        let table = [
            ("11.0.0.1", V4Class::Public),
            ("8.8.8.8", V4Class::Public),
            ("192.168.1.2", V4Class::Private),
            ("10.1.2.3", V4Class::Private),
            ("172.16.0.1", V4Class::Private),
            ("100.64.0.1", V4Class::SharedCgnat),
            ("100.127.255.254", V4Class::SharedCgnat),
            ("100.128.0.1", V4Class::Public),
            ("0.0.0.0", V4Class::Unspecified),
            ("127.0.0.1", V4Class::Loopback),
            ("169.254.1.1", V4Class::LinkLocal),
            ("192.0.2.1", V4Class::Reserved),
            ("198.51.100.7", V4Class::Reserved),
            ("203.0.113.9", V4Class::Reserved),
            ("198.18.0.1", V4Class::Reserved),
            ("224.0.0.1", V4Class::Reserved),
            ("255.255.255.255", V4Class::Reserved),
        ];
        for (input, class) in table {
            let ip: Ipv4Addr = input.parse().unwrap();
            assert_eq!(V4Class::of(ip), class, "{input}");
            assert_eq!(class.is_reachable(), class == V4Class::Public);
        }
    }

    #[test]
    fn ipv6_scope_rejects_addresses_a_pinhole_cannot_use() {
        assert_eq!(V6Scope::of(&"2001:db8:1::100".parse().unwrap()), V6Scope::Global);
        assert_eq!(V6Scope::of(&"fd00::1".parse().unwrap()), V6Scope::UniqueLocal);
        assert_eq!(V6Scope::of(&"fe80::1".parse().unwrap()), V6Scope::Unusable);
        assert_eq!(V6Scope::of(&"::1".parse().unwrap()), V6Scope::Unusable);
        assert_eq!(V6Scope::of(&"ff02::c".parse().unwrap()), V6Scope::Unusable);
        assert_eq!(V6Scope::of(&"::ffff:1.2.3.4".parse().unwrap()), V6Scope::Unusable);
    }
}
