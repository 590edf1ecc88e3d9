//! A gateway found by discovery: where it is, which services it offers, which local address we
//! use toward it; and the SOAP call every typed action goes through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::action::SoapAction;
use crate::addr::V6Scope;
use crate::cancel::{Budget, CancelToken};
use crate::error::{Error, UpnpFault};
use crate::limits::{DESCRIPTION_BODY_MAX, SOAP_BODY_MAX, SSDP_MAX_LOCATIONS};
use crate::parse::description::{self, Description};
use crate::parse::soap::{self, SoapOutcome};
use crate::parse::url::HttpUrl;
use crate::platform;
use crate::transport::http::{exchange, Request};
use crate::transport::ssdp::{search, Hit, SearchSpec};
use crate::types::Family;

/// The kinds of service portopen drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    /// WANPPPConnection:1 (IPv4, PPPoE links).
    WanPppConnection1,
    /// WANIPConnection:1 (IPv4).
    WanIpConnection1,
    /// WANIPConnection:2 (IPv4, IGD:2: AddAnyPortMapping).
    WanIpConnection2,
    /// WANIPv6FirewallControl:1 (IPv6 pinholes).
    WanIpv6FirewallControl1,
}

impl ServiceKind {
    /// The kind of a serviceType URN (None: a service portopen does not use).
    pub fn from_type(service_type: &str) -> Option<ServiceKind> {
        let t = service_type.trim();
        let kind = t.strip_prefix("urn:schemas-upnp-org:service:")?;
        match kind {
            "WANIPConnection:2" => Some(ServiceKind::WanIpConnection2),
            "WANIPConnection:1" => Some(ServiceKind::WanIpConnection1),
            "WANPPPConnection:1" => Some(ServiceKind::WanPppConnection1),
            "WANIPv6FirewallControl:1" => Some(ServiceKind::WanIpv6FirewallControl1),
            _ => None,
        }
    }
    /// The service's short name ("WANIPConnection:2", ...).
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::WanIpConnection2 => "WANIPConnection:2",
            ServiceKind::WanIpConnection1 => "WANIPConnection:1",
            ServiceKind::WanPppConnection1 => "WANPPPConnection:1",
            ServiceKind::WanIpv6FirewallControl1 => "WANIPv6FirewallControl:1",
        }
    }
}

/// A service endpoint on the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Which service it is.
    pub kind: ServiceKind,
    /// The exact serviceType URN from the description (sent back in SOAPAction).
    pub service_type: String,
    /// Where its SOAP actions are posted (resolved against URLBase or LOCATION).
    pub control_url: HttpUrl,
    /// Which WANConnectionDevice it belongs to (for routers with several).
    pub wan_connection_device: Option<usize>,
}

/// A gateway found over one address family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    /// The family it was discovered and is controlled over.
    pub family: Family,
    /// The root description's URL (the SSDP LOCATION).
    pub location: HttpUrl,
    /// The SERVER header of its answer (OS, UPnP version, product).
    pub server: Option<String>,
    /// Its USN (unique service name): the device's UDN and type.
    pub usn: String,
    /// BOOTID.UPNP.ORG of its answer: changes when the device restarts.
    pub boot_id: Option<u32>,
    /// The root device's type URN (InternetGatewayDevice:1 or :2).
    pub device_type: String,
    /// Its friendly name, as the router's vendor set it.
    pub friendly_name: String,
    /// Its manufacturer.
    pub manufacturer: String,
    /// Its model name.
    pub model_name: String,
    /// Its model number.
    pub model_number: String,
    /// Port mapping service (WANIPConnection:2 > :1 > WANPPPConnection:1).
    pub wan: Option<Service>,
    /// Every port mapping service offered (a router may have several WAN connection devices).
    pub wan_candidates: Vec<Service>,
    /// IPv6 pinhole service.
    pub firewall: Option<Service>,
    /// This host's address toward the gateway: every request is bound to it, and it is the
    /// InternalClient of mappings and pinholes unless the caller names another.
    pub local_addr: IpAddr,
    /// How it was chosen among the devices that answered discovery.
    pub choice: RouterChoice,
}

