//! Everything OS-specific: the host's interfaces and addresses, default gateways, and the source
//! address the OS picks toward a destination. A console SDK port replaces only this module.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

#[cfg(target_os = "linux")]
mod linux;

/// One IPv6 address of an interface, with the flags that matter for choosing a pinhole target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V6Address {
    pub ip: Ipv6Addr,
    pub prefix_len: u8,
    /// RFC 4941 temporary (privacy) address: changes daily, a bad pinhole target.
    pub temporary: bool,
    /// Deprecated (preferred lifetime over): still works but should not be used for new things.
    pub deprecated: bool,
}

/// An up, non-loopback interface and its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetInterface {
    pub name: String,
    pub index: u32,
    pub v4: Vec<(Ipv4Addr, u8)>,
    pub v6: Vec<V6Address>,
}

/// Up, non-loopback interfaces with at least one address. Multicast capability is not known
/// portably; an interface that cannot multicast simply fails the send, which is logged.
pub fn interfaces() -> io::Result<Vec<NetInterface>> {
    let mut out: Vec<NetInterface> = Vec::new();
    for ifa in if_addrs::get_if_addrs()? {
        if ifa.is_loopback() || !ifa.is_oper_up() && ifa.oper_status != if_addrs::IfOperStatus::Unknown {
            continue;
        }
        let index = ifa.index.unwrap_or(0);
        let entry = match out.iter_mut().position(|i| i.name == ifa.name) {
            Some(pos) => &mut out[pos],
            None => {
                out.push(NetInterface { name: ifa.name.clone(), index, v4: Vec::new(), v6: Vec::new() });
                out.last_mut().expect("just pushed")
            }
        };
        match &ifa.addr {
            if_addrs::IfAddr::V4(a) => entry.v4.push((a.ip, a.prefixlen)),
            if_addrs::IfAddr::V6(a) => entry.v6.push(V6Address { ip: a.ip, prefix_len: a.prefixlen, temporary: false, deprecated: false }),
        }
    }
    #[cfg(target_os = "linux")]
    linux::add_ipv6_flags(&mut out);
    Ok(out)
}

/// The IPv4 default gateway, if the OS tells.
pub fn default_gateway_v4() -> Option<Ipv4Addr> {
    #[cfg(target_os = "linux")]
    return linux::default_gateway_v4();
    #[cfg(not(target_os = "linux"))]
    None
}

/// The IPv6 default gateway and the interface index it is reached on, if the OS tells.
pub fn default_gateway_v6() -> Option<(Ipv6Addr, u32)> {
    #[cfg(target_os = "linux")]
    return linux::default_gateway_v6();
    #[cfg(not(target_os = "linux"))]
    None
}

/// The source address the OS would use to reach `target` (a UDP "connect" sends nothing).
pub fn local_addr_toward(target: SocketAddr) -> io::Result<IpAddr> {
    let bind: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(bind)?;
    socket.connect(target)?;
    Ok(socket.local_addr()?.ip())
}

/// True when a non-blocking connect reports "under way" (EINPROGRESS on Unix; WSAEWOULDBLOCK,
/// which std maps to WouldBlock, on Windows).
pub fn connect_in_progress(e: &io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const EINPROGRESS: i32 = 115;
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd"))]
    const EINPROGRESS: i32 = 36;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )))]
    const EINPROGRESS: i32 = i32::MIN;
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(EINPROGRESS)
}
