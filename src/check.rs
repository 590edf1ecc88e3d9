//! The router check: the working group's UPnP grading (discover over both families, read the
//! IPv6 firewall's flags, try a short-lived pinhole and mapping, remove them — A: pinholes usable
//! as delivered; B: usable after changing a router setting; C: answers discovery but pinholes
//! unusable; D: no answer to discovery), and beside it what a studio needs: which routes the
//! router speaks (UPnP, PCP, NAT-PMP) and, proved by a trial on each, through which route each
//! family can be opened. Only the routes the client allows are tried.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::action::Fault;
use crate::addr::{ExternalAddress, V4Class};
use crate::client::Client;
use crate::error::Error;
use crate::gateway::Gateway;
use crate::json::Json;
use crate::lease::OpenRequest;
use crate::limits::{CHECK_LEASE_SECS, CHECK_PORT_BASE};
use crate::pcp_mapping::{self, MapResult, Wanted};
use crate::pinhole::{FirewallStatus, Pinhole};
use crate::port_mapping::PortMapping;
use crate::route_pcp::{self, PortControl};
use crate::transport::pcp::Schedule;
use crate::types::{Family, Protocol, Route};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// The JAIPA IPv6 UPnP working group's router grade (its verified-router list uses it).
pub enum Grade {
    /// A: the pinhole function works as the router is delivered.
    A,
    /// B: it works after changing a router setting (firewall or inbound pinholes off).
    B,
    /// C: the router answers discovery, but pinholes cannot be opened.
    C,
    /// D: nothing answers discovery.
    D,
}

impl Grade {
    /// The grade's letter.
    pub fn letter(self) -> char {
        match self {
            Grade::A => 'A',
            Grade::B => 'B',
            Grade::C => 'C',
            Grade::D => 'D',
        }
    }
    /// The grade's meaning, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            Grade::A => "IPv6 pinholes usable as delivered",
            Grade::B => "IPv6 pinholes usable after changing a router setting",
            Grade::C => "answers discovery, but IPv6 pinholes are unusable",
            Grade::D => "no answer to discovery",
        }
    }
}

/// What one trial action did.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The route it went through (a PCP trial the router answered in NAT-PMP: `NatPmp`).
    pub route: Route,
    /// The router did what was asked (and what was made was removed).
    pub ok: bool,
    /// The UPnP error code the router answered, if it refused.
    pub upnp_code: Option<u16>,
    /// What happened, in words.
    pub detail: String,
    /// How long the action took, in milliseconds.
    pub millis: f64,
}

/// Evidence about one family's gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyEvidence {
    /// The gateway's description URL (LOCATION).
    pub location: String,
    /// Its SERVER header (OS, UPnP version, product), when it sent one.
    pub server: Option<String>,
    /// 1 or 2: the InternetGatewayDevice version it describes.
    pub igd_version: u8,
    /// The WAN and firewall services it offers.
    pub services: Vec<String>,
    /// This host's address toward it.
    pub local_addr: IpAddr,
}

/// What the default gateway's PCP / NAT-PMP server said for one family, and the trial map
/// made through it (deleted at once).
#[derive(Clone, Debug, PartialEq)]
pub struct PortControlCheck {
    /// The server asked, what it speaks (PCP epoch, NAT-PMP external address) and, in words,
    /// what was learned or why nothing was asked.
    pub spoken: PortControl,
    /// The trial map of the check port: None when not tried (the routes allowed exclude PCP and
    /// NAT-PMP for this family, no default gateway, or no server answered the probe).
    pub trial: Option<Trial>,
    /// The trial opened the family reachably: granted, removed, and over IPv4 with a public
    /// external address.
    pub opens: bool,
}

