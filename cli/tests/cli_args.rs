//! The CLI's manners that need no router (issue 18): options anywhere, every option checked
//! before anything is sent or any progress is printed, help and version.
//!
//! Every run is inside an empty network namespace of its own (`unshare --net`: only a loopback
//! that is down), so even a CLI that wrongly went on to search could send nothing anywhere.
//! That needs Linux and root; without root each test says it was skipped.
#![cfg(target_os = "linux")]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the CLI with `args` in an empty network namespace; None (and a "skipped" line) when no
/// namespace can be made here.
fn cli(args: &[&str]) -> Option<Output> {
    let out = match Command::new("unshare").arg("--net").arg(env!("CARGO_BIN_EXE_portopen")).args(args).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: unshare (util-linux) cannot be run: {e}");
            return None;
        }
    };
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).starts_with("unshare:") {
        eprintln!("skipped: no empty network namespace here (unshare --net needs root): {}", String::from_utf8_lossy(&out.stderr).trim());
        return None;
    }
    Some(out)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The CLI refused `args` as an argument error: exit 2, `expected` in the message, nothing
/// printed about opening or finding a router, and at once (no search was waited for).
fn refused(args: &[&str], expected: &str) {
    let started = Instant::now();
    let Some(out) = cli(args) else { return };
    let took = started.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
    assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in: {stderr}");
    assert!(!stderr.contains("opening") && !stderr.contains("finding the router"), "{args:?}: progress printed before the argument error: {stderr}");
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert!(took < Duration::from_secs(1), "{args:?}: took {took:?}");
}

#[test]
fn options_may_come_before_the_command() {
    for args in [&["-v", "version"][..], &["--json", "version"], &["version", "-v"], &["--timeout", "300", "version"]] {
        let Some(out) = cli(args) else { return };
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("portopen "), "{args:?}: {}", text(&out.stdout));
    }
    // The command is the first word that is not an option's value: `--timeout 300 open`.
    refused(&["-v", "--timeout", "300", "open", "udp", "0"], "port: must be 1..=65535");
    refused(&["--json", "open", "udp"], "open needs <udp|tcp> <port");
}

#[test]
fn json_discover_with_options_first_answers_in_json() {
    // Nothing to find in an empty namespace: per family one JSON error line (no UPnP gateway)
    // and one port_control line (no default gateway to ask PCP/NAT-PMP), exit 1.
    let Some(out) = cli(&["--json", "--timeout", "200", "discover"]) else { return };
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for pair in lines.chunks(2) {
        assert!(pair[0].starts_with("{\"type\":\"error\",\"family\":\"v") && pair[0].ends_with('}'), "{}", pair[0]);
        assert!(pair[1].starts_with("{\"type\":\"port_control\",\"family\":\"v") && pair[1].contains("\"server\":null,\"routes\":[]"), "{}", pair[1]);
    }
}

#[test]
fn an_unknown_interface_is_refused_before_anything_is_sent() {
    refused(&["open", "udp", "40000", "--interface", "nosuchif"], "no network interface 'nosuchif'");
    refused(&["--interface", "nosuchif", "discover"], "no network interface 'nosuchif'");
    refused(&["discover", "--interface", ""], "--interface: empty name");
}

#[test]
fn a_negative_or_impossible_hold_is_refused() {
    refused(&["open", "udp", "40000", "--hold", "-3"], "--hold: '-3' is not a number of seconds");
    refused(&["open", "udp", "40000", "--hold", "NaN"], "--hold: 'NaN' is not a number of seconds");
    refused(&["open", "udp", "40000", "--hold", "1e300"], "--hold: '1e300' is not a number of seconds");
    refused(&["open", "udp", "40000", "--hold", "soon"], "--hold: 'soon' is not a valid number");
}