/// How a gateway was chosen among the devices that answered one discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterChoice {
    /// `Some(true)`: it is the device that forwards this host's traffic for its family (its
    /// responder or LOCATION address is the default route's next hop). `Some(false)`: it is
    /// not; no answer came from the default gateway (or the caller named another router), so
    /// what is opened there may not be reachable. `None`: not known (the OS tells no default
    /// gateway, or the gateway was read from the cache file).
    pub default_gateway: Option<bool>,
    /// The other UPnP gateways that answered the same discovery (their LOCATION hosts).
    pub others: Vec<IpAddr>,
}

impl RouterChoice {
    /// True when the gateway is known not to be the default gateway.
    pub fn not_default_gateway(&self) -> bool {
        self.default_gateway == Some(false)
    }
}

impl Gateway {
    /// IGD major version from the root device type (2 for InternetGatewayDevice:2).
    pub fn igd_version(&self) -> u8 {
        if self.device_type.ends_with(":InternetGatewayDevice:2") {
            2
        } else if self.device_type.ends_with(":InternetGatewayDevice:1") {
            1
        } else {
            0
        }
    }

    /// A gateway known only by one control URL (a journal entry): enough to call that service.
    pub(crate) fn for_control(family: Family, service: Service, local_addr: IpAddr) -> Gateway {
        let (wan, firewall) = match service.kind {
            ServiceKind::WanIpv6FirewallControl1 => (None, Some(service.clone())),
            _ => (Some(service.clone()), None),
        };
        Gateway {
            family,
            location: service.control_url.clone(),
            server: None,
            usn: String::new(),
            boot_id: None,
            device_type: String::new(),
            friendly_name: String::new(),
            manufacturer: String::new(),
            model_name: String::new(),
            model_number: String::new(),
            wan_candidates: wan.iter().cloned().collect(),
            wan,
            firewall,
            local_addr,
            choice: RouterChoice::default(),
        }
    }

    /// Fetch and read the description at `location` (a LOCATION from SSDP, or a cached one).
    /// `local` names the local address to use; otherwise the one the OS picks (for IPv6, the
    /// stable global address on that interface).
    pub fn from_location(family: Family, location: HttpUrl, local: Option<IpAddr>, budget: &Budget) -> Result<Gateway, Error> {
        let local_addr = match local {
            Some(ip) => ip,
            None => choose_local_addr(family, &location)?,
        };
        let response = exchange(
            &Request {
                method: "GET",
                url: &location,
                headers: &[],
                body: &[],
                bind: Some(local_addr),
                body_cap: DESCRIPTION_BODY_MAX,
                context: "device description",
            },
            budget,
        )?;
        if response.status != 200 {
            return Err(Error::HttpStatus { context: format!("device description ({location})"), status: response.status });
        }
        let text = std::str::from_utf8(&response.body).map_err(|_| Error::invalid_response(format!("device description ({location})"), "not UTF-8"))?;
        let desc = description::parse(text).map_err(|e| Error::invalid_response(format!("device description ({location})"), e.0))?;
        Gateway::from_description(family, location, local_addr, &desc)
    }

