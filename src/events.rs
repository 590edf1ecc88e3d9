//! Lease events the game polls each frame (or receives through a callback): opened, renewed,
//! lost, recovered, failed, closed. The queue is bounded; the oldest events are dropped first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};

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
    pub lease_id: u64,
    pub family: Family,
    pub kind: EventKind,
    /// The reachable address:port after the event, when there is one.
    pub address: Option<SocketAddr>,
    /// Lease seconds granted (opened/renewed/recovered), 0 otherwise.
    pub lease_secs: u32,
    pub message: String,
}

pub type EventCallback = Box<dyn Fn(&Event) + Send + Sync>;

/// Bounded event queue plus an optional callback.
#[derive(Default)]
pub struct EventSink {
    queue: Mutex<VecDeque<Event>>,
    callback: RwLock<Option<EventCallback>>,
}

impl EventSink {
    pub fn push(&self, event: Event) {
        log::debug!("event: lease {} {} {} {:?} {}", event.lease_id, event.family, event.kind.name(), event.address, event.message);
        if let Ok(cb) = self.callback.read() {
            if let Some(cb) = cb.as_ref() {
                cb(&event);
            }
        }
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= EVENT_QUEUE_MAX {
            q.pop_front();
        }
        q.push_back(event);
    }
    pub fn poll(&self) -> Option<Event> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }
    pub fn set_callback(&self, callback: Option<EventCallback>) {
        *self.callback.write().unwrap_or_else(|p| p.into_inner()) = callback;
    }
}
