//! PCP and NAT-PMP exchanges with the gateway: one UDP socket bound to the address to open (the
//! source address is what the server maps), the identical request retransmitted on a schedule
//! until a matching answer or the deadline, and a receive-only listener for ANNOUNCEs.
//!
//! No lifecycle here: the lease engine decides what to ask and when; these functions do one
//! exchange each and report what came back, how long it took and how many sends it needed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Socket, Type};

use crate::cancel::Budget;
use crate::error::Error;
use crate::limits::{PCP_ANNOUNCE_READS_MAX, PCP_INITIAL_RETRANSMIT, PCP_MAX_RETRANSMIT, PCP_RECV_ERROR_PAUSE};
use crate::parse::pcp::{
    natpmp_address_request, natpmp_match_address, parse_announcement, Announcement, MapRequest, NatPmpAddressResponse, NatPmpMapRequest, NatPmpMapResponse,
    Nonce, PcpAnswer, CLIENT_PORT, MESSAGE_MAX, SERVER_PORT,
};
use crate::platform;

use super::group;
use crate::types::Family;

const ALL_HOSTS_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
const ALL_NODES_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// When to send the identical request again: after `initial` (±10 % jitter), then doubling
/// (each ±10 %) up to `max` between sends (RFC 6887 §8.1.1, RFC 3315 style). The exchange ends
/// at the caller's deadline, not after a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The wait after the first send.
    pub initial: Duration,
    /// The longest wait between two sends.
    pub max: Duration,
}

impl Schedule {
    /// RFC 6887 §8.1.1: IRT 3 s, MRT 1024 s. Within a short race budget (a few hundred ms) this
    /// sends once; a router that needs seconds to refuse (miniupnpd scans every port before
    /// NOT_AUTHORIZED, ~2.3 s) is not sent duplicates it would each scan for again.
    pub const RFC6887: Schedule = Schedule { initial: PCP_INITIAL_RETRANSMIT, max: PCP_MAX_RETRANSMIT };
    /// RFC 6886 §3.1: 250 ms, doubling (NAT-PMP).
    pub const RFC6886: Schedule = Schedule { initial: Duration::from_millis(250), max: Duration::from_secs(64) };

    /// The wait after send number `sends` (1 = after the first send), jittered by `random`.
    pub fn interval(&self, sends: u32, random: u64) -> Duration {
        let doubled = self.initial.saturating_mul(1u32 << sends.saturating_sub(1).min(20));
        let base = doubled.min(self.max);
        // RAND uniform in -0.1..=+0.1 (in thousandths).
        let permille = 900 + (random % 201);
        base.saturating_mul(permille as u32) / 1000
    }
}

/// A matching answer and what it took to get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answered<T> {
    /// The answer.
    pub answer: T,
    /// From the first send to the answer's arrival.
    pub elapsed: Duration,
    /// Sends of the request so far (1: answered without a retransmit).
    pub sends: u32,
}

/// Why an exchange ended without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExchangeError {
    /// ICMP port unreachable came back: no PCP/NAT-PMP server at that address. Hand the family
    /// to UPnP at once.
    NoServer,
    /// No matching answer before the deadline (`sends` sends). Hand the family to UPnP.
    NoAnswer {
        /// How many times the request was sent.
        sends: u32,
    },
    /// The caller's cancel token was tripped.
    Cancelled,
    /// The socket could not be made or used (the address to open is not this host's, no route).
    Io(Error),
}

impl From<ExchangeError> for Error {
    fn from(e: ExchangeError) -> Error {
        match e {
            ExchangeError::NoServer => Error::NoGateway("PCP/NAT-PMP: the gateway refused port 5351 (no server there)".into()),
            ExchangeError::NoAnswer { sends } => Error::Timeout(format!("PCP/NAT-PMP: no answer to {sends} send(s)")),
            ExchangeError::Cancelled => Error::Cancelled,
            ExchangeError::Io(e) => e,
        }
    }
}

/// The gateway's PCP/NAT-PMP server address for a family: the IPv4 default gateway, or the IPv6
/// default router (link-local with its interface as scope, or global), port 5351.
pub fn default_server(family: Family) -> Option<SocketAddr> {
    match family {
        Family::V4 => platform::default_gateway_v4().map(|ip| SocketAddr::V4(SocketAddrV4::new(ip, SERVER_PORT))),
        Family::V6 => platform::default_gateway_v6().map(|(ip, index)| {
            let scope = if crate::addr::is_ipv6_link_local(&ip) { index } else { 0 };
            SocketAddr::V6(SocketAddrV6::new(ip, SERVER_PORT, 0, scope))
        }),
    }
}