/// The report.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// The working group's grade (UPnP only; D when UPnP was not tried).
    pub grade: Grade,
    /// Why this grade, in one sentence.
    pub reason: String,
    /// The routes the client allowed (`ClientConfig::routes`): only these were tried.
    pub routes_allowed: crate::config::Routes,
    /// The routes whose trial opened IPv6 (and removed it), in the order an open prefers them
    /// (PCP, NAT-PMP, UPnP). Empty: none could.
    pub v6_routes: Vec<Route>,
    /// The same for IPv4, counting only a mapping with a public external address (reachable).
    pub v4_routes: Vec<Route>,
    /// IPv6 passes without opening: the router's IPv6 firewall is off (UPnP says so).
    pub v6_open_already: bool,
    /// Whether ports can be opened, per family and through which route, in one sentence.
    pub verdict: String,
    /// The PCP / NAT-PMP server for IPv6 (PCP only: NAT-PMP is IPv4 only).
    pub v6_port_control: PortControlCheck,
    /// The PCP / NAT-PMP server for IPv4.
    pub v4_port_control: PortControlCheck,
    /// The IPv6 gateway found, if any.
    pub v6_gateway: Option<FamilyEvidence>,
    /// Why no IPv6 gateway was found.
    pub v6_discovery_error: Option<String>,
    /// The IPv4 gateway found, if any.
    pub v4_gateway: Option<FamilyEvidence>,
    /// Why no IPv4 gateway was found.
    pub v4_discovery_error: Option<String>,
    /// GetFirewallStatus's answer (firewall on, inbound pinholes allowed).
    pub firewall: Option<FirewallStatus>,
    /// Why the firewall status could not be read.
    pub firewall_error: Option<String>,
    /// The trial pinhole: added, then deleted.
    pub pinhole: Option<Trial>,
    /// The IPv4 external address the router reports.
    pub external_address: Option<String>,
    /// The class of the IPv4 external address ("public", "private", "shared (100.64/10, CGNAT)", ...).
    pub external_class: Option<String>,
    /// The trial IPv4 mapping: added, then deleted.
    pub mapping: Option<Trial>,
}

fn evidence(gw: &Gateway) -> FamilyEvidence {
    let mut services: Vec<String> = gw.wan_candidates.iter().map(|s| s.kind.name().to_string()).collect();
    if let Some(fw) = &gw.firewall {
        services.push(fw.kind.name().to_string());
    }
    FamilyEvidence { location: gw.location.to_string(), server: gw.server.clone(), igd_version: gw.igd_version(), services, local_addr: gw.local_addr }
}

fn trial(route: Route, result: Result<String, Error>, started: Instant) -> Trial {
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(detail) => Trial { route, ok: true, upnp_code: None, detail, millis },
        Err(e) => Trial { route, ok: false, upnp_code: e.upnp_code(), detail: e.to_string(), millis },
    }
}

/// A port control check that asked nothing, saying why.
fn not_asked(family: Family, server: Option<SocketAddr>, why: String) -> PortControlCheck {
    PortControlCheck { spoken: PortControl { family, server, pcp_epoch: None, natpmp_external: None, message: why }, trial: None, opens: false }
}

/// One family's part of the verdict: "IPv6 by PCP and UPnP", "IPv6 passes already ...".
fn family_words(family: Family, routes: &[Route], open_already: bool) -> Option<String> {
    if open_already {
        return Some(format!("{family} passes without opening (the router's {family} firewall is off)"));
    }
    if routes.is_empty() {
        return None;
    }
    let names: Vec<&str> = routes.iter().map(|r| r.name()).collect();
    Some(format!("{family} by {}", names.join(" and ")))
}

/// The routes in the order an open prefers them (PCP answers first and wins the race).
fn preferred(mut routes: Vec<Route>) -> Vec<Route> {
    routes.sort_by_key(|r| match r {
        Route::Pcp => 0,
        Route::NatPmp => 1,
        Route::Upnp => 2,
    });
    routes.dedup();
    routes
}

/// A test port unlikely to clash with the game's own (overridable).
fn test_port(port: u16) -> u16 {
    if port != 0 {
        return port;
    }
    CHECK_PORT_BASE + (std::process::id() % 1000) as u16
}

