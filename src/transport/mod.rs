//! The only layer that does network I/O: HTTP exchanges and SSDP searches, each bounded by a
//! [`Budget`](crate::cancel::Budget) and by the size caps in [`limits`](crate::limits), and
//! listening for the router's NOTIFYs (receive only, read without blocking), the unicast search
//! that asks a held gateway for its boot id (`probe`); PCP and NAT-PMP
//! exchanges and the ANNOUNCE listener (`pcp`).

mod group;
pub mod http;
pub mod notify;
pub mod pcp;
pub mod probe;
pub mod ssdp;
