//! PCP (RFC 6887) and NAT-PMP (RFC 6886) against the real router (miniupnpd 2.3.1 with
//! `enable_natpmp=yes`, which serves both on UDP 5351), with the transport and parser directly
//! (the lease engine does not use them yet): what each exchange makes on the router is proven with
//! packets from `wan` and its nftables rules. Needs root and the lab packages: run by
//! scripts/test.sh (`cargo test -- --include-ignored`). Every exchange runs in the `lan` namespace.
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use labkit::{in_netns, spawn_in_netns, Lab, Router};
use portopen::pcp::net::{self, AnnounceWatch, Answered, ExchangeError, Schedule};
use portopen::pcp::wire::{
    epoch_lost_state, Announcement, MapRequest, MapResponse, NatPmpMapRequest, NatPmpResult, PcpAnswer, PcpResult, Verdict, SERVER_PORT,
};
use portopen::{Budget, CancelToken, Family, Protocol};

const LAB: &str = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh";

fn budget() -> Budget {
    Budget::new(Duration::from_secs(3), &CancelToken::new())
}

fn lan_v4(lab: &Lab) -> Ipv4Addr {
    lab.var("LAN_V4").parse().unwrap()
}
fn lan_v6(lab: &Lab) -> Ipv6Addr {
    lab.var("LAN_V6").parse().unwrap()
}
fn ext_v4(lab: &Lab) -> Ipv4Addr {
    lab.var("EXT_V4").parse().unwrap()
}
fn server_v4(lab: &Lab) -> SocketAddr {
    SocketAddr::new(lab.var("RTR_LAN_V4").parse().unwrap(), SERVER_PORT)
}
fn server_v6(lab: &Lab) -> SocketAddr {
    SocketAddr::new(lab.var("RTR_LAN_V6").parse().unwrap(), SERVER_PORT)
}

fn map_request(client: IpAddr, protocol: Protocol, port: u16, lifetime: u32) -> MapRequest {
    MapRequest { nonce: net::new_nonce(), protocol, internal_port: port, suggested_external_port: port, suggested_external_address: None, lifetime, client }
}

/// One MAP exchange from the lan host; the answer must be a MAP answer.
fn map_in(ns: &str, server: SocketAddr, request: &MapRequest) -> (MapResponse, Answered<PcpAnswer>) {
    let request = request.clone();
    let got = in_netns(ns, move || net::map(server, &request, &Schedule::RFC6887, &budget())).expect("a MAP answer");
    match got.answer {
        PcpAnswer::Map(m) => (m, got),
        other => panic!("not a MAP answer: {other:?}"),
    }
}

