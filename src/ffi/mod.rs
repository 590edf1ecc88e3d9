//! The C ABI (`include/portopen.h`, generated from this module by cbindgen in build.rs).
//! This file owns the machinery every exported function shares: the panic boundary, the registry
//! of live handles, and the helpers that turn C pointers and strings into Rust values and back.
//! No protocol logic lives under `ffi/`: each function converts its arguments and calls the core.
//!
//! Conventions of every exported function:
//! - it is wrapped in [`ffi_panic_boundary!`]: a panic becomes `PORTOPEN_STATUS_INTERNAL_ERROR`;
//! - it returns a `portopen_status` (results go through out-parameters) and, when it fails,
//!   records a message for `portopen_last_error` (see `status.rs`);
//! - every pointer is checked: NULL, a handle that is not live, an enum value out of range or a
//!   string that is not UTF-8 is `PORTOPEN_STATUS_INVALID_ARGUMENT`, never undefined behaviour.
//!   (A pointer to memory the caller does not own cannot be detected and stays the caller's bug.)

#![warn(clippy::undocumented_unsafe_blocks)]

use std::collections::BTreeMap;
use std::ffi::{c_char, CStr, CString};
use std::mem::{size_of, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Error;

mod check;
mod client;
mod events;
mod gateway;
mod lease;
mod log;
mod status;
mod types;

use status::{portopen_status, record_error};

/// Version of the C ABI: bumped on any incompatible change to a function or struct.
/// Compare with `portopen_abi_version()` at run time to detect a mismatched library.
pub const PORTOPEN_ABI_VERSION: u32 = 1;

/// The library version ("0.1.0"), a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn portopen_version() -> *const c_char {
    ffi_panic_boundary! { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast::<c_char>() }
}

/// The C ABI version of the loaded library (`PORTOPEN_ABI_VERSION` of the header it was built
/// with).
#[no_mangle]
pub extern "C" fn portopen_abi_version() -> u32 {
    ffi_panic_boundary! { PORTOPEN_ABI_VERSION }
}

// ---- panic boundary -------------------------------------------------------------------------

/// Run the body of an exported function, turning a panic into the function's failure value
/// (`PORTOPEN_STATUS_INTERNAL_ERROR`, NULL, 0) instead of unwinding into C (which aborts).
/// The body may use `?` on `Result<_, Error>` and `return`.
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        $crate::ffi::boundary(move || { $($body)* })
    };
}
pub(crate) use ffi_panic_boundary;

/// What an exported function's body returns, and how it becomes the C return value.
pub(crate) trait Outcome {
    type C;
    fn into_c(self) -> Self::C;
    /// The value returned when the body panicked.
    fn panicked(message: &str) -> Self::C;
}

impl Outcome for Result<(), Error> {
    type C = portopen_status;
    fn into_c(self) -> portopen_status {
        self.map(|()| portopen_status::Ok).into_c()
    }
    fn panicked(message: &str) -> portopen_status {
        <Result<portopen_status, Error>>::panicked(message)
    }
}

/// For the few functions with a success status other than OK (`PORTOPEN_STATUS_NO_EVENT`).
impl Outcome for Result<portopen_status, Error> {
    type C = portopen_status;
    fn into_c(self) -> portopen_status {
        match self {
            Ok(status) => status,
            Err(e) => record_error(&e),
        }
    }
    fn panicked(message: &str) -> portopen_status {
        status::record_panic(message)
    }
}

macro_rules! plain_outcome {
    ($t:ty, $fallback:expr) => {
        impl Outcome for $t {
            type C = $t;
            fn into_c(self) -> $t {
                self
            }
            fn panicked(_: &str) -> $t {
                $fallback
            }
        }
    };
}
plain_outcome!(u32, 0);
plain_outcome!(i32, 0);
plain_outcome!(*const c_char, c"".as_ptr());

