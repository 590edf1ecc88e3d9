//! One family of one lease as the engine tracks it: what it holds on the router, and where it
//! stands in its life (one explicit state), with its back-off.

use std::time::{Duration, Instant};

use crate::gateway::Gateway;
use crate::pcp_mapping::PcpMapping;
use crate::pinhole::Pinhole;
use crate::port_mapping::PortMapping;

/// What a lease holds on the router for one family.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Holding {
    /// `confirmed`: read back from the router (done right after opening, off the critical path).
    Mapping { gateway: Gateway, mapping: PortMapping, confirmed: bool },
    /// `confirmed`: the lease asked for set with UpdatePinhole right after opening, off the
    /// critical path (an AddPinhole that hit an existing pinhole sets a wrong lease on
    /// miniupnpd before 2.3.3).
    Pinhole { gateway: Gateway, id: u16, pinhole: Pinhole, confirmed: bool },
    /// A mapping (IPv4) or pinhole (IPv6) held through PCP or NAT-PMP.
    Pcp { mapping: PcpMapping },
    /// The IPv6 firewall is off: nothing to hold, nothing to renew.
    Nothing,
}

impl Holding {
    /// True when the router's answer right after opening has been checked (see the variants).
    pub(crate) fn is_confirmed(&self) -> bool {
        match self {
            Holding::Mapping { confirmed, .. } | Holding::Pinhole { confirmed, .. } => *confirmed,
            Holding::Pcp { .. } | Holding::Nothing => true,
        }
    }

    /// The gateway it is held on (None: nothing is held).
    pub(crate) fn gateway(&self) -> Option<&Gateway> {
        match self {
            Holding::Mapping { gateway, .. } | Holding::Pinhole { gateway, .. } => Some(gateway),
            Holding::Pcp { .. } | Holding::Nothing => None,
        }
    }

    /// True when something is held on the router (to renew, to delete on close).
    pub(crate) fn is_held(&self) -> bool {
        !matches!(self, Holding::Nothing)
    }
}

/// Where one family of a lease stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeaseState {
    /// Not asked for, or the first open failed: nothing held, nothing to retry.
    Idle,
    /// An open (or a re-open after a loss) is in flight.
    Opening,
    /// Held on the router; acted on again at `due` (None: nothing to renew, firewall off).
    Held {
        due: Option<Instant>,
    },
    /// A renewal (or the read-back of a fresh mapping) is in flight.
    Renewing,
    /// Lost and not re-opened yet: the next try is at `retry_at`.
    Lost {
        retry_at: Instant,
    },
    /// The delete asked by a close is in flight.
    Closing,
    Closed,
}

impl LeaseState {
    /// True while an action for this family is being performed (its outcome is awaited).
    pub(crate) fn in_flight(self) -> bool {
        matches!(self, LeaseState::Opening | LeaseState::Renewing | LeaseState::Closing)
    }
    /// When the engine acts on this family next without being asked.
    pub(crate) fn deadline(self) -> Option<Instant> {
        match self {
            LeaseState::Held { due } => due,
            LeaseState::Lost { retry_at } => Some(retry_at),
            _ => None,
        }
    }
}

/// One family of a lease.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub state: LeaseState,
    pub holding: Option<Holding>,
    /// Current back-off after failures (zero when healthy).
    pub backoff: Duration,
    /// A loss was reported (the Lost event went out) and is not recovered yet.
    pub lost: bool,
    /// A close arrived while an action was in flight: close when its outcome comes back.
    pub close_pending: bool,
    /// The router lost rules behind its daemon's back (see `Engine::repair_mappings`): the
    /// next renewal re-creates the mapping (delete, then add) instead of refreshing it.
    pub repair: bool,
    /// When the router made the current holding (its open, or its re-creation).
    pub made_at: Option<Instant>,
    /// When the router last said it holds it (open, read-back, renewal).
    pub good_at: Option<Instant>,
}

impl Slot {
    pub(crate) fn new(requested: bool) -> Slot {
        Slot {
            state: if requested { LeaseState::Opening } else { LeaseState::Closed },
            holding: None,
            backoff: Duration::ZERO,
            lost: false,
            close_pending: false,
            repair: false,
            made_at: None,
            good_at: None,
        }
    }
}
