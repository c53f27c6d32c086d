//! The op table: every primitive op with its name, arity, codegen class, shape rule and VJP.
//! Long because it is the table: each facet is one match over every op (no `_ =>` arm), and
//! splitting the facets across files would scatter an op's rows.
//!
//! Elementwise ops' rows are in `ir::elementwise`, convolution and pooling in `ir::window`;
//! their f64 semantics are in `eval` there and `ir::interp::eval_op`, and their lowering in
//! `codegen`. Adding an op makes the compiler list every place that must learn it.

use super::elementwise::{BinOp, UnOp};
use super::notation::Notation;
use super::window::{WindowError, WindowOp};
use super::{DType, Graph, NodeId, Shape, Type};

/// A primitive op. Composite ops (softmax, cross-entropy, Adam) are `.grad` code in `stdlib/`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The graph input with this index in `Graph::inputs`.
    Input(usize),
    /// A scalar f32 constant, held in f64 so that scalar arithmetic on it (a schedule, a bias
    /// correction) can run in double precision, as PyTorch's Python-float hyper-parameters do.
    Const(f64),
    /// A one-operand elementwise op.
    Unary(UnOp),
    /// A two-operand elementwise op on operands of one shape.
    Binary(BinOp),
    /// `select(c, a, b)`: per element `a` where the f32 mask `c` is nonzero (NaN counts as
    /// nonzero, as `c != 0` says), else `b`. The unpicked operand is not read into the result at
    /// all, so a NaN or infinity there cannot leak (unlike `c*a + (1-c)*b`). Three operands of
    /// one shape; the mask gets no gradient.
    Select,
    /// Numpy broadcast of the operand to this shape (dims aligned on the right; size 1 or equal).
    Broadcast(Shape),
    /// Same elements, new shape.
    Reshape(Shape),
    /// A reduction over these axes (ascending), which are removed.
    Reduce(ReduceOp, Vec<usize>),
    /// Matrix product of two rank-2 operands, each optionally transposed.
    MatMul {
        /// Use the first operand transposed.
        ta: bool,
        /// Use the second operand transposed.
        tb: bool,
    },
    /// i32 class indices `[n]` to f32 one-hot rows `[n, classes]`; an index outside the range gives a zero row.
    OneHot(usize),
    /// Index of the largest element along this axis (first on ties), as i32; the axis is removed.
    Argmax(usize),
    /// A convolution or pooling over NCHW values, or a gradient of one (`ir::window`).
    Window(WindowOp),
    /// Conversion to this element type, per element: i32 to f32 rounds to nearest; f32 to i32
    /// truncates toward zero (as torch's `.to(torch.int32)`), saturating at the i32 range, NaN
    /// to 0. Integers carry no gradient, so neither direction passes one.
    Cast(DType),
    /// The operand's axes reordered: result axis `i` is operand axis `perm[i]`. A view: new
    /// strides, never a copy.
    Permute(Vec<usize>),
    /// Elements `start, start + step, …` (below `end`) along `axis`; `start <= end <= dim`,
    /// `step >= 1`. A view: an offset and strides, never a copy.
    Slice {
        /// The sliced axis.
        axis: usize,
        /// First index taken.
        start: usize,
        /// One past the last index that may be taken.
        end: usize,
        /// Distance between taken indices.
        step: usize,
    },
    /// The operands joined along `axis`; every other dim equal, one element type. Copied by a
    /// call-out into one buffer.
    Concat {
        /// The joined axis.
        axis: usize,
        /// How many operands.
        parts: usize,
    },
    /// `gather(table, ids)`: rows of an f32 `table[V, …]` picked by i32 `ids[…]`, giving
    /// `ids.shape ++ table.shape[1..]`; an id outside `0..V` gives a zero row (as `one_hot`).
    Gather,
    /// `scatter_add(ids, g)` into `V` rows: row `ids[i]` of the `[V, …]` result sums the rows of
    /// `g` (of `gather`'s result shape) whose id is that row; ids outside `0..V` are dropped.
    /// `gather`'s gradient.
    ScatterAdd(usize),
    /// `rand(shape)`: uniform samples from `[0, 1)` in multiples of 2⁻²⁴, a pure function of
    /// this call site's `key`, the run's seed and micro-batch counter (the i32 `[3]` operand,
    /// `StepInput::Rng`) and the element's index ([`crate::rng::counter_uniform`]), so a run
    /// draws the same numbers whatever the thread count and after a resume. No gradient.
    Rand {
        /// The call site, hashed from the instance name that asked for the numbers.
        key: u64,
        /// The result's shape.
        shape: Shape,
        /// The index of the first number drawn: 0, or in a rank of a distributed run, where its
        /// rows start in the single process's draw for the whole batch (`control::offset_rand`).
        first: u64,
    },
    /// `all_sum(x)`: every rank's `x` summed element by element, the same on every rank
    /// (`collective::all_sum`); one process's own `x` when it runs alone. The gradients of a
    /// data-parallel step go through it before the update.
    AllSum,
}

