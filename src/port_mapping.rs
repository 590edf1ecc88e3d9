//! IPv4 port mappings: the typed WANIPConnection:1/2 (and WANPPPConnection:1) actions, and
//! `map_port`, which gets a working mapping from IGDv2 and IGDv1 routers alike.

use std::net::Ipv4Addr;

use crate::action::{Fault, SoapAction};
use crate::addr::ExternalAddress;
use crate::cancel::Budget;
use crate::error::Error;
use crate::gateway::{Gateway, ServiceKind};
use crate::limits::{MAPPING_CONFLICT_TRIES, MAPPING_LEASE_MAX_SECS, MAPPING_PORT_FLOOR};
use crate::parse::soap::arg;
use crate::types::Protocol;

/// An IPv4 port mapping as the router holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMapping {
    /// Remote host the mapping is limited to (None: any).
    pub remote_host: Option<Ipv4Addr>,
    /// The router's port peers send to.
    pub external_port: u16,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// This host's port the router forwards to.
    pub internal_port: u16,
    /// This host's address the router forwards to.
    pub internal_client: Ipv4Addr,
    /// Whether the router has the mapping switched on.
    pub enabled: bool,
    /// The mapping's description (portopen's own, checked before a leftover is deleted).
    pub description: String,
    /// Lease in seconds (0: permanent, only on routers that refuse finite leases).
    pub lease_secs: u32,
}

/// GetStatusInfo's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusInfo {
    /// "Connected" when the WAN link is up.
    pub connection_status: String,
    /// The router's last connection error ("ERROR_NONE" when none).
    pub last_connection_error: String,
    /// Seconds the WAN connection has been up.
    pub uptime_secs: u64,
}

fn port_arg(port: u16, what: &str) -> Result<String, Error> {
    if port == 0 {
        return Err(Error::InvalidArgument(format!("{what} must be 1..=65535, not 0")));
    }
    Ok(port.to_string())
}

fn remote_arg(remote: Option<Ipv4Addr>) -> String {
    remote.map(|ip| ip.to_string()).unwrap_or_default()
}

fn parse_u16(action: &str, name: &str, text: Option<&str>) -> Result<u16, Error> {
    let t = text.ok_or_else(|| Error::invalid_response(action, format!("no {name}")))?;
    match t.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(Error::invalid_response(action, format!("{name} '{t}' is not a port 1..=65535"))),
    }
}

impl Gateway {
    /// GetExternalIPAddress, classified. An empty answer is [`ExternalAddress::None`], not an error.
    pub fn external_address(&self, budget: &Budget) -> Result<ExternalAddress, Error> {
        const A: SoapAction = SoapAction::GetExternalIpAddress;
        let service = self.wan_service(A.name())?;
        let out = self.call(service, A, &[], budget)?;
        let text = arg(&out, "NewExternalIPAddress").unwrap_or("").trim();
        if text.is_empty() {
            return Ok(ExternalAddress::None);
        }
        let ip =
            text.parse().map_err(|_| Error::invalid_response(A.name(), format!("'{}' is not an IP address", text.chars().take(48).collect::<String>())))?;
        Ok(ExternalAddress::classify(Some(ip)))
    }

    /// GetStatusInfo.
    pub fn status_info(&self, budget: &Budget) -> Result<StatusInfo, Error> {
        const A: SoapAction = SoapAction::GetStatusInfo;
        let out = self.call(self.wan_service(A.name())?, A, &[], budget)?;
        Ok(StatusInfo {
            connection_status: arg(&out, "NewConnectionStatus").unwrap_or("").to_string(),
            last_connection_error: arg(&out, "NewLastConnectionError").unwrap_or("").to_string(),
            uptime_secs: arg(&out, "NewUptime").and_then(|u| u.parse().ok()).unwrap_or(0),
        })
    }