impl Client {
    /// Check the router. `port` is the port every trial uses (0: a high port picked for this
    /// process). Only the routes the client allows are tried: UPnP discovery over both families
    /// (and the working group's grade), and, at the same time, the default gateway's PCP /
    /// NAT-PMP server (a probe, then a short-lifetime map of `port`, deleted at once). Then the
    /// UPnP trials (pinhole, mapping) on the same port. Everything tried is removed before
    /// returning.
    pub fn check(&self, port: u16) -> CheckReport {
        let port = test_port(port);
        let routes = self.config().routes;
        let discover = |family| match routes.upnp {
            true => self.discover(family).map_err(|e| e.to_string()),
            false => Err(format!("not tried: the routes allowed ({routes}) exclude UPnP")),
        };
        let (v6, v4, v6_pc, v4_pc) = std::thread::scope(|s| {
            let t4 = s.spawn(|| discover(Family::V4));
            let pc6 = s.spawn(|| self.check_port_control(Family::V6, port));
            let pc4 = s.spawn(|| self.check_port_control(Family::V4, port));
            let v6 = discover(Family::V6);
            let panicked = |what: &str| format!("{what} thread panicked");
            (
                v6,
                t4.join().unwrap_or_else(|_| Err(panicked("IPv4 discovery"))),
                pc6.join().unwrap_or_else(|_| not_asked(Family::V6, None, panicked("IPv6 PCP"))),
                pc4.join().unwrap_or_else(|_| not_asked(Family::V4, None, panicked("IPv4 PCP/NAT-PMP"))),
            )
        });
        let mut report = CheckReport {
            grade: Grade::D,
            reason: String::new(),
            routes_allowed: routes,
            v6_routes: Vec::new(),
            v4_routes: Vec::new(),
            v6_open_already: false,
            verdict: String::new(),
            v6_port_control: v6_pc,
            v4_port_control: v4_pc,
            v6_gateway: v6.as_ref().ok().map(evidence),
            v6_discovery_error: v6.as_ref().err().cloned(),
            v4_gateway: v4.as_ref().ok().map(evidence),
            v4_discovery_error: v4.as_ref().err().cloned(),
            firewall: None,
            firewall_error: None,
            pinhole: None,
            external_address: None,
            external_class: None,
            mapping: None,
        };
        self.grade_upnp(&mut report, v6.ok(), v4.ok(), port);
        report.conclude();
        report
    }

