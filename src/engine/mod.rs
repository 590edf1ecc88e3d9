//! The lease engine: every lease, its per-family state and timers, the journal's contents — as
//! one value that never touches a socket, a thread, a lock or the clock.
//!
//! Design note for the next maintainer. The engine decides; the driver (`driver.rs`,
//! `keeper.rs`, `client.rs`) performs. The driver feeds it requests (`open`, `close`), the
//! current time (`handle_timeout(now)`), and the outcome of every task it asked for
//! (`on_outcome`); the engine answers with tasks to perform (`Task`: open a family, renew,
//! release, look at the host's address, the router's NOTIFYs and its answer to a probe...),
//! the next deadline (`poll_timeout`), events for the game (`take_events`) and the journal to write
//! (`take_journal`). Each family of each lease is in exactly one `LeaseState`; at most one task
//! per family is in flight, and the engine knows which. Because time is a value, the whole
//! lifecycle (renewal at half the lease, back-off, reboot, address change, loss, close during a
//! renewal) is tested over hours of simulated time in milliseconds (`tests.rs`). A second route
//! to the router (PCP, NAT-PMP) is one more way for the driver to perform `Task::Open` and
//! `Task::Renew`; what a result means stays here.

mod journal;
mod state;
mod task;
#[cfg(test)]
mod tests;
mod timer;

use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::events::{Event, EventKind};
use crate::lease::{FamilyLease, LeaseInfo, OpenRequest, PortStatus};
use crate::limits::WATCH_INTERVAL;
use crate::parse::pcp::epoch_lost_state;
use crate::parse::url::HttpUrl;
use crate::pcp_mapping::{PcpMapping, PcpWatch};
use crate::persist::JournalEntry;
use crate::transport::probe::DeviceAnswer;
use crate::types::Family;

use journal::Journal;
use state::Slot;
pub(crate) use state::{Holding, LeaseState};
pub(crate) use task::{Outcome, PcpLooked, Task};
use timer::{holding_interval, next_backoff, renew_interval};

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

struct LeaseEntry {
    request: OpenRequest,
    description: String,
    info: LeaseInfo,
    v4: Slot,
    v6: Slot,
}

