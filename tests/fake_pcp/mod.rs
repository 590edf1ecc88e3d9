//! A fake PCP / NAT-PMP server, for the faults a real router will not make: it answers each
//! request with whatever the test's responder returns (wrong nonces, wrong opcodes, truncated or
//! oversized datagrams, answers from another address or port, slow answers), sends what the test
//! asks unprompted (ANNOUNCE floods), and records every request it received and when. On loopback
//! (`v4`, `v6`: the transport's tests), or at a fixed address made in a lab namespace (`at`: the
//! router's own LAN address, port 5351, where `Client::open` asks its default gateway).
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a reply is sent from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The server's own address and port (what a client must accept).
    Server,
    /// The server's address, another port.
    OtherPort,
    /// Another loopback address (127.0.0.2 or, over IPv6, none exists: the server address with
    /// another port is used instead).
    OtherAddress,
    /// This address (one the server's namespace holds), any port.
    Address(IpAddr),
}

/// One datagram to send back, after a delay.
#[derive(Clone, Debug)]
pub struct Reply {
    pub after: Duration,
    pub bytes: Vec<u8>,
    pub from: Source,
}

impl Reply {
    pub fn now(bytes: Vec<u8>) -> Reply {
        Reply { after: Duration::ZERO, bytes, from: Source::Server }
    }
    pub fn after(after: Duration, bytes: Vec<u8>) -> Reply {
        Reply { after, bytes, from: Source::Server }
    }
    pub fn from(from: Source, bytes: Vec<u8>) -> Reply {
        Reply { after: Duration::ZERO, bytes, from }
    }
}

/// Decides the replies to request number `index` (0-based, in arrival order).
pub type Responder = Box<dyn FnMut(usize, &[u8]) -> Vec<Reply> + Send>;

/// A request as the fake received it, and when.
type Received = (Instant, Vec<u8>);

pub struct FakePcp {
    pub addr: SocketAddr,
    /// The server's socket, for what it sends unprompted (`send`).
    socket: UdpSocket,
    requests: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePcp {
    /// Serve on 127.0.0.1 (any port).
    pub fn v4(responder: Responder) -> FakePcp {
        FakePcp::on(IpAddr::V4(Ipv4Addr::LOCALHOST), responder)
    }
    /// Serve on ::1 (any port).
    pub fn v6(responder: Responder) -> FakePcp {
        FakePcp::on(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), responder)
    }

    pub fn on(ip: IpAddr, responder: Responder) -> FakePcp {
        FakePcp::at(SocketAddr::new(ip, 0), responder)
    }

    /// Serve on `addr` exactly (port 0: any), in the calling thread's network namespace (the
    /// server's thread, and every reply socket it makes, are in that namespace too). No
    /// SO_REUSEADDR: a router started later cannot bind the same port (miniupnpd then runs
    /// without PCP/NAT-PMP, "bind(): Address already in use").
    pub fn at(addr: SocketAddr, mut responder: Responder) -> FakePcp {
        let socket = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("fake PCP bind {addr}: {e}"));
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let addr = socket.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, halt, server) = (requests.clone(), stop.clone(), socket.try_clone().unwrap());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut index = 0;
            while !halt.load(Ordering::SeqCst) {
                let Ok((n, client)) = server.recv_from(&mut buf) else { continue };
                seen.lock().unwrap().push((Instant::now(), buf[..n].to_vec()));
                for reply in responder(index, &buf[..n]) {
                    send_reply(&server, client, reply);
                }
                index += 1;
            }
        });
        FakePcp { addr, socket, requests, stop, thread: Some(thread) }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().iter().map(|(_, r)| r.clone()).collect()
    }

    /// Every request received so far with its arrival time, in order.
    pub fn requests_timed(&self) -> Vec<(Instant, Vec<u8>)> {
        self.requests.lock().unwrap().clone()
    }

    /// Send `bytes` to `to` from the server's own address and port, unprompted (an ANNOUNCE).
    /// IPv4 multicast leaves by the interface of the server's address.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        if let (SocketAddr::V4(dest), IpAddr::V4(own)) = (to, self.addr.ip()) {
            if dest.ip().is_multicast() {
                socket2::SockRef::from(&self.socket).set_multicast_if_v4(&own).expect("IP_MULTICAST_IF");
            }
        }
        self.socket.send_to(bytes, to).unwrap_or_else(|e| panic!("fake PCP send to {to}: {e}"));
    }
}