    /// The working group's grade and the UPnP trials (pinhole, mapping) on `port`.
    fn grade_upnp(&self, report: &mut CheckReport, v6: Option<Gateway>, v4: Option<Gateway>, port: u16) {
        // Reads and adds stop on the client's cancel; the deletes of what was added do not.
        let budget = || self.budget();
        if let Some(gw) = &v4 {
            if gw.wan.is_some() {
                let mut public = false;
                match gw.external_address(&budget()) {
                    Ok(ExternalAddress::V4(ip, class)) => {
                        report.external_address = Some(ip.to_string());
                        report.external_class = Some(class.name().to_string());
                        public = class.is_reachable();
                    }
                    Ok(ExternalAddress::V6(ip)) => report.external_address = Some(ip.to_string()),
                    Ok(ExternalAddress::None) => report.external_class = Some("none (empty answer)".into()),
                    Err(e) => report.external_class = Some(format!("unknown: {e}")),
                }
                if let IpAddr::V4(local) = gw.local_addr {
                    let started = Instant::now();
                    let wanted = PortMapping {
                        remote_host: None,
                        external_port: port,
                        protocol: Protocol::Udp,
                        internal_port: port,
                        internal_client: local,
                        enabled: true,
                        description: format!("{} check", self.config().description),
                        lease_secs: CHECK_LEASE_SECS,
                    };
                    let result = gw.map_port(&wanted, &budget()).and_then(|m| {
                        gw.delete_port_mapping(None, m.external_port, m.protocol, &self.closing_budget())?;
                        Ok(format!("mapped external port {} (lease {} s) and removed it", m.external_port, m.lease_secs))
                    });
                    let t = trial(Route::Upnp, result, started);
                    if t.ok && public {
                        report.v4_routes.push(Route::Upnp);
                    }
                    report.mapping = Some(t);
                }
            }
        }

        let Some(gw) = &v6 else {
            (report.grade, report.reason) = match (&v4, self.config().routes.upnp) {
                (_, false) => (Grade::D, format!("UPnP was not tried: the routes allowed are {}", self.config().routes)),
                (Some(_), true) => (Grade::C, "a gateway answered over IPv4 but none over IPv6: no IPv6 pinhole control".to_string()),
                (None, true) => (Grade::D, "no UPnP gateway answered discovery over IPv4 or IPv6".to_string()),
            };
            return;
        };
        if gw.firewall.is_none() {
            report.grade = Grade::C;
            report.reason = "the IPv6 gateway offers no WANIPv6FirewallControl:1 service".into();
            return;
        }
        match gw.firewall_status(&budget()) {
            Ok(st) => report.firewall = Some(st),
            Err(e) => report.firewall_error = Some(e.to_string()),
        }
        if let Some(st) = report.firewall {
            if !st.enabled {
                report.grade = Grade::A;
                report.reason = "the IPv6 firewall is off: inbound traffic passes without pinholes".into();
                report.v6_open_already = true;
                return;
            }
            if !st.inbound_pinhole_allowed {
                report.grade = Grade::B;
                report.reason = "the router refuses inbound pinholes (InboundPinholeAllowed=0) until the user enables them".into();
                return;
            }
        }
        let IpAddr::V6(client) = gw.local_addr else {
            report.grade = Grade::C;
            report.reason = "no IPv6 address toward the gateway".into();
            return;
        };
        let started = Instant::now();
        let p =
            Pinhole { remote_host: None, remote_port: 0, internal_client: client, internal_port: port, protocol: Protocol::Udp, lease_secs: CHECK_LEASE_SECS };
        let result = gw.add_pinhole(&p, &budget()).and_then(|id| {
            gw.delete_pinhole(id, &self.closing_budget())?;
            Ok(format!("added pinhole {id} for [{client}]:{port}/UDP and removed it"))
        });
        let fault = result.as_ref().err().and_then(Error::fault);
        let t = trial(Route::Upnp, result, started);
        (report.grade, report.reason) = match (t.ok, fault) {
            (true, _) => (Grade::A, "an IPv6 pinhole was added and removed as delivered".to_string()),
            (false, Some(Fault::NotAuthorized)) => {
                (Grade::B, "AddPinhole not authorized (606): the router must be set to allow UPnP pinhole control for this host".to_string())
            }
            (false, Some(Fault::PinholesNotAllowed)) => {
                (Grade::B, "AddPinhole refused: inbound pinholes not allowed (703) until the user enables them".to_string())
            }
            (false, Some(Fault::FirewallDisabled)) => {
                report.v6_open_already = true;
                (Grade::A, "the IPv6 firewall is off (702): inbound traffic passes without pinholes".to_string())
            }
            (false, _) => (Grade::C, format!("the gateway answers but AddPinhole failed: {}", t.detail)),
        };
        if t.ok {
            report.v6_routes.push(Route::Upnp);
        }
        report.pinhole = Some(t);
    }

