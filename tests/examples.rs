//! End-to-end runs of the bundled examples through the CLI, checked against closed forms.

mod common;

use common::{gradc, num, run_logged};

/// Every logged step of a one-parameter run: (loss before the update, θ after it).
fn trajectory(file: &str) -> Vec<(f64, f64)> {
    let (lines, _) = run_logged(file, &[]);
    let steps: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("final").is_none()).collect();
    assert_eq!(steps.len(), 100, "one line per step");
    for (i, l) in steps.iter().enumerate() {
        assert_eq!(num(l, "step") as usize, i + 1);
    }
    steps.iter().map(|l| (num(l, "loss"), num(l, "theta"))).collect()
}

/// Checks a run against the closed-form update `rule(θ, g, t) -> θ'` from θ = 0, in f64.
fn check_against(file: &str, mut rule: impl FnMut(f64, f64, f64) -> f64) {
    let got = trajectory(file);
    let mut theta = 0.0f64;
    for (t, &(loss, theta_after)) in got.iter().enumerate() {
        let expected_loss = (theta - 3.0).powi(2);
        assert!(
            (loss - expected_loss).abs() <= 1e-6 * expected_loss.max(1.0),
            "{file} step {}: loss {loss} vs {expected_loss}",
            t + 1
        );
        theta = rule(theta, 2.0 * (theta - 3.0), (t + 1) as f64);
        assert!((theta_after - theta).abs() <= 1e-6, "{file} step {}: θ {theta_after} vs closed form {theta}", t + 1);
    }
}

#[test]
fn quadratic_gradient_descent_converges_to_3() {
    check_against("examples/quadratic.grad", |p, g, _| p - 0.1 * g);
    let got = trajectory("examples/quadratic.grad");
    assert!((got[99].1 - 3.0).abs() <= 1e-6, "θ ends at {}", got[99].1);
}

#[test]
fn quadratic_momentum_matches_closed_form() {
    let mut buf = 0.0;
    check_against("examples/quadratic_momentum.grad", |p, g, _| {
        buf = 0.9 * buf + g;
        p - 0.01 * buf
    });
}

#[test]
fn quadratic_rmsprop_matches_closed_form() {
    let mut sq = 0.0;
    check_against("examples/quadratic_rmsprop.grad", |p, g, _| {
        sq = 0.99 * sq + 0.01 * g * g;
        p - 0.01 * g / (sq.sqrt() + 1e-8)
    });
}

#[test]
fn quadratic_adam_matches_closed_form() {
    let (mut m, mut v) = (0.0, 0.0);
    check_against("examples/quadratic_adam.grad", |p, g, t| {
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        let step = 0.1 / (1.0 - 0.9f64.powf(t));
        p - step * m / (v.sqrt() / (1.0 - 0.999f64.powf(t)).sqrt() + 1e-8)
    });
}

#[test]
fn linear_regression_recovers_true_weights() {
    let (lines, _) = run_logged("examples/linear_regression.grad", &[]);
    let last = lines.last().expect("a final line");
    assert_eq!(last["final"], serde_json::Value::Bool(true));
    let truth = gradc::data::generate::linear_truth(
        &gradc::data::generate::Linear { n: 200, dim: 3, noise: 0.001, weights: None, bias: None },
        7,
        gradc::diag::Span::new(gradc::diag::FileId(0), 0, 0),
    )
    .expect("valid generator arguments");
    let w: Vec<f64> = last["w"].as_array().expect("w logged").iter().map(|v| v.as_f64().expect("number")).collect();
    assert_eq!(w.len(), 3);
    for (learned, true_w) in w.iter().zip(&truth.weights) {
        assert!((learned - true_w).abs() <= 1e-3, "w {w:?} vs truth {:?}", truth.weights);
    }
    assert!((num(last, "b") - truth.bias).abs() <= 1e-3, "b {} vs {}", num(last, "b"), truth.bias);
}

#[test]
fn spiral_mlp_reaches_97_percent() {
    let (lines, stdout) = run_logged("examples/spiral_mlp.grad", &[]);
    let last = lines.last().expect("a final line");
    let acc = num(last, "accuracy");
    assert!(acc >= 0.97, "training accuracy {acc}\n{stdout}");
    for key in ["final loss", "accuracy", "wall time", "steps/s", "compile time"] {
        assert!(stdout.contains(key), "summary lacks `{key}`:\n{stdout}");
    }
}

