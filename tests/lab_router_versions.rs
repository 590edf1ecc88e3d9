//! Where routers of different versions answer differently, portopen must report the same truth
//! (issue 20). Each test runs against Debian 12's miniupnpd 2.3.1 and Debian 13's 2.3.9 (built
//! by tests/lab/build-miniupnpd.sh), whatever router the test command's matrix picks.
//!
//! - A pinhole the router already dropped: DeletePinhole answers 402 on 2.3.1, 501 on 2.3.9
//!   (the spec says 704). Closing it must say "removed" (it is gone), not warn.
//! - AddPinhole on a pinhole that exists (a re-open after a crash): 2.3.1 returns its id but sets
//!   a wrong expiry (its clock counted twice: the asked lease plus the router's uptime); 2.3.9
//!   sets the asked lease. The router must end up holding the lease asked for.
//!
//! Needs root and the lab: run by scripts/test.sh (`--include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use labkit::{Lab, Router};
use portopen::{Client, Event, EventKind, Family, OpenRequest, PortStatus, Protocol};

fn request(port: u16, lease: u32) -> OpenRequest {
    OpenRequest { lease_secs: lease, ..OpenRequest::new(Protocol::Udp, port) }
}

fn router(version: &str) -> Router<'_> {
    Router { version: Some(version), ..Router::default() }
}

/// Warnings the library logged (this test binary's logger keeps them).
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct KeepWarnings;

