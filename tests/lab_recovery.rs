//! What the keeper does when the world changes under an open lease, against the real router:
//! the router drops off the LAN for longer than the lease (renewals fail, the lease is lost,
//! recovery backs off, and comes back when the router does), and the host's IPv6 address
//! changes (the pinhole moves to the new address). Needs root and the lab: run by
//! scripts/test.sh (`--include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use labkit::Lab;
use portopen::{Client, EventKind, Family, Lease, OpenRequest, Protocol};

fn request(port: u16, lease: u32) -> OpenRequest {
    OpenRequest { lease_secs: lease, ..OpenRequest::new(Protocol::Udp, port) }
}

/// An event as the test saw it: when it was polled (from the test's start), what it was.
#[derive(Clone, Debug)]
struct Seen {
    at: Duration,
    family: Family,
    kind: EventKind,
    address: Option<SocketAddr>,
    message: String,
}

fn poll(client: &Client, start: Instant, into: &mut Vec<Seen>) {
    while let Some(e) = client.poll_event() {
        into.push(Seen { at: start.elapsed(), family: e.family, kind: e.kind, address: e.address, message: e.message });
    }
}

fn count(seen: &[Seen], family: Family, kind: EventKind) -> usize {
    seen.iter().filter(|e| e.family == family && e.kind == kind).count()
}

/// Figures for the test log, on the real stderr (the harness does not capture it).
fn report(line: String) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Counts the M-SEARCH datagrams a namespace sends, per family, with nftables counters on its
/// output hook: what the client really put on the wire while the router was away.
struct SearchCounter<'a> {
    lab: &'a Lab,
    ns: &'static str,
}

