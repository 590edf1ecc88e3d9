//! PCP (RFC 6887, version 2) and NAT-PMP (RFC 6886, version 0) on the wire: MAP and NAT-PMP
//! requests built, answers parsed and matched to the request they answer, result codes decided.
//!
//! Pure: bytes in, values out. An answer that is not for our request (another opcode, nonce,
//! protocol or internal port) is `None` — ignored, never an error: it may be a stray, a late
//! answer to an earlier request, or a spoof, and the right request's answer may still come.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::ParseError;
use crate::addr::{ExternalAddress, V4Class};
use crate::types::Protocol;

/// PCP's version number (1 was used by an incompatible pre-standard protocol).
pub const PCP_VERSION: u8 = 2;
/// NAT-PMP's version number; a version-0 answer to a PCP request means "NAT-PMP only here".
pub const NATPMP_VERSION: u8 = 0;
/// The server's port (both protocols): requests go there.
pub const SERVER_PORT: u16 = 5351;
/// The client port: unsolicited ANNOUNCEs and NAT-PMP address notices arrive there, multicast to
/// 224.0.0.1 and ff02::1.
pub const CLIENT_PORT: u16 = 5350;
/// RFC 6887 §7: no PCP message is longer than this. A longer datagram is not PCP.
pub const MESSAGE_MAX: usize = 1100;

const OP_ANNOUNCE: u8 = 0;
const OP_MAP: u8 = 1;
const RESPONSE_BIT: u8 = 0x80;
const HEADER_LEN: usize = 24;
const MAP_BODY_LEN: usize = 36;
const MAP_LEN: usize = HEADER_LEN + MAP_BODY_LEN;
const OPTION_HEADER_LEN: usize = 4;

const NATPMP_OP_ADDRESS: u8 = 0;
const NATPMP_OP_MAP_UDP: u8 = 1;
const NATPMP_OP_MAP_TCP: u8 = 2;
const NATPMP_HEADER_LEN: usize = 8;
const NATPMP_ADDRESS_LEN: usize = 12;
const NATPMP_MAP_LEN: usize = 16;

/// The mapping nonce (RFC 6887 §11.1): random, kept for the mapping's whole life. Renewals and
/// the delete carry the same one; the server refuses a delete with another (NOT_AUTHORIZED).
pub type Nonce = [u8; 12];

/// A PCP result code (RFC 6887 §7.4), or one this library does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PcpResult {
    Success,
    UnsuppVersion,
    NotAuthorized,
    MalformedRequest,
    UnsuppOpcode,
    UnsuppOption,
    MalformedOption,
    NetworkFailure,
    NoResources,
    UnsuppProtocol,
    UserExQuota,
    CannotProvideExternal,
    AddressMismatch,
    ExcessiveRemotePeers,
    Other(u8),
}

impl PcpResult {
    pub fn from_code(code: u8) -> PcpResult {
        use PcpResult::*;
        match code {
            0 => Success,
            1 => UnsuppVersion,
            2 => NotAuthorized,
            3 => MalformedRequest,
            4 => UnsuppOpcode,
            5 => UnsuppOption,
            6 => MalformedOption,
            7 => NetworkFailure,
            8 => NoResources,
            9 => UnsuppProtocol,
            10 => UserExQuota,
            11 => CannotProvideExternal,
            12 => AddressMismatch,
            13 => ExcessiveRemotePeers,
            other => Other(other),
        }
    }
    pub fn code(self) -> u8 {
        use PcpResult::*;
        match self {
            Success => 0,
            UnsuppVersion => 1,
            NotAuthorized => 2,
            MalformedRequest => 3,
            UnsuppOpcode => 4,
            UnsuppOption => 5,
            MalformedOption => 6,
            NetworkFailure => 7,
            NoResources => 8,
            UnsuppProtocol => 9,
            UserExQuota => 10,
            CannotProvideExternal => 11,
            AddressMismatch => 12,
            ExcessiveRemotePeers => 13,
            Other(code) => code,
        }
    }
    /// The RFC's name (`NOT_AUTHORIZED`), or `"unknown"`.
    pub fn name(self) -> &'static str {
        use PcpResult::*;
        match self {
            Success => "SUCCESS",
            UnsuppVersion => "UNSUPP_VERSION",
            NotAuthorized => "NOT_AUTHORIZED",
            MalformedRequest => "MALFORMED_REQUEST",
            UnsuppOpcode => "UNSUPP_OPCODE",
            UnsuppOption => "UNSUPP_OPTION",
            MalformedOption => "MALFORMED_OPTION",
            NetworkFailure => "NETWORK_FAILURE",
            NoResources => "NO_RESOURCES",
            UnsuppProtocol => "UNSUPP_PROTOCOL",
            UserExQuota => "USER_EX_QUOTA",
            CannotProvideExternal => "CANNOT_PROVIDE_EXTERNAL",
            AddressMismatch => "ADDRESS_MISMATCH",
            ExcessiveRemotePeers => "EXCESSIVE_REMOTE_PEERS",
            Other(_) => "unknown",
        }
    }
}

impl fmt::Display for PcpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// A NAT-PMP result code (RFC 6886 §3.5), or one this library does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatPmpResult {
    Success,
    UnsupportedVersion,
    /// "Not Authorized/Refused" (e.g. the box supports mapping but the user turned it off).
    NotAuthorized,
    /// "Network Failure" (e.g. the NAT has not obtained a DHCP lease, or has no public address).
    NetworkFailure,
    OutOfResources,
    UnsupportedOpcode,
    Other(u16),
}

