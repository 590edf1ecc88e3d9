//! Linux and Android: address flags and default routes from procfs. Paths go through
//! /proc/thread-self so a thread that entered another network namespace (as the lab tests do)
//! reads its own.
//!
//! Android: since Android 10 an app may not read /proc/net (SELinux), and an app targeting API 30+
//! may not bind a netlink socket or dump links, so neither source works for an ordinary app; the
//! reads fail and the caller logs its fallback once (gateway unknown: multicast only; address
//! flags unknown: the OS's source address choice). Only Java's `LinkProperties` knows more, and
//! an app can pass what it learns there through `DiscoveryOptions` (`unicast`, `local_v6`).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::NetInterface;

const IFA_F_TEMPORARY: u32 = 0x01;
const IFA_F_DEPRECATED: u32 = 0x20;
const RTF_GATEWAY: u32 = 0x2;

fn read_net_file(name: &str) -> io::Result<String> {
    std::fs::read_to_string(format!("/proc/thread-self/net/{name}")).or_else(|_| std::fs::read_to_string(format!("/proc/net/{name}")))
}

fn parse_v6_hex(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

/// Mark temporary and deprecated IPv6 addresses (from /proc/net/if_inet6).
pub(super) fn add_ipv6_flags(interfaces: &mut [NetInterface]) -> io::Result<()> {
    let text = read_net_file("if_inet6")?;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let (Some(ip), Ok(flags)) = (parse_v6_hex(f[0]), u32::from_str_radix(f[4], 16)) else { continue };
        for ifc in interfaces.iter_mut().filter(|i| i.name == f[5]) {
            for a in ifc.v6.iter_mut().filter(|a| a.ip == ip) {
                a.temporary = flags & IFA_F_TEMPORARY != 0;
                a.deprecated = flags & IFA_F_DEPRECATED != 0;
            }
        }
    }
    Ok(())
}

pub(super) fn default_gateway_v4() -> io::Result<Option<Ipv4Addr>> {
    let text = read_net_file("route")?;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(gw), Ok(flags), Ok(mask)) =
            (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[2], 16), u32::from_str_radix(f[3], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        if dest == 0 && mask == 0 && flags & RTF_GATEWAY != 0 && gw != 0 {
            // procfs prints the address in host byte order of a little-endian u32.
            return Ok(Some(Ipv4Addr::from(gw.swap_bytes())));
        }
    }
    Ok(None)
}

pub(super) fn default_gateway_v6() -> io::Result<Option<(Ipv6Addr, u32)>> {
    let text = read_net_file("ipv6_route")?;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(dest), Ok(plen), Some(next_hop)) = (parse_v6_hex(f[0]), u8::from_str_radix(f[1], 16), parse_v6_hex(f[4])) else { continue };
        if dest.is_unspecified() && plen == 0 && !next_hop.is_unspecified() {
            let index = if_index(f[9]).unwrap_or(0);
            return Ok(Some((next_hop, index)));
        }
    }
    Ok(None)
}

fn if_index(name: &str) -> Option<u32> {
    if_addrs::get_if_addrs().ok()?.into_iter().find(|i| i.name == name).and_then(|i| i.index)
}