/// Rules of miniupnpd's chains that name `port`.
fn rules_naming(lab: &Lab, port: u16) -> Vec<String> {
    lab.router_rules().into_iter().filter(|r| r.contains(&port.to_string())).collect()
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn pcp_map_for_ipv6_opens_a_pinhole_and_its_delete_closes_it() {
    let _ = LAB;
    let lab = Lab::up("default");
    let port = 40610;
    let host = lan_v6(&lab);
    // The lab's default IPv6 router is the router's global address: what the engine would ask.
    let server = in_netns(&lab.lan_ns(), || net::default_server(Family::V6)).expect("an IPv6 default router");
    assert_eq!(server, server_v6(&lab));
    let request = map_request(IpAddr::V6(host), Protocol::Udp, port, 600);
    let (granted, got) = map_in(&lab.lan_ns(), server, &request);
    assert_eq!(granted.verdict(), Verdict::Granted, "{granted:?}");
    assert_eq!((granted.external_address, granted.external_port), (IpAddr::V6(host), port), "no translation over IPv6");
    assert!((120..=600).contains(&granted.lifetime), "lifetime {}", granted.lifetime);
    assert_eq!(got.sends, 1);
    assert!(lab.reach("udp", &host.to_string(), "::", port), "a datagram from wan reaches the pinholed port");
    assert!(!rules_naming(&lab, port).is_empty(), "a pinhole rule");

    let (deleted, _) = map_in(&lab.lan_ns(), server, &request.deletion());
    assert_eq!((deleted.result, deleted.lifetime), (PcpResult::Success, 0));
    assert!(!lab.reach("udp", &host.to_string(), "::", port), "closed after the delete");
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new(), "no rule left");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn pcp_map_for_ipv4_makes_a_reachable_mapping_and_its_delete_removes_it() {
    let lab = Lab::up("default");
    let port = 40620;
    let server = in_netns(&lab.lan_ns(), || net::default_server(Family::V4)).expect("an IPv4 default gateway");
    assert_eq!(server, server_v4(&lab));
    let request = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Tcp, port, 600);
    let (granted, _) = map_in(&lab.lan_ns(), server, &request);
    assert_eq!(granted.verdict(), Verdict::Granted, "{granted:?}");
    assert_eq!(granted.external_address, IpAddr::V4(ext_v4(&lab)));
    assert_eq!(granted.external_port, port, "the suggested port was free");
    assert!(lab.reach_to("tcp", &ext_v4(&lab).to_string(), granted.external_port, "0.0.0.0", port));
    assert!(!rules_naming(&lab, port).is_empty());

    let (deleted, _) = map_in(&lab.lan_ns(), server, &request.deletion());
    assert_eq!(deleted.result, PcpResult::Success);
    assert!(!lab.reach_to("tcp", &ext_v4(&lab).to_string(), granted.external_port, "0.0.0.0", port));
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new(), "no DNAT or filter rule left");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_delete_with_another_nonce_is_not_authorized_and_changes_nothing() {
    let lab = Lab::up("default");
    let port = 40625;
    let request = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Udp, port, 600);
    let (granted, _) = map_in(&lab.lan_ns(), server_v4(&lab), &request);
    assert_eq!(granted.verdict(), Verdict::Granted);
    let stranger = MapRequest { nonce: net::new_nonce(), ..request.deletion() };
    let (refused, _) = map_in(&lab.lan_ns(), server_v4(&lab), &stranger);
    assert_eq!(refused.verdict(), Verdict::NotAuthorized, "{refused:?}");
    assert!(lab.reach_to("udp", &ext_v4(&lab).to_string(), granted.external_port, "0.0.0.0", port), "still open");
    map_in(&lab.lan_ns(), server_v4(&lab), &request.deletion());
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn natpmp_maps_ipv4_with_the_external_address_and_deletes() {
    let lab = Lab::up("default");
    let port = 40630;
    let (local, SocketAddr::V4(server)) = (lan_v4(&lab), server_v4(&lab)) else { unreachable!() };
    let request = NatPmpMapRequest { protocol: Protocol::Udp, internal_port: port, suggested_external_port: port, lifetime: 600 };
    let out = in_netns(&lab.lan_ns(), move || net::natpmp_map(local, server, &request, true, &Schedule::RFC6886, &budget())).expect("NAT-PMP answers");
    let map = out.map.answer;
    assert_eq!((map.result, map.internal_port, map.external_port, map.lifetime), (NatPmpResult::Success, port, port, 600), "NAT-PMP grants what is asked");
    let address = out.address.expect("the external address answer").answer;
    assert_eq!((address.result, address.external), (NatPmpResult::Success, ext_v4(&lab)));
    assert!(lab.reach_to("udp", &ext_v4(&lab).to_string(), map.external_port, "0.0.0.0", port));

    let deletion = request.deletion();
    let out = in_netns(&lab.lan_ns(), move || net::natpmp_map(local, server, &deletion, false, &Schedule::RFC6886, &budget())).unwrap();
    assert_eq!(out.map.answer.result, NatPmpResult::Success);
    assert!(!lab.reach_to("udp", &ext_v4(&lab).to_string(), map.external_port, "0.0.0.0", port));
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_port_another_host_holds_is_granted_as_another_external_port() {
    let lab = Lab::up("default");
    let other = lab.add_hosts(1).remove(0);
    let port = 40640;
    let theirs = map_request(IpAddr::V4(other.v4), Protocol::Udp, port, 600);
    let (held, _) = map_in(&other.ns, server_v4(&lab), &theirs);
    assert_eq!((held.verdict(), held.external_port), (Verdict::Granted, port));
    let ours = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Udp, port, 600);
    let (granted, _) = map_in(&lab.lan_ns(), server_v4(&lab), &ours);
    assert_eq!(granted.verdict(), Verdict::Granted, "{granted:?}");
    assert_ne!(granted.external_port, port, "the held port is not taken from its holder");
    let ext = ext_v4(&lab).to_string();
    assert!(lab.reach_to("udp", &ext, granted.external_port, "0.0.0.0", port), "ours, on the port granted");
    assert!(lab.reach_in(&other.ns, "udp", &ext, port, "0.0.0.0", port), "theirs, still on the port they hold");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn ipv6_map_to_the_routers_link_local_address_with_its_scope() {
    let lab = Lab::up("default");
    let port = 40650;
    let gateway = router_link_local(&lab);
    let index = in_netns(&lab.lan_ns(), || ifindex("eth0"));
    let server = SocketAddr::V6(SocketAddrV6::new(gateway, SERVER_PORT, 0, index));
    let host = lan_v6(&lab);
    let request = map_request(IpAddr::V6(host), Protocol::Udp, port, 600);
    let (granted, _) = map_in(&lab.lan_ns(), server, &request);
    assert_eq!(
        (granted.verdict(), granted.external_address),
        (Verdict::Granted, IpAddr::V6(host)),
        "the global source is mapped, not the link-local gateway's side"
    );
    assert!(lab.reach("udp", &host.to_string(), "::", port));
    map_in(&lab.lan_ns(), server, &request.deletion());
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new());
}