    /// The gateway a parsed description describes at `location`: URLBase (same host only) and
    /// every controlURL resolved. Public for the fuzz target (`fuzz/`), not for callers.
    #[doc(hidden)]
    pub fn from_description(family: Family, location: HttpUrl, local_addr: IpAddr, desc: &Description) -> Result<Gateway, Error> {
        let ctx = || format!("device description ({location})");
        let base = match &desc.url_base {
            Some(b) => {
                let url = HttpUrl::parse(b).map_err(|e| Error::invalid_response(ctx(), format!("URLBase refused: {e}")))?;
                if url.ip != location.ip {
                    return Err(Error::invalid_response(ctx(), format!("URLBase '{b}' points to another host than the LOCATION")));
                }
                HttpUrl { scope_id: location.scope_id, ..url }
            }
            None => location.clone(),
        };
        let mut wan_candidates = Vec::new();
        let mut firewall = None;
        for entry in &desc.services {
            let Some(kind) = ServiceKind::from_type(&entry.service_type) else { continue };
            if entry.control_url.is_empty() {
                log::debug!("{}: {} has no controlURL; ignored", ctx(), kind.name());
                continue;
            }
            let control_url = match base.join(&entry.control_url) {
                Ok(u) => u,
                Err(e) => {
                    log::warn!("{}: {} controlURL refused: {e}", ctx(), kind.name());
                    continue;
                }
            };
            let service =
                Service { kind, service_type: entry.service_type.trim().to_string(), control_url, wan_connection_device: entry.wan_connection_device };
            if kind == ServiceKind::WanIpv6FirewallControl1 {
                firewall.get_or_insert(service);
            } else {
                wan_candidates.push(service);
            }
        }
        // Best kind first; among equals, document order.
        wan_candidates.sort_by_key(|s| std::cmp::Reverse(s.kind));
        Ok(Gateway {
            family,
            location,
            server: None,
            usn: desc.udn.clone(),
            boot_id: None,
            device_type: desc.device_type.clone(),
            friendly_name: desc.friendly_name.clone(),
            manufacturer: desc.manufacturer.clone(),
            model_name: desc.model_name.clone(),
            model_number: desc.model_number.clone(),
            wan: wan_candidates.first().cloned(),
            wan_candidates,
            firewall,
            local_addr,
            choice: RouterChoice::default(),
        })
    }

    /// True when the gateway offers what its family is used for: a port mapping service over
    /// IPv4, the pinhole service over IPv6.
    pub fn is_usable(&self) -> bool {
        match self.family {
            Family::V4 => self.wan.is_some(),
            Family::V6 => self.firewall.is_some(),
        }
    }

    /// The IPv4 WAN connection service, or a NoService error naming `action`.
    pub fn wan_service(&self, action: &str) -> Result<&Service, Error> {
        self.wan.as_ref().ok_or_else(|| Error::NoService(format!("{action}: the gateway at {} offers no WANIPConnection or WANPPPConnection", self.location)))
    }

    /// The IPv6 firewall control service, or a NoService error naming `action`.
    pub fn firewall_service(&self, action: &str) -> Result<&Service, Error> {
        if self.family != Family::V6 {
            return Err(Error::NotSupported(format!(
                "{action}: IPv6 pinholes must be requested over IPv6 from the IPv6 control URL; this gateway was found over IPv4"
            )));
        }
        self.firewall.as_ref().ok_or_else(|| Error::NoService(format!("{action}: the gateway at {} offers no WANIPv6FirewallControl:1", self.location)))
    }

    /// One SOAP action. Faults become [`Error::Upnp`], whatever the HTTP status they came with.
    /// An action that changes nothing when repeated ([`SoapAction::is_idempotent`]) that
    /// got no answer within half its budget is asked once more on a new connection: a router whose
    /// accept queue overflowed can leave an accepted-looking connection unserved for seconds, while
    /// a fresh one gets through at once. Other actions (AddAnyPortMapping, AddPinhole: a repeat
    /// could hold a second port or pinhole) get one attempt with the whole budget.
    pub(crate) fn call(&self, service: &Service, action: SoapAction, args: &[(&str, String)], budget: &Budget) -> Result<Vec<(String, String)>, Error> {
        if !action.is_idempotent() {
            return self.call_once(service, action.name(), args, budget);
        }
        let action = action.name();
        let first = budget.capped(budget.remaining(action)? / 2);
        match self.call_once(service, action, args, &first) {
            Err(Error::Timeout(what)) if !budget.expired() => {
                log::debug!("SOAP {action}: no answer ({what}) in half its budget; asking again on a new connection");
                self.call_once(service, action, args, budget)
            }
            result => result,
        }
    }

