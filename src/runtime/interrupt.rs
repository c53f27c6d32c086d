//! Signals that stop a run: Ctrl-C ends training cleanly, and never leaves a half-written file.
//!
//! While a [`Watch`] lives (around `gradc run`'s training), SIGINT and SIGTERM ask the run to
//! stop after its current step: the handler records the signal in an atomic that the training
//! loop reads between steps, and says so on stderr. A second one ends the process at once, as
//! the signal would have (its default action, re-raised).
//!
//! While a [`Guard`] lives (while a checkpoint is written), SIGINT, SIGTERM and SIGHUP first
//! unlink the guarded path and then end the process likewise, so a run stopped during `--save`
//! leaves no temporary file behind. The path is a C string built before the handler is
//! installed.
//!
//! The handlers only use atomics and call `write`, `unlink`, `signal` and `raise`, which are
//! async-signal-safe; they allocate nothing. A signal that was ignored when a handler would be
//! installed (`nohup`, a script's background job) stays ignored. SIGKILL cannot be caught:
//! nothing can clean up after it.

use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// The path the guard's handler removes, or null.
static PENDING: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

/// The signal that asked the run to stop, or 0.
static STOP: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run after its step.
const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// The signals that end a run which the user stopped while it writes a file.
const GUARD_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// What the first stopping signal prints: the user learns the keypress was heard.
const STOPPING: &[u8] = b"\ngradc: stopping after the current step (interrupt again to abort at once)\n";

/// Installs `handler` for each of `signals` that is not ignored; returns the dispositions it
/// replaced (`None` where it left an ignored signal alone).
fn install<const N: usize>(
    signals: [libc::c_int; N],
    handler: extern "C" fn(libc::c_int),
) -> [Option<libc::sigaction>; N] {
    signals.map(|sig| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value to fill in; the
        // calls read and write the structs passed, and `handler` is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            if old.sa_sigaction == libc::SIG_IGN {
                return None;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            // Reads and writes interrupted by the signal carry on; the loop reads the flag.
            new.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &new, &mut old);
            Some(old)
        }
    })
}

/// Puts back the dispositions [`install`] replaced.
fn restore<const N: usize>(signals: [libc::c_int; N], previous: &[Option<libc::sigaction>; N]) {
    for (sig, old) in signals.iter().zip(previous) {
        if let Some(old) = old {
            // SAFETY: restores a disposition `sigaction` returned.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
    }
}

/// Ends the process by `sig` with its default action. Async-signal-safe.
fn die(sig: libc::c_int) {
    // SAFETY: signal and raise are async-signal-safe. In a handler, `sig` is blocked until it
    // returns, and then ends the process.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// The first signal asks the run to stop; the second ends it.
extern "C" fn on_stop(sig: libc::c_int) {
    if STOP.swap(sig, Ordering::SeqCst) == 0 {
        // SAFETY: write is async-signal-safe; the buffer is a static. A failed write (stderr
        // closed) changes nothing.
        unsafe { libc::write(libc::STDERR_FILENO, STOPPING.as_ptr().cast(), STOPPING.len()) };
    } else {
        die(sig);
    }
}

/// Asks the training loop to stop on SIGINT and SIGTERM until dropped; then restores the
/// handlers.
pub struct Watch {
    /// The dispositions the watch replaced.
    previous: [Option<libc::sigaction>; 2],
}

/// Watches for a signal asking the run to stop, from now until the result is dropped.
pub fn watch() -> Watch {
    STOP.store(0, Ordering::SeqCst);
    Watch { previous: install(STOP_SIGNALS, on_stop) }
}

impl Drop for Watch {
    fn drop(&mut self) {
        restore(STOP_SIGNALS, &self.previous);
    }
}

/// The signal that asked the run to stop since [`watch`] began, if one did.
pub fn requested() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// Ends the process as `signal` would have, after a run it interrupted has reported and saved:
/// so a shell sees a command killed by it (status 130 for SIGINT) and a script stops, as for
/// any interrupted command.
pub fn exit_by(signal: i32) -> ! {
    die(signal);
    // Reached only if the signal did not end the process (it is blocked, say).
    std::process::exit(128 + signal)
}

/// What rank 0 of a distributed run says when SIGTERM ends it.
const ENDED: &[u8] = b"gradc: rank 0: the distributed run was ended by its launcher (a rank failed or the job \
was stopped: see mpirun's report); what it trained since its last checkpoint is lost\n";

/// Says why on stderr, then ends the process by `sig`.
extern "C" fn on_end(sig: libc::c_int) {
    // SAFETY: write is async-signal-safe; the buffer is a static.
    unsafe { libc::write(libc::STDERR_FILENO, ENDED.as_ptr().cast(), ENDED.len()) };
    die(sig);
}

/// From now on, SIGTERM ends the process with a line on stderr saying that the distributed
/// run was ended by its launcher: what `mpirun` sends every rank when one of them has failed,
/// while rank 0 may be waiting for it inside a sum. (A rank cannot stop between steps as
/// [`watch`] lets one process do: the others would wait for it in their next sum.)
pub fn explain_termination() {
    install([libc::SIGTERM], on_end);
}

/// Removes the guarded file on an interrupting signal until dropped; then restores the handlers.
pub struct Guard {
    /// Owns the bytes `PENDING` points at.
    _path: CString,
    /// The dispositions the guard replaced.
    previous: [Option<libc::sigaction>; 3],
}

/// Unlinks the pending path, then re-raises `sig` with its default action.
extern "C" fn on_signal(sig: libc::c_int) {
    let path = PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst);
    if !path.is_null() {
        // SAFETY: `path` points at a guard's live, NUL-terminated `CString` (the guard clears
        // `PENDING` before it frees it); unlink is async-signal-safe.
        unsafe { libc::unlink(path) };
    }
    die(sig);
}

/// Guards `path` until the result is dropped; `None` if the path cannot be a C string (it has
/// a NUL byte), in which case nothing is guarded.
pub fn guard(path: &Path) -> Option<Guard> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    PENDING.store(path.as_ptr().cast_mut(), Ordering::SeqCst);
    Some(Guard { _path: path, previous: install(GUARD_SIGNALS, on_signal) })
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore(GUARD_SIGNALS, &self.previous);
        // The path is freed after this, when the handler can no longer run with it.
        PENDING.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}
