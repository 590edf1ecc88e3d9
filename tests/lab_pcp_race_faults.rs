//! PCP faults a real router will not make, at the level of `Client::open`'s race and its upkeep
//! (issue 17, item 6). `tests/faults_pcp.rs` drives the transport against a loopback fake; here
//! the fake (tests/fake_pcp) IS the default gateway's PCP server: it holds UDP 5351 on the lab
//! router's LAN addresses before miniupnpd starts, so miniupnpd runs UPnP alone (its NAT-PMP/PCP
//! bind fails) and the client races the fake against the real UPnP router, in the `lan`
//! namespace, exactly as it would at home. Each test asserts what the client reports and what
//! the fake saw. Needs root and the lab packages: run by scripts/test.sh
//! (`cargo test -- --include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod fake_pcp;
mod labkit;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_pcp::{announce, asked, map_answer, Asked, FakePcp, Reply, Responder, Source};
use labkit::{in_netns, Lab};
use portopen::{EventKind, OpenRequest, PortStatus, Protocol, Route, Routes};

const SUCCESS: u8 = 0;
const NOT_AUTHORIZED: u8 = 2;
/// The external port the fake grants for IPv4 (never the one asked: the test sees it was read).
const GRANTED: u16 = 50001;
/// The lifetime in the fake's faulty answers: a lease reporting it took a fault for an answer
/// (over IPv6 the port tells nothing: the client keeps its own).
const FAULT_LIFETIME: u32 = 777;

/// The fake PCP servers at the lab router's LAN addresses (v4, v6), and the lab with miniupnpd
/// started after them (UPnP only: 5351 is the fake's).
struct FakeGateway {
    v4: FakePcp,
    v6: FakePcp,
    // Dropped last: the lab outlives its fakes.
    lab: Lab,
}

fn fake_gateway(clock: Clock, v4: Responder, v6: Responder) -> FakeGateway {
    let (v4, v6) = (pcp_only(clock, v4), pcp_only(clock, v6));
    let lab = Lab::up("no-router");
    let (a4, a6): (SocketAddr, SocketAddr) =
        ((lab.var("RTR_LAN_V4").parse::<IpAddr>().unwrap(), 5351).into(), (lab.var("RTR_LAN_V6").parse::<IpAddr>().unwrap(), 5351).into());
    let (v4, v6) = in_netns(lab.var("RTR_NS"), move || (FakePcp::at(a4, v4), FakePcp::at(a6, v6)));
    lab.lab_sh("start-router");
    assert!(lab.log().contains("bind(): Address already in use"), "miniupnpd must not serve PCP beside the fake:\n{}", lab.log());
    FakeGateway { v4, v6, lab }
}

/// A PCP server that does not speak NAT-PMP (RFC 6887 §9): a version-0 request is answered
/// "unsupported version" in NAT-PMP's format, an ANNOUNCE request with the server's epoch (the
/// client asks it at each look), a MAP request by `responder`; anything else is dropped.
fn pcp_only(clock: Clock, mut responder: Responder) -> Responder {
    Box::new(move |index, req| match req.first() {
        Some(0) if req.len() >= 2 => {
            let mut answer = vec![0, 128 + req[1], 0, 1, 0, 0, 0, 0];
            answer.resize(if req[1] == 0 { 12 } else { 16 }, 0);
            if req[1] != 0 && req.len() >= 6 {
                answer[8..10].copy_from_slice(&req[4..6]);
            }
            vec![Reply::now(answer)]
        }
        _ => match asked(req) {
            Some(a) if a.opcode == 0 => vec![Reply::now(announce(clock.epoch()))],
            Some(a) if a.opcode == 1 && a.nonce.is_some() => responder(index, req),
            _ => Vec::new(),
        },
    })
}

