//! Parity with PyTorch: each `tests/parity/<name>.grad` trains a linear model from
//! `tests/parity/init.safetensors`, and its parameters and learning rate (and momentum, where
//! the schedule cycles it) after every step must match `tests/parity/data/<name>.json`, the same run by torch.optim (or Keras' FTRL formula)
//! in float64, written by `tests/parity/gen.py`. Python is needed only to regenerate fixtures.
//! `cargo test --test parity -- --nocapture` prints the largest relative error of each.
//!
//! Also here: `gradc run --init` and `--save` end to end.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{gradc, read_log, temp_dir};
use serde_json::Value;

/// Allowed relative error: |gradc − reference| ≤ REL · max(|reference|, floor).
const REL: f64 = 1e-5;

/// Floor for parameters. This problem's parameters are O(1) (they head for w ≈ [1.5, −2, 0.5],
/// b ≈ 0.3), so a coordinate passing through zero carries the rounding of the O(1) terms it is
/// computed from, and its error relative to its own tiny value would mean nothing. 1e-5 × 0.01 =
/// 1e-7 absolute is still about one f32 ulp at 1. (No coordinate of today's fixtures comes near
/// zero, so the floor is not reached: every comparison is purely relative.)
const PARAM_FLOOR: f64 = 0.01;

/// Floor for the learning rate, as a fraction of the run's largest lr: a schedule that decays to
/// zero or nearly (PolynomialLR reaches exactly 0, OneCycleLR 4e-7) is judged at its own scale,
/// and 0 against 0 is no error rather than 0/0.
const LR_FLOOR: f64 = 1e-3;

/// Floor for a cycled momentum or beta1, which stays within [0.8, 0.95] in every fixture: the
/// comparison is purely relative.
const MOMENTUM_FLOOR: f64 = 0.01;

/// The keys of a log line and of a fixture step that are not a cycled hyper-parameter.
const NOT_HYPER: [&str; 5] = ["step", "loss", "lr", "w", "b"];

fn parity_dir() -> PathBuf {
    common::root().join("tests/parity")
}

/// Names of the files in `dir` with extension `ext`, sorted.
fn stems(dir: &Path, ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| p.file_stem().expect("file name").to_string_lossy().into_owned())
        .collect()
}

/// A log or fixture value as a flat list: a number for a one-element parameter, else an array.
fn flat(v: &Value, what: &str) -> Vec<f64> {
    match v {
        Value::Number(n) => vec![n.as_f64().expect("finite")],
        Value::Array(a) => {
            a.iter().map(|x| x.as_f64().unwrap_or_else(|| panic!("{what}: {x} is not a number"))).collect()
        }
        other => panic!("{what}: expected a number or an array, found {other}"),
    }
}

/// The largest relative error of one run against its fixture, per quantity, and the first
/// comparison that exceeded the tolerance.
struct Outcome {
    params: f64,
    lr: f64,
    /// The cycled momentum or beta1; 0 where the schedule sets neither.
    momentum: f64,
    loss: f64,
    first_failure: Option<String>,
}

/// Trains `<name>.grad` and compares every step with `data/<name>.json`.
fn check(name: &str) -> Outcome {
    let dir = parity_dir();
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("data/{name}.json"))).expect("read the fixture"),
    )
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let expected = fixture["steps"].as_array().expect("fixture steps");

    let log = temp_dir(&format!("parity-{name}")).join("log.jsonl");
    let program = format!("tests/parity/{name}.grad");
    let init = "tests/parity/init.safetensors";
    let out = gradc(&["run", &program, "--init", init, "--log", log.to_str().expect("utf-8"), "--log-every", "1"]);
    if !out.status.success() {
        let failure = format!("gradc failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let nan = f64::NAN;
        return Outcome { params: nan, lr: nan, momentum: nan, loss: nan, first_failure: Some(failure) };
    }
    let got: Vec<Value> = read_log(&log).into_iter().filter(|l| l.get("final").is_none()).collect();

    let mut o = Outcome { params: 0.0, lr: 0.0, momentum: 0.0, loss: 0.0, first_failure: None };
    if got.len() != expected.len() {
        o.first_failure = Some(format!("{} steps logged, the fixture has {}", got.len(), expected.len()));
        return o;
    }
    let lr_scale = expected.iter().map(|s| s["lr"].as_f64().expect("lr").abs()).fold(0.0, f64::max);
    for (g, e) in got.iter().zip(expected) {
        let step = e["step"].as_u64().expect("step");
        assert_eq!(g["step"].as_u64(), Some(step), "{name}: log and fixture steps line up");
        let mut compare = |what: &str, a: f64, b: f64, floor: f64, worst: &mut f64| {
            let err = (a - b).abs() / b.abs().max(floor);
            *worst = worst.max(err);
            // A NaN from gradc is a failure too.
            if (err.is_nan() || err > REL) && o.first_failure.is_none() {
                o.first_failure =
                    Some(format!("step {step}: {what} is {a:e}, the reference {b:e} (relative error {err:.2e})"));
            }
        };
        for key in ["w", "b"] {
            let (a, b) = (flat(&g[key], key), flat(&e[key], key));
            assert_eq!(a.len(), b.len(), "{name}: `{key}` has as many elements as in the fixture");
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                compare(&format!("{key}[{i}]"), *a, *b, PARAM_FLOOR, &mut o.params);
            }
        }
        let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{name} step {step}: no `{k}`"));
        compare("lr", num(g, "lr"), num(e, "lr"), LR_FLOOR * lr_scale, &mut o.lr);
        // The hyper-parameters the schedule sets besides the lr, by gradc's names: the log has
        // exactly the fixture's (none where torch's momentum stays put).
        let hypers = |v: &Value| -> BTreeSet<String> {
            let keys = v.as_object().expect("a JSON object").keys();
            keys.filter(|k| !NOT_HYPER.contains(&k.as_str())).cloned().collect()
        };
        assert_eq!(hypers(g), hypers(e), "{name} step {step}: the log sets the fixture's hyper-parameters");
        for key in hypers(e) {
            compare(&key, num(g, &key), num(e, &key), MOMENTUM_FLOOR, &mut o.momentum);
        }
        // The loss is reported, not checked: near the optimum it is a sum of squared residuals
        // that are differences of O(1) numbers, so f32 cancellation dominates its error.
        let loss = (num(g, "loss") - num(e, "loss")).abs() / num(e, "loss").abs();
        o.loss = o.loss.max(loss);
    }
    o
}

