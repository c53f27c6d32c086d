//! Where a run stands beyond its parameters and optimizer state, so that `--init` resumes it
//! exactly: the seed it drew from, which optimizer state it kept, its last loss (for
//! `loss_change`), and the counters of early stopping and of the plateau rule.
//!
//! Each is a tensor named `gradc.*`, not a metadata entry: safetensors writes metadata from a
//! hash map, in an order that changes from one process to the next, and a checkpoint's bytes
//! must not depend on the process that wrote it. A file without them (from an older gradc, or
//! from PyTorch) loads as before, the rules starting afresh.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};

use super::File;
use crate::diag::Diag;
use crate::runtime::errors;
use crate::runtime::stopping::{EarlyStopState, PlateauCounters};
use crate::spec::ParamInfo;

/// The seed, a U64 scalar.
const SEED: &str = "gradc.seed";
/// The optimizer's kinds of state (`m`, `v`: the suffixes of `h1.w.m`, `h1.w.v`), as U8 text,
/// one kind after each `\n`; empty for an optimizer without state.
const OPTIMIZER: &str = "gradc.optimizer.state";
/// The loss of the last update, an F64 scalar (NaN before the first).
const LAST_LOSS: &str = "gradc.last_loss";
/// Early stopping's best value, its epoch and the evaluations since, as F64 `[3]`.
const EARLY_STOP: &str = "gradc.early_stop";
/// The prefix of the best parameters early stopping restores (`gradc.early_stop.best.h1.w`).
const EARLY_STOP_BEST: &str = "gradc.early_stop.best.";
/// The plateau rule's best value, bad epochs, cooldown left and learning-rate scale, F64 `[4]`.
const PLATEAU: &str = "gradc.plateau";

/// What a checkpoint records of a run besides its tensors and step.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    /// The seed the run drew from; `None` in a file that does not say.
    pub seed: Option<u64>,
    /// The kinds of state the run's optimizer kept per parameter, sorted; `None` in a file
    /// that does not say, whose state tensors then tell.
    pub optimizer: Option<Vec<String>>,
    /// The loss of the last update, NaN if unknown.
    pub last_loss: f64,
    /// Early stopping's state, if the run had the rule.
    pub early_stop: Option<EarlyStopState>,
    /// The plateau rule's state, if the run had one.
    pub plateau: Option<PlateauCounters>,
}

impl Default for RunState {
    fn default() -> RunState {
        RunState { seed: None, optimizer: None, last_loss: f64::NAN, early_stop: None, plateau: None }
    }
}

