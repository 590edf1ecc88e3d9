//! Everything OS-specific: the host's interfaces and addresses, default gateways, the source
//! address the OS picks toward a destination, and the few socket calls whose behaviour differs.
//!
//! # The seam a console (or any new OS) port fills
//! A port replaces this module only; nothing above it knows the OS. It must supply:
//! - [`interfaces`]: up, non-loopback interfaces, each with a name, the index used as IPv6
//!   scope id and multicast interface, its IPv4 addresses with prefix lengths, and its IPv6
//!   addresses with prefix lengths and the `temporary`/`deprecated` flags (all `false` when the
//!   OS cannot tell: then the pinhole goes to the address the OS picks, see [`V6Address`]).
//! - [`default_gateway_v4`] / [`default_gateway_v6`]: the router's address (and for IPv6 the
//!   interface index), or `None`; discovery then relies on multicast and the app may name the
//!   router in `DiscoveryOptions::unicast`.
//! - [`local_addr_toward`]: the source address the OS would use toward a LAN address (the
//!   portable UDP-connect trick needs only BSD-style sockets).
//! - Sockets: `std::net` UDP (bind, connect, send_to, recv_from, read timeout, multicast
//!   join/interface/hop limit through `socket2`) and non-blocking TCP connect
//!   ([`connect_in_progress`]); [`recv_datagram`] must report a datagram larger than the
//!   buffer as truncated, and [`is_udp_reset`] must name the errors an ICMP error turns into.
//!
//! Where an OS cannot tell something, the fallback is explicit and logged once per process.
//! `unsafe` (FFI into the OS) is allowed in the OS files `windows.rs` and `apple.rs` only.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Once;

#[cfg(target_vendor = "apple")]
#[allow(unsafe_code)]
mod apple;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(test, target_vendor = "apple"))]
mod route_socket;
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows;

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
    /// The interface index: IPv6 scope id and multicast interface. Where the OS gives one index
    /// per family (Windows), the IPv6 one, or the IPv4 one when that is 0 (Wine reports 0).
    pub index: u32,
    pub v4: Vec<(Ipv4Addr, u8)>,
    pub v6: Vec<V6Address>,
}

impl NetInterface {
    /// Whether `ip` is one of this interface's addresses.
    pub fn holds(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.v4.iter().any(|(a, _)| *a == v4),
            IpAddr::V6(v6) => self.v6.iter().any(|a| a.ip == v6),
        }
    }
}

/// Whether `ip` is one of this host's addresses (on an up, non-loopback interface).
pub fn is_local_address(ip: IpAddr) -> bool {
    interfaces().unwrap_or_default().iter().any(|i| i.holds(ip))
}

/// Whether two of this host's addresses are on the same interface (unknown: no).
pub fn same_interface(a: IpAddr, b: IpAddr) -> bool {
    let interfaces = interfaces().unwrap_or_default();
    let index_of = |ip| interfaces.iter().find(|i| i.holds(ip)).map(|i| i.index);
    matches!((index_of(a), index_of(b)), (Some(x), Some(y)) if x == y)
}

/// Up, non-loopback interfaces with at least one address. Multicast capability is not known
/// portably; an interface that cannot multicast simply fails the send, which is logged.
pub fn interfaces() -> io::Result<Vec<NetInterface>> {
    #[cfg(windows)]
    return windows::interfaces();
    #[cfg(not(windows))]
    {
        let mut out = getifaddrs_interfaces()?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = linux::add_ipv6_flags(&mut out);
        #[cfg(target_vendor = "apple")]
        let flags = apple::add_ipv6_flags(&mut out);
        #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
        let flags = no_ipv6_flags(&mut out);
        if let Err(e) = flags {
            fallback(
                &FLAGS_FALLBACK,
                &format!(
                    "IPv6 address flags unknown ({e}): a temporary (privacy) address cannot be told from a stable one, so a pinhole \
                     goes to the address the OS picks, which may change daily; set DiscoveryOptions::local_v6 to choose"
                ),
            );
        }
        Ok(out)
    }
}

/// An OS without code for IPv6 address flags: every address stays "stable, preferred".
#[cfg(not(any(windows, target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn no_ipv6_flags(_: &mut [NetInterface]) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "not implemented for this OS"))
}

/// Interfaces from getifaddrs(3) (the `if-addrs` crate), merged by name.
#[cfg(not(windows))]
fn getifaddrs_interfaces() -> io::Result<Vec<NetInterface>> {
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
        // Each address carries its own index; one entry may lack it (0) where another has it.
        if entry.index == 0 {
            entry.index = index;
        }
        match &ifa.addr {
            if_addrs::IfAddr::V4(a) => entry.v4.push((a.ip, a.prefixlen)),
            if_addrs::IfAddr::V6(a) => entry.v6.push(V6Address { ip: a.ip, prefix_len: a.prefixlen, temporary: false, deprecated: false }),
        }
    }
    Ok(out)
}

