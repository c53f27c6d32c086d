//! Each IR op as ONNX nodes: one exhaustive match per op enum, so a new op makes the compiler
//! ask how it exports. Each lowering computes what the op's reference semantics say, including
//! the cases where ONNX's operator alone differs (an `argmax`'s i32 result, a `gather` id out
//! of range, a `select` mask of NaN). A shape operand (a reshape's or broadcast's target, the
//! helper reshapes of `one_hot` and `gather`) is built from the symbolic shapes, so it holds
//! the batch size the model runs at.

use super::batch::Dim;
use super::builder::{i64_of, Attr, Builder};
use super::proto::ElemType;
use crate::ir::elementwise::{BinOp, UnOp};
use crate::ir::window::{Conv2d, Pool2d, WindowOp};
use crate::ir::{DType, Node, Op, ReduceOp, Type};

/// An op that has no ONNX form: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The op's name, as `gradc ir` prints it.
    pub op: &'static str,
    /// Why it has no ONNX form.
    pub why: &'static str,
}

/// The ONNX element type of a gradc one.
pub fn elem_type(dtype: DType) -> ElemType {
    match dtype {
        DType::F32 => ElemType::Float,
        DType::I32 => ElemType::Int32,
    }
}

/// A node's operands, as the lowering reads them.
#[derive(Debug, Clone, Copy)]
pub struct Operands<'a> {
    /// Their values' names.
    pub names: &'a [&'a str],
    /// Their types, at the batch size the graph was built for.
    pub types: &'a [&'a Type],
    /// Their symbolic shapes.
    pub shapes: &'a [&'a [Dim]],
}

/// Emits the nodes computing `node`, of symbolic shape `shape`, from its `operands`; returns
/// the name of the result. Graph input `k` is the value named `inputs[k]`.
pub fn lower(
    b: &mut Builder,
    node: &Node,
    shape: &[Dim],
    operands: Operands<'_>,
    inputs: &[String],
) -> Result<String, Unsupported> {
    let args = operands.names;
    Ok(match &node.op {
        Op::Input(k) => inputs[*k].clone(),
        Op::Const(v) => b.f32_scalar(*v as f32),
        Op::Unary(u) => unary(b, *u, args[0]),
        Op::Binary(o) => binary(b, *o, args[0], args[1]),
        // `c != 0` rather than a cast to bool, so a NaN mask picks `a`, as gradc's does.
        Op::Select => {
            let zero = b.f32_scalar(0.0);
            let is_zero = b.node("Equal", &[args[0], &zero], &[]);
            let mask = b.node("Not", &[&is_zero], &[]);
            b.node("Where", &[&mask, args[1], args[2]], &[])
        }
        // The target is the node's shape, which `Shapes` holds with the batch's dims marked.
        Op::Broadcast(_) => {
            let to = b.shape(shape);
            b.node("Expand", &[args[0], &to], &[])
        }
        Op::Reshape(_) => {
            let to = b.shape(shape);
            b.node("Reshape", &[args[0], &to], &[])
        }
        Op::Reduce(r, axes) => reduce(b, *r, axes, args[0]),
        Op::MatMul { ta, tb } => {
            let attrs = [("transA", Attr::Int(i64::from(*ta))), ("transB", Attr::Int(i64::from(*tb)))];
            b.node("Gemm", &[args[0], args[1]], &attrs)
        }
        // Rows compared with the class indices: an id outside the range matches none and gives
        // a zero row (ONNX's `OneHot` would wrap a negative one).
        Op::OneHot(classes) => {
            let column = b.shape(&[shape[0], Dim::Fixed(1)]);
            let ids = b.node("Reshape", &[args[0], &column], &[]);
            let range: Vec<i32> = (0..*classes).map(|c| i32::try_from(c).expect("a class index fits i32")).collect();
            let range = b.i32s(&[*classes], &range);
            let hit = b.node("Equal", &[&ids, &range], &[]);
            b.node("Cast", &[&hit], &[("to", Attr::Int(ElemType::Float as i64))])
        }
        // ONNX's ArgMax picks the first maximum too, as i64.
        Op::Argmax(axis) => {
            let attrs = [("axis", Attr::Int(i64_of(*axis))), ("keepdims", Attr::Int(0))];
            let at = b.node("ArgMax", &[args[0]], &attrs);
            b.node("Cast", &[&at], &[("to", Attr::Int(ElemType::Int32 as i64))])
        }
        Op::Window(w) => window(b, w, args)?,
        Op::Cast(to) => b.node("Cast", &[args[0]], &[("to", Attr::Int(elem_type(*to) as i64))]),
        Op::Permute(perm) => {
            let perm = perm.iter().map(|&p| i64_of(p)).collect();
            b.node("Transpose", &[args[0]], &[("perm", Attr::Ints(perm))])
        }
        // A strided slice gathers its indices: tract 0.23 (a pure-Rust runtime) takes the wrong
        // elements of a `Slice` with a start past 0 and a step past 1, which ONNX Runtime gets right.
        Op::Slice { axis, start, end, step } if *step > 1 => {
            let picked: Vec<usize> = (*start..*end).step_by(*step).collect();
            let indices = b.sizes(&picked);
            b.node("Gather", &[args[0], &indices], &[("axis", Attr::Int(i64_of(*axis)))])
        }
        Op::Slice { axis, start, end, step } => {
            let [starts, ends, axes, steps] = [start, end, axis, step].map(|v| b.sizes(&[*v]));
            b.node("Slice", &[args[0], &starts, &ends, &axes, &steps], &[])
        }
        Op::Concat { axis, .. } => b.node("Concat", args, &[("axis", Attr::Int(i64_of(*axis)))]),
        Op::Gather => gather(b, operands, shape),
        Op::ScatterAdd(_) => {
            return Err(Unsupported {
                op: node.op.name(),
                why: "it is a gradient op, which a model's forward graph never holds",
            })
        }
        Op::AllSum => {
            return Err(Unsupported {
                op: node.op.name(),
                why: "it sums the ranks of a distributed training step, which a model's forward graph never holds",
            })
        }
        Op::Rand { .. } => {
            return Err(Unsupported {
                op: node.op.name(),
                why: "ONNX's random operators draw from their own generator, not gradc's counter-based stream",
            })
        }
    })
}

