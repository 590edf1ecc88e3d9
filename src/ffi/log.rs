//! Logging bridge: the portopen crate's `log` records, forwarded to one C callback.
//! A process-wide `log` logger is installed on first use; the callback can be swapped any time.

use std::ffi::{c_char, c_void, CString};
use std::sync::RwLock;

use ::log::{Level, LevelFilter, Log, Metadata, Record};

use super::ffi_panic_boundary;
use super::status::portopen_status;
use crate::error::Error;

/// Log levels (`log` crate order: a higher value is more verbose).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy)]
pub enum portopen_log_level {
    /// Something failed that the user should know about.
    Error = 1,
    /// Something the user should act on (e.g. "pinholes not allowed: change a router setting").
    Warn = 2,
    /// One line per notable step (gateway found, lease lost and recovered).
    Info = 3,
    /// The story of each discovery and action: what was sent where, what came back, how long.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

/// Receives one log message: `level` is a `portopen_log_level`, `message` is UTF-8 text valid
/// only during the call. Called on whatever thread logs (game threads, the renewal thread),
/// possibly on several at once, often while the library holds internal locks: it must return
/// quickly and must not call portopen functions (other than `portopen_status_name`).
#[allow(non_camel_case_types)]
pub type portopen_log_callback = Option<unsafe extern "C" fn(level: u32, message: *const c_char, user_data: *mut c_void)>;

struct Sink {
    callback: unsafe extern "C" fn(u32, *const c_char, *mut c_void),
    user_data: *mut c_void,
    max_level: Level,
}

// SAFETY: the header tells the caller the callback runs on any thread with its `user_data`;
// the library never dereferences `user_data`.
unsafe impl Send for Sink {}
// SAFETY: as above; concurrent calls are documented.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct Bridge;

static BRIDGE: Bridge = Bridge;

fn ours(target: &str) -> bool {
    target == "portopen" || target.starts_with("portopen::")
}

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        ours(metadata.target()) && SINK.read().is_ok_and(|s| s.as_ref().is_some_and(|s| metadata.level() <= s.max_level))
    }

    fn log(&self, record: &Record<'_>) {
        if !ours(record.target()) {
            return;
        }
        let Ok(sink) = SINK.read() else { return };
        let Some(sink) = sink.as_ref().filter(|s| record.level() <= s.max_level) else { return };
        let text = record.args().to_string().replace('\0', "");
        let Ok(message) = CString::new(text) else { return };
        // SAFETY: a C function pointer registered for exactly this signature; `message` lives
        // until after the call.
        unsafe { (sink.callback)(level_to_c(record.level()), message.as_ptr(), sink.user_data) }
    }

    fn flush(&self) {}
}

const LEVELS: [(portopen_log_level, Level); 5] = [
    (portopen_log_level::Error, Level::Error),
    (portopen_log_level::Warn, Level::Warn),
    (portopen_log_level::Info, Level::Info),
    (portopen_log_level::Debug, Level::Debug),
    (portopen_log_level::Trace, Level::Trace),
];

fn level_from_c(value: u32) -> Result<Level, Error> {
    LEVELS
        .into_iter()
        .find(|(c, _)| *c as u32 == value)
        .map(|(_, level)| level)
        .ok_or_else(|| Error::InvalidArgument(format!("max_level must be a portopen_log_level, 1 (ERROR) ..= 5 (TRACE), not {value}")))
}

fn level_to_c(level: Level) -> u32 {
    LEVELS.into_iter().find(|(_, l)| *l == level).map_or(portopen_log_level::Trace as u32, |(c, _)| c as u32)
}

/// Send portopen's log messages at `max_level` (a `portopen_log_level`) and more severe to
/// `callback` with `user_data` (see `portopen_log_callback` for its rules); NULL turns logging
/// off (`max_level` is then ignored). Process-wide, not per client. May be called any time from
/// any thread; when it returns, the previous callback is no longer running and will not be
/// called again. NOT_SUPPORTED when the process already has another Rust `log` logger.
#[no_mangle]
pub extern "C" fn portopen_set_log_callback(callback: portopen_log_callback, max_level: u32, user_data: *mut c_void) -> portopen_status {
    ffi_panic_boundary! {
        let sink = match callback {
            Some(callback) => Some(Sink { callback, user_data, max_level: level_from_c(max_level)? }),
            None => None,
        };
        install()?;
        let max = sink.as_ref().map_or(LevelFilter::Off, |s| s.max_level.to_level_filter());
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
        ::log::set_max_level(max);
        Ok(())
    }
}

fn install() -> Result<(), Error> {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ours = *INSTALLED.get_or_init(|| ::log::set_logger(&BRIDGE).is_ok());
    if ours {
        Ok(())
    } else {
        Err(Error::NotSupported("another Rust `log` logger is already installed in this process".into()))
    }
}
