//! Progress on a terminal, run under `script` (util-linux) so that stderr is a pseudo-terminal:
//! `run` draws a bar per epoch whose place each epoch's line takes, and `compare` a bar per run.

mod common;

use std::process::Command;

use common::{root, temp_dir};

/// Runs `gradc ARGS` on a pseudo-terminal; returns everything it drew.
fn on_a_terminal(args: &str) -> String {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_gradc"));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("COLUMNS", "100")
        .current_dir(root())
        .output()
        .expect("run script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args}:\n{text}");
    text
}

#[test]
fn run_draws_a_bar_per_epoch() {
    let text = on_a_terminal("run examples/blobs_softmax.grad --epochs 3");
    for epoch in 1..=3 {
        assert!(text.contains(&format!("Epoch {epoch}/3 [")), "a bar for epoch {epoch}:\n{text}");
        assert!(text.contains(&format!("Epoch {epoch}/3  step ")), "a line for epoch {epoch}:\n{text}");
    }
    // Each bar counts its epoch's steps (blobs: 300 rows in batches of 30), not the run's.
    let progress = text.split("final loss").next().expect("the progress");
    let counts: Vec<&str> = progress.split("] ").skip(1).filter_map(|t| t.split("  ").next()).collect();
    assert!(!counts.is_empty() && counts.iter().all(|c| c.ends_with("/10")), "{counts:?}");
}

#[test]
fn compare_draws_a_bar_per_run() {
    let out = temp_dir("terminal-compare").join("out");
    let text = on_a_terminal(&format!("compare examples/rosenbrock.grad --steps 300 --out {}", out.display()));
    for (i, label) in ["sgd(lr: 0.001)", "adam(lr: 0.05)"].iter().enumerate() {
        let heading = format!("[{}/5] {label}", [1, 5][i]);
        assert!(text.contains(&format!("{heading} [")), "a bar for {label}:\n{text}");
        assert!(text.contains(&format!("{heading} ... 300 steps in")), "its result:\n{text}");
    }
}
