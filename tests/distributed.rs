//! Data-parallel training over MPI (`--features mpi`), on 2 and 4 local ranks started by
//! `mpirun`, over 100 steps: trajectories against one process with the combined batch, per-rank batch norm
//! against torch's DistributedDataParallel (fixtures made by tests/distributed/gen.py),
//! synchronised batch norm, checkpoints across rank counts, and how errors and a dead rank end
//! a run. Needs Open MPI's `mpirun` on the PATH (`.ci/run` installs it).
//!
//! "Equal to 1e-6" compares each parameter tensor as a whole, `‖a − b‖ ≤ 1e-6 ‖b‖`, and each
//! step's loss: only the order of the sums differs between one process and R ranks.

#![cfg(feature = "mpi")]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{read_log, root, temp_dir, tensors};
use serde_json::Value;

/// Longest an mpirun may take: a hang is a failure, not a stuck test.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The gradc binary this test builds.
fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gradc")
}

/// Runs `argv` on `ranks` local ranks from the repository root, as root and oversubscribed
/// (CI's 2-core machine runs 4), killing it and failing the test if it outlives `TIMEOUT`.
fn mpirun(ranks: usize, argv: &[&str], dir: &Path) -> Output {
    let (out, err) = (dir.join("mpirun.out"), dir.join("mpirun.err"));
    let file = |p: &Path| std::fs::File::create(p).expect("create output file");
    let mut child = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", &ranks.to_string()])
        // Containers often forbid the cross-memory attach Open MPI's shared memory uses.
        .args(["--mca", "btl_vader_single_copy_mechanism", "none"])
        .args(argv)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(file(&out))
        .stderr(file(&err))
        .spawn()
        .expect("spawn mpirun (is Open MPI installed?)");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mpirun") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("mpirun -n {ranks} {argv:?} hung; stderr:\n{}", std::fs::read_to_string(&err).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read(p).expect("read output file");
    Output { status, stdout: read(&out), stderr: read(&err) }
}