impl NatPmpResult {
    pub fn from_code(code: u16) -> NatPmpResult {
        use NatPmpResult::*;
        match code {
            0 => Success,
            1 => UnsupportedVersion,
            2 => NotAuthorized,
            3 => NetworkFailure,
            4 => OutOfResources,
            5 => UnsupportedOpcode,
            other => Other(other),
        }
    }
    pub fn code(self) -> u16 {
        use NatPmpResult::*;
        match self {
            Success => 0,
            UnsupportedVersion => 1,
            NotAuthorized => 2,
            NetworkFailure => 3,
            OutOfResources => 4,
            UnsupportedOpcode => 5,
            Other(code) => code,
        }
    }
    pub fn name(self) -> &'static str {
        use NatPmpResult::*;
        match self {
            Success => "Success",
            UnsupportedVersion => "Unsupported Version",
            NotAuthorized => "Not Authorized/Refused",
            NetworkFailure => "Network Failure",
            OutOfResources => "Out of resources",
            UnsupportedOpcode => "Unsupported opcode",
            Other(_) => "unknown",
        }
    }
}

impl fmt::Display for NatPmpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// What an answer means for portopen: the one place where PCP and NAT-PMP result codes are
/// turned into a course of action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The mapping exists (for the lifetime and external address/port the answer carries).
    Granted,
    /// The server speaks another version: ask again in that one (0: NAT-PMP, IPv4 only).
    UseVersion(u8),
    /// The router's policy refuses this host or port: report "not authorized". UPnP may still be
    /// tried for the family (another daemon may judge differently), but will likely agree.
    NotAuthorized,
    /// A mapping here would not be reachable: another NAT sits between this host and the internet
    /// (ADDRESS_MISMATCH: our address was rewritten on the way; NAT-PMP NETWORK_FAILURE and PCP
    /// NO_RESOURCES with a private or 100.64/10 external address: the router's WAN is behind a
    /// NAT, miniupnpd 2.3.1 in the lab).
    UpstreamNat,
    /// Temporary refusal (no external address yet, mapping table full, user over quota): ask
    /// again after this long (the PCP answer's lifetime; RFC 6887 §7.4 short-lifetime errors).
    TryLater(Duration),
    /// This route cannot do this request (the router does not implement what we asked, or
    /// answered something unknown): hand the family to UPnP.
    Unusable,
}

/// Retry time when an error answer gives none (NAT-PMP has no field for it; a PCP server may
/// answer lifetime 0). RFC 6887 §7.4 suggests 30 s for short-lifetime errors.
const RETRY_DEFAULT: Duration = Duration::from_secs(30);

impl Verdict {
    /// Decide a PCP answer: its result code, its lifetime (for an error: how long the error
    /// holds) and the external address it carries.
    pub fn of_pcp(result: PcpResult, lifetime: u32, external: IpAddr) -> Verdict {
        use PcpResult::*;
        let retry = if lifetime == 0 { RETRY_DEFAULT } else { Duration::from_secs(lifetime.into()) };
        match result {
            Success => Verdict::Granted,
            // Handled by the caller from the version field (it is in the answer's header).
            UnsuppVersion => Verdict::Unusable,
            NotAuthorized => Verdict::NotAuthorized,
            AddressMismatch => Verdict::UpstreamNat,
            NoResources if behind_nat(external) => Verdict::UpstreamNat,
            NoResources | UserExQuota | NetworkFailure => Verdict::TryLater(retry),
            // We send neither options nor PREFER_FAILURE nor PEER: these say the server does
            // not do what portopen needs the way it asks.
            MalformedRequest | UnsuppOpcode | UnsuppOption | MalformedOption | UnsuppProtocol | CannotProvideExternal | ExcessiveRemotePeers | Other(_) => {
                Verdict::Unusable
            }
        }
    }

    /// Decide a NAT-PMP answer.
    pub fn of_natpmp(result: NatPmpResult) -> Verdict {
        use NatPmpResult::*;
        match result {
            Success => Verdict::Granted,
            // A NAT-PMP server that does not speak version 0 does not exist; nothing to fall to.
            UnsupportedVersion | UnsupportedOpcode | Other(_) => Verdict::Unusable,
            NotAuthorized => Verdict::NotAuthorized,
            // miniupnpd answers this when its WAN address is not public (lab: WAN in 100.64/10).
            NetworkFailure => Verdict::UpstreamNat,
            OutOfResources => Verdict::TryLater(RETRY_DEFAULT),
        }
    }
}

/// An external IPv4 address that is not reachable from the internet (private, 100.64/10).
fn behind_nat(external: IpAddr) -> bool {
    match unmap(external) {
        IpAddr::V4(v4) => matches!(V4Class::of(v4), V4Class::Private | V4Class::SharedCgnat),
        IpAddr::V6(_) => false,
    }
}

/// PCP carries every address in 16 bytes: IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
fn wire_address(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn read_address(bytes: &[u8]) -> IpAddr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&bytes[..16]);
    unmap(IpAddr::V6(Ipv6Addr::from(octets)))
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A PCP MAP request (RFC 6887 §11.1): open `internal_port` of `client` for `protocol`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRequest {
    pub nonce: Nonce,
    pub protocol: Protocol,
    pub internal_port: u16,
    /// 0: no preference. For IPv6 (no translation) the server grants the internal port.
    pub suggested_external_port: u16,
    /// `None`: no preference (sent as the all-zero address of the client's family).
    pub suggested_external_address: Option<IpAddr>,
    /// Seconds; 0 deletes the mapping (same nonce).
    pub lifetime: u32,
    /// The PCP client's address: the address to open, which must also be the request's source
    /// (the server answers ADDRESS_MISMATCH otherwise, and maps the source, not this field).
    pub client: IpAddr,
}

