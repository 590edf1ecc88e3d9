//! The two small files a game may ask for: the gateway cache (skip discovery on the next
//! launch) and the journal (what is open now, so a crash's leftovers are removed next start).
//! Plain text, one record per line, tab-separated; read back bounded in size, and any line
//! that does not parse is ignored with a logged reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::error::Error;
use crate::gateway::{Gateway, Service, ServiceKind};
use crate::limits::STATE_FILE_MAX;
use crate::parse::url::HttpUrl;
use crate::types::{Family, Protocol, Route};

const CACHE_MAGIC: &str = "portopen-cache-1";
const JOURNAL_MAGIC: &str = "portopen-journal-1";

fn clean(s: &str) -> String {
    s.chars().map(|c| if c == '\t' || c == '\n' || c == '\r' { ' ' } else { c }).collect()
}

fn parse_family(s: &str) -> Option<Family> {
    match s {
        "v4" => Some(Family::V4),
        "v6" => Some(Family::V6),
        _ => None,
    }
}

fn service_fields(s: &Option<Service>) -> String {
    match s {
        Some(s) => format!("{}\t{}", s.service_type, s.control_url),
        None => "-\t-".into(),
    }
}

fn parse_service(ty: &str, url: &str) -> Option<Option<Service>> {
    if ty == "-" {
        return Some(None);
    }
    let kind = ServiceKind::from_type(ty)?;
    let control_url = HttpUrl::parse(url).ok()?;
    Some(Some(Service { kind, service_type: ty.trim().to_string(), control_url, wan_connection_device: None }))
}

/// Serialize gateways for the cache file.
pub fn format_cache(gateways: &[&Gateway]) -> String {
    let mut out = format!("{CACHE_MAGIC}\n");
    for g in gateways {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            g.family.tag(),
            g.location,
            g.local_addr,
            clean(&g.device_type),
            clean(g.server.as_deref().unwrap_or("")),
            clean(&g.usn),
            g.boot_id.map(|b| b.to_string()).unwrap_or_default(),
            service_fields(&g.wan),
            service_fields(&g.firewall),
            clean(&g.friendly_name),
        ));
    }
    out
}

/// Read gateways back from cache text.
pub fn parse_cache(text: &str) -> Vec<Gateway> {
    let mut lines = text.lines();
    if lines.next() != Some(CACHE_MAGIC) {
        log::debug!("gateway cache: unknown format; ignored");
        return Vec::new();
    }
    let mut out = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let parsed = (|| {
            if f.len() != 12 {
                return None;
            }
            let wan = parse_service(f[7], f[8])?;
            let firewall = parse_service(f[9], f[10])?;
            Some(Gateway {
                family: parse_family(f[0])?,
                location: HttpUrl::parse(f[1]).ok()?,
                local_addr: f[2].parse().ok()?,
                device_type: f[3].to_string(),
                server: Some(f[4].to_string()).filter(|s| !s.is_empty()),
                usn: f[5].to_string(),
                boot_id: f[6].parse().ok(),
                wan_candidates: wan.iter().cloned().collect(),
                wan,
                firewall,
                friendly_name: f[11].to_string(),
                manufacturer: String::new(),
                model_name: String::new(),
                model_number: String::new(),
            })
        })();
        match parsed {
            Some(g) => out.push(g),
            None => log::debug!("gateway cache: unreadable line ignored"),
        }
    }
    out
}

/// Something the library opened on a router, as recorded in the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalEntry {
    Mapping {
        control: Service,
        local: IpAddr,
        external_port: u16,
        protocol: Protocol,
        internal_client: Ipv4Addr,
        internal_port: u16,
        description: String,
    },
    Pinhole {
        control: Service,
        local: IpAddr,
        id: u16,
        protocol: Protocol,
        internal_client: Ipv6Addr,
        internal_port: u16,
    },
    /// A mapping or pinhole made through PCP (deleted with its nonce) or NAT-PMP (IPv4), from
    /// `client` (the mapped address) at `server`.
    Pcp {
        server: SocketAddr,
        route: Route,
        nonce: [u8; 12],
        client: IpAddr,
        protocol: Protocol,
        internal_port: u16,
        external_port: u16,
    },
}

