//! Which of the host's addresses a port is opened for (issue 17, item 6): `Client::open` against
//! the real miniupnpd, over PCP and over UPnP, on a LAN host whose addresses are not just the one
//! stable global address — a kernel-made temporary (privacy) address the OS prefers, a deprecated
//! one the route prefers, a second stable one asked for by name, a ULA on another interface — and
//! with the default IPv6 route via the router's link-local address; and a second IPv4 address
//! named in `internal_v4`. The pinhole must be for the stable address (or the one asked for):
//! proven with packets from `wan` to each address, and nothing left on the router after close.
//! Needs root and the lab packages: run by scripts/test.sh (`cargo test -- --include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::net::{IpAddr, Ipv6Addr};

use labkit::Lab;
use portopen::{OpenRequest, PortStatus, Protocol, Route, Routes};

const STABLE: &str = "2001:db8:1::100";

/// The routes a test opens through: PCP wins the race when the router speaks it; UPnP alone
/// when asked for.
const OVER_PCP: Routes = Routes::ALL;
fn over_upnp() -> Routes {
    Routes::only(Route::Upnp)
}

fn v6_request(port: u16) -> OpenRequest {
    OpenRequest { v4: false, lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) }
}

/// The lan host's global addresses on eth0 with their flags (`ip -6 addr` words).
fn lan_globals(lab: &Lab) -> Vec<(Ipv6Addr, String)> {
    let text = lab.run_ok("lan", &["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"]);
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace().skip_while(|w| *w != "inet6");
            let ip = words.nth(1)?.split('/').next()?.parse().ok()?;
            Some((ip, l.to_string()))
        })
        .collect()
}

/// The source address the OS picks toward the router's global LAN address.
fn os_source(lab: &Lab) -> Ipv6Addr {
    let text = lab.run_ok("lan", &["ip", "-6", "route", "get", lab.var("RTR_LAN_V6")]);
    let src = text.split_whitespace().skip_while(|w| *w != "src").nth(1).unwrap_or_else(|| panic!("no src in {text}"));
    src.parse().unwrap()
}

/// Open `port` (IPv6 only) through `routes`; it must be open through `route` for `expected`,
/// reachable there from `wan`, and not at any of `not_for`. Then close: nothing left.
fn opens_for(lab: &Lab, routes: Routes, route: Route, request: OpenRequest, expected: Ipv6Addr, not_for: &[Ipv6Addr]) {
    let port = request.internal_port;
    let client = lab.lan_client(routes, false);
    let lease = lab.open_in(&lab.lan_ns(), client, request);
    let v6 = lease.info().v6;
    assert_eq!((v6.status, v6.route), (PortStatus::Open, Some(route)), "{v6:?}");
    assert_eq!(v6.internal.map(|a| a.ip()), Some(IpAddr::V6(expected)), "the address the pinhole is for: {v6:?}");
    assert_eq!(v6.external.map(|a| a.ip()), Some(IpAddr::V6(expected)), "{v6:?}");
    assert!(lab.reach("udp", &expected.to_string(), "::", port), "{route:?}: a datagram from wan reaches [{expected}]:{port}");
    for other in not_for {
        assert!(!lab.reach("udp", &other.to_string(), "::", port), "{route:?}: [{other}]:{port} must stay closed");
    }
    lab.close_in(&lab.lan_ns(), lease);
    assert_eq!(lease.info().v6.status, PortStatus::Closed);
    assert!(lab.rules_naming(port).is_empty(), "left on the router: {:?}", lab.rules_naming(port));
    assert!(!lab.reach("udp", &expected.to_string(), "::", port), "closed after close");
}

/// `opens_for` over PCP on `port`, then over UPnP alone on `port + 1`.
fn opens_over_both(lab: &Lab, port: u16, expected: Ipv6Addr, not_for: &[Ipv6Addr]) {
    opens_for(lab, OVER_PCP, Route::Pcp, v6_request(port), expected, not_for);
    opens_for(lab, over_upnp(), Route::Upnp, v6_request(port + 1), expected, not_for);
}

/// A second interface on the lan host (a VPN, a container bridge: a veth pair kept inside the
/// namespace) with a unique local address and its own route; the router cannot answer it.
fn add_ula_interface(lab: &Lab) -> Ipv6Addr {
    let ula: Ipv6Addr = "fd00:77::100".parse().unwrap();
    lab.run_ok("lan", &["ip", "link", "add", "vpn0", "type", "veth", "peer", "name", "vpn0p"]);
    lab.run_ok("lan", &["ip", "link", "set", "vpn0p", "up"]);
    lab.run_ok("lan", &["ip", "link", "set", "vpn0", "up"]);
    lab.run_ok("lan", &["ip", "addr", "add", &format!("{ula}/64"), "dev", "vpn0", "nodad"]);
    lab.run_ok("lan", &["ip", "-6", "route", "add", "fd00::/8", "dev", "vpn0"]);
    ula
}

