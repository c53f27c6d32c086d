//! `gradc export --onnx`: a model's prediction graph (evaluation mode: batch norm with its
//! running statistics, dropout as identity) as an ONNX model of opset 17, the features as its
//! named input, the model's output as its named output, and the weights as initializers.
//! The features' preprocessing (`scale`, `standardize` with the checkpoint's statistics) comes
//! first in the graph, so the model takes the rows `gradc predict --input` takes. Its batch
//! size is the symbol `batch` or fixed, as the graph's [`Shapes`] say.

pub mod batch;
pub mod builder;
pub mod errors;
pub mod ops;
pub mod proto;

use prost::Message;

use self::batch::{Dim, Shapes};
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

/// The name of the batch size in the model's input and output shapes.
pub const BATCH: &str = "batch";

/// The ONNX model of `graph` (a prediction graph) with the symbolic `shapes` of its values and
/// `weights` (its parameters and buffers, by name) as initializers, encoded; an op with no ONNX
/// form is a diagnostic naming it.
pub fn model(
    graph: &Graph,
    shapes: &Shapes,
    weights: &[(String, Vec<f32>)],
    prep: Preprocess<'_>,
) -> Result<Vec<u8>, Diag> {
    let mut b = Builder::default();
    if let Some(source) = shapes.batch {
        b.read_batch_from(&graph.inputs[source.input].name, source.axis);
    }
    let mut inputs = Vec::new();
    let mut names = Vec::with_capacity(graph.inputs.len());
    for (input, dims) in graph.inputs.iter().zip(&shapes.inputs) {
        let weight = weights.iter().find(|(name, _)| *name == input.name);
        let name = match (input.role, weight) {
            (InputRole::Param | InputRole::Buffer, Some((_, values))) => {
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                b.initializer(&input.name, ops::elem_type(input.ty.dtype), &input.ty.shape, bytes);
                input.name.clone()
            }
            (InputRole::Data, _) => {
                inputs.push(value_info(&input.name, &input.ty, dims));
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
                inputs.push(value_info(&input.name, &input.ty, dims));
                input.name.clone()
            }
        };
        names.push(name);
    }
    let mut values: Vec<String> = Vec::with_capacity(graph.nodes.len());
    for (node, shape) in graph.nodes.iter().zip(&shapes.nodes) {
        let args: Vec<&str> = node.args.iter().map(|a| values[a.index()].as_str()).collect();
        let types: Vec<&Type> = node.args.iter().map(|&a| graph.ty(a)).collect();
        let arg_shapes: Vec<&[Dim]> = node.args.iter().map(|a| shapes.nodes[a.index()].as_slice()).collect();
        let operands = ops::Operands { names: &args, types: &types, shapes: &arg_shapes };
        let value = ops::lower(&mut b, node, shape, operands, &names).map_err(|u| errors::unsupported(u.op, u.why))?;
        values.push(value);
    }
    let mut outputs = Vec::new();
    for out in &graph.outputs {
        b.node_to("Identity", &[&values[out.node.index()]], &[], &out.name);
        outputs.push(value_info(&out.name, graph.ty(out.node), &shapes.nodes[out.node.index()]));
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

/// The value info of a tensor `name` of type `ty` and symbolic shape `dims`: the batch size is
/// the dim named [`BATCH`], and a multiple of it a dim left unnamed (ONNX names no products).
fn value_info(name: &str, ty: &Type, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => Dimension { dim_value: Some(i64_of(*n)), dim_param: None },
            Dim::Batch(1) => Dimension { dim_value: None, dim_param: Some(BATCH.to_string()) },
            Dim::Batch(_) => Dimension { dim_value: None, dim_param: None },
        })
        .collect();
    let tensor = TensorTypeProto { elem_type: ops::elem_type(ty.dtype) as i32, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto { name: name.to_string(), r#type: Some(TypeProto { tensor_type: Some(tensor) }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Op, OutputRole};

    /// `x[2, 3] @ w[3, 4]`, named as a prediction graph names its input and output.
    fn product() -> Graph {
        let mut g = Graph::new("predict");
        let x = g.add_input("x", Type::f32(vec![2, 3]), InputRole::Data);
        let w = g.add_input("w", Type::f32(vec![3, 4]), InputRole::Param);
        let y = g.build(Op::MatMul { ta: false, tb: false }, vec![x, w]);
        g.add_output("output", y, OutputRole::Prediction);
        g
    }

    #[test]
    fn weights_are_initializers_and_the_features_the_one_input() {
        let w: Vec<f32> = (0..12).map(|i| i as f32 / 4.0).collect();
        let bytes = model(&product(), &Shapes::fixed(&product()), &[("w".into(), w.clone())], Preprocess::default())
            .expect("exports");
        let m = ModelProto::decode(bytes.as_slice()).expect("decodes");
        assert_eq!((m.ir_version, m.opset_import[0].version), (IR_VERSION, OPSET));
        let g = m.graph.expect("a graph");
        let names = |v: &[ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
        assert_eq!((names(&g.input), names(&g.output)), (vec!["x".to_string()], vec!["output".to_string()]));
        let init = &g.initializer[0];
        assert_eq!((init.name.as_str(), init.dims.as_slice()), ("w", &[3i64, 4][..]));
        let stored: Vec<f32> =
            init.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        assert_eq!(stored, w);
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Gemm", "Identity"]);
    }

    #[test]
    fn preprocessing_comes_before_the_model() {
        let scaling = Scaling { mean: vec![1.0, 2.0], std: vec![3.0, 4.0] };
        let mut g = Graph::new("predict");
        let x = g.add_input("x", Type::f32(vec![5, 2]), InputRole::Data);
        g.add_output("output", x, OutputRole::Prediction);
        let prep = Preprocess { scale: Some(0.5), scaling: Some(&scaling) };
        let m =
            ModelProto::decode(model(&g, &Shapes::fixed(&g), &[], prep).expect("exports").as_slice()).expect("decodes");
        let ops: Vec<String> = m.graph.expect("a graph").node.iter().map(|n| n.op_type.clone()).collect();
        assert_eq!(ops, ["Mul", "Sub", "Div", "Identity"]);
    }

    #[test]
    fn a_symbolic_shape_reads_the_batch_size_once() {
        let reshaped = |rows: usize| {
            let mut g = Graph::new("predict");
            let x = g.add_input("x", Type::f32(vec![rows, 6]), InputRole::Data);
            let y = g.build(Op::Reshape(vec![2 * rows, 3]), vec![x]);
            let z = g.build(Op::Reshape(vec![rows, 6]), vec![y]);
            let w = g.build(Op::Reshape(vec![2 * rows, 3]), vec![z]);
            g.add_output("output", w, OutputRole::Prediction);
            g
        };
        let [p, q] = batch::PROBES;
        let shapes = Shapes::symbolic([&reshaped(p), &reshaped(q)]).expect("symbolic");
        let bytes = model(&reshaped(p), &shapes, &[], Preprocess::default()).expect("exports");
        let g = ModelProto::decode(bytes.as_slice()).expect("decodes").graph.expect("a graph");
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        // The batch is read once, doubled once, and each target shape made once.
        assert_eq!(ops, ["Shape", "Gather", "Mul", "Concat", "Reshape", "Concat", "Reshape", "Reshape", "Identity"]);
        let first = |v: &ValueInfoProto| v.r#type.clone().and_then(|t| t.tensor_type?.shape).map(|s| s.dim[0].clone());
        // The output's `2*batch` has no ONNX name: a dim with neither value nor name.
        let (batch, unnamed) = (Dimension { dim_value: None, dim_param: Some(BATCH.into()) }, Dimension::default());
        assert_eq!((first(&g.input[0]), first(&g.output[0])), (Some(batch), Some(unnamed)));
    }

    #[test]
    fn an_op_without_an_onnx_form_is_named() {
        let mut g = Graph::new("predict");
        let counter = g.add_input("counter", Type::new(crate::ir::DType::I32, vec![3]), InputRole::Data);
        let r = g.build(Op::Rand { key: 1, shape: vec![2], first: 0 }, vec![counter]);
        g.add_output("output", r, OutputRole::Prediction);
        let d = model(&g, &Shapes::fixed(&g), &[], Preprocess::default()).expect_err("rand has no ONNX form");
        assert_eq!(d.code, errors::EXPORT_UNSUPPORTED);
        assert!(d.message.contains("`rand`"), "{}", d.message);
    }
}