    fn mapping_args(m: &PortMapping) -> Result<Vec<(&'static str, String)>, Error> {
        if m.lease_secs > MAPPING_LEASE_MAX_SECS {
            return Err(Error::InvalidArgument(format!("mapping lease {} s exceeds the IGDv2 maximum {MAPPING_LEASE_MAX_SECS} s", m.lease_secs)));
        }
        if m.internal_client.is_unspecified() || m.internal_client.is_multicast() || m.internal_client.is_broadcast() {
            return Err(Error::InvalidArgument(format!("InternalClient {} is not a host address", m.internal_client)));
        }
        Ok(vec![
            ("NewRemoteHost", remote_arg(m.remote_host)),
            ("NewExternalPort", port_arg(m.external_port, "external port")?),
            ("NewProtocol", m.protocol.upnp_name().to_string()),
            ("NewInternalPort", port_arg(m.internal_port, "internal port")?),
            ("NewInternalClient", m.internal_client.to_string()),
            ("NewEnabled", if m.enabled { "1" } else { "0" }.to_string()),
            ("NewPortMappingDescription", m.description.clone()),
            ("NewLeaseDuration", m.lease_secs.to_string()),
        ])
    }

    /// AddPortMapping, exactly as given (no retries).
    pub fn add_port_mapping(&self, m: &PortMapping, budget: &Budget) -> Result<(), Error> {
        const A: SoapAction = SoapAction::AddPortMapping;
        let args = Self::mapping_args(m)?;
        self.call(self.wan_service(A.name())?, A, &args, budget).map(|_| ())
    }

    /// AddAnyPortMapping (WANIPConnection:2): the router picks a free external port, close to
    /// the one asked. Returns the port it reserved.
    pub fn add_any_port_mapping(&self, m: &PortMapping, budget: &Budget) -> Result<u16, Error> {
        const A: SoapAction = SoapAction::AddAnyPortMapping;
        let service = self.wan_service(A.name())?;
        if service.kind != ServiceKind::WanIpConnection2 {
            return Err(Error::NotSupported(format!("{} needs WANIPConnection:2; the gateway offers {}", A.name(), service.kind.name())));
        }
        let args = Self::mapping_args(m)?;
        let out = self.call(service, A, &args, budget)?;
        parse_u16(A.name(), "NewReservedPort", arg(&out, "NewReservedPort"))
    }

    /// DeletePortMapping.
    pub fn delete_port_mapping(&self, remote_host: Option<Ipv4Addr>, external_port: u16, protocol: Protocol, budget: &Budget) -> Result<(), Error> {
        const A: SoapAction = SoapAction::DeletePortMapping;
        let args = [
            ("NewRemoteHost", remote_arg(remote_host)),
            ("NewExternalPort", port_arg(external_port, "external port")?),
            ("NewProtocol", protocol.upnp_name().to_string()),
        ];
        self.call(self.wan_service(A.name())?, A, &args, budget).map(|_| ())
    }

    /// DeletePortMappingRange (WANIPConnection:2). `manage` false deletes only this host's.
    pub fn delete_port_mapping_range(&self, start: u16, end: u16, protocol: Protocol, manage: bool, budget: &Budget) -> Result<(), Error> {
        const A: SoapAction = SoapAction::DeletePortMappingRange;
        let service = self.wan_service(A.name())?;
        if service.kind != ServiceKind::WanIpConnection2 {
            return Err(Error::NotSupported(format!("{} needs WANIPConnection:2", A.name())));
        }
        if start > end {
            return Err(Error::InvalidArgument(format!("port range {start}-{end} is empty")));
        }
        let args = [
            ("NewStartPort", port_arg(start, "start port")?),
            ("NewEndPort", port_arg(end, "end port")?),
            ("NewProtocol", protocol.upnp_name().to_string()),
            ("NewManage", if manage { "1" } else { "0" }.to_string()),
        ];
        self.call(service, A, &args, budget).map(|_| ())
    }

