//! The plain C types of the API (enums of stable values, `#[repr(C)]` structs) and their
//! conversions to and from the core's types. Enum values coming from C are taken as integers and
//! checked here: a C caller can pass any number, and an out-of-range Rust enum would be UB.

use std::ffi::c_char;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{copy_to_buffer, ffi_panic_boundary, opt_str, Out, Versioned};
use crate::error::Error;
use crate::events::{Event, EventKind};
use crate::ffi::status::portopen_status;
use crate::lease::{FamilyLease, PortStatus};
use crate::limits::DEFAULT_LEASE_SECS;
use crate::types::{Family, Protocol};

/// Address family. Passed to functions as `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_family {
    V4 = 4,
    V6 = 6,
}

/// Transport protocol (IANA numbers). Passed to functions as `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_protocol {
    Tcp = 6,
    Udp = 17,
}

/// The protocol that opened a family of a lease (`portopen_lease_info.v4_route`, `v6_route`).
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_route {
    /// Not open (or nothing needed opening was asked of the router).
    None = 0,
    /// UPnP IGD (WANIPConnection for IPv4, WANIPv6FirewallControl for IPv6).
    Upnp = 1,
    /// PCP (RFC 6887), either family.
    Pcp = 2,
    /// NAT-PMP (RFC 6886), IPv4 only.
    NatPmp = 3,
}

pub(crate) fn route_to_c(route: Option<crate::types::Route>) -> u32 {
    use crate::types::Route;
    (match route {
        None => portopen_route::None,
        Some(Route::Upnp) => portopen_route::Upnp,
        Some(Route::Pcp) => portopen_route::Pcp,
        Some(Route::NatPmp) => portopen_route::NatPmp,
    }) as u32
}

/// A set of routes: these flags OR-ed together (`portopen_config.route`, `portopen_check_info`).
/// They sit above the `portopen_route` values (flag = 1 << (route + 3)), so one byte carries
/// either a single route or a set.
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_route_flag {
    /// UPnP IGD.
    Upnp = 0x10,
    /// PCP.
    Pcp = 0x20,
    /// NAT-PMP.
    NatPmp = 0x40,
}

/// The `portopen_route_flag` bits of a set of routes.
pub(crate) fn route_flags(routes: &[crate::types::Route]) -> u8 {
    use crate::types::Route;
    routes.iter().fold(0, |bits, r| {
        bits | (match r {
            Route::Upnp => portopen_route_flag::Upnp,
            Route::Pcp => portopen_route_flag::Pcp,
            Route::NatPmp => portopen_route_flag::NatPmp,
        }) as u8
    })
}

/// `portopen_config.route`: 0 (every route), one `portopen_route` value, or a non-empty OR of
/// `portopen_route_flag`s.
pub(crate) fn routes_from_c(value: u8) -> Result<crate::config::Routes, Error> {
    use crate::config::Routes;
    use crate::types::Route;
    const ALL_FLAGS: u8 = portopen_route_flag::Upnp as u8 | portopen_route_flag::Pcp as u8 | portopen_route_flag::NatPmp as u8;
    match value {
        0 => Ok(Routes::ALL),
        1 => Ok(Routes::only(Route::Upnp)),
        2 => Ok(Routes::only(Route::Pcp)),
        3 => Ok(Routes::only(Route::NatPmp)),
        flags if flags & !ALL_FLAGS == 0 => Ok(Routes {
            upnp: flags & portopen_route_flag::Upnp as u8 != 0,
            pcp: flags & portopen_route_flag::Pcp as u8 != 0,
            natpmp: flags & portopen_route_flag::NatPmp as u8 != 0,
        }),
        other => Err(Error::InvalidArgument(format!(
            "config->route must be 0, a portopen_route value (1..=3) or an OR of PORTOPEN_ROUTE_FLAG_* (0x10, 0x20, 0x40), not {other:#x}"
        ))),
    }
}

