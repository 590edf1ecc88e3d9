//! What racing PCP/NAT-PMP with UPnP costs on a router that speaks UPnP alone (issue 17: "on a
//! UPnP-only router, no slower than today"). Port 5351 is closed as such a router has it (an
//! nft `reject`: ICMP port unreachable) or as a firewall may (`drop`: silence). A Linux router
//! rate-limits its refusals (IPv4: one a second per host after a burst of 6,
//! `net.ipv4.icmp_ratelimit`), so a program that opens ports in quick succession soon gets
//! silence instead of a refusal. The behaviour asserted: UPnP waits the PCP head start at most
//! once per family while the server stays silent (the client remembers it), never at every
//! open. The times are printed (`--nocapture`), not asserted: speed is the benchmark's
//! (`scripts/bench.sh`). Needs root and the lab packages: run by scripts/test.sh
//! (`cargo test -- --include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use labkit::Lab;
use portopen::{Client, OpenRequest, Protocol, Route, Routes};

/// Counts the library's "waited the whole head start" decisions (one line per family and open).
struct HeadStarts(Mutex<usize>);
impl log::Log for HeadStarts {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target().starts_with("portopen")
    }
    fn log(&self, r: &log::Record) {
        if r.target().starts_with("portopen") && r.args().to_string().contains("no PCP answer within the head start") {
            *self.0.lock().unwrap() += 1;
        }
    }
    fn flush(&self) {}
}
static HEAD_STARTS: HeadStarts = HeadStarts(Mutex::new(0));

fn head_starts_waited() -> usize {
    *HEAD_STARTS.0.lock().unwrap()
}

/// Closes UDP 5351 in the router with `verdict`: `reject` (an ICMP refusal, as a router
/// without PCP or NAT-PMP sends) or `drop` (silence, as a firewall may).
fn close_port_control(lab: &Lab, verdict: &str) {
    lab.run_ok("rtr", &["nft", "add", "table", "inet", "nopcp"]);
    lab.run_ok("rtr", &["nft", "add", "chain", "inet", "nopcp", "input", "{ type filter hook input priority -10; }"]);
    lab.run_ok("rtr", &["nft", "add", "rule", "inet", "nopcp", "input", "udp", "dport", "5351", verdict]);
}

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

/// On a router with 5351 closed by `verdict`: 17 raced opens in a row (one raced client),
/// alternating with opens by a UPnP-only client for the figures. Returns how many times UPnP
/// waited the whole head start.
fn opens_in_quick_succession(verdict: &str) -> usize {
    let lab = Lab::up("default");
    close_port_control(&lab, verdict);
    let raced = client(&lab, Routes::ALL);
    let upnp_only = client(&lab, Routes::only(Route::Upnp));
    let before = head_starts_waited();
    // The first open of each client discovers the gateway (~50 ms, the router's SSDP delay);
    // the next ones reuse it and take a few ms, where a 10 ms wait would show.
    open_and_close(&lab, raced, 42100);
    open_and_close(&lab, upnp_only, 42101);
    let (mut with_race, mut without) = (Vec::new(), Vec::new());
    for i in 0..16 {
        with_race.push(open_and_close(&lab, raced, 42110 + 2 * i));
        without.push(open_and_close(&lab, upnp_only, 42111 + 2 * i));
    }
    let waited = head_starts_waited() - before;
    let ms = |v: &[Duration]| v.iter().map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(" ");
    println!("5351 {verdict}: raced (default routes), ms: {}", ms(&with_race));
    println!("5351 {verdict}: --route upnp,           ms: {}", ms(&without));
    println!("5351 {verdict}: medians: raced {:?}, UPnP alone {:?}; the head start waited {waited} time(s)", median(with_race), median(without));
    waited
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn on_a_router_without_pcp_upnp_waits_the_head_start_at_most_once_per_family() {
    // One test, the two routers one after the other: the log counter is the binary's own.
    if log::set_logger(&HEAD_STARTS).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    // Refused (ICMP): before the fix, each open after the router's burst of 6 refusals got
    // silence and waited the head start (median 12.0 ms against 1.8 ms with UPnP alone).
    let refused = opens_in_quick_succession("reject");
    assert!(refused <= 2, "5351 refused: UPnP waited the PCP head start {refused} times in 17 opens (at most once per family)");
    // Dropped (silence): before the fix, every open waited it.
    let dropped = opens_in_quick_succession("drop");
    assert!(dropped <= 2, "5351 dropped: UPnP waited the PCP head start {dropped} times in 17 opens (at most once per family)");
}