/// The configurations gen.py made fixtures for, and those with a program.
fn configurations() -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = parity_dir();
    (stems(&dir.join("data"), "json"), stems(&dir, "grad"))
}

/// Every configuration with a program matches its fixture step by step; prints the largest
/// relative error of each.
#[test]
fn optimizers_and_schedules_match_pytorch() {
    let (fixtures, programs) = configurations();
    let orphans: Vec<&String> = programs.difference(&fixtures).collect();
    assert!(orphans.is_empty(), "programs without a fixture (add them to gen.py): {orphans:?}");

    eprintln!("max relative error (floors: params {PARAM_FLOOR}, lr {LR_FLOOR} × the run's largest lr, momentum {MOMENTUM_FLOOR})");
    eprintln!("{:<28} {:>9} {:>9} {:>9} {:>9}", "configuration", "params", "lr", "momentum", "loss");
    let mut failures = Vec::new();
    for name in fixtures.intersection(&programs) {
        let o = check(name);
        let verdict = if o.first_failure.is_some() { "FAIL" } else { "ok" };
        eprintln!("{name:<28} {:>9.1e} {:>9.1e} {:>9.1e} {:>9.1e}  {verdict}", o.params, o.lr, o.momentum, o.loss);
        if let Some(f) = o.first_failure {
            failures.push(format!("{name}: {f}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} configurations differ from PyTorch by more than {REL} relative:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every configuration gen.py expects has a program: one whose optimizer or schedule is not in
/// the stdlib yet has none, and is reported here rather than skipped.
#[test]
fn every_expected_configuration_has_a_program() {
    let (fixtures, programs) = configurations();
    let missing: Vec<&str> = fixtures.difference(&programs).map(String::as_str).collect();
    assert!(
        missing.is_empty(),
        "expected but missing, {} of {} configurations have no tests/parity/<name>.grad \
         (write one once the stdlib has its optimizer or schedule): {}",
        missing.len(),
        fixtures.len(),
        missing.join(", ")
    );
}

/// The parameters of a log line, in the order of the parity programs' declarations.
fn logged_params(line: &Value) -> Vec<f64> {
    [flat(&line["w"], "w"), flat(&line["b"], "b")].concat()
}

/// Ten steps, saved and resumed with `--init`, are the twenty steps of one run: plain SGD has
/// no optimizer state, so only the parameters carry over, and they carry over exactly.
#[test]
fn save_then_init_continues_the_run() {
    // Plain SGD, Adam (moments and bias corrections depend on the state and the step), a cosine
    // schedule (the lr depends on the step) and one-cycle on Adam (the lr and beta1 do): each
    // resumed run must continue exactly.
    for program in ["sgd", "adam", "sched_cosine", "sched_one_cycle_adam"] {
        let dir = temp_dir(&format!("save_init_{program}"));
        let path = |f: &str| dir.join(f).to_str().expect("utf-8").to_string();
        let file = format!("tests/parity/{program}.grad");
        let run = |extra: &[&str]| {
            let mut args = vec!["run", file.as_str(), "--log-every", "1"];
            args.extend_from_slice(extra);
            let out = gradc(&args);
            assert!(out.status.success(), "gradc {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        };
        let init = "tests/parity/init.safetensors";
        run(&["--init", init, "--steps", "20", "--log", &path("whole.jsonl")]);
        run(&["--init", init, "--steps", "10", "--log", &path("first.jsonl"), "--save", &path("half.safetensors")]);
        run(&["--init", &path("half.safetensors"), "--steps", "10", "--log", &path("second.jsonl")]);

        let steps = |f: &str| -> Vec<Value> {
            read_log(Path::new(&path(f))).into_iter().filter(|l| l.get("final").is_none()).collect()
        };
        let (whole, first, second) = (steps("whole.jsonl"), steps("first.jsonl"), steps("second.jsonl"));
        assert_eq!(second[0]["step"].as_f64(), Some(11.0), "{program}: a resumed run counts on from the saved step");
        let joined: Vec<(Vec<f64>, f64)> =
            first.iter().chain(&second).map(|l| (logged_params(l), l["lr"].as_f64().expect("lr"))).collect();
        let expected: Vec<(Vec<f64>, f64)> =
            whole.iter().map(|l| (logged_params(l), l["lr"].as_f64().expect("lr"))).collect();
        assert_eq!(joined, expected, "{program}: saved and resumed, the trajectory is unchanged");
    }
}

/// A checkpoint gradc cannot use stops the run with the checkpoint diagnostic.
#[test]
fn a_bad_init_file_is_reported() {
    let out = gradc(&["run", "tests/parity/sgd.grad", "--init", "tests/parity/data.csv"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("gradc::checkpoint::corrupt") && stderr.contains("data.csv"), "{stderr}");
}
