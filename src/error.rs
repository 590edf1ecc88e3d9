//! The one public error type, and the standard names of UPnP error codes.
//! Errors carry context ("AddPinhole: router answered 606 ...") so callers never assemble text.

use std::fmt;

/// Everything that can go wrong, as a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The call's deadline passed (the text says during what).
    Timeout(String),
    /// Another thread cancelled the call.
    Cancelled,
    /// No gateway answered discovery (for the family named in the text). The text says it
    /// whole ("no UPnP gateway answered discovery over IPv4"): no prefix is added.
    NoGateway(String),
    /// This host has no address a router could open for over the family named in the text
    /// (no global IPv6 address; no IPv4 address): nothing was sent. The text says it whole.
    NoLocalAddress(String),
    /// The gateway does not offer the service an action needs. The text says it whole
    /// ("AddPinhole: the gateway at ... offers no WANIPv6FirewallControl:1").
    NoService(String),
    /// A socket or file operation failed.
    Io {
        /// What was being done ("connect to 192.168.1.1:5000").
        context: String,
        /// The OS's message.
        message: String,
    },
    /// The router answered with an HTTP status other than success (and no SOAP fault).
    HttpStatus {
        /// The request ("GET /rootDesc.xml").
        context: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The router's answer could not be understood or broke a rule; the text says which.
    InvalidResponse {
        /// What was being read ("AddPinhole answer").
        context: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The router answered with a UPnP SOAP fault.
    Upnp(UpnpFault),
    /// The caller passed something invalid; nothing was sent.
    InvalidArgument(String),
    /// The request is valid but this library or this router cannot do it.
    NotSupported(String),
}

/// A UPnP error returned by the router in a SOAP fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpnpFault {
    /// The action that failed (e.g. `AddPinhole`).
    pub action: String,
    /// The UPnP errorCode.
    pub code: u16,
    /// The router's errorDescription (may be empty).
    pub description: String,
}

impl UpnpFault {
    /// The standard name of the code (UDA, WANIPConnection:2, WANIPv6FirewallControl:1).
    pub fn name(&self) -> &'static str {
        upnp_error_name(self.code)
    }
}

/// Standard name of a UPnP error code, or "" when the code is not a standard one.
pub fn upnp_error_name(code: u16) -> &'static str {
    match code {
        401 => "Invalid Action",
        402 => "Invalid Args",
        501 => "Action Failed",
        600 => "Argument Value Invalid",
        601 => "Argument Value Out of Range",
        602 => "Optional Action Not Implemented",
        603 => "Out of Memory",
        604 => "Human Intervention Required",
        605 => "String Argument Too Long",
        606 => "Action not authorized",
        // WANIPv6FirewallControl:1
        701 => "PinholeSpaceExhausted",
        702 => "FirewallDisabled",
        703 => "InboundPinholeNotAllowed",
        704 => "NoSuchEntry",
        705 => "ProtocolNotSupported",
        706 => "InternalPortWildcardingNotAllowed",
        707 => "ProtocolWildcardingNotAllowed",
        708 => "WildCardNotPermittedInSrcIP",
        709 => "NoPacketSent",
        // WANIPConnection:2
        713 => "SpecifiedArrayIndexInvalid",
        714 => "NoSuchEntryInArray",
        715 => "WildCardNotPermittedInSrcIP",
        716 => "WildCardNotPermittedInExtPort",
        718 => "ConflictInMappingEntry",
        724 => "SamePortValuesRequired",
        725 => "OnlyPermanentLeasesSupported",
        726 => "RemoteHostOnlySupportsWildcard",
        727 => "ExternalPortOnlySupportsWildcard",
        728 => "NoPortMapsAvailable",
        729 => "ConflictWithOtherMechanisms",
        730 => "PortMappingNotFound",
        731 => "ReadOnly",
        732 => "WildCardNotPermittedInIntPort",
        733 => "InconsistentParameters",
        _ => "",
    }
}

/// A short hint for the codes a user can act on.
fn upnp_hint(code: u16) -> &'static str {
    match code {
        606 => ": the InternalClient must be this host's own address, or the router forbids this action",
        702 => ": the router's IPv6 firewall is off, so nothing needs opening",
        703 => ": the router does not allow inbound pinholes; enable them in its settings",
        718 => ": another host already holds this external port",
        728 => ": the router has no free port mappings",
        _ => "",
    }
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, err: &std::io::Error) -> Error {
        Error::Io { context: context.into(), message: err.to_string() }
    }
    pub(crate) fn invalid_response(context: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidResponse { context: context.into(), reason: reason.into() }
    }
    /// The UPnP error code, when the router answered with a fault.
    pub fn upnp_code(&self) -> Option<u16> {
        match self {
            Error::Upnp(f) => Some(f.code),
            _ => None,
        }
    }
    /// True when the error means the router could not be reached at all (as opposed to
    /// answering with a refusal): the cue to rediscover.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Timeout(_) | Error::HttpStatus { status: 404, .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout(what) => write!(f, "timed out: {what}"),
            Error::Cancelled => write!(f, "cancelled"),
            // Their texts say what is missing; a prefix only repeated it ("no gateway: no UPnP
            // gateway answered ...", issue 18).
            Error::NoGateway(what) | Error::NoLocalAddress(what) | Error::NoService(what) => f.write_str(what),
            Error::Io { context, message } => write!(f, "{context}: {message}"),
            Error::HttpStatus { context, status } => write!(f, "{context}: router answered HTTP {status}"),
            Error::InvalidResponse { context, reason } => write!(f, "{context}: invalid response: {reason}"),
            Error::Upnp(fault) => {
                write!(f, "{}: router answered {}", fault.action, fault.code)?;
                if !fault.name().is_empty() {
                    write!(f, " {}", fault.name())?;
                }
                if !fault.description.is_empty() && fault.description != fault.name() {
                    write!(f, " ({})", fault.description)?;
                }
                write!(f, "{}", upnp_hint(fault.code))
            }
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::NotSupported(what) => write!(f, "not supported: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_gateway_and_no_service_say_it_once() {
        let e = Error::NoGateway("no UPnP gateway answered discovery over IPv4".into());
        assert_eq!(e.to_string(), "no UPnP gateway answered discovery over IPv4");
        let e = Error::NoService("AddPinhole: the gateway at http://[2001:db8:1::1]:5000/rootDesc.xml offers no WANIPv6FirewallControl:1".into());
        assert_eq!(e.to_string().matches("gateway").count(), 1, "{e}");
        assert!(!e.to_string().contains("service:"), "{e}");
    }
}
