//! The blocking driver's core: the lease engine behind one lock, the route that performs its
//! tasks, the event sink, and the loop that performs a thread's tasks and feeds their outcomes
//! back to the engine.
//!
//! Threads and locks of a client, all of them:
//! - Threads: the game's (open, close, status, events: any thread); one keeper thread per
//!   client (`keeper.rs`: renewals, re-opens, the look between renewals), or the game's thread
//!   calling `renew_due` when keep-alive is off; and during `open` and `close`, one short scoped
//!   thread doing IPv4 while the caller does IPv6.
//! - `engine` is held only to call the engine and to write the journal file it hands back
//!   (a local file: the file's order is the engine's). Never across a router exchange, never
//!   while an event callback runs. Nothing else is taken while it is held but the event queue.
//! - Router exchanges run with no lock held. The gateway cache (`gateway_cache.rs`) takes a
//!   family's discovery lock, then the cache value; a discovery over one family never holds a
//!   lock the other family (or the engine) needs. The NOTIFY listeners are locked only by the
//!   one looking thread. The keeper's wake flag and the event queue's locks are leaves.
//! - Whoever performs a task feeds its outcome back and performs the follow-ups, so a family's
//!   chain of tasks stays on one thread; `close` waits on `changed` for a family another thread
//!   is acting on, and that thread performs the delete when its outcome comes back.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{Engine, Holding, Outcome, Task};
use crate::error::Error;
use crate::events::EventSink;
use crate::gateway_cache::lock;
use crate::lease::{FamilyLease, OpenRequest, PortStatus};
use crate::limits::{PCP_HEAD_START, PCP_UNANSWERED_MEMORY};
use crate::persist::{self, JournalEntry};
use crate::route_pcp::{self, Attempt, PcpRoute};
use crate::route_upnp::UpnpRoute;
use crate::types::Family;

pub(crate) struct Inner {
    engine: Mutex<Engine>,
    /// Signalled after every change of the engine (a close waits on it).
    changed: Condvar,
    pub route: UpnpRoute,
    pub pcp: PcpRoute,
    pub events: EventSink,
    /// The keeper sleeps on `wake` until its next deadline or until `wake_flag` is raised.
    pub wake: Condvar,
    pub wake_flag: Mutex<bool>,
    pub stopping: AtomicBool,
    /// PCP servers that gave an open no answer (port 5351 refused, or silence), and when: see
    /// `open_family`'s head start. Shared with the detached PCP threads that fill it.
    pcp_unanswered: Arc<Mutex<Vec<(SocketAddr, Instant)>>>,
}

impl Inner {
    pub(crate) fn new(engine: Engine, route: UpnpRoute) -> Inner {
        Inner {
            engine: Mutex::new(engine),
            changed: Condvar::new(),
            route,
            pcp: PcpRoute::default(),
            events: EventSink::default(),
            wake: Condvar::new(),
            wake_flag: Mutex::new(false),
            stopping: AtomicBool::new(false),
            pcp_unanswered: Arc::default(),
        }
    }

