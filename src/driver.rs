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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crate::engine::{Engine, Outcome, Task};
use crate::error::Error;
use crate::events::EventSink;
use crate::gateway_cache::lock;
use crate::lease::FamilyLease;
use crate::persist;
use crate::route_upnp::UpnpRoute;
use crate::types::Family;

pub(crate) struct Inner {
    engine: Mutex<Engine>,
    /// Signalled after every change of the engine (a close waits on it).
    changed: Condvar,
    pub route: UpnpRoute,
    pub events: EventSink,
    /// The keeper sleeps on `wake` until its next deadline or until `wake_flag` is raised.
    pub wake: Condvar,
    pub wake_flag: Mutex<bool>,
    pub stopping: AtomicBool,
}

impl Inner {
    pub(crate) fn new(engine: Engine, route: UpnpRoute) -> Inner {
        Inner {
            engine: Mutex::new(engine),
            changed: Condvar::new(),
            route,
            events: EventSink::default(),
            wake: Condvar::new(),
            wake_flag: Mutex::new(false),
            stopping: AtomicBool::new(false),
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
                catch_unwind(AssertUnwindSafe(|| self.route.perform(&task))).unwrap_or_else(|_| after_panic(&task))
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
        Task::Look { .. } => Outcome::Looked { local_v6: Vec::new(), rebooted: Vec::new(), probed: Vec::new() },
        Task::Discard { .. } | Task::ForgetGateway { .. } => Outcome::Done,
    }
}
