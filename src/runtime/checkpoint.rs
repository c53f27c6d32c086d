//! Checkpoints: parameter values in safetensors files, keyed by the names `gradc ir` prints
//! (`h1.w`), so a file written by PyTorch's `safetensors.torch.save_file` with the same names and
//! shapes loads as is.
//!
//! `gradc run --save` also stores the optimizer state (`h1.w.m`, ...) and, in the metadata
//! entry `gradc.step`, the updates made, so `--init` of such a file resumes the run exactly
//! where it stopped: same moments, same step for bias corrections and schedules, same batch.
//! A file with parameters only (from PyTorch, say) starts fresh state at step 0.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::errors;
use crate::diag::Diag;
use crate::spec::ParamInfo;

/// The metadata key holding the number of updates a saved run had made.
const STEP_KEY: &str = "gradc.step";

/// The suffix of PyTorch's batch-norm counters, which loading skips.
const TORCH_COUNTER: &str = ".num_batches_tracked";

/// What a checkpoint restores.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// Every parameter, then each optimizer state tensor the file holds, by name.
    pub values: Vec<(String, Vec<f32>)>,
    /// Updates the saved run had made (0 for a file without progress).
    pub step: usize,
}

/// Reads the parameters `params`, and whichever of the optimizer state tensors `state` (name
/// and shape) it holds, from the safetensors file at `path`.
///
/// Every parameter must have a tensor of its name, of dtype F32 and of its shape; a state
/// tensor, if present, likewise; and the file must hold no other tensor (an extra tensor usually
/// means a renamed layer, which would silently start from its initializer). Each violation is a
/// `gradc::checkpoint::*` diagnostic naming the tensor; so is a file that cannot be read or is
/// not safetensors.
pub fn load(path: &Path, params: &[ParamInfo], state: &[(String, Vec<usize>)]) -> Result<Restored, Diag> {
    let bytes = std::fs::read(path).map_err(|e| errors::checkpoint_unreadable(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| errors::checkpoint_corrupt(path, e))?;
    let step = match SafeTensors::read_metadata(&bytes).ok().and_then(|(_, m)| m.metadata().clone()) {
        Some(meta) => match meta.get(STEP_KEY).map(|s| s.parse::<usize>()) {
            Some(Ok(step)) => step,
            Some(Err(_)) => return Err(errors::checkpoint_bad_step(path, STEP_KEY)),
            None => 0,
        },
        None => 0,
    };
    let tensors: HashMap<&str, TensorView<'_>> = file.iter().collect();
    let wanted: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    // PyTorch's batch norm keeps a `num_batches_tracked` counter that gradc has no use for
    // (with the default momentum); a state dict saved from PyTorch carries it.
    let known = |n: &&str| wanted.contains(n) || state.iter().any(|(s, _)| s == n) || n.ends_with(TORCH_COUNTER);
    let mut extra: Vec<&str> = tensors.keys().copied().filter(|n| !known(n)).collect();
    extra.sort_unstable();

    let mut out = Vec::with_capacity(params.len() + state.len());
    let present_state = state.iter().filter(|(n, _)| tensors.contains_key(n.as_str()));
    let slots = params.iter().map(|p| (&p.name, &p.shape)).chain(present_state.map(|(n, s)| (n, s)));
    for (name, shape) in slots {
        let p = Slot { name, shape };
        let Some(t) = tensors.get(p.name.as_str()) else {
            return Err(errors::checkpoint_missing(path, p.name, &extra));
        };
        if t.dtype() != Dtype::F32 {
            return Err(errors::checkpoint_dtype(path, p.name, t.dtype()));
        }
        if t.shape() != p.shape.as_slice() {
            return Err(errors::checkpoint_shape(path, p.name, t.shape(), p.shape));
        }
        // safetensors has already checked that the data is exactly shape × 4 bytes; it is
        // little-endian and not necessarily aligned, so decode instead of casting.
        let values = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        out.push((p.name.clone(), values));
    }
    if let Some(name) = extra.first() {
        return Err(errors::checkpoint_extra(path, name, &wanted));
    }
    Ok(Restored { values: out, step })
}

/// A tensor the file must (or may) hold.
struct Slot<'a> {
    name: &'a String,
    shape: &'a Vec<usize>,
}

