//! The batch size as a symbol: every value's shape with each dim either fixed or a multiple of
//! the batch size, found by comparing the prediction graph built at two batch sizes. A graph
//! whose form depends on the batch size (a reduction over the batch, a constant such as a mean's
//! `1/B`) has no such shapes, and is a diagnostic asking for `--batch N`.

use std::fmt;

use super::{errors, BATCH};
use crate::diag::Diag;
use crate::ir::{Graph, InputRole, Op};

/// The batch sizes the prediction graph is built at to tell the batch's dims from the others.
/// Two distinct sizes pin a dim `d(B) = a·B + c` down exactly, so one with `c ≠ 0` is refused
/// rather than taken for `a·B`; neither is 1, so no batch dim is a size 1 that broadcasting or
/// the simplifier could treat as one. A fixed dim that happens to equal a probe size can only
/// make the two graphs differ (refused), never agree on a wrong form.
pub const PROBES: [usize; 2] = [2, 3];

/// One dim of an exported value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// A size fixed in the file.
    Fixed(usize),
    /// This many times the batch size, known only when the model runs.
    Batch(usize),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Batch(1) => write!(f, "{BATCH}"),
            Dim::Batch(a) => write!(f, "{a}*{BATCH}"),
        }
    }
}

/// A shape written as `[batch, 2]`.
pub fn show(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(Dim::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Where the batch size is read when the model runs: axis `axis` of graph input `input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSource {
    /// The graph input's index.
    pub input: usize,
    /// Its axis whose size is the batch size.
    pub axis: usize,
}

/// The symbolic shape of every value of a prediction graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Shapes {
    /// Graph input `k`'s shape.
    pub inputs: Vec<Vec<Dim>>,
    /// Node `i`'s shape.
    pub nodes: Vec<Vec<Dim>>,
    /// Where the batch size is read; `Some` whenever any dim is a `Dim::Batch`.
    pub batch: Option<BatchSource>,
}

impl Shapes {
    /// The shapes of `g` with every dim fixed, as `--batch N` exports it.
    pub fn fixed(g: &Graph) -> Shapes {
        let fixed = |shape: &[usize]| shape.iter().map(|&d| Dim::Fixed(d)).collect();
        Shapes {
            inputs: g.inputs.iter().map(|i| fixed(&i.ty.shape)).collect(),
            nodes: g.nodes.iter().map(|n| fixed(&n.ty.shape)).collect(),
            batch: None,
        }
    }

    /// The symbolic shapes of a prediction graph from its builds `at` the batch sizes
    /// [`PROBES`]: the two must be the same graph but for their sizes, each dim equal in both
    /// or the same multiple of the batch size, and no op may combine the batch's rows.
    pub fn symbolic(at: [&Graph; 2]) -> Result<Shapes, Diag> {
        let [a, b] = at;
        let inputs = input_shapes(a, b)?;
        let nodes = node_shapes(a, b)?;
        let outputs = |g: &Graph| g.outputs.iter().map(|o| (o.name.clone(), o.node, o.role)).collect::<Vec<_>>();
        if outputs(a) != outputs(b) {
            return Err(errors::fixed_batch("output", "list differs with the batch size"));
        }
        let batch = batch_source(&inputs);
        let symbolic = nodes.iter().chain(&inputs).flatten().any(|d| matches!(d, Dim::Batch(_)));
        if symbolic && batch.is_none() {
            return Err(errors::fixed_batch("input", "list has no axis whose size is the batch size"));
        }
        Ok(Shapes { inputs, nodes, batch })
    }
}

/// The symbolic shapes of the inputs of `a` and `b`, built at the batch sizes [`PROBES`]: the
/// same inputs, and no weight whose size grows with the batch.
fn input_shapes(a: &Graph, b: &Graph) -> Result<Vec<Vec<Dim>>, Diag> {
    if a.inputs.len() != b.inputs.len() {
        return Err(errors::fixed_batch("input", "list differs with the batch size"));
    }
    let mut inputs = Vec::with_capacity(a.inputs.len());
    for (x, y) in a.inputs.iter().zip(&b.inputs) {
        if (&x.name, x.role, x.ty.dtype) != (&y.name, y.role, y.ty.dtype) {
            return Err(errors::fixed_batch("input", "list differs with the batch size"));
        }
        let dims = dims("input", &x.ty.shape, &y.ty.shape)?;
        let weight = matches!(x.role, InputRole::Param | InputRole::Buffer);
        if weight && dims.iter().any(|d| matches!(d, Dim::Batch(_))) {
            return Err(errors::fixed_batch(&x.name, "weight has a size that grows with the batch"));
        }
        inputs.push(dims);
    }
    Ok(inputs)
}

/// The symbolic shapes of the nodes of `a` and `b`, built at the batch sizes [`PROBES`]: the
/// same ops on the same operands in the same order, none combining the batch's rows.
fn node_shapes(a: &Graph, b: &Graph) -> Result<Vec<Vec<Dim>>, Diag> {
    if a.nodes.len() != b.nodes.len() {
        return Err(errors::fixed_batch("graph", "has a different number of nodes at each batch size"));
    }
    let mut nodes: Vec<Vec<Dim>> = Vec::with_capacity(a.nodes.len());
    for (x, y) in a.nodes.iter().zip(&b.nodes) {
        let name = x.op.name();
        if !alike(&x.op, &y.op) || x.args != y.args || x.ty.dtype != y.ty.dtype {
            return Err(errors::fixed_batch(name, "is not the same op at every batch size"));
        }
        let args: Vec<&[Dim]> = x.args.iter().map(|n| nodes[n.index()].as_slice()).collect();
        if let Some(why) = mixes_rows(&x.op, &args) {
            return Err(errors::fixed_batch(name, why));
        }
        nodes.push(dims(name, &x.ty.shape, &y.ty.shape)?);
    }
    Ok(nodes)
}

/// The first input axis of exactly the batch's size, from which the model reads it.
fn batch_source(inputs: &[Vec<Dim>]) -> Option<BatchSource> {
    inputs
        .iter()
        .enumerate()
        .find_map(|(input, dims)| dims.iter().position(|&d| d == Dim::Batch(1)).map(|axis| BatchSource { input, axis }))
}

/// The symbolic shape of a value of shape `x` at batch size `PROBES[0]` and `y` at `PROBES[1]`,
/// or a diagnostic naming `op` if a dim is neither fixed nor a multiple of the batch size.
fn dims(op: &str, x: &[usize], y: &[usize]) -> Result<Vec<Dim>, Diag> {
    let [p, q] = PROBES;
    let not_linear = || errors::fixed_batch(op, "has a size that is no multiple of the batch size");
    if x.len() != y.len() {
        return Err(not_linear());
    }
    x.iter()
        .zip(y)
        .map(|(&dx, &dy)| match dx == dy {
            true => Ok(Dim::Fixed(dx)),
            // `dx = a·p` and `dy = a·q` for one `a`, which is at least 1 as `dx ≠ dy`.
            false if dx % p == 0 && dx / p * q == dy => Ok(Dim::Batch(dx / p)),
            false => Err(not_linear()),
        })
        .collect()
}

/// Whether two ops are one but for the sizes they carry. A broadcast's or reshape's target is
/// its node's shape, compared as the node's dims; a `rand`'s shape is left to the lowering,
/// which refuses any `rand`.
fn alike(x: &Op, y: &Op) -> bool {
    match x {
        Op::Broadcast(_) => matches!(y, Op::Broadcast(_)),
        Op::Reshape(_) => matches!(y, Op::Reshape(_)),
        Op::Rand { key, .. } => matches!(y, Op::Rand { key: k, .. } if k == key),
        Op::Input(_)
        | Op::Const(_)
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Select
        | Op::Reduce(..)
        | Op::MatMul { .. }
        | Op::OneHot(_)
        | Op::Argmax(_)
        | Op::Window(_)
        | Op::Cast(_)
        | Op::Permute(_)
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Gather
        | Op::ScatterAdd(_)
        | Op::AllSum => x == y,
    }
}

/// Why `op` on operands of the symbolic shapes `args` cannot take a batch of any size: it
/// combines or picks the batch's rows, so its ONNX form would need the batch size fixed.
fn mixes_rows(op: &Op, args: &[&[Dim]]) -> Option<&'static str> {
    let batch = |dims: &[Dim], axis: usize| matches!(dims.get(axis), Some(Dim::Batch(_)));
    match op {
        Op::Reduce(_, axes) => axes.iter().any(|&a| batch(args[0], a)).then_some("reduces over the batch axis"),
        Op::MatMul { ta, .. } => batch(args[0], if *ta { 0 } else { 1 }).then_some("sums products over the batch axis"),
        Op::Argmax(axis) => batch(args[0], *axis).then_some("looks for its maximum across the batch"),
        Op::Slice { axis, .. } => batch(args[0], *axis).then_some("picks some of the batch's rows"),
        Op::Gather => batch(args[0], 0).then_some("looks rows up in the batch itself"),
        // A window slides over the axes after the channels; only the first axis may be the batch's.
        Op::Window(_) => {
            (1..args[0].len()).any(|a| batch(args[0], a)).then_some("slides its window over the batch axis")
        }
        Op::Input(_)
        | Op::Const(_)
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Select
        | Op::Broadcast(_)
        | Op::Reshape(_)
        | Op::OneHot(_)
        | Op::Cast(_)
        | Op::Permute(_)
        | Op::Concat { .. }
        | Op::ScatterAdd(_)
        | Op::Rand { .. }
        | Op::AllSum => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{OutputRole, ReduceOp, Type};

    /// `reshape(x[B, 6]) -> [2B, 3]`, then `op` applied to it, built at `rows` rows.
    fn reshaped(rows: usize, op: Option<Op>) -> Graph {
        let mut g = Graph::new("predict");
        let x = g.add_input("x", Type::f32(vec![rows, 6]), InputRole::Data);
        let mut y = g.build(Op::Reshape(vec![2 * rows, 3]), vec![x]);
        if let Some(op) = op {
            y = g.build(op, vec![y]);
        }
        g.add_output("output", y, OutputRole::Prediction);
        g
    }

    #[test]
    fn dims_are_fixed_or_multiples_of_the_batch() {
        let [p, q] = PROBES;
        let graphs = [reshaped(p, None), reshaped(q, None)];
        let shapes = Shapes::symbolic([&graphs[0], &graphs[1]]).expect("symbolic");
        assert_eq!(shapes.inputs, vec![vec![Dim::Batch(1), Dim::Fixed(6)]]);
        assert_eq!(shapes.nodes[1], vec![Dim::Batch(2), Dim::Fixed(3)]);
        assert_eq!(shapes.batch, Some(BatchSource { input: 0, axis: 0 }));
        assert_eq!(show(&shapes.nodes[1]), "[2*batch, 3]");
    }

    #[test]
    fn a_size_with_an_offset_is_no_multiple() {
        let [p, q] = PROBES;
        assert_eq!(dims("x", &[p + 1], &[q + 1]).map_err(|d| d.code), Err(errors::EXPORT_BATCH));
        assert_eq!(dims("x", &[p * p], &[q * q]).map_err(|d| d.code), Err(errors::EXPORT_BATCH));
        assert_eq!(dims("x", &[4, 3 * p], &[4, 3 * q]).map_err(|d| d.code), Ok(vec![Dim::Fixed(4), Dim::Batch(3)]));
    }

    #[test]
    fn a_reduction_over_the_batch_is_refused_and_one_over_a_row_is_not() {
        let [p, q] = PROBES;
        let over = |axis| Some(Op::Reduce(ReduceOp::Sum, vec![axis]));
        let d = Shapes::symbolic([&reshaped(p, over(0)), &reshaped(q, over(0))]).expect_err("over the batch");
        assert_eq!(d.code, errors::EXPORT_BATCH);
        assert!(d.message.contains("`sum`"), "{}", d.message);
        let shapes = Shapes::symbolic([&reshaped(p, over(1)), &reshaped(q, over(1))]).expect("over a row");
        assert_eq!(shapes.nodes[2], vec![Dim::Batch(2)]);
    }

    #[test]
    fn a_constant_that_depends_on_the_batch_is_refused() {
        let [p, q] = PROBES;
        // A mean over the batch divides by it.
        let scaled = |rows: usize| {
            let mut g = reshaped(rows, None);
            let c = g.build(Op::Const(1.0 / rows as f64), vec![]);
            g.add_output("scale", c, OutputRole::Prediction);
            g
        };
        let d = Shapes::symbolic([&scaled(p), &scaled(q)]).expect_err("differs");
        assert!(d.message.contains("`const`"), "{}", d.message);
    }
}
