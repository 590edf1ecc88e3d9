//! Reading a Darwin (macOS, iOS) routing table dump, as `sysctl(NET_RT_FLAGS)` returns it: a
//! run of routing messages (`struct rt_msghdr` + the sockaddrs its `rtm_addrs` names). Pure
//! bytes in, default gateways out, so it is tested on any host; apple.rs does the sysctl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `sizeof(struct rt_msghdr)` on Darwin (arm64 and x86_64 alike): 36 bytes of header fields
/// and a 56-byte `struct rt_metrics`.
pub(super) const RT_MSGHDR_LEN: usize = 92;
/// `RTM_VERSION`: a message of another layout is skipped, not misread.
const RTM_VERSION: u8 = 5;
pub(super) const RTF_GATEWAY: u32 = 0x2;
/// A route scoped to one interface (macOS keeps one default route per interface besides the
/// primary, unscoped one).
const RTF_IFSCOPE: u32 = 0x0100_0000;
/// The sockaddrs a message can carry, in this order; bit i of `rtm_addrs` says whether the
/// i-th is present (RTA_DST = 1 << RTAX_DST, ...).
const RTAX_DST: usize = 0;
const RTAX_GATEWAY: usize = 1;
const RTAX_NETMASK: usize = 2;
const RTAX_MAX: usize = 8;
/// Darwin's address family numbers (not the host's: this parser also runs in tests on Linux).
const AF_INET: u8 = 2;
const AF_INET6: u8 = 30;

/// A default route from the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DefaultRoute {
    pub gateway: IpAddr,
    /// `rtm_index`: the interface the route leaves by.
    pub index: u32,
    /// Scoped to its interface (RTF_IFSCOPE): used only when no unscoped default exists.
    pub scoped: bool,
}

/// The default gateway in a dump: the first unscoped default route, else the first scoped one.
pub(super) fn default_gateway(dump: &[u8]) -> Option<DefaultRoute> {
    let routes = default_routes(dump);
    routes.iter().find(|r| !r.scoped).or_else(|| routes.first()).cloned()
}

/// Every default route (destination 0.0.0.0/0 or ::/0 through a gateway) in a dump. A message
/// that is cut short or of another version is skipped; a length that does not fit ends the read.
pub(super) fn default_routes(dump: &[u8]) -> Vec<DefaultRoute> {
    let mut out = Vec::new();
    let mut rest = dump;
    while rest.len() >= RT_MSGHDR_LEN {
        let msg_len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        if msg_len < RT_MSGHDR_LEN || msg_len > rest.len() {
            break;
        }
        let (msg, next) = rest.split_at(msg_len);
        rest = next;
        if msg[2] != RTM_VERSION {
            continue;
        }
        let index = u32::from(u16::from_ne_bytes([msg[4], msg[5]]));
        let flags = u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
        let addrs = u32::from_ne_bytes([msg[12], msg[13], msg[14], msg[15]]);
        if flags & RTF_GATEWAY == 0 {
            continue;
        }
        let sockaddrs = split_sockaddrs(&msg[RT_MSGHDR_LEN..], addrs);
        let (Some(dst), Some(gateway)) = (sockaddrs[RTAX_DST], sockaddrs[RTAX_GATEWAY]) else { continue };
        let is_default = ip_of(dst).is_some_and(|ip| ip.is_unspecified()) && sockaddrs[RTAX_NETMASK].is_none_or(is_zero_mask);
        let Some(gateway) = ip_of(gateway).filter(|ip| !ip.is_unspecified()) else { continue };
        if is_default {
            out.push(DefaultRoute { gateway, index, scoped: flags & RTF_IFSCOPE != 0 });
        }
    }
    out
}

/// The sockaddrs after a header, by RTAX slot. Each takes its `sa_len` rounded up to 4 bytes
/// (a zero length still takes 4: Darwin's ROUNDUP).
fn split_sockaddrs(mut bytes: &[u8], addrs: u32) -> [Option<&[u8]>; RTAX_MAX] {
    let mut out = [None; RTAX_MAX];
    for (slot, entry) in out.iter_mut().enumerate() {
        if addrs & (1 << slot) == 0 {
            continue;
        }
        let Some(&sa_len) = bytes.first() else { break };
        let sa_len = usize::from(sa_len);
        let step = if sa_len == 0 { 4 } else { sa_len.div_ceil(4) * 4 };
        if sa_len > bytes.len() {
            break;
        }
        *entry = Some(&bytes[..sa_len]);
        bytes = &bytes[step.min(bytes.len())..];
    }
    out
}

