//! The status every C function returns, how core errors map onto it, and the per-thread record
//! of the last failure (`portopen_last_error`, `portopen_last_upnp_code`).

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use super::ffi_panic_boundary;
use crate::error::Error;

/// The result of every portopen function that can fail. Values are stable. On a failure other
/// than NO_EVENT, `portopen_last_error()` describes it.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum portopen_status {
    /// Success.
    Ok = 0,
    /// An argument was invalid (NULL, out of range, not UTF-8, not a live handle, ...);
    /// nothing was done and nothing was sent.
    InvalidArgument = 1,
    /// The call's deadline passed.
    Timeout = 2,
    /// `portopen_client_cancel` stopped the call (and stops later ones until
    /// `portopen_client_reset_cancel`).
    Cancelled = 3,
    /// No gateway answered discovery.
    NoGateway = 4,
    /// The gateway does not offer the service the action needs.
    NoService = 5,
    /// A socket or file operation failed.
    IoError = 6,
    /// The router answered with an HTTP error status.
    HttpError = 7,
    /// The router's answer could not be understood.
    InvalidResponse = 8,
    /// The router refused with a UPnP error (`portopen_last_upnp_code()` says which).
    UpnpError = 9,
    /// Valid, but this library or this router cannot do it.
    NotSupported = 10,
    /// A caller-provided buffer is too small (reserved for future functions).
    BufferTooSmall = 11,
    /// `portopen_client_poll_event`: the queue is empty. Not an error: last_error is unchanged.
    NoEvent = 12,
    /// This host has no address of the family to open for (no global IPv6 address, no IPv4
    /// address): nothing was sent, no router was asked.
    NoLocalAddress = 13,
    /// A bug inside portopen was caught at the API boundary (a Rust panic). The library is
    /// still usable; please report the last_error text.
    InternalError = 99,
}

impl portopen_status {
    fn of(error: &Error) -> portopen_status {
        match error {
            Error::Timeout(_) => portopen_status::Timeout,
            Error::Cancelled => portopen_status::Cancelled,
            Error::NoGateway(_) => portopen_status::NoGateway,
            Error::NoLocalAddress(_) => portopen_status::NoLocalAddress,
            Error::NoService(_) => portopen_status::NoService,
            Error::Io { .. } => portopen_status::IoError,
            Error::HttpStatus { .. } => portopen_status::HttpError,
            Error::InvalidResponse { .. } => portopen_status::InvalidResponse,
            Error::Upnp(_) => portopen_status::UpnpError,
            Error::InvalidArgument(_) => portopen_status::InvalidArgument,
            Error::NotSupported(_) => portopen_status::NotSupported,
        }
    }

    fn from_u32(value: u32) -> Option<portopen_status> {
        use portopen_status::*;
        [
            Ok,
            InvalidArgument,
            Timeout,
            Cancelled,
            NoGateway,
            NoService,
            IoError,
            HttpError,
            InvalidResponse,
            UpnpError,
            NotSupported,
            BufferTooSmall,
            NoEvent,
            NoLocalAddress,
            InternalError,
        ]
        .into_iter()
        .find(|s| *s as u32 == value)
    }

    /// The C name, NUL-terminated.
    fn name(self) -> &'static str {
        use portopen_status::*;
        match self {
            Ok => "PORTOPEN_STATUS_OK\0",
            InvalidArgument => "PORTOPEN_STATUS_INVALID_ARGUMENT\0",
            Timeout => "PORTOPEN_STATUS_TIMEOUT\0",
            Cancelled => "PORTOPEN_STATUS_CANCELLED\0",
            NoGateway => "PORTOPEN_STATUS_NO_GATEWAY\0",
            NoService => "PORTOPEN_STATUS_NO_SERVICE\0",
            IoError => "PORTOPEN_STATUS_IO_ERROR\0",
            HttpError => "PORTOPEN_STATUS_HTTP_ERROR\0",
            InvalidResponse => "PORTOPEN_STATUS_INVALID_RESPONSE\0",
            UpnpError => "PORTOPEN_STATUS_UPNP_ERROR\0",
            NotSupported => "PORTOPEN_STATUS_NOT_SUPPORTED\0",
            BufferTooSmall => "PORTOPEN_STATUS_BUFFER_TOO_SMALL\0",
            NoEvent => "PORTOPEN_STATUS_NO_EVENT\0",
            NoLocalAddress => "PORTOPEN_STATUS_NO_LOCAL_ADDRESS\0",
            InternalError => "PORTOPEN_STATUS_INTERNAL_ERROR\0",
        }
    }
}

struct LastError {
    message: CString,
    upnp_code: i32,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError { message: CString::default(), upnp_code: 0 });
}

fn record(message: &str, upnp_code: i32) {
    let message = CString::new(message.replace('\0', "")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = LastError { message, upnp_code });
}

/// Remember `error` as this thread's last failure; its status.
pub(crate) fn record_error(error: &Error) -> portopen_status {
    record(&error.to_string(), error.upnp_code().map_or(0, i32::from));
    portopen_status::of(error)
}

pub(crate) fn record_panic(message: &str) -> portopen_status {
    record(&format!("internal error (a bug in portopen, please report it): {message}"), 0);
    portopen_status::InternalError
}

/// The name of a status value ("PORTOPEN_STATUS_TIMEOUT"), or "PORTOPEN_STATUS_UNKNOWN" for a
/// value that is none. A static string: never free it. Any thread.
#[no_mangle]
pub extern "C" fn portopen_status_name(status: u32) -> *const c_char {
    ffi_panic_boundary! {
        let name = portopen_status::from_u32(status).map_or("PORTOPEN_STATUS_UNKNOWN\0", portopen_status::name);
        name.as_ptr().cast::<c_char>()
    }
}

/// What the last failing portopen call on this thread said went wrong (UTF-8, in English, with
/// the context: "AddPinhole: router answered 606 Action not authorized: ..."), or "" when no call
/// on this thread has failed. A successful call leaves it unchanged. The string belongs to the
/// library: do not free it; it stays valid until the next portopen call on this thread.
#[no_mangle]
pub extern "C" fn portopen_last_error() -> *const c_char {
    ffi_panic_boundary! { LAST_ERROR.with(|last| last.borrow().message.as_ptr()) }
}

/// The UPnP error code behind the last failure on this thread (e.g. 606, 718), or 0 when that
/// failure was not a UPnP refusal or there was none.
#[no_mangle]
pub extern "C" fn portopen_last_upnp_code() -> i32 {
    ffi_panic_boundary! { LAST_ERROR.with(|last| last.borrow().upnp_code) }
}
