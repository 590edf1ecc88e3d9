//! Test kit for the real-router lab (tests/lab/lab.sh): bring a lab up under a unique name, add
//! LAN hosts (one namespace each), run library code inside a LAN namespace (on a thread that
//! entered it with setns, so every socket, multicast included, lives in the lab), prove
//! reachability with packets from `wan`, read the router's nftables rules and lease files, and
//! tear the lab down (host namespaces included) even when the test fails.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use portopen::{ClientConfig, DiscoveryOptions, Route, Routes};

pub mod clients;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The repository's root: this kit is shared by the library's tests and the CLI crate's
/// (`cli/tests`, which include it by path), so it is found from the package upwards.
fn repo() -> PathBuf {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    package.ancestors().find(|dir| dir.join("tests/lab/lab.sh").is_file()).expect("tests/lab/lab.sh above the package").to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub struct Lab {
    pub name: String,
    pub env: HashMap<String, String>,
}

/// One of the lab's extra LAN hosts (`lab.sh add-hosts`): its own namespace, one link on the
/// router's LAN bridge, one IPv4 and one IPv6 address, default routes via the router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabHost {
    /// `hK`: its name for `Lab::exec`, and its port on the router's bridge.
    pub name: String,
    /// Its namespace, `po-LAB-hK` (for `in_netns`, `Lab::reach_in`).
    pub ns: String,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
}

/// The router a lab runs and its web port. Unset fields follow the test command's choice
/// (`PORTOPEN_LAB_ROUTER`, `PORTOPEN_LAB_HTTP_PORT`, `PORTOPEN_LAB_CONF`, read by lab.sh), so
/// one test runs against every router of the matrix; a test about one router's behaviour sets
/// it here.
#[derive(Clone, Debug, Default)]
pub struct Router<'a> {
    /// `2.3.1` (Debian 12's package), `2.3.9` (Debian 13's, built once into
    /// /var/cache/portopen-lab), `2.3.1-nopcp`, `2.3.9-nopcp`, or a path to a miniupnpd.
    pub version: Option<&'a str>,
    /// Its web port: a fixed one, or a new one at every start (`http_port=0`).
    pub http_port: Option<HttpPort>,
    /// Extra miniupnpd.conf lines (before the permission rules; an option given again wins).
    pub conf: &'a [&'a str],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpPort {
    Fixed,
    Random,
}

impl Lab {
    /// A fresh lab of `variant` (default, reserved-wan, igd1, no-router, no-pinhole) with the
    /// test command's router (see `Router`).
    pub fn up(variant: &str) -> Lab {
        Lab::up_with(variant, &Router::default())
    }

