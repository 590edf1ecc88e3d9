//! The UPnP IGD route: how each task of the lease engine is performed against the router
//! (discovery, WANIPConnection, WANIPv6FirewallControl, SSDP NOTIFYs and probes), and how the
//! answers are read into outcomes. Blocking, with the client's budget; never decides what happens next.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use crate::action::Fault;
use crate::addr::{ExternalAddress, V4Class};
use crate::cancel::{Budget, CancelToken};
use crate::config::ClientConfig;
use crate::engine::{Holding, Outcome, Task};
use crate::error::Error;
use crate::gateway::{choose_local_addr, Gateway};
use crate::gateway_cache::{lock, GatewayCache};
use crate::lease::{Closed, FamilyLease, OpenRequest, PortStatus};
use crate::limits::{LEFTOVER_PINHOLE_LEASE_SECS, MAPPING_LEASE_MAX_SECS, PINHOLE_LEASE_MAX_SECS, SSDP_PROBE_WAIT};
use crate::persist::JournalEntry;
use crate::pinhole::Pinhole;
use crate::port_mapping::PortMapping;
use crate::transport::notify::NotifyWatch;
use crate::types::{Family, Protocol, Route};

/// Which gateway a NOTIFY listener is for (its LOCATION address, and this host's address toward
/// it, whose interface the listener joined), and the listener (None: it could not be opened).
type WatchOf = ((SocketAddr, IpAddr), Option<NotifyWatch>);

pub(crate) struct UpnpRoute {
    pub config: ClientConfig,
    /// Cancels blocking calls in flight (`Client::cancel`); closing ignores it.
    pub cancel: CancelToken,
    /// Tripped when the client closes: stops a look's wait (the probe's) so closing is not
    /// held up by it. The close's own exchanges do not use it.
    pub stop: CancelToken,
    pub gateways: GatewayCache,
    /// Per family: the NOTIFY listener of the gateway leases are held on. Used by the one
    /// thread that looks between renewals (the keeper, or `renew_due`'s caller).
    watches: [Mutex<Option<WatchOf>>; 2],
}

impl UpnpRoute {
    pub(crate) fn new(config: ClientConfig) -> UpnpRoute {
        let route = UpnpRoute { config, cancel: CancelToken::new(), stop: CancelToken::new(), gateways: GatewayCache::default(), watches: Default::default() };
        route.gateways.load(&route.config);
        route
    }

    pub(crate) fn budget(&self) -> Budget {
        Budget::new(self.config.action_timeout, &self.cancel)
    }

    /// A budget that a cancel does not stop: closing must work after `cancel` (an engine
    /// shutting down cancels, then closes).
    pub(crate) fn closing_budget(&self) -> Budget {
        Budget::new(self.config.action_timeout, &CancelToken::new())
    }

    pub(crate) fn gateway(&self, family: Family, fresh: bool) -> Result<Gateway, Error> {
        self.gateways.get(family, fresh, &self.config, &self.cancel)
    }

    /// Perform one task of the engine.
    pub(crate) fn perform(&self, task: &Task) -> Outcome {
        match task {
            Task::RemoveLeftovers { entries } => Outcome::LeftoversKept(self.remove_leftovers(entries).1),
            Task::Open { family, request, description, .. } => {
                let (family_lease, holding) = self.open_family(*family, request, description, &self.cancel);
                Outcome::Opened { family_lease, holding }
            }
            Task::Confirm { holding: Holding::Mapping { gateway, mapping, .. }, .. } => {
                Outcome::Confirmed { lease_secs: self.confirm_mapping(gateway, mapping) }
            }
            Task::Confirm { holding: Holding::Pinhole { gateway, id, pinhole, .. }, .. } => self.confirm_pinhole(gateway, *id, pinhole),
            Task::Confirm { holding: Holding::Nothing | Holding::Pcp { .. }, .. } => Outcome::Confirmed { lease_secs: Some(0) },
            // The driver gives PCP holdings to the PCP route.
            Task::Renew { holding: Holding::Pcp { .. }, .. } => Outcome::Postponed("a PCP holding is not renewed through UPnP".into()),
            Task::Renew { holding: Holding::Pinhole { gateway, id, pinhole, .. }, follow_address, .. } => {
                self.renew_pinhole(gateway, *id, pinhole, *follow_address)
            }
            Task::Renew { holding: Holding::Mapping { gateway, mapping, .. }, rebuild, .. } => self.renew_mapping(gateway, mapping, *rebuild),
            Task::Renew { holding: Holding::Nothing, .. } => Outcome::Renewed { lease_secs: 0 },
            Task::Release { holding, .. } => Outcome::Released(self.release(holding)),
            Task::Discard { holding } => {
                let _ = self.release(holding);
                Outcome::Done
            }
            Task::ForgetGateway { gateway } => {
                self.gateways.forget(gateway);
                Outcome::Done
            }
            Task::Look { v6_gateways, notify, probe, .. } => self.look(v6_gateways, notify, probe),
        }
    }

