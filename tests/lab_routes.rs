//! The second route to the router (issue 17): `Client::open` races a PCP MAP (NAT-PMP for an
//! IPv4 server that speaks only version 0) with UPnP, per family, against the real miniupnpd.
//! What opened is proven with packets from `wan`, and what is left after close with the
//! router's nftables rules. Needs root and the lab packages: run by scripts/test.sh
//! (`cargo test -- --include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::time::{Duration, Instant};

use labkit::{Lab, Router};
use portopen::{Client, EventKind, Family, OpenRequest, PortStatus, Protocol, Route, Routes};

/// Rules of miniupnpd's chains that name `port`.
fn rules_naming(lab: &Lab, port: u16) -> Vec<String> {
    lab.router_rules().into_iter().filter(|r| r.contains(&port.to_string())).collect()
}

fn request(port: u16) -> OpenRequest {
    OpenRequest { lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) }
}

/// Close in the lan namespace (the delete goes to the router from there).
fn close(lab: &Lab, lease: &'static portopen::Lease) {
    lab.in_lan(move || lease.close());
}

fn logs() {
    labkit::clients::debug_log();
}

fn client(lab: &Lab, routes: Routes) -> &'static Client {
    client_with(lab, routes, false)
}

/// A client whose keeper renews in the background (the upkeep tests).
fn keeping_client(lab: &Lab) -> &'static Client {
    client_with(lab, Routes::ALL, true)
}

fn client_with(lab: &Lab, routes: Routes, keep_alive: bool) -> &'static Client {
    logs();
    let mut config = lab.config_all_routes();
    config.routes = routes;
    config.keep_alive = keep_alive;
    lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())))
}

