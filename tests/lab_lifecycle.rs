//! The game's view against the real router: one `open` for both families, kept open past its
//! lease, recovered after a router restart, closed without leftovers, several hosts on one
//! port, the CGNAT router, the cache, and the router grade (the CLI's lab tests are in
//! cli/tests). Needs root and the lab: run by scripts/test.sh (`--include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use labkit::Lab;
use portopen::{Client, ClientConfig, DiscoveryOptions, EventKind, Family, Grade, OpenRequest, PortStatus, Protocol};

fn request(port: u16, lease: u32) -> OpenRequest {
    OpenRequest { lease_secs: lease, ..OpenRequest::new(Protocol::Udp, port) }
}

fn events(client: &Client) -> Vec<(Family, EventKind)> {
    std::iter::from_fn(|| client.poll_event()).map(|e| (e.family, e.kind)).collect()
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn open_both_families_then_close_leaves_nothing() {
    let lab = Lab::up("default");
    let config = lab.config();
    // Clients are leaked, never dropped outside the namespace: a drop closes leases, and that
    // traffic must not leave the lab if an assertion fails here.
    let (info, client) = lab.in_lan(move || {
        let client: &'static Client = Box::leak(Box::new(Client::new(config).unwrap()));
        let lease = client.open(&request(44000, 600)).unwrap();
        let info = lease.info();
        std::mem::forget(lease); // closed below through the client, in the namespace
        (info, client)
    });
    assert_eq!(info.v6.status, PortStatus::Open, "{:?}", info.v6);
    assert_eq!(info.v4.status, PortStatus::Open, "{:?}", info.v4);
    assert_eq!(info.v6.external, Some("[2001:db8:1::100]:44000".parse().unwrap()));
    assert_eq!(info.v4.external, Some("11.0.0.1:44000".parse().unwrap()));
    assert!(info.v4.lease_secs > 0 && info.v4.lease_secs <= 600);
    assert!(lab.reach_v6("udp", 44000) && lab.reach_v4("udp", 44000), "open means reachable on both");
    assert!(lab.router_rules().iter().any(|r| r.contains("44000")));
    let evs = lab.in_lan(move || {
        client.close();
        events(client)
    });
    assert!(evs.contains(&(Family::V6, EventKind::Opened)) && evs.contains(&(Family::V4, EventKind::Opened)), "{evs:?}");
    assert!(evs.contains(&(Family::V6, EventKind::Closed)) && evs.contains(&(Family::V4, EventKind::Closed)), "{evs:?}");
    let left: Vec<String> = lab.router_rules().into_iter().filter(|r| r.contains("44000")).collect();
    assert!(left.is_empty(), "rules left on the router after close: {left:?}");
    assert!(!lab.reach_v6("udp", 44000) && !lab.reach_v4("udp", 44000), "closed means unreachable");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_short_lease_stays_open_far_past_its_lease_time() {
    let lab = Lab::up("default");
    let config = lab.config();
    let log_start = lab.log().len();
    let opening = Instant::now();
    let client: &'static Client = lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())));
    let lease: &'static portopen::Lease = lab.in_lan(move || Box::leak(Box::new(client.open(&request(44100, 4)).unwrap())));
    assert!(lease.info().v6.status.is_open() && lease.info().v4.status.is_open(), "{:?}", lease.info());
    let after_open = lab.log().len();
    // 4 s lease: renewed every 2 s. Probe for 14 s (3.5 lease times).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(14) {
        assert!(lab.reach_v6("udp", 44100), "IPv6 closed after {:?}", started.elapsed());
        assert!(lab.reach_v4("udp", 44100), "IPv4 closed after {:?}", started.elapsed());
        std::thread::sleep(Duration::from_secs(2));
    }
    let evs = events(client);
    let renewed = |f| evs.iter().filter(|e| **e == (f, EventKind::Renewed)).count();
    assert!(renewed(Family::V6) >= 4 && renewed(Family::V4) >= 4, "renewals: {evs:?}");
    assert!(!evs.iter().any(|e| e.1 == EventKind::Lost || e.1 == EventKind::Failed), "{evs:?}");
    lab.in_lan(move || {
        lease.close();
        client.close();
    });
    let held_for = opening.elapsed();
    let evs = [evs.clone(), events(client)].concat(); // renewals up to the close count too
    let renewed = |f| evs.iter().filter(|e| **e == (f, EventKind::Renewed)).count();
    assert!(lab.router_rules().iter().all(|r| !r.contains("44100")));

    // What the router was asked, exactly: one exchange per renewal per family (UpdatePinhole;
    // an AddPortMapping refresh), one read-back of the mapping, one UpdatePinhole right after
    // the AddPinhole (the lease asked, which an AddPinhole that hit an existing pinhole sets
    // wrong on miniupnpd < 2.3.3: issue 20). After the open: no discovery (no search for a
    // device type, no description fetched), only the look's probe between renewals (issue 19:
    // a router powered on again announces nothing for ~15 minutes, but answers a search): one
    // unicast M-SEARCH for the router's own UDN per look (every 5 s) per gateway (one per
    // family), from the first look to the close.
    let asked = lab.router_requests(log_start);
    let n = |k: &str| asked.get(k).copied().unwrap_or(0);
    assert_eq!(n("UpdatePinhole"), 1 + renewed(Family::V6), "{asked:?} {evs:?}");
    assert_eq!(n("AddPortMapping"), renewed(Family::V4), "{asked:?} {evs:?}");
    assert_eq!((n("AddPinhole"), n("AddAnyPortMapping"), n("GetExternalIPAddress")), (1, 1, 1), "{asked:?}");
    assert_eq!(n("GetSpecificPortMappingEntry"), 1, "one read-back of the mapping: {asked:?}");
    assert_eq!((n("DeletePinhole"), n("DeletePortMapping")), (1, 1), "{asked:?}");
    let soap_total: usize = asked.iter().filter(|(k, _)| !matches!(k.as_str(), "M-SEARCH" | "GET" | "probe IPv4" | "probe IPv6")).map(|(_, v)| v).sum();
    assert_eq!(soap_total, 7 + renewed(Family::V6) + renewed(Family::V4), "nothing else was asked: {asked:?}");
    let later = lab.router_requests(after_open);
    assert_eq!((later.get("M-SEARCH"), later.get("GET")), (None, None), "no rediscovery while the router is unchanged: {later:?}");
    let looks_max = held_for.as_secs() / 5 + 1;
    for probe in ["probe IPv4", "probe IPv6"] {
        let n = asked.get(probe).copied().unwrap_or(0) as u64;
        assert!((1..=looks_max).contains(&n), "{probe}: {n} in {held_for:?}, at most one per 5 s look (<= {looks_max}): {asked:?}");
    }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_router_restart_is_heard_and_everything_is_back_within_seconds() {
    let lab = Lab::up("default");
    let config = lab.config();
    let client: &'static Client = lab.in_lan(move || Box::leak(Box::new(Client::new(config).unwrap())));
    // A 600 s lease: the first renewal would come after 300 s. What brings the port back within
    // seconds is the router's NOTIFY with a new BOOTID, heard by the keeper between renewals.
    let lease: &'static portopen::Lease = lab.in_lan(move || Box::leak(Box::new(client.open(&request(44200, 600)).unwrap())));
    assert!(lab.reach_v6("udp", 44200) && lab.reach_v4("udp", 44200));
    events(client); // drop the events from before the restart
    let log_at_restart = lab.log().len();
    lab.lab_sh("restart-router"); // rules, leases and conntrack flushed: a router reboot
    let restarted = Instant::now();
    // (No look at the rules here: the router announces itself as it starts, and on a loaded
    // machine the keeper may have put them back before restart-router returns. The router's
    // log below shows they were re-created, not kept.)
    // Heard within one look (5 s), then one exchange per family.
    // IPv6: UpdatePinhole fails (the ID is gone) → Lost → re-added → Recovered.
    // IPv4: the AddPortMapping refresh re-creates the mapping in the same exchange → Renewed.
    let deadline = restarted + Duration::from_secs(5 + 5);
    let mut seen = Vec::new();
    loop {
        seen.extend(events(client));
        let v6_back = seen.contains(&(Family::V6, EventKind::Recovered));
        let v4_back = seen.contains(&(Family::V4, EventKind::Renewed)) || seen.contains(&(Family::V4, EventKind::Recovered));
        if v6_back && v4_back {
            break;
        }
        assert!(Instant::now() < deadline, "not back {:?} after the restart: {seen:?}", restarted.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("lab_lifecycle: both families back {:.1} s after the router restart (600 s lease)", restarted.elapsed().as_secs_f64());
    assert!(seen.contains(&(Family::V6, EventKind::Lost)), "{seen:?}");
    let asked = lab.router_requests(log_at_restart);
    assert!(asked.get("AddPinhole").is_some_and(|n| *n >= 1), "the pinhole was re-created after the reboot: {asked:?}");
    let info = lease.info();
    assert!(info.v6.status.is_open() && info.v4.status.is_open(), "{info:?}");
    assert!(lab.reach_v6("udp", 44200), "IPv6 reachable again after recovery");
    assert!(lab.reach_v4("udp", info.v4.external.unwrap().port()), "IPv4 reachable again after recovery");
    lab.in_lan(move || {
        lease.close();
        client.close();
    });
    assert!(lab.router_rules().iter().all(|r| !r.contains("44200")));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn several_hosts_asking_for_the_same_port_get_distinct_working_ports() {
    let lab = Lab::up("default");
    let hosts: Vec<(Ipv4Addr, Ipv6Addr)> = (101..=103).map(|n| (Ipv4Addr::new(192, 168, 77, n), format!("2001:db8:1::{n}").parse().unwrap())).collect();
    for (v4, v6) in &hosts {
        lab.add_lan_address(&format!("{v4}/24"));
        lab.add_lan_address(&format!("{v6}/64"));
    }
    let configs: Vec<ClientConfig> = hosts
        .iter()
        .map(|(v4, v6)| {
            let mut c = lab.config();
            c.discovery = DiscoveryOptions { local_v4: Some(*v4), local_v6: Some(*v6), ..c.discovery };
            c.keep_alive = false;
            c
        })
        .collect();
    let opened = lab.in_lan(move || {
        std::thread::scope(|s| {
            let handles: Vec<_> = configs
                .into_iter()
                .map(|config| {
                    s.spawn(move || {
                        let client: &'static Client = Box::leak(Box::new(Client::new(config).unwrap()));
                        let lease = client.open(&request(44400, 600)).unwrap();
                        let info = lease.info();
                        std::mem::forget(lease);
                        (info, client)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
        })
    });
    let mut ports = Vec::new();
    for ((info, _), (v4, v6)) in opened.iter().zip(&hosts) {
        assert!(info.v4.status.is_open() && info.v6.status.is_open(), "{info:?}");
        assert_eq!(info.v4.internal, Some(SocketAddr::from((*v4, 44400))));
        assert_eq!(info.v6.external, Some(SocketAddr::from((*v6, 44400))));
        ports.push(info.v4.external.unwrap().port());
    }
    let mut distinct = ports.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ports.len(), "distinct external ports: {ports:?}");
    for (port, (v4, v6)) in ports.iter().zip(&hosts) {
        assert!(lab.reach_to("udp", lab.var("EXT_V4"), *port, &v4.to_string(), 44400), "11.0.0.1:{port} reaches {v4}:44400");
        assert!(lab.reach("udp", &v6.to_string(), &v6.to_string(), 44400), "[{v6}]:44400 reachable");
    }
    lab.in_lan(move || {
        for (_, client) in opened {
            client.close();
        }
    });
    assert!(lab.router_rules().is_empty(), "all removed: {:?}", lab.router_rules());
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_router_behind_cgnat_is_reported_and_ipv6_still_opens() {
    let lab = Lab::up("reserved-wan");
    let config = lab.config();
    let info = lab.in_lan(move || {
        let client = Client::new(config).unwrap();
        let lease = client.open(&request(44500, 600)).unwrap();
        lease.info()
    });
    // What the router answers GetExternalIPAddress decides which: 2.3.1 an empty address (no
    // external address), 2.3.9 its WAN address 100.64.0.1 (shared: a NAT above the router).
    let expected = if lab.router_version() == "2.3.1" { PortStatus::NoExternalAddress } else { PortStatus::UpstreamNat };
    assert_eq!(info.v4.status, expected, "miniupnpd {}: {:?}", lab.router_version(), info.v4);
    assert!(info.v4.message.contains("would not be reachable"), "{}", info.v4.message);
    assert_eq!(info.v6.status, PortStatus::Open, "{:?}", info.v6);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn the_gateway_cache_skips_discovery_on_the_next_start() {
    let lab = Lab::up("default");
    let cache = std::path::PathBuf::from(format!("/tmp/portopen-lab/{}/cache", lab.name));
    let mut first = lab.config();
    first.cache_file = Some(cache.clone());
    let c = cache.clone();
    let (text, info) = lab.in_lan(move || {
        let client = Client::new(first).unwrap();
        client.gateway(Family::V4).unwrap();
        client.gateway(Family::V6).unwrap();
        drop(client);
        // Second start: discovery made impossible (no multicast, no unicast target). Opening
        // still works, so it can only have come from the cache.
        let mut second = ClientConfig { cache_file: Some(c.clone()), ..ClientConfig::default() };
        second.discovery = DiscoveryOptions { multicast: false, default_gateway: false, timeout: Duration::from_millis(300), ..DiscoveryOptions::default() };
        let client = Client::new(second).unwrap();
        let info = client.open(&request(44600, 600)).unwrap().info();
        (std::fs::read_to_string(&c).unwrap(), info)
    });
    assert!(text.starts_with("portopen-cache-1"), "{text}");
    assert!(info.v4.status.is_open() && info.v6.status.is_open(), "{info:?}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn check_grades_a_c_and_d() {
    for (variant, grade) in [("default", Grade::A), ("igd1", Grade::C), ("no-router", Grade::D)] {
        let lab = Lab::up(variant);
        let mut config = lab.config();
        config.discovery.timeout = Duration::from_millis(1500);
        let report = lab.in_lan(move || Client::new(config).unwrap().check(0));
        assert_eq!(report.grade, grade, "{variant}: {report:?}");
        match grade {
            Grade::A => {
                assert!(report.pinhole.as_ref().is_some_and(|t| t.ok), "{report:?}");
                assert!(report.mapping.as_ref().is_some_and(|t| t.ok), "{report:?}");
                assert_eq!(report.external_class.as_deref(), Some("public"));
                assert!(report.v6_gateway.as_ref().unwrap().server.as_deref().unwrap_or("").contains("MiniUPnPd"));
                assert!(lab.router_rules().is_empty(), "check removed its trials: {:?}", lab.router_rules());
            }
            Grade::C => assert!(report.v4_gateway.as_ref().is_some_and(|g| g.igd_version == 1), "{report:?}"),
            _ => assert!(report.v6_discovery_error.is_some() && report.v4_discovery_error.is_some()),
        }
    }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn after_a_crash_close_port_removes_our_moved_mapping_and_leaves_the_other_hosts_alone() {
    let lab = Lab::up("default");
    let other = lab.add_hosts(1).remove(0);
    // Another host holds external port 44700 first.
    let out = lab.exec(&other.name, &["upnpc", "-m", "eth0", "-e", "other-host", "-a", &other.v4.to_string(), "44700", "44700", "UDP", "600"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("is redirected to internal"), "{}", String::from_utf8_lossy(&out.stdout));
    // This host opens 44700: the router moves it to another external port. Then it "crashes":
    // no close, no journal, no renewals (keep-alive off), the client is never dropped.
    let mut config = lab.config();
    config.keep_alive = false;
    let info = lab.in_lan(move || {
        let client: &'static Client = Box::leak(Box::new(Client::new(config).unwrap()));
        let lease = client.open(&request(44700, 600)).unwrap();
        let info = lease.info();
        std::mem::forget(lease);
        info
    });
    let moved = info.v4.external.expect("IPv4 open").port();
    assert_ne!(moved, 44700, "{:?}", info.v4);
    assert!(lab.reach_to("udp", "11.0.0.1", moved, "0.0.0.0", 44700), "our moved mapping works");
    assert!(lab.router_rules().iter().any(|r| r.contains(&format!("dport {moved}"))), "{:?}", lab.router_rules());
    // A new run closes port 44700 knowing nothing: it finds our mapping on its moved port.
    let config = lab.config();
    let (first, second) = lab.in_lan(move || {
        let client: &'static Client = Box::leak(Box::new(Client::new(config).unwrap()));
        let both = [Family::V4, Family::V6];
        (client.close_port(Protocol::Udp, 44700, &both), client.close_port(Protocol::Udp, 44700, &both))
    });
    let v4 = |r: &Vec<(Family, Result<portopen::Closed, portopen::Error>)>| r.iter().find(|(f, _)| *f == Family::V4).unwrap().1.clone().unwrap();
    let v6 = |r: &Vec<(Family, Result<portopen::Closed, portopen::Error>)>| r.iter().find(|(f, _)| *f == Family::V6).unwrap().1.clone().unwrap();
    match v4(&first) {
        portopen::Closed::Mappings { removed, kept } => {
            assert_eq!(removed.iter().map(|m| m.external_port).collect::<Vec<_>>(), vec![moved], "{removed:?}");
            assert!(kept.is_empty(), "{kept:?}");
        }
        other => panic!("IPv4: {other:?}"),
    }
    assert_eq!(v6(&first), portopen::Closed::PinholeRemovedOrNone { internal: "[2001:db8:1::100]:44700".parse().unwrap() });
    assert_eq!(v4(&second), portopen::Closed::Nothing, "a second close finds nothing to remove");
    let rules = lab.router_rules();
    assert!(rules.iter().all(|r| !r.contains(&format!("dport {moved}"))), "our mapping is gone: {rules:?}");
    assert!(rules.iter().any(|r| r.contains("44700") && r.contains(&other.v4.to_string())), "the other host's mapping is kept: {rules:?}");
    assert!(!lab.reach_v6("udp", 44700), "no pinhole left");
    // The CLI says the same in words.
    let out = lab.exec("lan", &[labkit::cli(), "close", "udp", "44700"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing to remove") && text.contains("(or none existed: UPnP cannot tell)"), "{text}");
}
