//! The client a game holds: configuration, the gateways found (cached per family), the leases it
//! opened, the event queue, and the keeper thread that renews leases. `open` works on IPv4 and
//! IPv6 in parallel; closing a lease, or dropping the client, removes everything it made.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::addr::{ExternalAddress, V4Class};
use crate::cancel::{Budget, CancelToken};
use crate::error::Error;
use crate::events::{Event, EventCallback, EventKind, EventSink};
use crate::gateway::{choose_local_addr, discover, DiscoveryOptions, Gateway};
use crate::lease::{FamilyLease, LeaseInfo, OpenRequest, PortStatus};
use crate::limits::{DEFAULT_ACTION_TIMEOUT, DEFAULT_DESCRIPTION, LEFTOVER_PINHOLE_LEASE_SECS, MAPPING_LEASE_MAX_SECS, PINHOLE_LEASE_MAX_SECS};
use crate::persist::{self, JournalEntry};
use crate::pinhole::Pinhole;
use crate::port_mapping::PortMapping;
use crate::transport::notify::NotifyWatch;
use crate::types::{Family, Protocol};

/// How a client behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub discovery: DiscoveryOptions,
    /// Budget of one router action (SOAP call or description fetch).
    pub action_timeout: Duration,
    /// Description given to mappings, and checked before a leftover is deleted.
    pub description: String,
    /// Gateway cache file: read at creation, written after each discovery.
    pub cache_file: Option<PathBuf>,
    /// Journal of what is open: leftovers found there at creation are removed.
    pub journal_file: Option<PathBuf>,
    /// Renew leases on the client's background thread.
    pub keep_alive: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            discovery: DiscoveryOptions::default(),
            action_timeout: DEFAULT_ACTION_TIMEOUT,
            description: DEFAULT_DESCRIPTION.to_string(),
            cache_file: None,
            journal_file: None,
            keep_alive: true,
        }
    }
}

/// What a lease holds on the router for one family.
#[derive(Clone, Debug)]
pub(crate) enum Holding {
    /// `confirmed`: read back from the router (done by the keeper right after opening).
    Mapping {
        gateway: Gateway,
        mapping: PortMapping,
        confirmed: bool,
    },
    Pinhole {
        gateway: Gateway,
        id: u16,
        pinhole: Pinhole,
    },
    /// The IPv6 firewall is off: nothing to hold, nothing to renew.
    Nothing,
}

/// Renewal state of one family of a lease (guarded by the lease's work lock).
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub holding: Option<Holding>,
    /// When the keeper next acts on this family (None: never).
    pub due: Option<Instant>,
    /// Current back-off after failures (zero when healthy).
    pub backoff: Duration,
    /// A loss was reported and recovery is pending.
    pub lost: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Work {
    pub v4: Slot,
    pub v6: Slot,
}

impl Work {
    pub(crate) fn slot(&mut self, family: Family) -> &mut Slot {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
}

pub(crate) struct LeaseCell {
    pub id: u64,
    pub request: OpenRequest,
    pub description: String,
    /// Public snapshot: never held across network calls, so status queries never block on I/O.
    pub info: Mutex<LeaseInfo>,
    /// Held while acting on the router for this lease (open, renew, close).
    pub work: Mutex<Work>,
    /// Earliest `due` of the two slots, for the keeper to read without taking `work`.
    pub next_due: Mutex<Option<Instant>>,
    pub closed: AtomicBool,
}

/// Which gateway a NOTIFY listener is for (its LOCATION address, and this host's address toward
/// it, whose interface the listener joined), and the listener (None: it could not be opened).
pub(crate) type WatchOf = ((SocketAddr, IpAddr), Option<NotifyWatch>);

pub(crate) struct Shared {
    pub config: ClientConfig,
    /// Cancels blocking calls in flight (`Client::cancel`).
    pub cancel: CancelToken,
    gateways: [Mutex<Option<Gateway>>; 2],
    pub leases: Mutex<BTreeMap<u64, Arc<LeaseCell>>>,
    next_id: AtomicU64,
    pub events: EventSink,
    journal: Mutex<BTreeMap<(u64, u8), JournalEntry>>,
    leftovers: Mutex<Vec<JournalEntry>>,
    pub wake: Condvar,
    pub wake_flag: Mutex<bool>,
    pub stopping: AtomicBool,
    /// When the keeper next looks between renewals (host address, router NOTIFYs).
    pub next_watch: Mutex<Option<Instant>>,
    /// Per family (v4, v6): the NOTIFY listener of the gateway leases are held on, or None when
    /// it could not be opened for that gateway (then only renewals notice a restart).
    pub notify_watches: [Mutex<Option<WatchOf>>; 2],
}

pub(crate) fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock must not take the whole client down: the data is plain state.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn budget(&self) -> Budget {
        Budget::new(self.config.action_timeout, &self.cancel)
    }

