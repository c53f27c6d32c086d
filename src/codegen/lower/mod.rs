//! Lowering: scheduled kernels and their memory plan become the CLIF function `gradc_step(arena)`,
//! and at two threads one function per half of each large elementwise kernel (`lower_half`).
//! (Long because every kind of kernel is lowered through the one `Lowerer` and its loop nests;
//! expressions, reductions and halves are split out already.)
//!
//! Assumes a program from `fuse` and its plan from `memplan`. Guarantees: every access stays
//! inside the buffer the plan gave its value; kernels run in schedule order, then the plan's
//! final copies.
//!
//! Decisions:
//! - Loops: each kernel's iteration space is a list of dims with, per buffer ("stream"), an
//!   element stride. Size-1 dims are dropped and neighbouring dims merged when every stream is
//!   contiguous across them, then the outer dims become nested counted loops that carry one
//!   pointer per stream, and the innermost dim is the "row".
//! - A row is vectorised with `f32x4` when every load is stride 1 or stride 0 along it (stride-0
//!   loads are hoisted out of the row and splatted), with a scalar remainder loop; other rows
//!   run scalar. Trip counts are static, so loops are do-while and empty loops are not emitted.
//! - Reductions (`reduce`) keep register accumulators per output element in either loop
//!   order; sums add four terms in f32, then accumulate in f64.
//! - An integral constant exponent with |c| <= 8 becomes multiplications (by squaring); other
//!   exponents call `powf` per element (per lane in vector code).
//! - Elementwise kernels of one element (bias corrections, schedules, loss scaling) compute in
//!   f64 and round once when stored, as PyTorch's Python-float hyper-parameter arithmetic does;
//!   their exp/log/tanh/sin/cos (and every op without inline code) call the op table's own f64
//!   semantics, pow calls Rust's `powf` (floor is an instruction).
//! - `sin`/`cos` use `math`'s polynomial when every lane's |x| is within its range (a compare
//!   and one well-predicted branch per vector), else a cold block calls the op table's value
//!   lane by lane. `floor` is Cranelift's `floor` (one `roundps`/`roundss` with SSE4.1).
//! - `select(c, a, b)` is `fcmp ne c, 0` and a `bitselect` (vectors) or `select` (scalars): the
//!   result takes the picked operand's bits, so an inf or NaN in the other cannot leak.
//! - At two threads an elementwise kernel of at least `PARALLEL_MIN_ELEMENTS` elements becomes
//!   two functions of its own, one per half of its outermost loop dim (`lower_half`), which the
//!   step hands to `gradc_halves`. A row split in two is cut at a multiple of four, so every
//!   element runs the same vector or scalar code as on one thread: the bits do not change.

mod expr;
mod halves;
mod reduce;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, FuncRef, Function, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Value};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use super::helpers::Callees;
use super::kernel::{expr_dtype, row_major, Elementwise, Epilogue, Expr, ExprId, Kernel, MatMul, Program, ValueId};
use super::math::{Emit, Width};
use super::memplan::Plan;
use super::window;
use super::CodegenError;
use crate::ir::{DType, Shape, WindowOp};

#[cfg(test)]
pub(crate) use halves::PARALLEL_MIN_ELEMENTS;
pub(crate) use halves::{halved, lower_half};

/// What the generated code may assume about the machine.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    /// Pointer type and calling convention.
    pub(crate) config: TargetFrontendConfig,
    /// Whether `fma` is an instruction (else it is emitted as a multiply and an add).
    pub(crate) fma: bool,
    /// Threads GEMM may use for large products.
    pub(crate) threads: usize,
}

/// Where the step's per-iteration inputs sit: each fed input's arena offset and length in
/// 4-byte words, in record order, for the step inputs and for the data inputs; and the loss
/// output's offset, if the graph has one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Feed {
    pub(crate) steps: Vec<(usize, usize)>,
    pub(crate) data: Vec<(usize, usize)>,
    pub(crate) loss: Option<usize>,
}

