//! `Client::check` against the real miniupnpd (issue 17): it says which routes the router speaks
//! (UPnP, PCP, NAT-PMP) and through which each family can be opened, proved by a trial on each
//! route the client allows, and leaves nothing on the router (its nftables rules and lease
//! files). Routers: PCP-only (UPnP off), both, UPnP-only (port 5351 refused), NAT-PMP-only (the
//! lab's build without PCP). Needs root and the lab packages: run by scripts/test.sh
//! (`cargo test -- --include-ignored`).
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use labkit::{Lab, Router};
use portopen::{CheckReport, Client, Family, Grade, Route, Routes};

/// Check the lab router from the lan host with `routes` allowed, trials on `port`.
fn check(lab: &Lab, routes: Routes, port: u16) -> CheckReport {
    let mut config = lab.config_all_routes();
    config.routes = routes;
    lab.in_lan(move || Client::new(config).unwrap().check(port))
}

/// Nothing of the check is left on the router: no rule of miniupnpd's chains names the port,
/// and its lease files (what it restores after a restart) do not either.
fn assert_nothing_left(lab: &Lab, port: u16) {
    let rules: Vec<String> = lab.router_rules().into_iter().filter(|r| r.contains(&port.to_string())).collect();
    assert!(rules.is_empty(), "rules left on the router: {rules:?}");
    let (leases, leases6) = lab.lease_files();
    assert!(!leases.contains(&port.to_string()) && !leases6.contains(&port.to_string()), "lease files name {port}: {leases:?} {leases6:?}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_pcp_only_router_is_graded_d_for_upnp_but_both_families_open_by_pcp() {
    let lab = Lab::up_with("default", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41900;
    let r = check(&lab, Routes::ALL, port);
    assert_eq!(r.grade, Grade::D, "{r:?}");
    assert_eq!(r.verdict, "ports can be opened: IPv6 by PCP, IPv4 by PCP", "{r:?}");
    assert_eq!((r.v6_routes.as_slice(), r.v4_routes.as_slice()), (&[Route::Pcp][..], &[Route::Pcp][..]));
    assert_eq!(r.speaks(Family::V6), vec![Route::Pcp]);
    assert_eq!(r.speaks(Family::V4), vec![Route::Pcp, Route::NatPmp]);
    assert!(r.v6_port_control.spoken.pcp_epoch.is_some() && r.v4_port_control.spoken.pcp_epoch.is_some(), "{r:?}");
    assert_eq!(r.v4_port_control.spoken.natpmp_external.map(|ip| ip.to_string()).as_deref(), Some(lab.var("EXT_V4")));
    let t6 = r.v6_port_control.trial.as_ref().unwrap();
    assert!(t6.ok && t6.route == Route::Pcp && t6.detail.contains(&format!("[{}]:{port}", lab.var("LAN_V6"))), "{t6:?}");
    let t4 = r.v4_port_control.trial.as_ref().unwrap();
    assert!(t4.ok && t4.route == Route::Pcp && t4.detail.contains(&format!("{}:", lab.var("EXT_V4"))), "{t4:?}");
    assert!(r.pinhole.is_none() && r.mapping.is_none(), "no UPnP trial without a UPnP gateway");
    assert_nothing_left(&lab, port);
    let json = r.to_json();
    assert!(json.contains(r#""v6_routes":["pcp"],"v4_routes":["pcp"]"#) && json.contains(r#""pcp_version":2"#), "{json}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn the_cli_says_on_a_pcp_only_router_that_both_families_open_by_pcp() {
    let lab = Lab::up_with("default", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let out = lab.exec("lan", &[labkit::cli(), "check", "--port", "41905"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"ports can be opened: IPv6 by PCP, IPv4 by PCP"), "{text}");
    assert!(lines.contains(&"  IPv4: the router speaks PCP, NAT-PMP"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("  IPv6 PCP trial: mapped ") && l.contains("and removed it")), "{text}");
    assert!(lines.contains(&"UPnP grade D: no answer to discovery"), "{text}");

    let out = lab.exec("lan", &[labkit::cli(), "--json", "check", "--port", "41906", "--route", "pcp,natpmp"]);
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json.starts_with(r#"{"type":"check","grade":"D""#), "{json}");
    assert!(json.contains(r#""routes_allowed":["pcp","natpmp"],"verdict":"ports can be opened: IPv6 by PCP, IPv4 by PCP""#), "{json}");
    assert!(json.contains(r#""v4_speaks":["pcp","natpmp"]"#) && json.contains(&format!(r#""natpmp_external":"{}""#, lab.var("EXT_V4"))), "{json}");
    assert_nothing_left(&lab, 41905);
    assert_nothing_left(&lab, 41906);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_router_with_both_routes_opens_each_family_by_pcp_and_upnp_and_keeps_its_grade() {
    let lab = Lab::up("default");
    let port = 41910;
    let r = check(&lab, Routes::ALL, port);
    assert_eq!(r.grade, Grade::A, "{r:?}");
    assert_eq!(r.verdict, "ports can be opened: IPv6 by PCP and UPnP, IPv4 by PCP and UPnP", "{r:?}");
    assert_eq!(r.speaks(Family::V6), vec![Route::Upnp, Route::Pcp]);
    assert_eq!(r.speaks(Family::V4), vec![Route::Upnp, Route::Pcp, Route::NatPmp]);
    assert_eq!(r.v6_gateway.as_ref().map(|g| g.igd_version), Some(2));
    assert!(r.pinhole.as_ref().is_some_and(|t| t.ok) && r.mapping.as_ref().is_some_and(|t| t.ok), "{r:?}");
    assert_nothing_left(&lab, port);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn only_the_routes_allowed_are_tried() {
    let lab = Lab::up("default");
    // UPnP alone: no PCP or NAT-PMP trial; the router's log shows no PCP/NAT-PMP request.
    let port = 41920;
    let since = lab.log().len();
    let r = check(&lab, Routes::only(Route::Upnp), port);
    assert_eq!(r.verdict, "ports can be opened: IPv6 by UPnP, IPv4 by UPnP", "{r:?}");
    assert!(r.v6_port_control.trial.is_none() && r.v4_port_control.trial.is_none(), "{r:?}");
    assert!(r.v4_port_control.spoken.message.starts_with("not tried: the routes allowed (upnp) exclude"), "{r:?}");
    let log = &lab.log()[since..];
    assert!(!log.contains("PCP") && !log.contains("NAT-PMP"), "the router was asked PCP/NAT-PMP:\n{log}");
    assert_nothing_left(&lab, port);

    // PCP alone: no UPnP discovery or action; IPv4 is not asked NAT-PMP either.
    let port = 41921;
    let since = lab.log().len();
    let r = check(&lab, Routes::only(Route::Pcp), port);
    assert_eq!(r.verdict, "ports can be opened: IPv6 by PCP, IPv4 by PCP", "{r:?}");
    assert_eq!(r.grade, Grade::D);
    assert_eq!(r.reason, "UPnP was not tried: the routes allowed are pcp");
    assert_eq!(r.speaks(Family::V4), vec![Route::Pcp], "NAT-PMP not asked: {r:?}");
    let asked = lab.router_requests(since);
    assert!(asked.is_empty(), "UPnP requests: {asked:?}");
    assert_nothing_left(&lab, port);

    // NAT-PMP alone: IPv4 by NAT-PMP, IPv6 not tried (NAT-PMP is IPv4 only).
    let port = 41922;
    let r = check(&lab, Routes::only(Route::NatPmp), port);
    assert_eq!(r.verdict, "ports can be opened: IPv4 by NAT-PMP; IPv6 cannot be opened", "{r:?}");
    assert!(r.v6_port_control.spoken.message.contains("NAT-PMP is IPv4 only"), "{r:?}");
    assert_eq!(r.v4_port_control.spoken.natpmp_external.map(|ip| ip.to_string()).as_deref(), Some(lab.var("EXT_V4")));
    assert_nothing_left(&lab, port);

    // A set: UPnP and NAT-PMP, not PCP.
    let port = 41923;
    let r = check(&lab, Routes { upnp: true, pcp: false, natpmp: true }, port);
    assert_eq!(r.verdict, "ports can be opened: IPv6 by UPnP, IPv4 by NAT-PMP and UPnP", "{r:?}");
    assert_nothing_left(&lab, port);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_upnp_only_router_opens_by_upnp_and_says_pcp_is_refused() {
    let lab = Lab::up("default");
    lab.refuse_port_control();
    let port = 41930;
    let started = std::time::Instant::now();
    let r = check(&lab, Routes::ALL, port);
    assert_eq!(r.grade, Grade::A, "{r:?}");
    assert_eq!(r.verdict, "ports can be opened: IPv6 by UPnP, IPv4 by UPnP", "{r:?}");
    assert_eq!((r.speaks(Family::V6), r.speaks(Family::V4)), (vec![Route::Upnp], vec![Route::Upnp]));
    assert!(r.v6_port_control.trial.is_none() && r.v4_port_control.trial.is_none(), "no trial after a refused probe: {r:?}");
    assert!(r.v4_port_control.spoken.message.contains("refused"), "{r:?}");
    // The PCP probe runs during UPnP's discovery window: the check takes no longer for it.
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "{:?}", started.elapsed());
    assert_nothing_left(&lab, port);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables, the built 2.3.9-nopcp router; run by scripts/test.sh"]
fn a_nat_pmp_only_router_opens_ipv4_by_nat_pmp_and_ipv6_not_at_all() {
    let lab = Lab::up_with("default", &Router { version: Some("2.3.9-nopcp"), conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41940;
    let r = check(&lab, Routes::ALL, port);
    assert_eq!(r.grade, Grade::D, "{r:?}");
    assert_eq!(r.verdict, "ports can be opened: IPv4 by NAT-PMP; IPv6 cannot be opened", "{r:?}");
    assert_eq!((r.speaks(Family::V6), r.speaks(Family::V4)), (vec![], vec![Route::NatPmp]));
    let t4 = r.v4_port_control.trial.as_ref().unwrap();
    assert!(t4.ok && t4.route == Route::NatPmp && t4.detail.contains(&format!("{}:", lab.var("EXT_V4"))), "{t4:?}");
    assert!(r.v6_port_control.trial.is_none(), "nothing answered PCP over IPv6: {r:?}");
    assert_nothing_left(&lab, port);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn behind_cgnat_ipv4_cannot_be_opened_and_the_trial_says_why_while_ipv6_opens_by_pcp() {
    let lab = Lab::up_with("reserved-wan", &Router { conf: &["enable_upnp=no"], ..Router::default() });
    let port = 41950;
    let r = check(&lab, Routes::ALL, port);
    assert_eq!(r.verdict, "ports can be opened: IPv6 by PCP; IPv4 cannot be opened", "{r:?}");
    let t4 = r.v4_port_control.trial.as_ref().unwrap();
    assert!(!t4.ok && t4.route == Route::Pcp && t4.detail.contains("NO_RESOURCES"), "{t4:?}");
    assert!(!r.v4_port_control.opens);
    assert_nothing_left(&lab, port);
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_port_the_router_denies_is_refused_in_the_trial_and_not_counted() {
    // miniupnpd answers NOT_AUTHORIZED for a denied IPv4 port only after scanning every port
    // (~2.3 s): the trial waits for it within the action budget.
    let lab = Lab::up_with("default", &Router { conf: &["enable_upnp=no", "deny 0-65535 0.0.0.0/0 41960"], ..Router::default() });
    let port = 41960;
    let r = check(&lab, Routes::ALL, port);
    let t4 = r.v4_port_control.trial.as_ref().unwrap();
    assert!(!t4.ok && t4.route == Route::Pcp && t4.detail.contains("NOT_AUTHORIZED"), "{t4:?}");
    assert!(r.v4_routes.is_empty(), "{r:?}");
    assert!(r.verdict.ends_with("IPv4 cannot be opened"), "{r:?}");
    assert_nothing_left(&lab, port);
}
