//! Semantic analysis: resolves names and imports, checks the train block, and elaborates the
//! program into graph IR, checking shapes with the op table's rules as it goes.
//!
//! Elaboration is tracing: functions and layers are inlined at each call with the argument
//! shapes of that call, so a `.grad` function is shape-polymorphic without a type system of
//! its own, and every shape error is found with the call that caused it.

mod builtins;
mod elab;
mod errors;
mod library;
mod scope;
mod train;

use crate::diag::{Diag, FileId, SourceMap, Span};
use crate::ir::{Graph, NodeId};
use crate::syntax::ast;

pub use crate::data::{DataSource, DataSpec};
pub use crate::spec::{Converge, EarlyStop, Init, ParamInfo, Plateau, StateInfo};
pub use scope::Module;
pub use train::Variant;
// Shared with elaboration, which names them from here.
use errors::{expected, reserved};

// Checking an initializer is sema's job; `spec` only describes it.
impl Init {
    /// Checks the arguments a user wrote (`normal(std: -1)` is an error); `span` is the initializer expression.
    pub fn check(&self, span: Span) -> Result<(), Diag> {
        let bad = |msg: String, help: &str| Err(errors::bad_initializer(span, msg, help));
        let non_negative = |name: &str, what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                bad(format!("{name}: `{what}` must be a finite number ≥ 0, got {v}"), "use a small positive value")
            }
        };
        match *self {
            Init::Zeros => Ok(()),
            Init::Constant(v) if v.is_finite() => Ok(()),
            Init::Constant(v) => bad(format!("constant initializer must be finite, got {v}"), "use a finite value"),
            Init::Normal { mean, std } => {
                if !mean.is_finite() {
                    return bad(format!("normal: `mean` must be finite, got {mean}"), "use a finite mean such as 0");
                }
                non_negative("normal", "std", std)
            }
            Init::Uniform { lo, hi } => {
                if lo.is_finite() && hi.is_finite() && lo <= hi {
                    Ok(())
                } else {
                    bad(
                        format!("uniform: bounds must be finite with lo ≤ hi, got lo = {lo}, hi = {hi}"),
                        "write the smaller bound first, e.g. `uniform(lo: -0.1, hi: 0.1)`",
                    )
                }
            }
            Init::XavierNormal { gain } => non_negative("xavier_normal", "gain", gain),
            Init::XavierUniform { gain } => non_negative("xavier_uniform", "gain", gain),
            Init::HeNormal { gain } => non_negative("he_normal", "gain", gain),
            Init::HeUniform { gain } => non_negative("he_uniform", "gain", gain),
            Init::TorchDefault { .. } => Ok(()),
        }
    }
}

/// The shape of the data the loss is applied to, known once the data is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataShape {
    /// The shape of one row's features: `[D]` for a table, `[C, H, W]` for images.
    pub features: Vec<usize>,
    /// The labels' kind.
    pub labels: LabelShape,
}

/// What labels the data has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelShape {
    /// Integer class labels `i32[B]` with this many classes.
    Classes(usize),
    /// Regression targets `f32[B, k]`.
    Targets(usize),
}

