//! The checks each fuzz target runs, kept here so the libFuzzer targets stay one line each.
//! Every function must return normally for any input: a panic is a bug in portopen.

use portopen::limits::XML_MAX_DEPTH;
use portopen::parse::http::{parse_complete, ResponseParser};
use portopen::parse::url::HttpUrl;
use portopen::parse::{description, port_listing, soap, ssdp, xml};
use portopen::{persist, Family, Gateway};

/// SSDP answer parsing, then what discovery does with a parsed answer.
pub fn ssdp_response(data: &[u8]) {
    if let Ok(r) = ssdp::parse_response(data) {
        assert!(!r.location.is_empty() && !r.search_target.is_empty() && !r.usn.is_empty());
        assert!(r.location.len() <= portopen::limits::SSDP_LOCATION_MAX);
        let _ = ssdp::target_rank(&r.search_target);
        url_checks(&r.location);
    }
    // The same bytes as an unasked NOTIFY (what the keeper reads between renewals).
    if let Ok(n) = ssdp::parse_notify(data) {
        assert!(n.location.as_ref().is_none_or(|l| !l.is_empty() && l.len() <= portopen::limits::SSDP_LOCATION_MAX));
        if let Some(l) = &n.location {
            url_checks(l);
        }
    }
}

/// Device description parsing, then resolving every controlURL against a LOCATION.
pub fn description(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    xml_depth_is_bounded(text);
    if let Ok(d) = description::parse(text) {
        assert!(d.services.len() <= portopen::limits::DESCRIPTION_MAX_SERVICES);
        let base = HttpUrl::parse("http://192.168.1.1:5000/dir/rootDesc.xml").unwrap();
        for s in &d.services {
            if let Ok(u) = base.join(&s.control_url) {
                assert_eq!(u.ip, base.ip, "controlURL left the LOCATION's host");
                assert!(u.path.starts_with('/'));
            }
        }
        if let Some(b) = &d.url_base {
            let _ = HttpUrl::parse(b);
        }
    }
}

/// SOAP response parsing for the actions portopen sends (the action picked by the first byte),
/// and the GetListOfPortMappings listing document carried inside one.
pub fn soap_response(data: &[u8]) {
    const ACTIONS: [&str; 6] = ["AddPinhole", "AddPortMapping", "GetExternalIPAddress", "GetSpecificPortMappingEntry", "GetFirewallStatus", "UpdatePinhole"];
    let Some((&pick, rest)) = data.split_first() else { return };
    // As the library reads a SOAP body: bytes that are not UTF-8 replaced, not refused.
    let text = &*String::from_utf8_lossy(rest);
    let action = ACTIONS[pick as usize % ACTIONS.len()];
    xml_depth_is_bounded(text);
    match soap::parse_response(text, action) {
        Ok(soap::SoapOutcome::Fault { code, description }) => {
            assert!(code > 0);
            assert!(description.chars().count() <= 256);
        }
        Ok(soap::SoapOutcome::Success(args)) => {
            let _ = soap::arg(&args, "UniqueID");
        }
        Err(_) => {}
    }
    let _ = port_listing::parse(text);
}

/// Whatever the XML guard lets through nests no deeper than its limit (it must never undercount).
fn xml_depth_is_bounded(text: &str) {
    if let Ok(doc) = xml::parse_guarded(text) {
        let deepest = doc.descendants().filter(|n| n.is_element()).map(|n| n.ancestors().filter(|a| a.is_element()).count()).max().unwrap_or(0);
        assert!(deepest <= XML_MAX_DEPTH, "the guard let {deepest} levels through");
    }
}

/// What discovery makes of a description at a LOCATION: URLBase and every controlURL resolved,
/// on the LOCATION's own host (and IPv6 zone) or refused.
pub fn gateway_description(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(desc) = description::parse(text) else { return };
    for (family, location, local) in [
        (Family::V4, "http://192.168.1.1:5000/rootDesc.xml", "192.168.1.100"),
        (Family::V6, "http://[fe80::1%252]:49152/a/b/rootDesc.xml", "fe80::100"),
        (Family::V6, "http://[2001:db8::1]:5000/desc/root.xml", "2001:db8::100"),
    ] {
        let location = HttpUrl::parse(location).unwrap();
        let Ok(gw) = Gateway::from_description(family, location.clone(), local.parse().unwrap(), &desc) else { continue };
        for s in gw.wan_candidates.iter().chain(&gw.firewall) {
            assert_eq!((s.control_url.ip, s.control_url.scope_id), (location.ip, location.scope_id), "controlURL {} left {location}", s.control_url);
            assert!(s.control_url.path.starts_with('/'));
            assert!(!s.control_url.path.bytes().any(|b| b <= b' ' || b >= 0x7f), "path unsafe for a request line: {:?}", s.control_url.path);
        }
        assert_eq!(gw.wan.as_ref(), gw.wan_candidates.first());
    }
}

