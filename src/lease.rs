//! What an `open` asks for and what it got, per family: the public view of a lease.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::Error;
use crate::limits::DEFAULT_LEASE_SECS;
use crate::types::{Family, Protocol, Route};

/// What to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenRequest {
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port the game listens on (1024..=65535 for pinholes; 1..=65535 for mappings).
    pub internal_port: u16,
    /// Ask for an IPv4 port mapping.
    pub v4: bool,
    /// Ask for an IPv6 pinhole.
    pub v6: bool,
    /// Lease wanted, seconds (finite by default; the router's grant is read back).
    pub lease_secs: u32,
    /// External IPv4 port wanted (0: same as the internal port). A wish: another may be granted.
    pub external_port: u16,
    /// Internal addresses to open for (None: the host's address toward the gateway; for IPv6 the
    /// stable global one, not a temporary privacy address).
    pub internal_v4: Option<Ipv4Addr>,
    /// The same for the IPv6 pinhole.
    pub internal_v6: Option<Ipv6Addr>,
    /// Mapping description (None: the client's default, "portopen").
    pub description: Option<String>,
}

impl OpenRequest {
    /// Both families, default lease, external port = internal port.
    pub fn new(protocol: Protocol, internal_port: u16) -> OpenRequest {
        OpenRequest {
            protocol,
            internal_port,
            v4: true,
            v6: true,
            lease_secs: DEFAULT_LEASE_SECS,
            external_port: 0,
            internal_v4: None,
            internal_v6: None,
            description: None,
        }
    }
}

/// Where one family of a lease stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortStatus {
    /// This family was not asked for.
    NotRequested,
    /// The port is open: `external` is the address peers send to.
    Open,
    /// Nothing to open: the router's IPv6 firewall is off, inbound traffic already passes.
    OpenAlready,
    /// No gateway answered discovery over this family.
    NoGateway,
    /// The gateway has no port mapping service (IPv4) or no WANIPv6FirewallControl (IPv6).
    NoService,
    /// IPv4: the router's external address is private or 100.64/10: another NAT sits above it,
    /// so a mapping here would not be reachable from the internet. Nothing was mapped.
    UpstreamNat,
    /// IPv6: the router refuses inbound pinholes until the user changes a router setting.
    NotAllowed,
    /// The router refused with 606 (action not authorized).
    NotAuthorized,
    /// IPv4: no external port could be had (718/728 after every retry).
    NoPortsAvailable,
    /// The router refused or failed the action (the message and UPnP code say how).
    Failed,
    /// Was open; the router lost it or stopped answering; recovery is under way.
    Lost,
    /// Closed by the caller; nothing of it remains on the router.
    Closed,
    /// IPv4: the router reports no external address (WAN down, or a reserved WAN address it
    /// will not forward from): a mapping would not be reachable. Nothing was mapped.
    NoExternalAddress,
    /// This host has no address of the family a router could open for (IPv6: no global
    /// address, only link-local or unique-local ones; IPv4: none at all). No router was asked.
    NoLocalAddress,
}

impl PortStatus {
    /// Lower-case name ("open", "upstream NAT", ...), as the CLI and logs spell it.
    pub fn name(self) -> &'static str {
        match self {
            PortStatus::NotRequested => "not requested",
            PortStatus::Open => "open",
            PortStatus::OpenAlready => "open already (firewall off)",
            PortStatus::NoGateway => "no gateway",
            PortStatus::NoService => "no service",
            PortStatus::UpstreamNat => "upstream NAT",
            PortStatus::NotAllowed => "pinholes not allowed",
            PortStatus::NotAuthorized => "not authorized",
            PortStatus::NoPortsAvailable => "no ports available",
            PortStatus::Failed => "failed",
            PortStatus::Lost => "lost",
            PortStatus::Closed => "closed",
            PortStatus::NoExternalAddress => "no external address",
            PortStatus::NoLocalAddress => "no address on this host",
        }
    }
    /// True when peers can reach the port over this family now.
    pub fn is_open(self) -> bool {
        matches!(self, PortStatus::Open | PortStatus::OpenAlready)
    }
}