    /// The default gateway's PCP / NAT-PMP server for `family`: what it speaks, and a trial map
    /// of `port` through the routes allowed, deleted at once. With PCP and (over IPv4) NAT-PMP
    /// both allowed, a probe that maps nothing asks both first, and a silent server is not
    /// tried further; with one of them, the trial alone asks that one.
    fn check_port_control(&self, family: Family, port: u16) -> PortControlCheck {
        let routes = self.config().routes;
        if !routes.port_control(family) {
            let excluded = if family == Family::V6 { "PCP (NAT-PMP is IPv4 only)" } else { "PCP and NAT-PMP" };
            return not_asked(family, None, format!("not tried: the routes allowed ({routes}) exclude {excluded}"));
        }
        // The same rule as an open's (`route_pcp::target`).
        let request = OpenRequest { external_port: port, lease_secs: CHECK_LEASE_SECS, ..OpenRequest::new(Protocol::Udp, port) };
        let (server, client) = match route_pcp::target(family, &request, &self.config().discovery) {
            Ok(found) => found,
            Err(why @ route_pcp::NotAsked::NamedIsAnother { server, .. }) => return not_asked(family, Some(server), why.to_string()),
            Err(route_pcp::NotAsked::NoGateway) => return not_asked(family, None, format!("no {family} default gateway (or no address toward it)")),
            Err(why) => return not_asked(family, None, why.to_string()),
        };
        let probed = routes.pcp && (family == Family::V6 || routes.natpmp);
        let mut spoken = PortControl { family, server: Some(server), pcp_epoch: None, natpmp_external: None, message: String::new() };
        if probed {
            spoken = self.port_control(family);
            if spoken.routes().is_empty() {
                return PortControlCheck { spoken, trial: None, opens: false };
            }
        }
        // The trial goes through the route the server answered (PCP when it speaks it, as an
        // open's race would take): PCP then gets the whole budget, not the short wait before
        // NAT-PMP that an unknown server gets (a denied port's NOT_AUTHORIZED takes ~2.3 s).
        let (pcp, natpmp) = match probed {
            true => (spoken.pcp_epoch.is_some(), spoken.pcp_epoch.is_none() && spoken.natpmp_external.is_some()),
            false => (routes.pcp, routes.natpmp),
        };
        let wanted = Wanted { client, protocol: Protocol::Udp, internal_port: port, external_port: port, lifetime: CHECK_LEASE_SECS, pcp, natpmp };
        let started = Instant::now();
        let mut reachable = true;
        let (route, result) = match pcp_mapping::map(server, &wanted, &Schedule::RFC6887, &self.budget()) {
            MapResult::Granted { mapping, .. } => {
                let route = mapping.route;
                match (route, mapping.external.ip()) {
                    (Route::Pcp, _) => spoken.pcp_epoch = spoken.pcp_epoch.or(Some(mapping.epoch)),
                    (Route::NatPmp, IpAddr::V4(ip)) if !ip.is_unspecified() => spoken.natpmp_external = spoken.natpmp_external.or(Some(ip)),
                    _ => {}
                }
                let (external, lifetime) = (mapping.external, mapping.lifetime_granted);
                let class = match external {
                    SocketAddr::V4(ext) => Some(V4Class::of(*ext.ip())).filter(|c| !c.is_reachable()),
                    SocketAddr::V6(_) => None,
                };
                reachable = class.is_none();
                let result = match self.release_pcp(mapping) {
                    Ok(()) => Ok(format!("mapped {client} port {port}/UDP to {external} (lifetime {lifetime} s) and removed it")),
                    Err(e) => Err(format!("mapped {client} port {port}/UDP to {external} but could not remove it: {e}")),
                };
                let result = result.map(|words| match class {
                    Some(class) => format!("{words}; the external address is {class}: unreachable from the internet"),
                    None => words,
                });
                (route, result)
            }
            // The server's refusal in its own words ("PCP MAP: NOT_AUTHORIZED ...").
            MapResult::Refused { what, route, .. } => (route, Err(what)),
            MapResult::NoAnswer(e) => (if pcp { Route::Pcp } else { Route::NatPmp }, Err(Error::from(e).to_string())),
        };
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let t = match result {
            Ok(detail) => Trial { route, ok: true, upnp_code: None, detail, millis },
            Err(detail) => Trial { route, ok: false, upnp_code: None, detail, millis },
        };
        if !probed {
            spoken.message = match (&spoken.pcp_epoch, &spoken.natpmp_external) {
                (Some(epoch), _) => format!("PCP version 2 (epoch {epoch})"),
                (None, Some(ip)) => format!("NAT-PMP (external address {ip})"),
                (None, None) => format!("{}: {}", t.route, t.detail),
            };
        }
        PortControlCheck { spoken, opens: t.ok && reachable, trial: Some(t) }
    }
}

