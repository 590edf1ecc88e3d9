//! Driving `portopen::Client` in a lab: a client made and used inside a namespace (its sockets,
//! keeper and PCP threads live there), leases kept for the test's whole run (leaked into
//! `'static`, so they can be closed from any thread), the library's debug log on stderr, and what
//! the router holds for one port.

use std::net::Ipv6Addr;
use std::time::Instant;

use portopen::{Client, Lease, OpenRequest, Routes};

use super::{in_netns, Lab};

/// The library's debug log on stderr (shown for a failing test): the story of each race.
struct Stderr;
impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        if r.target().starts_with("portopen") {
            eprintln!("{:?} {} {}", Instant::now(), r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

/// Send the library's log to stderr (once per test binary).
pub fn debug_log() {
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}

impl Lab {
    /// A client made in namespace `ns` with the lab's budgets (`config_all_routes`), `routes`
    /// allowed, renewing in the background when `keep_alive`.
    pub fn client_in(&self, ns: &str, routes: Routes, keep_alive: bool) -> &'static Client {
        debug_log();
        let mut config = self.config_all_routes();
        config.routes = routes;
        config.keep_alive = keep_alive;
        in_netns(ns, move || &*Box::leak(Box::new(Client::new(config).unwrap())))
    }

    /// `client_in` the `lan` namespace.
    pub fn lan_client(&self, routes: Routes, keep_alive: bool) -> &'static Client {
        self.client_in(&self.lan_ns(), routes, keep_alive)
    }

    /// Open `request` with `client` in namespace `ns`.
    pub fn open_in(&self, ns: &str, client: &'static Client, request: OpenRequest) -> &'static Lease {
        in_netns(ns, move || &*Box::leak(Box::new(client.open(&request).unwrap())))
    }

    /// Close `lease` in namespace `ns` (the deletes go to the router from there).
    pub fn close_in(&self, ns: &str, lease: &'static Lease) {
        in_netns(ns, move || lease.close());
    }

    /// Rules of miniupnpd's chains that name `port`.
    pub fn rules_naming(&self, port: u16) -> Vec<String> {
        self.router_rules().into_iter().filter(|r| r.contains(&port.to_string())).collect()
    }

    /// The router's link-local address on the LAN bridge.
    pub fn router_link_local(&self) -> Ipv6Addr {
        let out = self.exec("rtr", &["ip", "-6", "-o", "addr", "show", "dev", "br0", "scope", "link"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .filter_map(|w| w.split('/').next()?.parse::<Ipv6Addr>().ok())
            .find(|ip| (ip.segments()[0] & 0xffc0) == 0xfe80)
            .unwrap_or_else(|| panic!("no link-local address on the router's br0: {text}"))
    }

    /// Run `args` in namespace `ns` (`lan`, `rtr`, `wan`, `hK`); it must succeed. Returns stdout.
    pub fn run_ok(&self, ns: &str, args: &[&str]) -> String {
        let out = self.exec(ns, args);
        assert!(out.status.success(), "{args:?} in {ns}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
