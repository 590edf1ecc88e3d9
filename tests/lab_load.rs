//! Many games behind one real router for minutes: 24 LAN hosts (one namespace each), each with
//! its own client on its own thread, open a port over both families, check what the router
//! answered, close it, and again, until `PORTOPEN_LOAD_SECS` (default 120) have passed. Half of
//! them ask for the same port, so the router must hand out distinct external IPv4 ports.
//! Afterwards nothing is left on the router and nothing in the test process (descriptors,
//! threads; memory growth measured). Needs root and the lab: run by scripts/test.sh
//! (`--include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns) and read /proc.
#![cfg(target_os = "linux")]

mod labkit;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use labkit::{Lab, LabHost};
use portopen::{Client, ClientConfig, EventKind, Family, FamilyLease, Lease, LeaseInfo, OpenRequest, PortStatus, Protocol};

const CLIENTS: usize = 24;
/// Clients 0..SHARED_PORT_CLIENTS all open this internal port (and wish for it externally).
const SHARED_PORT: u16 = 45000;
const SHARED_PORT_CLIENTS: usize = 12;
/// The others open a port of their own: 45100 + client index.
const OWN_PORT_BASE: u16 = 45100;
/// Clients start this far apart: players do not all press "host" in the same millisecond, and a
/// discovery storm is not what this test measures. After its first open a client uses its
/// cached gateway.
const START_SPACING: Duration = Duration::from_millis(100);
/// Reachability probes running at once (each starts a python process; two cores).
const PROBES_AT_ONCE: usize = 2;
/// How long a client holds each lease before closing it: 100..300 ms, varied so the clients
/// drift apart and many leases of the shared port are held at the same time.
fn hold(index: usize, cycle: usize) -> Duration {
    Duration::from_millis(100 + ((index * 37 + cycle * 53) % 200) as u64)
}
/// Allowed RSS growth between the first and the last quarter of the run.
const RSS_GROWTH_MAX_KIB: i64 = 8 * 1024;

fn load_duration() -> Duration {
    let secs = std::env::var("PORTOPEN_LOAD_SECS").ok().map(|s| s.parse::<u64>().expect("PORTOPEN_LOAD_SECS: whole seconds")).unwrap_or(120);
    Duration::from_secs(secs)
}

/// What the run shares across clients.
struct Shared {
    lab: Lab,
    /// External IPv4 ports held right now (from the router's answer until the close starts), by
    /// protocol, with the client holding it. Holding one a second client also holds is a failure.
    held: Mutex<HashMap<(Protocol, u16), usize>>,
    probes: Semaphore,
}

struct Semaphore {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Semaphore {
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            free = self.freed.wait(free).unwrap();
        }
        *free -= 1;
        drop(free);
        let out = f();
        *self.free.lock().unwrap() += 1;
        self.freed.notify_one();
        out
    }
}

/// What one client saw. Every list of strings is a list of problems.
#[derive(Default)]
struct Report {
    opens: usize,
    closes: usize,
    first_open_ms: f64,
    open_ms: Vec<f64>,
    close_ms: Vec<f64>,
    ports_seen: HashSet<(Protocol, u16)>,
    reach_checks: usize,
    /// One family refused (the other opened): counted and shown, judged at the end.
    refusals: Vec<(Family, PortStatus, Option<u16>, String)>,
    /// An open that got nothing on either family.
    nothing_opened: Vec<String>,
    wrong_answers: Vec<String>,
    duplicates: Vec<String>,
    unreachable: Vec<String>,
    close_problems: Vec<String>,
    bad_events: Vec<String>,
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
    }
}

fn port_of(index: usize) -> u16 {
    if index < SHARED_PORT_CLIENTS {
        SHARED_PORT
    } else {
        OWN_PORT_BASE + index as u16
    }
}

