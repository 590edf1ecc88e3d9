//! A mapping (IPv4) or pinhole (IPv6) held through PCP (RFC 6887) or NAT-PMP (RFC 6886): what
//! is kept of it (server, nonce, what was granted, the server's epoch), and the three actions on
//! it — map, refresh, delete — each one exchange, with every answer decided once, here.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use crate::cancel::Budget;
use crate::limits::PCP_RACE_BOUND;
use crate::parse::pcp::{epoch_lost_state, MapRequest, NatPmpMapRequest, Nonce, PcpAnswer, Verdict};
use crate::transport::pcp::{self as net, ExchangeError, Schedule};
use crate::types::{Protocol, Route};

/// What a PCP or NAT-PMP server granted, and what renewing or deleting it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PcpMapping {
    /// The server (the default gateway, port 5351).
    pub server: SocketAddr,
    /// `Route::Pcp` or `Route::NatPmp` (IPv4 only).
    pub route: Route,
    /// PCP: kept for the mapping's whole life (refresh and delete carry it). NAT-PMP: unused.
    pub nonce: Nonce,
    /// The address mapped: the request's source and PCP client field.
    pub client: IpAddr,
    pub protocol: Protocol,
    pub internal_port: u16,
    /// The address and port peers send to (IPv6: the host's own address and port).
    pub external: SocketAddr,
    /// The lifetime asked for (what a refresh asks again).
    pub lifetime_asked: u32,
    /// The lifetime the server granted in its last answer.
    pub lifetime_granted: u32,
    /// The server's epoch in its last answer, and when that answer came (RFC 6887 §8.5).
    pub epoch: u32,
    pub answered_at: Instant,
    /// When to refresh, in thousandths of the granted lifetime: drawn once per mapping in
    /// 500..=625 (RFC 6887 §11.2.1: between 1/2 and 5/8), so that hosts do not refresh in step.
    pub renew_permille: u16,
}

/// What the look between renewals watches for one family held through PCP or NAT-PMP: the
/// server (its ANNOUNCEs heard, its epoch asked), the address held (whose interface hears the
/// ANNOUNCEs) and the route (PCP asks the epoch with an ANNOUNCE request, NAT-PMP with an
/// external address request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PcpWatch {
    pub server: SocketAddr,
    pub client: IpAddr,
    pub route: Route,
}

impl PcpMapping {
    /// What the look watches for it.
    pub(crate) fn watch(&self) -> PcpWatch {
        PcpWatch { server: self.server, client: self.client, route: self.route }
    }
}

/// A refresh point in 500..=625 thousandths of the lifetime.
pub(crate) fn random_renew_permille() -> u16 {
    let r = u16::from_be_bytes([net::new_nonce()[0], net::new_nonce()[1]]);
    500 + r % 126
}

/// How one map, refresh or delete exchange ended.
#[derive(Clone, Debug)]
pub(crate) enum MapResult {
    /// Granted (a delete: removed). `lost_state`: the epoch says the server lost its state since
    /// the previous answer (a restart): everything else held there must be mapped again.
    Granted { mapping: PcpMapping, lost_state: bool },
    /// The server answered, refusing: `verdict` says what that means, `what` in words.
    Refused { verdict: Verdict, what: String, route: Route },
    /// No server (refused port), no answer in time, cancelled, or a local socket error.
    NoAnswer(ExchangeError),
}

/// What to ask for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub client: IpAddr,
    pub protocol: Protocol,
    pub internal_port: u16,
    /// IPv4: the external port wished (0: the internal port). IPv6: ignored (no translation).
    pub external_port: u16,
    pub lifetime: u32,
    /// May PCP be asked, may NAT-PMP be asked (IPv4: when PCP is not allowed, or the server
    /// answered "version 0 only").
    pub pcp: bool,
    pub natpmp: bool,
}

