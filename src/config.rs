//! How a client behaves: the settings a game passes when it creates one.

use std::path::PathBuf;
use std::time::Duration;

use crate::gateway::DiscoveryOptions;
use crate::limits::{DEFAULT_ACTION_TIMEOUT, DEFAULT_DESCRIPTION};

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
        }
    }
}
