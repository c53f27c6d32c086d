//! `use "path.grad"` end to end: another file's functions, layers, optimizers and schedules,
//! found relative to the importing file, each file read once, and every way an import can go
//! wrong a diagnostic.

mod common;

use std::path::Path;

use common::{gradc, temp_dir};

const LAYERS: &str = "use std.nn.{dense, relu}\n\n/// Two dense layers with a ReLU between.\n\
                      layer block(x, width: int) {\n    h = relu(dense(x, width))\n    dense(h, width)\n}\n";
const OPTIM: &str = "use \"layers.grad\"\n\n/// Gradient descent whose step shrinks as lr / sqrt(t).\n\
                     optimizer shrinking(lr) {\n    p - lr / sqrt(t) * g\n}\n";
const MAIN: &str = "use \"lib/layers.grad\"\nuse \"lib/my_optim.grad\"\nuse std.nn.dense\nuse std.loss.mse\n\n\
                    data d = linear(n: 64, dim: 3, noise: 0.1, seed: 3)\n\
                    model net(x: f32[B, 3]) -> f32[B, 1] { dense(block(x, 8), 1) }\n\
                    loss(x, y) = mse(net(x), y)\ntrain { data = d, optimizer = shrinking(lr: 0.05), steps = 20 }\n";

/// Writes `files` (path, text) under a fresh directory and returns it.
fn project(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = temp_dir(name);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
        std::fs::write(path, text).expect("write file");
    }
    dir
}

/// `gradc CMD FILE`: exit code, stdout, stderr.
fn run(cmd: &str, file: &Path) -> (Option<i32>, String, String) {
    let out = gradc(&[cmd, file.to_str().expect("utf-8 temp path")]);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn a_layer_and_an_optimizer_from_other_files_train() {
    let dir = project("use_ok", &[("lib/layers.grad", LAYERS), ("lib/my_optim.grad", OPTIM), ("main.grad", MAIN)]);
    let (code, stdout, stderr) = run("run", &dir.join("main.grad"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("optimizer shrinking"), "{stderr}");
    assert!(stdout.contains("steps        20"), "{stdout}");
    // lib/layers.grad is imported twice (by main.grad and by my_optim.grad) and read once: the
    // layer's parameters exist once.
    assert!(stderr.contains("6 parameters"), "{stderr}");
}

#[test]
fn an_import_brings_a_file_s_own_declarations_not_its_imports() {
    let main = MAIN.replace("use \"lib/layers.grad\"\n", "");
    let dir = project("use_own", &[("lib/layers.grad", LAYERS), ("lib/my_optim.grad", OPTIM), ("main.grad", &main)]);
    let (code, _, stderr) = run("check", &dir.join("main.grad"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unknown name `block`"), "{stderr}");
}

#[test]
fn missing_files_cycles_and_declarations_a_library_cannot_hold_are_diagnostics() {
    let cases: [(&str, &str, &str); 4] = [
        ("lib/layers.grad", "use \"nope.grad\"\n", "cannot import `"),
        ("lib/layers.grad", "use \"../main.grad\"\n", "this import closes the cycle"),
        ("lib/my_optim.grad", "use \"my_optim.grad\"\n", "my_optim.grad → "),
        ("lib/layers.grad", "param q: f32\n", "an imported file cannot declare a parameter"),
    ];
    for (i, (file, extra, want)) in cases.into_iter().enumerate() {
        let lib = |name: &str, text: &str| if name == file { format!("{text}{extra}") } else { text.to_string() };
        let (layers, optim) = (lib("lib/layers.grad", LAYERS), lib("lib/my_optim.grad", OPTIM));
        let dir = project(
            &format!("use_bad_{i}"),
            &[("lib/layers.grad", &layers), ("lib/my_optim.grad", &optim), ("main.grad", MAIN)],
        );
        let (code, _, stderr) = run("check", &dir.join("main.grad"));
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(want), "case {i}: `{want}` in\n{stderr}");
        // Reported once, though two files import the bad one, and without the names it would
        // have brought reported missing too.
        assert_eq!(stderr.matches("gradc::name::").count(), 1, "case {i}:\n{stderr}");
    }
    let dir = project(
        "use_fifo",
        &[(
            "main.grad",
            "use \"pipe.grad\"\nparam w: f32\nloss = w * w\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n",
        )],
    );
    assert!(std::process::Command::new("mkfifo").arg(dir.join("pipe.grad")).status().expect("mkfifo").success());
    let (code, _, stderr) = run("check", &dir.join("main.grad"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("it is a FIFO (named pipe)"), "{stderr}");
}
