//! Checkpoints: round trips, atomic writes, and each way a file can fail to fit a program.

use std::path::PathBuf;

use super::*;
use crate::diag::{FileId, Span};
use crate::spec::Init;

fn param(name: &str, shape: &[usize]) -> ParamInfo {
    ParamInfo { name: name.into(), shape: shape.to_vec(), init: Init::Zeros, span: Span::new(FileId(0), 0, 0) }
}

/// A fresh directory for one test.
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gradc-checkpoint-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Writes raw tensors (name, dtype, shape, bytes), as another tool might.
fn write_raw(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views = tensors.iter().map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).expect("valid view")));
    std::fs::write(path, safetensors::serialize(views, None).expect("serialize")).expect("write");
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The layer `h1` of a 3→2 dense layer and a scalar.
fn program() -> Vec<ParamInfo> {
    vec![param("h1.w", &[3, 2]), param("h1.b", &[2]), param("theta", &[])]
}

/// Loads and expects a diagnostic; returns its code and its rendering.
fn load_err(path: &Path) -> (&'static str, String) {
    let d = load(path, &program(), &[], &[]).expect_err("must be rejected");
    assert!(d.help.is_some(), "{} has a help line", d.code);
    (d.code, d.render_plain())
}

#[test]
fn round_trip_keeps_names_shapes_and_bits() {
    let d = dir("round_trip");
    let path = d.join("w.safetensors");
    let values = vec![
        ("h1.w".to_string(), vec![1.0, -2.5, 3.25, f32::MIN_POSITIVE, 1e-30, -0.0]),
        ("h1.b".to_string(), vec![0.1, 0.2]),
        ("theta".to_string(), vec![std::f32::consts::PI]),
    ];
    let state = [("h1.b.m".to_string(), vec![2], vec![0.5, -0.5])];
    save(&path, &program(), &values, &state, None, 7, &RunState::default()).expect("save");
    // `h1.b.m` is the optimizer's state, `h1.b.v` another slot (an accumulator, say).
    let slots = [("h1.b.m".to_string(), vec![2]), ("h1.b.v".to_string(), vec![2])];
    let restored = load(&path, &program(), &["h1.b.m".to_string()], &slots).expect("load");
    assert_eq!(restored.other_state, None);
    assert_eq!(restored.step, 7, "the step comes back");
    let (back, moments) = restored.values.split_at(values.len());
    assert_eq!(moments, [("h1.b.m".to_string(), vec![0.5, -0.5])], "saved state comes back; absent state is skipped");
    let bits = |v: &[(String, Vec<f32>)]| -> Vec<(String, Vec<u32>)> {
        v.iter().map(|(n, x)| (n.clone(), x.iter().map(|f| f.to_bits()).collect())).collect()
    };
    assert_eq!(bits(back), bits(&values));
    let names: Vec<String> =
        std::fs::read_dir(&d).expect("list").map(|e| e.expect("entry").path().display().to_string()).collect();
    assert_eq!(names.len(), 1, "no temporary file is left behind: {names:?}");
}

#[test]
fn save_replaces_an_existing_file() {
    let path = dir("replace").join("w.safetensors");
    std::fs::write(&path, b"old").expect("write");
    let values = vec![("theta".to_string(), vec![2.0])];
    save(&path, &[param("theta", &[])], &values, &[], None, 0, &RunState::default()).expect("save");
    assert_eq!(load(&path, &[param("theta", &[])], &[], &[]).expect("load").values, values);
}

#[test]
fn save_into_a_missing_directory_is_a_diagnostic() {
    let path = dir("no_dir").join("absent").join("w.safetensors");
    assert_eq!(check_writable(&path).expect_err("no directory").code, errors::CHECKPOINT_WRITE);
    check_writable(&dir("no_dir").join("w.safetensors")).expect("the directory exists");
    let d = save(&path, &[param("theta", &[])], &[("theta".into(), vec![1.0])], &[], None, 0, &RunState::default())
        .expect_err("no directory");
    assert_eq!(d.code, errors::CHECKPOINT_WRITE);
    assert!(d.render_plain().contains("w.safetensors"));
}

