//! The collectives over MPI's world communicator (the `mpi` feature), through rsmpi.

use mpi::collective::SystemOperation;
use mpi::point_to_point::{Destination, Source};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};
use mpi::Threading;

use super::Place;

/// Starts MPI. Only the thread that trains calls MPI (the compiled step's all-sum runs on it,
/// never on its split worker), which is what `Funneled` promises.
pub(super) fn init() -> Result<(mpi::environment::Universe, Place), String> {
    let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)
        .ok_or_else(|| "MPI could not start (or was started before)".to_string())?;
    let world = universe.world();
    // Ranks and sizes are non-negative `c_int`s.
    let place = Place { rank: world.rank() as usize, ranks: world.size() as usize };
    Ok((universe, place))
}

fn world() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

pub(super) fn all_sum(src: &[f32], dst: &mut [f32]) {
    world().all_reduce_into(src, dst, SystemOperation::sum());
}

pub(super) fn broadcast(values: &mut [f64]) {
    world().process_at_rank(0).broadcast_into(values);
}

pub(super) fn all_gather(value: u64) -> Vec<u64> {
    let w = world();
    let mut all = vec![0u64; w.size() as usize];
    w.all_gather_into(&value, &mut all[..]);
    all
}

pub(super) fn agree(p: Place, status: Result<u64, String>) -> Result<(), Option<String>> {
    let w = world();
    // Each rank's fingerprint, or `u64::MAX` for a rank that failed (a fingerprint is a hash:
    // `u64::MAX` standing for one is a chance of 2⁻⁶⁴, and would only report a false failure).
    let mine = *status.as_ref().unwrap_or(&u64::MAX);
    let all = all_gather(mine);
    let Some(failed) = all.iter().position(|&f| f == u64::MAX) else {
        return match all.iter().position(|&f| f != all[0]) {
            None => Ok(()),
            Some(r) => Err(p.leads().then(|| {
                format!(
                    "gradc: the ranks compiled different programs (rank {r} of {} differs from rank 0): \
                     every rank must run the same file with the same data and options\n",
                    p.ranks
                )
            })),
        };
    };
    match (p.rank, failed) {
        (0, 0) => Err(status.err()),
        (0, r) => {
            let (bytes, _) = w.process_at_rank(r as i32).receive_vec::<u8>();
            let report = String::from_utf8_lossy(&bytes);
            Err(Some(format!("gradc: rank {r} of {} failed:\n{report}", p.ranks)))
        }
        (me, r) if me == r => {
            let report = status.err().unwrap_or_default();
            w.process_at_rank(0).send(report.as_bytes());
            Err(None)
        }
        _ => Err(None),
    }
}

pub(super) fn abort(code: i32) -> ! {
    world().abort(code)
}
