//! SSDP: building M-SEARCH requests and parsing the unicast HTTPU responses to them.
//! Header names are case-insensitive, lines may end in LF alone; anything odd is refused whole.

use super::ParseError;
use crate::limits::{SSDP_DATAGRAM_MAX, SSDP_LOCATION_MAX};

/// Search targets that find IGD routers and the services portopen drives.
pub const SEARCH_TARGETS: [&str; 6] = [
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1",
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// Build an M-SEARCH. `host` is the `HOST:` value (`239.255.255.250:1900`, `[ff02::c]:1900`,
/// or the unicast target). `mx` is `None` for a unicast search (UDA 1.1: no MX, answer at once).
pub fn build_msearch(host: &str, search_target: &str, mx: Option<u8>) -> Vec<u8> {
    let mut s = format!("M-SEARCH * HTTP/1.1\r\nHOST: {host}\r\nMAN: \"ssdp:discover\"\r\nST: {search_target}\r\n");
    if let Some(mx) = mx {
        s.push_str(&format!("MX: {mx}\r\n"));
    }
    s.push_str("USER-AGENT: portopen/1 UPnP/2.0 portopen/");
    s.push_str(env!("CARGO_PKG_VERSION"));
    s.push_str("\r\n\r\n");
    s.into_bytes()
}

/// One parsed M-SEARCH response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsdpResponse {
    /// LOCATION: where the device description is (not yet validated as a URL).
    pub location: String,
    /// ST: the search target this answer is for.
    pub search_target: String,
    /// USN: unique service name, used to deduplicate answers.
    pub usn: String,
    /// SERVER: OS, UPnP version and product (e.g. "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1").
    pub server: Option<String>,
    /// BOOTID.UPNP.ORG: changes when the device reboots (UDA 1.1+).
    pub boot_id: Option<u32>,
}

/// A datagram's start line and its header lines as (name, value).
type Lines<'a> = (&'a str, Vec<(&'a str, &'a str)>);

/// The start line and the header lines of one SSDP datagram, refused whole if it is too long,
/// holds NUL bytes, is not UTF-8 or has a header line without a colon.
fn split_datagram(datagram: &[u8]) -> Result<Lines<'_>, ParseError> {
    if datagram.len() > SSDP_DATAGRAM_MAX {
        return Err(ParseError::new(format!("datagram of {} bytes exceeds {SSDP_DATAGRAM_MAX}", datagram.len())));
    }
    if datagram.contains(&0) {
        return Err(ParseError::new("datagram contains NUL bytes"));
    }
    let text = std::str::from_utf8(datagram).map_err(|_| ParseError::new("datagram is not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or("");
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.find(':') else {
            return Err(ParseError::new(format!("malformed header line '{}'", truncate(line, 40))));
        };
        headers.push((line[..colon].trim(), line[colon + 1..].trim()));
    }
    Ok((start, headers))
}

/// Parse one SSDP response datagram.
pub fn parse_response(datagram: &[u8]) -> Result<SsdpResponse, ParseError> {
    let (status, headers) = split_datagram(datagram)?;
    let mut parts = status.split_ascii_whitespace();
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.to_ascii_uppercase().starts_with("HTTP/1.") || code != "200" {
        return Err(ParseError::new(format!("not an M-SEARCH response: '{}'", truncate(status, 40))));
    }
    let mut location: Option<&str> = None;
    let mut st: Option<&str> = None;
    let mut usn: Option<&str> = None;
    let mut server: Option<&str> = None;
    let mut boot_id: Option<u32> = None;
    for (name, value) in headers {
        let slot = if name.eq_ignore_ascii_case("LOCATION") {
            &mut location
        } else if name.eq_ignore_ascii_case("ST") {
            &mut st
        } else if name.eq_ignore_ascii_case("USN") {
            &mut usn
        } else if name.eq_ignore_ascii_case("SERVER") {
            &mut server
        } else {
            if name.eq_ignore_ascii_case("BOOTID.UPNP.ORG") {
                boot_id = value.parse().ok();
            }
            continue;
        };
        match slot {
            Some(previous) if *previous != value => {
                return Err(ParseError::new(format!("conflicting duplicate {name} headers")));
            }
            _ => *slot = Some(value),
        }
    }
    let location = location.filter(|l| !l.is_empty()).ok_or_else(|| ParseError::new("no LOCATION header"))?;
    if location.len() > SSDP_LOCATION_MAX {
        return Err(ParseError::new(format!("LOCATION of {} bytes exceeds {SSDP_LOCATION_MAX}", location.len())));
    }
    let st = st.filter(|s| !s.is_empty()).ok_or_else(|| ParseError::new("no ST header"))?;
    let usn = usn.filter(|s| !s.is_empty()).unwrap_or(location);
    Ok(SsdpResponse { location: location.to_string(), search_target: st.to_string(), usn: usn.to_string(), server: server.map(str::to_string), boot_id })
}