impl LeaseEntry {
    fn slot(&mut self, family: Family) -> &mut Slot {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
    fn slot_ref(&self, family: Family) -> &Slot {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
    fn is_closed(&self) -> bool {
        self.v4.state == LeaseState::Closed && self.v6.state == LeaseState::Closed
    }
}

/// Every lease and what the client knows about its routers.
pub(crate) struct Engine {
    leases: BTreeMap<u64, LeaseEntry>,
    next_id: u64,
    journal: Journal,
    events: Vec<Event>,
    /// Listen to the routers' NOTIFYs (the client's discovery may multicast).
    watch_notifies: bool,
    /// When the next look between renewals is due (set when something is first held).
    next_look: Option<Instant>,
    /// A look has opened NOTIFY listeners that a later look must close.
    listening: bool,
    /// Per gateway probed (by its LOCATION when probed): what it answered last. An answer is
    /// compared with the one before it (a first one only with the boot id discovery saw), so a
    /// router that names another LOCATION in its answers than the one discovery used does not
    /// look moved at every look.
    probed: Vec<(HttpUrl, DeviceAnswer)>,
}

impl Engine {
    /// An engine with no lease; `leftovers` are the journal entries of an earlier run.
    pub(crate) fn new(leftovers: Vec<JournalEntry>, watch_notifies: bool) -> Engine {
        Engine {
            leases: BTreeMap::new(),
            next_id: 1,
            journal: Journal::new(leftovers),
            events: Vec::new(),
            watch_notifies,
            next_look: None,
            listening: false,
            probed: Vec::new(),
        }
    }

    /// Start a lease: returns its id and the tasks that open it (per requested family: remove
    /// that family's leftovers, then open). The request is assumed valid (the driver checks).
    pub(crate) fn open(&mut self, request: &OpenRequest, description: String) -> (u64, Vec<Task>) {
        let id = self.next_id;
        self.next_id += 1;
        let info = LeaseInfo {
            id,
            protocol: request.protocol,
            internal_port: request.internal_port,
            v4: FamilyLease::new(Family::V4, request.v4),
            v6: FamilyLease::new(Family::V6, request.v6),
        };
        let entry = LeaseEntry { request: request.clone(), description, info, v4: Slot::new(request.v4), v6: Slot::new(request.v6) };
        self.leases.insert(id, entry);
        let mut tasks = Vec::new();
        for family in FAMILIES {
            if self.leases[&id].slot_ref(family).state == LeaseState::Opening {
                tasks.extend(self.open_tasks(id, family));
            }
        }
        (id, tasks)
    }

    fn open_tasks(&mut self, lease: u64, family: Family) -> Vec<Task> {
        let mut tasks = Vec::new();
        let leftovers = self.journal.take_leftovers(Some(family));
        if !leftovers.is_empty() {
            tasks.push(Task::RemoveLeftovers { entries: leftovers });
        }
        let entry = &self.leases[&lease];
        tasks.push(Task::Open { lease, family, request: entry.request.clone(), description: entry.description.clone() });
        tasks
    }

    /// Close a lease: the deletes to perform now. A family whose task is in flight is closed
    /// when its outcome comes back. Closing twice does nothing.
    pub(crate) fn close(&mut self, lease: u64) -> Vec<Task> {
        let mut tasks = Vec::new();
        for family in FAMILIES {
            let Some(entry) = self.leases.get_mut(&lease) else { return tasks };
            let slot = entry.slot(family);
            match slot.state {
                LeaseState::Closed | LeaseState::Closing => {}
                s if s.in_flight() => slot.close_pending = true,
                _ => tasks.extend(self.begin_close(lease, family)),
            }
        }
        tasks
    }

    /// Close every lease.
    pub(crate) fn close_all(&mut self) -> Vec<Task> {
        let ids: Vec<u64> = self.leases.keys().copied().collect();
        ids.into_iter().flat_map(|id| self.close(id)).collect()
    }

    fn begin_close(&mut self, lease: u64, family: Family) -> Option<Task> {
        let entry = self.leases.get_mut(&lease)?;
        let slot = entry.slot(family);
        slot.close_pending = false;
        match slot.holding.take() {
            Some(holding @ (Holding::Mapping { .. } | Holding::Pinhole { .. } | Holding::Pcp { .. })) => {
                slot.state = LeaseState::Closing;
                slot.holding = Some(holding.clone());
                Some(Task::Release { lease, family, holding })
            }
            Some(Holding::Nothing) => {
                self.finish_close(lease, family, Some(Ok(())));
                None
            }
            None => {
                self.finish_close(lease, family, None);
                None
            }
        }
    }

    fn finish_close(&mut self, lease: u64, family: Family, result: Option<Result<(), crate::error::Error>>) {
        let Some(entry) = self.leases.get_mut(&lease) else { return };
        let slot = entry.slot(family);
        slot.state = LeaseState::Closed;
        slot.holding = None;
        let fl = entry.info.family_mut(family);
        if fl.status == PortStatus::NotRequested {
            return;
        }
        let was_open = fl.status.is_open() || fl.status == PortStatus::Lost;
        match result {
            Some(Ok(())) => {
                fl.message = String::new();
                self.journal.set(lease, family, None);
            }
            Some(Err(e)) => {
                // Left to expire with its lease; the journal keeps it for the next start.
                log::warn!("closing lease {lease}: {e}");
                fl.message = format!("not removed from the router: {e}");
            }
            None => {}
        }
        fl.status = PortStatus::Closed;
        fl.external = None;
        if was_open {
            let snapshot = fl.clone();
            self.emit(lease, EventKind::Closed, &snapshot);
        }
    }

    /// Forget a closed lease (its handle is gone).
    pub(crate) fn forget(&mut self, lease: u64) {
        if self.leases.get(&lease).is_some_and(LeaseEntry::is_closed) {
            self.leases.remove(&lease);
        }
    }

    /// Act on everything due at `now`: renewals, re-opens after a loss, the look between
    /// renewals.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Task> {
        let mut tasks = Vec::new();
        let ids: Vec<u64> = self.leases.keys().copied().collect();
        for id in ids {
            for family in FAMILIES {
                let entry = self.leases.get_mut(&id).expect("listed above");
                let follow_address = entry.request.internal_v6.is_none();
                let slot = entry.slot(family);
                match slot.state {
                    LeaseState::Held { due: Some(due) } if due <= now => match slot.holding.clone() {
                        Some(holding) if !holding.is_confirmed() => {
                            slot.state = LeaseState::Renewing;
                            tasks.push(Task::Confirm { lease: id, family, holding });
                        }
                        Some(holding @ (Holding::Mapping { .. } | Holding::Pinhole { .. } | Holding::Pcp { .. })) => {
                            slot.state = LeaseState::Renewing;
                            let rebuild = std::mem::take(&mut slot.repair);
                            tasks.push(Task::Renew { lease: id, family, holding, follow_address, rebuild });
                        }
                        Some(Holding::Nothing) | None => slot.state = LeaseState::Held { due: None },
                    },
                    LeaseState::Lost { retry_at } if retry_at <= now => {
                        slot.state = LeaseState::Opening;
                        tasks.extend(self.open_tasks(id, family));
                    }
                    _ => {}
                }
            }
        }
        if self.next_look.is_none_or(|t| t <= now) {
            if let Some(look) = self.look() {
                self.next_look = Some(now + WATCH_INTERVAL);
                tasks.push(look);
            } else {
                self.next_look = None;
            }
        }
        tasks
    }

    /// What to look at between renewals, None when nothing is held and no listener is open.
    fn look(&mut self) -> Option<Task> {
        let mut v6_gateways: Vec<crate::gateway::Gateway> = Vec::new();
        let mut notify: [Option<crate::gateway::Gateway>; 2] = [None, None];
        let mut probe: Vec<crate::gateway::Gateway> = Vec::new();
        let mut announce: [Option<PcpWatch>; 2] = [None, None];
        for entry in self.leases.values() {
            for family in FAMILIES {
                let slot = entry.slot_ref(family);
                if slot.state == LeaseState::Closed {
                    continue;
                }
                if let Some(Holding::Pcp { mapping }) = &slot.holding {
                    // The server this family's PCP leases are held on (the first one).
                    announce[family as usize].get_or_insert(mapping.watch());
                    continue;
                }
                let Some(gateway) = slot.holding.as_ref().and_then(Holding::gateway) else { continue };
                if family == Family::V6
                    && entry.request.internal_v6.is_none()
                    && matches!(slot.holding, Some(Holding::Pinhole { .. }))
                    && !v6_gateways.iter().any(|g| g.location == gateway.location)
                {
                    v6_gateways.push(gateway.clone());
                }
                // The gateway this family's leases are held on (the first one: one per family).
                if self.watch_notifies {
                    notify[family as usize].get_or_insert_with(|| gateway.clone());
                }
                if !probe.iter().any(|g| g.location == gateway.location) {
                    probe.push(gateway.clone());
                }
            }
        }
        // What a gateway no longer held on answered is forgotten (a new LOCATION after a
        // rediscovery starts afresh).
        self.probed.retain(|(url, _)| probe.iter().any(|g| g.location == *url));
        let watching = notify.iter().any(Option::is_some) || announce.iter().any(Option::is_some);
        if v6_gateways.is_empty() && !watching && !self.listening && probe.is_empty() {
            return None;
        }
        self.listening = watching;
        Some(Task::Look { v6_gateways, notify, probe, announce })
    }

    /// The next time `handle_timeout` has something to do (None: nothing until a request).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let slots = self.leases.values().flat_map(|e| [&e.v4, &e.v6]);
        let held = slots.clone().any(|s| s.state != LeaseState::Closed && s.holding.as_ref().is_some_and(Holding::is_held));
        let look = if held || self.listening { self.next_look } else { None };
        slots.filter_map(|s| s.state.deadline()).chain(look).min()
    }

