//! Lease upkeep: renew at half the granted lease with one exchange per family (pinholes with
//! UpdatePinhole, mappings refreshed with AddPortMapping), notice losses (704/714, a router that stopped
//! answering; between renewals, the host's IPv6 address changing and the router announcing a
//! reboot) and recover by rediscovery and re-adding, with a bounded back-off. Runs on the client's keeper thread, or on the caller's via `renew_due`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};

use crate::action::Fault;
use crate::client::{family_index, first_due, lock, open_family, refresh_due, release, Holding, LeaseCell, Shared, Slot};
use crate::error::Error;
use crate::events::EventKind;
use crate::gateway::{choose_local_addr, Gateway};
use crate::lease::PortStatus;
use crate::limits::{PERMANENT_CHECK_INTERVAL, RECOVER_BACKOFF_FIRST, RECOVER_BACKOFF_MAX, RENEW_FRACTION, RENEW_MIN_INTERVAL, WATCH_INTERVAL};
use crate::pinhole::Pinhole;
use crate::port_mapping::PortMapping;
use crate::transport::notify::NotifyWatch;
use crate::types::Family;

/// How long after a grant of `lease_secs` the keeper acts again.
pub(crate) fn renew_interval(lease_secs: u32) -> Duration {
    if lease_secs == 0 {
        return PERMANENT_CHECK_INTERVAL;
    }
    Duration::from_secs_f64(lease_secs as f64 * RENEW_FRACTION).max(RENEW_MIN_INTERVAL)
}