impl CheckReport {
    /// The routes proved by the PCP / NAT-PMP trials joined to UPnP's, and the verdict.
    fn conclude(&mut self) {
        for (pc, routes) in [(&self.v6_port_control, &mut self.v6_routes), (&self.v4_port_control, &mut self.v4_routes)] {
            if let Some(t) = pc.trial.as_ref().filter(|_| pc.opens) {
                routes.push(t.route);
            }
        }
        self.v6_routes = preferred(std::mem::take(&mut self.v6_routes));
        self.v4_routes = preferred(std::mem::take(&mut self.v4_routes));
        let v6 = family_words(Family::V6, &self.v6_routes, self.v6_open_already);
        let v4 = family_words(Family::V4, &self.v4_routes, false);
        self.verdict = match (v6, v4) {
            (None, None) => format!("no port can be opened through the routes tried ({})", self.routes_allowed),
            (Some(v6), Some(v4)) => format!("ports can be opened: {v6}, {v4}"),
            (Some(v6), None) => format!("ports can be opened: {v6}; IPv4 cannot be opened"),
            (None, Some(v4)) => format!("ports can be opened: {v4}; IPv6 cannot be opened"),
        };
    }

    /// The routes that answered over `family` (UPnP: a gateway was discovered).
    pub fn speaks(&self, family: Family) -> Vec<Route> {
        let (gateway, pc) = match family {
            Family::V6 => (self.v6_gateway.is_some(), &self.v6_port_control),
            Family::V4 => (self.v4_gateway.is_some(), &self.v4_port_control),
        };
        let mut routes = pc.spoken.routes();
        if gateway {
            routes.insert(0, Route::Upnp);
        }
        routes
    }
}

fn evidence_json(e: &FamilyEvidence) -> Json {
    Json::Obj(vec![
        ("location", Json::s(&e.location)),
        ("server", Json::opt(e.server.as_deref(), Json::s)),
        ("igd_version", Json::Num(e.igd_version.into())),
        ("services", Json::Arr(e.services.iter().map(Json::s).collect())),
        ("local_addr", Json::s(e.local_addr.to_string())),
    ])
}

fn trial_json(t: &Trial) -> Json {
    Json::Obj(vec![
        ("route", Json::s(t.route.tag())),
        ("ok", Json::Bool(t.ok)),
        ("upnp_code", Json::opt(t.upnp_code, |c| Json::Num(c.into()))),
        ("detail", Json::s(&t.detail)),
        ("millis", Json::Num(t.millis)),
    ])
}

fn routes_json(routes: &[Route]) -> Json {
    Json::Arr(routes.iter().map(|r| Json::s(r.tag())).collect())
}

fn port_control_json(pc: &PortControlCheck) -> Json {
    let spoken = &pc.spoken;
    Json::Obj(vec![
        ("server", Json::opt(spoken.server, |a| Json::s(a.to_string()))),
        ("routes", routes_json(&spoken.routes())),
        ("pcp_version", Json::opt(spoken.pcp_epoch.map(|_| 2), |v: u8| Json::Num(v.into()))),
        ("pcp_epoch", Json::opt(spoken.pcp_epoch, |e| Json::Num(e.into()))),
        ("natpmp_external", Json::opt(spoken.natpmp_external, |ip| Json::s(ip.to_string()))),
        ("message", Json::s(&spoken.message)),
        ("trial", Json::opt(pc.trial.as_ref(), trial_json)),
        ("opens", Json::Bool(pc.opens)),
    ])
}

