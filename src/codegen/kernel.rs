//! The kernel IR: what fusion produces, the memory plan places and lowering compiles.
//!
//! A `Program` is a list of kernels in schedule order over `Value`s (arena buffers). Kernel
//! bodies are small SSA expression lists whose leaves are strided loads and immediates, so one
//! body serves the vector loop, the scalar remainder and the printer alike. Bodies use the op
//! table's own `UnOp` and `BinOp`, so a new elementwise op needs no kernel IR of its own.

use std::fmt::Write;

use crate::ir::op::fmt_shape;
use crate::ir::print::fmt_const;
use crate::ir::{BinOp, DType, OutputRole, ReduceOp, Shape, Type, UnOp, WindowOp};

/// Index of a value in `Program::values`; the first values are the graph inputs, in order.
pub type ValueId = usize;

/// Index of an expression in a kernel body.
pub type ExprId = usize;

/// A buffer in the arena: a graph input, or a result some kernel writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The input's name, or the node's name as the graph printer numbers it (`%3`).
    pub name: String,
    /// Element type and shape.
    pub ty: Type,
    /// The graph input it is, if any.
    pub input: Option<usize>,
}

/// One expression of a kernel body; operands precede their users.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An element of a buffer: at iteration index `i`, element `offset + sum(i[d] * strides[d])`.
    Load {
        /// The buffer.
        value: ValueId,
        /// Element stride per iteration dim; 0 along broadcast dims.
        strides: Vec<usize>,
        /// First element read (nonzero for a slice).
        offset: usize,
    },
    /// An immediate, held in f64 like the graph's constants (f32 code rounds it).
    Const(f64),
    /// A unary op.
    Unary(UnOp, ExprId),
    /// A binary op.
    Binary(BinOp, ExprId, ExprId),
    /// `select(mask, a, b)`: `a` where the f32 mask is nonzero (or NaN), else `b`, picked bit
    /// for bit (the one ternary op).
    Select(ExprId, ExprId, ExprId),
    /// Conversion to this element type, as `Op::Cast` says.
    Cast(DType, ExprId),
}

/// A fused elementwise loop over one iteration shape, with one or more outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Elementwise {
    /// The iteration shape (the shape of every output).
    pub shape: Shape,
    /// The body, evaluated at every index.
    pub body: Vec<Expr>,
    /// Expressions stored, each contiguously into a value of the iteration shape.
    pub outputs: Vec<(ExprId, ValueId)>,
}

/// A reduction over some axes of `shape`, with its fused producer chain as the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduce {
    /// The iteration (input) shape.
    pub shape: Shape,
    /// Reduced axes, ascending.
    pub axes: Vec<usize>,
    /// Combining op.
    pub kind: ReduceOp,
    /// The body, evaluated at every index of `shape`.
    pub body: Vec<Expr>,
    /// The expression reduced.
    pub root: ExprId,
    /// The result: `shape` without `axes`, contiguous.
    pub out: ValueId,
}

/// A matrix product `out[m, n] = op(a) @ op(b)`, done by GEMM.
#[derive(Debug, Clone, PartialEq)]
pub struct MatMul {
    /// Left operand, contiguous (`[m, k]`, or `[k, m]` when `ta`).
    pub a: ValueId,
    /// Right operand, contiguous (`[k, n]`, or `[n, k]` when `tb`).
    pub b: ValueId,
    /// Use `a` transposed.
    pub ta: bool,
    /// Use `b` transposed.
    pub tb: bool,
    /// Rows of the result.
    pub m: usize,
    /// Columns of the result.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// The result, contiguous `[m, n]`.
    pub out: ValueId,
}

/// The elementwise work a window kernel does on its result as it writes it, instead of
/// separate kernels reading it back (`fuse::epilogue` decides). Each computes what the
/// elementwise kernels it replaces would, in the same f32 operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// The op's result as it is.
    None,
    /// `conv2d` then `y + bias[o]` (a contiguous `[O]` value) if there is one, then ReLU,
    /// `max(y, 0)`, if `relu`.
    Conv {
        /// The per-channel bias.
        bias: Option<ValueId>,
        /// Whether ReLU follows.
        relu: bool,
    },
    /// `max_pool2d_grad(x, g)` then `select(gt(x, 0), dx, 0)`: the gradient of a ReLU whose
    /// output `x` is the pool's input, whose mask `gt(z, 0)` equals `gt(max(z, 0), 0)`.
    ReluMask,
}

