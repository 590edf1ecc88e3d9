//! Windows: interfaces and IPv6 address flags from GetAdaptersAddresses, default gateways from
//! GetIpForwardTable2, and UDP reads that survive ICMP errors and oversized datagrams.
//! FFI into iphlpapi/ws2_32 (`windows-sys`): `unsafe` is allowed here, each block says why.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::windows::io::AsRawSocket;

use windows_sys::Win32::Foundation::{ERROR_BUFFER_OVERFLOW, ERROR_NO_DATA, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    FreeMibTable, GetAdaptersAddresses, GetIpForwardTable2, GAA_FLAG_SKIP_ANYCAST, GAA_FLAG_SKIP_DNS_SERVER, GAA_FLAG_SKIP_MULTICAST,
    IF_TYPE_SOFTWARE_LOOPBACK, IP_ADAPTER_ADDRESSES_LH, MIB_IPFORWARD_TABLE2,
};
use windows_sys::Win32::NetworkManagement::Ndis::IfOperStatusUp;
use windows_sys::Win32::Networking::WinSock::{
    IpDadStateDeprecated, IpDadStateDuplicate, IpDadStateTentative, IpSuffixOriginRandom, WSAIoctl, ADDRESS_FAMILY, AF_INET, AF_INET6, AF_UNSPEC,
    SIO_UDP_CONNRESET, SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_INET, SOCKET,
};

use super::{Datagram, NetInterface, V6Address};

/// Starting size of the adapter list buffer: Microsoft's advice (15 KB) rounded up; the call
/// says when it needs more.
const ADAPTER_BUFFER_START: u32 = 16 * 1024;
/// Tries when the adapter list grows between the size query and the read.
const ADAPTER_READ_TRIES: usize = 4;
/// Longest adapter friendly name read (Windows caps them at 256 characters).
const NAME_MAX: usize = 256;

/// One adapter, copied out of the API's buffer into plain Rust values.
struct Adapter {
    name: String,
    /// IfIndex: the IPv4 interface index.
    v4_index: u32,
    /// Ipv6IfIndex: the IPv6 interface index (Wine reports 0).
    v6_index: u32,
    luid: u64,
    up: bool,
    loopback: bool,
    v4_metric: u32,
    v6_metric: u32,
    v4: Vec<(Ipv4Addr, u8)>,
    v6: Vec<V6Address>,
}

impl Adapter {
    /// The index to use for IPv6 (scope id, multicast interface): the first non-zero one.
    fn index(&self) -> u32 {
        if self.v6_index != 0 {
            self.v6_index
        } else {
            self.v4_index
        }
    }
}

pub(super) fn interfaces() -> io::Result<Vec<NetInterface>> {
    Ok(adapters()?
        .into_iter()
        .filter(|a| a.up && !a.loopback && (!a.v4.is_empty() || !a.v6.is_empty()))
        .map(|a| NetInterface { index: a.index(), name: a.name, v4: a.v4, v6: a.v6 })
        .collect())
}

/// Every adapter with its unicast addresses. Unusable addresses (duplicate, still tentative)
/// are left out.
fn adapters() -> io::Result<Vec<Adapter>> {
    let buf = read_adapter_list()?;
    let mut out = Vec::new();
    let mut next: *const IP_ADAPTER_ADDRESSES_LH = if buf.is_empty() { std::ptr::null() } else { buf.as_ptr().cast() };
    while !next.is_null() {
        // SAFETY: `next` is the list head or a `Next` link; GetAdaptersAddresses builds the whole
        // linked list inside `buf`, which is alive and unchanged for this whole function.
        let a = unsafe { &*next };
        // SAFETY: the union holds plain integers (an alignment u64, or Length and IfIndex): every
        // bit pattern is a valid u32.
        let v4_index = unsafe { a.Anonymous1.Anonymous.IfIndex };
        // SAFETY: NET_LUID_LH is a u64 or bit fields of that u64: any value is valid.
        let luid = unsafe { a.Luid.Value };
        let mut adapter = Adapter {
            name: wide_string(a.FriendlyName),
            v4_index,
            v6_index: a.Ipv6IfIndex,
            luid,
            up: a.OperStatus == IfOperStatusUp,
            loopback: a.IfType == IF_TYPE_SOFTWARE_LOOPBACK,
            v4_metric: a.Ipv4Metric,
            v6_metric: a.Ipv6Metric,
            v4: Vec::new(),
            v6: Vec::new(),
        };
        let mut unicast = a.FirstUnicastAddress;
        while !unicast.is_null() {
            // SAFETY: as above: the unicast list lives in `buf` too.
            let u = unsafe { &*unicast };
            unicast = u.Next;
            if u.DadState == IpDadStateDuplicate || u.DadState == IpDadStateTentative {
                continue;
            }
            match sockaddr_ip(u.Address.lpSockaddr, u.Address.iSockaddrLength) {
                Some(IpAddr::V4(ip)) => adapter.v4.push((ip, u.OnLinkPrefixLength)),
                Some(IpAddr::V6(ip)) => adapter.v6.push(V6Address {
                    ip,
                    prefix_len: u.OnLinkPrefixLength,
                    // A random interface identifier marks an RFC 4941 temporary address; a stable
                    // one comes from the link-layer address (or is manual or DHCPv6).
                    temporary: u.SuffixOrigin == IpSuffixOriginRandom,
                    deprecated: u.DadState == IpDadStateDeprecated || u.PreferredLifetime == 0,
                }),
                None => {}
            }
        }
        out.push(adapter);
        next = a.Next;
    }
    Ok(out)
}