    /// Take the result of a task the engine asked for; returns the follow-up tasks.
    pub(crate) fn on_outcome(&mut self, task: &Task, outcome: Outcome, now: Instant) -> Vec<Task> {
        match (task, outcome) {
            (Task::RemoveLeftovers { .. }, Outcome::LeftoversKept(kept)) => {
                self.journal.keep_leftovers(kept);
                Vec::new()
            }
            (Task::Open { lease, family, .. }, Outcome::Opened { family_lease, holding }) => self.opened(*lease, *family, family_lease, holding, now),
            (Task::Confirm { lease, family, holding }, Outcome::Confirmed { lease_secs }) => match lease_secs {
                Some(secs) => {
                    let Some(entry) = self.leases.get_mut(lease) else { return Vec::new() };
                    let slot = entry.slot(*family);
                    if let Some(Holding::Mapping { confirmed, .. } | Holding::Pinhole { confirmed, .. }) = &mut slot.holding {
                        *confirmed = true;
                    }
                    slot.state = LeaseState::Held { due: Some(now + renew_interval(secs)) };
                    slot.good_at = Some(now);
                    entry.info.family_mut(*family).lease_secs = secs;
                    self.close_if_pending(*lease, *family)
                }
                None => {
                    let what = match holding {
                        Holding::Mapping { mapping, .. } => format!("the mapping of port {}", mapping.external_port),
                        Holding::Pinhole { id, .. } => format!("pinhole {id}"),
                        Holding::Pcp { .. } | Holding::Nothing => String::from("it"),
                    };
                    let reason = format!("the router does not hold {what} it just confirmed");
                    self.journal.set(*lease, *family, None);
                    self.gone(*lease, *family, reason, Vec::new())
                }
            },
            (Task::Renew { lease, family, rebuild, .. }, Outcome::Renewed { lease_secs }) => {
                if *rebuild {
                    if let Some(entry) = self.leases.get_mut(lease) {
                        entry.slot(*family).made_at = Some(now);
                    }
                }
                self.renewed(*lease, *family, lease_secs, None, now);
                self.close_if_pending(*lease, *family)
            }
            (Task::Renew { lease, family, holding, .. }, Outcome::Gone { reason, unreachable }) => {
                let first = match holding.gateway() {
                    Some(gateway) if unreachable => vec![Task::ForgetGateway { gateway: gateway.clone() }],
                    _ => Vec::new(),
                };
                if !unreachable {
                    // The router said so: nothing of it is left to remove at the next start. (A
                    // router that stopped answering may still hold it: the journal keeps it.)
                    self.journal.set(*lease, *family, None);
                    if let Holding::Pinhole { gateway, .. } = holding {
                        let good_at = self.leases.get(lease).and_then(|e| e.slot_ref(*family).good_at);
                        self.repair_mappings(*lease, gateway, good_at, now);
                    }
                }
                self.gone(*lease, *family, reason, first)
            }
            (Task::Renew { lease, family, holding, .. }, Outcome::Moved { to }) => {
                let from = match holding {
                    Holding::Pinhole { pinhole, .. } => pinhole.internal_client.to_string(),
                    Holding::Pcp { mapping } => mapping.client.to_string(),
                    _ => String::from("?"),
                };
                let mut first = vec![Task::Discard { holding: holding.clone() }];
                self.journal.set(*lease, *family, None);
                first.extend(holding.gateway().map(|g| Task::ForgetGateway { gateway: g.clone() }));
                self.gone(*lease, *family, format!("this host's IPv6 address changed from {from} to {to}"), first)
            }
            (Task::Renew { lease, .. } | Task::Confirm { lease, .. }, Outcome::Postponed(why)) => {
                let family = task.family().expect("renewals and confirmations name their family");
                let Some(entry) = self.leases.get_mut(lease) else { return Vec::new() };
                log::debug!("lease {lease} {family}: renewal postponed: {why}");
                let slot = entry.slot(family);
                slot.backoff = next_backoff(slot.backoff);
                slot.state = LeaseState::Held { due: Some(now + slot.backoff) };
                self.close_if_pending(*lease, family)
            }
            (Task::Release { lease, family, .. }, Outcome::Released(result)) => {
                self.finish_close(*lease, *family, Some(result));
                Vec::new()
            }
            (Task::Renew { lease, family, .. }, Outcome::Refreshed { mapping, lost_state }) => {
                let server = mapping.server;
                if lost_state {
                    // It was gone until this refresh re-made it: said as lost, then recovered.
                    log::info!("lease {lease} {family}: the PCP server {server} lost its state (epoch): re-making everything held there");
                    let why = format!("the router's epoch ({}) says it restarted and lost its mappings: re-making it", mapping.epoch);
                    self.mark_lost(*lease, *family, why.clone());
                    self.renewed(*lease, *family, mapping.lifetime_granted, Some(mapping), now);
                    self.server_lost_state(server, &why, now, Some((*lease, *family)), |_| true);
                } else {
                    self.renewed(*lease, *family, mapping.lifetime_granted, Some(mapping), now);
                }
                self.close_if_pending(*lease, *family)
            }
            (Task::Look { .. }, Outcome::Looked { local_v6, rebooted, probed, pcp }) => {
                let changed = self.changed_gateways(probed);
                self.looked(&local_v6, &rebooted, &changed, now);
                if let Some((server, address)) = pcp.local_v6 {
                    self.pcp_address_changed(server, address, now);
                }
                for server in pcp.answering_again {
                    log::info!("the PCP server {server} answers again: refreshing what is held there (it may have restarted unheard)");
                    self.due_on_server(server, now);
                }
                for server in pcp.announced {
                    log::info!("the PCP server {server} announced a restart: re-making everything held there");
                    self.server_lost_state(server, "the router announced a restart (PCP ANNOUNCE): re-making it", now, None, |_| true);
                }
                for (server, epoch) in pcp.epochs {
                    let why = format!("the router's epoch ({epoch}) says it restarted and lost its mappings: re-making it");
                    self.server_lost_state(server, &why, now, None, |m| epoch_lost_state(m.epoch, epoch, now.saturating_duration_since(m.answered_at)));
                }
                Vec::new()
            }
            (_, Outcome::Done) => Vec::new(),
            (task, outcome) => {
                debug_assert!(false, "outcome {outcome:?} does not answer {task:?}");
                log::error!("internal error: outcome {outcome:?} does not answer {task:?}");
                Vec::new()
            }
        }
    }

