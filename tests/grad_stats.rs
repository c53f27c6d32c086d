//! `gradc run --grad-stats` end to end: the statistics lines of the log and their steps, their
//! values against norms computed here from `gradc grad --values` and the saved weights, a
//! dead-ReLU fraction known exactly, the vanishing and exploding warnings, and a run's numbers
//! unchanged by computing the statistics (and by the thread count while computing them).

mod common;

use std::path::Path;

use common::{gradc, num, read_log, temp_dir};
use safetensors::tensor::{Dtype, TensorView};

/// Runs gradc and returns its stderr; fails the test if gradc fails.
fn run_ok(args: &[&str]) -> String {
    let out = gradc(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "gradc {args:?} failed:\n{stderr}");
    stderr
}

/// The f32 tensors of a safetensors file that are parameters (not gradc's run state), by name.
fn read_tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).expect("read safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let mut out: Vec<(String, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("gradc."))
        .map(|(name, view)| {
            let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (name, data)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Writes f32 tensors to a safetensors file.
fn write_tensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.2.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| (t.0, TensorView::new(Dtype::F32, t.1.clone(), b).expect("a valid tensor")))
        .collect();
    safetensors::serialize_to_file(views, None, path).expect("write safetensors");
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-30)
}

/// The log's statistics lines (those with `grad_norm`) and its other lines.
fn split(lines: Vec<serde_json::Value>) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    lines.into_iter().partition(|l| l.get("grad_norm").is_some())
}

#[test]
fn statistics_equal_norms_of_the_saved_gradients_and_weights() {
    let dir = temp_dir("grad-stats-values");
    let file = "tests/fixtures/health/relu_probe.grad";
    let path = |name: &str| dir.join(name).to_str().expect("utf-8 temp path").to_string();
    // Units 0–2 of `h` have no weights and bias −1, so they are 0 on every row: dead. Unit 3
    // has bias 0.5 and is positive on some rows.
    let w0 = [
        ("h.w", vec![2, 4], vec![0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, -0.2]),
        ("h.b", vec![4], vec![-1.0, -1.0, -1.0, 0.5]),
        ("out.w", vec![4, 2], vec![0.5, -0.4, 0.3, 0.2, -0.1, 0.6, 0.7, -0.8]),
        ("out.b", vec![2], vec![0.1, -0.2]),
    ];
    write_tensors(&dir.join("w0.safetensors"), &w0);
    run_ok(&["grad", file, "--values", "--init", &path("w0.safetensors"), "--save", &path("g.safetensors")]);
    let run = ["run", file, "--init", &path("w0.safetensors"), "--steps", "1", "--grad-stats=1"];
    run_ok(&[&run[..], &["--save", &path("w1.safetensors"), "--log", &path("log.jsonl")]].concat());
    let (stats, _) = split(read_log(&dir.join("log.jsonl")));
    assert_eq!(stats.len(), 1, "{stats:?}");
    let line = &stats[0];
    assert_eq!(num(line, "step"), 1.0);
    assert_eq!(line["dead_relu"]["h"].as_f64(), Some(0.75), "three of four units are dead: {line}");
    let grads = read_tensors(&dir.join("g.safetensors"));
    let w1 = read_tensors(&dir.join("w1.safetensors"));
    for (name, _, before) in &w0 {
        let g = &grads.iter().find(|t| t.0 == *name).expect("a gradient per parameter").1;
        let after = &w1.iter().find(|t| t.0 == *name).expect("a saved parameter").1;
        // f32 sums in another order than these f64 ones: agreement to a few ulps of f32.
        let logged = line["grad_norm"][name].as_f64().expect("a gradient norm");
        assert!(close(logged, norm(g), 1e-5), "{name}: logged {logged}, from the gradient {}", norm(g));
        let change: Vec<f32> = after.iter().zip(before).map(|(a, b)| a - b).collect();
        let ratio = norm(&change) / norm(before);
        let logged = line["update_ratio"][name].as_f64().expect("an update ratio");
        assert!(close(logged, ratio, 1e-4), "{name}: logged {logged}, from the weights {ratio}");
    }
}

