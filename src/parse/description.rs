//! UPnP device description (rootDesc.xml): the devices and services a gateway offers.
//! Services are collected from every nested device, remembering which WAN connection device
//! each belongs to (a router may have several).

use super::xml::{child_text, parse_guarded};
use super::ParseError;
use crate::limits::DESCRIPTION_MAX_SERVICES;

/// What the description says about the root device and its services.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Description {
    pub device_type: String,
    pub friendly_name: String,
    pub manufacturer: String,
    pub model_name: String,
    pub model_number: String,
    pub udn: String,
    /// `URLBase` if present (only honoured when it names the LOCATION's own host).
    pub url_base: Option<String>,
    pub services: Vec<ServiceEntry>,
}

/// One `<service>` of the description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service_type: String,
    pub service_id: String,
    /// Raw controlURL, to resolve against the LOCATION.
    pub control_url: String,
    /// Index of the enclosing WANConnectionDevice (0 for the first), if inside one.
    pub wan_connection_device: Option<usize>,
}

/// Parse a root device description.
pub fn parse(xml: &str) -> Result<Description, ParseError> {
    let doc = parse_guarded(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "root" {
        return Err(ParseError::new(format!("description root element is <{}>, not <root>", root.tag_name().name())));
    }
    let device = root.children().find(|n| n.is_element() && n.tag_name().name() == "device").ok_or_else(|| ParseError::new("description has no <device>"))?;
    let mut d = Description {
        device_type: child_text(device, "deviceType").unwrap_or("").to_string(),
        friendly_name: child_text(device, "friendlyName").unwrap_or("").to_string(),
        manufacturer: child_text(device, "manufacturer").unwrap_or("").to_string(),
        model_name: child_text(device, "modelName").unwrap_or("").to_string(),
        model_number: child_text(device, "modelNumber").unwrap_or("").to_string(),
        udn: child_text(device, "UDN").unwrap_or("").to_string(),
        url_base: child_text(root, "URLBase").filter(|s| !s.is_empty()).map(str::to_string),
        services: Vec::new(),
    };
    let mut wan_devices = 0usize;
    // Walk devices depth-first without recursion (the document depth is already bounded).
    let mut stack: Vec<(roxmltree::Node, Option<usize>)> = vec![(device, None)];
    while let Some((dev, wan_index)) = stack.pop() {
        let dev_type = child_text(dev, "deviceType").unwrap_or("");
        let wan_index = if dev_type.contains(":device:WANConnectionDevice:") {
            wan_devices += 1;
            Some(wan_devices - 1)
        } else {
            wan_index
        };
        for list in dev.children().filter(|n| n.is_element() && n.tag_name().name() == "serviceList") {
            for svc in list.children().filter(|n| n.is_element() && n.tag_name().name() == "service") {
                if d.services.len() >= DESCRIPTION_MAX_SERVICES {
                    return Err(ParseError::new(format!("description lists more than {DESCRIPTION_MAX_SERVICES} services")));
                }
                d.services.push(ServiceEntry {
                    service_type: child_text(svc, "serviceType").unwrap_or("").to_string(),
                    service_id: child_text(svc, "serviceId").unwrap_or("").to_string(),
                    control_url: child_text(svc, "controlURL").unwrap_or("").to_string(),
                    wan_connection_device: wan_index,
                });
            }
        }
        let mut children: Vec<_> = dev
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "deviceList")
            .flat_map(|l| l.children().filter(|n| n.is_element() && n.tag_name().name() == "device"))
            .map(|n| (n, wan_index))
            .collect();
        children.reverse(); // keep document order when popping
        stack.extend(children);
    }
    Ok(d)
}

