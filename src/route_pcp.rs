//! The PCP / NAT-PMP route: how the lease engine's tasks are performed for what is held through
//! PCP (RFC 6887) or NAT-PMP (RFC 6886) — open, refresh, delete, remove a crash's leftovers, hear
//! ANNOUNCEs — and how the answers are read into outcomes. Blocking, with the client's budget;
//! never decides what happens next. The race with UPnP at open is the driver's (`driver.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use crate::cancel::Budget;
use crate::engine::{Outcome, PcpLooked};
use crate::error::Error;
use crate::gateway_cache::lock;
use crate::lease::{FamilyLease, OpenRequest, PortStatus};
use crate::limits::{MAPPING_LEASE_MAX_SECS, PCP_SHORTEN_LIFETIME, PINHOLE_LEASE_MAX_SECS};
use crate::parse::pcp::{Announcement, Verdict};
use crate::pcp_mapping::{self, MapResult, PcpMapping, PcpWatch, Wanted};
use crate::persist::JournalEntry;
use crate::transport::pcp::{self as net, AnnounceWatch, ExchangeError, Schedule};
use crate::types::{Family, Route};

/// Per family: the ANNOUNCE listener of one server.
struct AnnounceListener {
    /// The server and the local address the listener is open for.
    key: (SocketAddr, IpAddr),
    /// None: it could not be opened.
    watch: Option<AnnounceWatch>,
    /// The epoch of the last ANNOUNCE acted on, and when: its repeats are not a new restart.
    acted: Option<(u32, Instant)>,
    /// The server did not answer the last look's epoch request.
    unanswered: bool,
}

impl AnnounceListener {
    /// Is an ANNOUNCE with `epoch`, heard now, a restart not yet acted on? Not when it repeats
    /// the one acted on (a server may send several; a flood must not re-map at every look):
    /// within `PCP_ANNOUNCE_REPEAT_WINDOW` of it with an epoch of the same run.
    fn is_new_restart(&mut self, epoch: u32, now: Instant) -> bool {
        let repeat = self.acted.is_some_and(|(e0, at)| {
            let since = now.saturating_duration_since(at);
            since <= crate::limits::PCP_ANNOUNCE_REPEAT_WINDOW && !crate::parse::pcp::epoch_lost_state(e0, epoch, since)
        });
        if !repeat {
            self.acted = Some((epoch, now));
        }
        !repeat
    }
}

#[derive(Default)]
pub(crate) struct PcpRoute {
    /// Used by the one thread that looks between renewals (like the UPnP route's NOTIFY
    /// listeners).
    announces: [Mutex<Option<AnnounceListener>>; 2],
}

/// What one PCP/NAT-PMP attempt at opening a family gave.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Granted: the family is open through this mapping.
    Granted(PcpMapping),
    /// The server answered, refusing: the family as it would be reported if UPnP does no better.
    Refused(FamilyLease),
    /// No server, no answer in time, cancelled, or no address to ask from.
    NoAnswer(String),
}

/// The PCP server and the address to map for `family`: the default gateway, and the address to
/// open (asked for, or this host's address toward the gateway; for IPv6 the stable global one).
pub(crate) fn server_and_client(family: Family, req: &OpenRequest) -> Option<(SocketAddr, IpAddr)> {
    let server = net::default_server(family)?;
    let client = match family {
        Family::V4 => req.internal_v4.map(IpAddr::V4),
        Family::V6 => req.internal_v6.map(IpAddr::V6),
    };
    let client = match client {
        Some(ip) => ip,
        None => crate::gateway::local_addr_toward(family, server, server_scope(server)).ok()?,
    };
    Some((server, client))
}

/// Why the default gateway's PCP/NAT-PMP server is not asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NotAsked {
    /// Discovery is limited to the routers named (no multicast, no default gateway).
    LimitedToNamed,
    /// A router is named for this family and it is not the default gateway (the server).
    NamedIsAnother { named: IpAddr, server: SocketAddr },
    /// No default gateway, or no address of this host toward it.
    NoGateway,
}