fn send_reply(server: &UdpSocket, client: SocketAddr, reply: Reply) {
    let socket = match reply.from {
        Source::Server => server.try_clone().unwrap(),
        Source::OtherPort => UdpSocket::bind(SocketAddr::new(server.local_addr().unwrap().ip(), 0)).unwrap(),
        Source::OtherAddress => match server.local_addr().unwrap() {
            SocketAddr::V4(_) => UdpSocket::bind("127.0.0.2:0").unwrap(),
            SocketAddr::V6(a) => UdpSocket::bind(SocketAddr::new(IpAddr::V6(*a.ip()), 0)).unwrap(),
        },
        Source::Address(ip) => UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap_or_else(|e| panic!("fake PCP reply socket on {ip}: {e}")),
    };
    if reply.after.is_zero() {
        let _ = socket.send_to(&reply.bytes, client);
    } else {
        std::thread::spawn(move || {
            std::thread::sleep(reply.after);
            let _ = socket.send_to(&reply.bytes, client);
        });
    }
}

impl Drop for FakePcp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A PCP MAP answer to `request` as a server writes it (RFC 6887 §11.1): the request's nonce,
/// protocol and internal port, then the result, lifetime, epoch, assigned port and address.
pub fn map_answer(request: &[u8], result: u8, lifetime: u32, epoch: u32, external_port: u16, external: IpAddr) -> Vec<u8> {
    assert!(request.len() >= 60, "not a MAP request");
    let mut m = vec![2, 0x81, 0, result];
    m.extend_from_slice(&lifetime.to_be_bytes());
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&[0; 12]);
    m.extend_from_slice(&request[24..42]);
    m.extend_from_slice(&external_port.to_be_bytes());
    let address = match external {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    m.extend_from_slice(&address);
    m
}

/// A NAT-PMP map answer to `request` (RFC 6886 §3.3).
pub fn natpmp_map_answer(request: &[u8], result: u16, epoch: u32, external_port: u16, lifetime: u32) -> Vec<u8> {
    let mut m = vec![0, 128 + request[1]];
    m.extend_from_slice(&result.to_be_bytes());
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&request[4..6]);
    m.extend_from_slice(&external_port.to_be_bytes());
    m.extend_from_slice(&lifetime.to_be_bytes());
    m
}

/// A NAT-PMP external address answer (RFC 6886 §3.2).
pub fn natpmp_address_answer(epoch: u32, external: Ipv4Addr) -> Vec<u8> {
    let mut m = vec![0, 128, 0, 0];
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&external.octets());
    m
}

/// A PCP ANNOUNCE (RFC 6887 §14.1): a success header, opcode 0 with the R bit.
pub fn announce(epoch: u32) -> Vec<u8> {
    let mut m = vec![2, 0x80, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&[0; 12]);
    m
}

/// What a PCP request asks (RFC 6887 §7.1, §11.1), read back by a test from what a fake saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    /// The opcode without the R bit (1: MAP, 0: ANNOUNCE).
    pub opcode: u8,
    /// Requested lifetime (0 on a MAP: a delete).
    pub lifetime: u32,
    /// The PCP client address field.
    pub client: IpAddr,
    /// MAP only: the mapping nonce and internal port.
    pub nonce: Option<[u8; 12]>,
    pub internal_port: Option<u16>,
}

/// Read a PCP request (None: not a version-2 request of at least the header's 24 bytes).
pub fn asked(request: &[u8]) -> Option<Asked> {
    if request.len() < 24 || request[0] != 2 || request[1] & 0x80 != 0 {
        return None;
    }
    let mut client = [0u8; 16];
    client.copy_from_slice(&request[8..24]);
    let client = std::net::Ipv6Addr::from(client);
    let client = client.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(client));
    let map = request[1] == 1 && request.len() >= 60;
    Some(Asked {
        opcode: request[1],
        lifetime: u32::from_be_bytes(request[4..8].try_into().unwrap()),
        client,
        nonce: map.then(|| request[24..36].try_into().unwrap()),
        internal_port: map.then(|| u16::from_be_bytes([request[40], request[41]])),
    })
}
