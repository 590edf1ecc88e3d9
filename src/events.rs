//! Lease events the game polls each frame (or receives through a callback): opened, renewed,
//! lost, recovered, failed, closed. The queue is bounded; the oldest events are dropped first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::ThreadId;

use crate::limits::EVENT_QUEUE_MAX;
use crate::types::Family;

/// What happened to one family of a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The port is open (first time).
    Opened,
    /// The lease was extended.
    Renewed,
    /// The router lost the mapping/pinhole or stopped answering; recovery is under way.
    Lost,
    /// Re-opened after a loss (the address or port may have changed).
    Recovered,
    /// Opening or recovery failed; `message` says why.
    Failed,
    /// Closed by the caller (or by freeing the lease or client).
    Closed,
}

impl EventKind {
    /// Lower-case name ("opened", "lost", ...), as the CLI and logs spell it.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Renewed => "renewed",
            EventKind::Lost => "lost",
            EventKind::Recovered => "recovered",
            EventKind::Failed => "failed",
            EventKind::Closed => "closed",
        }
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The lease it concerns (`Lease::id`).
    pub lease_id: u64,
    /// The family it concerns.
    pub family: Family,
    /// What happened.
    pub kind: EventKind,
    /// The reachable address:port after the event, when there is one.
    pub address: Option<SocketAddr>,
    /// Lease seconds granted (opened/renewed/recovered), 0 otherwise.
    pub lease_secs: u32,
    /// A sentence saying what happened and why, for logs and support.
    pub message: String,
}

/// A function called for every event, on the thread that produced it, outside the client's locks.
pub type EventCallback = Box<dyn Fn(&Event) + Send + Sync>;

/// The application's event callback.
type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Bounded event queue plus an optional callback. Callbacks are not run where events are
/// produced (under the client's locks) but by [`EventSink::deliver`], which the client calls
/// once its locks are released: a callback may close leases or replace itself.
#[derive(Default)]
pub struct EventSink {
    queue: Mutex<VecDeque<Event>>,
    undelivered: Mutex<VecDeque<Event>>,
    callback: RwLock<Option<Callback>>,
    /// Threads running a callback now, so that replacing it can wait for them.
    in_flight: Mutex<Vec<ThreadId>>,
    done: Condvar,
}

fn push_bounded(q: &Mutex<VecDeque<Event>>, event: Event) {
    let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
    if q.len() >= EVENT_QUEUE_MAX {
        q.pop_front();
    }
    q.push_back(event);
}

impl EventSink {
    pub fn push(&self, event: Event) {
        log::debug!("event: lease {} {} {} {:?} {}", event.lease_id, event.family, event.kind.name(), event.address, event.message);
        if self.callback.read().unwrap_or_else(|p| p.into_inner()).is_some() {
            push_bounded(&self.undelivered, event.clone());
        }
        push_bounded(&self.queue, event);
    }
    /// Run the callback for every event pushed since the last delivery. Call with no lock held.
    pub fn deliver(&self) {
        loop {
            let Some(event) = self.undelivered.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else { return };
            let me = std::thread::current().id();
            let callback = {
                // Taken and registered under the in-flight lock, so `set_callback` either sees
                // this delivery or this delivery sees the new callback.
                let mut running = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                let cb = self.callback.read().unwrap_or_else(|p| p.into_inner()).clone();
                if cb.is_some() {
                    running.push(me);
                }
                cb
            };
            if let Some(cb) = callback {
                cb(&event);
                let mut running = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(i) = running.iter().position(|t| *t == me) {
                    running.swap_remove(i);
                }
                self.done.notify_all();
            }
        }
    }
    pub fn poll(&self) -> Option<Event> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }
    /// Replace the callback. When this returns, the previous one is not running on any other
    /// thread and will not be called again (a callback replacing itself is not waited for).
    pub fn set_callback(&self, callback: Option<EventCallback>) {
        let me = std::thread::current().id();
        let mut running = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        *self.callback.write().unwrap_or_else(|p| p.into_inner()) = callback.map(Arc::from);
        while running.iter().any(|t| *t != me) {
            running = self.done.wait(running).unwrap_or_else(|p| p.into_inner());
        }
    }
}