    /// A fresh lab of `variant` with the router `router` asks for.
    pub fn up_with(variant: &str, router: &Router) -> Lab {
        // Unique per run (scripts/test.sh sets the prefix and removes its labs at exit, even
        // after a crash), per test binary (pid) and per lab.
        let prefix = std::env::var("PORTOPEN_LAB_PREFIX").unwrap_or_else(|_| "t".into());
        let name = format!("{prefix}{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        assert!(name.len() <= 16 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "bad lab name: {name}");
        let mut args = vec!["up".to_string(), name.clone(), variant.to_string()];
        if let Some(version) = router.version {
            args.extend(["--router".to_string(), version.to_string()]);
        }
        if let Some(port) = router.http_port {
            args.extend(["--http-port".to_string(), if port == HttpPort::Fixed { "fixed" } else { "random" }.to_string()]);
        }
        for line in router.conf {
            args.extend(["--conf".to_string(), line.to_string()]);
        }
        let out = run(Command::new(repo().join("tests/lab/lab.sh")).args(&args));
        assert!(out.status.success(), "lab.sh {} failed (root, iproute2, nftables, miniupnpd-nftables needed):\n{}", args.join(" "), text(&out));
        let mut lab = Lab { name, env: HashMap::new() };
        lab.env = lab.read_env();
        lab
    }

    fn read_env(&self) -> HashMap<String, String> {
        let env_text = std::fs::read_to_string(self.dir().join("env")).expect("lab env file");
        env_text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// A value of the lab's env as it was when the lab came up (addresses, namespaces: they
    /// never change). For what a router start changes, see `current`.
    pub fn var(&self, key: &str) -> &str {
        self.env.get(key).map(|s| s.as_str()).unwrap_or_else(|| panic!("lab env has no {key}"))
    }

    /// A value of the lab's env now: `HTTP_PORT`, `LOCATION_V4`, `LOCATION_V6` and `ROUTER_PID`
    /// change at every router start (a random web port is new each time).
    pub fn current(&self, key: &str) -> String {
        self.read_env().remove(key).unwrap_or_else(|| panic!("lab env has no {key}"))
    }

    /// The router's web port now (empty env value: no router runs, or UPnP is off).
    pub fn http_port(&self) -> Option<u16> {
        let port = self.current("HTTP_PORT");
        (!port.is_empty()).then(|| port.parse().unwrap_or_else(|_| panic!("lab env HTTP_PORT={port}")))
    }

    /// The router's description URL now, on its IPv4 or IPv6 LAN address.
    pub fn location(&self, v6: bool) -> String {
        self.current(if v6 { "LOCATION_V6" } else { "LOCATION_V4" })
    }

    /// The running router's version (`2.3.1`, `2.3.9`: what `miniupnpd --version` says).
    pub fn router_version(&self) -> &str {
        self.var("ROUTER_VERSION")
    }
    pub fn lan_ns(&self) -> String {
        self.var("LAN_NS").to_string()
    }
    pub fn wan_ns(&self) -> String {
        self.var("WAN_NS").to_string()
    }
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/portopen-lab/{}", self.name))
    }

    /// Add `count` LAN hosts (each in its own namespace, on the router's bridge). Returns the
    /// new ones; `hosts` lists them all.
    pub fn add_hosts(&self, count: usize) -> Vec<LabHost> {
        let before = self.hosts().len();
        let out = run(Command::new(repo().join("tests/lab/lab.sh")).args(["add-hosts", &self.name, &count.to_string()]));
        assert!(out.status.success(), "lab.sh add-hosts {} {count}: {}", self.name, text(&out));
        let hosts = self.hosts();
        assert_eq!(hosts.len(), before + count, "hosts file after add-hosts: {hosts:?}");
        hosts[before..].to_vec()
    }

    /// Start a second UPnP IGD (a miniupnpd of its own, web port 5000) on `host`
    /// (`lab.sh add-igd`): a device on the LAN segment that answers SSDP and SOAP but is not the
    /// default gateway.
    pub fn add_igd(&self, host: &LabHost) {
        let out = run(Command::new(repo().join("tests/lab/lab.sh")).args(["add-igd", &self.name, &host.name]));
        assert!(out.status.success(), "lab.sh add-igd {} {}: {}", self.name, host.name, text(&out));
    }

    /// What the second IGD on `host` holds: its nftables rules (DNAT and pinholes) and lease
    /// files, as text.
    pub fn igd_state(&self, host: &LabHost) -> String {
        let out = self.exec(&host.name, &["nft", "list", "table", "inet", "filter"]);
        assert!(out.status.success(), "nft in {}: {}", host.name, text(&out));
        let dir = self.dir().join(format!("igd-{}", host.name));
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        format!("{}{}{}", String::from_utf8_lossy(&out.stdout), read("leases"), read("leases6"))
    }

    /// Every host added with `add_hosts` (not the `lan` host), in order.
    pub fn hosts(&self) -> Vec<LabHost> {
        let list = std::fs::read_to_string(self.dir().join("hosts")).unwrap_or_default();
        list.lines()
            .map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(f.len(), 3, "hosts line: {line:?}");
                let name = f[0].rsplit('-').next().unwrap().to_string();
                LabHost { name, ns: f[0].to_string(), v4: f[1].parse().unwrap(), v6: f[2].parse().unwrap() }
            })
            .collect()
    }

    /// Run `f` on a thread inside the lab's `lan` namespace.
    pub fn in_lan<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        in_netns(&self.lan_ns(), f)
    }

    /// A client config for the lab: multicast on the lab's interfaces (the thread is in the
    /// lab namespace), short budgets, the UPnP route only: the lab router also speaks PCP,
    /// which would win the race, and the tests using this config specify the UPnP route (its
    /// requests, pinhole ids, rules). `config_all_routes` races the routes as a game does.
    pub fn config(&self) -> ClientConfig {
        ClientConfig { routes: Routes::only(Route::Upnp), ..self.config_all_routes() }
    }

    /// `config` with every route allowed (the default of a game's client).
    pub fn config_all_routes(&self) -> ClientConfig {
        ClientConfig {
            discovery: DiscoveryOptions { timeout: Duration::from_secs(2), ..DiscoveryOptions::default() },
            action_timeout: Duration::from_secs(3),
            ..ClientConfig::default()
        }
    }

    /// Does a packet (UDP datagram or TCP connection) from `wan` to `addr:port` reach a
    /// listener on `listen:port` in `lan`?
    pub fn reach(&self, proto: &str, addr: &str, listen: &str, port: u16) -> bool {
        self.reach_to(proto, addr, port, listen, port)
    }

    /// Like `reach`, when the port sent to differs from the port listened on (a mapping whose
    /// external port is not the internal one).
    pub fn reach_to(&self, proto: &str, addr: &str, port: u16, listen: &str, listen_port: u16) -> bool {
        self.reach_in(&self.lan_ns(), proto, addr, port, listen, listen_port)
    }

    /// Like `reach_to`, the listener in namespace `ns` (a host from `add_hosts`).
    pub fn reach_in(&self, ns: &str, proto: &str, addr: &str, port: u16, listen: &str, listen_port: u16) -> bool {
        let out = run(Command::new("python3").arg(repo().join("tests/lab/probe.py")).args([
            "reach",
            "--lan-ns",
            ns,
            "--wan-ns",
            &self.wan_ns(),
            "--proto",
            proto,
            "--addr",
            addr,
            "--listen-addr",
            listen,
            "--port",
            &port.to_string(),
            "--listen-port",
            &listen_port.to_string(),
        ]));
        let t = text(&out);
        match (out.status.code(), t.contains("UNREACHABLE"), t.contains("REACHABLE")) {
            (Some(0), false, true) => true,
            (Some(1), true, _) => false,
            _ => panic!("probe.py reach failed: {t}"),
        }
    }

    /// Reach the IPv4 mapping of `port` (router's WAN address) / the IPv6 pinhole (host address).
    pub fn reach_v4(&self, proto: &str, port: u16) -> bool {
        self.reach(proto, self.var("EXT_V4"), "0.0.0.0", port)
    }
    pub fn reach_v6(&self, proto: &str, port: u16) -> bool {
        self.reach(proto, self.var("LAN_V6"), "::", port)
    }

    /// The router's nftables ruleset.
    pub fn rules(&self) -> String {
        let out = run(Command::new(repo().join("tests/lab/lab.sh")).args(["rules", &self.name]));
        assert!(out.status.success(), "lab.sh rules: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Lines of miniupnpd's own chains (what it added), excluding chain headers.
    pub fn router_rules(&self) -> Vec<String> {
        let rules = self.rules();
        let mut out = Vec::new();
        let mut in_ours = false;
        for line in rules.lines() {
            let l = line.trim();
            if l.starts_with("chain ") {
                in_ours = l.contains("miniupnpd");
                continue;
            }
            if in_ours && !l.is_empty() && l != "}" && !l.starts_with("type ") {
                out.push(l.to_string());
            }
        }
        out
    }

    /// The IPv6 pinholes the router holds now, read from its nftables rules: miniupnpd keeps each
    /// pinhole's id and expiry in the rule's user data (`pinhole-UID ts-EXPIRY: DESC`, EXPIRY on
    /// the router's monotonic clock), which `nft --debug=netlink` shows. UPnP has no action that
    /// reads a pinhole's lease back (`GetPinholeTimeout` is not in the spec), so this is how a
    /// test sees the lease the router really holds.
    pub fn router_pinholes(&self) -> Vec<RouterPinhole> {
        let out = self.exec("rtr", &["nft", "--debug=netlink", "list", "chain", "inet", "filter", "miniupnpd"]);
        assert!(out.status.success(), "nft --debug=netlink: {}", text(&out));
        let offset: i64 = self.current("ROUTER_CLOCK_OFFSET").parse().expect("lab env ROUTER_CLOCK_OFFSET");
        let router_now = monotonic_secs() + offset;
        parse_pinholes(&String::from_utf8_lossy(&out.stdout), router_now)
    }

    /// A router reboot from power-on: like `restart-router`, and the router's clocks start at
    /// ~0, as a real router's do (miniupnpd then sends no NOTIFY for its first ~15 minutes).
    pub fn restart_router_from_power_on(&self) {
        let out = run(Command::new(repo().join("tests/lab/lab.sh")).args(["restart-router", &self.name, "--uptime", "boot"]));
        assert!(out.status.success(), "lab.sh restart-router --uptime boot: {}", text(&out));
    }

    pub fn lab_sh(&self, cmd: &str) {
        let out = run(Command::new(repo().join("tests/lab/lab.sh")).args([cmd, &self.name]));
        assert!(out.status.success(), "lab.sh {cmd}: {}", text(&out));
    }

    /// miniupnpd's lease files (`lease_file`, `lease_file6`): what it would restore after a
    /// restart. A missing file reads as empty.
    pub fn lease_files(&self) -> (String, String) {
        let read = |f: &str| std::fs::read_to_string(self.dir().join(f)).unwrap_or_default();
        (read("leases"), read("leases6"))
    }

    /// Run a command in a lab namespace (`lan`, `rtr`, `wan`, or a host's `hK`).
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        run(Command::new(repo().join("tests/lab/lab.sh")).args(["exec", &self.name, ns]).args(args))
    }

    /// Refuse UDP 5351 in the router (an ICMP port unreachable, what a router with PCP and
    /// NAT-PMP off answers): a UPnP-only router. miniupnpd cannot be told so by config (it
    /// ignores enable_natpmp=no after the lab's =yes).
    pub fn refuse_port_control(&self) {
        let rules =
            "add table inet nopcp\nadd chain inet nopcp input { type filter hook input priority -10; }\nadd rule inet nopcp input udp dport 5351 reject\n";
        let file = self.dir().join("nopcp.nft");
        std::fs::write(&file, rules).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
        let out = self.exec("rtr", &["nft", "-f", &file.display().to_string()]);
        assert!(out.status.success(), "nft -f {}: {}", file.display(), text(&out));
    }

    /// Give `host` a new IPv6 address in place of `old` (a new prefix, or a privacy address
    /// retired): the new one added, the old one removed, the default route kept.
    pub fn replace_host_v6(&self, host: &LabHost, old: std::net::Ipv6Addr, new: std::net::Ipv6Addr) {
        for args in [
            vec!["ip", "-6", "addr", "add", &format!("{new}/64"), "dev", "eth0", "nodad"],
            vec!["ip", "-6", "addr", "del", &format!("{old}/64"), "dev", "eth0"],
            vec!["ip", "-6", "route", "replace", "default", "via", self.var("RTR_LAN_V6"), "dev", "eth0"],
        ] {
            let out = self.exec(&host.name, &args);
            assert!(out.status.success(), "{args:?}: {}", text(&out));
        }
    }

    /// Add another address to the lan host (a second "host" for several-clients tests).
    pub fn add_lan_address(&self, addr_with_len: &str) {
        let out = self.exec("lan", &["ip", "addr", "add", addr_with_len, "dev", "eth0", "nodad"]);
        assert!(out.status.success(), "adding {addr_with_len}: {}", text(&out));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.var("ROUTER_LOG")).unwrap_or_default()
    }

    /// The router's UDN (`uuid:...`, the `uuid=` line of its config): what the library's probe
    /// between renewals searches for.
    pub fn router_udn(&self) -> String {
        let conf = std::fs::read_to_string(self.dir().join("miniupnpd.conf")).unwrap_or_default();
        let uuid = conf.lines().find_map(|l| l.strip_prefix("uuid=")).expect("a uuid= line in miniupnpd.conf");
        format!("uuid:{}", uuid.trim())
    }

    /// What the router was asked, from its log: each SOAP action by name, `M-SEARCH` (miniupnpd
    /// logs an IPv4 search once per listening socket, so a search is a source port and an ST),
    /// `probe IPv4` / `probe IPv6` (a unicast search for the router's own UDN: the library's look
    /// between renewals) and `GET` (description fetches). Pass the `log().len()` of an earlier
    /// moment as `since` to count only what came after it.
    pub fn router_requests(&self, since: usize) -> HashMap<String, usize> {
        let udn = self.router_udn();
        let log = self.log();
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut searches = std::collections::HashSet::new();
        for line in log.get(since..).unwrap_or("").lines() {
            if let Some(action) = line.split("SOAPAction: ").nth(1).and_then(|a| a.rsplit('#').next()) {
                *counts.entry(action.trim().to_string()).or_default() += 1;
            } else if let Some((from, st)) = line.split("SSDP M-SEARCH from ").nth(1).and_then(|f| f.split_once(" ST:")) {
                let port = from.rsplit(':').next().unwrap_or("");
                if searches.insert((port.to_string(), st.trim().to_string())) {
                    let kind = match (st.trim() == udn, from.starts_with('[')) {
                        (false, _) => "M-SEARCH",
                        (true, false) => "probe IPv4",
                        (true, true) => "probe IPv6",
                    };
                    *counts.entry(kind.into()).or_default() += 1;
                }
            } else if line.contains("HTTP REQUEST from") && line.contains(": GET ") {
                *counts.entry("GET".into()).or_default() += 1;
            }
        }
        counts
    }
}

