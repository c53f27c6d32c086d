//! Two-thread work splitting for the window helpers, without rayon and without allocating
//! after the first call: each calling thread owns one parked worker thread, started on first
//! use, and hands it the second half of a job through a mutex and a condition variable.
//!
//! Callers split by whole output elements (images, channels, planes) and compute each element
//! in the same order whoever computes it, so results are bit-identical at one and two threads.

use std::cell::OnceCell;
use std::sync::{Arc, Condvar, Mutex};

use super::simd::Path;

/// A job's second half: a borrowed closure with its lifetime erased, and the caller's SIMD
/// path (a path forced on the caller's thread applies to the worker too).
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(Path, usize, usize) + Sync),
    path: Path,
}

// SAFETY: the closure is `Sync`, and `run` waits for the worker to finish with it before the
// borrow it was made from ends.
unsafe impl Send for Job {}

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    finished: bool,
    panicked: bool,
    quit: bool,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
}

/// The calling thread's worker; dropping it (at the caller's exit) lets the worker end.
struct Worker(Arc<Shared>);

impl Worker {
    fn start() -> Worker {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("gradc-window".into())
            .spawn(move || serve(&theirs))
            .expect("spawning the window worker thread");
        Worker(shared)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let mut slot = self.0.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.quit = true;
        self.0.changed.notify_all();
    }
}

fn serve(shared: &Shared) {
    let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if slot.quit {
            return;
        }
        let Some(job) = slot.job.take() else {
            slot = shared.changed.wait(slot).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        drop(slot);
        // SAFETY: the caller blocks in `run` until `finished`, so the closure is alive.
        let f = unsafe { &*job.f };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(job.path, 1, 2))).is_ok();
        slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.finished = true;
        slot.panicked = !ok;
        shared.changed.notify_all();
    }
}

thread_local! {
    static WORKER: OnceCell<Worker> = const { OnceCell::new() };
}

/// Runs `f(path, part, parts)` for parts 0 and 1 of 2 on this thread and its worker when `two`,
/// else `f(path, 0, 1)`; `path` is this thread's SIMD path.
pub(super) fn run(two: bool, f: &(dyn Fn(Path, usize, usize) + Sync)) {
    let path = Path::current();
    if !two {
        return f(path, 0, 1);
    }
    WORKER.with(|w| {
        let shared = &w.get_or_init(Worker::start).0;
        // SAFETY (of the erased lifetime): we wait below until the worker has finished with it.
        let erased: *const (dyn Fn(Path, usize, usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
        {
            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.job = Some(Job { f: erased, path });
            slot.finished = false;
            shared.changed.notify_all();
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(path, 0, 2)));
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        while !slot.finished {
            slot = shared.changed.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
        assert!(!slot.panicked, "a window kernel panicked on the worker thread");
        if let Err(e) = mine {
            std::panic::resume_unwind(e);
        }
    });
}

/// Part `part` of `parts` of `0..n`: contiguous, in order, sizes differing by at most one.
pub(super) fn share(n: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    n * part / parts..n * (part + 1) / parts
}
