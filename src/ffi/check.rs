//! `portopen_client_check`: grade the router, with the evidence as compact JSON
//! (`CheckReport::to_json`, the same object as the CLI's `portopen check --json`).

use std::ffi::c_char;

use super::client::portopen_client;
use super::status::portopen_status;
use super::types::grade_to_c;
use super::{ffi_panic_boundary, handle, string_to_c, Out};
use crate::client::Client;

/// Grade the router (the working group's A/B/C/D): discover over both families, read the IPv6
/// firewall's flags, try a short-lived pinhole and mapping on `port` (0: a high port picked for
/// this process) and remove them. Blocks: about the discovery timeout plus a few action
/// timeouts. `*grade` is a `portopen_grade`; `*report_json` (may be NULL if not wanted) is the
/// evidence as one JSON object, a new string the caller frees with `portopen_string_free`.
/// A router that does not answer is a grade (D), not an error.
#[no_mangle]
pub extern "C" fn portopen_client_check(client: *const portopen_client, port: u16, grade: *mut u32, report_json: *mut *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        let grade = Out::new(grade, "grade")?;
        let json = match report_json.is_null() {
            true => None,
            false => Some(Out::new(report_json, "report_json")?),
        };
        if let Some(json) = &json {
            json.set(std::ptr::null_mut());
        }
        let report = handle::<Client>(client, "client")?.check(port);
        grade.set(grade_to_c(report.grade));
        if let Some(json) = json {
            json.set(string_to_c(&report.to_json()));
        }
        Ok(())
    }
}
