//! The router's SSDP NOTIFYs, heard between renewals: a router that restarted announces itself
//! with a new BOOTID.UPNP.ORG, and its mappings and pinholes are gone with its state. Hearing it
//! lets the keeper put them back within seconds instead of at the next renewal (half an hour into
//! a one-hour lease). Receive only: nothing is ever sent from these sockets.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use super::group;
use crate::gateway::Gateway;
use crate::limits::{SSDP_DATAGRAM_MAX, SSDP_NOTIFY_READS_MAX};
use crate::parse::ssdp::{parse_notify, NotifyKind};
use crate::parse::url::HttpUrl;
use crate::platform;

const SSDP_PORT: u16 = 1900;
const SSDP_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
const SSDP_V6_LINK: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xc);

/// Listens on the SSDP group of the interface toward one gateway.
pub struct NotifyWatch {
    socket: UdpSocket,
    /// The watched gateway's LOCATION address. A NOTIFY is about that gateway when its LOCATION
    /// names the same host, whatever the port: a router may serve HTTP on a new port after each
    /// start (miniupnpd's default http_port=0), and that reboot is the one to hear (issue 19).
    location: SocketAddr,
    /// Its last known boot (from the search answer, the cache, or a NOTIFY heard since).
    boot_id: Option<u32>,
}

impl NotifyWatch {
    /// Join the SSDP multicast group on the interface of `gateway.local_addr`, on port 1900
    /// shared with every other listener of the host (SO_REUSEADDR).
    pub fn open(gateway: &Gateway) -> io::Result<NotifyWatch> {
        let socket = group::join(gateway.local_addr, SSDP_PORT, SSDP_V4, SSDP_V6_LINK)?;
        Ok(NotifyWatch { socket, location: gateway.location.socket_addr(), boot_id: gateway.boot_id })
    }

    /// Read what arrived since the last look (at most `SSDP_NOTIFY_READS_MAX` datagrams; the
    /// rest waits, or is dropped by the kernel when its buffer is full). Returns the new boot id
    /// when the gateway announced a boot other than the one known.
    pub fn new_boot(&mut self) -> Option<(Option<u32>, u32)> {
        let mut buf = [0u8; SSDP_DATAGRAM_MAX + 1];
        let mut news = None;
        for _ in 0..SSDP_NOTIFY_READS_MAX {
            // Only "nothing waiting" ends the look early: an oversized datagram, an ICMP error
            // or another failed read is one datagram lost, not the end of what arrived.
            let datagram = match platform::recv_datagram(&self.socket, &mut buf) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    log::debug!("SSDP NOTIFY: receive failed ({e}); reading on");
                    continue;
                }
            };
            if datagram.truncated {
                log::debug!("SSDP NOTIFY: ignoring datagram from {}: larger than {SSDP_DATAGRAM_MAX} bytes", datagram.from);
                continue;
            }
            let Ok(notify) = parse_notify(&buf[..datagram.len]) else { continue };
            // ssdp:update announces a BOOTID change without a reboot; a byebye carries none.
            let (NotifyKind::Alive, Some(boot)) = (notify.kind, notify.boot_id) else { continue };
            let about_ours = notify.location.as_deref().and_then(|l| HttpUrl::parse(l).ok()).is_some_and(|u| u.socket_addr().ip() == self.location.ip());
            if !about_ours || self.boot_id == Some(boot) {
                continue;
            }
            if self.boot_id.is_some() {
                news = Some((self.boot_id, boot));
            }
            self.boot_id = Some(boot);
        }
        news
    }
}
