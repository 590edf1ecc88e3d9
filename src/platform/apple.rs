//! macOS and iOS: default gateways from the kernel routing table (sysctl NET_RT_FLAGS, parsed in
//! route_socket.rs) and IPv6 address flags from SIOCGIFAFLAG_IN6. FFI into libc: `unsafe` is
//! allowed here, each block says why. Type-checked on this project's machine, never run.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::AsRawFd;

use super::route_socket::{default_gateway, DefaultRoute, RTF_GATEWAY};
use super::NetInterface;

/// `IN6_IFF_DEPRECATED` and `IN6_IFF_TEMPORARY` from Darwin's netinet6/in6_var.h.
const IN6_IFF_DEPRECATED: libc::c_int = 0x0010;
const IN6_IFF_TEMPORARY: libc::c_int = 0x0080;
/// Tries when the routing table grows between the size query and the read.
const ROUTE_READ_TRIES: usize = 4;

/// Darwin's `struct in6_ifreq` (netinet6/in6_var.h; libc has it for macOS only, not iOS). Only
/// the address in and the flags out are used, but the union must have the kernel's size (that
/// of `struct icmp6_ifstat`, 34 counters) because the ioctl number encodes it.
#[repr(C)]
struct In6Ifreq {
    name: [libc::c_char; libc::IFNAMSIZ],
    ifru: In6IfreqData,
}

#[repr(C)]
union In6IfreqData {
    addr: libc::sockaddr_in6,
    flags6: libc::c_int,
    _size: [u64; 34],
}

const _: () = assert!(std::mem::size_of::<In6Ifreq>() == 288);

/// `_IOWR('i', 73, struct in6_ifreq)`.
const SIOCGIFAFLAG_IN6: libc::c_ulong =
    0xC000_0000 | (((std::mem::size_of::<In6Ifreq>() as libc::c_ulong) & 0x1fff) << 16) | ((b'i' as libc::c_ulong) << 8) | 73;
const _: () = assert!(SIOCGIFAFLAG_IN6 == 0xC120_6949);

/// Mark temporary and deprecated IPv6 addresses. Link-local addresses are skipped: they are
/// never a pinhole target, and the kernel wants their scope embedded.
pub(super) fn add_ipv6_flags(interfaces: &mut [NetInterface]) -> io::Result<()> {
    // Any AF_INET6 datagram socket takes the request; it is never sent on.
    let socket = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
    for ifc in interfaces.iter_mut() {
        let Some(name) = ifreq_name(&ifc.name) else { continue };
        for a in ifc.v6.iter_mut().filter(|a| !crate::addr::is_ipv6_link_local(&a.ip)) {
            let mut req = In6Ifreq {
                name,
                ifru: In6IfreqData {
                    addr: libc::sockaddr_in6 {
                        sin6_len: std::mem::size_of::<libc::sockaddr_in6>() as u8,
                        sin6_family: libc::AF_INET6 as libc::sa_family_t,
                        sin6_port: 0,
                        sin6_flowinfo: 0,
                        sin6_addr: libc::in6_addr { s6_addr: a.ip.octets() },
                        sin6_scope_id: 0,
                    },
                },
            };
            // SAFETY: a valid descriptor, and `req` is a live `struct in6_ifreq` of the size the
            // request number encodes; the kernel reads the name and address, writes the flags.
            let rc = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGIFAFLAG_IN6, &mut req as *mut In6Ifreq) };
            if rc != 0 {
                // The address went away since it was listed: leave its flags unknown.
                log::debug!("SIOCGIFAFLAG_IN6 {} on {}: {}", a.ip, ifc.name, io::Error::last_os_error());
                continue;
            }
            // SAFETY: after a successful SIOCGIFAFLAG_IN6 the union holds the flags.
            let flags = unsafe { req.ifru.flags6 };
            a.temporary = flags & IN6_IFF_TEMPORARY != 0;
            a.deprecated = flags & IN6_IFF_DEPRECATED != 0;
        }
    }
    Ok(())
}

/// An interface name as `ifr_name` wants it: NUL-terminated in IFNAMSIZ bytes.
fn ifreq_name(name: &str) -> Option<[libc::c_char; libc::IFNAMSIZ]> {
    if name.len() >= libc::IFNAMSIZ || name.bytes().any(|b| b == 0) {
        return None;
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        *o = b as libc::c_char;
    }
    Some(out)
}

pub(super) fn default_gateway_v4() -> io::Result<Option<Ipv4Addr>> {
    Ok(default_gateway(&route_dump(libc::AF_INET)?).and_then(|r| match r.gateway {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }))
}

pub(super) fn default_gateway_v6() -> io::Result<Option<(Ipv6Addr, u32)>> {
    Ok(default_gateway(&route_dump(libc::AF_INET6)?).and_then(|DefaultRoute { gateway, index, .. }| match gateway {
        IpAddr::V6(v6) => Some((v6, index)),
        IpAddr::V4(_) => None,
    }))
}

/// The kernel's routes through a gateway for one family: sysctl {CTL_NET, PF_ROUTE, 0, family,
/// NET_RT_FLAGS, RTF_GATEWAY}, the dump `netstat -rn` reads.
fn route_dump(family: libc::c_int) -> io::Result<Vec<u8>> {
    let mut mib = [libc::CTL_NET, libc::PF_ROUTE, 0, family, libc::NET_RT_FLAGS, RTF_GATEWAY as libc::c_int];
    for _ in 0..ROUTE_READ_TRIES {
        let mut needed: libc::size_t = 0;
        // SAFETY: `mib` names six valid ints; a null output buffer asks only for the size,
        // written to `needed`.
        let rc = unsafe { libc::sysctl(mib.as_mut_ptr(), mib.len() as libc::c_uint, std::ptr::null_mut(), &mut needed, std::ptr::null_mut(), 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // Room for a few routes added between the two calls.
        let mut buf = vec![0u8; needed + needed / 8 + 256];
        let mut len: libc::size_t = buf.len();
        // SAFETY: `buf` is writable for `len` bytes; the kernel writes at most that and stores
        // the length written in `len`.
        let rc = unsafe { libc::sysctl(mib.as_mut_ptr(), mib.len() as libc::c_uint, buf.as_mut_ptr().cast(), &mut len, std::ptr::null_mut(), 0) };
        if rc == 0 {
            buf.truncate(len);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOMEM) {
            return Err(e);
        }
    }
    Err(io::Error::other("the routing table kept growing"))
}