impl MapRequest {
    /// The 60 bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(MAP_LEN);
        m.extend_from_slice(&[PCP_VERSION, OP_MAP, 0, 0]);
        m.extend_from_slice(&self.lifetime.to_be_bytes());
        m.extend_from_slice(&wire_address(self.client));
        m.extend_from_slice(&self.nonce);
        m.extend_from_slice(&[self.protocol.iana_number(), 0, 0, 0]);
        m.extend_from_slice(&self.internal_port.to_be_bytes());
        m.extend_from_slice(&self.suggested_external_port.to_be_bytes());
        // "No preference" is the all-zero address of the family asked for (RFC 6887 §11.1):
        // ::ffff:0.0.0.0 for IPv4, :: for IPv6.
        let unspecified = match self.client {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        m.extend_from_slice(&wire_address(self.suggested_external_address.unwrap_or(unspecified)));
        m
    }

    /// The same mapping's delete: lifetime 0, same nonce (RFC 6887 §15).
    pub fn deletion(&self) -> MapRequest {
        MapRequest { lifetime: 0, ..self.clone() }
    }

    /// Is `datagram` the answer to this request? `None` when it is not ours (ignore it).
    pub fn match_answer(&self, datagram: &[u8]) -> Option<PcpAnswer> {
        // A NAT-PMP-only server answers any other version with its Unsupported Version header
        // (RFC 6886 §3.5; the erratum says OP 128, some servers send 0, and miniupnpd built
        // without PCP echoes the request's opcode: 129 for a MAP, measured in the lab).
        if datagram.first() == Some(&NATPMP_VERSION) {
            let header = parse_natpmp_header(datagram).ok()?;
            return (header.result == NatPmpResult::UnsupportedVersion && matches!(header.opcode & 0x7f, 0 | OP_MAP))
                .then_some(PcpAnswer::VersionNotSupported { server_version: NATPMP_VERSION, epoch: header.epoch });
        }
        let response = parse_response(datagram).ok()?;
        let header = response.header;
        if header.result == PcpResult::UnsuppVersion && header.version != PCP_VERSION {
            // RFC 6887 §9: the server names the version it speaks; the body may be absent.
            return Some(PcpAnswer::VersionNotSupported { server_version: header.version, epoch: header.epoch });
        }
        let PcpBody::Map(map) = response.body else { return None };
        let ours =
            header.version == PCP_VERSION && map.nonce == self.nonce && map.protocol == self.protocol.iana_number() && map.internal_port == self.internal_port;
        ours.then_some(PcpAnswer::Map(MapResponse {
            result: header.result,
            lifetime: header.lifetime,
            epoch: header.epoch,
            external_port: map.external_port,
            external_address: map.external_address,
        }))
    }
}

/// The answer to a MAP request, once matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcpAnswer {
    Map(MapResponse),
    /// The server speaks `server_version` only (0: NAT-PMP; ask with NAT-PMP instead).
    VersionNotSupported {
        server_version: u8,
        epoch: u32,
    },
}

/// A MAP answer matched to its request (nonce, protocol and internal port are the request's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapResponse {
    pub result: PcpResult,
    /// Success: seconds the mapping lasts (the server clamps what was asked; miniupnpd 2.3.1 to
    /// 120..86400). Error: seconds the error holds.
    pub lifetime: u32,
    /// Seconds since the server's state began (RFC 6887 §8.5): see [`epoch_lost_state`].
    pub epoch: u32,
    /// Success: the port peers send to. miniupnpd 2.3.1 answers 0 to an IPv6 refresh (a bug,
    /// fixed in 2.3.6): the caller keeps the port it was granted before.
    pub external_port: u16,
    /// Success: the address peers send to (IPv4 unmapped). 0.0.0.0: the router has none.
    pub external_address: IpAddr,
}

impl MapResponse {
    pub fn verdict(&self) -> Verdict {
        Verdict::of_pcp(self.result, self.lifetime, self.external_address)
    }
    /// The granted external address in the library's vocabulary: an IPv4 one classified
    /// (0.0.0.0 is `Unspecified`: the router has no WAN address; miniupnpd 2.3.1 grants the
    /// mapping anyway), an IPv6 one as is.
    pub fn external(&self) -> ExternalAddress {
        ExternalAddress::classify(Some(self.external_address))
    }
}

/// A PCP response header (RFC 6887 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpHeader {
    pub version: u8,
    /// Without the R bit.
    pub opcode: u8,
    pub result: PcpResult,
    pub lifetime: u32,
    pub epoch: u32,
}

/// A MAP response's body, before matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapBody {
    pub nonce: Nonce,
    pub protocol: u8,
    pub internal_port: u16,
    pub external_port: u16,
    pub external_address: IpAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcpBody {
    Map(MapBody),
    /// ANNOUNCE has no body: its header's epoch is the news.
    Announce,
    /// An opcode portopen does not use (PEER), or an error answer without its body.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpResponse {
    pub header: PcpHeader,
    pub body: PcpBody,
}

