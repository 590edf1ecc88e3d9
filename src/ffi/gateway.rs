//! `portopen_gateway`: run discovery for one family and read what was found.

use std::ffi::c_char;

use super::client::portopen_client;
use super::status::portopen_status;
use super::types::{addr_to_c, family_from_c, family_to_c, portopen_gateway_info};
use super::{ffi_panic_boundary, free_handle, handle, into_handle, string_to_c, Handle, Out, VersionedOut};
use crate::client::Client;
use crate::gateway::Gateway;

/// A gateway found by discovery: an immutable snapshot, independent of the client that found it.
/// Made by `portopen_client_discover`, freed with `portopen_gateway_free`. Any thread.
#[allow(non_camel_case_types)]
pub struct portopen_gateway {
    _private: [u8; 0],
}

impl Handle for Gateway {
    type C = portopen_gateway;
    const NAME: &'static str = "portopen_gateway";
}

/// Discover the gateway of `family` (a `portopen_family`) now, replacing the one the client had
/// cached. Blocks up to the configured discovery timeout (plus the description fetch);
/// `portopen_client_cancel` stops it. NO_GATEWAY when nobody answered. On OK `*out` is a new
/// gateway the caller frees with `portopen_gateway_free`; on failure it is NULL.
#[no_mangle]
pub extern "C" fn portopen_client_discover(client: *const portopen_client, family: u32, out: *mut *mut portopen_gateway) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        let family = family_from_c(family, "family")?;
        let client = handle::<Client>(client, "client")?;
        out.set(into_handle(client.discover(family)?));
        Ok(())
    }
}

/// Free a gateway. NULL is a no-op; a pointer that is not a live gateway is INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn portopen_gateway_free(gateway: *mut portopen_gateway) -> portopen_status {
    ffi_panic_boundary! {
        free_handle::<Gateway>(gateway, "gateway")?;
        Ok(())
    }
}

/// Copy what is known of the gateway into `*info` (whose `struct_size` the caller sets).
#[no_mangle]
pub extern "C" fn portopen_gateway_get_info(gateway: *const portopen_gateway, info: *mut portopen_gateway_info) -> portopen_status {
    ffi_panic_boundary! {
        let out = VersionedOut::new(info, "info")?;
        let gw = handle::<Gateway>(gateway, "gateway")?;
        out.set(&portopen_gateway_info {
            struct_size: 0,
            family: family_to_c(gw.family),
            igd_version: gw.igd_version().into(),
            has_port_mapping: gw.wan.is_some().into(),
            has_pinhole: gw.firewall.is_some().into(),
            reserved: 0,
            local_addr: addr_to_c(Some((gw.local_addr, 0).into())),
        });
        Ok(())
    }
}

/// The gateway's description URL ("http://192.168.1.1:5000/rootDesc.xml") as a new string
/// `*out` the caller frees with `portopen_string_free`.
#[no_mangle]
pub extern "C" fn portopen_gateway_location(gateway: *const portopen_gateway, out: *mut *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        out.set(string_to_c(&handle::<Gateway>(gateway, "gateway")?.location.to_string()));
        Ok(())
    }
}

/// The SERVER header of the gateway's discovery answer ("" when it sent none) as a new string
/// `*out` the caller frees with `portopen_string_free`.
#[no_mangle]
pub extern "C" fn portopen_gateway_server(gateway: *const portopen_gateway, out: *mut *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        out.set(string_to_c(handle::<Gateway>(gateway, "gateway")?.server.as_deref().unwrap_or("")));
        Ok(())
    }
}