impl<'a> SearchCounter<'a> {
    fn install(lab: &'a Lab, ns: &'static str) -> SearchCounter<'a> {
        for cmd in [
            "add table inet po_count",
            "add chain inet po_count out { type filter hook output priority 0; policy accept; }",
            "add counter inet po_count ssdp4",
            "add counter inet po_count ssdp6",
            "add rule inet po_count out meta nfproto ipv4 udp dport 1900 counter name ssdp4",
            "add rule inet po_count out meta nfproto ipv6 udp dport 1900 counter name ssdp6",
        ] {
            let out = lab.exec(ns, &["nft", cmd]);
            assert!(out.status.success(), "nft {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        }
        SearchCounter { lab, ns }
    }

    /// M-SEARCH datagrams sent so far over (IPv4, IPv6).
    fn read(&self) -> (u64, u64) {
        let out = self.lab.exec(self.ns, &["nft", "list", "counters", "table", "inet", "po_count"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let packets = |name: &str| -> u64 {
            let block = text.split("counter ").find(|b| b.starts_with(name)).unwrap_or_else(|| panic!("counter {name} in {text}"));
            let n = block.split("packets ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or_else(|| panic!("packets of {name} in {text}"));
            n.parse().unwrap()
        };
        (packets("ssdp4"), packets("ssdp6"))
    }
}

/// Start times of bursts of M-SEARCHes in a series of (time, total sent) samples: one discovery
/// sends its searches within ~0.3 s (two rounds), then listens to its deadline.
fn bursts(samples: &[(Duration, u64)]) -> Vec<Duration> {
    let mut starts = Vec::new();
    let mut last_rise: Option<Duration> = None;
    for pair in samples.windows(2) {
        let ((_, before), (at, now)) = (pair[0], pair[1]);
        if now > before {
            if last_rise.is_none_or(|t| at - t > Duration::from_millis(800)) {
                starts.push(at);
            }
            last_rise = Some(at);
        }
    }
    starts
}

fn gaps(starts: &[Duration]) -> Vec<f64> {
    starts.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect()
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn leases_lost_while_the_router_is_off_the_lan_longer_than_the_lease_come_back_with_it() {
    const PORT: u16 = 44700;
    const LEASE: u32 = 6; // renewed every 3 s
                          // Long enough for the back-off to reach 8 s on both families (attempts ~4 s apart at first:
                          // each family's discovery, 2 s, waits for the other's).
    const OUTAGE: Duration = Duration::from_secs(34);
    let lab = Lab::up("default");
    let config = lab.config();
    // Leaked, never dropped outside the namespace; closed below on a namespace thread.
    let client: &'static Client = lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())));
    let lease: &'static Lease = lab.in_lan(move || Box::leak(Box::new(client.open(&request(PORT, LEASE)).unwrap())));
    let info = lease.info();
    assert!(info.v4.status.is_open() && info.v6.status.is_open(), "{info:?}");
    assert!(lab.reach_v6("udp", PORT) && lab.reach_v4("udp", info.v4.external.unwrap().port()), "reachable before the outage");
    let searches = SearchCounter::install(&lab, "lan");

    // The router's LAN bridge goes down: the host keeps its link, the router answers nothing.
    let start = Instant::now();
    let mut seen = Vec::new();
    poll(client, start, &mut seen);
    let down = lab.exec("rtr", &["ip", "link", "set", lab.var("LAN_BRIDGE"), "down"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let mut samples: Vec<(Duration, u64, u64)> = Vec::new();
    let mut while_lost = None;
    while start.elapsed() < OUTAGE {
        let (v4, v6) = searches.read();
        samples.push((start.elapsed(), v4, v6));
        poll(client, start, &mut seen);
        if while_lost.is_none() && count(&seen, Family::V4, EventKind::Failed) > 0 && count(&seen, Family::V6, EventKind::Failed) > 0 {
            while_lost = Some(lease.info());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let rules_at_end_of_outage = lab.router_rules();
    let up = lab.exec("rtr", &["ip", "link", "set", lab.var("LAN_BRIDGE"), "up"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let up_at = start.elapsed();
    let during: Vec<Seen> = seen.clone();

    // Back within the longest back-off (30 s) plus a discovery and an action, with margin.
    let deadline = Instant::now() + Duration::from_secs(45);
    while count(&seen, Family::V4, EventKind::Recovered) == 0 || count(&seen, Family::V6, EventKind::Recovered) == 0 {
        assert!(Instant::now() < deadline, "not recovered 45 s after the router came back: {seen:#?}");
        let (v4, v6) = searches.read();
        samples.push((start.elapsed(), v4, v6));
        poll(client, start, &mut seen);
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered_at = |f| seen.iter().find(|e| e.family == f && e.kind == EventKind::Recovered).unwrap().at;
    let (back4, back6) = (recovered_at(Family::V4), recovered_at(Family::V6));
    let info = lease.info();
    let reach6 = lab.reach_v6("udp", PORT);
    let reach4 = info.v4.external.is_some_and(|a| lab.reach_v4("udp", a.port()));

    let lost_at = |f| during.iter().find(|e| e.family == f && e.kind == EventKind::Lost).map(|e| e.at);
    let v4_bursts = bursts(&samples.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>());
    let v6_bursts = bursts(&samples.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>());
    let (g4, g6) = (gaps(&v4_bursts), gaps(&v6_bursts));
    report(format!(
        "lab_recovery outage: router off the LAN for {:.1} s (lease {LEASE} s); lost IPv4 at {:?}, IPv6 at {:?}; searches every {g4:.1?} s (IPv4), {g6:.1?} s (IPv6); recovered IPv4 {:.1} s and IPv6 {:.1} s after the router came back",
        up_at.as_secs_f64(),
        lost_at(Family::V4),
        lost_at(Family::V6),
        (back4 - up_at).as_secs_f64(),
        (back6 - up_at).as_secs_f64(),
    ));

    for f in [Family::V4, Family::V6] {
        // The renewal fails on a router that stopped answering; the loss and the first failed
        // recovery are each reported once, however many times recovery is tried.
        assert_eq!(count(&during, f, EventKind::Lost), 1, "{f}: {during:#?}");
        assert_eq!(count(&during, f, EventKind::Failed), 1, "{f}: {during:#?}");
        assert_eq!(count(&during, f, EventKind::Recovered), 0, "{f}: nothing to recover while the router is away: {during:#?}");
        let lost = during.iter().find(|e| e.family == f && e.kind == EventKind::Lost).unwrap();
        assert!(lost.message.contains("stopped answering"), "{f}: {lost:?}");
    }
    let while_lost = while_lost.expect("both families failed their first recovery during the outage");
    for fl in [&while_lost.v4, &while_lost.v6] {
        assert_eq!(fl.status, portopen::PortStatus::Lost, "{fl:?}");
        assert!(fl.message.starts_with("recovering: "), "{fl:?}");
    }
    // The router really forgot them (their 6 s leases ran out during the outage): recovered
    // means opened again, not found still there.
    let ours: Vec<&String> = rules_at_end_of_outage.iter().filter(|r| r.contains(&PORT.to_string())).collect();
    assert!(ours.is_empty(), "rules of the lease left on the router after {OUTAGE:?} without renewal: {ours:?}");
    // Back-off: the gaps between recovery attempts (each a discovery: a burst of M-SEARCHes)
    // grow. Without it every attempt would follow the last after the same ~4 s.
    for (f, b, g) in [(Family::V4, &v4_bursts, &g4), (Family::V6, &v6_bursts, &g6)] {
        assert!(b.len() >= 4, "{f}: recovery attempts seen on the wire at {b:?}");
        let (min, max) = (g.iter().copied().fold(f64::MAX, f64::min), g.iter().copied().fold(0.0, f64::max));
        assert!(max >= 2.0 * min, "{f}: gaps between attempts do not grow: {g:?}");
    }
    assert!(info.v4.status.is_open() && info.v6.status.is_open(), "{info:?}");
    assert!(reach6, "IPv6 reachable from wan again");
    assert!(reach4, "IPv4 reachable from wan again at {:?}", info.v4.external);
    lab.in_lan(move || {
        lease.close();
        client.close();
    });
    let left: Vec<String> = lab.router_rules().into_iter().filter(|r| r.contains(&PORT.to_string())).collect();
    assert!(left.is_empty(), "rules left after close: {left:?}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_new_host_ipv6_address_gets_the_pinhole_and_the_old_address_loses_it() {
    const PORT: u16 = 44800;
    // Renewed every 10 s; the keeper looks at the host's address every 5 s between renewals
    // (ADDRESS_CHECK_INTERVAL), so the move must come before the first renewal.
    const LEASE: u32 = 20;
    const ADDRESS_CHECK: Duration = Duration::from_secs(5);
    let lab = Lab::up("default");
    let host = lab.add_hosts(1).remove(0);
    let (old, ns) = (host.v6, host.ns.clone());
    let new = Ipv6Addr::from(u128::from(old) | (0xa << 16)); // 2001:db8:1::a:11
    let config = lab.config();
    let client: &'static Client = labkit::in_netns(&ns, move || Box::leak(Box::new(Client::new(config).unwrap())));
    let lease: &'static Lease = labkit::in_netns(&ns, move || Box::leak(Box::new(client.open(&request(PORT, LEASE)).unwrap())));
    let info = lease.info();
    assert_eq!(info.v6.external, Some(SocketAddr::from((old, PORT))), "{info:?}");
    let (old_s, new_s) = (old.to_string(), new.to_string());
    // miniupnpd's nftables rules match the raw header bytes: the address shows up as
    // `@nh,192,128 0x20010db8...`, not as text.
    let has_rule_for = |rules: &[String], addr: Ipv6Addr| {
        let raw = format!("0x{:032x}", u128::from(addr));
        rules.iter().any(|r| r.contains(&raw) && r.contains(&format!("dport {PORT}")))
    };
    let v4_port = info.v4.external.expect("IPv4 open").port();
    assert!(lab.reach_in(&ns, "udp", &old_s, PORT, &old_s, PORT), "pinhole for the old address works");
    assert!(has_rule_for(&lab.router_rules(), old), "{:?}", lab.router_rules());

    // A new address arrives, the old one goes (a new prefix, or a privacy address retired).
    let start = Instant::now();
    let mut seen = Vec::new();
    poll(client, start, &mut seen);
    lab.replace_host_v6(&host, old, new);
    // Noticed within one address check, then re-opened at once: before the renewal is due.
    let deadline = Instant::now() + ADDRESS_CHECK + Duration::from_secs(10);
    let moved =
        |seen: &[Seen]| seen.iter().any(|e| e.family == Family::V6 && e.kind == EventKind::Recovered && e.address == Some(SocketAddr::from((new, PORT))));
    while !moved(&seen) {
        assert!(Instant::now() < deadline, "the pinhole did not move to {new}: {seen:#?}");
        poll(client, start, &mut seen);
        std::thread::sleep(Duration::from_millis(50));
    }
    let moved_at = seen.iter().find(|e| e.kind == EventKind::Recovered).unwrap().at;
    let lost = seen.iter().find(|e| e.family == Family::V6 && e.kind == EventKind::Lost).expect("a Lost event before the move");
    assert!(lost.message.contains("address changed") && lost.message.contains(&old_s) && lost.message.contains(&new_s), "{lost:?}");
    assert_eq!(lease.info().v6.external, Some(SocketAddr::from((new, PORT))));
    assert!(moved_at < ADDRESS_CHECK + Duration::from_secs(3), "moved after {moved_at:?}: by the address check, not at the renewal (10 s)");
    assert_eq!(count(&seen, Family::V6, EventKind::Renewed), 0, "the move came before any renewal: {seen:#?}");

    assert!(lab.reach_in(&ns, "udp", &new_s, PORT, &new_s, PORT), "packets from wan reach the new address");
    assert!(!lab.reach_in(&ns, "udp", &old_s, PORT, "::", PORT), "nothing reaches the old address");
    assert!(has_rule_for(&lab.router_rules(), new), "{:?}", lab.router_rules());
    // The old pinhole cannot be deleted by us any more: the request would have to come from the
    // old address (secure mode), which the host no longer has. Unrenewed, it expires with its
    // lease: gone within a lease of the change, plus the router's clean-up.
    let gone_by = Instant::now() + Duration::from_secs(LEASE as u64 + 10);
    while has_rule_for(&lab.router_rules(), old) {
        assert!(Instant::now() < gone_by, "the old address's pinhole is still on the router: {:?}", lab.router_rules());
        std::thread::sleep(Duration::from_millis(250));
    }
    let old_gone_at = start.elapsed();
    // IPv4 was not disturbed.
    assert_eq!(count(&seen, Family::V4, EventKind::Lost), 0, "{seen:#?}");
    assert!(lab.reach_in(&ns, "udp", lab.var("EXT_V4"), v4_port, "0.0.0.0", PORT), "IPv4 still reachable");
    report(format!(
        "lab_recovery address change: pinhole moved to {new} {:.1} s after the change (lease {LEASE} s); the old address's pinhole left the router after {:.1} s",
        moved_at.as_secs_f64(),
        old_gone_at.as_secs_f64()
    ));
    labkit::in_netns(&ns, move || {
        lease.close();
        client.close();
    });
    let left: Vec<String> = lab.router_rules().into_iter().filter(|r| r.contains(&PORT.to_string())).collect();
    assert!(left.is_empty(), "rules left after close: {left:?}");
}
