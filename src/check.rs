//! The working group's router grading: discover over both families, read the IPv6 firewall's
//! flags, try a short-lived pinhole and mapping, remove them, and grade the router —
//! A: pinholes usable as delivered; B: usable after changing a router setting;
//! C: answers discovery but pinholes unusable; D: no answer to discovery — with the evidence.

use std::net::IpAddr;
use std::time::Instant;

use crate::action::Fault;
use crate::addr::ExternalAddress;
use crate::client::Client;
use crate::error::Error;
use crate::gateway::Gateway;
use crate::json::Json;
use crate::limits::{CHECK_LEASE_SECS, CHECK_PORT_BASE};
use crate::pinhole::{FirewallStatus, Pinhole};
use crate::port_mapping::PortMapping;
use crate::types::{Family, Protocol};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// The JAIPA IPv6 UPnP working group's router grade (its verified-router list uses it).
pub enum Grade {
    /// A: the pinhole function works as the router is delivered.
    A,
    /// B: it works after changing a router setting (firewall or inbound pinholes off).
    B,
    /// C: the router answers discovery, but pinholes cannot be opened.
    C,
    /// D: nothing answers discovery.
    D,
}

impl Grade {
    /// The grade's letter.
    pub fn letter(self) -> char {
        match self {
            Grade::A => 'A',
            Grade::B => 'B',
            Grade::C => 'C',
            Grade::D => 'D',
        }
    }
    /// The grade's meaning, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            Grade::A => "IPv6 pinholes usable as delivered",
            Grade::B => "IPv6 pinholes usable after changing a router setting",
            Grade::C => "answers discovery, but IPv6 pinholes are unusable",
            Grade::D => "no answer to discovery",
        }
    }
}

/// What one trial action did.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The router did what was asked.
    pub ok: bool,
    /// The UPnP error code the router answered, if it refused.
    pub upnp_code: Option<u16>,
    /// What happened, in words.
    pub detail: String,
    /// How long the action took, in milliseconds.
    pub millis: f64,
}

/// Evidence about one family's gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyEvidence {
    /// The gateway's description URL (LOCATION).
    pub location: String,
    /// Its SERVER header (OS, UPnP version, product), when it sent one.
    pub server: Option<String>,
    /// 1 or 2: the InternetGatewayDevice version it describes.
    pub igd_version: u8,
    /// The WAN and firewall services it offers.
    pub services: Vec<String>,
    /// This host's address toward it.
    pub local_addr: IpAddr,
}

/// The report.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// The grade.
    pub grade: Grade,
    /// Why this grade, in one sentence.
    pub reason: String,
    /// The IPv6 gateway found, if any.
    pub v6_gateway: Option<FamilyEvidence>,
    /// Why no IPv6 gateway was found.
    pub v6_discovery_error: Option<String>,
    /// The IPv4 gateway found, if any.
    pub v4_gateway: Option<FamilyEvidence>,
    /// Why no IPv4 gateway was found.
    pub v4_discovery_error: Option<String>,
    /// GetFirewallStatus's answer (firewall on, inbound pinholes allowed).
    pub firewall: Option<FirewallStatus>,
    /// Why the firewall status could not be read.
    pub firewall_error: Option<String>,
    /// The trial pinhole: added, then deleted.
    pub pinhole: Option<Trial>,
    /// The IPv4 external address the router reports.
    pub external_address: Option<String>,
    /// The class of the IPv4 external address ("public", "private", "shared (100.64/10, CGNAT)", ...).
    pub external_class: Option<String>,
    /// The trial IPv4 mapping: added, then deleted.
    pub mapping: Option<Trial>,
}

fn evidence(gw: &Gateway) -> FamilyEvidence {
    let mut services: Vec<String> = gw.wan_candidates.iter().map(|s| s.kind.name().to_string()).collect();
    if let Some(fw) = &gw.firewall {
        services.push(fw.kind.name().to_string());
    }
    FamilyEvidence { location: gw.location.to_string(), server: gw.server.clone(), igd_version: gw.igd_version(), services, local_addr: gw.local_addr }
}

