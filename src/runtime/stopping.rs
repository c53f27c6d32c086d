//! Why a run ends before its last step, and the rules that decide it: early stopping (Keras'
//! rule), ReduceLROnPlateau (torch's state machine, which scales the learning rate rather than
//! stopping) and the convergence criteria.

use super::errors;
use crate::codegen::Executable;
use crate::diag::Diag;
use crate::ir::StepOutput;
use crate::spec::{Converge, EarlyStop, Plateau};

/// Why a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// It ran every step it was asked for.
    Completed,
    /// The monitored value stopped improving.
    EarlyStopped {
        /// The monitored quantity.
        on: String,
        /// Its best value.
        best: f64,
        /// The epoch (from 1) of the best value.
        best_epoch: usize,
        /// Whether the best parameters were restored.
        restored: bool,
    },
    /// The loss stopped being finite.
    Diverged {
        /// The step whose loss was not finite.
        step: usize,
        /// That loss.
        loss: f64,
        /// The learning rate of that step.
        lr: f64,
    },
    /// A convergence criterion was met.
    Converged {
        /// `update_norm` or `loss_change`.
        criterion: &'static str,
        /// The value that fell below the tolerance.
        value: f64,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Completed => f.write_str("completed"),
            StopReason::EarlyStopped { on, best, best_epoch, restored } => {
                let r = if *restored { ", its parameters restored" } else { "" };
                write!(f, "early stopping: `{on}` stopped improving; best {best:.6} at epoch {best_epoch}{r}")
            }
            StopReason::Converged { criterion, value } => write!(f, "converged: `{criterion}` fell to {value:.3e}"),
            StopReason::Diverged { step, loss, .. } => write!(f, "diverged: the loss became {loss} at step {step}"),
        }
    }
}

impl StopReason {
    /// The error a diverged run is, with what to try; `None` for the other reasons.
    pub fn diagnostic(&self) -> Option<Diag> {
        let StopReason::Diverged { step, loss, lr } = *self else { return None };
        Some(errors::diverged(step, loss, lr))
    }
}

/// The first convergence criterion that holds after a step whose loss is `loss` (the step
/// before's `last_loss`) and whose parameters moved by `update_norm`.
pub fn converged(criteria: &[Converge], update_norm: f64, loss: f64, last_loss: f64) -> Option<StopReason> {
    criteria.iter().find_map(|criterion| {
        let (name, value, tol) = match *criterion {
            Converge::UpdateNorm(tol) => (StepOutput::UpdateNorm.name(), update_norm, tol),
            Converge::LossChange(tol) => ("loss_change", (loss - last_loss).abs(), tol),
        };
        (value < tol).then_some(StopReason::Converged { criterion: name, value })
    })
}

/// Whether higher is better for a monitored value: accuracies are maximised, losses minimised.
fn maximized(on: &str) -> bool {
    !on.ends_with(StepOutput::Loss.name())
}

/// Tracks a monitored value for early stopping (Keras' rule: improvement beyond `min_delta`).
pub struct EarlyStopper<'a> {
    /// The rule.
    pub spec: &'a EarlyStop,
    best: f64,
    best_epoch: usize,
    wait: usize,
    best_params: Vec<(String, Vec<f32>)>,
}

impl<'a> EarlyStopper<'a> {
    /// A stopper that has seen nothing yet.
    pub fn new(spec: &'a EarlyStop) -> EarlyStopper<'a> {
        let best = if maximized(&spec.on) { f64::NEG_INFINITY } else { f64::INFINITY };
        EarlyStopper { spec, best, best_epoch: 0, wait: 0, best_params: vec![] }
    }

    /// Records an evaluation after `epoch` epochs, with the parameters `params` of `exe`;
    /// returns true when patience has run out.
    pub fn observe(&mut self, value: f64, epoch: usize, exe: &Executable, params: &[String]) -> bool {
        let improved = if maximized(&self.spec.on) {
            value > self.best + self.spec.min_delta
        } else {
            value < self.best - self.spec.min_delta
        };
        if improved {
            self.best = value;
            self.best_epoch = epoch;
            self.wait = 0;
            if self.spec.restore {
                self.best_params = super::train::read_params(exe, params);
            }
            return false;
        }
        self.wait += 1;
        self.wait >= self.spec.patience
    }

    /// Ends the run: restores the best parameters into `exe` if the rule asks, and says why.
    pub fn stop(&self, exe: &mut Executable) -> StopReason {
        if self.spec.restore {
            for (name, values) in &self.best_params {
                exe.input_mut(name).expect("param input exists").copy_from_slice(values);
            }
        }
        StopReason::EarlyStopped {
            on: self.spec.on.clone(),
            best: self.best,
            best_epoch: self.best_epoch,
            restored: self.spec.restore,
        }
    }
}

/// torch.optim.lr_scheduler.ReduceLROnPlateau's state machine.
pub struct PlateauState<'a> {
    /// The rule.
    pub spec: &'a Plateau,
    best: f64,
    bad_epochs: usize,
    cooldown: usize,
    /// Multiplier of the scheduled learning rate, fed to the graph's `lr_scale` input.
    pub scale: f64,
}

impl<'a> PlateauState<'a> {
    /// The state before the first epoch.
    pub fn new(spec: &'a Plateau) -> PlateauState<'a> {
        let best = if spec.maximize { f64::NEG_INFINITY } else { f64::INFINITY };
        PlateauState { spec, best, bad_epochs: 0, cooldown: 0, scale: 1.0 }
    }

    fn is_better(&self, a: f64) -> bool {
        let t = self.spec.threshold;
        match (self.spec.maximize, self.spec.relative) {
            (false, true) => a < self.best * (1.0 - t),
            (false, false) => a < self.best - t,
            (true, true) => a > self.best * (1.0 + t),
            (true, false) => a > self.best + t,
        }
    }

    /// One epoch's value of the monitored quantity; `lr` is the learning rate now in use.
    pub fn step(&mut self, value: f64, lr: f64) {
        if self.is_better(value) {
            self.best = value;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.spec.patience {
            let new_lr = (lr * self.spec.factor).max(self.spec.min_lr);
            if lr - new_lr > 1e-8 {
                self.scale *= new_lr / lr;
            }
            self.cooldown = self.spec.cooldown;
            self.bad_epochs = 0;
        }
    }
}
