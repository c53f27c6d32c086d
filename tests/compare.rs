//! `gradc compare` end to end: the runs of a compare block, their CSVs, table and charts.

mod common;

use std::path::{Path, PathBuf};

use common::{gradc, temp_dir};

/// Runs `gradc compare FILE --out DIR` plus extra arguments; returns DIR and stdout.
fn compare(name: &str, file: &str, extra: &[&str]) -> (PathBuf, String) {
    let dir = temp_dir(name).join("out");
    let mut args = vec!["compare", file, "--out", dir.to_str().expect("utf-8 temp path")];
    args.extend_from_slice(extra);
    let out = gradc(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "gradc compare {file} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    (dir, stdout)
}

/// A CSV's header and rows of numbers.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().expect("a header").split(',').map(str::to_string).collect();
    let rows = lines.map(|l| l.split(',').map(|v| v.parse().expect("a number")).collect()).collect();
    (header, rows)
}

/// Every text of an SVG, as written.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("</text>").filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.trim())).collect()
}

/// Checks an SVG and PNG pair exists and the SVG names each label.
fn check_picture(dir: &Path, stem: &str, labels: &[&str]) -> String {
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).expect("SVG written");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for label in labels {
        assert!(texts(&svg).contains(label), "{stem}.svg names {label}: {:?}", texts(&svg));
    }
    let png = std::fs::read(dir.join(format!("{stem}.png"))).expect("PNG written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    svg
}

const ROSENBROCK: [&str; 5] = [
    "sgd(lr: 0.001)",
    "momentum(lr: 0.001, momentum: 0.9)",
    "nesterov(lr: 0.001, momentum: 0.9)",
    "rmsprop(lr: 0.01)",
    "adam(lr: 0.05)",
];

#[test]
fn rosenbrock_compares_five_optimizers_and_draws_their_paths() {
    let (dir, stdout) = compare("rosenbrock", "examples/rosenbrock.grad", &["--steps", "200"]);
    for label in ROSENBROCK {
        let row =
            stdout.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("a row for {label}:\n{stdout}"));
        assert!(row.contains(" 200 "), "200 steps: {row}");
    }
    assert!(stdout.contains("wrote ") && stdout.contains("trajectories.png"), "{stdout}");
    check_picture(&dir, "curves", &ROSENBROCK);
    let svg = check_picture(&dir, "trajectories", &ROSENBROCK);
    assert!(texts(&svg).contains(&"start") && svg.contains("<polygon"), "a start marker and filled bands");
    // The file states the optimum; the chart marks it, and where each path ends.
    assert!(texts(&svg).contains(&"optimum (1, 1)") && texts(&svg).contains(&"end"), "{:?}", texts(&svg));

    // Every step is logged, with the two parameters; plain SGD's first step is the closed form.
    let (header, rows) = read_csv(&dir.join("sgd_lr_0.001.csv"));
    assert_eq!(header, ["step", "loss", "lr", "x", "y"]);
    assert_eq!(rows.len(), 200);
    let (x, y) = (-1.5f64, 2.0f64);
    let (gx, gy) = (-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x));
    assert!((rows[0][1] - ((1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2))).abs() < 1e-4, "loss at the start");
    assert!((rows[0][3] - (x - 0.001 * gx)).abs() < 1e-5 && (rows[0][4] - (y - 0.001 * gy)).abs() < 1e-5);
}

#[test]
fn every_optimizer_starts_from_the_same_weights_and_batch() {
    // Logging every step, the first batch is the first row of every CSV.
    let file = temp_dir("spirals-program").join("spirals.grad");
    let program = std::fs::read_to_string("examples/compare_optimizers.grad").expect("example");
    std::fs::write(&file, program.replace("metrics = [accuracy]", "metrics = [accuracy], log_every = 1"))
        .expect("write");
    let (dir, stdout) = compare("spirals", file.to_str().expect("utf-8"), &["--steps", "26", "--seed", "7"]);
    assert!(stdout.lines().next().is_some_and(|h| h.contains("accuracy")), "an accuracy column:\n{stdout}");
    let files = std::fs::read_dir(&dir).expect("out dir").map(|e| e.expect("entry").path());
    let csvs: Vec<PathBuf> = files.filter(|p| p.extension().is_some_and(|e| e == "csv")).collect();
    assert_eq!(csvs.len(), 6, "one CSV per optimizer");
    let first_losses: Vec<f64> = csvs
        .iter()
        .map(|p| {
            let (header, rows) = read_csv(p);
            assert_eq!(header[..5], ["step", "loss", "lr", "train_loss", "accuracy"]);
            rows[0][1]
        })
        .collect();
    assert!(first_losses.windows(2).all(|w| w[0] == w[1]), "the first batch loss is shared: {first_losses:?}");
    let svg = check_picture(&dir, "curves", &["sgd(lr: 0.1)", "adamw(lr: 0.01, weight_decay: 0.01)"]);
    assert!(texts(&svg).contains(&"accuracy (training set)"));
    assert!(!dir.join("trajectories.svg").exists(), "an MLP has more than two parameters");
}