/// One family of a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyLease {
    /// The family this part of the lease is for.
    pub family: Family,
    /// Open, or why not.
    pub status: PortStatus,
    /// The host address and port the traffic goes to.
    pub internal: Option<SocketAddr>,
    /// The address and port peers send to (IPv6: the host's own address).
    pub external: Option<SocketAddr>,
    /// Lease the router granted, seconds (0: permanent; deleted on close).
    pub lease_secs: u32,
    /// The protocol that opened it, or that found nothing to open (the IPv6 firewall is off);
    /// None: not open.
    pub route: Option<Route>,
    /// The router's UPnP error code behind a refusal, when there is one.
    pub upnp_code: Option<u16>,
    /// Why, in words (empty when open without remark).
    pub message: String,
    /// The router this family was asked of (UPnP: its LOCATION address; PCP/NAT-PMP: the
    /// server's, the default gateway), when one was found.
    pub router: Option<IpAddr>,
    /// True when that router is known not to be this host's default gateway for the family
    /// (no answer came from the default gateway, or the caller named another router): what it
    /// opened may not be reachable from the internet.
    pub not_default_gateway: bool,
    /// The other UPnP gateways that answered the same discovery.
    pub other_routers: Vec<IpAddr>,
}

impl FamilyLease {
    pub(crate) fn new(family: Family, requested: bool) -> FamilyLease {
        FamilyLease {
            family,
            status: if requested { PortStatus::Failed } else { PortStatus::NotRequested },
            internal: None,
            external: None,
            lease_secs: 0,
            route: None,
            upnp_code: None,
            message: String::new(),
            router: None,
            not_default_gateway: false,
            other_routers: Vec::new(),
        }
    }

    /// Record which router this family is asked of, and how it was chosen.
    pub(crate) fn asked_of(&mut self, gateway: &crate::gateway::Gateway) {
        self.router = Some(gateway.location.ip);
        self.not_default_gateway = gateway.choice.not_default_gateway();
        self.other_routers = gateway.choice.others.clone();
    }

    pub(crate) fn refused(&mut self, status: PortStatus, error: &Error) {
        self.status = status;
        self.upnp_code = error.upnp_code();
        self.message = error.to_string();
        self.external = None;
        self.lease_secs = 0;
        self.route = None;
    }
}

/// What `Client::close_port` found and removed over one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Nothing of this host's for that port and protocol: nothing was removed.
    Nothing,
    /// IPv4: the mappings that were this host's (internal client, internal port, protocol and
    /// the client's description all ours), whatever their external port; all removed.
    /// `kept`: mappings to this host's address and port whose description is not ours (made
    /// by another program on this host), left alone.
    Mappings {
        /// Removed.
        removed: Vec<crate::port_mapping::PortMapping>,
        /// Pointing here but not ours by description: left alone.
        kept: Vec<crate::port_mapping::PortMapping>,
    },
    /// IPv6: no pinhole of this host's address and port remains. WANIPv6FirewallControl:1
    /// cannot list pinholes or read one without its id, so whether one existed before cannot be
    /// known: the tuple is asked for again (the router returns the id of the pinhole it holds,
    /// or makes one), and that id is deleted.
    PinholeRemovedOrNone {
        /// The address and port the pinhole was for.
        internal: SocketAddr,
    },
}

/// Snapshot of a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The lease's id (events name it).
    pub id: u64,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The game's port.
    pub internal_port: u16,
    /// The IPv4 port mapping.
    pub v4: FamilyLease,
    /// The IPv6 pinhole.
    pub v6: FamilyLease,
}

impl LeaseInfo {
    /// The part of the lease for `family`.
    pub fn family(&self, family: Family) -> &FamilyLease {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
    pub(crate) fn family_mut(&mut self, family: Family) -> &mut FamilyLease {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
    /// True when at least one family is open.
    pub fn any_open(&self) -> bool {
        self.v4.status.is_open() || self.v6.status.is_open()
    }
}