/// The gateway cache and the crash journal read back from disk (a file anything could have
/// written): never a panic, and what is read is written back to the same thing.
pub fn persisted(data: &[u8]) {
    // read_bounded reads a state file as UTF-8 and refuses anything else.
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The cache writer replaces tabs and line breaks inside names by spaces: what it writes reads
    // back to itself, and no gateway is lost on the way.
    let format_cache = |gws: &[portopen::Gateway]| persist::format_cache(&gws.iter().collect::<Vec<_>>());
    let gateways = persist::parse_cache(text);
    let written = format_cache(&gateways);
    let again = persist::parse_cache(&written);
    assert_eq!(again.len(), gateways.len(), "cache round trip lost gateways:\n{written}");
    assert_eq!(format_cache(&again), written, "cache round trip");
    let entries = persist::parse_journal(text);
    let again = persist::parse_journal(&persist::format_journal(&entries));
    assert_eq!(again, entries, "journal round trip");
}

/// HTTP response framing: the whole input at once, and the same bytes fed in pieces (as the
/// network delivers them) must give the same answer.
pub fn http_response(data: &[u8]) {
    const CAP: usize = 4096;
    // The first byte says how many split points follow (0-15), each one byte: the lengths of
    // the pieces (0 included: an empty read), then the rest in one piece. Any split list.
    let (splits, data) = match data.split_first() {
        Some((&n, rest)) if rest.len() >= (n % 16) as usize => rest.split_at((n % 16) as usize),
        _ => return,
    };
    let whole = parse_complete(data, CAP);
    if let Ok(r) = &whole {
        assert!(r.body.len() <= CAP);
        assert!((200..=599).contains(&r.status));
    }
    let mut pieces = Vec::new();
    let mut rest = data;
    for &len in splits {
        let (piece, after) = rest.split_at((len as usize).min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    pieces.push(rest);
    let mut p = ResponseParser::new(CAP);
    let mut failed = None;
    for chunk in pieces {
        match p.feed(chunk) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let piecewise = match failed {
        Some(e) => Err(e),
        None if p.is_done() => Ok(p.into_response().expect("done parser has a response")),
        None => p.finish(),
    };
    assert_eq!(whole.is_ok(), piecewise.is_ok(), "whole vs piecewise: {whole:?} / {piecewise:?}");
    if let (Ok(a), Ok(b)) = (&whole, &piecewise) {
        assert_eq!(a, b);
    }
}

/// URL parsing: what parses prints back to itself, and references resolve on the same host.
pub fn url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    url_checks(text);
}

fn url_checks(text: &str) {
    if let Ok(u) = HttpUrl::parse(text) {
        assert!(u.path.starts_with('/'));
        assert_ne!(u.port, 0);
        let again = HttpUrl::parse(&u.to_string()).unwrap_or_else(|e| panic!("{u} does not parse back: {e}"));
        assert_eq!(again, u, "display round trip");
        let _ = u.socket_addr();
        let _ = u.host_header();
    }
    let base = HttpUrl::parse("http://[fe80::1%252]:49152/a/b/rootDesc.xml").unwrap();
    if let Ok(j) = base.join(text) {
        assert_eq!(j.ip, base.ip, "join left the base host");
        assert!(j.path.starts_with('/'));
        assert!(!j.path.bytes().any(|b| b <= b' ' || b >= 0x7f), "path unsafe for a request line: {:?}", j.path);
    }
}

/// PCP and NAT-PMP answers: parsed, matched to a MAP request of each family and to NAT-PMP
/// requests, decided, and read as an ANNOUNCE. Whatever is accepted must be for the request.
pub fn pcp(data: &[u8]) {
    use portopen::pcp::wire::{self, MapRequest, NatPmpMapRequest, PcpAnswer};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    if let Ok(r) = wire::parse_response(data) {
        assert!(data.len() >= 24 && data.len() <= wire::MESSAGE_MAX && data.len() % 4 == 0);
        assert!(r.header.opcode < 0x80);
    }
    let _ = wire::parse_announcement(data);
    // The nonce and port a mutated answer is most likely to carry: the seeds' own.
    for client in [IpAddr::V4(Ipv4Addr::new(192, 168, 77, 100)), IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100))] {
        let request = MapRequest {
            nonce: *b"portopenfuzz",
            protocol: portopen::Protocol::Udp,
            internal_port: 40000,
            suggested_external_port: 40000,
            suggested_external_address: None,
            lifetime: 600,
            client,
        };
        assert_eq!(request.encode().len(), 60);
        match request.match_answer(data) {
            Some(PcpAnswer::Map(m)) => {
                assert_eq!(&data[24..36], b"portopenfuzz");
                let _ = m.verdict();
            }
            Some(PcpAnswer::VersionNotSupported { server_version, .. }) => assert_ne!(server_version, wire::PCP_VERSION),
            None => {}
        }
    }
    let natpmp = NatPmpMapRequest { protocol: portopen::Protocol::Udp, internal_port: 40000, suggested_external_port: 40000, lifetime: 600 };
    if let Some(m) = natpmp.match_answer(data) {
        assert_eq!(m.internal_port, 40000);
        let _ = m.verdict();
    }
    if let Some(a) = wire::natpmp_match_address(data) {
        let _ = a.verdict();
    }
    if data.len() >= 8 {
        let a = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let b = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
        let _ = wire::epoch_lost_state(a, b, std::time::Duration::from_secs(u64::from(a ^ b)));
    }
}