pub fn format_journal(entries: &[JournalEntry]) -> String {
    let mut out = format!("{JOURNAL_MAGIC}\n");
    for e in entries {
        match e {
            JournalEntry::Mapping { control, local, external_port, protocol, internal_client, internal_port, description } => out.push_str(&format!(
                "map\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                control.service_type,
                control.control_url,
                local,
                external_port,
                protocol,
                internal_client,
                internal_port,
                clean(description)
            )),
            JournalEntry::Pinhole { control, local, id, protocol, internal_client, internal_port } => out.push_str(&format!(
                "pinhole\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                control.service_type, control.control_url, local, id, protocol, internal_client, internal_port
            )),
            JournalEntry::Pcp { server, route, nonce, client, protocol, internal_port, external_port } => {
                let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
                out.push_str(&format!("pcp\t{}\t{server}\t{nonce}\t{client}\t{protocol}\t{internal_port}\t{external_port}\n", route.tag()))
            }
        }
    }
    out
}

pub fn parse_journal(text: &str) -> Vec<JournalEntry> {
    let mut lines = text.lines();
    if lines.next() != Some(JOURNAL_MAGIC) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f[0] == "pcp" {
                return parse_pcp_line(&f);
            }
            let control = parse_service(f.get(1)?, f.get(2)?)??;
            let local: IpAddr = f.get(3)?.parse().ok()?;
            match (f[0], f.len()) {
                ("map", 9) => Some(JournalEntry::Mapping {
                    control,
                    local,
                    external_port: f[4].parse().ok()?,
                    protocol: Protocol::parse(f[5])?,
                    internal_client: f[6].parse().ok()?,
                    internal_port: f[7].parse().ok()?,
                    description: f[8].to_string(),
                }),
                ("pinhole", 8) => Some(JournalEntry::Pinhole {
                    control,
                    local,
                    id: f[4].parse().ok()?,
                    protocol: Protocol::parse(f[5])?,
                    internal_client: f[6].parse().ok()?,
                    internal_port: f[7].parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Read a state file, bounded. A missing file is empty.
pub fn read_bounded(path: &Path) -> Result<String, Error> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), &e)),
    };
    let mut text = String::new();
    file.take(STATE_FILE_MAX as u64 + 1).read_to_string(&mut text).map_err(|e| Error::io(format!("reading {}", path.display()), &e))?;
    if text.len() > STATE_FILE_MAX {
        return Err(Error::InvalidArgument(format!("{} is larger than {STATE_FILE_MAX} bytes", path.display())));
    }
    Ok(text)
}

/// Write a state file atomically (temp file + rename), so a crash never leaves half a file.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    // A temp name per process and write: two clients (or two families) saving at once must not
    // rename each other's half-written file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".{}.{seq}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp_name);
    std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), &e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("writing {}", path.display()), &e))
}

/// A journal line `pcp ROUTE SERVER NONCE CLIENT PROTOCOL INTERNAL_PORT EXTERNAL_PORT` (journals
/// written before PCP have none; readers before it skip the line).
fn parse_pcp_line(f: &[&str]) -> Option<JournalEntry> {
    if f.len() != 8 {
        return None;
    }
    let route = Route::parse(f[1]).filter(|r| *r != Route::Upnp)?;
    let hex = f[3];
    if hex.len() != 24 || !hex.is_ascii() {
        return None;
    }
    let mut nonce = [0u8; 12];
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(JournalEntry::Pcp {
        route,
        server: f[2].parse().ok()?,
        nonce,
        client: f[4].parse().ok()?,
        protocol: Protocol::parse(f[5])?,
        internal_port: f[6].parse().ok()?,
        external_port: f[7].parse().ok()?,
    })
}
