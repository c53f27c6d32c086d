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
    /// A signal (Ctrl-C's SIGINT, or SIGTERM) asked the run to stop after its current step.
    Interrupted {
        /// The signal's number.
        signal: i32,
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
            StopReason::Interrupted { signal } => write!(f, "interrupted by {}", signal_name(*signal)),
            StopReason::Diverged { step, loss, .. } => write!(f, "diverged: the loss became {loss} at step {step}"),
        }
    }
}

impl StopReason {
    /// A stable name of the reason, for `--json`: `completed`, `early_stopping`, `converged`,
    /// `diverged` or `interrupted` (the wording, which may change, is the `Display`).
    pub fn code(&self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::EarlyStopped { .. } => "early_stopping",
            StopReason::Converged { .. } => "converged",
            StopReason::Diverged { .. } => "diverged",
            StopReason::Interrupted { .. } => "interrupted",
        }
    }

    /// The error a diverged run is, with what to try; `None` for the other reasons.
    pub fn diagnostic(&self) -> Option<Diag> {
        let StopReason::Diverged { step, loss, lr } = *self else { return None };
        Some(errors::diverged(step, loss, lr))
    }
}

/// The name of the signal numbered `signal` (`SIGINT`), as a user knows it.
fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "Ctrl-C (SIGINT)".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
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

/// What early stopping has seen so far: what a checkpoint saves so a resumed run stops where
/// the uninterrupted one would.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopState {
    /// The best monitored value.
    pub best: f64,
    /// The epoch (from 1) of the best value; 0 before the first evaluation.
    pub best_epoch: usize,
    /// Evaluations since the best one.
    pub wait: usize,
    /// The parameters and buffers at the best value, by name, when the rule restores them.
    pub best_params: Vec<(String, Vec<f32>)>,
}

/// Tracks a monitored value for early stopping (Keras' rule: improvement beyond `min_delta`).
pub struct EarlyStopper<'a> {
    /// The rule.
    pub spec: &'a EarlyStop,
    /// What it has seen.
    pub state: EarlyStopState,
}

impl<'a> EarlyStopper<'a> {
    /// A stopper that has seen nothing yet, or, with `saved`, what a checkpoint's run had seen.
    pub fn new(spec: &'a EarlyStop, saved: Option<EarlyStopState>) -> EarlyStopper<'a> {
        let best = if maximized(&spec.on) { f64::NEG_INFINITY } else { f64::INFINITY };
        let state = saved.unwrap_or(EarlyStopState { best, best_epoch: 0, wait: 0, best_params: vec![] });
        EarlyStopper { spec, state }
    }

    /// Records an evaluation after `epoch` epochs, with the parameters `params` of `exe`;
    /// returns true when patience has run out.
    pub fn observe(&mut self, value: f64, epoch: usize, exe: &Executable, params: &[String]) -> bool {
        let s = &mut self.state;
        let improved = if maximized(&self.spec.on) {
            value > s.best + self.spec.min_delta
        } else {
            value < s.best - self.spec.min_delta
        };
        if improved {
            s.best = value;
            s.best_epoch = epoch;
            s.wait = 0;
            if self.spec.restore {
                s.best_params = super::train::read_params(exe, params);
            }
            return false;
        }
        s.wait += 1;
        s.wait >= self.spec.patience
    }

    /// Ends the run: restores the best parameters into `exe` if the rule asks (and has them:
    /// a run resumed from a checkpoint saved without the rule's restoring may not), and says why.
    pub fn stop(&self, exe: &mut Executable) -> StopReason {
        let restored = self.spec.restore && !self.state.best_params.is_empty();
        if restored {
            for (name, values) in &self.state.best_params {
                exe.input_mut(name).expect("param input exists").copy_from_slice(values);
            }
        }
        StopReason::EarlyStopped {
            on: self.spec.on.clone(),
            best: self.state.best,
            best_epoch: self.state.best_epoch,
            restored,
        }
    }
}

/// ReduceLROnPlateau's counters and the learning rate's reduction so far: what a checkpoint
/// saves so a resumed run reduces, and trains at, the rate the uninterrupted one would.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateauCounters {
    /// The best monitored value.
    pub best: f64,
    /// Epochs since the best value (torch's `num_bad_epochs`).
    pub bad_epochs: usize,
    /// Epochs of cooldown left (torch's `cooldown_counter`).
    pub cooldown: usize,
    /// Multiplier of the scheduled learning rate, fed to the graph's `lr_scale` input.
    pub scale: f64,
}

/// torch.optim.lr_scheduler.ReduceLROnPlateau's state machine.
pub struct PlateauState<'a> {
    /// The rule.
    pub spec: &'a Plateau,
    /// Where it stands.
    pub counters: PlateauCounters,
}

impl<'a> PlateauState<'a> {
    /// The state before the first epoch, or, with `saved`, where a checkpoint's run stood.
    pub fn new(spec: &'a Plateau, saved: Option<PlateauCounters>) -> PlateauState<'a> {
        let best = if spec.maximize { f64::NEG_INFINITY } else { f64::INFINITY };
        let counters = saved.unwrap_or(PlateauCounters { best, bad_epochs: 0, cooldown: 0, scale: 1.0 });
        PlateauState { spec, counters }
    }

    fn is_better(&self, a: f64) -> bool {
        let (t, best) = (self.spec.threshold, self.counters.best);
        match (self.spec.maximize, self.spec.relative) {
            (false, true) => a < best * (1.0 - t),
            (false, false) => a < best - t,
            (true, true) => a > best * (1.0 + t),
            (true, false) => a > best + t,
        }
    }

    /// One epoch's value of the monitored quantity; `lr` is the learning rate now in use.
    pub fn step(&mut self, value: f64, lr: f64) {
        let better = self.is_better(value);
        let c = &mut self.counters;
        if better {
            c.best = value;
            c.bad_epochs = 0;
        } else {
            c.bad_epochs += 1;
        }
        if c.cooldown > 0 {
            c.cooldown -= 1;
            c.bad_epochs = 0;
        }
        if c.bad_epochs > self.spec.patience {
            let new_lr = (lr * self.spec.factor).max(self.spec.min_lr);
            if lr - new_lr > 1e-8 {
                c.scale *= new_lr / lr;
            }
            c.cooldown = self.spec.cooldown;
            c.bad_epochs = 0;
        }
    }
}