/// Is the router's answer for one family what was asked? (`None`: yes.)
fn wrong_answer(fl: &FamilyLease, host: &LabHost, port: u16, ext_v4: &str) -> Option<String> {
    let ok = match fl.family {
        Family::V4 => {
            fl.internal == Some(SocketAddr::from((host.v4, port)))
                && fl.external.is_some_and(|a| a.ip().to_string() == ext_v4 && a.port() != 0)
                && fl.lease_secs > 0
        }
        Family::V6 => fl.internal == Some(SocketAddr::from((host.v6, port))) && fl.external == fl.internal && fl.lease_secs > 0,
    };
    (!ok).then(|| format!("{}: {fl:?}", fl.family))
}

/// One client's whole run, on a thread inside its host's namespace (its keeper thread is there
/// too). The client is created, used and dropped on this thread.
fn run_client(index: usize, host: LabHost, config: ClientConfig, shared: Arc<Shared>, deadline: Instant) -> Report {
    let mut report = Report::default();
    let lab = &shared.lab;
    let ext_v4 = lab.var("EXT_V4").to_string();
    let port = port_of(index);
    let client = Client::new(config).expect("client");
    let mut cycle = 0usize;
    loop {
        // Past the deadline, one last lease (TCP) is opened and probed, then the client stops.
        let last = Instant::now() >= deadline;
        let protocol = if last || cycle % 2 == 1 { Protocol::Tcp } else { Protocol::Udp };
        let started = Instant::now();
        let opened = client.open(&OpenRequest::new(protocol, port));
        let open_ms = started.elapsed().as_secs_f64() * 1000.0;
        if cycle == 0 {
            report.first_open_ms = open_ms;
        } else {
            report.open_ms.push(open_ms);
        }
        report.opens += 1;
        match opened {
            Err(e) => report.nothing_opened.push(format!("open #{cycle}: {e}")),
            Ok(lease) => {
                let info = lease.info();
                check_answer(&info, &host, port, &ext_v4, cycle, &mut report);
                // The IPv4 external port is held from the router's answer until the close starts.
                let held = info.v4.external.filter(|_| info.v4.status.is_open()).map(|a| (protocol, a.port()));
                if let Some(key) = held {
                    report.ports_seen.insert(key);
                    let mut all = shared.held.lock().unwrap();
                    if let Some(other) = all.insert(key, index) {
                        report.duplicates.push(format!("{}/{} given to client {index} while client {other} holds it", key.1, proto_name(protocol)));
                    }
                }
                if cycle == 0 || last {
                    probe(&shared, &host, &lease, &info, &mut report);
                } else {
                    std::thread::sleep(hold(index, cycle));
                }
                if let Some(key) = held {
                    let mut all = shared.held.lock().unwrap();
                    if all.get(&key) == Some(&index) {
                        all.remove(&key);
                    }
                }
                let started = Instant::now();
                lease.close();
                report.close_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                report.closes += 1;
                let after = lease.info();
                for fl in [&after.v4, &after.v6] {
                    // A close that could not delete says so in the message ("not removed ...").
                    if fl.status != PortStatus::Closed || !fl.message.is_empty() {
                        report.close_problems.push(format!("close #{cycle} {}: {:?} {}", fl.family, fl.status, fl.message));
                    }
                }
            }
        }
        while let Some(ev) = client.poll_event() {
            // Opened, Failed (a family refused at open) and Closed come from our own calls; the
            // keeper has nothing to renew (hour-long leases) and nothing may be lost.
            if matches!(ev.kind, EventKind::Lost | EventKind::Recovered | EventKind::Renewed) {
                report.bad_events.push(format!("cycle {cycle}: {} {} {}", ev.family, ev.kind.name(), ev.message));
            }
        }
        cycle += 1;
        if last {
            break;
        }
    }
    drop(client);
    report
}

