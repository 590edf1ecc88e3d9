//! The two small files a game may ask for: the gateway cache (skip discovery on the next
//! launch) and the journal (what is open now, so a crash's leftovers are removed next start).
//! The cache is plain text, one record per line, tab-separated. The journal is JSON lines (its
//! format is documented at `format_journal`); the tab-separated journal of earlier versions is
//! still read, so a crash journal they left is still cleaned. Both are read back bounded in
//! size, and any line that does not parse is ignored with a logged reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::error::Error;
use crate::gateway::{Gateway, Service, ServiceKind};
use crate::json::Json;
use crate::limits::STATE_FILE_MAX;
use crate::parse::json::{self, int_field, str_field};
use crate::parse::url::HttpUrl;
use crate::types::{Family, Protocol, Route};

const CACHE_MAGIC: &str = "portopen-cache-1";
/// First line of a journal written before version 2 (tab-separated records).
const JOURNAL_MAGIC_TABS: &str = "portopen-journal-1";
/// First line of a JSON-lines journal.
const JOURNAL_HEADER: &str = r#"{"format":"portopen-journal","version":2}"#;

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
                choice: Default::default(),
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

/// The journal as JSON lines (one JSON object per line, UTF-8, `\n` after each):
///
/// ```text
/// {"format":"portopen-journal","version":2}
/// {"kind":"mapping","service_type":"urn:schemas-upnp-org:service:WANIPConnection:2","control_url":"http://192.168.1.1:5000/ctl/IPConn","local":"192.168.1.10","external_port":40000,"protocol":"UDP","internal_client":"192.168.1.10","internal_port":40000,"description":"portopen"}
/// {"kind":"pinhole","service_type":"urn:schemas-upnp-org:service:WANIPv6FirewallControl:1","control_url":"http://[2001:db8::1]:5000/ctl/IP6FCtl","local":"2001:db8::10","id":7,"protocol":"UDP","internal_client":"2001:db8::10","internal_port":40000}
/// ```
///
/// The first line names the format. Each further line is one thing open on a router: where to
/// send its removal (`service_type`, `control_url`, from the local address `local`) and what
/// identifies it (a mapping: external port, protocol, internal client and port, and the
/// description it was made with; a pinhole: its UniqueID `id`, protocol, internal client and
/// port). A mapping or pinhole made through PCP or NAT-PMP is a `"kind":"pcp"` line: `route`
/// (`pcp`, `natpmp`), `server` (address:5351), `nonce` (24 hex digits: the delete must carry
/// it), `client` (the mapped address), `protocol`, `internal_port`, `external_port`; readers
/// before it skip the line. Ports and ids are numbers, everything else strings. Readers ignore
/// unknown fields.
pub fn format_journal(entries: &[JournalEntry]) -> String {
    let mut out = format!("{JOURNAL_HEADER}\n");
    let text = |t: &dyn std::fmt::Display| Json::s(t.to_string());
    let number = |n: u16| Json::Num(n.into());
    for e in entries {
        let line = match e {
            JournalEntry::Mapping { control, local, external_port, protocol, internal_client, internal_port, description } => Json::Obj(vec![
                ("kind", Json::s("mapping")),
                ("service_type", text(&control.service_type)),
                ("control_url", text(&control.control_url)),
                ("local", text(local)),
                ("external_port", number(*external_port)),
                ("protocol", text(protocol)),
                ("internal_client", text(internal_client)),
                ("internal_port", number(*internal_port)),
                ("description", text(description)),
            ]),
            JournalEntry::Pinhole { control, local, id, protocol, internal_client, internal_port } => Json::Obj(vec![
                ("kind", Json::s("pinhole")),
                ("service_type", text(&control.service_type)),
                ("control_url", text(&control.control_url)),
                ("local", text(local)),
                ("id", number(*id)),
                ("protocol", text(protocol)),
                ("internal_client", text(internal_client)),
                ("internal_port", number(*internal_port)),
            ]),
            JournalEntry::Pcp { server, route, nonce, client, protocol, internal_port, external_port } => Json::Obj(vec![
                ("kind", Json::s("pcp")),
                ("route", Json::s(route.tag())),
                ("server", text(server)),
                ("nonce", Json::s(nonce.iter().map(|b| format!("{b:02x}")).collect::<String>())),
                ("client", text(client)),
                ("protocol", text(protocol)),
                ("internal_port", number(*internal_port)),
                ("external_port", number(*external_port)),
            ]),
        };
        out.push_str(&line.line());
        out.push('\n');
    }
    out
}

