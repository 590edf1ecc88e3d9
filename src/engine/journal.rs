//! The journal's contents as data: what every lease holds on the routers now, plus what an
//! earlier run left there and is still to be removed. The driver writes it to the file.

use std::collections::BTreeMap;

use super::state::Holding;
use crate::persist::JournalEntry;
use crate::types::Family;

#[derive(Debug, Default)]
pub(crate) struct Journal {
    held: BTreeMap<(u64, u8), JournalEntry>,
    /// Entries of an earlier run not removed yet.
    leftovers: Vec<JournalEntry>,
    /// Changed since the driver last wrote it.
    dirty: bool,
}

fn key(lease: u64, family: Family) -> (u64, u8) {
    (lease, family as u8)
}

/// The journal line for what `holding` holds (None: nothing on the router, or no control URL).
pub(crate) fn entry_for(holding: &Holding) -> Option<JournalEntry> {
    match holding {
        Holding::Mapping { gateway, mapping, .. } => Some(JournalEntry::Mapping {
            control: gateway.wan.clone()?,
            local: gateway.local_addr,
            external_port: mapping.external_port,
            protocol: mapping.protocol,
            internal_client: mapping.internal_client,
            internal_port: mapping.internal_port,
            description: mapping.description.clone(),
        }),
        Holding::Pinhole { gateway, id, pinhole, .. } => Some(JournalEntry::Pinhole {
            control: gateway.firewall.clone()?,
            local: gateway.local_addr,
            id: *id,
            protocol: pinhole.protocol,
            internal_client: pinhole.internal_client,
            internal_port: pinhole.internal_port,
        }),
        Holding::Pcp { mapping } => Some(JournalEntry::Pcp {
            server: mapping.server,
            route: mapping.route,
            nonce: mapping.nonce,
            client: mapping.client,
            protocol: mapping.protocol,
            internal_port: mapping.internal_port,
            external_port: mapping.external.port(),
        }),
        Holding::Nothing => None,
    }
}

pub(crate) fn entry_family(e: &JournalEntry) -> Family {
    match e {
        JournalEntry::Mapping { .. } => Family::V4,
        JournalEntry::Pinhole { .. } => Family::V6,
        JournalEntry::Pcp { client, .. } if client.is_ipv4() => Family::V4,
        JournalEntry::Pcp { .. } => Family::V6,
    }
}

impl Journal {
    pub(crate) fn new(leftovers: Vec<JournalEntry>) -> Journal {
        Journal { held: BTreeMap::new(), leftovers, dirty: false }
    }

    /// Record what a lease's family holds now (None: nothing).
    pub(crate) fn set(&mut self, lease: u64, family: Family, holding: Option<&Holding>) {
        match holding.and_then(entry_for) {
            Some(e) => self.held.insert(key(lease, family), e),
            None => self.held.remove(&key(lease, family)),
        };
        self.dirty = true;
    }

    /// Take the leftovers of `family` (None: all) to be removed now.
    pub(crate) fn take_leftovers(&mut self, family: Option<Family>) -> Vec<JournalEntry> {
        let (mine, rest) = std::mem::take(&mut self.leftovers).into_iter().partition(|e| family.is_none_or(|f| entry_family(e) == f));
        self.leftovers = rest;
        mine
    }

    /// Leftovers that could not be removed now (their router did not answer): kept for the
    /// next start. Also marks the journal to be written (removed ones are gone from it).
    pub(crate) fn keep_leftovers(&mut self, kept: Vec<JournalEntry>) {
        self.leftovers.extend(kept);
        self.dirty = true;
    }

    /// Every line the file must hold now: leftovers first, then what is held.
    pub(crate) fn entries(&self) -> Vec<JournalEntry> {
        self.leftovers.iter().chain(self.held.values()).cloned().collect()
    }

    /// The entries to write, when they changed since the last call.
    pub(crate) fn take_changes(&mut self) -> Option<Vec<JournalEntry>> {
        std::mem::take(&mut self.dirty).then(|| self.entries())
    }
}
