//! Pure protocol parsers and builders: bytes or text in, values or errors out. No I/O here,
//! so each is unit-tested and fuzzed on its own (see `fuzz/`).

pub mod description;
pub mod http;
pub mod json;
pub mod pcp;
pub mod port_listing;
pub mod soap;
pub mod ssdp;
pub mod url;
pub mod xml;

use std::fmt;

/// Why a parser rejected its input. Callers add the context (which router, which action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl ParseError {
    pub(crate) fn new(reason: impl Into<String>) -> ParseError {
        ParseError(reason.into())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}