impl std::fmt::Display for NotAsked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAsked::LimitedToNamed => write!(f, "not asked: discovery is limited to the named routers"),
            NotAsked::NamedIsAnother { named, .. } => write!(f, "not asked: the router named ({named}) is not the default gateway"),
            NotAsked::NoGateway => write!(f, "no default gateway (or no address toward it)"),
        }
    }
}

/// The PCP server and address to map for `family`, when the client may ask it: PCP goes to the
/// default gateway, so only when discovery may reach beyond the targets it was given (multicast,
/// or the default gateway), never from a client told to talk to named addresses alone (loopback
/// tests, a user who named the router), and not when another router is named for this family.
/// The same rule for an open and for `check`.
pub(crate) fn target(family: Family, req: &OpenRequest, options: &crate::gateway::DiscoveryOptions) -> Result<(SocketAddr, IpAddr), NotAsked> {
    if !(options.multicast || options.default_gateway) {
        return Err(NotAsked::LimitedToNamed);
    }
    let (server, client) = server_and_client(family, req).ok_or(NotAsked::NoGateway)?;
    match options.router {
        Some(named) if named.is_ipv4() == server.is_ipv4() && named.ip() != server.ip() => Err(NotAsked::NamedIsAnother { named: named.ip(), server }),
        _ => Ok((server, client)),
    }
}

fn server_scope(server: SocketAddr) -> u32 {
    match server {
        SocketAddr::V6(s) => s.scope_id(),
        SocketAddr::V4(_) => 0,
    }
}

/// One attempt to open `family` through PCP (or NAT-PMP) at `server` from `client`.
pub(crate) fn attempt(family: Family, server: SocketAddr, client: IpAddr, req: &OpenRequest, pcp: bool, natpmp: bool, budget: &Budget) -> Attempt {
    let max = if family == Family::V6 { PINHOLE_LEASE_MAX_SECS } else { MAPPING_LEASE_MAX_SECS };
    let wanted = Wanted {
        client,
        protocol: req.protocol,
        internal_port: req.internal_port,
        external_port: req.external_port,
        lifetime: req.lease_secs.min(max),
        pcp,
        natpmp,
    };
    let started = Instant::now();
    let result = pcp_mapping::map(server, &wanted, &Schedule::RFC6887, budget);
    log::debug!("{family} PCP/NAT-PMP {client} -> {server}: {result:?} after {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    match result {
        MapResult::Granted { mapping, .. } => Attempt::Granted(mapping),
        MapResult::Refused { verdict, what, route } => {
            let mut fl = FamilyLease::new(family, true);
            fl.internal = Some(SocketAddr::new(client, req.internal_port));
            fl.status = status_of(verdict);
            fl.router = Some(server.ip());
            fl.message = format!("{}: {what}", route.name());
            Attempt::Refused(fl)
        }
        MapResult::NoAnswer(e) => Attempt::NoAnswer(no_answer(&e)),
    }
}

fn no_answer(e: &ExchangeError) -> String {
    match e {
        ExchangeError::NoServer => "PCP/NAT-PMP: no server at the gateway (port 5351 refused)".into(),
        ExchangeError::NoAnswer { sends } => format!("PCP/NAT-PMP: no answer to {sends} send(s)"),
        ExchangeError::Cancelled => "PCP/NAT-PMP: stopped".into(),
        ExchangeError::Io(e) => format!("PCP/NAT-PMP: {e}"),
    }
}

/// A refusal in the existing vocabulary.
fn status_of(verdict: Verdict) -> PortStatus {
    match verdict {
        Verdict::Granted => PortStatus::Open,
        Verdict::NotAuthorized => PortStatus::NotAuthorized,
        Verdict::UpstreamNat => PortStatus::UpstreamNat,
        Verdict::TryLater(_) | Verdict::UseVersion(_) | Verdict::Unusable => PortStatus::Failed,
    }
}