/// The index of interface `name` in the calling thread's namespace (not /sys: that shows the
/// namespace sysfs was mounted in).
fn ifindex(name: &str) -> u32 {
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid NUL-terminated name; if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no interface {name:?}");
    index
}

/// The router's link-local address on the LAN bridge.
fn router_link_local(lab: &Lab) -> Ipv6Addr {
    let out = lab.exec("rtr", &["ip", "-6", "-o", "addr", "show", "dev", "br0", "scope", "link"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .filter_map(|w| w.split('/').next()?.parse::<Ipv6Addr>().ok())
        .next()
        .unwrap_or_else(|| panic!("no link-local address on br0: {text}"))
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn the_epoch_counts_and_a_restart_is_announced_on_the_lan_over_ipv4_only() {
    // Pinned to 2.3.1, whatever the test command's router: where its IPv6 ANNOUNCE goes is its own.
    let lab = Lab::up_with("default", &Router { version: Some("2.3.1"), ..Router::default() });
    let request = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Udp, 40660, 600);
    let (first, _) = map_in(&lab.lan_ns(), server_v4(&lab), &request);
    let first_at = Instant::now();
    std::thread::sleep(Duration::from_millis(1100));
    let (second, _) = map_in(&lab.lan_ns(), server_v4(&lab), &request);
    assert!(first.epoch > 0, "system_uptime=yes: the epoch is the router's uptime");
    assert!(second.epoch > first.epoch && !epoch_lost_state(first.epoch, second.epoch, first_at.elapsed()), "{} then {}", first.epoch, second.epoch);

    // Listeners on both sides of the router: the lan host (where a client is) and the wan host.
    let (v4, v6, wan_v6) = (lan_v4(&lab), lan_v6(&lab), lab.var("WAN_HOST_V6").parse::<Ipv6Addr>().unwrap());
    let listen = |ns: String, addrs: Vec<IpAddr>| {
        spawn_in_netns(&ns, move || {
            let watches: Vec<AnnounceWatch> = addrs.iter().map(|a| AnnounceWatch::open(*a).expect("listener")).collect();
            let mut heard: Vec<(SocketAddr, Announcement)> = Vec::new();
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                for w in &watches {
                    heard.extend(w.heard());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            heard
        })
    };
    let lan = listen(lab.lan_ns(), vec![IpAddr::V4(v4), IpAddr::V6(v6)]);
    let wan = listen(lab.wan_ns(), vec![IpAddr::V6(wan_v6)]);
    std::thread::sleep(Duration::from_millis(200));
    lab.lab_sh("restart-router");
    let (lan, wan) = (lan.join().unwrap(), wan.join().unwrap());
    eprintln!("heard after the restart: on lan {lan:?}, on wan {wan:?}");
    let router_v4 = server_v4(&lab);
    assert!(lan.iter().any(|(f, a)| *f == router_v4 && matches!(a, Announcement::Pcp { .. })), "a PCP ANNOUNCE to 224.0.0.1:5350 from the router");
    // miniupnpd 2.3.1 sends its IPv6 ANNOUNCE to ff02::1 without choosing the interface: the
    // kernel sends it out of the WAN side (the first ff00::/8 route), never to the LAN. On this
    // router only the IPv4 ANNOUNCE (and the epoch, when system_uptime=no) tells a LAN client.
    assert!(!lan.iter().any(|(f, _)| f.is_ipv6()), "no IPv6 ANNOUNCE reaches the LAN (2.3.1)");
    assert!(wan.iter().any(|(f, a)| f.is_ipv6() && matches!(a, Announcement::Pcp { .. })), "the IPv6 ANNOUNCE left by the WAN side");
    // With system_uptime=yes the epoch keeps counting over the restart that lost every mapping.
    let (after, _) = map_in(&lab.lan_ns(), server_v4(&lab), &request);
    assert!(after.epoch >= second.epoch, "epochs {} {} then {}", first.epoch, second.epoch, after.epoch);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_pcp_only_router_opens_both_families() {
    let lab = Lab::up("default");
    lab.lab_sh("stop-router");
    std::fs::write(lab.dir().join("miniupnpd.conf"), std::fs::read_to_string(lab.dir().join("miniupnpd.conf")).unwrap() + "enable_upnp=no\n").unwrap();
    lab.lab_sh("start-router");
    // No UPnP: nothing answers HTTP on the router.
    let http = SocketAddr::new(lab.var("RTR_LAN_V4").parse().unwrap(), 5000);
    let refused = in_netns(&lab.lan_ns(), move || std::net::TcpStream::connect_timeout(&http, Duration::from_secs(1)).is_err());
    assert!(refused, "UPnP is off");

    let port = 40670;
    let v6 = map_request(IpAddr::V6(lan_v6(&lab)), Protocol::Udp, port, 600);
    let v4 = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Udp, port, 600);
    let (g6, _) = map_in(&lab.lan_ns(), server_v6(&lab), &v6);
    let (g4, _) = map_in(&lab.lan_ns(), server_v4(&lab), &v4);
    assert_eq!((g6.verdict(), g4.verdict()), (Verdict::Granted, Verdict::Granted));
    assert!(lab.reach("udp", &lan_v6(&lab).to_string(), "::", port), "IPv6 pinhole");
    assert!(lab.reach_to("udp", &ext_v4(&lab).to_string(), g4.external_port, "0.0.0.0", port), "IPv4 mapping");
    map_in(&lab.lan_ns(), server_v6(&lab), &v6.deletion());
    map_in(&lab.lan_ns(), server_v4(&lab), &v4.deletion());
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new(), "both gone");
}

/// The figure the benchmark compares with UPnP: one PCP MAP per family from the lan host, both
/// sent together (one thread per family, released at once), 20 rounds on fresh ports; prints the
/// median round trip per family (first send to answer) and until both are back, then deletes.
/// `cargo test --release --test lab_pcp -- --ignored --nocapture measure_pcp_map_round_trip`
#[test]
#[ignore = "lab measurement: run by hand (see the doc comment)"]
fn measure_pcp_map_round_trip() {
    let lab = Lab::up("default");
    let (v4, v6, s4, s6) = (lan_v4(&lab), lan_v6(&lab), server_v4(&lab), server_v6(&lab));
    let mut rounds: Vec<(Duration, Duration, Duration)> = Vec::new();
    for i in 0..20u16 {
        let port = 41000 + i;
        let requests = [map_request(IpAddr::V4(v4), Protocol::Udp, port, 600), map_request(IpAddr::V6(v6), Protocol::Udp, port, 600)];
        let barrier = Arc::new(Barrier::new(3));
        let handles: Vec<_> = requests
            .iter()
            .zip([s4, s6])
            .map(|(request, server)| {
                let (request, barrier) = (request.clone(), barrier.clone());
                spawn_in_netns(&lab.lan_ns(), move || {
                    barrier.wait();
                    let started = Instant::now();
                    let got = net::map(server, &request, &Schedule::RFC6887, &budget()).expect("answer");
                    assert!(matches!(got.answer, PcpAnswer::Map(m) if m.result == PcpResult::Success), "{got:?}");
                    (got.elapsed, started.elapsed())
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let results: Vec<(Duration, Duration)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let both = started.elapsed();
        rounds.push((results[0].0, results[1].0, both));
        for (request, server) in requests.iter().zip([s4, s6]) {
            map_in(&lab.lan_ns(), server, &request.deletion());
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (m4, m6, mb) =
        (median(rounds.iter().map(|r| r.0).collect()), median(rounds.iter().map(|r| r.1).collect()), median(rounds.iter().map(|r| r.2).collect()));
    println!("PCP MAP round trip, median of {}: IPv4 {:.3} ms, IPv6 {:.3} ms, both back {:.3} ms", rounds.len(), ms(m4), ms(m6), ms(mb));
    println!("all rounds (v4, v6, both) ms: {:?}", rounds.iter().map(|r| (ms(r.0), ms(r.1), ms(r.2))).collect::<Vec<_>>());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn behind_cgnat_ipv4_is_upstream_nat_on_both_routes_and_ipv6_still_opens() {
    let lab = Lab::up("reserved-wan");
    let port = 40680;
    let v4 = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Udp, port, 600);
    let (refused, _) = map_in(&lab.lan_ns(), server_v4(&lab), &v4);
    eprintln!("PCP IPv4 behind 100.64/10: {refused:?}");
    assert_eq!(refused.result, PcpResult::NoResources);
    assert_eq!(refused.verdict(), Verdict::UpstreamNat, "{refused:?}");
    let (local, SocketAddr::V4(server)) = (lan_v4(&lab), server_v4(&lab)) else { unreachable!() };
    let request = NatPmpMapRequest { protocol: Protocol::Udp, internal_port: port, suggested_external_port: port, lifetime: 600 };
    let out = in_netns(&lab.lan_ns(), move || net::natpmp_map(local, server, &request, true, &Schedule::RFC6886, &budget())).expect("NAT-PMP answers");
    eprintln!("NAT-PMP behind 100.64/10: {out:?}");
    assert_eq!(out.map.answer.verdict(), Verdict::UpstreamNat);
    assert_eq!(rules_naming(&lab, port), Vec::<String>::new(), "no IPv4 rule made");

    let v6 = map_request(IpAddr::V6(lan_v6(&lab)), Protocol::Udp, port, 600);
    let (granted, _) = map_in(&lab.lan_ns(), server_v6(&lab), &v6);
    assert_eq!(granted.verdict(), Verdict::Granted);
    assert!(lab.reach("udp", &lan_v6(&lab).to_string(), "::", port));
    map_in(&lab.lan_ns(), server_v6(&lab), &v6.deletion());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_denied_port_is_not_authorized_after_seconds_without_a_duplicate_request() {
    // (0.4 to 2.3 s seen here, depending on the machine's load; faults_pcp proves a 2.4 s one.)
    let lab = Lab::up("default");
    // The lab allows LAN ports 1024-65535 only; miniupnpd scans every external port for one its
    // rules allow before it refuses.
    let request = map_request(IpAddr::V4(lan_v4(&lab)), Protocol::Udp, 999, 600);
    let server = server_v4(&lab);
    let got = in_netns(&lab.lan_ns(), move || net::map(server, &request, &Schedule::RFC6887, &Budget::new(Duration::from_secs(8), &CancelToken::new())))
        .expect("an answer within the budget");
    let PcpAnswer::Map(m) = got.answer else { panic!("{got:?}") };
    eprintln!("denied port: {m:?} after {:?}, {} send(s)", got.elapsed, got.sends);
    assert_eq!(m.verdict(), Verdict::NotAuthorized);
    assert_eq!(got.sends, 1, "answered before the first retransmission (IRT 3 s)");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn miniupnpd_2_3_1_ipv6_refresh_echoes_the_suggested_port_and_then_refuses_the_delete() {
    // Pins the router bug the lease engine must work around (fixed upstream in 2.3.6/2.3.8): if
    // this starts failing, the lab router changed and the workaround's premise with it. A refresh
    // answers the suggested port, 0 when none was suggested (suggest the internal port: IPv6 is
    // not translated); after any refresh PCP cannot delete the pinhole (lab notes: UPnP
    // AddPinhole on the same tuple returns its UniqueID, and DeletePinhole removes it).
    // Pinned to 2.3.1, whatever the test command's router (2.3.9 has the fix).
    let lab = Lab::up_with("default", &Router { version: Some("2.3.1"), ..Router::default() });
    for (port, suggested) in [(40690, 40690), (40691, 0)] {
        let request = MapRequest { suggested_external_port: suggested, ..map_request(IpAddr::V6(lan_v6(&lab)), Protocol::Udp, port, 600) };
        let (first, _) = map_in(&lab.lan_ns(), server_v6(&lab), &request);
        let (refresh, _) = map_in(&lab.lan_ns(), server_v6(&lab), &request);
        let (delete, _) = map_in(&lab.lan_ns(), server_v6(&lab), &request.deletion());
        eprintln!("suggested {suggested}: map port {}, refresh port {}, delete {}", first.external_port, refresh.external_port, delete.result);
        assert_eq!((first.verdict(), first.external_port), (Verdict::Granted, port));
        assert_eq!((refresh.verdict(), refresh.external_port), (Verdict::Granted, suggested));
        assert_eq!(delete.verdict(), Verdict::NotAuthorized, "the refreshed pinhole cannot be deleted by PCP: {delete:?}");
        assert!(lab.reach("udp", &lan_v6(&lab).to_string(), "::", port), "and stays open");
    }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn no_server_on_the_gateway_is_known_at_once_on_both_routes() {
    // A UPnP-only router (or none running) refuses UDP 5351 with ICMP port unreachable: the
    // family goes to UPnP within a round trip, not after the race's bound.
    let lab = Lab::up("default");
    lab.lab_sh("stop-router");
    let (v4, v6, s4, s6) = (lan_v4(&lab), lan_v6(&lab), server_v4(&lab), server_v6(&lab));
    let results = in_netns(&lab.lan_ns(), move || {
        let started = Instant::now();
        let pcp4 = net::map(s4, &map_request(IpAddr::V4(v4), Protocol::Udp, 40700, 600), &Schedule::RFC6887, &budget());
        let pcp6 = net::map(s6, &map_request(IpAddr::V6(v6), Protocol::Udp, 40700, 600), &Schedule::RFC6887, &budget());
        let SocketAddr::V4(s4) = s4 else { unreachable!() };
        let request = NatPmpMapRequest { protocol: Protocol::Udp, internal_port: 40700, suggested_external_port: 40700, lifetime: 600 };
        let natpmp = net::natpmp_map(v4, s4, &request, true, &Schedule::RFC6886, &budget()).map(|_| ());
        (pcp4.map(|_| ()), pcp6.map(|_| ()), natpmp, started.elapsed())
    });
    assert_eq!((results.0, results.1, results.2), (Err(ExchangeError::NoServer), Err(ExchangeError::NoServer), Err(ExchangeError::NoServer)));
    assert!(results.3 < Duration::from_millis(100), "three refusals took {:?}", results.3);
}
