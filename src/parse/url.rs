//! The only URLs a gateway may give us: `http://<IP literal>[:port]/path`. Hostnames, other
//! schemes and userinfo are refused: a LAN device must not point us anywhere else.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use super::ParseError;

/// An `http` URL whose host is an IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    pub ip: IpAddr,
    /// Interface index for a link-local IPv6 host (0 otherwise).
    pub scope_id: u32,
    pub port: u16,
    /// Path and query, always starting with '/'.
    pub path: String,
}

impl HttpUrl {
    /// Parse an absolute `http://` URL with an IP-literal host.
    pub fn parse(text: &str) -> Result<HttpUrl, ParseError> {
        let text = text.trim();
        if text.len() > crate::limits::SSDP_LOCATION_MAX * 2 {
            return Err(ParseError::new("URL too long"));
        }
        if text.bytes().any(|b| b <= b' ' || b == 0x7f || b >= 0x80) {
            return Err(ParseError::new("URL contains spaces, control or non-ASCII characters"));
        }
        let scheme_end = text.find("://").ok_or_else(|| ParseError::new("URL has no scheme"))?;
        let scheme = &text[..scheme_end];
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(ParseError::new(format!("scheme '{scheme}' is not http")));
        }
        let rest = &text[scheme_end + 3..];
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(ParseError::new("URL carries userinfo"));
        }
        let (ip, scope_id, port_text) = if let Some(after) = authority.strip_prefix('[') {
            let close = after.find(']').ok_or_else(|| ParseError::new("unterminated IPv6 literal"))?;
            let inside = &after[..close];
            let (addr_text, zone) = match inside.find('%') {
                Some(i) => (&inside[..i], Some(&inside[i + 1..])),
                None => (inside, None),
            };
            let v6: Ipv6Addr = addr_text.parse().map_err(|_| ParseError::new(format!("bad IPv6 literal '{addr_text}'")))?;
            let scope_id = match zone {
                // "%25" is the URI encoding of '%' (RFC 6874).
                // Only an interface index is taken: a name (`%25eth0`) means something only on
                // the host that wrote it, and an empty or unreadable zone was silently scope 0
                // (any interface) before (issue 19). A pure parser cannot look names up.
                Some(z) => {
                    let z = z.strip_prefix("25").unwrap_or(z);
                    if z.is_empty() {
                        return Err(ParseError::new("empty IPv6 zone id"));
                    }
                    if !z.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(ParseError::new(format!("IPv6 zone id '{z}' is not an interface index (zone names are refused)")));
                    }
                    z.parse::<u32>().map_err(|_| ParseError::new(format!("IPv6 zone id '{z}' is out of range")))?
                }
                None => 0,
            };
            let tail = &after[close + 1..];
            let port_text = match tail {
                "" => None,
                t => Some(t.strip_prefix(':').ok_or_else(|| ParseError::new("junk after IPv6 literal"))?),
            };
            (IpAddr::V6(v6), scope_id, port_text)
        } else {
            let (host, port_text) = match authority.rfind(':') {
                Some(i) => (&authority[..i], Some(&authority[i + 1..])),
                None => (authority, None),
            };
            if host.is_empty() {
                return Err(ParseError::new("URL has no host"));
            }
            let v4 = host.parse::<std::net::Ipv4Addr>().map_err(|_| ParseError::new(format!("host '{host}' is not an IP address")))?;
            (IpAddr::V4(v4), 0, port_text)
        };
        let port = match port_text {
            None => 80,
            Some(p) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::new(format!("bad port '{p}'")));
                }
                let n: u32 = p.parse().map_err(|_| ParseError::new(format!("bad port '{p}'")))?;
                if n == 0 || n > 65535 {
                    return Err(ParseError::new(format!("port {n} out of range")));
                }
                n as u16
            }
        };
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let path = match path.find('#') {
            Some(i) => path[..i].to_string(),
            None => path,
        };
        Ok(HttpUrl { ip, scope_id, port, path })
    }

    /// Resolve a controlURL or SCPDURL from a description against this (the LOCATION) URL.
    /// An absolute URL must name the same host as the LOCATION; anything else is refused,
    /// since a LAN device could otherwise steer our requests to a third party.
    pub fn join(&self, reference: &str) -> Result<HttpUrl, ParseError> {
        let r = reference.trim();
        if r.is_empty() {
            return Err(ParseError::new("empty URL"));
        }
        if r.contains("://") {
            let mut abs = HttpUrl::parse(r)?;
            if abs.ip != self.ip {
                return Err(ParseError::new(format!("URL '{r}' points to another host than the description ({})", self.ip)));
            }
            abs.scope_id = self.scope_id;
            return Ok(abs);
        }
        if r.starts_with("//") {
            return Err(ParseError::new(format!("network-path reference '{r}' refused")));
        }
        if r.bytes().any(|b| b <= b' ' || b == 0x7f || b >= 0x80) {
            return Err(ParseError::new("URL contains spaces, control or non-ASCII characters"));
        }
        let path = if r.starts_with('/') {
            r.to_string()
        } else {
            let base = &self.path[..self.path.split('?').next().unwrap_or("/").rfind('/').map(|i| i + 1).unwrap_or(1)];
            format!("{base}{r}")
        };
        Ok(HttpUrl { ip: self.ip, scope_id: self.scope_id, port: self.port, path })
    }

    /// The socket address to connect to (with the IPv6 scope for link-local hosts).
    pub fn socket_addr(&self) -> SocketAddr {
        match self.ip {
            IpAddr::V4(v4) => SocketAddr::new(IpAddr::V4(v4), self.port),
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, self.port, 0, self.scope_id)),
        }
    }

    /// The `Host:` header value (`ip:port`, IPv6 in brackets, no zone).
    pub fn host_header(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => format!("{v4}:{}", self.port),
            IpAddr::V6(v6) => format!("[{v6}]:{}", self.port),
        }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(v4) => write!(f, "http://{v4}:{}{}", self.port, self.path),
            IpAddr::V6(v6) if self.scope_id != 0 => write!(f, "http://[{v6}%25{}]:{}{}", self.scope_id, self.port, self.path),
            IpAddr::V6(v6) => write!(f, "http://[{v6}]:{}{}", self.port, self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_and_ipv6_locations() {
        let u = HttpUrl::parse("http://192.168.77.1:5000/rootDesc.xml").unwrap();
        assert_eq!(u.ip, "192.168.77.1".parse::<IpAddr>().unwrap());
        assert_eq!((u.port, u.path.as_str()), (5000, "/rootDesc.xml"));
        let u = HttpUrl::parse("http://[2001:db8:1::1]:5000/rootDesc.xml").unwrap();
        assert_eq!(u.host_header(), "[2001:db8:1::1]:5000");
        let u = HttpUrl::parse("HTTP://10.0.0.1").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://[fe80::1%253]:49152/desc.xml").unwrap();
        assert_eq!(u.scope_id, 3);
    }

    #[test]
    fn refuses_locations_that_could_point_elsewhere() {
        for bad in [
            "https://192.168.1.1/desc.xml",
            "file:///etc/passwd",
            "http://router.local:5000/desc.xml",
            "http://user@192.168.1.1/desc.xml",
            "http://192.168.1.1:0/x",
            "http://192.168.1.1:65536/x",
            "http://192.168.1.1:-1/x",
            "http://192.168.1.1:/x",
            "http://192.168.1.1:5000 /x",
            "http://[2001:db8::1/x",
            "http://:80/x",
            "192.168.1.1/x",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn control_urls_resolve_against_location_and_stay_on_its_host() {
        let base = HttpUrl::parse("http://192.168.77.1:5000/dir/rootDesc.xml").unwrap();
        assert_eq!(base.join("/ctl/IPConn").unwrap().path, "/ctl/IPConn");
        assert_eq!(base.join("ctl/IPConn").unwrap().path, "/dir/ctl/IPConn");
        let abs = base.join("http://192.168.77.1:6000/ctl").unwrap();
        assert_eq!(abs.port, 6000);
        assert!(base.join("http://10.9.9.9:5000/ctl").is_err());
        assert!(base.join("//10.9.9.9/ctl").is_err());
        assert!(base.join("").is_err());
    }

    #[test]
    fn a_zone_id_by_name_or_an_empty_one_is_refused_not_taken_as_scope_0() {
        for bad in [
            "http://[fe80::1%25eth0]:5000/",
            "http://[fe80::1%eth0]:5000/",
            "http://[fe80::1%25]:5000/",
            "http://[fe80::1%]:5000/",
            "http://[fe80::1%2599999999999]:5000/",
            "http://[fe80::1%25-1]:5000/",
        ] {
            let e = HttpUrl::parse(bad).expect_err(bad);
            assert!(e.0.contains("zone"), "{bad}: {e}");
        }
        assert_eq!(HttpUrl::parse("http://[fe80::1%2512]:5000/").unwrap().scope_id, 12);
        assert_eq!(HttpUrl::parse("http://[fe80::1%7]:5000/").unwrap().scope_id, 7);
    }
}