/// The IPv4 default gateway, if the OS tells.
pub fn default_gateway_v4() -> Option<Ipv4Addr> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let found = linux::default_gateway_v4();
    #[cfg(target_vendor = "apple")]
    let found = apple::default_gateway_v4();
    #[cfg(windows)]
    let found = windows::default_gateway_v4();
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple", windows)))]
    let found: io::Result<Option<Ipv4Addr>> = Err(io::Error::new(io::ErrorKind::Unsupported, "not implemented for this OS"));
    found.unwrap_or_else(|e| gateway_unknown(&e))
}

/// The IPv6 default gateway and the interface index it is reached on, if the OS tells.
pub fn default_gateway_v6() -> Option<(Ipv6Addr, u32)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let found = linux::default_gateway_v6();
    #[cfg(target_vendor = "apple")]
    let found = apple::default_gateway_v6();
    #[cfg(windows)]
    let found = windows::default_gateway_v6();
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple", windows)))]
    let found: io::Result<Option<(Ipv6Addr, u32)>> = Err(io::Error::new(io::ErrorKind::Unsupported, "not implemented for this OS"));
    found.unwrap_or_else(|e| gateway_unknown(&e))
}

static GATEWAY_FALLBACK: Once = Once::new();
#[cfg(not(windows))]
static FLAGS_FALLBACK: Once = Once::new();

/// The routing table could not be read (Android apps since API 29/30: SELinux denies
/// /proc/net and netlink route dumps; an OS with no code here): say so once, carry on.
fn gateway_unknown<T>(e: &io::Error) -> Option<T> {
    fallback(
        &GATEWAY_FALLBACK,
        &format!(
            "default gateway unknown (cannot read the routing table: {e}): discovery relies on multicast only; \
             an app that knows the router's address can name it in DiscoveryOptions::unicast"
        ),
    );
    None
}

/// Log a platform fallback once per process: it is a property of the OS, not of one call.
fn fallback(once: &Once, message: &str) {
    once.call_once(|| log::info!("platform: {message}"));
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

/// One datagram read by [`recv_datagram`]: its bytes are `buf[..len]`.
#[derive(Clone, Copy, Debug)]
pub struct Datagram {
    pub len: usize,
    pub from: SocketAddr,
    /// It did not fit the buffer: the rest is lost, and the caller drops it whole.
    pub truncated: bool,
}

/// Read one datagram, the same way on every OS. `buf` must be one byte larger than the
/// largest datagram accepted: one that fills it is reported truncated (Unix cuts a long
/// datagram silently; Windows fails the read with WSAEMSGSIZE and loses the sender, so the
/// Windows code reads it with flags instead).
pub fn recv_datagram(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Datagram> {
    #[cfg(windows)]
    return windows::recv_datagram(socket, buf);
    #[cfg(not(windows))]
    {
        let (len, from) = socket.recv_from(buf)?;
        Ok(Datagram { len, from, truncated: len == buf.len() })
    }
}

/// True for the errors an ICMP error (port unreachable) turns into on a UDP socket: Linux
/// reports ECONNREFUSED on a connected socket, Windows WSAECONNRESET on any socket (unless
/// [`ignore_udp_resets`] turned that off). Not the end of a receive loop: another datagram
/// may still come.
pub fn is_udp_reset(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused)
}

/// Ask the OS not to fail later reads of this UDP socket because an earlier send drew an ICMP
/// port unreachable (Windows: SIO_UDP_CONNRESET off). Nothing to do elsewhere: Unix reports
/// those only on connected sockets.
pub fn ignore_udp_resets(socket: &socket2::Socket) {
    #[cfg(windows)]
    if let Err(e) = windows::ignore_udp_resets(socket) {
        log::debug!("SIO_UDP_CONNRESET refused ({e}): a reset is skipped when it is read instead");
    }
    #[cfg(not(windows))]
    let _ = socket;
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

#[cfg(test)]
mod tests {
    /// IPv6 multicast and scope ids need each interface's index (Wine reports the IPv6 index of
    /// an adapter as 0: that once made every interface unusable for IPv6). Reads local state only.
    #[test]
    fn every_interface_listed_has_an_index() {
        for ifc in super::interfaces().expect("interfaces") {
            assert_ne!(ifc.index, 0, "{ifc:?}");
        }
    }
}