/// The checked `train` block.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The dataset, if the loss takes data.
    pub data: Option<DataSpec>,
    /// A separate validation set (`val = v`), preprocessed as the training data is.
    pub val: Option<DataSpec>,
    /// A separate test set (`test = t`), preprocessed as the training data is.
    pub test: Option<DataSpec>,
    /// Rows per step; `None` for full-batch.
    pub batch: Option<usize>,
    /// Passes over the data.
    pub epochs: Option<usize>,
    /// Update steps (takes precedence over epochs when both are given).
    pub steps: Option<usize>,
    /// Reshuffle the rows every epoch.
    pub shuffle: bool,
    /// Flush subnormal floats to zero in the compiled step (`flush_denormals = true`).
    pub flush_denormals: bool,
    /// Train data-parallel across the ranks `mpirun` starts (`distributed = true`), as
    /// `gradc run --distributed` does.
    pub distributed: bool,
    /// Seed for initialisation, shuffling and synthetic data.
    pub seed: u64,
    /// Log every this many steps; `None` chooses about 20 lines per run.
    pub log_every: Option<usize>,
    /// Compute gradient-health statistics every this many steps (`grad_stats = N`).
    pub grad_stats: Option<usize>,
    /// Metric functions to evaluate, with where they were named.
    pub metrics: Vec<(String, Span)>,
    /// The optimizer's name, for reports.
    pub optimizer: String,
    /// Gradient clipping, applied between backward and update.
    pub clip: Option<Clip>,
    /// Micro-batches whose gradients are summed (and averaged) before each update.
    pub accumulate: usize,
    /// Stop when a monitored metric stops improving.
    pub early_stop: Option<EarlyStop>,
    /// Stop when the run has converged by any of these criteria.
    pub converge: Vec<Converge>,
    /// Reduce the learning rate when a monitored metric plateaus.
    pub plateau: Option<Plateau>,
    /// The schedule's `step` counts epochs rather than updates (`schedule_by = epoch`).
    pub schedule_by_epoch: bool,
    /// Per-parameter hyper-parameters, applied in order to the parameters they match.
    pub param_groups: Vec<ParamGroup>,
    /// The block.
    pub span: Span,
}

/// `group("*.b", weight_decay: 0)`: hyper-parameters for the parameters whose names match.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamGroup {
    /// A name pattern where `*` matches any run of characters (dots included).
    pub pattern: String,
    /// Settings: an optimizer hyper-parameter's new value, or `lr_mult` / `decay_mult`
    /// (Caffe's multipliers of the learning rate and of `weight_decay`).
    pub set: Vec<(String, f64)>,
    /// Where the group was written.
    pub span: Span,
}

impl ParamGroup {
    /// Whether the pattern matches a parameter name.
    pub fn matches(&self, name: &str) -> bool {
        glob(self.pattern.as_bytes(), name.as_bytes())
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..]),
    }
}

/// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Scale all gradients by `min(1, max_norm / (norm + 1e-6))`, `norm` over every parameter.
    GlobalNorm(f64),
    /// Clamp every gradient element to `[-v, v]`.
    Value(f64),
}

/// The graphs of a program at one batch size, with what the runtime needs to run them.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// Loss and metrics from data and parameters.
    pub forward: Graph,
    /// New parameters and optimizer state from parameters, gradients, state and the step.
    pub update: Graph,
    /// Every parameter, in input order.
    pub params: Vec<ParamInfo>,
    /// Every buffer (batch norm's running statistics, say), in input order.
    pub buffers: Vec<ParamInfo>,
    /// Every optimizer state variable, in input order.
    pub states: Vec<StateInfo>,
    /// Warnings about the training graph (the program compiles and runs).
    pub warnings: Vec<Diag>,
    /// Source names of forward values, for `gradc grad`: each tensor a let binding of the
    /// user's file holds (in a layer, prefixed as its parameters are), and each call of the
    /// model (`mlp(x)`), in elaboration order. A value may appear more than once.
    pub names: Vec<(NodeId, String)>,
}

/// Parses the embedded stdlib, resolves names and checks the train block of a parsed file.
pub fn resolve(file: ast::File, user: FileId, sources: &mut SourceMap) -> Result<Module, Diag> {
    scope::resolve(file, user, sources)
}

impl Module {
    /// Elaborates the forward and update graphs for batches of `batch` rows of data of this shape.
    pub fn lower(&self, data: Option<DataShape>, batch: usize) -> Result<Lowered, Diag> {
        // An error in a compare run says which run it is in.
        elab::lower(self, data, batch).map_err(|d| match &self.run {
            Some((label, span)) if d.label.as_ref().is_none_or(|l| l.0 != *span) => {
                d.note(*span, format!("in the compare run `{label}`"))
            }
            _ => d,
        })
    }