/// Map `wanted` at `server`: PCP MAP with a fresh nonce, or NAT-PMP when the server speaks only
/// version 0 (or PCP is not allowed). One exchange (two for a NAT-PMP-only server asked PCP).
pub(crate) fn map(server: SocketAddr, wanted: &Wanted, schedule: &Schedule, budget: &Budget) -> MapResult {
    let v4 = server.is_ipv4();
    if !wanted.pcp {
        return if v4 && wanted.natpmp { natpmp_map(server, wanted, budget) } else { not_allowed() };
    }
    // miniupnpd 2.3.1: an IPv6 refresh that does not suggest the internal port is answered with
    // external port 0; there is no translation over IPv6, so the internal port is always asked.
    let suggested = if v4 && wanted.external_port != 0 { wanted.external_port } else { wanted.internal_port };
    let request = MapRequest {
        nonce: net::new_nonce(),
        protocol: wanted.protocol,
        internal_port: wanted.internal_port,
        suggested_external_port: suggested,
        suggested_external_address: None,
        lifetime: wanted.lifetime,
        client: wanted.client,
    };
    // A NAT-PMP-only server may ignore a PCP request rather than answer "version 0" (miniupnpd
    // built without PCP, measured): over IPv4 the PCP wait is short, then NAT-PMP is asked.
    let fallback = v4 && wanted.natpmp;
    let pcp_budget = if fallback { budget.capped(PCP_RACE_BOUND) } else { budget.clone() };
    match net::map(server, &request, schedule, &pcp_budget) {
        Err(ExchangeError::NoAnswer { sends }) if fallback && !budget.expired() => {
            log::debug!("PCP {server}: no answer to {sends} send(s): asking NAT-PMP");
            natpmp_map(server, wanted, budget)
        }
        Ok(a) => match a.answer {
            PcpAnswer::Map(m) => match m.verdict() {
                Verdict::Granted => {
                    let external = granted_external(wanted.client, wanted.internal_port, m.external_address, m.external_port);
                    let mapping = PcpMapping {
                        server,
                        route: Route::Pcp,
                        nonce: request.nonce,
                        client: wanted.client,
                        protocol: wanted.protocol,
                        internal_port: wanted.internal_port,
                        external,
                        lifetime_asked: wanted.lifetime,
                        lifetime_granted: m.lifetime,
                        epoch: m.epoch,
                        answered_at: Instant::now(),
                        renew_permille: random_renew_permille(),
                    };
                    MapResult::Granted { mapping, lost_state: false }
                }
                verdict => MapResult::Refused { verdict, what: format!("PCP MAP: {} (external {})", m.result, m.external_address), route: Route::Pcp },
            },
            PcpAnswer::VersionNotSupported { server_version: 0, .. } if v4 && wanted.natpmp => {
                log::debug!("PCP {server}: the server speaks NAT-PMP only: asking that");
                natpmp_map(server, wanted, budget)
            }
            PcpAnswer::VersionNotSupported { server_version, .. } => {
                MapResult::Refused { verdict: Verdict::Unusable, what: format!("PCP: the server speaks version {server_version} only"), route: Route::Pcp }
            }
        },
        Err(e) => MapResult::NoAnswer(e),
    }
}

fn not_allowed() -> MapResult {
    MapResult::Refused { verdict: Verdict::Unusable, what: "neither PCP nor NAT-PMP may be used for this family".into(), route: Route::Pcp }
}

/// NAT-PMP: the map and the external address asked together (the map answer lacks it).
fn natpmp_map(server: SocketAddr, wanted: &Wanted, budget: &Budget) -> MapResult {
    let (IpAddr::V4(local), SocketAddr::V4(server4)) = (wanted.client, server) else { return not_allowed() };
    let external_port = if wanted.external_port != 0 { wanted.external_port } else { wanted.internal_port };
    let request =
        NatPmpMapRequest { protocol: wanted.protocol, internal_port: wanted.internal_port, suggested_external_port: external_port, lifetime: wanted.lifetime };
    natpmp_exchange(server4, local, &request, wanted.lifetime, None, budget)
}

fn natpmp_exchange(
    server: SocketAddrV4,
    local: std::net::Ipv4Addr,
    request: &NatPmpMapRequest,
    asked: u32,
    previous: Option<&PcpMapping>,
    budget: &Budget,
) -> MapResult {
    let got = match net::natpmp_map(local, server, request, true, &Schedule::RFC6886, budget) {
        Ok(g) => g,
        Err(e) => return MapResult::NoAnswer(e),
    };
    let m = got.map.answer;
    match m.verdict() {
        Verdict::Granted => {}
        verdict => return MapResult::Refused { verdict, what: format!("NAT-PMP map: {}", m.result), route: Route::NatPmp },
    }
    let address = got.address.map(|a| a.answer);
    if let Some(a) = address.filter(|a| a.verdict() != Verdict::Granted) {
        // The map was granted but the address is unusable (NETWORK_FAILURE behind a CGNAT).
        return MapResult::Refused { verdict: a.verdict(), what: format!("NAT-PMP external address: {}", a.result), route: Route::NatPmp };
    }
    let external_ip = address.map(|a| IpAddr::V4(a.external)).or(previous.map(|p| p.external.ip())).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = Instant::now();
    let lost_state = previous.is_some_and(|p| epoch_lost_state(p.epoch, m.epoch, now.saturating_duration_since(p.answered_at)));
    let mapping = PcpMapping {
        server: SocketAddr::V4(server),
        route: Route::NatPmp,
        nonce: previous.map(|p| p.nonce).unwrap_or_default(),
        client: IpAddr::V4(local),
        protocol: request.protocol,
        internal_port: request.internal_port,
        external: SocketAddr::new(external_ip, m.external_port),
        lifetime_asked: asked,
        lifetime_granted: m.lifetime,
        epoch: m.epoch,
        answered_at: now,
        renew_permille: previous.map_or_else(random_renew_permille, |p| p.renew_permille),
    };
    MapResult::Granted { mapping, lost_state }
}

