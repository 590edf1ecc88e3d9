//! The fake router's two servers: the SSDP responder and the HTTP server (one thread per
//! connection), which answers from the model unless a fault is scripted for the action.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::Model;
use super::{host_port, lock, Fault, Request, Ssdp};

pub(super) fn ssdp_loop(udp: UdpSocket, http: SocketAddr, model: Arc<Mutex<Model>>, stop: Arc<AtomicBool>) {
    udp.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let mut buf = [0u8; 4096];
    let mut searcher: Option<SocketAddr> = None;
    while !stop.load(Ordering::SeqCst) {
        if let (Ssdp::Junk, Some(peer)) = (&lock(&model).ssdp, searcher) {
            for i in 0..50u8 {
                let _ = udp.send_to(&[b'J', i, 0xff, b'\n', 0, b'x'], peer);
            }
        }
        let Ok((n, peer)) = udp.recv_from(&mut buf) else { continue };
        let mode = lock(&model).ssdp.clone(); // read after the wait: a test may just have set it
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !peer.ip().is_loopback() || !text.starts_with("M-SEARCH") {
            continue;
        }
        searcher = Some(peer);
        let st = text.lines().find_map(|l| l.strip_prefix("ST: ")).unwrap_or("").trim().to_string();
        let normal = format!(
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {st}\r\nUSN: uuid:fake-igd::{st}\r\nEXT:\r\nSERVER: FakeOS/1 UPnP/1.1 FakeIGD/1\r\nLOCATION: http://{}/rootDesc.xml\r\n\r\n",
            host_port(http)
        );
        match mode {
            Ssdp::Normal => drop(udp.send_to(normal.as_bytes(), peer)),
            Ssdp::Raw(datagrams) => {
                for d in datagrams {
                    let d = match std::str::from_utf8(&d) {
                        Ok(t) => t.replace("{http}", &host_port(http)).replace("{port}", &http.port().to_string()).replace("{st}", &st).into_bytes(),
                        Err(_) => d, // sent as is: the non-UTF-8 cases
                    };
                    let _ = udp.send_to(&d, peer);
                }
            }
            Ssdp::FromOther(ip) => {
                assert!(ip.is_loopback());
                let other = UdpSocket::bind((ip, 0)).expect("bind other loopback address");
                let _ = other.send_to(normal.as_bytes(), peer);
            }
            Ssdp::Flood(n) => {
                for i in 0..n {
                    let d = format!(
                        "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:flood-{i}\r\nLOCATION: http://{}/flood/{i}.xml\r\n\r\n",
                        host_port(http)
                    );
                    let _ = udp.send_to(d.as_bytes(), peer);
                }
            }
            Ssdp::Junk => {}
        }
    }
}

pub(super) fn serve(mut stream: TcpStream, model: &Mutex<Model>, stop: &AtomicBool) {
    stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let Some((head, body)) = read_request(&mut stream, stop) else { return };
    let path = head.split(' ').nth(1).unwrap_or("").to_string();
    let soap_action = head.lines().find_map(|l| l.to_ascii_lowercase().starts_with("soapaction:").then(|| l[11..].trim().trim_matches('"').to_string()));
    let (service, action) = match &soap_action {
        Some(sa) => sa.split_once('#').map(|(s, a)| (s.to_string(), a.to_string())).unwrap_or_default(),
        None => (String::new(), "GET".to_string()),
    };
    let args = soap_args(&body);
    let (normal, fault) = {
        let mut m = lock(model);
        m.requests.push(Request { action: action.clone(), path: path.clone(), args: args.clone() });
        let fault = m.faults.iter_mut().find(|(a, _, n)| *a == action && *n > 0).map(|f| {
            f.2 -= 1;
            f.1.clone()
        });
        let normal = if action == "GET" {
            if path == "/rootDesc.xml" {
                http_response("200 OK", "text/xml", &m.description)
            } else {
                http_response("404 Not Found", "text/plain", "no such file")
            }
        } else if let Some(Fault::Answer(out)) = &fault {
            soap_success(&service, &action, out)
        } else if matches!(fault, Some(Fault::Upnp(_) | Fault::Raw(_) | Fault::Endless | Fault::Redirect(_))) {
            Vec::new() // the router never acted on this request
        } else {
            match m.handle(&action, &args) {
                Ok(out) => soap_success(&service, &action, &out),
                Err(code) => soap_fault(code),
            }
        };
        (normal, fault)
    };
    let wait = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let _ = match fault {
        None | Some(Fault::Answer(_)) => stream.write_all(&normal),
        Some(Fault::Upnp(code)) => stream.write_all(&soap_fault(code)),
        Some(Fault::Raw(bytes)) => stream.write_all(&bytes),
        Some(Fault::Delay(d)) => {
            wait(d);
            stream.write_all(&normal)
        }
        Some(Fault::Drip(d)) => {
            for b in &normal {
                if stop.load(Ordering::SeqCst) || stream.write_all(std::slice::from_ref(b)).is_err() {
                    break;
                }
                wait(d);
            }
            Ok(())
        }
        Some(Fault::Silence) => {
            // Until the client hangs up (read returns 0 or fails) or the fake stops.
            let mut b = [0u8; 64];
            while !stop.load(Ordering::SeqCst) {
                match stream.read(&mut b) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
            }
            Ok(())
        }
        Some(Fault::ResetMidBody) => {
            let cut = normal.len() - (normal.len() - head_len(&normal)) / 2;
            let _ = stream.write_all(&normal[..cut]);
            std::thread::sleep(Duration::from_millis(20));
            socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))
        }
        Some(Fault::Endless) => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<s:Envelope>");
            let chunk = [b'x'; 4096];
            while !stop.load(Ordering::SeqCst) && stream.write_all(&chunk).is_ok() {}
            Ok(())
        }
        Some(Fault::Redirect(to)) => stream.write_all(format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n").as_bytes()),
    };
}

fn head_len(response: &[u8]) -> usize {
    response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4)
}

fn read_request(stream: &mut TcpStream, stop: &AtomicBool) -> Option<(String, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length: usize =
                head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
            if data.len() >= end + 4 + length {
                return Some((head, String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned()));
            }
        }
        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(5) || data.len() > 1 << 20 {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return None,
        }
    }
}

/// The in-arguments of a SOAP request, in order.
fn soap_args(body: &str) -> Vec<(String, String)> {
    let Ok(doc) = roxmltree::Document::parse(body) else { return Vec::new() };
    let Some(action) = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == "Body").and_then(|b| b.first_element_child()) else {
        return Vec::new();
    };
    action.children().filter(|n| n.is_element()).map(|n| (n.tag_name().name().to_string(), n.text().unwrap_or("").to_string())).collect()
}

pub fn http_response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
}

pub fn soap_envelope(inner: &str) -> String {
    format!("<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>{inner}</s:Body></s:Envelope>\r\n")
}

fn soap_success(service: &str, action: &str, out: &[(&str, String)]) -> Vec<u8> {
    let args: String = out.iter().map(|(n, v)| format!("<{n}>{v}</{n}>")).collect();
    http_response("200 OK", "text/xml; charset=\"utf-8\"", &soap_envelope(&format!("<u:{action}Response xmlns:u=\"{service}\">{args}</u:{action}Response>")))
}

pub fn soap_fault_body(code: &str) -> String {
    soap_envelope(&format!("<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode><errorDescription>fake error</errorDescription></UPnPError></detail></s:Fault>"))
}

fn soap_fault(code: u16) -> Vec<u8> {
    http_response("500 Internal Server Error", "text/xml; charset=\"utf-8\"", &soap_fault_body(&code.to_string()))
}