    fn call_once(&self, service: &Service, action: &str, args: &[(&str, String)], budget: &Budget) -> Result<Vec<(String, String)>, Error> {
        let started = Instant::now();
        let body = soap::build_request(&service.service_type, action, args);
        let soap_action = format!("\"{}#{}\"", service.service_type, action);
        log::debug!("SOAP {action} -> {} {:?}", service.control_url, args);
        let response = exchange(
            &Request {
                method: "POST",
                url: &service.control_url,
                headers: &[("Content-Type", "text/xml; charset=\"utf-8\""), ("SOAPAction", &soap_action)],
                body: body.as_bytes(),
                bind: Some(self.local_addr),
                body_cap: SOAP_BODY_MAX,
                context: action,
            },
            budget,
        )?;
        let text = String::from_utf8_lossy(&response.body);
        let parsed = soap::parse_response(&text, action);
        let result = match (response.status, parsed) {
            (_, Ok(SoapOutcome::Fault { code, description })) => Err(Error::Upnp(UpnpFault { action: action.to_string(), code, description })),
            (200, Ok(SoapOutcome::Success(args))) => Ok(args),
            (200, Err(e)) => Err(Error::invalid_response(action, e.0)),
            (status, _) => Err(Error::HttpStatus { context: action.to_string(), status }),
        };
        match &result {
            Ok(out) => log::debug!("SOAP {action} <- ok {:?} in {:.1} ms", out, started.elapsed().as_secs_f64() * 1000.0),
            Err(e) => log::debug!("SOAP {action} <- {e} in {:.1} ms", started.elapsed().as_secs_f64() * 1000.0),
        }
        result
    }
}

/// The local address to use toward `location`: the OS's choice, except over IPv6 where a
/// link-local or temporary choice is replaced by the stable global address of that interface
/// (a pinhole for a link-local or a daily-changing address is useless).
pub fn choose_local_addr(family: Family, location: &HttpUrl) -> Result<IpAddr, Error> {
    local_addr_toward(family, location.socket_addr(), location.scope_id)
}

/// [`choose_local_addr`] toward any address (`scope`: the interface of a link-local target).
pub(crate) fn local_addr_toward(family: Family, target: SocketAddr, scope: u32) -> Result<IpAddr, Error> {
    let os_choice = platform::local_addr_toward(target).map_err(|e| Error::io(format!("finding the local address toward {target}"), &e))?;
    if family == Family::V4 {
        return Ok(os_choice);
    }
    let IpAddr::V6(os_v6) = os_choice else { return Ok(os_choice) };
    let interfaces = platform::interfaces().unwrap_or_default();
    let holding_choice = interfaces.iter().find(|i| i.holds(os_choice));
    let current = holding_choice.and_then(|i| i.v6.iter().find(|a| a.ip == os_v6));
    if V6Scope::of(&os_v6) == V6Scope::Global && current.is_none_or(|a| !a.temporary && !a.deprecated) {
        return Ok(os_choice);
    }
    // The interface the target is on: its scope (a link-local target), or the one with a
    // prefix holding it (on-link); else the one holding the OS's choice. Not simply the
    // latter: a route's `src` hint (a VPN's leftover) can make the OS pick an address of
    // another interface, which the router cannot answer.
    let IpAddr::V6(target_v6) = target.ip() else { return Ok(os_choice) };
    let on_link = |i: &&platform::NetInterface| i.v6.iter().any(|a| V6Scope::of(&a.ip) == V6Scope::Global && same_prefix(a.ip, target_v6, a.prefix_len));
    let iface = interfaces.iter().find(|i| scope != 0 && i.index == scope).or_else(|| interfaces.iter().find(on_link)).or(holding_choice);
    let Some(iface) = iface else { return Ok(os_choice) };
    let stable = iface.v6.iter().filter(|a| V6Scope::of(&a.ip) == V6Scope::Global && !a.temporary && !a.deprecated);
    // Prefer a stable address in the same /64 as the OS's temporary choice.
    let same_prefix = stable.clone().find(|a| a.ip.segments()[..4] == os_v6.segments()[..4]);
    if let Some(a) = same_prefix.or_else(|| stable.clone().next()) {
        log::debug!("IPv6: using stable address {} instead of {os_v6}", a.ip);
        return Ok(IpAddr::V6(a.ip));
    }
    if let Some(a) = iface.v6.iter().find(|a| V6Scope::of(&a.ip) == V6Scope::Global) {
        return Ok(IpAddr::V6(a.ip));
    }
    Ok(os_choice)
}

