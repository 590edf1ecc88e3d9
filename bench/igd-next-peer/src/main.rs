//! The bench's in-process peer: what a Rust program using the igd-next crate does to open the
//! same IPv4 port mapping and IPv6 pinhole as `portopen open`, timed from inside the process.
//! Run only inside the lab's LAN namespace (scripts/bench.py does): it sends SSDP multicast.
//!
//! igd-next-peer --port P --lease S [--v4 ADDR] [--v6 ADDR --interface IFNAME [--trust ROUTER_V6]]
//!
//! `--trust`: igd-next 0.18.0 takes a LOCATION only if it names the address the SSDP answer came
//! from (or one listed in `SearchOptions::allowed_gateway_ips`). miniupnpd answers an IPv6
//! M-SEARCH from its link-local address with a LOCATION at its global one, so without the
//! router's global address listed here IPv6 discovery finds nothing ("No response within
//! timeout"). portopen needs no such hint.
//!
//! Each family asked is opened in a thread of its own (both at once, as portopen does):
//! discovery (IPv4: `search_gateway`; IPv6: `search_ipv6_firewall_gateway` on the link), then
//! AddPortMapping / AddPinhole, then the same action once more on the gateway already found
//! (the "warm" figure: no discovery; igd-next keeps no cache across processes). When every
//! family is open it prints `opened in X ms` (from `main`'s start), then removes everything it
//! added and prints one line of figures per family. Exit 1 if any step fails (stderr says which).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use igd_next::{PortMappingProtocol, SearchOptions};

/// Discovery gives up after this (igd-next's default is 10 s; the lab router answers in ~50 ms).
const SEARCH_TIMEOUT: Duration = Duration::from_secs(3);
const DESCRIPTION: &str = "igd-next-peer";

struct Args {
    port: u16,
    lease: u32,
    v4: Option<Ipv4Addr>,
    v6: Option<(Ipv6Addr, String)>,
    trust: Vec<IpAddr>,
}

