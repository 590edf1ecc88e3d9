//! HTTP faults: broken or hostile framing, slow and silent routers. Each gives a clear error
//! within the action's deadline, never a hang or an unbounded buffer.

mod fake_igd;

use std::time::{Duration, Instant};

use fake_igd::{assert_within, budget, discover, soap_envelope, FakeIgd, Fault, ACTION};
use portopen::{Budget, CancelToken, Error, ExternalAddress, Family, Gateway};

const A: &str = "GetExternalIPAddress";

/// GetExternalIPAddress against a fake whose answer is `fault`; checked to end within the budget.
fn external_ip_with(fault: Fault) -> Result<ExternalAddress, Error> {
    let fake = FakeIgd::v4();
    let gw = discover(&fake, Family::V4).unwrap();
    fake.fault(A, fault);
    let started = Instant::now();
    let result = gw.external_address(&budget());
    assert_within(started, ACTION);
    result
}

/// A loopback listener that never accepts, its queue full so the kernel drops further SYNs, and
/// `fake`'s gateway with its control URL pointed at it. The queue stays full while the returned
/// connections live.
fn gateway_behind_a_full_queue(fake: &FakeIgd) -> (Gateway, socket2::Socket, Vec<std::net::TcpStream>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let fill: Vec<_> = (0..4).filter_map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(50)).ok()).collect();
    let mut gw = discover(fake, Family::V4).unwrap();
    gw.wan.as_mut().unwrap().control_url.port = addr.port();
    (gw, socket, fill)
}

fn raw(head: &str, body: &[u8]) -> Fault {
    Fault::Raw([head.as_bytes(), body].concat())
}

fn ok_body() -> String {
    soap_envelope("<u:GetExternalIPAddressResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:2\"><NewExternalIPAddress>11.0.0.1</NewExternalIPAddress></u:GetExternalIPAddressResponse>")
}

fn assert_invalid(result: Result<ExternalAddress, Error>, reason_part: &str) {
    match result {
        Err(Error::InvalidResponse { context, reason }) => {
            assert!(context.contains(A), "{context}");
            assert!(reason.contains(reason_part), "reason {reason:?} lacks {reason_part:?}");
        }
        other => panic!("expected InvalidResponse ({reason_part}), got {other:?}"),
    }
}

