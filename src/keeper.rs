//! The keeper: one thread per client that sleeps until the engine's next deadline (or a
//! wake-up), then performs what the engine says is due: renewals, re-opens after a loss, the
//! look between renewals. `step` is the same work on the caller's thread (`renew_due`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::driver::Inner;
use crate::gateway_cache::lock;

/// The keeper thread's loop.
pub(crate) fn run(inner: Arc<Inner>) {
    log::debug!("keeper started");
    while !inner.stopping.load(Ordering::SeqCst) {
        let next = step(&inner);
        let mut flag = lock(&inner.wake_flag);
        while !*flag && !inner.stopping.load(Ordering::SeqCst) {
            let wait = match next {
                Some(t) => t.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if wait.is_zero() {
                break;
            }
            let (guard, timeout) = inner.wake.wait_timeout(flag, wait).unwrap_or_else(|p| p.into_inner());
            flag = guard;
            if timeout.timed_out() {
                break;
            }
        }
        *flag = false;
    }
    log::debug!("keeper stopped");
}

/// Perform everything due now; returns when the next thing is due.
pub(crate) fn step(inner: &Inner) -> Option<Instant> {
    let tasks = inner.with_engine(|e| e.handle_timeout(Instant::now()));
    inner.drive(tasks);
    inner.events.deliver();
    inner.with_engine(|e| e.poll_timeout())
}