/// The raw adapter list, in a u64 buffer (the structures hold u64 fields: 8-byte aligned).
fn read_adapter_list() -> io::Result<Vec<u64>> {
    let flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
    let mut size = ADAPTER_BUFFER_START;
    for _ in 0..ADAPTER_READ_TRIES {
        let mut buf = vec![0u64; (size as usize).div_ceil(8)];
        // SAFETY: `buf` is writable for at least `size` bytes and aligned for
        // IP_ADAPTER_ADDRESSES_LH; `size` is a valid in/out pointer; the reserved pointer is null.
        let rc = unsafe { GetAdaptersAddresses(u32::from(AF_UNSPEC), flags, std::ptr::null(), buf.as_mut_ptr().cast(), &mut size) };
        match rc {
            NO_ERROR => return Ok(buf),
            ERROR_NO_DATA => return Ok(Vec::new()),
            ERROR_BUFFER_OVERFLOW => continue, // `size` now says how much is needed
            e => return Err(io::Error::from_raw_os_error(e as i32)),
        }
    }
    Err(io::Error::other("GetAdaptersAddresses: the adapter list kept growing"))
}

/// A NUL-terminated UTF-16 string from the adapter list (lossy, at most NAME_MAX units).
fn wide_string(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut units = Vec::new();
    while units.len() < NAME_MAX {
        // SAFETY: `p` points to a NUL-terminated string inside the adapter buffer; we stop at
        // the NUL, so every read is within it.
        let unit = unsafe { *p.add(units.len()) };
        if unit == 0 {
            break;
        }
        units.push(unit);
    }
    String::from_utf16_lossy(&units)
}

/// The IP address of a SOCKET_ADDRESS from the adapter list, if it is IPv4 or IPv6.
fn sockaddr_ip(p: *const SOCKADDR, len: i32) -> Option<IpAddr> {
    let len = usize::try_from(len).ok()?;
    if p.is_null() || len < std::mem::size_of::<ADDRESS_FAMILY>() {
        return None;
    }
    // SAFETY: `p` points to `len` readable bytes (the API's SOCKET_ADDRESS contract), at
    // least the family field; read_unaligned makes no alignment assumption.
    let family = unsafe { std::ptr::read_unaligned(p.cast::<ADDRESS_FAMILY>()) };
    match family {
        AF_INET if len >= std::mem::size_of::<SOCKADDR_IN>() => {
            // SAFETY: `len` bytes cover a whole SOCKADDR_IN (checked above).
            let sin = unsafe { std::ptr::read_unaligned(p.cast::<SOCKADDR_IN>()) };
            Some(IpAddr::V4(v4_of(&sin)))
        }
        AF_INET6 if len >= std::mem::size_of::<SOCKADDR_IN6>() => {
            // SAFETY: `len` bytes cover a whole SOCKADDR_IN6 (checked above).
            let sin6 = unsafe { std::ptr::read_unaligned(p.cast::<SOCKADDR_IN6>()) };
            Some(IpAddr::V6(v6_of(&sin6)))
        }
        _ => None,
    }
}

fn v4_of(sin: &SOCKADDR_IN) -> Ipv4Addr {
    // SAFETY: every member of the IN_ADDR union is plain bytes; S_addr is in network order.
    Ipv4Addr::from(unsafe { sin.sin_addr.S_un.S_addr }.to_ne_bytes())
}

fn v6_of(sin6: &SOCKADDR_IN6) -> Ipv6Addr {
    // SAFETY: every member of the IN6_ADDR union is plain bytes.
    Ipv6Addr::from(unsafe { sin6.sin6_addr.u.Byte })
}

/// The address in a SOCKADDR_INET (a route's next hop).
fn inet_ip(a: &SOCKADDR_INET) -> Option<IpAddr> {
    // SAFETY: si_family overlays the family field of both members and is always initialised.
    match unsafe { a.si_family } {
        // SAFETY: the family says which member is valid.
        AF_INET => Some(IpAddr::V4(v4_of(unsafe { &a.Ipv4 }))),
        // SAFETY: as above.
        AF_INET6 => Some(IpAddr::V6(v6_of(unsafe { &a.Ipv6 }))),
        _ => None,
    }
}

pub(super) fn default_gateway_v4() -> io::Result<Option<Ipv4Addr>> {
    Ok(default_route(AF_INET)?.and_then(|(gw, _)| match gw {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }))
}

