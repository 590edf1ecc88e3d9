//! The fake router's state and how it answers each SOAP action: port mappings keyed by
//! (external port, protocol), pinholes by UniqueID, the IPv6 firewall flags; and descriptions.

use std::collections::BTreeMap;

use super::{Fault, Request, Ssdp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub internal_client: String,
    pub internal_port: u16,
    pub description: String,
    pub lease: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinhole {
    pub remote_host: String,
    pub remote_port: String,
    pub internal_client: String,
    pub internal_port: String,
    pub protocol: String,
    pub lease: u32,
}

/// The router's state; tests read and change it through `FakeIgd::model`.
pub struct Model {
    pub description: String,
    pub external_ip: String,
    pub firewall_enabled: bool,
    pub inbound_pinhole_allowed: bool,
    /// Refuse finite mapping leases with 725 OnlyPermanentLeasesSupported.
    pub permanent_only: bool,
    /// The code answered to UpdatePinhole/DeletePinhole for a UniqueID it does not hold: 704
    /// (the spec), 402 (miniupnpd 2.3.1), 501 (miniupnpd 2.3.9 and later).
    pub unknown_pinhole_code: u16,
    /// miniupnpd before 2.3.3: an AddPinhole of an existing tuple sets this lease, not the one
    /// asked (the source documents' bug 2; ~6700 s seen on 2.3.1 for 120 asked).
    pub add_existing_pinhole_lease: Option<u32>,
    pub mappings: BTreeMap<(u16, String), Mapping>,
    pub pinholes: BTreeMap<u16, Pinhole>,
    pub requests: Vec<Request>,
    pub ssdp: Ssdp,
    pub(super) next_id: u16,
    /// (action or "GET", fault, times left)
    pub(super) faults: Vec<(String, Fault, usize)>,
}

impl Model {
    pub(super) fn new() -> Model {
        Model {
            description: igd2_description(),
            external_ip: "11.0.0.1".into(),
            firewall_enabled: true,
            inbound_pinhole_allowed: true,
            permanent_only: false,
            unknown_pinhole_code: 704,
            add_existing_pinhole_lease: None,
            mappings: BTreeMap::new(),
            pinholes: BTreeMap::new(),
            requests: Vec::new(),
            ssdp: Ssdp::Normal,
            next_id: 1,
            faults: Vec::new(),
        }
    }
}

type Out = Vec<(&'static str, String)>;

impl Model {
    pub(super) fn handle(&mut self, action: &str, args: &[(String, String)]) -> Result<Out, u16> {
        let get = |name: &str| args.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).ok_or(402u16);
        let port = |name: &str| get(name)?.parse::<u16>().ok().filter(|p| *p != 0).ok_or(402u16);
        let number = |name: &str| get(name)?.parse::<u32>().map_err(|_| 402u16);
        match action {
            "GetExternalIPAddress" => Ok(vec![("NewExternalIPAddress", self.external_ip.clone())]),
            "AddPortMapping" | "AddAnyPortMapping" => {
                let (mut ext, proto) = (port("NewExternalPort")?, get("NewProtocol")?.to_string());
                let m = Mapping {
                    internal_client: get("NewInternalClient")?.to_string(),
                    internal_port: port("NewInternalPort")?,
                    description: get("NewPortMappingDescription")?.to_string(),
                    lease: number("NewLeaseDuration")?,
                };
                if self.permanent_only && m.lease != 0 {
                    return Err(725);
                }
                let taken = |s: &Self, p: u16| s.mappings.get(&(p, proto.clone())).is_some_and(|o| o.internal_client != m.internal_client);
                if action == "AddPortMapping" && taken(self, ext) {
                    return Err(718);
                }
                while taken(self, ext) {
                    ext = ext.checked_add(1).ok_or(728u16)?;
                }
                self.mappings.insert((ext, proto), m);
                Ok(if action == "AddAnyPortMapping" { vec![("NewReservedPort", ext.to_string())] } else { vec![] })
            }
            "GetSpecificPortMappingEntry" => {
                let m = self.mappings.get(&(port("NewExternalPort")?, get("NewProtocol")?.to_string())).ok_or(714u16)?;
                Ok(vec![
                    ("NewInternalPort", m.internal_port.to_string()),
                    ("NewInternalClient", m.internal_client.clone()),
                    ("NewEnabled", "1".into()),
                    ("NewPortMappingDescription", m.description.clone()),
                    ("NewLeaseDuration", m.lease.to_string()),
                ])
            }
            "DeletePortMapping" => self.mappings.remove(&(port("NewExternalPort")?, get("NewProtocol")?.to_string())).map(|_| vec![]).ok_or(714),
            "GetFirewallStatus" => Ok(vec![
                ("FirewallEnabled", (self.firewall_enabled as u8).to_string()),
                ("InboundPinholeAllowed", (self.inbound_pinhole_allowed as u8).to_string()),
            ]),
            "AddPinhole" => {
                if !self.firewall_enabled {
                    return Err(702);
                }
                if !self.inbound_pinhole_allowed {
                    return Err(703);
                }
                let p = Pinhole {
                    remote_host: get("RemoteHost")?.to_string(),
                    remote_port: get("RemotePort")?.to_string(),
                    internal_client: get("InternalClient")?.to_string(),
                    internal_port: port("InternalPort")?.to_string(),
                    protocol: get("Protocol")?.to_string(),
                    lease: number("LeaseTime")?,
                };
                // miniupnpd: the same tuple again updates the existing pinhole and returns its ID.
                let same = |o: &Pinhole| Pinhole { lease: p.lease, ..o.clone() } == p;
                let (id, p) = match self.pinholes.iter().find(|(_, o)| same(o)) {
                    Some((id, _)) => (*id, Pinhole { lease: self.add_existing_pinhole_lease.unwrap_or(p.lease), ..p }),
                    None => {
                        self.next_id += 1;
                        (self.next_id - 1, p)
                    }
                };
                self.pinholes.insert(id, p);
                Ok(vec![("UniqueID", id.to_string())])
            }
            "UpdatePinhole" => {
                let lease = number("NewLeaseTime")?;
                let p = self.pinholes.get_mut(&(number("UniqueID")? as u16)).ok_or(self.unknown_pinhole_code)?;
                p.lease = lease;
                Ok(vec![])
            }
            "DeletePinhole" => self.pinholes.remove(&(number("UniqueID")? as u16)).map(|_| vec![]).ok_or(self.unknown_pinhole_code),
            _ => Err(401),
        }
    }
}

// ---- descriptions -------------------------------------------------------------------------

/// A description with the given services (serviceType suffix, controlURL) in one WAN connection device.
pub fn description(igd: u8, url_base: Option<&str>, services: &[(&str, &str)]) -> String {
    let list: String = services
        .iter()
        .map(|(t, c)| format!("<service><serviceType>urn:schemas-upnp-org:service:{t}</serviceType><serviceId>urn:upnp-org:serviceId:{t}</serviceId><controlURL>{c}</controlURL></service>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\"><specVersion><major>1</major><minor>1</minor></specVersion>{}<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:{igd}</deviceType><friendlyName>Fake IGD</friendlyName><manufacturer>portopen tests</manufacturer><modelName>FakeIGD</modelName><UDN>uuid:fake-igd</UDN><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:{igd}</deviceType><UDN>uuid:fake-wan</UDN><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:{igd}</deviceType><UDN>uuid:fake-wcd</UDN><serviceList>{list}</serviceList></device></deviceList></device></deviceList></device></root>",
        url_base.map(|b| format!("<URLBase>{b}</URLBase>")).unwrap_or_default()
    )
}

/// An IGDv2 (miniupnpd's shape): WANIPConnection:2 and WANIPv6FirewallControl:1.
pub fn igd2_description() -> String {
    description(2, None, &[("WANIPConnection:2", "/ctl/IPConn"), ("WANIPv6FirewallControl:1", "/ctl/IP6FCtl")])
}

/// An IGDv1-only router: WANIPConnection:1, no pinholes, no AddAnyPortMapping.
pub fn igd1_description() -> String {
    description(1, None, &[("WANIPConnection:1", "/upnp/control/WANIPConn1")])
}