/// An IPv6 pinhole as the router holds it (`Lab::router_pinholes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterPinhole {
    /// Its UniqueID (what AddPinhole answered).
    pub uid: u16,
    /// The destination port it opens.
    pub port: u16,
    /// Seconds until the router drops it.
    pub lease_left: i64,
}

/// The pinholes in `nft --debug=netlink list chain ...` output: a rule is a header line
/// (`inet filter miniupnpd HANDLE`), its expressions, and `userdata = { pinhole-UID ts-TS: DESC }`.
/// The destination port is the comparison after the load of 2 bytes at transport header + 2,
/// printed as a little-endian register (`0x0000409c` is port 0x9c40, 40000).
fn parse_pinholes(listing: &str, router_now: i64) -> Vec<RouterPinhole> {
    let mut found = Vec::new();
    let mut port = None;
    let mut after_dport_load = false;
    for line in listing.lines().map(str::trim) {
        if line.starts_with("inet filter ") {
            port = None;
        } else if line.contains("payload load 2b @ transport header + 2 ") {
            after_dport_load = true;
            continue;
        } else if after_dport_load && line.starts_with("[ cmp eq reg 1 0x") {
            let reg = u32::from_str_radix(line.trim_start_matches("[ cmp eq reg 1 0x").trim_end_matches(" ]"), 16).expect("dport register");
            port = Some(u16::from_be_bytes([(reg & 0xff) as u8, (reg >> 8) as u8]));
        } else if let Some(data) = line.strip_prefix("userdata = { pinhole-") {
            let (uid, rest) = data.split_once(" ts-").expect("pinhole user data: pinhole-UID ts-TS");
            let ts: i64 = rest.split(':').next().unwrap().trim().parse().expect("pinhole ts");
            let port = port.expect("a pinhole rule without a destination port");
            found.push(RouterPinhole { uid: uid.parse().expect("pinhole uid"), port, lease_left: ts - router_now });
        }
        after_dport_load = false;
    }
    found
}

