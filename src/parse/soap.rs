//! SOAP 1.1 envelopes for UPnP control: building a request, reading the response arguments or
//! the UPnP fault. A fault is read whatever the HTTP status (some routers send it with 200).

use super::xml::{escape, find_descendant, parse_guarded};
use super::ParseError;

/// Build the SOAP body for `action` of `service_type` with arguments in order.
pub fn build_request(service_type: &str, action: &str, args: &[(&str, String)]) -> String {
    let mut body = String::with_capacity(320 + args.len() * 48);
    body.push_str("<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:");
    body.push_str(action);
    body.push_str(" xmlns:u=\"");
    body.push_str(&escape(service_type));
    body.push_str("\">");
    for (name, value) in args {
        body.push('<');
        body.push_str(name);
        body.push('>');
        body.push_str(&escape(value));
        body.push_str("</");
        body.push_str(name);
        body.push('>');
    }
    body.push_str("</u:");
    body.push_str(action);
    body.push_str("></s:Body></s:Envelope>\r\n");
    body
}

/// What a SOAP response said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoapOutcome {
    /// `<ActionResponse>` with its out-arguments in order.
    Success(Vec<(String, String)>),
    /// A UPnP error (`errorCode`, `errorDescription`).
    Fault { code: u16, description: String },
}

/// Parse a SOAP response body for `action`.
pub fn parse_response(body: &str, action: &str) -> Result<SoapOutcome, ParseError> {
    if body.trim().is_empty() {
        return Err(ParseError::new("empty SOAP body"));
    }
    let doc = parse_guarded(body)?;
    let envelope = doc.root_element();
    if envelope.tag_name().name() != "Envelope" {
        return Err(ParseError::new(format!("root element is <{}>, not a SOAP Envelope", envelope.tag_name().name())));
    }
    let soap_body =
        envelope.children().find(|n| n.is_element() && n.tag_name().name() == "Body").ok_or_else(|| ParseError::new("SOAP Envelope has no Body"))?;
    if let Some(fault) = soap_body.children().find(|n| n.is_element() && n.tag_name().name() == "Fault") {
        let upnp = find_descendant(fault, "UPnPError").ok_or_else(|| {
            let fs = find_descendant(fault, "faultstring").and_then(|n| n.text()).unwrap_or("").trim();
            ParseError::new(format!("SOAP fault without a UPnPError ({})", fs.chars().take(80).collect::<String>()))
        })?;
        let code_text = find_descendant(upnp, "errorCode").and_then(|n| n.text()).unwrap_or("").trim();
        let code: u16 = code_text
            .parse()
            .ok()
            .filter(|c| (1..=999).contains(c))
            .ok_or_else(|| ParseError::new(format!("UPnP errorCode '{}' is not a number from 1 to 999", code_text.chars().take(24).collect::<String>())))?;
        let description = find_descendant(upnp, "errorDescription").and_then(|n| n.text()).unwrap_or("").trim();
        return Ok(SoapOutcome::Fault { code, description: description.chars().take(256).collect() });
    }
    let expected = format!("{action}Response");
    let response = soap_body.children().find(|n| n.is_element()).ok_or_else(|| ParseError::new("SOAP Body is empty"))?;
    if !response.tag_name().name().eq_ignore_ascii_case(&expected) {
        return Err(ParseError::new(format!("expected <{expected}>, got <{}>", response.tag_name().name())));
    }
    let args = response.children().filter(|n| n.is_element()).map(|n| (n.tag_name().name().to_string(), n.text().unwrap_or("").trim().to_string())).collect();
    Ok(SoapOutcome::Success(args))
}

/// The value of out-argument `name` (exact name, as the service defines it).
pub fn arg<'a>(args: &'a [(String, String)], name: &str) -> Option<&'a str> {
    args.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADD_PINHOLE_OK: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:AddPinholeResponse xmlns:u="urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"><UniqueID>1</UniqueID></u:AddPinholeResponse></s:Body></s:Envelope>"#;

    const FAULT_606: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>606</errorCode><errorDescription>Action not authorized</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;

    #[test]
    fn reads_out_arguments() {
        match parse_response(ADD_PINHOLE_OK, "AddPinhole").unwrap() {
            SoapOutcome::Success(args) => assert_eq!(arg(&args, "UniqueID"), Some("1")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_a_upnp_fault() {
        assert_eq!(parse_response(FAULT_606, "AddPinhole").unwrap(), SoapOutcome::Fault { code: 606, description: "Action not authorized".into() });
    }

    #[test]
    fn request_escapes_arguments_and_keeps_empty_ones() {
        let body = build_request(
            "urn:schemas-upnp-org:service:WANIPConnection:2",
            "AddPortMapping",
            &[("NewRemoteHost", String::new()), ("NewPortMappingDescription", "a<b&c".into())],
        );
        assert!(body.contains("<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\">"));
        assert!(body.contains("<NewRemoteHost></NewRemoteHost>"));
        assert!(body.contains("<NewPortMappingDescription>a&lt;b&amp;c</NewPortMappingDescription>"));
        // and our own parser reads its own envelope shape back
        assert!(parse_guarded(&body).is_ok());
    }

    #[test]
    fn refuses_answers_that_do_not_fit_the_action() {
        assert!(parse_response("", "AddPinhole").is_err());
        assert!(parse_response(ADD_PINHOLE_OK, "DeletePinhole").is_err(), "response for another action");
        for code in ["abc", "99999", "-1", "", "0"] {
            let f = FAULT_606.replace("<errorCode>606</errorCode>", &format!("<errorCode>{code}</errorCode>"));
            assert!(parse_response(&f, "AddPinhole").is_err(), "errorCode {code:?}");
        }
        assert!(parse_response("<html/>", "AddPinhole").is_err());
        assert!(parse_response(&ADD_PINHOLE_OK[..120], "AddPinhole").is_err(), "truncated");
    }
}
