//! `portopen_client_check`: grade the router, with the evidence as compact JSON (written by hand:
//! a fixed shape, not worth a dependency). Keys match the CLI's `portopen check --json`.

use std::ffi::c_char;
use std::fmt::Write;

use super::client::portopen_client;
use super::status::portopen_status;
use super::types::grade_to_c;
use super::{ffi_panic_boundary, handle, string_to_c, Out};
use crate::check::{CheckReport, FamilyEvidence, Trial};
use crate::client::Client;

/// A JSON object being written: `{"key":value,...}`.
struct Obj(String);

impl Obj {
    fn new() -> Obj {
        Obj(String::from("{"))
    }
    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        string(&mut self.0, key);
        self.0.push(':');
        &mut self.0
    }
    fn str(mut self, key: &str, value: &str) -> Obj {
        string(self.key(key), value);
        self
    }
    fn opt_str(self, key: &str, value: Option<&str>) -> Obj {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }
    fn raw(mut self, key: &str, value: &str) -> Obj {
        self.key(key).push_str(value);
        self
    }
    fn opt_raw(self, key: &str, value: Option<String>) -> Obj {
        let text = value.unwrap_or_else(|| "null".into());
        self.raw(key, &text)
    }
    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn evidence(e: &FamilyEvidence) -> String {
    let mut services = String::from("[");
    for (i, s) in e.services.iter().enumerate() {
        if i > 0 {
            services.push(',');
        }
        string(&mut services, s);
    }
    services.push(']');
    Obj::new()
        .str("location", &e.location)
        .opt_str("server", e.server.as_deref())
        .raw("igd_version", &e.igd_version.to_string())
        .raw("services", &services)
        .str("local_addr", &e.local_addr.to_string())
        .end()
}

fn trial(t: &Trial) -> String {
    Obj::new()
        .raw("ok", &t.ok.to_string())
        .opt_raw("upnp_code", t.upnp_code.map(|c| c.to_string()))
        .str("detail", &t.detail)
        .raw("millis", &format!("{:.3}", t.millis))
        .end()
}

fn to_json(r: &CheckReport) -> String {
    Obj::new()
        .str("grade", &r.grade.letter().to_string())
        .str("meaning", r.grade.meaning())
        .str("reason", &r.reason)
        .opt_raw("v6_gateway", r.v6_gateway.as_ref().map(evidence))
        .opt_str("v6_discovery_error", r.v6_discovery_error.as_deref())
        .opt_raw("v4_gateway", r.v4_gateway.as_ref().map(evidence))
        .opt_str("v4_discovery_error", r.v4_discovery_error.as_deref())
        .opt_raw("firewall_enabled", r.firewall.map(|f| f.enabled.to_string()))
        .opt_raw("inbound_pinhole_allowed", r.firewall.map(|f| f.inbound_pinhole_allowed.to_string()))
        .opt_str("firewall_error", r.firewall_error.as_deref())
        .opt_raw("pinhole", r.pinhole.as_ref().map(trial))
        .opt_str("external_address", r.external_address.as_deref())
        .opt_str("external_class", r.external_class.as_deref())
        .opt_raw("mapping", r.mapping.as_ref().map(trial))
        .end()
}

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
            json.set(string_to_c(&to_json(&report)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Grade;

    #[test]
    fn report_is_compact_json_with_escaped_text() {
        let report = CheckReport {
            grade: Grade::D,
            reason: "no \"gateway\"\n".into(),
            v6_gateway: None,
            v6_discovery_error: Some("x".into()),
            v4_gateway: None,
            v4_discovery_error: None,
            firewall: None,
            firewall_error: None,
            pinhole: Some(Trial { ok: false, upnp_code: Some(606), detail: "no".into(), millis: 1.5 }),
            external_address: None,
            external_class: None,
            mapping: None,
        };
        let json = to_json(&report);
        assert!(
            json.starts_with(r#"{"grade":"D","meaning":"no answer to discovery","reason":"no \"gateway\"\n","v6_gateway":null,"v6_discovery_error":"x""#),
            "{json}"
        );
        assert!(json.contains(r#""pinhole":{"ok":false,"upnp_code":606,"detail":"no","millis":1.500}"#), "{json}");
        assert!(json.ends_with(r#""mapping":null}"#), "{json}");
    }
}
