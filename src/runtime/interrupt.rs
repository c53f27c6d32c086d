//! A half-written file is removed when the process is interrupted while writing it.
//!
//! While a [`Guard`] lives, SIGINT, SIGTERM and SIGHUP first unlink the guarded path and then
//! end the process as they would have (the default action, re-raised), so a run stopped with
//! Ctrl-C or `kill` during `--save` leaves no temporary file behind. The handler only calls
//! `unlink`, `signal` and `raise`, which are async-signal-safe; the path is a C string built
//! before the handler is installed. SIGKILL cannot be caught: nothing can clean up after it.

use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The path the handler removes, or null.
static PENDING: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

/// The signals that end a run which the user stopped.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Removes the guarded file on an interrupting signal until dropped; then restores the handlers.
pub struct Guard {
    /// Owns the bytes `PENDING` points at.
    _path: CString,
    /// The dispositions the guard replaced.
    previous: [libc::sighandler_t; 3],
}

/// Unlinks the pending path, then re-raises `sig` with its default action.
extern "C" fn on_signal(sig: libc::c_int) {
    let path = PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst);
    // SAFETY: `path` is null or points at a guard's live, NUL-terminated `CString` (the guard
    // clears `PENDING` before it frees it); unlink, signal and raise are async-signal-safe.
    unsafe {
        if !path.is_null() {
            libc::unlink(path);
        }
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Guards `path` until the result is dropped; `None` if the path cannot be a C string (it has
/// a NUL byte), in which case nothing is guarded.
pub fn guard(path: &Path) -> Option<Guard> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    PENDING.store(path.as_ptr().cast_mut(), Ordering::SeqCst);
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that is async-signal-safe (see `on_signal`).
    let previous = SIGNALS.map(|s| unsafe { libc::signal(s, handler) });
    Some(Guard { _path: path, previous })
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (s, old) in SIGNALS.iter().zip(self.previous) {
            // SAFETY: restores the disposition `guard` replaced.
            unsafe { libc::signal(*s, old) };
        }
        // The path is freed after this, when the handler can no longer run with it.
        PENDING.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}