/// A second stable global address on the lan host. Returns (the one the OS picks as source,
/// the other): nothing tells them apart but the OS's source choice (Linux takes the newer one),
/// which UPnP's HTTP and the PCP request follow alike.
fn add_second_global(lab: &Lab) -> (Ipv6Addr, Ipv6Addr) {
    let second: Ipv6Addr = "2001:db8:1::200".parse().unwrap();
    lab.add_lan_address(&format!("{second}/64"));
    let stable: Ipv6Addr = STABLE.parse().unwrap();
    let chosen = os_source(lab);
    (chosen, if chosen == stable { second } else { stable })
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_temporary_address_the_os_prefers_is_not_pinholed_the_stable_one_is() {
    let lab = Lab::up("default");
    // Privacy extensions as a desktop has them: the kernel makes a temporary address from the
    // stable one's prefix (mngtmpaddr) and prefers it as a source (use_tempaddr=2).
    lab.run_ok("lan", &["sysctl", "-qw", "net.ipv6.conf.eth0.use_tempaddr=2"]);
    lab.run_ok("lan", &["ip", "addr", "change", &format!("{STABLE}/64"), "dev", "eth0", "mngtmpaddr", "nodad"]);
    let temporary = lan_globals(&lab)
        .into_iter()
        .find(|(_, l)| l.contains(" temporary"))
        .map(|(ip, _)| ip)
        .unwrap_or_else(|| panic!("the kernel made no temporary address: {:?}", lan_globals(&lab)));
    assert_eq!(os_source(&lab), temporary, "the OS prefers the temporary address (else this tests nothing)");
    let stable: Ipv6Addr = STABLE.parse().unwrap();
    opens_over_both(&lab, 41900, stable, &[temporary]);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_deprecated_address_the_route_prefers_is_not_pinholed_the_stable_one_is() {
    let lab = Lab::up("default");
    // A renumbered network: the old address stays a while, deprecated (preferred lifetime 0).
    // A route that names it as source (a leftover `src` hint) makes the OS pick it.
    let deprecated: Ipv6Addr = "2001:db8:1::dead".parse().unwrap();
    lab.run_ok("lan", &["ip", "addr", "add", &format!("{deprecated}/64"), "dev", "eth0", "nodad", "preferred_lft", "0"]);
    lab.run_ok("lan", &["ip", "-6", "route", "add", &format!("{}/128", lab.var("RTR_LAN_V6")), "dev", "eth0", "src", &deprecated.to_string()]);
    assert!(lan_globals(&lab).iter().any(|(ip, l)| *ip == deprecated && l.contains("deprecated")), "{:?}", lan_globals(&lab));
    assert_eq!(os_source(&lab), deprecated, "the OS picks the deprecated address toward the router (else this tests nothing)");
    let stable: Ipv6Addr = STABLE.parse().unwrap();
    opens_over_both(&lab, 41910, stable, &[deprecated]);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_second_global_address_is_pinholed_only_when_asked_for_by_name() {
    let lab = Lab::up("default");
    let (chosen, other) = add_second_global(&lab);
    // Not named: the OS's choice, never the other one.
    opens_over_both(&lab, 41920, chosen, &[other]);
    // Named in `internal_v6`: that one, and not the OS's choice (PCP sends from the address
    // named).
    let named = OpenRequest { internal_v6: Some(other), ..v6_request(41922) };
    opens_for(&lab, OVER_PCP, Route::Pcp, named, other, &[chosen]);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_second_global_address_named_in_internal_v6_is_pinholed_over_upnp() {
    // Before the fix, the AddPinhole went out from the address discovery chose (the OS's), with
    // the named one as InternalClient, and miniupnpd in secure mode answered 606 (a pinhole for
    // another host). Now every action goes from the address named, as PCP's do (above).
    let lab = Lab::up("default");
    let (chosen, other) = add_second_global(&lab);
    let named = OpenRequest { internal_v6: Some(other), ..v6_request(41923) };
    opens_for(&lab, over_upnp(), Route::Upnp, named, other, &[chosen]);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_ula_on_another_interface_is_never_the_pcp_source() {
    let lab = Lab::up("default");
    add_ula_interface(&lab);
    let stable: Ipv6Addr = STABLE.parse().unwrap();
    let before = lab.log().len();
    opens_over_both(&lab, 41930, stable, &[]);
    let log = &lab.log()[before..];
    assert!(!log.contains("fd00:77"), "the router heard from the ULA:\n{log}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_ula_of_another_interface_that_a_route_prefers_is_not_the_source_the_stable_global_is() {
    // The same ULA, and a route to the router naming it as source (a VPN client's leftover
    // `src` hint): the OS would send from it, and the router cannot answer it. Before the fix,
    // the interface searched for a stable global address was the one holding the OS's choice
    // (vpn0, none there), so the ULA itself was used: PCP got no answer, UPnP could not connect.
    // Now it is the interface the router is on (on-link prefix, or the scope).
    let lab = Lab::up("default");
    let ula = add_ula_interface(&lab);
    lab.run_ok("lan", &["ip", "-6", "route", "add", &format!("{}/128", lab.var("RTR_LAN_V6")), "dev", "eth0", "src", &ula.to_string()]);
    assert_eq!(os_source(&lab), ula, "the OS picks the ULA toward the router (else this tests nothing)");
    let stable: Ipv6Addr = STABLE.parse().unwrap();
    opens_over_both(&lab, 41935, stable, &[]);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn with_the_default_route_via_the_routers_link_local_address_pcp_opens_for_the_stable_address() {
    let lab = Lab::up("default");
    // The lab's default IPv6 route is the router's global address; a router that advertises
    // itself (RA) gives its link-local address instead, with the interface as scope.
    let before = lab.run_ok("lan", &["ip", "-6", "route", "show", "default"]);
    assert!(before.contains(&format!("via {} ", lab.var("RTR_LAN_V6"))), "the lab's own form: {before}");
    let gateway = lab.router_link_local();
    lab.run_ok("lan", &["ip", "-6", "route", "replace", "default", "via", &gateway.to_string(), "dev", "eth0"]);
    let client = lab.lan_client(OVER_PCP, false);
    let lease = lab.open_in(&lab.lan_ns(), client, v6_request(41940));
    let v6 = lease.info().v6;
    assert_eq!((v6.status, v6.route), (PortStatus::Open, Some(Route::Pcp)), "{v6:?}");
    assert_eq!(v6.router, Some(IpAddr::V6(gateway)), "asked of the link-local default router: {v6:?}");
    let stable: Ipv6Addr = STABLE.parse().unwrap();
    assert_eq!(v6.internal.map(|a| a.ip()), Some(IpAddr::V6(stable)), "for the stable global address, not the link-local source: {v6:?}");
    assert!(lab.reach("udp", STABLE, "::", 41940));
    lab.close_in(&lab.lan_ns(), lease);
    assert!(lab.rules_naming(41940).is_empty(), "left: {:?}", lab.rules_naming(41940));
    assert!(!lab.reach("udp", STABLE, "::", 41940));
    // UPnP with the same route (discovery by multicast, the LOCATION's global address).
    opens_for(&lab, over_upnp(), Route::Upnp, v6_request(41941), stable, &[]);
}

/// Open IPv4 `port` through `routes` for a second IPv4 address of the lan host, named in
/// `internal_v4`: mapped for that address, reachable there from `wan`, nothing left after close.
fn maps_a_named_second_ipv4_address(routes: Routes, route: Route, port: u16) {
    let lab = Lab::up("default");
    let second: std::net::Ipv4Addr = "192.168.77.200".parse().unwrap();
    lab.add_lan_address(&format!("{second}/24"));
    let client = lab.lan_client(routes, false);
    let request = OpenRequest { v6: false, internal_v4: Some(second), lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) };
    let lease = lab.open_in(&lab.lan_ns(), client, request);
    let v4 = lease.info().v4;
    assert_eq!((v4.status, v4.route), (PortStatus::Open, Some(route)), "{v4:?}");
    assert_eq!(v4.internal.map(|a| a.ip()), Some(IpAddr::V4(second)), "{v4:?}");
    let external = v4.external.expect("granted").port();
    assert!(lab.reach_to("udp", lab.var("EXT_V4"), external, &second.to_string(), port), "{route:?}: reaches {second}:{port}");
    lab.close_in(&lab.lan_ns(), lease);
    assert!(lab.rules_naming(port).is_empty(), "left: {:?}", lab.rules_naming(port));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_second_ipv4_address_named_in_internal_v4_is_mapped_over_pcp() {
    maps_a_named_second_ipv4_address(OVER_PCP, Route::Pcp, 41950);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_second_ipv4_address_named_in_internal_v4_is_mapped_over_upnp() {
    // As for IPv6: before the fix, AddAnyPortMapping left from discovery's address with the
    // named one as NewInternalClient, and miniupnpd in secure mode answered 606.
    maps_a_named_second_ipv4_address(over_upnp(), Route::Upnp, 41951);
}
