//! The processes of a data-parallel run (`gradc run --distributed` under `mpirun`): which one
//! this is, and the collectives the compiled step and the trainer call.
//!
//! A process that has not joined a distributed run (every run without `--distributed`, every
//! test in one process, every build without the `mpi` feature) is rank 0 of 1, and each
//! collective is what it computes on one rank: `all_sum` copies, `broadcast` keeps.
//!
//! Decisions: one process-wide [`Place`], set once by [`join`], because the compiled step
//! calls `all_sum` through a plain function pointer that can carry no context. Sums run on
//! MPI's own `MPI_Allreduce`, whose result every rank receives alike; the trainer checks that
//! the ranks' parameters are identical at the end of a run rather than trust it blindly.

#[cfg(feature = "mpi")]
mod world;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Where this process stands in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Place {
    /// This process's rank, from 0.
    pub rank: usize,
    /// How many processes the run has.
    pub ranks: usize,
}

impl Place {
    /// A run of one process.
    pub const ALONE: Place = Place { rank: 0, ranks: 1 };

    /// Whether this process is rank 0, which prints, logs, evaluates and checkpoints.
    pub fn leads(self) -> bool {
        self.rank == 0
    }

    /// This rank's rows of a global batch of `rows`: contiguous, in rank order, the first
    /// `rows % ranks` ranks taking one row more.
    pub fn share(self, rows: usize) -> std::ops::Range<usize> {
        let (each, extra) = (rows / self.ranks, rows % self.ranks);
        let start = self.rank * each + self.rank.min(extra);
        start..start + each + usize::from(self.rank < extra)
    }
}

static PLACE: OnceLock<Place> = OnceLock::new();

/// Nanoseconds this process has spent in [`all_sum`] over several ranks: summing, and waiting
/// for the other ranks to arrive.
static SUMMING: AtomicU64 = AtomicU64::new(0);

/// Where this process stands: [`Place::ALONE`] unless it has joined a distributed run.
pub fn place() -> Place {
    PLACE.get().copied().unwrap_or(Place::ALONE)
}

/// Whether this build has MPI and an MPI launcher started this process (`mpirun`, `mpiexec`,
/// `srun`): it then joins the run before it reads its file, so that an error every rank meets
/// is reported once. A build without MPI runs alone wherever it is started.
pub fn launched() -> bool {
    cfg!(feature = "mpi")
        && ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].iter().any(|v| std::env::var_os(v).is_some())
}

/// Membership of a distributed run; dropping it leaves the run (`MPI_Finalize`).
pub struct Session {
    #[cfg(feature = "mpi")]
    _universe: mpi::environment::Universe,
}

/// Joins the distributed run this process was started in (by `mpirun`, or alone: a run of one
/// rank); an error when MPI cannot start or this build has no MPI.
pub fn join() -> Result<(Session, Place), String> {
    #[cfg(feature = "mpi")]
    {
        let (universe, place) = world::init()?;
        PLACE.set(place).map_err(|_| "gradc joined a distributed run twice".to_string())?;
        Ok((Session { _universe: universe }, place))
    }
    #[cfg(not(feature = "mpi"))]
    Err("this gradc was built without MPI".to_string())
}

/// Every rank's `src`, summed element by element into `dst` on every rank.
///
/// # Panics
/// If the lengths differ.
pub fn all_sum(src: &[f32], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "all_sum of {} into {} elements", src.len(), dst.len());
    #[cfg(feature = "mpi")]
    if place().ranks > 1 {
        let started = std::time::Instant::now();
        world::all_sum(src, dst);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        SUMMING.fetch_add(nanos, Ordering::Relaxed);
        return;
    }
    dst.copy_from_slice(src);
}

/// The time this process has spent in sums over several ranks, waiting for them included.
pub fn summing() -> Duration {
    Duration::from_nanos(SUMMING.load(Ordering::Relaxed))
}

/// Rank 0's `values`, copied into every rank's.
// A build without MPI has one rank, whose values stay.
#[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
pub fn broadcast(values: &mut [f64]) {
    #[cfg(feature = "mpi")]
    if place().ranks > 1 {
        world::broadcast(values);
    }
}

/// Whether every rank passed the same `value`.
#[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
pub fn all_equal(value: u64) -> bool {
    #[cfg(feature = "mpi")]
    if place().ranks > 1 {
        return world::all_gather(value).iter().all(|&v| v == value);
    }
    true
}

/// How the ranks stand after compiling: every rank passes `Ok(fingerprint)` of what it
/// compiled, or `Err(report)` with the report of its error. `Ok(())` when every rank compiled
/// the same program; otherwise rank 0 gets the one report to print (the lowest failing rank's,
/// named), and every other rank `Err(None)`.
pub fn agree(status: Result<u64, String>) -> Result<(), Option<String>> {
    #[cfg(feature = "mpi")]
    if place().ranks > 1 {
        return world::agree(place(), status);
    }
    status.map(|_| ()).map_err(Some)
}

/// Ends the whole run with `code`: every rank, at once (`MPI_Abort`), so that no rank waits
/// forever for one that has stopped; a process alone just exits.
pub fn abort(code: i32) -> ! {
    #[cfg(feature = "mpi")]
    if place().ranks > 1 {
        world::abort(code);
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_batch_in_rank_order() {
        for ranks in 1..=5 {
            for rows in 0..=11 {
                let parts: Vec<_> = (0..ranks).map(|rank| Place { rank, ranks }.share(rows)).collect();
                assert_eq!(parts[0].start, 0);
                assert_eq!(parts[ranks - 1].end, rows);
                for w in parts.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert!(w[0].len() == w[1].len() || w[0].len() == w[1].len() + 1, "{rows} rows, {ranks} ranks");
                }
            }
        }
        assert_eq!(Place { rank: 1, ranks: 3 }.share(8), 3..6);
    }

    #[test]
    fn a_process_alone_keeps_its_values() {
        let mut dst = [0.0; 3];
        all_sum(&[1.0, -2.0, 0.5], &mut dst);
        assert_eq!(dst, [1.0, -2.0, 0.5]);
        let mut v = [3.0];
        broadcast(&mut v);
        assert_eq!(v, [3.0]);
        assert!(all_equal(7));
        assert_eq!(agree(Err("bad".into())), Err(Some("bad".into())));
        assert_eq!(agree(Ok(1)), Ok(()));
    }
}
