//! SSDP faults: hostile or broken M-SEARCH answers are ignored with a logged reason, LOCATION is
//! pinned to the responder, floods are bounded, and discovery always ends at its deadline.

mod fake_igd;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use fake_igd::{assert_within, discover, logged, FakeIgd, Ssdp};
use portopen::limits::{SSDP_DATAGRAM_MAX, SSDP_MAX_LOCATIONS, SSDP_MAX_RESPONSES};
use portopen::{Error, Family};

const DISCOVERY: Duration = Duration::from_millis(300);
const ST: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:2";

fn answer(location: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nST: {ST}\r\nUSN: uuid:x::{ST}\r\nLOCATION: {location}\r\n\r\n").into_bytes()
}

/// Discovery against a fake answering `datagrams`; checks it ends in time and returns the outcome.
fn discover_with(datagrams: Vec<Vec<u8>>) -> (FakeIgd, Result<portopen::Gateway, Error>) {
    let fake = FakeIgd::v4();
    fake.set_ssdp(Ssdp::Raw(datagrams));
    let started = Instant::now();
    let result = discover(&fake, Family::V4);
    assert_within(started, DISCOVERY);
    (fake, result)
}

/// Each case in parallel: the answer is ignored, nothing is fetched, and the reason is logged.
fn assert_all_ignored(cases: Vec<(&'static str, Vec<u8>)>) {
    std::thread::scope(|s| {
        for (name, datagram) in cases {
            s.spawn(move || {
                let (fake, result) = discover_with(vec![datagram]);
                assert!(matches!(result, Err(Error::NoGateway(_))), "{name}: {result:?}");
                assert!(fake.requests().is_empty(), "{name}: fetched {:?}", fake.requests());
                let from = fake.ssdp_addr.to_string();
                assert!(!logged(&["SSDP: ignoring", &from]).is_empty(), "{name}: no logged reason");
            });
        }
    });
}

#[test]
fn location_on_another_host_is_repointed_to_the_responder() {
    // 127.0.0.2 has nothing listening: the fetch only works if LOCATION was re-pointed.
    for host in ["127.0.0.2", "239.255.255.250", "0.0.0.0"] {
        let (fake, result) = discover_with(vec![answer(&format!("http://{host}:{{port}}/rootDesc.xml"))]);
        let gw = result.unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(gw.location.ip, IpAddr::V4(Ipv4Addr::LOCALHOST), "{host}");
        assert_eq!(fake.calls("GET").len(), 1, "{host}");
        assert!(!logged(&["announced LOCATION on", host, "using the responder's address"]).is_empty(), "{host}");
    }
}

#[test]
fn unusable_locations_are_ignored_with_a_logged_reason() {
    assert_all_ignored(vec![
        ("hostname", answer("http://router.local:{port}/rootDesc.xml")),
        ("https", answer("https://{http}/rootDesc.xml")),
        ("file scheme", answer("file:///etc/passwd")),
        ("userinfo", answer("http://admin:pw@{http}/rootDesc.xml")),
        ("port 99999", answer("http://127.0.0.1:99999/rootDesc.xml")),
        ("port 0", answer("http://127.0.0.1:0/rootDesc.xml")),
        ("port not a number", answer("http://127.0.0.1:http/rootDesc.xml")),
        ("LOCATION over 512 bytes", answer(&format!("http://{{http}}/{}", "a".repeat(600)))),
        ("datagram over 2 KiB", answer(&format!("http://{{http}}/rootDesc.xml?{}", "a".repeat(SSDP_DATAGRAM_MAX)))),
    ]);
}

#[test]
fn broken_datagrams_are_ignored_with_a_logged_reason() {
    let ok = "HTTP/1.1 200 OK\r\nST: {st}\r\nLOCATION: http://{http}/rootDesc.xml\r\n";
    assert_all_ignored(vec![
        ("NUL byte", format!("{ok}X-A: \0\r\n\r\n").into_bytes()),
        ("non-UTF-8", [format!("{ok}X-A: ").as_bytes(), b"\xff\xfe\r\n\r\n"].concat()),
        ("conflicting LOCATIONs", format!("{ok}Location: http://127.0.0.1:1/other.xml\r\n\r\n").into_bytes()),
        ("no ST", b"HTTP/1.1 200 OK\r\nLOCATION: http://{http}/rootDesc.xml\r\n\r\n".to_vec()),
        ("not 200", b"HTTP/1.1 404 Not Found\r\nST: {st}\r\nLOCATION: http://{http}/rootDesc.xml\r\n\r\n".to_vec()),
        ("a NOTIFY", b"NOTIFY * HTTP/1.1\r\nNT: {st}\r\nLOCATION: http://{http}/rootDesc.xml\r\n\r\n".to_vec()),
        ("header without colon", format!("{ok}garbage line\r\n\r\n").into_bytes()),
        ("oversized datagram", vec![b'A'; 9000]),
        ("empty datagram", Vec::new()),
    ]);
}

#[test]
fn lf_only_lines_mixed_case_and_duplicate_headers_are_accepted() {
    let variants = [
        "HTTP/1.1 200 OK\nst: {st}\nusn: uuid:lf\nlocation: http://{http}/rootDesc.xml\n\n",
        "http/1.1 200 ok\r\nSt: {st}\r\nLoCaTiOn: http://{http}/rootDesc.xml\r\nlocation: http://{http}/rootDesc.xml\r\nUSN: uuid:a\r\nusn: uuid:a\r\n\r\n",
    ];
    for v in variants {
        let (fake, result) = discover_with(vec![v.as_bytes().to_vec()]);
        let gw = result.unwrap_or_else(|e| panic!("{v:?}: {e}"));
        assert!(gw.wan.is_some());
        assert_eq!(fake.calls("GET").len(), 1);
    }
}

#[test]
fn an_answer_from_another_address_than_the_one_searched_is_ignored() {
    let fake = FakeIgd::v4();
    fake.set_ssdp(Ssdp::FromOther(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));
    let started = Instant::now();
    let result = discover(&fake, Family::V4);
    assert_within(started, DISCOVERY);
    assert!(matches!(result, Err(Error::NoGateway(_))), "{result:?}");
    assert!(!logged(&["unicast search went to", &fake.ssdp_addr.to_string()]).is_empty());
    assert!(fake.requests().is_empty());
}

#[test]
fn a_flood_of_unique_answers_is_bounded() {
    let fake = FakeIgd::v4();
    fake.set_ssdp(Ssdp::Flood(3000));
    let options = portopen::DiscoveryOptions { grace: Duration::from_millis(150), ..fake_igd::loopback_discovery(&[&fake]) };
    fake_igd::capture_logs();
    let started = Instant::now();
    let result = portopen::discover(Family::V4, &options, &portopen::CancelToken::new());
    assert_within(started, DISCOVERY);
    // Every flood LOCATION answers 404: at most SSDP_MAX_LOCATIONS of them were fetched.
    assert!(matches!(result, Err(Error::HttpStatus { status: 404, .. })), "{result:?}");
    let fetched = fake.calls("GET").len();
    assert!((1..=SSDP_MAX_LOCATIONS).contains(&fetched), "fetched {fetched} descriptions");
    assert!(!logged(&[&format!("keeping no more than {SSDP_MAX_RESPONSES} answers")]).is_empty());
}

#[test]
fn a_steady_stream_of_junk_still_ends_at_the_deadline() {
    let fake = FakeIgd::v4();
    fake.set_ssdp(Ssdp::Junk);
    let started = Instant::now();
    let result = discover(&fake, Family::V4);
    assert_within(started, DISCOVERY);
    assert!(matches!(result, Err(Error::NoGateway(_))), "{result:?}");
    assert!(logged(&["SSDP: ignoring datagram from", &fake.ssdp_addr.to_string()]).len() > 10);
}

#[test]
fn a_v6_gateway_is_found_on_ipv6_loopback() {
    let fake = FakeIgd::v6();
    let gw = discover(&fake, Family::V6).unwrap();
    assert_eq!(gw.location.ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(gw.local_addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert!(gw.firewall.is_some() && gw.is_usable());
    assert_eq!(gw.igd_version(), 2);
    assert_eq!(gw.server.as_deref(), Some("FakeOS/1 UPnP/1.1 FakeIGD/1"));
    // IPv4 discovery never reaches an IPv6 responder (the families are independent).
    assert!(matches!(discover(&fake, Family::V4), Err(Error::NoGateway(_))));
}

#[test]
fn collecting_every_answer_still_leaves_time_to_read_the_descriptions() {
    let fake = FakeIgd::v4();
    let options = portopen::DiscoveryOptions { collect_all: true, ..fake_igd::loopback_discovery(&[&fake]) };
    fake_igd::capture_logs();
    let started = Instant::now();
    let result = portopen::discover(Family::V4, &options, &portopen::CancelToken::new());
    assert_within(started, DISCOVERY);
    let gateways = result.expect("the gateway that answered is listed");
    assert_eq!(gateways.len(), 1);
    assert!(gateways[0].is_usable());
}