/// A unary op: ONNX has each but `log1p` and `expm1`, which become `log(1 + x)` and `e^x − 1`
/// (exact but for |x| near the f32 rounding of 1).
fn unary(b: &mut Builder, u: UnOp, x: &str) -> String {
    let onnx = match u {
        UnOp::Neg => "Neg",
        UnOp::Exp => "Exp",
        UnOp::Log => "Log",
        UnOp::Sqrt => "Sqrt",
        UnOp::Abs => "Abs",
        UnOp::Sign => "Sign",
        UnOp::Tanh => "Tanh",
        UnOp::Floor => "Floor",
        UnOp::Cos => "Cos",
        UnOp::Sin => "Sin",
        UnOp::Erf => "Erf",
        UnOp::Log1p => {
            let one = b.f32_scalar(1.0);
            let sum = b.node("Add", &[x, &one], &[]);
            return b.node("Log", &[&sum], &[]);
        }
        UnOp::Expm1 => {
            let one = b.f32_scalar(1.0);
            let e = b.node("Exp", &[x], &[]);
            return b.node("Sub", &[&e, &one], &[]);
        }
    };
    b.node(onnx, &[x], &[])
}

/// A binary op; the comparisons' booleans become gradc's 1.0 and 0.0.
fn binary(b: &mut Builder, o: BinOp, x: &str, y: &str) -> String {
    let onnx = match o {
        BinOp::Add => "Add",
        BinOp::Sub => "Sub",
        BinOp::Mul => "Mul",
        BinOp::Div => "Div",
        BinOp::Pow => "Pow",
        BinOp::Max => "Max",
        BinOp::Min => "Min",
        BinOp::Gt | BinOp::Eq => {
            let compare = if o == BinOp::Gt { "Greater" } else { "Equal" };
            let truth = b.node(compare, &[x, y], &[]);
            return b.node("Cast", &[&truth], &[("to", Attr::Int(ElemType::Float as i64))]);
        }
    };
    b.node(onnx, &[x, y], &[])
}