/// The fake server's epoch (shared by its answers to MAP and ANNOUNCE requests): counting
/// seconds from a start, as a server that keeps its state does; `restart` makes it a server
/// that lost its state (it counts again from a small number).
#[derive(Clone, Copy)]
struct Clock(&'static Mutex<(Instant, u32)>);
impl Clock {
    fn now() -> Clock {
        Clock(Box::leak(Box::new(Mutex::new((Instant::now(), 10_000)))))
    }
    fn epoch(&self) -> u32 {
        let (since, base) = *self.0.lock().unwrap();
        base + since.elapsed().as_secs() as u32
    }
    fn restart(&self, base: u32) {
        *self.0.lock().unwrap() = (Instant::now(), base);
    }
}

/// The external address a fake grants: the router's WAN address for IPv4, the client's own
/// for IPv6 (no translation).
fn external_of(request: &[u8]) -> IpAddr {
    match asked(request).expect("a PCP request").client {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1)),
        v6 => v6,
    }
}

/// A well-behaved answer: MAP granted for the lifetime asked (delete: lifetime 0), IPv4 on
/// `GRANTED`, IPv6 on the port asked.
fn grant(request: &[u8], clock: Clock) -> Vec<u8> {
    let a = asked(request).expect("a PCP request");
    let port = if a.client.is_ipv4() { GRANTED } else { a.internal_port.unwrap_or(0) };
    let port = if a.lifetime == 0 { 0 } else { port };
    map_answer(request, SUCCESS, a.lifetime, clock.epoch(), port, external_of(request))
}

fn well_behaved(clock: Clock) -> Responder {
    Box::new(move |_, req| vec![Reply::now(grant(req, clock))])
}

/// MAP requests that ask for a mapping (lifetime > 0) / delete one (lifetime 0).
fn maps(fake: &FakePcp) -> Vec<Asked> {
    fake.requests().iter().filter_map(|r| asked(r)).filter(|a| a.opcode == 1 && a.lifetime > 0).collect()
}
fn deletes(fake: &FakePcp) -> Vec<Asked> {
    fake.requests().iter().filter_map(|r| asked(r)).filter(|a| a.opcode == 1 && a.lifetime == 0).collect()
}

fn request(port: u16, v4: bool, v6: bool) -> OpenRequest {
    OpenRequest { v4, v6, lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) }
}

/// UPnP actions the real router was asked since `since` that made something.
fn upnp_adds(lab: &Lab, since: usize) -> usize {
    let asked = lab.router_requests(since);
    ["AddPortMapping", "AddAnyPortMapping", "AddPinhole"].iter().map(|a| asked.get(*a).copied().unwrap_or(0)).sum()
}

