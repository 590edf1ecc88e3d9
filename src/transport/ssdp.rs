//! SSDP search: send M-SEARCH by multicast on every usable interface (and by unicast to named
//! addresses, e.g. the default gateway), collect answers until a usable gateway has answered
//! plus a grace window, or until the deadline. Answers are validated and deduplicated here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::cancel::Budget;
use crate::error::Error;
use crate::limits::{SSDP_DATAGRAM_MAX, SSDP_MAX_RESPONSES, SSDP_MX, SSDP_SECOND_ROUND, SSDP_TTL};
use crate::parse::ssdp::{build_msearch, parse_response, target_rank, SsdpResponse, SEARCH_TARGETS};
use crate::parse::url::HttpUrl;
use crate::platform::{self, NetInterface};
use crate::types::Family;

const V4_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
const V6_LINK_GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xc);
const V6_SITE_GROUP: Ipv6Addr = Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 0, 0xc);
const SSDP_PORT: u16 = 1900;
/// Round one searches for the first this many of SEARCH_TARGETS (InternetGatewayDevice:2).
const FIRST_ROUND_TARGETS: usize = 1;
/// `target_rank` of an IGD:2 answer, the best there is.
const TOP_RANK: u8 = 2;

/// What to search and how long to listen.
#[derive(Clone, Debug)]
pub struct SearchSpec {
    pub family: Family,
    /// Send multicast M-SEARCH on every usable interface of the family.
    pub multicast: bool,
    /// Also send unicast M-SEARCH to these addresses (UDA 1.1 unicast search: no MX).
    pub unicast: Vec<SocketAddr>,
    /// Unicast targets searched only in round two (the default gateway when multicast is on:
    /// a fallback for networks that drop multicast, not a duplicate burst at a busy router).
    pub late_unicast: Vec<SocketAddr>,
    /// Only these interfaces (by name); empty means all.
    pub interfaces: Vec<String>,
    /// After the first gateway answer, listen this much longer for a better one.
    pub grace: Duration,
    /// Diagnostics: listen until the deadline and keep every answer.
    pub collect_all: bool,
    /// Addresses of the device wanted (the default gateway, or the router the caller named): an
    /// answer whose responder or LOCATION host is one of them ends the search at once and is
    /// ranked first. Empty: no preference (the first IGD:2 answer ends the search).
    pub prefer: Vec<IpAddr>,
    /// Only answers of `prefer` are kept (the caller named the router to use).
    pub only_preferred: bool,
    /// After an answer from another device, how long to wait for the preferred one.
    pub preferred_wait: Duration,
}

/// One validated answer.
#[derive(Clone, Debug)]
pub struct Hit {
    pub response: SsdpResponse,
    /// LOCATION, validated, re-pointed to the responder and scoped to the arrival interface.
    pub location: HttpUrl,
    pub from: SocketAddr,
    /// Interface index the answer came in on (0 when unknown).
    #[allow(dead_code)] // kept for diagnostics; nothing reads it since the module is private
    pub if_index: u32,
    pub elapsed: Duration,
    /// The responder or its LOCATION host is one of `SearchSpec::prefer`.
    pub preferred: bool,
}

struct Listener {
    socket: Socket,
    /// Interface index and its prefixes, to check the responder is on that link.
    iface: Option<NetInterface>,
    explicit_peer: Option<SocketAddr>,
    /// Searched in round two only.
    late: bool,
}

