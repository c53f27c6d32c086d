//! `gradc eval` and `gradc predict` end to end: a model trained with `--save` scores its test
//! set as the run's final line did, bit for bit, and its predictions from CSV and NPY files
//! agree with that score; every user error is a diagnostic with a help line.

mod common;

use std::path::{Path, PathBuf};

use common::{gradc, read_log, temp_dir};
use gradc::data::array::{Array, Values};
use gradc::data::errors::{Origin, DATA_NPY};
use gradc::data::npy;
use serde_json::Value;

/// Runs `gradc` with `args`; returns stdout, panicking with stderr if it failed.
fn ok(args: &[&str]) -> String {
    let out = gradc(args);
    assert!(out.status.success(), "gradc {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `gradc` with `args`, which must fail; returns stderr, which must be a diagnostic with `code` and a help line.
fn err(args: &[&str], code: &str) -> String {
    let out = gradc(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "gradc {args:?} succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(code) && stderr.contains("help:"), "gradc {args:?}: expected {code}:\n{stderr}");
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Reads an NPY file with gradc's own reader.
fn load(path: &Path) -> Array {
    let o = Origin {
        file: path.display().to_string(),
        code: DATA_NPY,
        span: gradc::diag::Span::new(gradc::diag::FileId(0), 0, 0),
    };
    npy::parse(&std::fs::read(path).expect("read npy"), &o).expect("a valid NPY file")
}

fn f32s(a: &Array) -> &[f32] {
    match &a.values {
        Values::F32(v) => v,
        other => panic!("f32 expected, got {other:?}"),
    }
}

/// Three classes of points in 4-D, offset far from 0 so standardizing matters: `(x, class)`.
fn points(n: usize, phase: f32) -> Vec<([f32; 4], i32)> {
    (0..n)
        .map(|i| {
            let c = (i % 3) as i32;
            let t = i as f32 * 0.37 + phase;
            let centre = [3.0 * c as f32, -2.0 * c as f32, 1.0, 0.5 * c as f32];
            let x = [0.0, 1.0, 2.0, 3.0].map(|k: f32| 100.0 + centre[k as usize] + 1.3 * (t * (k + 1.7)).sin());
            (x, c)
        })
        .collect()
}

/// Writes `rows` as CSV with a `label` column in the middle (as the training file has it).
fn write_csv(path: &Path, rows: &[([f32; 4], i32)]) {
    let body: String = rows.iter().map(|(x, c)| format!("{},{},{c},{},{}\n", x[0], x[1], x[2], x[3])).collect();
    std::fs::write(path, format!("a,b,label,c,d\n{body}")).expect("write csv");
}

/// A directory with train.csv, test.csv, test.npy (features only) and m.grad: an MLP on
/// standardized 4-D points, trained with Adam, with a test set.
fn project(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    write_csv(&dir.join("train.csv"), &points(240, 0.0));
    let test = points(61, 0.5);
    write_csv(&dir.join("test.csv"), &test);
    let x: Vec<f32> = test.iter().flat_map(|r| r.0).collect();
    std::fs::write(dir.join("test.npy"), npy::encode(&[test.len(), 4], &Values::F32(x.into()))).expect("write npy");
    let labels: Vec<i32> = test.iter().map(|r| r.1).collect();
    std::fs::write(dir.join("labels.npy"), npy::encode(&[test.len()], &Values::I32(labels))).expect("write npy");
    std::fs::write(
        dir.join("m.grad"),
        "use std.nn.*\nuse std.loss.cross_entropy\n\
         data d = csv(\"train.csv\", label: \"label\") |> standardize |> split(val: 0.2)\n\
         data t = csv(\"test.csv\", label: \"label\")\n\
         data other = csv(\"test.csv\", label: \"label\") |> scale(2)\n\
         model m(x: f32[B, 4]) -> f32[B, 3] { dense(relu(dense(x, 16)), 3) }\n\
         loss(x, y: i32[B]) = cross_entropy(m(x), y)\n\
         train { data = d, test = t, batch = 16, epochs = 20, seed = 5, optimizer = adam(lr: 0.01), metrics = [accuracy] }\n",
    )
    .expect("write m.grad");
    dir
}

/// Trains the project with `--save` and `--log`; returns the log's final line.
fn train(dir: &Path) -> Value {
    let (file, log, w) = (dir.join("m.grad"), dir.join("log.jsonl"), dir.join("w.safetensors"));
    ok(&["run", s(&file), "--save", s(&w), "--log", s(&log)]);
    read_log(&log).pop().expect("a final line")
}

/// The test labels the project wrote.
fn labels(dir: &Path) -> Vec<i32> {
    match load(&dir.join("labels.npy")).values {
        Values::I32(v) => v,
        other => panic!("{other:?}"),
    }
}

#[test]
fn eval_scores_the_test_set_as_the_run_did_bit_for_bit() {
    let dir = project("eval_bits");
    let last = train(&dir);
    let (file, w) = (dir.join("m.grad"), dir.join("w.safetensors"));
    let json: Value = serde_json::from_str(&ok(&["eval", s(&file), "--init", s(&w), "--json"])).expect("JSON");
    assert_eq!(
        (json["data"].as_str(), json["part"].as_str(), json["rows"].as_u64()),
        (Some("t"), Some("whole"), Some(61))
    );
    for (mine, theirs) in [("loss", "test_loss"), ("accuracy", "test_accuracy")] {
        let bits = |v: &Value| (v.as_f64().expect("a number") as f32).to_bits();
        assert_eq!(bits(&json[mine]), bits(&last[theirs]), "{mine}: {json} against {last}");
    }
    assert!(last["test_accuracy"].as_f64().expect("accuracy") > 0.9, "{last}");
    // The table names the data; `--data d` scores the training rows, as the final `loss`.
    let text = ok(&["eval", s(&file), "--init", s(&w)]);
    assert!(text.starts_with("data         `t` (61 rows)\nloss         "), "{text}");
    let json: Value =
        serde_json::from_str(&ok(&["eval", s(&file), "--init", s(&w), "--data", "d", "--json"])).expect("JSON");
    assert_eq!(json["part"], "training");
    assert_eq!(
        (json["loss"].as_f64().expect("loss") as f32).to_bits(),
        (last["loss"].as_f64().expect("loss") as f32).to_bits()
    );
    // Another declaration, whose stages differ from the training data's, is refused.
    let e = err(&["eval", s(&file), "--init", s(&w), "--data", "other"], "gradc::data::scale");
    assert!(e.contains("`other` is evaluation data, but it is scaled by 2"), "{e}");
    err(&["eval", s(&file), "--init", s(&w), "--data", "tt"], "gradc::name::unknown");
}

#[test]
fn predictions_from_csv_and_npy_agree_with_eval() {
    let dir = project("predict");
    let last = train(&dir);
    let (file, w) = (dir.join("m.grad"), dir.join("w.safetensors"));
    let path = |f: &str| dir.join(f);
    let predict = |input: &str, output: &str, flag: &[&str]| {
        ok(&[&["predict", s(&file), "--init", s(&w), "--input", s(&path(input)), "--output", s(&path(output))], flag]
            .concat())
    };
    let y = labels(&dir);
    // Classes from the CSV (its label column left out) and from the NPY file are the same,
    // and score the accuracy the run reported.
    predict("test.csv", "classes.csv", &["--classes"]);
    predict("test.npy", "classes.npy", &["--classes"]);
    let from_csv: Vec<i32> = std::fs::read_to_string(path("classes.csv"))
        .expect("read")
        .lines()
        .skip(1)
        .map(|l| l.parse().expect("a class"))
        .collect();
    let from_npy = load(&path("classes.npy"));
    assert_eq!(from_npy.shape, [61]);
    assert_eq!(from_npy.values, Values::I32(from_csv.clone()));
    let right = from_csv.iter().zip(&y).filter(|(a, b)| a == b).count();
    assert_eq!(
        (right as f32 / y.len() as f32).to_bits(),
        (last["test_accuracy"].as_f64().expect("accuracy") as f32).to_bits()
    );
    // Probabilities: each row sums to 1 and is largest at the predicted class; the logits'
    // softmax is the same.
    predict("test.npy", "p.npy", &["--probabilities"]);
    predict("test.csv", "p.csv", &["--probabilities"]);
    predict("test.npy", "logits.npy", &[]);
    let p = load(&path("p.npy"));
    assert_eq!(p.shape, [61, 3]);
    let csv_p: Vec<f32> = std::fs::read_to_string(path("p.csv"))
        .expect("read")
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(|v| v.parse::<f32>().expect("a number")).collect::<Vec<_>>())
        .collect();
    assert_eq!(csv_p, f32s(&p), "the CSV holds the same numbers, exactly");
    let logits = load(&path("logits.npy"));
    for ((row, z), class) in f32s(&p).chunks(3).zip(f32s(&logits).chunks(3)).zip(&from_csv) {
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "{row:?}");
        let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).expect("three");
        assert_eq!(best as i32, *class);
        let e: Vec<f64> = z.iter().map(|&v| f64::from(v).exp()).collect();
        let total: f64 = e.iter().sum();
        assert!(row.iter().zip(&e).all(|(p, e)| (f64::from(*p) - e / total).abs() < 1e-6), "{row:?} {z:?}");
    }
}

#[test]
fn eval_and_predict_errors_are_diagnostics() {
    let dir = project("errors");
    train(&dir);
    let (file, w) = (dir.join("m.grad"), dir.join("w.safetensors"));
    let path = |f: &str| dir.join(f);
    let predict = |input: &Path, output: &Path| -> Vec<String> {
        ["predict", s(&file), "--init", s(&w), "--input", s(input), "--output", s(output)].map(String::from).to_vec()
    };
    let run = |args: Vec<String>, code: &str| err(&args.iter().map(String::as_str).collect::<Vec<_>>(), code);
    // Inputs that are missing, of another shape or columns, or of an unknown format.
    let e = run(predict(&path("absent.npy"), &path("o.npy")), "gradc::data::missing");
    assert!(e.contains("absent.npy"), "{e}");
    std::fs::write(path("three.csv"), "a,b,c\n1,2,3\n").expect("write");
    let e = run(predict(&path("three.csv"), &path("o.npy")), "gradc::data::shape");
    assert!(e.contains("3 feature columns, but the model takes 4"), "{e}");
    std::fs::write(path("flat.npy"), npy::encode(&[1, 2, 2], &Values::F32(vec![0.0; 4].into()))).expect("write");
    let e = run(predict(&path("flat.npy"), &path("o.npy")), "gradc::data::shape");
    assert!(e.contains("[N, 4]"), "{e}");
    run(predict(&path("test.npy"), &path("o.txt")), "gradc::io::predict");
    run(predict(&path("m.grad"), &path("o.npy")), "gradc::data::missing");
    // An output that is a symbolic link is not replaced, nor what it points to.
    #[cfg(unix)]
    {
        std::fs::write(path("mine.npy"), b"keep").expect("write");
        std::os::unix::fs::symlink(path("mine.npy"), path("link.npy")).expect("symlink");
        let e = run(predict(&path("test.npy"), &path("link.npy")), "gradc::io::predict");
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(path("mine.npy")).expect("read"), b"keep");
    }
    // A checkpoint of another model names the missing parameter.
    let other = path("other.grad");
    let src = std::fs::read_to_string(&file)
        .expect("read")
        .replace("dense(x, 16)), 3)", "dense(x, 16)), 3) + 0 * dense(x, 3)");
    std::fs::write(&other, src).expect("write");
    let e = err(&["eval", s(&other), "--init", s(&w)], "gradc::checkpoint::missing");
    assert!(e.contains("has no tensor `out_3.w`"), "{e}");
    // No test set, no `--data`: say how to name one.
    let no_test = path("no_test.grad");
    std::fs::write(&no_test, std::fs::read_to_string(&file).expect("read").replace("test = t, ", "")).expect("write");
    let e = err(&["eval", s(&no_test), "--init", s(&w)], "gradc::eval::data");
    assert!(e.contains("test = t") && e.contains("--data"), "{e}");
    // A file that does not exist.
    err(&["eval", s(&file), "--init", s(&path("absent.safetensors"))], "gradc::checkpoint::read");
}

