//! `portopen_client`: create and free a client, cancel its blocking calls, open leases, and the
//! upkeep calls (manual renewal, leftover cleaning).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::lease::portopen_lease;
use super::status::portopen_status;
use super::types::{ip_arg, portopen_config, portopen_open_options, protocol_from_c};
use super::{ffi_panic_boundary, free_handle, handle, into_handle, opt_str, read_versioned, Handle, Out};
use crate::client::Client;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::lease::OpenRequest;
use crate::limits::DEFAULT_LEASE_SECS;

/// A portopen client: configuration, the gateways found, the leases opened, the event queue and
/// the renewal thread. Create with `portopen_client_new`, free with `portopen_client_free`.
/// Every function taking a client may be called from any thread, concurrently.
#[allow(non_camel_case_types)]
pub struct portopen_client {
    _private: [u8; 0],
}

impl Handle for Client {
    type C = portopen_client;
    const NAME: &'static str = "portopen_client";
}

const SSDP_PORT: u16 = 1900;

fn millis_or(ms: u32, default: Duration) -> Duration {
    if ms == 0 {
        default
    } else {
        Duration::from_millis(ms.into())
    }
}

fn router_arg(text: &str) -> Result<SocketAddr, Error> {
    let text = text.trim();
    let addr = match text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => match text.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, SSDP_PORT),
            Err(_) => return Err(Error::InvalidArgument(format!("config->router '{text}' is not \"ip\", \"ip:port\" or \"[ipv6]:port\""))),
        },
    };
    if addr.port() == 0 {
        return Err(Error::InvalidArgument(format!("config->router '{text}' has port 0")));
    }
    Ok(addr)
}

fn config_from_c(c: &portopen_config) -> Result<ClientConfig, Error> {
    let mut config = ClientConfig::default();
    let discovery = &mut config.discovery;
    discovery.timeout = millis_or(c.discovery_timeout_ms, discovery.timeout);
    discovery.grace = millis_or(c.discovery_grace_ms, discovery.grace);
    discovery.multicast = c.no_multicast == 0;
    discovery.default_gateway = c.no_default_gateway == 0;
    if let Some(router) = opt_str(c.router, "config->router")? {
        discovery.router = Some(router_arg(router)?);
    }
    if let Some(name) = opt_str(c.interface_name, "config->interface_name")? {
        discovery.interfaces.push(name.to_string());
    }
    config.action_timeout = millis_or(c.action_timeout_ms, config.action_timeout);
    if let Some(description) = opt_str(c.description, "config->description")? {
        config.description = description.to_string();
    }
    config.cache_file = opt_str(c.cache_file, "config->cache_file")?.map(PathBuf::from);
    config.journal_file = opt_str(c.journal_file, "config->journal_file")?.map(PathBuf::from);
    config.keep_alive = c.manual_renew == 0;
    config.routes = super::types::routes_from_c(c.route)?;
    Ok(config)
}

/// Create a client. `config` may be NULL (every default); it is only read during the call.
/// Sends nothing; reads the cache and journal files when configured. On success `*out` is a new
/// client the caller owns and frees with `portopen_client_free`; on failure it is NULL.
#[no_mangle]
pub extern "C" fn portopen_client_new(config: *const portopen_config, out: *mut *mut portopen_client) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        let config = match config.is_null() {
            true => ClientConfig::default(),
            false => config_from_c(&read_versioned(config, "config")?)?,
        };
        out.set(into_handle(Client::new(config)?));
        Ok(())
    }
}

/// Free a client: stops its renewal thread and closes every lease it opened (deleting the
/// mappings and pinholes on the router; blocks up to the action timeout per family while the
/// router answers). Lease handles stay valid (status CLOSED) until freed. NULL is a no-op; a
/// pointer that is not a live client (already freed) is INVALID_ARGUMENT and nothing happens.
/// A call running on another thread with this client finishes safely (a blocking one may be
/// stopped first with `portopen_client_cancel`).
#[no_mangle]
pub extern "C" fn portopen_client_free(client: *mut portopen_client) -> portopen_status {
    ffi_panic_boundary! {
        if let Some(client) = free_handle::<Client>(client, "client")? {
            client.close();
        }
        Ok(())
    }
}

/// Stop every blocking call in flight on this client, from any thread: they return CANCELLED
/// within about 20 ms, and so do later ones until `portopen_client_reset_cancel`. Closing and
/// freeing still remove what is open. Never blocks.
#[no_mangle]
pub extern "C" fn portopen_client_cancel(client: *const portopen_client) -> portopen_status {
    ffi_panic_boundary! {
        handle::<Client>(client, "client")?.cancel();
        Ok(())
    }
}