/// Where one family of a lease stands (`portopen_family_state.status`).
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_port_status {
    /// This family was not asked for.
    NotRequested = 0,
    /// Open: `external` is the address peers send to.
    Open = 1,
    /// Nothing to open: the router's IPv6 firewall is off, inbound traffic already passes.
    OpenAlready = 2,
    /// No gateway answered discovery over this family.
    NoGateway = 3,
    /// The gateway has no port mapping service (IPv4) or no WANIPv6FirewallControl (IPv6).
    NoService = 4,
    /// IPv4: another NAT sits above the router (its external address is private or CGNAT), so a
    /// mapping would not be reachable from the internet. Nothing was mapped.
    UpstreamNat = 5,
    /// IPv6: the router refuses inbound pinholes until the user changes a router setting.
    NotAllowed = 6,
    /// The router refused with UPnP error 606 (action not authorized).
    NotAuthorized = 7,
    /// IPv4: no external port could be had (718/728 after every retry).
    NoPortsAvailable = 8,
    /// The router refused or failed (the message and upnp_code say how).
    Failed = 9,
    /// Was open; the router lost it or stopped answering; recovery is under way.
    Lost = 10,
    /// Closed by the caller; nothing of it remains on the router.
    Closed = 11,
    /// IPv4: the router reports no external address (WAN down, or a reserved WAN address it will
    /// not forward from): a mapping would not be reachable. Nothing was mapped.
    NoExternalAddress = 12,
    /// This host has no address of the family a router could open for (IPv6: no global
    /// address; IPv4: none). No router was asked.
    NoLocalAddress = 13,
}

/// What happened to one family of a lease (`portopen_event.kind`).
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_event_kind {
    /// The port is open (first time).
    Opened = 1,
    /// The lease was extended.
    Renewed = 2,
    /// The router lost the mapping/pinhole or stopped answering; recovery is under way.
    Lost = 3,
    /// Re-opened after a loss (the address or port may have changed).
    Recovered = 4,
    /// Opening or recovery failed; the message says why.
    Failed = 5,
    /// Closed by the caller (or by freeing the lease or client).
    Closed = 6,
}

/// Router grade from `portopen_client_check`.
#[allow(non_camel_case_types)]
#[repr(u32)]
pub enum portopen_grade {
    /// IPv6 pinholes usable as delivered.
    A = 1,
    /// IPv6 pinholes usable after changing a router setting.
    B = 2,
    /// Answers discovery, but IPv6 pinholes are unusable.
    C = 3,
    /// No answer to discovery.
    D = 4,
}

/// An IP address and port. `family` 0 means "no address" (the rest is zero).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct portopen_addr {
    /// 0 (none), 4 or 6.
    pub family: u8,
    /// Zero.
    pub reserved: u8,
    /// Port, host byte order.
    pub port: u16,
    /// Address bytes in network order; IPv4 uses the first 4.
    pub ip: [u8; 16],
}

