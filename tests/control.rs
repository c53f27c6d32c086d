//! Training control end to end: accumulation, clipping, early stopping, plateau and convergence.

mod common;

use std::path::Path;

use gradc::driver;
use gradc::driver::train;
use gradc::runtime::log::ProgressTo;
use gradc::runtime::train::{RunConfig, StopReason, Summary};

/// Compiles and trains a program written to a temporary file.
fn run(name: &str, src: &str, cfg: &RunConfig) -> Summary {
    let path = common::temp_dir(name).join("p.grad");
    std::fs::write(&path, src).expect("write program");
    let mut front =
        driver::parse(Path::new(&path)).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
    let c = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
    train(&c, cfg, ProgressTo::Hidden).unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

fn regression(batch: usize, extra: &str) -> String {
    format!(
        "use std.loss.mse\ndata d = linear(n: 64, dim: 3, noise: 0.1, seed: 3)\nparam w: f32[3, 1] = normal(std: 0.5)\nparam b: f32 = 0.0\n\
         loss(x, y) = mse(x @ w + b, y)\ntrain {{ data = d, batch = {batch}, steps = 20, shuffle = false, optimizer = adam(lr: 0.05), log_every = 1 {extra} }}\n"
    )
}

fn params_at(s: &Summary) -> Vec<Vec<f32>> {
    s.history.iter().map(|p| p.params.iter().flat_map(|(_, v)| v.clone()).collect()).collect()
}

#[test]
fn accumulating_four_batches_equals_one_batch_four_times_larger() {
    let cfg = RunConfig { threads: 1, ..RunConfig::default() };
    let big = run("acc_big", &regression(64, ""), &cfg);
    let small = run("acc_small", &regression(16, ", accumulate = 4"), &cfg);
    assert_eq!(big.steps, 20);
    assert_eq!(small.steps, 20, "steps count updates, not micro-batches");
    for (step, (a, b)) in params_at(&big).iter().zip(params_at(&small)).enumerate() {
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "step {}: {a:?} vs {b:?}", step + 1);
        }
    }
}

#[test]
fn clipping_by_norm_bounds_the_first_step() {
    // One parameter far from the optimum: the gradient 2(θ - 3) = -600 is clipped to norm 1,
    // so plain SGD moves θ by lr · 1 (up to the 1e-6 in the clip coefficient).
    let src = "param theta: f32 = -297.0\nloss = (theta - 3.0)^2\ntrain { optimizer = sgd(lr: 0.5), steps = 1, clip = global_norm(1.0), log_every = 1 }\n";
    let s = run("clip_norm", src, &RunConfig { threads: 1, ..RunConfig::default() });
    let theta = s.history[0].params[0].1[0];
    assert!((theta - (-296.5)).abs() < 1e-4, "θ after one clipped step: {theta}");
    let src = "param theta: f32 = -297.0\nloss = (theta - 3.0)^2\ntrain { optimizer = sgd(lr: 0.5), steps = 1, clip = value(0.25), log_every = 1 }\n";
    let s = run("clip_value", src, &RunConfig { threads: 1, ..RunConfig::default() });
    assert_eq!(s.history[0].params[0].1[0], -296.875, "the gradient clamps to -0.25");
}

#[test]
fn early_stopping_restores_the_best_parameters() {
    let src = "use std.nn.{dense, relu}\nuse std.loss.cross_entropy\ndata d = spirals(n: 200, noise: 0.3, seed: 2) |> split(val: 0.3)\n\
               model m(x: f32[B, 2]) -> f32[B, 2] { dense(relu(dense(x, 64, init: he_normal)), 2) }\nloss(x, y) = cross_entropy(m(x), y)\n\
               train { data = d, batch = 20, epochs = 400, optimizer = adam(lr: 0.05), metrics = [accuracy], early_stop = patience(5, on: val_loss) }\n";
    let s = run("early", src, &RunConfig { threads: 1, ..RunConfig::default() });
    let StopReason::EarlyStopped { best, restored, .. } = s.stopped else { panic!("ran to the end: {:?}", s.stopped) };
    assert!(restored);
    let val_loss = s.metrics.iter().find(|m| m.0 == "val_loss").expect("val_loss reported").1;
    assert!(
        (val_loss - best).abs() <= 1e-6 * best.max(1.0),
        "restored weights give val_loss {val_loss}, best was {best}"
    );
}

#[test]
fn plateau_reduces_the_learning_rate_by_its_factor() {
    // (θ - 3)² with a learning rate that oscillates: the loss stops improving, so lr halves.
    let src = "param theta: f32 = 0.0\nloss = (theta - 3.0)^2\n\
               train { optimizer = sgd(lr: 1.0), steps = 12, log_every = 1, plateau = reduce_on_plateau(on: loss, patience: 1, factor: 0.5) }\n";
    let s = run("plateau", src, &RunConfig { threads: 1, ..RunConfig::default() });
    let lrs: Vec<f64> = s.history.iter().map(|p| p.lr).collect();
    assert_eq!(lrs[0], 1.0);
    assert!(lrs.contains(&0.5), "lr never halved: {lrs:?}");
    assert!(lrs.windows(2).all(|w| w[1] <= w[0]), "lr only decreases: {lrs:?}");
}

#[test]
fn convergence_names_its_criterion() {
    let src = "param x: f32 = 5.0\nloss = x^2\ntrain { optimizer = sgd(lr: 0.1), steps = 100000, converge = update_norm(1e-6) }\n";
    let s = run("converge", src, &RunConfig { threads: 1, ..RunConfig::default() });
    match s.stopped {
        StopReason::Converged { criterion: "update_norm", value } => assert!(value < 1e-6),
        other => panic!("{other:?}"),
    }
    assert!(s.steps < 200, "took {} steps", s.steps);
}

#[test]
fn accumulators_are_state_every_step_shares() {
    // 60 rows in batches of 16 leave a short last batch, which runs its own executable: the
    // accumulators must be initialised and carried to it like the optimizer state.
    let path = common::temp_dir("acc_state").join("p.grad");
    std::fs::write(&path, regression(16, ", accumulate = 2").replace("n: 64", "n: 60")).expect("write program");
    let mut front = driver::parse(&path).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
    let c = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
    let names: Vec<String> =
        gradc::runtime::train::initial_values(&driver::program(&c), 0).into_iter().map(|(n, _)| n).collect();
    for expected in ["w", "b", "w.m", "w.v", "w.acc", "b.acc"] {
        assert!(names.iter().any(|n| n == expected), "`{expected}` missing from {names:?}");
    }
    let s = train(&c, &RunConfig { threads: 1, ..RunConfig::default() }, ProgressTo::Hidden).expect("trains");
    assert!(s.final_loss.is_finite() && s.final_loss < s.history[0].loss, "{} vs {}", s.final_loss, s.history[0].loss);
}