pub(crate) fn boundary<R: Outcome>(body: impl FnOnce() -> R) -> R::C {
    // AssertUnwindSafe: after a panic the call reports INTERNAL_ERROR; the core's state behind
    // it is plain data under poison-tolerant locks, so later calls still see consistent values.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.into_c(),
        Err(payload) => {
            let text = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            R::panicked(text.unwrap_or("(no message)"))
        }
    }
}

// ---- handle registry ------------------------------------------------------------------------

/// Every pointer the library has handed out and not yet taken back (handles and strings), with
/// the C type it was handed out as. Looking a pointer up here before using it turns a double
/// free, a freed handle or a handle of the wrong type into INVALID_ARGUMENT instead of a crash.
/// (A freed address that a later handle happens to reuse cannot be told apart: the lookup then
/// finds the new handle.)
static LIVE: Mutex<BTreeMap<usize, &'static str>> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, BTreeMap<usize, &'static str>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A Rust value handed to C as an opaque pointer (`Arc::into_raw`).
pub(crate) trait Handle: Send + Sync + Sized + 'static {
    /// The opaque C type the pointer has in the header.
    type C;
    /// Its C name, for messages.
    const NAME: &'static str;
}

/// Hand `value` to C: the caller owns the returned pointer until it passes it to the free call.
pub(crate) fn into_handle<H: Handle>(value: H) -> *mut H::C {
    let ptr = Arc::into_raw(Arc::new(value)).cast_mut();
    live().insert(ptr as usize, H::NAME);
    ptr.cast()
}

fn not_live<H: Handle>(arg: &str) -> Error {
    Error::InvalidArgument(format!("{arg} is not a live {} handle (freed, or never one)", H::NAME))
}

/// The value behind a handle argument, kept alive for the duration of the call even if another
/// thread frees the handle meanwhile.
pub(crate) fn handle<H: Handle>(ptr: *const H::C, arg: &str) -> Result<Arc<H>, Error> {
    if ptr.is_null() {
        return Err(null_arg(arg));
    }
    let live = live();
    if live.get(&(ptr as usize)) != Some(&H::NAME) {
        return Err(not_live::<H>(arg));
    }
    let ptr = ptr.cast::<H>();
    // SAFETY: the registry lists `ptr` as a live `H::NAME`, so it came from `Arc::into_raw` of an
    // `Arc<H>` in `into_handle` and that reference has not been released: `free_handle` removes
    // the entry under this same lock before releasing it. Adding a reference while holding the
    // lock gives this call its own `Arc`, valid whatever other threads do next.
    unsafe {
        Arc::increment_strong_count(ptr);
        Ok(Arc::from_raw(ptr))
    }
}

/// Take a handle back from C. NULL is `Ok(None)` (freeing NULL is a no-op); a pointer that is
/// not a live handle of this type is an error, and nothing is touched.
pub(crate) fn free_handle<H: Handle>(ptr: *const H::C, arg: &str) -> Result<Option<Arc<H>>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    let mut live = live();
    if live.get(&(ptr as usize)) != Some(&H::NAME) {
        return Err(not_live::<H>(arg));
    }
    live.remove(&(ptr as usize));
    // SAFETY: as in `handle`: the entry proved `ptr` came from `Arc::into_raw` and still owns its
    // reference; removing the entry under the lock makes this the only place that releases it.
    Ok(Some(unsafe { Arc::from_raw(ptr.cast::<H>()) }))
}

// ---- strings --------------------------------------------------------------------------------

const STRING: &str = "string";

/// A library-allocated copy of `text` for C, freed with `portopen_string_free`. An interior NUL
/// (never produced by the core) would end the C string early; it is dropped instead.
pub(crate) fn string_to_c(text: &str) -> *mut c_char {
    let owned = CString::new(text).unwrap_or_else(|_| CString::new(text.replace('\0', "")).unwrap_or_default());
    let ptr = owned.into_raw();
    live().insert(ptr as usize, STRING);
    ptr
}