/// Open through the fake (it answers every request with `faults` first, then the right answer),
/// then close: the client reports the right answer's grant, the fake saw one MAP per family
/// (the faults caused no retransmit and no second mapping) and one delete with its nonce.
fn faults_are_ignored_and_the_right_answer_accepted(faults: fn(&[u8]) -> Vec<Reply>, port: u16) {
    let clock = Clock::now();
    let responder = move || -> Responder {
        Box::new(move |_, req| {
            let a = asked(req).expect("a PCP request");
            let mut replies = if a.lifetime > 0 { faults(req) } else { Vec::new() };
            replies.push(Reply::now(grant(req, clock)));
            replies
        })
    };
    let gw = fake_gateway(clock, responder(), responder());
    let lab = &gw.lab;
    let client = lab.lan_client(Routes::ALL, false);
    let before = lab.log().len();
    let lease = lab.open_in(&lab.lan_ns(), client, request(port, true, true));
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::Pcp)), "{info:?}");
    assert_eq!(info.v4.external, Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1)), GRANTED)), "the right answer's grant: {info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Pcp)), "{info:?}");
    assert_eq!(info.v6.external, Some(SocketAddr::new(lab.var("LAN_V6").parse().unwrap(), port)), "{info:?}");
    assert_eq!((info.v4.lease_secs, info.v6.lease_secs), (600, 600), "the right answer's lifetime, not a fault's: {info:?}");
    assert_eq!(upnp_adds(lab, before), 0, "PCP won: UPnP made nothing");
    lab.close_in(&lab.lan_ns(), lease);
    for (family, fake) in [("IPv4", &gw.v4), ("IPv6", &gw.v6)] {
        let (maps, deletes) = (maps(fake), deletes(fake));
        assert_eq!(maps.len(), 1, "{family}: one MAP, no retransmit: {maps:?}");
        assert_eq!(deletes.len(), 1, "{family}: one delete on close: {deletes:?}");
        assert_eq!(deletes[0].nonce, maps[0].nonce, "{family}: deleted with the mapping's nonce");
    }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn answers_with_a_wrong_nonce_or_opcode_are_ignored_and_the_right_one_accepted() {
    faults_are_ignored_and_the_right_answer_accepted(
        |req| {
            let mut other_nonce = map_answer(req, SUCCESS, FAULT_LIFETIME, 10_000, 50002, external_of(req));
            other_nonce[24] ^= 0xff;
            let mut peer_opcode = map_answer(req, SUCCESS, FAULT_LIFETIME, 10_000, 50003, external_of(req));
            peer_opcode[1] = 0x82; // a PEER answer
            let mut announce_opcode = map_answer(req, SUCCESS, FAULT_LIFETIME, 10_000, 50004, external_of(req));
            announce_opcode[1] = 0x80;
            let mut request_bit_off = map_answer(req, SUCCESS, FAULT_LIFETIME, 10_000, 50005, external_of(req));
            request_bit_off[1] = 0x01; // the R bit clear: a request, not an answer
            vec![Reply::now(other_nonce), Reply::now(peer_opcode), Reply::now(announce_opcode), Reply::now(request_bit_off)]
        },
        42100,
    );
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn truncated_and_oversized_answers_are_ignored_and_the_right_one_accepted() {
    faults_are_ignored_and_the_right_answer_accepted(
        |req| {
            let whole = map_answer(req, SUCCESS, FAULT_LIFETIME, 10_000, 50002, external_of(req));
            let mut oversized = map_answer(req, SUCCESS, FAULT_LIFETIME, 10_000, 50003, external_of(req));
            oversized.resize(1101, 0); // one byte past a PCP message's 1100
            vec![Reply::now(whole[..4].to_vec()), Reply::now(whole[..24].to_vec()), Reply::now(whole[..59].to_vec()), Reply::now(oversized)]
        },
        42110,
    );
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn answers_from_another_address_or_port_are_ignored() {
    // IPv4: grants from another router address and from another port, then the right one 5 ms
    // later: the right one is taken. IPv6: only grants from elsewhere: PCP never answered, so
    // UPnP (the real router) opens it, reachably.
    let gw = {
        let clock = Clock::now();
        fake_gateway(
            clock,
            Box::new(move |_, req| {
                let a = asked(req).expect("a PCP request");
                if a.lifetime == 0 {
                    return vec![Reply::now(grant(req, clock))];
                }
                vec![
                    Reply::from(Source::Address("192.168.77.2".parse().unwrap()), map_answer(req, SUCCESS, 600, clock.epoch(), 50002, external_of(req))),
                    Reply::from(Source::OtherPort, map_answer(req, SUCCESS, 600, clock.epoch(), 50003, external_of(req))),
                    Reply::after(Duration::from_millis(5), grant(req, clock)),
                ]
            }),
            Box::new(move |_, req| {
                vec![Reply::from(Source::Address("2001:db8:1::2".parse().unwrap()), grant(req, clock)), Reply::from(Source::OtherPort, grant(req, clock))]
            }),
        )
    };
    let lab = &gw.lab;
    lab.run_ok("rtr", &["ip", "addr", "add", "192.168.77.2/24", "dev", "br0"]);
    lab.run_ok("rtr", &["ip", "addr", "add", "2001:db8:1::2/64", "dev", "br0", "nodad"]);
    let port = 42120;
    let client = lab.lan_client(Routes::ALL, false);
    let lease = lab.open_in(&lab.lan_ns(), client, request(port, true, true));
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::Pcp)), "{info:?}");
    assert_eq!(info.v4.external.map(|a| a.port()), Some(GRANTED), "the server's own answer: {info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert!(lab.reach_v6("udp", port), "the UPnP pinhole");
    assert_eq!(maps(&gw.v6).len(), 1, "IPv6 asked PCP once (the next retransmit is 3 s away)");
    lab.close_in(&lab.lan_ns(), lease);
    assert!(deletes(&gw.v6).is_empty(), "nothing granted over PCP for IPv6: nothing to delete there");
    assert_eq!(deletes(&gw.v4).len(), 1);
    assert!(lab.rules_naming(port).is_empty(), "left: {:?}", lab.rules_naming(port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn an_epoch_going_backwards_on_a_refresh_re_maps_everything_on_that_server_at_once() {
    // Two leases on the fake: A granted 4 s (refreshed ~2 s later), B granted an hour. A's
    // refresh answers an epoch that went backwards (the server lost its state): B is re-made at
    // once, not half an hour later.
    let lost_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (port_a, port_b) = (42130, 42131);
    let gw = {
        let (clock, lost_at) = (Clock::now(), lost_at.clone());
        let mut maps_of_a = 0;
        fake_gateway(
            clock,
            Box::new(move |_, req| {
                let a = asked(req).expect("a PCP request");
                let ext = external_of(req);
                let port = a.internal_port.unwrap_or(0);
                if a.lifetime == 0 {
                    return vec![Reply::now(grant(req, clock))];
                }
                if port == port_a {
                    maps_of_a += 1;
                    if maps_of_a == 2 {
                        // The server restarted: every mapping lost, the epoch counts from 3.
                        clock.restart(3);
                        *lost_at.lock().unwrap() = Some(Instant::now());
                    }
                    return vec![Reply::now(map_answer(req, SUCCESS, 4, clock.epoch(), GRANTED, ext))];
                }
                vec![Reply::now(map_answer(req, SUCCESS, 3600, clock.epoch(), GRANTED + 1, ext))]
            }),
            well_behaved(clock),
        )
    };
    let lab = &gw.lab;
    let client = lab.lan_client(Routes::ALL, true);
    let lease_a = lab.open_in(&lab.lan_ns(), client, request(port_a, true, false));
    let lease_b = lab.open_in(&lab.lan_ns(), client, request(port_b, true, false));
    assert_eq!((lease_a.info().v4.route, lease_a.info().v4.lease_secs), (Some(Route::Pcp), 4), "{:?}", lease_a.info());
    assert_eq!((lease_b.info().v4.route, lease_b.info().v4.lease_secs), (Some(Route::Pcp), 3600), "{:?}", lease_b.info());
    let deadline = Instant::now() + Duration::from_secs(8);
    let b_maps = || maps(&gw.v4).into_iter().filter(|a| a.internal_port == Some(port_b)).count();
    while Instant::now() < deadline && b_maps() < 2 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let lost = lost_at.lock().unwrap().expect("A was refreshed (with the backward epoch) within 8 s");
    let remade = gw.v4.requests_timed().into_iter().filter(|(_, r)| asked(r).is_some_and(|a| a.internal_port == Some(port_b) && a.lifetime > 0)).nth(1);
    let (remade_at, remade) = remade.expect("B was re-made after the server lost its state");
    assert!(remade_at - lost < Duration::from_millis(500), "at once: {:?} after the backward epoch", remade_at - lost);
    assert_eq!(asked(&remade).unwrap().nonce, maps(&gw.v4).into_iter().find(|a| a.internal_port == Some(port_b)).unwrap().nonce, "same nonce");
    assert_eq!((lease_a.info().v4.status, lease_b.info().v4.status), (PortStatus::Open, PortStatus::Open));
    lab.close_in(&lab.lan_ns(), lease_a);
    lab.close_in(&lab.lan_ns(), lease_b);
    assert_eq!(deletes(&gw.v4).len(), 2, "both deleted on close");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_flood_of_announces_is_read_in_bounded_batches_and_re_maps_once() {
    // Before the fix, a look read at most 16 datagrams and took any ANNOUNCE from the server as
    // a restart, so while the flood was queued every look (every 5 s) re-mapped again and
    // reported the lease Lost again (seen: 3 re-maps in 16 s), though every ANNOUNCE named the
    // same epoch the re-map already got.
    let clock = Clock::now();
    let gw = fake_gateway(clock, well_behaved(clock), well_behaved(clock));
    let lab = &gw.lab;
    let port = 42140;
    let client = lab.lan_client(Routes::ALL, true);
    let lease = lab.open_in(&lab.lan_ns(), client, request(port, true, false));
    assert_eq!(lease.info().v4.route, Some(Route::Pcp), "{:?}", lease.info());
    // The keeper's first look (right after the open) opens the ANNOUNCE listener.
    std::thread::sleep(Duration::from_millis(500));
    while client.poll_event().is_some() {}
    let before = maps(&gw.v4).len();
    // The server restarts (its epoch counts from 3 again) and floods its ANNOUNCE: far more
    // datagrams than one look reads, all saying the same restart.
    clock.restart(3);
    let group: SocketAddr = "224.0.0.1:5350".parse().unwrap();
    for _ in 0..2000 {
        gw.v4.send(&announce(clock.epoch()), group);
    }
    let flooded = Instant::now();
    // Looks come every 5 s: the first after the flood re-maps; then one more look.
    std::thread::sleep(Duration::from_millis(11_000));
    let remaps = maps(&gw.v4).len() - before;
    let lost = std::iter::from_fn(|| client.poll_event()).filter(|e| e.kind == EventKind::Lost).count();
    let info = lease.info();
    lab.close_in(&lab.lan_ns(), lease);
    assert_eq!(info.v4.status, PortStatus::Open, "{info:?}");
    assert_eq!(remaps, 1, "one re-map for the flood, {:?} after it (the fake saw {} MAPs in all)", flooded.elapsed(), maps(&gw.v4).len());
    assert_eq!(lost, 1, "one Lost event for the one restart");
}

/// When the slow fake refuses: within the 3 s action budget, after a cold UPnP open (< 1.5 s).
const REFUSAL_AFTER: Duration = Duration::from_millis(2000);

/// The fake refuses after 2 s, as miniupnpd does for a denied port (it scans every port, ~2.3 s).
fn slow_refusal(clock: Clock) -> Responder {
    Box::new(move |_, req| {
        if asked(req).is_some_and(|a| a.lifetime == 0) {
            return vec![Reply::now(grant(req, clock))];
        }
        vec![Reply::after(REFUSAL_AFTER, map_answer(req, NOT_AUTHORIZED, 0, clock.epoch(), 0, IpAddr::V4(Ipv4Addr::UNSPECIFIED)))]
    })
}

/// Open `request` with a client of `routes`; its info and how long the open took.
fn timed_open(lab: &Lab, routes: Routes, request: OpenRequest) -> (portopen::LeaseInfo, Duration) {
    let client = lab.lan_client(routes, false);
    let started = Instant::now();
    let lease = lab.open_in(&lab.lan_ns(), client, request);
    (lease.info(), started.elapsed())
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_slow_not_authorized_is_waited_for_within_the_budget_and_never_delays_upnp() {
    let clock = Clock::now();
    let gw = fake_gateway(clock, slow_refusal(clock), slow_refusal(clock));
    let lab = &gw.lab;
    // PCP alone (IPv6; IPv4 with NAT-PMP not allowed): the refusal is the answer, taken within
    // the 3 s action budget, asked once (no duplicate for the server to scan again).
    let no_upnp = Routes { upnp: false, pcp: true, natpmp: true };
    let (info, took) = timed_open(lab, no_upnp, request(42150, false, true));
    assert_eq!(info.v6.status, PortStatus::NotAuthorized, "{info:?}");
    assert!(took >= REFUSAL_AFTER && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(maps(&gw.v6).len(), 1, "IPv6: one send");
    let (info, took) = timed_open(lab, Routes::only(Route::Pcp), request(42151, true, false));
    assert_eq!(info.v4.status, PortStatus::NotAuthorized, "{info:?}");
    assert!(took >= REFUSAL_AFTER && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(maps(&gw.v4).len(), 1, "IPv4: one send");
    // Every route: UPnP opens both at once; the late refusals change nothing.
    let client = lab.lan_client(Routes::ALL, false);
    let started = Instant::now();
    let lease = lab.open_in(&lab.lan_ns(), client, request(42152, true, true));
    let took = started.elapsed();
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert!(took < Duration::from_millis(1500), "UPnP did not wait for PCP's refusal: {took:?}");
    assert!(lab.reach_to("udp", lab.var("EXT_V4"), info.v4.external.unwrap().port(), "0.0.0.0", 42152));
    assert!(lab.reach_v6("udp", 42152));
    std::thread::sleep((started + REFUSAL_AFTER + Duration::from_millis(300)).saturating_duration_since(Instant::now()));
    assert_eq!((lease.info().v4.route, lease.info().v6.route), (Some(Route::Upnp), Some(Route::Upnp)), "still UPnP's after the refusals came");
    lab.close_in(&lab.lan_ns(), lease);
    assert!(lab.rules_naming(42152).is_empty(), "left: {:?}", lab.rules_naming(42152));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn over_ipv4_a_slow_pcp_not_authorized_is_not_lost_to_the_nat_pmp_fallback() {
    // With NAT-PMP allowed (the default), NAT-PMP is asked after 250 ms of PCP silence; this
    // PCP-only server answers it "unsupported version". Before the fix PCP's socket was closed
    // then, the refusal at 2 s (within the budget) never read, and the family reported failed
    // ("unsupported version"), not "not authorized".
    let clock = Clock::now();
    let gw = fake_gateway(clock, slow_refusal(clock), slow_refusal(clock));
    let lab = &gw.lab;
    let (info, took) = timed_open(lab, Routes { upnp: false, pcp: true, natpmp: true }, request(42155, true, false));
    assert_eq!(info.v4.status, PortStatus::NotAuthorized, "{info:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// The fake grants 2 s late (within the 3 s budget); the real router's UPnP opens the port long
/// before (a cold open: < 1.5 s).
fn late_grant(clock: Clock) -> Responder {
    Box::new(move |_, req| {
        let after = if asked(req).is_some_and(|a| a.lifetime == 0) { Duration::ZERO } else { Duration::from_millis(2000) };
        vec![Reply::after(after, grant(req, clock))]
    })
}

/// Open `port` (`v4`, `v6`) with `routes` against a fake that grants late: UPnP wins, and the
/// fake must see the late grant deleted with its nonce (no duplicate left), then nothing more
/// on close.
fn late_grant_is_deleted(routes: Routes, port: u16, v4: bool, v6: bool) {
    let clock = Clock::now();
    let gw = fake_gateway(clock, late_grant(clock), late_grant(clock));
    let lab = &gw.lab;
    let client = lab.lan_client(routes, false);
    let lease = lab.open_in(&lab.lan_ns(), client, request(port, v4, v6));
    let info = lease.info();
    let fakes: Vec<(&str, &FakePcp)> = [("IPv4", &gw.v4, v4), ("IPv6", &gw.v6, v6)].into_iter().filter(|f| f.2).map(|f| (f.0, f.1)).collect();
    for family in [&info.v4, &info.v6].into_iter().filter(|f| f.status != PortStatus::NotRequested) {
        assert_eq!((family.status, family.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline && fakes.iter().any(|(_, f)| deletes(f).is_empty()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for (family, fake) in &fakes {
        let (maps, deletes) = (maps(fake), deletes(fake));
        assert_eq!(maps.len(), 1, "{family}: {maps:?}");
        assert_eq!(deletes.len(), 1, "{family}: the late grant is deleted (no duplicate left): {deletes:?}");
        assert_eq!(deletes[0].nonce, maps[0].nonce, "{family}: with its nonce");
    }
    if v4 {
        assert!(lab.reach_to("udp", lab.var("EXT_V4"), info.v4.external.unwrap().port(), "0.0.0.0", port), "UPnP's mapping");
    }
    if v6 {
        assert!(lab.reach_v6("udp", port), "UPnP's pinhole");
    }
    lab.close_in(&lab.lan_ns(), lease);
    assert!(lab.rules_naming(port).is_empty(), "left: {:?}", lab.rules_naming(port));
    for (family, fake) in &fakes {
        assert_eq!(deletes(fake).len(), 1, "{family}: close asked the fake nothing more");
    }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_pcp_grant_arriving_after_upnp_won_is_deleted_again() {
    // IPv6, and IPv4 with NAT-PMP not allowed (see the next test for IPv4 with it).
    late_grant_is_deleted(Routes { upnp: true, pcp: true, natpmp: false }, 42160, true, true);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn with_nat_pmp_allowed_a_late_ipv4_pcp_grant_is_deleted_again() {
    // With NAT-PMP allowed (the default), NAT-PMP is asked after 250 ms of PCP silence. Before
    // the fix the PCP exchange stopped listening then: the grant at 2 s was never read, so
    // nothing deleted it, and a real server would keep it for its lifetime beside UPnP's.
    late_grant_is_deleted(Routes::ALL, 42165, true, false);
}
