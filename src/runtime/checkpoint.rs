//! Checkpoints: parameter values in safetensors files, keyed by the names `gradc ir` prints
//! (`h1.w`), so a file written by PyTorch's `safetensors.torch.save_file` with the same names and
//! shapes loads as is.
//!
//! `gradc run --save` also stores the optimizer state (`h1.w.m`, ...), in the metadata entry
//! `gradc.step` the updates made, and in `gradc.*` tensors the rest of where the run stands
//! ([`run_state`]: seed, early-stopping and plateau counters), so `--init` of such a file
//! resumes the run exactly where it stopped: same moments, same step for bias corrections and
//! schedules, same batch, same counters. A file with parameters only (from PyTorch, say)
//! starts fresh state at step 0.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use super::errors;
use crate::data::transform::Scaling;
use crate::diag::Diag;
use crate::output;
use crate::spec::ParamInfo;

mod run_state;
pub use run_state::{kinds, RunState};

/// The metadata key holding the number of updates a saved run had made.
const STEP_KEY: &str = "gradc.step";

/// The tensor holding the mean of each standardized feature or channel (`|> standardize`).
pub const STANDARDIZE_MEAN: &str = "gradc.standardize.mean";
/// The tensor holding the standard deviation of each standardized feature or channel.
pub const STANDARDIZE_STD: &str = "gradc.standardize.std";
/// The suffix of PyTorch's batch-norm counters, which loading skips: gradc has no use for them
/// (with the default momentum), and a state dict saved from PyTorch carries them.
const TORCH_COUNTER: &str = ".num_batches_tracked";

/// Whether tensor `name` is gradc's own, not a program's: a parameter cannot be named so (a
/// name has no `gradc.` prefix: layers are named after bindings).
fn gradcs_own(name: &str) -> bool {
    name.starts_with("gradc.")
}

/// What a checkpoint restores.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    /// Every parameter, then each optimizer state tensor the file holds, by name.
    pub values: Vec<(String, Vec<f32>)>,
    /// Updates the saved run had made (0 for a file without progress).
    pub step: usize,
    /// The optimizer state the file holds when it is not this program's optimizer's, by name
    /// (empty if the file has a step but no state): left unused, so the run starts afresh.
    pub other_state: Option<Vec<String>>,
    /// Where the saved run stood besides (the default when the run starts afresh).
    pub run: RunState,
}

/// A checkpoint's bytes, read once.
struct File<'p> {
    /// Where it was read from, for diagnostics.
    path: &'p Path,
    bytes: Vec<u8>,
}

impl<'p> File<'p> {
    /// Reads the file at `path`.
    fn read(path: &'p Path) -> Result<File<'p>, Diag> {
        // Checkpoints hold parameters and optimizer state, far below this; the cap keeps a
        // mistaken path (a disk image, a device) from being read into memory whole.
        const MAX_CHECKPOINT_BYTES: u64 = 16 << 30;
        let bytes = crate::files::read_regular(path, MAX_CHECKPOINT_BYTES)
            .map_err(|r| errors::checkpoint_unreadable(path, r))?;
        Ok(File { path, bytes })
    }

    /// The tensors by name.
    fn tensors(&self) -> Result<HashMap<String, TensorView<'_>>, Diag> {
        let file = SafeTensors::deserialize(&self.bytes).map_err(|e| errors::checkpoint_corrupt(self.path, e))?;
        Ok(file.tensors().into_iter().collect())
    }

    /// The step the metadata records, 0 if none.
    fn step(&self) -> Result<usize, Diag> {
        match SafeTensors::read_metadata(&self.bytes).ok().and_then(|(_, m)| m.metadata().clone()) {
            Some(meta) => match meta.get(STEP_KEY).map(|s| s.parse::<usize>()) {
                // Counts of steps are at most u32::MAX everywhere (flags and train keys), so a
                // run resumed from any valid step can add its own without overflowing.
                Some(Ok(step)) if step <= u32::MAX as usize => Ok(step),
                Some(Ok(step)) => Err(errors::checkpoint_step_too_large(self.path, STEP_KEY, step)),
                Some(Err(_)) => Err(errors::checkpoint_bad_step(self.path, STEP_KEY)),
                None => Ok(0),
            },
            None => Ok(0),
        }
    }

    /// The values of tensor `name`, which must be F32 of `shape`; `extra` are the tensors the
    /// program has no use for, the likely renamings if `name` is missing.
    fn values(
        &self,
        tensors: &HashMap<String, TensorView<'_>>,
        name: &str,
        shape: &[usize],
        extra: &[&str],
    ) -> Result<Vec<f32>, Diag> {
        let Some(t) = tensors.get(name) else {
            return Err(errors::checkpoint_missing(self.path, name, extra));
        };
        if t.dtype() != Dtype::F32 {
            return Err(errors::checkpoint_dtype(self.path, name, t.dtype()));
        }
        if t.shape() != shape {
            return Err(errors::checkpoint_shape(self.path, name, t.shape(), shape));
        }
        // safetensors has already checked that the data is exactly shape × 4 bytes; it is
        // little-endian and not necessarily aligned, so decode instead of casting.
        Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
}

/// Whether tensor `name` is state of one of the tensors `owners` (`h1.w.m` of `h1.w`).
fn state_of<'a>(name: &str, mut owners: impl Iterator<Item = &'a str>) -> bool {
    owners.any(|p| name.len() > p.len() + 1 && name.starts_with(p) && name.as_bytes()[p.len()] == b'.')
}