fn trial(result: Result<String, Error>, started: Instant) -> Trial {
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(detail) => Trial { ok: true, upnp_code: None, detail, millis },
        Err(e) => Trial { ok: false, upnp_code: e.upnp_code(), detail: e.to_string(), millis },
    }
}

/// A test port unlikely to clash with the game's own (overridable).
fn test_port(port: u16) -> u16 {
    if port != 0 {
        return port;
    }
    CHECK_PORT_BASE + (std::process::id() % 1000) as u16
}

impl Client {
    /// Grade the router. `port` is the port the trial pinhole and mapping use (0: a high port
    /// picked for this process). Everything tried is removed before returning.
    pub fn check(&self, port: u16) -> CheckReport {
        let port = test_port(port);
        let (v6, v4) = std::thread::scope(|s| {
            let t4 = s.spawn(|| self.discover(Family::V4));
            let v6 = self.discover(Family::V6);
            (v6, t4.join().unwrap_or_else(|_| Err(Error::NoGateway("IPv4 discovery thread panicked".into()))))
        });
        // Reads and adds stop on the client's cancel; the deletes of what was added do not.
        let budget = || self.budget();
        let mut report = CheckReport {
            grade: Grade::D,
            reason: String::new(),
            v6_gateway: v6.as_ref().ok().map(evidence),
            v6_discovery_error: v6.as_ref().err().map(|e| e.to_string()),
            v4_gateway: v4.as_ref().ok().map(evidence),
            v4_discovery_error: v4.as_ref().err().map(|e| e.to_string()),
            firewall: None,
            firewall_error: None,
            pinhole: None,
            external_address: None,
            external_class: None,
            mapping: None,
        };

        if let Ok(gw) = &v4 {
            if gw.wan.is_some() {
                match gw.external_address(&budget()) {
                    Ok(ExternalAddress::V4(ip, class)) => {
                        report.external_address = Some(ip.to_string());
                        report.external_class = Some(class.name().to_string());
                    }
                    Ok(ExternalAddress::V6(ip)) => report.external_address = Some(ip.to_string()),
                    Ok(ExternalAddress::None) => report.external_class = Some("none (empty answer)".into()),
                    Err(e) => report.external_class = Some(format!("unknown: {e}")),
                }
                if let IpAddr::V4(local) = gw.local_addr {
                    let started = Instant::now();
                    let wanted = PortMapping {
                        remote_host: None,
                        external_port: port,
                        protocol: Protocol::Udp,
                        internal_port: port,
                        internal_client: local,
                        enabled: true,
                        description: format!("{} check", self.config().description),
                        lease_secs: CHECK_LEASE_SECS,
                    };
                    let result = gw.map_port(&wanted, &budget()).and_then(|m| {
                        gw.delete_port_mapping(None, m.external_port, m.protocol, &self.closing_budget())?;
                        Ok(format!("mapped external port {} (lease {} s) and removed it", m.external_port, m.lease_secs))
                    });
                    report.mapping = Some(trial(result, started));
                }
            }
        }

        let Ok(gw) = &v6 else {
            (report.grade, report.reason) = if v4.is_ok() {
                (Grade::C, "a gateway answered over IPv4 but none over IPv6: no IPv6 pinhole control".to_string())
            } else {
                (Grade::D, "no UPnP gateway answered discovery over IPv4 or IPv6".to_string())
            };
            return report;
        };
        if gw.firewall.is_none() {
            report.grade = Grade::C;
            report.reason = "the IPv6 gateway offers no WANIPv6FirewallControl:1 service".into();
            return report;
        }
        match gw.firewall_status(&budget()) {
            Ok(st) => report.firewall = Some(st),
            Err(e) => report.firewall_error = Some(e.to_string()),
        }
        if let Some(st) = report.firewall {
            if !st.enabled {
                report.grade = Grade::A;
                report.reason = "the IPv6 firewall is off: inbound traffic passes without pinholes".into();
                return report;
            }
            if !st.inbound_pinhole_allowed {
                report.grade = Grade::B;
                report.reason = "the router refuses inbound pinholes (InboundPinholeAllowed=0) until the user enables them".into();
                return report;
            }
        }
        let IpAddr::V6(client) = gw.local_addr else {
            report.grade = Grade::C;
            report.reason = "no IPv6 address toward the gateway".into();
            return report;
        };
        let started = Instant::now();
        let p =
            Pinhole { remote_host: None, remote_port: 0, internal_client: client, internal_port: port, protocol: Protocol::Udp, lease_secs: CHECK_LEASE_SECS };
        let result = gw.add_pinhole(&p, &budget()).and_then(|id| {
            gw.delete_pinhole(id, &self.closing_budget())?;
            Ok(format!("added pinhole {id} for [{client}]:{port}/UDP and removed it"))
        });
        let fault = result.as_ref().err().and_then(Error::fault);
        let t = trial(result, started);
        (report.grade, report.reason) = match (t.ok, fault) {
            (true, _) => (Grade::A, "an IPv6 pinhole was added and removed as delivered".to_string()),
            (false, Some(Fault::NotAuthorized)) => {
                (Grade::B, "AddPinhole not authorized (606): the router must be set to allow UPnP pinhole control for this host".to_string())
            }
            (false, Some(Fault::PinholesNotAllowed)) => {
                (Grade::B, "AddPinhole refused: inbound pinholes not allowed (703) until the user enables them".to_string())
            }
            (false, Some(Fault::FirewallDisabled)) => (Grade::A, "the IPv6 firewall is off (702): inbound traffic passes without pinholes".to_string()),
            (false, _) => (Grade::C, format!("the gateway answers but AddPinhole failed: {}", t.detail)),
        };
        report.pinhole = Some(t);
        report
    }
}