    /// A renewal succeeded: open again (recovered if it was lost), next renewal scheduled, the
    /// event sent. `mapping`: a PCP refresh's answer, which may name another lifetime, port or
    /// epoch: it replaces the holding (and its journal line).
    fn renewed(&mut self, lease: u64, family: Family, lease_secs: u32, mapping: Option<PcpMapping>, now: Instant) {
        let Some(entry) = self.leases.get_mut(&lease) else { return };
        // Refreshed, but lost until the re-creation that comes next: nothing to say yet.
        let still_lost = entry.slot(family).lost && entry.slot(family).repair;
        let fl = entry.info.family_mut(family);
        if !still_lost {
            fl.status = PortStatus::Open;
            fl.message.clear();
        }
        fl.lease_secs = lease_secs;
        if let Some(m) = &mapping {
            fl.external = Some(m.external);
            fl.route = Some(m.route);
        }
        fl.upnp_code = None;
        let snapshot = fl.clone();
        let slot = entry.slot(family);
        let kind = match (still_lost, slot.lost) {
            (true, _) => None,
            (false, true) => Some(EventKind::Recovered),
            (false, false) => Some(EventKind::Renewed),
        };
        slot.lost = still_lost;
        slot.good_at = Some(now);
        slot.backoff = Duration::ZERO;
        if let Some(mapping) = mapping {
            slot.holding = Some(Holding::Pcp { mapping });
        }
        let next = match &slot.holding {
            _ if slot.repair => now,
            Some(holding) => now + holding_interval(holding, lease_secs),
            None => now + renew_interval(lease_secs),
        };
        slot.state = LeaseState::Held { due: Some(next) };
        if matches!(slot.holding, Some(Holding::Pcp { .. })) {
            let held = slot.holding.clone();
            self.journal.set(lease, family, held.as_ref());
        }
        if let Some(kind) = kind {
            self.emit(lease, kind, &snapshot);
        }
    }