#[test]
fn every_value_is_checked_before_the_progress_line() {
    refused(&["open", "udp", "0"], "port: must be 1..=65535");
    refused(&["open", "udp", "70000"], "port: '70000' is not a valid number");
    refused(&["open", "sctp", "40000"], "'sctp' is not udp or tcp");
    refused(&["open", "udp", "40000", "--lease", "0"], "--lease: 0 s is not 1..=604800");
    refused(&["open", "udp", "40000", "--lease", "604801"], "--lease: 604801 s is not 1..=604800");
    refused(&["open", "udp", "40000", "--timeout", "0"], "--timeout: must be above 0 ms");
    refused(&["open", "udp", "40000", "--action-timeout", "0"], "--action-timeout: must be above 0 ms");
    refused(&["open", "udp", "40000", "--description", ""], "--description: must be 1..=128 bytes");
    refused(&["open", "udp", "40000", "--description", "a\nb"], "--description: must be 1..=128 bytes");
    refused(&["open", "udp", "40000", "--internal-v4", "2001:db8::1"], "--internal-v4: '2001:db8::1' is not an address of that family");
    refused(&["open", "udp", "40000", "--router", "224.0.0.1"], "--router: '224.0.0.1' is not a router's address");
    refused(&["open", "udp", "40000", "--router", "nowhere"], "--router: 'nowhere' is not an address");
    refused(&["open", "udp", "40000", "--family", "v5"], "--family: 'v5' is not v4, v6 or both");
    refused(&["open", "udp", "40000", "--lease"], "--lease needs a value");
    refused(&["open", "udp", "40000", "--frobnicate"], "unknown option '--frobnicate'");
    refused(&["frobnicate"], "unknown command 'frobnicate'");
    refused(&["discover", "extra"], "unexpected argument(s): extra");
    refused(&["close"], "close needs <udp|tcp> <port> or --journal FILE");
    refused(&["-v"], "no command");
}

#[test]
fn help_is_help_wherever_it_is_asked_for() {
    for args in [&["--help"][..], &["open", "--help"], &["-h"]] {
        let Some(out) = cli(args) else { return };
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).starts_with("usage: portopen"), "{args:?}");
    }
}

#[test]
fn route_takes_a_comma_list_of_known_routes_each_once() {
    refused(&["open", "udp", "40000", "--route", "igd"], "--route: 'igd' is not upnp, pcp or natpmp");
    refused(&["open", "udp", "40000", "--route", "upnp,igd"], "--route: 'igd' is not upnp, pcp or natpmp");
    refused(&["check", "--route", "pcp,upnp,PCP"], "--route: 'pcp' is named twice");
    refused(&["check", "--route", "upnp,"], "--route: '' is not upnp, pcp or natpmp");
    refused(&["check", "--route", ""], "--route: '' is not upnp, pcp or natpmp");
    refused(&["check", "--route"], "--route needs a value");
}

#[test]
fn check_tries_only_the_routes_named() {
    // An empty namespace: no gateway and no default route, so nothing answers; what the report
    // says was not tried is what --route left out.
    let Some(out) = cli(&["--json", "--timeout", "200", "check", "--route", "pcp"]) else { return };
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("{\"type\":\"check\",\"grade\":\"D\""), "{stdout}");
    assert!(stdout.contains("\"reason\":\"UPnP was not tried: the routes allowed are pcp\""), "{stdout}");
    assert!(stdout.contains("\"v6_discovery_error\":\"not tried: the routes allowed (pcp) exclude UPnP\""), "{stdout}");
    assert!(stdout.contains("\"routes_allowed\":[\"pcp\"],\"verdict\":\"no port can be opened through the routes tried (pcp)\""), "{stdout}");
    assert!(stdout.contains("\"v6_routes\":[],\"v4_routes\":[]"), "{stdout}");

    let Some(out) = cli(&["--json", "--timeout", "200", "check", "--route", "upnp,natpmp"]) else { return };
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"routes_allowed\":[\"upnp\",\"natpmp\"]"), "{stdout}");
    assert!(stdout.contains("\"message\":\"not tried: the routes allowed (upnp,natpmp) exclude PCP (NAT-PMP is IPv4 only)\""), "{stdout}");
    assert!(stdout.contains("\"reason\":\"no UPnP gateway answered discovery over IPv4 or IPv6\""), "{stdout}");

    // The words: the verdict first, then what each family's routes said, then the UPnP grade.
    let Some(out) = cli(&["--timeout", "200", "check", "--route", "upnp,pcp"]) else { return };
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"no port can be opened through the routes tried (upnp,pcp)"), "{stdout}");
    assert!(lines.contains(&"  IPv6: the router speaks nothing"), "{stdout}");
    assert!(lines.contains(&"UPnP grade D: no answer to discovery"), "{stdout}");
}