    /// The gateway for `family`: cached, or discovered now (and cached). `fresh` forces discovery.
    pub(crate) fn gateway(&self, family: Family, fresh: bool) -> Result<Gateway, Error> {
        let mut slot = lock(&self.gateways[family_index(family)]);
        if !fresh {
            if let Some(gw) = slot.as_ref() {
                return Ok(gw.clone());
            }
        }
        let found = discover(family, &self.config.discovery, &self.cancel)?;
        let gw = found.into_iter().next().ok_or_else(|| Error::NoGateway(format!("no UPnP gateway answered discovery over {family}")))?;
        log::info!("{family} gateway: {} ({}, IGD:{})", gw.location, gw.server.as_deref().unwrap_or("no SERVER header"), gw.igd_version());
        *slot = Some(gw.clone());
        drop(slot);
        self.save_cache();
        Ok(gw)
    }

    /// Drop the cached gateway if it is still `stale` (a later discovery may have replaced it).
    pub(crate) fn forget_gateway(&self, stale: &Gateway) {
        let mut slot = lock(&self.gateways[family_index(stale.family)]);
        if slot.as_ref().is_some_and(|g| g.location == stale.location) {
            log::info!("{} gateway at {} stopped answering; will rediscover", stale.family, stale.location);
            *slot = None;
        }
    }

    pub(crate) fn cached_gateway(&self, family: Family) -> Option<Gateway> {
        lock(&self.gateways[family_index(family)]).clone()
    }

    fn save_cache(&self) {
        let Some(path) = &self.config.cache_file else { return };
        let gws: Vec<Gateway> = [Family::V4, Family::V6].iter().filter_map(|f| self.cached_gateway(*f)).collect();
        let refs: Vec<&Gateway> = gws.iter().collect();
        if let Err(e) = persist::write_atomic(path, &persist::format_cache(&refs)) {
            log::warn!("gateway cache not saved: {e}");
        }
    }