impl log::Log for KeepWarnings {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            WARNINGS.lock().unwrap().push(format!("{}: {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

fn keep_warnings() {
    // Once per test binary; a second call finds the logger set, which is fine.
    if log::set_logger(&KeepWarnings).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

fn warnings_about(lease_id: u64) -> Vec<String> {
    WARNINGS.lock().unwrap().iter().filter(|w| w.contains(&format!("lease {lease_id}"))).cloned().collect()
}

fn closing_a_pinhole_the_router_already_dropped_is_reported_removed_without_a_warning(version: &str) {
    keep_warnings();
    let lab = Lab::up_with("default", &router(version));
    assert_eq!(lab.router_version(), version);
    let config = lab.config();
    const PORT: u16 = 44600;
    // Leaked, never dropped outside the namespace (a drop closes, and that traffic must stay
    // in the lab even when an assertion fails).
    let client: &'static Client = lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())));
    let lease: &'static portopen::Lease = lab.in_lan(move || Box::leak(Box::new(client.open(&request(PORT, 600)).unwrap())));
    assert!(lease.info().v6.status.is_open(), "{:?}", lease.info());
    assert!(lab.reach_v6("udp", PORT));

    // The router drops the pinhole behind portopen's back (as its expiry or a reboot would):
    // the reference client deletes it by its id, from the host that owns it.
    let held = lab.router_pinholes();
    let uid = held.iter().find(|p| p.port == PORT).unwrap_or_else(|| panic!("no pinhole for {PORT} on the router: {held:?}")).uid;
    let deleted = lab.exec("lan", &["upnpc", "-u", &lab.location(true), "-D", &uid.to_string()]);
    assert!(deleted.status.success(), "upnpc -D {uid}: {}", String::from_utf8_lossy(&deleted.stdout));
    assert!(lab.router_pinholes().iter().all(|p| p.port != PORT), "upnpc removed pinhole {uid}: {:?}", lab.router_pinholes());
    assert!(!lab.reach_v6("udp", PORT), "the dropped pinhole no longer lets packets in");

    let events: Vec<Event> = lab.in_lan(move || {
        lease.close();
        std::iter::from_fn(|| client.poll_event()).collect()
    });
    let closed = events.iter().find(|e| e.family == Family::V6 && e.kind == EventKind::Closed);
    let closed = closed.unwrap_or_else(|| panic!("no IPv6 Closed event: {events:?}"));
    let info = lease.info();
    assert_eq!(info.v6.status, PortStatus::Closed, "{:?}", info.v6);
    // Gone is what close wanted: no "not removed from the router", no warning to chase.
    assert!(!closed.message.contains("not removed"), "miniupnpd {version}: the Closed event says {:?}", closed.message);
    assert!(!info.v6.message.contains("not removed"), "miniupnpd {version}: the lease says {:?}", info.v6.message);
    let warned = warnings_about(lease.id());
    assert!(warned.is_empty(), "miniupnpd {version}: warnings for a pinhole that is gone: {warned:?}");
    // And the truth: nothing of it is left on the router (not re-added by a check).
    let left: Vec<String> = lab.router_rules().into_iter().filter(|r| r.contains(&PORT.to_string())).collect();
    assert!(left.is_empty(), "rules left on the router after close: {left:?}");
    assert!(!lab.reach_v6("udp", PORT) && !lab.reach_v4("udp", PORT));
    lab.in_lan(move || client.close());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn closing_a_pinhole_miniupnpd_2_3_9_already_dropped_is_reported_removed_without_a_warning() {
    closing_a_pinhole_the_router_already_dropped_is_reported_removed_without_a_warning("2.3.9");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn closing_a_pinhole_miniupnpd_2_3_1_already_dropped_is_reported_removed_without_a_warning() {
    closing_a_pinhole_the_router_already_dropped_is_reported_removed_without_a_warning("2.3.1");
}

fn a_reopen_after_a_crash_leaves_the_router_holding_the_asked_lease(version: &str) {
    let lab = Lab::up_with("default", &router(version));
    assert_eq!(lab.router_version(), version);
    const PORT: u16 = 44700;
    const LEASE: u32 = 120;
    // A game opens (no journal: nothing tells the next start what was left) and crashes.
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.lan_ns(), labkit::cli(), "open", "udp", &PORT.to_string(), "--lease", &LEASE.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut line, mut opened) = (String::new(), 0);
    while opened < 2 {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "CLI ended before opening");
        opened += usize::from(line.contains(": open at"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = lab.router_pinholes();
    assert!(before.iter().any(|p| p.port == PORT), "the crash left the pinhole: {before:?}");

    // Started again, it asks for the same pinhole: AddPinhole meets the one left behind.
    let config = lab.config();
    let client: &'static Client = lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())));
    let lease: &'static portopen::Lease = lab.in_lan(move || Box::leak(Box::new(client.open(&request(PORT, LEASE)).unwrap())));
    let info = lease.info();
    assert!(info.v6.status.is_open(), "{:?}", info.v6);
    let held = lab.router_pinholes();
    let pinhole = held.iter().find(|p| p.port == PORT).unwrap_or_else(|| panic!("no pinhole for {PORT}: {held:?}"));
    assert_eq!(held.iter().filter(|p| p.port == PORT).count(), 1, "one pinhole for the port: {held:?}");
    eprintln!(
        "lab_router_versions: miniupnpd {version}: re-open asked {LEASE} s, the router holds {} s, portopen reports {} s",
        pinhole.lease_left, info.v6.lease_secs
    );
    // The router holds what was asked (a few seconds have passed since) ...
    assert!(
        (i64::from(LEASE) - 10..=i64::from(LEASE)).contains(&pinhole.lease_left),
        "miniupnpd {version}: asked {LEASE} s, the router holds pinhole {} for {} s",
        pinhole.uid,
        pinhole.lease_left
    );
    // ... and portopen reports the lease the router holds.
    assert!(
        (i64::from(info.v6.lease_secs) - pinhole.lease_left).abs() <= 10,
        "portopen reports {} s, the router holds {} s",
        info.v6.lease_secs,
        pinhole.lease_left
    );
    lab.in_lan(move || {
        lease.close();
        client.close();
    });
    assert!(lab.router_pinholes().iter().all(|p| p.port != PORT), "{:?}", lab.router_pinholes());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_reopen_after_a_crash_leaves_miniupnpd_2_3_1_holding_the_asked_lease() {
    a_reopen_after_a_crash_leaves_the_router_holding_the_asked_lease("2.3.1");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_reopen_after_a_crash_leaves_miniupnpd_2_3_9_holding_the_asked_lease() {
    a_reopen_after_a_crash_leaves_the_router_holding_the_asked_lease("2.3.9");
}