/// How a client behaves. Fill it with `portopen_config_init`, then change fields. Zero fields
/// and NULL strings mean "default". The struct may grow: `struct_size` (set by init) tells the
/// library which version the caller was built with.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct portopen_config {
    /// `sizeof(portopen_config)`, set by `portopen_config_init`.
    pub struct_size: u32,
    /// Whole-discovery budget per family, ms (0: 2000).
    pub discovery_timeout_ms: u32,
    /// How long discovery keeps listening after the first answer for a better gateway, ms
    /// (0: 30).
    pub discovery_grace_ms: u32,
    /// Budget of one router action (one SOAP call or description fetch), ms (0: 3000).
    pub action_timeout_ms: u32,
    /// Description given to port mappings, 1..=128 bytes (NULL: "portopen"). Leftovers from an
    /// earlier run are only deleted when they carry this description.
    pub description: *const c_char,
    /// Gateway cache file, read at creation and written after each discovery (NULL: none).
    pub cache_file: *const c_char,
    /// Journal of what is open; leftovers found there at creation are removed (NULL: none).
    pub journal_file: *const c_char,
    /// Use this router and no other for the family of its address: it is also searched by
    /// unicast, and only answers from it (responder or LOCATION host) are accepted. "192.168.1.1",
    /// "192.168.1.1:1900", "[fe80::1%2]:1900" or "2001:db8::1" (port 1900 when omitted). The
    /// other family chooses as usual (its default gateway). NULL: the default gateway of each
    /// family is preferred, another IGD is used (and reported) only when it does not answer.
    pub router: *const c_char,
    /// Send multicast searches only on this interface (e.g. "eth0"). NULL: every interface.
    pub interface_name: *const c_char,
    /// Non-zero: no multicast search (only `router` and, unless disabled, the default gateway).
    pub no_multicast: u8,
    /// Non-zero: do not search the OS's default gateway by unicast.
    pub no_default_gateway: u8,
    /// Non-zero: no background renewal thread; call `portopen_client_renew_due` yourself.
    pub manual_renew: u8,
    /// The routes to the router this client may use (for support and tests).
    /// `PORTOPEN_ROUTE_NONE` (0, what `portopen_config_init` sets): every route, PCP/NAT-PMP
    /// raced with UPnP per family. A `portopen_route` value (1..=3): that route only. An OR of
    /// `portopen_route_flag`s (e.g. `PORTOPEN_ROUTE_FLAG_UPNP | PORTOPEN_ROUTE_FLAG_PCP`): those
    /// routes, raced. Anything else is INVALID_ARGUMENT. (This byte was `reserved`, always zero.)
    pub route: u8,
}

// SAFETY: repr(C), starts with u32 struct_size, all-zero is valid (NULL pointers, zero numbers).
unsafe impl Versioned for portopen_config {
    const FIRST_SIZE: usize = std::mem::size_of::<portopen_config>();
}

/// What to open. Fill it with `portopen_open_options_init`, then change fields. The struct may
/// grow: keep `struct_size` as init set it.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct portopen_open_options {
    /// `sizeof(portopen_open_options)`, set by `portopen_open_options_init`.
    pub struct_size: u32,
    /// A `portopen_protocol` value: PORTOPEN_PROTOCOL_UDP (17) or PORTOPEN_PROTOCOL_TCP (6).
    pub protocol: u32,
    /// The port the game listens on, 1..=65535 (pinholes: routers often refuse below 1024).
    pub internal_port: u16,
    /// External IPv4 port wanted (0: same as internal). A wish: the router may grant another.
    pub external_port: u16,
    /// Non-zero: ask for an IPv4 port mapping.
    pub want_v4: u8,
    /// Non-zero: ask for an IPv6 pinhole.
    pub want_v6: u8,
    /// Zero.
    pub reserved: u16,
    /// Lease wanted, seconds (0: 3600). Renewed in the background unless `manual_renew`.
    pub lease_secs: u32,
    /// IPv4 address to map to, dotted text (NULL: this host's address toward the gateway).
    pub internal_v4: *const c_char,
    /// IPv6 address to open for (NULL: this host's stable global address toward the gateway).
    pub internal_v6: *const c_char,
    /// Mapping description, 1..=128 printable bytes (NULL: the client's).
    pub description: *const c_char,
}

// SAFETY: repr(C), starts with u32 struct_size, all-zero is valid.
unsafe impl Versioned for portopen_open_options {
    const FIRST_SIZE: usize = std::mem::size_of::<portopen_open_options>();
}

/// One family of a lease.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct portopen_family_state {
    /// A `portopen_port_status` value.
    pub status: u32,
    /// The host address and port traffic goes to (family 0 when not known).
    pub internal: portopen_addr,
    /// The address and port peers send to (IPv6: the host's own); family 0 when not open.
    pub external: portopen_addr,
    /// Lease the router granted, seconds (0 with status OPEN: permanent, deleted on close).
    pub lease_secs: u32,
    /// The router's UPnP error code behind a refusal, 0 when none.
    pub upnp_code: i32,
}