    fn entry_from_args(action: &str, out: &[(String, String)], external_port: Option<u16>, protocol: Option<Protocol>) -> Result<PortMapping, Error> {
        let get = |n: &str| arg(out, n);
        let remote = get("NewRemoteHost").unwrap_or("").trim();
        let remote_host = if remote.is_empty() {
            None
        } else {
            Some(remote.parse().map_err(|_| Error::invalid_response(action, format!("NewRemoteHost '{remote}' is not IPv4")))?)
        };
        let external_port = match external_port {
            Some(p) => p,
            None => parse_u16(action, "NewExternalPort", get("NewExternalPort"))?,
        };
        let protocol = match protocol {
            Some(p) => p,
            None => get("NewProtocol").and_then(Protocol::parse).ok_or_else(|| Error::invalid_response(action, "bad NewProtocol"))?,
        };
        let client = get("NewInternalClient").unwrap_or("").trim();
        Ok(PortMapping {
            remote_host,
            external_port,
            protocol,
            internal_port: parse_u16(action, "NewInternalPort", get("NewInternalPort"))?,
            internal_client: client.parse().map_err(|_| Error::invalid_response(action, format!("NewInternalClient '{client}' is not IPv4")))?,
            enabled: get("NewEnabled").map(|e| e.trim() == "1" || e.trim().eq_ignore_ascii_case("true")).unwrap_or(false),
            description: get("NewPortMappingDescription").unwrap_or("").to_string(),
            lease_secs: get("NewLeaseDuration").and_then(|l| l.trim().parse().ok()).unwrap_or(0),
        })
    }

    /// GetSpecificPortMappingEntry: the mapping as the router holds it now (lease read back).
    pub fn get_specific_port_mapping(
        &self,
        remote_host: Option<Ipv4Addr>,
        external_port: u16,
        protocol: Protocol,
        budget: &Budget,
    ) -> Result<PortMapping, Error> {
        const A: SoapAction = SoapAction::GetSpecificPortMappingEntry;
        let args = [
            ("NewRemoteHost", remote_arg(remote_host)),
            ("NewExternalPort", port_arg(external_port, "external port")?),
            ("NewProtocol", protocol.upnp_name().to_string()),
        ];
        let out = self.call(self.wan_service(A.name())?, A, &args, budget)?;
        let mut m = Self::entry_from_args(A.name(), &out, Some(external_port), Some(protocol))?;
        m.remote_host = remote_host;
        Ok(m)
    }

    /// GetGenericPortMappingEntry by index (713/714 past the end).
    pub fn get_generic_port_mapping(&self, index: u32, budget: &Budget) -> Result<PortMapping, Error> {
        const A: SoapAction = SoapAction::GetGenericPortMappingEntry;
        let out = self.call(self.wan_service(A.name())?, A, &[("NewPortMappingIndex", index.to_string())], budget)?;
        Self::entry_from_args(A.name(), &out, None, None)
    }

    /// Every port mapping the router lists (GetGenericPortMappingEntry from index 0 until the
    /// end of the list), at most `LIST_MAX_ENTRIES`: works on IGDv1 and IGDv2, and no answer
    /// can outgrow `SOAP_BODY_MAX` as a GetListOfPortMappings of many entries can.
    pub fn port_mappings(&self, budget: &Budget) -> Result<Vec<PortMapping>, Error> {
        let mut list = Vec::new();
        for index in 0..crate::limits::LIST_MAX_ENTRIES {
            match self.get_generic_port_mapping(index, budget) {
                Ok(m) => list.push(m),
                Err(e) if e.is_gone() => return Ok(list),
                Err(e) => return Err(e),
            }
        }
        log::debug!("port mapping list cut at {} entries", list.len());
        Ok(list)
    }

