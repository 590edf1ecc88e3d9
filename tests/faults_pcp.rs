//! PCP / NAT-PMP faults a real router will not make, against a fake server on loopback: answers
//! to another request (nonce, opcode, protocol, port), truncated and oversized datagrams, answers
//! from another address or port are ignored; a slow or late answer within the budget is taken;
//! lost requests are retransmitted identically; a refused port is "no server" at once; the epoch
//! going backwards is visible; a flood of ANNOUNCEs is read in bounded looks.

mod fake_pcp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use fake_pcp::{map_answer, natpmp_address_answer, natpmp_map_answer, FakePcp, Reply, Source};
use portopen::pcp::net::{self, ExchangeError, Schedule};
use portopen::pcp::wire::{epoch_lost_state, MapRequest, NatPmpMapRequest, NatPmpResult, PcpAnswer, PcpResult, Verdict};
use portopen::{Budget, CancelToken, Protocol};

const EXT: Ipv4Addr = Ipv4Addr::new(11, 0, 0, 1);
/// The external port the right answer grants: no junk answer carries it.
const GRANTED: u16 = 41234;

fn request(client: IpAddr) -> MapRequest {
    MapRequest {
        nonce: net::new_nonce(),
        protocol: Protocol::Udp,
        internal_port: 40000,
        suggested_external_port: 40000,
        suggested_external_address: None,
        lifetime: 600,
        client,
    }
}

fn budget(ms: u64) -> Budget {
    Budget::new(Duration::from_millis(ms), &CancelToken::new())
}

/// Every kind of datagram that is not the answer to `req` (each alone is ignored).
fn junk(req: &[u8]) -> Vec<Reply> {
    let good = map_answer(req, 0, 600, 100, 1, IpAddr::V4(EXT));
    let flip = |at: usize| {
        let mut d = good.clone();
        d[at] ^= 0x01;
        d
    };
    let mut oversized = good.clone();
    oversized.extend_from_slice(&[1, 0, 0x04, 0x00]);
    oversized.resize(1104 + 8, 0);
    vec![
        Reply::now(flip(30)),                      // another nonce
        Reply::now(flip(1)),                       // PEER (opcode 2) answer, not MAP
        Reply::now(flip(36)),                      // another protocol
        Reply::now(flip(41)),                      // another internal port
        Reply::now(req.to_vec()),                  // the request echoed (R bit clear)
        Reply::now(good[..56].to_vec()),           // truncated
        Reply::now(good[..22].to_vec()),           // shorter than a header
        Reply::now([&good[..], &[0, 0]].concat()), // not a multiple of 4
        Reply::now(oversized),                     // longer than 1100 bytes
        Reply::now(vec![0; 60]),                   // zeros
        Reply::from(Source::OtherPort, map_answer(req, 0, 600, 100, 2, IpAddr::V4(EXT))),
        Reply::from(Source::OtherAddress, map_answer(req, 0, 600, 100, 3, IpAddr::V4(EXT))),
    ]
}

#[test]
fn answers_to_another_request_are_ignored_and_the_right_one_is_taken() {
    for (fake, client) in [
        (
            FakePcp::v4(Box::new(|_, req| [junk(req), vec![Reply::now(map_answer(req, 0, 600, 100, GRANTED, IpAddr::V4(EXT)))]].concat())),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ),
        (
            FakePcp::v6(Box::new(|_, req| [junk(req), vec![Reply::now(map_answer(req, 0, 600, 100, GRANTED, IpAddr::V4(EXT)))]].concat())),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ),
    ] {
        let req = request(client);
        let got = net::map(fake.addr, &req, &Schedule::RFC6887, &budget(2000)).expect("the right answer");
        let PcpAnswer::Map(m) = got.answer else { panic!("{got:?}") };
        assert_eq!((m.result, m.external_port, m.lifetime, m.epoch), (PcpResult::Success, GRANTED, 600, 100));
        assert_eq!(got.sends, 1);
        assert!(got.elapsed < Duration::from_millis(500), "{:?}", got.elapsed);
        assert_eq!(fake.requests(), vec![req.encode()], "one request, as built");
    }
}

#[test]
fn only_wrong_answers_end_at_the_deadline_without_an_answer() {
    let fake = FakePcp::v4(Box::new(|_, req| junk(req)));
    let started = Instant::now();
    let got = net::map(fake.addr, &request(IpAddr::V4(Ipv4Addr::LOCALHOST)), &Schedule::RFC6887, &budget(300));
    assert_eq!(got, Err(ExchangeError::NoAnswer { sends: 1 }));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(800), "{took:?}");
}

