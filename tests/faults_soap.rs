//! SOAP faults: UPnP errors wherever they hide, answers that do not fit the action, values out
//! of range, external addresses that cannot be reached, and a router that lies about success.

mod fake_igd;

use std::net::{Ipv4Addr, Ipv6Addr};

use fake_igd::{budget, client, discover, http_response, soap_envelope, soap_fault_body, FakeIgd, Fault};
use portopen::{Error, ExternalAddress, Family, OpenRequest, Pinhole, PortMapping, PortStatus, Protocol, V4Class};

const A: &str = "GetExternalIPAddress";

fn v4_gateway() -> (FakeIgd, portopen::Gateway) {
    let fake = FakeIgd::v4();
    let gw = discover(&fake, Family::V4).unwrap();
    (fake, gw)
}

fn mapping(port: u16) -> PortMapping {
    PortMapping {
        remote_host: None,
        external_port: port,
        protocol: Protocol::Udp,
        internal_port: port,
        internal_client: Ipv4Addr::LOCALHOST,
        enabled: true,
        description: "faults".into(),
        lease_secs: 60,
    }
}

fn pinhole(port: u16) -> Pinhole {
    Pinhole { remote_host: None, remote_port: 0, internal_client: "2001:db8::5".parse().unwrap(), internal_port: port, protocol: Protocol::Udp, lease_secs: 60 }
}

fn invalid(result: &Result<impl std::fmt::Debug, Error>, part: &str) -> bool {
    matches!(result, Err(Error::InvalidResponse { reason, .. }) if reason.contains(part))
}

#[test]
fn a_upnp_fault_is_read_whatever_the_http_status() {
    let (fake, gw) = v4_gateway();
    fake.fault_times(A, Fault::Raw(http_response("200 OK", "text/xml", &soap_fault_body("501"))), 1);
    let e = gw.external_address(&budget()).unwrap_err();
    assert_eq!(e.upnp_code(), Some(501));
    assert!(e.to_string().starts_with("GetExternalIPAddress: router answered 501 Action Failed"), "{e}");
    fake.fault_times(A, Fault::Upnp(606), 1);
    let e = gw.external_address(&budget()).unwrap_err();
    assert_eq!(e.upnp_code(), Some(606));
    assert!(e.to_string().contains("Action not authorized"), "{e}");
}

#[test]
fn an_unreadable_error_code_is_an_invalid_response_or_the_http_status() {
    for code in ["abc", "99999", "-1", "", "0", "7180000000000000000000"] {
        let (fake, gw) = v4_gateway();
        fake.fault_times(A, Fault::Raw(http_response("200 OK", "text/xml", &soap_fault_body(code))), 1);
        let r = gw.external_address(&budget());
        assert!(invalid(&r, "errorCode"), "errorCode {code:?} in a 200: {r:?}");
        fake.fault_times(A, Fault::Raw(http_response("500 Internal Server Error", "text/xml", &soap_fault_body(code))), 1);
        let r = gw.external_address(&budget());
        assert!(matches!(r, Err(Error::HttpStatus { status: 500, .. })), "errorCode {code:?} in a 500: {r:?}");
    }
}

#[test]
fn an_empty_body_or_the_answer_to_another_action_is_refused() {
    let (fake, gw) = v4_gateway();
    fake.fault_times(A, Fault::Raw(http_response("200 OK", "text/xml", "")), 1);
    assert!(invalid(&gw.external_address(&budget()), "empty SOAP body"));
    fake.fault_times(A, Fault::Raw(http_response("500 Internal Server Error", "text/xml", "")), 1);
    assert!(matches!(gw.external_address(&budget()), Err(Error::HttpStatus { status: 500, .. })));
    let other = soap_envelope("<u:DeletePortMappingResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\"/>");
    fake.fault_times(A, Fault::Raw(http_response("200 OK", "text/xml", &other)), 1);
    assert!(invalid(&gw.external_address(&budget()), "expected <GetExternalIPAddressResponse>"));
    fake.fault_times(A, Fault::Raw(http_response("200 OK", "text/html", "<html><body>Login</body></html>")), 1);
    assert!(invalid(&gw.external_address(&budget()), "not a SOAP Envelope"));
}

