//! `portopen`: the command-line face of the library — discover, status, open (and hold), list,
//! clean leftovers, check (router grade). Human output by default, `--json` for scripts.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portopen::{CancelToken, CheckReport, Client, ClientConfig, Error, Event, Family, FamilyLease, Gateway, LeaseInfo, OpenRequest, Protocol};

const USAGE: &str = "usage: portopen <command> [options]

commands:
  discover            find the gateways (IPv4 and IPv6) and list their services
  status              gateway, external address, firewall flags
  open <udp|tcp> <port> [--v4|--v6] [--lease S]
                      open the port (IPv6 pinhole + IPv4 mapping), keep it open (renewing),
                      close it on Ctrl-C / SIGTERM or after --hold
  close <udp|tcp> <port>
                      remove this host's mapping and pinhole of that port
  close --journal F   remove what a killed run listed in journal F
  list                IPv4 port mappings on the router
  check               grade the router (A/B/C/D) with the evidence
  version

options:
  --v4, --v6            only this family (default both; --family v4|v6|both also works)
  --timeout MS          discovery budget (default 2000)
  --action-timeout MS   budget of one router action (default 3000)
  --router ADDR         also send a unicast search to ADDR (port 1900 unless given)
  --no-multicast        only unicast searches (--router, default gateway)
  --interface NAME      search on this interface only (repeatable)
  --json                machine-readable output (one JSON object per line)
  -v, -vv               log to stderr (info, debug)
open:
  --proto udp|tcp       (default udp)       --lease S        lease seconds (default 3600)
  --external-port E     wished IPv4 port    --description D  mapping description
  --internal-v4 IP      --internal-v6 IP    address to open for (default: this host's)
  --hold SECS           close after SECS (default: hold until Ctrl-C / SIGTERM)
  --journal F           record what is open; leftovers of a crash are removed next start
  --cache F             gateway cache file (skip discovery when the router is unchanged)
check:
  --port P              port of the trial pinhole and mapping";

struct Args {
    command: String,
    families: (bool, bool),
    json: bool,
    verbosity: u8,
    config: ClientConfig,
    port: u16,
    protocol: Protocol,
    lease: u32,
    external_port: u16,
    description: Option<String>,
    internal_v4: Option<Ipv4Addr>,
    internal_v6: Option<Ipv6Addr>,
    hold: Option<Duration>,
}

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut it = raw.iter();
    let command = it.next().ok_or("no command")?.clone();
    let mut positional: Vec<&String> = Vec::new();
    let (mut only_v4, mut only_v6) = (false, false);
    let mut a = Args {
        command,
        families: (true, true),
        json: false,
        verbosity: 0,
        config: ClientConfig { keep_alive: true, ..ClientConfig::default() },
        port: 0,
        protocol: Protocol::Udp,
        lease: portopen::limits::DEFAULT_LEASE_SECS,
        external_port: 0,
        description: None,
        internal_v4: None,
        internal_v6: None,
        hold: None,
    };
    fn value<'a>(it: &mut impl Iterator<Item = &'a String>, name: &str) -> Result<&'a str, String> {
        it.next().map(|s| s.as_str()).ok_or(format!("{name} needs a value"))
    }
    fn number<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, String> {
        text.parse().map_err(|_| format!("{name}: '{text}' is not a valid number"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--family" => {
                a.families = match value(&mut it, arg)? {
                    "v4" => (true, false),
                    "v6" => (false, true),
                    "both" => (true, true),
                    other => return Err(format!("--family: '{other}' is not v4, v6 or both")),
                }
            }
            "--v4" => only_v4 = true,
            "--v6" => only_v6 = true,
            "--timeout" => a.config.discovery.timeout = Duration::from_millis(number(value(&mut it, arg)?, arg)?),
            "--action-timeout" => a.config.action_timeout = Duration::from_millis(number(value(&mut it, arg)?, arg)?),
            "--router" => {
                let text = value(&mut it, arg)?;
                let addr: SocketAddr = match text.parse() {
                    Ok(sa) => sa,
                    Err(_) => SocketAddr::new(text.parse().map_err(|_| format!("--router: '{text}' is not an address"))?, 1900),
                };
                a.config.discovery.unicast.push(addr);
            }
            "--no-multicast" => {
                a.config.discovery.multicast = false;
            }
            "--interface" => a.config.discovery.interfaces.push(value(&mut it, arg)?.to_string()),
            "--json" => a.json = true,
            "-v" => a.verbosity = 1,
            "-vv" => a.verbosity = 2,
            "--port" => a.port = number(value(&mut it, arg)?, arg)?,
            "--proto" => {
                let text = value(&mut it, arg)?;
                a.protocol = Protocol::parse(text).ok_or(format!("--proto: '{text}' is not udp or tcp"))?;
            }
            "--lease" => a.lease = number(value(&mut it, arg)?, arg)?,
            "--external-port" => a.external_port = number(value(&mut it, arg)?, arg)?,
            "--description" => a.description = Some(value(&mut it, arg)?.to_string()),
            "--internal-v4" => a.internal_v4 = Some(number(value(&mut it, arg)?, arg)?),
            "--internal-v6" => a.internal_v6 = Some(number(value(&mut it, arg)?, arg)?),
            "--hold" => a.hold = Some(Duration::from_secs_f64(number::<f64>(value(&mut it, arg)?, arg)?.max(0.0))),
            "--journal" => a.config.journal_file = Some(PathBuf::from(value(&mut it, arg)?)),
            "--cache" => a.config.cache_file = Some(PathBuf::from(value(&mut it, arg)?)),
            other if !other.starts_with('-') => positional.push(arg),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if only_v4 || only_v6 {
        a.families = (only_v4, only_v6);
    }
    match positional.as_slice() {
        [] => {}
        [proto, port] if a.command == "open" || a.command == "close" => {
            a.protocol = Protocol::parse(proto).ok_or(format!("'{proto}' is not udp or tcp"))?;
            a.port = number(port, "port")?;
        }
        _ => return Err(format!("unexpected argument(s): {}", positional.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))),
    }
    if a.command == "open" && a.port == 0 {
        return Err("open needs <udp|tcp> <port 1..=65535>".into());
    }
    Ok(a)
}

