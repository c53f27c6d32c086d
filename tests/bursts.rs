//! Many steps in one native call: a run whose steps go in bursts gives the bytes of the same run
//! stepped one at a time (`--step-by-step`) — its log and its checkpoint — whatever cuts the
//! bursts (log points, epoch ends under early stopping, the short batch, the end) and across save
//! and resume; and `Executable::run_steps` over n records is n runs of the step.

mod common;

use std::path::Path;

use common::{gradc, temp_dir};
use gradc::codegen::{CompileOptions, Record};
use gradc::driver;
use gradc::runtime::runner::{Runner, Steps};

/// Spirals with a short last batch (200 rows, batch 24), shuffling, dropout (so the random
/// words change every step) and a step schedule of the learning rate.
const SPIRAL: &str = "use std.nn.{dense, relu, dropout}
use std.loss.cross_entropy
data spiral = spirals(n: 100, classes: 2, noise: 0.05, seed: 1)
model mlp(x: f32[B, 2]) -> f32[B, 2] {
    h1 = dropout(relu(dense(x, 32, init: he_normal)), 0.1)
    h2 = relu(dense(h1, 32, init: he_normal))
    dense(h2, 2)
}
loss(x, y: i32[B]) = cross_entropy(mlp(x), y)
train {
    data = spiral, batch = 24, epochs = 40, shuffle = true, seed = 42
    optimizer = adam(lr: 0.01)
    schedule = step(size: 50, gamma: 0.5)
    metrics = [accuracy]
}
";

/// Runs `gradc run program args` saving to `dir/name.safetensors` and logging to
/// `dir/name.jsonl`; returns the log's and the checkpoint's bytes.
fn run(dir: &Path, name: &str, program: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let (log, save) = (dir.join(format!("{name}.jsonl")), dir.join(format!("{name}.safetensors")));
    let (log_s, save_s) = (log.to_str().expect("utf-8"), save.to_str().expect("utf-8"));
    let mut all = vec!["run", program, "-q", "--log", log_s, "--save", save_s];
    all.extend_from_slice(args);
    let out = gradc(&all);
    assert!(out.status.success(), "gradc {all:?}: {}", String::from_utf8_lossy(&out.stderr));
    (std::fs::read(&log).expect("the log"), std::fs::read(&save).expect("the checkpoint"))
}

/// The program's log and checkpoint in bursts and stepped one at a time are the same bytes.
fn same_in_bursts(program: &str, args: &[&str]) {
    let dir = temp_dir("bursts");
    let burst = run(&dir, "burst", program, args);
    let stepped = run(&dir, "stepped", program, &[args, &["--step-by-step"]].concat());
    assert!(burst.0 == stepped.0, "{program} {args:?}: the logs differ");
    assert!(burst.1 == stepped.1, "{program} {args:?}: the checkpoints differ");
}

/// `program` written to a file in a fresh directory.
fn program_file(text: &str) -> String {
    let file = temp_dir("program").join("p.grad");
    std::fs::write(&file, text).expect("writing the program");
    file.to_str().expect("utf-8").to_string()
}

#[test]
fn the_quadratic_in_bursts_is_the_quadratic_stepped() {
    same_in_bursts("examples/quadratic.grad", &["--steps", "1000", "--log-every", "100"]);
    same_in_bursts("examples/quadratic.grad", &["--steps", "1000", "--log-every", "333"]);
    same_in_bursts("examples/quadratic_adam.grad", &[]);
}

#[test]
fn a_shuffled_spiral_with_dropout_and_a_schedule_in_bursts_is_the_same() {
    let file = program_file(SPIRAL);
    same_in_bursts(&file, &[]);
    same_in_bursts(&file, &["--log-every", "7"]);
}

#[test]
fn early_stopping_with_log_points_cuts_bursts_where_the_host_looks() {
    // A validation split, warm-up then cosine, clipping, early stopping that restores the best.
    same_in_bursts("examples/mlp_training_control.grad", &["--log-every", "7"]);
    same_in_bursts("examples/mlp_training_control.grad", &[]);
}

#[test]
fn gradient_health_statistics_cut_bursts_where_they_are_read() {
    let file = program_file(SPIRAL);
    same_in_bursts(&file, &["--grad-stats=5"]);
    same_in_bursts(&file, &["--grad-stats", "--log-every", "9"]);
}

#[test]
fn a_run_saved_and_resumed_in_bursts_is_the_run_stepped_whole() {
    let file = program_file(SPIRAL);
    let dir = temp_dir("resumed-bursts");
    let (_, whole) = run(&dir, "whole", &file, &["--steps", "300", "--step-by-step"]);
    run(&dir, "half", &file, &["--steps", "130"]);
    let half = dir.join("half.safetensors");
    let (_, resumed) = run(&dir, "resumed", &file, &["--init", half.to_str().expect("utf-8"), "--steps", "170"]);
    assert!(whole == resumed, "the resumed checkpoint differs from the whole run's");
}

/// The train step of `text` and a runner for it.
fn train_step(text: &str) -> Runner {
    let file = program_file(text);
    let mut front = driver::parse(Path::new(&file)).unwrap_or_else(|(d, _)| panic!("{}", d.render_plain()));
    let compiled = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let opts = CompileOptions { verify: true, keep_clif: false, threads: 1, flush_denormals: false };
    let exe = driver::jit(&compiled.optimized, &opts).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    Runner::new(&compiled.optimized, exe)
}

/// The steps inputs of update `t` (from 1).
fn steps(t: usize) -> Steps {
    Steps { t, apply: true, epoch: t - 1, lr_scale: 1.0, seed: 3, micro: t - 1 }
}

#[test]
fn run_steps_over_n_records_is_n_runs_and_stops_after_a_non_finite_loss() {
    // Adam reads `t`; at this learning rate SGD from 0 overflows after a few dozen steps.
    let adam = "param w: f32[3] = 0.5\nloss = sum((w - 2.0)^2)\ntrain { optimizer = adam(lr: 0.1), steps = 10 }\n";
    let blows = "param w: f32 = 1.0\nloss = (w - 2.0)^2\ntrain { optimizer = sgd(lr: 10.0), steps = 10 }\n";
    for (text, n, diverges) in [(adam, 200, false), (blows, 400, true)] {
        let (mut one, mut many) = (train_step(text), train_step(text));
        let len = one.record_len(Record::Steps);
        assert!(len >= 1, "the step reads t");
        let mut one_losses = Vec::new();
        for t in 1..=n {
            one.set_steps(&steps(t));
            one.exe.run();
            one_losses.push(one.loss());
            if !one.loss().is_finite() {
                break;
            }
        }
        let mut records = vec![0.0; n * len];
        for t in 1..=n {
            many.step_record(&steps(t), &mut records[(t - 1) * len..t * len]);
        }
        let mut losses = vec![0.0; n];
        let done = many.exe.run_steps(n, Some(&records), None, &mut losses);
        assert_eq!(done, one_losses.len(), "steps run");
        assert_eq!(done < n, diverges, "{done} of {n} steps ran");
        let bits = |l: &[f64]| l.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let many_losses: Vec<f64> = losses[..done].iter().map(|&l| f64::from(l) + 0.0).collect();
        assert_eq!(bits(&many_losses), bits(&one_losses));
        assert_eq!(one.exe.input("w").map(<[f32]>::to_vec), many.exe.input("w").map(<[f32]>::to_vec));
    }
}