/// The address in a sockaddr_in / sockaddr_in6 (by its family byte). A link-local IPv6 address
/// loses the interface index the kernel embeds in its second 16-bit word (KAME convention).
fn ip_of(sa: &[u8]) -> Option<IpAddr> {
    match *sa.get(1)? {
        AF_INET if sa.len() >= 8 => Some(IpAddr::V4(Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7]))),
        AF_INET6 if sa.len() >= 24 => {
            let mut octets: [u8; 16] = sa[8..24].try_into().ok()?;
            if octets[0] == 0xfe && octets[1] & 0xc0 == 0x80 {
                octets[2] = 0;
                octets[3] = 0;
            }
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// A netmask sockaddr of a /0 route: empty, or zero past its length and family bytes.
fn is_zero_mask(sa: &[u8]) -> bool {
    sa.iter().skip(2).all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One routing message as the kernel lays it out: header, then each sockaddr padded to 4.
    fn message(index: u16, flags: u32, sockaddrs: &[(usize, Vec<u8>)]) -> Vec<u8> {
        let mut addrs = 0u32;
        let mut body = Vec::new();
        for (slot, sa) in sockaddrs {
            addrs |= 1 << slot;
            let start = body.len();
            body.extend_from_slice(sa);
            body.resize(start + if sa.is_empty() { 4 } else { sa.len().div_ceil(4) * 4 }, 0);
        }
        let mut msg = vec![0u8; RT_MSGHDR_LEN];
        let len = (RT_MSGHDR_LEN + body.len()) as u16;
        msg[0..2].copy_from_slice(&len.to_ne_bytes());
        msg[2] = RTM_VERSION;
        msg[3] = 4; // RTM_GET
        msg[4..6].copy_from_slice(&index.to_ne_bytes());
        msg[8..12].copy_from_slice(&flags.to_ne_bytes());
        msg[12..16].copy_from_slice(&addrs.to_ne_bytes());
        msg.extend(body);
        msg
    }

    fn sin(ip: [u8; 4]) -> Vec<u8> {
        let mut sa = vec![16, AF_INET, 0, 0];
        sa.extend(ip);
        sa.resize(16, 0);
        sa
    }

    fn sin6(ip: Ipv6Addr) -> Vec<u8> {
        let mut sa = vec![28, AF_INET6, 0, 0, 0, 0, 0, 0];
        sa.extend(ip.octets());
        sa.resize(28, 0);
        sa
    }

    const UP_GATEWAY: u32 = 0x1 | RTF_GATEWAY;

    #[test]
    fn the_unscoped_ipv4_default_route_wins_over_scoped_and_other_routes() {
        let mut dump = message(4, UP_GATEWAY | RTF_IFSCOPE, &[(RTAX_DST, sin([0; 4])), (RTAX_GATEWAY, sin([10, 9, 9, 1])), (RTAX_NETMASK, vec![0, 0, 0, 0])]);
        // 10.0.0.0/8 via 192.168.1.254: not a default route.
        dump.extend(message(5, UP_GATEWAY, &[(RTAX_DST, sin([10, 0, 0, 0])), (RTAX_GATEWAY, sin([192, 168, 1, 254])), (RTAX_NETMASK, vec![5, 0, 0, 0, 255])]));
        // The primary default: netmask sockaddr of length 0 (the kernel's way of writing /0).
        dump.extend(message(5, UP_GATEWAY, &[(RTAX_DST, sin([0; 4])), (RTAX_GATEWAY, sin([192, 168, 1, 1])), (RTAX_NETMASK, Vec::new())]));
        let route = default_gateway(&dump).expect("a default route");
        assert_eq!(route, DefaultRoute { gateway: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)), index: 5, scoped: false });
        assert_eq!(default_routes(&dump).len(), 2);
    }

    #[test]
    fn an_ipv6_link_local_gateway_loses_its_embedded_scope_and_keeps_the_interface_index() {
        let embedded: Ipv6Addr = "fe80:7::1".parse().unwrap();
        let dump =
            message(7, UP_GATEWAY, &[(RTAX_DST, sin6(Ipv6Addr::UNSPECIFIED)), (RTAX_GATEWAY, sin6(embedded)), (RTAX_NETMASK, sin6(Ipv6Addr::UNSPECIFIED))]);
        let route = default_gateway(&dump).expect("a default route");
        assert_eq!(route, DefaultRoute { gateway: IpAddr::V6("fe80::1".parse().unwrap()), index: 7, scoped: false });
    }

    #[test]
    fn a_scoped_default_is_used_when_it_is_the_only_one() {
        let dump = message(9, UP_GATEWAY | RTF_IFSCOPE, &[(RTAX_DST, sin([0; 4])), (RTAX_GATEWAY, sin([172, 16, 0, 1]))]);
        assert_eq!(default_gateway(&dump).map(|r| (r.gateway, r.scoped)), Some((IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)), true)));
    }

    #[test]
    fn interface_routes_truncated_dumps_and_other_versions_give_nothing() {
        // Gateway is a link-layer sockaddr (AF_LINK = 18): a directly connected route.
        let link = message(5, UP_GATEWAY, &[(RTAX_DST, sin([0; 4])), (RTAX_GATEWAY, vec![20, 18, 5, 0, 6, 3, 6, 0])]);
        assert_eq!(default_gateway(&link), None);
        let good = message(5, UP_GATEWAY, &[(RTAX_DST, sin([0; 4])), (RTAX_GATEWAY, sin([192, 168, 1, 1]))]);
        for cut in [0, 1, RT_MSGHDR_LEN - 1, RT_MSGHDR_LEN + 3, good.len() - 1] {
            assert_eq!(default_gateway(&good[..cut]), None, "cut at {cut}");
        }
        let mut other_version = good.clone();
        other_version[2] = RTM_VERSION + 1;
        assert_eq!(default_gateway(&other_version), None);
        let mut no_gateway_flag = good.clone();
        no_gateway_flag[8..12].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(default_gateway(&no_gateway_flag), None);
        // A length field of 0 or beyond the buffer ends the read instead of looping or panicking.
        let mut zero_len = good.clone();
        zero_len[0..2].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(default_gateway(&zero_len), None);
    }
}
