//! Receive-only sockets on a link's multicast group, as the router's unsolicited news arrives:
//! SSDP NOTIFYs (`notify`) and PCP ANNOUNCEs (`pcp`). Port shared with every other listener of
//! the host (SO_REUSEADDR), non-blocking: a watch looks between renewals and never waits.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};

use socket2::{Domain, Socket, Type};

use crate::platform;

/// Join `group_v4` or `group_v6` (the one of `local`'s family) on the interface that has
/// `local`, bound to `port` on every address.
pub(crate) fn join(local: IpAddr, port: u16, group_v4: Ipv4Addr, group_v6: Ipv6Addr) -> io::Result<UdpSocket> {
    let socket = match local {
        IpAddr::V4(local) => {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(socket2::Protocol::UDP))?;
            socket.set_reuse_address(true)?;
            socket.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).into())?;
            socket.join_multicast_v4(&group_v4, &local)?;
            socket
        }
        IpAddr::V6(local) => {
            let index = platform::interfaces()?
                .into_iter()
                .find(|i| i.v6.iter().any(|a| a.ip == local))
                .map(|i| i.index)
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no interface has {local}")))?;
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(socket2::Protocol::UDP))?;
            socket.set_only_v6(true)?;
            socket.set_reuse_address(true)?;
            socket.bind(&SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)).into())?;
            socket.join_multicast_v6(&group_v6, index)?;
            socket
        }
    };
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
