//! Two-thread work splitting for the helpers the generated code calls (window ops, large
//! products), without rayon and without allocating
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

use super::fpmode::{Mode, Scope};
use super::window::Path;

/// A job offered to the worker: a borrowed closure and unit counter with their lifetimes
/// erased, the number of units, and the caller's SIMD path and floating-point mode (a path
/// forced, or subnormals flushed, on the caller's thread apply to the worker too).
#[derive(Clone, Copy)]
struct Job {
    f: *const Unit<'static>,
    next: *const AtomicUsize,
    units: usize,
    path: Path,
    mode: Mode,
    /// The worker's buffers, owned and sized by the caller.
    scratch: *const Mutex<Buffers>,
    lens: [usize; 3],
}

/// Scratch buffers of one thread's part of a job.
type Buffers = [Vec<f32>; 3];

/// What a job runs per unit: `f(path, unit, buffers)`.
pub(crate) type Unit<'a> = dyn Fn(Path, usize, [&mut [f32]; 3]) + Sync + 'a;

// SAFETY: the closure is `Sync`, and `run` either withdraws the job before the worker takes it
// or waits for the worker to finish with it, before the borrows it was made from end.
unsafe impl Send for Job {}

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    finished: bool,
    panicked: bool,
    quit: bool,
    started: bool,
    /// Who waits on `changed`: a wake-up costs a system call, made only for a sleeper.
    worker_sleeps: bool,
    caller_sleeps: bool,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
    /// A job is offered / the worker is done with it: what each side spins on (`SPINS`) before
    /// sleeping, since the helpers of one step follow each other closely.
    offered: AtomicBool,
    done: AtomicBool,
}

/// Spin iterations before sleeping: about 1.4 ms on the AMD kind, 27 ns a pause. A step's
/// helpers come within a few hundred microseconds of each other; a worker that slept between
/// them (at 1,000 spins) woke too late to take its half of mlp-small's product and update.
const SPINS: usize = 50_000;

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
    /// Starts the worker and waits until it runs, so the thread's own start-up allocations
    /// are over before the step that started it is.
    fn start() -> Worker {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("gradc-split".into())
            .spawn(move || serve(&theirs))
            .expect("spawning the split worker thread");
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        while !slot.started {
            slot = shared.changed.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
        drop(slot);
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
    {
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.started = true;
        shared.changed.notify_all();
    }
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
        // SAFETY: the caller blocks in `run` until `finished`, so the closure, counter and
        // buffers live.
        let (f, next, scratch) = unsafe { (&*job.f, &*job.next, &*job.scratch) };
        let part = || {
            let _mode = Scope::enter(job.mode);
            claim(f, next, job.units, job.path, scratch, job.lens)
        };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(part)).is_ok();
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
    /// This thread's buffers and its worker's, reused across calls and steps. The caller sizes
    /// both before a job starts, so nothing is allocated after the first step whichever thread
    /// ends up doing which units.
    static SCRATCH: [Mutex<Buffers>; 2] = const { [Mutex::new([Vec::new(), Vec::new(), Vec::new()]), Mutex::new([Vec::new(), Vec::new(), Vec::new()])] };
}

/// Grows `buffers` to at least `lens`.
fn size(buffers: &Mutex<Buffers>, lens: [usize; 3]) {
    let mut b = buffers.lock().unwrap_or_else(|e| e.into_inner());
    for (v, len) in b.iter_mut().zip(lens) {
        if v.len() < len {
            v.resize(len, 0.0);
        }
    }
}

/// Calls `f(path, unit, buffers)` for units claimed from `next` until none is left.
fn claim(f: &Unit, next: &AtomicUsize, units: usize, path: Path, scratch: &Mutex<Buffers>, lens: [usize; 3]) {
    let mut b = scratch.lock().unwrap_or_else(|e| e.into_inner());
    let [x, y, z] = &mut *b;
    loop {
        let unit = next.fetch_add(1, Ordering::Relaxed);
        if unit >= units {
            return;
        }
        f(path, unit, [&mut x[..lens[0]], &mut y[..lens[1]], &mut z[..lens[2]]]);
    }
}

/// Calls `f(path, unit, buffers)` once for every unit in `0..units`, on this thread and, when
/// `two`, on its worker too; `path` is this thread's SIMD path, `buffers` stale scratch of
/// lengths `lens` (`f` writes before it reads).
pub(crate) fn run(two: bool, units: usize, lens: [usize; 3], f: &Unit) {
    let path = Path::current();
    let next = AtomicUsize::new(0);
    let two = two && units > 1;
    SCRATCH.with(|scratch| {
        size(&scratch[0], lens);
        if !two {
            return claim(f, &next, units, path, &scratch[0], lens);
        }
        size(&scratch[1], lens);
        offer(f, &next, units, path, &scratch[1], lens);
        let mine =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| claim(f, &next, units, path, &scratch[0], lens)));
        finish();
        if let Err(e) = mine {
            std::panic::resume_unwind(e);
        }
    });
}

/// Offers a job to this thread's worker, starting it on first use.
fn offer(f: &Unit, next: &AtomicUsize, units: usize, path: Path, scratch: &Mutex<Buffers>, lens: [usize; 3]) {
    WORKER.with(|w| {
        let shared = &w.get_or_init(Worker::start).0;
        // SAFETY (of the erased lifetime): `finish` withdraws the job or waits for it.
        let erased: *const Unit<'static> = unsafe { std::mem::transmute(f) };
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.job = Some(Job { f: erased, next, units, path, mode: Mode::current(), scratch, lens });
        slot.finished = false;
        shared.done.store(false, Ordering::Relaxed);
        shared.offered.store(true, Ordering::Release);
        if slot.worker_sleeps {
            shared.changed.notify_all();
        }
    });
}

/// Withdraws the offered job if the worker has not taken it, else waits until it is done.
fn finish() {
    WORKER.with(|w| {
        let Some(Worker(shared)) = w.get() else { return };
        let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.job.take().is_some() {
            shared.offered.store(false, Ordering::Relaxed);
            return;
        }
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
        assert!(!slot.panicked, "a helper panicked on the worker thread");
    });
}

/// Part `part` of `parts` of `0..n`: contiguous, in order, sizes differing by at most one.
pub(crate) fn share(n: usize, part: usize, parts: usize) -> std::ops::Range<usize> {
    n * part / parts..n * (part + 1) / parts
}