#[test]
fn schedules_get_a_learning_rate_panel() {
    let (dir, stdout) = compare("schedules", "examples/lr_schedules.grad", &["--steps", "30"]);
    assert!(stdout.contains("step(size: 200, gamma: 0.3)"), "{stdout}");
    let svg = check_picture(&dir, "curves", &["constant", "warmup(steps: 80) then cosine(total: 700)"]);
    assert!(texts(&svg).contains(&"learning rate"));
}

#[test]
fn a_diverging_run_is_reported_and_the_others_still_drawn() {
    let dir = temp_dir("diverge");
    let file = dir.join("bowl.grad");
    std::fs::write(
        &file,
        "param a: f32 = 1.0\nparam b: f32 = -1.0\nloss = a^2 + 10 * b^2\ntrain { optimizer = sgd(lr: 0.01), steps = 50 }\n\
         compare { optimizers = [sgd(lr: 0.01), sgd(lr: 0.5)] }\n",
    )
    .expect("write program");
    let (out, stdout) = compare("diverge-out", file.to_str().expect("utf-8"), &["--target", "0.5"]);
    let row = stdout.lines().find(|l| l.starts_with("sgd(lr: 0.5)")).expect("a row for the diverging run");
    assert!(row.contains("diverged: the loss became"), "{row}");
    assert!(stdout.contains("steps to loss ≤ 0.500000"), "the given target:\n{stdout}");
    let curves = check_picture(&out, "curves", &["sgd(lr: 0.01)", "sgd(lr: 0.5) (diverged)", "diverged"]);
    // The axes are the run that trained: from its loss of 11 down, not up to the divergence.
    let high_ticks = ["10³", "10⁴", "10⁵", "10⁶", "10⁸", "10¹⁰", "10²⁰", "10³⁰"];
    assert!(!texts(&curves).iter().any(|t| high_ticks.contains(t)), "{:?}", texts(&curves));
    check_picture(&out, "trajectories", &["sgd(lr: 0.01)", "sgd(lr: 0.5) (diverged)", "diverged"]);
    let csv = std::fs::read_to_string(out.join("sgd_lr_0.5.csv")).expect("a diverged run keeps its history");
    assert!(csv.lines().count() > 2, "the steps before the divergence are logged:\n{csv}");
}