/// `gradc run FILE --distributed ARGS` on `ranks` ranks, asserting success.
fn run_ranks(ranks: usize, file: &str, args: &[&str], dir: &Path) -> Output {
    let argv: Vec<&str> =
        [bin(), "run", file, "--distributed", "-q"].iter().copied().chain(args.iter().copied()).collect();
    let out = mpirun(ranks, &argv, dir);
    assert!(out.status.success(), "{ranks} ranks, {file}:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `gradc ARGS` in one process, asserting success.
fn gradc_ok(args: &[&str]) -> Output {
    let out = common::gradc(args);
    assert!(out.status.success(), "gradc {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A path in `dir` as a string.
fn at(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("utf-8 temp path").to_string()
}

/// The loss of every step a log recorded (not its final line).
fn step_losses(log: &Path) -> Vec<f64> {
    read_log(log).iter().filter(|l| l.get("final").is_none()).map(|l| l["loss"].as_f64().unwrap()).collect()
}

/// `‖a − b‖ / ‖b‖`.
fn relative(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let d: f64 = a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum();
    let n: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
    (d / n.max(1e-300)).sqrt()
}

/// The model's tensors of a checkpoint: parameters and buffers, `<layer>.<name>`, not the
/// optimizer state kept as `<layer>.<name>.<state>`.
fn model(saved: &Path) -> Vec<(String, Vec<f32>)> {
    tensors(saved).into_iter().filter(|(n, _)| n.matches('.').count() == 1).collect()
}

/// The optimizer state of a checkpoint: what [`model`] leaves out.
fn state(saved: &Path) -> Vec<(String, Vec<f32>)> {
    tensors(saved).into_iter().filter(|(n, _)| n.matches('.').count() > 1).collect()
}

/// Every tensor of `got` within `tol` of `want`'s (relative, as a whole), the same names.
fn assert_tensors_close(what: &str, got: &[(String, Vec<f32>)], want: &[(String, Vec<f32>)], tol: f64) {
    let names = |t: &[(String, Vec<f32>)]| t.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: tensors");
    for ((name, g), (_, w)) in got.iter().zip(want) {
        let r = relative(g, w);
        assert!(r <= tol, "{what}: `{name}` differs by {r:e} relative (tolerance {tol:e})");
    }
}

/// Every step's loss within `tol` relative.
fn assert_losses_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: steps logged");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs(), "{what}: loss of step {}: {g} against {w}", k + 1);
    }
}

#[test]
fn one_rank_trains_as_one_process_bit_for_bit() {
    let dir = temp_dir("one_rank");
    let file = "tests/distributed/adam.grad";
    gradc_ok(&["run", file, "-q", "--log", &at(&dir, "alone.jsonl"), "--save", &at(&dir, "alone.safetensors")]);
    // Without mpirun, `--distributed` is a run of one rank (an MPI singleton).
    gradc_ok(&[
        "run",
        file,
        "-q",
        "--distributed",
        "--log",
        &at(&dir, "one.jsonl"),
        "--save",
        &at(&dir, "one.safetensors"),
    ]);
    let bytes = |name: &str| std::fs::read(dir.join(name)).expect("read output");
    assert_eq!(bytes("one.jsonl"), bytes("alone.jsonl"));
    assert_eq!(bytes("one.safetensors"), bytes("alone.safetensors"));
}

#[test]
fn ranks_follow_the_single_process_trajectory() {
    for name in ["adam", "momentum", "dropout"] {
        let file = format!("tests/distributed/{name}.grad");
        let dir = temp_dir(name);
        let (log, saved) = (dir.join("alone.jsonl"), dir.join("alone.safetensors"));
        gradc_ok(&["run", &file, "-q", "--log", &at(&dir, "alone.jsonl"), "--save", &at(&dir, "alone.safetensors")]);
        let (want_losses, want, want_state) = (step_losses(&log), model(&saved), state(&saved));
        assert_eq!(want_losses.len(), 100);
        for ranks in [2, 4] {
            let (log, saved) = (format!("r{ranks}.jsonl"), format!("r{ranks}.safetensors"));
            run_ranks(ranks, &file, &["--log", &at(&dir, &log), "--save", &at(&dir, &saved)], &dir);
            let what = format!("{name} on {ranks} ranks");
            assert_losses_close(&what, &step_losses(&dir.join(&log)), &want_losses, 1e-6);
            assert_tensors_close(&what, &model(&dir.join(&saved)), &want, 1e-6);
            // Moments and momentum average gradients, whose sums differ a little more.
            assert_tensors_close(&what, &state(&dir.join(&saved)), &want_state, 1e-5);
        }
    }
}

#[test]
fn per_rank_batch_norm_is_ddp_without_sync_batch_norm() {
    let file = "tests/batch_norm/mlp_bn.grad";
    let init = "tests/batch_norm/init_mlp_bn.safetensors";
    for ranks in [2, 4] {
        let dir = temp_dir(&format!("bn{ranks}"));
        let (log, saved) = (at(&dir, "log.jsonl"), at(&dir, "out.safetensors"));
        run_ranks(ranks, file, &["--init", init, "--steps", "100", "--log", &log, "--save", &saved], &dir);
        let text = std::fs::read_to_string(format!("tests/distributed/mlp_bn_ranks{ranks}.json")).expect("fixture");
        let fixture: Value = serde_json::from_str(&text).expect("fixture JSON");
        let floats = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<f64>>();
        let what = format!("batch norm on {ranks} ranks");
        assert_losses_close(&what, &step_losses(&dir.join("log.jsonl")), &floats(&fixture["steps"]), 1e-5);
        let final_ = fixture["final"].as_object().unwrap();
        let mut want: Vec<(String, Vec<f32>)> =
            final_.iter().map(|(n, v)| (n.clone(), floats(v).iter().map(|&x| x as f32).collect())).collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        // The running statistics are rank 0's, as DDP's broadcast of the buffers makes them.
        assert_tensors_close(&what, &model(&dir.join("out.safetensors")), &want, 1e-5);
        let eval_loss = read_log(&dir.join("log.jsonl")).last().unwrap()["loss"].as_f64().unwrap();
        let want_eval = fixture["eval_loss"].as_f64().unwrap();
        assert!(
            (eval_loss - want_eval).abs() <= 1e-5 * want_eval,
            "{what}: evaluation loss {eval_loss}, torch {want_eval}"
        );
    }
}

#[test]
fn synchronised_batch_norm_trains_as_one_process() {
    let file = "tests/distributed/mlp_bn_sync.grad";
    let init = "tests/batch_norm/init_mlp_bn.safetensors";
    let dir = temp_dir("sync_bn");
    gradc_ok(&[
        "run",
        file,
        "-q",
        "--init",
        init,
        "--log",
        &at(&dir, "alone.jsonl"),
        "--save",
        &at(&dir, "alone.safetensors"),
    ]);
    // In one process the synchronised statistics are the batch's: the plain model's numbers.
    let plain = at(&dir, "plain.safetensors");
    gradc_ok(&["run", "tests/batch_norm/mlp_bn.grad", "-q", "--init", init, "--steps", "100", "--save", &plain]);
    assert_eq!(tensors(&dir.join("plain.safetensors")), tensors(&dir.join("alone.safetensors")));
    // Not the momentum buffers: the bias before batch norm has a gradient of exactly zero in
    // exact arithmetic, so its buffer holds rounding noise alone.
    let want = model(&dir.join("alone.safetensors"));
    for ranks in [2, 4] {
        let (log, saved) = (format!("r{ranks}.jsonl"), format!("r{ranks}.safetensors"));
        run_ranks(ranks, file, &["--init", init, "--log", &at(&dir, &log), "--save", &at(&dir, &saved)], &dir);
        let what = format!("synchronised batch norm on {ranks} ranks");
        assert_losses_close(&what, &step_losses(&dir.join(&log)), &step_losses(&dir.join("alone.jsonl")), 1e-6);
        assert_tensors_close(&what, &model(&dir.join(&saved)), &want, 1e-6);
    }
}

#[test]
fn a_checkpoint_resumes_on_any_number_of_ranks() {
    let file = "tests/distributed/adam.grad";
    let dir = temp_dir("resume");
    gradc_ok(&["run", file, "-q", "--save", &at(&dir, "whole.safetensors")]);
    let want = model(&dir.join("whole.safetensors"));
    run_ranks(2, file, &["--steps", "50", "--save", &at(&dir, "half.safetensors")], &dir);
    let half = at(&dir, "half.safetensors");
    run_ranks(4, file, &["--init", &half, "--steps", "50", "--save", &at(&dir, "on4.safetensors")], &dir);
    gradc_ok(&["run", file, "-q", "--init", &half, "--steps", "50", "--save", &at(&dir, "alone.safetensors")]);
    for resumed in ["on4", "alone"] {
        let got = model(&dir.join(format!("{resumed}.safetensors")));
        assert_tensors_close(&format!("2 ranks, then {resumed}"), &got, &want, 1e-6);
    }
}

/// tests/distributed/adam.grad with `from` replaced by `to`, written into `dir`; its path.
fn adam_with(dir: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string("tests/distributed/adam.grad").expect("read adam.grad");
    assert!(text.contains(from), "adam.grad has no `{from}`");
    let file = dir.join("variant.grad");
    std::fs::write(&file, text.replace(from, to)).expect("write the variant");
    file.to_str().expect("utf-8 temp path").to_string()
}

/// `argv` on `ranks` ranks, which must fail with `message` on stderr exactly once; stderr.
fn fails_once(ranks: usize, argv: &[&str], dir: &Path, message: &str) -> String {
    let out = mpirun(ranks, argv, dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the run should fail:\n{stderr}");
    assert_eq!(stderr.matches(message).count(), 1, "`{message}` once:\n{stderr}");
    stderr
}

#[test]
fn an_error_every_rank_meets_is_reported_once() {
    let dir = temp_dir("error_once");
    let bad = adam_with(&dir, "dense(h, 3)", "dense(h, 3) + x");
    let stderr = fails_once(2, &[bin(), "run", &bad, "--distributed"], &dir, &bad);
    assert!(!stderr.contains("rank 1"), "{stderr}");
}

#[test]
fn one_failing_rank_is_reported_by_rank_0() {
    let dir = temp_dir("one_fails");
    // Each rank's `sh -c` reads its rank from Open MPI's environment.
    let script = format!(
        "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then f=tests/distributed/missing.grad; else f=tests/distributed/adam.grad; fi; \
         exec {} run $f --distributed -q",
        bin()
    );
    let stderr = fails_once(2, &["sh", "-c", &script], &dir, "rank 1 of 2 failed");
    assert!(stderr.contains("tests/distributed/missing.grad"), "{stderr}");
}

#[test]
fn ranks_that_would_train_different_programs_do_not_start() {
    let dir = temp_dir("disagree");
    let script =
        format!("exec {} run tests/distributed/adam.grad --distributed -q --seed $((5 + OMPI_COMM_WORLD_RANK))", bin());
    fails_once(2, &["sh", "-c", &script], &dir, "the ranks compiled different programs");
}

#[test]
fn a_rank_that_dies_ends_the_run() {
    let dir = temp_dir("dies");
    let run = format!("{} run tests/distributed/adam.grad --distributed -q --steps 100000000", bin());
    let script = format!(
        "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then {run} & pid=$!; sleep 1; kill -9 $pid; wait $pid; else exec {run}; fi"
    );
    fails_once(2, &["sh", "-c", &script], &dir, "gradc: rank 0: the distributed run was ended by its launcher");
}

#[test]
fn a_batch_smaller_than_the_ranks_is_an_error() {
    let dir = temp_dir("small_batch");
    let tiny = adam_with(&dir, "batch = 30", "batch = 3");
    fails_once(4, &[bin(), "run", &tiny, "--distributed"], &dir, "the batch has 3 rows, fewer than the 4 ranks");
}

#[test]
fn ranks_of_a_run_that_is_not_distributed_refuse() {
    let dir = temp_dir("not_distributed");
    let argv = [bin(), "run", "tests/distributed/adam.grad", "-q"];
    fails_once(2, &argv, &dir, "started on 2 ranks, but the run is not distributed");
}

#[test]
fn the_train_block_can_ask_for_it() {
    let dir = temp_dir("train_key");
    let file = adam_with(&dir, "log_every = 1", "distributed = true");
    gradc_ok(&["run", "tests/distributed/adam.grad", "-q", "--save", &at(&dir, "alone.safetensors")]);
    let out = mpirun(2, &[bin(), "run", &file, "-q", "--save", &at(&dir, "two.safetensors")], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = model(&dir.join("alone.safetensors"));
    assert_tensors_close("distributed = true on 2 ranks", &model(&dir.join("two.safetensors")), &want, 1e-6);
    // Without a launcher the key trains one rank, as one process does.
    gradc_ok(&["run", &file, "-q", "--save", &at(&dir, "one.safetensors")]);
    assert_eq!(tensors(&dir.join("one.safetensors")), tensors(&dir.join("alone.safetensors")));
}

#[test]
fn a_sum_over_the_ranks_in_evaluation_is_an_error() {
    let dir = temp_dir("eval_sum");
    let summed = adam_with(&dir, "dense(h, 3)", "all_sum(dense(h, 3))");
    fails_once(2, &[bin(), "run", &summed, "--distributed"], &dir, "evaluation would sum over the ranks");
    // In one process the sum is the identity, and the program trains.
    gradc_ok(&["run", &summed, "-q", "--steps", "2"]);
}

#[test]
fn early_stopping_and_plateau_decide_as_one_process() {
    let dir = temp_dir("controls");
    let file = "tests/distributed/controls.grad";
    let summary = |out: &Output| -> Value { serde_json::from_slice(&out.stdout).expect("a JSON summary") };
    let alone = gradc_ok(&["run", file, "--json", "--save", &at(&dir, "alone.safetensors")]);
    let want = summary(&alone);
    assert_eq!(want["stopped"], "early_stopping", "the fixture should stop early: {want}");
    for ranks in [2, 4] {
        let saved = at(&dir, &format!("r{ranks}.safetensors"));
        // Not quiet: rank 0 prints progress lines, and the ranks decide alike all the same.
        let out = mpirun(ranks, &[bin(), "run", file, "--distributed", "--json", "--save", &saved], &dir);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got = summary(&out);
        assert_eq!((&got["steps"], &got["stopped"]), (&want["steps"], &want["stopped"]), "{ranks} ranks");
        let (g, w) = (got["metrics"]["val_loss"].as_f64().unwrap(), want["metrics"]["val_loss"].as_f64().unwrap());
        assert!((g - w).abs() <= 1e-6 * w, "{ranks} ranks: val_loss {g} against {w}");
        let what = format!("early stopping on {ranks} ranks");
        assert_tensors_close(&what, &model(Path::new(&saved)), &model(&dir.join("alone.safetensors")), 1e-6);
        let progress = String::from_utf8_lossy(&out.stderr);
        assert!(progress.contains("val_loss") && progress.contains(&format!("{ranks} ranks")), "{progress}");
    }
}

#[test]
fn ranks_that_would_evaluate_at_other_steps_do_not_start() {
    let dir = temp_dir("log_every");
    let script = format!(
        "exec {} run tests/distributed/adam.grad --distributed -q --log-every $((1 + OMPI_COMM_WORLD_RANK))",
        bin()
    );
    fails_once(2, &["sh", "-c", &script], &dir, "the ranks compiled different programs");
}
