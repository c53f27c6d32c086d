//! Plain descriptions that a checked program hands downstream: each parameter and how it starts,
//! the optimizer's state, and the training controls the loop applies. Sema builds them (and
//! re-exports them); the driver passes them to the runtime and checkpoints, which so never need
//! the front end.

use crate::diag::Span;

/// How a parameter's initial value is drawn (`torch.nn.init`'s formulas; filled by `runtime::init`).
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// Every element equal to the value.
    Constant(f64),
    /// Independent normal samples.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// Independent uniform samples from `[lo, hi)`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Glorot normal: `std = gain · sqrt(2 / (fan_in + fan_out))`.
    XavierNormal {
        /// Scale factor; 1 for linear/sigmoid layers, 5/3 for tanh.
        gain: f64,
    },
    /// Glorot uniform: `bound = gain · sqrt(6 / (fan_in + fan_out))`.
    XavierUniform {
        /// Scale factor; 1 for linear/sigmoid layers, 5/3 for tanh.
        gain: f64,
    },
    /// Kaiming normal, mode `fan_in`: `std = gain / sqrt(fan_in)`.
    HeNormal {
        /// Scale factor; √2 for ReLU layers.
        gain: f64,
    },
    /// PyTorch's default for `nn.Linear` and `nn.Conv2d`, weights and biases alike: uniform in
    /// `±1 / sqrt(fan_in)` (for weights this is `kaiming_uniform_(a=√5)`; for a bias, the fan-in
    /// of its layer's weight, which the layer gives with `with_fan_in`; 0 for a fan-in of 0).
    TorchDefault {
        /// The fan-in to use instead of the tensor's own (a bias's layer's).
        fan_in: Option<usize>,
    },
    /// Kaiming uniform, mode `fan_in`: `bound = gain · sqrt(3 / fan_in)`.
    ///
    /// `gain = sqrt(1/3)` gives `bound = 1/sqrt(fan_in)`, PyTorch's default for `nn.Linear`.
    HeUniform {
        /// Scale factor; √2 for ReLU layers.
        gain: f64,
    },
}

/// A trainable parameter found by elaboration.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Full name, e.g. `h1.w`.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// How it starts.
    pub init: Init,
    /// The declaration.
    pub span: Span,
}

/// Per-parameter optimizer state found by elaboration.
#[derive(Debug, Clone, PartialEq)]
pub struct StateInfo {
    /// Full name, e.g. `h1.w.m`.
    pub name: String,
    /// Its shape (the parameter's).
    pub shape: Vec<usize>,
    /// Its starting value.
    pub init: f32,
}

/// Early stopping: `early_stop = patience(3, on: val_loss, min_delta: 0, restore: true)`.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStop {
    /// Evaluations without improvement before stopping.
    pub patience: usize,
    /// The monitored value: `loss`, `val_loss`, a metric or `val_<metric>`.
    pub on: String,
    /// The smallest change that counts as improvement.
    pub min_delta: f64,
    /// Restore the parameters of the best evaluation when stopping.
    pub restore: bool,
}

/// A convergence criterion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Converge {
    /// Stop when the norm of a step's parameter change falls below this.
    UpdateNorm(f64),
    /// Stop when the loss changes by less than this between steps.
    LossChange(f64),
}

/// torch.optim.lr_scheduler.ReduceLROnPlateau, evaluated once per epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    /// The monitored value, as for early stopping.
    pub on: String,
    /// Higher is better (`mode: max`).
    pub maximize: bool,
    /// Multiplier applied to the learning rate on a plateau.
    pub factor: f64,
    /// Epochs without improvement before reducing.
    pub patience: usize,
    /// Improvement threshold.
    pub threshold: f64,
    /// The threshold is relative (`threshold_mode: rel`) rather than absolute.
    pub relative: bool,
    /// Epochs to wait after a reduction before counting again.
    pub cooldown: usize,
    /// The learning rate never goes below this.
    pub min_lr: f64,
}
