//! portopen: open inbound game ports on the home router — IPv6 firewall pinholes
//! (WANIPv6FirewallControl:1) and IPv4 port mappings (WANIPConnection) — over UPnP IGD, or over
//! PCP (RFC 6887) / NAT-PMP (RFC 6886), raced with UPnP per family in the same `open`.
//!
//! Start with [`Client`]: [`Client::open`] an [`OpenRequest`], keep the [`Lease`], poll
//! [`Event`]s; [`Client::check`] grades the router. [`discover`] and [`Gateway`]'s typed actions
//! are there for diagnostics. Every blocking call has a deadline and can be cancelled from
//! another thread ([`Client::cancel`]).
//!
//! Layers, bottom up: parsers (`parse`, pure), transport (sockets, HTTP, SSDP), gateway actions
//! (`gateway`, `pinhole`, `port_mapping`, `pcp_mapping`, typed by `action`), the lease engine
//! (`engine`: a sans-IO state machine) and its blocking driver (`route_upnp`, `route_pcp`,
//! `driver`: the race, `keeper`, `client`), and the C ABI (`ffi`). Modules are private; the public API is the list below.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod action;
mod addr;
mod cancel;
mod check;
mod client;
mod config;
mod driver;
mod engine;
mod error;
mod events;
/// The C ABI (`include/portopen.h`); exported symbols only, nothing for Rust callers.
// The C ABI: the only module allowed `unsafe` (each block carries a `// SAFETY:` comment).
#[allow(unsafe_code)]
mod ffi;
mod gateway;
mod gateway_cache;
mod keeper;
mod lease;
mod pcp_mapping;
mod pinhole;
mod platform;
mod port_mapping;
mod route_pcp;
mod route_upnp;
mod transport;
mod types;

// Reachable for the fuzz targets, the CLI and the tests, which exercise the parsers, the state
// files and the limits directly, and write JSON like the library: not part of the API, and may
// change in any release.
#[doc(hidden)]
pub mod json;
#[doc(hidden)]
pub mod limits;
#[doc(hidden)]
pub mod parse;
#[doc(hidden)]
pub mod persist;

pub use action::Fault;
pub use addr::{ExternalAddress, V4Class};
pub use cancel::{Budget, CancelToken};
pub use check::{CheckReport, FamilyEvidence, Grade, PortControlCheck, Trial};
pub use client::{Client, Lease};
pub use config::{ClientConfig, Routes};
pub use error::{upnp_error_name, Error, Result, UpnpFault};
pub use events::{Event, EventCallback, EventKind};
pub use gateway::{choose_local_addr, discover, DiscoveryOptions, Gateway, RouterChoice, Service, ServiceKind};
pub use lease::{Closed, FamilyLease, LeaseInfo, OpenRequest, PortStatus};
pub use pinhole::{FirewallStatus, Pinhole};
pub use port_mapping::{PortMapping, StatusInfo};
pub use route_pcp::PortControl;
pub use types::{Family, Protocol, Route};

/// PCP and NAT-PMP below the lease engine (which uses them through `route_pcp`), reachable for
/// tests/ and fuzz/: the wire format (`wire`) and one exchange / the ANNOUNCE listener (`net`).
/// Not a stable API.
#[doc(hidden)]
pub mod pcp {
    pub use crate::parse::pcp as wire;
    pub use crate::transport::pcp as net;
}
