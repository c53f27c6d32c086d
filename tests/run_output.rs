//! `gradc run`'s output: the summary's parameters, `--quiet`, `--json` and `--metrics FILE.csv`.

mod common;

use common::{gradc, num, read_log, temp_dir};

fn stdout_of(args: &[&str]) -> (String, String) {
    let out = gradc(args);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "gradc {args:?} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn the_summary_prints_tensor_parameters() {
    let dir = temp_dir("summary_params");
    let log = dir.join("log.jsonl");
    let (stdout, _) = stdout_of(&["run", "examples/linear_regression.grad", "--log", log.to_str().unwrap()]);
    let last = read_log(&log).pop().expect("a final line");
    let w: Vec<String> =
        last["w"].as_array().expect("w").iter().map(|v| format!("{:.6}", v.as_f64().unwrap())).collect();
    let line = stdout.lines().find(|l| l.starts_with("w ")).unwrap_or_else(|| panic!("no `w` line:\n{stdout}"));
    assert_eq!(line, format!("w            [3, 1]  [{}]", w.join(", ")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("b ")), "{stdout}");
    // A larger tensor is summarised: its shape, norm and first values.
    let (stdout, _) = stdout_of(&["run", "examples/spiral_mlp.grad", "--steps", "5", "--quiet"]);
    let line = stdout.lines().find(|l| l.starts_with("h2.w ")).unwrap_or_else(|| panic!("no `h2.w` line:\n{stdout}"));
    assert!(line.contains("[64, 64]  norm ") && line.ends_with(", ...]"), "{line}");
}

#[test]
fn quiet_prints_only_the_summary() {
    let (stdout, stderr) = stdout_of(&["run", "examples/linear_regression.grad", "--quiet"]);
    assert_eq!(stderr, "", "no header or progress");
    assert!(stdout.starts_with("final loss"), "{stdout}");
    let (_, stderr) = stdout_of(&["run", "examples/linear_regression.grad"]);
    assert!(stderr.contains("step 300/300"), "progress without --quiet:\n{stderr}");
}