/// Builds the body of `func` (whose signature is `(arena, n, steps, data, losses) -> done`) from
/// the program and its plan: the step `n >= 1` times, stopping early after a step whose loss is
/// not finite; before iteration `i` it copies record `i` of `steps` and of `data` (each when
/// not null) into the fed inputs, after it stores the loss in `losses[i]`; returns the
/// iterations run.
/// `halves[k]` holds the two compiled halves of kernel `k` when it runs in halves ([`halved`]).
// The step's inputs are all distinct; bundling them would only move the list.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lower(
    program: &Program,
    plan: &Plan,
    feed: &Feed,
    callees: &Callees,
    halves: &[Option<[FuncRef; 2]>],
    target: Target,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), CodegenError> {
    let (mut b, params) = begin(func, fctx);
    let &[arena, n, steps, data, losses] = params.as_slice() else {
        return Err(CodegenError::Internal("the step function takes five parameters".into()));
    };
    let i_var = b.declare_var(types::I64);
    let zero = b.ins().iconst(types::I64, 0);
    b.def_var(i_var, zero);
    let top = b.create_block();
    b.ins().jump(top, &[]);
    b.switch_to_block(top);
    let mut l = Lowerer { b, arena, program, plan, callees, fma: target.fma, threads: target.threads };
    let i = l.b.use_var(i_var);
    l.feed_records(i, steps, &feed.steps);
    l.feed_records(i, data, &feed.data);
    for (at, k) in program.kernels.iter().enumerate() {
        match halves.get(at).copied().flatten() {
            Some(parts) => l.halves(parts)?,
            None => l.kernel(k)?,
        }
    }
    for &(from, to) in &plan.copies {
        let shape = vec![program.values[from].ty.numel()];
        let body = vec![Expr::Load { value: from, strides: vec![1], offset: 0 }];
        l.elementwise(&Elementwise { shape, body, outputs: vec![(0, to)] }, None)?;
    }
    let next = l.b.ins().iadd_imm_s(i, 1);
    let mut more = l.b.ins().icmp(IntCC::SignedLessThan, next, n);
    if let Some(offset) = feed.loss {
        let loss = l.b.ins().load(types::F32, flags(), arena, (offset * 4) as i32);
        let at = l.b.ins().ishl_imm_s(i, 2);
        let slot = l.b.ins().iadd(losses, at);
        l.b.ins().store(flags(), loss, slot, 0);
        // `|loss| < inf` is false for inf and NaN alike: the host stops a diverged run there.
        let size = l.b.ins().fabs(loss);
        let inf = l.b.ins().f32const(f32::INFINITY);
        let finite = l.b.ins().fcmp(FloatCC::LessThan, size, inf);
        more = l.b.ins().band(more, finite);
    }
    let exit = l.b.create_block();
    l.b.def_var(i_var, next);
    l.b.ins().brif(more, top, &[], exit, &[]);
    l.b.seal_block(top);
    l.b.switch_to_block(exit);
    l.b.seal_block(exit);
    l.b.ins().return_(&[next]);
    l.b.finalize(target.config);
    Ok(())
}

/// A builder for `func`, positioned in its entry block, and the function's parameters.
fn begin<'f>(func: &'f mut Function, fctx: &'f mut FunctionBuilderContext) -> (FunctionBuilder<'f>, Vec<Value>) {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    (b, params)
}

/// Fed inputs of at most this many words are copied by loads and stores, longer ones by a call.
const INLINE_WORDS: usize = 8;

/// One loop dim: its extent, whether it is reduced, and each stream's element stride along it.
#[derive(Debug, Clone)]
struct Dim {
    n: usize,
    reduced: bool,
    strides: Vec<usize>,
}

/// Drops size-1 dims and merges neighbours of one kind across which every stream is contiguous;
/// never returns an empty list (a single element is one dim of size 1).
fn collapse(dims: Vec<Dim>, streams: usize) -> Vec<Dim> {
    let mut out: Vec<Dim> = Vec::new();
    for d in dims.into_iter().filter(|d| d.n != 1) {
        if let Some(prev) = out.last_mut() {
            if prev.reduced == d.reduced && prev.strides.iter().zip(&d.strides).all(|(&p, &s)| p == s * d.n) {
                prev.n *= d.n;
                prev.strides = d.strides;
                continue;
            }
        }
        out.push(d);
    }
    if out.is_empty() {
        out.push(Dim { n: 1, reduced: false, strides: vec![0; streams] });
    }
    out
}

/// A load of the row: its expression, its element stride along the row and its row pointer.
#[derive(Debug, Clone, Copy)]
struct RowLoad {
    expr: ExprId,
    stride: usize,
    ptr: Value,
}