    /// Elaborates the evaluation graph (loss and metrics in evaluation mode: running
    /// statistics, no dropout, buffers read only) for batches of `batch` rows.
    pub fn lower_eval(&self, data: Option<DataShape>, batch: usize) -> Result<Graph, Diag> {
        elab::forward(self, data, batch, elab::Mode::Eval).map(|f| f.graph)
    }

    /// Elaborates the prediction graph: the model's output (named [`PREDICTION`]) for `rows`
    /// rows of features of this shape. The program must have a model ([`Module::has_model`]).
    pub fn predict_graph(&self, data: &DataShape, rows: usize) -> Result<Graph, Diag> {
        elab::predict(self, data, rows)
    }
}

/// The name of the prediction graph's output.
pub const PREDICTION: &str = elab::OUTPUT;

/// Names the compiled step and its log use for themselves (`ir::roles`): a parameter or metric
/// may not take them.
pub const RESERVED_NAMES: &[&str] = &crate::ir::roles::RESERVED;

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves and lowers a program over 2-feature, 2-class data with batch 4.
    fn lower(src: &str) -> Result<Lowered, String> {
        let mut sources = SourceMap::default();
        let user = sources.add("test.grad", src.to_string());
        let render = |d: Diag, s: &SourceMap| d.with_sources(s).render_plain();
        let file = crate::syntax::parse(src, user).map_err(|d| render(d, &sources))?;
        let module = resolve(file, user, &mut sources).map_err(|d| render(d, &sources))?;
        let shape = module.takes_data().then_some(DataShape { features: vec![2], labels: LabelShape::Classes(2) });
        module.lower(shape, 4).map_err(|d| render(d, &sources))
    }

    fn names(l: &Lowered) -> Vec<&str> {
        l.params.iter().map(|p| p.name.as_str()).collect()
    }

    const HEADER: &str = "use std.nn.*\nuse std.loss.cross_entropy\ndata d = spirals(n: 8)\n";
    const TRAIN: &str = "train { data = d, optimizer = adam(lr: 0.01), steps = 1, metrics = [accuracy] }\n";

    #[test]
    fn nested_layers_nest_names() {
        let src = format!(
            "{HEADER}layer block(x, n: int) {{\n h = relu(dense(x, n))\n dense(h, n)\n}}\n\
             model m(x: f32[B, 2]) -> f32[B, 2] {{\n b1 = block(x, 3)\n dense(b1, 2)\n}}\n\
             loss(x, y) = cross_entropy(m(x), y)\n{TRAIN}"
        );
        let l = lower(&src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&l), ["b1.h.w", "b1.h.b", "b1.out.w", "b1.out.b", "out.w", "out.b"]);
        assert_eq!(l.params[0].shape, [2, 3]);
    }

    #[test]
    fn second_instance_in_one_binding_gets_a_suffix() {
        let src = format!(
            "{HEADER}model m(x: f32[B, 2]) -> f32[B, 2] {{\n h = dense(dense(x, 3), 2)\n h\n}}\n\
             loss(x, y) = cross_entropy(m(x), y)\n{TRAIN}"
        );
        let l = lower(&src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&l), ["h.w", "h.b", "h_2.w", "h_2.b"]);
    }

    #[test]
    fn the_model_is_shared_by_loss_and_metrics() {
        let src = format!(
            "{HEADER}model m(x: f32[B, 2]) -> f32[B, 2] {{ dense(x, 2) }}\nloss(x, y) = cross_entropy(m(x), y)\n{TRAIN}"
        );
        let l = lower(&src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&l), ["out.w", "out.b"], "metrics reuse the loss's parameters");
        assert!(l.forward.output("accuracy").is_some());
    }

    #[test]
    fn optimizer_state_is_named_after_its_parameter() {
        let l = lower("param w: f32[3] = ones\nloss = sum(w^2)\ntrain { optimizer = adam(lr: 0.1), steps = 1 }\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let states: Vec<&str> = l.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(states, ["w.m", "w.v"]);
        assert!(l.update.output("lr").is_some());
        assert_eq!(l.update.verify(), Ok(()));
    }

    #[test]
    fn a_cycled_momentum_is_a_hyper_output_named_by_the_optimizer() {
        let hypers = |optimizer: &str, schedule: &str| {
            let src = format!(
                "param w: f32[3] = ones\nloss = sum(w^2)\ntrain {{ optimizer = {optimizer}, schedule = {schedule}, steps = 1 }}\n"
            );
            let l = lower(&src).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(l.update.verify(), Ok(()));
            let states: Vec<String> = l.states.iter().map(|s| s.name.clone()).collect();
            let outputs = l.update.outputs.iter().filter(|o| o.role == crate::ir::OutputRole::Hyper);
            (outputs.map(|o| o.name.clone()).collect::<Vec<_>>(), states)
        };
        let cycled = "one_cycle(max_lr: 0.1, total: 10)";
        // sgd's own momentum is 0, yet the buffer stays: the schedule turns the momentum on.
        assert_eq!(hypers("sgd(lr: 0.1)", cycled), (vec!["momentum".into()], vec!["w.buf".into()]));
        assert_eq!(hypers("adam(lr: 0.1)", cycled).0, ["beta1"]);
        let off = "one_cycle(max_lr: 0.1, total: 10, cycle_momentum: false)";
        assert_eq!(hypers("sgd(lr: 0.1)", off), (vec![], vec![]));
    }

    #[test]
    fn comparisons_are_numbers_in_arithmetic() {
        let l = lower(
            "param w: f32 = 1\nloss = (w - 3)^2 * (1 < 2) + (2 < 1) * w + (1 == 1)\n\
                       train { optimizer = sgd(lr: 0.1), steps = 1 }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let loss = l.forward.output("loss").expect("a loss").node;
        let inputs = [crate::ir::interp::Tensor::new(vec![], vec![1.0])];
        let k = l.forward.outputs.iter().position(|o| o.node == loss).expect("loss output");
        assert_eq!(crate::ir::interp::eval(&l.forward, &inputs)[k].data, [5.0], "(1 - 3)² · 1 + 0 · 1 + 1");
    }

    #[test]
    fn a_fn_cannot_declare_parameters() {
        let err = lower("fn f(x) {\n param w: f32 = 0.0\n x * w\n}\nparam theta: f32 = 1.0\nloss = f(theta)\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n")
            .expect_err("must fail");
        assert!(err.contains("gradc::param::in_fn"), "{err}");
    }

    #[test]
    fn one_parameter_name_with_two_shapes_is_an_error() {
        let src = format!(
            "{HEADER}model m(x: f32[B, 2]) -> f32[B, 2] {{ dense(x, 2) }}\nmodel n(x: f32[B, 2]) -> f32[B, 3] {{ dense(x, 3) }}\n\
             loss(x, y) = cross_entropy(m(x), y) + mean(n(x))\ntrain {{ data = d, optimizer = sgd(lr: 0.1), steps = 1 }}\n"
        );
        let err = lower(&src).expect_err("out.w is [2,2] and [2,3]");
        assert!(err.contains("gradc::param::shape"), "{err}");
    }

    #[test]
    fn a_compare_block_states_the_optimum_one_number_per_parameter() {
        let module = |compare: &str| {
            let src = format!("param x: f32 = 0.0\nparam y: f32 = 0.0\nloss = (1 - x)^2 + y^2\ntrain {{ optimizer = sgd(lr: 0.1), steps = 1 }}\n{compare}\n");
            let mut sources = SourceMap::default();
            let user = sources.add("test.grad", src.clone());
            resolve(crate::syntax::parse(&src, user).expect("parses"), user, &mut sources)
        };
        let m = module("compare { optimizers = [sgd(lr: 0.1)], optimum = [1, -0.5] }").expect("valid");
        assert_eq!(m.optimum(), Some(&[("x".to_string(), 1.0), ("y".to_string(), -0.5)][..]));
        assert_eq!(module("compare { optimizers = [sgd(lr: 0.1)] }").expect("valid").optimum(), None);
        let err = module("compare { optimizers = [sgd(lr: 0.1)], optimum = [1] }").expect_err("one number short");
        assert_eq!(err.code, "gradc::compare::optimum");
        assert!(err.help.as_deref().is_some_and(|h| h.contains("x, y")), "{:?}", err.help);
    }

    #[test]
    fn compare_block_crosses_optimizers_with_schedules() {
        let src = "param theta: f32 = 0.0\nloss = theta^2\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n\
                   compare { optimizers = [sgd(lr: 0.1), adam(lr: 0.01)], schedules = [constant, exponential(gamma: 0.9)] }\n";
        let mut sources = SourceMap::default();
        let user = sources.add("test.grad", src.to_string());
        let file = crate::syntax::parse(src, user).expect("parses");
        let module =
            resolve(file, user, &mut sources).unwrap_or_else(|d| panic!("{}", d.with_sources(&sources).render_plain()));
        assert_eq!(
            module.variants(),
            [
                "sgd(lr: 0.1) + constant",
                "sgd(lr: 0.1) + exponential(gamma: 0.9)",
                "adam(lr: 0.01) + constant",
                "adam(lr: 0.01) + exponential(gamma: 0.9)"
            ]
        );
        let adam = module.with_variant(3);
        assert_eq!(adam.train().optimizer, "adam");
        let lowered = adam.lower(None, 1).expect("lowers");
        assert_eq!(lowered.states.len(), 2, "Adam's m and v");
    }

    #[test]
    fn param_groups_match_names_by_glob() {
        let g = |p: &str| ParamGroup { pattern: p.into(), set: vec![], span: Span::new(FileId(0), 0, 0) };
        assert!(g("*.b").matches("h1.b"));
        assert!(g("h1.*").matches("h1.w"));
        assert!(!g("h1.*").matches("h2.w"));
        assert!(g("*").matches("anything.at.all"));
        assert!(!g("*.b").matches("h1.bias"));
        let err = lower("param w: f32 = 1.0\nloss = w^2\ntrain { optimizer = sgd(lr: 0.1), steps = 1, param_groups = [group(\"*.b\", lr_mult: 0)] }\n")
            .expect_err("no parameter is named *.b");
        assert!(err.contains("gradc::train::group") && err.contains("the parameters are w"), "{err}");
        let err = lower("param w: f32 = 1.0\nloss = w^2\ntrain { optimizer = sgd(lr: 0.1), steps = 1, param_groups = [group(\"w\", beta2: 0.5)] }\n")
            .expect_err("sgd has no beta2");
        assert!(err.contains("has no hyper-parameter `beta2`"), "{err}");
    }

    #[test]
    fn check_rejects_bad_arguments() {
        let span = Span::new(FileId(0), 3, 9);
        for bad in [
            Init::Normal { mean: 0.0, std: -1.0 },
            Init::Normal { mean: f64::NAN, std: 1.0 },
            Init::Uniform { lo: 1.0, hi: -1.0 },
            Init::Constant(f64::INFINITY),
            Init::HeNormal { gain: f64::NAN },
            Init::XavierUniform { gain: -2.0 },
        ] {
            let d = bad.check(span).expect_err("should be rejected");
            assert_eq!(d.code, "gradc::init::invalid");
            assert_eq!(d.label.as_ref().map(|l| l.0), Some(span));
            assert!(d.help.is_some());
        }
        let d = Init::Normal { mean: 0.0, std: -1.0 }.check(span).unwrap_err();
        assert_eq!(d.message, "normal: `std` must be a finite number ≥ 0, got -1");
        assert!(Init::Uniform { lo: -1.0, hi: 1.0 }.check(span).is_ok());
        assert!(Init::HeUniform { gain: 0.0 }.check(span).is_ok());
    }
}