#[test]
fn a_checkpoint_of_another_optimizer_scores_and_resumes_afresh() {
    // Saved by Adam (`out.w.m`, ...); the file now says SGD. `eval` needs no optimizer state,
    // and `run --init` starts SGD afresh at step 0 with a note (it used to fail on `h1.b.m`).
    let dir = project("other_optimizer");
    let last = train(&dir);
    let (file, w) = (dir.join("m.grad"), dir.join("w.safetensors"));
    let sgd = dir.join("sgd.grad");
    std::fs::write(&sgd, std::fs::read_to_string(&file).expect("read").replace("adam(lr: 0.01)", "sgd(lr: 0.01)"))
        .expect("write");
    let json: Value = serde_json::from_str(&ok(&["eval", s(&sgd), "--init", s(&w), "--json"])).expect("JSON");
    assert_eq!(json["accuracy"].as_f64(), last["test_accuracy"].as_f64());
    let log = dir.join("sgd.jsonl");
    let out = gradc(&["run", s(&sgd), "--init", s(&w), "--steps", "2", "--log", s(&log)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: ") && stderr.contains("of another optimizer") && stderr.contains("step 0"),
        "{stderr}"
    );
    let lines = read_log(&log);
    assert_eq!(lines[0]["step"], 1, "SGD counts from 0: {:?}", lines[0]);
}

#[test]
fn a_resumed_run_standardizes_with_the_checkpoint_s_statistics() {
    // Fitted to y = x on standardized x in [0, 1), saved; the training file then moves to
    // x in [10, 11). Resumed for no steps, the model scores the new rows as it was trained to
    // see them: with the saved statistics, not with the new rows' own.
    let dir = temp_dir("resume_stats");
    let line = |path: &Path, lo: f64| {
        let rows: String = (0..40).map(|i| lo + f64::from(i) / 40.0).map(|x| format!("{x},{x}\n")).collect();
        std::fs::write(path, format!("x,y\n{rows}")).expect("write");
    };
    line(&dir.join("d.csv"), 0.0);
    let file = dir.join("m.grad");
    std::fs::write(
        &file,
        "use std.loss.mse\ndata d = csv(\"d.csv\", target: \"y\") |> standardize\n\
         param w: f32[1, 1] = zeros\nparam b: f32 = 0.0\nloss(x, y) = mse(x @ w + b, y)\n\
         train { data = d, optimizer = sgd(lr: 0.3), steps = 300, shuffle = false }\n",
    )
    .expect("write");
    let w = dir.join("w.safetensors");
    ok(&["run", s(&file), "--save", s(&w)]);
    line(&dir.join("d.csv"), 10.0);
    let log = dir.join("log.jsonl");
    ok(&["run", s(&file), "--init", s(&w), "--steps", "0", "--log", s(&log)]);
    let last = read_log(&log).pop().expect("a final line");
    assert!(last["loss"].as_f64().expect("loss") < 1e-4, "{last}");
}

#[test]
fn a_batch_norm_model_is_scored_with_its_saved_running_statistics() {
    // The CNN example and its test set: evaluation mode reads the buffers (running means and
    // variances) from the checkpoint, so eval and predict agree with the run's final scores.
    let dir = temp_dir("batch_norm_eval");
    let data_dir = common::root().join("examples/data");
    let data = data_dir.to_str().expect("utf-8 path");
    let src = std::fs::read_to_string(common::root().join("examples/mnist_cnn.grad"))
        .expect("read the example")
        .replace("\"data/", &format!("\"{data}/"));
    assert!(src.contains("test = glyphs_test"), "the example has a test set");
    let file = dir.join("cnn.grad");
    std::fs::write(&file, src).expect("write");
    let (w, log) = (dir.join("w.safetensors"), dir.join("log.jsonl"));
    ok(&["run", s(&file), "--epochs", "1", "--save", s(&w), "--log", s(&log)]);
    let last = read_log(&log).pop().expect("a final line");
    let json: Value = serde_json::from_str(&ok(&["eval", s(&file), "--init", s(&w), "--json"])).expect("JSON");
    let bits = |v: &Value| (v.as_f64().expect("a number") as f32).to_bits();
    assert_eq!(
        (bits(&json["loss"]), bits(&json["accuracy"])),
        (bits(&last["test_loss"]), bits(&last["test_accuracy"]))
    );
    // Predict the test images from an NPY file of raw bytes, as the IDX file holds them.
    let (images, labels) =
        (data_dir.join("glyphs-test-images-idx3-ubyte.gz"), data_dir.join("glyphs-test-labels-idx1-ubyte.gz"));
    let span = gradc::diag::Span::new(gradc::diag::FileId(0), 0, 0);
    let test = gradc::data::idx::load_idx(&images, &labels, span).expect("the bundled test set");
    let x = dir.join("x.npy");
    std::fs::write(&x, npy::encode(&[test.n, 1, 28, 28], &Values::F32(test.features))).expect("write");
    let out = dir.join("classes.npy");
    ok(&["predict", s(&file), "--init", s(&w), "--input", s(&x), "--output", s(&out), "--classes"]);
    let Values::I32(classes) = load(&out).values else { panic!("i32 classes") };
    let gradc::data::Labels::Classes { y, .. } = test.labels else { panic!("class labels") };
    let right = classes.iter().zip(&y).filter(|(a, b)| a == b).count();
    assert_eq!((right as f32 / y.len() as f32).to_bits(), bits(&last["test_accuracy"]), "{last}");
}

/// A layer with parameters whose argument is a dropout in the same binding: the dropout's
/// `rand` site once claimed the binding's instance name in training only, so the training graph
/// named the dense layer `hid_2.*` and the evaluation graph `hid.*`, and eval could not read
/// the checkpoint run had written.
#[test]
fn dropout_inside_a_layer_s_argument_names_its_parameters_alike_in_training_and_evaluation() {
    let dir = temp_dir("dropout-names");
    let file = dir.join("m.grad");
    std::fs::write(
        &file,
        "use std.nn.{dense, relu, dropout}
use std.loss.cross_entropy
data spiral = spirals(n: 100, classes: 2, noise: 0.05, seed: 1) |> split(test: 0.2)
model mlp(x: f32[B, 2]) -> f32[B, 2] {
    hid = dense(dropout(relu(x), 0.3), 16)
    dense(hid, 2)
}
loss(x, y: i32[B]) = cross_entropy(mlp(x), y)
train { data = spiral, batch = 20, epochs = 2, seed = 42, optimizer = sgd(lr: 0.1) }
",
    )
    .expect("writing the program");
    let save = dir.join("w.safetensors");
    ok(&["run", s(&file), "-q", "--save", s(&save)]);
    let forward = ok(&["ir", s(&file), "--stage", "forward"]);
    let eval = ok(&["ir", s(&file), "--stage", "eval"]);
    for text in [&forward, &eval] {
        assert!(text.contains("hid.w: f32[2,16] param"), "the dense layer is `hid`:\n{text}");
    }
    let scored = ok(&["eval", s(&file), "--init", s(&save), "--json"]);
    assert!(scored.contains("\"loss\""), "eval scores the saved model: {scored}");
}