/// CLOCK_MONOTONIC in whole seconds (what miniupnpd counts time on, before the lab's offset).
fn monotonic_secs() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    ts.tv_sec
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/lab/lab.sh")).args(["down", &self.name]).output();
    }
}

/// Run `f` on a new thread that first enters network namespace `ns` (by /var/run/netns/NS).
/// Only that thread changes namespace; the test process stays where it is.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in_netns(ns, f).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Like `in_netns`, without waiting: the thread runs `f` in namespace `ns` (threads it spawns,
/// such as a client's keeper, are in that namespace too); join the handle for the result.
pub fn spawn_in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    let path = Path::new("/var/run/netns").join(ns);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid namespace fd; affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns into {}: {}", path.display(), std::io::Error::last_os_error());
        drop(file);
        f()
    })
}

/// Path of the CLI binary (`cli/`, package portopen-cli). Tests of the library package cannot
/// name it with `CARGO_BIN_EXE_portopen` (cargo gives that only to the CLI crate's own tests,
/// which use it), so it is found in the workspace's target directory next to this test binary,
/// where `cargo build` or `cargo test` at the root put it (scripts/test.sh does both). A missing
/// binary, or one older than a source file of the library or the CLI, stops the test with what to
/// run: a stale CLI is never used silently.
pub fn cli() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // target/<profile>/deps/<test binary> -> target/<profile>/portopen
        let profile_dir = exe.parent().and_then(Path::parent).expect("the test binary is in target/<profile>/deps");
        let bin = profile_dir.join(format!("portopen{}", std::env::consts::EXE_SUFFIX));
        let built = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("no CLI at {} ({e}): run `cargo build -p portopen-cli`", bin.display()));
        let newest = newest_file(&repo().join("src")).max(newest_file(&repo().join("cli/src")));
        assert!(built >= newest, "the CLI at {} is older than the sources: run `cargo build -p portopen-cli`", bin.display());
        bin.display().to_string()
    })
}

/// The latest modification time of a file below `dir`.
fn newest_file(dir: &Path) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.is_dir() { newest_file(&path) } else { entry.metadata().and_then(|m| m.modified()).unwrap_or(newest) };
        newest = newest.max(time);
    }
    newest
}
