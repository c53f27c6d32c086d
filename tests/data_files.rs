//! Training end to end from NPY and NPZ files written here, byte by byte, as NumPy writes them.

mod common;

use std::io::Write;
use std::path::Path;

use common::{gradc, num, read_log, temp_dir};

/// An NPY 1.0 file of `descr` with `shape` (a Python tuple) and little-endian `data`.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.bytes());
    out.extend(data);
    out
}

/// Two separable classes in 2-D: features `[n, 2]` f32 and labels `[n]` i64, as NPY files.
fn two_classes(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let class = (i % 2) as i64;
        let t = i as f32 / n as f32;
        let (a, b) = (2.0 * class as f32 - 1.0 + 0.3 * (t * 37.0).sin(), 0.5 * (t * 11.0).cos());
        x.extend(a.to_le_bytes());
        x.extend(b.to_le_bytes());
        y.extend(class.to_le_bytes());
    }
    (npy("<f4", &format!("({n}, 2)"), &x), npy("<i8", &format!("({n},)"), &y))
}

/// Runs `source` (written into `dir` as `m.grad`) and returns the final log line.
fn run(dir: &Path, source: &str) -> serde_json::Value {
    let file = dir.join("m.grad");
    std::fs::write(&file, source).expect("write m.grad");
    let log = dir.join("log.jsonl");
    let out = gradc(&["run", file.to_str().expect("utf-8"), "--log", log.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    read_log(&log).pop().expect("a final line")
}

fn program(data: &str) -> String {
    format!(
        "use std.nn.dense\nuse std.loss.cross_entropy\ndata d = {data}\n\
         model m(x: f32[B, 2]) -> f32[B, 2] {{ dense(x, 2) }}\n\
         loss(x, y: i32[B]) = cross_entropy(m(x), y)\n\
         train {{ data = d, batch = 20, epochs = 20, seed = 1, optimizer = sgd(lr: 0.5), metrics = [accuracy] }}\n"
    )
}

#[test]
fn trains_on_npy_files() {
    let dir = temp_dir("npy");
    let (x, y) = two_classes(200);
    std::fs::write(dir.join("x.npy"), x).unwrap();
    std::fs::write(dir.join("y.npy"), y).unwrap();
    let last = run(&dir, &program("npy(\"x.npy\", labels: \"y.npy\")"));
    assert!(num(&last, "accuracy") >= 0.99, "{last}");
}

#[test]
fn trains_on_an_npz_archive() {
    let dir = temp_dir("npz");
    let (x, y) = two_classes(200);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join("d.npz")).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in [("features.npy", x), ("labels.npy", y)] {
        zip.start_file(name, opts).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
    let last = run(&dir, &program("npz(\"d.npz\", x: \"features\", y: \"labels\") |> standardize"));
    assert!(num(&last, "accuracy") >= 0.99, "{last}");
}

#[test]
fn a_bad_file_is_a_diagnostic_naming_it() {
    let dir = temp_dir("npy-bad");
    let (x, _) = two_classes(10);
    std::fs::write(dir.join("x.npy"), &x).unwrap();
    std::fs::write(dir.join("y.npy"), npy(">i8", "(10,)", &[0; 80])).unwrap();
    let file = dir.join("m.grad");
    std::fs::write(&file, program("npy(\"x.npy\", labels: \"y.npy\")")).unwrap();
    let out = gradc(&["run", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("gradc::data::npy") && stderr.contains("y.npy`: the array is big-endian (`>i8`)"),
        "{stderr}"
    );
}

/// Two regression targets of two features, `y = [x1 + 2·x2, x1 − x2]`, at `n` points.
fn two_targets(n: usize) -> Vec<([f32; 2], [f32; 2])> {
    (0..n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let x = [(t * 13.0).sin(), (t * 7.0).cos()];
            (x, [x[0] + 2.0 * x[1], x[0] - x[1]])
        })
        .collect()
}

/// A linear model of two targets over `data`.
fn regression(data: &str) -> String {
    format!(
        "use std.nn.dense\nuse std.loss.mse\ndata d = {data}\n\
         model m(x: f32[B, 2]) -> f32[B, 2] {{ dense(x, 2) }}\n\
         loss(x, y: f32[B, 2]) = mse(m(x), y)\n\
         train {{ data = d, epochs = 400, seed = 1, optimizer = sgd(lr: 0.3) }}\n"
    )
}

#[test]
fn trains_several_regression_targets_from_csv_and_npy() {
    let dir = temp_dir("multi_target");
    let rows = two_targets(64);
    // CSV: the targets named in another order than the file's, which `targets:` keeps.
    let csv: String = rows.iter().map(|(x, y)| format!("{},{},{},{}\n", y[1], x[0], y[0], x[1])).collect();
    std::fs::write(dir.join("d.csv"), format!("b,x1,a,x2\n{csv}")).unwrap();
    // The weights `out.w` ([in, out], flat in the log) of each fit.
    let weights = |line: &serde_json::Value| -> Vec<f64> {
        line["out.w"].as_array().expect("out.w").iter().map(|v| v.as_f64().expect("number")).collect()
    };
    let close = |w: Vec<f64>, want: [f64; 4]| w.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-3);
    let last = run(&dir, &regression("csv(\"d.csv\", targets: [\"a\", \"b\"])"));
    assert!(num(&last, "loss") < 1e-6, "{last}");
    assert!(close(weights(&last), [1.0, 1.0, 2.0, -1.0]), "{last}");
    // NPY: f32 labels of shape [N, 2] are two targets per row.
    let bytes = |v: Vec<f32>| -> Vec<u8> { v.iter().flat_map(|f| f.to_le_bytes()).collect() };
    let x = bytes(rows.iter().flat_map(|r| r.0).collect());
    let y = bytes(rows.iter().flat_map(|r| r.1).collect());
    std::fs::write(dir.join("x.npy"), npy("<f4", "(64, 2)", &x)).unwrap();
    std::fs::write(dir.join("y.npy"), npy("<f4", "(64, 2)", &y)).unwrap();
    let from_npy = run(&dir, &regression("npy(\"x.npy\", labels: \"y.npy\")"));
    assert!(num(&from_npy, "loss") < 1e-6 && close(weights(&from_npy), [1.0, 1.0, 2.0, -1.0]), "{from_npy}");
    // Targets listed the other way round are the model's outputs the other way round.
    let swapped = run(&dir, &regression("csv(\"d.csv\", targets: [\"b\", \"a\"])"));
    assert!(close(weights(&swapped), [1.0, 1.0, -1.0, 2.0]), "{swapped}");
}