    /// Call the engine, then pass on what it produced: events to the queue (delivered to the
    /// callback later, by `deliver`, with no lock held) and the journal to its file.
    pub(crate) fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        let mut engine = lock(&self.engine);
        let result = f(&mut engine);
        for event in engine.take_events() {
            self.events.push(event);
        }
        if let Some(entries) = engine.take_journal() {
            if let Some(path) = &self.route.config.journal_file {
                if let Err(e) = persist::write_atomic(path, &persist::format_journal(&entries)) {
                    log::warn!("journal not written: {e}");
                }
            }
        }
        drop(engine);
        self.changed.notify_all();
        result
    }

    /// Wait until `done` holds for the engine (it is re-checked after every change).
    pub(crate) fn wait_until(&self, done: impl Fn(&Engine) -> bool) {
        let mut engine = lock(&self.engine);
        while !done(&engine) {
            engine = self.changed.wait(engine).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Perform `tasks` and their follow-ups on this thread, in order.
    pub(crate) fn drive(&self, tasks: Vec<Task>) {
        let mut queue: std::collections::VecDeque<Task> = tasks.into();
        while let Some(task) = queue.pop_front() {
            let outcome = if self.stopping.load(Ordering::SeqCst) && matches!(task, Task::Renew { .. } | Task::Confirm { .. }) {
                Outcome::Postponed("the client is closing".into())
            } else {
                catch_unwind(AssertUnwindSafe(|| self.perform(&task))).unwrap_or_else(|_| after_panic(&task))
            };
            let follow = self.with_engine(|e| e.on_outcome(&task, outcome, Instant::now()));
            for (i, t) in follow.into_iter().enumerate() {
                queue.insert(i, t);
            }
        }
    }

    /// Perform `tasks` with the two families in parallel (IPv4 on a scoped thread): a game
    /// opening or closing both waits for the slower family, not for the sum.
    pub(crate) fn drive_parallel(&self, tasks: Vec<Task>) {
        let (v4, rest): (Vec<Task>, Vec<Task>) = tasks.into_iter().partition(|t| t.family() == Some(Family::V4));
        if v4.is_empty() || rest.is_empty() {
            return self.drive(if v4.is_empty() { rest } else { v4 });
        }
        std::thread::scope(|s| {
            s.spawn(|| self.drive(v4));
            self.drive(rest);
        });
    }

    pub(crate) fn wake_keeper(&self) {
        *lock(&self.wake_flag) = true;
        self.wake.notify_all();
    }
}

/// The outcome of a task whose performing panicked (a bug): the engine still gets an answer,
/// so no family stays in flight forever.
fn after_panic(task: &Task) -> Outcome {
    log::error!("internal error: performing {task:?} panicked");
    let failed = || Error::InvalidResponse { context: "internal error".into(), reason: "the performing thread panicked".into() };
    match task {
        Task::RemoveLeftovers { entries } => Outcome::LeftoversKept(entries.clone()),
        Task::Open { family, .. } => {
            let mut family_lease = FamilyLease::new(*family, true);
            family_lease.message = "internal error: the opening thread panicked".into();
            Outcome::Opened { family_lease, holding: None }
        }
        Task::Confirm { .. } | Task::Renew { .. } => Outcome::Postponed("internal error".into()),
        Task::Release { .. } => Outcome::Released(Err(failed())),
        Task::Look { .. } => Outcome::Looked { local_v6: Vec::new(), rebooted: Vec::new(), probed: Vec::new(), pcp: Default::default() },
        Task::Discard { .. } | Task::ForgetGateway { .. } => Outcome::Done,
    }
}

/// Who won an open's race for one family.
const NO_WINNER: u8 = 0;
const PCP_WON: u8 = 1;
const UPNP_WON: u8 = 2;

impl Inner {
    /// Perform one task: PCP/NAT-PMP holdings through the PCP route, the rest through UPnP; an
    /// open races both routes.
    pub(crate) fn perform(&self, task: &Task) -> Outcome {
        let upnp = &self.route;
        match task {
            Task::Open { family, request, description, .. } => {
                let (family_lease, holding) = self.open_family(*family, request, description);
                Outcome::Opened { family_lease, holding }
            }
            Task::Renew { holding: Holding::Pcp { mapping }, follow_address, .. } => self.pcp.renew(mapping, *follow_address, &upnp.budget()),
            Task::Release { holding: Holding::Pcp { mapping }, .. } => Outcome::Released(self.release_pcp(mapping)),
            Task::Discard { holding: Holding::Pcp { mapping } } => {
                let _ = self.release_pcp(mapping);
                Outcome::Done
            }
            Task::RemoveLeftovers { entries } => Outcome::LeftoversKept(self.remove_leftovers(entries).1),
            Task::Look { announce, .. } => match upnp.perform(task) {
                Outcome::Looked { local_v6, rebooted, probed, .. } => {
                    Outcome::Looked { local_v6, rebooted, probed, pcp: self.pcp.look(announce, &upnp.budget()) }
                }
                other => other,
            },
            _ => upnp.perform(task),
        }
    }

    /// Open one family: a PCP MAP (NAT-PMP for a version-0 server, IPv4) to the default gateway
    /// from the address to open, raced with UPnP (discovery, then the action). The first grant
    /// wins and stops the other route; a grant that comes after the other route won is deleted
    /// again (no duplicate). Refused port 5351 comes back at once; silence or a slow refusal
    /// delays UPnP by the head start at most (`PCP_HEAD_START`; not at all for a server that
    /// gave no answer within `PCP_UNANSWERED_MEMORY`): the PCP exchange runs beside UPnP, and
    /// is waited for only when UPnP failed.
    fn open_family(&self, family: Family, req: &OpenRequest, description: &str) -> (FamilyLease, Option<Holding>) {
        let upnp = &self.route;
        let routes = upnp.config.routes;
        // The PCP server is the default gateway: asked only when discovery may reach beyond the
        // targets it was given (multicast, or the default gateway), never from a client told to
        // talk to named addresses alone (loopback tests, a user who named the router).
        let looked_up = Instant::now();
        let target = match routes.port_control(family) {
            true => route_pcp::target(family, req, &upnp.config.discovery).map_err(|why| log::debug!("{family}: PCP/NAT-PMP {why}")).ok(),
            false => None,
        };
        log::debug!("{family}: PCP server and address to map: {target:?} (found in {:.1} ms)", looked_up.elapsed().as_secs_f64() * 1000.0);
        if !routes.upnp {
            // PCP/NAT-PMP alone: the whole action budget, retransmits on the RFC's schedule.
            let mut fl = FamilyLease::new(family, true);
            let Some((server, client)) = target else {
                fl.status = PortStatus::NoGateway;
                fl.message = if routes.port_control(family) {
                    format!("no {family} default gateway (or no address toward it) to ask PCP/NAT-PMP")
                } else {
                    format!("the routes allowed cannot open {family} (NAT-PMP is IPv4 only)")
                };
                return (fl, None);
            };
            return match route_pcp::attempt(family, server, client, req, routes.pcp, routes.natpmp, &upnp.budget()) {
                Attempt::Granted(mapping) => (route_pcp::opened(family, &mapping), Some(Holding::Pcp { mapping })),
                Attempt::Refused(fl) => (fl, None),
                Attempt::NoAnswer(why) => {
                    fl.status = PortStatus::NoGateway;
                    fl.message = why;
                    (fl, None)
                }
            };
        }
        let Some((server, client)) = target else { return upnp.open_family(family, req, description, &upnp.cancel) };

        let claim = Arc::new(AtomicU8::new(NO_WINNER));
        let stop_upnp = upnp.cancel.linked();
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        let pcp_budget = upnp.budget();
        let action_timeout = upnp.config.action_timeout;
        let unanswered_since = pcp_unanswered_since(&self.pcp_unanswered, server);
        {
            let (claim, stop_upnp, req) = (claim.clone(), stop_upnp.clone(), req.clone());
            let (pcp, natpmp) = (routes.pcp, routes.natpmp);
            let unanswered = self.pcp_unanswered.clone();
            // Detached: it ends by its own budget; a grant after UPnP won is deleted right here.
            let spawned = std::thread::Builder::new().name("portopen-pcp".into()).spawn(move || {
                let attempt = route_pcp::attempt(family, server, client, &req, pcp, natpmp, &pcp_budget);
                if !pcp_budget.cancel_token().is_cancelled() {
                    note_pcp_answer(&unanswered, server, matches!(attempt, Attempt::NoAnswer(_)));
                }
                if let Attempt::Granted(mapping) = &attempt {
                    if claim.compare_exchange(NO_WINNER, PCP_WON, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                        stop_upnp.cancel();
                    } else {
                        log::info!("{family}: {} granted after UPnP opened the port: deleting the duplicate", mapping.route);
                        // A budget of its own from now (a cancel does not stop a removal).
                        let _ = mapping.delete(&crate::cancel::Budget::new(action_timeout, &crate::cancel::CancelToken::new()));
                    }
                }
                let _ = tx.send(attempt);
            });
            if let Err(e) = spawned {
                log::debug!("{family}: no PCP thread ({e}): UPnP alone");
            }
        }
        // A head start: a PCP router answers within a millisecond or two (and a closed port
        // 5351 refuses at once), so UPnP's discovery is not even begun then. Only a router
        // that drops PCP silently pays it before its UPnP starts. None for a server that gave
        // no answer lately: a Linux router rate-limits its ICMP refusals (IPv4: one a second
        // per host after a burst of 6), so opens in quick succession on a UPnP-only router
        // soon get silence, and each would wait the whole head start for nothing
        // (tests/lab_race_cost.rs). PCP is still asked beside UPnP: a server that starts
        // answering still wins, and is forgotten from the list.
        let head_start = match unanswered_since {
            Some(ago) => {
                log::debug!("{family}: PCP server {server} gave no answer {:.1} s ago: UPnP starts at once", ago.as_secs_f64());
                Duration::ZERO
            }
            None => PCP_HEAD_START,
        };
        let early = match rx.recv_timeout(head_start) {
            Ok(Attempt::Granted(mapping)) => {
                log::debug!("{family}: {} won the race after {:.1} ms", mapping.route, started.elapsed().as_secs_f64() * 1000.0);
                return (route_pcp::opened(family, &mapping), Some(Holding::Pcp { mapping }));
            }
            Ok(other) => Some(other),
            Err(_) => {
                // Silence so far (a router that drops PCP): the next races do not wait for it.
                // A server that answers later is forgotten from the list by its PCP thread.
                if unanswered_since.is_none() {
                    log::debug!("{family}: no PCP answer within the head start ({PCP_HEAD_START:?}): UPnP starts now");
                    note_pcp_answer(&self.pcp_unanswered, server, true);
                }
                None
            }
        };
        log::debug!("{family}: UPnP starts {:.1} ms after the race began", started.elapsed().as_secs_f64() * 1000.0);
        let (upnp_fl, upnp_holding) = upnp.open_family(family, req, description, &stop_upnp);
        if upnp_holding.is_some() {
            if claim.compare_exchange(NO_WINNER, UPNP_WON, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                log::debug!("{family}: UPnP won the race after {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
                return (upnp_fl, upnp_holding);
            }
            // Both granted at once: the PCP grant stands; the UPnP one is removed, then PCP
            // asked again (on a router where both share one state, the UPnP delete may have
            // taken the same rule: the refresh re-makes it).
            if let Some(holding) = &upnp_holding {
                let _ = upnp.perform(&Task::Discard { holding: holding.clone() });
            }
        }
        // UPnP failed or was stopped: the PCP answer decides (it comes by its own budget).
        let wait = pcp_budget_left(started, upnp.config.action_timeout);
        let attempt = early.unwrap_or_else(|| rx.recv_timeout(wait).unwrap_or_else(|_| Attempt::NoAnswer("PCP/NAT-PMP: no answer in time".into())));
        match attempt {
            Attempt::Granted(mapping) => {
                let mapping = if upnp_holding.is_some() {
                    match mapping.refresh(&crate::transport::pcp::Schedule::RFC6887, &upnp.budget()) {
                        crate::pcp_mapping::MapResult::Granted { mapping, .. } => mapping,
                        _ => mapping,
                    }
                } else {
                    mapping
                };
                log::debug!("{family}: {} won the race after {:.1} ms", mapping.route, started.elapsed().as_secs_f64() * 1000.0);
                (route_pcp::opened(family, &mapping), Some(Holding::Pcp { mapping }))
            }
            // The router speaks PCP but not UPnP: its refusal says more than "no UPnP gateway".
            Attempt::Refused(fl) if matches!(upnp_fl.status, PortStatus::NoGateway) => (fl, None),
            Attempt::Refused(fl) => {
                log::debug!("{family}: PCP/NAT-PMP refused too: {}", fl.message);
                (upnp_fl, None)
            }
            Attempt::NoAnswer(why) => {
                log::debug!("{family}: {why}");
                (upnp_fl, None)
            }
        }
    }

    /// Remove what an earlier run left (journal entries), each through the route that made it.
    /// Returns how many were removed, and the entries whose router did not answer (kept for the
    /// next start).
    pub(crate) fn remove_leftovers(&self, entries: &[JournalEntry]) -> (usize, Vec<JournalEntry>) {
        let (pcp, rest): (Vec<JournalEntry>, Vec<JournalEntry>) = entries.iter().cloned().partition(|e| matches!(e, JournalEntry::Pcp { .. }));
        let (mut removed, mut kept) = self.route.remove_leftovers(&rest);
        for entry in pcp {
            match self.pcp.remove_leftover(&entry, &self.route.budget(), |m| self.remove_pinhole_via_upnp(m)) {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) => {
                    log::info!("leftover kept for next start: {e}");
                    kept.push(entry);
                }
            }
        }
        (removed, kept)
    }

    /// Delete a PCP holding; on miniupnpd 2.3.1's refused IPv6 delete, through UPnP by its tuple.
    fn release_pcp(&self, mapping: &crate::pcp_mapping::PcpMapping) -> Result<(), Error> {
        self.pcp.release(mapping, &self.route.closing_budget(), |m| self.remove_pinhole_via_upnp(m))
    }

    /// Remove an IPv6 pinhole by its tuple through UPnP (None: the router has no UPnP gateway).
    fn remove_pinhole_via_upnp(&self, mapping: &crate::pcp_mapping::PcpMapping) -> Option<Result<(), Error>> {
        let tuple = route_pcp::pinhole_tuple(mapping)?;
        let gateway = self.route.gateways.get(Family::V6, false, &self.route.config, &crate::cancel::CancelToken::new()).ok()?;
        Some(self.route.delete_pinhole_by_tuple(&gateway, &tuple, &self.route.closing_budget()).map(|_| ()))
    }
}

/// How long ago `server` last gave an open no answer (or none within the head start), if
/// within `PCP_UNANSWERED_MEMORY`.
fn pcp_unanswered_since(unanswered: &Mutex<Vec<(SocketAddr, Instant)>>, server: SocketAddr) -> Option<Duration> {
    let list = lock(unanswered);
    list.iter().find(|(s, _)| *s == server).map(|(_, at)| at.elapsed()).filter(|ago| *ago < PCP_UNANSWERED_MEMORY)
}

/// Remember that `server` gave no answer (refused or silent), or forget it once it answered.
/// The list holds the servers of the last `PCP_UNANSWERED_MEMORY` only (a client asks one per
/// family).
fn note_pcp_answer(unanswered: &Mutex<Vec<(SocketAddr, Instant)>>, server: SocketAddr, no_answer: bool) {
    let mut list = lock(unanswered);
    list.retain(|(s, at)| *s != server && at.elapsed() < PCP_UNANSWERED_MEMORY);
    if no_answer {
        list.push((server, Instant::now()));
    }
}

/// What is left of the PCP attempt's budget (it started with the race).
fn pcp_budget_left(started: Instant, budget: std::time::Duration) -> std::time::Duration {
    (started + budget).saturating_duration_since(Instant::now()) + crate::limits::CANCEL_POLL
}
