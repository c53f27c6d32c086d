//! `gradc export --onnx`: the model saved in a checkpoint, written as an ONNX model that takes
//! batches of a fixed number of rows.

use std::path::Path;

use super::{data_shape, errors, Compiled};
use crate::diag::Diag;
use crate::export::onnx::{self, Preprocess};
use crate::output;
use crate::passes;
use crate::runtime::{checkpoint, score};

/// What `gradc export` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The shape of the model's input, batch first.
    pub input: Vec<usize>,
    /// The shape of its output.
    pub output: Vec<usize>,
    /// The file's size in bytes.
    pub bytes: usize,
}

/// Writes the model of `c`, with the parameters and buffers saved in `init`, to `out` as an
/// ONNX model for batches of `rows` rows.
pub fn onnx(c: &Compiled, init: &Path, out: &Path, rows: usize) -> Result<Exported, Diag> {
    // Refused before any work, as `--save` is.
    output::check_writable(out).map_err(|e| onnx::errors::unwritable(out, e))?;
    let Some(train) = &c.data else {
        return Err(errors::predict_without_data());
    };
    if !c.module.has_model() {
        return Err(errors::predict_without_model(c.module.loss_span()));
    }
    let graph = passes::optimize(&c.module.predict_graph(&data_shape(train), rows)?);
    let weights = checkpoint::load_weights(init, &score::weight_inputs(&graph))?;
    let prep =
        Preprocess { scale: c.module.data().and_then(|d| d.scale).map(|f| f as f32), scaling: c.scaling.as_ref() };
    let bytes = onnx::model(&graph, &weights, prep)?;
    output::write_atomically(out, &bytes).map_err(|e| onnx::errors::unwritable(out, e))?;
    let shape = |n: crate::ir::NodeId| graph.ty(n).shape.clone();
    let input =
        graph.inputs.iter().position(|i| i.role == crate::ir::InputRole::Data).map(|k| shape(graph.input_node(k)));
    let output = graph.outputs.first().map(|o| shape(o.node)).unwrap_or_default();
    Ok(Exported { input: input.unwrap_or_default(), output, bytes: bytes.len() })
}