    fn opened(&mut self, lease: u64, family: Family, fl: FamilyLease, holding: Option<Holding>, now: Instant) -> Vec<Task> {
        if holding.as_ref().is_some_and(Holding::is_held) && self.next_look.is_none() {
            self.next_look = Some(now); // something to watch: look at once
        }
        let Some(entry) = self.leases.get_mut(&lease) else { return Vec::new() };
        let slot = entry.slot(family);
        let first_due = |holding: &Holding, fl: &FamilyLease| match holding {
            Holding::Nothing => None,
            h if !h.is_confirmed() => Some(now),
            h => Some(now + holding_interval(h, fl.lease_secs)),
        };
        if !slot.lost {
            // The first open: its result is the lease's, whatever it is.
            slot.state = match &holding {
                Some(h) => LeaseState::Held { due: first_due(h, &fl) },
                None => LeaseState::Idle,
            };
            slot.holding = holding;
            if slot.holding.is_some() {
                (slot.made_at, slot.good_at) = (Some(now), Some(now));
            }
            self.journal.set(lease, family, slot.holding.as_ref());
            *entry.info.family_mut(family) = fl.clone();
            let kind = if fl.status.is_open() { EventKind::Opened } else { EventKind::Failed };
            self.emit(lease, kind, &fl);
        } else if fl.status.is_open() {
            // The journal now names the new holding; the old one is gone from the router.
            slot.state = LeaseState::Held { due: holding.as_ref().and_then(|h| first_due(h, &fl)) };
            slot.holding = holding;
            (slot.made_at, slot.good_at) = (Some(now), Some(now));
            slot.lost = false;
            slot.backoff = Duration::ZERO;
            self.journal.set(lease, family, slot.holding.as_ref());
            *entry.info.family_mut(family) = fl.clone();
            log::info!("lease {lease} {family}: recovered at {:?}", fl.external);
            self.emit(lease, EventKind::Recovered, &fl);
        } else {
            let first_failure = slot.backoff.is_zero();
            slot.backoff = next_backoff(slot.backoff);
            slot.holding = None;
            slot.state = LeaseState::Lost { retry_at: now + slot.backoff };
            let current = entry.info.family_mut(family);
            current.message = format!("recovering: {}", fl.message);
            current.upnp_code = fl.upnp_code;
            let snapshot = current.clone();
            if first_failure {
                self.emit(lease, EventKind::Failed, &snapshot);
            }
        }
        self.close_if_pending(lease, family)
    }

