//! Socket faults every OS must survive the same way (loopback only): a datagram larger than the
//! SSDP cap is dropped and the answer after it still found; an ICMP port unreachable drawn by an
//! earlier M-SEARCH does not end the listening. On Windows both used to end the receive loop:
//! the first read failed with WSAEMSGSIZE, the second with WSAECONNRESET. Linux cuts an
//! oversized datagram silently and reports no ICMP error on an unconnected socket, so there
//! these pass either way; the unit test in src/transport/ssdp.rs forces the reset path on Linux.

mod fake_igd;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use fake_igd::{capture_logs, discover, logged, FakeIgd, Ssdp};
use portopen::{CancelToken, DiscoveryOptions, Family};

const GOOD_ANSWER: &str = "HTTP/1.1 200 OK\r\nST: {st}\r\nUSN: uuid:sockets::{st}\r\nLOCATION: http://{http}/rootDesc.xml\r\n\r\n";

#[test]
fn an_oversized_answer_does_not_hide_the_good_answer_after_it() {
    let fake = FakeIgd::v4();
    fake.set_ssdp(Ssdp::Raw(vec![vec![b'A'; 9000], GOOD_ANSWER.as_bytes().to_vec()]));
    let gateway = discover(&fake, Family::V4).expect("the answer after the oversized datagram is found");
    assert_eq!(gateway.location.to_string(), fake.location());
    let from = fake.ssdp_addr.to_string();
    assert!(!logged(&["SSDP: ignoring datagram from", &from, "larger than"]).is_empty(), "the oversized datagram is logged as dropped");
}

#[test]
fn a_port_unreachable_from_an_earlier_search_does_not_end_the_listening() {
    capture_logs();
    // A loopback port nobody listens on: round one's M-SEARCH draws an ICMP port unreachable.
    let router = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap();
    let options =
        DiscoveryOptions { timeout: Duration::from_secs(2), multicast: false, default_gateway: false, unicast: vec![router], ..DiscoveryOptions::default() };
    let search = std::thread::spawn(move || portopen::discover(Family::V4, &options, &CancelToken::new()));

    // The router comes up on that port once round one has gone out; round two finds it.
    let sent = format!("sent to {router}");
    let started = Instant::now();
    while logged(&["SSDP IPv4: M-SEARCH", &sent]).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(2), "round one was never sent");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20)); // the ICMP error reaches the socket first
    let fake = FakeIgd::start_at(router, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    fake.set_ssdp(Ssdp::Normal);

    let gateways = search.join().unwrap().expect("round two's answer is read after the ICMP error");
    assert_eq!(gateways[0].location.to_string(), fake.location());
}