    fn load_cache(&self) {
        let Some(path) = &self.config.cache_file else { return };
        let text = match persist::read_bounded(path) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("gateway cache not read: {e}");
                return;
            }
        };
        for gw in persist::parse_cache(&text) {
            // Only a gateway we would still reach from the same local address is worth trying:
            // on another network the cache is ignored and discovery runs.
            let still_here = choose_local_addr(gw.family, &gw.location).is_ok_and(|ip| ip == gw.local_addr);
            if still_here {
                log::debug!("{} gateway from cache: {}", gw.family, gw.location);
                let index = family_index(gw.family);
                *lock(&self.gateways[index]) = Some(gw);
            } else {
                log::debug!("cached {} gateway {} ignored: this host is not on that network now", gw.family, gw.location);
            }
        }
    }

    pub(crate) fn emit(&self, lease_id: u64, family: Family, kind: EventKind, fl: &FamilyLease) {
        self.events.push(Event { lease_id, family, kind, address: fl.external, lease_secs: fl.lease_secs, message: fl.message.clone() });
    }

    /// Record (or forget) what a lease holds, and rewrite the journal file.
    pub(crate) fn journal_set(&self, lease_id: u64, family: Family, holding: Option<&Holding>) {
        let entry = holding.and_then(|h| self.journal_entry(h));
        let mut journal = lock(&self.journal);
        let key = (lease_id, family_index(family) as u8);
        match entry {
            Some(e) => journal.insert(key, e),
            None => journal.remove(&key),
        };
        self.write_journal(&journal);
    }

    fn journal_entry(&self, holding: &Holding) -> Option<JournalEntry> {
        match holding {
            Holding::Mapping { gateway, mapping, .. } => Some(JournalEntry::Mapping {
                control: gateway.wan.clone()?,
                local: gateway.local_addr,
                external_port: mapping.external_port,
                protocol: mapping.protocol,
                internal_client: mapping.internal_client,
                internal_port: mapping.internal_port,
                description: mapping.description.clone(),
            }),
            Holding::Pinhole { gateway, id, pinhole } => Some(JournalEntry::Pinhole {
                control: gateway.firewall.clone()?,
                local: gateway.local_addr,
                id: *id,
                protocol: pinhole.protocol,
                internal_client: pinhole.internal_client,
                internal_port: pinhole.internal_port,
            }),
            Holding::Nothing => None,
        }
    }

    fn write_journal(&self, journal: &BTreeMap<(u64, u8), JournalEntry>) {
        if let Err(e) = self.store_journal(journal) {
            log::warn!("journal not written: {e}");
        }
    }

    fn store_journal(&self, journal: &BTreeMap<(u64, u8), JournalEntry>) -> Result<(), Error> {
        let Some(path) = &self.config.journal_file else { return Ok(()) };
        let mut entries: Vec<JournalEntry> = lock(&self.leftovers).clone();
        entries.extend(journal.values().cloned());
        persist::write_atomic(path, &persist::format_journal(&entries)).map_err(|e| match e {
            Error::Io { context, message } => Error::Io { context: format!("journal file (asked for, so nothing was opened): {context}"), message },
            other => other,
        })
    }

    /// Remove what an earlier run left open (listed in the journal at creation). Only entries
    /// that are still ours are deleted: a mapping must carry our description and internal
    /// client; a pinhole is looked up by its exact tuple. Entries whose router does not answer
    /// stay in the journal for the next start. Returns how many were removed.
    pub(crate) fn clean_leftovers(&self, family: Option<Family>) -> usize {
        let pending: Vec<JournalEntry> = {
            let mut all = lock(&self.leftovers);
            let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|e| family.is_none_or(|f| entry_family(e) == f));
            *all = rest;
            mine
        };
        if pending.is_empty() {
            return 0;
        }
        let mut removed = 0;
        let mut keep = Vec::new();
        for entry in pending {
            match self.remove_leftover(&entry) {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) if e.is_unreachable() => {
                    log::info!("leftover kept for next start: router unreachable: {e}");
                    keep.push(entry);
                }
                Err(e) => log::info!("leftover not removed: {e}"),
            }
        }
        lock(&self.leftovers).extend(keep);
        let journal = lock(&self.journal);
        self.write_journal(&journal);
        removed
    }

    fn remove_leftover(&self, entry: &JournalEntry) -> Result<bool, Error> {
        let budget = self.budget();
        match entry {
            JournalEntry::Mapping { control, local, external_port, protocol, internal_client, internal_port, description } => {
                let gw = Gateway::for_control(Family::V4, control.clone(), *local);
                let held = match gw.get_specific_port_mapping(None, *external_port, *protocol, &budget) {
                    Ok(m) => m,
                    Err(Error::Upnp(f)) if f.code == 714 => return Ok(false),
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
                // again returns the ID of the one that exists (ours), or makes a fresh one; either
                // way the ID returned is ours to delete, and nothing of another host is touched.
                let probe = Pinhole {
                    remote_host: None,
                    remote_port: 0,
                    internal_client: *internal_client,
                    internal_port: *internal_port,
                    protocol: *protocol,
                    lease_secs: LEFTOVER_PINHOLE_LEASE_SECS,
                };
                let found = gw.add_pinhole(&probe, &budget)?;
                gw.delete_pinhole(found, &budget)?;
                log::info!("removed leftover pinhole {id} (now {found}) for [{internal_client}]:{internal_port}/{protocol}");
                Ok(true)
            }
        }
    }

    pub(crate) fn wake_keeper(&self) {
        *lock(&self.wake_flag) = true;
        self.wake.notify_all();
    }
}

fn entry_family(e: &JournalEntry) -> Family {
    match e {
        JournalEntry::Mapping { .. } => Family::V4,
        JournalEntry::Pinhole { .. } => Family::V6,
    }
}