#[test]
fn json_is_a_machine_readable_summary() {
    let dir = temp_dir("json_summary");
    let log = dir.join("log.jsonl");
    let args = ["run", "examples/glyphs_mlp.grad", "--steps", "30", "--json", "--log", log.to_str().unwrap()];
    let (stdout, _) = stdout_of(&args);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let last = read_log(&log).pop().expect("a final line");
    assert_eq!(v["final_loss"], last["loss"]);
    assert_eq!(v["metrics"]["accuracy"], last["accuracy"]);
    assert_eq!(v["metrics"]["val_accuracy"], last["val_accuracy"]);
    assert_eq!(v["test"]["test_accuracy"], last["test_accuracy"]);
    assert_eq!(num(&v, "steps"), 30.0);
    assert_eq!(num(&v, "resumed_from"), 0.0);
    assert_eq!(v["stopped"], "completed");
    assert_eq!(v["stop_reason"], "completed");
    for key in ["wall_time_s", "steps_per_sec", "compile_time_s"] {
        assert!(num(&v, key) > 0.0, "{key}: {v}");
    }
    let params = v["params"].as_object().expect("params");
    assert!(!params.is_empty());
    for (name, p) in params {
        let size: u64 = p["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).product();
        assert_eq!(p["values"].as_array().unwrap().len() as u64, size.min(8), "{name}: {p}");
        assert!(num(p, "norm") >= 0.0);
    }
}

#[test]
fn metrics_csv_has_a_row_per_logged_step() {
    let dir = temp_dir("metrics_csv");
    let (log, csv) = (dir.join("log.jsonl"), dir.join("m.csv"));
    let args = ["run", "examples/glyphs_mlp.grad", "--steps", "40", "--log-every", "10", "-q"];
    let (log_s, csv_s) = (log.to_str().unwrap(), csv.to_str().unwrap());
    stdout_of(&[&args[..], &["--log", log_s, "--metrics", csv_s]].concat());
    let lines: Vec<serde_json::Value> = read_log(&log).into_iter().filter(|l| l.get("final").is_none()).collect();
    let text = std::fs::read_to_string(&csv).expect("the CSV");
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().expect("a header").split(',').collect();
    assert_eq!(header[..4], ["step", "epoch", "loss", "lr"]);
    assert!(header.contains(&"val_accuracy"), "{header:?}");
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), lines.len(), "{text}");
    for (row, line) in rows.iter().zip(&lines) {
        assert_eq!(row.len(), header.len());
        for (key, cell) in header.iter().zip(row) {
            if *key == "epoch" {
                assert!(cell.parse::<u64>().unwrap() >= 1);
            } else {
                assert_eq!(cell.parse::<f64>().unwrap() as f32, num(line, key) as f32, "{key} in {row:?}");
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn metrics_csv_does_not_replace_a_symbolic_link() {
    let dir = temp_dir("metrics_link");
    let (target, link) = (dir.join("target.txt"), dir.join("m.csv"));
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = gradc(&["run", "examples/linear_regression.grad", "-q", "--metrics", link.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
}

#[test]
fn progress_has_a_line_per_epoch_with_validation_metrics() {
    let (_, stderr) = stdout_of(&["run", "examples/glyphs_mlp.grad", "--epochs", "3"]);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Epoch")).collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("Epoch {}/3  step ", i + 1)), "{line}");
        for key in ["  loss ", "  accuracy ", "  val_loss ", "  val_accuracy ", "  elapsed ", "  ETA "] {
            assert!(line.contains(key), "`{key}` missing: {line}");
        }
    }
}

#[test]
fn an_early_stop_ends_the_progress_at_the_step_reached_without_an_eta() {
    let dir = temp_dir("early_progress");
    let file = dir.join("early.grad");
    std::fs::write(
        &file,
        "use std.nn.{dense, relu}\nuse std.loss.cross_entropy\ndata d = spirals(n: 200, noise: 0.3, seed: 2) |> split(val: 0.3)\n\
         model m(x: f32[B, 2]) -> f32[B, 2] { dense(relu(dense(x, 64, init: he_normal)), 2) }\nloss(x, y) = cross_entropy(m(x), y)\n\
         train { data = d, batch = 20, epochs = 400, optimizer = adam(lr: 0.05), metrics = [accuracy], early_stop = patience(5, on: val_loss) }\n",
    )
    .unwrap();
    let (stdout, stderr) = stdout_of(&["run", file.to_str().unwrap()]);
    let steps = stdout.lines().find_map(|l| l.strip_prefix("steps")).expect("steps in the summary").trim();
    assert!(stdout.contains("stopped      early stopping"), "{stdout}");
    // `--json` names the reason by a stable code, its wording beside it.
    let (json, _) = stdout_of(&["run", file.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v["stopped"], "early_stopping", "{v}");
    let reason = v["stop_reason"].as_str().expect("the wording");
    assert!(reason.starts_with("early stopping: `val_loss` stopped improving"), "{reason}");
    let last = stderr.lines().rfind(|l| l.starts_with("Epoch")).expect("progress lines");
    let reached = last.split("  step ").nth(1).expect("a step").trim_start();
    assert!(reached.starts_with(&format!("{steps}/")), "{last} vs {steps} steps");
    assert!(!last.contains("ETA"), "{last}");
}

/// `flush_denormals = true` flushes the step's subnormal values to zero; by default (PyTorch's)
/// they underflow gradually. θ halves every step from 1e-30 and is subnormal after 27 steps.
#[test]
fn flush_denormals_flushes_subnormal_values() {
    let dir = temp_dir("flush_denormals");
    let theta = |flush: bool| {
        let file = dir.join(format!("halving_{flush}.grad"));
        let source = format!(
            "param theta: f32 = 1e-30\nloss = theta^2\n\
             train {{ optimizer = sgd(lr: 0.25), steps = 30, flush_denormals = {flush} }}\n"
        );
        std::fs::write(&file, source).expect("writes the program");
        let (stdout, _) = stdout_of(&["run", file.to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        v["params"]["theta"]["values"][0].as_f64().expect("theta's value")
    };
    assert_eq!(theta(false) as f32, 1e-30_f32 * 0.5_f32.powi(30), "gradual underflow");
    assert_eq!(theta(true), 0.0, "flushed");
}