impl CheckReport {
    /// The report as one compact JSON object (the C API's `report_json`, the CLI's `--json`).
    pub fn to_json(&self) -> String {
        let r = self;
        let text = |v: Option<&String>| Json::opt(v, Json::s);
        Json::Obj(vec![
            ("grade", Json::s(r.grade.letter().to_string())),
            ("meaning", Json::s(r.grade.meaning())),
            ("reason", Json::s(&r.reason)),
            ("v6_gateway", Json::opt(r.v6_gateway.as_ref(), evidence_json)),
            ("v6_discovery_error", text(r.v6_discovery_error.as_ref())),
            ("v4_gateway", Json::opt(r.v4_gateway.as_ref(), evidence_json)),
            ("v4_discovery_error", text(r.v4_discovery_error.as_ref())),
            ("firewall_enabled", Json::opt(r.firewall, |f| Json::Bool(f.enabled))),
            ("inbound_pinhole_allowed", Json::opt(r.firewall, |f| Json::Bool(f.inbound_pinhole_allowed))),
            ("firewall_error", text(r.firewall_error.as_ref())),
            ("pinhole", Json::opt(r.pinhole.as_ref(), trial_json)),
            ("external_address", text(r.external_address.as_ref())),
            ("external_class", text(r.external_class.as_ref())),
            ("mapping", Json::opt(r.mapping.as_ref(), trial_json)),
            ("routes_allowed", routes_json(&r.routes_allowed.list())),
            ("verdict", Json::s(&r.verdict)),
            ("v6_routes", routes_json(&r.v6_routes)),
            ("v4_routes", routes_json(&r.v4_routes)),
            ("v6_open_already", Json::Bool(r.v6_open_already)),
            ("v6_speaks", routes_json(&r.speaks(Family::V6))),
            ("v4_speaks", routes_json(&r.speaks(Family::V4))),
            ("v6_port_control", port_control_json(&r.v6_port_control)),
            ("v4_port_control", port_control_json(&r.v4_port_control)),
        ])
        .line()
    }
}

#[cfg(test)]
mod tests {
    use super::{not_asked, CheckReport, Grade, Trial};
    use crate::config::Routes;
    use crate::types::{Family, Route};

    fn report(v6_routes: Vec<Route>, v4_routes: Vec<Route>) -> CheckReport {
        let mut report = CheckReport {
            grade: Grade::D,
            reason: "no \"gateway\"\n".into(),
            routes_allowed: Routes::ALL,
            v6_routes,
            v4_routes,
            v6_open_already: false,
            verdict: String::new(),
            v6_port_control: not_asked(Family::V6, None, "no IPv6 default gateway".into()),
            v4_port_control: not_asked(Family::V4, None, "no IPv4 default gateway".into()),
            v6_gateway: None,
            v6_discovery_error: Some("x".into()),
            v4_gateway: None,
            v4_discovery_error: None,
            firewall: None,
            firewall_error: None,
            pinhole: Some(Trial { route: Route::Upnp, ok: false, upnp_code: Some(606), detail: "no".into(), millis: 1.5 }),
            external_address: None,
            external_class: None,
            mapping: None,
        };
        report.conclude();
        report
    }

    #[test]
    fn report_is_compact_json_with_escaped_text() {
        let json = report(Vec::new(), Vec::new()).to_json();
        assert!(
            json.starts_with(r#"{"grade":"D","meaning":"no answer to discovery","reason":"no \"gateway\"\n","v6_gateway":null,"v6_discovery_error":"x""#),
            "{json}"
        );
        assert!(json.contains(r#""pinhole":{"route":"upnp","ok":false,"upnp_code":606,"detail":"no","millis":1.500}"#), "{json}");
        assert!(json.contains(r#""mapping":null,"routes_allowed":["upnp","pcp","natpmp"],"verdict":"no port can be opened"#), "{json}");
        assert!(
            json.ends_with(
                r#""v4_port_control":{"server":null,"routes":[],"pcp_version":null,"pcp_epoch":null,"natpmp_external":null,"message":"no IPv4 default gateway","trial":null,"opens":false}}"#
            ),
            "{json}"
        );
    }

    #[test]
    fn the_verdict_names_each_family_and_its_routes_fastest_first() {
        let r = report(vec![Route::Upnp, Route::Pcp], vec![Route::Pcp]);
        assert_eq!(r.v6_routes, vec![Route::Pcp, Route::Upnp]);
        assert_eq!(r.verdict, "ports can be opened: IPv6 by PCP and UPnP, IPv4 by PCP");
        assert_eq!(report(Vec::new(), vec![Route::Upnp]).verdict, "ports can be opened: IPv4 by UPnP; IPv6 cannot be opened");
        assert_eq!(report(vec![Route::Pcp], Vec::new()).verdict, "ports can be opened: IPv6 by PCP; IPv4 cannot be opened");
        assert_eq!(report(Vec::new(), Vec::new()).verdict, "no port can be opened through the routes tried (upnp,pcp,natpmp)");
    }
}