/// A fresh mapping nonce: 96 bits from std's randomly keyed SipHash (keys from the OS's random
/// source, per thread), over a process-wide counter and the clock. Unguessable to an off-path
/// sender, which is all RFC 6887 §11.1 asks of it; never reused (the counter).
pub fn new_nonce() -> Nonce {
    let a = random_u64().to_be_bytes();
    let b = random_u64().to_be_bytes();
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&a);
    nonce[8..].copy_from_slice(&b[..4]);
    nonce
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// One PCP MAP exchange (also a renewal, or a delete with `request.deletion()`): sent from
/// `request.client` (port chosen by the OS) to `server`. Ends at the first answer that
/// [`MapRequest::match_answer`] accepts — a success, an error, or "NAT-PMP only here" — or at the
/// deadline. A denied port may take seconds to answer: the budget decides how long to wait.
pub fn map(server: SocketAddr, request: &MapRequest, schedule: &Schedule, budget: &Budget) -> Result<Answered<PcpAnswer>, ExchangeError> {
    let wire = request.encode();
    let mut answers = exchange(request.client, server, &[&wire], schedule, budget, |d| request.match_answer(d).map(|a| (0, a)), Need::All)?;
    // exchange returns Ok only with every request answered.
    answers.pop().flatten().ok_or(ExchangeError::NoAnswer { sends: 0 })
}

/// One PCP ANNOUNCE request from `local` to `server`: `Some(epoch)` from a PCP server, `None` from
/// a NAT-PMP-only one. Maps nothing.
pub fn announce(local: IpAddr, server: SocketAddr, budget: &Budget) -> Result<Answered<Option<u32>>, ExchangeError> {
    let wire = crate::parse::pcp::announce_request(local);
    let mut answers =
        exchange(local, server, &[&wire], &Schedule::RFC6887, budget, |d| crate::parse::pcp::match_announce_answer(d).map(|a| (0, a)), Need::All)?;
    // exchange returns Ok only with every request answered.
    answers.pop().flatten().ok_or(ExchangeError::NoAnswer { sends: 0 })
}

/// What a NAT-PMP map exchange brought back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatPmpOutcome {
    /// The map request's answer.
    pub map: Answered<NatPmpMapResponse>,
    /// The external address answer, when asked for and it came before the deadline.
    pub address: Option<Answered<NatPmpAddressResponse>>,
}

/// One NAT-PMP map exchange from `local` (the mapped address is the source's), optionally with
/// the external address request sent beside it on the same socket (NAT-PMP's map answer does not
/// carry the address). Ends when every request has its answer, or at the deadline with the map
/// answer alone if that came.
pub fn natpmp_map(
    local: Ipv4Addr,
    server: SocketAddrV4,
    request: &NatPmpMapRequest,
    with_address: bool,
    schedule: &Schedule,
    budget: &Budget,
) -> Result<NatPmpOutcome, ExchangeError> {
    let map_wire = request.encode();
    let address_wire = natpmp_address_request();
    let mut requests: Vec<&[u8]> = vec![&map_wire];
    if with_address {
        requests.push(&address_wire);
    }
    #[derive(Clone, Copy)]
    enum Either {
        Map(NatPmpMapResponse),
        Address(NatPmpAddressResponse),
    }
    let accept = |d: &[u8]| {
        if let Some(m) = request.match_answer(d) {
            return Some((0, Either::Map(m)));
        }
        natpmp_match_address(d).filter(|_| with_address).map(|a| (1, Either::Address(a)))
    };
    let answers = exchange(IpAddr::V4(local), SocketAddr::V4(server), &requests, schedule, budget, accept, Need::First)?;
    let mut outcome_map = None;
    let mut address = None;
    for a in answers.into_iter().flatten() {
        match a.answer {
            Either::Map(m) => outcome_map = Some(Answered { answer: m, elapsed: a.elapsed, sends: a.sends }),
            Either::Address(x) => address = Some(Answered { answer: x, elapsed: a.elapsed, sends: a.sends }),
        }
    }
    // exchange (Need::First) returns Ok only with request 0, the map, answered.
    let map = outcome_map.ok_or(ExchangeError::NoAnswer { sends: 0 })?;
    Ok(NatPmpOutcome { map, address })
}