/// Run one search. Returns the answers kept (best gateways first), possibly none.
///
/// Round one sends a single M-SEARCH per interface: InternetGatewayDevice:2 (link scope only
/// over IPv6). Every extra search costs the router time, and miniupnpd stalls its HTTP server
/// for ~50 ms per search it answers: one search answers in ~55 ms, six in ~140 ms, and SOAP
/// calls made meanwhile wait. If no gateway has answered after [`SSDP_SECOND_ROUND`], round
/// two repeats the search with every target (IGD:1 routers, services, ff05::c, the default
/// gateway by unicast) — UDP may also have lost the first.
pub fn search(spec: &SearchSpec, budget: &Budget) -> Result<Vec<Hit>, Error> {
    let started = Instant::now();
    let listeners = open_listeners(spec)?;
    if listeners.is_empty() {
        return Err(Error::NoGateway(format!("{}: no usable network interface to search on", spec.family)));
    }
    send_round(spec, &listeners, &SEARCH_TARGETS[..FIRST_ROUND_TARGETS], 1);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Hit>();
    for listener in &listeners {
        let (listener, spec, budget, stop, tx) = (listener.clone(), spec.clone(), budget.clone(), stop.clone(), tx.clone());
        // Detached: a receiver notices `stop` within one CANCEL_POLL slice and ends on its own,
        // so the search returns the moment it has its answer instead of joining.
        std::thread::Builder::new()
            .name("portopen-ssdp".into())
            .spawn(move || receive_loop(&listener, &spec, &budget, &stop, started, tx))
            .map_err(|e| Error::io("starting SSDP receiver", &e))?;
    }
    drop(tx);
    let mut hits: Vec<Hit> = Vec::new();
    let mut grace_end: Option<Instant> = None;
    let mut second_round_at = Some(started + SSDP_SECOND_ROUND);
    loop {
        let now = Instant::now();
        if second_round_at.is_some_and(|at| now >= at) {
            second_round_at = None;
            // Also when only another device has answered: the preferred one may have lost the
            // first search, and round two reaches the default gateway by unicast too.
            if grace_end.is_none() || !spec.prefer.is_empty() && !hits.iter().any(|h| h.preferred) {
                log::debug!("SSDP {}: no gateway after {:?}; searching again for every target", spec.family, SSDP_SECOND_ROUND);
                send_round(spec, &listeners, &SEARCH_TARGETS, 2);
            }
        }
        let mut until = budget.deadline();
        if let Some(g) = grace_end {
            until = until.min(g);
        }
        if let Some(at) = second_round_at {
            until = until.min(at);
        }
        if grace_end.is_some_and(|g| now >= g) || now >= budget.deadline() || budget.cancel_token().is_cancelled() {
            break;
        }
        match rx.recv_timeout(until.saturating_duration_since(now).min(crate::limits::CANCEL_POLL)) {
            Ok(hit) => {
                if hits.iter().any(|h| h.response.usn == hit.response.usn && h.location == hit.location) {
                    continue;
                }
                if spec.only_preferred && !hit.preferred {
                    log::debug!("SSDP {}: ignoring answer from {} (LOCATION {}): not the router named", spec.family, hit.from, hit.location);
                    continue;
                }
                if hits.len() >= SSDP_MAX_RESPONSES {
                    log::debug!("SSDP: keeping no more than {SSDP_MAX_RESPONSES} answers; dropping one from {}", hit.from);
                    continue;
                }
                log::debug!(
                    "SSDP {}: answer from {} after {:.1} ms: ST {} LOCATION {} SERVER {:?}",
                    spec.family,
                    hit.from,
                    hit.elapsed.as_secs_f64() * 1000.0,
                    hit.response.search_target,
                    hit.location,
                    hit.response.server
                );
                let rank = target_rank(&hit.response.search_target);
                if !spec.collect_all && rank > 0 {
                    // The preferred device's IGD:2 answer cannot be bettered: stop now. Its
                    // IGD:1 answer opens the grace window in which its IGD:2 answer may still
                    // come. Another device's answer opens the wait for the preferred one.
                    let end = if !spec.prefer.is_empty() && !hit.preferred {
                        Instant::now() + spec.preferred_wait.max(spec.grace)
                    } else if rank >= TOP_RANK {
                        Instant::now()
                    } else {
                        Instant::now() + spec.grace
                    };
                    grace_end = Some(grace_end.map_or(end, |g| g.min(end)));
                }
                hits.push(hit);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    if budget.cancel_token().is_cancelled() {
        return Err(Error::Cancelled);
    }
    // Best first: the preferred device, then IGD:2 answers over IGD:1, then by LOCATION
    // address (not arrival order: the same devices give the same choice in every run).
    hits.sort_by(|a, b| {
        (b.preferred, target_rank(&b.response.search_target))
            .cmp(&(a.preferred, target_rank(&a.response.search_target)))
            .then_with(|| a.location.ip.cmp(&b.location.ip))
    });
    log::debug!("SSDP {}: {} answer(s) in {:.1} ms", spec.family, hits.len(), started.elapsed().as_secs_f64() * 1000.0);
    Ok(hits)
}

/// Send one M-SEARCH per target on every listener (multicast group or unicast peer).
fn send_round(spec: &SearchSpec, listeners: &[Arc<Listener>], targets: &[&str], round: u8) {
    for listener in listeners.iter().filter(|l| round > 1 || !l.late) {
        let dests: Vec<(SocketAddr, String, Option<u8>)> = match (listener.explicit_peer, &listener.iface) {
            (Some(peer), _) => {
                let host = match peer {
                    SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
                    SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
                };
                vec![(peer, host, None)]
            }
            (None, Some(ifc)) => match spec.family {
                Family::V4 => vec![(SocketAddr::V4(SocketAddrV4::new(V4_GROUP, SSDP_PORT)), "239.255.255.250:1900".into(), Some(SSDP_MX))],
                Family::V6 => {
                    let mut d = vec![(SocketAddr::V6(SocketAddrV6::new(V6_LINK_GROUP, SSDP_PORT, 0, ifc.index)), "[FF02::C]:1900".into(), Some(SSDP_MX))];
                    // Site-local scope only in round two: the router is on the link.
                    if round > 1 {
                        d.push((SocketAddr::V6(SocketAddrV6::new(V6_SITE_GROUP, SSDP_PORT, 0, ifc.index)), "[FF05::C]:1900".into(), Some(SSDP_MX)));
                    }
                    d
                }
            },
            (None, None) => Vec::new(),
        };
        for (dest, host, mx) in &dests {
            for st in targets {
                if let Err(e) = listener.socket.send_to(&build_msearch(host, st, *mx), &(*dest).into()) {
                    log::debug!("SSDP {}: M-SEARCH to {dest} failed: {e}", spec.family);
                    break;
                }
            }
            log::debug!(
                "SSDP {}: M-SEARCH ({} target(s)) sent to {dest}{}",
                spec.family,
                targets.len(),
                listener.iface.as_ref().map(|i| format!(" on {}", i.name)).unwrap_or_default()
            );
        }
    }
}

fn open_listeners(spec: &SearchSpec) -> Result<Vec<Arc<Listener>>, Error> {
    let mut listeners = Vec::new();
    if spec.multicast {
        let interfaces = platform::interfaces().map_err(|e| Error::io("listing network interfaces", &e))?;
        for ifc in interfaces {
            if !spec.interfaces.is_empty() && !spec.interfaces.iter().any(|n| n == &ifc.name) {
                continue;
            }
            let socket = match spec.family {
                Family::V4 => {
                    let Some(&(ip, _)) = ifc.v4.first() else { continue };
                    multicast_v4_socket(ip)
                }
                Family::V6 => {
                    if ifc.v6.is_empty() || ifc.index == 0 {
                        continue;
                    }
                    multicast_v6_socket(ifc.index)
                }
            };
            match socket {
                Ok(socket) => listeners.push(Arc::new(Listener { socket, iface: Some(ifc), explicit_peer: None, late: false })),
                Err(e) => log::debug!("SSDP {}: cannot search on {}: {e}", spec.family, ifc.name),
            }
        }
    }
    let peers = spec.unicast.iter().map(|p| (*p, false)).chain(spec.late_unicast.iter().map(|p| (*p, true)));
    for (peer, late) in peers {
        let family_ok = matches!((spec.family, peer), (Family::V4, SocketAddr::V4(_)) | (Family::V6, SocketAddr::V6(_)));
        if !family_ok {
            continue;
        }
        match unicast_socket(peer) {
            Ok(socket) => listeners.push(Arc::new(Listener { socket, iface: None, explicit_peer: Some(peer), late })),
            Err(e) => log::debug!("SSDP: cannot search {peer} by unicast: {e}"),
        }
    }
    Ok(listeners)
}

fn multicast_v4_socket(ip: Ipv4Addr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(socket2::Protocol::UDP))?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(ip, 0)).into())?;
    socket.set_multicast_if_v4(&ip)?;
    socket.set_multicast_ttl_v4(SSDP_TTL)?;
    platform::ignore_udp_resets(&socket);
    Ok(socket)
}