/// What peers send to: over IPv6 the host's own address and port (a refresh on miniupnpd 2.3.1
/// answers port 0: the request's is the truth); over IPv4 what the server granted.
fn granted_external(client: IpAddr, internal_port: u16, address: IpAddr, port: u16) -> SocketAddr {
    match client {
        IpAddr::V6(_) => SocketAddr::new(client, internal_port),
        IpAddr::V4(_) => SocketAddr::new(address, port),
    }
}

impl PcpMapping {
    fn request(&self, lifetime: u32) -> MapRequest {
        let v4 = self.client.is_ipv4();
        MapRequest {
            nonce: self.nonce,
            protocol: self.protocol,
            internal_port: self.internal_port,
            // IPv4: keep the port and address granted; IPv6: the internal port (see `map`).
            suggested_external_port: if v4 { self.external.port() } else { self.internal_port },
            suggested_external_address: v4.then(|| self.external.ip()).filter(|ip| !ip.is_unspecified()),
            lifetime,
            client: self.client,
        }
    }

    /// Refresh: the same request again (same nonce, the port granted suggested). It re-creates
    /// the mapping if the server lost it. One exchange.
    pub(crate) fn refresh(&self, schedule: &Schedule, budget: &Budget) -> MapResult {
        self.exchange(self.lifetime_asked, schedule, budget)
    }

    /// Delete (lifetime 0, same nonce). `Granted` means removed.
    pub(crate) fn delete(&self, budget: &Budget) -> MapResult {
        self.exchange(0, &Schedule::RFC6887, budget)
    }

    /// Shorten to `lifetime` (the server clamps it to its minimum): what is left when a delete
    /// is refused (miniupnpd 2.3.1's IPv6 refresh bug).
    pub(crate) fn shorten(&self, lifetime: u32, budget: &Budget) -> MapResult {
        self.exchange(lifetime, &Schedule::RFC6887, budget)
    }

    fn exchange(&self, lifetime: u32, schedule: &Schedule, budget: &Budget) -> MapResult {
        if self.route == Route::NatPmp {
            let (IpAddr::V4(local), SocketAddr::V4(server)) = (self.client, self.server) else { return not_allowed() };
            let request =
                NatPmpMapRequest { protocol: self.protocol, internal_port: self.internal_port, suggested_external_port: self.external.port(), lifetime };
            let request = if lifetime == 0 { request.deletion() } else { request };
            return natpmp_exchange(server, local, &request, self.lifetime_asked, Some(self), budget);
        }
        let request = self.request(lifetime);
        match net::map(self.server, &request, schedule, budget) {
            Ok(a) => match a.answer {
                PcpAnswer::Map(m) => match m.verdict() {
                    Verdict::Granted => {
                        let now = Instant::now();
                        let lost_state = epoch_lost_state(self.epoch, m.epoch, now.saturating_duration_since(self.answered_at));
                        let external =
                            if lifetime == 0 { self.external } else { granted_external(self.client, self.internal_port, m.external_address, m.external_port) };
                        let mapping = PcpMapping { external, lifetime_granted: m.lifetime, epoch: m.epoch, answered_at: now, ..self.clone() };
                        MapResult::Granted { mapping, lost_state }
                    }
                    verdict => MapResult::Refused { verdict, what: format!("PCP MAP: {}", m.result), route: Route::Pcp },
                },
                PcpAnswer::VersionNotSupported { server_version, .. } => MapResult::Refused {
                    verdict: Verdict::Unusable,
                    what: format!("PCP: the server now speaks version {server_version} only"),
                    route: Route::Pcp,
                },
            },
            Err(e) => MapResult::NoAnswer(e),
        }
    }
}