fn check_answer(info: &LeaseInfo, host: &LabHost, port: u16, ext_v4: &str, cycle: usize, report: &mut Report) {
    let mut any = false;
    for fl in [&info.v4, &info.v6] {
        if fl.status.is_open() {
            any = true;
            if let Some(w) = wrong_answer(fl, host, port, ext_v4) {
                report.wrong_answers.push(format!("open #{cycle} {w}"));
            }
        } else {
            report.refusals.push((fl.family, fl.status, fl.upnp_code, fl.message.clone()));
        }
    }
    if !any {
        report.nothing_opened.push(format!("open #{cycle}: IPv4 {:?} {:?}; IPv6 {:?} {:?}", info.v4.status, info.v4.message, info.v6.status, info.v6.message));
    }
}

/// Packets from `wan` reach the host through both families of this lease while it is held.
fn probe(shared: &Shared, host: &LabHost, lease: &Lease, info: &LeaseInfo, report: &mut Report) {
    let lab = &shared.lab;
    let proto = proto_name(info.protocol);
    let port = info.internal_port;
    shared.probes.run(|| {
        if let Some(ext) = info.v4.external.filter(|_| info.v4.status.is_open()) {
            report.reach_checks += 1;
            if !lab.reach_in(&host.ns, proto, &ext.ip().to_string(), ext.port(), "0.0.0.0", port) {
                report.unreachable.push(format!("lease {} IPv4 {ext}/{proto} -> {}:{port}", lease.id(), host.v4));
            }
        }
        if info.v6.status.is_open() {
            report.reach_checks += 1;
            let v6 = host.v6.to_string();
            if !lab.reach_in(&host.ns, proto, &v6, port, &v6, port) {
                report.unreachable.push(format!("lease {} IPv6 [{v6}]:{port}/{proto}", lease.id()));
            }
        }
    });
}

/// Why one family was refused, if the router legitimately turned it away under contention: no
/// external port left (718/728 after the retries), 501 Action Failed, or connections its full
/// accept queue kept dropping until the connect gave up (miniupnpd listens with a backlog of 5,
/// which two dozen clients overflow thousands of times a run; checked against the router's
/// ListenOverflows counter at the end). Anything else (another UPnP error, no answer to a
/// request it accepted, a discovery that found nothing) is a failure.
fn contention_kind(status: PortStatus, code: Option<u16>, message: &str) -> Option<&'static str> {
    match (status, code) {
        (PortStatus::NoPortsAvailable, _) => Some("no ports available"),
        (PortStatus::Failed, Some(501)) => Some("501 Action Failed"),
        _ if message.starts_with("timed out") && message.ends_with(": connecting") => Some("connection dropped by the router's full accept queue"),
        _ => None,
    }
}

/// The router's count of connections dropped because its listen queue was full.
fn router_listen_overflows(lab: &Lab) -> u64 {
    let out = lab.exec("rtr", &["cat", "/proc/net/netstat"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    assert_eq!(lines.len(), 2, "TcpExt lines in the router's /proc/net/netstat: {text}");
    let (names, values) = (lines[0].split_whitespace(), lines[1].split_whitespace());
    names.zip(values).find(|(n, _)| *n == "ListenOverflows").map(|(_, v)| v.parse().unwrap()).expect("ListenOverflows")
}

fn proc_status(key: &str) -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in /proc/self/status"));
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().unwrap()
}
fn rss_kib() -> i64 {
    proc_status("VmRSS:")
}
fn threads() -> i64 {
    proc_status("Threads:")
}
fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as i64
}

fn median_max(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (s[s.len() / 2], s[s.len() - 1])
}