/// The family as reported when `mapping` opened it.
pub(crate) fn opened(family: Family, mapping: &PcpMapping) -> FamilyLease {
    let mut fl = FamilyLease::new(family, true);
    fl.internal = Some(SocketAddr::new(mapping.client, mapping.internal_port));
    fl.route = Some(mapping.route);
    // The PCP server is the default gateway itself (never another router).
    fl.router = Some(mapping.server.ip());
    fl.lease_secs = mapping.lifetime_granted;
    if mapping.external.ip().is_unspecified() {
        // RFC 6887 §11.4 / miniupnpd with no WAN address: granted, but nothing reaches it.
        fl.status = PortStatus::NoExternalAddress;
        fl.message = format!("{}: the router granted port {} but has no external address (its WAN is down?)", mapping.route, mapping.external.port());
    } else {
        fl.status = PortStatus::Open;
        fl.external = Some(mapping.external);
    }
    fl
}

impl PcpRoute {
    /// One exchange: the same MAP again (same nonce). It re-makes the mapping if the server lost
    /// it. A host whose IPv6 address changed (the pinhole follows it) moves instead.
    pub(crate) fn renew(&self, mapping: &PcpMapping, follow_address: bool, budget: &Budget) -> Outcome {
        if follow_address && mapping.client.is_ipv6() {
            if let Ok(now @ IpAddr::V6(v6)) = crate::gateway::local_addr_toward(Family::V6, mapping.server, server_scope(mapping.server)) {
                if now != mapping.client {
                    return Outcome::Moved { to: v6 };
                }
            }
        }
        match mapping.refresh(&Schedule::RFC6887, budget) {
            MapResult::Granted { mapping, lost_state } => Outcome::Refreshed { mapping, lost_state },
            MapResult::NoAnswer(ExchangeError::Cancelled) => Outcome::Postponed(Error::Cancelled.to_string()),
            MapResult::NoAnswer(e) => Outcome::Gone { reason: format!("the router stopped answering: {}", no_answer(&e)), unreachable: true },
            MapResult::Refused { what, route, .. } => {
                Outcome::Gone { reason: format!("{}: the refresh was refused: {what}", route.name()), unreachable: false }
            }
        }
    }

    /// Delete with the saved nonce. miniupnpd 2.3.1 (fixed in 2.3.6/2.3.8): after any IPv6
    /// refresh, a PCP delete of that pinhole is NOT_AUTHORIZED. Then UPnP removes it by its
    /// tuple (AddPinhole of the same tuple returns its id, DeletePinhole removes it) when the
    /// router speaks UPnP (`upnp_v6`); otherwise a MAP with a lifetime of 1 s cuts it to the
    /// server's minimum (120 s on miniupnpd) and the error says so.
    pub(crate) fn release(&self, mapping: &PcpMapping, budget: &Budget, upnp_v6: impl FnOnce(&PcpMapping) -> Option<Result<(), Error>>) -> Result<(), Error> {
        match mapping.delete(budget) {
            MapResult::Granted { .. } => Ok(()),
            MapResult::Refused { verdict: Verdict::NotAuthorized, what, .. } if mapping.client.is_ipv6() => {
                log::debug!("PCP delete of [{}]:{} refused ({what}): removing it through UPnP by its tuple", mapping.client, mapping.internal_port);
                match upnp_v6(mapping) {
                    Some(Ok(())) => Ok(()),
                    other => {
                        if let Some(Err(e)) = other {
                            log::debug!("UPnP could not remove it either: {e}");
                        }
                        let shortened = matches!(mapping.shorten(PCP_SHORTEN_LIFETIME, budget), MapResult::Granted { .. });
                        Err(Error::NotSupported(format!(
                            "PCP refused to delete the pinhole ({what}: miniupnpd before 2.3.6 after a refresh){}",
                            if shortened { "; its lifetime was cut to the router's minimum instead" } else { "" }
                        )))
                    }
                }
            }
            MapResult::Refused { what, .. } => Err(Error::InvalidResponse { context: format!("{} delete", mapping.route), reason: what }),
            MapResult::NoAnswer(e) => Err(e.into()),
        }
    }

