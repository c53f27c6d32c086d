//! Hostile input: every bad file gets a diagnostic and exit code 1 from `check` and `run`,
//! never a panic (101), an abort or a stack overflow (signals).

mod common;

use std::path::Path;

use common::{gradc, temp_dir};

/// Asserts both commands fail cleanly with a diagnostic code on stderr.
fn rejects(path: &Path, code: &str) {
    let p = path.to_str().expect("utf-8 temp path");
    for cmd in ["check", "run"] {
        let out = gradc(&[cmd, p]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "`gradc {cmd}` on {p}: status {:?}\n{stderr}", out.status);
        assert!(stderr.contains(code), "`gradc {cmd}` on {p}: expected `{code}` in\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = temp_dir(name).join("input.grad");
    std::fs::write(&path, bytes).expect("write input");
    path
}

#[test]
fn empty_file() {
    rejects(&write("empty", b""), "gradc::program::no_loss");
}

#[test]
fn random_bytes() {
    // A fixed xorshift stream: valid UTF-8 is unlikely, so also test an ASCII-only variant.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::new();
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    rejects(&write("random", &bytes), "gradc::io::utf8");
    let ascii: Vec<u8> = bytes.iter().map(|b| 32 + b % 95).collect();
    rejects(&write("random_ascii", &ascii), "gradc::syntax");
}

#[test]
fn invalid_utf8() {
    rejects(&write("utf8", b"param theta: f32 = 0.0\nloss = \xff\xfe\n"), "gradc::io::utf8");
}

#[test]
fn deeply_nested_parentheses() {
    let mut src = String::from("param t: f32 = 0.0\nloss = ");
    src.push_str(&"(".repeat(100_000));
    src.push('t');
    src.push_str(&")".repeat(100_000));
    src.push_str("\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n");
    rejects(&write("nested", src.as_bytes()), "gradc::syntax::nesting");
}

#[test]
fn long_chain_of_unary_minus() {
    let src = format!(
        "param t: f32 = 0.0\nloss = {}t\ntrain {{ optimizer = sgd(lr: 0.1), steps = 1 }}\n",
        "-".repeat(100_000)
    );
    let path = write("minus", src.as_bytes());
    for cmd in ["check", "run"] {
        let out = gradc(&[cmd, path.to_str().expect("utf-8")]);
        // Either accepted (an even number of minuses is just t) or rejected cleanly.
        assert!(matches!(out.status.code(), Some(0 | 1)), "{cmd}: {:?}", out.status);
    }
}

#[test]
fn number_too_large() {
    rejects(
        &write("number", b"param t: f32 = 1e999\nloss = t^2\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n"),
        "gradc::syntax::number",
    );
}

#[test]
fn shape_too_large() {
    let src =
        b"param w: f32[4294967295, 4294967295] = zeros\nloss = sum(w)\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n";
    rejects(&write("shape", src), "gradc::shape::too_large");
    let src = b"param w: f32[99999999999999999999999] = zeros\nloss = sum(w)\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n";
    rejects(&write("dim", src), "gradc::syntax");
    let src = b"param w: f32[65536, 65536] = zeros\nloss = sum(w)\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n";
    rejects(&write("alloc", src), "gradc::shape::too_large");
}

#[test]
fn huge_dataset() {
    let src = b"data d = blobs(n: 10000000, dim: 1000)\nparam w: f32[1000, 1] = zeros\nloss(x, y) = mean(x @ w)\ntrain { data = d, optimizer = sgd(lr: 0.1), steps = 1 }\n";
    rejects(&write("dataset", src), "gradc::data");
}

#[test]
fn missing_file() {
    rejects(Path::new("no/such/file.grad"), "gradc::io::missing");
}

#[test]
fn directory() {
    rejects(&temp_dir("a_directory"), "gradc::io::directory");
}

/// A report to a full device is a diagnostic and a closed pipe (`| head -0`) ends quietly: never
/// the panic "failed printing to stdout".
#[test]
fn stdout_that_fails_or_closes() {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_gradc");
    for args in [&["run", "examples/quadratic.grad"][..], &["ir", "examples/spiral_mlp.grad", "--stage", "kernels"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full");
        let out = Command::new(bin).args(args).current_dir(common::root()).stdout(full).output().expect("spawn");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?} to /dev/full: {stderr}");
        assert!(stderr.contains("gradc::io::stdout"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");

        let mut child = Command::new(bin)
            .args(args)
            .current_dir(common::root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?} into a closed pipe: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Count flags are bounded like the train block's keys: `--log-every 0` panicked (remainder by
/// zero) and a huge `--epochs` wrapped around.
#[test]
fn count_flags_out_of_range() {
    for args in [
        &["run", "examples/quadratic.grad", "--log-every", "0"][..],
        &["run", "examples/quadratic.grad", "--epochs", "1844674407370955162"],
        &["run", "examples/quadratic.grad", "--steps=-1"],
        &["compare", "examples/rosenbrock.grad", "--threads", "0"],
    ] {
        let out = gradc(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("invalid value"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A FIFO would block `open` until a writer came, and a device never ends: both are refused
/// from their metadata, as the source and as data, in `check` and in `run`.
#[test]
fn fifos_and_devices_are_refused_without_reading() {
    let dir = temp_dir("special");
    let fifo = dir.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    rejects(&fifo, "gradc::io::special");
    rejects(Path::new("/dev/zero"), "gradc::io::special");
    for data in [fifo.to_str().expect("utf-8 temp path"), "/dev/zero"] {
        let src = format!(
            "use std.loss.mse\ndata d = csv(\"{data}\", target: \"y\")\nparam w: f32[1, 1]\n\
             loss(x, y) = mse(x @ w, y)\ntrain {{ data = d, optimizer = sgd(lr: 0.1), steps = 1 }}\n"
        );
        let path = dir.join("uses_special.grad");
        std::fs::write(&path, src).expect("write input");
        rejects(&path, "gradc::data::missing");
        let out = gradc(&["check", path.to_str().expect("utf-8 temp path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}