#[test]
fn blobs_softmax_from_csv_classifies() {
    let (lines, _) = run_logged("examples/blobs_softmax.grad", &[]);
    let acc = num(lines.last().expect("a final line"), "accuracy");
    assert!(acc >= 0.95, "training accuracy {acc}");
}

#[test]
fn glyphs_mlp_on_idx_images_reaches_95_percent_validation_and_test_accuracy() {
    let (lines, stdout) = run_logged("examples/glyphs_mlp.grad", &[]);
    let last = lines.last().expect("a final line");
    let acc = num(last, "val_accuracy");
    assert!(acc >= 0.95, "validation accuracy {acc}\n{stdout}");
    let acc = num(last, "test_accuracy");
    assert!(acc >= 0.95, "test accuracy {acc}\n{stdout}");
    assert!(stdout.contains("\ntest_accuracy "), "the summary reports it: {stdout}");
}

#[test]
fn mnist_cnn_with_batch_norm_and_dropout_reaches_99_percent_test_accuracy() {
    let (lines, stdout) = run_logged("examples/mnist_cnn.grad", &[]);
    let last = lines.last().expect("a final line");
    let (val, test) = (num(last, "val_accuracy"), num(last, "test_accuracy"));
    assert!(val >= 0.97 && test >= 0.99, "validation accuracy {val}, test accuracy {test}\n{stdout}");
}

#[test]
fn residual_cnn_reaches_97_percent_validation_accuracy() {
    let (lines, stdout) = run_logged("examples/residual_cnn.grad", &[]);
    let acc = num(lines.last().expect("a final line"), "val_accuracy");
    assert!(acc >= 0.97, "validation accuracy {acc}\n{stdout}");
}

#[test]
fn seed_experiment_ranks_an_mlp_and_two_cnns_under_three_optimizers() {
    let dir = common::temp_dir("seed_experiment").join("out");
    let out = gradc(&["compare", "examples/seed_experiment.grad", "--out", dir.to_str().expect("utf-8 temp path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("runs by test_accuracy, highest first"));
    let header: Vec<&str> = lines.next().expect("a header").split("  ").filter(|c| !c.is_empty()).collect();
    let column = header.iter().position(|c| c.trim() == "test_accuracy").expect("a test_accuracy column");
    // Each row: the label, then the columns, two spaces or more apart.
    let rows: Vec<(String, f64)> = lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
            (cells[0].to_string(), cells[column].parse().unwrap_or_else(|_| panic!("a number in {l}")))
        })
        .collect();
    assert_eq!(rows.len(), 9, "three models times three optimizers:\n{stdout}");
    for model in ["mlp", "cnn", "cnn_bn"] {
        for optimizer in ["sgd(lr: 0.05)", "momentum(lr: 0.02, momentum: 0.9)", "adam(lr: 0.002)"] {
            let label = format!("{model} · {optimizer}");
            assert!(rows.iter().any(|r| r.0 == label), "a row for {label}:\n{stdout}");
        }
    }
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "best first:\n{stdout}");
    assert!(rows[0].0.starts_with("cnn") && rows[0].1 >= 0.98, "a CNN leads with at least 98%:\n{stdout}");
    assert!(rows.iter().all(|r| r.1 >= 0.85), "every run learns:\n{stdout}");
    for file in ["curves.png", "curves.svg", "cnn_adam_lr_0.002.csv"] {
        assert!(dir.join(file).exists(), "{file} written");
    }
}

#[test]
fn flags_override_the_train_block() {
    let (lines, stdout) = run_logged("examples/quadratic.grad", &["--steps", "7", "--log-every", "7"]);
    assert!(stdout.contains("steps        7"), "{stdout}");
    assert_eq!(num(&lines[0], "step"), 7.0);
    let (a, _) = run_logged("examples/spiral_mlp.grad", &["--epochs", "1", "--seed", "5"]);
    let (b, _) = run_logged("examples/spiral_mlp.grad", &["--epochs", "1", "--seed", "5"]);
    assert_eq!(a, b, "the same seed gives the same run");
}

