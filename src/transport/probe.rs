//! The unicast search between renewals: one M-SEARCH to each gateway leases are held on, for
//! that device alone, and its answer's BOOTID.UPNP.ORG and LOCATION. A router powered on again
//! announces nothing for ~15 minutes (miniupnpd's first ssdp:alive waits until its clock passes
//! notify_interval), but it answers a search at once: this is how its reboot is seen in seconds.

use crate::cancel::Budget;
use crate::gateway::Gateway;
use crate::limits::{SSDP_DATAGRAM_MAX, SSDP_PROBE_READS_MAX, SSDP_PROBE_WAIT};
use crate::parse::ssdp::{build_msearch, parse_response};
use crate::parse::url::HttpUrl;
use crate::platform;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, UdpSocket};

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
pub fn probe(gateways: &[Gateway], budget: &Budget) -> Vec<Option<DeviceAnswer>> {
    probe_on_port(gateways, SSDP_PORT, budget)
}

fn probe_on_port(gateways: &[Gateway], port: u16, budget: &Budget) -> Vec<Option<DeviceAnswer>> {
    let sent: Vec<Option<Sent>> =
        gateways.iter().map(|gw| send(gw, port).map_err(|e| log::debug!("probe of {}: not sent ({e})", gw.location)).ok().flatten()).collect();
    // Waited in slices, so a client that closes (its keeper's budget cancelled) is not held up
    // by a probe's wait: the wait otherwise added ~50 ms (miniupnpd's answer delay) to a close.
    let budget = budget.capped(SSDP_PROBE_WAIT);
    sent.iter().map(|s| s.as_ref().and_then(|s| receive(s, &budget))).collect()
}

fn send(gateway: &Gateway, port: u16) -> io::Result<Option<Sent>> {
    let Some(target) = search_target(gateway) else { return Ok(None) };
    let to = match gateway.location.socket_addr() {
        SocketAddr::V4(a) => SocketAddr::new(IpAddr::V4(*a.ip()), port),
        SocketAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(*a.ip(), port, 0, a.scope_id())),
    };
    let from = match (gateway.local_addr, to) {
        (IpAddr::V6(ip), SocketAddr::V6(a)) if crate::addr::is_ipv6_link_local(&ip) => SocketAddr::V6(SocketAddrV6::new(ip, 0, 0, a.scope_id())),
        (ip, _) => SocketAddr::new(ip, 0),
    };
    let socket = UdpSocket::bind(from)?;
    // Connected: the OS drops datagrams from anyone else, and a closed port 1900 (the router's
    // daemon not running) is reported at once instead of waited out.
    socket.connect(to)?;
    // The unicast form (UDA 1.1): HOST is the device's address, no MX, answered at once.
    let host = match to {
        SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
        SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
    };
    socket.send(&build_msearch(&host, &target, None))?;
    log::trace!("probe: M-SEARCH ST {target} sent to {to}");
    Ok(Some(Sent { socket, to, target }))
}

