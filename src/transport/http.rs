//! A minimal HTTP/1.1 client for UPnP: one request per connection, bound to a chosen local
//! address (so a secure-mode router sees the InternalClient it expects), no redirects, no
//! proxies, a deadline over the whole exchange, a body cap, cancellable between reads.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, SocketAddrV6, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::cancel::Budget;
use crate::error::Error;
use crate::limits::{CONNECT_ATTEMPTS_MAX, CONNECT_POLL_MAX, CONNECT_RETRY, HTTP_CONNECT_MAX};
use crate::parse::http::{Response, ResponseParser};
use crate::parse::url::HttpUrl;

/// One HTTP request.
pub struct Request<'a> {
    pub method: &'static str,
    pub url: &'a HttpUrl,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Local address to bind the connection to (None: let the OS choose).
    pub bind: Option<IpAddr>,
    /// Largest body accepted.
    pub body_cap: usize,
    /// What this exchange is for, used in errors and logs ("AddPinhole", "description").
    pub context: &'a str,
}

/// Perform one exchange. Any status is returned as a response; the caller decides.
pub fn exchange(req: &Request<'_>, budget: &Budget) -> Result<Response, Error> {
    let started = Instant::now();
    let target = req.url.socket_addr();
    let ctx = || format!("{} ({})", req.context, req.url);
    let mut stream = connect(target, req.bind, budget).map_err(|e| match e {
        Error::Io { message, .. } => Error::Io { context: format!("{}: connecting", ctx()), message },
        Error::Timeout(_) => Error::Timeout(format!("{}: connecting", ctx())),
        other => other,
    })?;

    let result = send_and_receive(&mut stream, req, budget, started);
    if result.is_err() {
        // Given up on: reset the connection instead of closing it. A close leaves the kernel
        // retransmitting the request until the router takes it, and a router whose accept queue
        // overflowed takes it seconds later, after a retry or a new lease on the same port (the
        // lab load test saw a stale DeletePortMapping remove the next mapping of that port).
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
    result
}

fn send_and_receive(stream: &mut TcpStream, req: &Request<'_>, budget: &Budget, started: Instant) -> Result<Response, Error> {
    let ctx = || format!("{} ({})", req.context, req.url);
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: portopen/{} UPnP/2.0\r\nContent-Length: {}\r\n",
        req.method,
        req.url.path,
        req.url.host_header(),
        env!("CARGO_PKG_VERSION"),
        req.body.len()
    );
    for (name, value) in req.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(req.body);
    stream.set_write_timeout(Some(budget.remaining(&ctx())?)).map_err(|e| Error::io(ctx(), &e))?;
    stream.write_all(&out).map_err(|e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout(format!("{}: sending", ctx())),
        _ => Error::io(format!("{}: sending", ctx()), &e),
    })?;

    let mut parser = ResponseParser::new(req.body_cap);
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(budget.slice(&ctx())?)).map_err(|e| Error::io(ctx(), &e))?;
        match stream.read(&mut buf) {
            Ok(0) => {
                let response = parser.finish().map_err(|e| Error::invalid_response(ctx(), e.0))?;
                log_done(req, &response, started);
                return Ok(response);
            }
            Ok(n) => {
                if parser.feed(&buf[..n]).map_err(|e| Error::invalid_response(ctx(), e.0))? {
                    let response = parser.into_response().expect("parser is done");
                    log_done(req, &response, started);
                    return Ok(response);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => continue,
            Err(e) => return Err(Error::io(format!("{}: receiving", ctx()), &e)),
        }
    }
}

fn log_done(req: &Request<'_>, response: &Response, started: Instant) {
    log::debug!("HTTP {} {} -> {} ({} bytes) in {:.1} ms", req.method, req.url, response.status, response.body.len(), started.elapsed().as_secs_f64() * 1000.0);
}

fn connect(target: SocketAddr, bind: Option<IpAddr>, budget: &Budget) -> Result<TcpStream, Error> {
    // Non-blocking connects, checked in short steps, so a cancel is seen within CANCEL_POLL
    // even while a SYN goes unanswered (a LAN connect completes in well under a millisecond).
    // A SYN unanswered after CONNECT_RETRY was probably dropped by a full accept queue (a busy
    // router): another connect is started then, the earlier ones left pending (a slow link may
    // still answer them), and the first to complete is used.
    let give_up = Instant::now() + budget.remaining("connecting")?.min(HTTP_CONNECT_MAX);
    let mut pending: Vec<Socket> = Vec::new();
    let mut next_attempt = Instant::now();
    let mut step = Duration::from_micros(100);
    let socket = 'connected: loop {
        if Instant::now() >= next_attempt && pending.len() < CONNECT_ATTEMPTS_MAX {
            if !pending.is_empty() {
                log::debug!("connecting to {target}: no answer to {} SYN(s) after {CONNECT_RETRY:?} each; connecting again", pending.len());
            }
            let socket = start_connect(target, bind)?;
            if socket.peer_addr().is_ok() {
                break socket;
            }
            pending.push(socket);
            next_attempt = Instant::now() + CONNECT_RETRY;
            step = Duration::from_micros(100);
        }
        for (i, socket) in pending.iter().enumerate() {
            if let Some(e) = socket.take_error().map_err(|e| Error::io("connecting", &e))? {
                return Err(Error::io("connecting", &e));
            }
            if socket.peer_addr().is_ok() {
                break 'connected pending.swap_remove(i);
            }
        }
        budget.remaining("connecting")?; // a cancel is a cancel, not a timeout
        if Instant::now() >= give_up {
            return Err(Error::Timeout("connecting".into()));
        }
        std::thread::sleep(step);
        step = (step * 2).min(CONNECT_POLL_MAX);
    };
    socket.set_nonblocking(false).map_err(|e| Error::io("socket", &e))?;
    budget.remaining("connecting")?;
    let _ = socket.set_tcp_nodelay(true);
    Ok(socket.into())
}

/// A non-blocking socket bound to `bind` with a connect to `target` under way (or done).
fn start_connect(target: SocketAddr, bind: Option<IpAddr>) -> Result<Socket, Error> {
    let socket = Socket::new(Domain::for_address(target), Type::STREAM, Some(socket2::Protocol::TCP)).map_err(|e| Error::io("socket", &e))?;
    if let Some(ip) = bind {
        let local = match (ip, target) {
            (IpAddr::V6(v6), SocketAddr::V6(t)) if crate::addr::is_ipv6_link_local(&v6) => SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, t.scope_id())),
            (ip, _) => SocketAddr::new(ip, 0),
        };
        socket.bind(&local.into()).map_err(|e| Error::io(format!("binding to {ip}"), &e))?;
    }
    socket.set_nonblocking(true).map_err(|e| Error::io("socket", &e))?;
    match socket.connect(&target.into()) {
        Ok(()) => Ok(socket),
        Err(e) if crate::platform::connect_in_progress(&e) => Ok(socket),
        Err(e) => Err(Error::io("connecting", &e)),
    }
}