/// What a reduction combines with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Sum, from 0.
    Sum,
    /// Maximum, from -inf, NaN if any element is NaN.
    Max,
}

/// How code generation treats an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// An input or a constant: no code of its own.
    Leaf,
    /// Maps each output element from the operands' elements at the same index; fused into loops.
    Elementwise,
    /// Reads its operand under another shape (broadcast, reshape): strides, not a copy.
    View,
    /// Combines elements along axes; its producers fuse into its loop.
    Reduction,
    /// A call to a runtime helper (GEMM, one-hot, argmax) over materialised operands.
    CallOut,
}

/// Why an op cannot be applied to operands of these types.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeError {
    /// An elementwise op's operands of different shapes.
    Operands {
        /// The op's name.
        op: &'static str,
        /// The operands' shapes, in order.
        shapes: Vec<Shape>,
    },
    /// An operand of an element type the op does not accept.
    DType {
        /// The op's name.
        op: &'static str,
        /// The operand's type.
        found: Type,
    },
    /// `eq` of two element types.
    EqDTypes(Type, Type),
    /// `one_hot` of something other than i32 labels of rank 1.
    Labels(Type),
    /// A broadcast to a shape the operand does not broadcast to.
    Broadcast {
        /// The operand's shape.
        from: Shape,
        /// The requested shape.
        to: Shape,
    },
    /// A reshape that changes the element count.
    Reshape {
        /// The operand's shape.
        from: Shape,
        /// The requested shape.
        to: Shape,
    },
    /// `@` of operands that are not both matrices.
    MatMulRank(Shape, Shape),
    /// `@` whose inner dimensions differ: `[m, k1] @ [k2, n]` as the product sees them.
    MatMulInner([usize; 2], [usize; 2]),
    /// An axis outside the operand's rank.
    Axis {
        /// The axis.
        axis: usize,
        /// The operand's shape.
        shape: Shape,
    },
    /// Reduction axes that are not distinct and ascending.
    AxesOrder,
    /// A shape whose element count does not fit in memory indices.
    TooLarge(Shape),
    /// An `Input` node, which is typed by its declaration.
    Input,
    /// A convolution or pooling whose operands or attributes do not fit.
    Window(WindowError),
    /// A slice whose bounds do not fit the axis.
    Slice {
        /// Requested start, end and step.
        bounds: [usize; 3],
        /// The axis' length.
        dim: usize,
    },
    /// `concat` of operands whose other dims or element types differ.
    Concat(Vec<Type>),
    /// `gather` of something other than an f32 table of rank >= 1 and i32 ids, or a
    /// `scatter_add` whose gradient does not fit its ids.
    Gather(Type, Type),
    /// A permutation that does not list each axis of the operand once.
    Permutation {
        /// The requested order.
        perm: Vec<usize>,
        /// The operand's rank.
        rank: usize,
    },
}

/// What kind of mistake a [`ShapeError`] is, for choosing a diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeErrorKind {
    /// The operands' shapes do not fit the op.
    Mismatch,
    /// An element type the op does not accept.
    DType,
    /// An axis outside the operand's rank.
    Axis,
    /// A value too large to allocate.
    TooLarge,
}

impl ShapeError {
    /// The kind of mistake.
    pub fn kind(&self) -> ShapeErrorKind {
        match self {
            ShapeError::Operands { .. }
            | ShapeError::Broadcast { .. }
            | ShapeError::Reshape { .. }
            | ShapeError::MatMulRank(..)
            | ShapeError::MatMulInner(..)
            | ShapeError::Input
            | ShapeError::Window(_)
            | ShapeError::Concat(_) => ShapeErrorKind::Mismatch,
            ShapeError::DType { .. } | ShapeError::EqDTypes(..) | ShapeError::Labels(_) | ShapeError::Gather(..) => {
                ShapeErrorKind::DType
            }
            ShapeError::Axis { .. }
            | ShapeError::AxesOrder
            | ShapeError::Permutation { .. }
            | ShapeError::Slice { .. } => ShapeErrorKind::Axis,
            ShapeError::TooLarge(_) => ShapeErrorKind::TooLarge,
        }
    }
}

