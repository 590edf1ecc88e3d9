//! `portopen`: the command-line face of the library — discover, status, open (and hold), list,
//! clean leftovers, check (router grade). Human output by default, `--json` for scripts.

use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portopen::json::Json as J;
use portopen::{
    CancelToken, CheckReport, Client, ClientConfig, Error, Event, ExternalAddress, Family, FamilyLease, Gateway, LeaseInfo, OpenRequest, Protocol, Routes,
    V4Class,
};

// ---- output that never panics ------------------------------------------------------------

/// Set once a write to standard output (0) or error (1) failed: its reader has gone (a closed
/// pipe, EPIPE) or it cannot be written. From then on nothing more is written there, and the
/// work goes on: an `open` still closes what it opened on Ctrl-C and exits 0. `println!` would
/// panic instead (exit 101, issue 19).
static GONE: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

fn write_line(to_stderr: bool, args: fmt::Arguments) {
    let gone = &GONE[to_stderr as usize];
    if gone.load(Ordering::Relaxed) {
        return;
    }
    let written = if to_stderr { writeln!(std::io::stderr().lock(), "{args}") } else { writeln!(std::io::stdout().lock(), "{args}") };
    if written.is_err() {
        gone.store(true, Ordering::Relaxed);
    }
}

/// A line on standard output (`println!` that stops printing instead of panicking).
macro_rules! out {
    ($($arg:tt)*) => { write_line(false, format_args!($($arg)*)) };
}

/// A line on standard error (`eprintln!` that stops printing instead of panicking).
macro_rules! err {
    ($($arg:tt)*) => { write_line(true, format_args!($($arg)*)) };
}

const USAGE: &str = "usage: portopen <command> [arguments] [options]   (options go anywhere)

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
  check               which routes the router speaks, through which each family opens
                        (a trial on each, removed at once), and its UPnP grade (A/B/C/D)
  version

options:
  --v4, --v6            only this family (default both; --family v4|v6|both also works)
  --timeout MS          discovery budget (default 2000)
  --action-timeout MS   budget of one router action (default 3000)
  --router ADDR         use this router and no other for its family (searched by unicast
                        too, port 1900 unless given); default: the default gateway's
  --no-multicast        only unicast searches (--router, default gateway)
  --interface NAME      search on this interface only (repeatable; it must be up, with an address)
  --route R[,R...]      use only these routes to the router: upnp, pcp, natpmp, comma-separated
                        (default: all, PCP/NAT-PMP raced with UPnP); check tries only these
  --json                machine-readable output (one JSON value per line)
  -v, -vv               log to stderr (info, debug)