fn mean(v: &[i64]) -> f64 {
    v.iter().sum::<i64>() as f64 / v.len().max(1) as f64
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn two_dozen_hosts_open_and_close_for_minutes_without_conflicts_or_leaks() {
    let duration = load_duration();
    let lab = Lab::up("default");
    let hosts = lab.add_hosts(CLIENTS);
    let config = lab.config();
    let shared = Arc::new(Shared { lab, held: Mutex::new(HashMap::new()), probes: Semaphore { free: Mutex::new(PROBES_AT_ONCE), freed: Condvar::new() } });

    let (fds_before, threads_before, rss_before) = (open_fds(), threads(), rss_kib());
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let (host, config, shared) = (host.clone(), config.clone(), shared.clone());
            labkit::spawn_in_netns(&host.ns.clone(), move || {
                std::thread::sleep(START_SPACING * i as u32);
                run_client(i, host, config, shared, deadline)
            })
        })
        .collect();

    // RSS every 250 ms while the clients run.
    let mut rss: Vec<(Duration, i64)> = Vec::new();
    while handles.iter().any(|h| !h.is_finished()) {
        rss.push((start.elapsed(), rss_kib()));
        std::thread::sleep(Duration::from_millis(250));
    }
    let ran = start.elapsed();
    let reports: Vec<Report> = handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();

    // Every client is dropped (on its own thread). Its keeper thread and the detached SSDP
    // receivers end within moments: wait for that, bounded, then compare.
    let settle = Instant::now();
    while (open_fds() != fds_before || threads() != threads_before) && settle.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (fds_after, threads_after, rss_after) = (open_fds(), threads(), rss_kib());
    let settled_ms = settle.elapsed().as_millis();

    let lab = &shared.lab;
    let rules = lab.router_rules();
    let (leases, leases6) = lab.lease_files();

    // Figures.
    let quarter = duration / 4;
    let in_quarter = |q: u32| rss.iter().filter(|(t, _)| *t >= quarter * q && *t <= quarter * (q + 1)).map(|s| s.1).collect::<Vec<i64>>();
    let quarters: Vec<f64> = (0..4).map(|q| mean(&in_quarter(q))).collect();
    let (q1, q4) = (in_quarter(0), in_quarter(3));
    let rss_peak = rss.iter().map(|s| s.1).max().unwrap_or(0);
    let growth = mean(&q4) - mean(&q1);
    let all = |f: fn(&Report) -> &Vec<f64>| reports.iter().flat_map(|r| f(r).iter().copied()).collect::<Vec<f64>>();
    let (open_med, open_max) = median_max(&all(|r| &r.open_ms));
    let (close_med, close_max) = median_max(&all(|r| &r.close_ms));
    let firsts: Vec<f64> = reports.iter().map(|r| r.first_open_ms).collect();
    let (first_med, first_max) = median_max(&firsts);
    let opens: usize = reports.iter().map(|r| r.opens).sum();
    let closes: usize = reports.iter().map(|r| r.closes).sum();
    let per_client: Vec<usize> = reports.iter().map(|r| r.opens).collect();
    let ports: HashSet<(Protocol, u16)> = reports.iter().flat_map(|r| r.ports_seen.iter().copied()).collect();
    let shared_ports: HashSet<(Protocol, u16)> = reports[..SHARED_PORT_CLIENTS].iter().flat_map(|r| r.ports_seen.iter().copied()).collect();
    let reach_checks: usize = reports.iter().map(|r| r.reach_checks).sum();
    // One-family refusals: those the router may legitimately give under contention, by kind,
    // and the others (failures), by message.
    let mut contention: BTreeMap<String, usize> = BTreeMap::new();
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    let mut dropped_connections = 0;
    for (family, status, code, message) in reports.iter().flat_map(|r| r.refusals.iter()) {
        match contention_kind(*status, *code, message) {
            Some(kind) => {
                dropped_connections += usize::from(kind.starts_with("connection dropped"));
                *contention.entry(format!("{family} {kind}")).or_default() += 1;
            }
            None => *refusals.entry(format!("{family} {} (UPnP {code:?}): {message}", status.name())).or_default() += 1,
        }
    }
    let listen_overflows = router_listen_overflows(lab);
    let problems = |f: fn(&Report) -> &Vec<String>| {
        reports.iter().enumerate().flat_map(|(i, r)| f(r).iter().map(move |p| format!("client {i}: {p}"))).collect::<Vec<String>>()
    };
    let (nothing, wrong, dups, unreachable, close_problems, bad_events) = (
        problems(|r| &r.nothing_opened),
        problems(|r| &r.wrong_answers),
        problems(|r| &r.duplicates),
        problems(|r| &r.unreachable),
        problems(|r| &r.close_problems),
        problems(|r| &r.bad_events),
    );

    // Written to the real stderr (not captured by the test harness), so the test command shows it.
    let summary = format!(
        "lab_load: {CLIENTS} clients (hosts in their own namespaces; {SHARED_PORT_CLIENTS} on port {SHARED_PORT}), {:.0} s asked, {:.1} s ran\n\
         lab_load: opens {opens} (per client {}..{}), closes {closes}, open failures on both families {}, one-family refusals under contention {} (router ListenOverflows {listen_overflows}), other one-family failures {}\n\
         lab_load: open median {open_med:.1} ms, max {open_max:.1} ms; first open (discovery) median {first_med:.1} ms, max {first_max:.1} ms; close median {close_med:.1} ms, max {close_max:.1} ms\n\
         lab_load: distinct external IPv4 ports seen {} ({} by the clients sharing port {SHARED_PORT}); duplicates while held {}; reachability checks {reach_checks}, failed {}\n\
         lab_load: fds {fds_before} -> {fds_after}, threads {threads_before} -> {threads_after} (settled after {settled_ms} ms)\n\
         lab_load: RSS before {rss_before} KiB, peak {rss_peak} KiB, means by quarter {:.0?} KiB (growth first to last {growth:.0} KiB), after {rss_after} KiB\n",
        duration.as_secs_f64(),
        ran.as_secs_f64(),
        per_client.iter().min().unwrap(),
        per_client.iter().max().unwrap(),
        nothing.len(),
        contention.values().sum::<usize>(),
        refusals.values().sum::<usize>(),
        ports.len(),
        shared_ports.len(),
        dups.len(),
        unreachable.len(),
        quarters,
    );
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(summary.as_bytes());
    for (what, n) in &contention {
        let _ = writeln!(err, "lab_load: under contention {n}x: {what}");
    }
    for (what, n) in &refusals {
        let _ = writeln!(err, "lab_load: failed {n}x: {what}");
    }
    drop(err);

    assert!(nothing.is_empty(), "opens that got nothing on either family: {nothing:#?}");
    assert!(wrong.is_empty(), "router answers not matching the request: {wrong:#?}");
    assert!(dups.is_empty(), "one external port held by two clients at once: {dups:#?}");
    assert!(unreachable.is_empty(), "leases not reachable from wan while held: {unreachable:#?}");
    assert!(close_problems.is_empty(), "closes that did not remove everything: {close_problems:#?}");
    assert!(bad_events.is_empty(), "leases lost or failing during the run: {bad_events:#?}");
    assert!(refusals.is_empty(), "one family failed (not a contention refusal) while the other opened: {refusals:#?}");
    assert!(
        dropped_connections == 0 || listen_overflows > 0,
        "{dropped_connections} connects timed out, but the router's listen queue never overflowed: the router did not drop them"
    );
    assert!(opens >= CLIENTS * 3 && closes == opens - nothing.len(), "opens {opens}, closes {closes}");
    assert!(reach_checks >= CLIENTS * 4, "every client's first and last lease probed on both families: {reach_checks}");
    assert!(shared_ports.len() >= SHARED_PORT_CLIENTS, "the clients sharing a port got distinct external ports: {shared_ports:?}");
    assert!(rules.is_empty(), "rules left on the router after every client closed: {rules:#?}");
    assert!(leases.trim().is_empty() && leases6.trim().is_empty(), "miniupnpd lease files not empty:\n{leases}\n{leases6}");
    assert_eq!(fds_after, fds_before, "file descriptors leaked by the clients");
    assert_eq!(threads_after, threads_before, "threads left running after every client was dropped");
    assert!(!q1.is_empty() && !q4.is_empty(), "RSS samples in the first and last quarter: {rss:?}");
    assert!((growth as i64) < RSS_GROWTH_MAX_KIB, "RSS grew {growth:.0} KiB between the first and the last quarter");
}