/// The one place shape errors are worded.
impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeError::Operands { op, shapes } => {
                let shapes: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
                match shapes.as_slice() {
                    [a, b] => write!(f, "`{op}` needs operands of one shape, found {a} and {b}"),
                    [m, a, b] => write!(f, "`{op}` needs a mask and two operands of one shape, found {m}, {a} and {b}"),
                    other => write!(f, "`{op}` needs operands of one shape, found {}", other.join(", ")),
                }
            }
            ShapeError::DType { op, found } => write!(f, "`{op}` needs f32 operands, found {found}"),
            ShapeError::EqDTypes(a, b) => write!(f, "`eq` compares values of one element type, found {a} and {b}"),
            ShapeError::Labels(t) => write!(f, "`one_hot` needs i32 labels of rank 1, found {t}"),
            ShapeError::Broadcast { from, to } => {
                write!(f, "cannot broadcast shape {} to {}", fmt_shape(from), fmt_shape(to))
            }
            ShapeError::Reshape { from, to } => {
                write!(f, "cannot reshape {} to {}: element counts differ", fmt_shape(from), fmt_shape(to))
            }
            ShapeError::MatMulRank(a, b) => {
                write!(f, "`@` needs two matrices, found shapes {} and {}", fmt_shape(a), fmt_shape(b))
            }
            ShapeError::MatMulInner([m, k1], [k2, n]) => {
                write!(f, "`@` needs the inner dimensions to agree, found [{m}, {k1}] @ [{k2}, {n}]")
            }
            ShapeError::Axis { axis, shape } => {
                write!(f, "axis {axis} is out of range for a value of shape {}", fmt_shape(shape))
            }
            ShapeError::AxesOrder => f.write_str("axes must be distinct and ascending"),
            ShapeError::TooLarge(shape) => write!(f, "a value of shape {} is too large to allocate", fmt_shape(shape)),
            ShapeError::Input => f.write_str("inputs are typed by their declaration"),
            ShapeError::Window(e) => write!(f, "{e}"),
            ShapeError::Slice { bounds: [start, end, step], dim } => write!(
                f,
                "slice {start}..{end} step {step} does not fit an axis of length {dim} (needs start <= end <= {dim}, step >= 1)"
            ),
            ShapeError::Concat(types) => {
                let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
                write!(f, "`concat` needs operands of one element type that agree off the joined axis, found {}", types.join(", "))
            }
            ShapeError::Gather(table, ids) => {
                write!(f, "`gather` needs an f32 table of rank 1 or more and i32 ids, found {table} and {ids}")
            }
            ShapeError::Permutation { perm, rank } => {
                write!(f, "`permute` needs each axis of a rank-{rank} value once, found {}", fmt_shape(perm))
            }
        }
    }
}

/// Largest number of elements a single tensor may hold (2^31 f32s = 8 GiB).
pub const MAX_ELEMENTS: usize = 1 << 31;

/// The number of elements of a shape, or `None` past [`MAX_ELEMENTS`].
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n <= MAX_ELEMENTS)
}

/// Formats a shape as `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// The numpy broadcast of two shapes, or `None` if they do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() { 1 } else { a[i - (rank - a.len())] };
        let db = if i < rank - b.len() { 1 } else { b[i - (rank - b.len())] };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Whether `from` broadcasts to exactly `to`.
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len() && broadcast_shapes(from, to).as_deref() == Some(to)
}

