//! The CLI against the real router (lab): leftovers of a killed `portopen open` removed from its
//! journal. Needs root and the lab: run by scripts/test.sh (`--include-ignored`).

#[path = "../../tests/labkit/mod.rs"]
mod labkit;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use labkit::Lab;

/// The CLI binary cargo built for these tests.
fn cli() -> &'static str {
    env!("CARGO_BIN_EXE_portopen")
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn leftovers_of_a_killed_cli_are_removed_from_the_journal() {
    let lab = Lab::up("default");
    let journal = format!("/tmp/portopen-lab/{}/journal", lab.name);
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.lan_ns(), cli(), "open", "udp", "44300", "--lease", "600", "--journal", &journal])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut opened = 0;
    while opened < 2 {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "CLI ended before opening");
        if line.contains(": open at") {
            opened += 1;
        }
    }
    assert!(lab.reach_v6("udp", 44300) && lab.reach_v4("udp", 44300));
    // kill -9: no chance to close. The router keeps both.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lab.reach_v6("udp", 44300) && lab.reach_v4("udp", 44300), "still open after the crash");
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(journal_text.contains("44300"), "journal: {journal_text}");
    // A mapping of another description on another port must survive the clean-up.
    lab.exec("lan", &["upnpc", "-e", "someone-else", "-a", "192.168.77.100", "44301", "44301", "UDP", "600"]);
    let clean = lab.exec("lan", &[cli(), "close", "--journal", &journal]);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stdout));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("removed 2"), "{}", String::from_utf8_lossy(&clean.stdout));
    assert!(!lab.reach_v6("udp", 44300) && !lab.reach_v4("udp", 44300), "leftovers removed");
    let rules = lab.router_rules();
    assert!(rules.iter().all(|r| !r.contains("44300")), "{rules:?}");
    assert!(rules.iter().any(|r| r.contains("44301")), "someone else's mapping kept: {rules:?}");
}