/// Whether `a` and `b` share their first `prefix_len` bits.
fn same_prefix(a: std::net::Ipv6Addr, b: std::net::Ipv6Addr, prefix_len: u8) -> bool {
    let len = u32::from(prefix_len.min(128));
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    (u128::from(a) & mask) == (u128::from(b) & mask)
}

/// How to discover.
#[derive(Clone, Debug)]
pub struct DiscoveryOptions {
    /// Whole-discovery budget.
    pub timeout: Duration,
    /// Listening window after the first gateway answer.
    pub grace: Duration,
    /// Multicast M-SEARCH on the host's interfaces.
    pub multicast: bool,
    /// Unicast M-SEARCH to the OS's default gateway too.
    pub default_gateway: bool,
    /// Extra unicast M-SEARCH targets (tests, or a user who knows the router's address). Other
    /// devices' answers are still taken; to use only one router, see `router`.
    pub unicast: Vec<SocketAddr>,
    /// Use this router and no other: it is searched by unicast (and by multicast), and only
    /// answers whose responder or LOCATION host is its address are accepted (port 0: 1900).
    pub router: Option<SocketAddr>,
    /// After another device's answer, how long to wait for the default gateway's
    /// (see [`crate::limits::DEFAULT_GATEWAY_WAIT`]).
    pub gateway_wait: Duration,
    /// Restrict multicast to these interface names (empty: all).
    pub interfaces: Vec<String>,
    /// Diagnostics: keep listening until the deadline and return every gateway.
    pub collect_all: bool,
    /// Local address to use for IPv4 / IPv6 (None: the OS's choice, see [`choose_local_addr`]).
    pub local_v4: Option<Ipv4Addr>,
    /// The same for IPv6 (pinholes are then for this address).
    pub local_v6: Option<Ipv6Addr>,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        DiscoveryOptions {
            timeout: crate::limits::DEFAULT_DISCOVERY_TIMEOUT,
            grace: crate::limits::DEFAULT_DISCOVERY_GRACE,
            multicast: true,
            default_gateway: true,
            unicast: Vec::new(),
            router: None,
            gateway_wait: crate::limits::DEFAULT_GATEWAY_WAIT,
            interfaces: Vec::new(),
            collect_all: false,
            local_v4: None,
            local_v6: None,
        }
    }
}

impl DiscoveryOptions {
    pub(crate) fn local_for(&self, family: Family) -> Option<IpAddr> {
        match family {
            Family::V4 => self.local_v4.map(IpAddr::V4),
            Family::V6 => self.local_v6.map(IpAddr::V6),
        }
    }
}

/// The default route's next hop for `family`, as an SSDP unicast target (port 1900; a
/// link-local IPv6 next hop scoped to its interface), if the OS tells.
fn default_gateway_target(family: Family) -> Option<SocketAddr> {
    match family {
        Family::V4 => platform::default_gateway_v4().map(|gw| SocketAddr::from((gw, 1900))),
        Family::V6 => platform::default_gateway_v6()
            .map(|(gw, index)| SocketAddr::V6(std::net::SocketAddrV6::new(gw, 1900, 0, if crate::addr::is_ipv6_link_local(&gw) { index } else { 0 }))),
    }
}