fn multicast_v6_socket(index: u32) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(socket2::Protocol::UDP))?;
    socket.set_only_v6(true)?;
    socket.bind(&SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)).into())?;
    socket.set_multicast_if_v6(index)?;
    socket.set_multicast_hops_v6(SSDP_TTL)?;
    platform::ignore_udp_resets(&socket);
    Ok(socket)
}

fn unicast_socket(peer: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(peer), Type::DGRAM, Some(socket2::Protocol::UDP))?;
    let any: SocketAddr = match peer {
        SocketAddr::V4(_) => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)),
    };
    socket.bind(&any.into())?;
    platform::ignore_udp_resets(&socket);
    Ok(socket)
}

/// Read answers until `stop`, the deadline or a cancel. A bad datagram never ends the loop: one
/// larger than the cap is dropped whole (Windows fails such a read with WSAEMSGSIZE), an ICMP
/// error reported on the socket is skipped (a port unreachable from an earlier send), and any
/// other read error is retried after a short pause, so one stray packet cannot silence a socket.
fn receive_loop(listener: &Listener, spec: &SearchSpec, budget: &Budget, stop: &AtomicBool, started: Instant, tx: mpsc::Sender<Hit>) {
    let socket: std::net::UdpSocket = match listener.socket.try_clone() {
        Ok(s) => s.into(),
        Err(e) => {
            log::debug!("SSDP: cannot use socket: {e}");
            return;
        }
    };
    // One byte more than the cap, to tell an oversized datagram from one that fits.
    let mut buf = [0u8; SSDP_DATAGRAM_MAX + 1];
    while !stop.load(Ordering::SeqCst) {
        let Ok(wait) = budget.slice("SSDP") else { return };
        if socket.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        let datagram = match platform::recv_datagram(&socket, &mut buf) {
            Ok(d) => d,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => continue,
            Err(e) if platform::is_udp_reset(&e) => {
                log::debug!("SSDP: skipping an ICMP error reported on the socket ({e}); still listening");
                continue;
            }
            Err(e) => {
                log::debug!("SSDP: receive failed ({e}); trying again");
                std::thread::sleep(wait.min(crate::limits::CANCEL_POLL));
                continue;
            }
        };
        if datagram.truncated {
            log::debug!("SSDP: ignoring datagram from {}: larger than {SSDP_DATAGRAM_MAX} bytes", datagram.from);
            continue;
        }
        if let Some(hit) = validate(listener, spec, &buf[..datagram.len], datagram.from, started) {
            if tx.send(hit).is_err() {
                return;
            }
        }
    }
}