/// A reduction over `axes`, which are removed (`keepdims = 0`); over no axes, the operand.
fn reduce(b: &mut Builder, r: ReduceOp, axes: &[usize], x: &str) -> String {
    if axes.is_empty() {
        // ONNX reduces every axis when given none.
        return b.node("Identity", &[x], &[]);
    }
    let list: Vec<i64> = axes.iter().map(|&a| i64_of(a)).collect();
    let keep = ("keepdims", Attr::Int(0));
    match r {
        // Opset 13 moved ReduceSum's axes to an input.
        ReduceOp::Sum => {
            let axes = b.i64s(&list);
            b.node("ReduceSum", &[x, &axes], &[keep])
        }
        // ReduceMax's axes are still an attribute in opset 17 (an input from 18).
        ReduceOp::Max => b.node("ReduceMax", &[x], &[keep, ("axes", Attr::Ints(list))]),
    }
}

/// A convolution or pooling; the gradient ops have no ONNX form.
fn window(b: &mut Builder, w: &WindowOp, args: &[&str]) -> Result<String, Unsupported> {
    let pair = |p: [usize; 2]| Attr::Ints(p.iter().map(|&v| i64_of(v)).collect());
    let pads = |lo: [usize; 2], hi: [usize; 2]| Attr::Ints([lo, hi].iter().flatten().map(|&v| i64_of(v)).collect());
    let pool =
        |p: &Pool2d| [("kernel_shape", pair(p.kernel)), ("strides", pair(p.stride)), ("pads", pads(p.pad, p.pad))];
    let gradient = Unsupported { op: w.name(), why: "it is a gradient op, which a model's forward graph never holds" };
    Ok(match w {
        WindowOp::Conv(Conv2d { stride, pad_lo, pad_hi, dilation, groups }) => {
            let attrs = [
                ("strides", pair(*stride)),
                ("pads", pads(*pad_lo, *pad_hi)),
                ("dilations", pair(*dilation)),
                ("group", Attr::Int(i64_of(*groups))),
            ];
            b.node("Conv", &[args[0], args[1]], &attrs)
        }
        // Padding never wins a maximum, as gradc's -inf padding.
        WindowOp::MaxPool(p) => b.node("MaxPool", &[args[0]], &pool(p)),
        WindowOp::AvgPool(p) => {
            let [k, s, pd] = pool(p);
            b.node("AveragePool", &[args[0]], &[k, s, pd, ("count_include_pad", Attr::Int(1))])
        }
        WindowOp::ConvInput(..) | WindowOp::ConvWeight(..) | WindowOp::MaxPoolGrad(_) | WindowOp::AvgPoolGrad(..) => {
            return Err(gradient)
        }
    })
}

/// `gather(table, ids)` with gradc's zero row for an id outside `0..V` (ONNX's `Gather`
/// rejects one): gathered at a clamped id, then masked.
fn gather(b: &mut Builder, operands: Operands<'_>, shape: &[Dim]) -> String {
    let (table, ids) = (operands.names[0], operands.names[1]);
    // A table holds at most 2^31 elements, so fewer rows than i32::MAX but for an empty row.
    // Its rows are fixed: `Shapes::symbolic` refuses a table whose rows are the batch's.
    let rows = i32::try_from(operands.types[0].shape[0]).unwrap_or(i32::MAX);
    let (zero, limit) = (b.i32s(&[], &[0]), b.i32s(&[], &[rows]));
    let above = b.node("GreaterOrEqual", &[ids, &zero], &[]);
    let below = b.node("Less", &[ids, &limit], &[]);
    let valid = b.node("And", &[&above, &below], &[]);
    let safe = b.node("Where", &[&valid, ids, &zero], &[]);
    let picked = b.node("Gather", &[table, &safe], &[("axis", Attr::Int(0))]);
    // The mask with a 1 for each of a row's axes, to broadcast over them.
    let mut mask_shape = operands.shapes[1].to_vec();
    mask_shape.resize(shape.len(), Dim::Fixed(1));
    let mask_shape = b.shape(&mask_shape);
    let mask = b.node("Reshape", &[&valid, &mask_shape], &[]);
    let none = b.f32_scalar(0.0);
    b.node("Where", &[&mask, &picked, &none], &[])
}
