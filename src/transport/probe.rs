//! The unicast search between renewals: one M-SEARCH to each gateway leases are held on, for
//! that device alone, and its answer's BOOTID.UPNP.ORG and LOCATION. A router powered on again
//! announces nothing for ~15 minutes (miniupnpd's first ssdp:alive waits until its clock passes
//! notify_interval), but it answers a search at once: this is how its reboot is seen in seconds.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, UdpSocket};
use std::time::Instant;

use crate::gateway::Gateway;
use crate::limits::{SSDP_DATAGRAM_MAX, SSDP_PROBE_READS_MAX, SSDP_PROBE_WAIT};
use crate::parse::ssdp::{build_msearch, parse_response};
use crate::parse::url::HttpUrl;

const SSDP_PORT: u16 = 1900;

/// What the gateway said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAnswer {
    /// BOOTID.UPNP.ORG: another value than before means it restarted (UDA 1.1).
    pub boot_id: Option<u32>,
    /// LOCATION: where its description is now (a new web port after a restart, with
    /// miniupnpd's default `http_port=0`).
    pub location: HttpUrl,
}

/// One search sent, its answer not yet read.
struct Sent {
    socket: UdpSocket,
    to: SocketAddr,
    target: String,
}

/// The search target that only this gateway answers: its UDN (`uuid:...`, from its
/// description), else its device type. None when neither is known.
pub fn search_target(gateway: &Gateway) -> Option<String> {
    if gateway.usn.starts_with("uuid:") {
        Some(gateway.usn.clone())
    } else if !gateway.device_type.is_empty() {
        Some(gateway.device_type.clone())
    } else {
        None
    }
}

/// Send one M-SEARCH to each gateway (to its address, port 1900, from this host's address
/// toward it), then read the answers for at most [`SSDP_PROBE_WAIT`] in all. One entry per
/// gateway, in order: None when it did not answer (in time) or could not be asked. Silence is
/// not evidence of anything: UDP may drop, a router may rate-limit searches.
pub fn probe(gateways: &[Gateway]) -> Vec<Option<DeviceAnswer>> {
    let sent: Vec<Option<Sent>> =
        gateways.iter().map(|gw| send(gw).map_err(|e| log::debug!("probe of {}: not sent ({e})", gw.location)).ok().flatten()).collect();
    let deadline = Instant::now() + SSDP_PROBE_WAIT;
    sent.iter().map(|s| s.as_ref().and_then(|s| receive(s, deadline))).collect()
}

fn send(gateway: &Gateway) -> io::Result<Option<Sent>> {
    let Some(target) = search_target(gateway) else { return Ok(None) };
    let to = match gateway.location.socket_addr() {
        SocketAddr::V4(a) => SocketAddr::new(IpAddr::V4(*a.ip()), SSDP_PORT),
        SocketAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(*a.ip(), SSDP_PORT, 0, a.scope_id())),
    };
    let from = match (gateway.local_addr, to) {
        (IpAddr::V6(ip), SocketAddr::V6(a)) if crate::addr::is_ipv6_link_local(&ip) => SocketAddr::V6(SocketAddrV6::new(ip, 0, 0, a.scope_id())),
        (ip, _) => SocketAddr::new(ip, 0),
    };
    let socket = UdpSocket::bind(from)?;
    // The unicast form (UDA 1.1): HOST is the device's address, no MX, answered at once.
    let host = match to {
        SocketAddr::V4(a) => format!("{}:{SSDP_PORT}", a.ip()),
        SocketAddr::V6(a) => format!("[{}]:{SSDP_PORT}", a.ip()),
    };
    socket.send_to(&build_msearch(&host, &target, None), to)?;
    log::trace!("probe: M-SEARCH ST {target} sent to {to}");
    Ok(Some(Sent { socket, to, target }))
}

/// The first valid answer from the probed address for the probed target, read until `deadline`
/// (at most [`SSDP_PROBE_READS_MAX`] datagrams; each capped at [`SSDP_DATAGRAM_MAX`]).
fn receive(sent: &Sent, deadline: Instant) -> Option<DeviceAnswer> {
    // One byte more than the cap, to tell an oversized datagram from one that fits.
    let mut buf = [0u8; SSDP_DATAGRAM_MAX + 1];
    for _ in 0..SSDP_PROBE_READS_MAX {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() || sent.socket.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        let (len, from) = match sent.socket.recv_from(&mut buf) {
            Ok(r) => r,
            // Windows reports an ICMP port unreachable of an earlier send on the next receive.
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused) => continue,
            Err(_) => break, // timed out (WouldBlock or TimedOut, by platform)
        };
        if from.ip() != sent.to.ip() {
            log::debug!("probe: ignoring a datagram from {from}: the search went to {}", sent.to);
            continue;
        }
        let answer = match parse_response(&buf[..len]) {
            Ok(a) => a,
            Err(e) => {
                log::debug!("probe: ignoring an answer from {from}: {e}");
                continue;
            }
        };
        if !answer.search_target.eq_ignore_ascii_case(&sent.target) {
            log::debug!("probe: ignoring an answer from {from} for ST {}", answer.search_target);
            continue;
        }
        match HttpUrl::parse(&answer.location) {
            Ok(location) => return Some(DeviceAnswer { boot_id: answer.boot_id, location }),
            Err(e) => log::debug!("probe: ignoring an answer from {from}: LOCATION '{}' refused: {e}", answer.location),
        }
    }
    log::trace!("probe: no answer from {} within {SSDP_PROBE_WAIT:?}", sent.to);
    None
}
