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

    /// True when `route` is one of them.
    pub fn allows(&self, route: Route) -> bool {
        match route {
            Route::Upnp => self.upnp,
            Route::Pcp => self.pcp,
            Route::NatPmp => self.natpmp,
        }
    }

    /// The routes allowed, in the order UPnP, PCP, NAT-PMP.
    pub fn list(&self) -> Vec<Route> {
        [Route::Upnp, Route::Pcp, Route::NatPmp].into_iter().filter(|r| self.allows(*r)).collect()
    }

    /// Parse a comma list of route tags ("upnp,pcp", any case, spaces allowed around each):
    /// the routes named and no other. An unknown, repeated or empty name is an error.
    pub fn parse(text: &str) -> Result<Routes, String> {
        let mut routes = Routes { upnp: false, pcp: false, natpmp: false };
        for name in text.split(',') {
            let route = Route::parse(name).ok_or_else(|| format!("'{}' is not upnp, pcp or natpmp", name.trim()))?;
            if routes.allows(route) {
                return Err(format!("'{}' is named twice", route.tag()));
            }
            match route {
                Route::Upnp => routes.upnp = true,
                Route::Pcp => routes.pcp = true,
                Route::NatPmp => routes.natpmp = true,
            }
        }
        Ok(routes)
    }
}

impl std::fmt::Display for Routes {
    /// The tags joined by commas ("upnp,pcp"), what `parse` reads back; "none" when empty.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tags: Vec<&str> = self.list().iter().map(|r| r.tag()).collect();
        f.write_str(if tags.is_empty() { "none" } else { "" })?;
        f.write_str(&tags.join(","))
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

#[cfg(test)]
mod tests {
    use super::Routes;

    #[test]
    fn a_comma_list_names_a_set_of_routes() {
        assert_eq!(Routes::parse("upnp,pcp"), Ok(Routes { upnp: true, pcp: true, natpmp: false }));
        assert_eq!(Routes::parse(" NatPmp "), Ok(Routes { upnp: false, pcp: false, natpmp: true }));
        assert_eq!(Routes::parse("pcp, natpmp, upnp"), Ok(Routes::ALL));
        assert_eq!(Routes::parse("upnp,pcp").unwrap().to_string(), "upnp,pcp");
    }

    #[test]
    fn an_unknown_repeated_or_empty_route_is_refused() {
        assert_eq!(Routes::parse("upnp,igd"), Err("'igd' is not upnp, pcp or natpmp".to_string()));
        assert_eq!(Routes::parse("pcp,PCP"), Err("'pcp' is named twice".to_string()));
        assert_eq!(Routes::parse("upnp,"), Err("'' is not upnp, pcp or natpmp".to_string()));
        assert_eq!(Routes::parse(""), Err("'' is not upnp, pcp or natpmp".to_string()));
    }
}