/// The keeper thread: act on due leases, sleep until the next is due or someone wakes it.
pub(crate) fn run(shared: Arc<Shared>) {
    log::debug!("keeper started");
    while !shared.stopping.load(Ordering::SeqCst) {
        let next = run_due(&shared);
        let mut flag = lock(&shared.wake_flag);
        while !*flag && !shared.stopping.load(Ordering::SeqCst) {
            let wait = match next {
                Some(t) => t.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if wait.is_zero() {
                break;
            }
            let (guard, timeout) = shared.wake.wait_timeout(flag, wait).unwrap_or_else(|p| p.into_inner());
            flag = guard;
            if timeout.timed_out() {
                break;
            }
        }
        *flag = false;
    }
    log::debug!("keeper stopped");
}

/// Act on every lease that is due. Returns when the next one is due (or the next address check).
pub(crate) fn run_due(shared: &Shared) -> Option<Instant> {
    let cells: Vec<Arc<LeaseCell>> = lock(&shared.leases).values().cloned().collect();
    let next_check = look_between_renewals(shared, &cells);
    for cell in &cells {
        if shared.stopping.load(Ordering::SeqCst) {
            return None;
        }
        let due = *lock(&cell.next_due);
        if due.is_some_and(|d| d <= Instant::now()) {
            renew_cell(shared, cell);
            shared.events.deliver();
        }
    }
    cells.iter().filter_map(|c| *lock(&c.next_due)).chain(next_check).min()
}

/// Between renewals, every `WATCH_INTERVAL`, a look that sends nothing: at this host's IPv6
/// address (`check_address`) and at what the routers announced (`check_notifies`). What is found
/// gone is made due now. Returns when to look again, None when nothing is watched.
fn look_between_renewals(shared: &Shared, cells: &[Arc<LeaseCell>]) -> Option<Instant> {
    let now = Instant::now();
    let (look, next) = {
        let mut next = lock(&shared.next_watch);
        let look = next.is_none_or(|t| t <= now);
        if look {
            *next = Some(now + WATCH_INTERVAL);
        }
        (look, *next)
    };
    let mut watched = false;
    for family in [Family::V4, Family::V6] {
        // The gateway this family's leases are held on (the first one found: one per family).
        let (mut gateway, mut busy) = (None, false);
        for cell in cells {
            if cell.closed.load(Ordering::SeqCst) {
                continue;
            }
            let Some(mut work) = try_work(cell) else {
                (watched, busy) = (true, true); // looked at next time
                continue;
            };
            let slot = work.slot(family);
            let held = match &slot.holding {
                Some(Holding::Pinhole { gateway, .. } | Holding::Mapping { gateway, .. }) => gateway.clone(),
                _ => continue,
            };
            watched = true;
            if look && family == Family::V6 {
                check_address(cell, slot, &held, now);
                refresh_due(cell, &work);
            }
            gateway.get_or_insert(held);
        }
        // A lease busy now may hold the gateway: keep listening until the next look says.
        if look && (gateway.is_some() || !busy) {
            check_notifies(shared, cells, family, gateway.as_ref(), now);
        }
    }
    if watched {
        next
    } else {
        None
    }
}

/// The lease's work lock, unless an open, renewal or close holds it now.
fn try_work(cell: &LeaseCell) -> Option<std::sync::MutexGuard<'_, crate::client::Work>> {
    match cell.work.try_lock() {
        Ok(work) => Some(work),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// A pinhole that follows the host's address (none was named) is due now when the host's IPv6
/// address toward its gateway is no longer the pinholed one; `renew_pinhole` then moves it.
fn check_address(cell: &LeaseCell, slot: &mut Slot, gateway: &Gateway, now: Instant) {
    let Some(Holding::Pinhole { pinhole, .. }) = &slot.holding else { return };
    if cell.request.internal_v6.is_some() {
        return;
    }
    if let Ok(IpAddr::V6(current)) = choose_local_addr(Family::V6, &gateway.location) {
        if current != pinhole.internal_client && slot.due.is_none_or(|d| d > now) {
            log::info!("lease {}: this host's IPv6 address is now {current}, not {}: moving the pinhole", cell.id, pinhole.internal_client);
            slot.due = Some(now);
        }
    }
}

/// Read the NOTIFYs of `gateway` (opening the listener the first time); when it announced a new
/// boot, everything held on it is due now: a pinhole's UpdatePinhole then fails and it is added
/// again, a mapping's AddPortMapping refresh re-creates it.
fn check_notifies(shared: &Shared, cells: &[Arc<LeaseCell>], family: Family, gateway: Option<&Gateway>, now: Instant) {
    let mut watch = lock(&shared.notify_watches[family_index(family)]);
    let Some(gateway) = gateway.filter(|_| shared.config.discovery.multicast) else {
        *watch = None; // nothing held there (or no multicast wanted): stop listening
        return;
    };
    let key = (gateway.location.socket_addr(), gateway.local_addr);
    if watch.as_ref().is_none_or(|(k, _)| *k != key) {
        let opened = NotifyWatch::open(gateway)
            .map_err(|e| log::debug!("{family}: not listening for the router's NOTIFYs ({e}); a restart is noticed at the next renewal"));
        *watch = Some((key, opened.ok()));
    }
    let Some((_, Some(w))) = watch.as_mut() else { return };
    let Some((before, boot)) = w.new_boot() else { return };
    drop(watch);
    log::info!("{family}: the router announced a new boot ({before:?} -> {boot}): renewing what it held now");
    for cell in cells {
        let Some(mut work) = try_work(cell) else { continue };
        let slot = work.slot(family);
        let on_it = matches!(&slot.holding, Some(Holding::Pinhole { gateway: g, .. } | Holding::Mapping { gateway: g, .. }) if g.location == gateway.location);
        if on_it && slot.due.is_none_or(|d| d > now) {
            slot.due = Some(now);
            refresh_due(cell, &work);
        }
    }
}

fn renew_cell(shared: &Shared, cell: &LeaseCell) {
    if cell.closed.load(Ordering::SeqCst) {
        return;
    }
    let mut work = lock(&cell.work);
    if cell.closed.load(Ordering::SeqCst) {
        return;
    }
    for family in [Family::V4, Family::V6] {
        let slot = work.slot(family);
        if slot.due.is_some_and(|d| d <= Instant::now()) {
            renew_slot(shared, cell, family, slot);
        }
    }
    refresh_due(cell, &work);
}

enum Renewal {
    /// Still held; lease (re)granted for this long; IPv4 external address re-read.
    Renewed { lease_secs: u32, external: Option<SocketAddr> },
    /// The router no longer holds it, or it must move: open it again.
    Gone(String),
    /// Nothing learned (cancelled): try again later, no event.
    Retry(Error),
}

fn renew_slot(shared: &Shared, cell: &LeaseCell, family: Family, slot: &mut Slot) {
    let outcome = match slot.holding.clone() {
        Some(Holding::Pinhole { gateway, id, pinhole }) => renew_pinhole(shared, cell, &gateway, id, &pinhole),
        Some(Holding::Mapping { gateway, mapping, confirmed: false }) => match confirm_mapping(shared, &gateway, &mapping) {
            Some(lease_secs) => {
                slot.holding = Some(Holding::Mapping { gateway, mapping, confirmed: true });
                slot.due = Some(Instant::now() + renew_interval(lease_secs));
                let mut info = lock(&cell.info);
                info.family_mut(family).lease_secs = lease_secs;
                return;
            }
            None => Renewal::Gone(format!("the router does not hold the mapping of port {} it just confirmed", mapping.external_port)),
        },
        Some(Holding::Mapping { gateway, mapping, .. }) => renew_mapping(shared, &gateway, &mapping),
        Some(Holding::Nothing) => {
            slot.due = None;
            return;
        }
        None => Renewal::Gone(String::new()),
    };
    match outcome {
        Renewal::Renewed { lease_secs, external } => {
            let mut info = lock(&cell.info);
            let fl = info.family_mut(family);
            fl.status = PortStatus::Open;
            fl.lease_secs = lease_secs;
            if external.is_some() {
                fl.external = external;
            }
            fl.upnp_code = None;
            fl.message.clear();
            let snapshot = fl.clone();
            drop(info);
            let kind = if slot.lost { EventKind::Recovered } else { EventKind::Renewed };
            slot.lost = false;
            slot.backoff = Duration::ZERO;
            slot.due = Some(Instant::now() + renew_interval(lease_secs));
            shared.emit(cell.id, family, kind, &snapshot);
        }
        Renewal::Retry(e) => {
            log::debug!("lease {} {family}: renewal postponed: {e}", cell.id);
            back_off(slot);
        }
        Renewal::Gone(reason) => recover(shared, cell, family, slot, reason),
    }
}

fn back_off(slot: &mut Slot) -> bool {
    let first = slot.backoff.is_zero();
    slot.backoff = if first { RECOVER_BACKOFF_FIRST } else { (slot.backoff * 2).min(RECOVER_BACKOFF_MAX) };
    slot.due = Some(Instant::now() + slot.backoff);
    first
}

/// The holding is gone (or unusable): report the loss once, then open the family again.
fn recover(shared: &Shared, cell: &LeaseCell, family: Family, slot: &mut Slot, reason: String) {
    if !slot.lost {
        slot.lost = true;
        let mut info = lock(&cell.info);
        let fl = info.family_mut(family);
        fl.status = PortStatus::Lost;
        fl.message = reason;
        let snapshot = fl.clone();
        drop(info);
        log::info!("lease {} {family}: lost: {}", cell.id, snapshot.message);
        shared.emit(cell.id, family, EventKind::Lost, &snapshot);
    }
    let (fl, holding) = open_family(shared, cell, family);
    if fl.status.is_open() {
        // The journal now names the new holding; the old one is gone from the router.
        shared.journal_set(cell.id, family, holding.as_ref());
        slot.due = holding.as_ref().and_then(|h| first_due(h, &fl));
        slot.holding = holding;
        slot.lost = false;
        slot.backoff = Duration::ZERO;
        *lock(&cell.info).family_mut(family) = fl.clone();
        log::info!("lease {} {family}: recovered at {:?}", cell.id, fl.external);
        shared.emit(cell.id, family, EventKind::Recovered, &fl);
    } else {
        slot.holding = None;
        let first_failure = back_off(slot);
        let mut info = lock(&cell.info);
        let current = info.family_mut(family);
        current.message = format!("recovering: {}", fl.message);
        current.upnp_code = fl.upnp_code;
        let snapshot = current.clone();
        drop(info);
        if first_failure {
            shared.emit(cell.id, family, EventKind::Failed, &snapshot);
        }
    }
}

fn renew_pinhole(shared: &Shared, cell: &LeaseCell, gw: &Gateway, id: u16, pinhole: &Pinhole) -> Renewal {
    // The host's IPv6 address changed (new prefix, address gone): the pinhole points nowhere.
    if cell.request.internal_v6.is_none() {
        if let Ok(IpAddr::V6(now)) = choose_local_addr(Family::V6, &gw.location) {
            if now != pinhole.internal_client {
                let _ = release(shared, &Holding::Pinhole { gateway: gw.clone(), id, pinhole: pinhole.clone() });
                shared.forget_gateway(gw);
                return Renewal::Gone(format!("this host's IPv6 address changed from {} to {now}", pinhole.internal_client));
            }
        }
    }
    let budget = shared.budget();
    match gw.update_pinhole(id, pinhole.lease_secs, &budget) {
        Ok(()) => Renewal::Renewed { lease_secs: pinhole.lease_secs, external: None },
        Err(Error::Cancelled) => Renewal::Retry(Error::Cancelled),
        Err(e) if e.is_gone() => Renewal::Gone(format!("the router no longer holds pinhole {id} ({e})")),
        Err(e) => gone_after(shared, gw, e),
    }
}

/// The read-back after opening: the lease the router really granted (None: it holds no such
/// mapping for us). A read-back that fails for another reason keeps the requested lease.
fn confirm_mapping(shared: &Shared, gw: &Gateway, m: &PortMapping) -> Option<u32> {
    match gw.read_back(m, &shared.budget()) {
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

/// One exchange per renewal: AddPortMapping with the same arguments restarts the lease, and
/// re-creates the mapping in the same exchange if the router lost it (a reboot). 718 means
/// another host took the port meanwhile: the lease is re-mapped elsewhere. A permanent mapping
/// (lease 0) is only confirmed, with GetSpecificPortMappingEntry.
fn renew_mapping(shared: &Shared, gw: &Gateway, m: &PortMapping) -> Renewal {
    let budget = shared.budget();
    let result = if m.lease_secs == 0 {
        match gw.get_specific_port_mapping(None, m.external_port, m.protocol, &budget) {
            Ok(held) if held.internal_client == m.internal_client && held.internal_port == m.internal_port => Ok(()),
            Ok(held) => return Renewal::Gone(format!("port {} is now mapped to {}:{}", m.external_port, held.internal_client, held.internal_port)),
            Err(e) if e.is_gone() => return Renewal::Gone(format!("the router no longer holds the mapping of port {} ({e})", m.external_port)),
            Err(e) => Err(e),
        }
    } else {
        gw.add_port_mapping(m, &budget)
    };
    match result {
        Ok(()) => Renewal::Renewed { lease_secs: m.lease_secs, external: None },
        Err(Error::Cancelled) => Renewal::Retry(Error::Cancelled),
        Err(e) if e.fault() == Some(Fault::Taken) => Renewal::Gone(format!("port {} was taken by another host ({e})", m.external_port)),
        Err(e) => gone_after(shared, gw, e),
    }
}

fn gone_after(shared: &Shared, gw: &Gateway, e: Error) -> Renewal {
    if e.is_unreachable() {
        shared.forget_gateway(gw);
        return Renewal::Gone(format!("the router stopped answering: {e}"));
    }
    Renewal::Gone(e.to_string())
}