#[cfg(test)]
pub(crate) mod samples {
    /// The shape miniupnpd 2.3.1 serves as an IGDv2 (trimmed: icons, presentationURL).
    pub const MINIUPNPD_IGD2: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337"><specVersion><major>1</major><minor>1</minor></specVersion><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>Debian router</friendlyName><manufacturer>Debian</manufacturer><manufacturerURL>https://www.debian.org/</manufacturerURL><modelDescription>MiniUPnP daemon</modelDescription><modelName>MiniUPnPd</modelName><modelNumber>2.3.1</modelNumber><modelURL>http://miniupnp.free.fr/</modelURL><serialNumber>00000000</serialNumber><UDN>uuid:00000000-0000-0000-0000-000000000000</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><SCPDURL>/L3F.xml</SCPDURL><controlURL>/ctl/L3F</controlURL><eventSubURL>/evt/L3F</eventSubURL></service><service><serviceType>urn:schemas-upnp-org:service:DeviceProtection:1</serviceType><serviceId>urn:upnp-org:serviceId:DeviceProtection1</serviceId><SCPDURL>/DP.xml</SCPDURL><controlURL>/ctl/DP</controlURL><eventSubURL>/evt/DP</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType><friendlyName>WANDevice</friendlyName><manufacturer>MiniUPnP</manufacturer><modelName>WAN Device</modelName><UDN>uuid:00000000-0000-0000-0000-000000000001</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><SCPDURL>/WANCfg.xml</SCPDURL><controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL></service></serviceList><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><friendlyName>WANConnectionDevice</friendlyName><UDN>uuid:00000000-0000-0000-0000-000000000002</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service><service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPv6Firewall1</serviceId><SCPDURL>/WANIP6FC.xml</SCPDURL><controlURL>/ctl/IP6FCtl</controlURL><eventSubURL>/evt/IP6FCtl</eventSubURL></service></serviceList></device></deviceList></device></deviceList></device></root>"#;

    /// An IGDv1-only router with a PPP connection (the shape of many older DSL routers).
    pub const IGD1_PPP: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion><URLBase>http://192.168.1.1:49000/</URLBase><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><friendlyName>Old DSL box</friendlyName><manufacturer>ACME</manufacturer><modelName>DSL-1</modelName><UDN>uuid:1</UDN><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><UDN>uuid:2</UDN><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><UDN>uuid:3</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><serviceId>urn:upnp-org:serviceId:WANPPPConn1</serviceId><SCPDURL>/ppp.xml</SCPDURL><controlURL>upnp/control/WANPPPConn1</controlURL><eventSubURL>/e</eventSubURL></service></serviceList></device><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><UDN>uuid:4</UDN><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/ip.xml</SCPDURL><controlURL>/upnp/control/WANIPConn1</controlURL><eventSubURL>/e2</eventSubURL></service></serviceList></device></deviceList></device></deviceList></device></root>"#;
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    #[test]
    fn finds_the_igd2_services_of_miniupnpd() {
        let d = parse(MINIUPNPD_IGD2).unwrap();
        assert_eq!(d.device_type, "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
        assert_eq!(d.model_number, "2.3.1");
        let ip = d.services.iter().find(|s| s.service_type.ends_with("WANIPConnection:2")).unwrap();
        assert_eq!((ip.control_url.as_str(), ip.wan_connection_device), ("/ctl/IPConn", Some(0)));
        let fw = d.services.iter().find(|s| s.service_type.ends_with("WANIPv6FirewallControl:1")).unwrap();
        assert_eq!(fw.control_url, "/ctl/IP6FCtl");
        assert_eq!(d.services.len(), 5);
    }

    #[test]
    fn keeps_several_wan_connection_devices_apart() {
        let d = parse(IGD1_PPP).unwrap();
        assert_eq!(d.url_base.as_deref(), Some("http://192.168.1.1:49000/"));
        let ppp = d.services.iter().find(|s| s.service_type.ends_with("WANPPPConnection:1")).unwrap();
        let ip = d.services.iter().find(|s| s.service_type.ends_with("WANIPConnection:1")).unwrap();
        assert_eq!(ppp.wan_connection_device, Some(0));
        assert_eq!(ip.wan_connection_device, Some(1));
    }

    #[test]
    fn refuses_what_is_not_a_description() {
        assert!(parse("<html><body>hi</body></html>").is_err());
        assert!(parse("<root><specVersion/></root>").is_err());
        assert!(parse(&MINIUPNPD_IGD2[..MINIUPNPD_IGD2.len() / 2]).is_err(), "truncated");
        let many = format!(
            "<root><device><serviceList>{}</serviceList></device></root>",
            "<service><serviceType>x</serviceType><controlURL>/c</controlURL></service>".repeat(5000)
        );
        assert!(parse(&many).is_err());
    }
}
