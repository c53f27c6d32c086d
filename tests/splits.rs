//! Named validation and test sets end to end: `split(val: ..., test: ...)` of one declaration
//! and `val = ...`, `test = ...` declarations, with `test_*` scores in the summary and the
//! log's final line, and standardization by the training rows' statistics.

mod common;

use std::path::Path;

use common::{gradc, num, read_log, temp_dir};

/// Runs `source` (written into `dir` as `m.grad`) with `args`; returns the log lines and stdout.
fn run(dir: &Path, source: &str, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let file = dir.join("m.grad");
    std::fs::write(&file, source).expect("write m.grad");
    let log = dir.join("log.jsonl");
    let mut all = vec!["run", file.to_str().expect("utf-8"), "--log", log.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    let out = gradc(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (read_log(&log), String::from_utf8_lossy(&out.stdout).into_owned())
}

const SPIRALS: &str = "use std.nn.*\nuse std.loss.cross_entropy\n\
    data d = spirals(n: 400, noise: 0.05, seed: 3) |> standardize |> split(val: 0.2, test: 0.25)\n\
    model m(x: f32[B, 2]) -> f32[B, 2] { dense(tanh(dense(x, 32)), 2) }\n\
    loss(x, y: i32[B]) = cross_entropy(m(x), y)\n\
    train { data = d, batch = 32, epochs = 30, seed = 2, optimizer = adam(lr: 0.02), metrics = [accuracy] }\n";

#[test]
fn a_three_way_split_scores_the_test_set_once_at_the_end() {
    let dir = temp_dir("three_way");
    let (lines, stdout) = run(&dir, SPIRALS, &[]);
    let (last, steps) = lines.split_last().expect("a final line");
    assert!(steps.iter().all(|l| l.get("test_loss").is_none() && l.get("val_loss").is_some()), "{steps:?}");
    assert_eq!(last["final"], true);
    assert!(num(last, "test_accuracy") > 0.9, "{last}");
    assert!(num(last, "test_loss") < 0.5, "{last}");
    for key in ["val_loss", "val_accuracy", "test_loss", "test_accuracy"] {
        let line = stdout.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no `{key}` in\n{stdout}"));
        let printed: f64 = line[key.len()..].trim().parse().expect("a number");
        assert!((printed - num(last, key)).abs() <= 5e-5, "{line} against {last}");
    }
}

/// A CSV file of `y = x` at the given `x`s (one feature, one target).
fn line_csv(path: &Path, xs: impl Iterator<Item = f64>) {
    let rows: String = xs.map(|x| format!("{x},{x}\n")).collect();
    std::fs::write(path, format!("x,y\n{rows}")).expect("write csv");
}

#[test]
fn a_test_file_is_standardized_with_the_training_rows_statistics() {
    // Trained on x in [0, 1), tested on x in [10, 11): a model of y = x on standardized inputs
    // scores the test rows only if they are mapped as the training rows were. With the test
    // file's own statistics its rows would look like the training rows, and predict about 0.5.
    let dir = temp_dir("standardize_test_file");
    line_csv(&dir.join("train.csv"), (0..50).map(|i| f64::from(i) / 50.0));
    line_csv(&dir.join("test.csv"), (0..20).map(|i| 10.0 + f64::from(i) / 20.0));
    let src = "use std.loss.mse\n\
        data d = csv(\"train.csv\", target: \"y\") |> standardize\n\
        data t = csv(\"test.csv\", target: \"y\") |> standardize\n\
        param w: f32[1, 1] = zeros\nparam b: f32 = 0.0\n\
        loss(x, y) = mse(x @ w + b, y)\n\
        train { data = d, test = t, optimizer = sgd(lr: 0.3), steps = 400, shuffle = false }\n";
    let (lines, stdout) = run(&dir, src, &[]);
    let last = lines.last().expect("a final line");
    assert!(num(last, "loss") < 1e-6, "trains: {last}");
    assert!(num(last, "test_loss") < 1e-4, "the test rows keep their place on the line: {last}\n{stdout}");
    // Without `|> standardize` on the test declaration the training data's stages still apply.
    let (lines, _) = run(&dir, &src.replace("\"y\") |> standardize\nparam", "\"y\")\nparam"), &[]);
    assert!(num(lines.last().expect("a final line"), "test_loss") < 1e-4);
}

#[test]
fn a_separate_validation_file_is_watched() {
    let dir = temp_dir("val_file");
    line_csv(&dir.join("train.csv"), (0..50).map(|i| f64::from(i) / 50.0));
    line_csv(&dir.join("val.csv"), (0..10).map(|i| 0.05 + f64::from(i) / 10.0));
    let src = "use std.loss.mse\n\
        data d = csv(\"train.csv\", target: \"y\")\ndata v = csv(\"val.csv\", target: \"y\")\n\
        param w: f32[1, 1] = zeros\nparam b: f32 = 0.0\n\
        loss(x, y) = mse(x @ w + b, y)\n\
        train { data = d, val = v, optimizer = sgd(lr: 0.5), epochs = 200, batch = 50,\n\
                early_stop = patience(5, on: val_loss, min_delta: 1e-9) }\n";
    let (lines, _) = run(&dir, src, &[]);
    let last = lines.last().expect("a final line");
    assert!(num(last, "val_loss") < 1e-3, "{last}");
    assert!(last.get("test_loss").is_none(), "no test set, no test scores: {last}");
}

#[test]
fn test_data_of_another_shape_is_a_diagnostic() {
    let dir = temp_dir("test_shape");
    line_csv(&dir.join("train.csv"), (0..10).map(f64::from));
    std::fs::write(dir.join("test.csv"), "a,b,y\n1,2,3\n").expect("write");
    let src = "use std.loss.mse\ndata d = csv(\"train.csv\", target: \"y\")\ndata t = csv(\"test.csv\", target: \"y\")\n\
        param w: f32[1, 1] = zeros\nloss(x, y) = mse(x @ w, y)\ntrain { data = d, test = t, optimizer = sgd(lr: 0.1), steps = 1 }\n";
    let file = dir.join("m.grad");
    std::fs::write(&file, src).expect("write");
    let out = gradc(&["check", file.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("gradc::data::shape") && stderr.contains("`t` has rows of shape [2]"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
}
