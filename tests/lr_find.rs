//! `gradc lr-find`: the learning rate grows exponentially inside the compiled step, the
//! smoothed loss stops the test when it diverges, a suggestion is printed and plotted, and
//! nothing but the outputs is written.

mod common;

use common::{gradc, temp_dir};

fn csv(path: &std::path::Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,lr,loss,smoothed_loss"));
    lines.map(|l| l.split(',').map(|v| v.parse().expect("number")).collect()).collect()
}

#[test]
fn spiral_mlp_finds_a_learning_rate() {
    let dir = temp_dir("lr-find");
    let out_dir = dir.join("out");
    let out = gradc(&["lr-find", "examples/spiral_mlp.grad", "--out", out_dir.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let rows = csv(&out_dir.join("lr_find.csv"));
    // From 1e-7 by a constant factor (1e8)^(1/99) per step, as the step's own schedule set it.
    let ratio = 1e8f64.powf(1.0 / 99.0);
    assert!((rows[0][1] / 1e-7 - 1.0).abs() < 1e-6, "{:?}", rows[0]);
    for w in rows.windows(2) {
        assert!((w[1][1] / w[0][1] / ratio - 1.0).abs() < 1e-5, "{:?} → {:?}", w[0], w[1]);
    }
    // Debiased moving average with β = 0.98, and the stop at 4× the best.
    let (mut avg, mut best) = (0.0, f64::INFINITY);
    for (i, r) in rows.iter().enumerate() {
        avg = 0.98 * avg + 0.02 * r[2];
        let smoothed = avg / (1.0 - 0.98f64.powi(i as i32 + 1));
        assert!((smoothed - r[3]).abs() <= 1e-12 * smoothed.abs(), "{i}: {smoothed} vs {}", r[3]);
        best = best.min(smoothed);
        assert!(i + 1 == rows.len() || smoothed <= 4.0 * best, "went on after diverging at {i}");
    }
    assert!(rows.len() < 100 && rows.last().expect("points")[3] > 4.0 * best, "{} points", rows.len());
    assert!(stdout.contains("the smoothed loss passed 4× its best"), "{stdout}");
    let lr: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("suggested lr "))
        .and_then(|l| l.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no suggestion in {stdout}"));
    assert!(rows.iter().any(|r| (r[1] / lr - 1.0).abs() < 0.01), "{lr} is one of the learning rates");
    for ext in ["svg", "png"] {
        assert!(std::fs::metadata(out_dir.join(format!("lr_find.{ext}"))).expect("plot").len() > 1000);
    }
    let svg = std::fs::read_to_string(out_dir.join("lr_find.svg")).expect("svg");
    assert!(svg.contains("suggested lr"), "the suggestion is marked");
    // Only the outputs: no checkpoint or log beside them, none in the examples.
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("out")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    written.sort();
    assert_eq!(written, ["lr_find.csv", "lr_find.png", "lr_find.svg"]);
}

#[test]
fn a_short_range_completes_without_diverging() {
    let dir = temp_dir("lr-find-short");
    let out = gradc(&[
        "lr-find",
        "examples/linear_regression.grad",
        "--from",
        "1e-4",
        "--to",
        "1e-2",
        "--steps",
        "20",
        "--out",
        dir.to_str().expect("utf-8"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.starts_with("20 steps, reached lr 1.00e-2\n"), "{stdout}");
    let rows = csv(&dir.join("lr_find.csv"));
    assert!((rows[19][1] / 1e-2 - 1.0).abs() < 1e-6, "the last step trains at --to: {:?}", rows[19]);
}

#[test]
fn an_empty_range_is_an_error() {
    let out = gradc(&["lr-find", "examples/spiral_mlp.grad", "--from", "1", "--to", "0.1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to 1e-1 is not above --from 1e0"));
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_not_replaced() {
    let dir = temp_dir("lr-find-link");
    let target = dir.join("elsewhere.txt");
    std::fs::write(&target, "keep").expect("write");
    std::os::unix::fs::symlink(&target, dir.join("lr_find.csv")).expect("symlink");
    let out = gradc(&["lr-find", "examples/quadratic.grad", "--steps", "5", "--out", dir.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lr_find.csv"));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");
}