    /// Remove what an earlier run left, when still ours: a mapping must carry our description
    /// and internal client; a pinhole is looked up by its exact tuple. Returns how many were
    /// removed, and the entries whose router did not answer (kept for the next start).
    pub(crate) fn remove_leftovers(&self, entries: &[JournalEntry]) -> (usize, Vec<JournalEntry>) {
        let (mut removed, mut keep) = (0, Vec::new());
        for entry in entries {
            match self.remove_leftover(entry) {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) if e.is_unreachable() => {
                    log::info!("leftover kept for next start: router unreachable: {e}");
                    keep.push(entry.clone());
                }
                Err(e) => log::info!("leftover not removed: {e}"),
            }
        }
        (removed, keep)
    }

    fn remove_leftover(&self, entry: &JournalEntry) -> Result<bool, Error> {
        let budget = self.budget();
        match entry {
            JournalEntry::Mapping { control, local, external_port, protocol, internal_client, internal_port, description } => {
                let gw = Gateway::for_control(Family::V4, control.clone(), *local);
                let held = match gw.get_specific_port_mapping(None, *external_port, *protocol, &budget) {
                    Ok(m) => m,
                    Err(e) if e.is_gone() => return Ok(false),
                    Err(e) => return Err(e),
                };
                if held.internal_client != *internal_client || held.internal_port != *internal_port || held.description != *description {
                    log::info!(
                        "leftover mapping {external_port}/{protocol} now belongs to {}:{} ({:?}); not ours, kept",
                        held.internal_client,
                        held.internal_port,
                        held.description
                    );
                    return Ok(false);
                }
                gw.delete_port_mapping(None, *external_port, *protocol, &budget)?;
                log::info!("removed leftover mapping {external_port}/{protocol} -> {internal_client}:{internal_port}");
                Ok(true)
            }
            JournalEntry::Pinhole { control, local, id, protocol, internal_client, internal_port } => {
                let gw = Gateway::for_control(Family::V6, control.clone(), *local);
                // WANIPv6FirewallControl cannot read a pinhole by ID. Asking for the same tuple
                // again returns the existing pinhole's ID (or makes a short-lived one), which is
                // then deleted: either way nothing of ours is left.
                let tuple = Pinhole {
                    remote_host: None,
                    remote_port: 0,
                    internal_client: *internal_client,
                    internal_port: *internal_port,
                    protocol: *protocol,
                    lease_secs: LEFTOVER_PINHOLE_LEASE_SECS,
                };
                let found = self.delete_pinhole_by_tuple(&gw, &tuple, &budget)?;
                log::info!("removed leftover pinhole {id} (now {found}) for [{internal_client}]:{internal_port}/{protocol}");
                Ok(true)
            }
            // The driver gives these to the PCP route.
            JournalEntry::Pcp { .. } => Ok(false),
        }
    }

    /// Remove what this host holds for `port` over `family` without a lease (a run killed
    /// without a journal). IPv4: every mapping to this host's address and internal `port` with
    /// `protocol` and our description, whatever its external port (the router may have moved it:
    /// another host held `port`); mappings of other hosts are never touched. IPv6: the pinhole of
    /// this host's address and `port`, found by its tuple (see [`Closed::PinholeRemovedOrNone`]).
    pub(crate) fn close_port(&self, family: Family, protocol: Protocol, port: u16) -> Result<Closed, Error> {
        let gw = self.gateway(family, false)?;
        let budget = self.closing_budget();
        match gw.local_addr {
            IpAddr::V4(me) if family == Family::V4 => {
                let ours = |m: &PortMapping| m.internal_client == me && m.internal_port == port && m.protocol == protocol;
                // The common case first: still on the external port asked for.
                let mut found = match gw.get_specific_port_mapping(None, port, protocol, &budget) {
                    Ok(m) if ours(&m) => vec![m],
                    Ok(_) => Vec::new(),
                    Err(e) if e.is_gone() => Vec::new(),
                    Err(e) => return Err(e),
                };
                if found.iter().all(|m| m.description != self.config.description) {
                    // Moved elsewhere (or never ours here): the router's whole list, bounded.
                    found = gw.port_mappings(&budget)?.into_iter().filter(|m| ours(m)).collect();
                }
                let (mine, kept): (Vec<PortMapping>, Vec<PortMapping>) = found.into_iter().partition(|m| m.description == self.config.description);
                for m in &kept {
                    log::info!(
                        "mapping {}/{} -> {me}:{port} kept: its description {:?} is not ours ({:?})",
                        m.external_port,
                        protocol,
                        m.description,
                        self.config.description
                    );
                }
                let mut removed = Vec::new();
                for m in mine {
                    match gw.delete_port_mapping(None, m.external_port, protocol, &budget) {
                        Ok(()) => {}
                        Err(e) if e.is_gone() => continue, // expired meanwhile: nothing removed
                        Err(e) => return Err(e),
                    }
                    log::info!("removed mapping {}/{protocol} -> {me}:{port}", m.external_port);
                    removed.push(m);
                }
                Ok(if removed.is_empty() && kept.is_empty() { Closed::Nothing } else { Closed::Mappings { removed, kept } })
            }
            IpAddr::V6(me) if family == Family::V6 => {
                let tuple =
                    Pinhole { remote_host: None, remote_port: 0, internal_client: me, internal_port: port, protocol, lease_secs: LEFTOVER_PINHOLE_LEASE_SECS };
                let id = self.delete_pinhole_by_tuple(&gw, &tuple, &budget)?;
                log::info!("pinhole for [{me}]:{port}/{protocol} removed (id {id}), or none existed: UPnP cannot tell");
                Ok(Closed::PinholeRemovedOrNone { internal: SocketAddr::from((me, port)) })
            }
            _ => Err(Error::InvalidArgument(format!("no {family} address toward the gateway"))),
        }
    }

    /// Open one family of a lease: gateway (cached or discovered), then the action. A cached
    /// gateway that does not answer is dropped and discovery runs once more.
    /// `cancel` stops it (the client's cancel, or the other route won the race).
    pub(crate) fn open_family(&self, family: Family, req: &OpenRequest, description: &str, cancel: &CancelToken) -> (FamilyLease, Option<Holding>) {
        let mut fl = FamilyLease::new(family, true);
        // The address asked for is known before any router answers (a refusal says it too).
        let named = match family {
            Family::V4 => req.internal_v4.map(IpAddr::V4),
            Family::V6 => req.internal_v6.map(IpAddr::V6),
        };
        fl.internal = named.map(|ip| SocketAddr::new(ip, req.internal_port));
        let mut fresh = false;
        loop {
            let gw = match self.gateways.get(family, fresh, &self.config, cancel) {
                Ok(gw) => gw,
                Err(e) => {
                    let status = match e {
                        Error::NoGateway(_) | Error::Timeout(_) => PortStatus::NoGateway,
                        Error::NoLocalAddress(_) => PortStatus::NoLocalAddress,
                        _ => PortStatus::Failed,
                    };
                    fl.refused(status, &e);
                    return (fl, None);
                }
            };
            fl.asked_of(&gw);
            let budget = Budget::new(self.config.action_timeout, cancel);
            let result = match family {
                Family::V4 => self.open_v4(req, description, &gw, &mut fl, &budget),
                Family::V6 => self.open_v6(req, &gw, &mut fl, &budget),
            };
            if result.as_ref().is_ok_and(Option::is_some) {
                fl.route = Some(Route::Upnp);
            }
            match result {
                Ok(holding) => return (fl, holding),
                Err(e) if e.is_unreachable() && !fresh => {
                    self.gateways.forget(&gw);
                    fresh = true;
                }
                Err(e) => {
                    fl.refused(status_for(family, &e), &e);
                    return (fl, None);
                }
            }
        }
    }

    fn open_v4(&self, req: &OpenRequest, description: &str, gw: &Gateway, fl: &mut FamilyLease, budget: &Budget) -> Result<Option<Holding>, Error> {
        let internal_client = match (req.internal_v4, gw.local_addr) {
            (Some(ip), _) => ip,
            (None, IpAddr::V4(ip)) => ip,
            (None, IpAddr::V6(_)) => return Err(Error::InvalidArgument("IPv4 gateway reached over IPv6".into())),
        };
        let gw = &asked_from(gw, IpAddr::V4(internal_client));
        let external_ip = match gw.external_address(budget)? {
            ExternalAddress::None | ExternalAddress::V4(_, V4Class::Unspecified) => {
                // miniupnpd answers empty when its WAN address is reserved (behind CGNAT) and
                // will not forward from it; other routers when the WAN link is down. Either way
                // a mapping would not be reachable.
                fl.status = PortStatus::NoExternalAddress;
                fl.message = "the router reports no external IPv4 address (its WAN is down, or its WAN address is private/reserved and it will not forward from it): a mapping would not be reachable; nothing was mapped".into();
                log::warn!("IPv4: {}", fl.message);
                return Ok(None);
            }
            ExternalAddress::V4(ip, class) if class.is_reachable() => Some(ip),
            ExternalAddress::V4(ip, class) => {
                fl.status = PortStatus::UpstreamNat;
                let why = match class {
                    V4Class::Private | V4Class::SharedCgnat => "another NAT sits above it (double NAT or the ISP's CGNAT)",
                    _ => "not an address the internet can reach",
                };
                fl.message =
                    format!("the router's external address {ip} is {}: {why}, so a mapping there would not be reachable; nothing was mapped", class.name());
                log::warn!("IPv4: {}", fl.message);
                return Ok(None);
            }
            ExternalAddress::V6(_) => None,
        };
        let wanted = PortMapping {
            remote_host: None,
            external_port: if req.external_port == 0 { req.internal_port } else { req.external_port },
            protocol: req.protocol,
            internal_port: req.internal_port,
            internal_client,
            enabled: true,
            description: description.to_string(),
            lease_secs: req.lease_secs.min(MAPPING_LEASE_MAX_SECS),
        };
        // The router's success answer confirms the mapping; the read-back (its lease, that it
        // really exists) is asked by the engine right after, off the game's critical path.
        let mut mapping = gw.add_mapping(&wanted, budget)?;
        fl.status = PortStatus::Open;
        fl.internal = Some(SocketAddr::from((internal_client, req.internal_port)));
        fl.external = external_ip.map(|ip| SocketAddr::from((ip, mapping.external_port)));
        fl.lease_secs = mapping.lease_secs;
        fl.upnp_code = None;
        fl.message = match external_ip {
            Some(_) => String::new(),
            None => format!("mapped external port {}, but the router reports no external address (WAN down?)", mapping.external_port),
        };
        // Renewals ask for the lease the game wanted again, not for what was left of it when
        // read back (a router refusing finite leases made it 0: then it stays 0).
        if mapping.lease_secs != 0 {
            mapping.lease_secs = wanted.lease_secs;
        }
        Ok(Some(Holding::Mapping { gateway: gw.clone(), mapping, confirmed: false }))
    }

    fn open_v6(&self, req: &OpenRequest, gw: &Gateway, fl: &mut FamilyLease, budget: &Budget) -> Result<Option<Holding>, Error> {
        let internal_client = match (req.internal_v6, gw.local_addr) {
            (Some(ip), _) => ip,
            (None, IpAddr::V6(ip)) => ip,
            (None, IpAddr::V4(_)) => return Err(Error::InvalidArgument("IPv6 gateway reached over IPv4".into())),
        };
        let gw = &asked_from(gw, IpAddr::V6(internal_client));
        fl.internal = Some(SocketAddr::from((internal_client, req.internal_port)));
        let pinhole = Pinhole {
            remote_host: None,
            remote_port: 0,
            internal_client,
            internal_port: req.internal_port,
            protocol: req.protocol,
            lease_secs: req.lease_secs.min(PINHOLE_LEASE_MAX_SECS),
        };
        // AddPinhole first: on a working router that is the only exchange. Only when it fails
        // does GetFirewallStatus tell "firewall off" and "pinholes not allowed" apart from a
        // failure.
        let refusal = match gw.add_pinhole(&pinhole, budget) {
            Ok(id) => {
                fl.status = PortStatus::Open;
                fl.external = fl.internal;
                fl.lease_secs = pinhole.lease_secs;
                fl.upnp_code = None;
                fl.message = String::new();
                return Ok(Some(Holding::Pinhole { gateway: gw.clone(), id, pinhole, confirmed: false }));
            }
            Err(e) if e.is_unreachable() || matches!(e, Error::Cancelled | Error::NoService(_) | Error::NotSupported(_) | Error::InvalidArgument(_)) => {
                return Err(e)
            }
            Err(e) => e,
        };
        match gw.firewall_status(budget) {
            Ok(st) if !st.enabled => {
                fl.status = PortStatus::OpenAlready;
                fl.external = fl.internal;
                fl.message = "the router's IPv6 firewall is off: inbound traffic already passes, no pinhole needed".into();
                Ok(Some(Holding::Nothing))
            }
            Ok(st) if !st.inbound_pinhole_allowed => {
                fl.status = PortStatus::NotAllowed;
                fl.upnp_code = refusal.upnp_code();
                fl.message = format!(
                    "the router does not allow inbound pinholes (InboundPinholeAllowed=0): the user must enable it in the router's settings ({refusal})"
                );
                Ok(None)
            }
            _ if refusal.fault() == Some(Fault::FirewallDisabled) => {
                fl.status = PortStatus::OpenAlready;
                fl.external = fl.internal;
                fl.message = "the router's IPv6 firewall is off (702): inbound traffic already passes".into();
                Ok(Some(Holding::Nothing))
            }
            _ => Err(refusal),
        }
    }

    /// The read-back after opening: the lease the router really granted (None: it holds no
    /// such mapping for us). A read-back that fails for another reason keeps the lease asked.
    fn confirm_mapping(&self, gw: &Gateway, m: &PortMapping) -> Option<u32> {
        match gw.read_back(m, &self.budget()) {
            Ok(held) => Some(held.lease_secs),
            Err(Error::InvalidResponse { reason, .. }) => {
                log::warn!("mapping of port {}: {reason}", m.external_port);
                None
            }
            Err(e) => {
                log::debug!("mapping of port {} not read back ({e}); keeping the {} s lease asked for", m.external_port, m.lease_secs);
                Some(m.lease_secs)
            }
        }
    }

    /// Right after AddPinhole, UpdatePinhole with the lease asked for: an AddPinhole that hit
    /// an existing pinhole (a re-open after a crash without journal) sets a wrong lease on
    /// miniupnpd before 2.3.3 (asked 120 s, got ~6700 s: the lab's 2.3.1). Off the game's
    /// critical path, like a mapping's read-back. A refusal here changes nothing: the pinhole
    /// was just granted, and the renewal at half the lease finds out if it is gone.
    fn confirm_pinhole(&self, gw: &Gateway, id: u16, pinhole: &Pinhole) -> Outcome {
        match gw.update_pinhole(id, pinhole.lease_secs, &self.budget()) {
            Ok(()) => Outcome::Confirmed { lease_secs: Some(pinhole.lease_secs) },
            Err(Error::Cancelled) => Outcome::Postponed(Error::Cancelled.to_string()),
            Err(e) => {
                log::debug!("pinhole {id}: lease not set again after adding ({e}); keeping the {} s asked for", pinhole.lease_secs);
                Outcome::Confirmed { lease_secs: Some(pinhole.lease_secs) }
            }
        }
    }

    /// One exchange: UpdatePinhole. A pinhole that follows this host's address is first
    /// checked against it (a new prefix, an address gone: the pinhole points nowhere).
    fn renew_pinhole(&self, gw: &Gateway, id: u16, pinhole: &Pinhole, follow_address: bool) -> Outcome {
        if follow_address {
            if let Ok(IpAddr::V6(now)) = choose_local_addr(Family::V6, &gw.location) {
                if now != pinhole.internal_client {
                    return Outcome::Moved { to: now };
                }
            }
        }
        match gw.update_pinhole(id, pinhole.lease_secs, &self.budget()) {
            Ok(()) => Outcome::Renewed { lease_secs: pinhole.lease_secs },
            Err(Error::Cancelled) => Outcome::Postponed(Error::Cancelled.to_string()),
            Err(e) if e.is_gone() => Outcome::Gone { reason: format!("the router no longer holds pinhole {id} ({e})"), unreachable: false },
            // Gone on miniupnpd 2.3.9, or a failure: adding the tuple again tells (it returns
            // the existing pinhole's id, or makes the one that was missing).
            Err(e) if e.fault() == Some(Fault::MaybeGone) => {
                Outcome::Gone { reason: format!("the router did not renew pinhole {id} ({e}): adding it again"), unreachable: false }
            }
            Err(e) => gone_after(e),
        }
    }

    /// One exchange: AddPortMapping with the same arguments restarts the lease, and re-creates
    /// the mapping in the same exchange if the router lost it (a reboot). 718 means another
    /// host took the port meanwhile: the lease is re-mapped elsewhere. A permanent mapping
    /// (lease 0) is only confirmed, with GetSpecificPortMappingEntry. `rebuild`: the router
    /// lost its rules but still lists the mapping (the engine says why): delete, then add.
    fn renew_mapping(&self, gw: &Gateway, m: &PortMapping, rebuild: bool) -> Outcome {
        let budget = self.budget();
        if rebuild {
            match gw.delete_port_mapping(None, m.external_port, m.protocol, &budget) {
                Ok(()) => log::debug!("mapping of port {} deleted to be re-created", m.external_port),
                Err(e) if e.is_gone() => {}
                Err(Error::Cancelled) => return Outcome::Postponed(Error::Cancelled.to_string()),
                Err(e) => log::debug!("mapping of port {}: delete before re-creating failed ({e}); adding anyway", m.external_port),
            }
        }
        let result = if m.lease_secs == 0 && !rebuild {
            match gw.get_specific_port_mapping(None, m.external_port, m.protocol, &budget) {
                Ok(held) if held.internal_client == m.internal_client && held.internal_port == m.internal_port => Ok(()),
                Ok(held) => {
                    let reason = format!("port {} is now mapped to {}:{}", m.external_port, held.internal_client, held.internal_port);
                    return Outcome::Gone { reason, unreachable: false };
                }
                Err(e) if e.is_gone() => {
                    let reason = format!("the router no longer holds the mapping of port {} ({e})", m.external_port);
                    return Outcome::Gone { reason, unreachable: false };
                }
                Err(e) => Err(e),
            }
        } else {
            gw.add_port_mapping(m, &budget)
        };
        match result {
            Ok(()) => Outcome::Renewed { lease_secs: m.lease_secs },
            Err(Error::Cancelled) => Outcome::Postponed(Error::Cancelled.to_string()),
            Err(e) if e.fault() == Some(Fault::Taken) => {
                Outcome::Gone { reason: format!("port {} was taken by another host ({e})", m.external_port), unreachable: false }
            }
            Err(e) => gone_after(e),
        }
    }

    /// Delete what `holding` holds on the router (already gone counts as deleted).
    fn release(&self, holding: &Holding) -> Result<(), Error> {
        let budget = self.closing_budget();
        let result = match holding {
            Holding::Mapping { gateway, mapping, .. } => gateway.delete_port_mapping(None, mapping.external_port, mapping.protocol, &budget),
            Holding::Pinhole { gateway, id, .. } => gateway.delete_pinhole(*id, &budget),
            Holding::Nothing => Ok(()),
            Holding::Pcp { .. } => Err(Error::InvalidArgument("a PCP holding is not released through UPnP".into())),
        };
        match (result, holding) {
            (Err(e), _) if e.is_gone() => Ok(()),
            (Err(e), Holding::Pinhole { gateway, id, pinhole, .. }) if e.fault() == Some(Fault::MaybeGone) => {
                match self.delete_pinhole_by_tuple(gateway, pinhole, &budget) {
                    Ok(found) => {
                        log::debug!("pinhole {id}: {e}; by its tuple the router held {found}, now deleted");
                        Ok(())
                    }
                    Err(probe) => {
                        log::debug!("pinhole {id}: after {e}, the look by its tuple failed too: {probe}");
                        Err(e)
                    }
                }
            }
            (other, _) => other,
        }
    }

    /// Remove whatever pinhole the router holds for `pinhole`'s tuple, knowing no id: an
    /// AddPinhole of the same tuple returns the existing pinhole's id (or makes a short-lived
    /// one), which is then deleted. Either way nothing is left for that tuple. This is how an
    /// ambiguous answer to a delete is settled, and how a crash's leftover is removed.
    pub(crate) fn delete_pinhole_by_tuple(&self, gw: &Gateway, pinhole: &Pinhole, budget: &Budget) -> Result<u16, Error> {
        let probe = Pinhole { lease_secs: LEFTOVER_PINHOLE_LEASE_SECS, ..pinhole.clone() };
        let found = gw.add_pinhole(&probe, budget)?;
        gw.delete_pinhole(found, budget)?;
        Ok(found)
    }

    /// The look between renewals: this host's IPv6 address toward each gateway, what the
    /// routers announced (opening, moving or closing the listeners), and what each gateway in
    /// `probe` answers to one unicast search for itself (the only thing a look sends).
    fn look(&self, v6_gateways: &[Gateway], notify: &[Option<Gateway>; 2], probe: &[Gateway]) -> Outcome {
        let local_v6 = v6_gateways
            .iter()
            .filter_map(|gw| match choose_local_addr(Family::V6, &gw.location) {
                Ok(IpAddr::V6(ip)) => Some((gw.location.clone(), ip)),
                _ => None,
            })
            .collect();
        let mut rebooted = Vec::new();
        for family in [Family::V4, Family::V6] {
            let mut watch = lock(&self.watches[family as usize]);
            let Some(gateway) = &notify[family as usize] else {
                *watch = None; // nothing held there (or no multicast wanted): stop listening
                continue;
            };
            let key = (gateway.location.socket_addr(), gateway.local_addr);
            if watch.as_ref().is_none_or(|(k, _)| *k != key) {
                let opened = NotifyWatch::open(gateway)
                    .map_err(|e| log::debug!("{family}: not listening for the router's NOTIFYs ({e}); a restart is noticed at the next renewal"));
                *watch = Some((key, opened.ok()));
            }
            let Some((_, Some(w))) = watch.as_mut() else { continue };
            if let Some((before, boot)) = w.new_boot() {
                log::info!("{family}: the router announced a new boot ({before:?} -> {boot}): renewing what it held now");
                rebooted.push((family, gateway.location.clone()));
            }
        }
        let budget = Budget::new(SSDP_PROBE_WAIT, &self.stop);
        let probed = probe.iter().zip(crate::transport::probe::probe(probe, &budget)).filter_map(|(gw, answer)| Some((gw.location.clone(), answer?))).collect();
        Outcome::Looked { local_v6, rebooted, probed, pcp: Default::default() }
    }
}