    /// Remove a crash's leftover: delete with the journal's nonce. Err only when the server did
    /// not answer (the entry is then kept for the next start).
    pub(crate) fn remove_leftover(
        &self,
        entry: &JournalEntry,
        budget: &Budget,
        upnp_v6: impl FnOnce(&PcpMapping) -> Option<Result<(), Error>>,
    ) -> Result<bool, Error> {
        let JournalEntry::Pcp { server, route, nonce, client, protocol, internal_port, external_port } = entry else { return Ok(false) };
        let mapping = PcpMapping {
            server: *server,
            route: *route,
            nonce: *nonce,
            client: *client,
            protocol: *protocol,
            internal_port: *internal_port,
            external: SocketAddr::new(*client, *external_port),
            lifetime_asked: 0,
            lifetime_granted: 0,
            epoch: 0,
            answered_at: Instant::now(),
            renew_permille: 500,
        };
        match self.release(&mapping, budget, upnp_v6) {
            Ok(()) => {
                log::info!("removed leftover {route} mapping of {client} port {internal_port}/{protocol}");
                Ok(true)
            }
            Err(e) if e.is_unreachable() || matches!(e, Error::Timeout(_)) => Err(e),
            Err(e) => {
                log::info!("leftover {route} mapping not removed: {e}");
                Ok(false)
            }
        }
    }