/// A portopen client. Cheap to share across threads (`&Client` is `Sync`).
pub struct Client {
    shared: Arc<Shared>,
    keeper: Mutex<Option<JoinHandle<()>>>,
}

/// An open port. Dropping it closes it (deletes its mappings and pinholes).
pub struct Lease {
    shared: Arc<Shared>,
    cell: Arc<LeaseCell>,
}

impl Client {
    /// A client. Reads the gateway cache and the journal when configured; sends nothing yet.
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        if config.action_timeout.is_zero() {
            return Err(Error::InvalidArgument("action timeout must be above zero".into()));
        }
        if config.description.is_empty() || config.description.len() > 128 {
            return Err(Error::InvalidArgument("description must be 1..=128 bytes".into()));
        }
        // An interface named for discovery must exist, up and with an address: a typo would
        // otherwise be searched on by nobody, silently (issue 18).
        if !config.discovery.interfaces.is_empty() {
            let known = crate::platform::interfaces().map_err(|e| Error::io("listing network interfaces", &e))?;
            if let Some(name) = config.discovery.interfaces.iter().find(|n| !known.iter().any(|i| &i.name == *n)) {
                return Err(Error::InvalidArgument(format!("no network interface '{name}' that is up with an address")));
            }
        }
        let leftovers = match &config.journal_file {
            Some(path) => persist::parse_journal(&persist::read_bounded(path)?),
            None => Vec::new(),
        };
        if !leftovers.is_empty() {
            log::info!("journal lists {} leftover(s) from an earlier run; they are removed on first use", leftovers.len());
        }
        let shared = Arc::new(Shared {
            config,
            cancel: CancelToken::new(),
            gateways: [Mutex::new(None), Mutex::new(None)],
            leases: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            events: EventSink::default(),
            journal: Mutex::new(BTreeMap::new()),
            leftovers: Mutex::new(leftovers),
            wake: Condvar::new(),
            wake_flag: Mutex::new(false),
            stopping: AtomicBool::new(false),
            next_watch: Mutex::new(None),
            notify_watches: [Mutex::new(None), Mutex::new(None)],
        });
        shared.load_cache();
        Ok(Client { shared, keeper: Mutex::new(None) })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Discover the gateway of one family now (replacing the cached one).
    pub fn discover(&self, family: Family) -> Result<Gateway, Error> {
        if self.shared.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.shared.gateway(family, true)
    }

    /// The gateway in use for `family`, discovering it if none is cached.
    pub fn gateway(&self, family: Family) -> Result<Gateway, Error> {
        if self.shared.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.shared.gateway(family, false)
    }

    /// Remove leftovers listed in the journal at creation (also done on first `open`).
    pub fn clean_leftovers(&self) -> usize {
        self.shared.clean_leftovers(None)
    }

    /// Remove what this host holds for `port` without a lease (a run killed without a journal):
    /// the IPv4 mapping of external port `port` only if it points to this host, and the IPv6
    /// pinhole of this host's address and `port` (found by its tuple). Per family: whether
    /// something was removed.
    pub fn close_port(&self, protocol: Protocol, port: u16, families: &[Family]) -> Vec<(Family, Result<bool, Error>)> {
        families
            .iter()
            .map(|&family| {
                let result = self.shared.gateway(family, false).and_then(|gw| {
                    let entry = match (family, gw.local_addr) {
                        (Family::V4, IpAddr::V4(me)) => {
                            let budget = self.shared.budget();
                            let held = match gw.get_specific_port_mapping(None, port, protocol, &budget) {
                                Ok(m) => m,
                                Err(Error::Upnp(f)) if f.code == 714 => return Ok(false),
                                Err(e) => return Err(e),
                            };
                            if held.internal_client != me {
                                return Err(Error::InvalidArgument(format!(
                                    "port {port}/{protocol} is mapped to {}, not to this host ({me})",
                                    held.internal_client
                                )));
                            }
                            JournalEntry::Mapping {
                                control: gw.wan_service("DeletePortMapping")?.clone(),
                                local: gw.local_addr,
                                external_port: port,
                                protocol,
                                internal_client: me,
                                internal_port: held.internal_port,
                                description: held.description,
                            }
                        }
                        (Family::V6, IpAddr::V6(me)) => JournalEntry::Pinhole {
                            control: gw.firewall_service("DeletePinhole")?.clone(),
                            local: gw.local_addr,
                            id: 0,
                            protocol,
                            internal_client: me,
                            internal_port: port,
                        },
                        _ => return Err(Error::InvalidArgument(format!("no {family} address toward the gateway"))),
                    };
                    self.shared.remove_leftover(&entry)
                });
                (family, result)
            })
            .collect()
    }