open:
  --proto udp|tcp       (default udp)       --lease S        lease seconds (default 3600)
  --external-port E     wished IPv4 port    --description D  mapping description
  --internal-v4 IP      --internal-v6 IP    address to open for (default: this host's)
  --hold SECS           close after SECS (default: hold until Ctrl-C / SIGTERM)
  --journal F           record what is open (JSON lines); leftovers of a crash are removed
                        next start. A journal that cannot be written fails the open.
  --cache F             gateway cache file (skip discovery when the router is unchanged)
check:
  --port P              port of every trial (pinhole, mapping, PCP/NAT-PMP map)";

const COMMANDS: [&str; 8] = ["discover", "status", "open", "close", "list", "check", "clean", "version"];

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

/// Reads the command line: the command is the first word that is not an option or an option's
/// value, so options go anywhere (`portopen -v open udp 1`, `portopen --json discover`). Every
/// value is checked here, before anything is sent or printed.
fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut it = raw.iter();
    let mut command: Option<String> = None;
    let mut positional: Vec<&String> = Vec::new();
    let (mut only_v4, mut only_v6) = (false, false);
    let mut a = Args {
        command: String::new(),
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
    fn millis(text: &str, name: &str) -> Result<Duration, String> {
        match number::<u64>(text, name)? {
            0 => Err(format!("{name}: must be above 0 ms")),
            ms => Ok(Duration::from_millis(ms)),
        }
    }
    fn address<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, String> {
        text.parse().map_err(|_| format!("{name}: '{text}' is not an address of that family"))
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
            "--timeout" => a.config.discovery.timeout = millis(value(&mut it, arg)?, arg)?,
            "--action-timeout" => a.config.action_timeout = millis(value(&mut it, arg)?, arg)?,
            "--router" => {
                let text = value(&mut it, arg)?;
                let addr: SocketAddr = match text.parse() {
                    Ok(sa) => sa,
                    Err(_) => SocketAddr::new(text.parse().map_err(|_| format!("--router: '{text}' is not an address"))?, 1900),
                };
                if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
                    return Err(format!("--router: '{text}' is not a router's address"));
                }
                a.config.discovery.router = Some(addr);
            }
            "--no-multicast" => a.config.discovery.multicast = false,
            "--route" => {
                let text = value(&mut it, arg)?;
                a.config.routes = Routes::parse(text).map_err(|e| format!("--route: {e}"))?;
            }
            "--interface" => {
                let name = value(&mut it, arg)?;
                if name.is_empty() {
                    return Err("--interface: empty name".into());
                }
                a.config.discovery.interfaces.push(name.to_string());
            }
            "--json" => a.json = true,
            "-v" => a.verbosity = 1,
            "-vv" => a.verbosity = 2,
            "--port" => a.port = number(value(&mut it, arg)?, arg)?,
            "--proto" => {
                let text = value(&mut it, arg)?;
                a.protocol = Protocol::parse(text).ok_or(format!("--proto: '{text}' is not udp or tcp"))?;
            }
            "--lease" => {
                let text = value(&mut it, arg)?;
                a.lease = number(text, arg)?;
                let max = portopen::limits::MAPPING_LEASE_MAX_SECS;
                if !(1..=max).contains(&a.lease) {
                    return Err(format!("--lease: {text} s is not 1..={max}"));
                }
            }
            "--external-port" => a.external_port = number(value(&mut it, arg)?, arg)?,
            "--description" => {
                let text = value(&mut it, arg)?;
                if text.is_empty() || text.len() > 128 || text.chars().any(|c| c.is_control()) {
                    return Err("--description: must be 1..=128 bytes of printable text".into());
                }
                a.description = Some(text.to_string());
            }
            "--internal-v4" => a.internal_v4 = Some(address(value(&mut it, arg)?, arg)?),
            "--internal-v6" => a.internal_v6 = Some(address(value(&mut it, arg)?, arg)?),
            "--hold" => {
                let text = value(&mut it, arg)?;
                let secs = number::<f64>(text, arg)?;
                if !(0.0..=1e9).contains(&secs) {
                    return Err(format!("--hold: '{text}' is not a number of seconds (0 or more)"));
                }
                a.hold = Some(Duration::from_secs_f64(secs));
            }
            "--journal" => a.config.journal_file = Some(PathBuf::from(value(&mut it, arg)?)),
            "--cache" => a.config.cache_file = Some(PathBuf::from(value(&mut it, arg)?)),
            other if other.starts_with('-') && other.len() > 1 => return Err(format!("unknown option '{other}'")),
            _ if command.is_none() => command = Some(arg.clone()),
            _ => positional.push(arg),
        }
    }
    a.command = command.ok_or("no command")?;
    if !COMMANDS.contains(&a.command.as_str()) {
        return Err(format!("unknown command '{}'", a.command));
    }
    if only_v4 || only_v6 {
        a.families = (only_v4, only_v6);
    }
    match positional.as_slice() {
        [] => {}
        [proto, port] if a.command == "open" || a.command == "close" => {
            a.protocol = Protocol::parse(proto).ok_or(format!("'{proto}' is not udp or tcp"))?;
            a.port = number(port, "port")?;
            if a.port == 0 {
                return Err("port: must be 1..=65535".into());
            }
        }
        _ if a.command == "open" || a.command == "close" => return Err(format!("{} needs <udp|tcp> <port 1..=65535>", a.command)),
        _ => return Err(format!("unexpected argument(s): {}", positional.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))),
    }
    if a.command == "open" && a.port == 0 {
        return Err("open needs <udp|tcp> <port 1..=65535>".into());
    }
    if a.command == "close" && a.port == 0 && a.config.journal_file.is_none() {
        return Err("close needs <udp|tcp> <port> or --journal FILE".into());
    }
    // `discover -v`: listen through the discovery's budget, to list every gateway that answers.
    if a.command == "discover" && a.verbosity > 0 {
        a.config.discovery.collect_all = true;
    }
    Ok(a)
}