/// Check, before anything is sent, that this host has an address a router could open for over
/// `family` (on `interfaces`, when named): IPv6 a global one (a pinhole for a link-local or
/// unique-local address is unreachable from the internet), IPv4 any. Without one, the family is
/// reported at once with the host's reason instead of a discovery that cannot succeed (it
/// would wait out its whole budget and then blame the router).
fn host_has_address(family: Family, interfaces: &[String]) -> Result<(), Error> {
    let Ok(list) = platform::interfaces() else { return Ok(()) }; // unknown: let discovery tell
    let named = |i: &&platform::NetInterface| interfaces.is_empty() || interfaces.contains(&i.name);
    let found = match family {
        Family::V4 => list.iter().filter(named).any(|i| !i.v4.is_empty()),
        Family::V6 => list.iter().filter(named).any(|i| i.v6.iter().any(|a| V6Scope::of(&a.ip) == V6Scope::Global)),
    };
    if found {
        return Ok(());
    }
    let on = if interfaces.is_empty() { String::new() } else { format!(" on {}", interfaces.join(", ")) };
    Err(Error::NoLocalAddress(match family {
        Family::V4 => format!("this host has no IPv4 address{on}: IPv4 is unavailable on this host; no router was asked"),
        Family::V6 => format!(
            "this host has no global IPv6 address{on} (only link-local or unique-local ones, if any): IPv6 is unavailable on this host; no router was asked"
        ),
    }))
}

/// The default route's next hop for `family`, if the OS tells.
pub(crate) fn default_gateway_ip(family: Family) -> Option<IpAddr> {
    default_gateway_target(family).map(|t| t.ip())
}

/// Find gateways over one family. Returns those found, usable ones first (at least one), or
/// [`Error::NoGateway`]. Without `collect_all` it stops at the first usable gateway.
///
/// Which device: the one that forwards this host's traffic. An answer whose responder or
/// LOCATION host is the default route's next hop (IPv4: the default gateway; IPv6: the default
/// router, whose link-local next hop is usually the answer's source, while LOCATION names its
/// global LAN address) ends the search at once. After another device's answer the search
/// waits up to `gateway_wait` for it. When it never answers, the others are ranked by IGD
/// version then LOCATION address (the same devices give the same choice every run) and the
/// choice says it is not the default gateway. A device that is the default router but
/// answers from, and names in LOCATION, addresses other than the next hop is not recognised
/// (matching by MAC address through the neighbour table is not done).
pub fn discover(family: Family, options: &DiscoveryOptions, cancel: &CancelToken) -> Result<Vec<Gateway>, Error> {
    let started = Instant::now();
    // A search confined to loopback (a router on this host: a test's fake) needs no LAN
    // address; nor does a caller who names the local address to use.
    let targets = || options.unicast.iter().chain(&options.router).filter(|t| Family::of(&t.ip()) == family);
    let loopback_only = !options.multicast && targets().next().is_some() && targets().all(|t| t.ip().is_loopback());
    if options.local_for(family).is_none() && !loopback_only {
        host_has_address(family, &options.interfaces)?;
    }
    let budget = Budget::new(options.timeout, cancel);
    let gateway_target = default_gateway_target(family);
    let default_gateway: Vec<SocketAddr> = gateway_target.into_iter().filter(|_| options.default_gateway).collect();
    let named = options.router.filter(|r| family == Family::of(&r.ip())).map(|r| if r.port() == 0 { SocketAddr::new(r.ip(), 1900) } else { r });
    let mut unicast = options.unicast.clone();
    unicast.extend(named);
    let late_unicast = if options.multicast {
        default_gateway
    } else {
        unicast.extend(default_gateway);
        Vec::new()
    };
    let spec = SearchSpec {
        family,
        multicast: options.multicast,
        unicast,
        late_unicast,
        interfaces: options.interfaces.clone(),
        grace: options.grace,
        collect_all: options.collect_all,
        // The default gateway is waited for only when it can hear the search: searched by
        // multicast or by unicast (not when the caller names the only targets, e.g. a test's
        // fake router on loopback).
        prefer: match (named, gateway_target) {
            (Some(router), _) => vec![router.ip()],
            (None, Some(gw)) if options.multicast || options.default_gateway => vec![gw.ip()],
            _ => Vec::new(),
        },
        only_preferred: named.is_some(),
        preferred_wait: options.gateway_wait,
    };
    // Collecting every answer listens through half the budget only: the other half is for
    // reading the descriptions (listening to the deadline left none, and every fetch timed out).
    let search_budget = if options.collect_all { budget.capped(options.timeout / 2) } else { budget.clone() };
    let hits = search(&spec, &search_budget)?;
    let mut gateways = gateways_from_hits(family, &hits, options, &budget)?;
    let answered: Vec<IpAddr> = hits.iter().filter(|h| crate::parse::ssdp::target_rank(&h.response.search_target) > 0).map(|h| h.location.ip).collect();
    for gw in &mut gateways {
        let hit = hits.iter().find(|h| h.location == gw.location);
        gw.choice.default_gateway = gateway_target.map(|t| t.ip() == gw.location.ip || hit.is_some_and(|h| h.from.ip() == t.ip()));
        gw.choice.others = answered.iter().copied().filter(|ip| *ip != gw.location.ip).fold(Vec::new(), |mut seen, ip| {
            if !seen.contains(&ip) {
                seen.push(ip);
            }
            seen
        });
        if gw.choice.not_default_gateway() {
            // Info, not warn: the caller gets it as a value (`RouterChoice`, the lease's
            // `not_default_gateway`) and says it once in its own words.
            let gateway = gateway_target.map(|t| t.ip().to_string()).unwrap_or_default();
            log::info!(
                "{family}: using the UPnP gateway at {}, which is not this host's default gateway ({gateway}){}: what is opened there may not be reachable from the internet",
                gw.location.ip,
                if named.is_some() { ", as asked" } else { ": the default gateway did not answer" }
            );
        }
    }
    log::debug!("discovery {family}: {} usable gateway(s) in {:.1} ms", gateways.len(), started.elapsed().as_secs_f64() * 1000.0);
    Ok(gateways)
}