#[test]
fn external_addresses_are_classified() {
    let (fake, gw) = v4_gateway();
    let cases = [
        ("", ExternalAddress::None),
        ("  ", ExternalAddress::None),
        ("0.0.0.0", ExternalAddress::V4(Ipv4Addr::UNSPECIFIED, V4Class::Unspecified)),
        ("127.0.0.1", ExternalAddress::V4(Ipv4Addr::LOCALHOST, V4Class::Loopback)),
        ("192.168.1.20", ExternalAddress::V4(Ipv4Addr::new(192, 168, 1, 20), V4Class::Private)),
        ("100.64.1.2", ExternalAddress::V4(Ipv4Addr::new(100, 64, 1, 2), V4Class::SharedCgnat)),
        ("11.0.0.1", ExternalAddress::V4(Ipv4Addr::new(11, 0, 0, 1), V4Class::Public)),
        ("2001:db8::1", ExternalAddress::V6("2001:db8::1".parse().unwrap())),
    ];
    for (text, expected) in cases {
        fake.model().external_ip = text.into();
        assert_eq!(gw.external_address(&budget()).unwrap(), expected, "{text:?}");
    }
    fake.model().external_ip = "not-an-address".into();
    assert!(invalid(&gw.external_address(&budget()), "not an IP address"));
}

/// Client::open over IPv4 against a fake reporting `external_ip`.
fn open_v4_with_external(external_ip: &str) -> (FakeIgd, portopen::LeaseInfo) {
    let fake = FakeIgd::v4();
    fake.model().external_ip = external_ip.into();
    let c = client(&[&fake], false);
    let lease = c.open(&OpenRequest { v6: false, ..OpenRequest::new(Protocol::Udp, 40000) }).unwrap();
    let info = lease.info();
    std::mem::forget(lease); // keep what it holds for the assertions; the fake goes with the test
    (fake, info)
}

#[test]
fn behind_a_private_or_shared_external_address_nothing_is_mapped() {
    for ip in ["192.168.1.20", "10.0.0.2", "100.64.1.2", "100.127.255.254"] {
        let (fake, info) = open_v4_with_external(ip);
        assert_eq!(info.v4.status, PortStatus::UpstreamNat, "{ip}: {:?}", info.v4);
        assert!(info.v4.message.contains(ip), "{}", info.v4.message);
        assert!(fake.calls("AddAnyPortMapping").is_empty() && fake.model().mappings.is_empty(), "{ip}");
    }
}

#[test]
fn a_refusal_before_any_mapping_still_says_the_address_asked_for() {
    let fake = FakeIgd::v4();
    fake.model().external_ip = "100.64.1.2".into();
    let c = client(&[&fake], false);
    let asked = std::net::Ipv4Addr::LOCALHOST;
    let lease = c.open(&OpenRequest { v6: false, internal_v4: Some(asked), ..OpenRequest::new(Protocol::Udp, 40000) }).unwrap();
    let v4 = lease.info().v4;
    assert_eq!((v4.status, v4.internal), (PortStatus::UpstreamNat, Some(std::net::SocketAddr::from((asked, 40000)))), "{v4:?}");
}

#[test]
fn with_an_empty_or_zero_external_address_nothing_is_mapped() {
    for ip in ["", "0.0.0.0"] {
        let (fake, info) = open_v4_with_external(ip);
        assert_eq!(info.v4.status, PortStatus::NoExternalAddress, "{ip:?}: {:?}", info.v4);
        assert_eq!(info.v4.external, None);
        assert!(info.v4.message.contains("no external IPv4 address"), "{}", info.v4.message);
        assert!(fake.model().mappings.is_empty(), "{ip:?}");
    }
}