/// Snapshot of a lease. Set `struct_size = sizeof(portopen_lease_info)` before passing it to
/// `portopen_lease_get_info`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct portopen_lease_info {
    /// In: the size of the caller's struct. Out: the bytes filled.
    pub struct_size: u32,
    /// The lease's id (also in its events), unique within the client.
    pub id: u64,
    /// The IPv4 port mapping.
    pub v4: portopen_family_state,
    /// The IPv6 pinhole.
    pub v6: portopen_family_state,
    /// A `portopen_protocol` value. (Added after the first version: filled only when the
    /// caller's `struct_size` covers it, as with every later field.)
    pub protocol: u32,
    /// The port the game listens on: the one asked to be opened. (Added with `protocol`.)
    pub internal_port: u16,
    /// Non-zero: the router IPv4 was asked of is known not to be this host's default gateway
    /// (the default gateway did not answer discovery, or `config->router` named another): what
    /// it opened may not be reachable from the internet. (Added with the router fields below.)
    pub v4_not_default_gateway: u8,
    /// The same for IPv6 (the default router).
    pub v6_not_default_gateway: u8,
    /// How many other UPnP gateways answered the IPv4 discovery before the choice (up to 255).
    pub v4_other_routers: u8,
    /// The same for IPv6.
    pub v6_other_routers: u8,
    /// The router IPv4 was asked of: its LOCATION address (port 0); family 0 when none was
    /// found.
    pub v4_router: portopen_addr,
    /// The router IPv6 was asked of (its LOCATION address, often its global LAN address).
    pub v6_router: portopen_addr,
    /// A `portopen_route` value: the protocol that opened the IPv4 family. (Added after
    /// `v6_router`; filled only when the caller's `struct_size` covers it.)
    pub v4_route: u32,
    /// A `portopen_route` value: the protocol that opened the IPv6 family. (Added with `v4_route`.)
    pub v6_route: u32,
}

// SAFETY: repr(C), starts with u32 struct_size, all-zero is valid.
unsafe impl Versioned for portopen_lease_info {
    /// The first version ended with `v6` (its size rounded up to the struct's 8-byte alignment).
    const FIRST_SIZE: usize = std::mem::offset_of!(portopen_lease_info, protocol).next_multiple_of(8);
}

/// Length of `portopen_event.message`, including the terminating NUL.
pub const PORTOPEN_EVENT_MESSAGE_MAX: usize = 256;

/// A lease event.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct portopen_event {
    /// The lease it concerns (`portopen_lease_info.id`).
    pub lease_id: u64,
    /// A `portopen_family` value.
    pub family: u32,
    /// A `portopen_event_kind` value.
    pub kind: u32,
    /// The reachable address after the event (family 0 when none).
    pub address: portopen_addr,
    /// Lease seconds granted (OPENED, RENEWED, RECOVERED), 0 otherwise.
    pub lease_secs: u32,
    /// Why, in words: UTF-8, NUL-terminated, cut at a character boundary if longer.
    pub message: [c_char; PORTOPEN_EVENT_MESSAGE_MAX],
}

/// What discovery found. Set `struct_size = sizeof(portopen_gateway_info)` before passing it to
/// `portopen_gateway_get_info`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct portopen_gateway_info {
    /// In: the size of the caller's struct. Out: the bytes filled.
    pub struct_size: u32,
    /// The `portopen_family` it was found and is controlled over.
    pub family: u32,
    /// 2 for InternetGatewayDevice:2, 1 for :1, 0 when unknown.
    pub igd_version: u32,
    /// Non-zero: offers a port mapping service (WANIPConnection / WANPPPConnection).
    pub has_port_mapping: u8,
    /// Non-zero: offers IPv6 pinholes (WANIPv6FirewallControl:1).
    pub has_pinhole: u8,
    /// Zero.
    pub reserved: u16,
    /// This host's address toward the gateway (port 0): the default internal address.
    pub local_addr: portopen_addr,
}

