//! Building an ONNX graph: nodes with fresh value names, constant tensors as initializers, and
//! attributes, and shape operands that read the batch size when the model runs.

use super::batch::Dim;
use super::proto::{AttributeProto, AttributeType, ElemType, NodeProto, TensorProto};

/// A node attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// An int.
    Int(i64),
    /// A list of ints.
    Ints(Vec<i64>),
}

/// The nodes and initializers of a graph under construction.
#[derive(Debug, Default)]
pub struct Builder {
    /// The nodes, in the order they were added (topological, since each reads named values).
    pub nodes: Vec<NodeProto>,
    /// The constant tensors.
    pub initializers: Vec<TensorProto>,
    /// How many fresh names were given out.
    fresh: usize,
    /// The graph input (by name) and axis whose size is the batch size.
    batch_from: Option<(String, usize)>,
    /// The shape operands made so far, by their dims, so each is made once.
    shapes: Vec<(Vec<Dim>, String)>,
}

/// An ONNX size or index from a gradc one (both far below 2^63).
pub fn i64_of(n: usize) -> i64 {
    i64::try_from(n).expect("a tensor size fits i64")
}

impl Builder {
    /// A new value name, unlike any gradc input name (those never start with `%`).
    fn fresh(&mut self, hint: &str) -> String {
        self.fresh += 1;
        format!("%{hint}{}", self.fresh)
    }

    /// Adds `op_type(inputs)` with `attrs` and returns the name of its one output.
    pub fn node(&mut self, op_type: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(&op_type.to_lowercase());
        self.node_to(op_type, inputs, attrs, &out);
        out
    }

    /// Adds `op_type(inputs)` with `attrs`, writing the value named `out`.
    pub fn node_to(&mut self, op_type: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: &str) {
        let attribute = attrs.iter().map(|(name, value)| attribute(name, value)).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: format!("node{}", self.nodes.len()),
            op_type: op_type.to_string(),
            attribute,
        });
    }

    /// Adds the initializer `name` of element type `elem`, `dims` and little-endian `bytes`.
    pub fn initializer(&mut self, name: &str, elem: ElemType, dims: &[usize], bytes: Vec<u8>) {
        let dims = dims.iter().map(|&d| i64_of(d)).collect();
        self.initializers.push(TensorProto { dims, data_type: elem as i32, name: name.to_string(), raw_data: bytes });
    }

    /// A constant f32 tensor of `dims`, returned by name.
    pub fn f32s(&mut self, dims: &[usize], values: &[f32]) -> String {
        let name = self.fresh("c");
        self.initializer(&name, ElemType::Float, dims, values.iter().flat_map(|v| v.to_le_bytes()).collect());
        name
    }

    /// A constant f32 scalar.
    pub fn f32_scalar(&mut self, value: f32) -> String {
        self.f32s(&[], &[value])
    }

    /// A constant i32 tensor of `dims`.
    pub fn i32s(&mut self, dims: &[usize], values: &[i32]) -> String {
        let name = self.fresh("c");
        self.initializer(&name, ElemType::Int32, dims, values.iter().flat_map(|v| v.to_le_bytes()).collect());
        name
    }

    /// A constant i64 vector: the shape, axes or bounds operand of a node.
    pub fn i64s(&mut self, values: &[i64]) -> String {
        let name = self.fresh("c");
        self.initializer(
            &name,
            ElemType::Int64,
            &[values.len()],
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        name
    }

    /// A constant i64 vector of sizes or indices.
    pub fn sizes(&mut self, values: &[usize]) -> String {
        let values: Vec<i64> = values.iter().map(|&v| i64_of(v)).collect();
        self.i64s(&values)
    }

    /// Reads the batch size from axis `axis` of the graph input `input` when the model runs.
    pub fn read_batch_from(&mut self, input: &str, axis: usize) {
        self.batch_from = Some((input.to_string(), axis));
    }

    /// The shape `dims` as an i64 vector, for a `Reshape` or `Expand`: a constant if every dim
    /// is fixed, else its fixed runs and batch multiples concatenated. Made once per shape.
    pub fn shape(&mut self, dims: &[Dim]) -> String {
        if let Some((_, name)) = self.shapes.iter().find(|(d, _)| d == dims) {
            return name.clone();
        }
        let mut parts = Vec::new();
        let mut run = Vec::new();
        for &d in dims {
            match d {
                Dim::Fixed(n) => run.push(n),
                Dim::Batch(a) => {
                    if !run.is_empty() {
                        parts.push(self.sizes(&run));
                        run.clear();
                    }
                    parts.push(self.batch_times(a));
                }
            }
        }
        if !run.is_empty() || parts.is_empty() {
            parts.push(self.sizes(&run));
        }
        let name = match parts.as_slice() {
            [one] => one.clone(),
            _ => {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.node("Concat", &parts, &[("axis", Attr::Int(0))])
            }
        };
        self.shapes.push((dims.to_vec(), name.clone()));
        name
    }

    /// `a` times the batch size as an i64 `[1]`: the input's size along the batch axis, read
    /// with `Shape` and `Gather`, times `a`. Made once per `a`.
    fn batch_times(&mut self, a: usize) -> String {
        let key = vec![Dim::Batch(a)];
        if let Some((_, name)) = self.shapes.iter().find(|(d, _)| *d == key) {
            return name.clone();
        }
        let name = if a == 1 {
            // `Shapes::symbolic` names a batch source whenever a dim is the batch's, and
            // `onnx::model` passes it here before lowering any node.
            let (input, axis) = self.batch_from.clone().expect("a batch dim comes with its source");
            let shape = self.node("Shape", &[&input], &[]);
            let axis = self.sizes(&[axis]);
            self.node("Gather", &[&shape, &axis], &[("axis", Attr::Int(0))])
        } else {
            let batch = self.batch_times(1);
            let a = self.sizes(&[a]);
            self.node("Mul", &[&batch, &a], &[])
        };
        self.shapes.push((key, name.clone()));
        name
    }
}

/// The attribute `name = value`.
fn attribute(name: &str, value: &Attr) -> AttributeProto {
    let mut a = AttributeProto { name: name.to_string(), ..AttributeProto::default() };
    match value {
        Attr::Int(i) => {
            a.r#type = AttributeType::Int as i32;
            a.i = *i;
        }
        Attr::Ints(v) => {
            a.r#type = AttributeType::Ints as i32;
            a.ints = v.clone();
        }
    }
    a
}