/// Reads the parameters `params`, and the optimizer and accumulator state `state` (name and
/// shape) when the file holds that of this program's optimizer (`optimizer`: its state
/// tensors' names), from the safetensors file at `path`, for `gradc run --init`.
///
/// Every parameter must have a tensor of its name, of dtype F32 and of its shape; state
/// tensors likewise. The file was saved by this program's optimizer when it kept the same kinds
/// of state (`m` and `v` of `h1.w.m`, `h1.w.v`), as its record says (or, in a file without one,
/// as its state tensors do); then every state tensor of the optimizer must be there, or the
/// run would resume with zeros for it. State of another optimizer (e.g. `h1.w.m` when the
/// program uses SGD) is left unused: the run starts with fresh state at step 0, and
/// [`Restored::other_state`] names it. The file must hold no other tensor besides gradc's own
/// (an extra tensor usually means a renamed layer, which would silently start from its
/// initializer). Each violation is a `gradc::checkpoint::*` diagnostic naming the tensor; so is
/// a file that cannot be read or is not safetensors.
pub fn load(
    path: &Path,
    params: &[ParamInfo],
    optimizer: &[String],
    state: &[(String, Vec<usize>)],
) -> Result<Restored, Diag> {
    let file = File::read(path)?;
    let tensors = file.tensors()?;
    let step = file.step()?;
    let wanted: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let mut saved_state: Vec<&str> = tensors
        .keys()
        .map(String::as_str)
        .filter(|n| !wanted.contains(n) && state_of(n, wanted.iter().copied()))
        .collect();
    saved_state.sort_unstable();
    let mut extra: Vec<&str> = tensors
        .keys()
        .map(String::as_str)
        .filter(|n| !wanted.contains(n) && !saved_state.contains(n) && !gradcs_own(n) && !n.ends_with(TORCH_COUNTER))
        .collect();
    extra.sort_unstable();
    let mut values = Vec::with_capacity(params.len() + state.len());
    for p in params {
        values.push((p.name.clone(), file.values(&tensors, &p.name, &p.shape, &extra)?));
    }
    if let Some(name) = extra.first() {
        return Err(errors::checkpoint_extra(path, name, &wanted));
    }
    let afresh = |values, other_state| Ok(Restored { values, step: 0, other_state, run: RunState::default() });
    if step == 0 && saved_state.is_empty() {
        return afresh(values, None);
    }
    let run = run_state::read(&file, &tensors, params)?;
    let ours = kinds(optimizer.iter().map(String::as_str), &wanted);
    let theirs = run.optimizer.clone().unwrap_or_else(|| {
        // This program's accumulators (`h1.w.acc`) are no optimizer's state.
        let accumulators = state.iter().map(|(n, _)| n.as_str()).filter(|n| !optimizer.iter().any(|o| o == n));
        let accumulators = kinds(accumulators, &wanted);
        let saved = kinds(saved_state.iter().copied(), &wanted);
        saved.into_iter().filter(|k| !accumulators.contains(k)).collect()
    });
    if ours != theirs {
        return afresh(values, Some(saved_state.iter().map(|n| n.to_string()).collect()));
    }
    if let Some(missing) = optimizer.iter().find(|n| !saved_state.contains(&n.as_str())) {
        return Err(errors::checkpoint_missing_state(path, missing, step));
    }
    for (name, shape) in state.iter().filter(|(n, _)| saved_state.contains(&n.as_str())) {
        values.push((name.clone(), file.values(&tensors, name, shape, &extra)?));
    }
    Ok(Restored { values, step, other_state: None, run })
}

/// Reads the tensors `inputs` (name and shape: a scoring graph's parameters) from the
/// safetensors file at `path`, for `gradc eval` and `gradc predict`. Optimizer state (any
/// tensor `<input>.<name>`, whichever optimizer wrote it) and gradc's own tensors are left
/// alone; any other tensor, and each missing or mismatched one, is a diagnostic, as for [`load`].
pub fn load_weights(path: &Path, inputs: &[(String, Vec<usize>)]) -> Result<Vec<(String, Vec<f32>)>, Diag> {
    let file = File::read(path)?;
    let tensors = file.tensors()?;
    let wanted: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
    let known = |n: &str| {
        wanted.contains(&n) || gradcs_own(n) || n.ends_with(TORCH_COUNTER) || state_of(n, wanted.iter().copied())
    };
    let mut extra: Vec<&str> = tensors.keys().map(String::as_str).filter(|n| !known(n)).collect();
    extra.sort_unstable();
    let values = inputs.iter().map(|(name, shape)| Ok((name.clone(), file.values(&tensors, name, shape, &extra)?)));
    let values = values.collect::<Result<Vec<_>, Diag>>()?;
    match extra.first() {
        Some(name) => Err(errors::checkpoint_extra(path, name, &wanted)),
        None => Ok(values),
    }
}

