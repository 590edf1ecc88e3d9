//! The gateway per family that the client uses: found by discovery (or read from the cache
//! file) and kept until it stops answering. Discovering one family never waits on the other.

use std::sync::{Mutex, MutexGuard};

use crate::cancel::CancelToken;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::gateway::{choose_local_addr, discover, Gateway};
use crate::persist;
use crate::types::Family;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock must not take the whole client down: the data is plain state.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lock order: a family's `discovering` lock, then `known` (held only to read or store, never
/// across I/O). `discovering[f]` is held during discovery over family `f` only, so the other
/// family (and everyone reading `known`) never waits for it.
#[derive(Default)]
pub(crate) struct GatewayCache {
    known: Mutex<[Option<Gateway>; 2]>,
    discovering: [Mutex<()>; 2],
}

impl GatewayCache {
    pub(crate) fn cached(&self, family: Family) -> Option<Gateway> {
        lock(&self.known)[family as usize].clone()
    }

    /// The gateway for `family`: cached, or discovered now (and cached). `fresh` forces
    /// discovery. Two callers needing discovery at once share one.
    pub(crate) fn get(&self, family: Family, fresh: bool, config: &ClientConfig, cancel: &CancelToken) -> Result<Gateway, Error> {
        if !fresh {
            if let Some(gw) = self.cached(family) {
                return Ok(gw);
            }
        }
        let started = lock(&self.known)[family as usize].clone();
        let _one_at_a_time = lock(&self.discovering[family as usize]);
        if let Some(gw) = self.cached(family).filter(|now| !fresh || Some(now) != started.as_ref()) {
            // Found (or replaced) by another caller while this one waited.
            return Ok(gw);
        }
        let found = discover(family, &config.discovery, cancel)?;
        let gw = found.into_iter().next().ok_or_else(|| Error::NoGateway(format!("no UPnP gateway answered discovery over {family}")))?;
        log::info!("{family} gateway: {} ({}, IGD:{})", gw.location, gw.server.as_deref().unwrap_or("no SERVER header"), gw.igd_version());
        lock(&self.known)[family as usize] = Some(gw.clone());
        self.save(config);
        Ok(gw)
    }

    /// Drop the cached gateway if it is still `stale` (a later discovery may have replaced it).
    pub(crate) fn forget(&self, stale: &Gateway) {
        let mut known = lock(&self.known);
        let slot = &mut known[stale.family as usize];
        if slot.as_ref().is_some_and(|g| g.location == stale.location) {
            log::info!("{} gateway at {} stopped answering; will rediscover", stale.family, stale.location);
            *slot = None;
        }
    }

    fn save(&self, config: &ClientConfig) {
        let Some(path) = &config.cache_file else { return };
        let gws: Vec<Gateway> = lock(&self.known).iter().flatten().cloned().collect();
        let refs: Vec<&Gateway> = gws.iter().collect();
        if let Err(e) = persist::write_atomic(path, &persist::format_cache(&refs)) {
            log::warn!("gateway cache not saved: {e}");
        }
    }

    /// Read the cache file: only a gateway still reached from the same local address is kept
    /// (on another network the cache is ignored and discovery runs).
    pub(crate) fn load(&self, config: &ClientConfig) {
        let Some(path) = &config.cache_file else { return };
        let text = match persist::read_bounded(path) {
            Ok(t) => t,
            Err(e) => {
                log::warn!("gateway cache not read: {e}");
                return;
            }
        };
        for mut gw in persist::parse_cache(&text) {
            let still_here = choose_local_addr(gw.family, &gw.location).is_ok_and(|ip| ip == gw.local_addr);
            if let Some(router) = config.discovery.router.filter(|r| Family::of(&r.ip()) == gw.family && r.ip() != gw.location.ip) {
                log::debug!("cached {} gateway {} ignored: the router to use is {}", gw.family, gw.location, router.ip());
                continue;
            }
            // The cache keeps no record of the discovery: known only when the LOCATION host is the
            // default route's next hop, or (IPv4) is not. An IPv6 next hop is usually the
            // router's link-local address, which a LOCATION does not name: unknown then.
            gw.choice.default_gateway = match crate::gateway::default_gateway_ip(gw.family) {
                Some(ip) if ip == gw.location.ip => Some(true),
                Some(_) if gw.family == Family::V4 => Some(false),
                _ => None,
            };
            if still_here {
                log::debug!("{} gateway from cache: {}", gw.family, gw.location);
                let index = gw.family as usize;
                lock(&self.known)[index] = Some(gw);
            } else {
                log::debug!("cached {} gateway {} ignored: this host is not on that network now", gw.family, gw.location);
            }
        }
    }
}