// SAFETY: repr(C), starts with u32 struct_size, all-zero is valid.
unsafe impl Versioned for portopen_gateway_info {
    const FIRST_SIZE: usize = std::mem::size_of::<portopen_gateway_info>();
}

// ---- conversions ----------------------------------------------------------------------------

pub(crate) fn family_from_c(value: u32, arg: &str) -> Result<Family, Error> {
    match value {
        v if v == portopen_family::V4 as u32 => Ok(Family::V4),
        v if v == portopen_family::V6 as u32 => Ok(Family::V6),
        v => Err(Error::InvalidArgument(format!("{arg} must be PORTOPEN_FAMILY_V4 (4) or PORTOPEN_FAMILY_V6 (6), not {v}"))),
    }
}

pub(crate) fn family_to_c(family: Family) -> u32 {
    match family {
        Family::V4 => portopen_family::V4 as u32,
        Family::V6 => portopen_family::V6 as u32,
    }
}

pub(crate) fn protocol_to_c(protocol: Protocol) -> u32 {
    match protocol {
        Protocol::Udp => portopen_protocol::Udp as u32,
        Protocol::Tcp => portopen_protocol::Tcp as u32,
    }
}

pub(crate) fn protocol_from_c(value: u32, arg: &str) -> Result<Protocol, Error> {
    match value {
        v if v == portopen_protocol::Udp as u32 => Ok(Protocol::Udp),
        v if v == portopen_protocol::Tcp as u32 => Ok(Protocol::Tcp),
        v => Err(Error::InvalidArgument(format!("{arg} must be PORTOPEN_PROTOCOL_UDP (17) or PORTOPEN_PROTOCOL_TCP (6), not {v}"))),
    }
}

pub(crate) fn port_status_to_c(status: PortStatus) -> u32 {
    use portopen_port_status as C;
    (match status {
        PortStatus::NotRequested => C::NotRequested,
        PortStatus::Open => C::Open,
        PortStatus::OpenAlready => C::OpenAlready,
        PortStatus::NoGateway => C::NoGateway,
        PortStatus::NoService => C::NoService,
        PortStatus::UpstreamNat => C::UpstreamNat,
        PortStatus::NotAllowed => C::NotAllowed,
        PortStatus::NotAuthorized => C::NotAuthorized,
        PortStatus::NoPortsAvailable => C::NoPortsAvailable,
        PortStatus::Failed => C::Failed,
        PortStatus::Lost => C::Lost,
        PortStatus::Closed => C::Closed,
        PortStatus::NoExternalAddress => C::NoExternalAddress,
        PortStatus::NoLocalAddress => C::NoLocalAddress,
    }) as u32
}

fn event_kind_to_c(kind: EventKind) -> u32 {
    use portopen_event_kind as C;
    (match kind {
        EventKind::Opened => C::Opened,
        EventKind::Renewed => C::Renewed,
        EventKind::Lost => C::Lost,
        EventKind::Recovered => C::Recovered,
        EventKind::Failed => C::Failed,
        EventKind::Closed => C::Closed,
    }) as u32
}

pub(crate) fn grade_to_c(grade: crate::check::Grade) -> u32 {
    use crate::check::Grade;
    (match grade {
        Grade::A => portopen_grade::A,
        Grade::B => portopen_grade::B,
        Grade::C => portopen_grade::C,
        Grade::D => portopen_grade::D,
    }) as u32
}

pub(crate) fn addr_to_c(addr: Option<SocketAddr>) -> portopen_addr {
    let Some(addr) = addr else { return portopen_addr::default() };
    let mut out = portopen_addr { port: addr.port(), ..Default::default() };
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.family = 4;
            out.ip[..4].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.family = 6;
            out.ip = ip.octets();
        }
    }
    out
}