/// Parse a PCP response (any version number, R bit set). Refuses what RFC 6887 §8.3 says a
/// client ignores: shorter than a header, longer than 1100 bytes, not a multiple of 4, and
/// options that run past the end.
pub fn parse_response(datagram: &[u8]) -> Result<PcpResponse, ParseError> {
    let n = datagram.len();
    if n < HEADER_LEN {
        return Err(ParseError::new(format!("PCP answer of {n} bytes is shorter than its 24-byte header")));
    }
    if n > MESSAGE_MAX {
        return Err(ParseError::new(format!("PCP answer of {n} bytes is longer than {MESSAGE_MAX}")));
    }
    if n % 4 != 0 {
        return Err(ParseError::new(format!("PCP answer of {n} bytes is not a multiple of 4")));
    }
    if datagram[1] & RESPONSE_BIT == 0 {
        return Err(ParseError::new("PCP message is a request (R bit clear)"));
    }
    let header = PcpHeader {
        version: datagram[0],
        opcode: datagram[1] & !RESPONSE_BIT,
        result: PcpResult::from_code(datagram[3]),
        lifetime: be32(datagram, 4),
        epoch: be32(datagram, 8),
    };
    let (body, options_at) = match header.opcode {
        OP_MAP if n >= MAP_LEN => {
            let b = &datagram[HEADER_LEN..MAP_LEN];
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&b[..12]);
            let map = MapBody { nonce, protocol: b[12], internal_port: be16(b, 16), external_port: be16(b, 18), external_address: read_address(&b[20..]) };
            (PcpBody::Map(map), MAP_LEN)
        }
        OP_ANNOUNCE => (PcpBody::Announce, HEADER_LEN),
        _ => (PcpBody::Other, n),
    };
    check_options(&datagram[options_at..])?;
    Ok(PcpResponse { header, body })
}

/// Walk the options (RFC 6887 §7.3) only to check they are well framed: portopen sends none and
/// uses none of the answer's (a client ignores what it did not ask for).
fn check_options(mut rest: &[u8]) -> Result<(), ParseError> {
    while !rest.is_empty() {
        if rest.len() < OPTION_HEADER_LEN {
            return Err(ParseError::new("PCP option header cut short"));
        }
        let len = usize::from(be16(rest, 2));
        let padded = (len + 3) & !3;
        if OPTION_HEADER_LEN + padded > rest.len() {
            return Err(ParseError::new(format!("PCP option {} of {len} bytes runs past the end", rest[0])));
        }
        rest = &rest[OPTION_HEADER_LEN + padded..];
    }
    Ok(())
}

/// An unsolicited message heard on the client port (`224.0.0.1:5350`, `[ff02::1]:5350`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announcement {
    /// PCP ANNOUNCE (RFC 6887 §14.1): the server restarted or lost state; compare the epoch
    /// and re-map everything held on it.
    Pcp { epoch: u32 },
    /// NAT-PMP external address notice (RFC 6886 §3.2.1): sent at start and on a WAN address
    /// change.
    NatPmpAddress { epoch: u32, external: Ipv4Addr },
}

/// Parse an ANNOUNCE or NAT-PMP address notice.
pub fn parse_announcement(datagram: &[u8]) -> Result<Announcement, ParseError> {
    match datagram.first() {
        Some(&NATPMP_VERSION) => {
            let a = parse_natpmp_address(datagram)?;
            if a.result != NatPmpResult::Success {
                return Err(ParseError::new(format!("NAT-PMP address notice with result {}", a.result)));
            }
            Ok(Announcement::NatPmpAddress { epoch: a.epoch, external: a.external })
        }
        _ => {
            let r = parse_response(datagram)?;
            if r.header.version != PCP_VERSION || r.body != PcpBody::Announce || r.header.result != PcpResult::Success {
                return Err(ParseError::new(format!(
                    "not a PCP ANNOUNCE (version {}, opcode {}, result {})",
                    r.header.version, r.header.opcode, r.header.result
                )));
            }
            Ok(Announcement::Pcp { epoch: r.header.epoch })
        }
    }
}

/// RFC 6887 §8.5 (and RFC 6886 §3.6 for NAT-PMP): did the server lose its state between two
/// answers? `previous` and `current` are the epochs of two answers, `client_elapsed` the time
/// this host measured between receiving them. True when the epoch went back by more than 2 s, or
/// the two clocks disagree by more than 1/16 plus 2 s: every mapping held there must be re-made.
pub fn epoch_lost_state(previous: u32, current: u32, client_elapsed: Duration) -> bool {
    if u64::from(current) + 2 < u64::from(previous) {
        return true;
    }
    let server_delta = u64::from(current.saturating_sub(previous));
    let client_delta = client_elapsed.as_secs();
    client_delta.saturating_add(2) < server_delta - server_delta / 16 || server_delta + 2 < client_delta - client_delta / 16
}

/// A PCP ANNOUNCE request (RFC 6887 §14.1): the header alone, lifetime 0. A PCP server answers
/// with an ANNOUNCE response carrying its epoch; nothing is mapped. How a client asks "do you
/// speak PCP?" without changing anything.
pub fn announce_request(client: IpAddr) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER_LEN);
    m.extend_from_slice(&[PCP_VERSION, OP_ANNOUNCE, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&wire_address(client));
    m
}

/// Is `datagram` the answer to an ANNOUNCE request? `Some(Some(epoch))`: a PCP server;
/// `Some(None)`: a NAT-PMP-only server's "unsupported version" header; `None`: not an answer.
pub fn match_announce_answer(datagram: &[u8]) -> Option<Option<u32>> {
    if datagram.first() == Some(&NATPMP_VERSION) {
        let header = parse_natpmp_header(datagram).ok()?;
        return (header.result == NatPmpResult::UnsupportedVersion).then_some(None);
    }
    match parse_announcement(datagram).ok()? {
        Announcement::Pcp { epoch } => Some(Some(epoch)),
        Announcement::NatPmpAddress { .. } => None,
    }
}

/// NAT-PMP "what is your external address" request (RFC 6886 §3.2).
pub fn natpmp_address_request() -> [u8; 2] {
    [NATPMP_VERSION, NATPMP_OP_ADDRESS]
}