/// Open `request` in the lan namespace (the lease leaked into a 'static, see `open`).
fn open_request(lab: &Lab, client: &'static Client, request: OpenRequest) -> &'static portopen::Lease {
    lab.in_lan(move || &*Box::leak(Box::new(client.open(&request).unwrap())))
}

/// Open `port` in the lan namespace; the lease is leaked into a 'static so that it can be
/// closed later from any thread.
fn open(lab: &Lab, client: &'static Client, port: u16) -> (&'static portopen::Lease, Duration) {
    lab.in_lan(move || {
        let started = Instant::now();
        let lease = client.open(&request(port)).unwrap();
        (&*Box::leak(Box::new(lease)), started.elapsed())
    })
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_pcp_only_router_opens_both_families_reachably_and_close_leaves_nothing() {
    let lab = Lab::up_with("default", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41700;
    let client = client(&lab, Routes::ALL);
    let (lease, took) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!(info.v4.status, PortStatus::Open, "{info:?}");
    assert_eq!(info.v6.status, PortStatus::Open, "{info:?}");
    assert_eq!(info.v4.route, Some(Route::Pcp));
    assert_eq!(info.v6.route, Some(Route::Pcp));
    assert_eq!(info.v4.router.map(|ip| ip.to_string()).as_deref(), Some(lab.var("RTR_LAN_V4")), "asked of the default gateway");
    assert_eq!(info.v6.router.map(|ip| ip.to_string()).as_deref(), Some(lab.var("RTR_LAN_V6")));
    assert_eq!(info.v4.external.unwrap().ip().to_string(), lab.var("EXT_V4"));
    assert_eq!(info.v6.external.unwrap().ip().to_string(), lab.var("LAN_V6"));
    assert!(took < Duration::from_millis(500), "a PCP router opens at once, not after UPnP's discovery window: {took:?}");
    assert!(lab.reach_v4("udp", info.v4.external.unwrap().port()), "IPv4 mapping reachable from wan");
    assert!(lab.reach_v6("udp", port), "IPv6 pinhole reachable from wan");
    close(&lab, lease);
    assert_eq!(lease.info().v4.status, PortStatus::Closed);
    assert!(rules_naming(&lab, port).is_empty(), "left on the router: {:?}", rules_naming(&lab, port));
    assert!(!lab.reach_v6("udp", port), "the pinhole is gone");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn with_both_routes_pcp_wins_and_no_rule_is_made_twice() {
    let lab = Lab::up("default");
    let port = 41710;
    let client = client(&lab, Routes::ALL);
    let (lease, _) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::Pcp)), "{info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Pcp)), "{info:?}");
    // The same port opened through UPnP alone makes as many rules: the race made no duplicate.
    let raced = rules_naming(&lab, port).len();
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
    let upnp_only = self::client(&lab, Routes::only(Route::Upnp));
    let (upnp_lease, _) = open(&lab, upnp_only, port);
    assert_eq!(upnp_lease.info().v4.route, Some(Route::Upnp));
    assert_eq!(upnp_lease.info().v6.route, Some(Route::Upnp));
    let by_upnp = rules_naming(&lab, port).len();
    close(&lab, upnp_lease);
    assert_eq!(raced, by_upnp, "rules after the race vs. after UPnP alone");
    assert!(rules_naming(&lab, port).is_empty());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_router_without_pcp_or_nat_pmp_is_opened_by_upnp_without_delay() {
    // Port 5351 closed: the router's ICMP refusal hands both families to UPnP at once. (The
    // lab cannot switch NAT-PMP off by config: miniupnpd ignores enable_natpmp=no after the
    // lab's =yes. A reject rule in the router closes the port as a UPnP-only router has it.)
    let lab = Lab::up("default");
    lab.refuse_port_control();
    let port = 41720;
    let client = client(&lab, Routes::ALL);
    let (lease, took) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert!(took < Duration::from_millis(1500), "UPnP's cold open, not slowed: {took:?}");
    assert!(lab.reach_v6("udp", port));
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables, the built 2.3.9-nopcp router; run by scripts/test.sh"]
fn a_nat_pmp_only_router_opens_ipv4_through_nat_pmp() {
    let lab = Lab::up_with("default", &Router { version: Some("2.3.9-nopcp"), conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41730;
    let client = client(&lab, Routes::ALL);
    let (lease, _) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::NatPmp)), "{info:?}");
    assert_eq!(info.v4.external.unwrap().ip().to_string(), lab.var("EXT_V4"), "the external address asked beside the map");
    assert_ne!(info.v6.status, PortStatus::Open, "NAT-PMP has no IPv6 and UPnP is off: {info:?}");
    assert!(lab.reach_v4("udp", info.v4.external.unwrap().port()));
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_denied_port_is_reported_not_authorized_within_the_budget() {
    // miniupnpd scans every port before NOT_AUTHORIZED (~2.3 s); UPnP is off, so the family
    // waits for PCP's late answer, within the 3 s action budget.
    let lab = Lab::up_with("default", &Router { conf: &["enable_upnp=no", "deny 0-65535 0.0.0.0/0 41740"], ..Router::default() });
    let client = client(&lab, Routes::ALL);
    let started = Instant::now();
    let info = lab.in_lan(move || client.open(&request(41740)).unwrap().info());
    assert_eq!(info.v4.status, PortStatus::NotAuthorized, "{info:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn behind_cgnat_ipv4_says_upstream_nat_and_ipv6_opens_through_pcp() {
    let lab = Lab::up_with("reserved-wan", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41750;
    let client = client(&lab, Routes::ALL);
    let (lease, _) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!(info.v4.status, PortStatus::UpstreamNat, "{info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Pcp)), "{info:?}");
    assert!(lab.reach_v6("udp", port));
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn after_a_router_restart_the_ipv4_announce_re_makes_the_mapping() {
    let lab = Lab::up_with("default", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41760;
    let client = keeping_client(&lab);
    let (lease, _) = open(&lab, client, port);
    let v4 = lease.info().v4;
    assert_eq!(v4.route, Some(Route::Pcp), "{v4:?}");
    // Let the keeper open its ANNOUNCE listener (the first look comes right after the open).
    std::thread::sleep(Duration::from_millis(500));
    lab.lab_sh("restart-router");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut back = false;
    while Instant::now() < deadline {
        if lab.reach_v4("udp", v4.external.unwrap().port()) {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(back, "the mapping was re-made after the restart (ANNOUNCE heard); log:\n{}", lab.log());
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn forcing_one_route_opens_through_it_alone() {
    let lab = Lab::up("default");
    let port = 41770;
    let client = client(&lab, Routes::only(Route::NatPmp));
    let (lease, _) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::NatPmp)), "{info:?}");
    assert_ne!(info.v6.status, PortStatus::Open, "NAT-PMP has no IPv6: {info:?}");
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn on_2_3_1_a_refreshed_ipv6_pinhole_is_still_removed_on_close() {
    // miniupnpd 2.3.1 refuses the PCP delete of an IPv6 pinhole once it has been refreshed
    // (NOT_AUTHORIZED; fixed in 2.3.6/2.3.8). A short minimum lifetime makes the refresh come
    // within seconds; close must still leave nothing (UPnP removes it by its tuple).
    let lab = Lab::up_with("default", &Router { version: Some("2.3.1"), conf: &["min_lifetime=4"], ..Router::default() });
    let port = 41780;
    let client = keeping_client(&lab);
    let lease = open_request(&lab, client, OpenRequest { v4: false, lease_secs: 4, ..OpenRequest::new(Protocol::Udp, port) });
    let v6 = lease.info().v6;
    assert_eq!((v6.status, v6.route, v6.lease_secs), (PortStatus::Open, Some(Route::Pcp), 4), "{v6:?}");
    // Refreshed at 2.0-2.5 s; wait for two refreshes.
    std::thread::sleep(Duration::from_millis(5500));
    assert!(lease.info().v6.status == PortStatus::Open && lab.reach_v6("udp", port), "still open after its refreshes");
    let before = lab.log().len();
    close(&lab, lease);
    // The PCP delete was refused, so the pinhole went through UPnP (found by its tuple).
    assert_eq!(lab.router_requests(before).get("DeletePinhole"), Some(&1), "{}", &lab.log()[before..]);
    assert_eq!(lease.info().v6.status, PortStatus::Closed);
    assert!(lease.info().v6.message.is_empty(), "removed, not left to expire: {:?}", lease.info().v6.message);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables, the built 2.3.9-nopcp router; run by scripts/test.sh"]
fn port_control_says_which_of_pcp_and_nat_pmp_the_router_speaks_and_maps_nothing() {
    let both = Lab::up_with("default", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let client = client(&both, Routes::ALL);
    let (v4, v6) = both.in_lan(move || (client.port_control(portopen::Family::V4), client.port_control(portopen::Family::V6)));
    assert_eq!(v4.routes(), vec![Route::Pcp, Route::NatPmp], "{v4:?}");
    assert_eq!(v4.natpmp_external.map(|ip| ip.to_string()).as_deref(), Some(both.var("EXT_V4")));
    assert_eq!(v6.routes(), vec![Route::Pcp], "{v6:?}");
    assert!(both.router_rules().is_empty(), "nothing mapped: {:?}", both.router_rules());

    let natpmp_only = Lab::up_with("default", &Router { version: Some("2.3.9-nopcp"), conf: &["enable_upnp=no"], ..Router::default() });
    let client = self::client(&natpmp_only, Routes::ALL);
    let v4 = natpmp_only.in_lan(move || client.port_control(portopen::Family::V4));
    assert_eq!(v4.routes(), vec![Route::NatPmp], "{v4:?}");
    assert!(v4.message.contains("NAT-PMP only"), "{v4:?}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn when_pcp_stops_answering_the_family_falls_back_to_upnp_and_stays_reachable() {
    // A short minimum lifetime makes the first refresh come within seconds. Pinned to 2.3.1:
    // 2.3.9 grants 120 s whatever min_lifetime says (seen: lease_secs 120 with min_lifetime=4),
    // so no refresh comes within the test's seconds there.
    let lab = Lab::up_with("default", &Router { version: Some("2.3.1"), conf: &["min_lifetime=4"], ..Router::default() });
    let port = 41790;
    let client = keeping_client(&lab);
    let lease = open_request(&lab, client, OpenRequest { lease_secs: 4, ..OpenRequest::new(Protocol::Udp, port) });
    assert_eq!((lease.info().v4.route, lease.info().v6.route), (Some(Route::Pcp), Some(Route::Pcp)), "{:?}", lease.info());
    lab.refuse_port_control();
    // The refresh (at 2.0-2.5 s) is refused: the family is opened again, by UPnP now.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && (lease.info().v4.route != Some(Route::Upnp) || lease.info().v6.route != Some(Route::Upnp)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(Route::Upnp)), "{info:?}");
    assert!(lab.reach_v4("udp", info.v4.external.unwrap().port()) && lab.reach_v6("udp", port), "reachable through the UPnP route");
    close(&lab, lease);
    // The PCP mappings were never deleted (the server stopped answering) and expire within 4 s
    // on their own; what UPnP made is gone at once.
    std::thread::sleep(Duration::from_secs(5));
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

/// Poll `client`'s events until each of `families` has had a `Recovered` (or `within`
/// passed): the events of each family, in order.
fn events_until_recovered(client: &Client, families: &[Family], within: Duration) -> Vec<Vec<portopen::Event>> {
    let deadline = Instant::now() + within;
    let mut seen: Vec<Vec<portopen::Event>> = families.iter().map(|_| Vec::new()).collect();
    let done = |seen: &[Vec<portopen::Event>]| seen.iter().all(|s| s.iter().any(|e| e.kind == EventKind::Recovered));
    while Instant::now() < deadline && !done(&seen) {
        while let Some(e) = client.poll_event() {
            if let Some(i) = families.iter().position(|f| *f == e.family) {
                seen[i].push(e);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn after_a_router_restart_an_ipv6_pcp_pinhole_is_said_lost_and_re_made_within_seconds() {
    // miniupnpd 2.3.1 sends its IPv6 ANNOUNCE out of the WAN side only: the LAN hears the IPv4
    // one, from the default gateway on the same interface (one router). Only IPv6 is opened:
    // the IPv4 ANNOUNCE is listened to all the same. The lease (600 s) brings no refresh within
    // the test: only the ANNOUNCE can bring the pinhole back in seconds.
    let lab = Lab::up("default");
    let port = 41800;
    let client = keeping_client(&lab);
    let lease = open_request(&lab, client, OpenRequest { v4: false, ..request(port) });
    assert_eq!(lease.info().v6.route, Some(Route::Pcp), "{:?}", lease.info());
    while client.poll_event().is_some() {}
    // Let the keeper open its ANNOUNCE listener (the first look comes right after the open).
    std::thread::sleep(Duration::from_millis(500));
    let restarted = Instant::now();
    lab.lab_sh("restart-router");
    let events = events_until_recovered(client, &[Family::V6], Duration::from_secs(15)).remove(0);
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::Lost, EventKind::Recovered], "{events:#?}\nlog:\n{}", lab.log());
    assert!(events[0].message.contains("announced a restart"), "{}", events[0].message);
    eprintln!("IPv6 pinhole re-made {:.1} s after the restart began", restarted.elapsed().as_secs_f64());
    assert!(lab.reach_v6("udp", port), "re-made and reachable after the restart");
    assert_eq!((lease.info().v6.status, lease.info().v6.route), (PortStatus::Open, Some(Route::Pcp)));
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_power_on_whose_announce_never_reaches_the_lan_is_found_by_the_epoch() {
    // The router's ANNOUNCEs are dropped on their way out: only the epoch the look asks for
    // (an ANNOUNCE request, every 5 s) can tell that the router powered on and lost its state.
    let lab = Lab::up("default");
    let port = 41805;
    for cmd in [
        "add table inet po_noannounce",
        "add chain inet po_noannounce out { type filter hook output priority 0; policy accept; }",
        "add rule inet po_noannounce out udp dport 5350 drop",
    ] {
        let args: Vec<&str> = std::iter::once("nft").chain(cmd.split(' ')).collect();
        assert!(lab.exec("rtr", &args).status.success(), "nft {cmd}");
    }
    let client = keeping_client(&lab);
    let (lease, _) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!((info.v4.route, info.v6.route), (Some(Route::Pcp), Some(Route::Pcp)), "{info:?}");
    while client.poll_event().is_some() {}
    lab.restart_router_from_power_on();
    let seen = events_until_recovered(client, &[Family::V4, Family::V6], Duration::from_secs(15));
    for (family, events) in [Family::V4, Family::V6].into_iter().zip(seen) {
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::Lost, EventKind::Recovered], "{family}: {events:#?}\nlog:\n{}", lab.log());
        assert!(events[0].message.contains("epoch"), "{family}: {}", events[0].message);
    }
    let info = lease.info();
    assert!(lab.reach_v6("udp", port) && lab.reach_v4("udp", info.v4.external.unwrap().port()), "both re-made and reachable: {info:?}");
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_new_host_ipv6_address_moves_a_pcp_pinhole_within_one_look() {
    // The lease (600 s) brings no refresh within the test: only the look's address check can
    // move the pinhole in seconds.
    let lab = Lab::up("default");
    let port = 41810;
    let host = lab.add_hosts(1).remove(0);
    let (old, ns) = (host.v6, host.ns.clone());
    let new = std::net::Ipv6Addr::from(u128::from(old) | (0xb << 16));
    logs();
    let config = portopen::ClientConfig { keep_alive: true, ..lab.config_all_routes() };
    let client: &'static Client = labkit::in_netns(&ns, move || Box::leak(Box::new(Client::new(config).unwrap())));
    let lease: &'static portopen::Lease = labkit::in_netns(&ns, move || Box::leak(Box::new(client.open(&OpenRequest { v4: false, ..request(port) }).unwrap())));
    assert_eq!((lease.info().v6.route, lease.info().v6.external), (Some(Route::Pcp), Some(std::net::SocketAddr::from((old, port)))), "{:?}", lease.info());
    while client.poll_event().is_some() {}
    let changed = Instant::now();
    lab.replace_host_v6(&host, old, new);
    let events = events_until_recovered(client, &[Family::V6], Duration::from_secs(10)).remove(0);
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::Lost, EventKind::Recovered], "{events:#?}");
    assert!(events[0].message.contains("address changed"), "{}", events[0].message);
    assert_eq!(events[1].address, Some(std::net::SocketAddr::from((new, port))), "{events:#?}");
    eprintln!("PCP pinhole moved to {new} {:.1} s after the address change", changed.elapsed().as_secs_f64());
    assert_eq!(lease.info().v6.route, Some(Route::Pcp));
    let new_s = new.to_string();
    assert!(lab.reach_in(&ns, "udp", &new_s, port, &new_s, port), "packets from wan reach the new address");
    labkit::in_netns(&ns, move || lease.close());
    // The new address's pinhole is deleted; the old one cannot be (a PCP delete must come from
    // the address it names, which the host no longer has): it expires with its lifetime.
    let raw = |addr: std::net::Ipv6Addr| format!("0x{:032x}", u128::from(addr));
    assert!(
        !lab.router_rules().iter().any(|r| r.contains(&raw(new)) && r.contains(&format!("dport {port}"))),
        "new address's pinhole left: {:?}",
        lab.router_rules()
    );
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_silent_flush_of_pcp_mappings_is_repaired_by_their_next_refresh() {
    // A firewall reload behind the daemon's back empties its chains: PCP cannot ask whether a
    // mapping still exists, but a refresh with the same nonce makes it again. A short minimum
    // lifetime brings the refresh within seconds (pinned to 2.3.1: 2.3.9 grants 120 s whatever
    // min_lifetime says).
    let lab = Lab::up_with("default", &Router { version: Some("2.3.1"), conf: &["min_lifetime=4"], ..Router::default() });
    let port = 41815;
    let client = keeping_client(&lab);
    let lease = open_request(&lab, client, OpenRequest { lease_secs: 12, ..OpenRequest::new(Protocol::Udp, port) });
    let info = lease.info();
    assert_eq!((info.v4.route, info.v6.route), (Some(Route::Pcp), Some(Route::Pcp)), "{info:?}");
    let v4_port = info.v4.external.unwrap().port();
    lab.lab_sh("flush-chains");
    assert!(!lab.reach_v4("udp", v4_port) && !lab.reach_v6("udp", port), "the flush closed both");
    // Refreshed at 1/2-5/8 of the 12 s lifetime (6-7.5 s after the open): both back by then.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !(lab.reach_v4("udp", v4_port) && lab.reach_v6("udp", port)) {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(lab.reach_v4("udp", v4_port) && lab.reach_v6("udp", port), "both re-made by the refresh");
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_restart_while_the_host_was_cut_off_is_made_good_once_the_server_answers_again() {
    // The soak's "reboot during outage" on the PCP route: the host's port on the router's bridge
    // goes down, the daemon restarts meanwhile (its ANNOUNCE unheard, its epoch kept: the lab's
    // system_uptime=yes), the link comes back. Nothing says what happened; the look sees the
    // server answer again after silence and refreshes what is held there. The lease (600 s)
    // brings no refresh within the test.
    let lab = Lab::up("default");
    let port = 41820;
    let client = keeping_client(&lab);
    let (lease, _) = open(&lab, client, port);
    let info = lease.info();
    assert_eq!((info.v4.route, info.v6.route), (Some(Route::Pcp), Some(Route::Pcp)), "{info:?}");
    let v4_port = info.v4.external.unwrap().port();
    let link = lab.var("LAN_PORT").to_string();
    let set_link = |state: &str| assert!(lab.exec("rtr", &["ip", "link", "set", &link, state]).status.success(), "link {state}");
    set_link("down");
    // At least one look (every 5 s) finds the server silent.
    std::thread::sleep(Duration::from_secs(6));
    let up = std::thread::scope(|s| {
        s.spawn(|| lab.lab_sh("restart-router"));
        // (lab.sh's start waits for the web port from the LAN: the link comes up meanwhile.)
        std::thread::sleep(Duration::from_secs(3));
        set_link("up");
        Instant::now()
    });
    let deadline = up + Duration::from_secs(15);
    while Instant::now() < deadline && !(lab.reach_v4("udp", v4_port) && lab.reach_v6("udp", port)) {
        std::thread::sleep(Duration::from_millis(250));
    }
    let back = up.elapsed();
    assert!(lab.reach_v4("udp", v4_port) && lab.reach_v6("udp", port), "both re-made within {back:?} of the link's return; log:\n{}", lab.log());
    eprintln!("both families reachable {:.1} s after the link came back", back.as_secs_f64());
    close(&lab, lease);
    assert!(rules_naming(&lab, port).is_empty(), "left: {:?}", rules_naming(&lab, port));
}
