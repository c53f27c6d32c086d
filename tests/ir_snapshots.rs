//! `gradc ir --check/--update` and `gradc test DIR`: a stored snapshot that matches passes, one
//! that differs fails with a diff, `--update` writes (never through a symbolic link), and a
//! folder's models are checked against the snapshots beside them and gradient-checked.

mod common;

use std::path::Path;

use common::{gradc, root, temp_dir};

/// Runs gradc; returns whether it succeeded, stdout and stderr.
fn run(args: &[&str]) -> (bool, String, String) {
    let out = gradc(args);
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("utf-8 output");
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `gradc ir FILE --stage backward` as printed.
fn backward(file: &str) -> String {
    let (ok, out, err) = run(&["ir", file, "--stage", "backward"]);
    assert!(ok, "{err}");
    out
}

#[test]
fn the_backward_stage_is_simplified_unless_raw() {
    let simple = backward("examples/quadratic.grad");
    assert!(simple.contains("mul 2.0, %0") && !simple.contains("sub 2.0, 1.0"), "{simple}");
    let (ok, raw, err) = run(&["ir", "examples/quadratic.grad", "--stage", "backward", "--raw"]);
    assert!(ok, "{err}");
    assert!(raw.contains("sub 2.0, 1.0") && raw.contains("mul 1.0, %4"), "{raw}");
}

#[test]
fn check_passes_on_the_stored_text_and_fails_with_a_diff() {
    let dir = temp_dir("ir-check");
    let snap = dir.join("quadratic.backward.ir");
    std::fs::write(&snap, backward("examples/quadratic.grad")).expect("write");
    let check = ["ir", "examples/quadratic.grad", "--stage", "backward", "--check", s(&snap)];
    let (ok, out, err) = run(&check);
    assert!(ok && out.is_empty(), "{out}{err}");

    let stored = std::fs::read_to_string(&snap).expect("read").replace("mul 2.0, %0", "mul 3.0, %0");
    std::fs::write(&snap, &stored).expect("write");
    let (ok, out, err) = run(&check);
    assert!(!ok, "{out}");
    assert!(out.contains("-  %2 = mul 3.0, %0") && out.contains("+  %2 = mul 2.0, %0"), "{out}");
    assert!(out.contains("+++ printed"), "{out}");
    assert!(err.contains("the printed IR differs from") && err.contains("--update"), "{err}");
}

#[test]
fn check_of_a_missing_snapshot_fails() {
    let dir = temp_dir("ir-missing");
    let snap = dir.join("none.ir");
    let (ok, _, err) = run(&["ir", "examples/quadratic.grad", "--check", s(&snap)]);
    assert!(!ok && err.contains("there is no snapshot"), "{err}");
}

#[test]
fn update_writes_the_snapshot_then_leaves_it() {
    let dir = temp_dir("ir-update");
    let snap = dir.join("rosenbrock.optimized.ir");
    std::fs::write(&snap, "stale\n").expect("write");
    let update = ["ir", "examples/rosenbrock.grad", "--check", s(&snap), "--update"];
    let (ok, out, err) = run(&update);
    assert!(ok && out.starts_with("wrote "), "{out}{err}");
    let (_, printed, _) = run(&["ir", "examples/rosenbrock.grad"]);
    assert_eq!(std::fs::read_to_string(&snap).expect("read"), printed);
    let (ok, out, _) = run(&update);
    assert!(ok && out.starts_with("unchanged: "), "{out}");
}

#[test]
fn update_without_check_is_a_usage_error() {
    let (ok, _, err) = run(&["ir", "examples/quadratic.grad", "--update"]);
    assert!(!ok && err.contains("--check"), "{err}");
}

#[cfg(unix)]
#[test]
fn update_does_not_replace_a_symbolic_link() {
    let dir = temp_dir("ir-link");
    let target = dir.join("target.ir");
    std::fs::write(&target, "kept\n").expect("write");
    let link = dir.join("link.ir");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let (ok, _, err) = run(&["ir", "examples/quadratic.grad", "--check", s(&link), "--update"]);
    assert!(!ok && err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "kept\n");
}

/// A folder holding copies of `examples/NAME.grad` for each name.
fn folder(name: &str, models: &[&str]) -> std::path::PathBuf {
    let dir = temp_dir(name);
    for m in models {
        std::fs::copy(root().join(format!("examples/{m}.grad")), dir.join(format!("{m}.grad"))).expect("copy");
    }
    dir
}

#[test]
fn test_dir_passes_when_every_snapshot_matches() {
    let dir = folder("test-pass", &["quadratic", "rosenbrock"]);
    for (m, stage) in [("quadratic", "backward"), ("quadratic", "optimized"), ("rosenbrock", "kernels")] {
        let file = dir.join(format!("{m}.grad"));
        let (ok, out, err) = run(&["ir", s(&file), "--stage", stage]);
        assert!(ok, "{err}");
        std::fs::write(dir.join(format!("{m}.{stage}.ir")), out).expect("write");
    }
    let (ok, out, err) = run(&["test", s(&dir)]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("  ok      backward   matches\n  ok      optimized  matches\n"), "{out}");
    assert!(out.contains("  ok      kernels    matches\n"), "{out}");
    assert!(out.contains("ok      gradcheck  1 parameter agrees") && out.contains("2 parameters agree"), "{out}");
    assert!(out.ends_with("2 models, 3 snapshots: 2 passed, 0 failed\n"), "{out}");
}

#[test]
fn test_dir_fails_on_a_differing_snapshot_a_stray_one_and_a_wrong_gradient() {
    let dir = folder("test-fail", &["quadratic"]);
    std::fs::write(dir.join("quadratic.backward.ir"), backward("examples/quadratic.grad").replace("3.0", "4.0"))
        .expect("write");
    std::fs::write(dir.join("quadratic.bakward.ir"), "").expect("write");
    std::fs::write(dir.join("gone.forward.ir"), "").expect("write");
    // relu's derivative at its kink is 0, the central difference 1/2: gradcheck fails.
    let kink =
        "use std.nn.relu\nparam theta: f32 = 0.0\nloss = relu(theta)\ntrain { steps = 1, optimizer = sgd(lr: 0.1) }\n";
    std::fs::write(dir.join("kink.grad"), kink).expect("write");
    let (ok, out, err) = run(&["test", s(&dir)]);
    assert!(!ok, "{out}");
    assert!(out.contains("  FAILED  backward\n") && out.contains("-  %0 = sub theta, 4.0"), "{out}");
    assert!(out.contains("there is no stage `bakward`"), "{out}");
    assert!(out.contains("gone.forward.ir: there is no `gone.grad` beside it"), "{out}");
    assert!(out.contains("kink.grad\n  FAILED  gradcheck\n") && out.contains("FAIL"), "{out}");
    assert!(out.ends_with("2 models, 1 snapshot: 0 passed, 2 failed\n"), "{out}");
    assert!(err.contains("2 of 2 models failed their checks"), "{err}");
}

#[test]
fn test_dir_update_rewrites_a_differing_snapshot() {
    let dir = folder("test-update", &["quadratic"]);
    let snap = dir.join("quadratic.backward.ir");
    std::fs::write(&snap, "stale\n").expect("write");
    let (ok, out, err) = run(&["test", s(&dir), "--update"]);
    assert!(ok && out.contains("  wrote   backward   the printed IR"), "{out}{err}");
    assert_eq!(std::fs::read_to_string(&snap).expect("read"), backward("examples/quadratic.grad"));
    let (ok, out, err) = run(&["test", s(&dir)]);
    assert!(ok && out.contains("ok      backward   matches"), "{out}{err}");
}

#[test]
fn test_of_a_folder_without_models_fails() {
    let dir = temp_dir("test-empty");
    let (ok, _, err) = run(&["test", s(&dir)]);
    assert!(!ok && err.contains("there is no `.grad` file in"), "{err}");
}