/// Let blocking calls run again after `portopen_client_cancel`. Never blocks.
#[no_mangle]
pub extern "C" fn portopen_client_reset_cancel(client: *const portopen_client) -> portopen_status {
    ffi_panic_boundary! {
        handle::<Client>(client, "client")?.reset_cancel();
        Ok(())
    }
}

fn request_from_c(o: &portopen_open_options) -> Result<OpenRequest, Error> {
    let mut request = OpenRequest::new(protocol_from_c(o.protocol, "options->protocol")?, o.internal_port);
    if o.internal_port == 0 {
        return Err(Error::InvalidArgument("options->internal_port must be 1..=65535, not 0".into()));
    }
    request.external_port = o.external_port;
    request.v4 = o.want_v4 != 0;
    request.v6 = o.want_v6 != 0;
    request.lease_secs = if o.lease_secs == 0 { DEFAULT_LEASE_SECS } else { o.lease_secs };
    request.internal_v4 = ip_arg(o.internal_v4, "options->internal_v4", "IPv4")?;
    request.internal_v6 = ip_arg(o.internal_v6, "options->internal_v6", "IPv6")?;
    request.description = opt_str(o.description, "options->description")?.map(str::to_string);
    Ok(request)
}

/// Open a port: an IPv4 port mapping and/or an IPv6 pinhole, both families in parallel
/// (discovering the gateway of each first if none is cached). Blocks: at most about the
/// discovery timeout plus a few action timeouts; `portopen_client_cancel` stops it: then it
/// returns CANCELLED and whatever a family had opened is removed again.
/// Otherwise returns OK when the request was valid, even if a family failed: each family's outcome is in
/// `portopen_lease_get_info`, and an OPENED or FAILED event is queued per family. On OK `*out` is
/// a new lease the caller owns and frees with `portopen_lease_free` (which closes it); on failure
/// it is NULL. `options` is only read during the call.
#[no_mangle]
pub extern "C" fn portopen_client_open(
    client: *const portopen_client,
    options: *const portopen_open_options,
    out: *mut *mut portopen_lease,
) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        let client = handle::<Client>(client, "client")?;
        let request = request_from_c(&read_versioned(options, "options")?)?;
        out.set(into_handle(client.open(&request)?));
        Ok(())
    }
}

/// Run every renewal that is due now, on the calling thread (for clients made with
/// `manual_renew`; harmless otherwise). Blocks while it talks to the router. `*next_ms` is the
/// time until the next renewal is due, in ms, or UINT32_MAX when none is (`next_ms` may be NULL).
#[no_mangle]
pub extern "C" fn portopen_client_renew_due(client: *const portopen_client, next_ms: *mut u32) -> portopen_status {
    ffi_panic_boundary! {
        let client = handle::<Client>(client, "client")?;
        let next = client.renew_due();
        if !next_ms.is_null() {
            let ms = next.map_or(u32::MAX, |at| at.saturating_duration_since(Instant::now()).as_millis().min(u128::from(u32::MAX - 1)) as u32);
            Out::new(next_ms, "next_ms")?.set(ms);
        }
        Ok(())
    }
}

/// Remove what an earlier run left open, as listed in the journal file at creation (also done
/// on the first open of each family). Only entries that are still ours are deleted. Blocks while
/// it talks to the router. `*removed` is how many were removed (`removed` may be NULL).
#[no_mangle]
pub extern "C" fn portopen_client_clean_leftovers(client: *const portopen_client, removed: *mut u32) -> portopen_status {
    ffi_panic_boundary! {
        let client = handle::<Client>(client, "client")?;
        let count = client.clean_leftovers();
        if !removed.is_null() {
            Out::new(removed, "removed")?.set(u32::try_from(count).unwrap_or(u32::MAX));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed() -> portopen_config {
        portopen_config {
            struct_size: std::mem::size_of::<portopen_config>() as u32,
            discovery_timeout_ms: 0,
            discovery_grace_ms: 0,
            action_timeout_ms: 0,
            description: std::ptr::null(),
            cache_file: std::ptr::null(),
            journal_file: std::ptr::null(),
            router: std::ptr::null(),
            interface_name: std::ptr::null(),
            no_multicast: 0,
            no_default_gateway: 0,
            manual_renew: 0,
            route: 0,
        }
    }

    #[test]
    fn config_route_zero_races_every_route_and_a_value_forces_one() {
        use crate::config::Routes;
        use crate::types::Route;
        assert_eq!(config_from_c(&zeroed()).unwrap().routes, Routes::ALL);
        for (value, route) in [(1u8, Route::Upnp), (2, Route::Pcp), (3, Route::NatPmp)] {
            assert_eq!(config_from_c(&portopen_config { route: value, ..zeroed() }).unwrap().routes, Routes::only(route));
        }
        let refused = config_from_c(&portopen_config { route: 4, ..zeroed() }).err().unwrap();
        assert!(refused.to_string().contains("config->route"), "{refused}");
    }
}