#[test]
fn a_slow_not_authorized_within_the_budget_is_taken_without_a_retransmit() {
    // miniupnpd 2.3.1 scans every port before refusing one its rules deny (~2.3 s in the lab).
    let fake =
        FakePcp::v4(Box::new(|_, req| vec![Reply::after(Duration::from_millis(2400), map_answer(req, 2, 0, 100, 0, IpAddr::V4(Ipv4Addr::UNSPECIFIED)))]));
    let got = net::map(fake.addr, &request(IpAddr::V4(Ipv4Addr::LOCALHOST)), &Schedule::RFC6887, &budget(5000)).expect("the slow answer");
    let PcpAnswer::Map(m) = got.answer else { panic!("{got:?}") };
    assert_eq!(m.verdict(), Verdict::NotAuthorized);
    assert!(got.elapsed >= Duration::from_millis(2400), "{:?}", got.elapsed);
    assert_eq!((got.sends, fake.requests().len()), (1, 1), "IRT 3 s: no duplicate for the router to scan again");
}

#[test]
fn a_late_answer_to_the_first_send_is_accepted_after_retransmits() {
    let fake = FakePcp::v4(Box::new(|index, req| {
        if index == 0 {
            vec![Reply::after(Duration::from_millis(700), map_answer(req, 0, 600, 100, GRANTED, IpAddr::V4(EXT)))]
        } else {
            vec![]
        }
    }));
    let fast = Schedule { initial: Duration::from_millis(200), max: Duration::from_secs(1) };
    let req = request(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let got = net::map(fake.addr, &req, &fast, &budget(3000)).expect("the late answer");
    assert!(matches!(got.answer, PcpAnswer::Map(m) if m.external_port == GRANTED));
    let seen = fake.requests();
    assert!(seen.len() >= 2 && got.sends as usize == seen.len(), "sends {} seen {}", got.sends, seen.len());
    assert!(seen.iter().all(|r| *r == req.encode()), "retransmits are the identical request");
}

#[test]
fn lost_requests_are_retransmitted_on_the_schedule() {
    let fake = FakePcp::v4(Box::new(|index, req| if index < 2 { vec![] } else { vec![Reply::now(map_answer(req, 0, 600, 100, GRANTED, IpAddr::V4(EXT)))] }));
    let fast = Schedule { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
    let got = net::map(fake.addr, &request(IpAddr::V4(Ipv4Addr::LOCALHOST)), &fast, &budget(3000)).expect("third send answered");
    assert_eq!(got.sends, 3);
    // 100 ms then 200 ms, each ±10 %.
    assert!(got.elapsed >= Duration::from_millis(270) && got.elapsed < Duration::from_millis(600), "{:?}", got.elapsed);
}

#[test]
fn a_refused_port_is_no_server_at_once() {
    for ip in [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)] {
        let closed = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap().local_addr().unwrap();
        let started = Instant::now();
        let got = net::map(closed, &request(ip), &Schedule::RFC6887, &budget(2000));
        assert_eq!(got, Err(ExchangeError::NoServer), "{ip}");
        assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    }
}

#[test]
fn cancel_stops_an_exchange_within_a_poll() {
    let fake = FakePcp::v4(Box::new(|_, _| vec![]));
    let cancel = CancelToken::new();
    let budget = Budget::new(Duration::from_secs(10), &cancel);
    let trip = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        trip.cancel();
    });
    let started = Instant::now();
    let got = net::map(fake.addr, &request(IpAddr::V4(Ipv4Addr::LOCALHOST)), &Schedule::RFC6887, &budget);
    assert_eq!(got, Err(ExchangeError::Cancelled));
    assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
}

#[test]
fn the_epoch_going_backwards_is_visible_to_the_caller() {
    let epochs = [5000u32, 5001, 10];
    let fake = FakePcp::v4(Box::new(move |index, req| vec![Reply::now(map_answer(req, 0, 600, epochs[index.min(2)], GRANTED, IpAddr::V4(EXT)))]));
    let req = request(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let got = net::map(fake.addr, &req, &Schedule::RFC6887, &budget(1000)).unwrap();
        let PcpAnswer::Map(m) = got.answer else { panic!() };
        seen.push((m.epoch, Instant::now()));
    }
    assert!(!epoch_lost_state(seen[0].0, seen[1].0, seen[1].1 - seen[0].1), "one second on, at once: continuous");
    assert!(epoch_lost_state(seen[1].0, seen[2].0, seen[2].1 - seen[1].1), "5001 -> 10: the server lost its state");
}

