//! `portopen_client_check` and `portopen_client_check_routes`: check the router — the working
//! group's grade, which routes it speaks and through which each family can be opened — with
//! the evidence as compact JSON (`CheckReport::to_json`, the CLI's `portopen check --json`).

use std::ffi::c_char;
use std::net::{IpAddr, SocketAddr};

use super::client::portopen_client;
use super::status::portopen_status;
use super::types::{addr_to_c, grade_to_c, portopen_addr, route_flags};
use super::{ffi_panic_boundary, handle, string_to_c, Out, Versioned, VersionedOut};
use crate::check::CheckReport;
use crate::client::Client;
use crate::types::Family;

/// What `portopen_client_check_routes` found, in numbers (the JSON has the words). Set
/// `struct_size = sizeof(portopen_check_info)` before the call; the struct may grow.
/// Route sets are ORs of `portopen_route_flag`s.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct portopen_check_info {
    /// `sizeof(portopen_check_info)`, set by the caller; the library sets it to the bytes written.
    pub struct_size: u32,
    /// A `portopen_grade` value: the working group's grade, over UPnP only (D when UPnP was
    /// not allowed: the JSON's reason says so).
    pub grade: u32,
    /// The routes whose trial opened IPv6 (added and removed). 0: IPv6 cannot be opened
    /// through the routes allowed (unless `v6_open_already`).
    pub v6_routes: u8,
    /// The routes whose trial opened IPv4 with a public external address.
    pub v4_routes: u8,
    /// The routes that answered over IPv6 (UPnP: a gateway was discovered).
    pub v6_speaks: u8,
    /// The routes that answered over IPv4.
    pub v4_speaks: u8,
    /// The InternetGatewayDevice version (1 or 2) of the IPv6 UPnP gateway, 0 when none.
    pub v6_igd_version: u8,
    /// The same for IPv4.
    pub v4_igd_version: u8,
    /// Non-zero: IPv6 passes without opening (the router's IPv6 firewall is off).
    pub v6_open_already: u8,
    /// The PCP version the router speaks (2), 0 when PCP did not answer.
    pub pcp_version: u8,
    /// The PCP server's epoch over IPv6 (valid when `v6_speaks` has PCP).
    pub v6_pcp_epoch: u32,
    /// The PCP server's epoch over IPv4 (valid when `v4_speaks` has PCP).
    pub v4_pcp_epoch: u32,
    /// The external IPv4 address NAT-PMP reported (family 0 when it did not answer).
    pub natpmp_external: portopen_addr,
}

// SAFETY: repr(C), starts with u32 struct_size, all-zero is valid (plain numbers).
unsafe impl Versioned for portopen_check_info {
    const FIRST_SIZE: usize = std::mem::size_of::<portopen_check_info>();
}

fn check_info(report: &CheckReport) -> portopen_check_info {
    let pc = |family: Family| match family {
        Family::V6 => &report.v6_port_control.spoken,
        Family::V4 => &report.v4_port_control.spoken,
    };
    let pcp_version = if pc(Family::V6).pcp_epoch.is_some() || pc(Family::V4).pcp_epoch.is_some() { 2 } else { 0 };
    portopen_check_info {
        struct_size: std::mem::size_of::<portopen_check_info>() as u32,
        grade: grade_to_c(report.grade),
        v6_routes: route_flags(&report.v6_routes),
        v4_routes: route_flags(&report.v4_routes),
        v6_speaks: route_flags(&report.speaks(Family::V6)),
        v4_speaks: route_flags(&report.speaks(Family::V4)),
        v6_igd_version: report.v6_gateway.as_ref().map_or(0, |g| g.igd_version),
        v4_igd_version: report.v4_gateway.as_ref().map_or(0, |g| g.igd_version),
        v6_open_already: report.v6_open_already.into(),
        pcp_version,
        v6_pcp_epoch: pc(Family::V6).pcp_epoch.unwrap_or(0),
        v4_pcp_epoch: pc(Family::V4).pcp_epoch.unwrap_or(0),
        natpmp_external: addr_to_c(pc(Family::V4).natpmp_external.map(|ip| SocketAddr::new(IpAddr::V4(ip), 0))),
    }
}

/// Set `*json` to NULL now (when wanted) and to the report later.
fn json_out(report_json: *mut *mut c_char) -> Result<Option<Out<*mut c_char>>, crate::error::Error> {
    if report_json.is_null() {
        return Ok(None);
    }
    let json = Out::new(report_json, "report_json")?;
    json.set(std::ptr::null_mut());
    Ok(Some(json))
}

/// Grade the router (the working group's A/B/C/D): discover over both families, read the IPv6
/// firewall's flags, try a short-lived pinhole and mapping on `port` (0: a high port picked for
/// this process) and remove them. Blocks: about the discovery timeout plus a few action
/// timeouts. `*grade` is a `portopen_grade`; `*report_json` (may be NULL if not wanted) is the
/// evidence as one JSON object, a new string the caller frees with `portopen_string_free`.
/// A router that does not answer is a grade (D), not an error. It checks the PCP / NAT-PMP
/// routes too (see `portopen_client_check_routes`, which returns them in numbers).
#[no_mangle]
pub extern "C" fn portopen_client_check(client: *const portopen_client, port: u16, grade: *mut u32, report_json: *mut *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        let grade = Out::new(grade, "grade")?;
        let json = json_out(report_json)?;
        let report = handle::<Client>(client, "client")?.check(port);
        grade.set(grade_to_c(report.grade));
        if let Some(json) = json {
            json.set(string_to_c(&report.to_json()));
        }
        Ok(())
    }
}

/// Check the router as `portopen_client_check` does, and say in `*info` which routes it speaks
/// (UPnP IGD version, PCP version and epoch, NAT-PMP and its external address) and through
/// which routes each family can be opened, proved by a trial on `port` through each route the
/// client's config allows (a short-lifetime PCP MAP / NAT-PMP map, a UPnP pinhole and mapping),
/// each removed at once. Only the routes allowed (`portopen_config.route`) are tried. Blocks
/// like `portopen_client_check` (the PCP / NAT-PMP part runs during UPnP's discovery).
/// `info->struct_size` must be set by the caller. `*report_json` as in `portopen_client_check`.
#[no_mangle]
pub extern "C" fn portopen_client_check_routes(
    client: *const portopen_client,
    port: u16,
    info: *mut portopen_check_info,
    report_json: *mut *mut c_char,
) -> portopen_status {
    ffi_panic_boundary! {
        let info = VersionedOut::new(info, "info")?;
        let json = json_out(report_json)?;
        let report = handle::<Client>(client, "client")?.check(port);
        info.set(&check_info(&report));
        if let Some(json) = json {
            json.set(string_to_c(&report.to_json()));
        }
        Ok(())
    }
}
