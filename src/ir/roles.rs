//! The names the compiled step and the runtime agree on, spelled once: the step's own scalar
//! inputs (set by the runtime before each step), its scalar outputs (read after it), and the
//! keys of the training log. A parameter or metric may not take any of them.

use super::{DType, Graph, InputRole, NodeId, OutputRole, Type};

/// An input of the train step that the runtime sets before each step: f32 scalars, and the
/// i32 words of the random number generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepInput {
    /// The 1-based update counter `t`.
    T,
    /// Epochs completed, for schedules counted by epoch.
    Epoch,
    /// 1 on the micro-batch that applies the accumulated update, else 0.
    Apply,
    /// The plateau rule's multiplier of the scheduled learning rate.
    LrScale,
    /// What `rand` draws from: the i32 words `[seed_lo, seed_hi, micro-batch counter]`.
    Rng,
}

impl StepInput {
    /// Every step input.
    pub const ALL: [StepInput; 5] =
        [StepInput::T, StepInput::Epoch, StepInput::Apply, StepInput::LrScale, StepInput::Rng];

    /// The input's name in the graph.
    pub const fn name(self) -> &'static str {
        match self {
            StepInput::T => "t",
            StepInput::Epoch => "epoch",
            StepInput::Apply => "apply",
            StepInput::LrScale => "lr_scale",
            StepInput::Rng => "rng",
        }
    }

    /// The input's type.
    pub fn ty(self) -> Type {
        match self {
            StepInput::T | StepInput::Epoch | StepInput::Apply | StepInput::LrScale => Type::scalar(DType::F32),
            StepInput::Rng => Type::new(DType::I32, vec![3]),
        }
    }
}

/// A scalar output of a compiled graph that the runtime reads after each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepOutput {
    /// The loss (every forward graph has it).
    Loss,
    /// The learning rate the step used.
    Lr,
    /// The norm of the step's parameter change, for the `update_norm` convergence test.
    UpdateNorm,
}

impl StepOutput {
    /// Every step output.
    pub const ALL: [StepOutput; 3] = [StepOutput::Loss, StepOutput::Lr, StepOutput::UpdateNorm];

    /// The output's name in the graph.
    pub const fn name(self) -> &'static str {
        match self {
            StepOutput::Loss => "loss",
            StepOutput::Lr => "lr",
            StepOutput::UpdateNorm => "update_norm",
        }
    }

    /// The role the output has in the graph.
    pub const fn role(self) -> OutputRole {
        match self {
            StepOutput::Loss => OutputRole::Loss,
            StepOutput::Lr => OutputRole::Lr,
            StepOutput::UpdateNorm => OutputRole::Metric,
        }
    }
}

/// A gradient-health statistic the train step computes when asked (`--grad-stats`): one
/// scalar output per parameter or per ReLU layer, named `<key>:<parameter or layer>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    /// The L2 norm of a parameter's gradient, as the update receives it.
    GradNorm,
    /// `‖θ_new − θ_old‖ / ‖θ_old‖` of a parameter: the step's update against the weights.
    UpdateRatio,
    /// The fraction of a ReLU layer's units that are 0 for every row of the batch.
    DeadRelu,
}

impl Stat {
    /// Every statistic, in the order the log writes them.
    pub const ALL: [Stat; 3] = [Stat::GradNorm, Stat::UpdateRatio, Stat::DeadRelu];

    /// The statistic's key in the training log.
    pub const fn key(self) -> &'static str {
        match self {
            Stat::GradNorm => "grad_norm",
            Stat::UpdateRatio => "update_ratio",
            Stat::DeadRelu => "dead_relu",
        }
    }

    /// The name of the graph output holding this statistic of `of` (a parameter or a layer).
    pub fn output_name(self, of: &str) -> String {
        format!("{}:{of}", self.key())
    }

    /// The statistic and the parameter or layer an output named by [`Stat::output_name`] is of.
    pub fn parse(name: &str) -> Option<(Stat, &str)> {
        let (key, of) = name.split_once(':')?;
        Stat::ALL.into_iter().find(|s| s.key() == key).map(|s| (s, of))
    }
}

/// A key of each JSON line of the training log besides the metrics and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKey {
    /// Updates made.
    Step,
    /// The step's loss.
    Loss,
    /// The step's learning rate.
    Lr,
    /// The names of the values that were not finite (written as `null`).
    NonFinite,
    /// `true` on the line that closes a run.
    Final,
}

impl LogKey {
    /// Every log key.
    pub const ALL: [LogKey; 5] = [LogKey::Step, LogKey::Loss, LogKey::Lr, LogKey::NonFinite, LogKey::Final];

    /// The key as written.
    pub const fn name(self) -> &'static str {
        match self {
            LogKey::Step => "step",
            LogKey::Loss => StepOutput::Loss.name(),
            LogKey::Lr => StepOutput::Lr.name(),
            LogKey::NonFinite => "non_finite",
            LogKey::Final => "final",
        }
    }
}

/// Every name a parameter or metric may not take: the step inputs, the log keys and the step
/// outputs, in the order the diagnostic lists them.
pub const RESERVED: [&str; 11] = [
    StepInput::T.name(),
    StepInput::Epoch.name(),
    StepInput::Apply.name(),
    StepInput::LrScale.name(),
    StepInput::Rng.name(),
    LogKey::Step.name(),
    LogKey::Loss.name(),
    LogKey::Lr.name(),
    LogKey::Final.name(),
    LogKey::NonFinite.name(),
    StepOutput::UpdateNorm.name(),
];

impl Graph {
    /// Adds the step input `which`.
    pub fn add_step_input(&mut self, which: StepInput) -> NodeId {
        self.add_input(which.name(), which.ty(), InputRole::Step)
    }

    /// The step input `which`, added if the graph does not have it yet.
    pub fn step_input(&mut self, which: StepInput) -> NodeId {
        match self.input_index(which.name()) {
            Some(k) => self.input_node(k),
            None => self.add_step_input(which),
        }
    }

    /// Adds `node` as the step output `which`.
    pub fn add_step_output(&mut self, which: StepOutput, node: NodeId) {
        self.add_output(which.name(), node, which.role());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_is_reserved_once() {
        let names = StepInput::ALL.map(StepInput::name).into_iter();
        let names = names.chain(StepOutput::ALL.map(StepOutput::name)).chain(LogKey::ALL.map(LogKey::name));
        for name in names {
            assert_eq!(RESERVED.iter().filter(|r| **r == name).count(), 1, "`{name}`");
        }
        let mut sorted = RESERVED.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), RESERVED.len());
    }
}
