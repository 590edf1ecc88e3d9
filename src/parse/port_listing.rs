//! The `NewPortListing` document of GetListOfPortMappings (WANIPConnection:2): an XML list of
//! port mapping entries carried as a string inside the SOAP response.

use super::xml::{child_text, parse_guarded};
use super::ParseError;

/// One `<p:PortMappingEntry>`, fields as text (validated by the caller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedEntry {
    pub remote_host: String,
    pub external_port: String,
    pub protocol: String,
    pub internal_port: String,
    pub internal_client: String,
    pub enabled: String,
    pub description: String,
    pub lease_time: String,
}

pub fn parse(xml: &str) -> Result<Vec<ListedEntry>, ParseError> {
    if xml.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc = parse_guarded(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "PortMappingList" {
        return Err(ParseError::new(format!("expected <PortMappingList>, got <{}>", root.tag_name().name())));
    }
    Ok(root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "PortMappingEntry")
        .map(|e| {
            let f = |name| child_text(e, name).unwrap_or("").to_string();
            ListedEntry {
                remote_host: f("NewRemoteHost"),
                external_port: f("NewExternalPort"),
                protocol: f("NewProtocol"),
                internal_port: f("NewInternalPort"),
                internal_client: f("NewInternalClient"),
                enabled: f("NewEnabled"),
                description: f("NewDescription"),
                lease_time: f("NewLeaseTime"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_miniupnpd_listing() {
        let xml = r#"<p:PortMappingList xmlns:p="urn:schemas-upnp-org:gw:WANIPConnection" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:schemas-upnp-org:gw:WANIPConnection http://www.upnp.org/schemas/gw/WANIPConnection-v2.xsd"><p:PortMappingEntry><p:NewRemoteHost></p:NewRemoteHost><p:NewExternalPort>40000</p:NewExternalPort><p:NewProtocol>UDP</p:NewProtocol><p:NewInternalPort>40000</p:NewInternalPort><p:NewInternalClient>192.168.77.100</p:NewInternalClient><p:NewEnabled>1</p:NewEnabled><p:NewDescription>portopen</p:NewDescription><p:NewLeaseTime>3598</p:NewLeaseTime></p:PortMappingEntry></p:PortMappingList>"#;
        let list = super::parse(xml).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].external_port.as_str(), list[0].lease_time.as_str()), ("40000", "3598"));
        assert!(super::parse("").unwrap().is_empty());
        assert!(super::parse("<x/>").is_err());
    }
}
