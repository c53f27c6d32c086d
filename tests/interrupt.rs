//! A run stopped by a signal while `--save` writes its checkpoint leaves no temporary file, and
//! the checkpoint is created with the usual permissions.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{root, temp_dir};

/// A program whose checkpoint (48 MB with Adam's state) takes long enough to write that the
/// test can signal the run while the temporary file is being filled.
const BIG: &str =
    "param w: f32[4000, 1000] = normal(std: 0.1)\nloss = sum(w * w)\ntrain { optimizer = adam(lr: 0.1), steps = 1 }\n";

/// The temporary files in `dir` and the size of the largest.
fn temps(dir: &std::path::Path) -> (usize, u64) {
    let mut count = 0;
    let mut largest = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            count += 1;
            largest = largest.max(entry.metadata().map_or(0, |m| m.len()));
        }
    }
    (count, largest)
}

#[test]
fn a_signal_during_save_leaves_no_temporary_file() {
    let mut hits = 0;
    for (attempt, signal) in
        [libc::SIGTERM, libc::SIGINT, libc::SIGTERM, libc::SIGINT, libc::SIGTERM].iter().enumerate()
    {
        let dir = temp_dir(&format!("interrupt-{attempt}"));
        let program = dir.join("big.grad");
        std::fs::write(&program, BIG).expect("write program");
        let out = dir.join("w.safetensors");
        let mut child = Command::new(env!("CARGO_BIN_EXE_gradc"))
            .args(["run", program.to_str().expect("utf-8"), "--save", out.to_str().expect("utf-8")])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gradc");
        // Signal as soon as the checkpoint's temporary file has bytes in it (the probe before
        // training leaves an empty one for an instant).
        let started = Instant::now();
        let mut signalled = false;
        while started.elapsed() < Duration::from_secs(30) {
            if child.try_wait().expect("poll").is_some() {
                break;
            }
            if temps(&dir).1 > 0 {
                // SAFETY: sends a signal to the child this test started and has not reaped.
                unsafe { libc::kill(child.id() as libc::pid_t, *signal) };
                signalled = true;
                break;
            }
        }
        let status = child.wait().expect("wait");
        if signalled {
            use std::os::unix::process::ExitStatusExt;
            if status.signal() == Some(*signal) {
                hits += 1;
            }
        }
        assert_eq!(temps(&dir).0, 0, "attempt {attempt}: a temporary file was left in {}", dir.display());
        if out.exists() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).expect("stat").permissions().mode() & 0o777;
            assert_ne!(mode & 0o044, 0, "a checkpoint is readable as a new file is (mode {mode:o})");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(hits > 0, "no attempt caught the run while it was writing its checkpoint");
}
