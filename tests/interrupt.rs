//! Ctrl-C stops a run after its current step, which reports, saves and resumes; a second one
//! ends it at once; and a run stopped by a signal while `--save` writes its checkpoint leaves no
//! temporary file, the checkpoint created with the usual permissions.
//!
//! The tests wait for what the run writes (its log, its stderr), never for a time, and allow
//! minutes for it on a loaded machine.

mod common;

use std::io::BufRead;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{gradc, root, temp_dir};

/// How long a run may take to reach a point, or to end, before the test gives up.
const PATIENCE: Duration = Duration::from_secs(300);

/// `gradc run` with `args`, from the repository root, with SIGINT's and SIGTERM's default
/// actions (a test harness may have started this process with them ignored, which gradc
/// respects).
fn gradc_run(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gradc"));
    command.arg("run").args(args).current_dir(root());
    // SAFETY: between fork and exec the closure only calls signal, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    command
}

/// Spawns `gradc run` with `args`, stdout piped.
fn spawn_run(args: &[&str], stderr: Stdio) -> Child {
    gradc_run(args).stdout(Stdio::piped()).stderr(stderr).spawn().expect("spawn gradc")
}

/// Sends `signal` to `child`, which this test started and has not reaped.
fn send(child: &Child, signal: libc::c_int) {
    // SAFETY: kill with the id of a live child of this process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0, "kill");
}

/// Waits for `child` to end, killing it if it outlasts [`PATIENCE`]; its status and stdout.
fn finish(mut child: Child) -> (ExitStatus, String) {
    let started = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("the run did not end after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until `ready` holds, failing if `child` ends first or it takes over [`PATIENCE`].
fn wait_for(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(child.try_wait().expect("poll").is_none(), "the run ended before {what}");
        assert!(started.elapsed() < PATIENCE, "no {what} after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the log at `path` has a complete line: the run is training.
fn has_logged(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains('\n'))
}

/// A number of steps from a summary line `steps  N ...`.
fn steps(stdout: &str) -> usize {
    let line = stdout.lines().find(|l| l.starts_with("steps ")).unwrap_or_else(|| panic!("no steps in {stdout}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn ctrl_c_stops_after_the_step_reports_saves_and_the_run_resumes_exactly() {
    let dir = temp_dir("ctrl_c");
    let path = |f: &str| dir.join(f).to_str().expect("utf-8 temp path").to_string();
    let (log, saved) = (path("log.jsonl"), path("stopped.safetensors"));
    // Far more steps than the test waits for: only the signal ends the run.
    let args = ["examples/spiral_mlp.grad", "--steps", "100000000", "--log-every", "20", "--log", &log];
    let mut child = spawn_run(&[&args[..], &["--save", &saved]].concat(), Stdio::null());
    wait_for(&mut child, "log line", || has_logged(Path::new(&log)));
    send(&child, libc::SIGINT);
    let (status, stdout) = finish(child);
    // It ends as killed by SIGINT (a shell's status 130), so a script stops there.
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}\n{stdout}");
    assert!(stdout.contains("final loss") && stdout.contains("interrupted by Ctrl-C"), "{stdout}");
    let stopped_at = steps(&stdout);
    assert!(stopped_at >= 20, "it trained up to the logged step at least: {stdout}");
    // The checkpoint resumes where the run stopped, and the two runs make the uninterrupted one.
    let resumed = path("resumed.safetensors");
    let out = gradc(&["run", "examples/spiral_mlp.grad", "--init", &saved, "--steps", "7", "--save", &resumed]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("7 ({} in all, resumed at step {stopped_at})", stopped_at + 7)), "{stdout}");
    let whole = path("whole.safetensors");
    let total = (stopped_at + 7).to_string();
    let out = gradc(&["run", "examples/spiral_mlp.grad", "--steps", &total, "--save", &whole]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = |f: &str| std::fs::read(f).expect("checkpoint written");
    assert!(bytes(&whole) == bytes(&resumed), "interrupted and resumed is the uninterrupted run");
}

/// A train step that takes seconds (products of 2000 × 2000 matrices), so that a second signal
/// surely arrives while it runs.
const SLOW: &str = "param w: f32[2000, 2000] = normal(std: 0.01)\nloss = sum(w @ w)\n\
                    train { optimizer = sgd(lr: 0.001), steps = 1000, log_every = 1 }\n";

#[test]
fn a_second_ctrl_c_aborts_at_once() {
    let dir = temp_dir("ctrl_c_twice");
    let program = dir.join("slow.grad");
    std::fs::write(&program, SLOW).expect("write program");
    let path = |f: &str| dir.join(f).to_str().expect("utf-8 temp path").to_string();
    let (log, saved) = (path("log.jsonl"), path("w.safetensors"));
    let args = [program.to_str().expect("utf-8"), "--threads", "1", "--log", &log, "--save", &saved];
    let mut child = spawn_run(&args, Stdio::piped());
    // Stderr's lines, as they come.
    let (lines, received) = mpsc::channel();
    let stderr = child.stderr.take().expect("piped");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    wait_for(&mut child, "log line", || has_logged(Path::new(&log)));
    send(&child, libc::SIGINT);
    // The run says it heard the first; the second comes while the step still runs.
    let started = Instant::now();
    loop {
        let line = received.recv_timeout(PATIENCE).expect("the run acknowledges the signal");
        if line.contains("stopping after the current step") {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "no acknowledgement");
    }
    send(&child, libc::SIGINT);
    let (status, stdout) = finish(child);
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert!(stdout.is_empty(), "it aborted without finishing the step or reporting: {stdout}");
    assert!(!Path::new(&saved).exists(), "nothing saved");
    let _ = std::fs::remove_dir_all(&dir);
}

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
        let mut child = gradc_run(&[program.to_str().expect("utf-8"), "--save", out.to_str().expect("utf-8")])
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
        if signalled && status.signal() == Some(*signal) {
            hits += 1;
        }
        assert_eq!(temps(&dir).0, 0, "attempt {attempt}: a temporary file was left in {}", dir.display());
        if out.exists() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&out).expect("stat").permissions().mode() & 0o777;
            assert_ne!(mode & 0o044, 0, "a checkpoint is readable as a new file is (mode {mode:o})");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(hits > 0, "no attempt caught the run while it was writing its checkpoint");
}