/// Entries of a journal: JSON lines (`format_journal`), or the tab-separated text of versions
/// before 2. A line that does not parse is skipped.
pub fn parse_journal(text: &str) -> Vec<JournalEntry> {
    let mut lines = text.lines();
    let entries: Vec<JournalEntry> = match lines.next() {
        Some(first) if first == JOURNAL_MAGIC_TABS => lines.filter_map(parse_journal_tabs).collect(),
        Some(first) if is_journal_header(first) => lines.filter_map(parse_journal_json).collect(),
        _ => {
            log::debug!("journal: unknown format; ignored");
            return Vec::new();
        }
    };
    entries
}

fn is_journal_header(line: &str) -> bool {
    json::parse_flat_object(line).is_ok_and(|f| str_field(&f, "format") == Some("portopen-journal") && int_field(&f, "version") == Some(2))
}

fn parse_journal_json(line: &str) -> Option<JournalEntry> {
    let f = match json::parse_flat_object(line) {
        Ok(f) => f,
        Err(e) => {
            log::debug!("journal: unreadable line ignored: {e}");
            return None;
        }
    };
    let protocol = Protocol::parse(str_field(&f, "protocol")?)?;
    let internal_port = u16::try_from(int_field(&f, "internal_port")?).ok()?;
    if str_field(&f, "kind")? == "pcp" {
        return Some(JournalEntry::Pcp {
            route: Route::parse(str_field(&f, "route")?).filter(|r| *r != Route::Upnp)?,
            server: str_field(&f, "server")?.parse().ok()?,
            nonce: parse_nonce(str_field(&f, "nonce")?)?,
            client: str_field(&f, "client")?.parse().ok()?,
            protocol,
            internal_port,
            external_port: u16::try_from(int_field(&f, "external_port")?).ok()?,
        });
    }
    let control = parse_service(str_field(&f, "service_type")?, str_field(&f, "control_url")?)??;
    let local: IpAddr = str_field(&f, "local")?.parse().ok()?;
    match str_field(&f, "kind")? {
        "mapping" => Some(JournalEntry::Mapping {
            control,
            local,
            external_port: u16::try_from(int_field(&f, "external_port")?).ok()?,
            protocol,
            internal_client: str_field(&f, "internal_client")?.parse().ok()?,
            internal_port,
            description: str_field(&f, "description")?.to_string(),
        }),
        "pinhole" => Some(JournalEntry::Pinhole {
            control,
            local,
            id: u16::try_from(int_field(&f, "id")?).ok()?,
            protocol,
            internal_client: str_field(&f, "internal_client")?.parse().ok()?,
            internal_port,
        }),
        _ => None,
    }
}

/// One record of a journal written before version 2: `map` or `pinhole`, then its fields,
/// tab-separated.
fn parse_journal_tabs(line: &str) -> Option<JournalEntry> {
    let f: Vec<&str> = line.split('\t').collect();
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
}

