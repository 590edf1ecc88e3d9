//! What the engine asks the driver to do (a `Task`), and what the driver reports back (an
//! `Outcome`). A task is one step against the router; how it is performed (UPnP today, a PCP
//! route) is the driver's business, what it means is the engine's.

use core::net::{Ipv6Addr, SocketAddr};

use super::state::Holding;
use crate::error::Error;
use crate::gateway::Gateway;
use crate::lease::{FamilyLease, OpenRequest};
use crate::parse::url::HttpUrl;
use crate::pcp_mapping::{PcpMapping, PcpWatch};
use crate::persist::JournalEntry;
use crate::transport::probe::DeviceAnswer;
use crate::types::Family;

// A few tasks live at a time, each for one exchange: their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Task {
    /// Remove what an earlier run left on the routers (journal entries), if still ours.
    RemoveLeftovers { entries: Vec<JournalEntry> },
    /// Open one family of a lease: find the gateway (cached or discovered) and add the mapping
    /// or pinhole.
    Open { lease: u64, family: Family, request: OpenRequest, description: String },
    /// Check a fresh holding: read a mapping back (that the router holds it for us, and the
    /// lease it granted); set a pinhole's lease with UpdatePinhole.
    Confirm { lease: u64, family: Family, holding: Holding },
    /// Extend what is held, in one exchange. `follow_address`: the pinhole follows this host's
    /// IPv6 address (none was named), so check it first. `rebuild`: re-create a mapping
    /// (delete, then add) instead of refreshing it, because the router lost its rules silently.
    Renew { lease: u64, family: Family, holding: Holding, follow_address: bool, rebuild: bool },
    /// Delete what a family holds (a close).
    Release { lease: u64, family: Family, holding: Holding },
    /// Delete something no longer wanted (a pinhole for an address this host lost); its
    /// answer changes nothing.
    Discard { holding: Holding },
    /// The gateway stopped answering: drop it from the discovery cache.
    ForgetGateway { gateway: Gateway },
    /// The look between renewals: this host's IPv6 address toward `v6_gateways`, the routers'
    /// NOTIFYs (per family: the gateway to listen to, None: stop listening), one unicast search
    /// to each gateway in `probe` (every gateway something is held on), and per family the PCP
    /// or NAT-PMP server something is held on: its ANNOUNCEs heard, its epoch asked.
    Look { v6_gateways: Vec<Gateway>, notify: [Option<Gateway>; 2], probe: Vec<Gateway>, announce: [Option<PcpWatch>; 2] },
}

/// What the look saw of the PCP/NAT-PMP servers something is held on.
#[derive(Clone, Debug, Default)]
pub(crate) struct PcpLooked {
    /// The servers that announced a restart (an ANNOUNCE from the server, or from the other
    /// family's server on the same link: one router).
    pub announced: Vec<SocketAddr>,
    /// The epoch each watched server answered now.
    pub epochs: Vec<(SocketAddr, u32)>,
    /// The servers that answered now after not answering at the previous look: what happened
    /// meanwhile (a restart whose ANNOUNCE went unheard, the epoch kept) is not known.
    pub answering_again: Vec<SocketAddr>,
    /// This host's IPv6 address toward the watched IPv6 server now.
    pub local_v6: Option<(SocketAddr, Ipv6Addr)>,
}

impl Task {
    /// The lease family the task acts on (None: not tied to one).
    pub(crate) fn family(&self) -> Option<Family> {
        match self {
            Task::Open { family, .. } | Task::Confirm { family, .. } | Task::Renew { family, .. } | Task::Release { family, .. } => Some(*family),
            Task::RemoveLeftovers { entries } => entries.first().map(super::journal::entry_family),
            Task::Discard { .. } | Task::ForgetGateway { .. } | Task::Look { .. } => None,
        }
    }
}

/// What performing a task gave.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// `RemoveLeftovers`: the entries whose router did not answer (kept for the next start).
    LeftoversKept(Vec<JournalEntry>),
    /// `Open`: the family as it stands (open or refused, and why) and what it holds.
    Opened { family_lease: FamilyLease, holding: Option<Holding> },
    /// `Confirm`: the lease the router holds (None: it holds no such mapping for us).
    Confirmed { lease_secs: Option<u32> },
    /// `Renew`: still held, lease granted again for this long.
    Renewed { lease_secs: u32 },
    /// `Renew` of a PCP/NAT-PMP holding: still held, as the server's answer says (lifetime,
    /// external port, epoch). `lost_state`: the epoch shows the server lost its state (a
    /// restart): this answer re-made this mapping, everything else held there is re-made now.
    Refreshed { mapping: PcpMapping, lost_state: bool },
    /// `Renew`: the router no longer holds it (or took the port away, or stopped answering).
    Gone { reason: String, unreachable: bool },
    /// `Renew`: this host's IPv6 address is no longer the pinholed one.
    Moved { to: Ipv6Addr },
    /// `Renew`: nothing learned (cancelled): try again later, no event.
    Postponed(String),
    /// `Release`: whether the delete succeeded (an entry already gone counts as removed).
    Released(Result<(), Error>),
    /// `Look`: this host's IPv6 address toward each gateway looked at, the gateways that
    /// announced a new boot, what each probed gateway (by its LOCATION when probed) answered
    /// (a gateway that did not answer is absent), and what the PCP/NAT-PMP servers watched
    /// showed.
    Looked { local_v6: Vec<(HttpUrl, Ipv6Addr)>, rebooted: Vec<(Family, HttpUrl)>, probed: Vec<(HttpUrl, DeviceAnswer)>, pcp: PcpLooked },
    /// `Discard`, `ForgetGateway`: done.
    Done,
}