// ---- output -------------------------------------------------------------------------------

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "v4",
        Family::V6 => "v6",
    }
}

/// The class of an IPv4 address peers are given (public, private, CGNAT...), a field of its
/// own next to the address in every JSON line, as `check` has it; IPv6 has none.
fn address_class(ip: IpAddr) -> J {
    match ip {
        IpAddr::V4(v4) => J::s(V4Class::of(v4).name()),
        IpAddr::V6(_) => J::Null,
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
        ("default_gateway", J::opt(gw.choice.default_gateway, J::Bool)),
        ("other_gateways", J::Arr(gw.choice.others.iter().map(|ip| J::s(ip.to_string())).collect())),
    ])
}

/// Which router, in words: a warning when it is known not to be the default gateway, and the
/// other gateways that answered.
fn router_remarks(family: Family, router: std::net::IpAddr, not_default_gateway: bool, others: &[std::net::IpAddr]) {
    if not_default_gateway {
        out!("{family}: warning: the router used ({router}) is not this host's default gateway: what it opens may not be reachable from the internet");
    }
    if !others.is_empty() {
        let list: Vec<String> = others.iter().map(|ip| ip.to_string()).collect();
        out!("{family}: other UPnP gateways answered too: {} (not used)", list.join(", "));
    }
}

fn print_gateway(gw: &Gateway) {
    out!("{} gateway: {}", gw.family, gw.location);
    out!("  server:   {}", gw.server.as_deref().unwrap_or("(no SERVER header)"));
    out!("  device:   {} (IGD:{}) {} {}", gw.friendly_name, gw.igd_version(), gw.manufacturer, gw.model_name);
    out!("  local:    {}", gw.local_addr);
    for s in &gw.wan_candidates {
        out!("  service:  {} at {}", s.kind.name(), s.control_url);
    }
    if let Some(fw) = &gw.firewall {
        out!("  service:  {} at {}", fw.kind.name(), fw.control_url);
    }
    let role = match gw.choice.default_gateway {
        Some(true) => "this host's default gateway",
        Some(false) => "NOT this host's default gateway",
        None => "not known whether it is this host's default gateway",
    };
    out!("  role:     {role}");
    router_remarks(gw.family, gw.location.ip, gw.choice.not_default_gateway(), &gw.choice.others);
}

