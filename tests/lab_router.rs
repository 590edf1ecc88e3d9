//! Protocol actions against the real router (miniupnpd in network namespaces), checked against
//! what really happened: the router's answers, its nftables rules, packets from `wan`, and the
//! reference client `upnpc`. Needs root and the lab packages: run by scripts/test.sh
//! (`cargo test -- --include-ignored`). Every client call runs inside the lab's `lan` namespace.
// Lab tests run in Linux network namespaces (labkit enters them with setns).
#![cfg(target_os = "linux")]

mod labkit;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use labkit::Lab;
use portopen::{discover, Budget, CancelToken, DiscoveryOptions, Error, ExternalAddress, Family, Pinhole, PortMapping, Protocol, ServiceKind, V4Class};

fn budget() -> Budget {
    Budget::new(Duration::from_secs(3), &CancelToken::new())
}

fn multicast_only() -> DiscoveryOptions {
    DiscoveryOptions { default_gateway: false, ..DiscoveryOptions::default() }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn discovery_finds_the_router_over_both_families_by_multicast() {
    let lab = Lab::up("default");
    let (v4, v6) = lab.in_lan(|| {
        let c = CancelToken::new();
        (discover(Family::V4, &multicast_only(), &c), discover(Family::V6, &multicast_only(), &c))
    });
    let v4 = &v4.expect("IPv4 discovery")[0];
    let v6 = &v6.expect("IPv6 discovery (ff02::c)")[0];
    assert_eq!(v4.location.ip, "192.168.77.1".parse::<IpAddr>().unwrap());
    assert!(v6.location.ip.is_ipv6(), "IPv6 gateway found at {}", v6.location);
    for gw in [v4, v6] {
        assert_eq!(gw.igd_version(), 2);
        assert_eq!(gw.wan.as_ref().map(|s| s.kind), Some(ServiceKind::WanIpConnection2));
        assert!(gw.firewall.is_some());
        assert!(gw.server.as_deref().unwrap_or("").contains("MiniUPnPd/2.3"), "server {:?}", gw.server);
    }
    assert_eq!(v4.local_addr, "192.168.77.100".parse::<IpAddr>().unwrap());
    assert_eq!(v6.local_addr, "2001:db8:1::100".parse::<IpAddr>().unwrap(), "the stable global address, not link-local");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn external_address_is_the_wan_address_over_ipv4_and_not_an_error_over_ipv6() {
    let lab = Lab::up("default");
    let (v4, v6) = lab.in_lan(|| {
        let c = CancelToken::new();
        let v4 = discover(Family::V4, &multicast_only(), &c).unwrap().remove(0).external_address(&budget());
        let v6 = discover(Family::V6, &multicast_only(), &c).unwrap().remove(0).external_address(&budget());
        (v4, v6)
    });
    assert_eq!(v4.unwrap(), ExternalAddress::V4(Ipv4Addr::new(11, 0, 0, 1), V4Class::Public));
    match v6.expect("GetExternalIPAddress over IPv6 must not be an error") {
        ExternalAddress::None => {}
        ExternalAddress::V4(ip, _) => assert_eq!(ip, Ipv4Addr::new(11, 0, 0, 1)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn port_mapping_actions_and_reachability() {
    let lab = Lab::up("default");
    assert!(!lab.reach_v4("udp", 41000), "reachable before any mapping");
    let gw = lab.in_lan(|| discover(Family::V4, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    let me = Ipv4Addr::new(192, 168, 77, 100);
    let m = |ext: u16, proto: Protocol, desc: &str| PortMapping {
        remote_host: None,
        external_port: ext,
        protocol: proto,
        internal_port: ext,
        internal_client: me,
        enabled: true,
        description: desc.into(),
        lease_secs: 600,
    };
    // add + get
    let (g, mm) = (gw.clone(), m(41000, Protocol::Udp, "portopen-test-a"));
    let held = lab.in_lan(move || {
        g.add_port_mapping(&mm, &budget()).unwrap();
        g.get_specific_port_mapping(None, 41000, Protocol::Udp, &budget()).unwrap()
    });
    assert_eq!((held.internal_client, held.internal_port, held.description.as_str()), (me, 41000, "portopen-test-a"));
    assert!(held.lease_secs > 0 && held.lease_secs <= 600, "lease read back: {}", held.lease_secs);
    assert!(lab.router_rules().iter().any(|r| r.contains("41000")), "DNAT rule for 41000 in {:?}", lab.router_rules());
    assert!(lab.reach_v4("udp", 41000), "UDP via 11.0.0.1:41000 must arrive while mapped");
    assert!(!lab.reach_v4("udp", 41001), "an unmapped port stays closed");

    // AddAnyPortMapping for a taken port on another host's behalf is refused by secure mode;
    // for our own a fresh port is returned.
    let (g, mm) = (gw.clone(), m(41002, Protocol::Tcp, "portopen-test-b"));
    let any = lab.in_lan(move || g.add_any_port_mapping(&mm, &budget())).unwrap();
    assert!(any >= 1024);
    assert!(lab.reach_v4("tcp", any), "TCP via 11.0.0.1:{any} must connect while mapped");

    // list (GetListOfPortMappings on IGD:2) and generic entries
    let g = gw.clone();
    let (list, first) = lab.in_lan(move || (g.list_port_mappings(1024, 65535, Protocol::Udp, false, 100, &budget()), g.get_generic_port_mapping(0, &budget())));
    let list = list.expect("GetListOfPortMappings");
    assert!(list.iter().any(|e| e.external_port == 41000 && e.description == "portopen-test-a"), "list: {list:?}");
    assert!(first.is_ok(), "GetGenericPortMappingEntry 0: {first:?}");

    // delete → gone from the router, unreachable again
    let g = gw.clone();
    let after = lab.in_lan(move || {
        g.delete_port_mapping(None, 41000, Protocol::Udp, &budget()).unwrap();
        g.delete_port_mapping(None, any, Protocol::Tcp, &budget()).unwrap();
        g.get_specific_port_mapping(None, 41000, Protocol::Udp, &budget())
    });
    assert_eq!(after.unwrap_err().upnp_code(), Some(714), "NoSuchEntryInArray after delete");
    assert!(!lab.router_rules().iter().any(|r| r.contains("41000")), "rules left: {:?}", lab.router_rules());
    assert!(!lab.reach_v4("udp", 41000), "must not arrive after delete");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn pinhole_actions_and_reachability() {
    let lab = Lab::up("default");
    let me: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
    assert!(!lab.reach_v6("udp", 42000), "reachable before any pinhole");
    let gw = lab.in_lan(|| discover(Family::V6, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    let p = |port: u16, proto: Protocol, lease: u32| Pinhole {
        remote_host: None,
        remote_port: 0,
        internal_client: me,
        internal_port: port,
        protocol: proto,
        lease_secs: lease,
    };

    let (g, ph) = (gw.clone(), p(42000, Protocol::Udp, 600));
    let (status, id) = lab.in_lan(move || (g.firewall_status(&budget()), g.add_pinhole(&ph, &budget())));
    let status = status.expect("GetFirewallStatus");
    assert!(status.enabled && status.inbound_pinhole_allowed, "{status:?}");
    let id = id.expect("AddPinhole");
    assert!(lab.reach_v6("udp", 42000), "UDP to [host]:42000 must arrive through the pinhole");
    assert!(!lab.reach_v6("udp", 42001), "no pinhole, no entry");
    let (g, ph) = (gw.clone(), p(42002, Protocol::Tcp, 600));
    let tcp_id = lab.in_lan(move || g.add_pinhole(&ph, &budget())).unwrap();
    assert!(lab.reach_v6("tcp", 42002), "TCP to [host]:42002 must connect through the pinhole");

    // GetPinholePackets and CheckPinholeWorking answer for a live pinhole (miniupnpd 2.3.1's
    // nftables backend keeps no counters: it reports 0 packets, and may say 709
    // NoTrafficReceived; both are answers, not failures).
    let g = gw.clone();
    let (packets, working) = lab.in_lan(move || (g.pinhole_packets(id, &budget()), g.check_pinhole_working(id, &budget())));
    packets.expect("GetPinholePackets on a live pinhole");
    match working {
        Ok(_) => {}
        Err(Error::Upnp(f)) if f.code == 709 => {}
        Err(e) => panic!("CheckPinholeWorking: {e}"),
    }

    // delete → gone, unreachable again; a second delete is refused (miniupnpd 2.3.1 answers 402
    // where the spec says 704 NoSuchEntry)
    let g = gw.clone();
    let again = lab.in_lan(move || {
        g.delete_pinhole(id, &budget()).unwrap();
        g.delete_pinhole(tcp_id, &budget()).unwrap();
        g.delete_pinhole(id, &budget())
    });
    assert!(matches!(again.as_ref().unwrap_err().upnp_code(), Some(704) | Some(402)), "{again:?}");
    assert!(!lab.reach_v6("udp", 42000), "must not arrive after DeletePinhole");
    assert!(!lab.reach_v6("tcp", 42002), "must not connect after DeletePinhole");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn update_pinhole_really_extends_the_lease() {
    // Two pinholes with a short lease; only one is updated. The router expires the other one
    // (its rule disappears and packets stop), the updated one keeps working: the router's
    // state, not the reply, shows the lease was extended.
    let lab = Lab::up("default");
    let me: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
    let gw = lab.in_lan(|| discover(Family::V6, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    let p = move |port: u16| Pinhole { remote_host: None, remote_port: 0, internal_client: me, internal_port: port, protocol: Protocol::Udp, lease_secs: 3 };
    let g = gw.clone();
    let (kept, expiring) = lab.in_lan(move || {
        let kept = g.add_pinhole(&p(42100), &budget()).unwrap();
        let expiring = g.add_pinhole(&p(42101), &budget()).unwrap();
        g.update_pinhole(kept, 120, &budget()).unwrap();
        (kept, expiring)
    });
    std::thread::sleep(Duration::from_secs(6));
    let g = gw.clone();
    let (kept_working, expired) = lab.in_lan(move || (g.pinhole_packets(kept, &budget()), g.pinhole_packets(expiring, &budget())));
    assert!(kept_working.is_ok(), "updated pinhole must still exist: {kept_working:?}");
    assert!(expired.as_ref().unwrap_err().upnp_code().is_some(), "the pinhole that was not updated has expired: {expired:?}");
    assert!(lab.reach_v6("udp", 42100), "updated pinhole still lets packets in");
    assert!(!lab.reach_v6("udp", 42101), "expired pinhole lets nothing in");
    let g = gw.clone();
    lab.in_lan(move || g.delete_pinhole(kept, &budget())).unwrap();
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn pinhole_for_another_hosts_address_is_refused_with_606() {
    let lab = Lab::up("default");
    let gw = lab.in_lan(|| discover(Family::V6, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    let other: Ipv6Addr = "2001:db8:1::200".parse().unwrap();
    let err = lab
        .in_lan(move || {
            gw.add_pinhole(
                &Pinhole { remote_host: None, remote_port: 0, internal_client: other, internal_port: 42200, protocol: Protocol::Udp, lease_secs: 60 },
                &budget(),
            )
        })
        .unwrap_err();
    assert_eq!(err.upnp_code(), Some(606), "{err}");
    let text = err.to_string();
    assert!(text.contains("AddPinhole") && text.contains("606"), "clear error: {text}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn pinholes_cannot_be_requested_over_ipv4() {
    let lab = Lab::up("default");
    let gw = lab.in_lan(|| discover(Family::V4, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    let me: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
    let err = lab
        .in_lan(move || {
            gw.add_pinhole(
                &Pinhole { remote_host: None, remote_port: 0, internal_client: me, internal_port: 42300, protocol: Protocol::Udp, lease_secs: 60 },
                &budget(),
            )
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotSupported(_)), "{err}");
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn upnpc_sees_our_mapping_and_we_delete_its_pinhole() {
    let lab = Lab::up("default");
    let gw4 = lab.in_lan(|| discover(Family::V4, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    let g = gw4.clone();
    lab.in_lan(move || {
        g.add_port_mapping(
            &PortMapping {
                remote_host: None,
                external_port: 43000,
                protocol: Protocol::Udp,
                internal_port: 43000,
                internal_client: Ipv4Addr::new(192, 168, 77, 100),
                enabled: true,
                description: "portopen-xcheck".into(),
                lease_secs: 600,
            },
            &budget(),
        )
    })
    .unwrap();
    let listed = lab.exec("lan", &["upnpc", "-l"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("43000->192.168.77.100:43000") && listed.contains("portopen-xcheck"), "upnpc -l:\n{listed}");

    let added = lab.exec("lan", &["upnpc", "-6", "-A", "", "0", "2001:db8:1::100", "43001", "UDP", "600"]);
    let added = String::from_utf8_lossy(&added.stdout).into_owned();
    let id: u16 = added
        .lines()
        .find_map(|l| l.split("UniqueID").nth(1).or_else(|| l.split("Pinhole ID").nth(1)))
        .and_then(|rest| rest.trim_start_matches([' ', '=', ':']).split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pinhole id in upnpc output:\n{added}"));
    assert!(lab.reach_v6("udp", 43001), "upnpc's pinhole lets packets in");
    let gw6 = lab.in_lan(|| discover(Family::V6, &multicast_only(), &CancelToken::new()).unwrap().remove(0));
    lab.in_lan(move || gw6.delete_pinhole(id, &budget())).expect("portopen deletes upnpc's pinhole");
    assert!(!lab.reach_v6("udp", 43001), "gone after our DeletePinhole");
    lab.in_lan(move || gw4.delete_port_mapping(None, 43000, Protocol::Udp, &budget())).unwrap();
}

#[test]
#[ignore = "lab: needs root, miniupnpd-nftables, nftables; run by scripts/test.sh"]
fn a_port_the_routers_rules_refuse_is_reported_with_the_routers_606_not_728() {
    // The lab allows mappings to LAN ports 1024-65535 only. For internal port 80 miniupnpd's
    // AddAnyPortMapping tries every external port, is refused by the rule each time, and answers
    // 728 "no free port mappings"; AddPortMapping for the same request answers 606 (what upnpc
    // reports). The game is told the router's real reason: 606, not authorized.
    let lab = Lab::up("default");
    let config = lab.config();
    let info = lab.in_lan(move || {
        let client = portopen::Client::new(config).unwrap();
        let request = portopen::OpenRequest { v6: false, lease_secs: 60, ..portopen::OpenRequest::new(Protocol::Udp, 80) };
        let info = client.open(&request).unwrap().info();
        Box::leak(Box::new(client));
        info
    });
    assert_eq!(info.v4.status, portopen::PortStatus::NotAuthorized, "{:?}", info.v4);
    assert_eq!(info.v4.upnp_code, Some(606), "{:?}", info.v4);
    assert!(info.v4.message.contains("606"), "{}", info.v4.message);
    // And upnpc, the reference client, gets the same code for the same request.
    let out = lab.exec("lan", &["upnpc", "-m", "eth0", "-a", "192.168.77.100", "80", "80", "UDP", "60"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("606"), "upnpc: {text}");
}
