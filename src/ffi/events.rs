//! Lease events for C: poll the client's queue each frame, or have a callback told.

use std::ffi::c_void;

use super::client::portopen_client;
use super::status::portopen_status;
use super::types::{event_to_c, portopen_event};
use super::{ffi_panic_boundary, handle, Out};
use crate::client::Client;
use crate::events::Event;

/// Told of each event as it happens, on the thread that produced it (the client's renewal
/// thread, or the thread calling open/close/free). `event` is valid only during the call;
/// `user_data` is what was given to `portopen_client_set_event_callback`. It runs with no
/// library lock held: it may close or free a lease and replace the callback, but not free the
/// client it belongs to. Keep it short: it delays the renewal thread.
#[allow(non_camel_case_types)]
pub type portopen_event_callback = Option<unsafe extern "C" fn(event: *const portopen_event, user_data: *mut c_void)>;

/// The C callback and its user data, made callable from the library's threads.
struct EventTarget {
    callback: unsafe extern "C" fn(*const portopen_event, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the header tells the caller the callback runs on library threads and that `user_data`
// must be usable there; the library itself never dereferences `user_data`.
unsafe impl Send for EventTarget {}
// SAFETY: as above; the callback may run on two threads at once, as documented.
unsafe impl Sync for EventTarget {}

impl EventTarget {
    fn deliver(&self, event: &Event) {
        let c_event = event_to_c(event);
        // SAFETY: a C function pointer the caller registered for exactly this signature; the
        // event pointer is valid for the duration of the call.
        unsafe { (self.callback)(&c_event, self.user_data) }
    }
}

/// Take the next event from the client's queue into `*out`: OK, or NO_EVENT when the queue is
/// empty (then `*out` is untouched). Never blocks; poll it each frame. The queue keeps the last
/// 256 events; older ones are dropped. Events also go to the queue when a callback is set.
#[no_mangle]
pub extern "C" fn portopen_client_poll_event(client: *const portopen_client, out: *mut portopen_event) -> portopen_status {
    ffi_panic_boundary! {
        let out = Out::new(out, "out")?;
        match handle::<Client>(client, "client")?.poll_event() {
            Some(event) => {
                out.set(event_to_c(&event));
                Ok(portopen_status::Ok)
            }
            None => Ok(portopen_status::NoEvent),
        }
    }
}

/// Also deliver each event to `callback` (see `portopen_event_callback` for its rules), with
/// `user_data`, until replaced; NULL removes it. When this returns, the previous callback is no
/// longer running and will not be called again.
#[no_mangle]
pub extern "C" fn portopen_client_set_event_callback(
    client: *const portopen_client,
    callback: portopen_event_callback,
    user_data: *mut c_void,
) -> portopen_status {
    ffi_panic_boundary! {
        let client = handle::<Client>(client, "client")?;
        let target = callback.map(|callback| EventTarget { callback, user_data });
        client.set_event_callback(target.map(|t| Box::new(move |e: &Event| t.deliver(e)) as crate::events::EventCallback));
        Ok(())
    }
}
