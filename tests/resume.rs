//! Resuming: a run saved and resumed with `--init` is the uninterrupted run bit for bit, its
//! stopping rules included; a checkpoint that cannot resume exactly says so.

mod common;

use std::path::{Path, PathBuf};

use common::{gradc, temp_dir};

/// The checkpoint of `program` after `steps` steps, run whole, and after `split` and then the
/// rest, resumed (`--steps` counts the steps of each run); the stdout of the resumed run.
fn whole_and_resumed(dir: &Path, program: &str, steps: usize, split: usize) -> (Vec<u8>, Vec<u8>, String) {
    let path = |f: &str| dir.join(f).to_str().expect("utf-8 temp path").to_string();
    let run = |args: &[&str]| {
        let out = gradc(&[&["run", program], args].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (steps, split, rest) = (steps.to_string(), split.to_string(), (steps - split).to_string());
    run(&["--steps", &steps, "--save", &path("whole.safetensors"), "--log", &path("whole.jsonl")]);
    run(&["--steps", &split, "--save", &path("half.safetensors")]);
    let args = ["--init", &path("half.safetensors"), "--steps", &rest, "--save", &path("resumed.safetensors")];
    let stdout = run(&[&args[..], &["--log", &path("resumed.jsonl")]].concat());
    let bytes = |f: &str| std::fs::read(path(f)).expect("checkpoint written");
    (bytes("whole.safetensors"), bytes("resumed.safetensors"), stdout)
}

/// A diagnostic's rendering as one line of words: the renderer wraps long messages.
fn flat(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.split_whitespace().filter(|w| *w != "│").collect::<Vec<_>>().join(" ")
}

/// The program `text` written to a file in `dir`.
fn program(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("p.grad");
    std::fs::write(&file, text).expect("write program");
    file
}

#[test]
fn early_stopping_resumes_its_counters_and_best_parameters() {
    // Uninterrupted, the run stops at step 735 (epoch 49; 15 steps an epoch), its best epoch
    // 41, and restores that epoch's parameters. Split mid-epoch at 650, after the best epoch:
    // the resumed run must count the epochs without improvement since then, stop at the same
    // step and restore the same parameters (it trained on to step 900 with fresh counters).
    let dir = temp_dir("resume_early_stop");
    let (whole, resumed, stdout) = whole_and_resumed(&dir, "examples/mlp_training_control.grad", 900, 650);
    assert!(stdout.contains("(735 in all, resumed at step 650)"), "{stdout}");
    assert!(stdout.contains("best 0.380140 at epoch 41, its parameters restored"), "{stdout}");
    assert!(whole == resumed, "parameters, state, step and counters all match");
}

/// A classifier whose learning rate reduce-on-plateau halves every three epochs (8 steps an
/// epoch), with a cooldown.
const PLATEAU: &str = "use std.nn.{dense, relu}
use std.loss.cross_entropy
data blobs = blobs(n: 300, classes: 3, dim: 4, std: 2.5, seed: 3) |> standardize |> split(val: 0.2)
model mlp(x: f32[B, 4]) -> f32[B, 3] {
    h = relu(dense(x, 16, init: he_normal))
    dense(h, 3)
}
loss(x, y: i32[B]) = cross_entropy(mlp(x), y)
train {
    data = blobs, batch = 32, epochs = 30, shuffle = true, seed = 7, log_every = 1
    optimizer = adam(lr: 0.05)
    plateau = reduce_on_plateau(on: val_loss, patience: 1, factor: 0.5, cooldown: 1)
}
";

#[test]
fn reduce_on_plateau_resumes_its_reduced_learning_rate_and_counters() {
    let dir = temp_dir("resume_plateau");
    let file = program(&dir, PLATEAU);
    let (whole, resumed, _) = whole_and_resumed(&dir, file.to_str().expect("utf-8 temp path"), 200, 100);
    let lr = |log: &str, step: f64| {
        let lines = common::read_log(&dir.join(log));
        let line = lines.iter().find(|l| common::num(l, "step") == step && l.get("final").is_none());
        common::num(line.unwrap_or_else(|| panic!("no step {step} in {log}")), "lr")
    };
    // By the split the rate was reduced, and once more before the end: the resumed run goes
    // on at the reduced rate and reduces it when the whole run does.
    assert!(lr("whole.jsonl", 101.0) < 0.05 && lr("whole.jsonl", 200.0) < lr("whole.jsonl", 101.0));
    for step in [101.0, 150.0, 200.0] {
        assert_eq!(lr("resumed.jsonl", step).to_bits(), lr("whole.jsonl", step).to_bits(), "lr at step {step}");
    }
    assert!(whole == resumed, "parameters, state, step and plateau counters all match");
}

#[test]
fn a_loss_change_criterion_compares_with_the_loss_before_the_checkpoint() {
    // The run converges at some step S; resumed from S - 1, its first step must compare its
    // loss with the saved run's last, and converge at S too.
    let dir = temp_dir("resume_converge");
    let text = "param theta: f32 = 0.0\nloss = (theta - 3)^2\n\
                train { optimizer = sgd(lr: 0.1), steps = 1000, converge = loss_change(1e-4) }\n";
    let file = program(&dir, text);
    let file = file.to_str().expect("utf-8 temp path");
    let out = gradc(&["run", file]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let steps_line = stdout.lines().find(|l| l.starts_with("steps ")).unwrap_or_else(|| panic!("{stdout}"));
    let converged_at: usize = steps_line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a count");
    assert!(stdout.contains("converged: `loss_change`") && converged_at < 1000, "{stdout}");
    let (whole, resumed, stdout) = whole_and_resumed(&dir, file, converged_at + 50, converged_at - 1);
    assert!(stdout.contains(&format!("1 ({converged_at} in all")), "{stdout}");
    assert!(whole == resumed);
}

#[test]
fn resuming_with_another_seed_is_a_warning() {
    let dir = temp_dir("resume_seed");
    let half = dir.join("half.safetensors");
    let half = half.to_str().expect("utf-8 temp path");
    let out = gradc(&["run", "examples/spiral_mlp.grad", "--steps", "5", "--save", half]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = gradc(&["run", "examples/spiral_mlp.grad", "--init", half, "--steps", "2", "--seed", "7"]);
    let stderr = flat(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("gradc::checkpoint::seed") && stderr.contains("saved by a run of seed 42, with seed 7"));
    assert!(stderr.contains("help: ") && stderr.contains("`--seed 42`"), "{stderr}");
    // The seed it was saved with: no warning.
    let out = gradc(&["run", "examples/spiral_mlp.grad", "--init", half, "--steps", "2", "--seed", "42"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("gradc::checkpoint::seed"), "{stderr}");
}

/// Writes `tensors` of the safetensors file `from`, less those `drop` rejects, to `to`, with
/// its metadata (the step).
fn rewrite(from: &Path, to: &Path, drop: impl Fn(&str) -> bool) {
    let bytes = std::fs::read(from).expect("read checkpoint");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid");
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("valid");
    let kept: Vec<_> = file.tensors().into_iter().filter(|(n, _)| !drop(n)).collect();
    std::fs::write(to, safetensors::serialize(kept, meta.metadata().clone()).expect("encode")).expect("write");
}

#[test]
fn a_checkpoint_missing_its_optimizer_s_state_is_an_error_naming_the_tensor() {
    let dir = temp_dir("resume_missing_state");
    let half = dir.join("half.safetensors");
    let out = gradc(&["run", "examples/spiral_mlp.grad", "--steps", "5", "--save", half.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resume = |file: &Path| gradc(&["run", "examples/spiral_mlp.grad", "--init", file.to_str().expect("utf-8")]);
    // One of Adam's moments gone: it would resume with zeros for it, and the loss would jump.
    let one = dir.join("one.safetensors");
    rewrite(&half, &one, |n| n == "h2.w.v");
    // Every state tensor gone, the step kept: Adam would restart its bias corrections.
    let none = dir.join("none.safetensors");
    rewrite(&half, &none, |n| n.matches('.').count() == 2 && !n.starts_with("gradc."));
    for file in [&one, &none] {
        let out = resume(file);
        let stderr = flat(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("gradc::checkpoint::missing") && stderr.contains("resume at step 5"), "{stderr}");
        assert!(stderr.contains("help: "), "{stderr}");
    }
    assert!(flat(&resume(&one).stderr).contains("no tensor `h2.w.v`"));
    assert!(flat(&resume(&none).stderr).contains("no tensor `h1.w.m`"));
    // A checkpoint of another optimizer still starts afresh, with a note.
    let sgd = dir.join("sgd.safetensors");
    let out = gradc(&["run", "examples/quadratic.grad", "--steps", "3", "--save", sgd.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = gradc(&["run", "examples/quadratic_adam.grad", "--init", sgd.to_str().expect("utf-8"), "--steps", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("starts afresh at step 0"), "{stderr}");
}