/// NAT-PMP external address request alone, sent from `local`.
pub fn natpmp_address(local: Ipv4Addr, server: SocketAddrV4, schedule: &Schedule, budget: &Budget) -> Result<Answered<NatPmpAddressResponse>, ExchangeError> {
    let wire = natpmp_address_request();
    let mut answers = exchange(IpAddr::V4(local), SocketAddr::V4(server), &[&wire], schedule, budget, |d| natpmp_match_address(d).map(|a| (0, a)), Need::All)?;
    // exchange returns Ok only with every request answered.
    answers.pop().flatten().ok_or(ExchangeError::NoAnswer { sends: 0 })
}

/// What an exchange must have by its deadline to count as answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Every request answered, else `NoAnswer`.
    All,
    /// Every request answered; at the deadline, return what came if request 0 is answered.
    First,
}

/// Send `requests` from `local` to `server` and collect, per request, the first datagram that
/// `accept` maps to it (`Some((index, value))`). Everything else is ignored: datagrams from
/// another address or port, longer than a PCP message, or not accepted.
fn exchange<T: Copy>(
    local: IpAddr,
    server: SocketAddr,
    requests: &[&[u8]],
    schedule: &Schedule,
    budget: &Budget,
    mut accept: impl FnMut(&[u8]) -> Option<(usize, T)>,
    need: Need,
) -> Result<Vec<Option<Answered<T>>>, ExchangeError> {
    let socket = bound_socket(local, server).map_err(|e| ExchangeError::Io(Error::io(format!("PCP: socket from {local} to {server}"), &e)))?;
    let started = Instant::now();
    let mut answers: Vec<Option<Answered<T>>> = vec![None; requests.len()];
    let mut sends = 0u32;
    let mut next_send = started;
    // One byte more than a PCP message may be, to tell an oversized datagram from one that fits.
    let mut buf = [0u8; MESSAGE_MAX + 1];
    loop {
        if budget.cancel_token().is_cancelled() {
            return Err(ExchangeError::Cancelled);
        }
        let now = Instant::now();
        if now >= budget.deadline() {
            let done = match need {
                Need::All => false,
                Need::First => answers[0].is_some(),
            };
            log::debug!("PCP {local} -> {server}: deadline after {sends} send(s), {} of {} answered", answers.iter().flatten().count(), requests.len());
            return if done { Ok(answers) } else { Err(ExchangeError::NoAnswer { sends }) };
        }
        if now >= next_send {
            sends += 1;
            for (i, request) in requests.iter().enumerate() {
                if answers[i].is_some() {
                    continue;
                }
                match socket.send(request) {
                    Ok(_) => {}
                    Err(e) if refused(&e) => return Err(ExchangeError::NoServer),
                    Err(e) => log::debug!("PCP {local} -> {server}: send {sends} failed: {e}"),
                }
            }
            next_send = now + schedule.interval(sends, random_u64());
            log::debug!("PCP {local} -> {server}: send {sends} at {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
        }
        let wait = next_send.min(budget.deadline()).saturating_duration_since(Instant::now()).min(crate::limits::CANCEL_POLL).max(Duration::from_millis(1));
        if let Err(e) = socket.set_read_timeout(Some(wait)) {
            return Err(ExchangeError::Io(Error::io("PCP: setting the receive timeout", &e)));
        }
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => continue,
            // The connected socket reports the ICMP port unreachable of an earlier send.
            Err(e) if refused(&e) => {
                log::debug!("PCP {local} -> {server}: refused after {:.1} ms: no server", started.elapsed().as_secs_f64() * 1000.0);
                return Err(ExchangeError::NoServer);
            }
            Err(e) => {
                // Another ICMP error (host unreachable while the router is down): keep trying
                // until the deadline, without spinning on an error that repeats at once.
                log::debug!("PCP {local} -> {server}: receive failed: {e}");
                std::thread::sleep(wait.min(PCP_RECV_ERROR_PAUSE));
                continue;
            }
        };
        if from.ip() != server.ip() || from.port() != server.port() {
            log::debug!("PCP {local} -> {server}: ignoring {len} bytes from {from}");
            continue;
        }
        if len > MESSAGE_MAX {
            log::debug!("PCP {local} -> {server}: ignoring an oversized datagram");
            continue;
        }
        match accept(&buf[..len]) {
            Some((i, value)) if i < answers.len() && answers[i].is_none() => {
                let elapsed = started.elapsed();
                log::debug!("PCP {local} -> {server}: answer {i} after {:.2} ms ({sends} send(s))", elapsed.as_secs_f64() * 1000.0);
                answers[i] = Some(Answered { answer: value, elapsed, sends });
                if answers.iter().all(Option::is_some) {
                    return Ok(answers);
                }
            }
            _ => log::debug!("PCP {local} -> {server}: ignoring {len} bytes that answer nothing we asked"),
        }
    }
}