/// The first valid answer from the probed address for the probed target, read until `deadline`
/// (at most [`SSDP_PROBE_READS_MAX`] datagrams; each capped at [`SSDP_DATAGRAM_MAX`]).
fn receive(sent: &Sent, budget: &Budget) -> Option<DeviceAnswer> {
    // One byte more than the cap, to tell an oversized datagram from one that fits.
    let mut buf = [0u8; SSDP_DATAGRAM_MAX + 1];
    let mut reads = 0;
    while reads < SSDP_PROBE_READS_MAX {
        // A slice of what is left (at most one cancel poll): over, or cancelled, ends the wait.
        let Ok(wait) = budget.slice("probe") else { break };
        if sent.socket.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        let datagram = match platform::recv_datagram(&sent.socket, &mut buf) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if platform::is_udp_reset(&e) => {
                log::trace!("probe: nothing listens on {} ({e})", sent.to);
                return None;
            }
            Err(_) => continue, // this slice timed out (WouldBlock or TimedOut, by platform)
        };
        reads += 1;
        let from = datagram.from;
        if datagram.truncated {
            log::debug!("probe: ignoring a datagram from {from}: larger than {SSDP_DATAGRAM_MAX} bytes");
            continue;
        }
        if from.ip() != sent.to.ip() {
            log::debug!("probe: ignoring a datagram from {from}: the search went to {}", sent.to);
            continue;
        }
        let answer = match parse_response(&buf[..datagram.len]) {
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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, UdpSocket};
    use std::time::{Duration, Instant};

    use super::{probe_on_port, DeviceAnswer};
    use crate::cancel::{Budget, CancelToken};
    use crate::gateway::{Gateway, Service, ServiceKind};
    use crate::limits::SSDP_PROBE_WAIT;
    use crate::parse::url::HttpUrl;
    use crate::types::Family;

    const UDN: &str = "uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b";

    /// A gateway on loopback whose description is at `location`.
    fn gateway(location: &str) -> Gateway {
        let control_url = HttpUrl::parse(location).unwrap();
        let service = Service { kind: ServiceKind::WanIpConnection2, service_type: String::new(), control_url, wan_connection_device: None };
        let mut gw = Gateway::for_control(Family::V4, service, Ipv4Addr::LOCALHOST.into());
        gw.usn = UDN.into();
        gw
    }

    fn answer(st: &str, boot: u32, location: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {st}\r\nUSN: {st}\r\nEXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: {location}\r\nBOOTID.UPNP.ORG: {boot}\r\n\r\n").into_bytes()
    }

    /// A router on loopback: reads one search, sends `replies` back to the searcher (each from
    /// its own socket, or from another one given), and keeps its port open a while (so that no
    /// search is refused). Returns its port, and the search.
    fn router(replies: Vec<(Option<UdpSocket>, Vec<u8>)>) -> (u16, std::thread::JoinHandle<String>) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 2048];
            let (n, searcher) = socket.recv_from(&mut buf).unwrap();
            for (other, reply) in replies {
                other.as_ref().unwrap_or(&socket).send_to(&reply, searcher).unwrap();
            }
            std::thread::sleep(SSDP_PROBE_WAIT * 2);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, handle)
    }

    #[test]
    fn a_probe_is_one_unicast_search_for_the_gateways_udn_and_reads_its_boot_id_and_location() {
        let (port, router) = router(vec![(None, answer(UDN, 7, "http://127.0.0.1:41000/rootDesc.xml"))]);
        let got = probe_on_port(&[gateway("http://127.0.0.1:5000/rootDesc.xml")], port, &budget());
        let want = DeviceAnswer { boot_id: Some(7), location: HttpUrl::parse("http://127.0.0.1:41000/rootDesc.xml").unwrap() };
        assert_eq!(got, vec![Some(want)]);
        let search = router.join().unwrap();
        assert!(search.starts_with("M-SEARCH * HTTP/1.1\r\n"), "{search}");
        assert!(search.contains(&format!("HOST: 127.0.0.1:{port}\r\n")) && search.contains(&format!("ST: {UDN}\r\n")), "{search}");
        assert!(!search.contains("MX:"), "a unicast search has no MX: {search}");
    }

    #[test]
    fn answers_from_another_address_for_another_target_or_oversized_are_ignored() {
        let mut replies = vec![
            (None, answer("upnp:rootdevice", 2, "http://127.0.0.1:2/other")),
            (None, vec![b'x'; 4000]),
            (None, answer(UDN, 3, "http://127.0.0.1:5000/rootDesc.xml")),
        ];
        // First, another host (127.0.0.2) answering for our UDN with another boot id. (Where
        // loopback has only 127.0.0.1, as on macOS, that case is not exercised.)
        if let Ok(intruder) = UdpSocket::bind("127.0.0.2:0") {
            replies.insert(0, (Some(intruder), answer(UDN, 1, "http://127.0.0.2:1/evil")));
        }
        let (port, router) = router(replies);
        let got = probe_on_port(&[gateway("http://127.0.0.1:5000/rootDesc.xml")], port, &budget());
        assert_eq!(got[0].as_ref().map(|a| a.boot_id), Some(Some(3)), "{got:?}");
        router.join().unwrap();
    }

    #[test]
    fn silent_gateways_cost_one_probe_wait_together_and_answer_nothing() {
        let (port, router) = router(Vec::new());
        let started = Instant::now();
        let got = probe_on_port(&[gateway("http://127.0.0.1:5000/rootDesc.xml"), gateway("http://127.0.0.1:5001/rootDesc.xml")], port, &budget());
        let took = started.elapsed();
        assert_eq!(got, vec![None, None]);
        assert!(took >= SSDP_PROBE_WAIT && took < SSDP_PROBE_WAIT * 2, "waited for together, not one after the other: {took:?}");
        router.join().unwrap();
    }

    #[cfg(target_os = "linux")] // (Wine, for one, never reports the ICMP error)
    #[test]
    fn a_gateway_whose_search_port_is_closed_is_given_up_at_once() {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed again
        let started = Instant::now();
        assert_eq!(probe_on_port(&[gateway("http://127.0.0.1:5000/rootDesc.xml")], port, &budget()), vec![None]);
        assert!(started.elapsed() < SSDP_PROBE_WAIT / 2, "{:?}", started.elapsed());
    }

    #[test]
    fn a_gateway_known_by_neither_udn_nor_device_type_is_not_probed() {
        let mut gw = gateway("http://127.0.0.1:5000/rootDesc.xml");
        gw.usn.clear();
        let started = Instant::now();
        assert_eq!(probe_on_port(&[gw], 9, &budget()), vec![None]);
        assert!(started.elapsed() < SSDP_PROBE_WAIT, "nothing sent, nothing waited for");
    }

    fn budget() -> Budget {
        Budget::new(Duration::from_secs(5), &CancelToken::new())
    }

    #[test]
    fn a_cancelled_budget_ends_the_wait_at_once() {
        // What a closing client does to its keeper's look: the probe must not hold it up.
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = silent.local_addr().unwrap().port();
        let cancel = CancelToken::new();
        cancel.cancel();
        let started = Instant::now();
        let got = probe_on_port(&[gateway("http://127.0.0.1:5000/rootDesc.xml")], port, &Budget::new(Duration::from_secs(5), &cancel));
        assert_eq!(got, vec![None]);
        assert!(started.elapsed() < SSDP_PROBE_WAIT / 2, "waited {:?}", started.elapsed());
    }
}