// ---- output -------------------------------------------------------------------------------

/// A JSON value written by hand: the CLI's only structured output, not worth a dependency.
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Obj(Vec<(&'static str, J)>),
}

impl J {
    fn s(text: impl Into<String>) -> J {
        J::Str(text.into())
    }
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> J) -> J {
        v.map(f).unwrap_or(J::Null)
    }
    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => out.push_str(&format!("{}", *n as i64)),
            J::Num(n) => out.push_str(&format!("{n:.3}")),
            J::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    J::s(*k).write(out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
    fn line(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "v4",
        Family::V6 => "v6",
    }
}

fn gateway_json(gw: &Gateway) -> J {
    J::Obj(vec![
        ("family", J::s(family_name(gw.family))),
        ("location", J::s(gw.location.to_string())),
        ("server", J::opt(gw.server.clone(), J::s)),
        ("igd_version", J::Num(gw.igd_version() as f64)),
        ("friendly_name", J::s(gw.friendly_name.clone())),
        ("local_addr", J::s(gw.local_addr.to_string())),
        ("wan_service", J::opt(gw.wan.as_ref(), |s| J::s(s.kind.name()))),
        ("wan_control_url", J::opt(gw.wan.as_ref(), |s| J::s(s.control_url.to_string()))),
        ("firewall_service", J::Bool(gw.firewall.is_some())),
        ("firewall_control_url", J::opt(gw.firewall.as_ref(), |s| J::s(s.control_url.to_string()))),
    ])
}

fn print_gateway(gw: &Gateway) {
    println!("{} gateway: {}", gw.family, gw.location);
    println!("  server:   {}", gw.server.as_deref().unwrap_or("(no SERVER header)"));
    println!("  device:   {} (IGD:{}) {} {}", gw.friendly_name, gw.igd_version(), gw.manufacturer, gw.model_name);
    println!("  local:    {}", gw.local_addr);
    for s in &gw.wan_candidates {
        println!("  service:  {} at {}", s.kind.name(), s.control_url);
    }
    if let Some(fw) = &gw.firewall {
        println!("  service:  {} at {}", fw.kind.name(), fw.control_url);
    }
}

fn family_lease_json(fl: &FamilyLease) -> J {
    J::Obj(vec![
        ("family", J::s(family_name(fl.family))),
        ("status", J::s(fl.status.name())),
        ("open", J::Bool(fl.status.is_open())),
        ("internal", J::opt(fl.internal, |a| J::s(a.to_string()))),
        ("external", J::opt(fl.external, |a| J::s(a.to_string()))),
        ("lease_secs", J::Num(fl.lease_secs as f64)),
        ("upnp_code", J::opt(fl.upnp_code, |c| J::Num(c as f64))),
        ("message", J::s(fl.message.clone())),
    ])
}

fn lease_json(info: &LeaseInfo) -> J {
    J::Obj(vec![
        ("type", J::s("lease")),
        ("id", J::Num(info.id as f64)),
        ("protocol", J::s(info.protocol.to_string())),
        ("internal_port", J::Num(info.internal_port as f64)),
        ("v6", family_lease_json(&info.v6)),
        ("v4", family_lease_json(&info.v4)),
    ])
}

fn print_family_lease(fl: &FamilyLease) {
    let mut line = format!("{}: {}", fl.family, fl.status.name());
    if let Some(ext) = fl.external {
        line.push_str(&format!(" at {ext}"));
    }
    if fl.status.is_open() {
        line.push_str(&format!(" (lease {} s)", fl.lease_secs));
    }
    if !fl.message.is_empty() {
        line.push_str(&format!(" — {}", fl.message));
    }
    println!("{line}");
}

fn event_json(e: &Event) -> J {
    J::Obj(vec![
        ("type", J::s("event")),
        ("lease", J::Num(e.lease_id as f64)),
        ("family", J::s(family_name(e.family))),
        ("event", J::s(e.kind.name())),
        ("address", J::opt(e.address, |a| J::s(a.to_string()))),
        ("lease_secs", J::Num(e.lease_secs as f64)),
        ("message", J::s(e.message.clone())),
    ])
}

fn print_check(r: &CheckReport) {
    println!("grade {}: {}", r.grade.letter(), r.grade.meaning());
    println!("  because: {}", r.reason);
    for (name, gw, err) in [("IPv6", &r.v6_gateway, &r.v6_discovery_error), ("IPv4", &r.v4_gateway, &r.v4_discovery_error)] {
        match (gw, err) {
            (Some(e), _) => println!(
                "  {name} gateway: {} — {} — IGD:{} — {}",
                e.location,
                e.server.as_deref().unwrap_or("no SERVER header"),
                e.igd_version,
                e.services.join(", ")
            ),
            (None, Some(err)) => println!("  {name} gateway: none ({err})"),
            (None, None) => println!("  {name} gateway: none"),
        }
    }
    if let Some(f) = r.firewall {
        println!("  firewall: enabled={} inbound_pinhole_allowed={}", f.enabled, f.inbound_pinhole_allowed);
    }
    if let Some(e) = &r.firewall_error {
        println!("  firewall status: {e}");
    }
    if let Some(t) = &r.pinhole {
        println!("  pinhole trial: {} ({:.1} ms)", t.detail, t.millis);
    }
    if let Some(a) = &r.external_address {
        println!("  IPv4 external address: {a} ({})", r.external_class.as_deref().unwrap_or("?"));
    }
    if let Some(t) = &r.mapping {
        println!("  mapping trial: {} ({:.1} ms)", t.detail, t.millis);
    }
}

// ---- logging ------------------------------------------------------------------------------

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) && record.target().starts_with("portopen") {
            eprintln!("[{}] {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

// ---- commands -----------------------------------------------------------------------------

fn families(a: &Args) -> Vec<Family> {
    let mut v = Vec::new();
    if a.families.1 {
        v.push(Family::V6);
    }
    if a.families.0 {
        v.push(Family::V4);
    }
    v
}

fn cmd_discover(a: &Args, client: &Client) -> ExitCode {
    let mut found = false;
    for family in families(a) {
        let started = Instant::now();
        match client.discover(family) {
            Ok(gw) => {
                found = true;
                if a.json {
                    println!("{}", gateway_json(&gw).line());
                } else {
                    print_gateway(&gw);
                    println!("  found in {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            Err(e) => report_error(a, family, &e),
        }
    }
    if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report_error(a: &Args, family: Family, e: &Error) {
    if a.json {
        println!("{}", J::Obj(vec![("type", J::s("error")), ("family", J::s(family_name(family))), ("message", J::s(e.to_string()))]).line());
    } else {
        println!("{family}: {e}");
    }
}

fn cmd_status(a: &Args, client: &Client) -> ExitCode {
    let budget = || portopen::Budget::new(client.config().action_timeout, &CancelToken::new());
    let mut ok = false;
    for family in families(a) {
        let gw = match client.discover(family) {
            Ok(gw) => gw,
            Err(e) => {
                report_error(a, family, &e);
                continue;
            }
        };
        ok = true;
        let external = gw.wan.as_ref().map(|_| gw.external_address(&budget()));
        let firewall = gw.firewall.as_ref().filter(|_| family == Family::V6).map(|_| gw.firewall_status(&budget()));
        if a.json {
            let mut fields = vec![("type", J::s("status")), ("gateway", gateway_json(&gw))];
            fields.push(("external_address", J::opt(external.clone(), |r| J::s(r.map(|x| x.to_string()).unwrap_or_else(|e| format!("error: {e}"))))));
            fields.push((
                "firewall",
                J::opt(firewall, |r| match r {
                    Ok(f) => J::Obj(vec![("enabled", J::Bool(f.enabled)), ("inbound_pinhole_allowed", J::Bool(f.inbound_pinhole_allowed))]),
                    Err(e) => J::s(format!("error: {e}")),
                }),
            ));
            println!("{}", J::Obj(fields).line());
        } else {
            print_gateway(&gw);
            match external {
                Some(Ok(x)) => println!("  external address: {x}"),
                Some(Err(e)) => println!("  external address: {e}"),
                None => {}
            }
            match firewall {
                Some(Ok(f)) => println!("  firewall: enabled={} inbound_pinhole_allowed={}", f.enabled, f.inbound_pinhole_allowed),
                Some(Err(e)) => println!("  firewall: {e}"),
                None => {}
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn cmd_list(a: &Args, client: &Client) -> ExitCode {
    let gw = match client.discover(Family::V4) {
        Ok(gw) => gw,
        Err(e) => {
            report_error(a, Family::V4, &e);
            return ExitCode::FAILURE;
        }
    };
    let budget = portopen::Budget::new(client.config().action_timeout, &CancelToken::new());
    let mut list = Vec::new();
    for index in 0..portopen::limits::LIST_MAX_ENTRIES {
        match gw.get_generic_port_mapping(index, &budget) {
            Ok(m) => list.push(m),
            Err(e) if matches!(e.upnp_code(), Some(713) | Some(714) | Some(402)) => break,
            Err(e) => {
                report_error(a, Family::V4, &e);
                return ExitCode::FAILURE;
            }
        }
    }
    for m in &list {
        if a.json {
            println!(
                "{}",
                J::Obj(vec![
                    ("type", J::s("mapping")),
                    ("external_port", J::Num(m.external_port as f64)),
                    ("protocol", J::s(m.protocol.to_string())),
                    ("internal", J::s(SocketAddr::from((m.internal_client, m.internal_port)).to_string())),
                    ("description", J::s(m.description.clone())),
                    ("lease_secs", J::Num(m.lease_secs as f64)),
                    ("enabled", J::Bool(m.enabled)),
                ])
                .line()
            );
        } else {
            println!("{:>5}/{} -> {}:{}  lease {} s  {:?}", m.external_port, m.protocol, m.internal_client, m.internal_port, m.lease_secs, m.description);
        }
    }
    if !a.json {
        println!("{} mapping(s)", list.len());
    }
    ExitCode::SUCCESS
}

fn cmd_close(a: &Args, client: &Client) -> ExitCode {
    if a.port == 0 {
        return cmd_clean(a, client);
    }
    let mut failed = false;
    for (family, result) in client.close_port(a.protocol, a.port, &families(a)) {
        let (removed, message) = match &result {
            Ok(true) => (true, String::new()),
            Ok(false) => (false, "nothing of this host's was open there".to_string()),
            Err(e) => {
                failed = true;
                (false, e.to_string())
            }
        };
        if a.json {
            println!(
                "{}",
                J::Obj(vec![("type", J::s("close")), ("family", J::s(family_name(family))), ("removed", J::Bool(removed)), ("message", J::s(message))]).line()
            );
        } else if removed {
            println!("{family}: removed {}/{}", a.port, a.protocol);
        } else {
            println!("{family}: {message}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn cmd_clean(a: &Args, client: &Client) -> ExitCode {
    if a.config.journal_file.is_none() {
        eprintln!("close needs <udp|tcp> <port> or --journal FILE");
        return ExitCode::from(2);
    }
    let removed = client.clean_leftovers();
    if a.json {
        println!("{}", J::Obj(vec![("type", J::s("clean")), ("removed", J::Num(removed as f64))]).line());
    } else {
        println!("removed {removed} leftover(s)");
    }
    ExitCode::SUCCESS
}

fn cmd_check(a: &Args, client: &Client) -> ExitCode {
    let report = client.check(a.port);
    if a.json {
        // The report's own JSON object, tagged like every other line of --json output.
        println!("{{\"type\":\"check\",{}", &report.to_json()[1..]);
    } else {
        print_check(&report);
    }
    ExitCode::SUCCESS
}

fn cmd_open(a: &Args, client: &Client, stop: &AtomicBool) -> ExitCode {
    let request = OpenRequest {
        protocol: a.protocol,
        internal_port: a.port,
        v4: a.families.0,
        v6: a.families.1,
        lease_secs: a.lease,
        external_port: a.external_port,
        internal_v4: a.internal_v4,
        internal_v6: a.internal_v6,
        description: a.description.clone(),
    };
    if !a.json {
        eprintln!("opening {} {} (finding the router, then asking it)...", a.protocol, a.port);
    }
    let started = Instant::now();
    let lease = match client.open(&request) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("open: {e}");
            return ExitCode::from(2);
        }
    };
    let info = lease.info();
    let elapsed = started.elapsed();
    if a.json {
        println!("{}", lease_json(&info).line());
    } else {
        for fl in [&info.v6, &info.v4] {
            if fl.status != portopen::PortStatus::NotRequested {
                print_family_lease(fl);
            }
        }
        println!("opened in {:.1} ms", elapsed.as_secs_f64() * 1000.0);
        if info.any_open() {
            eprintln!("keeping it open (renewing); Ctrl-C closes it");
        }
    }
    // Events of the open itself were printed above as the lease; the rest as they come.
    while client.poll_event().is_some() {}
    if !info.any_open() {
        return ExitCode::FAILURE;
    }
    let until = a.hold.map(|d| Instant::now() + d);
    while !stop.load(Ordering::SeqCst) && until.is_none_or(|t| Instant::now() < t) {
        while let Some(e) = client.poll_event() {
            if a.json {
                println!("{}", event_json(&e).line());
            } else {
                println!(
                    "{} {}{}{}",
                    e.family,
                    e.kind.name(),
                    e.address.map(|x| format!(" at {x}")).unwrap_or_default(),
                    if e.message.is_empty() { String::new() } else { format!(" — {}", e.message) }
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    lease.close();
    while let Some(e) = client.poll_event() {
        if a.json {
            println!("{}", event_json(&e).line());
        } else {
            println!("{} {}", e.family, e.kind.name());
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.is_empty() || raw[0] == "-h" || raw[0] == "--help" || raw[0] == "help" {
        println!("{USAGE}");
        return if raw.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let args = match parse_args(&raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("portopen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(match args.verbosity {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    });
    if args.command == "version" {
        println!("portopen {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let client = match Client::new(args.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portopen: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // SIGINT/SIGTERM: end the hold loop so the lease is closed and the router left clean.
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)) {
            log::warn!("no signal handler: {e}");
        }
    }
    match args.command.as_str() {
        "discover" => cmd_discover(&args, &client),
        "status" => cmd_status(&args, &client),
        "list" => cmd_list(&args, &client),
        "close" => cmd_close(&args, &client),
        "clean" => cmd_clean(&args, &client),
        "check" => cmd_check(&args, &client),
        "open" => cmd_open(&args, &client, &stop),
        other => {
            eprintln!("portopen: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