/// Milliseconds of one family: discovery, the first action, the same action again (warm),
/// the removal.
struct Figures {
    discover: f64,
    add: f64,
    add_again: f64,
    remove: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn parse() -> Result<Args, String> {
    let mut a = Args { port: 0, lease: 600, v4: None, v6: None, trust: Vec::new() };
    let mut interface = None;
    let mut v6 = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag}: missing value"))?;
        let bad = || format!("{flag}: '{value}' is not valid");
        match flag.as_str() {
            "--port" => a.port = value.parse().map_err(|_| bad())?,
            "--lease" => a.lease = value.parse().map_err(|_| bad())?,
            "--v4" => a.v4 = Some(value.parse().map_err(|_| bad())?),
            "--v6" => v6 = Some(value.parse().map_err(|_| bad())?),
            "--interface" => interface = Some(value),
            "--trust" => a.trust.push(value.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    a.v6 = match (v6, interface) {
        (Some(addr), Some(ifname)) => Some((addr, ifname)),
        (None, None) => None,
        _ => return Err("--v6 needs --interface (the link to search on)".into()),
    };
    if a.port == 0 || (a.v4.is_none() && a.v6.is_none()) {
        return Err("usage: igd-next-peer --port P [--lease S] [--v4 ADDR] [--v6 ADDR --interface IFNAME [--trust ROUTER_V6]]".into());
    }
    Ok(a)
}

fn search_options() -> SearchOptions {
    let mut o = SearchOptions::default();
    o.timeout = Some(SEARCH_TIMEOUT);
    o.single_search_timeout = Some(SEARCH_TIMEOUT);
    o
}

/// IPv4: discover, AddPortMapping (external port = internal port), again, DeletePortMapping.
fn ipv4(addr: Ipv4Addr, port: u16, lease: u32, opened: std::sync::mpsc::Sender<()>) -> Result<Figures, String> {
    let t = Instant::now();
    let gateway = igd_next::search_gateway(search_options()).map_err(|e| format!("IPv4 discovery: {e}"))?;
    let discover = ms(t.elapsed());
    let local = SocketAddr::V4(SocketAddrV4::new(addr, port));
    let t = Instant::now();
    gateway.add_port(PortMappingProtocol::UDP, port, local, lease, DESCRIPTION).map_err(|e| format!("IPv4 AddPortMapping: {e}"))?;
    let add = ms(t.elapsed());
    let _ = opened.send(());
    let t = Instant::now();
    gateway.add_port(PortMappingProtocol::UDP, port, local, lease, DESCRIPTION).map_err(|e| format!("IPv4 AddPortMapping again: {e}"))?;
    let add_again = ms(t.elapsed());
    let t = Instant::now();
    gateway.remove_port(PortMappingProtocol::UDP, port).map_err(|e| format!("IPv4 DeletePortMapping: {e}"))?;
    Ok(Figures { discover, add, add_again, remove: ms(t.elapsed()) })
}

/// IPv6: discover on the link, AddPinhole, again (a new pinhole id on miniupnpd, or the same),
/// DeletePinhole of every id given.
fn ipv6(addr: Ipv6Addr, interface: &str, trust: Vec<IpAddr>, port: u16, lease: u32, opened: std::sync::mpsc::Sender<()>) -> Result<Figures, String> {
    let index_file = format!("/sys/class/net/{interface}/ifindex");
    let scope: u32 =
        std::fs::read_to_string(&index_file).map_err(|e| format!("{index_file}: {e}"))?.trim().parse().map_err(|_| format!("{index_file}: not a number"))?;
    let t = Instant::now();
    let mut options = SearchOptions::ipv6(scope);
    options.timeout = Some(SEARCH_TIMEOUT);
    options.single_search_timeout = Some(SEARCH_TIMEOUT);
    options.allowed_gateway_ips = trust;
    let gateway = igd_next::search_ipv6_firewall_gateway(options).map_err(|e| format!("IPv6 discovery: {e}"))?;
    let discover = ms(t.elapsed());
    let client = SocketAddrV6::new(addr, port, 0, 0);
    let t = Instant::now();
    let id = gateway.add_pinhole(PortMappingProtocol::UDP, client, lease).map_err(|e| format!("IPv6 AddPinhole: {e}"))?;
    let add = ms(t.elapsed());
    let _ = opened.send(());
    let t = Instant::now();
    let id_again = gateway.add_pinhole(PortMappingProtocol::UDP, client, lease).map_err(|e| format!("IPv6 AddPinhole again: {e}"))?;
    let add_again = ms(t.elapsed());
    let t = Instant::now();
    gateway.remove_pinhole(id).map_err(|e| format!("IPv6 DeletePinhole {id}: {e}"))?;
    if id_again != id {
        gateway.remove_pinhole(id_again).map_err(|e| format!("IPv6 DeletePinhole {id_again}: {e}"))?;
    }
    Ok(Figures { discover, add, add_again, remove: ms(t.elapsed()) })
}

fn main() -> ExitCode {
    let started = Instant::now();
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("igd-next-peer: {e}");
            return ExitCode::from(2);
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut families = Vec::new();
    if let Some(addr) = a.v4 {
        let tx = tx.clone();
        families.push(("v4", std::thread::spawn(move || ipv4(addr, a.port, a.lease, tx))));
    }
    if let Some((addr, interface)) = a.v6.clone() {
        let (tx, trust) = (tx.clone(), a.trust.clone());
        families.push(("v6", std::thread::spawn(move || ipv6(addr, &interface, trust, a.port, a.lease, tx))));
    }
    drop(tx);
    // "Opened" once every family has sent its signal (a family that fails sends none).
    if rx.iter().take(families.len()).count() == families.len() {
        println!("opened in {:.1} ms", ms(started.elapsed()));
    }
    let mut failed = false;
    for (family, thread) in families {
        match thread.join() {
            Ok(Ok(f)) => println!("{family} discover_ms={:.1} add_ms={:.1} add_again_ms={:.1} remove_ms={:.1}", f.discover, f.add, f.add_again, f.remove),
            Ok(Err(e)) => {
                eprintln!("igd-next-peer: {e}");
                failed = true;
            }
            Err(_) => {
                eprintln!("igd-next-peer: {family} thread panicked");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
