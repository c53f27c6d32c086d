//! `gradc export --onnx`: the model saved in a checkpoint, written as an ONNX model that takes
//! batches of any number of rows (the symbol `batch`), or of a fixed number with `--batch N`.

use std::path::Path;

use super::{data_shape, errors, Compiled};
use crate::diag::Diag;
use crate::export::onnx::batch::{Dim, Shapes, PROBES};
use crate::export::onnx::{self, Preprocess};
use crate::ir::{Graph, InputRole};
use crate::output;
use crate::passes;
use crate::runtime::{checkpoint, score};
use crate::sema::DataShape;

/// What `gradc export` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The shape of the model's input, batch first.
    pub input: Vec<Dim>,
    /// The shape of its output.
    pub output: Vec<Dim>,
    /// The file's size in bytes.
    pub bytes: usize,
}

/// Writes the model of `c`, with the parameters and buffers saved in `init`, to `out` as an
/// ONNX model for batches of `rows` rows, or of any number of rows if `rows` is `None`.
pub fn onnx(c: &Compiled, init: &Path, out: &Path, rows: Option<usize>) -> Result<Exported, Diag> {
    // Refused before any work, as `--save` is.
    output::check_writable(out).map_err(|e| onnx::errors::unwritable(out, e))?;
    let Some(train) = &c.data else {
        return Err(errors::predict_without_data());
    };
    if !c.module.has_model() {
        return Err(errors::predict_without_model(c.module.loss_span()));
    }
    let row = data_shape(train);
    let (graph, shapes) = match rows {
        Some(rows) => {
            let graph = prediction_graph(c, &row, rows)?;
            let shapes = Shapes::fixed(&graph);
            (graph, shapes)
        }
        None => symbolic_graph(c, &row)?,
    };
    let weights = checkpoint::load_weights(init, &score::weight_inputs(&graph))?;
    let prep =
        Preprocess { scale: c.module.data().and_then(|d| d.scale).map(|f| f as f32), scaling: c.scaling.as_ref() };
    let bytes = onnx::model(&graph, &shapes, &weights, prep)?;
    output::write_atomically(out, &bytes).map_err(|e| onnx::errors::unwritable(out, e))?;
    let input = graph.inputs.iter().position(|i| i.role == InputRole::Data).map(|k| shapes.inputs[k].clone());
    let output = graph.outputs.first().map(|o| shapes.nodes[o.node.index()].clone()).unwrap_or_default();
    Ok(Exported { input: input.unwrap_or_default(), output, bytes: bytes.len() })
}

/// The optimized prediction graph of `c`, for rows of shape `row`, at batches of `rows` rows.
fn prediction_graph(c: &Compiled, row: &DataShape, rows: usize) -> Result<Graph, Diag> {
    Ok(passes::optimize(&c.module.predict_graph(row, rows)?))
}

/// The prediction graph of `c` at the first probe batch size with its symbolic shapes, from
/// the graphs at both [`PROBES`]. A model that builds at neither has an error of its own; one
/// that builds at only one is tied to a batch size.
fn symbolic_graph(c: &Compiled, row: &DataShape) -> Result<(Graph, Shapes), Diag> {
    let [p, q] = PROBES.map(|rows| prediction_graph(c, row, rows));
    let tied = |rows: usize, d: Diag| {
        onnx::errors::fixed_batch("graph", &format!("does not build for batches of {rows} rows ({})", d.message))
    };
    let (p, q) = match (p, q) {
        (Ok(p), Ok(q)) => (p, q),
        (Err(d), Err(_)) => return Err(d),
        (Err(d), Ok(_)) => return Err(tied(PROBES[0], d)),
        (Ok(_), Err(d)) => return Err(tied(PROBES[1], d)),
    };
    let shapes = Shapes::symbolic([&p, &q])?;
    Ok((p, shapes))
}