/// The standardization statistics the safetensors file at `path` holds, if any: both of
/// [`STANDARDIZE_MEAN`] and [`STANDARDIZE_STD`], F32 vectors of one length, the deviations
/// positive.
pub fn load_scaling(path: &Path) -> Result<Option<Scaling>, Diag> {
    let file = File::read(path)?;
    let tensors = file.tensors()?;
    let shape = match (tensors.get(STANDARDIZE_MEAN), tensors.get(STANDARDIZE_STD)) {
        (None, None) => return Ok(None),
        (Some(m), _) => m.shape().to_vec(),
        (None, Some(_)) => return Err(errors::checkpoint_missing(path, STANDARDIZE_MEAN, &[])),
    };
    if shape.len() != 1 {
        return Err(errors::checkpoint_bad_scaling(path, STANDARDIZE_MEAN, &format!("has shape {shape:?}, not [C]")));
    }
    let mean = file.values(&tensors, STANDARDIZE_MEAN, &shape, &[])?;
    let std = file.values(&tensors, STANDARDIZE_STD, &shape, &[])?;
    if mean.iter().any(|m| !m.is_finite()) {
        return Err(errors::checkpoint_bad_scaling(path, STANDARDIZE_MEAN, "holds a value that is not finite"));
    }
    if let Some(bad) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(errors::checkpoint_bad_scaling(
            path,
            STANDARDIZE_STD,
            &format!("holds {bad}, not a positive number"),
        ));
    }
    Ok(Some(Scaling { mean, std }))
}

/// Writes `values` (by parameter name, as `Summary::params` holds them) to `path` as a
/// safetensors file with each parameter's shape from `params`, then the optimizer `state`
/// tensors (name, shape, values), the standardization statistics `scaling` if the data has
/// them, the updates made, `step`, and where the run stands, `run`, for resuming.
///
/// The write is atomic ([`output::write_atomically`]), so an interrupted run never leaves a truncated
/// checkpoint.
///
/// # Panics
/// If a parameter in `params` has no entry in `values`, or one whose length is not its shape's.
pub fn save(
    path: &Path,
    params: &[ParamInfo],
    values: &[(String, Vec<f32>)],
    state: &[(String, Vec<usize>, Vec<f32>)],
    scaling: Option<&Scaling>,
    step: usize,
    run: &RunState,
) -> Result<(), Diag> {
    let mut tensors: Vec<(&str, &[usize], &[f32])> = params
        .iter()
        .map(|p| {
            let v = &values.iter().find(|(n, _)| *n == p.name).unwrap_or_else(|| panic!("no value for `{}`", p.name)).1;
            (p.name.as_str(), p.shape.as_slice(), v.as_slice())
        })
        .collect();
    tensors.extend(state.iter().map(|(n, s, v)| (n.as_str(), s.as_slice(), v.as_slice())));
    let channels = scaling.map(|s| [s.mean.len()]);
    if let (Some(s), Some(shape)) = (scaling, &channels) {
        tensors.push((STANDARDIZE_MEAN, shape, &s.mean));
        tensors.push((STANDARDIZE_STD, shape, &s.std));
    }
    let mut raw: Vec<run_state::Raw> = tensors
        .iter()
        .map(|(name, shape, v)| {
            assert_eq!(v.len(), shape.iter().product::<usize>(), "`{name}` has the wrong number of values");
            (name.to_string(), Dtype::F32, shape.to_vec(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
        })
        .collect();
    raw.extend(run_state::tensors(run, params));
    let views = raw.iter().map(|(name, dtype, shape, b)| {
        // Each length matches its shape (checked above, or built so by `run_state::tensors`).
        let view = TensorView::new(*dtype, shape.clone(), b).expect("data matches the shape");
        (name.as_str(), view)
    });
    let meta = HashMap::from([(STEP_KEY.to_string(), step.to_string())]);
    let encoded = safetensors::serialize(views, Some(meta)).map_err(|e| errors::checkpoint_unencodable(path, e))?;
    output::write_atomically(path, &encoded).map_err(|e| errors::checkpoint_unwritable(path, e))
}

/// Checks that [`save`] will be able to write `path` ([`output::check_writable`]): run before
/// training, so a mistyped directory is reported before the run, not after it.
pub fn check_writable(path: &Path) -> Result<(), Diag> {
    output::check_writable(path).map_err(|e| errors::checkpoint_unwritable(path, e))
}

#[cfg(test)]
mod tests;