impl ReduceOp {
    /// The name the graph printer uses.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "reduce_max",
        }
    }

    /// The name the kernel printer uses (`reduce.sum`, `reduce.max`).
    pub fn short_name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Max => "max",
        }
    }

    /// The value a reduction starts from.
    pub fn init(self) -> f64 {
        match self {
            ReduceOp::Sum => 0.0,
            ReduceOp::Max => f64::NEG_INFINITY,
        }
    }

    /// Folds one more element into the accumulator, in f64.
    pub fn combine(self, acc: f64, x: f64) -> f64 {
        match self {
            ReduceOp::Sum => BinOp::Add.eval(acc, x),
            ReduceOp::Max => BinOp::Max.eval(acc, x),
        }
    }

    /// The gradient sent to the operand `a` (of the node `y = reduce(a, axes)`) when `y` receives `g`.
    pub fn vjp(self, gr: &mut Graph, a: NodeId, y: NodeId, g: NodeId, axes: &[usize]) -> NodeId {
        let from = gr.ty(a).shape.clone();
        match self {
            // f(a) = sum(a, axes)
            // df/da = expand(g): g repeated along the summed axes
            ReduceOp::Sum => expand(gr, g, axes, &from),
            // f(a) = max(a, axes)
            // df/da = m * expand(g / sum(m, axes)) with m = (a == expand(y)):
            // the gradient goes to the maxima, split evenly among ties
            ReduceOp::Max => {
                let ye = expand(gr, y, axes, &from);
                let m = gr.build(Op::Binary(BinOp::Eq), vec![a, ye]);
                let count = gr.build(Op::Reduce(ReduceOp::Sum, axes.to_vec()), vec![m]);
                let share = gr.build(Op::Binary(BinOp::Div), vec![g, count]);
                let se = expand(gr, share, axes, &from);
                gr.build(Op::Binary(BinOp::Mul), vec![m, se])
            }
        }
    }
}

/// Undoes a reduction's shape: `x` has `shape` with `axes` removed; the result has `shape`,
/// each element of `x` repeated along the reduced axes.
fn expand(g: &mut Graph, x: NodeId, axes: &[usize], shape: &Shape) -> NodeId {
    if axes.is_empty() {
        return x;
    }
    let keep: Shape = shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    // Broadcasting aligns dims on the right, so leading size-1 dims need no reshape.
    let first = keep.iter().position(|&d| d != 1).unwrap_or(keep.len());
    let x = if keep[first..] == g.ty(x).shape[..] { x } else { g.build(Op::Reshape(keep), vec![x]) };
    g.build(Op::Broadcast(shape.clone()), vec![x])
}

/// The gradient of a slice: `g` (the slice's shape) placed at indices `start, start + step, …`
/// of `axis` in a value of shape `from`, zeros elsewhere. Built from views and `concat`: each
/// row of `g` gains `step - 1` zero rows after it, the result is cut to `end - start` rows, and
/// zero blocks stand for `[0, start)` and `[end, dim)`.
fn unslice(gr: &mut Graph, g: NodeId, from: &Shape, axis: usize, [start, end, step]: [usize; 3]) -> NodeId {
    let shape = gr.ty(g).shape.clone();
    let m = shape[axis];
    if m == 0 {
        return gr.splat(0.0, from);
    }
    let with = |d: usize| -> Shape {
        let mut s = shape.clone();
        s[axis] = d;
        s
    };
    let mut spread = g;
    if step > 1 {
        let split = |inner: usize| -> Shape {
            let mut s = shape.clone();
            s.splice(axis..=axis, [m, inner]);
            s
        };
        let column = gr.build(Op::Reshape(split(1)), vec![g]);
        let zeros = gr.splat(0.0, &split(step - 1));
        let joined = gr.build(Op::Concat { axis: axis + 1, parts: 2 }, vec![column, zeros]);
        spread = gr.build(Op::Reshape(with(m * step)), vec![joined]);
        if m * step > end - start {
            spread = gr.build(Op::Slice { axis, start: 0, end: end - start, step: 1 }, vec![spread]);
        }
    }
    let mut parts = Vec::new();
    if start > 0 {
        parts.push(gr.splat(0.0, &with(start)));
    }
    parts.push(spread);
    if from[axis] > end {
        parts.push(gr.splat(0.0, &with(from[axis] - end)));
    }
    if parts.len() == 1 {
        return spread;
    }
    gr.build(Op::Concat { axis, parts: parts.len() }, parts)
}

