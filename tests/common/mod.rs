//! Helpers shared by the end-to-end tests: running the CLI and reading its JSON-lines log.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (tests run from it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `gradc` binary with arguments, from the repository root.
pub fn gradc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradc")).args(args).current_dir(root()).output().expect("spawn gradc")
}

/// A fresh temporary directory for one test; unique per call, since tests run in parallel.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gradc-test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Runs `gradc run FILE --log LOG` plus extra arguments; returns the parsed log lines and stdout.
pub fn run_logged(file: &str, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    let dir = temp_dir(&file.replace(['/', '.'], "_"));
    let log = dir.join("log.jsonl");
    let log_s = log.to_str().expect("utf-8 temp path");
    let mut args = vec!["run", file, "--log", log_s];
    args.extend_from_slice(extra);
    let out = gradc(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "gradc run {file} failed:\n{}\n{}", stdout, String::from_utf8_lossy(&out.stderr));
    let lines = read_log(&log);
    (lines, stdout)
}

/// Parses a JSON-lines file.
pub fn read_log(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("read log");
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"))).collect()
}

/// A number from a log line.
pub fn num(line: &serde_json::Value, key: &str) -> f64 {
    line[key].as_f64().unwrap_or_else(|| panic!("no number `{key}` in {line}"))
}

/// The program's tensors in a safetensors file, by name.
pub fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).expect("read checkpoint");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    // gradc's own tensors (`gradc.seed`, ...) are not the program's, and not all F32.
    let mut out: Vec<(String, Vec<f32>)> = file
        .iter()
        .filter(|(n, _)| !n.starts_with("gradc."))
        .map(|(n, t)| {
            (n.to_string(), t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
