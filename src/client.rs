//! The client a game holds, and its leases: the public face of the blocking driver
//! (`driver.rs` says how threads and locks work). `open` works on IPv4 and IPv6 in parallel;
//! closing a lease, or dropping the client, removes everything it made.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::cancel::Budget;
use crate::config::ClientConfig;
use crate::engine::{Engine, Outcome};
use crate::error::Error;
use crate::events::{Event, EventCallback};
use crate::gateway::Gateway;
use crate::gateway_cache::lock;
use crate::lease::{Closed, FamilyLease, LeaseInfo, OpenRequest};
use crate::limits::MAPPING_LEASE_MAX_SECS;
use crate::persist;
use crate::route_upnp::UpnpRoute;
use crate::types::{Family, Protocol};
use crate::{driver::Inner, keeper};

/// A portopen client. Cheap to share across threads (`&Client` is `Sync`).
pub struct Client {
    inner: Arc<Inner>,
    keeper: Mutex<Option<JoinHandle<()>>>,
}

/// An open port. Dropping it closes it (deletes its mappings and pinholes).
pub struct Lease {
    inner: Arc<Inner>,
    id: u64,
    protocol: Protocol,
    internal_port: u16,
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
        let engine = Engine::new(leftovers, config.discovery.multicast);
        let inner = Arc::new(Inner::new(engine, UpnpRoute::new(config)));
        Ok(Client { inner, keeper: Mutex::new(None) })
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.route.config
    }

    /// A budget of one action, stopped by [`Client::cancel`].
    pub(crate) fn budget(&self) -> Budget {
        self.inner.route.budget()
    }

    /// A budget of one action that [`Client::cancel`] does not stop (removing what was added).
    pub(crate) fn closing_budget(&self) -> Budget {
        self.inner.route.closing_budget()
    }

    /// Remove a PCP/NAT-PMP mapping made outside any lease (the check's trial) the way a
    /// lease's close removes one, with the same workaround for miniupnpd 2.3.1's IPv6 delete.
    pub(crate) fn release_pcp(&self, mapping: crate::pcp_mapping::PcpMapping) -> Result<(), Error> {
        let family = Family::of(&mapping.client);
        let task = crate::engine::Task::Release { lease: 0, family, holding: crate::engine::Holding::Pcp { mapping } };
        match self.inner.perform(&task) {
            Outcome::Released(result) => result,
            other => Err(Error::InvalidResponse { context: "PCP release".into(), reason: format!("unexpected outcome {other:?}") }),
        }
    }

    /// Discover the gateway of one family now (replacing the cached one).
    pub fn discover(&self, family: Family) -> Result<Gateway, Error> {
        if self.inner.route.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.inner.route.gateway(family, true)
    }

    /// The gateway in use for `family`, discovering it if none is cached.
    pub fn gateway(&self, family: Family) -> Result<Gateway, Error> {
        if self.inner.route.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.inner.route.gateway(family, false)
    }

    /// Which of PCP and NAT-PMP the default gateway speaks over `family` (a probe that maps
    /// nothing). Asked only when the discovery options allow talking to the network beyond the
    /// named targets (multicast or the default gateway); otherwise says so.
    pub fn port_control(&self, family: Family) -> crate::route_pcp::PortControl {
        let options = &self.config().discovery;
        if !(options.multicast || options.default_gateway) {
            let message = crate::route_pcp::NotAsked::LimitedToNamed.to_string();
            return crate::route_pcp::PortControl { family, server: None, pcp_epoch: None, natpmp_external: None, message };
        }
        crate::route_pcp::probe(family, &self.budget())
    }

    /// Remove leftovers listed in the journal at creation (also done on first `open`).
    pub fn clean_leftovers(&self) -> usize {
        let Some(task) = self.inner.with_engine(Engine::take_leftovers) else { return 0 };
        let crate::engine::Task::RemoveLeftovers { entries } = &task else { return 0 };
        let (removed, kept) = self.inner.remove_leftovers(entries);
        self.inner.with_engine(|e| e.on_outcome(&task, Outcome::LeftoversKept(kept), Instant::now()));
        removed
    }

    /// Remove what this host holds for `port` without a lease (a run killed without a journal),
    /// per family, saying exactly what was removed: IPv4, every mapping to this host's address
    /// and internal `port` with this protocol and the client's description, whatever its
    /// external port (the router may have moved it), never another host's; IPv6, the pinhole of
    /// this host's address and `port` (UPnP cannot tell whether one existed: see
    /// [`Closed::PinholeRemovedOrNone`]).
    pub fn close_port(&self, protocol: Protocol, port: u16, families: &[Family]) -> Vec<(Family, Result<Closed, Error>)> {
        families.iter().map(|&family| (family, self.inner.route.close_port(family, protocol, port))).collect()
    }

    /// Stop every blocking call in flight on this client (from any thread): they return
    /// `Cancelled` within ~20 ms, and so do later calls until [`Client::reset_cancel`] (an engine
    /// shutting down cancels, then closes; closing still removes what is open).
    pub fn cancel(&self) {
        self.inner.route.cancel.cancel();
    }

    /// Let blocking calls run again after [`Client::cancel`].
    pub fn reset_cancel(&self) {
        self.inner.route.cancel.reset();
    }

    /// Next event, if any (non-blocking; poll it each frame).
    pub fn poll_event(&self) -> Option<Event> {
        self.inner.events.poll()
    }

    /// Also deliver each event to `callback` (on the thread that produced it).
    pub fn set_event_callback(&self, callback: Option<EventCallback>) {
        self.inner.events.set_callback(callback);
    }

    /// Open `request.internal_port` over the requested families, in parallel.
    pub fn open(&self, request: &OpenRequest) -> Result<Lease, Error> {
        validate(request)?;
        if self.inner.stopping.load(Ordering::SeqCst) {
            return Err(Error::InvalidArgument("the client is closed".into()));
        }
        if self.inner.route.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        // A journal that was asked for must be writable before anything is sent: an open that
        // could not record itself would leave a crash's leftovers unfindable (issue 18).
        if let Some(path) = &self.config().journal_file {
            let entries = self.inner.with_engine(|e| e.journal_entries());
            persist::write_atomic(path, &persist::format_journal(&entries)).map_err(|e| match e {
                Error::Io { context, message } => Error::Io { context: format!("journal file (asked for, so nothing was opened): {context}"), message },
                other => other,
            })?;
        }
        let description = request.description.clone().unwrap_or_else(|| self.config().description.clone());
        let (id, tasks) = self.inner.with_engine(|e| e.open(request, description));
        self.inner.drive_parallel(tasks);
        self.inner.events.deliver();
        if self.config().keep_alive {
            self.ensure_keeper();
            self.inner.wake_keeper();
        }
        let lease = Lease { inner: self.inner.clone(), id, protocol: request.protocol, internal_port: request.internal_port };
        if self.inner.route.cancel.is_cancelled() {
            // Cancelled mid-way: whatever one family managed to open is removed again, so a
            // cancelled open leaves nothing behind and says so.
            lease.close();
            return Err(Error::Cancelled);
        }
        Ok(lease)
    }

    /// Snapshots of the open leases.
    pub fn leases(&self) -> Vec<LeaseInfo> {
        self.inner.with_engine(|e| e.leases())
    }

    /// Run every renewal that is due now on the caller's thread (for clients with
    /// `keep_alive` off, e.g. a game that drives upkeep from its own loop). Returns the time
    /// of the next renewal.
    pub fn renew_due(&self) -> Option<Instant> {
        keeper::step(&self.inner)
    }

    /// Close every lease and stop the keeper. Also done on drop.
    pub fn close(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.route.stop.cancel();
        self.inner.wake_keeper();
        if let Some(handle) = lock(&self.keeper).take() {
            let _ = handle.join();
        }
        let tasks = self.inner.with_engine(Engine::close_all);
        self.inner.drive_parallel(tasks);
        self.inner.wait_until(|e| e.leases().is_empty());
        self.inner.events.deliver();
    }

    fn ensure_keeper(&self) {
        let mut keeper = lock(&self.keeper);
        if keeper.is_none() {
            let inner = self.inner.clone();
            match std::thread::Builder::new().name("portopen-keeper".into()).spawn(move || keeper::run(inner)) {
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
    /// The lease's id: events name it (`Event::lease_id`).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// Current state (never blocks on the network).
    pub fn info(&self) -> LeaseInfo {
        self.inner.with_engine(|e| e.info(self.id)).unwrap_or_else(|| LeaseInfo {
            id: self.id,
            protocol: self.protocol,
            internal_port: self.internal_port,
            v4: FamilyLease::new(Family::V4, false),
            v6: FamilyLease::new(Family::V6, false),
        })
    }
    /// Delete what this lease holds on the router. Idempotent.
    pub fn close(&self) {
        let tasks = self.inner.with_engine(|e| e.close(self.id));
        self.inner.drive_parallel(tasks);
        self.inner.wait_until(|e| e.is_closed(self.id));
        self.inner.events.deliver();
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.close();
        self.inner.with_engine(|e| e.forget(self.id));
    }
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