fn gateways_from_hits(family: Family, hits: &[Hit], options: &DiscoveryOptions, budget: &Budget) -> Result<Vec<Gateway>, Error> {
    let mut tried: Vec<&HttpUrl> = Vec::new();
    let mut found: Vec<Gateway> = Vec::new();
    let mut unusable: Vec<Gateway> = Vec::new();
    let mut last_error: Option<Error> = None;
    for hit in hits {
        if crate::parse::ssdp::target_rank(&hit.response.search_target) == 0 || tried.contains(&&hit.location) {
            continue;
        }
        if tried.len() >= SSDP_MAX_LOCATIONS {
            break;
        }
        tried.push(&hit.location);
        match Gateway::from_location(family, hit.location.clone(), options.local_for(family), budget) {
            Ok(mut gw) => {
                gw.server = hit.response.server.clone();
                gw.boot_id = hit.response.boot_id;
                if !hit.response.usn.is_empty() {
                    gw.usn = hit.response.usn.split("::").next().unwrap_or(&hit.response.usn).to_string();
                }
                if gw.is_usable() {
                    found.push(gw);
                    if !options.collect_all {
                        break;
                    }
                } else {
                    log::debug!("gateway at {} has no {} service", gw.location, if family == Family::V4 { "port mapping" } else { "pinhole" });
                    unusable.push(gw);
                }
            }
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => {
                log::debug!("gateway at {} skipped: {e}", hit.location);
                last_error = Some(e);
            }
        }
    }
    found.extend(unusable);
    if found.is_empty() {
        return Err(match last_error {
            Some(e) => e,
            None => Error::NoGateway(format!("no UPnP gateway answered discovery over {family}")),
        });
    }
    Ok(found)
}