#[test]
fn framing_that_breaks_the_rules_is_refused() {
    let cases: Vec<(&str, Fault, &str)> = vec![
        ("body over the cap", raw("HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n", &[b'x'; 20000]), "cap"),
        ("body over the cap, no length", raw("HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 20000]), "cap"),
        ("endless body", Fault::Endless, "cap"),
        ("huge Content-Length", raw("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n", b"x"), "cap"),
        ("Content-Length over u64", raw("HTTP/1.1 200 OK\r\nContent-Length: 184467440737095516160\r\n\r\n", b"x"), "Content-Length"),
        ("negative Content-Length", raw("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", b"x"), "Content-Length"),
        ("conflicting Content-Lengths", raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", b"abcd"), "conflicting"),
        ("Content-Length above the body", raw("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", ok_body().as_bytes()), "missing"),
        ("Content-Length below the body", raw("HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n", ok_body().as_bytes()), "XML"),
        ("chunk size overflow", raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"fffffffffffffffffff\r\nx"), "chunk"),
        ("chunk over the cap", raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"7fffffff\r\nx"), "cap"),
        ("no final chunk", raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n"), "last chunk"),
        ("chunked and Content-Length", raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", b"0\r\n\r\n"), "ambiguous"),
        ("head over 8 KiB", raw(&format!("HTTP/1.1 200 OK\r\nX-Junk: {}\r\n\r\n", "a".repeat(9000)), b""), "head"),
        ("not HTTP", raw("SSH-2.0-OpenSSH_9.6\r\n\r\n", b""), "status line"),
        ("closed before answering", Fault::Raw(Vec::new()), "no response"),
    ];
    std::thread::scope(|s| {
        for (name, fault, reason) in cases {
            s.spawn(move || {
                let result = external_ip_with(fault);
                assert!(matches!(result, Err(Error::InvalidResponse { .. })), "{name}: {result:?}");
                assert_invalid(result, reason);
            });
        }
    });
}

#[test]
fn chunked_answers_and_100_continue_are_read() {
    let body = ok_body();
    let (a, b) = body.split_at(body.len() / 2);
    let chunked = format!("{:x};ext=1\r\n{a}\r\n{:X}\r\n{b}\r\n0\r\nX-Trailer: y\r\n\r\n", a.len(), b.len());
    let r = external_ip_with(raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunked.as_bytes()));
    assert_eq!(r.unwrap().public_v4(), Some("11.0.0.1".parse().unwrap()));
}

#[test]
fn a_slow_or_silent_router_times_out_at_the_deadline() {
    let cases = [
        ("one byte per second", Fault::Drip(Duration::from_secs(1))),
        ("connect then silence", Fault::Silence),
        ("answer after the deadline", Fault::Delay(Duration::from_secs(3))),
    ];
    std::thread::scope(|s| {
        for (name, fault) in cases {
            s.spawn(move || {
                let result = external_ip_with(fault);
                assert!(matches!(&result, Err(Error::Timeout(what)) if what.contains(A)), "{name}: {result:?}");
                assert!(result.unwrap_err().is_unreachable(), "{name}: a silent router counts as unreachable");
            });
        }
    });
}

#[test]
fn a_slow_answer_within_the_deadline_is_read() {
    let r = external_ip_with(Fault::Delay(Duration::from_millis(150)));
    assert!(matches!(r, Ok(ExternalAddress::V4(..))), "{r:?}");
}

#[test]
fn a_reset_in_the_middle_of_the_body_is_an_io_error() {
    let result = external_ip_with(Fault::ResetMidBody);
    assert!(matches!(&result, Err(Error::Io { context, .. }) if context.contains(A)), "{result:?}");
}

#[test]
fn a_router_that_is_gone_is_an_unreachable_io_error() {
    let fake = FakeIgd::v4();
    let gw = discover(&fake, Family::V4).unwrap();
    drop(fake); // nothing listens on its port any more
    let started = Instant::now();
    let result = gw.external_address(&budget());
    assert_within(started, ACTION);
    assert!(matches!(&result, Err(Error::Io { .. })), "{result:?}");
    assert!(result.unwrap_err().is_unreachable());
}

#[test]
fn redirects_are_reported_not_followed() {
    let elsewhere = FakeIgd::v4();
    let fake = FakeIgd::v4();
    let gw = discover(&fake, Family::V4).unwrap();
    fake.fault(A, Fault::Redirect(format!("http://{}/ctl/IPConn", elsewhere.http_host())));
    let result = gw.external_address(&budget());
    assert!(matches!(result, Err(Error::HttpStatus { status: 302, .. })), "{result:?}");
    // And for the description: discovery reports the status.
    fake.fault("GET", Fault::Redirect(elsewhere.location()));
    let result = discover(&fake, Family::V4);
    assert!(matches!(result, Err(Error::HttpStatus { status: 302, .. })), "{result:?}");
    assert!(elsewhere.requests().is_empty(), "followed a redirect: {:?}", elsewhere.requests());
}

#[test]
fn description_faults_end_discovery_with_a_clear_error() {
    type Expected = fn(&Error) -> bool;
    let cases: Vec<(&str, Fault, Expected)> = vec![
        ("silent", Fault::Silence, |e| matches!(e, Error::Timeout(_))),
        ("endless", Fault::Endless, |e| matches!(e, Error::InvalidResponse { .. })),
        ("over 64 KiB", raw("HTTP/1.1 200 OK\r\n\r\n", &vec![b' '; 70_000]), |e| matches!(e, Error::InvalidResponse { reason, .. } if reason.contains("cap"))),
        ("404", raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", b""), |e| matches!(e, Error::HttpStatus { status: 404, .. })),
        (
            "not UTF-8",
            raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", b"\xff\xfe\xfd"),
            |e| matches!(e, Error::InvalidResponse { reason, .. } if reason.contains("UTF-8")),
        ),
    ];
    std::thread::scope(|s| {
        for (name, fault, expected) in cases {
            s.spawn(move || {
                let fake = FakeIgd::v4();
                fake.fault("GET", fault);
                let started = Instant::now();
                let result = discover(&fake, Family::V4);
                assert_within(started, Duration::from_millis(300));
                assert!(result.as_ref().is_err_and(expected), "{name}: {result:?}");
            });
        }
    });
}

#[test]
fn cancel_from_another_thread_stops_a_silent_exchange_at_once() {
    let fake = FakeIgd::v4();
    let gw = discover(&fake, Family::V4).unwrap();
    fake.fault(A, Fault::Silence);
    let cancel = CancelToken::new();
    let budget = Budget::new(Duration::from_secs(10), &cancel);
    let started = Instant::now();
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        });
        gw.external_address(&budget)
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert_within(started, Duration::from_millis(150));
}

#[test]
fn a_router_whose_accept_queue_stays_full_for_a_second_is_waited_for() {
    // miniupnpd listens with a backlog of 5: with two dozen clients (tests/lab_load.rs) its
    // queue is often full and the kernel drops SYNs, which it retransmits only after 1 s and
    // 3 s. Here the queue is full for 1.1 s, so the SYN and its first retransmit are dropped.
    // A busy router is slow, not gone: the exchange must succeed within the action's budget.
    let fake = FakeIgd::v4();
    let (gw, socket, fill) = gateway_behind_a_full_queue(&fake);
    let filler_ports: Vec<u16> = fill.iter().map(|s| s.local_addr().unwrap().port()).collect();
    let listener: std::net::TcpListener = socket.into();
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1100));
        loop {
            let (mut conn, peer) = listener.accept().unwrap();
            if filler_ports.contains(&peer.port()) {
                continue; // a queue filler: dropped, which frees its slot
            }
            use std::io::{Read, Write};
            conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 2048];
            while !String::from_utf8_lossy(&request).contains("</s:Envelope>") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "request ended early: {}", String::from_utf8_lossy(&request));
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(&fake_igd::http_response("200 OK", "text/xml", &ok_body())).unwrap();
            return;
        }
    });
    let started = Instant::now();
    let result = gw.external_address(&Budget::new(portopen::limits::DEFAULT_ACTION_TIMEOUT, &CancelToken::new()));
    let took = started.elapsed();
    drop(fill);
    assert!(matches!(result, Ok(ExternalAddress::V4(ip, _)) if ip == std::net::Ipv4Addr::new(11, 0, 0, 1)), "after {took:?}: {result:?}");
    server.join().unwrap();
}

#[test]
fn a_router_that_never_completes_the_handshake_times_out_at_the_deadline() {
    let fake = FakeIgd::v4();
    let (gw, _listener, _fill) = gateway_behind_a_full_queue(&fake);
    let started = Instant::now();
    let result = gw.external_address(&budget());
    assert_within(started, ACTION);
    assert!(matches!(&result, Err(Error::Timeout(what)) if what.contains("connecting")), "{result:?}");
    // Cancelled during the connect: reported as Cancelled (not as a timeout), and before the
    // connect would have given up.
    let cancel = CancelToken::new();
    let started = Instant::now();
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        });
        gw.external_address(&Budget::new(Duration::from_secs(5), &cancel))
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert_within(started, portopen::limits::HTTP_CONNECT_MAX);
}
