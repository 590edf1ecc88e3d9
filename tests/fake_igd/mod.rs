//! A scriptable fake UPnP IGD on loopback for the fault suite: an SSDP responder and an HTTP
//! server answering SOAP from a small in-memory router model, with per-action fault injection.
//! Every request is recorded. Only 127.0.0.1 / ::1 are bound or sent to. Threads stop on Drop.
#![allow(dead_code)]

mod model;
mod wire;

#[allow(unused_imports)] // each test file uses a part
pub use model::{description, igd1_description, igd2_description, Mapping, Model, Pinhole};
#[allow(unused_imports)]
pub use wire::{http_response, soap_envelope, soap_fault_body};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portopen::{Budget, CancelToken, Client, ClientConfig, DiscoveryOptions, Error, Family, Gateway};

/// How the SSDP responder answers an M-SEARCH.
#[derive(Clone, Debug)]
pub enum Ssdp {
    /// One answer for the search target asked, LOCATION = our description.
    Normal,
    /// These datagrams instead; `{http}` becomes our HTTP `ip:port`, `{port}` its port, `{st}`
    /// the target asked.
    Raw(Vec<Vec<u8>>),
    /// The normal answer, but sent from a socket on this other loopback address.
    FromOther(IpAddr),
    /// `n` IGD:1 answers with unique USNs and LOCATION paths (which the HTTP server answers 404).
    /// IGD:1, so the search keeps listening through its grace window for an IGD:2.
    Flood(usize),
    /// Junk datagrams to the searcher, without pause, until the fake is dropped.
    Junk,
}

/// What the HTTP server does with one request (keyed by SOAP action, or "GET" for the description).
#[derive(Clone, Debug)]
pub enum Fault {
    /// A SOAP UPnPError with this code (HTTP 500).
    Upnp(u16),
    /// These exact bytes, then close.
    Raw(Vec<u8>),
    /// The normal answer after this delay.
    Delay(Duration),
    /// The normal answer, one byte per interval.
    Drip(Duration),
    /// Read the request, never answer, keep the connection open.
    Silence,
    /// Head and half the body, then a TCP reset.
    ResetMidBody,
    /// A 200 head, then body bytes forever.
    Endless,
    /// 302 to this URL.
    Redirect(String),
    /// SOAP success with these out-arguments; the model is not touched ("says yes, does nothing").
    Answer(Vec<(&'static str, String)>),
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Request {
    /// SOAP action name, or "GET".
    pub action: String,
    pub path: String,
    pub args: Vec<(String, String)>,
}

impl Request {
    pub fn arg(&self, name: &str) -> &str {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{} has no {name}: {:?}", self.action, self.args))
    }
}

pub struct FakeIgd {
    pub ssdp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    model: Arc<Mutex<Model>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Discovery that only sends unicast M-SEARCH to these fakes: never multicast, never the
/// host's default gateway. Every test discovers through this.
pub fn loopback_discovery(fakes: &[&FakeIgd]) -> DiscoveryOptions {
    DiscoveryOptions {
        timeout: Duration::from_millis(300),
        multicast: false,
        default_gateway: false,
        unicast: fakes.iter().map(|f| f.ssdp_addr).collect(),
        ..DiscoveryOptions::default()
    }
}

/// The budget of one action in these tests.
pub const ACTION: Duration = Duration::from_millis(500);

pub fn budget() -> Budget {
    Budget::new(ACTION, &CancelToken::new())
}

/// Discover the fake's gateway over `family` (loopback only).
pub fn discover(fake: &FakeIgd, family: Family) -> Result<Gateway, Error> {
    capture_logs();
    portopen::discover(family, &loopback_discovery(&[fake]), &CancelToken::new()).map(|mut v| v.remove(0))
}

/// A client that only ever talks to these fakes, with short budgets.
pub fn client(fakes: &[&FakeIgd], keep_alive: bool) -> Client {
    capture_logs();
    Client::new(ClientConfig { discovery: loopback_discovery(fakes), action_timeout: ACTION, keep_alive, ..ClientConfig::default() }).unwrap()
}

/// Panic if `started` is longer ago than `limit` (plus scheduling slack on a busy 2-core CI).
pub fn assert_within(started: Instant, limit: Duration) {
    let took = started.elapsed();
    assert!(took <= limit + Duration::from_millis(400), "took {took:?}, limit {limit:?}");
}

impl FakeIgd {
    pub fn v4() -> FakeIgd {
        Self::start_at(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }
    pub fn v6() -> FakeIgd {
        Self::start_at(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)), SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
    }
    /// A fake at these addresses (port 0: any), e.g. a "rebooted" router where the old one was.
    pub fn start_at(ssdp: SocketAddr, http: SocketAddr) -> FakeIgd {
        assert!(ssdp.ip().is_loopback() && http.ip().is_loopback(), "the fake only lives on loopback");
        let udp = UdpSocket::bind(ssdp).expect("bind SSDP");
        let listener = TcpListener::bind(http).expect("bind HTTP");
        listener.set_nonblocking(true).unwrap();
        let (ssdp_addr, http_addr) = (udp.local_addr().unwrap(), listener.local_addr().unwrap());
        let model = Arc::new(Mutex::new(Model::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (m, s) = (model.clone(), stop.clone());
        let ssdp_thread = std::thread::spawn(move || wire::ssdp_loop(udp, http_addr, m, s));
        let (m, s, c) = (model.clone(), stop.clone(), conns.clone());
        let http_thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (m, s) = (m.clone(), s.clone());
                        lock(&c).push(std::thread::spawn(move || wire::serve(stream, &m, &s)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FakeIgd { ssdp_addr, http_addr, model, stop, threads: vec![ssdp_thread, http_thread], conns }
    }

    pub fn model(&self) -> MutexGuard<'_, Model> {
        lock(&self.model)
    }
    /// `action` ("GET" for the description) always gets `fault`.
    pub fn fault(&self, action: &str, fault: Fault) {
        self.fault_times(action, fault, usize::MAX);
    }
    pub fn fault_times(&self, action: &str, fault: Fault, times: usize) {
        self.model().faults.push((action.to_string(), fault, times));
    }
    pub fn set_ssdp(&self, mode: Ssdp) {
        self.model().ssdp = mode;
    }
    pub fn requests(&self) -> Vec<Request> {
        self.model().requests.clone()
    }
    /// The requests for one action, in order.
    pub fn calls(&self, action: &str) -> Vec<Request> {
        self.model().requests.iter().filter(|r| r.action == action).cloned().collect()
    }
    /// `ip:port` of the HTTP server as it goes in a URL.
    pub fn http_host(&self) -> String {
        host_port(self.http_addr)
    }
    pub fn location(&self) -> String {
        format!("http://{}/rootDesc.xml", self.http_host())
    }
}

impl Drop for FakeIgd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for t in lock(&self.conns).drain(..) {
            let _ = t.join();
        }
    }
}

pub(crate) fn host_port(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

// ---- log capture --------------------------------------------------------------------------

/// Every log line of this test binary (debug and up), so tests can assert a logged reason.
struct Capture;
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let mut lines = lock(&LINES);
        if lines.len() >= 100_000 {
            lines.drain(..50_000);
        }
        lines.push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

/// Start capturing (idempotent); returns the lines containing every one of `needles`.
pub fn logged(needles: &[&str]) -> Vec<String> {
    capture_logs();
    lock(&LINES).iter().filter(|l| needles.iter().all(|n| l.contains(n))).cloned().collect()
}

pub fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if log::set_logger(&Capture).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}