/// Free a string returned by the library (`portopen_gateway_location`, `portopen_lease_message`,
/// `portopen_addr_to_string`, `portopen_client_check`, ...). NULL is a no-op. A pointer that is
/// not a live library string (freed already, or allocated elsewhere) is
/// PORTOPEN_STATUS_INVALID_ARGUMENT and is left alone. Any thread.
#[no_mangle]
pub extern "C" fn portopen_string_free(string: *mut c_char) -> portopen_status {
    ffi_panic_boundary! {
        if string.is_null() {
            return Ok(());
        }
        let mut live = live();
        if live.get(&(string as usize)) != Some(&STRING) {
            return Err(Error::InvalidArgument("string is not a live string allocated by portopen (freed already?)".into()));
        }
        live.remove(&(string as usize));
        drop(live);
        // SAFETY: the registry listed `string` as a string made by `CString::into_raw` in
        // `string_to_c` and not yet freed; removing the entry made this the only release.
        drop(unsafe { CString::from_raw(string) });
        Ok(())
    }
}

/// An optional C string argument: NULL is `None`; otherwise it must be NUL-terminated UTF-8.
pub(crate) fn opt_str<'a>(ptr: *const c_char, arg: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the header requires every `const char *` argument to be NULL or a NUL-terminated
    // string that stays valid and unchanged during the call; the borrow does not outlive it.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map(Some).map_err(|_| Error::InvalidArgument(format!("{arg} is not valid UTF-8")))
}

/// Copy `text` into a fixed C buffer, NUL-terminated, cut at a UTF-8 character boundary.
pub(crate) fn copy_to_buffer(text: &str, buffer: &mut [c_char]) {
    let Some(room) = buffer.len().checked_sub(1) else { return };
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for (dst, src) in buffer.iter_mut().zip(text.as_bytes()[..end].iter()) {
        *dst = *src as c_char;
    }
    buffer[end] = 0;
}

// ---- pointer arguments ----------------------------------------------------------------------

pub(crate) fn null_arg(arg: &str) -> Error {
    Error::InvalidArgument(format!("{arg} is NULL"))
}

/// An out-parameter, checked for NULL before the function does any work.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut T, arg: &str) -> Result<Out<T>, Error> {
        if ptr.is_null() {
            return Err(null_arg(arg));
        }
        Ok(Out(ptr))
    }
    pub(crate) fn set(&self, value: T) {
        // SAFETY: non-NULL (checked in `new`), and the header requires out-parameters to point
        // to writable storage of their type; `T` here is plain data, so nothing is dropped.
        unsafe { self.0.write(value) }
    }
}

/// A `const T *` argument the function only reads.
pub(crate) fn arg_ref<'a, T>(ptr: *const T, arg: &str) -> Result<&'a T, Error> {
    // SAFETY: the header requires pointer arguments to be NULL or point to a valid, initialised
    // value of their type that is not written during the call.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_arg(arg))
}

/// A `#[repr(C)]` struct that begins with `uint32_t struct_size` so it can grow: the caller says
/// how many bytes it has, and fields past them read as zero (their documented default).
///
/// # Safety
/// Implementors are `#[repr(C)]`, start with a `u32` `struct_size`, and are valid when all zero.
pub(crate) unsafe trait Versioned: Sized {
    /// The size of the first version of the struct: a smaller `struct_size` is refused.
    const FIRST_SIZE: usize;
}

fn struct_size<T: Versioned>(ptr: *const T, arg: &str) -> Result<usize, Error> {
    if ptr.is_null() {
        return Err(null_arg(arg));
    }
    // SAFETY: non-NULL, and the header requires a versioned struct pointer to point to at least
    // `struct_size` bytes of it; every version starts with that `uint32_t`.
    let size = unsafe { ptr.cast::<u32>().read() } as usize;
    if size < T::FIRST_SIZE {
        return Err(Error::InvalidArgument(format!(
            "{arg}->struct_size is {size}, smaller than any version of the struct ({} bytes): set it to sizeof the struct",
            T::FIRST_SIZE
        )));
    }
    Ok(size)
}