#[test]
fn with_a_public_external_address_the_lease_reports_it() {
    let (_fake, info) = open_v4_with_external("11.0.0.1");
    assert_eq!(info.v4.status, PortStatus::Open);
    assert_eq!(info.v4.external, Some("11.0.0.1:40000".parse().unwrap()));
}

#[test]
fn values_out_of_range_in_answers_are_refused() {
    let v6 = FakeIgd::v6();
    let gw6 = discover(&v6, Family::V6).unwrap();
    for id in ["65536", "70000", "-1", "", "one"] {
        v6.fault_times("AddPinhole", Fault::Answer(vec![("UniqueID", id.into())]), 1);
        assert!(invalid(&gw6.add_pinhole(&pinhole(40000), &budget()), "UniqueID"), "UniqueID {id:?}");
    }
    let (fake, gw) = v4_gateway();
    for port in ["0", "65536", "", "x"] {
        fake.fault_times("AddAnyPortMapping", Fault::Answer(vec![("NewReservedPort", port.into())]), 1);
        assert!(invalid(&gw.add_any_port_mapping(&mapping(40000), &budget()), "NewReservedPort"), "NewReservedPort {port:?}");
        let entry = vec![("NewInternalPort", port.into()), ("NewInternalClient", "127.0.0.1".into()), ("NewLeaseDuration", "60".into())];
        fake.fault_times("GetSpecificPortMappingEntry", Fault::Answer(entry), 1);
        assert!(invalid(&gw.get_specific_port_mapping(None, 40000, Protocol::Udp, &budget()), "NewInternalPort"), "NewInternalPort {port:?}");
    }
    let bad_flag = vec![("FirewallEnabled", "maybe".into()), ("InboundPinholeAllowed", "1".into())];
    v6.fault_times("GetFirewallStatus", Fault::Answer(bad_flag), 1);
    assert!(invalid(&gw6.firewall_status(&budget()), "FirewallEnabled"));
}

#[test]
fn a_router_that_says_success_but_makes_no_mapping_is_caught_by_the_read_back() {
    // IGDv2: AddAnyPortMapping answers a port but the router holds nothing.
    let (fake, gw) = v4_gateway();
    fake.fault("AddAnyPortMapping", Fault::Answer(vec![("NewReservedPort", "40000".into())]));
    let r = gw.map_port(&mapping(40000), &budget());
    assert!(invalid(&r, "holds no mapping for port 40000"), "{r:?}");
    // IGDv1: AddPortMapping says yes, does nothing.
    let fake = FakeIgd::v4();
    fake.model().description = fake_igd::igd1_description();
    let gw = discover(&fake, Family::V4).unwrap();
    fake.fault("AddPortMapping", Fault::Answer(vec![]));
    let r = gw.map_port(&mapping(40001), &budget());
    assert!(invalid(&r, "holds no mapping for port 40001"), "{r:?}");
    // A router that maps the port to someone else.
    let (fake, gw) = v4_gateway();
    fake.fault("AddAnyPortMapping", Fault::Answer(vec![("NewReservedPort", "40002".into())]));
    fake.model()
        .mappings
        .insert((40002, "UDP".into()), fake_igd::Mapping { internal_client: "127.0.0.9".into(), internal_port: 40002, description: "x".into(), lease: 0 });
    let r = gw.map_port(&mapping(40002), &budget());
    assert!(invalid(&r, "not to us"), "{r:?}");
}

#[test]
fn a_lease_the_router_does_not_report_is_not_taken_for_permanent() {
    let (fake, gw) = v4_gateway();
    // The read-back lease is believed when the router gives one...
    fake.fault_times("GetSpecificPortMappingEntry", Fault::Answer(entry_with_lease(Some("58"))), 1);
    assert_eq!(gw.map_port(&mapping(40000), &budget()).unwrap().lease_secs, 58);
    // ...but a missing or unreadable one would stop renewals: the asked lease is kept.
    for lease in [None, Some(""), Some("soon"), Some("-5"), Some("0")] {
        fake.fault_times("GetSpecificPortMappingEntry", Fault::Answer(entry_with_lease(lease)), 1);
        assert_eq!(gw.map_port(&mapping(40000), &budget()).unwrap().lease_secs, 60, "NewLeaseDuration {lease:?}");
    }
}