/// The names of the files in `d`.
fn entries(d: &Path) -> Vec<String> {
    let names = std::fs::read_dir(d).expect("list").map(|e| e.expect("entry").file_name());
    names.map(|n| n.to_string_lossy().into_owned()).collect()
}

#[test]
fn a_failed_save_leaves_no_temporary_file_and_the_old_file_intact() {
    let d = dir("failed_rename");
    let path = d.join("w.safetensors");
    std::fs::create_dir(&path).expect("a directory where the checkpoint goes");
    std::fs::write(path.join("keep"), b"mine").expect("write");
    let err = save(&path, &[param("theta", &[])], &[("theta".into(), vec![1.0])], &[], None, 0, &RunState::default())
        .expect_err("rename fails");
    assert_eq!(err.code, errors::CHECKPOINT_WRITE);
    assert_eq!(entries(&d), ["w.safetensors"], "no temporary file is left behind");
    assert_eq!(std::fs::read(path.join("keep")).expect("read"), b"mine", "what was there is untouched");
    check_writable(&path).expect_err("a directory is refused before training");
    assert_eq!(entries(&d), ["w.safetensors"], "checking leaves nothing behind");
}

#[test]
fn a_missing_tensor_is_named() {
    let path = dir("missing").join("w.safetensors");
    write_raw(
        &path,
        &[
            ("h1.w", Dtype::F32, vec![3, 2], f32_bytes(&[0.0; 6])),
            ("theta", Dtype::F32, vec![], f32_bytes(&[0.0])),
            ("hidden.b", Dtype::F32, vec![2], f32_bytes(&[0.0; 2])),
        ],
    );
    let (code, text) = load_err(&path);
    assert_eq!(code, errors::CHECKPOINT_MISSING);
    assert!(text.contains("`h1.b`"), "{text}");
    assert!(text.contains("`hidden.b`"), "the help names the tensors it holds instead: {text}");
}

#[test]
fn an_extra_tensor_is_named() {
    let path = dir("extra").join("w.safetensors");
    write_raw(
        &path,
        &[
            ("h1.w", Dtype::F32, vec![3, 2], f32_bytes(&[0.0; 6])),
            ("h1.b", Dtype::F32, vec![2], f32_bytes(&[0.0; 2])),
            ("theta", Dtype::F32, vec![], f32_bytes(&[0.0])),
            ("h2.w", Dtype::F32, vec![2, 2], f32_bytes(&[0.0; 4])),
        ],
    );
    let (code, text) = load_err(&path);
    assert_eq!(code, errors::CHECKPOINT_EXTRA);
    assert!(text.contains("`h2.w`"), "{text}");
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let path = dir("shape").join("w.safetensors");
    write_raw(
        &path,
        &[
            ("h1.w", Dtype::F32, vec![2, 3], f32_bytes(&[0.0; 6])),
            ("h1.b", Dtype::F32, vec![2], f32_bytes(&[0.0; 2])),
            ("theta", Dtype::F32, vec![], f32_bytes(&[0.0])),
        ],
    );
    let (code, text) = load_err(&path);
    assert_eq!(code, errors::CHECKPOINT_SHAPE);
    assert!(text.contains("`h1.w`") && text.contains("[2, 3]") && text.contains("[3, 2]"), "{text}");
}

#[test]
fn a_non_f32_tensor_is_named() {
    let path = dir("dtype").join("w.safetensors");
    let f64_bytes: Vec<u8> = [0.5f64, 1.5].iter().flat_map(|x| x.to_le_bytes()).collect();
    write_raw(
        &path,
        &[
            ("h1.w", Dtype::F32, vec![3, 2], f32_bytes(&[0.0; 6])),
            ("h1.b", Dtype::F64, vec![2], f64_bytes),
            ("theta", Dtype::F32, vec![], f32_bytes(&[0.0])),
        ],
    );
    let (code, text) = load_err(&path);
    assert_eq!(code, errors::CHECKPOINT_DTYPE);
    assert!(text.contains("`h1.b`") && text.contains("F64"), "{text}");
}

#[test]
fn an_unreadable_file_is_a_diagnostic() {
    let path = dir("unreadable").join("absent.safetensors");
    let (code, text) = load_err(&path);
    assert_eq!(code, errors::CHECKPOINT_READ);
    assert!(text.contains("absent.safetensors"), "{text}");
}