fn evidence_json(e: &FamilyEvidence) -> Json {
    Json::Obj(vec![
        ("location", Json::s(&e.location)),
        ("server", Json::opt(e.server.as_deref(), Json::s)),
        ("igd_version", Json::Num(e.igd_version.into())),
        ("services", Json::Arr(e.services.iter().map(Json::s).collect())),
        ("local_addr", Json::s(e.local_addr.to_string())),
    ])
}

fn trial_json(t: &Trial) -> Json {
    Json::Obj(vec![
        ("ok", Json::Bool(t.ok)),
        ("upnp_code", Json::opt(t.upnp_code, |c| Json::Num(c.into()))),
        ("detail", Json::s(&t.detail)),
        ("millis", Json::Num(t.millis)),
    ])
}

impl CheckReport {
    /// The report as one compact JSON object (the C API's `report_json`, the CLI's `--json`).
    pub fn to_json(&self) -> String {
        let r = self;
        let text = |v: Option<&String>| Json::opt(v, Json::s);
        Json::Obj(vec![
            ("grade", Json::s(r.grade.letter().to_string())),
            ("meaning", Json::s(r.grade.meaning())),
            ("reason", Json::s(&r.reason)),
            ("v6_gateway", Json::opt(r.v6_gateway.as_ref(), evidence_json)),
            ("v6_discovery_error", text(r.v6_discovery_error.as_ref())),
            ("v4_gateway", Json::opt(r.v4_gateway.as_ref(), evidence_json)),
            ("v4_discovery_error", text(r.v4_discovery_error.as_ref())),
            ("firewall_enabled", Json::opt(r.firewall, |f| Json::Bool(f.enabled))),
            ("inbound_pinhole_allowed", Json::opt(r.firewall, |f| Json::Bool(f.inbound_pinhole_allowed))),
            ("firewall_error", text(r.firewall_error.as_ref())),
            ("pinhole", Json::opt(r.pinhole.as_ref(), trial_json)),
            ("external_address", text(r.external_address.as_ref())),
            ("external_class", text(r.external_class.as_ref())),
            ("mapping", Json::opt(r.mapping.as_ref(), trial_json)),
        ])
        .line()
    }
}

#[cfg(test)]
mod tests {
    use super::{CheckReport, Grade, Trial};

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
        let json = report.to_json();
        assert!(
            json.starts_with(r#"{"grade":"D","meaning":"no answer to discovery","reason":"no \"gateway\"\n","v6_gateway":null,"v6_discovery_error":"x""#),
            "{json}"
        );
        assert!(json.contains(r#""pinhole":{"ok":false,"upnp_code":606,"detail":"no","millis":1.500}"#), "{json}");
        assert!(json.ends_with(r#""mapping":null}"#), "{json}");
    }
}