/// The loads of a row: each load's expression with its stream's stride and current pointer.
fn row_loads(loads: &[Load<'_>], strides: &[usize], ptrs: &[Value]) -> Vec<RowLoad> {
    loads.iter().zip(strides).zip(ptrs).map(|((l, &stride), &ptr)| RowLoad { expr: l.0, stride, ptr }).collect()
}

/// A `Load` of a body: its expression, buffer, strides and first element.
type Load<'b> = (ExprId, ValueId, &'b [usize], usize);

/// Code emitted inside a loop nest, given one pointer per stream.
type Inner<'s, 'a> = dyn FnMut(&mut Lowerer<'a>, &[Value]) -> Result<(), CodegenError> + 's;

/// What a row does with the body's values at element `i`.
type Sink<'s, 'a> = dyn FnMut(&mut Lowerer<'a>, Width, Value, &[Option<Value>]) -> Result<(), CodegenError> + 's;

struct Lowerer<'a> {
    b: FunctionBuilder<'a>,
    arena: Value,
    program: &'a Program,
    plan: &'a Plan,
    callees: &'a Callees,
    fma: bool,
    threads: usize,
}

/// Memory flags for arena accesses: they never trap (the plan keeps them in bounds); alignment
/// is not promised because rows start anywhere.
fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl<'a> Lowerer<'a> {
    fn kernel(&mut self, k: &Kernel) -> Result<(), CodegenError> {
        match k {
            Kernel::Elementwise(e) => self.elementwise(e, None),
            Kernel::Reduce(r) => self.reduce(r),
            Kernel::MatMul(m) => {
                self.matmul(m);
                Ok(())
            }
            Kernel::OneHot { labels, classes, out } => {
                let n = self.program.values[*labels].ty.numel();
                let args = [self.ptr(*labels), self.int(n), self.int(*classes), self.ptr(*out)];
                self.b.ins().call(self.callees.one_hot, &args);
                Ok(())
            }
            Kernel::Argmax { x, axis, out } => {
                let shape = &self.program.values[*x].ty.shape;
                let outer: usize = shape[..*axis].iter().product();
                let inner: usize = shape[axis + 1..].iter().product();
                let args = [self.ptr(*x), self.int(outer), self.int(shape[*axis]), self.int(inner), self.ptr(*out)];
                self.b.ins().call(self.callees.argmax, &args);
                Ok(())
            }
            Kernel::Window { op, args, shapes, epilogue, out } => self.window(op, args, shapes, *epilogue, *out),
            Kernel::Gather { src, ids, rows, row, scatter, out } => {
                let n = self.program.values[*ids].ty.numel();
                let f = if *scatter { self.callees.scatter_add } else { self.callees.gather };
                let args =
                    [self.ptr(*out), self.ptr(*src), self.ptr(*ids), self.int(n), self.int(*rows), self.int(*row)];
                self.b.ins().call(f, &args);
                Ok(())
            }
            Kernel::Rand { key, first, words, out } => {
                let n = self.program.values[*out].ty.numel();
                let (key, first) =
                    (self.b.ins().iconst(types::I64, *key as i64), self.b.ins().iconst(types::I64, *first as i64));
                let args = [self.ptr(*out), self.int(n), key, self.ptr(*words), first];
                let rand =
                    self.callees.rand.ok_or_else(|| CodegenError::Internal("gradc_rand was not declared".into()))?;
                self.b.ins().call(rand, &args);
                Ok(())
            }
            Kernel::AllSum { src, out, .. } => {
                let n = self.program.values[*out].ty.numel();
                let args = [self.ptr(*out), self.ptr(*src), self.int(n)];
                let all_sum = self
                    .callees
                    .all_sum
                    .ok_or_else(|| CodegenError::Internal("gradc_all_sum was not declared".into()))?;
                self.b.ins().call(all_sum, &args);
                Ok(())
            }
            Kernel::Concat { parts, outer, out } => {
                let total: usize = parts.iter().map(|&(_, len)| len).sum();
                let mut at = 0;
                for &(v, len) in parts {
                    let args = [self.ptr_at(*out, at), self.ptr(v), self.int(*outer), self.int(len), self.int(total)];
                    self.b.ins().call(self.callees.copy_rows, &args);
                    at += len;
                }
                Ok(())
            }
        }
    }

    /// Copies record `i` of `records` (when not null) into the fed inputs `fields`, each
    /// `(arena offset, words)` in record order: fields of a few words inline, longer ones (a
    /// batch of data) by `gradc_copy_rows`.
    fn feed_records(&mut self, i: Value, records: Value, fields: &[(usize, usize)]) {
        let len: usize = fields.iter().map(|f| f.1).sum();
        if len == 0 {
            return;
        }
        let (copy, join) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(records, copy, &[], join, &[]);
        self.b.seal_block(copy);
        self.b.switch_to_block(copy);
        let start = self.b.ins().imul_imm_s(i, (len * 4) as i64);
        let record = self.b.ins().iadd(records, start);
        let mut at = 0;
        for &(offset, words) in fields {
            if words <= INLINE_WORDS {
                for w in 0..words {
                    let v = self.b.ins().load(types::I32, flags(), record, ((at + w) * 4) as i32);
                    self.b.ins().store(flags(), v, self.arena, ((offset + w) * 4) as i32);
                }
            } else {
                let dst = self.b.ins().iadd_imm_s(self.arena, (offset * 4) as i64);
                let src = self.b.ins().iadd_imm_s(record, (at * 4) as i64);
                let (one, n) = (self.int(1), self.int(words));
                self.b.ins().call(self.callees.copy_rows, &[dst, src, one, n, n]);
            }
            at += words;
        }
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(join);
        self.b.seal_block(join);
    }

    /// The address of a value's buffer.
    fn ptr(&mut self, v: ValueId) -> Value {
        self.ptr_at(v, 0)
    }

    /// The address of element `at` of a value's buffer.
    fn ptr_at(&mut self, v: ValueId, at: usize) -> Value {
        let bytes = (self.plan.offsets[v] + at) * 4;
        if bytes == 0 {
            self.arena
        } else {
            self.b.ins().iadd_imm_s(self.arena, bytes as i64)
        }
    }

    fn int(&mut self, x: usize) -> Value {
        self.b.ins().iconst(types::I64, x as i64)
    }

    fn emit(&mut self, w: Width) -> Emit<'_, 'a> {
        Emit { b: &mut self.b, w, fma: self.fma }
    }

    /// `for i in (start..end).step_by(step)` with static bounds; `body` gets `i` as an i64.
    fn counted_loop(
        &mut self,
        start: usize,
        end: usize,
        step: usize,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<(), CodegenError>,
    ) -> Result<(), CodegenError> {
        if start >= end {
            return Ok(());
        }
        if start + step >= end {
            let i = self.int(start);
            return body(self, i);
        }
        let var = self.b.declare_var(types::I64);
        let first = self.int(start);
        self.b.def_var(var, first);
        let header = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[]);
        self.b.switch_to_block(header);
        let i = self.b.use_var(var);
        body(self, i)?;
        let next = self.b.ins().iadd_imm_s(i, step as i64);
        self.b.def_var(var, next);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, next, end as i64);
        self.b.ins().brif(more, header, &[], exit, &[]);
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(())
    }

    /// Nested loops over `dims`, advancing one pointer per stream; `inner` runs in the innermost.
    fn nest(&mut self, dims: &[Dim], ptrs: &[Value], inner: &mut Inner<'_, 'a>) -> Result<(), CodegenError> {
        let Some((d, rest)) = dims.split_first() else { return inner(self, ptrs) };
        self.counted_loop(0, d.n, 1, &mut |s, i| {
            let mut next = Vec::with_capacity(ptrs.len());
            for (&p, &st) in ptrs.iter().zip(&d.strides) {
                next.push(if st == 0 {
                    p
                } else {
                    let off = s.b.ins().imul_imm_s(i, (st * 4) as i64);
                    s.b.ins().iadd(p, off)
                });
            }
            s.nest(rest, &next, inner)
        })
    }

    /// The address of element `i` of a row with this element stride.
    fn elem(&mut self, ptr: Value, i: Value, stride: usize) -> Value {
        match stride {
            0 => ptr,
            1 => {
                let off = self.b.ins().ishl_imm_s(i, 2);
                self.b.ins().iadd(ptr, off)
            }
            s => {
                let off = self.b.ins().imul_imm_s(i, (s * 4) as i64);
                self.b.ins().iadd(ptr, off)
            }
        }
    }

    /// Loads an element (four at `Vector` width) of a buffer of `dtype`, `offset` bytes past
    /// `addr`; f32 data is widened to f64 at `Double` width, i32 data stays i32.
    fn load(&mut self, dtype: DType, w: Width, addr: Value, offset: i32) -> Value {
        let ty = match (dtype, w) {
            (DType::F32, Width::Vector) => types::F32X4,
            (DType::I32, Width::Vector) => types::I32X4,
            (DType::F32, Width::Scalar | Width::Double) => types::F32,
            (DType::I32, Width::Scalar | Width::Double) => types::I32,
        };
        let v = self.b.ins().load(ty, flags(), addr, offset);
        if dtype == DType::F32 && w == Width::Double {
            self.b.ins().fpromote(types::F64, v)
        } else {
            v
        }
    }

    /// Stores a value, rounding f64 to the buffer's f32.
    fn store(&mut self, v: Value, addr: Value) {
        let v = if self.b.func.dfg.value_type(v) == types::F64 { self.b.ins().fdemote(types::F32, v) } else { v };
        self.b.ins().store(flags(), v, addr, 0);
    }

    /// One row of `n` elements: evaluates `body` at each and hands the values to `sink`; four at
    /// a time when `vectorise`, the rest one at a time at width `single` (`Scalar` or `Double`).
    fn row(
        &mut self,
        body: &[Expr],
        loads: &[RowLoad],
        n: usize,
        (vectorise, single): (bool, Width),
        sink: &mut Sink<'_, 'a>,
    ) -> Result<(), CodegenError> {
        let values = &self.program.values;
        let dtypes: Vec<DType> = loads.iter().map(|l| expr_dtype(values, body, l.expr)).collect();
        // Loads that do not move along the row are read once.
        let mut hoisted: Vec<Option<Value>> = vec![None; loads.len()];
        for (j, l) in loads.iter().enumerate() {
            if l.stride == 0 {
                hoisted[j] = Some(self.load(dtypes[j], single, l.ptr, 0));
            }
        }
        let nv = if vectorise { n / 4 * 4 } else { 0 };
        if nv > 0 {
            let splats: Vec<Option<Value>> =
                hoisted.iter().map(|h| h.map(|s| self.emit(Width::Vector).widen(s))).collect();
            self.counted_loop(0, nv, 4, &mut |s, i| {
                let mut leaves = vec![None; body.len()];
                for (j, l) in loads.iter().enumerate() {
                    leaves[l.expr] = Some(match splats[j] {
                        Some(v) => v,
                        None => {
                            let addr = s.elem(l.ptr, i, 1);
                            s.load(dtypes[j], Width::Vector, addr, 0)
                        }
                    });
                }
                let vals = s.eval(body, Width::Vector, leaves)?;
                sink(s, Width::Vector, i, &vals)
            })?;
        }
        self.counted_loop(nv, n, 1, &mut |s, i| {
            let mut leaves = vec![None; body.len()];
            for (j, l) in loads.iter().enumerate() {
                leaves[l.expr] = Some(match hoisted[j] {
                    Some(v) => v,
                    None => {
                        let addr = s.elem(l.ptr, i, l.stride);
                        s.load(dtypes[j], single, addr, 0)
                    }
                });
            }
            let vals = s.eval(body, single, leaves)?;
            sink(s, single, i, &vals)
        })
    }

    /// The `Load` expressions of a body with their strides and offsets.
    fn loads(body: &[Expr]) -> Vec<Load<'_>> {
        body.iter()
            .enumerate()
            .filter_map(|(e, x)| match x {
                Expr::Load { value, strides, offset } => Some((e, *value, strides.as_slice(), *offset)),
                Expr::Const(_) | Expr::Unary(..) | Expr::Binary(..) | Expr::Select(..) | Expr::Cast(..) => None,
            })
            .collect()
    }

    /// Whether a row may run four lanes at a time: long enough, every load stride 0 or 1.
    fn vectorisable(n: usize, strides: &[usize]) -> bool {
        n >= 4 && strides.iter().all(|&s| s <= 1)
    }

    /// Lowers an elementwise kernel, or only half `half` of its outermost loop dim.
    fn elementwise(&mut self, k: &Elementwise, half: Option<usize>) -> Result<(), CodegenError> {
        if k.shape.contains(&0) {
            return Ok(());
        }
        let loads = Self::loads(&k.body);
        let out_strides = row_major(&k.shape);
        let streams = loads.len() + k.outputs.len();
        let dims: Vec<Dim> = (0..k.shape.len())
            .map(|d| {
                let mut strides: Vec<usize> = loads.iter().map(|l| l.2[d]).collect();
                strides.extend(k.outputs.iter().map(|_| out_strides[d]));
                Dim { n: k.shape[d], reduced: false, strides }
            })
            .collect();
        let mut dims = collapse(dims, streams);
        let mut ptrs: Vec<Value> = loads.iter().map(|l| self.ptr_at(l.1, l.3)).collect();
        for &(_, v) in &k.outputs {
            ptrs.push(self.ptr(v));
        }
        if let Some(half) = half {
            self.keep_half(half, &mut dims, &mut ptrs);
        }
        let (row, outer) = dims.split_last().expect("collapse never returns an empty list");
        // A kernel of one element is scalar hyper-parameter arithmetic: compute it in f64.
        let single = if k.shape.iter().product::<usize>() == 1 { Width::Double } else { Width::Scalar };
        let mode = (Self::vectorisable(row.n, &row.strides[..loads.len()]), single);
        self.nest(outer, &ptrs, &mut |s, ptrs| {
            let row_loads = row_loads(&loads, &row.strides, ptrs);
            let out_ptrs = &ptrs[loads.len()..];
            s.row(&k.body, &row_loads, row.n, mode, &mut |s, _w, i, vals| {
                for (j, &(e, _)) in k.outputs.iter().enumerate() {
                    let v = vals[e].ok_or_else(|| CodegenError::Internal("an output has no value".into()))?;
                    let addr = s.elem(out_ptrs[j], i, row.strides[loads.len() + j]);
                    s.store(v, addr);
                }
                Ok(())
            })
        })
    }

    /// Calls `gradc_window` with the op's geometry table, filled in a stack slot, and the
    /// epilogue's bias (a null pointer for none).
    fn window(
        &mut self,
        op: &WindowOp,
        args: &[ValueId],
        shapes: &[Shape],
        epilogue: Epilogue,
        out: ValueId,
    ) -> Result<(), CodegenError> {
        let callee =
            self.callees.window.ok_or_else(|| CodegenError::Internal("gradc_window was not declared".into()))?;
        let shapes: Vec<&Shape> = shapes.iter().collect();
        let (relu, bias) = match epilogue {
            Epilogue::None => (false, None),
            Epilogue::Conv { bias, relu } => (relu, bias),
            Epilogue::ReluMask => (true, None),
        };
        let out_shape = &self.program.values[out].ty.shape;
        let (kind, geometry) = window::geometry(op, &shapes, out_shape, relu, self.threads);
        let words = geometry.words();
        let bytes = (words.len() * 8) as u32;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes, 3));
        // Pointers are i64, as `int` and `ptr` assume.
        let table = self.b.ins().stack_addr(types::I64, slot, 0);
        for (i, &w) in words.iter().enumerate() {
            let v = self.int(w);
            self.b.ins().store(flags(), v, table, (i * 8) as i32);
        }
        let a = self.ptr(args[0]);
        // A one-operand op gets its operand twice; the helper never reads the second.
        let b = self.ptr(*args.get(1).unwrap_or(&args[0]));
        let bias = match bias {
            Some(v) => self.ptr(v),
            None => self.int(0),
        };
        let args = [self.int(kind as usize), table, a, b, bias, self.ptr(out)];
        self.b.ins().call(callee, &args);
        Ok(())
    }

    fn matmul(&mut self, k: &MatMul) {
        if k.m == 0 || k.n == 0 {
            return;
        }
        // op(a)[i, p] and op(b)[p, j] as (row, column) strides into the stored matrices.
        let (a_rs, a_cs) = if k.ta { (1, k.m) } else { (k.k, 1) };
        let (b_rs, b_cs) = if k.tb { (1, k.k) } else { (k.n, 1) };
        let args = [
            self.ptr(k.out),
            self.ptr(k.a),
            self.ptr(k.b),
            self.int(k.m),
            self.int(k.n),
            self.int(k.k),
            self.int(a_rs),
            self.int(a_cs),
            self.int(b_rs),
            self.int(b_cs),
            self.int(self.threads),
        ];
        self.b.ins().call(self.callees.matmul, &args);
    }
}
