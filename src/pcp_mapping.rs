//! A mapping (IPv4) or pinhole (IPv6) held through PCP (RFC 6887) or NAT-PMP (RFC 6886): what
//! is kept of it (server, nonce, what was granted, the server's epoch), and the three actions on
//! it — map, refresh, delete — each one exchange, with every answer decided once, here.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use crate::cancel::Budget;
use crate::limits::{PCP_LATE_DELETE_BUDGET, PCP_RACE_BOUND};
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
    // built without PCP, measured): over IPv4 NAT-PMP is asked beside PCP after a short silence.
    if v4 && wanted.natpmp {
        return map_v4_with_fallback(server, wanted, request, schedule, budget);
    }
    pcp_result(server, wanted, &request, net::map(server, &request, schedule, budget), budget)
}

/// What one PCP MAP exchange's answer means (a version-0 answer over IPv4, NAT-PMP allowed:
/// NAT-PMP is asked).
fn pcp_result(
    server: SocketAddr,
    wanted: &Wanted,
    request: &MapRequest,
    answered: Result<net::Answered<PcpAnswer>, ExchangeError>,
    budget: &Budget,
) -> MapResult {
    match answered {
        Ok(a) => match a.answer {
            PcpAnswer::Map(m) => match m.verdict() {
                Verdict::Granted => MapResult::Granted { mapping: granted_mapping(server, wanted, request.nonce, &m), lost_state: false },
                verdict => MapResult::Refused { verdict, what: format!("PCP MAP: {} (external {})", m.result, m.external_address), route: Route::Pcp },
            },
            PcpAnswer::VersionNotSupported { server_version: 0, .. } if server.is_ipv4() && wanted.natpmp => {
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

/// The mapping a PCP grant made.
fn granted_mapping(server: SocketAddr, wanted: &Wanted, nonce: Nonce, m: &crate::parse::pcp::MapResponse) -> PcpMapping {
    PcpMapping {
        server,
        route: Route::Pcp,
        nonce,
        client: wanted.client,
        protocol: wanted.protocol,
        internal_port: wanted.internal_port,
        external: granted_external(wanted.client, wanted.internal_port, m.external_address, m.external_port),
        lifetime_asked: wanted.lifetime,
        lifetime_granted: m.lifetime,
        epoch: m.epoch,
        answered_at: Instant::now(),
        renew_permille: random_renew_permille(),
    }
}

/// Who took an IPv4 map asked over both PCP and NAT-PMP.
const UNCLAIMED: u8 = 0;
const PCP_TOOK: u8 = 1;
const DONE_WITHOUT_PCP: u8 = 2;

/// IPv4 with NAT-PMP allowed: PCP is asked and listened to for the whole budget on a thread of
/// its own; after `PCP_RACE_BOUND` of silence NAT-PMP is asked beside it. A NAT-PMP grant
/// returns at once. When NAT-PMP does not grant (a PCP-only server answers it "unsupported
/// version"; a slow one answers nothing yet), PCP's answer decides when it comes within the
/// budget: a denied port's NOT_AUTHORIZED takes seconds. A PCP grant that comes after the
/// outcome was decided without it deletes itself (no mapping left beside the one used).
fn map_v4_with_fallback(server: SocketAddr, wanted: &Wanted, request: MapRequest, schedule: &Schedule, budget: &Budget) -> MapResult {
    let claim = Arc::new(AtomicU8::new(UNCLAIMED));
    let (tx, rx) = mpsc::channel();
    let spawned = {
        let (claim, wanted, schedule, budget, request) = (claim.clone(), *wanted, *schedule, budget.clone(), request.clone());
        std::thread::Builder::new().name("portopen-pcp4".into()).spawn(move || {
            let answered = net::map(server, &request, &schedule, &budget);
            if let Ok(net::Answered { answer: PcpAnswer::Map(m), .. }) = &answered {
                if m.verdict() == Verdict::Granted && claim.compare_exchange(UNCLAIMED, PCP_TOOK, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                    let late = granted_mapping(server, &wanted, request.nonce, m);
                    log::info!("IPv4: PCP granted port {} after the map was settled without it: deleting it", late.external.port());
                    let _ = late.delete(&Budget::new(PCP_LATE_DELETE_BUDGET, &crate::cancel::CancelToken::new()));
                }
            }
            let _ = tx.send(answered);
        })
    };
    if let Err(e) = spawned {
        log::debug!("IPv4: no PCP thread ({e}): NAT-PMP alone");
        return natpmp_map(server, wanted, budget);
    }
    if let Ok(answered) = rx.recv_timeout(PCP_RACE_BOUND.min(budget.deadline().saturating_duration_since(Instant::now()))) {
        return pcp_result(server, wanted, &request, answered, budget);
    }
    log::debug!("PCP {server}: no answer within {PCP_RACE_BOUND:?}: asking NAT-PMP beside it");
    let natpmp = natpmp_map(server, wanted, budget);
    if let MapResult::Granted { mapping, .. } = &natpmp {
        if claim.compare_exchange(UNCLAIMED, DONE_WITHOUT_PCP, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return natpmp;
        }
        // PCP granted meanwhile: its grant is the one kept (a NAT-PMP mapping of the same
        // port on a server that speaks both is the same rule, so no delete of it is sent).
        log::debug!("IPv4: PCP and NAT-PMP both granted port {}: keeping PCP's", mapping.external.port());
    }
    // NAT-PMP did not settle it: PCP's answer does, when it comes within the budget.
    let wait = budget.deadline().saturating_duration_since(Instant::now()) + crate::limits::CANCEL_POLL;
    match rx.recv_timeout(wait) {
        Ok(answered @ Ok(_)) => pcp_result(server, wanted, &request, answered, budget),
        _ => {
            claim.store(DONE_WITHOUT_PCP, Ordering::SeqCst);
            natpmp
        }
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