/// A PCP nonce written as 24 hex digits.
fn parse_nonce(hex: &str) -> Option<[u8; 12]> {
    if hex.len() != 24 || !hex.is_ascii() {
        return None;
    }
    let mut nonce = [0u8; 12];
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(nonce)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<JournalEntry> {
        let service = |ty: &str, url: &str| Service {
            kind: ServiceKind::from_type(ty).unwrap(),
            service_type: ty.into(),
            control_url: HttpUrl::parse(url).unwrap(),
            wan_connection_device: None,
        };
        vec![
            JournalEntry::Mapping {
                control: service("urn:schemas-upnp-org:service:WANIPConnection:2", "http://192.168.77.1:5000/ctl/IPConn"),
                local: "192.168.77.100".parse().unwrap(),
                external_port: 44301,
                protocol: Protocol::Udp,
                internal_client: "192.168.77.100".parse().unwrap(),
                internal_port: 44300,
                description: "my \"game\"\tserver é".into(),
            },
            JournalEntry::Pinhole {
                control: service("urn:schemas-upnp-org:service:WANIPv6FirewallControl:1", "http://[fe80::1%252]:5000/ctl/IP6FCtl"),
                local: "2001:db8:1::100".parse().unwrap(),
                id: 7,
                protocol: Protocol::Tcp,
                internal_client: "2001:db8:1::100".parse().unwrap(),
                internal_port: 44300,
            },
        ]
    }

    #[test]
    fn the_journal_is_json_lines_and_reads_back() {
        let text = format_journal(&entries());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], JOURNAL_HEADER);
        assert_eq!(lines.len(), 3);
        for line in &lines {
            assert!(json::parse_flat_object(line).is_ok(), "{line}");
        }
        assert!(
            lines[1].starts_with(
                r#"{"kind":"mapping","service_type":"urn:schemas-upnp-org:service:WANIPConnection:2","control_url":"http://192.168.77.1:5000/ctl/IPConn","#
            ),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(r#""description":"my \"game\"\u0009server é"}"#), "{}", lines[1]);
        assert_eq!(parse_journal(&text), entries());
    }

    #[test]
    fn a_pcp_entry_keeps_its_route_server_and_nonce() {
        let mut all = entries();
        all.push(JournalEntry::Pcp {
            server: "[2001:db8:1::1]:5351".parse().unwrap(),
            route: crate::types::Route::Pcp,
            nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xfe, 0xff],
            client: "2001:db8:1::100".parse().unwrap(),
            protocol: Protocol::Udp,
            internal_port: 44300,
            external_port: 44300,
        });
        all.push(JournalEntry::Pcp {
            server: "192.168.77.1:5351".parse().unwrap(),
            route: crate::types::Route::NatPmp,
            nonce: [0; 12],
            client: "192.168.77.100".parse().unwrap(),
            protocol: Protocol::Tcp,
            internal_port: 44300,
            external_port: 44301,
        });
        let text = format_journal(&all);
        assert!(text.lines().nth(3).unwrap().contains(r#""nonce":"0102030405060708090afeff""#), "{text}");
        assert_eq!(parse_journal(&text), all);
    }

    #[test]
    fn a_journal_of_the_earlier_tab_separated_format_is_still_read() {
        let old = "portopen-journal-1\n\
            map\turn:schemas-upnp-org:service:WANIPConnection:2\thttp://192.168.77.1:5000/ctl/IPConn\t192.168.77.100\t44301\tUDP\t192.168.77.100\t44300\tmy \"game\" server é\n\
            pinhole\turn:schemas-upnp-org:service:WANIPv6FirewallControl:1\thttp://[fe80::1%252]:5000/ctl/IP6FCtl\t2001:db8:1::100\t7\tTCP\t2001:db8:1::100\t44300\n";
        let mut expected = entries();
        if let JournalEntry::Mapping { description, .. } = &mut expected[0] {
            *description = "my \"game\" server é".into();
        }
        assert_eq!(parse_journal(old), expected);
    }

    #[test]
    fn unreadable_journal_lines_are_skipped_and_unknown_formats_ignored() {
        let text = format_journal(&entries());
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(1, r#"{"kind":"mapping","external_port":99999}"#);
        lines.insert(2, "not json");
        lines.insert(3, r#"{"kind":"teleporter","service_type":"x"}"#);
        assert_eq!(parse_journal(&lines.join("\n")), entries());
        assert_eq!(parse_journal("portopen-journal-9\n"), vec![]);
        assert_eq!(parse_journal(r#"{"format":"portopen-journal","version":3}"#), vec![]);
        assert_eq!(parse_journal(""), vec![]);
    }
}