/// A NAT-PMP map request (RFC 6886 §3.3), IPv4 only; the mapped address is the source's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatPmpMapRequest {
    pub protocol: Protocol,
    pub internal_port: u16,
    /// 0: no preference. Deleting: 0 with lifetime 0.
    pub suggested_external_port: u16,
    /// Seconds (NAT-PMP grants what is asked on miniupnpd 2.3.1); 0 deletes.
    pub lifetime: u32,
}

impl NatPmpMapRequest {
    fn opcode(&self) -> u8 {
        match self.protocol {
            Protocol::Udp => NATPMP_OP_MAP_UDP,
            Protocol::Tcp => NATPMP_OP_MAP_TCP,
        }
    }

    pub fn encode(&self) -> [u8; 12] {
        let mut m = [0u8; 12];
        m[1] = self.opcode();
        m[4..6].copy_from_slice(&self.internal_port.to_be_bytes());
        m[6..8].copy_from_slice(&self.suggested_external_port.to_be_bytes());
        m[8..12].copy_from_slice(&self.lifetime.to_be_bytes());
        m
    }

    /// The delete (RFC 6886 §3.4): lifetime 0 and external port 0.
    pub fn deletion(&self) -> NatPmpMapRequest {
        NatPmpMapRequest { suggested_external_port: 0, lifetime: 0, ..*self }
    }

    /// Is `datagram` the answer to this request? NAT-PMP has no nonce: the opcode and the
    /// internal port must match. An error answer cut to its 8-byte header is accepted on the
    /// opcode alone (RFC 6886 leaves an error's other fields undefined).
    pub fn match_answer(&self, datagram: &[u8]) -> Option<NatPmpMapResponse> {
        let header = parse_natpmp_header(datagram).ok()?;
        if header.opcode != RESPONSE_BIT | self.opcode() {
            return None;
        }
        if datagram.len() < NATPMP_MAP_LEN {
            return (header.result != NatPmpResult::Success).then_some(NatPmpMapResponse {
                result: header.result,
                epoch: header.epoch,
                internal_port: self.internal_port,
                external_port: 0,
                lifetime: 0,
            });
        }
        let response = NatPmpMapResponse {
            result: header.result,
            epoch: header.epoch,
            internal_port: be16(datagram, 8),
            external_port: be16(datagram, 10),
            lifetime: be32(datagram, 12),
        };
        (response.internal_port == self.internal_port).then_some(response)
    }
}

/// A NAT-PMP map answer matched to its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatPmpMapResponse {
    pub result: NatPmpResult,
    /// Seconds since the gateway's mapping table began.
    pub epoch: u32,
    pub internal_port: u16,
    pub external_port: u16,
    pub lifetime: u32,
}

impl NatPmpMapResponse {
    pub fn verdict(&self) -> Verdict {
        Verdict::of_natpmp(self.result)
    }
}

/// A NAT-PMP external address answer (or notice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatPmpAddressResponse {
    pub result: NatPmpResult,
    pub epoch: u32,
    /// 0.0.0.0: the router has no external address.
    pub external: Ipv4Addr,
}

impl NatPmpAddressResponse {
    pub fn verdict(&self) -> Verdict {
        Verdict::of_natpmp(self.result)
    }
    /// The external address, classified (see [`MapResponse::external`]).
    pub fn external_address(&self) -> ExternalAddress {
        ExternalAddress::classify(Some(IpAddr::V4(self.external)))
    }
}

/// Is `datagram` the answer to the external address request? `None` when not.
pub fn natpmp_match_address(datagram: &[u8]) -> Option<NatPmpAddressResponse> {
    parse_natpmp_address(datagram).ok()
}

struct NatPmpHeader {
    opcode: u8,
    result: NatPmpResult,
    epoch: u32,
}

/// The 8 bytes every NAT-PMP answer starts with. NAT-PMP answers are at most 16 bytes: anything
/// longer is refused (so a PCP answer is never read as one).
fn parse_natpmp_header(datagram: &[u8]) -> Result<NatPmpHeader, ParseError> {
    let n = datagram.len();
    if !(NATPMP_HEADER_LEN..=NATPMP_MAP_LEN).contains(&n) {
        return Err(ParseError::new(format!("NAT-PMP answer of {n} bytes (8 to 16 expected)")));
    }
    if datagram[0] != NATPMP_VERSION {
        return Err(ParseError::new(format!("NAT-PMP answer with version {}", datagram[0])));
    }
    Ok(NatPmpHeader { opcode: datagram[1], result: NatPmpResult::from_code(be16(datagram, 2)), epoch: be32(datagram, 4) })
}