    /// The look between renewals for what is held through PCP/NAT-PMP (`watch`, per family):
    /// which servers restarted by what they announced since the last look (opening, moving or
    /// closing the ANNOUNCE listeners), and each watched server's epoch now.
    ///
    /// - ANNOUNCE: an IPv4 and an IPv6 server reached over the same interface are taken as one
    ///   router: either one's ANNOUNCE counts for both. miniupnpd 2.3.1 sends its IPv6 ANNOUNCE
    ///   out of the WAN side only, so a restart reaches the LAN as an IPv4 ANNOUNCE alone; the
    ///   IPv4 default gateway is listened to even when only IPv6 is held (and the IPv6 router
    ///   when only IPv4 is).
    /// - Epoch: one ANNOUNCE request (PCP) or external address request (NAT-PMP) per watched
    ///   server: a router that powered on (its epoch starts again) is found within one look
    ///   even when no ANNOUNCE of it was heard. The engine compares the epoch with each
    ///   mapping's. A router that does not answer within the short bound changes nothing (the
    ///   refresh finds a router that is really gone).
    ///
    /// A server that answers the epoch request after not answering the previous one is said
    /// (`answering_again`): the host or the server was cut off, and a restart in between may
    /// have gone unheard with its epoch kept (miniupnpd's `system_uptime=yes`).
    ///
    /// And this host's IPv6 address toward the watched IPv6 server now (a route lookup, no
    /// packet): a pinhole whose address changed is moved at once, not at its next refresh.
    pub(crate) fn look(&self, watch: &[Option<PcpWatch>; 2], budget: &Budget) -> PcpLooked {
        let mut listen: [Option<(SocketAddr, IpAddr)>; 2] = [watch[0].map(|w| (w.server, w.client)), watch[1].map(|w| (w.server, w.client))];
        for family in [Family::V4, Family::V6] {
            let other = family.other() as usize;
            if listen[family as usize].is_none() && watch[other].is_some() {
                listen[family as usize] = server_and_client(family, &OpenRequest::new(crate::types::Protocol::Udp, 1));
            }
        }
        let mut restarted = Vec::new();
        for family in [Family::V4, Family::V6] {
            let mut slot = lock(&self.announces[family as usize]);
            let Some(key) = listen[family as usize] else {
                *slot = None;
                continue;
            };
            if slot.as_ref().is_none_or(|l| l.key != key) {
                let opened = AnnounceWatch::open(key.1)
                    .map_err(|e| log::debug!("{family}: not listening for PCP ANNOUNCEs ({e}); a restart is noticed by the epoch or the next refresh"));
                *slot = Some(AnnounceListener { key, watch: opened.ok(), acted: None, unanswered: false });
            }
            let Some(listener) = slot.as_mut() else { continue };
            let Some(w) = &listener.watch else { continue };
            let heard: Vec<_> = w.heard().into_iter().filter(|(from, _)| from.ip() == key.0.ip()).collect();
            let now = Instant::now();
            let mut new_restart = false;
            for (from, what) in &heard {
                let epoch = match what {
                    Announcement::Pcp { epoch } | Announcement::NatPmpAddress { epoch, .. } => *epoch,
                };
                if listener.is_new_restart(epoch, now) {
                    match what {
                        Announcement::Pcp { epoch } => log::info!("{family}: PCP server {from} announced a restart (epoch {epoch})"),
                        Announcement::NatPmpAddress { epoch, external } => {
                            log::info!("{family}: NAT-PMP server {from}: external address {external} (epoch {epoch})")
                        }
                    }
                    new_restart = true;
                }
            }
            if heard.len() > 1 {
                log::debug!("{family}: {} ANNOUNCE/notice datagrams from {} this look", heard.len(), key.0);
            }
            if !new_restart {
                continue;
            }
            restarted.push(key.0);
            let other = listen[family.other() as usize].filter(|(_, client)| crate::platform::same_interface(key.1, *client));
            if let Some((other_server, _)) = other {
                log::info!("{}: {other_server} is the same router (same interface): re-making what is held there too", family.other());
                restarted.push(other_server);
            }
        }
        restarted.sort();
        restarted.dedup();
        let mut epochs = Vec::new();
        let mut answering_again = Vec::new();
        for (family, w) in [Family::V4, Family::V6].into_iter().zip(watch) {
            let Some(w) = w else { continue };
            let bound = budget.capped(crate::limits::PCP_RACE_BOUND);
            let epoch = match (w.route, w.client, w.server) {
                (Route::NatPmp, IpAddr::V4(local), SocketAddr::V4(server)) => {
                    net::natpmp_address(local, server, &Schedule::RFC6886, &bound).map(|a| Some(a.answer.epoch))
                }
                _ => net::announce(w.client, w.server, &bound).map(|a| a.answer),
            };
            let answered = epoch.is_ok();
            match epoch {
                Ok(Some(epoch)) => epochs.push((w.server, epoch)),
                Ok(None) => log::debug!("{}: the PCP server answers NAT-PMP only now", w.server),
                Err(e) => log::debug!("{}: no epoch this look: {}", w.server, no_answer(&e)),
            }
            if let Some(listener) = lock(&self.announces[family as usize]).as_mut() {
                if listener.unanswered && answered {
                    answering_again.push(w.server);
                }
                listener.unanswered = !answered;
            }
        }
        let local_v6 = watch[Family::V6 as usize].and_then(|w| match crate::gateway::local_addr_toward(Family::V6, w.server, server_scope(w.server)) {
            Ok(IpAddr::V6(now)) => Some((w.server, now)),
            _ => None,
        });
        PcpLooked { announced: restarted, epochs, answering_again, local_v6 }
    }
}

/// For `release`'s workaround: remove an IPv6 pinhole by its tuple through UPnP on `gateway`.
pub(crate) fn pinhole_tuple(mapping: &PcpMapping) -> Option<crate::pinhole::Pinhole> {
    let IpAddr::V6(internal_client) = mapping.client else { return None };
    Some(crate::pinhole::Pinhole {
        remote_host: None,
        remote_port: 0,
        internal_client,
        internal_port: mapping.internal_port,
        protocol: mapping.protocol,
        lease_secs: crate::limits::LEFTOVER_PINHOLE_LEASE_SECS,
    })
}

