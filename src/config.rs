//! How a client behaves: the settings a game passes when it creates one.

use std::path::PathBuf;
use std::time::Duration;

use crate::gateway::DiscoveryOptions;
use crate::limits::{DEFAULT_ACTION_TIMEOUT, DEFAULT_DESCRIPTION};
use crate::types::{Family, Route};

/// How a client behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// How gateways are searched for (interfaces, time windows, a router to ask by unicast).
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
    /// The ways to the router an `open` may take (all by default: PCP/NAT-PMP raced with UPnP).
    pub routes: Routes,
}

/// Which routes to the router a client may use. With several, each family of an `open` races
/// them: a PCP (or NAT-PMP) MAP to the default gateway beside UPnP discovery; the first success
/// wins. Choosing one is for support (`--route`) and for tests that count one protocol's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routes {
    /// UPnP IGD (SSDP discovery, SOAP).
    pub upnp: bool,
    /// PCP (RFC 6887), both families.
    pub pcp: bool,
    /// NAT-PMP (IPv4 only), asked when the router answers PCP with "version 0 only", or alone
    /// when PCP is not allowed.
    pub natpmp: bool,
}

impl Routes {
    /// Every route, raced (the default).
    pub const ALL: Routes = Routes { upnp: true, pcp: true, natpmp: true };

    /// Only `route`.
    pub fn only(route: Route) -> Routes {
        Routes { upnp: route == Route::Upnp, pcp: route == Route::Pcp, natpmp: route == Route::NatPmp }
    }

    /// True when a PCP or NAT-PMP exchange may be tried for `family`.
    pub fn port_control(&self, family: Family) -> bool {
        self.pcp || (self.natpmp && family == Family::V4)
    }
}

impl Default for Routes {
    fn default() -> Self {
        Routes::ALL
    }
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
            routes: Routes::ALL,
        }
    }
}
