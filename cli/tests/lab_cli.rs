//! The CLI against the real router (lab): leftovers of a killed `portopen open` removed from its
//! journal; a closed stdout is no crash; a journal that cannot be written opens nothing; what
//! the output says (a moved port in words, no "opened in" when nothing opened, no repeated
//! words, the address class apart in JSON, `[]` for an empty list). Needs root and the lab: run
//! by scripts/test.sh (`--include-ignored`).
// The lab is Linux network namespaces (setns).
#![cfg(target_os = "linux")]

#[path = "../../tests/labkit/mod.rs"]
mod labkit;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Starts the CLI in the lab's LAN namespace with its stdout piped.
fn spawn_in_lan(lab: &Lab, args: &[&str]) -> Child {
    Command::new("ip").args(["netns", "exec", &lab.lan_ns(), cli()]).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap()
}

/// Reads stdout lines until `count` of them contain `what`; the lines read.
fn read_until(out: &mut impl BufRead, what: &str, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.iter().filter(|l: &&String| l.contains(what)).count() < count {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "CLI ended before {count} lines with {what:?}: {lines:?}");
        lines.push(line);
    }
    lines
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "CLI still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first two-word phrase a line says twice ("no gateway — no gateway: ..."), if any.
fn repeated_phrase(line: &str) -> Option<String> {
    let words: Vec<String> = line.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let pairs: Vec<String> = words.windows(2).map(|w| w.join(" ")).collect();
    pairs.iter().enumerate().find(|(i, p)| pairs[i + 1..].contains(p)).map(|(_, p)| p.clone())
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_closed_stdout_then_ctrl_c_exits_0_and_closes_everything() {
    let lab = Lab::up("default");
    let journal = format!("/tmp/portopen-lab/{}/journal", lab.name);
    let mut child = spawn_in_lan(&lab, &["open", "udp", "44310", "--lease", "600", "--journal", &journal]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, ": open at", 2);
    assert!(lab.reach_v6("udp", 44310) && lab.reach_v4("udp", 44310));
    // The journal is JSON lines: a first line naming the format, then one object per entry.
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = journal_text.lines().collect();
    assert_eq!(lines.len(), 3, "{journal_text}");
    assert!(lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')), "{journal_text}");
    // The reader goes away: every later line the CLI prints meets a closed pipe (EPIPE).
    drop(out);
    // SAFETY: kill(2) on the child's own pid, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status:?} (101 is a panic on the closed stdout)");
    let rules = lab.router_rules();
    assert!(rules.iter().all(|r| !r.contains("44310")), "left on the router: {rules:?}");
    assert!(!lab.reach_v6("udp", 44310) && !lab.reach_v4("udp", 44310));
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_journal_that_cannot_be_written_fails_the_open_and_sends_nothing() {
    let lab = Lab::up("default");
    let since = lab.log().len();
    let out = lab.exec("lan", &[cli(), "open", "udp", "44320", "--hold", "0", "--journal", "/nonexistent-dir/portopen/journal"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("journal file") && stderr.contains("nothing was opened") && stderr.contains("/nonexistent-dir/portopen/journal"), "{stderr}");
    assert!(!stdout.contains("open at"), "{stdout}");
    assert!(lab.router_rules().iter().all(|r| !r.contains("44320")));
    let asked = lab.router_requests(since);
    assert!(asked.is_empty(), "the router was asked {asked:?}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_moved_port_is_said_in_words_and_json_keeps_the_address_class_apart() {
    let lab = Lab::up("default");
    let other = lab.add_hosts(1).remove(0);
    let taken = lab.exec(&other.name, &["upnpc", "-e", "someone-else", "-a", &other.v4.to_string(), "44330", "44330", "UDP", "600"]);
    assert!(taken.status.success(), "{:?}", text(&taken));
    let out = lab.exec("lan", &[cli(), "open", "udp", "44330", "--v4", "--hold", "0"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let line = stdout.lines().find(|l| l.starts_with("IPv4: open at 11.0.0.1:")).unwrap_or_else(|| panic!("{stdout}"));
    let moved: u16 = line["IPv4: open at 11.0.0.1:".len()..].split(' ').next().unwrap().parse().unwrap();
    assert_ne!(moved, 44330, "{line}");
    assert!(line.contains(&format!("port 44330 was taken on the router; peers use {moved}")), "{line}");
    assert!(stdout.contains("opened in"), "{stdout}");

    let out = lab.exec("lan", &[cli(), "--json", "open", "udp", "44331", "--hold", "0"]);
    let (stdout, _) = text(&out);
    let lease = stdout.lines().next().unwrap_or_default();
    assert!(lease.contains("\"external\":\"11.0.0.1:44331\",\"external_class\":\"public\""), "{lease}");
    assert!(lease.contains("\"external_class\":null"), "IPv6 has no class: {lease}");
    let out = lab.exec("lan", &[cli(), "--json", "--v4", "status"]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("\"external_address\":\"11.0.0.1\",\"external_class\":\"public\",\"external_error\":null"), "{stdout}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn an_empty_list_in_json_is_an_empty_array() {
    let lab = Lab::up("default");
    let out = lab.exec("lan", &[cli(), "list", "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "[]\n");
    lab.exec("lan", &["upnpc", "-e", "mine", "-a", "192.168.77.100", "44340", "44340", "UDP", "600"]);
    let (stdout, _) = text(&lab.exec("lan", &[cli(), "--json", "list"]));
    assert!(stdout.starts_with("[{\"type\":\"mapping\",\"external_port\":44340,") && stdout.ends_with("}]\n"), "{stdout}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn when_nothing_opens_the_output_says_why_once_and_no_opened_in() {
    let lab = Lab::up("no-router");
    let out = lab.exec("lan", &[cli(), "open", "udp", "44350", "--timeout", "300", "--hold", "0"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("opened in"), "{stdout}");
    for family in ["IPv6", "IPv4"] {
        let line = stdout.lines().find(|l| l.starts_with(&format!("{family}: not open — "))).unwrap_or_else(|| panic!("{stdout}"));
        assert!(line.contains("no UPnP gateway answered"), "{line}");
        assert_eq!(repeated_phrase(line), None, "{line}");
    }
}