/// What the gateway's PCP / NAT-PMP server answered a probe that maps nothing (`Client::port_control`):
/// a PCP ANNOUNCE request, and over IPv4 a NAT-PMP external address request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortControl {
    /// The family asked about.
    pub family: Family,
    /// The server asked: the default gateway, port 5351 (None: no default gateway).
    pub server: Option<SocketAddr>,
    /// The server's epoch, when it speaks PCP (version 2).
    pub pcp_epoch: Option<u32>,
    /// IPv4: the external address NAT-PMP reports, when it speaks NAT-PMP.
    pub natpmp_external: Option<std::net::Ipv4Addr>,
    /// What was learned, in words.
    pub message: String,
}

impl PortControl {
    /// The routes it speaks besides UPnP.
    pub fn routes(&self) -> Vec<crate::types::Route> {
        let mut r = Vec::new();
        if self.pcp_epoch.is_some() {
            r.push(crate::types::Route::Pcp);
        }
        if self.natpmp_external.is_some() {
            r.push(crate::types::Route::NatPmp);
        }
        r
    }
}

/// Probe the default gateway's PCP/NAT-PMP server for `family` from this host's address toward it.
pub(crate) fn probe(family: Family, budget: &Budget) -> PortControl {
    let mut pc = PortControl { family, server: None, pcp_epoch: None, natpmp_external: None, message: String::new() };
    let Some((server, client)) = server_and_client(family, &OpenRequest::new(crate::types::Protocol::Udp, 1)) else {
        pc.message = format!("no {family} default gateway (or no address toward it)");
        return pc;
    };
    pc.server = Some(server);
    let mut said = Vec::new();
    match net::announce(client, server, &budget.capped(crate::limits::PCP_PROBE_BOUND)) {
        Ok(a) => match a.answer {
            Some(epoch) => {
                pc.pcp_epoch = Some(epoch);
                said.push(format!("PCP version 2 (epoch {epoch}, {:.1} ms)", a.elapsed.as_secs_f64() * 1000.0));
            }
            None => said.push("no PCP (the server speaks NAT-PMP only)".to_string()),
        },
        Err(e) => said.push(format!("no PCP ({})", no_answer(&e))),
    }
    if let (IpAddr::V4(local), SocketAddr::V4(server4)) = (client, server) {
        match net::natpmp_address(local, server4, &Schedule::RFC6886, &budget.capped(crate::limits::PCP_PROBE_BOUND)) {
            Ok(a) if a.answer.verdict() == Verdict::Granted => {
                pc.natpmp_external = Some(a.answer.external);
                said.push(format!("NAT-PMP (external address {})", a.answer.external));
            }
            Ok(a) => said.push(format!("NAT-PMP answers {}", a.answer.result)),
            Err(e) => said.push(format!("no NAT-PMP ({})", no_answer(&e))),
        }
    }
    pc.message = said.join("; ");
    pc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn listener() -> AnnounceListener {
        AnnounceListener { key: ("192.168.77.1:5351".parse().unwrap(), "192.168.77.100".parse().unwrap()), watch: None, acted: None, unanswered: false }
    }

    #[test]
    fn repeats_of_an_announce_acted_on_are_not_a_new_restart_but_a_later_or_reset_one_is() {
        let mut l = listener();
        let t0 = Instant::now();
        assert!(l.is_new_restart(3, t0), "the first ANNOUNCE is a restart");
        // The same run (epoch counting with the clock), within the window: repeats, a flood.
        assert!(!l.is_new_restart(3, t0));
        assert!(!l.is_new_restart(13, t0 + Duration::from_secs(10)));
        // The epoch went back within the window: the server restarted again.
        assert!(l.is_new_restart(1, t0 + Duration::from_secs(20)));
        // Past the window, an ANNOUNCE counts even with a consistent epoch (a daemon restart
        // that keeps the system's uptime as its epoch).
        assert!(l.is_new_restart(2 + 61, t0 + Duration::from_secs(20 + 61)));
    }
}