/// One kernel of the schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    /// A fused elementwise loop.
    Elementwise(Elementwise),
    /// A reduction with its fused producers.
    Reduce(Reduce),
    /// A GEMM call.
    MatMul(MatMul),
    /// i32 labels `[n]` to f32 one-hot rows `[n, classes]`.
    OneHot {
        /// The labels, contiguous.
        labels: ValueId,
        /// Row length.
        classes: usize,
        /// The result.
        out: ValueId,
    },
    /// A convolution or pooling (`ir::window`) of contiguous operands, by `codegen::window`.
    Window {
        /// The op.
        op: WindowOp,
        /// Its operands, in order.
        args: Vec<ValueId>,
        /// The operands' shapes as the op sees them (a buffer may hold a reshaped value).
        shapes: Vec<Shape>,
        /// What is applied to each result element before it is stored (`fuse::epilogue`).
        epilogue: Epilogue,
        /// The result.
        out: ValueId,
    },
    /// Contiguous values joined along an axis: each part, viewed as `[outer, len]` rows, is
    /// copied into columns `at .. at + len` of the result viewed as `[outer, total]`.
    Concat {
        /// Each part, contiguous, with its row length.
        parts: Vec<(ValueId, usize)>,
        /// Rows: the product of the dims before the axis.
        outer: usize,
        /// The result, contiguous.
        out: ValueId,
    },
    /// Rows of a contiguous f32 `table` picked by i32 `ids` (a zero row for an id outside the
    /// table), or with `scatter`, the gradient's rows summed into the rows the ids name.
    Gather {
        /// The table (gather) or the gradient rows (scatter), contiguous.
        src: ValueId,
        /// The ids, contiguous.
        ids: ValueId,
        /// Rows of the table.
        rows: usize,
        /// Elements per row.
        row: usize,
        /// Scatter-add rather than gather.
        scatter: bool,
        /// The result, contiguous.
        out: ValueId,
    },
    /// `rand`: uniform numbers for the call site `key` from the run's seed and micro-batch
    /// counter in the i32 words `[seed_lo, seed_hi, counter]`.
    Rand {
        /// The call site.
        key: u64,
        /// The index of the first number drawn.
        first: u64,
        /// The `rng` step input.
        words: ValueId,
        /// The result, contiguous.
        out: ValueId,
    },
    /// Every rank's contiguous `src` summed into `out` (`collective::all_sum`).
    AllSum {
        /// Which `all_sum` of the graph this is, counted in node order: every rank must run
        /// them in one order.
        seq: usize,
        /// This rank's values.
        src: ValueId,
        /// The sum, contiguous.
        out: ValueId,
    },
    /// Index of the largest element along `axis` of a contiguous f32 value.
    Argmax {
        /// The operand, contiguous.
        x: ValueId,
        /// The reduced axis.
        axis: usize,
        /// The i32 result.
        out: ValueId,
    },
}

impl Kernel {
    /// The values the kernel reads.
    pub fn reads(&self) -> Vec<ValueId> {
        let loads = |body: &[Expr]| {
            body.iter()
                .filter_map(|e| match e {
                    Expr::Load { value, .. } => Some(*value),
                    Expr::Const(_) | Expr::Unary(..) | Expr::Binary(..) | Expr::Select(..) | Expr::Cast(..) => None,
                })
                .collect()
        };
        match self {
            Kernel::Elementwise(k) => loads(&k.body),
            Kernel::Reduce(k) => loads(&k.body),
            Kernel::MatMul(k) => vec![k.a, k.b],
            Kernel::OneHot { labels, .. } => vec![*labels],
            Kernel::Argmax { x, .. } => vec![*x],
            Kernel::Window { args, epilogue: Epilogue::Conv { bias: Some(b), .. }, .. } => {
                args.iter().copied().chain([*b]).collect()
            }
            Kernel::Window { args, .. } => args.clone(),
            Kernel::Concat { parts, .. } => parts.iter().map(|&(v, _)| v).collect(),
            Kernel::Gather { src, ids, .. } => vec![*src, *ids],
            Kernel::Rand { words, .. } => vec![*words],
            Kernel::AllSum { src, .. } => vec![*src],
        }
    }