    /// The holding is gone (or unusable): report the loss once, then open the family again
    /// (after the tasks in `first`). A close asked meanwhile wins over the re-open.
    fn gone(&mut self, lease: u64, family: Family, reason: String, first: Vec<Task>) -> Vec<Task> {
        let Some(entry) = self.leases.get_mut(&lease) else { return first };
        let slot = entry.slot(family);
        if slot.close_pending {
            // Deleting what the router no longer holds answers "already gone": closed cleanly.
            let mut tasks = first;
            tasks.extend(self.begin_close(lease, family));
            return tasks;
        }
        slot.state = LeaseState::Opening;
        self.mark_lost(lease, family, reason);
        let mut tasks = first;
        tasks.extend(self.open_tasks(lease, family));
        tasks
    }

    /// A pinhole the router answered "gone" for is the evidence that its rules were flushed
    /// behind the UPnP daemon's back (OpenWrt's firewall reload; the lab's `flush-chains`), or
    /// that it rebooted. After a flush, miniupnpd (2.3.1 and 2.3.9 alike) still lists its IPv4
    /// mappings, so the AddPortMapping refresh answers success and re-creates nothing: a delete
    /// then an add does (measured in the lab). So every mapping held on the same device (same
    /// UDN; a gateway known without one: the same lease) is re-created now. After a reboot the
    /// delete answers 714 and the add re-creates it: no harm. A flush that empties only the
    /// IPv4 chains, on a router holding no pinhole of ours, cannot be seen through UPnP.
    ///
    /// A mapping made before the pinhole was last known good had its rule flushed with the
    /// pinhole's (the flush came after): it is said lost until re-created. One made since may
    /// have been made after the flush: re-created all the same, with nothing said.
    fn repair_mappings(&mut self, lease: u64, v6_gateway: &crate::gateway::Gateway, v6_good_at: Option<Instant>, now: Instant) {
        let mut repaired = Vec::new();
        for (id, entry) in self.leases.iter_mut() {
            let slot = entry.slot(Family::V4);
            let Some(Holding::Mapping { gateway, .. }) = &slot.holding else { continue };
            let same_device = if gateway.usn.is_empty() || v6_gateway.usn.is_empty() { *id == lease } else { gateway.usn == v6_gateway.usn };
            if !same_device {
                continue;
            }
            log::info!("lease {id} IPv4: the router lost a pinhole without a word: re-creating the mapping");
            slot.repair = true;
            // (A renewal on the wire now is a refresh: the re-creation follows it at once.)
            if let LeaseState::Held { .. } = slot.state {
                slot.state = LeaseState::Held { due: Some(now) };
            }
            if matches!((slot.made_at, v6_good_at), (Some(made), Some(good)) if made <= good) {
                repaired.push(*id);
            }
        }
        for id in repaired {
            self.mark_lost(id, Family::V4, "the router dropped its rules without a word (a firewall reload?): re-creating the mapping".into());
        }
    }

    /// The PCP/NAT-PMP server `server` lost its state (it announced a restart, or its epoch
    /// says so): each mapping held there, not already being acted on, that `lost` (given the
    /// mapping) confirms, is reported lost and refreshed now, but for `except` (whose answer
    /// just re-made it). A refresh with the same nonce re-makes it, and `renewed` reports it
    /// recovered.
    fn server_lost_state(&mut self, server: SocketAddr, why: &str, now: Instant, except: Option<(u64, Family)>, lost: impl Fn(&PcpMapping) -> bool) {
        let found = self.due_now_on_server(server, now, |id, family, _, mapping| except != Some((id, family)) && lost(mapping));
        for (id, family) in found {
            self.mark_lost(id, family, why.to_string());
        }
    }

