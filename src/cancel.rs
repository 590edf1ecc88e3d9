//! Deadlines and cancellation: what every blocking call carries.
//! A `Budget` pairs the call's deadline with a `CancelToken` another thread may trip.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::limits::CANCEL_POLL;

/// A flag shared between a blocking call and whoever may want to stop it.
/// Cloning shares the flag. Tripping it makes calls return [`Error::Cancelled`] within
/// [`CANCEL_POLL`].
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    own: Arc<AtomicBool>,
    /// A token made by [`CancelToken::linked`] also stops when its parent does.
    parent: Option<Arc<AtomicBool>>,
}

impl CancelToken {
    /// A token that is not tripped.
    pub fn new() -> Self {
        Self::default()
    }
    /// A token that stops when this one does, and can also be stopped on its own without
    /// stopping this one (one route of a race, stopped when the other route wins).
    pub fn linked(&self) -> CancelToken {
        CancelToken { own: Arc::new(AtomicBool::new(false)), parent: Some(self.own.clone()) }
    }
    /// Ask every call using this token to stop.
    pub fn cancel(&self) {
        self.own.store(true, Ordering::SeqCst);
    }
    /// True once `cancel` was called (until `reset`).
    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.load(Ordering::SeqCst))
    }
    /// Clear the flag so the owner can be used again after a cancel.
    pub fn reset(&self) {
        self.own.store(false, Ordering::SeqCst);
    }
}

/// The time and cancellation budget of one blocking call.
#[derive(Clone, Debug)]
pub struct Budget {
    deadline: Instant,
    cancel: CancelToken,
}

impl Budget {
    /// A budget of `timeout` from now, stopped early by `cancel`.
    pub fn new(timeout: Duration, cancel: &CancelToken) -> Self {
        Budget { deadline: Instant::now() + timeout, cancel: cancel.clone() }
    }
    /// A budget ending at `deadline`, stopped early by `cancel`.
    pub fn until(deadline: Instant, cancel: &CancelToken) -> Self {
        Budget { deadline, cancel: cancel.clone() }
    }
    /// When the budget runs out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
    /// The token that stops calls using this budget.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }
    /// A budget ending at the earlier of this deadline and `now + limit`.
    pub fn capped(&self, limit: Duration) -> Budget {
        let cap = Instant::now() + limit;
        Budget { deadline: self.deadline.min(cap), cancel: self.cancel.clone() }
    }
    /// Time left, or the reason there is none.
    pub fn remaining(&self, what: &str) -> Result<Duration, Error> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Err(Error::Timeout(what.to_string()));
        }
        Ok(self.deadline - now)
    }
    /// Time left, at most one cancellation poll: the longest a blocking wait may sleep.
    pub fn slice(&self, what: &str) -> Result<Duration, Error> {
        Ok(self.remaining(what)?.min(CANCEL_POLL))
    }
    /// True once the deadline has passed (a cancel is not checked).
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}