#[test]
fn a_corrupt_file_is_a_diagnostic() {
    let d = dir("corrupt");
    let short = d.join("short.safetensors");
    std::fs::write(&short, b"abc").expect("write");
    assert_eq!(load_err(&short).0, errors::CHECKPOINT_CORRUPT);
    // A valid file cut short: the header promises more data than there is.
    let cut = d.join("cut.safetensors");
    write_raw(&cut, &[("theta", Dtype::F32, vec![], f32_bytes(&[1.0]))]);
    let bytes = std::fs::read(&cut).expect("read");
    std::fs::write(&cut, &bytes[..bytes.len() - 2]).expect("write");
    let (code, text) = load_err(&cut);
    assert_eq!(code, errors::CHECKPOINT_CORRUPT);
    assert!(text.contains("cut.safetensors"), "{text}");
}

/// The parameters of `program()` and a step, saved with `state` (name, shape, values).
fn saved(test: &str, state: &[(&str, Vec<usize>, Vec<f32>)], scaling: Option<&Scaling>, step: usize) -> PathBuf {
    let path = dir(test).join("w.safetensors");
    let values =
        vec![("h1.w".to_string(), vec![1.0; 6]), ("h1.b".to_string(), vec![2.0; 2]), ("theta".to_string(), vec![3.0])];
    let state: Vec<(String, Vec<usize>, Vec<f32>)> =
        state.iter().map(|(n, s, v)| (n.to_string(), s.clone(), v.clone())).collect();
    // Recorded as a run of the optimizer whose state it is.
    let params = program();
    let owners: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let run =
        RunState { optimizer: Some(kinds(state.iter().map(|(n, _, _)| n.as_str()), &owners)), ..RunState::default() };
    save(&path, &program(), &values, &state, scaling, step, &run).expect("save");
    path
}