fn entry_with_lease(lease: Option<&str>) -> Vec<(&'static str, String)> {
    let mut out = vec![("NewInternalPort", "40000".to_string()), ("NewInternalClient", "127.0.0.1".into()), ("NewEnabled", "1".into())];
    out.extend(lease.map(|l| ("NewLeaseDuration", l.to_string())));
    out
}

#[test]
fn pinhole_requests_use_canonical_text_and_never_an_empty_port() {
    let v6 = FakeIgd::v6();
    let gw = discover(&v6, Family::V6).unwrap();
    let p = Pinhole { internal_client: "2001:0DB8:0000:0000:0000:0000:0000:0005".parse::<Ipv6Addr>().unwrap(), ..pinhole(40000) };
    let id = gw.add_pinhole(&p, &budget()).unwrap();
    gw.update_pinhole(id, 120, &budget()).unwrap();
    gw.delete_pinhole(id, &budget()).unwrap();
    let add = &v6.calls("AddPinhole")[0];
    assert_eq!(add.arg("InternalClient"), "2001:db8::5");
    assert_eq!(add.arg("RemoteHost"), "");
    assert_eq!(add.arg("RemotePort"), "0");
    assert_eq!(add.arg("InternalPort"), "40000");
    assert_eq!(add.arg("Protocol"), "17");
    assert_eq!(add.arg("LeaseTime"), "60");
    let update = &v6.calls("UpdatePinhole")[0];
    assert_eq!((update.arg("UniqueID"), update.arg("NewLeaseTime")), (id.to_string().as_str(), "120"));
    assert!(v6.model().pinholes.is_empty());
    // Nothing is sent for a request that would open a wildcard or an unusable address.
    for bad in [
        Pinhole { internal_port: 0, ..pinhole(0) },
        Pinhole { internal_client: Ipv6Addr::LOCALHOST, ..pinhole(40000) },
        Pinhole { lease_secs: 0, ..pinhole(40000) },
    ] {
        assert!(matches!(gw.add_pinhole(&bad, &budget()), Err(Error::InvalidArgument(_))), "{bad:?}");
    }
    assert_eq!(v6.calls("AddPinhole").len(), 1);
    // And pinholes are never asked for over IPv4.
    let (_fake, gw4) = v4_gateway();
    assert!(matches!(gw4.add_pinhole(&pinhole(40000), &budget()), Err(Error::NotSupported(_))));
}

#[test]
fn a_728_to_add_any_port_mapping_is_checked_with_add_port_mapping_for_the_real_reason() {
    // A 606 from AddPortMapping is the reason given (the router's rules refuse the request).
    let (fake, gw) = v4_gateway();
    fake.fault_times("AddAnyPortMapping", Fault::Upnp(728), 1);
    fake.fault_times("AddPortMapping", Fault::Upnp(606), 1);
    let e = gw.add_mapping(&mapping(5100), &budget()).unwrap_err();
    assert_eq!(e.upnp_code(), Some(606), "{e}");
    assert!(e.to_string().starts_with("AddPortMapping: router answered 606"), "{e}");
    // 718 (that one port is taken): the 728 stands.
    fake.fault_times("AddAnyPortMapping", Fault::Upnp(728), 1);
    fake.fault_times("AddPortMapping", Fault::Upnp(718), 1);
    let e = gw.add_mapping(&mapping(5101), &budget()).unwrap_err();
    assert_eq!(e.upnp_code(), Some(728), "{e}");
    // AddPortMapping succeeds: the mapping is made, on the port asked.
    fake.fault_times("AddAnyPortMapping", Fault::Upnp(728), 1);
    let m = gw.add_mapping(&mapping(5102), &budget()).unwrap();
    assert_eq!(m.external_port, 5102);
    assert!(fake.model().mappings.keys().any(|(port, _)| *port == 5102), "the router holds it");
}