/// Check one datagram: parse it, check the responder is where we searched, and pin LOCATION
/// to the responder. Returns None (with a logged reason) for anything unusable.
fn validate(listener: &Listener, spec: &SearchSpec, datagram: &[u8], from: SocketAddr, started: Instant) -> Option<Hit> {
    let response = match parse_response(datagram) {
        Ok(r) => r,
        Err(e) => {
            log::debug!("SSDP: ignoring datagram from {from}: {e}");
            return None;
        }
    };
    if let Some(peer) = listener.explicit_peer {
        if peer.ip() != from.ip() {
            log::debug!("SSDP: ignoring answer from {from}: unicast search went to {peer}");
            return None;
        }
    } else if let Some(ifc) = &listener.iface {
        if !on_link(ifc, from.ip()) {
            log::debug!("SSDP: ignoring answer from {from}: not on the link of {}", ifc.name);
            return None;
        }
    }
    let mut location = match HttpUrl::parse(&response.location) {
        Ok(u) => u,
        Err(e) => {
            log::debug!("SSDP: ignoring answer from {from}: LOCATION '{}' refused: {e}", response.location);
            return None;
        }
    };
    // LOCATION may name another address of the responder (miniupnpd answers from its
    // link-local IPv6 address with its global one in LOCATION): accepted when that address is
    // on the link the answer came in on. Anything else is re-pointed to the responder, so an
    // answer can never send our HTTP requests off the LAN.
    let location_on_link = listener.iface.as_ref().is_some_and(|ifc| on_link(ifc, location.ip));
    if location.ip != from.ip() && !location_on_link {
        log::info!("SSDP: {from} announced LOCATION on {}, off this link; using the responder's address instead", location.ip);
        location.ip = from.ip();
    }
    let if_index = match (from, &listener.iface) {
        (SocketAddr::V6(a), _) if a.scope_id() != 0 => a.scope_id(),
        (_, Some(ifc)) => ifc.index,
        _ => 0,
    };
    location.scope_id = match location.ip {
        IpAddr::V6(v6) if crate::addr::is_ipv6_link_local(&v6) => if_index,
        _ => 0,
    };
    let preferred = spec.prefer.iter().any(|&ip| ip == from.ip() || ip == location.ip);
    Some(Hit { response, location, from, if_index, elapsed: started.elapsed(), preferred })
}