/// A renewal that failed for another reason than "gone": the router stopped answering (the
/// gateway is then dropped from the cache) or refused; either way the lease is opened again.
fn gone_after(e: Error) -> Outcome {
    if e.is_unreachable() {
        return Outcome::Gone { reason: format!("the router stopped answering: {e}"), unreachable: true };
    }
    Outcome::Gone { reason: e.to_string(), unreachable: false }
}

fn status_for(family: Family, e: &Error) -> PortStatus {
    match (family, e) {
        (_, Error::NoGateway(_)) => PortStatus::NoGateway,
        (_, Error::NoService(_)) => PortStatus::NoService,
        (_, e) if e.fault() == Some(Fault::NotAuthorized) => PortStatus::NotAuthorized,
        (Family::V4, e) if matches!(e.fault(), Some(Fault::Taken | Fault::NoPorts)) => PortStatus::NoPortsAvailable,
        (Family::V6, e) if e.fault() == Some(Fault::PinholesNotAllowed) => PortStatus::NotAllowed,
        _ => PortStatus::Failed,
    }
}

/// The gateway to ask for `internal_client`: from that address when it is another of this
/// host's own (a router in secure mode, as miniupnpd is by default, refuses a mapping or
/// pinhole for any address but the asker's: 606), so its add, renewals and delete all go from
/// it. An address that is not this host's is asked from discovery's choice, as before (a
/// router not in secure mode may map another device).
fn asked_from(gw: &Gateway, internal_client: IpAddr) -> Gateway {
    if internal_client == gw.local_addr || !crate::platform::is_local_address(internal_client) {
        return gw.clone();
    }
    log::debug!("{}: asking from {internal_client}, the address named (discovery chose {})", gw.family, gw.local_addr);
    Gateway { local_addr: internal_client, ..gw.clone() }
}