    /// GetListOfPortMappings (WANIPConnection:2).
    pub fn list_port_mappings(&self, start: u16, end: u16, protocol: Protocol, manage: bool, max: u16, budget: &Budget) -> Result<Vec<PortMapping>, Error> {
        const A: SoapAction = SoapAction::GetListOfPortMappings;
        let service = self.wan_service(A.name())?;
        if service.kind != ServiceKind::WanIpConnection2 {
            return Err(Error::NotSupported(format!("{} needs WANIPConnection:2", A.name())));
        }
        let args = [
            ("NewStartPort", port_arg(start, "start port")?),
            ("NewEndPort", port_arg(end, "end port")?),
            ("NewProtocol", protocol.upnp_name().to_string()),
            ("NewManage", if manage { "1" } else { "0" }.to_string()),
            ("NewNumberOfPorts", max.to_string()),
        ];
        let out = self.call(service, A, &args, budget)?;
        let listing = crate::parse::port_listing::parse(arg(&out, "NewPortListing").unwrap_or("")).map_err(|e| Error::invalid_response(A.name(), e.0))?;
        listing
            .into_iter()
            .map(|e| {
                let args = vec![
                    ("NewRemoteHost".to_string(), e.remote_host),
                    ("NewExternalPort".to_string(), e.external_port),
                    ("NewProtocol".to_string(), e.protocol),
                    ("NewInternalPort".to_string(), e.internal_port),
                    ("NewInternalClient".to_string(), e.internal_client),
                    ("NewEnabled".to_string(), e.enabled),
                    ("NewPortMappingDescription".to_string(), e.description),
                    ("NewLeaseDuration".to_string(), e.lease_time),
                ];
                Self::entry_from_args(A.name(), &args, None, None)
            })
            .collect()
    }

    /// Get a working mapping for `wanted` (its external port is a wish), on IGDv2 and IGDv1:
    /// AddAnyPortMapping when offered; otherwise AddPortMapping, trying other ports on 718
    /// (never below 1024); a router refusing finite leases (725, or 402 on the lease) gets
    /// lease 0. The lease the router really granted is read back, not assumed.
    pub fn map_port(&self, wanted: &PortMapping, budget: &Budget) -> Result<PortMapping, Error> {
        let m = self.add_mapping(wanted, budget)?;
        self.read_back(&m, budget)
    }

    /// The adding half of [`Gateway::map_port`], without the read-back: the router's success
    /// answer is its confirmation; [`Gateway::read_back`] checks it later, off the critical path.
    pub fn add_mapping(&self, wanted: &PortMapping, budget: &Budget) -> Result<PortMapping, Error> {
        let service = self.wan_service("AddPortMapping")?;
        let mut m = wanted.clone();
        if service.kind == ServiceKind::WanIpConnection2 {
            match self.add_any_port_mapping(&m, budget) {
                Ok(port) => m.external_port = port,
                Err(e) if e.fault() == Some(Fault::OnlyPermanent) => {
                    log::info!("AddAnyPortMapping refused a {} s lease ({e}); asking for a permanent one, deleted on close", m.lease_secs);
                    m.lease_secs = 0;
                    m.external_port = self.add_any_port_mapping(&m, budget)?;
                }
                Err(e) if e.fault() == Some(Fault::NotImplemented) => {
                    log::info!("AddAnyPortMapping not implemented ({e}): falling back to AddPortMapping");
                    self.add_with_retries(&mut m, budget)?;
                }
                Err(e) if e.fault() == Some(Fault::NoPorts) => return self.why_no_ports(m, e, budget),
                Err(e) => return Err(e),
            }
        } else {
            self.add_with_retries(&mut m, budget)?;
        }
        Ok(m)
    }

    /// After AddAnyPortMapping answered 728 (no free port mappings): ask AddPortMapping for the
    /// port wanted, whose answer tells the real reason. miniupnpd (2.3.1, 2.3.9) answers 728 to
    /// AddAnyPortMapping when its permission rules refuse the request on every external port it
    /// tries (e.g. internal port 80 where only 1024-65535 is allowed), while AddPortMapping
    /// answers 606 for the same request, as upnpc reports. A 606 is returned as the reason; a
    /// success is a mapping (the 728 was wrong); anything else (718: that port is taken) leaves
    /// the 728 as the answer.
    fn why_no_ports(&self, m: PortMapping, no_ports: Error, budget: &Budget) -> Result<PortMapping, Error> {
        match self.add_port_mapping(&m, budget) {
            Ok(()) => {
                log::info!("{no_ports}; AddPortMapping of port {} then succeeded", m.external_port);
                Ok(m)
            }
            Err(e) if e.fault() == Some(Fault::NotAuthorized) => {
                log::debug!("{no_ports}; AddPortMapping says why: {e}");
                Err(e)
            }
            Err(e) => {
                log::debug!("{no_ports}; AddPortMapping of port {} answered {e}", m.external_port);
                Err(no_ports)
            }
        }
    }