fn parse_natpmp_address(datagram: &[u8]) -> Result<NatPmpAddressResponse, ParseError> {
    let header = parse_natpmp_header(datagram)?;
    if header.opcode != RESPONSE_BIT | NATPMP_OP_ADDRESS {
        return Err(ParseError::new(format!("NAT-PMP opcode {} is not an address answer", header.opcode)));
    }
    let external = if datagram.len() >= NATPMP_ADDRESS_LEN {
        Ipv4Addr::new(datagram[8], datagram[9], datagram[10], datagram[11])
    } else if header.result != NatPmpResult::Success {
        Ipv4Addr::UNSPECIFIED
    } else {
        return Err(ParseError::new("NAT-PMP address answer without its address"));
    };
    Ok(NatPmpAddressResponse { result: header.result, epoch: header.epoch, external })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: Nonce = [0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xa5];
    const LAN_V4: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 100);
    const LAN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
    const EXT_V4: Ipv4Addr = Ipv4Addr::new(11, 0, 0, 1);

    fn v4_request() -> MapRequest {
        MapRequest {
            nonce: NONCE,
            protocol: Protocol::Udp,
            internal_port: 40000,
            suggested_external_port: 40000,
            suggested_external_address: None,
            lifetime: 7200,
            client: IpAddr::V4(LAN_V4),
        }
    }

    /// A MAP answer as RFC 6887 §11.1 lays it out (and as miniupnpd writes it: the request's
    /// fields copied, R bit, result, lifetime, epoch, the assigned port and address).
    fn map_answer(req: &MapRequest, result: u8, lifetime: u32, epoch: u32, port: u16, address: IpAddr) -> Vec<u8> {
        let mut m = vec![2, 0x81, 0, result];
        m.extend_from_slice(&lifetime.to_be_bytes());
        m.extend_from_slice(&epoch.to_be_bytes());
        m.extend_from_slice(&[0; 12]);
        m.extend_from_slice(&req.nonce);
        m.extend_from_slice(&[req.protocol.iana_number(), 0, 0, 0]);
        m.extend_from_slice(&req.internal_port.to_be_bytes());
        m.extend_from_slice(&port.to_be_bytes());
        m.extend_from_slice(&wire_address(address));
        m
    }

    #[test]
    fn map_request_is_laid_out_as_rfc6887_section_11_1() {
        let wire = v4_request().encode();
        assert_eq!(wire.len(), 60);
        assert_eq!(&wire[..4], &[2, 1, 0, 0], "version 2, R=0 opcode MAP, reserved");
        assert_eq!(&wire[4..8], &7200u32.to_be_bytes());
        let mut mapped = [0u8; 16];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped[12..].copy_from_slice(&LAN_V4.octets());
        assert_eq!(&wire[8..24], &mapped, "IPv4 client as ::ffff:192.168.77.100");
        assert_eq!(&wire[24..36], &NONCE);
        assert_eq!(&wire[36..40], &[17, 0, 0, 0], "protocol UDP, 24 reserved bits");
        assert_eq!(&wire[40..42], &40000u16.to_be_bytes());
        assert_eq!(&wire[42..44], &40000u16.to_be_bytes());
        let mut any_v4 = [0u8; 16];
        any_v4[10] = 0xff;
        any_v4[11] = 0xff;
        assert_eq!(&wire[44..60], &any_v4, "no preference for IPv4 is ::ffff:0.0.0.0");
    }

    #[test]
    fn ipv6_map_request_carries_the_address_itself_and_all_zero_suggestion() {
        let req = MapRequest { client: IpAddr::V6(LAN_V6), protocol: Protocol::Tcp, ..v4_request() };
        let wire = req.encode();
        assert_eq!(&wire[8..24], &LAN_V6.octets());
        assert_eq!(wire[36], 6);
        assert_eq!(&wire[44..60], &[0u8; 16]);
        let del = req.deletion().encode();
        assert_eq!(&del[4..8], &[0, 0, 0, 0], "delete is lifetime 0");
        assert_eq!(&del[24..36], &NONCE, "with the same nonce");
    }

    #[test]
    fn accepts_its_own_answer() {
        let req = v4_request();
        let answer = map_answer(&req, 0, 7200, 1234, 40000, IpAddr::V4(EXT_V4));
        let Some(PcpAnswer::Map(m)) = req.match_answer(&answer) else { panic!("not accepted") };
        assert_eq!(m, MapResponse { result: PcpResult::Success, lifetime: 7200, epoch: 1234, external_port: 40000, external_address: IpAddr::V4(EXT_V4) });
        assert_eq!(m.verdict(), Verdict::Granted);
        assert_eq!(m.external(), ExternalAddress::V4(EXT_V4, V4Class::Public));
    }

    #[test]
    fn a_router_without_wan_address_grants_with_0_0_0_0() {
        // Lab notes: WAN without an address, PCP answers SUCCESS with 0.0.0.0.
        let req = v4_request();
        let answer = map_answer(&req, 0, 7200, 1, 40000, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let Some(PcpAnswer::Map(m)) = req.match_answer(&answer) else { panic!() };
        assert_eq!(m.verdict(), Verdict::Granted);
        assert_eq!(m.external(), ExternalAddress::V4(Ipv4Addr::UNSPECIFIED, V4Class::Unspecified));
        assert_eq!(natpmp_match_address(&[0, 128, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap().external_address().public_v4(), None);
    }

    #[test]
    fn ignores_answers_to_another_request() {
        let req = v4_request();
        let good = map_answer(&req, 0, 7200, 1, 40000, IpAddr::V4(EXT_V4));
        let mut other_nonce = good.clone();
        other_nonce[35] ^= 1;
        let mut other_protocol = good.clone();
        other_protocol[36] = 6;
        let mut other_port = good.clone();
        other_port[41] ^= 1;
        let mut request_not_answer = good.clone();
        request_not_answer[1] = 0x01;
        let mut peer_opcode = good.clone();
        peer_opcode[1] = 0x82;
        let mut announce_opcode = good.clone();
        announce_opcode[1] = 0x80;
        let mut version1 = good.clone();
        version1[0] = 1;
        for (what, bad) in [
            ("other nonce", other_nonce),
            ("other protocol", other_protocol),
            ("other internal port", other_port),
            ("R bit clear", request_not_answer),
            ("PEER opcode", peer_opcode),
            ("ANNOUNCE opcode", announce_opcode),
            ("version 1 success", version1),
            ("truncated", good[..56].to_vec()),
            ("header only", good[..24].to_vec()),
            ("oversized", [good.clone(), vec![0; 1100]].concat()),
            ("not a multiple of 4", [good.clone(), vec![0; 2]].concat()),
            ("empty", vec![]),
        ] {
            assert_eq!(req.match_answer(&bad), None, "{what}");
        }
    }

    #[test]
    fn options_are_skipped_within_bounds() {
        let req = v4_request();
        let good = map_answer(&req, 0, 7200, 1, 40000, IpAddr::V4(EXT_V4));
        // A THIRD_PARTY-sized option (code 1, 16 bytes) and a 1-byte option padded to 4.
        let mut with_options = good.clone();
        with_options.extend_from_slice(&[1, 0, 0, 16]);
        with_options.extend_from_slice(&[0; 16]);
        with_options.extend_from_slice(&[0x80, 0, 0, 1, 9, 0, 0, 0]);
        assert!(matches!(req.match_answer(&with_options), Some(PcpAnswer::Map(_))));
        let mut overrun = good.clone();
        overrun.extend_from_slice(&[1, 0, 0xff, 0xf0]);
        assert_eq!(req.match_answer(&overrun), None, "an option longer than the datagram");
        let mut padding_overrun = good;
        padding_overrun.extend_from_slice(&[1, 0, 0, 5, 0, 0, 0, 0]);
        assert_eq!(req.match_answer(&padding_overrun), None, "5 bytes need 8 with padding");
    }

    #[test]
    fn error_answers_with_the_body_are_matched_and_decided() {
        let req = v4_request();
        let none = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let cases = [
            (2, 0, none, Verdict::NotAuthorized),
            (12, 0, none, Verdict::UpstreamNat),
            // Lab: WAN in 100.64/10 -> NO_RESOURCES, lifetime 30.
            (8, 30, IpAddr::V4(Ipv4Addr::new(100, 64, 0, 2)), Verdict::UpstreamNat),
            (8, 30, IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)), Verdict::UpstreamNat),
            (8, 30, none, Verdict::TryLater(Duration::from_secs(30))),
            (7, 0, none, Verdict::TryLater(RETRY_DEFAULT)),
            (10, 60, none, Verdict::TryLater(Duration::from_secs(60))),
            (3, 0, none, Verdict::Unusable),
            (5, 0, none, Verdict::Unusable),
            (9, 0, none, Verdict::Unusable),
            (11, 0, none, Verdict::Unusable),
            (200, 0, none, Verdict::Unusable),
        ];
        for (code, lifetime, address, verdict) in cases {
            let answer = map_answer(&req, code, lifetime, 5, 0, address);
            let Some(PcpAnswer::Map(m)) = req.match_answer(&answer) else { panic!("code {code} not matched") };
            assert_eq!(m.result.code(), code);
            assert_eq!(m.verdict(), verdict, "{}", m.result);
        }
    }

    #[test]
    fn result_codes_round_trip_with_their_rfc_names() {
        for code in 0..=255u8 {
            assert_eq!(PcpResult::from_code(code).code(), code);
        }
        assert_eq!(PcpResult::from_code(13).name(), "EXCESSIVE_REMOTE_PEERS");
        assert_eq!(PcpResult::from_code(2).to_string(), "NOT_AUTHORIZED (2)");
        for code in [0u16, 1, 2, 3, 4, 5, 6, 0xffff] {
            assert_eq!(NatPmpResult::from_code(code).code(), code);
        }
    }

    #[test]
    fn an_announce_request_is_the_header_alone_and_its_answer_gives_the_epoch() {
        let request = announce_request(IpAddr::V4(Ipv4Addr::new(192, 168, 77, 100)));
        assert_eq!(request.len(), 24);
        assert_eq!(&request[..4], &[2, 0, 0, 0]);
        assert_eq!(&request[18..], &[0xff, 0xff, 192, 168, 77, 100]);
        // miniupnpd 2.3.1's answer, as seen in the lab.
        let answer = [2, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0x66, 0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(match_announce_answer(&answer), Some(Some(0x16623)));
        assert_eq!(match_announce_answer(&[0, 0x80, 0, 1, 0, 0, 0, 9]), Some(None), "NAT-PMP only");
        assert_eq!(match_announce_answer(&[2, 0x81, 0, 0]), None);
    }

    #[test]
    fn version_zero_answer_means_natpmp_only() {
        let req = v4_request();
        // RFC 6886 §3.5 with erratum 3618 (OP 128), the original text's OP 0, and miniupnpd
        // without PCP's echo of the MAP opcode (0x81, bytes seen: 00 81 0001 00016555).
        for op in [128u8, 0, 129] {
            let answer = [0, op, 0, 1, 0, 0, 0x10, 0];
            assert_eq!(req.match_answer(&answer), Some(PcpAnswer::VersionNotSupported { server_version: 0, epoch: 4096 }), "op {op}");
        }
        // A version-0 answer to something else (a NAT-PMP map answer) is not about this request.
        assert_eq!(req.match_answer(&[0, 129, 0, 0, 0, 0, 0, 1, 0x9c, 0x40, 0x9c, 0x40, 0, 0, 0, 60]), None);
    }

    #[test]
    fn unsupp_version_names_the_server_version_even_without_a_body() {
        let req = v4_request();
        let mut header = vec![1, 0x81, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
        header.extend_from_slice(&[0; 12]);
        assert_eq!(req.match_answer(&header), Some(PcpAnswer::VersionNotSupported { server_version: 1, epoch: 9 }));
    }

    #[test]
    fn ipv6_refresh_on_miniupnpd_2_3_1_answers_port_zero() {
        // Lab notes: a refresh of an IPv6 mapping answers external port 0 (fixed upstream in
        // 2.3.6). It is still a success for our nonce; the engine keeps the port it had.
        let req = MapRequest { client: IpAddr::V6(LAN_V6), ..v4_request() };
        let answer = map_answer(&req, 0, 7200, 77, 0, IpAddr::V6(LAN_V6));
        let Some(PcpAnswer::Map(m)) = req.match_answer(&answer) else { panic!() };
        assert_eq!((m.verdict(), m.external_port, m.external_address), (Verdict::Granted, 0, IpAddr::V6(LAN_V6)));
    }

    #[test]
    fn announce_and_natpmp_address_notice() {
        let mut announce = vec![2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
        announce.extend_from_slice(&[0; 12]);
        assert_eq!(parse_announcement(&announce), Ok(Announcement::Pcp { epoch: 256 }));
        let notice = [0, 128, 0, 0, 0, 0, 0, 3, 11, 0, 0, 1];
        assert_eq!(parse_announcement(&notice), Ok(Announcement::NatPmpAddress { epoch: 3, external: EXT_V4 }));
        let mut failed = announce.clone();
        failed[3] = 7;
        assert!(parse_announcement(&failed).is_err(), "an ANNOUNCE is a success");
        let mut map = announce.clone();
        map[1] = 0x81;
        assert!(parse_announcement(&map).is_err());
        assert!(parse_announcement(&announce[..20]).is_err());
        assert!(parse_announcement(&[0, 129, 0, 0, 0, 0, 0, 3]).is_err());
        assert!(parse_announcement(&[]).is_err());
    }

    #[test]
    fn epoch_rules_of_rfc6887_section_8_5() {
        let s = Duration::from_secs;
        assert!(!epoch_lost_state(1000, 1060, s(60)), "both clocks moved together");
        assert!(!epoch_lost_state(1000, 1002, s(0)), "2 s of slack");
        assert!(!epoch_lost_state(1000, 999, s(0)), "a little back, within 2 s");
        assert!(epoch_lost_state(1000, 5, s(10)), "epoch went back: the server restarted");
        assert!(epoch_lost_state(1000, 1010, s(600)), "server clock stood still (system_uptime=yes restart)");
        assert!(epoch_lost_state(1000, 2000, s(10)), "server clock ran ahead");
        assert!(!epoch_lost_state(0, 3600, s(3400)), "within 1/16 + 2 s over an hour");
        assert!(!epoch_lost_state(u32::MAX - 5, u32::MAX, s(5)));
    }

    #[test]
    fn natpmp_requests_as_rfc6886_section_3() {
        assert_eq!(natpmp_address_request(), [0, 0]);
        let map = NatPmpMapRequest { protocol: Protocol::Tcp, internal_port: 40000, suggested_external_port: 40001, lifetime: 7200 };
        assert_eq!(map.encode(), [0, 2, 0, 0, 0x9c, 0x40, 0x9c, 0x41, 0, 0, 0x1c, 0x20]);
        assert_eq!(map.deletion().encode(), [0, 2, 0, 0, 0x9c, 0x40, 0, 0, 0, 0, 0, 0]);
        assert_eq!(NatPmpMapRequest { protocol: Protocol::Udp, ..map }.encode()[1], 1);
    }

    #[test]
    fn natpmp_answers_matched_by_opcode_and_internal_port() {
        let req = NatPmpMapRequest { protocol: Protocol::Udp, internal_port: 40000, suggested_external_port: 40000, lifetime: 7200 };
        let ok = [0, 129, 0, 0, 0, 0, 0, 42, 0x9c, 0x40, 0x9c, 0x41, 0, 0, 0x1c, 0x20];
        assert_eq!(
            req.match_answer(&ok),
            Some(NatPmpMapResponse { result: NatPmpResult::Success, epoch: 42, internal_port: 40000, external_port: 40001, lifetime: 7200 })
        );
        let mut tcp = ok;
        tcp[1] = 130;
        let mut other_port = ok;
        other_port[9] = 0x41;
        for (what, bad) in
            [("TCP answer", &tcp[..]), ("other internal port", &other_port[..]), ("truncated success", &ok[..12]), ("long", &[&ok[..], &[0; 4]].concat()[..])]
        {
            assert_eq!(req.match_answer(bad), None, "{what}");
        }
        // An error cut to the header, and the lab's CGNAT answer (NETWORK_FAILURE).
        let refused = req.match_answer(&[0, 129, 0, 2, 0, 0, 0, 1]).unwrap();
        assert_eq!(refused.verdict(), Verdict::NotAuthorized);
        let cgnat = req.match_answer(&[0, 129, 0, 3, 0, 0, 0, 1, 0x9c, 0x40, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(cgnat.verdict(), Verdict::UpstreamNat);
    }

    #[test]
    fn natpmp_address_answer() {
        let a = natpmp_match_address(&[0, 128, 0, 0, 0, 0, 1, 0, 11, 0, 0, 1]).unwrap();
        assert_eq!((a.verdict(), a.epoch, a.external), (Verdict::Granted, 256, EXT_V4));
        let none = natpmp_match_address(&[0, 128, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(none.external, Ipv4Addr::UNSPECIFIED, "no WAN address: SUCCESS with 0.0.0.0");
        assert!(natpmp_match_address(&[0, 128, 0, 0, 0, 0, 1, 0]).is_none(), "success without the address");
        assert!(natpmp_match_address(&[0, 129, 0, 0, 0, 0, 1, 0, 11, 0, 0, 1]).is_none());
        assert_eq!(natpmp_match_address(&[0, 128, 0, 3, 0, 0, 1, 0]).unwrap().verdict(), Verdict::UpstreamNat);
    }
}