fn refused(e: &io::Error) -> bool {
    // Linux and macOS: ECONNREFUSED; Windows: WSAECONNRESET on the next receive.
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset)
}

/// A UDP socket bound to `local` (any port) and connected to `server`: the kernel then reports
/// the server's ICMP port unreachable, and drops datagrams from anyone else.
fn bound_socket(local: IpAddr, server: SocketAddr) -> io::Result<UdpSocket> {
    let bind = match (local, server) {
        (IpAddr::V4(ip), SocketAddr::V4(_)) => SocketAddr::V4(SocketAddrV4::new(ip, 0)),
        (IpAddr::V6(ip), SocketAddr::V6(s)) => {
            // A link-local source needs its interface: the server's scope names it.
            let scope = if crate::addr::is_ipv6_link_local(&ip) { s.scope_id() } else { 0 };
            SocketAddr::V6(SocketAddrV6::new(ip, 0, 0, scope))
        }
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{local} and {server} are not of one family"))),
    };
    let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if bind.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&bind.into())?;
    socket.connect(&server.into())?;
    Ok(socket.into())
}

/// Hears the gateway's ANNOUNCEs (PCP, RFC 6887 §14.1) and NAT-PMP address notices (RFC 6886
/// §3.2.1), multicast to `224.0.0.1:5350` and `[ff02::1]:5350` when the server restarts or its WAN
/// address changes. Receive only: nothing is ever sent from this socket.
pub struct AnnounceWatch {
    socket: UdpSocket,
}

impl AnnounceWatch {
    /// Listen on the interface of `local` (the address held open), port 5350 shared with every
    /// other listener of the host (SO_REUSEADDR).
    pub fn open(local: IpAddr) -> io::Result<AnnounceWatch> {
        Ok(AnnounceWatch { socket: group::join(local, CLIENT_PORT, ALL_HOSTS_V4, ALL_NODES_V6)? })
    }

    /// What arrived since the last look, read without blocking: at most
    /// [`PCP_ANNOUNCE_READS_MAX`] datagrams (a flood waits for the next look, or is dropped by
    /// the kernel when its buffer is full). Only datagrams from the server port 5351 are kept;
    /// the caller decides which sender is its gateway and compares the epoch.
    pub fn heard(&self) -> Vec<(SocketAddr, Announcement)> {
        let mut buf = [0u8; MESSAGE_MAX + 1];
        let mut heard = Vec::new();
        for _ in 0..PCP_ANNOUNCE_READS_MAX {
            let Ok((n, from)) = self.socket.recv_from(&mut buf) else { break };
            if from.port() != SERVER_PORT || n > MESSAGE_MAX {
                continue;
            }
            if let Ok(a) = parse_announcement(&buf[..n]) {
                heard.push((from, a));
            }
        }
        heard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_doubles_with_ten_percent_jitter_up_to_the_maximum() {
        let s = Schedule::RFC6887;
        for random in [0, 100, 200, 12345, u64::MAX] {
            let first = s.interval(1, random);
            assert!(first >= Duration::from_millis(2700) && first <= Duration::from_millis(3300), "{first:?}");
            let second = s.interval(2, random);
            assert!(second >= Duration::from_millis(5400) && second <= Duration::from_millis(6600), "{second:?}");
            let late = s.interval(40, random);
            assert!(late >= Duration::from_millis(921_600) && late <= Duration::from_millis(1_126_400), "{late:?}");
        }
        assert_eq!(Schedule::RFC6887.interval(1, 100), Duration::from_secs(3));
        let fast = Schedule { initial: Duration::from_millis(100), max: Duration::from_millis(300) };
        assert_eq!(fast.interval(3, 100), Duration::from_millis(300));
    }

    #[test]
    fn nonces_differ() {
        let a = new_nonce();
        let b = new_nonce();
        assert_ne!(a, b);
        assert_ne!(a, [0; 12]);
    }
}
