//! `portopen_lease`: what `portopen_client_open` returns — read its state, close it, free it.

use std::ffi::c_char;
use std::net::SocketAddr;

use super::status::portopen_status;
use super::types::{addr_to_c, family_from_c, family_state_to_c, portopen_lease_info, protocol_to_c, route_to_c};
use super::{ffi_panic_boundary, free_handle, handle, string_to_c, Handle, Out, VersionedOut};
use crate::client::Lease;

/// An open port (IPv4 mapping and/or IPv6 pinhole), renewed until closed. Made by
/// `portopen_client_open`, freed with `portopen_lease_free`. It stays usable after its client is
/// freed (its state is then CLOSED). Every function taking a lease may be called from any
/// thread, concurrently.
#[allow(non_camel_case_types)]
pub struct portopen_lease {
    _private: [u8; 0],
}

impl Handle for Lease {
    type C = portopen_lease;
    const NAME: &'static str = "portopen_lease";
}

/// Copy the lease's current state into `*info` (whose `struct_size` the caller sets). Never
/// blocks on the network.
#[no_mangle]
pub extern "C" fn portopen_lease_get_info(lease: *const portopen_lease, info: *mut portopen_lease_info) -> portopen_status {
    ffi_panic_boundary! {
        let out = VersionedOut::new(info, "info")?;
        let current = handle::<Lease>(lease, "lease")?.info();
        out.set(&portopen_lease_info {
            struct_size: 0,
            id: current.id,
            v4: family_state_to_c(&current.v4),
            v6: family_state_to_c(&current.v6),
            protocol: protocol_to_c(current.protocol),
            internal_port: current.internal_port,
            v4_not_default_gateway: current.v4.not_default_gateway.into(),
            v6_not_default_gateway: current.v6.not_default_gateway.into(),
            v4_other_routers: current.v4.other_routers.len().min(255) as u8,
            v6_other_routers: current.v6.other_routers.len().min(255) as u8,
            v4_router: addr_to_c(current.v4.router.map(|ip| SocketAddr::new(ip, 0))),
            v6_router: addr_to_c(current.v6.router.map(|ip| SocketAddr::new(ip, 0))),
            v4_route: route_to_c(current.v4.route),
            v6_route: route_to_c(current.v6.route),
        });
        Ok(())
    }
}

/// Why one family of the lease is in its state, in words ("" when open without remark), as a
/// new string `*out` the caller frees with `portopen_string_free`. Never blocks on the network.
#[no_mangle]
pub extern "C" fn portopen_lease_message(lease: *const portopen_lease, family: u32, out: *mut *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        let family = family_from_c(family, "family")?;
        let info = handle::<Lease>(lease, "lease")?.info();
        out.set(string_to_c(&info.family(family).message));
        Ok(())
    }
}

/// Close the lease: delete its mapping and pinhole on the router (blocks up to the action
/// timeout per family; works after `portopen_client_cancel`) and queue a CLOSED event per family
/// that was open. Idempotent, and safe to call from two threads at once. The handle stays valid
/// until `portopen_lease_free`.
#[no_mangle]
pub extern "C" fn portopen_lease_close(lease: *const portopen_lease) -> portopen_status {
    ffi_panic_boundary! {
        handle::<Lease>(lease, "lease")?.close();
        Ok(())
    }
}

/// Close the lease (as `portopen_lease_close`) and free the handle. NULL is a no-op; a pointer
/// that is not a live lease (already freed) is INVALID_ARGUMENT and nothing happens.
#[no_mangle]
pub extern "C" fn portopen_lease_free(lease: *mut portopen_lease) -> portopen_status {
    ffi_panic_boundary! {
        if let Some(lease) = free_handle::<Lease>(lease, "lease")? {
            lease.close();
        }
        Ok(())
    }
}
