//! `gradc export --onnx`: a model's prediction graph (evaluation mode: batch norm with its
//! running statistics, dropout as identity) as an ONNX model of opset 17, the features as its
//! named input, the model's output as its named output, and the weights as initializers.
//! The features' preprocessing (`scale`, `standardize` with the checkpoint's statistics) comes
//! first in the graph, so the model takes the rows `gradc predict --input` takes.

pub mod builder;
pub mod errors;
pub mod ops;
pub mod proto;

use prost::Message;

use self::builder::{i64_of, Builder};
use self::proto::{Dimension, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TensorTypeProto};
use self::proto::{TypeProto, ValueInfoProto};
use crate::data::transform::Scaling;
use crate::diag::Diag;
use crate::ir::{Graph, InputRole, Type};

/// The ONNX operator set the nodes are written for.
pub const OPSET: i64 = 17;
/// The ONNX file format version that goes with opset 17.
const IR_VERSION: i64 = 8;

/// What is done to the features before the model sees them, as for `gradc predict`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Preprocess<'a> {
    /// The data declaration's `scale(f)`.
    pub scale: Option<f32>,
    /// The checkpoint's `standardize` statistics.
    pub scaling: Option<&'a Scaling>,
}

/// The ONNX model of `graph` (a prediction graph) with `weights` (its parameters and buffers,
/// by name) as initializers, encoded; an op with no ONNX form is a diagnostic naming it.
pub fn model(graph: &Graph, weights: &[(String, Vec<f32>)], prep: Preprocess<'_>) -> Result<Vec<u8>, Diag> {
    let mut b = Builder::default();
    let mut inputs = Vec::new();
    let mut names = Vec::with_capacity(graph.inputs.len());
    for input in &graph.inputs {
        let weight = weights.iter().find(|(name, _)| *name == input.name);
        let name = match (input.role, weight) {
            (InputRole::Param | InputRole::Buffer, Some((_, values))) => {
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                b.initializer(&input.name, ops::elem_type(input.ty.dtype), &input.ty.shape, bytes);
                input.name.clone()
            }
            (InputRole::Data, _) => {
                inputs.push(value_info(&input.name, &input.ty));
                preprocess(&mut b, &input.name, &input.ty, prep)
            }
            // A weight the caller has no value for, or a role a prediction graph does not have,
            // is left for the caller to pass.
            (
                InputRole::Param
                | InputRole::Buffer
                | InputRole::Label
                | InputRole::State
                | InputRole::Step
                | InputRole::Grad,
                _,
            ) => {
                inputs.push(value_info(&input.name, &input.ty));
                input.name.clone()
            }
        };
        names.push(name);
    }
    let mut values: Vec<String> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let args: Vec<&str> = node.args.iter().map(|a| values[a.index()].as_str()).collect();
        let types: Vec<&Type> = node.args.iter().map(|&a| graph.ty(a)).collect();
        let value = ops::lower(&mut b, node, (&args, &types), &names).map_err(|u| errors::unsupported(u.op, u.why))?;
        values.push(value);
    }
    let mut outputs = Vec::new();
    for out in &graph.outputs {
        b.node_to("Identity", &[&values[out.node.index()]], &[], &out.name);
        outputs.push(value_info(&out.name, graph.ty(out.node)));
    }
    let graph = GraphProto {
        node: b.nodes,
        name: graph.name.clone(),
        initializer: b.initializers,
        input: inputs,
        output: outputs,
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "gradc".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "exported by gradc export --onnx".into(),
        graph: Some(graph),
    };
    Ok(model.encode_to_vec())
}

/// The features named `x` (of type `ty`) preprocessed as `prep` says: `x · scale`, then
/// `(x − mean) / std` per feature or channel, in f32 as `gradc predict` computes them.
fn preprocess(b: &mut Builder, x: &str, ty: &Type, prep: Preprocess<'_>) -> String {
    let mut value = x.to_string();
    if let Some(factor) = prep.scale {
        let factor = b.f32_scalar(factor);
        value = b.node("Mul", &[&value, &factor], &[]);
    }
    if let Some(s) = prep.scaling {
        // The statistics `[C]` as `[C, 1, …]`, broadcast over the row's other axes and the batch.
        let mut dims = vec![1; ty.shape.len().saturating_sub(1)];
        if let Some(first) = dims.first_mut() {
            *first = s.mean.len();
        }
        let (mean, std) = (b.f32s(&dims, &s.mean), b.f32s(&dims, &s.std));
        let centred = b.node("Sub", &[&value, &mean], &[]);
        value = b.node("Div", &[&centred, &std], &[]);
    }
    value
}

/// The value info of a tensor `name` of type `ty`.
fn value_info(name: &str, ty: &Type) -> ValueInfoProto {
    let dim = ty.shape.iter().map(|&d| Dimension { dim_value: Some(i64_of(d)), dim_param: None }).collect();
    let tensor = TensorTypeProto { elem_type: ops::elem_type(ty.dtype) as i32, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto { name: name.to_string(), r#type: Some(TypeProto { tensor_type: Some(tensor) }) }
}