pub(crate) fn addr_from_c(addr: &portopen_addr, arg: &str) -> Result<Option<SocketAddr>, Error> {
    let ip = match addr.family {
        0 => return Ok(None),
        4 => IpAddr::V4(Ipv4Addr::new(addr.ip[0], addr.ip[1], addr.ip[2], addr.ip[3])),
        6 => IpAddr::V6(Ipv6Addr::from(addr.ip)),
        f => return Err(Error::InvalidArgument(format!("{arg}->family must be 0, 4 or 6, not {f}"))),
    };
    Ok(Some(SocketAddr::new(ip, addr.port)))
}

pub(crate) fn family_state_to_c(fl: &FamilyLease) -> portopen_family_state {
    portopen_family_state {
        status: port_status_to_c(fl.status),
        internal: addr_to_c(fl.internal),
        external: addr_to_c(fl.external),
        lease_secs: fl.lease_secs,
        upnp_code: fl.upnp_code.map_or(0, i32::from),
    }
}

pub(crate) fn event_to_c(event: &Event) -> portopen_event {
    let mut out = portopen_event {
        lease_id: event.lease_id,
        family: family_to_c(event.family),
        kind: event_kind_to_c(event.kind),
        address: addr_to_c(event.address),
        lease_secs: event.lease_secs,
        message: [0; PORTOPEN_EVENT_MESSAGE_MAX],
    };
    copy_to_buffer(&event.message, &mut out.message);
    out
}

/// Fill `config` with the defaults: `struct_size` set, every other field zero or NULL.
/// Never fails on a non-NULL pointer.
#[no_mangle]
pub extern "C" fn portopen_config_init(config: *mut portopen_config) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(config, "config")?;
        // SAFETY: all-zero is a valid portopen_config (Versioned).
        let mut value: portopen_config = unsafe { std::mem::zeroed() };
        value.struct_size = std::mem::size_of::<portopen_config>() as u32;
        out.set(value);
        Ok(())
    }
}

/// Fill `options` to open `internal_port` over `protocol` (a `portopen_protocol`) on both
/// families with the default lease (3600 s) and external port = internal port. The port is
/// checked by `portopen_client_open`; the protocol here and there.
#[no_mangle]
pub extern "C" fn portopen_open_options_init(options: *mut portopen_open_options, protocol: u32, internal_port: u16) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(options, "options")?;
        protocol_from_c(protocol, "protocol")?;
        // SAFETY: all-zero is a valid portopen_open_options (Versioned).
        let mut value: portopen_open_options = unsafe { std::mem::zeroed() };
        value.struct_size = std::mem::size_of::<portopen_open_options>() as u32;
        value.protocol = protocol;
        value.internal_port = internal_port;
        value.want_v4 = 1;
        value.want_v6 = 1;
        value.lease_secs = DEFAULT_LEASE_SECS;
        out.set(value);
        Ok(())
    }
}

/// Write `address` as text: "1.2.3.4:5" or "[2001:db8::1]:5", or "" for family 0, into a new
/// string `*out` that the caller frees with `portopen_string_free`. Any thread.
#[no_mangle]
pub extern "C" fn portopen_addr_to_string(address: *const portopen_addr, out: *mut *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        out.set(std::ptr::null_mut());
        let addr = addr_from_c(super::arg_ref(address, "address")?, "address")?;
        out.set(super::string_to_c(&addr.map(|a| a.to_string()).unwrap_or_default()));
        Ok(())
    }
}

/// Parse an address argument ("192.168.1.10") of one family.
pub(crate) fn ip_arg<T: std::str::FromStr>(ptr: *const c_char, arg: &str, what: &str) -> Result<Option<T>, Error> {
    match opt_str(ptr, arg)? {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| Error::InvalidArgument(format!("{arg} '{text}' is not an {what} address"))),
    }
}
