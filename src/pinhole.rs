//! IPv6 firewall pinholes: the typed WANIPv6FirewallControl:1 actions. Requested over IPv6
//! only, addresses sent in RFC 5952 text, no argument ever empty where a port is meant.

use std::net::Ipv6Addr;

use crate::action::SoapAction;
use crate::addr::{ipv6_canonical, V6Scope};
use crate::cancel::Budget;
use crate::error::Error;
use crate::gateway::Gateway;
use crate::limits::PINHOLE_LEASE_MAX_SECS;
use crate::parse::soap::arg;
use crate::types::Protocol;

/// A.name() pinhole request (or what we know of one we made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinhole {
    /// Remote host allowed in (None: any).
    pub remote_host: Option<Ipv6Addr>,
    /// Remote port allowed (0: any; sent as "0", never empty: miniupnpd < 2.3.3 would read an
    /// empty *internal* port as a wildcard and open every port).
    pub remote_port: u16,
    /// This host's address the pinhole lets traffic in to (must be the address that asks, in secure mode).
    pub internal_client: Ipv6Addr,
    /// This host's port (never 0 or empty: see above).
    pub internal_port: u16,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// 1..=86400 seconds.
    pub lease_secs: u32,
}

/// GetFirewallStatus's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirewallStatus {
    /// False: the router's IPv6 firewall is off, inbound traffic already passes.
    pub enabled: bool,
    /// False: the router refuses pinholes until the user changes a setting.
    pub inbound_pinhole_allowed: bool,
}

fn parse_bool(action: &str, name: &str, text: Option<&str>) -> Result<bool, Error> {
    match text.map(str::trim) {
        Some("1") | Some("true") | Some("yes") => Ok(true),
        Some("0") | Some("false") | Some("no") => Ok(false),
        other => Err(Error::invalid_response(action, format!("{name} is {other:?}, not a boolean"))),
    }
}

fn parse_unique_id(action: &str, text: Option<&str>) -> Result<u16, Error> {
    let t = text.unwrap_or("").trim();
    t.parse::<u16>().map_err(|_| Error::invalid_response(action, format!("UniqueID '{}' is not a number 0..=65535", t.chars().take(24).collect::<String>())))
}

/// The pinhole's 5-tuple as SOAP arguments: RFC 5952 text, ports always numeric (a wildcard
/// remote port is "0", never empty).
fn tuple_args(p: &Pinhole) -> Vec<(&'static str, String)> {
    vec![
        ("RemoteHost", p.remote_host.map(|ip| ipv6_canonical(&ip)).unwrap_or_default()),
        ("RemotePort", p.remote_port.to_string()),
        ("InternalClient", ipv6_canonical(&p.internal_client)),
        ("InternalPort", p.internal_port.to_string()),
        ("Protocol", p.protocol.iana_number().to_string()),
    ]
}

fn check_client(p: &Pinhole) -> Result<(), Error> {
    if V6Scope::of(&p.internal_client) == V6Scope::Unusable {
        return Err(Error::InvalidArgument(format!(
            "InternalClient {} cannot receive inbound traffic (link-local, loopback or not unicast)",
            p.internal_client
        )));
    }
    if p.internal_port < 1024 {
        return Err(Error::InvalidArgument(format!("internal port {} is below 1024; pinholes are for game ports 1024..=65535", p.internal_port)));
    }
    Ok(())
}

impl Gateway {
    /// GetFirewallStatus.
    pub fn firewall_status(&self, budget: &Budget) -> Result<FirewallStatus, Error> {
        const A: SoapAction = SoapAction::GetFirewallStatus;
        let out = self.call(self.firewall_service(A.name())?, A, &[], budget)?;
        Ok(FirewallStatus {
            enabled: parse_bool(A.name(), "FirewallEnabled", arg(&out, "FirewallEnabled"))?,
            inbound_pinhole_allowed: parse_bool(A.name(), "InboundPinholeAllowed", arg(&out, "InboundPinholeAllowed"))?,
        })
    }

    /// GetOutboundPinholeTimeout (501 on miniupnpd 2.3.1 for a wildcard remote).
    pub fn outbound_pinhole_timeout(&self, p: &Pinhole, budget: &Budget) -> Result<u32, Error> {
        const A: SoapAction = SoapAction::GetOutboundPinholeTimeout;
        check_client(p)?;
        let args = tuple_args(p);
        let out = self.call(self.firewall_service(A.name())?, A, &args, budget)?;
        let t = arg(&out, "OutboundPinholeTimeout").unwrap_or("").trim();
        t.parse().map_err(|_| Error::invalid_response(A.name(), format!("OutboundPinholeTimeout '{t}' is not a number")))
    }

    /// AddPinhole. Returns the router's UniqueID.
    pub fn add_pinhole(&self, p: &Pinhole, budget: &Budget) -> Result<u16, Error> {
        const A: SoapAction = SoapAction::AddPinhole;
        check_client(p)?;
        if p.lease_secs == 0 || p.lease_secs > PINHOLE_LEASE_MAX_SECS {
            return Err(Error::InvalidArgument(format!("pinhole lease must be 1..={PINHOLE_LEASE_MAX_SECS} s, not {}", p.lease_secs)));
        }
        let mut args = tuple_args(p);
        args.push(("LeaseTime", p.lease_secs.to_string()));
        let out = self.call(self.firewall_service(A.name())?, A, &args, budget)?;
        parse_unique_id(A.name(), arg(&out, "UniqueID"))
    }

    /// UpdatePinhole: extend a pinhole's lease. (Not AddPinhole again: miniupnpd before 2.3.3
    /// sets a wrong lease when AddPinhole updates an existing pinhole.)
    pub fn update_pinhole(&self, id: u16, lease_secs: u32, budget: &Budget) -> Result<(), Error> {
        const A: SoapAction = SoapAction::UpdatePinhole;
        if lease_secs == 0 || lease_secs > PINHOLE_LEASE_MAX_SECS {
            return Err(Error::InvalidArgument(format!("pinhole lease must be 1..={PINHOLE_LEASE_MAX_SECS} s, not {lease_secs}")));
        }
        let args = [("UniqueID", id.to_string()), ("NewLeaseTime", lease_secs.to_string())];
        self.call(self.firewall_service(A.name())?, A, &args, budget).map(|_| ())
    }

    /// DeletePinhole.
    pub fn delete_pinhole(&self, id: u16, budget: &Budget) -> Result<(), Error> {
        const A: SoapAction = SoapAction::DeletePinhole;
        self.call(self.firewall_service(A.name())?, A, &[("UniqueID", id.to_string())], budget).map(|_| ())
    }

    /// GetPinholePackets: packets that went through the pinhole.
    pub fn pinhole_packets(&self, id: u16, budget: &Budget) -> Result<u32, Error> {
        const A: SoapAction = SoapAction::GetPinholePackets;
        let out = self.call(self.firewall_service(A.name())?, A, &[("UniqueID", id.to_string())], budget)?;
        let t = arg(&out, "PinholePackets").unwrap_or("").trim();
        t.parse().map_err(|_| Error::invalid_response(A.name(), format!("PinholePackets '{t}' is not a number")))
    }

    /// CheckPinholeWorking.
    pub fn check_pinhole_working(&self, id: u16, budget: &Budget) -> Result<bool, Error> {
        const A: SoapAction = SoapAction::CheckPinholeWorking;
        let out = self.call(self.firewall_service(A.name())?, A, &[("UniqueID", id.to_string())], budget)?;
        parse_bool(A.name(), "IsWorking", arg(&out, "IsWorking"))
    }
}
