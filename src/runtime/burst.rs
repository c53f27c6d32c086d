//! Many training steps in one native call: when nothing needs the host between steps (no log
//! line, evaluation, progress line, early-stopping or plateau check due, no convergence test,
//! no accumulation), the loop fills a record of step inputs (and, when the batch changes, of
//! data) per step and runs them all with [`Executable::run_steps`](crate::codegen::Executable::run_steps),
//! which costs a few nanoseconds a step instead of the host loop's hundred. The numbers are
//! those of stepping one at a time: each record holds what the host would have set.

use std::time::{Duration, Instant};

use super::runner::Runner;
use crate::codegen::Record;

/// Steps in one call at most, whatever their speed.
const MAX_STEPS: usize = 4096;

/// Bytes of data records at most: the batches of one call stay in L2.
const MAX_DATA_BYTES: usize = 256 << 10;

/// A data record above this many bytes is loaded by the host step by step: a step that moves
/// that much data is long enough that the host loop's cost does not show.
const MAX_RECORD_BYTES: usize = 64 << 10;

/// A call that took less than this doubles the next one's steps, one that took more halves
/// them: calls stay short enough for an interrupt to be seen promptly.
const TARGET: Duration = Duration::from_millis(2);

/// The record buffers of the train step and how many steps the next call may run.
pub(super) struct Burst {
    steps: Vec<f32>,
    data: Vec<f32>,
    losses: Vec<f32>,
    /// Whether the batch changes from step to step (else it stays put in the arena).
    feeds_data: bool,
    /// Steps the next call may run; adapts to the step's speed.
    cap: usize,
    max: usize,
}

impl Burst {
    /// Buffers for `runner`; `allowed` says whether steps may run in bursts at all, `feeds_data`
    /// whether each step loads another batch.
    pub(super) fn new(runner: &Runner, allowed: bool, feeds_data: bool) -> Burst {
        let (step_len, data_len) = (runner.record_len(Record::Steps), runner.record_len(Record::Data));
        let max = match (allowed, feeds_data) {
            (false, _) => 1,
            (true, false) => MAX_STEPS,
            (true, true) if data_len * 4 > MAX_RECORD_BYTES => 1,
            (true, true) => (MAX_DATA_BYTES / (data_len * 4).max(1)).clamp(1, MAX_STEPS),
        };
        let data_steps = if feeds_data && max > 1 { max } else { 0 };
        Burst {
            steps: vec![0.0; max * step_len],
            data: vec![0.0; data_steps * data_len],
            losses: vec![0.0; max],
            feeds_data,
            cap: max.min(16),
            max,
        }
    }

    /// Steps the next call may run (1: step from the host).
    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    /// Whether each step's batch goes in a data record.
    pub(super) fn feeds_data(&self) -> bool {
        self.feeds_data
    }

    /// The step record and the data record of step `j` of the next call.
    pub(super) fn records(&mut self, j: usize) -> (&mut [f32], &mut [f32]) {
        let (s, d) = (self.steps.len() / self.max, self.data.len() / self.max);
        (&mut self.steps[j * s..(j + 1) * s], &mut self.data[j * d..(j + 1) * d])
    }

    /// Runs `n` steps from the records filled; returns how many ran (fewer when one diverged).
    pub(super) fn run(&mut self, runner: &mut Runner, n: usize) -> usize {
        let (s, d) = (self.steps.len() / self.max, self.data.len() / self.max);
        let data = self.feeds_data.then(|| &self.data[..n * d]);
        let started = Instant::now();
        let done = runner.exe.run_steps(n, Some(&self.steps[..n * s]), data, &mut self.losses[..n]);
        self.cap = if started.elapsed() < TARGET { (self.cap * 2).min(self.max) } else { (self.cap / 2).max(2) };
        done
    }

    /// The loss of step `j` of the last call.
    pub(super) fn loss(&self, j: usize) -> f32 {
        self.losses[j]
    }
}