#[test]
fn check_accepts_every_example() {
    for entry in std::fs::read_dir(common::root().join("examples")).expect("examples dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "grad") {
            let rel = format!("examples/{}", path.file_name().expect("file name").to_string_lossy());
            let out = gradc(&["check", &rel]);
            assert!(out.status.success(), "{rel}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn training_controls_work_together() {
    let (lines, stdout) = run_logged("examples/mlp_training_control.grad", &[]);
    let last = lines.last().expect("a final line");
    assert!(num(last, "val_accuracy") >= 0.8, "validation accuracy {}", num(last, "val_accuracy"));
    assert!(stdout.contains("stopped      early stopping: `val_loss` stopped improving"), "{stdout}");
    // Warm-up then cosine: the logged learning rate rises to 0.003, then falls.
    let lrs: Vec<f64> = lines.iter().filter(|l| l.get("final").is_none()).map(|l| num(l, "lr")).collect();
    let peak = lrs.iter().cloned().fold(0.0, f64::max);
    assert!((peak - 0.003).abs() < 1e-4, "peak lr {peak}: {lrs:?}");
    assert!(lrs[0] < peak && *lrs.last().expect("some lines") < peak, "{lrs:?}");
}

#[test]
fn a_resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    // 13 batches per epoch: the save at step 18 falls mid-epoch, in shuffled order, with Adam.
    let dir = common::temp_dir("resume");
    let file = |f: &str| dir.join(f).to_str().expect("utf-8").to_string();
    let run = |args: &[&str]| {
        let out = gradc(&[&["run", "examples/spiral_mlp.grad"], args].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["--steps", "37", "--save", &file("whole.safetensors")]);
    run(&["--steps", "18", "--save", &file("half.safetensors")]);
    run(&["--init", &file("half.safetensors"), "--steps", "19", "--save", &file("resumed.safetensors")]);
    let bytes = |f: &str| std::fs::read(file(f)).expect("checkpoint written");
    assert!(bytes("whole.safetensors") == bytes("resumed.safetensors"), "parameters, state and step all match");
}

/// A resumed run's summary counts its own steps and the total; a checkpoint claiming more
/// steps than any run can take is rejected (2^64 - 1 wrapped around and trained 0 steps).
#[test]
fn a_resumed_run_reports_its_steps_and_a_bogus_step_count_is_refused() {
    let dir = common::temp_dir("resume_summary");
    let half = dir.join("half.safetensors");
    let half = half.to_str().expect("utf-8 temp path");
    let out = gradc(&["run", "examples/quadratic.grad", "--steps", "5", "--save", half]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = gradc(&["run", "examples/quadratic.grad", "--init", half, "--steps", "7"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("steps        7 (12 in all, resumed at step 5)\n"), "{stdout}");

    let bogus = dir.join("bogus.safetensors");
    let theta = 1.0f32.to_le_bytes();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![], &theta).expect("one f32");
    let meta = std::collections::HashMap::from([("gradc.step".to_string(), u64::MAX.to_string())]);
    std::fs::write(&bogus, safetensors::serialize([("theta", view)], Some(meta)).expect("encode")).expect("write");
    let out = gradc(&["run", "examples/quadratic.grad", "--init", bogus.to_str().expect("utf-8 temp path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gradc::checkpoint::corrupt") && stderr.contains("18446744073709551615"), "{stderr}");
}

/// A loss of -0 (`-(w * w)` at w = 0) prints and logs as 0, not `-0.000000` and `-0.0`.
#[test]
fn a_negative_zero_loss_reports_as_zero() {
    let dir = common::temp_dir("negative_zero");
    let src = dir.join("p.grad");
    std::fs::write(&src, "param w: f32 = 0.0\nloss = -(w * w)\ntrain { optimizer = sgd(lr: 0.1), steps = 2 }\n")
        .expect("write program");
    let (log, stdout) = common::run_logged(src.to_str().expect("utf-8 temp path"), &[]);
    assert!(stdout.starts_with("final loss   0.000000\n"), "{stdout}");
    for line in &log {
        let loss = common::num(line, "loss");
        assert!(loss == 0.0 && loss.is_sign_positive(), "{line}");
    }
}