/// The kinds of state the tensors `state` are of the parameters `owners` (`m` of `h1.w.m`),
/// sorted and once each. The owner is the longest parameter name the state name extends.
pub fn kinds<'a>(state: impl Iterator<Item = &'a str>, owners: &[&str]) -> Vec<String> {
    let mut kinds: Vec<String> = state
        .filter_map(|name| {
            let owner =
                owners.iter().filter(|p| super::state_of(name, std::iter::once(**p))).max_by_key(|p| p.len())?;
            Some(name[owner.len() + 1..].to_string())
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// One tensor to write: name, dtype, shape and little-endian bytes.
pub type Raw = (String, Dtype, Vec<usize>, Vec<u8>);

/// The tensors recording `run`, for [`super::save`].
pub fn tensors(run: &RunState, model: &[ParamInfo]) -> Vec<Raw> {
    let f64s = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut out = Vec::new();
    if let Some(seed) = run.seed {
        out.push((SEED.to_string(), Dtype::U64, vec![], seed.to_le_bytes().to_vec()));
    }
    if let Some(kinds) = &run.optimizer {
        let text: Vec<u8> = kinds.iter().flat_map(|k| format!("{k}\n").into_bytes()).collect();
        out.push((OPTIMIZER.to_string(), Dtype::U8, vec![text.len()], text));
    }
    out.push((LAST_LOSS.to_string(), Dtype::F64, vec![], f64s(&[run.last_loss])));
    if let Some(s) = &run.early_stop {
        out.push((EARLY_STOP.to_string(), Dtype::F64, vec![3], f64s(&[s.best, s.best_epoch as f64, s.wait as f64])));
        for (name, values) in &s.best_params {
            // The shape is the parameter's; the run read the values from its input of that shape.
            let shape = model.iter().find(|p| p.name == *name).map_or_else(|| vec![values.len()], |p| p.shape.clone());
            let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
            out.push((format!("{EARLY_STOP_BEST}{name}"), Dtype::F32, shape, bytes));
        }
    }
    if let Some(p) = &run.plateau {
        let values = [p.best, p.bad_epochs as f64, p.cooldown as f64, p.scale];
        out.push((PLATEAU.to_string(), Dtype::F64, vec![4], f64s(&values)));
    }
    out
}

/// Reads the run state `file` records; `model` are the parameters and buffers whose best
/// values early stopping may hold.
pub(super) fn read(
    file: &File,
    tensors: &HashMap<String, TensorView<'_>>,
    model: &[ParamInfo],
) -> Result<RunState, Diag> {
    // The bytes of tensor `name`, which must be of `dtype` and `shape` (`None`: a vector).
    let raw = |name: &str, dtype: Dtype, shape: Option<&[usize]>| -> Result<Option<&[u8]>, Diag> {
        let Some(t) = tensors.get(name) else { return Ok(None) };
        let fits = shape.map_or(t.shape().len() == 1, |s| t.shape() == s);
        if t.dtype() == dtype && fits {
            return Ok(Some(t.data()));
        }
        let want = shape.map_or_else(|| "a vector".to_string(), |s| format!("of shape {s:?}"));
        let found = format!("is {:?} of shape {:?}, not {dtype:?} {want}", t.dtype(), t.shape());
        Err(errors::checkpoint_bad_run_state(file.path, name, &found))
    };
    let f64s = |b: &[u8]| -> Vec<f64> {
        b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
    };
    let count = |name: &str, x: f64| -> Result<usize, Diag> {
        // Counts of epochs are at most u32::MAX, as counts of steps are.
        if x >= 0.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0 {
            Ok(x as usize)
        } else {
            Err(errors::checkpoint_bad_run_state(file.path, name, &format!("holds the count {x}")))
        }
    };
    let seed = raw(SEED, Dtype::U64, Some(&[]))?.map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let optimizer = match raw(OPTIMIZER, Dtype::U8, None)? {
        None => None,
        Some(b) => {
            let text = std::str::from_utf8(b)
                .map_err(|_| errors::checkpoint_bad_run_state(file.path, OPTIMIZER, "is not UTF-8 text"))?;
            Some(text.lines().map(String::from).collect())
        }
    };
    let last_loss = raw(LAST_LOSS, Dtype::F64, Some(&[]))?.map_or(f64::NAN, |b| f64s(b)[0]);
    let early_stop = match raw(EARLY_STOP, Dtype::F64, Some(&[3]))? {
        None => None,
        Some(b) => {
            let v = f64s(b);
            let prefixed = |p: &ParamInfo| format!("{EARLY_STOP_BEST}{}", p.name);
            // The best parameters are there for a rule that restores them, all or none.
            let best_params = match model.iter().any(|p| tensors.contains_key(&prefixed(p))) {
                true => model
                    .iter()
                    .map(|p| Ok((p.name.clone(), file.values(tensors, &prefixed(p), &p.shape, &[])?)))
                    .collect::<Result<Vec<_>, Diag>>()?,
                false => vec![],
            };
            Some(EarlyStopState {
                best: v[0],
                best_epoch: count(EARLY_STOP, v[1])?,
                wait: count(EARLY_STOP, v[2])?,
                best_params,
            })
        }
    };
    let plateau = match raw(PLATEAU, Dtype::F64, Some(&[4]))? {
        None => None,
        Some(b) => {
            let v = f64s(b);
            Some(PlateauCounters {
                best: v[0],
                bad_epochs: count(PLATEAU, v[1])?,
                cooldown: count(PLATEAU, v[2])?,
                scale: v[3],
            })
        }
    };
    Ok(RunState { seed, optimizer, last_loss, early_stop, plateau })
}