/// Read a versioned struct argument.
pub(crate) fn read_versioned<T: Versioned>(ptr: *const T, arg: &str) -> Result<T, Error> {
    let n = struct_size(ptr, arg)?.min(size_of::<T>());
    let mut value = MaybeUninit::<T>::zeroed();
    // SAFETY: the caller's struct has at least `n` readable bytes (`struct_size`), ours has
    // `size_of::<T>() >= n`; the rest stays zero, which `Versioned` promises is a valid `T`.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), value.as_mut_ptr().cast::<u8>(), n);
        Ok(value.assume_init())
    }
}

/// A versioned out-struct: the caller sets `struct_size` before the call.
pub(crate) struct VersionedOut<T> {
    ptr: *mut T,
    size: usize,
}

impl<T: Versioned> VersionedOut<T> {
    pub(crate) fn new(ptr: *mut T, arg: &str) -> Result<VersionedOut<T>, Error> {
        let size = struct_size(ptr, arg)?.min(size_of::<T>());
        Ok(VersionedOut { ptr, size })
    }
    /// Write the first `struct_size` bytes of `value`; `struct_size` becomes the bytes written.
    pub(crate) fn set(&self, value: &T) {
        // SAFETY: the caller's struct has `self.size` writable bytes (checked in `new`); `value`
        // has at least as many. Both start with the `u32` struct_size.
        unsafe {
            std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), self.ptr.cast::<u8>(), self.size);
            self.ptr.cast::<u32>().write(self.size as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal_error_with_its_message() {
        let status = boundary(|| -> Result<(), Error> { panic!("boom in the core") });
        assert_eq!(status, portopen_status::InternalError);
        // SAFETY: portopen_last_error returns this thread's NUL-terminated message.
        let message = unsafe { CStr::from_ptr(status::portopen_last_error()) }.to_str().unwrap();
        assert!(message.contains("boom in the core"), "{message}");
        // A string-returning function gives an empty string. Compared by content: two `c""`
        // literals need not share an address (they do not in the mingw debug build).
        let empty = boundary(|| -> *const c_char { panic!("x") });
        assert!(!empty.is_null());
        // SAFETY: non-null, and the boundary returns a NUL-terminated static string.
        assert_eq!(unsafe { CStr::from_ptr(empty) }.to_bytes(), b"");
    }

    #[test]
    fn buffer_copies_are_cut_at_a_character_boundary() {
        let mut buffer = [1 as c_char; 5];
        copy_to_buffer("abé€", &mut buffer); // 'é' is 2 bytes, '€' 3: only "abé" fits in 4
        assert_eq!(buffer.map(|c| c as u8), [b'a', b'b', 0xc3, 0xa9, 0]);
        copy_to_buffer("", &mut buffer);
        assert_eq!(buffer[0], 0);
    }

    #[test]
    fn handles_are_refused_after_free_and_as_the_wrong_type() {
        struct Thing;
        impl Handle for Thing {
            type C = u8;
            const NAME: &'static str = "thing";
        }
        let ptr = into_handle(Thing);
        assert!(handle::<Thing>(ptr, "thing").is_ok());
        assert!(matches!(handle::<crate::client::Lease>(ptr.cast(), "lease"), Err(Error::InvalidArgument(m)) if m.contains("portopen_lease")));
        assert!(free_handle::<Thing>(ptr, "thing").unwrap().is_some());
        assert!(matches!(free_handle::<Thing>(ptr, "thing"), Err(Error::InvalidArgument(m)) if m.contains("not a live thing")));
        assert!(free_handle::<Thing>(std::ptr::null(), "thing").unwrap().is_none());
    }
}