/// When every run diverges the table says so, the charts show how, and the exit code is 1 (it
/// was 0, with no charts and a "steps to loss ≤ NaN" column).
#[test]
fn every_run_diverging_draws_the_curves_and_fails() {
    let dir = temp_dir("all_diverge");
    let file = dir.join("bowl.grad");
    std::fs::write(
        &file,
        "param a: f32 = 1.0\nparam b: f32 = -1.0\nloss = a^2 + 10 * b^2\ntrain { optimizer = sgd(lr: 0.01), steps = 50 }\n\
         compare { optimizers = [sgd(lr: 0.5), momentum(lr: 0.5)] }\n",
    )
    .expect("write program");
    let out_dir = dir.join("out");
    let out = gradc(&["compare", file.to_str().expect("utf-8"), "--out", out_dir.to_str().expect("utf-8")]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("gradc::compare::diverged") && stderr.contains("every run diverged (2 of 2)"), "{stderr}");
    assert!(!stdout.contains("NaN") && !stdout.contains("steps to loss"), "no target to reach:\n{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.contains("diverged: the loss became")).count(), 2, "{stdout}");
    check_picture(&out_dir, "curves", &["sgd(lr: 0.5) (diverged)", "momentum(lr: 0.5) (diverged)"]);
    check_picture(&out_dir, "trajectories", &["sgd(lr: 0.5) (diverged)", "momentum(lr: 0.5) (diverged)"]);
}

/// "Steps to target" compares the target, a whole-set loss, with whole-set losses: compare
/// evaluates the training set at every logged step even without metrics (a noisy batch loss
/// "reached" it early).
#[test]
fn steps_to_target_reads_whole_set_losses() {
    let dir = temp_dir("target_whole_set");
    let file = dir.join("reg.grad");
    std::fs::write(
        &file,
        "use std.loss.mse\ndata d = linear(n: 64, dim: 3, noise: 0.5, seed: 3)\nparam w: f32[3, 1] = zeros\n\
         loss(x, y) = mse(x @ w, y)\ntrain { data = d, batch = 4, steps = 40, optimizer = sgd(lr: 0.05) }\n\
         compare { optimizers = [sgd(lr: 0.05), adam(lr: 0.05)] }\n",
    )
    .expect("write program");
    let (out, _) = compare("target_whole_set_out", file.to_str().expect("utf-8"), &[]);
    for run in ["sgd_lr_0.05", "adam_lr_0.05"] {
        let (header, rows) = read_csv(&out.join(format!("{run}.csv")));
        let at = header.iter().position(|h| h == "train_loss").unwrap_or_else(|| panic!("whole-set loss: {header:?}"));
        assert!(rows.iter().all(|r| r.len() > at), "every logged step has it: {rows:?}");
    }
}

#[test]
fn a_two_parameter_model_with_data_gets_a_loss_surface() {
    let dir = temp_dir("line");
    let file = dir.join("line.grad");
    std::fs::write(
        &file,
        "use std.loss.mse\ndata points = linear(n: 200, dim: 1, noise: 0.1, seed: 3)\nparam w: f32 = -2.0\nparam b: f32 = 2.0\n\
         loss(x, y) = mse(x * w + b, y)\ntrain { data = points, batch = 20, epochs = 10, optimizer = sgd(lr: 0.05) }\n\
         compare { optimizers = [sgd(lr: 0.05), adam(lr: 0.1)] }\n",
    )
    .expect("write program");
    let (out, _) = compare("line-out", file.to_str().expect("utf-8"), &[]);
    let svg = check_picture(&out, "trajectories", &["sgd(lr: 0.05)", "adam(lr: 0.1)", "w", "b"]);
    assert!(svg.contains("Loss surface over (w, b)"));
    let (header, rows) = read_csv(&out.join("sgd_lr_0.05.csv"));
    assert_eq!(header, ["step", "loss", "lr", "train_loss", "w", "b"], "the batch loss, then the whole set's");
    assert_eq!(rows.len(), 100, "every step of ten epochs of ten batches");
    assert_eq!(rows[0][2], 0.05);
}

#[test]
fn validation_metrics_get_their_own_panels() {
    let dir = temp_dir("val");
    let file = dir.join("val.grad");
    let program = std::fs::read_to_string("examples/compare_optimizers.grad")
        .expect("example")
        .replace("seed: 1)", "seed: 1) |> split(val: 0.25)");
    std::fs::write(&file, program).expect("write program");
    let (out, _) = compare("val-out", file.to_str().expect("utf-8"), &["--steps", "30"]);
    check_picture(
        &out,
        "curves",
        &["training loss", "accuracy (training set)", "validation loss", "accuracy (validation set)"],
    );
}

#[test]
fn no_steps_is_said_instead_of_empty_axes() {
    let (dir, _) = compare("no-steps", "examples/rosenbrock.grad", &["--steps", "0"]);
    let svg = check_picture(&dir, "curves", &["no steps were run", "adam(lr: 0.05)"]);
    assert!(!texts(&svg).contains(&"step"), "no x axis: {:?}", texts(&svg));
    // The surface still shows where every run would start.
    check_picture(&dir, "trajectories", &["start", "optimum (1, 1)"]);
}

#[test]
fn a_file_without_a_compare_block_is_an_error() {
    let out = gradc(&["compare", "examples/quadratic.grad", "--out", temp_dir("no-block").to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gradc::compare::missing"), "{stderr}");
}

/// Two models on spirals, with a validation split and a decaying learning rate; `COMPARE` and the
/// train block's model and optimizer are filled in by each test.
const TWO_MODELS: &str = "use std.nn.{dense, relu}\nuse std.loss.cross_entropy\n\
    data spiral = spirals(n: 120, classes: 2, noise: 0.05, seed: 2) |> split(val: 0.25)\n\
    model mlp(x: f32[B, 2]) -> f32[B, 2] {\n    h = relu(dense(x, 16, init: he_normal))\n    dense(h, 2)\n}\n\
    model lin(x: f32[B, 2]) -> f32[B, 2] { dense(x, 2) }\n\
    loss(x, y: i32[B]) = cross_entropy(model(x), y)\n\
    train {\n    model = MODEL, optimizer = OPTIMIZER\n    data = spiral, batch = 16, epochs = 4, seed = 3\n    \
    schedule = exponential(gamma: 0.97)\n    metrics = [accuracy]\n}\nCOMPARE";

#[test]
fn each_compare_run_is_bit_identical_to_the_same_run_alone() {
    let dir = temp_dir("models");
    let write = |name: &str, model: &str, optimizer: &str, compare: &str| {
        let text = TWO_MODELS.replace("MODEL", model).replace("OPTIMIZER", optimizer).replace("COMPARE", compare);
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write program");
        path.to_str().expect("utf-8").to_string()
    };
    let optimizers = ["sgd(lr: 0.1)", "adam(lr: 0.01)"];
    let file = write(
        "models.grad",
        "mlp",
        optimizers[0],
        &format!("compare {{ models = [mlp, lin], optimizers = [{}] }}\n", optimizers.join(", ")),
    );
    let (out, stdout) = compare("models-out", &file, &[]);
    assert!(stdout.starts_with("runs by val_accuracy, highest first\n"), "{stdout}");
    let labels = ["mlp · sgd(lr: 0.1)", "mlp · adam(lr: 0.01)", "lin · sgd(lr: 0.1)", "lin · adam(lr: 0.01)"];
    check_picture(&out, "curves", &labels);
    let mut final_val_accuracy = vec![];
    for (i, label) in labels.iter().enumerate() {
        let (model, optimizer) = label.split_once(" · ").expect("model · optimizer");
        let (header, rows) = read_csv(&out.join(format!("{}.csv", stem(label))));
        let alone = write(&format!("alone{i}.grad"), model, optimizer, "");
        let every = rows[0][0].to_string();
        let (lines, _) = common::run_logged(&alone, &["--log-every", &every]);
        let (points, last) = lines.split_at(lines.len() - 1);
        assert_eq!(points.len(), rows.len(), "{label}: one log line per CSV row");
        let f32_of = |v: &serde_json::Value, key: &str| common::num(v, key) as f32;
        for (row, line) in rows.iter().zip(points) {
            for (c, name) in header.iter().enumerate().filter(|(_, h)| *h != "train_loss") {
                assert_eq!(row[c] as f32, f32_of(line, name), "{label}: `{name}` at step {}", row[0]);
            }
        }
        // The final line: the loss over the whole training set and every metric, bit for bit.
        let end = rows.last().expect("rows");
        let col = |name: &str| header.iter().position(|h| h == name).expect("a column");
        assert_eq!(end[col("train_loss")] as f32, f32_of(&last[0], "loss"), "{label}: final loss");
        for name in ["accuracy", "val_loss", "val_accuracy"] {
            assert_eq!(end[col(name)] as f32, f32_of(&last[0], name), "{label}: final {name}");
        }
        final_val_accuracy.push((end[col("val_accuracy")], *label));
    }
    // The table lists the runs best first by validation accuracy.
    let table: Vec<&str> = stdout
        .lines()
        .filter_map(|l| labels.iter().find(|label| l.starts_with(&format!("{label} "))))
        .copied()
        .collect();
    final_val_accuracy.sort_by(|a, b| b.0.total_cmp(&a.0));
    let by_accuracy: Vec<&str> = final_val_accuracy.iter().map(|r| r.1).collect();
    assert_eq!(table, by_accuracy, "{stdout}");
}

/// The CSV name of a run: its label's letters, digits, dots and dashes, `_` between.
fn stem(label: &str) -> String {
    let words: Vec<String> = label
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.join("_")
}
