//! A port another LAN host already holds (issue 17, item 6), through `Client::open` against the
//! real miniupnpd: a second host (`lab.sh add-hosts`) maps IPv4 port P first, over PCP or over
//! UPnP; our client then opens P. IPv4 is granted another external port and reported as such,
//! reachable from `wan` on that port; IPv6 (a pinhole for our own address) is not affected;
//! close removes only what we made, the other host's mapping stays reachable. Needs root and the
//! lab packages: run by scripts/test.sh (`cargo test -- --include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use labkit::{in_netns, Lab, LabHost};
use portopen::pcp::net::{self, Schedule};
use portopen::pcp::wire::{MapRequest, PcpAnswer, Verdict, SERVER_PORT};
use portopen::{Budget, CancelToken, OpenRequest, PortStatus, Protocol, Route, Routes};

/// How the other host took the port.
#[derive(Clone, Copy, Debug)]
enum HeldBy {
    Pcp,
    Upnp,
}

/// Host `other` maps IPv4 `port` (external = internal) for itself.
fn hold(lab: &Lab, other: &LabHost, port: u16, by: HeldBy) {
    match by {
        HeldBy::Pcp => {
            let server = SocketAddr::new(lab.var("RTR_LAN_V4").parse().unwrap(), SERVER_PORT);
            let request = MapRequest {
                nonce: net::new_nonce(),
                protocol: Protocol::Udp,
                internal_port: port,
                suggested_external_port: port,
                suggested_external_address: None,
                lifetime: 600,
                client: IpAddr::V4(other.v4),
            };
            let answer = in_netns(&other.ns, move || net::map(server, &request, &Schedule::RFC6887, &Budget::new(Duration::from_secs(3), &CancelToken::new())))
                .expect("the router answers the other host");
            let PcpAnswer::Map(m) = answer.answer else { panic!("not a MAP answer: {answer:?}") };
            assert_eq!((m.verdict(), m.external_port), (Verdict::Granted, port), "the other host holds the port: {m:?}");
        }
        HeldBy::Upnp => {
            let client = lab.client_in(&other.ns, Routes::only(Route::Upnp), false);
            let lease = lab.open_in(&other.ns, client, OpenRequest { v6: false, lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) });
            let v4 = lease.info().v4;
            assert_eq!((v4.status, v4.external.map(|a| a.port())), (PortStatus::Open, Some(port)), "the other host holds the port: {v4:?}");
        }
    }
    assert!(lab.reach_in(&other.ns, "udp", lab.var("EXT_V4"), port, "0.0.0.0", port), "the other host is reachable on {port}");
}

/// The other host holds `port` (`by`); our client (`routes`) opens it for both families.
fn open_a_held_port(by: HeldBy, routes: Routes, route: Route, port: u16) {
    let lab = Lab::up("default");
    let other = lab.add_hosts(1).remove(0);
    hold(&lab, &other, port, by);

    let client = lab.lan_client(routes, false);
    let lease = lab.open_in(&lab.lan_ns(), client, OpenRequest { lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) });
    let info = lease.info();
    assert_eq!((info.v4.status, info.v4.route), (PortStatus::Open, Some(route)), "{info:?}");
    let external = info.v4.external.expect("the external address and port granted");
    assert_eq!(external.ip().to_string(), lab.var("EXT_V4"));
    assert_ne!(external.port(), port, "the held port is not ours: another one is granted and reported: {info:?}");
    assert_eq!(info.v4.internal.map(|a| a.port()), Some(port), "{info:?}");
    assert!(lab.reach_to("udp", lab.var("EXT_V4"), external.port(), "0.0.0.0", port), "ours, on the granted port {}", external.port());
    assert!(lab.reach_in(&other.ns, "udp", lab.var("EXT_V4"), port, "0.0.0.0", port), "theirs, still on {port}");
    // IPv6 has no translation: a pinhole for our own address on the port asked.
    assert_eq!((info.v6.status, info.v6.route), (PortStatus::Open, Some(route)), "{info:?}");
    assert_eq!(info.v6.external.map(|a| a.port()), Some(port));
    assert!(lab.reach_v6("udp", port), "our IPv6 pinhole");

    let ours = lab.var("LAN_V4").to_string();
    let ours_rules =
        || -> Vec<String> { lab.router_rules().into_iter().filter(|r| r.contains(&ours) || r.contains(&format!(" {} ", external.port()))).collect() };
    assert!(!ours_rules().is_empty(), "our DNAT rule is seen before close: {:?}", lab.router_rules());
    lab.close_in(&lab.lan_ns(), lease);
    let left = ours_rules();
    assert!(left.is_empty(), "ours left on the router: {left:?}");
    assert!(lab.router_rules().iter().any(|r| r.contains(&other.v4.to_string())), "theirs kept: {:?}", lab.router_rules());
    assert!(lab.reach_in(&other.ns, "udp", lab.var("EXT_V4"), port, "0.0.0.0", port), "theirs still reachable after our close");
    assert!(!lab.reach_to("udp", lab.var("EXT_V4"), external.port(), "0.0.0.0", port), "ours closed");
    assert!(!lab.reach_v6("udp", port), "our pinhole closed");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_port_another_host_holds_through_pcp_is_granted_to_us_on_another_external_port() {
    open_a_held_port(HeldBy::Pcp, Routes::ALL, Route::Pcp, 42000);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_port_another_host_holds_through_upnp_is_granted_to_us_on_another_external_port() {
    open_a_held_port(HeldBy::Upnp, Routes::ALL, Route::Pcp, 42010);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn over_upnp_alone_a_held_port_is_granted_on_another_external_port_too() {
    // UPnP's AddPortMapping answers 718 on a held port; AddAnyPortMapping (IGD:2) picks another.
    open_a_held_port(HeldBy::Pcp, Routes::only(Route::Upnp), Route::Upnp, 42020);
}