    /// The values the kernel writes.
    pub fn writes(&self) -> Vec<ValueId> {
        match self {
            Kernel::Elementwise(k) => k.outputs.iter().map(|&(_, v)| v).collect(),
            Kernel::Reduce(k) => vec![k.out],
            Kernel::MatMul(k) => vec![k.out],
            Kernel::OneHot { out, .. }
            | Kernel::Argmax { out, .. }
            | Kernel::Window { out, .. }
            | Kernel::Concat { out, .. }
            | Kernel::Gather { out, .. }
            | Kernel::Rand { out, .. }
            | Kernel::AllSum { out, .. } => vec![*out],
        }
    }
}

/// A graph output and the value holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramOutput {
    /// The output's name.
    pub name: String,
    /// What it means; `Param` and `State` outputs replace the input of the same name.
    pub role: OutputRole,
    /// The value holding it after the last kernel.
    pub value: ValueId,
}

/// A graph partitioned into scheduled kernels.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The graph's name, used for the generated function.
    pub name: String,
    /// Every buffer: the graph inputs first, in order, then kernel results.
    pub values: Vec<Value>,
    /// Kernels in schedule order.
    pub kernels: Vec<Kernel>,
    /// The graph outputs, in order.
    pub outputs: Vec<ProgramOutput>,
}

impl Program {
    /// The expressions of every kernel body: a measure of how much code the step is.
    pub fn body_size(&self) -> usize {
        self.kernels
            .iter()
            .map(|k| match k {
                Kernel::Elementwise(e) => e.body.len(),
                Kernel::Reduce(r) => r.body.len(),
                Kernel::MatMul(_)
                | Kernel::OneHot { .. }
                | Kernel::Argmax { .. }
                | Kernel::Window { .. }
                | Kernel::Concat { .. }
                | Kernel::Gather { .. }
                | Kernel::Rand { .. }
                | Kernel::AllSum { .. } => 1,
            })
            .sum()
    }

    /// The graph input an in-place output replaces, if the output is in place.
    pub fn in_place_target(&self, o: &ProgramOutput) -> Option<ValueId> {
        match o.role {
            OutputRole::Param | OutputRole::State | OutputRole::Buffer => {
                self.values.iter().position(|v| v.input.is_some() && v.name == o.name)
            }
            OutputRole::Loss
            | OutputRole::Metric
            | OutputRole::Grad
            | OutputRole::Lr
            | OutputRole::Hyper
            | OutputRole::Prediction
            | OutputRole::Stat => None,
        }
    }
}