pub(super) fn default_gateway_v6() -> io::Result<Option<(Ipv6Addr, u32)>> {
    Ok(default_route(AF_INET6)?.and_then(|(gw, index)| match gw {
        IpAddr::V6(v6) => Some((v6, index)),
        IpAddr::V4(_) => None,
    }))
}

/// The default route the OS would use for `family`: among routes to ::/0 or 0.0.0.0/0 with a
/// next hop, on an interface that is up, the lowest route metric plus interface metric
/// (Windows' own rule). GetIpForwardTable2 rather than GetBestRoute2: it reads the table as it
/// is, without inventing a destination address to ask about, and Wine implements it.
fn default_route(family: ADDRESS_FAMILY) -> io::Result<Option<(IpAddr, u32)>> {
    let adapters = adapters()?;
    let table = ForwardTable::read(family)?;
    let mut best: Option<(u64, IpAddr, u32)> = None;
    for row in table.rows() {
        if row.DestinationPrefix.PrefixLength != 0 {
            continue;
        }
        let Some(next_hop) = inet_ip(&row.NextHop).filter(|ip| !ip.is_unspecified()) else { continue };
        // SAFETY: NET_LUID_LH is a u64 or bit fields of that u64: any value is valid.
        let luid = unsafe { row.InterfaceLuid.Value };
        let Some(adapter) = adapters.iter().find(|a| a.luid == luid && a.up) else { continue };
        let interface_metric = if family == AF_INET { adapter.v4_metric } else { adapter.v6_metric };
        let metric = u64::from(row.Metric) + u64::from(interface_metric);
        let index = if row.InterfaceIndex != 0 { row.InterfaceIndex } else { adapter.index() };
        if best.is_none_or(|(m, _, _)| metric < m) {
            best = Some((metric, next_hop, index));
        }
    }
    Ok(best.map(|(_, gw, index)| (gw, index)))
}

/// A routing table GetIpForwardTable2 allocated; freed on drop.
struct ForwardTable(*mut MIB_IPFORWARD_TABLE2);

impl ForwardTable {
    fn read(family: ADDRESS_FAMILY) -> io::Result<ForwardTable> {
        let mut table: *mut MIB_IPFORWARD_TABLE2 = std::ptr::null_mut();
        // SAFETY: `table` is a valid out-pointer; on success the API stores a table we own.
        let rc = unsafe { GetIpForwardTable2(family, &mut table) };
        if rc != NO_ERROR || table.is_null() {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        Ok(ForwardTable(table))
    }

    fn rows(&self) -> &[windows_sys::Win32::NetworkManagement::IpHelper::MIB_IPFORWARD_ROW2] {
        // SAFETY: the table holds NumEntries rows laid out from `Table` on (the API's
        // variable-length array), and lives as long as `self`.
        unsafe { std::slice::from_raw_parts((*self.0).Table.as_ptr(), (*self.0).NumEntries as usize) }
    }
}

impl Drop for ForwardTable {
    fn drop(&mut self) {
        // SAFETY: the pointer came from GetIpForwardTable2 and is freed once, here.
        unsafe { FreeMibTable(self.0.cast()) }
    }
}

/// Turn off WSAECONNRESET on reads after an ICMP port unreachable (SIO_UDP_CONNRESET = FALSE).
pub(super) fn ignore_udp_resets(socket: &socket2::Socket) -> io::Result<()> {
    let off: i32 = 0; // BOOL FALSE
    let mut returned: u32 = 0;
    // SAFETY: a valid socket handle; the input is a 4-byte BOOL that outlives the call; no
    // output buffer; no OVERLAPPED, so the call completes before returning.
    let rc = unsafe {
        WSAIoctl(
            socket.as_raw_socket() as SOCKET,
            SIO_UDP_CONNRESET,
            (&off as *const i32).cast(),
            std::mem::size_of::<i32>() as u32,
            std::ptr::null_mut(),
            0,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// recv_from that reports a datagram larger than `buf` as truncated, with its sender, instead
/// of failing with WSAEMSGSIZE (which std's recv_from does, dropping the sender).
pub(super) fn recv_datagram(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Datagram> {
    let capacity = buf.len();
    // SAFETY: [u8] and [MaybeUninit<u8>] have the same layout, and the receive only writes
    // initialised bytes into the slice, so `buf` stays initialised.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (len, flags, from) = socket2::SockRef::from(socket).recv_from_vectored(&mut [socket2::MaybeUninitSlice::new(uninit)])?;
    let from: SocketAddr = from.as_socket().ok_or_else(|| io::Error::other("a datagram from a non-IP address"))?;
    Ok(Datagram { len, from, truncated: flags.is_truncated() || len == capacity })
}

#[cfg(test)]
mod tests {
    /// The routing table reads for both families (a machine without a gateway gives None).
    #[test]
    fn the_routing_table_reads_for_both_families() {
        super::default_gateway_v4().expect("GetIpForwardTable2 over IPv4");
        super::default_gateway_v6().expect("GetIpForwardTable2 over IPv6");
    }
}
