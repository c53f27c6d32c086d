//! What the driver hands the runtime for one run: every executable the run will execute,
//! compiled before its first step, and the program's data, parameters and training controls as
//! plain values. The runtime compiles nothing and reads no source.

use std::time::Duration;

use super::runner::Runner;
use crate::data::transform::Scaling;
use crate::data::Dataset;
use crate::diag::Span;
use crate::spec::{Converge, EarlyStop, ParamInfo, Plateau, StateInfo};

/// The training controls of a `train` block, as the loop applies them.
#[derive(Debug, Clone, PartialEq)]
pub struct Controls {
    /// Update steps, if the block gives them (they take precedence over epochs).
    pub steps: Option<usize>,
    /// Passes over the data, if the block gives them.
    pub epochs: Option<usize>,
    /// Reshuffle the rows every epoch.
    pub shuffle: bool,
    /// Seed for initialisation and shuffling.
    pub seed: u64,
    /// Log every this many steps; `None` chooses about 20 lines per run.
    pub log_every: Option<usize>,
    /// Compute gradient-health statistics every this many steps (the train block's `grad_stats`).
    pub grad_stats: Option<usize>,
    /// Micro-batches per update.
    pub accumulate: usize,
    /// Stop when a monitored value stops improving.
    pub early_stop: Option<EarlyStop>,
    /// Stop when any of these criteria holds.
    pub converge: Vec<Converge>,
    /// Reduce the learning rate when a monitored value plateaus.
    pub plateau: Option<Plateau>,
    /// The train block, for diagnostics about batching.
    pub span: Span,
}

/// The program a run trains, as plain values borrowed from the compiled program.
#[derive(Debug, Clone)]
pub struct Program<'a> {
    /// The training data, if the loss takes data.
    pub data: Option<&'a Dataset>,
    /// The validation data, if the train block has some.
    pub val: Option<&'a Dataset>,
    /// The test data, scored once after training, if the train block has some.
    pub test: Option<&'a Dataset>,
    /// The statistics the data was standardized with, which checkpoints keep.
    pub scaling: Option<&'a Scaling>,
    /// Rows per training step.
    pub batch: usize,
    /// Every parameter, in input order.
    pub params: &'a [ParamInfo],
    /// Every buffer, in input order: updated by the train step, read by evaluation.
    pub buffers: &'a [ParamInfo],
    /// Every optimizer state variable the update declares, with its starting value.
    pub states: &'a [StateInfo],
    /// The name and shape of every state input of the train step: optimizer state, and gradient
    /// accumulators when the train block accumulates. Checkpoints save and restore these.
    pub state_slots: Vec<(String, Vec<usize>)>,
    /// How the loop runs.
    pub controls: Controls,
    /// Where the loss is known to be least, by parameter name, when the compare block says.
    pub optimum: Option<&'a [(String, f64)]>,
}

impl Program<'_> {
    /// Rows of training data (1 for a program without data, which steps on its parameters alone).
    pub fn rows(&self) -> usize {
        self.data.map_or(1, |d| d.n)
    }

    /// The names of the optimizer's state tensors (not the gradient accumulators).
    pub fn optimizer_state(&self) -> Vec<String> {
        self.states.iter().map(|s| s.name.clone()).collect()
    }
}

/// Native code for every graph a run executes.
pub struct Executables {
    /// The train step at the batch size.
    pub step: Runner,
    /// The train step for the shorter last batch of an epoch, when the batch size does not
    /// divide the rows.
    pub short_step: Option<Runner>,
    /// Loss and metrics over the whole training set (also the loss surface `compare` draws).
    pub eval: Runner,
    /// Loss and metrics over the whole validation set.
    pub val_eval: Option<Runner>,
    /// Loss and metrics over the whole test set.
    pub test_eval: Option<Runner>,
}

/// Everything one run needs, ready before its first step.
pub struct Plan<'a> {
    /// What is trained.
    pub program: Program<'a>,
    /// The compiled graphs.
    pub exes: Executables,
    /// Time from source to native code.
    pub compile: Duration,
}