impl Op {
    /// The name the text printer uses.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Const(_) => "const",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Select => "select",
            Op::Broadcast(_) => "broadcast",
            Op::Reshape(_) => "reshape",
            Op::Reduce(r, _) => r.name(),
            Op::MatMul { .. } => "matmul",
            Op::OneHot(_) => "one_hot",
            Op::Argmax(_) => "argmax",
            Op::Window(w) => w.name(),
            Op::Cast(_) => "cast",
            Op::Permute(_) => "permute",
            Op::Slice { .. } => "slice",
            Op::Concat { .. } => "concat",
            Op::Gather => "gather",
            Op::ScatterAdd(_) => "scatter_add",
            Op::Rand { .. } => "rand",
            Op::AllSum => "all_sum",
        }
    }

    /// How `gradc grad` writes the op as mathematics.
    pub fn notation(&self) -> Notation {
        match self {
            Op::Input(_) => Notation::Input,
            Op::Const(_) => Notation::Number,
            Op::Unary(u) => u.notation(),
            Op::Binary(b) => b.notation(),
            Op::Select => Notation::Select,
            Op::Broadcast(_) | Op::Reshape(_) => Notation::View,
            Op::Reduce(ReduceOp::Sum, axes) => Notation::Sum(axes.clone()),
            Op::Reduce(ReduceOp::Max, axes) => Notation::Max(axes.clone()),
            Op::MatMul { ta, tb } => Notation::MatMul { ta: *ta, tb: *tb },
            Op::OneHot(_) => Notation::Function("onehot"),
            Op::Argmax(_) | Op::Cast(_) | Op::Permute(_) | Op::Slice { .. } | Op::Concat { .. } => {
                Notation::Function(self.name())
            }
            Op::Gather | Op::ScatterAdd(_) | Op::Rand { .. } | Op::AllSum => Notation::Function(self.name()),
            Op::Window(w) => Notation::Function(w.name()),
        }
    }

    /// How many operands the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Input(_) | Op::Const(_) => 0,
            Op::Unary(_) | Op::Broadcast(_) | Op::Reshape(_) | Op::Reduce(..) | Op::OneHot(_) | Op::Argmax(_) => 1,
            Op::Cast(_) | Op::Permute(_) | Op::Slice { .. } | Op::Rand { .. } | Op::AllSum => 1,
            Op::Concat { parts, .. } => *parts,
            Op::Gather | Op::ScatterAdd(_) => 2,
            Op::Binary(_) | Op::MatMul { .. } => 2,
            Op::Select => 3,
            Op::Window(w) => w.arity(),
        }
    }

    /// How code generation treats the op.
    pub fn class(&self) -> Class {
        match self {
            Op::Input(_) | Op::Const(_) => Class::Leaf,
            Op::Unary(_) | Op::Binary(_) | Op::Select | Op::Cast(_) => Class::Elementwise,
            Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice { .. } => Class::View,
            Op::Concat { .. } | Op::Gather | Op::ScatterAdd(_) | Op::Rand { .. } | Op::AllSum => Class::CallOut,
            Op::Reduce(..) => Class::Reduction,
            Op::MatMul { .. } | Op::OneHot(_) | Op::Argmax(_) | Op::Window(_) => Class::CallOut,
        }
    }

    /// Whether the op maps each output element from the operands' elements at the same index.
    pub fn is_elementwise(&self) -> bool {
        self.class() == Class::Elementwise
    }

    /// The gradient each operand of `node` (`y = op(args)`) receives when `y` receives `g`.
    ///
    /// Only operands with `wants[i]` set get a gradient; the others (constants, data, values
    /// no parameter reaches) get `None` and no nodes are built for them.
    pub fn vjp(&self, gr: &mut Graph, y: NodeId, g: NodeId, wants: &[bool]) -> Vec<Option<NodeId>> {
        let args = gr.node(y).args.clone();
        let mut grads: Vec<Option<NodeId>> = vec![None; args.len()];
        let shape = gr.ty(y).shape.clone();
        match self {
            // Inputs and constants have no operands.
            Op::Input(_) | Op::Const(_) => {}
            Op::Unary(u) => {
                if wants[0] {
                    grads[0] = u.vjp(gr, args[0], y, g);
                }
            }
            Op::Binary(b) => {
                let [da, db] = b.vjp(gr, [args[0], args[1]], y, g, [wants[0], wants[1]]);
                grads = vec![da, db];
            }
            // f(c, x, z) = c != 0 ? x : z, per element
            // df/dx = select(c, g, 0), df/dz = select(c, 0, g); the mask c is piecewise constant and
            // gets no gradient. Picking rather than multiplying by the mask keeps a NaN or inf in an
            // element of `g` away from the operand that element did not pick.
            Op::Select => {
                let c = args[0];
                if wants[1] {
                    let z = gr.splat(0.0, &shape);
                    grads[1] = Some(gr.build(Op::Select, vec![c, g, z]));
                }
                if wants[2] {
                    let z = gr.splat(0.0, &shape);
                    grads[2] = Some(gr.build(Op::Select, vec![c, z, g]));
                }
            }
            // f(a) = bcast(a): each element of a is copied to several outputs
            // df/da = reshape(sum(g, broadcast axes))
            Op::Broadcast(to) => {
                if wants[0] {
                    let from = gr.ty(args[0]).shape.clone();
                    let offset = to.len() - from.len();
                    let axes: Vec<usize> =
                        (0..to.len()).filter(|&i| i < offset || (from[i - offset] == 1 && to[i] != 1)).collect();
                    grads[0] = Some(if axes.is_empty() {
                        g
                    } else {
                        let s = gr.build(Op::Reduce(ReduceOp::Sum, axes), vec![g]);
                        if gr.ty(s).shape == from {
                            s
                        } else {
                            gr.build(Op::Reshape(from), vec![s])
                        }
                    });
                }
            }
            // f(a) = reshape(a)
            // df/da = reshape(g) back to a's shape
            Op::Reshape(_) => {
                if wants[0] {
                    let from = gr.ty(args[0]).shape.clone();
                    grads[0] = Some(gr.build(Op::Reshape(from), vec![g]));
                }
            }
            Op::Reduce(r, axes) => {
                if wants[0] {
                    grads[0] = Some(r.vjp(gr, args[0], y, g, axes));
                }
            }
            // f(A, B) = op(A) @ op(B), op(X) = X or Xᵀ; the flags make every transpose free.
            // C = A B:   dA = g Bᵀ,    dB = Aᵀ g
            // C = Aᵀ B:  dA = B gᵀ,    dB = A g
            // C = A Bᵀ:  dA = g B,     dB = gᵀ A
            // C = Aᵀ Bᵀ: dA = Bᵀ gᵀ,   dB = gᵀ Aᵀ
            Op::MatMul { ta, tb } => {
                let (a, b) = (args[0], args[1]);
                let (da, db) = match (ta, tb) {
                    (false, false) => ((false, true, g, b), (true, false, a, g)),
                    (true, false) => ((false, true, b, g), (false, false, a, g)),
                    (false, true) => ((false, false, g, b), (true, false, g, a)),
                    (true, true) => ((true, true, b, g), (true, true, g, a)),
                };
                for (i, (ta, tb, x, w)) in [da, db].into_iter().enumerate() {
                    if wants[i] {
                        grads[i] = Some(gr.build(Op::MatMul { ta, tb }, vec![x, w]));
                    }
                }
            }
            // f(labels) = one_hot(labels), f(a) = argmax(a): integer-valued; f(counter) = rand:
            // no gradient
            Op::OneHot(_) | Op::Argmax(_) | Op::Rand { .. } => {}
            Op::Window(w) => grads = w.vjp(gr, &args, g, wants),
            // f(a) = cast(a): an i32 operand or result carries no gradient, so neither direction
            // passes one (autodiff differentiates f32 values only).
            Op::Cast(_) => {}
            // f(a) = permute(a, p): result axis i is axis p[i] of a
            // df/da = permute(g, p⁻¹), where p⁻¹[p[i]] = i
            Op::Permute(perm) => {
                if wants[0] {
                    let mut inverse = vec![0; perm.len()];
                    for (i, &p) in perm.iter().enumerate() {
                        inverse[p] = i;
                    }
                    grads[0] = Some(gr.build(Op::Permute(inverse), vec![g]));
                }
            }
            // f(a) = a[start:end:step] along an axis
            // df/da = g at indices start, start + step, …, 0 elsewhere (see `unslice`)
            Op::Slice { axis, start, end, step } => {
                if wants[0] {
                    let from = gr.ty(args[0]).shape.clone();
                    grads[0] = Some(unslice(gr, g, &from, *axis, [*start, *end, *step]));
                }
            }
            // f(a₀, a₁, …) = concat(a₀, a₁, …) along an axis
            // df/daᵢ = g[oᵢ : oᵢ + nᵢ] along that axis, oᵢ = n₀ + … + nᵢ₋₁
            Op::Concat { axis, .. } => {
                let mut at = 0;
                for (i, a) in args.iter().enumerate() {
                    let n = gr.ty(*a).shape[*axis];
                    if wants[i] {
                        grads[i] = Some(gr.build(Op::Slice { axis: *axis, start: at, end: at + n, step: 1 }, vec![g]));
                    }
                    at += n;
                }
            }
            // f(T, ids) = T[ids]: row ids[i] of the table, per id
            // df/dT = scatter_add(ids, g): each table row sums the gradients of the rows it gave;
            // ids are integers and get none
            Op::Gather => {
                if wants[0] {
                    let rows = gr.ty(args[0]).shape[0];
                    grads[0] = Some(gr.build(Op::ScatterAdd(rows), vec![args[1], g]));
                }
            }
            // f(ids, G) = scatter_add(ids, G), linear in G
            // df/dG = gather(g, ids)
            Op::ScatterAdd(_) => {
                if wants[1] {
                    grads[1] = Some(gr.build(Op::Gather, vec![g, args[0]]));
                }
            }
            // f(x_r) = Σ_s x_s on every rank s, each rank's result seeded with its own g_s
            // df/dx_r = Σ_s g_s = all_sum(g)
            Op::AllSum => {
                if wants[0] {
                    grads[0] = Some(gr.build(Op::AllSum, vec![g]));
                }
            }
        }
        grads
    }

    /// The shape rule: the result type for operands of these types.
    /// `Input` is typed by its declaration and is not inferred here.
    pub fn infer(&self, args: &[&Type]) -> Result<Type, ShapeError> {
        let f32_only = |t: &Type| -> Result<(), ShapeError> {
            if t.dtype == DType::F32 {
                Ok(())
            } else {
                Err(ShapeError::DType { op: self.name(), found: t.clone() })
            }
        };
        let same = |a: &Type, b: &Type| -> Result<(), ShapeError> {
            if a.shape == b.shape {
                Ok(())
            } else {
                Err(ShapeError::Operands { op: self.name(), shapes: vec![a.shape.clone(), b.shape.clone()] })
            }
        };
        let axes_ok = |t: &Type, axes: &[usize]| -> Result<(), ShapeError> {
            let sorted = axes.windows(2).all(|w| w[0] < w[1]);
            match axes.iter().find(|&&a| a >= t.shape.len()) {
                Some(&axis) => Err(ShapeError::Axis { axis, shape: t.shape.clone() }),
                None if !sorted => Err(ShapeError::AxesOrder),
                None => Ok(()),
            }
        };
        let removed = |t: &Type, axes: &[usize]| -> Shape {
            t.shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
        };
        let sized = |ty: Type| -> Result<Type, ShapeError> {
            match checked_numel(&ty.shape) {
                Some(_) => Ok(ty),
                None => Err(ShapeError::TooLarge(ty.shape)),
            }
        };
        match self {
            Op::Input(_) => Err(ShapeError::Input),
            Op::Const(_) => Ok(Type::scalar(DType::F32)),
            Op::Unary(_) => {
                f32_only(args[0])?;
                Ok(args[0].clone())
            }
            Op::Binary(BinOp::Eq) => {
                if args[0].dtype != args[1].dtype {
                    return Err(ShapeError::EqDTypes(args[0].clone(), args[1].clone()));
                }
                same(args[0], args[1])?;
                Ok(Type::new(DType::F32, args[0].shape.clone()))
            }
            Op::Binary(
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min | BinOp::Gt,
            ) => {
                f32_only(args[0])?;
                f32_only(args[1])?;
                same(args[0], args[1])?;
                Ok(args[0].clone())
            }
            Op::Select => {
                for t in args {
                    f32_only(t)?;
                }
                if args[0].shape == args[1].shape && args[1].shape == args[2].shape {
                    Ok(args[1].clone())
                } else {
                    let shapes = args.iter().map(|t| t.shape.clone()).collect();
                    Err(ShapeError::Operands { op: self.name(), shapes })
                }
            }
            Op::Broadcast(to) => {
                if broadcasts_to(&args[0].shape, to) {
                    sized(Type::new(args[0].dtype, to.clone()))
                } else {
                    Err(ShapeError::Broadcast { from: args[0].shape.clone(), to: to.clone() })
                }
            }
            Op::Reshape(to) => {
                if checked_numel(to) == Some(args[0].numel()) {
                    Ok(Type::new(args[0].dtype, to.clone()))
                } else {
                    Err(ShapeError::Reshape { from: args[0].shape.clone(), to: to.clone() })
                }
            }
            Op::Reduce(_, axes) => {
                f32_only(args[0])?;
                axes_ok(args[0], axes)?;
                Ok(Type::new(DType::F32, removed(args[0], axes)))
            }
            Op::MatMul { ta, tb } => {
                f32_only(args[0])?;
                f32_only(args[1])?;
                let (a, b) = (&args[0].shape, &args[1].shape);
                if a.len() != 2 || b.len() != 2 {
                    return Err(ShapeError::MatMulRank(a.clone(), b.clone()));
                }
                let (m, k1) = if *ta { (a[1], a[0]) } else { (a[0], a[1]) };
                let (k2, n) = if *tb { (b[1], b[0]) } else { (b[0], b[1]) };
                if k1 != k2 {
                    return Err(ShapeError::MatMulInner([m, k1], [k2, n]));
                }
                sized(Type::new(DType::F32, vec![m, n]))
            }
            Op::OneHot(classes) => {
                if args[0].dtype != DType::I32 || args[0].shape.len() != 1 {
                    return Err(ShapeError::Labels(args[0].clone()));
                }
                sized(Type::new(DType::F32, vec![args[0].shape[0], *classes]))
            }
            Op::Argmax(axis) => {
                f32_only(args[0])?;
                axes_ok(args[0], &[*axis])?;
                Ok(Type::new(DType::I32, removed(args[0], &[*axis])))
            }
            Op::Window(w) => sized(w.infer(args)?),
            Op::Cast(to) => Ok(Type::new(*to, args[0].shape.clone())),
            Op::Permute(perm) => {
                let rank = args[0].shape.len();
                let mut seen = vec![false; rank];
                let each_once =
                    perm.len() == rank && perm.iter().all(|&p| p < rank && !std::mem::replace(&mut seen[p], true));
                if !each_once {
                    return Err(ShapeError::Permutation { perm: perm.clone(), rank });
                }
                Ok(Type::new(args[0].dtype, perm.iter().map(|&p| args[0].shape[p]).collect()))
            }
            Op::Slice { axis, start, end, step } => {
                axes_ok(args[0], &[*axis])?;
                let dim = args[0].shape[*axis];
                if start > end || *end > dim || *step == 0 {
                    return Err(ShapeError::Slice { bounds: [*start, *end, *step], dim });
                }
                let mut shape = args[0].shape.clone();
                shape[*axis] = (end - start).div_ceil(*step);
                Ok(Type::new(args[0].dtype, shape))
            }
            Op::Concat { axis, .. } => {
                axes_ok(args[0], &[*axis])?;
                let first = args[0];
                let off_axis = |t: &Type| -> Vec<usize> {
                    t.shape.iter().enumerate().filter(|(i, _)| i != axis).map(|(_, &d)| d).collect()
                };
                let agree = args.iter().all(|t| {
                    t.dtype == first.dtype && t.shape.len() == first.shape.len() && off_axis(t) == off_axis(first)
                });
                if !agree {
                    return Err(ShapeError::Concat(args.iter().map(|&t| t.clone()).collect()));
                }
                let mut shape = first.shape.clone();
                shape[*axis] = args.iter().map(|t| t.shape[*axis]).sum();
                sized(Type::new(first.dtype, shape))
            }
            Op::Gather => {
                let (table, ids) = (args[0], args[1]);
                if table.dtype != DType::F32 || table.shape.is_empty() || ids.dtype != DType::I32 {
                    return Err(ShapeError::Gather(table.clone(), ids.clone()));
                }
                sized(Type::f32([&ids.shape[..], &table.shape[1..]].concat()))
            }
            Op::ScatterAdd(rows) => {
                let (ids, g) = (args[0], args[1]);
                let k = ids.shape.len();
                if ids.dtype != DType::I32
                    || g.dtype != DType::F32
                    || g.shape.len() < k
                    || g.shape[..k] != ids.shape[..]
                {
                    return Err(ShapeError::Gather(g.clone(), ids.clone()));
                }
                sized(Type::f32([&[*rows][..], &g.shape[k..]].concat()))
            }
            Op::Rand { shape, .. } => {
                if args[0].dtype != DType::I32 || args[0].shape != [3] {
                    return Err(ShapeError::DType { op: self.name(), found: args[0].clone() });
                }
                sized(Type::f32(shape.clone()))
            }
            Op::AllSum => {
                f32_only(args[0])?;
                Ok(args[0].clone())
            }
        }
    }
}
