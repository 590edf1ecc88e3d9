//! portopen: open inbound game ports on the home router — IPv6 firewall pinholes
//! (WANIPv6FirewallControl:1) and IPv4 port mappings (WANIPConnection) — over UPnP IGD.
//!
//! Layers, bottom up: [`parse`] (pure parsers), [`transport`] (sockets, HTTP, SSDP search),
//! [`gateway`] (discovery and typed actions), lifecycle ([`client`], [`lease`]), and the C ABI
//! in `ffi`. Every blocking call has a deadline and can be cancelled from another thread.

#![deny(unsafe_code)]

pub mod addr;
pub mod cancel;
pub mod error;
pub mod events;
pub mod limits;
pub mod parse;
pub mod persist;
pub mod types;

pub use addr::{ExternalAddress, V4Class};
pub use cancel::{Budget, CancelToken};
pub use error::{Error, Result, UpnpFault};
pub use types::{Family, Protocol};
pub mod gateway;
pub mod pinhole;
pub(crate) mod platform;
pub mod port_mapping;
pub mod transport;

pub use gateway::{discover, DiscoveryOptions, Gateway, Service, ServiceKind};
pub use pinhole::{FirewallStatus, Pinhole};
pub use port_mapping::{PortMapping, StatusInfo};
pub mod check;
pub mod client;
/// The C ABI (`include/portopen.h`); exported symbols only, nothing for Rust callers.
// The C ABI: the only module allowed `unsafe` (each block carries a `// SAFETY:` comment).
#[allow(unsafe_code)]
mod ffi;
mod keeper;
pub mod lease;

pub use check::{CheckReport, Grade};
pub use client::{Client, ClientConfig, Lease};
pub use events::{Event, EventKind};
pub use lease::{FamilyLease, LeaseInfo, OpenRequest, PortStatus};

/// PCP and NAT-PMP groundwork (issue 17) for tests/ and fuzz/ only, until the lease engine uses
/// it: the wire format (`wire`) and one exchange / the ANNOUNCE listener (`net`). Not a stable API.
#[doc(hidden)]
pub mod pcp {
    pub use crate::parse::pcp as wire;
    pub use crate::transport::pcp as net;
}