fn family_lease_json(fl: &FamilyLease) -> J {
    J::Obj(vec![
        ("family", J::s(family_name(fl.family))),
        ("status", J::s(fl.status.name())),
        ("open", J::Bool(fl.status.is_open())),
        ("internal", J::opt(fl.internal, |a| J::s(a.to_string()))),
        ("external", J::opt(fl.external, |a| J::s(a.to_string()))),
        ("external_class", J::opt(fl.external, |a| address_class(a.ip()))),
        ("lease_secs", J::Num(fl.lease_secs as f64)),
        ("route", J::opt(fl.route, |r| J::s(r.tag()))),
        ("upnp_code", J::opt(fl.upnp_code, |c| J::Num(c as f64))),
        ("message", J::s(fl.message.clone())),
        ("router", J::opt(fl.router, |ip| J::s(ip.to_string()))),
        ("not_default_gateway", J::Bool(fl.not_default_gateway)),
        ("other_routers", J::Arr(fl.other_routers.iter().map(|ip| J::s(ip.to_string())).collect())),
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

/// One family's outcome in words. A failure says why once: the router's or the host's reason
/// (the status name only when there is none); a moved IPv4 port is said as such.
fn print_family_lease(fl: &FamilyLease, wished_port: u16) {
    if !fl.status.is_open() {
        let why = if fl.message.is_empty() { fl.status.name() } else { fl.message.as_str() };
        out!("{}: not open — {why}", fl.family);
        if let Some(router) = fl.router {
            router_remarks(fl.family, router, fl.not_default_gateway, &fl.other_routers);
        }
        return;
    }
    let mut line = format!("{}: {}", fl.family, fl.status.name());
    if let Some(ext) = fl.external {
        line.push_str(&format!(" at {ext}"));
    }
    line.push_str(&format!(" (lease {} s", fl.lease_secs));
    if let Some(route) = fl.route {
        line.push_str(&format!(", by {route}"));
    }
    line.push(')');
    if let Some(ext) = fl.external.filter(|e| fl.family == Family::V4 && e.port() != wished_port) {
        line.push_str(&format!(" — port {wished_port} was taken on the router; peers use {}", ext.port()));
    }
    if let Some(router) = fl.router {
        line.push_str(&format!(" via router {router}"));
    }
    if !fl.message.is_empty() {
        line.push_str(&format!(" — {}", fl.message));
    }
    out!("{line}");
    if let Some(router) = fl.router {
        router_remarks(fl.family, router, fl.not_default_gateway, &fl.other_routers);
    }
}

fn event_json(e: &Event) -> J {
    J::Obj(vec![
        ("type", J::s("event")),
        ("lease", J::Num(e.lease_id as f64)),
        ("family", J::s(family_name(e.family))),
        ("event", J::s(e.kind.name())),
        ("address", J::opt(e.address, |a| J::s(a.to_string()))),
        ("address_class", J::opt(e.address, |a| address_class(a.ip()))),
        ("lease_secs", J::Num(e.lease_secs as f64)),
        ("message", J::s(e.message.clone())),
    ])
}

fn print_check(r: &CheckReport) {
    out!("{}", r.verdict);
    for (family, pc) in [(Family::V6, &r.v6_port_control), (Family::V4, &r.v4_port_control)] {
        let speaks: Vec<&str> = r.speaks(family).iter().map(|route| route.name()).collect();
        let speaks = if speaks.is_empty() { "nothing".to_string() } else { speaks.join(", ") };
        out!("  {family}: the router speaks {speaks}");
        let server = pc.spoken.server.map_or_else(|| "no server".to_string(), |s| s.to_string());
        out!("  {family} PCP/NAT-PMP ({server}): {}", pc.spoken.message);
        if let Some(t) = &pc.trial {
            out!("  {family} {} trial: {} ({:.1} ms)", t.route, t.detail, t.millis);
        }
    }
    out!("UPnP grade {}: {}", r.grade.letter(), r.grade.meaning());
    out!("  because: {}", r.reason);
    for (name, gw, err) in [("IPv6", &r.v6_gateway, &r.v6_discovery_error), ("IPv4", &r.v4_gateway, &r.v4_discovery_error)] {
        match (gw, err) {
            (Some(e), _) => out!(
                "  {name} gateway: {} — {} — IGD:{} — {}",
                e.location,
                e.server.as_deref().unwrap_or("no SERVER header"),
                e.igd_version,
                e.services.join(", ")
            ),
            (None, Some(err)) => out!("  {name} gateway: none ({err})"),
            (None, None) => out!("  {name} gateway: none"),
        }
    }
    if let Some(f) = r.firewall {
        out!("  firewall: enabled={} inbound_pinhole_allowed={}", f.enabled, f.inbound_pinhole_allowed);
    }
    if let Some(e) = &r.firewall_error {
        out!("  firewall status: {e}");
    }
    if let Some(t) = &r.pinhole {
        out!("  pinhole trial: {} ({:.1} ms)", t.detail, t.millis);
    }
    if let Some(a) = &r.external_address {
        out!("  IPv4 external address: {a} ({})", r.external_class.as_deref().unwrap_or("?"));
    }
    if let Some(t) = &r.mapping {
        out!("  mapping trial: {} ({:.1} ms)", t.detail, t.millis);
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
            err!("[{}] {}", record.level(), record.args());
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
                    out!("{}", gateway_json(&gw).line());
                } else {
                    print_gateway(&gw);
                    out!("  found in {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            Err(e) => report_error(a, family, &e),
        }
        // The second route: PCP / NAT-PMP at the default gateway (a probe that maps nothing).
        let pc = client.port_control(family);
        if a.json {
            let routes: Vec<J> = pc.routes().iter().map(|r| J::s(r.tag())).collect();
            out!(
                "{}",
                J::Obj(vec![
                    ("type", J::s("port_control")),
                    ("family", J::s(family_name(family))),
                    ("server", J::opt(pc.server, |s| J::s(s.to_string()))),
                    ("routes", J::Arr(routes)),
                    ("pcp_epoch", J::opt(pc.pcp_epoch, |e| J::Num(e as f64))),
                    ("natpmp_external", J::opt(pc.natpmp_external, |ip| J::s(ip.to_string()))),
                    ("message", J::s(pc.message.clone())),
                ])
                .line()
            );
        } else {
            let at = pc.server.map(|s| format!(" at {s}")).unwrap_or_default();
            out!("{family} PCP/NAT-PMP{at}: {}", pc.message);
        }
        found |= !pc.routes().is_empty();
    }
    if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report_error(a: &Args, family: Family, e: &Error) {
    if a.json {
        out!("{}", J::Obj(vec![("type", J::s("error")), ("family", J::s(family_name(family))), ("message", J::s(e.to_string()))]).line());
    } else {
        out!("{family}: {e}");
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
            // The address and its class apart (as in `check`), and an error in a field of its own.
            let (address, class, error) = match &external {
                Some(Ok(ExternalAddress::V4(ip, class))) => (J::s(ip.to_string()), J::s(class.name()), J::Null),
                Some(Ok(ExternalAddress::V6(ip))) => (J::s(ip.to_string()), J::Null, J::Null),
                Some(Ok(ExternalAddress::None)) => (J::Null, J::Null, J::Null),
                Some(Err(e)) => (J::Null, J::Null, J::s(e.to_string())),
                None => (J::Null, J::Null, J::Null),
            };
            fields.push(("external_address", address));
            fields.push(("external_class", class));
            fields.push(("external_error", error));
            fields.push((
                "firewall",
                J::opt(firewall, |r| match r {
                    Ok(f) => J::Obj(vec![("enabled", J::Bool(f.enabled)), ("inbound_pinhole_allowed", J::Bool(f.inbound_pinhole_allowed))]),
                    Err(e) => J::s(format!("error: {e}")),
                }),
            ));
            out!("{}", J::Obj(fields).line());
        } else {
            print_gateway(&gw);
            match external {
                Some(Ok(x)) => out!("  external address: {x}"),
                Some(Err(e)) => out!("  external address: {e}"),
                None => {}
            }
            match firewall {
                Some(Ok(f)) => out!("  firewall: enabled={} inbound_pinhole_allowed={}", f.enabled, f.inbound_pinhole_allowed),
                Some(Err(e)) => out!("  firewall: {e}"),
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
    if a.json {
        // One JSON value, the list: `[]` when the router holds no mapping.
        let items = list
            .iter()
            .map(|m| {
                J::Obj(vec![
                    ("type", J::s("mapping")),
                    ("external_port", J::Num(m.external_port as f64)),
                    ("protocol", J::s(m.protocol.to_string())),
                    ("internal", J::s(SocketAddr::from((m.internal_client, m.internal_port)).to_string())),
                    ("description", J::s(m.description.clone())),
                    ("lease_secs", J::Num(m.lease_secs as f64)),
                    ("enabled", J::Bool(m.enabled)),
                ])
            })
            .collect();
        out!("{}", J::Arr(items).line());
    } else {
        for m in &list {
            out!("{:>5}/{} -> {}:{}  lease {} s  {:?}", m.external_port, m.protocol, m.internal_client, m.internal_port, m.lease_secs, m.description);
        }
        out!("{} mapping(s)", list.len());
    }
    ExitCode::SUCCESS
}

fn cmd_close(a: &Args, client: &Client) -> ExitCode {
    if a.port == 0 {
        return cmd_clean(a, client);
    }
    let mut failed = false;
    for (family, result) in client.close_port(a.protocol, a.port, &families(a)) {
        // What was removed, in words; `removed`: something is known to have been removed.
        let (removed, message) = match &result {
            Ok(portopen::Closed::Nothing) => (false, format!("nothing to remove: this host holds no {} mapping for port {}", a.protocol, a.port)),
            Ok(portopen::Closed::Mappings { removed, kept }) => {
                let mut words: Vec<String> = removed
                    .iter()
                    .map(|m| format!("removed external port {}/{} -> {}:{}", m.external_port, m.protocol, m.internal_client, m.internal_port))
                    .collect();
                words.extend(kept.iter().map(|m| format!("kept external port {} (description {:?} is not ours)", m.external_port, m.description)));
                (!removed.is_empty(), words.join("; "))
            }
            Ok(portopen::Closed::PinholeRemovedOrNone { internal }) => {
                (false, format!("pinhole for {internal}/{} removed (or none existed: UPnP cannot tell)", a.protocol))
            }
            Err(e) => {
                failed = true;
                (false, e.to_string())
            }
        };
        if a.json {
            out!(
                "{}",
                J::Obj(vec![("type", J::s("close")), ("family", J::s(family_name(family))), ("removed", J::Bool(removed)), ("message", J::s(message))]).line()
            );
        } else {
            out!("{family}: {message}");
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
        err!("close needs <udp|tcp> <port> or --journal FILE");
        return ExitCode::from(2);
    }
    let removed = client.clean_leftovers();
    if a.json {
        out!("{}", J::Obj(vec![("type", J::s("clean")), ("removed", J::Num(removed as f64))]).line());
    } else {
        out!("removed {removed} leftover(s)");
    }
    ExitCode::SUCCESS
}

fn cmd_check(a: &Args, client: &Client) -> ExitCode {
    let report = client.check(a.port);
    if a.json {
        // The report's own JSON object, tagged like every other line of --json output.
        out!("{{\"type\":\"check\",{}", &report.to_json()[1..]);
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
        err!("opening {} {} (finding the router, then asking it)...", a.protocol, a.port);
    }
    let started = Instant::now();
    let lease = match client.open(&request) {
        Ok(l) => l,
        Err(e) => {
            err!("open: {e}");
            return ExitCode::from(if matches!(e, Error::InvalidArgument(_)) { 2 } else { 1 });
        }
    };
    let info = lease.info();
    let elapsed = started.elapsed();
    let wished_port = if a.external_port != 0 { a.external_port } else { a.port };
    if a.json {
        out!("{}", lease_json(&info).line());
    } else {
        for fl in [&info.v6, &info.v4] {
            if fl.status != portopen::PortStatus::NotRequested {
                print_family_lease(fl, wished_port);
            }
        }
        if info.any_open() {
            out!("opened in {:.1} ms", elapsed.as_secs_f64() * 1000.0);
            err!("keeping it open (renewing); Ctrl-C closes it");
        }
    }
    // Events of the open itself were printed above as the lease; the rest as they come.
    while client.poll_event().is_some() {}
    if !info.any_open() {
        return ExitCode::FAILURE;
    }
    let print_event = |e: &Event| {
        if a.json {
            out!("{}", event_json(e).line());
        } else {
            let at = e.address.map(|x| format!(" at {x}")).unwrap_or_default();
            let why = if e.message.is_empty() { String::new() } else { format!(" — {}", e.message) };
            out!("{} {}{at}{why}", e.family, e.kind.name());
        }
    };
    let until = a.hold.map(|d| Instant::now() + d);
    while !stop.load(Ordering::SeqCst) && until.is_none_or(|t| Instant::now() < t) {
        while let Some(e) = client.poll_event() {
            print_event(&e);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = lease.info();
    lease.close();
    while let Some(e) = client.poll_event() {
        print_event(&e);
    }
    // A family whose close failed got a new message (why it was not removed).
    let after = lease.info();
    let failed = [(&before.v4, &after.v4), (&before.v6, &after.v6)].iter().any(|(b, a)| !a.message.is_empty() && a.message != b.message);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.is_empty() || raw.iter().any(|a| a == "-h" || a == "--help") || raw[0] == "help" {
        out!("{USAGE}");
        return if raw.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let args = match parse_args(&raw) {
        Ok(a) => a,
        Err(e) => {
            err!("portopen: {e}\n\n{USAGE}");
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
        out!("portopen {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let client = match Client::new(args.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            err!("portopen: {e}");
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
            err!("portopen: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