#[test]
fn a_natpmp_only_server_says_so_and_maps_with_natpmp() {
    let fake = FakePcp::v4(Box::new(|_, req| match req.first() {
        Some(0) if req.get(1) == Some(&0) => vec![Reply::now(natpmp_address_answer(77, EXT))],
        Some(0) => vec![Reply::now(natpmp_map_answer(req, 0, 77, GRANTED, 600))],
        // RFC 6886 §3.5: any other version gets "Unsupported Version".
        _ => vec![Reply::now(vec![0, 128, 0, 1, 0, 0, 0, 77])],
    }));
    let got = net::map(fake.addr, &request(IpAddr::V4(Ipv4Addr::LOCALHOST)), &Schedule::RFC6887, &budget(1000)).unwrap();
    assert_eq!(got.answer, PcpAnswer::VersionNotSupported { server_version: 0, epoch: 77 });
    let SocketAddr::V4(server) = fake.addr else { unreachable!() };
    let map = NatPmpMapRequest { protocol: Protocol::Tcp, internal_port: 40000, suggested_external_port: 40000, lifetime: 600 };
    let out = net::natpmp_map(Ipv4Addr::LOCALHOST, server, &map, true, &Schedule::RFC6886, &budget(1000)).unwrap();
    assert_eq!((out.map.answer.result, out.map.answer.external_port, out.map.answer.lifetime), (NatPmpResult::Success, GRANTED, 600));
    assert_eq!(out.address.map(|a| a.answer.external), Some(EXT));
}

#[test]
fn natpmp_answers_for_another_port_or_protocol_are_ignored() {
    let fake = FakePcp::v4(Box::new(|_, req| {
        let mut other_port = natpmp_map_answer(req, 0, 1, 1, 600);
        other_port[9] ^= 1;
        let mut other_protocol = natpmp_map_answer(req, 0, 1, 2, 600);
        other_protocol[1] ^= 3;
        vec![
            Reply::now(other_port),
            Reply::now(other_protocol),
            Reply::now(natpmp_map_answer(req, 0, 1, 3, 600)[..12].to_vec()),
            Reply::now(natpmp_map_answer(req, 0, 1, GRANTED, 600)),
        ]
    }));
    let SocketAddr::V4(server) = fake.addr else { unreachable!() };
    let map = NatPmpMapRequest { protocol: Protocol::Udp, internal_port: 40000, suggested_external_port: 0, lifetime: 600 };
    let out = net::natpmp_map(Ipv4Addr::LOCALHOST, server, &map, false, &Schedule::RFC6886, &budget(1000)).unwrap();
    assert_eq!(out.map.answer.external_port, GRANTED);
    assert_eq!(out.address, None);
}

// Needs a private network namespace (unshare): Linux only.
#[cfg(target_os = "linux")]
mod announce_flood {
    use std::net::SocketAddrV4;

    use super::*;
    use fake_pcp::announce;
    use portopen::pcp::net::AnnounceWatch;
    use portopen::pcp::wire::Announcement;

    #[test]
    fn a_flood_of_announces_is_read_in_bounded_looks() {
        // Port 5350 is fixed: the flood runs in a network namespace of its own (root), so nothing
        // else on this machine shares the port or hears it.
        let Some(result) = in_private_netns(|| {
            let watch = AnnounceWatch::open(IpAddr::V4(Ipv4Addr::LOCALHOST)).expect("ANNOUNCE listener");
            let server = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5351)).unwrap();
            let stranger = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
            let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5350);
            for i in 0..2000u32 {
                server.send_to(&announce(i), to).unwrap();
                server.send_to(&[0xff; 1200], to).unwrap();
                stranger.send_to(&announce(1), to).unwrap();
            }
            let mut looks = Vec::new();
            loop {
                let started = Instant::now();
                let heard = watch.heard();
                looks.push((heard, started.elapsed()));
                if looks.last().unwrap().0.is_empty() || looks.len() > 10_000 {
                    break;
                }
            }
            looks
        }) else {
            eprintln!("skipped: a private network namespace needs root (unshare CLONE_NEWNET)");
            return;
        };
        let total: usize = result.iter().map(|(h, _)| h.len()).sum();
        assert!(total > 0, "nothing heard");
        for (heard, took) in &result {
            assert!(heard.len() <= portopen::limits::PCP_ANNOUNCE_READS_MAX);
            assert!(*took < Duration::from_millis(50), "one look took {took:?}");
            assert!(heard.iter().all(|(from, a)| from.port() == 5351 && matches!(a, Announcement::Pcp { .. })));
        }
    }

    /// Run `f` on a thread in a new network namespace with loopback up; None without the privilege.
    fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        std::thread::spawn(move || {
            // SAFETY: unshare affects only this thread's namespaces.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return None;
            }
            // A child process forked from this thread starts in its namespace.
            let up = std::process::Command::new("ip").args(["link", "set", "lo", "up"]).status().expect("ip");
            assert!(up.success());
            Some(f())
        })
        .join()
        .unwrap()
    }
}
