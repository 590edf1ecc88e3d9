//! What racing PCP/NAT-PMP with UPnP costs on a router that speaks UPnP alone (issue 17: "on a
//! UPnP-only router, no slower than today"). Port 5351 is closed as such a router has it (an
//! nft `reject`: ICMP port unreachable). A Linux router rate-limits those refusals (IPv4: one a
//! second per host after a burst of 6, `net.ipv4.icmp_ratelimit`), so a program that opens
//! ports in quick succession soon gets silence instead of a refusal: each open must still not
//! wait the PCP head start. Needs root and the lab packages: run by scripts/test.sh
//! (`cargo test -- --include-ignored`); `--nocapture` prints the figures.
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::time::{Duration, Instant};

use labkit::Lab;
use portopen::{Client, OpenRequest, Protocol, Route, Routes};

/// Closes UDP 5351 in the router with `verdict`: `reject` (an ICMP refusal, as a router
/// without PCP or NAT-PMP sends) or `drop` (silence, as a firewall may).
fn close_port_control(lab: &Lab, verdict: &str) {
    lab.run_ok("rtr", &["nft", "add", "table", "inet", "nopcp"]);
    lab.run_ok("rtr", &["nft", "add", "chain", "inet", "nopcp", "input", "{ type filter hook input priority -10; }"]);
    lab.run_ok("rtr", &["nft", "add", "rule", "inet", "nopcp", "input", "udp", "dport", "5351", verdict]);
}

/// A client in the lan namespace (without labkit's debug log: it would weigh on the timings,
/// more on the raced client's, which logs more).
fn client(lab: &Lab, routes: Routes) -> &'static Client {
    let mut config = lab.config_all_routes();
    config.routes = routes;
    lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())))
}

/// Opens `port` (both families), then closes it; returns how long the open took.
fn open_and_close(lab: &Lab, client: &'static Client, port: u16) -> Duration {
    lab.in_lan(move || {
        let started = Instant::now();
        let lease = client.open(&OpenRequest { lease_secs: 600, ..OpenRequest::new(Protocol::Udp, port) }).unwrap();
        let took = started.elapsed();
        let info = lease.info();
        assert_eq!((info.v4.route, info.v6.route), (Some(Route::Upnp), Some(Route::Upnp)), "{info:?}");
        lease.close();
        took
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Opens 16 ports one after the other with each client (after a first open that discovers
/// the gateway), alternating; returns the open times of the raced client and of the UPnP-only
/// one, printed.
fn opens_in_quick_succession(lab: &Lab) -> (Duration, Duration) {
    let raced = client(lab, Routes::ALL);
    let upnp_only = client(lab, Routes::only(Route::Upnp));
    // The first open of each client discovers the gateway (~50 ms, the router's SSDP delay);
    // the next ones reuse it and take a few ms, where a 10 ms wait would show.
    open_and_close(lab, raced, 42100);
    open_and_close(lab, upnp_only, 42101);
    let (mut with_race, mut without) = (Vec::new(), Vec::new());
    for i in 0..16 {
        with_race.push(open_and_close(lab, raced, 42110 + 2 * i));
        without.push(open_and_close(lab, upnp_only, 42111 + 2 * i));
    }
    let ms = |v: &[Duration]| v.iter().map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(" ");
    println!("raced (default routes), ms: {}", ms(&with_race));
    println!("--route upnp,           ms: {}", ms(&without));
    let (raced_median, upnp_median) = (median(with_race), median(without));
    println!("medians: raced {raced_median:?}, UPnP alone {upnp_median:?}");
    (raced_median, upnp_median)
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn opens_in_quick_succession_on_a_upnp_only_router_are_not_slowed_by_the_pcp_probe() {
    let lab = Lab::up("default");
    close_port_control(&lab, "reject");
    let (raced, upnp) = opens_in_quick_succession(&lab);
    assert!(raced <= upnp + Duration::from_millis(4), "the race made opens slower on a UPnP-only router: median {raced:?} against {upnp:?} with UPnP alone");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn on_a_router_that_drops_pcp_only_the_first_open_waits_the_head_start() {
    let lab = Lab::up("default");
    close_port_control(&lab, "drop");
    let (raced, upnp) = opens_in_quick_succession(&lab);
    assert!(raced <= upnp + Duration::from_millis(4), "each open waited for PCP on a router that drops it: median {raced:?} against {upnp:?} with UPnP alone");
}