    /// Read back what the router holds for a mapping just made (that it exists, points to us,
    /// and its lease). Returns the mapping with the lease the router reports.
    pub fn read_back(&self, m: &PortMapping, budget: &Budget) -> Result<PortMapping, Error> {
        let mut m = m.clone();
        match self.get_specific_port_mapping(m.remote_host, m.external_port, m.protocol, budget) {
            Ok(held) => {
                if held.internal_client != m.internal_client || held.internal_port != m.internal_port {
                    return Err(Error::invalid_response(
                        "AddPortMapping",
                        format!("router reports port {} mapped to {}:{}, not to us", m.external_port, held.internal_client, held.internal_port),
                    ));
                }
                if held.lease_secs == 0 && m.lease_secs != 0 {
                    // A missing or unreadable NewLeaseDuration reads as 0 ("permanent"); believing
                    // it would stop renewals and let a finite lease run out. Renewing a mapping
                    // that really is permanent only costs an exchange.
                    log::debug!("router reports no lease for port {} (asked {} s); keeping {} s", m.external_port, m.lease_secs, m.lease_secs);
                } else {
                    if held.lease_secs != m.lease_secs {
                        log::debug!("router granted a {} s lease for port {} (asked {})", held.lease_secs, m.external_port, m.lease_secs);
                    }
                    m.lease_secs = held.lease_secs;
                }
                Ok(m)
            }
            Err(e) if e.is_gone() => {
                Err(Error::invalid_response("AddPortMapping", format!("router said success but holds no mapping for port {}", m.external_port)))
            }
            Err(e) => {
                log::debug!("could not read back mapping {}: {e}; trusting the reply", m.external_port);
                Ok(m)
            }
        }
    }

    fn add_with_retries(&self, m: &mut PortMapping, budget: &Budget) -> Result<(), Error> {
        let first = m.external_port;
        let mut tries = 0;
        loop {
            match self.add_port_mapping(m, budget) {
                Ok(()) => return Ok(()),
                Err(e) if e.fault() == Some(Fault::OnlyPermanent) && m.lease_secs != 0 => {
                    log::info!("AddPortMapping refused a {} s lease ({e}); asking for a permanent one, deleted on close", m.lease_secs);
                    m.lease_secs = 0;
                }
                Err(e) if e.fault() == Some(Fault::Taken) && tries < MAPPING_CONFLICT_TRIES => {
                    tries += 1;
                    m.external_port = next_candidate_port(first, tries);
                    log::debug!("external port taken (718); trying {}", m.external_port);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The n-th alternative external port after `first` conflicted: spread upward, wrapping to
/// stay within 1024..=65535.
fn next_candidate_port(first: u16, n: u32) -> u16 {
    let span = (65535 - MAPPING_PORT_FLOOR as u32) + 1;
    let base = first.max(MAPPING_PORT_FLOOR) as u32 - MAPPING_PORT_FLOOR as u32;
    let offset = n * 7 + n * n; // 8, 18, 30, ... skips neighbours another LAN host may also want
    (MAPPING_PORT_FLOOR as u32 + (base + offset) % span) as u16
}

#[cfg(test)]
mod tests {
    use super::next_candidate_port;

    #[test]
    fn alternative_ports_stay_at_or_above_1024() {
        for first in [1u16, 80, 1024, 40000, 65535] {
            for n in 1..=8 {
                let p = next_candidate_port(first, n);
                assert!(p >= 1024, "{first} try {n} -> {p}");
                assert_ne!(p, first);
            }
        }
    }
}