/// What a device says in a NOTIFY (multicast, unasked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyKind {
    /// ssdp:alive: sent at start-up (a reboot) and again every few minutes.
    Alive,
    /// ssdp:byebye: the device is leaving (stopping).
    ByeBye,
    /// ssdp:update: its BOOTID is about to change without a reboot (UDA 1.1).
    Update,
}

/// One parsed NOTIFY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsdpNotify {
    pub kind: NotifyKind,
    /// NT: the device or service type (or uuid) this notice is for.
    pub notification_type: String,
    /// LOCATION (absent in a byebye; not yet validated as a URL).
    pub location: Option<String>,
    /// BOOTID.UPNP.ORG: a new value means the device restarted (UDA 1.1+).
    pub boot_id: Option<u32>,
}

/// Parse one NOTIFY datagram (the same limits as a search response).
pub fn parse_notify(datagram: &[u8]) -> Result<SsdpNotify, ParseError> {
    let (start, headers) = split_datagram(datagram)?;
    let mut parts = start.split_ascii_whitespace();
    if !parts.next().is_some_and(|m| m.eq_ignore_ascii_case("NOTIFY")) || parts.next() != Some("*") {
        return Err(ParseError::new(format!("not a NOTIFY: '{}'", truncate(start, 40))));
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
    let kind = match header("NTS").map(str::to_ascii_lowercase).as_deref() {
        Some("ssdp:alive") => NotifyKind::Alive,
        Some("ssdp:byebye") => NotifyKind::ByeBye,
        Some("ssdp:update") => NotifyKind::Update,
        other => return Err(ParseError::new(format!("NOTIFY with NTS {:?}", other.map(|v| truncate(v, 40))))),
    };
    let location = header("LOCATION").filter(|l| !l.is_empty());
    if location.is_some_and(|l| l.len() > SSDP_LOCATION_MAX) {
        return Err(ParseError::new(format!("LOCATION exceeds {SSDP_LOCATION_MAX} bytes")));
    }
    Ok(SsdpNotify {
        kind,
        notification_type: header("NT").unwrap_or("").to_string(),
        location: location.map(str::to_string),
        boot_id: header("BOOTID.UPNP.ORG").and_then(|v| v.parse().ok()),
    })
}

/// How much a search target says about the gateway behind it (higher is better).
/// IGD:2 and its v2/IPv6 services rank above IGD:1 ones; anything else is not a gateway.
pub fn target_rank(search_target: &str) -> u8 {
    let t = search_target;
    if t.contains(":device:InternetGatewayDevice:2") || t.contains(":service:WANIPConnection:2") || t.contains(":service:WANIPv6FirewallControl:1") {
        2
    } else if t.contains(":device:InternetGatewayDevice:1") || t.contains(":service:WANIPConnection:1") || t.contains(":service:WANPPPConnection:1") {
        1
    } else {
        0
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIUPNPD: &str = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nUSN: uuid:00000000-0000-0000-0000-000000000001::urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nEXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: http://192.168.77.1:5000/rootDesc.xml\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 1700000000\r\nBOOTID.UPNP.ORG: 1700000000\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n";

    #[test]
    fn parses_miniupnpd_notifies() {
        let alive = "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=120\r\nLOCATION: http://192.168.77.1:5000/rootDesc.xml\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nNT: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nUSN: uuid:3d3cec3a::urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\nNTS: ssdp:alive\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 1795450084\r\nBOOTID.UPNP.ORG: 1795450084\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n";
        let n = parse_notify(alive.as_bytes()).unwrap();
        assert_eq!((n.kind, n.boot_id), (NotifyKind::Alive, Some(1795450084)));
        assert_eq!(n.location.as_deref(), Some("http://192.168.77.1:5000/rootDesc.xml"));
        assert_eq!(n.notification_type, "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
        let bye = "notify * HTTP/1.1\nHOST: [ff02::c]:1900\nNT: upnp:rootdevice\nnts: SSDP:BYEBYE\n\n";
        let n = parse_notify(bye.as_bytes()).unwrap();
        assert_eq!((n.kind, n.location, n.boot_id), (NotifyKind::ByeBye, None, None));
    }

    #[test]
    fn refuses_what_is_not_a_notify() {
        for bad in [
            MINIUPNPD,                                                   // a search answer
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n", // a search
            "NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n",          // no NTS
            "NOTIFY * HTTP/1.1\r\nNTS: ssdp:propchange\r\n\r\n",         // GENA, not SSDP
            "NOTIFY /x HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n",
            "NOTIFY * HTTP/1.1\r\nNTS ssdp:alive\r\n\r\n",
        ] {
            assert!(parse_notify(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let long = format!("NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\nLOCATION: http://1.2.3.4/{}\r\n\r\n", "a".repeat(600));
        assert!(parse_notify(long.as_bytes()).is_err());
        assert!(parse_notify(&[b'N'; SSDP_DATAGRAM_MAX + 1]).is_err());
        assert!(parse_notify(b"NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\0\r\n\r\n").is_err());
    }

    #[test]
    fn parses_a_miniupnpd_answer() {
        let r = parse_response(MINIUPNPD.as_bytes()).unwrap();
        assert_eq!(r.location, "http://192.168.77.1:5000/rootDesc.xml");
        assert_eq!(r.search_target, "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
        assert_eq!(r.server.as_deref(), Some("Debian/12 UPnP/1.1 MiniUPnPd/2.3.1"));
        assert_eq!(r.boot_id, Some(1700000000));
        assert_eq!(target_rank(&r.search_target), 2);
    }

    #[test]
    fn header_names_are_case_insensitive_and_lf_only_lines_work() {
        let text = "http/1.1 200 ok\nlocation: http://[fe80::1%252]:49000/igd.xml\nst: urn:schemas-upnp-org:device:InternetGatewayDevice:1\nusn: uuid:x\n\n";
        let r = parse_response(text.as_bytes()).unwrap();
        assert_eq!(r.location, "http://[fe80::1%252]:49000/igd.xml");
        assert_eq!(target_rank(&r.search_target), 1);
    }

    #[test]
    fn refuses_broken_answers() {
        let cases: Vec<Vec<u8>> = vec![
            b"NOTIFY * HTTP/1.1\r\nLOCATION: http://1.2.3.4/\r\nST: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 404 Not Found\r\nLOCATION: http://1.2.3.4/\r\nST: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/\0\r\nST: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/\xff\r\nST: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/a\r\nLocation: http://5.6.7.8/b\r\nST: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nbroken header line\r\n\r\n".to_vec(),
            format!("HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/{}\r\nST: x\r\n\r\n", "a".repeat(600)).into_bytes(),
            vec![b'A'; SSDP_DATAGRAM_MAX + 1],
            Vec::new(),
        ];
        for case in cases {
            assert!(parse_response(&case).is_err(), "{:?}", String::from_utf8_lossy(&case));
        }
    }

    #[test]
    fn duplicate_identical_headers_are_accepted() {
        let text = "HTTP/1.1 200 OK\r\nLOCATION: http://1.2.3.4/a\r\nLOCATION: http://1.2.3.4/a\r\nST: urn:schemas-upnp-org:service:WANIPConnection:1\r\n\r\n";
        let r = parse_response(text.as_bytes()).unwrap();
        assert_eq!(r.usn, "http://1.2.3.4/a", "USN falls back to LOCATION");
    }

    #[test]
    fn msearch_has_the_uda_shape() {
        let m = String::from_utf8(build_msearch("[ff02::c]:1900", SEARCH_TARGETS[0], Some(1))).unwrap();
        assert!(m.starts_with("M-SEARCH * HTTP/1.1\r\nHOST: [ff02::c]:1900\r\nMAN: \"ssdp:discover\"\r\n"));
        assert!(m.contains("\r\nMX: 1\r\n") && m.ends_with("\r\n\r\n"));
        let u = String::from_utf8(build_msearch("192.168.77.1:1900", SEARCH_TARGETS[0], None)).unwrap();
        assert!(!u.contains("MX:"));
    }
}