    /// This host's IPv6 address toward the PCP server `server` is now `address`: each pinhole
    /// held there for another address, whose lease follows the host's address (none was
    /// named), is renewed now (the renewal finds it moved).
    fn pcp_address_changed(&mut self, server: SocketAddr, address: Ipv6Addr, now: Instant) {
        let moved = self.due_now_on_server(server, now, |_, family, follows_address, mapping| {
            family == Family::V6 && follows_address && mapping.client != IpAddr::V6(address)
        });
        for (id, _) in moved {
            log::info!("lease {id}: this host's IPv6 address is now {address}: moving the PCP pinhole");
        }
    }

    /// Everything held on PCP server `server`, not already being acted on, is refreshed now.
    fn due_on_server(&mut self, server: SocketAddr, now: Instant) {
        self.due_now_on_server(server, now, |_, _, _, _| true);
    }

    /// Make due now each family held on PCP server `server`, not already being acted on, that
    /// `which` picks (given the lease, the family, whether the lease follows the host's IPv6
    /// address, and the mapping); returns them.
    fn due_now_on_server(&mut self, server: SocketAddr, now: Instant, which: impl Fn(u64, Family, bool, &PcpMapping) -> bool) -> Vec<(u64, Family)> {
        let mut found = Vec::new();
        for (id, entry) in self.leases.iter_mut() {
            let follows_address = entry.request.internal_v6.is_none();
            for family in FAMILIES {
                let slot = entry.slot(family);
                let (LeaseState::Held { .. }, Some(Holding::Pcp { mapping })) = (slot.state, &slot.holding) else { continue };
                if mapping.server == server && which(*id, family, follows_address, mapping) {
                    slot.state = LeaseState::Held { due: Some(now) };
                    found.push((*id, family));
                }
            }
        }
        found
    }

    /// Report a family lost (once, until it is recovered): status, reason, event.
    fn mark_lost(&mut self, lease: u64, family: Family, reason: String) {
        let Some(entry) = self.leases.get_mut(&lease) else { return };
        let slot = entry.slot(family);
        if slot.lost {
            return;
        }
        slot.lost = true;
        let fl = entry.info.family_mut(family);
        fl.status = PortStatus::Lost;
        fl.message = reason;
        let snapshot = fl.clone();
        log::info!("lease {lease} {family}: lost: {}", snapshot.message);
        self.emit(lease, EventKind::Lost, &snapshot);
    }

    fn close_if_pending(&mut self, lease: u64, family: Family) -> Vec<Task> {
        let pending = self.leases.get_mut(&lease).is_some_and(|e| e.slot(family).close_pending);
        if pending {
            self.begin_close(lease, family).into_iter().collect()
        } else {
            Vec::new()
        }
    }

    /// The probed gateways (by LOCATION) whose answer differs from their previous one: a new
    /// boot id (a restart, such as a power-on that announces nothing for ~15 minutes), or a new
    /// LOCATION (the web server moved: miniupnpd's default `http_port=0` picks a new port at
    /// every start). A first answer is compared with the boot id of the gateway's discovery
    /// only. No answer changes nothing: UDP may drop a search and a router may rate-limit them;
    /// a router that is really gone is found by the renewal, as before.
    fn changed_gateways(&mut self, probed: Vec<(HttpUrl, DeviceAnswer)>) -> Vec<HttpUrl> {
        let mut changed = Vec::new();
        for (url, answer) in probed {
            let Some((_, before)) = self.probed.iter_mut().find(|(u, _)| *u == url) else {
                // A first answer is checked against the boot id the gateway was discovered
                // with: a second restart within the look after a rediscovery is caught too (seen
                // in the lab: two power-ons 10 s apart). Its LOCATION is not: discovery may have
                // pinned another address than the one the answer names.
                let found = self.held_gateway(&url).and_then(|g| g.boot_id);
                let rebooted = matches!((found, answer.boot_id), (Some(a), Some(b)) if a != b);
                if rebooted {
                    log::info!("the router at {url} answers with a new boot id ({found:?} -> {:?}): renewing what it held now", answer.boot_id);
                    changed.push(url.clone());
                }
                self.probed.push((url, answer));
                continue;
            };
            let rebooted = matches!((before.boot_id, answer.boot_id), (Some(a), Some(b)) if a != b);
            let moved = !same_place(&before.location, &answer.location);
            if rebooted {
                log::info!("the router at {url} answers with a new boot id ({:?} -> {:?}): renewing what it held now", before.boot_id, answer.boot_id);
            } else if moved {
                log::info!("the router at {url} now answers with LOCATION {}: renewing what it held now", answer.location);
            }
            if rebooted || moved {
                changed.push(url);
            }
            *before = answer;
        }
        changed
    }

