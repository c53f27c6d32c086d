//! Scoring a saved model without training: its loss and metrics on a dataset (`gradc eval`)
//! and its outputs for rows of features (`gradc predict`), with the weights a checkpoint holds.

use std::path::Path;

use super::errors;
use super::runner::Runner;
use crate::data::array::Values;
use crate::data::{inputs, npy, Dataset};
use crate::diag::Diag;
use crate::ir::{Graph, InputRole, OutputRole};

/// The roles of the inputs a checkpoint fills in a scoring graph: the parameters and the
/// buffers (batch norm's running statistics, say). Nothing else is read from it: optimizer
/// state is the training's.
const WEIGHTS: [InputRole; 2] = [InputRole::Param, InputRole::Buffer];

/// The inputs of `graph` a checkpoint fills, by name and shape.
pub fn weight_inputs(graph: &Graph) -> Vec<(String, Vec<usize>)> {
    let weights = graph.inputs.iter().filter(|i| WEIGHTS.contains(&i.role));
    weights.map(|i| (i.name.clone(), i.ty.shape.clone())).collect()
}

/// The loss and metrics of a model on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// The loss over every row.
    pub loss: f64,
    /// Each metric over every row, in the train block's order.
    pub metrics: Vec<(String, f64)>,
}

/// Copies `weights` into the runner's inputs of those names.
fn set_weights(runner: &mut Runner, weights: &[(String, Vec<f32>)]) {
    for (name, values) in weights {
        // An input the optimiser found unused has no storage, and needs no value.
        if let Some(slot) = runner.exe.input_mut(name) {
            slot.copy_from_slice(values);
        }
    }
}

/// Scores every row of `data` with `runner` (the forward graph at `data.n` rows) and `weights`.
pub fn score(runner: &mut Runner, weights: &[(String, Vec<f32>)], data: &Dataset) -> Scores {
    set_weights(runner, weights);
    runner.load_rows(data, &(0..data.n).collect::<Vec<_>>());
    runner.exe.run();
    let metrics = runner.outputs(OutputRole::Metric);
    // Every metric is an f32 scalar output (sema checks).
    let value = |m: &String| f64::from(runner.exe.output(m).expect("metric output")[0]);
    Scores { loss: runner.loss(), metrics: metrics.iter().map(|m| (m.clone(), value(m))).collect() }
}

/// What `gradc predict` writes for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// The model's outputs as they are (logits, for a classifier).
    Outputs,
    /// The softmax of each row's outputs.
    Probabilities,
    /// The index of each row's largest output (the first, on ties), as i32.
    Classes,
}

/// How a predictions file is written, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A NumPy `.npy` array: `[N, ...]` f32, or `[N]` i32 classes.
    Npy,
    /// A CSV file with a header: one row per input row.
    Csv,
}

impl Format {
    /// The format `path` names by its extension, or a diagnostic.
    pub fn of(path: &Path) -> Result<Format, Diag> {
        match inputs::extension(path).as_deref() {
            Some("npy") => Ok(Format::Npy),
            Some("csv") => Ok(Format::Csv),
            _ => Err(errors::predict_format(path)),
        }
    }
}

/// Runs `runner` (the prediction graph at `data.n` rows, whose output `output` has `shape`)
/// with `weights` on the rows of `data`, and returns `what` of each row: its shape and values.
///
/// # Panics
/// If `what` is not [`Prediction::Outputs`] and `shape` is not `[N, K]` (the caller checks).
pub fn predict(
    runner: &mut Runner,
    weights: &[(String, Vec<f32>)],
    data: &Dataset,
    (output, shape): (&str, &[usize]),
    what: Prediction,
) -> (Vec<usize>, Values) {
    set_weights(runner, weights);
    runner.load_rows(data, &(0..data.n).collect::<Vec<_>>());
    runner.exe.run();
    // The prediction graph's output is an f32 tensor (the driver checks).
    let out = runner.exe.output(output).expect("prediction output").to_vec();
    match (what, shape) {
        (Prediction::Outputs, _) => (shape.to_vec(), Values::F32(out.into())),
        (Prediction::Probabilities, [_, k]) => {
            (shape.to_vec(), Values::F32(out.chunks_exact((*k).max(1)).flat_map(softmax).collect()))
        }
        (Prediction::Classes, [n, k]) => (vec![*n], Values::I32(out.chunks_exact((*k).max(1)).map(argmax).collect())),
        (_, other) => panic!("rows of outputs of shape {other:?} have no classes"),
    }
}

/// The softmax of one row, computed in f64 from the largest value down, so every row's
/// probabilities sum to 1 up to f32 rounding.
fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f64> = row.iter().map(|&x| f64::from(x - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| (e / sum) as f32).collect()
}

/// The index of the first largest value, as `argmax` in the graph (and NumPy) picks it.
fn argmax(row: &[f32]) -> i32 {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    // A row of at most 2^31 outputs: the model's width is a tensor dimension.
    i32::try_from(best).expect("a class index fits i32")
}

/// Writes predictions (`what`: `shape` and `values`, as [`predict`] returns them) to `path`
/// in `format`, atomically, never over anything but a regular file.
///
/// # Panics
/// If `values` are neither f32 nor i32, or do not fill `shape`.
pub fn write(path: &Path, format: Format, what: Prediction, shape: &[usize], values: &Values) -> Result<(), Diag> {
    let bytes = match format {
        Format::Npy => npy::encode(shape, values),
        Format::Csv => csv(what, shape, values).into_bytes(),
    };
    crate::output::write_atomically(path, &bytes).map_err(|e| errors::predict_unwritable(path, e))
}

/// Predictions as CSV: a header (`class`; `p0,p1,…` for probabilities; `out0,out1,…` for
/// outputs, each row's flattened) and one line per row, numbers in their shortest form that
/// reads back as the same f32.
fn csv(what: Prediction, shape: &[usize], values: &Values) -> String {
    let rows = shape.first().copied().unwrap_or(1).max(1);
    let (header, fields): (&str, Vec<String>) = match values {
        Values::I32(v) => ("class", v.iter().map(i32::to_string).collect()),
        Values::F32(v) => {
            (if what == Prediction::Probabilities { "p" } else { "out" }, v.iter().map(f32::to_string).collect())
        }
        Values::F64(_) | Values::I64(_) | Values::U8(_) => panic!("predictions are f32 or i32"),
    };
    let per_row = (fields.len() / rows).max(1);
    let names: Vec<String> = match values {
        Values::I32(_) => vec![header.to_string()],
        _ => (0..per_row).map(|j| format!("{header}{j}")).collect(),
    };
    let mut text = names.join(",") + "\n";
    for row in fields.chunks(per_row) {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}