/// Writes `values` (by parameter name, as `Summary::params` holds them) to `path` as a
/// safetensors file with each parameter's shape from `params`, then the optimizer `state`
/// tensors (name, shape, values) and the updates made, `step`, for resuming.
///
/// The write is atomic ([`write_atomically`]), so an interrupted run never leaves a truncated
/// checkpoint.
///
/// # Panics
/// If a parameter in `params` has no entry in `values`, or one whose length is not its shape's.
pub fn save(
    path: &Path,
    params: &[ParamInfo],
    values: &[(String, Vec<f32>)],
    state: &[(String, Vec<usize>, Vec<f32>)],
    step: usize,
) -> Result<(), Diag> {
    let mut tensors: Vec<(&str, &[usize], &[f32])> = params
        .iter()
        .map(|p| {
            let v = &values.iter().find(|(n, _)| *n == p.name).unwrap_or_else(|| panic!("no value for `{}`", p.name)).1;
            (p.name.as_str(), p.shape.as_slice(), v.as_slice())
        })
        .collect();
    tensors.extend(state.iter().map(|(n, s, v)| (n.as_str(), s.as_slice(), v.as_slice())));
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(name, shape, v)| {
            assert_eq!(v.len(), shape.iter().product::<usize>(), "`{name}` has the wrong number of values");
            v.iter().flat_map(|x| x.to_le_bytes()).collect()
        })
        .collect();
    let views = tensors.iter().zip(&bytes).map(|((name, shape, _), b)| {
        // The length was checked above, so the view is valid.
        let view = TensorView::new(Dtype::F32, shape.to_vec(), b).expect("data matches the shape");
        (*name, view)
    });
    let meta = HashMap::from([(STEP_KEY.to_string(), step.to_string())]);
    let encoded = safetensors::serialize(views, Some(meta)).map_err(|e| errors::checkpoint_unencodable(path, e))?;
    write_atomically(path, &encoded).map_err(|e| errors::checkpoint_unwritable(path, e))
}

/// Writes `bytes` to `path` atomically and durably: to a temporary file in the same directory
/// (a rename is atomic only within one file system), synced, renamed over `path`, and then the
/// directory synced so the rename itself survives a crash. The temporary file exists only for
/// this call, and is removed when any step fails (by `NamedTempFile`'s drop) or the process is
/// interrupted while writing it (by [`super::interrupt`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temp = temp_file(path)?;
    #[cfg(unix)]
    let _interrupt = super::interrupt::guard(temp.path());
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    sync_dir(parent_dir(path))
}

/// Checks that [`save`] will be able to write `path`, by creating and removing a temporary file
/// beside it: run before training, so a mistyped directory is reported before the run, not after it.
pub fn check_writable(path: &Path) -> Result<(), Diag> {
    let probe = |t: tempfile::NamedTempFile| {
        #[cfg(unix)]
        let _interrupt = super::interrupt::guard(t.path());
        t.close()
    };
    temp_file(path).and_then(probe).map_err(|e| errors::checkpoint_unwritable(path, e))
}

/// A new temporary file beside `path`, hidden and named after it (`.ckpt.safetensors.XXXXXX.tmp`,
/// unique, so concurrent runs saving to one directory do not collide).
fn temp_file(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path does not name a file"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A checkpoint is created as any new file is (0666 less the umask), not tempfile's 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(parent_dir(path))
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Makes a rename in `dir` durable. Only Unix can open a directory to sync it; elsewhere the
/// rename is as durable as the file system makes it.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `a`, `b`, `c` for a help line.
#[cfg(test)]
mod tests {
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
        let d = load(path, &program(), &[]).expect_err("must be rejected");
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
        save(&path, &program(), &values, &state, 7).expect("save");
        let slots = [("h1.b.m".to_string(), vec![2]), ("h1.b.v".to_string(), vec![2])];
        let restored = load(&path, &program(), &slots).expect("load");
        assert_eq!(restored.step, 7, "the step comes back");
        let (back, moments) = restored.values.split_at(values.len());
        assert_eq!(
            moments,
            [("h1.b.m".to_string(), vec![0.5, -0.5])],
            "saved state comes back; absent state is skipped"
        );
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
        save(&path, &[param("theta", &[])], &values, &[], 0).expect("save");
        assert_eq!(load(&path, &[param("theta", &[])], &[]).expect("load").values, values);
    }

    #[test]
    fn save_into_a_missing_directory_is_a_diagnostic() {
        let path = dir("no_dir").join("absent").join("w.safetensors");
        assert_eq!(check_writable(&path).expect_err("no directory").code, errors::CHECKPOINT_WRITE);
        check_writable(&dir("no_dir").join("w.safetensors")).expect("the directory exists");
        let d = save(&path, &[param("theta", &[])], &[("theta".into(), vec![1.0])], &[], 0).expect_err("no directory");
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
        // Renaming a file over a non-empty directory fails after the temporary file is written
        // and synced: the last step, so everything before it has left its trace if any does.
        let d = dir("failed_rename");
        let path = d.join("w.safetensors");
        std::fs::create_dir(&path).expect("a directory where the checkpoint goes");
        std::fs::write(path.join("keep"), b"mine").expect("write");
        let err =
            save(&path, &[param("theta", &[])], &[("theta".into(), vec![1.0])], &[], 0).expect_err("rename fails");
        assert_eq!(err.code, errors::CHECKPOINT_WRITE);
        assert_eq!(entries(&d), ["w.safetensors"], "no temporary file is left behind");
        assert_eq!(std::fs::read(path.join("keep")).expect("read"), b"mine", "what was there is untouched");
        check_writable(&path).expect("the directory it is in is writable");
        assert_eq!(entries(&d), ["w.safetensors"], "checking leaves nothing behind");
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("w.safetensors")), Path::new("."));
        assert_eq!(parent_dir(Path::new("out/w.safetensors")), Path::new("out"));
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
}