/// Row-major element strides of a shape.
pub fn row_major(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The dtype an expression produces.
pub fn expr_dtype(program_values: &[Value], body: &[Expr], e: ExprId) -> DType {
    match &body[e] {
        Expr::Load { value, .. } => program_values[*value].ty.dtype,
        Expr::Cast(to, _) => *to,
        Expr::Const(_) | Expr::Unary(..) | Expr::Binary(..) | Expr::Select(..) => DType::F32,
    }
}

/// Prints a program: one block per kernel, in schedule order, then the outputs.
pub fn print_program(p: &Program) -> String {
    let name = |v: ValueId| p.values[v].name.clone();
    let mut out = format!("kernels {} ({} kernels)\n", p.name, p.kernels.len());
    let body = |out: &mut String, body: &[Expr], shape: &[usize]| {
        let dense = row_major(shape);
        for (i, e) in body.iter().enumerate() {
            let rhs = match e {
                Expr::Load { value, strides, offset: 0 } if *strides == dense => format!("load {}", name(*value)),
                Expr::Load { value, strides, offset: 0 } => {
                    format!("load {} strides {}", name(*value), fmt_shape(strides))
                }
                Expr::Load { value, strides, offset } => {
                    format!("load {} strides {} offset {offset}", name(*value), fmt_shape(strides))
                }
                Expr::Const(c) => format!("const {}", fmt_const(*c)),
                Expr::Unary(op, a) => format!("{} e{a}", op.name()),
                Expr::Binary(op, a, b) => format!("{} e{a}, e{b}", op.name()),
                Expr::Select(c, a, b) => format!("select e{c}, e{a}, e{b}"),
                Expr::Cast(to, a) => format!("cast.{to} e{a}"),
            };
            // Writing to a String cannot fail.
            writeln!(out, "    e{i} = {rhs}").expect("write to String");
        }
    };
    for (i, k) in p.kernels.iter().enumerate() {
        match k {
            Kernel::Elementwise(k) => {
                let outs: Vec<String> = k.outputs.iter().map(|&(_, v)| name(v)).collect();
                writeln!(out, "k{i} elementwise {} -> {}", fmt_shape(&k.shape), outs.join(", "))
                    .expect("write to String");
                body(&mut out, &k.body, &k.shape);
                for &(e, v) in &k.outputs {
                    writeln!(out, "    {} <- e{e}", name(v)).expect("write to String");
                }
            }
            Kernel::Reduce(k) => {
                let kind = k.kind.short_name();
                writeln!(
                    out,
                    "k{i} reduce.{kind} {} over {} -> {}",
                    fmt_shape(&k.axes),
                    fmt_shape(&k.shape),
                    name(k.out)
                )
                .expect("write to String");
                body(&mut out, &k.body, &k.shape);
                writeln!(out, "    {} <- {kind} e{}", name(k.out), k.root).expect("write to String");
            }
            Kernel::MatMul(k) => {
                let t = |t: bool| if t { "t" } else { "n" };
                writeln!(
                    out,
                    "k{i} matmul.{}{} {} = {} @ {}  (m={} n={} k={})",
                    t(k.ta),
                    t(k.tb),
                    name(k.out),
                    name(k.a),
                    name(k.b),
                    k.m,
                    k.n,
                    k.k
                )
                .expect("write to String");
            }
            Kernel::OneHot { labels, classes, out: o } => {
                writeln!(out, "k{i} one_hot[{classes}] {} = {}", name(*o), name(*labels)).expect("write to String");
            }
            Kernel::Argmax { x, axis, out: o } => {
                writeln!(out, "k{i} argmax[{axis}] {} = {}", name(*o), name(*x)).expect("write to String");
            }
            Kernel::Window { op, args, epilogue, out: o, .. } => {
                let args: Vec<String> = args.iter().map(|&a| name(a)).collect();
                let then = match epilogue {
                    Epilogue::None => String::new(),
                    Epilogue::Conv { bias, relu } => {
                        let bias = bias.map(|b| format!(" + bias {}", name(b)));
                        let relu = if *relu { " then relu" } else { "" };
                        format!("{}{relu}", bias.unwrap_or_default())
                    }
                    Epilogue::ReluMask => " then relu mask".into(),
                };
                writeln!(out, "k{i} {}{} {} = {}{then}", op.name(), op.attrs(), name(*o), args.join(", "))
                    .expect("write to String");
            }
            Kernel::Gather { src, ids, scatter, out: o, .. } => {
                let kind = if *scatter { "scatter_add" } else { "gather" };
                writeln!(out, "k{i} {kind} {} = {}, {}", name(*o), name(*src), name(*ids)).expect("write to String");
            }
            Kernel::Rand { key, first, words, out: o } => {
                let from = if *first == 0 { String::new() } else { format!(" from {first}") };
                writeln!(out, "k{i} rand[{key:016x}]{from} {} = {}", name(*o), name(*words)).expect("write to String");
            }
            Kernel::AllSum { seq, src, out: o } => {
                writeln!(out, "k{i} all_sum#{seq} {} = {}", name(*o), name(*src)).expect("write to String");
            }
            Kernel::Concat { parts, outer, out: o } => {
                let parts: Vec<String> =
                    parts.iter().map(|&(v, len)| format!("{} [{outer}, {len}]", name(v))).collect();
                writeln!(out, "k{i} concat {} = {}", name(*o), parts.join(", ")).expect("write to String");
            }
        }
    }
    for o in &p.outputs {
        let arrow = if p.in_place_target(o).is_some() { "<-" } else { "=" };
        writeln!(out, "output {} {arrow} {}", o.name, name(o.value)).expect("write to String");
    }
    out
}
