//! Two-thread work splitting for the window helpers, without rayon and without allocating
//! after the first call: each calling thread owns one parked worker thread, started on first
//! use, and offers it a job through a mutex and a condition variable. Both threads then claim
//! the job's units from an atomic counter, so a worker that wakes late (the machine is busy)
//! takes fewer units instead of delaying the caller; one that has not woken by the time the
//! caller is done is not waited for.
//!
//! Callers make units of whole output elements (images, channels, planes) and compute each
//! element in the same order whoever computes it, so results are bit-identical at one and two
//! threads.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::simd::Path;

/// A job offered to the worker: a borrowed closure and unit counter with their lifetimes
/// erased, the number of units, and the caller's SIMD path (a path forced on the caller's
/// thread applies to the worker too).
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(Path, usize) + Sync),
    next: *const AtomicUsize,
    units: usize,
    path: Path,
}

// SAFETY: the closure is `Sync`, and `run` either withdraws the job before the worker takes it
// or waits for the worker to finish with it, before the borrows it was made from end.
unsafe impl Send for Job {}

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    finished: bool,
    panicked: bool,
    quit: bool,
    /// Who waits on `changed`: a wake-up costs a system call, made only for a sleeper.
    worker_sleeps: bool,
    caller_sleeps: bool,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
    /// A job is offered / the worker is done with it: what each side spins on briefly before
    /// sleeping, since the helpers of one step follow each other within microseconds.
    offered: AtomicBool,
    done: AtomicBool,
}

/// Spin iterations before sleeping (tens of microseconds).
const SPINS: usize = 1000;

/// Spins until `flag` is set or `SPINS` iterations pass.
fn spin_on(flag: &AtomicBool) {
    for _ in 0..SPINS {
        if flag.load(Ordering::Acquire) {
            return;
        }
        std::hint::spin_loop();
    }
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
    loop {
        spin_on(&shared.offered);
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        let job = loop {
            if slot.quit {
                return;
            }
            if let Some(job) = slot.job.take() {
                break job;
            }
            slot.worker_sleeps = true;
            slot = shared.changed.wait(slot).unwrap_or_else(|e| e.into_inner());
            slot.worker_sleeps = false;
        };
        shared.offered.store(false, Ordering::Relaxed);
        drop(slot);
        // SAFETY: the caller blocks in `run` until `finished`, so the closure and counter live.
        let (f, next) = unsafe { (&*job.f, &*job.next) };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| claim(f, next, job.units, job.path))).is_ok();
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.finished = true;
        slot.panicked = !ok;
        shared.done.store(true, Ordering::Release);
        if slot.caller_sleeps {
            shared.changed.notify_all();
        }
    }
}

thread_local! {
    static WORKER: OnceCell<Worker> = const { OnceCell::new() };
}

/// Calls `f(path, unit)` for units claimed from `next` until none is left.
fn claim(f: &(dyn Fn(Path, usize) + Sync), next: &AtomicUsize, units: usize, path: Path) {
    loop {
        let unit = next.fetch_add(1, Ordering::Relaxed);
        if unit >= units {
            return;
        }
        f(path, unit);
    }
}

/// Calls `f(path, unit)` once for every unit in `0..units`, on this thread and, when `two`, on
/// its worker too; `path` is this thread's SIMD path.
pub(super) fn run(two: bool, units: usize, f: &(dyn Fn(Path, usize) + Sync)) {
    let path = Path::current();
    let next = AtomicUsize::new(0);
    if !two || units < 2 {
        return claim(f, &next, units, path);
    }
    WORKER.with(|w| {
        let shared = &w.get_or_init(Worker::start).0;
        // SAFETY (of the erased lifetime): below, the job is withdrawn or waited for.
        let erased: *const (dyn Fn(Path, usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
        {
            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.job = Some(Job { f: erased, next: &next, units, path });
            slot.finished = false;
            shared.done.store(false, Ordering::Relaxed);
            shared.offered.store(true, Ordering::Release);
            if slot.worker_sleeps {
                shared.changed.notify_all();
            }
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| claim(f, &next, units, path)));
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        // Not taken yet: every unit is done, withdraw it. Taken: wait until the worker is done.
        if slot.job.take().is_some() {
            shared.offered.store(false, Ordering::Relaxed);
        } else {
            if !slot.finished {
                drop(slot);
                spin_on(&shared.done);
                slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            }
            while !slot.finished {
                slot.caller_sleeps = true;
                slot = shared.changed.wait(slot).unwrap_or_else(|e| e.into_inner());
                slot.caller_sleeps = false;
            }
            assert!(!slot.panicked, "a window kernel panicked on the worker thread");
        }
        drop(slot);
        if let Err(e) = mine {
            std::panic::resume_unwind(e);
        }
    });
}

/// Part `part` of `parts` of `0..n`: contiguous, in order, sizes differing by at most one.
pub(super) fn share(n: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    n * part / parts..n * (part + 1) / parts
}