    /// Stop every blocking call in flight on this client (from any thread): they return
    /// `Cancelled` within ~20 ms, and so do later calls until [`Client::reset_cancel`] (an engine
    /// shutting down cancels, then closes; closing still removes what is open).
    pub fn cancel(&self) {
        self.shared.cancel.cancel();
    }

    /// Let blocking calls run again after [`Client::cancel`].
    pub fn reset_cancel(&self) {
        self.shared.cancel.reset();
    }

    /// Next event, if any (non-blocking; poll it each frame).
    pub fn poll_event(&self) -> Option<Event> {
        self.shared.events.poll()
    }

    /// Also deliver each event to `callback` (on the thread that produced it).
    pub fn set_event_callback(&self, callback: Option<EventCallback>) {
        self.shared.events.set_callback(callback);
    }

    /// Open `request.internal_port` over the requested families, in parallel.
    pub fn open(&self, request: &OpenRequest) -> Result<Lease, Error> {
        validate(request)?;
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(Error::InvalidArgument("the client is closed".into()));
        }
        if self.shared.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        // A journal that was asked for must be writable before anything is sent: an open that
        // could not record itself would leave a crash's leftovers unfindable (issue 18).
        self.shared.store_journal(&lock(&self.shared.journal))?;
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        let description = request.description.clone().unwrap_or_else(|| self.shared.config.description.clone());
        let cell = Arc::new(LeaseCell {
            id,
            request: request.clone(),
            description,
            info: Mutex::new(LeaseInfo {
                id,
                protocol: request.protocol,
                internal_port: request.internal_port,
                v4: FamilyLease::new(Family::V4, request.v4),
                v6: FamilyLease::new(Family::V6, request.v6),
            }),
            work: Mutex::new(Work::default()),
            next_due: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        {
            let mut work = lock(&cell.work);
            let shared = &*self.shared;
            let cell_ref = &*cell;
            let (r4, r6) = std::thread::scope(|s| {
                let t4 = request.v4.then(|| s.spawn(move || open_family(shared, cell_ref, Family::V4)));
                let r6 = request.v6.then(|| open_family(shared, cell_ref, Family::V6));
                (t4.map(|t| t.join().unwrap_or_else(|_| panicked(Family::V4))), r6)
            });
            let mut info = lock(&cell.info);
            for (family, result) in [(Family::V4, r4), (Family::V6, r6)] {
                let Some((fl, holding)) = result else { continue };
                *info.family_mut(family) = fl.clone();
                let slot = work.slot(family);
                slot.due = holding.as_ref().and_then(|h| first_due(h, &fl));
                self.shared.journal_set(id, family, holding.as_ref());
                slot.holding = holding;
                let kind = if fl.status.is_open() { EventKind::Opened } else { EventKind::Failed };
                self.shared.emit(id, family, kind, &fl);
            }
            *lock(&cell.next_due) = earliest(&work);
        }
        lock(&self.shared.leases).insert(id, cell.clone());
        self.shared.events.deliver();
        if self.shared.config.keep_alive {
            self.ensure_keeper();
            self.shared.wake_keeper();
        }
        let lease = Lease { shared: self.shared.clone(), cell };
        if self.shared.cancel.is_cancelled() {
            // Cancelled mid-way: whatever one family managed to open is removed again, so a
            // cancelled open leaves nothing behind and says so.
            lease.close();
            return Err(Error::Cancelled);
        }
        Ok(lease)
    }

    /// Snapshots of the open leases.
    pub fn leases(&self) -> Vec<LeaseInfo> {
        lock(&self.shared.leases).values().map(|c| lock(&c.info).clone()).collect()
    }

    /// Run every renewal that is due now on the caller's thread (for clients with
    /// `keep_alive` off, e.g. a game that drives upkeep from its own loop). Returns the time
    /// of the next renewal.
    pub fn renew_due(&self) -> Option<Instant> {
        crate::keeper::run_due(&self.shared)
    }

    /// Close every lease and stop the keeper. Also done on drop.
    pub fn close(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake_keeper();
        if let Some(handle) = lock(&self.keeper).take() {
            let _ = handle.join();
        }
        let cells: Vec<Arc<LeaseCell>> = lock(&self.shared.leases).values().cloned().collect();
        for cell in cells {
            close_cell(&self.shared, &cell);
        }
    }

    fn ensure_keeper(&self) {
        let mut keeper = lock(&self.keeper);
        if keeper.is_none() {
            let shared = self.shared.clone();
            match std::thread::Builder::new().name("portopen-keeper".into()).spawn(move || crate::keeper::run(shared)) {
                Ok(h) => *keeper = Some(h),
                Err(e) => log::error!("keeper thread not started, leases will not be renewed: {e}"),
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

impl Lease {
    pub fn id(&self) -> u64 {
        self.cell.id
    }
    /// Current state (never blocks on the network).
    pub fn info(&self) -> LeaseInfo {
        lock(&self.cell.info).clone()
    }
    /// Delete what this lease holds on the router. Idempotent.
    pub fn close(&self) {
        close_cell(&self.shared, &self.cell);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.close();
    }
}

fn panicked(family: Family) -> (FamilyLease, Option<Holding>) {
    let mut fl = FamilyLease::new(family, true);
    fl.message = "internal error: the opening thread panicked".into();
    (fl, None)
}

fn validate(r: &OpenRequest) -> Result<(), Error> {
    if r.internal_port == 0 {
        return Err(Error::InvalidArgument("internal port must be 1..=65535, not 0".into()));
    }
    if !r.v4 && !r.v6 {
        return Err(Error::InvalidArgument("ask for IPv4, IPv6 or both".into()));
    }
    if r.lease_secs == 0 || r.lease_secs > MAPPING_LEASE_MAX_SECS {
        return Err(Error::InvalidArgument(format!("lease must be 1..={MAPPING_LEASE_MAX_SECS} s, not {}", r.lease_secs)));
    }
    if let Some(d) = &r.description {
        if d.is_empty() || d.len() > 128 || d.chars().any(|c| c.is_control()) {
            return Err(Error::InvalidArgument("description must be 1..=128 bytes of printable text".into()));
        }
    }
    Ok(())
}

fn earliest(work: &Work) -> Option<Instant> {
    match (work.v4.due, work.v6.due) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn refresh_due(cell: &LeaseCell, work: &Work) {
    *lock(&cell.next_due) = earliest(work);
}

/// When the keeper first looks at a fresh holding.
pub(crate) fn first_due(holding: &Holding, fl: &FamilyLease) -> Option<Instant> {
    match holding {
        Holding::Nothing => None,
        Holding::Mapping { confirmed: false, .. } => Some(Instant::now()),
        _ => Some(Instant::now() + crate::keeper::renew_interval(fl.lease_secs)),
    }
}

/// Open one family of a lease: gateway (cached or discovered), then the action. A cached
/// gateway that does not answer is dropped and discovery runs once more.
pub(crate) fn open_family(shared: &Shared, cell: &LeaseCell, family: Family) -> (FamilyLease, Option<Holding>) {
    shared.clean_leftovers(Some(family));
    let mut fl = FamilyLease::new(family, true);
    let mut fresh = false;
    loop {
        let gw = match shared.gateway(family, fresh) {
            Ok(gw) => gw,
            Err(e) => {
                let status = match e {
                    Error::NoGateway(_) | Error::Timeout(_) => PortStatus::NoGateway,
                    _ => PortStatus::Failed,
                };
                fl.refused(status, &e);
                return (fl, None);
            }
        };
        let result = match family {
            Family::V4 => open_v4(shared, cell, &gw, &mut fl),
            Family::V6 => open_v6(shared, cell, &gw, &mut fl),
        };
        match result {
            Ok(holding) => return (fl, holding),
            Err(e) if e.is_unreachable() && !fresh => {
                shared.forget_gateway(&gw);
                fresh = true;
            }
            Err(e) => {
                let status = status_for(family, &e);
                fl.refused(status, &e);
                return (fl, None);
            }
        }
    }
}

fn status_for(family: Family, e: &Error) -> PortStatus {
    match (family, e) {
        (_, Error::NoGateway(_)) => PortStatus::NoGateway,
        (_, Error::NoService(_)) => PortStatus::NoService,
        (_, Error::Upnp(f)) if f.code == 606 => PortStatus::NotAuthorized,
        (Family::V4, Error::Upnp(f)) if f.code == 718 || f.code == 728 => PortStatus::NoPortsAvailable,
        (Family::V6, Error::Upnp(f)) if f.code == 703 => PortStatus::NotAllowed,
        _ => PortStatus::Failed,
    }
}

fn open_v4(shared: &Shared, cell: &LeaseCell, gw: &Gateway, fl: &mut FamilyLease) -> Result<Option<Holding>, Error> {
    let budget = shared.budget();
    let req = &cell.request;
    let internal_client = match (req.internal_v4, gw.local_addr) {
        (Some(ip), _) => ip,
        (None, IpAddr::V4(ip)) => ip,
        (None, IpAddr::V6(_)) => return Err(Error::InvalidArgument("IPv4 gateway reached over IPv6".into())),
    };
    let external_ip = match gw.external_address(&budget)? {
        ExternalAddress::None | ExternalAddress::V4(_, V4Class::Unspecified) => {
            // miniupnpd answers empty when its WAN address is reserved (behind CGNAT) and will
            // not forward from it; other routers when the WAN link is down. Either way a mapping
            // would not be reachable.
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
        description: cell.description.clone(),
        lease_secs: req.lease_secs.min(MAPPING_LEASE_MAX_SECS),
    };
    // The router's success answer confirms the mapping; the read-back (its lease, that it
    // really exists) is done by the keeper right after, off the game's critical path.
    let mut mapping = gw.add_mapping(&wanted, &budget)?;
    fl.status = PortStatus::Open;
    fl.internal = Some(SocketAddr::from((internal_client, req.internal_port)));
    fl.external = external_ip.map(|ip| SocketAddr::from((ip, mapping.external_port)));
    fl.lease_secs = mapping.lease_secs;
    fl.upnp_code = None;
    fl.message = match external_ip {
        Some(_) => String::new(),
        None => format!("mapped external port {}, but the router reports no external address (WAN down?)", mapping.external_port),
    };
    // Renewals ask for the lease the game wanted again, not for what was left of it when read
    // back (a router refusing finite leases made it 0: then it stays 0).
    if mapping.lease_secs != 0 {
        mapping.lease_secs = wanted.lease_secs;
    }
    Ok(Some(Holding::Mapping { gateway: gw.clone(), mapping, confirmed: false }))
}

fn open_v6(shared: &Shared, cell: &LeaseCell, gw: &Gateway, fl: &mut FamilyLease) -> Result<Option<Holding>, Error> {
    let budget = shared.budget();
    let req = &cell.request;
    let internal_client = match (req.internal_v6, gw.local_addr) {
        (Some(ip), _) => ip,
        (None, IpAddr::V6(ip)) => ip,
        (None, IpAddr::V4(_)) => return Err(Error::InvalidArgument("IPv6 gateway reached over IPv4".into())),
    };
    fl.internal = Some(SocketAddr::from((internal_client, req.internal_port)));
    let pinhole = Pinhole {
        remote_host: None,
        remote_port: 0,
        internal_client,
        internal_port: req.internal_port,
        protocol: req.protocol,
        lease_secs: req.lease_secs.min(PINHOLE_LEASE_MAX_SECS),
    };
    // AddPinhole first: on a working router that is the only exchange. Only when it fails does
    // GetFirewallStatus tell "firewall off" and "pinholes not allowed" apart from a failure.
    let refusal = match gw.add_pinhole(&pinhole, &budget) {
        Ok(id) => {
            fl.status = PortStatus::Open;
            fl.external = fl.internal;
            fl.lease_secs = pinhole.lease_secs;
            fl.upnp_code = None;
            fl.message = String::new();
            return Ok(Some(Holding::Pinhole { gateway: gw.clone(), id, pinhole }));
        }
        Err(e) if e.is_unreachable() || matches!(e, Error::Cancelled | Error::NoService(_) | Error::NotSupported(_) | Error::InvalidArgument(_)) => {
            return Err(e)
        }
        Err(e) => e,
    };
    match gw.firewall_status(&budget) {
        Ok(st) if !st.enabled => {
            fl.status = PortStatus::OpenAlready;
            fl.external = fl.internal;
            fl.message = "the router's IPv6 firewall is off: inbound traffic already passes, no pinhole needed".into();
            Ok(Some(Holding::Nothing))
        }
        Ok(st) if !st.inbound_pinhole_allowed => {
            fl.status = PortStatus::NotAllowed;
            fl.upnp_code = refusal.upnp_code();
            fl.message =
                format!("the router does not allow inbound pinholes (InboundPinholeAllowed=0): the user must enable it in the router's settings ({refusal})");
            Ok(None)
        }
        _ if refusal.upnp_code() == Some(702) => {
            fl.status = PortStatus::OpenAlready;
            fl.external = fl.internal;
            fl.message = "the router's IPv6 firewall is off (702): inbound traffic already passes".into();
            Ok(Some(Holding::Nothing))
        }
        _ => Err(refusal),
    }
}

/// Delete what `holding` holds on the router.
pub(crate) fn release(shared: &Shared, holding: &Holding) -> Result<(), Error> {
    // Closing must work after `cancel` (an engine shutting down cancels, then closes).
    let budget = Budget::new(shared.config.action_timeout, &CancelToken::new());
    match holding {
        Holding::Mapping { gateway, mapping, .. } => match gateway.delete_port_mapping(None, mapping.external_port, mapping.protocol, &budget) {
            Err(Error::Upnp(f)) if f.code == 714 => Ok(()),
            other => other,
        },
        Holding::Pinhole { gateway, id, .. } => match gateway.delete_pinhole(*id, &budget) {
            // miniupnpd (2.3.1) answers 402, not 704, for an id it does not hold; the id sent is
            // always well formed, so either means the pinhole is gone (e.g. a repeated delete).
            Err(Error::Upnp(f)) if f.code == 704 || f.code == 402 => Ok(()),
            other => other,
        },
        Holding::Nothing => Ok(()),
    }
}

pub(crate) fn close_cell(shared: &Shared, cell: &LeaseCell) {
    if cell.closed.swap(true, Ordering::SeqCst) {
        return;
    }
    let mut work = lock(&cell.work);
    let h4 = work.v4.holding.take();
    let h6 = work.v6.holding.take();
    work.v4.due = None;
    work.v6.due = None;
    // Both families are released in parallel: a game quitting waits for one round trip.
    let (r4, r6) = std::thread::scope(|s| {
        let t4 = h4.as_ref().map(|h| s.spawn(move || release(shared, h)));
        let r6 = h6.as_ref().map(|h| release(shared, h));
        (t4.map(|t| t.join().unwrap_or_else(|_| Err(Error::InvalidResponse { context: "close".into(), reason: "release thread panicked".into() }))), r6)
    });
    for (family, result) in [(Family::V4, r4), (Family::V6, r6)] {
        let mut info = lock(&cell.info);
        let fl = info.family_mut(family);
        if fl.status == PortStatus::NotRequested {
            continue;
        }
        let was_open = fl.status.is_open() || fl.status == PortStatus::Lost;
        match result {
            Some(Ok(())) => {
                fl.message = String::new();
                shared.journal_set(cell.id, family, None);
            }
            Some(Err(e)) => {
                // Left to expire with its lease; the journal keeps it for the next start.
                log::warn!("closing lease {}: {e}", cell.id);
                fl.message = format!("not removed from the router: {e}");
            }
            None => {}
        }
        fl.status = PortStatus::Closed;
        fl.external = None;
        if was_open {
            let snapshot = fl.clone();
            drop(info);
            shared.emit(cell.id, family, EventKind::Closed, &snapshot);
        }
    }
    *lock(&cell.next_due) = None;
    drop(work);
    lock(&shared.leases).remove(&cell.id);
    shared.events.deliver();
}