    /// A gateway something is held on, by its LOCATION.
    fn held_gateway(&self, location: &HttpUrl) -> Option<&crate::gateway::Gateway> {
        let slots = self.leases.values().flat_map(|e| [&e.v4, &e.v6]);
        slots.filter_map(|s| s.holding.as_ref().and_then(Holding::gateway)).find(|g| g.location == *location)
    }

    /// What a look found: a pinhole whose host address changed, and everything held on a
    /// router that announced a new boot or answered a probe differently (`changed`, by its
    /// LOCATION), is due now.
    fn looked(&mut self, local_v6: &[(HttpUrl, core::net::Ipv6Addr)], rebooted: &[(Family, HttpUrl)], changed: &[HttpUrl], now: Instant) {
        for (id, entry) in self.leases.iter_mut() {
            let follow_address = entry.request.internal_v6.is_none();
            for family in FAMILIES {
                let slot = entry.slot(family);
                let LeaseState::Held { due } = slot.state else { continue };
                if due.is_some_and(|d| d <= now) {
                    continue;
                }
                let Some(gateway) = slot.holding.as_ref().and_then(Holding::gateway) else { continue };
                let moved = match &slot.holding {
                    Some(Holding::Pinhole { pinhole, .. }) if follow_address => {
                        local_v6.iter().find(|(url, _)| *url == gateway.location).filter(|(_, ip)| *ip != pinhole.internal_client)
                    }
                    _ => None,
                };
                if let Some((_, ip)) = moved {
                    log::info!("lease {id}: this host's IPv6 address is now {ip}: moving the pinhole");
                    slot.state = LeaseState::Held { due: Some(now) };
                } else if rebooted.iter().any(|(f, url)| *f == family && *url == gateway.location) {
                    log::info!("lease {id} {family}: the router announced a new boot: renewing now");
                    slot.state = LeaseState::Held { due: Some(now) };
                } else if changed.contains(&gateway.location) {
                    log::info!("lease {id} {family}: the router's answer changed: renewing now");
                    slot.state = LeaseState::Held { due: Some(now) };
                }
            }
        }
    }

    fn emit(&mut self, lease: u64, kind: EventKind, fl: &FamilyLease) {
        self.events.push(Event { lease_id: lease, family: fl.family, kind, address: fl.external, lease_secs: fl.lease_secs, message: fl.message.clone() });
    }

    /// Events since the last call, oldest first.
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The journal's lines as they stand (written once before an open sends anything, to
    /// know the file can be written).
    pub(crate) fn journal_entries(&self) -> Vec<JournalEntry> {
        self.journal.entries()
    }

    /// The journal's lines, when they changed since the last call.
    pub(crate) fn take_journal(&mut self) -> Option<Vec<JournalEntry>> {
        self.journal.take_changes()
    }

    /// Leftovers of an earlier run to remove now (`Client::clean_leftovers`).
    pub(crate) fn take_leftovers(&mut self) -> Option<Task> {
        let entries = self.journal.take_leftovers(None);
        (!entries.is_empty()).then_some(Task::RemoveLeftovers { entries })
    }

    pub(crate) fn info(&self, lease: u64) -> Option<LeaseInfo> {
        self.leases.get(&lease).map(|e| e.info.clone())
    }

    /// Snapshots of the leases not closed.
    pub(crate) fn leases(&self) -> Vec<LeaseInfo> {
        self.leases.values().filter(|e| !e.is_closed()).map(|e| e.info.clone()).collect()
    }

    pub(crate) fn is_closed(&self, lease: u64) -> bool {
        self.leases.get(&lease).is_none_or(LeaseEntry::is_closed)
    }

    #[cfg(test)]
    fn state(&self, lease: u64, family: Family) -> Option<LeaseState> {
        self.leases.get(&lease).map(|e| e.slot_ref(family).state)
    }
}

/// The same description URL, whatever the zone: a LOCATION read from an answer carries none.
fn same_place(a: &HttpUrl, b: &HttpUrl) -> bool {
    (a.ip, a.port, &a.path) == (b.ip, b.port, &b.path)
}