fn names(v: &[(String, Vec<f32>)]) -> Vec<&str> {
    v.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn another_optimizer_s_state_starts_the_run_afresh() {
    // Saved by momentum (`.v`), resumed by Adam (`.m`, `.v`): the parameters load, the state
    // does not, and the run counts from 0. (This was a `gradc::checkpoint::extra` error.)
    let path = saved("other_optimizer", &[("h1.b.v", vec![2], vec![0.5; 2])], None, 9);
    let adam: Vec<String> = ["h1.b.m", "h1.b.v"].map(String::from).to_vec();
    let slots: Vec<(String, Vec<usize>)> = adam.iter().map(|n| (n.clone(), vec![2])).collect();
    let r = load(&path, &program(), &adam, &slots).expect("loads");
    assert_eq!((names(&r.values), r.step), (vec!["h1.w", "h1.b", "theta"], 0));
    assert_eq!(r.other_state, Some(vec!["h1.b.v".to_string()]));
    // Resumed by plain SGD, which has no state.
    let r = load(&path, &program(), &[], &[]).expect("loads");
    assert_eq!((r.step, r.other_state), (0, Some(vec!["h1.b.v".to_string()])));
    // Saved by SGD after 9 steps (no state), resumed by Adam: afresh too, said so.
    let sgd = saved("from_sgd", &[], None, 9);
    let r = load(&sgd, &program(), &adam, &slots).expect("loads");
    assert_eq!((r.step, r.other_state), (0, Some(vec![])));
    // The same optimizer resumes exactly.
    let r = load(&sgd, &program(), &[], &[]).expect("loads");
    assert_eq!((r.step, r.other_state), (9, None));
    // Parameters only, at step 0 (from PyTorch, say): fresh state, nothing to say.
    let fresh = saved("params_only", &[], None, 0);
    assert_eq!(load(&fresh, &program(), &adam, &slots).expect("loads").other_state, None);
}

#[test]
fn weights_for_scoring_ignore_any_optimizer_s_state_and_need_every_parameter() {
    let s = Scaling { mean: vec![1.0, 2.0], std: vec![0.5, 4.0] };
    let path = saved("weights", &[("h1.b.m", vec![2], vec![0.5; 2]), ("theta.v", vec![], vec![1.0])], Some(&s), 4);
    let inputs: Vec<(String, Vec<usize>)> = program().iter().map(|p| (p.name.clone(), p.shape.clone())).collect();
    let w = load_weights(&path, &inputs).expect("loads");
    assert_eq!(names(&w), ["h1.w", "h1.b", "theta"]);
    assert_eq!(w[2].1, [3.0]);
    // A scoring graph without `theta`: its tensor and state are neither asked for nor known.
    let d = load_weights(&path, &inputs[..2]).expect_err("`theta` is no input");
    assert_eq!(d.code, errors::CHECKPOINT_EXTRA);
    assert!(d.message.contains("`theta`"), "{}", d.message);
    let more = [inputs.clone(), vec![("out.w".to_string(), vec![2, 2])]].concat();
    let d = load_weights(&path, &more).expect_err("no `out.w`");
    assert_eq!(d.code, errors::CHECKPOINT_MISSING);
    assert!(d.message.contains("`out.w`") && d.help.is_some(), "{}", d.message);
}

#[test]
fn standardization_statistics_round_trip_and_are_no_parameter() {
    let s = Scaling { mean: vec![1.5, -2.0, 0.25], std: vec![0.5, 4.0, 1.0] };
    let path = saved("scaling", &[], Some(&s), 3);
    assert_eq!(load_scaling(&path).expect("reads"), Some(s));
    let r = load(&path, &program(), &[], &[]).expect("the statistics are not an extra tensor");
    assert_eq!((names(&r.values).len(), r.step), (3, 3));
    assert_eq!(load_scaling(&saved("no_scaling", &[], None, 3)).expect("reads"), None);
    // Damaged statistics: a deviation of 0, or a mean without its deviations.
    let bad = dir("bad_scaling").join("w.safetensors");
    write_raw(
        &bad,
        &[
            (STANDARDIZE_MEAN, Dtype::F32, vec![1], f32_bytes(&[0.0])),
            (STANDARDIZE_STD, Dtype::F32, vec![1], f32_bytes(&[0.0])),
        ],
    );
    let d = load_scaling(&bad).expect_err("std 0");
    assert_eq!(d.code, errors::CHECKPOINT_CORRUPT);
    assert!(d.message.contains(STANDARDIZE_STD) && d.help.is_some(), "{}", d.message);
    write_raw(&bad, &[(STANDARDIZE_MEAN, Dtype::F32, vec![1], f32_bytes(&[0.0]))]);
    assert_eq!(load_scaling(&bad).expect_err("no std").code, errors::CHECKPOINT_MISSING);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_or_a_fifo_is_not_replaced() {
    // Renaming over them would have replaced the link itself, or removed the FIFO.
    let d = dir("special");
    let target = d.join("target.safetensors");
    std::fs::write(&target, b"mine").expect("write");
    let link = d.join("link.safetensors");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let fifo = d.join("fifo.safetensors");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success());
    let values = [("theta".to_string(), vec![1.0])];
    for path in [&link, &fifo] {
        let e = check_writable(path).expect_err("refused before training");
        assert_eq!(e.code, errors::CHECKPOINT_WRITE);
        let e = save(path, &[param("theta", &[])], &values, &[], None, 0, &RunState::default()).expect_err("refused");
        assert!(e.message.contains("gradc does not replace"), "{}", e.message);
    }
    assert!(std::fs::symlink_metadata(&link).expect("still there").file_type().is_symlink());
    assert!(!std::fs::symlink_metadata(&fifo).expect("still there").is_file());
    assert_eq!(std::fs::read(&target).expect("read"), b"mine");
    assert_eq!(entries(&d).len(), 3, "no temporary file is left behind: {:?}", entries(&d));
}

#[test]
fn the_run_state_round_trips_bit_for_bit() {
    use crate::runtime::stopping::{EarlyStopState, PlateauCounters};
    let path = dir("run_state").join("w.safetensors");
    let values =
        vec![("h1.w".to_string(), vec![1.0; 6]), ("h1.b".to_string(), vec![2.0; 2]), ("theta".to_string(), vec![3.0])];
    let state = [("theta.m".to_string(), vec![], vec![0.25])];
    let best_params = vec![
        ("h1.w".to_string(), vec![-1.5; 6]),
        ("h1.b".to_string(), vec![0.5, 0.75]),
        ("theta".to_string(), vec![1e-30]),
    ];
    let run = RunState {
        seed: Some(u64::MAX - 3),
        optimizer: Some(vec!["m".to_string()]),
        last_loss: 0.1 + 0.2,
        early_stop: Some(EarlyStopState { best: 1.0 / 3.0, best_epoch: 41, wait: 3, best_params }),
        plateau: Some(PlateauCounters { best: f64::INFINITY, bad_epochs: 1, cooldown: 2, scale: 0.125 }),
    };
    save(&path, &program(), &values, &state, None, 650, &run).expect("save");
    let r = load(&path, &program(), &["theta.m".to_string()], &[("theta.m".to_string(), vec![])]).expect("load");
    assert_eq!((r.step, &r.run), (650, &run), "every counter, value and best parameter comes back");
    // The record is gradc's own: scoring a saved model ignores it.
    let inputs: Vec<(String, Vec<usize>)> = program().iter().map(|p| (p.name.clone(), p.shape.clone())).collect();
    assert_eq!(load_weights(&path, &inputs).expect("loads").len(), 3);
}

#[test]
fn the_same_optimizer_s_missing_state_is_named_and_another_s_starts_afresh() {
    let adam: Vec<String> = ["h1.b.m", "h1.b.v"].map(String::from).to_vec();
    let slots: Vec<(String, Vec<usize>)> = adam.iter().map(|n| (n.clone(), vec![2])).collect();
    // Saved by Adam, one moment lost: an error naming it, not zeros for it.
    let path = saved("lost_moment", &[("h1.b.m", vec![2], vec![0.5; 2]), ("h1.b.v", vec![2], vec![0.5; 2])], None, 9);
    let d = path.parent().expect("in a directory");
    let partial = d.join("partial.safetensors");
    let bytes = std::fs::read(&path).expect("read");
    let file = SafeTensors::deserialize(&bytes).expect("valid");
    let kept = file.tensors().into_iter().filter(|(n, _)| n != "h1.b.v");
    let meta = HashMap::from([(STEP_KEY.to_string(), "9".to_string())]);
    std::fs::write(&partial, safetensors::serialize(kept, Some(meta.clone())).expect("encode")).expect("write");
    let e = load(&partial, &program(), &adam, &slots).expect_err("a moment is missing");
    assert_eq!(e.code, errors::CHECKPOINT_MISSING);
    assert!(e.message.contains("`h1.b.v`") && e.message.contains("step 9") && e.help.is_some(), "{}", e.message);
    // All of it lost, with the record saying it was Adam's: an error too.
    let bare = d.join("bare.safetensors");
    let kept = file.tensors().into_iter().filter(|(n, _)| !n.starts_with("h1.b."));
    std::fs::write(&bare, safetensors::serialize(kept, Some(meta.clone())).expect("encode")).expect("write");
    let e = load(&bare, &program(), &adam, &slots).expect_err("the state is missing");
    assert!(e.message.contains("`h1.b.m`"), "{}", e.message);
    // Without the record (an older gradc's file), the state tensors tell: one of Adam's kinds
    // left is still Adam's, none left is an optimizer without state, as before.
    let old = d.join("old.safetensors");
    let kept = file.tensors().into_iter().filter(|(n, _)| n != "h1.b.v" && !n.starts_with("gradc."));
    std::fs::write(&old, safetensors::serialize(kept, Some(meta.clone())).expect("encode")).expect("write");
    let r = load(&old, &program(), &adam, &slots).expect("loads");
    assert_eq!((r.step, r.other_state), (0, Some(vec!["h1.b.m".to_string()])), "only `m`: another optimizer's");
    let kept = file.tensors().into_iter().filter(|(n, _)| !n.starts_with("h1.b.") && !n.starts_with("gradc."));
    std::fs::write(&old, safetensors::serialize(kept, Some(meta)).expect("encode")).expect("write");
    let r = load(&old, &program(), &adam, &slots).expect("loads");
    assert_eq!((r.step, r.other_state), (0, Some(vec![])));
}