#[test]
fn statistics_leave_the_run_unchanged_whatever_the_thread_count() {
    let files = [
        ("examples/spiral_mlp.grad", "--grad-stats=25"),
        ("examples/mlp_training_control.grad", "--grad-stats=7"),
        ("tests/fixtures/health/accumulate.grad", "--grad-stats=10"),
    ];
    for (file, stats) in files {
        let dir = temp_dir("grad-stats-identity");
        let mut runs = Vec::new();
        for (name, extra) in [("off", vec![]), ("on", vec![stats]), ("on1", vec![stats, "--threads", "1"])] {
            let (log, save) = (dir.join(format!("{name}.jsonl")), dir.join(format!("{name}.safetensors")));
            let (log_s, save_s) = (log.to_str().unwrap(), save.to_str().unwrap());
            let args = [&["run", file, "--steps", "100", "--log", log_s, "--save", save_s][..], &extra].concat();
            run_ok(&args);
            runs.push((split(read_log(&log)), std::fs::read(&save).expect("saved")));
        }
        let ((none, off_lines), off_weights) = &runs[0];
        assert!(none.is_empty(), "{file}: no statistics unless asked");
        for ((stats_lines, lines), weights) in &runs[1..] {
            assert_eq!(lines, off_lines, "{file}: the same losses, metrics and parameters at every logged step");
            assert!(weights == off_weights, "{file}: the same final weights and optimizer state, bit for bit");
            let steps: Vec<f64> = stats_lines.iter().map(|l| num(l, "step")).collect();
            let every: f64 = stats.trim_start_matches("--grad-stats=").parse().unwrap();
            let want: Vec<f64> = (1..).map(|k| k as f64 * every).take_while(|s| *s <= 100.0).collect();
            assert_eq!(steps, want, "{file}: a statistics line every {stats} steps");
        }
        assert_eq!(runs[1].0, runs[2].0, "{file}: the statistics do not depend on the thread count");
    }
}

#[test]
fn deep_sigmoid_layers_warn_of_vanishing_gradients_and_the_spiral_does_not() {
    let dir = temp_dir("grad-stats-vanishing");
    let log = dir.join("log.jsonl");
    let file = "tests/fixtures/health/deep_sigmoid.grad";
    let stderr = run_ok(&["run", file, "-q", "--log", log.to_str().unwrap()]);
    // The train block's `grad_stats = 20`, over 300 steps.
    let (stats, _) = split(read_log(&log));
    let steps: Vec<f64> = stats.iter().map(|l| num(l, "step")).collect();
    assert_eq!(steps, (1..=15).map(|k| f64::from(k) * 20.0).collect::<Vec<_>>());
    assert!(stderr.contains("gradc::train::vanishing"), "{stderr}");
    assert!(stderr.contains("the gradient of layer `h1` vanishes"), "{stderr}");
    for layer in ["h5", "h6", "h7", "h8", "out"] {
        assert!(!stderr.contains(&format!("layer `{layer}`")), "the last layers learn: {stderr}");
    }
    let stderr = run_ok(&["run", "examples/spiral_mlp.grad", "-q", "--grad-stats"]);
    assert!(!stderr.contains("vanishes") && !stderr.contains("explodes"), "{stderr}");
}

#[test]
fn a_steep_loss_warns_of_exploding_gradients() {
    let stderr = run_ok(&["run", "tests/fixtures/health/steep.grad", "-q"]);
    assert!(stderr.contains("gradc::train::exploding"), "{stderr}");
    assert!(stderr.contains("the gradient of layer `theta` explodes"), "{stderr}");
    assert!(stderr.contains("(steps 1 to 5)"), "{stderr}");
}