fn on_link(ifc: &NetInterface, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => ifc.v4.iter().any(|&(net, len)| same_prefix(&net.octets(), &v4.octets(), len)),
        IpAddr::V6(v6) => crate::addr::is_ipv6_link_local(&v6) || ifc.v6.iter().any(|a| same_prefix(&a.ip.octets(), &v6.octets(), a.prefix_len)),
    }
}

fn same_prefix(a: &[u8], b: &[u8], len: u8) -> bool {
    let len = len as usize;
    let full = len / 8;
    if a[..full.min(a.len())] != b[..full.min(b.len())] {
        return false;
    }
    let rem = len % 8;
    if rem == 0 || full >= a.len() {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    a[full] & mask == b[full] & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelToken;

    /// Linux reports an ICMP port unreachable as ECONNREFUSED on the next read of a *connected*
    /// UDP socket: the error path Windows takes (WSAECONNRESET) on any socket. The answer that
    /// arrives after it must still be read.
    #[test]
    fn an_icmp_error_read_from_the_socket_does_not_end_the_receive_loop() {
        let closed = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let router = closed.local_addr().unwrap();
        drop(closed);
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(socket2::Protocol::UDP)).unwrap();
        socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).unwrap();
        socket.connect(&router.into()).unwrap();
        socket.send(b"M-SEARCH * HTTP/1.1\r\n\r\n").unwrap(); // draws the port unreachable
        let searcher = socket.local_addr().unwrap().as_socket().unwrap();
        std::thread::sleep(Duration::from_millis(20)); // the ICMP error is queued on the socket

        let responder = std::net::UdpSocket::bind(router).unwrap();
        let answer =
            "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nUSN: uuid:r\r\nLOCATION: http://127.0.0.1:5000/rootDesc.xml\r\n\r\n";
        responder.send_to(answer.as_bytes(), searcher).unwrap();

        let listener = Listener { socket, iface: None, explicit_peer: Some(router), late: false };
        let spec = SearchSpec {
            family: Family::V4,
            multicast: false,
            unicast: vec![router],
            late_unicast: Vec::new(),
            interfaces: Vec::new(),
            grace: Duration::ZERO,
            collect_all: false,
            prefer: Vec::new(),
            only_preferred: false,
            preferred_wait: Duration::ZERO,
        };
        let budget = Budget::new(Duration::from_secs(2), &CancelToken::new());
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| receive_loop(&listener, &spec, &budget, &stop, Instant::now(), tx));
            let hit = rx.recv_timeout(Duration::from_secs(2));
            stop.store(true, Ordering::SeqCst);
            let hit = hit.expect("the answer after the ICMP error is read");
            assert_eq!(hit.location.to_string(), "http://127.0.0.1:5000/rootDesc.xml");
        });
    }

    #[test]
    fn prefix_match() {
        assert!(same_prefix(&[192, 168, 77, 1], &[192, 168, 77, 200], 24));
        assert!(!same_prefix(&[192, 168, 77, 1], &[192, 168, 78, 1], 24));
        assert!(same_prefix(&[10, 0, 0, 1], &[10, 0, 0, 1], 32));
        assert!(same_prefix(&[10, 128, 0, 1], &[10, 191, 0, 1], 10));
        assert!(!same_prefix(&[10, 128, 0, 1], &[10, 64, 0, 1], 10));
    }
}
