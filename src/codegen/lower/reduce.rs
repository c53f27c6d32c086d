//! Reductions (`Kernel::Reduce`): every output element gets its own register accumulators, in
//! either loop order.
//!
//! Decisions:
//! - Sums add four points (vectors along a row, or rows of a column block) pairwise in f32,
//!   widen that to f64 accumulators, and round once when stored: a blocked summation whose
//!   error stays within about 2·2⁻²⁴ of the terms' total magnitude whatever the length. A
//!   running f32 sum drifted up to 4e-3 from the f64 reference on a batch-norm network's sums
//!   (a channel's mean and variance and their backward over B·H·W = 12,544–50,176 positions,
//!   mixed in sign and cancelling over constant image backgrounds); PyTorch's cascade keeps its
//!   f32 gradients within 8e-6 of f64, this within 1e-6. Widening every element instead costs
//!   1.2–1.9× on reduction kernels (a `pshufd` and two `cvtps2pd` per vector, even with four
//!   independent accumulators); widening every fourth runs as fast as the old f32 loops.
//!   A max is exact in f32 and stays there.
//! - Innermost dim reduced (softmax over axis 1, a batch-norm mean): kept dims outside, reduced
//!   dims inside; a row's `f32x4` values go to two `f64x2` accumulators, the scalar remainder
//!   to an `f64` one, combined in a fixed order at the end.
//! - Innermost dim kept (a bias gradient, sum over axis 0): blocks of sixteen output columns
//!   (one 64-byte line of each row), then four, then single columns, each walking every
//!   reduced dim with its own accumulators, so no output is a running sum in memory.
//! - The order of every addition is fixed at compile time, and reductions run on one thread,
//!   so results do not depend on the thread count.

use cranelift_codegen::ir::{types, ConstantData, Endianness, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;

use super::{collapse, flags, Dim, Lowerer};
use crate::codegen::kernel::{expr_dtype, row_major, ExprId, Reduce};
use crate::codegen::math::Width;
use crate::codegen::CodegenError;
use crate::ir::{DType, ReduceOp};

/// Register accumulators of one width: a sum's in f64 (two `f64x2` for four f32 lanes, or one
/// `f64`), a max's in f32 (one `f32x4` or one `f32`).
struct Acc {
    kind: ReduceOp,
    w: Width,
    vars: Vec<Variable>,
}

/// A load as a walk reads it: the body expression it defines, its element type, its pointer and
/// element stride along the walked dim, and whether a vector point reads one element, splatted
/// (the load does not move along the vectorised dim).
struct Leaf {
    expr: ExprId,
    dtype: DType,
    ptr: Value,
    stride: usize,
    splat: bool,
}

/// The points of a walked dim: element indices `start..end` by `step`, `group` of them summed
/// in f32 before one widening add.
struct Walk {
    start: usize,
    end: usize,
    step: usize,
    group: usize,
}

/// Points a sum combines pairwise in f32 before widening: a quarter of the widening work, two
/// roundings deep.
const GROUP: usize = 4;

/// The bytes of two vectors' low halves, `a`'s then `b`'s (`punpcklqdq`).
const LOW_HALVES: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/// The bytes of a vector's high half, twice (`pshufd`).
const HIGH_HALF: [u8; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

impl Lowerer<'_> {
    /// Fresh accumulators of width `w`, each holding the reduction's identity.
    fn acc(&mut self, kind: ReduceOp, w: Width) -> Acc {
        let (ty, count) = match (kind, w) {
            (ReduceOp::Sum, Width::Vector) => (types::F64X2, 2),
            (ReduceOp::Sum, Width::Scalar | Width::Double) => (types::F64, 1),
            (ReduceOp::Max, Width::Vector) => (types::F32X4, 1),
            (ReduceOp::Max, Width::Scalar | Width::Double) => (types::F32, 1),
        };
        let vars = (0..count)
            .map(|_| {
                let var = self.b.declare_var(ty);
                // 0 and -inf are exact in either type.
                let lane = if ty.lane_type() == types::F64 {
                    self.b.ins().f64const(kind.init())
                } else {
                    self.b.ins().f32const(kind.init() as f32)
                };
                let init = if ty.is_vector() { self.b.ins().splat(ty, lane) } else { lane };
                self.b.def_var(var, init);
                var
            })
            .collect();
        Acc { kind, w, vars }
    }

    /// Adds the f32 value `x` (four lanes at `Vector` width) into `acc`.
    fn accumulate(&mut self, acc: &Acc, x: Value) {
        let parts = match (acc.kind, acc.w) {
            (ReduceOp::Sum, Width::Vector) => {
                let high = self.shuffle(x, x, HIGH_HALF);
                vec![self.b.ins().fvpromote_low(x), self.b.ins().fvpromote_low(high)]
            }
            (ReduceOp::Sum, Width::Scalar | Width::Double) => vec![self.b.ins().fpromote(types::F64, x)],
            (ReduceOp::Max, _) => vec![x],
        };
        for (&var, x) in acc.vars.iter().zip(parts) {
            let a = self.b.use_var(var);
            let a = match acc.kind {
                ReduceOp::Sum => self.b.ins().fadd(a, x),
                ReduceOp::Max => self.emit(acc.w).max(a, x, false),
            };
            self.b.def_var(var, a);
        }
    }

    /// `acc`'s lanes as separate f32 results (an `f32x4` at `Vector` width).
    fn lanes(&mut self, acc: &Acc) -> Value {
        let vals: Vec<Value> = acc.vars.iter().map(|&v| self.b.use_var(v)).collect();
        match (acc.kind, acc.w) {
            (ReduceOp::Sum, Width::Vector) => {
                let (lo, hi) = (self.b.ins().fvdemote(vals[0]), self.b.ins().fvdemote(vals[1]));
                self.shuffle(lo, hi, LOW_HALVES)
            }
            (ReduceOp::Sum, Width::Scalar | Width::Double) => self.b.ins().fdemote(types::F32, vals[0]),
            (ReduceOp::Max, _) => vals[0],
        }
    }

    /// The vector accumulators' lanes and the scalar accumulator combined into one f32 result.
    fn horizontal(&mut self, vector: Option<&Acc>, scalar: &Acc) -> Value {
        let Some(v) = vector else { return self.lanes(scalar) };
        let vals: Vec<Value> = v.vars.iter().map(|&v| self.b.use_var(v)).collect();
        let total = self.b.use_var(scalar.vars[0]);
        match v.kind {
            ReduceOp::Sum => {
                let pairs = self.b.ins().fadd(vals[0], vals[1]);
                let a = self.b.ins().extractlane(pairs, 0);
                let b = self.b.ins().extractlane(pairs, 1);
                let all = self.b.ins().fadd(a, b);
                let total = self.b.ins().fadd(total, all);
                self.b.ins().fdemote(types::F32, total)
            }
            ReduceOp::Max => {
                let lanes: Vec<Value> = (0..4u8).map(|l| self.b.ins().extractlane(vals[0], l)).collect();
                let mut m = self.emit(Width::Scalar);
                let lo = m.max(lanes[0], lanes[1], false);
                let hi = m.max(lanes[2], lanes[3], false);
                let all = m.max(lo, hi, false);
                m.max(total, all, false)
            }
        }
    }

    /// A byte shuffle of two 128-bit vectors, as `f32x4`.
    fn shuffle(&mut self, a: Value, b: Value, mask: [u8; 16]) -> Value {
        let le = MemFlagsData::new().with_endianness(Endianness::Little);
        let bytes_a = self.b.ins().bitcast(types::I8X16, le, a);
        let bytes_b = if b == a { bytes_a } else { self.b.ins().bitcast(types::I8X16, le, b) };
        let mask = self.b.func.dfg.immediates.push(ConstantData::from(&mask[..]));
        let v = self.b.ins().shuffle(bytes_a, bytes_b, mask);
        self.b.ins().bitcast(types::F32X4, le, v)
    }

    /// Stores `c` into `n` elements from `ptr`.
    fn fill(&mut self, ptr: Value, n: usize, c: f32) -> Result<(), CodegenError> {
        let nv = n / 4 * 4;
        let v = self.emit(Width::Vector).c(f64::from(c));
        self.counted_loop(0, nv, 4, &mut |s, i| {
            let addr = s.elem(ptr, i, 1);
            s.b.ins().store(flags(), v, addr, 0);
            Ok(())
        })?;
        let x = self.emit(Width::Scalar).c(f64::from(c));
        self.counted_loop(nv, n, 1, &mut |s, i| {
            let addr = s.elem(ptr, i, 1);
            s.b.ins().store(flags(), x, addr, 0);
            Ok(())
        })
    }

    pub(super) fn reduce(&mut self, k: &Reduce) -> Result<(), CodegenError> {
        let out_shape: Vec<usize> = (0..k.shape.len()).filter(|d| !k.axes.contains(d)).map(|d| k.shape[d]).collect();
        let out_ptr = self.ptr(k.out);
        if k.shape.contains(&0) {
            return self.fill(out_ptr, out_shape.iter().product(), k.kind.init() as f32);
        }
        let loads = Self::loads(&k.body);
        let out_dense = row_major(&out_shape);
        let mut kept = 0;
        let dims: Vec<Dim> = (0..k.shape.len())
            .map(|d| {
                let reduced = k.axes.contains(&d);
                let mut strides: Vec<usize> = loads.iter().map(|l| l.2[d]).collect();
                strides.push(if reduced { 0 } else { out_dense[kept] });
                if !reduced {
                    kept += 1;
                }
                Dim { n: k.shape[d], reduced, strides }
            })
            .collect();
        let mut ptrs: Vec<Value> = loads.iter().map(|l| self.ptr_at(l.1, l.3)).collect();
        ptrs.push(out_ptr);
        let streams = ptrs.len();
        let innermost_reduced = dims.iter().rev().find(|d| d.n > 1).is_some_and(|d| d.reduced);
        let (red, keep): (Vec<Dim>, Vec<Dim>) = dims.into_iter().partition(|d| d.reduced);
        let (red, keep) = (collapse(red, streams), collapse(keep, streams));
        let leaves_at = |ptrs: &[Value], strides: &[usize], splat: &[usize]| -> Vec<Leaf> {
            loads
                .iter()
                .enumerate()
                .map(|(j, l)| Leaf {
                    expr: l.0,
                    dtype: expr_dtype(&self.program.values, &k.body, l.0),
                    ptr: ptrs[j],
                    stride: strides[j],
                    splat: splat[j] == 0,
                })
                .collect()
        };
        let group = match k.kind {
            ReduceOp::Sum => GROUP,
            ReduceOp::Max => 1,
        };
        if innermost_reduced {
            let (row, red_outer) = red.split_last().expect("collapse never returns an empty list");
            let vectorise = Self::vectorisable(row.n, &row.strides[..loads.len()]);
            let nv = if vectorise { row.n / 4 * 4 } else { 0 };
            return self.nest(&keep, &ptrs, &mut |s, ptrs| {
                let vacc = vectorise.then(|| s.acc(k.kind, Width::Vector));
                let sacc = s.acc(k.kind, Width::Scalar);
                s.nest(red_outer, ptrs, &mut |s, ptrs| {
                    let leaves = leaves_at(ptrs, &row.strides, &row.strides);
                    if let Some(vacc) = &vacc {
                        s.walk(
                            k,
                            &leaves,
                            Width::Vector,
                            Walk { start: 0, end: nv, step: 4, group },
                            std::slice::from_ref(vacc),
                        )?;
                    }
                    s.walk(
                        k,
                        &leaves,
                        Width::Scalar,
                        Walk { start: nv, end: row.n, step: 1, group },
                        std::slice::from_ref(&sacc),
                    )
                })?;
                let total = s.horizontal(vacc.as_ref(), &sacc);
                s.b.ins().store(flags(), total, ptrs[streams - 1], 0);
                Ok(())
            });
        }
        // The innermost kept dim (output stride 1) in blocks of columns, reduced dims inside: four
        // vectors side by side (a 64-byte line of each row), then one, then single columns.
        let (row, keep_outer) = keep.split_last().expect("collapse never returns an empty list");
        let (inner, red_outer) = red.split_last().expect("collapse never returns an empty list");
        let vectorise = Self::vectorisable(row.n, &row.strides[..loads.len()]);
        let wide = if vectorise { row.n / 16 * 16 } else { 0 };
        let nv = if vectorise { row.n / 4 * 4 } else { 0 };
        let blocks = [(0, wide, Width::Vector, 4), (wide, nv, Width::Vector, 1), (nv, row.n, Width::Scalar, 1)];
        self.nest(keep_outer, &ptrs, &mut |s, ptrs| {
            for (start, end, w, cols) in blocks {
                let width = if w == Width::Vector { 4 * cols } else { 1 };
                s.counted_loop(start, end, width, &mut |s, i| {
                    let at: Vec<Value> = ptrs.iter().zip(&row.strides).map(|(&p, &st)| s.elem(p, i, st)).collect();
                    let accs: Vec<Acc> = (0..cols).map(|_| s.acc(k.kind, w)).collect();
                    s.nest(red_outer, &at, &mut |s, p| {
                        let leaves = leaves_at(p, &inner.strides, &row.strides);
                        s.walk(k, &leaves, w, Walk { start: 0, end: inner.n, step: 1, group }, &accs)
                    })?;
                    for (c, acc) in accs.iter().enumerate() {
                        let v = s.lanes(acc);
                        s.b.ins().store(flags(), v, at[streams - 1], (c * 16) as i32);
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
    }

    /// Accumulates the reduced expression at the walk's points into `accs`, one per column
    /// vector: `group` points at a time combined pairwise in f32, then one at a time.
    fn walk(&mut self, k: &Reduce, leaves: &[Leaf], w: Width, walk: Walk, accs: &[Acc]) -> Result<(), CodegenError> {
        if walk.start >= walk.end {
            return Ok(());
        }
        // Loads that do not move along the walk are read once.
        let fixed: Vec<Option<Vec<Value>>> =
            leaves.iter().map(|l| (l.stride == 0).then(|| self.leaf_values(l, w, l.ptr, 0, accs.len()))).collect();
        let span = walk.step * walk.group;
        let grouped = walk.start + (walk.end - walk.start) / span * span;
        for (from, to, group) in [(walk.start, grouped, walk.group), (grouped, walk.end, 1)] {
            self.counted_loop(from, to, walk.step * group, &mut |s, i| {
                let addrs: Vec<Value> = leaves.iter().map(|l| s.elem(l.ptr, i, l.stride)).collect();
                let mut xs: Vec<Vec<Value>> = vec![Vec::with_capacity(group); accs.len()];
                for g in 0..group {
                    let loaded: Vec<Vec<Value>> = leaves
                        .iter()
                        .zip(&fixed)
                        .zip(&addrs)
                        .map(|((l, f), &addr)| match f {
                            Some(v) => v.clone(),
                            None => s.leaf_values(l, w, addr, g * walk.step, accs.len()),
                        })
                        .collect();
                    for (x, v) in xs.iter_mut().zip(s.points(k, leaves, &loaded, w, accs.len())?) {
                        x.push(v);
                    }
                }
                for (mut x, acc) in xs.into_iter().zip(accs) {
                    while x.len() > 1 {
                        x = x
                            .chunks(2)
                            .map(|p| if let [a, b] = *p { s.combine(k.kind, w, a, b) } else { p[0] })
                            .collect();
                    }
                    s.accumulate(acc, x[0]);
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The reduced expression at `cols` column vectors, given every load's values there.
    fn points(
        &mut self,
        k: &Reduce,
        leaves: &[Leaf],
        loaded: &[Vec<Value>],
        w: Width,
        cols: usize,
    ) -> Result<Vec<Value>, CodegenError> {
        (0..cols)
            .map(|c| {
                let mut vals = vec![None; k.body.len()];
                for (l, v) in leaves.iter().zip(loaded) {
                    vals[l.expr] = Some(v[c]);
                }
                let vals = self.eval(&k.body, w, vals)?;
                vals[k.root].ok_or_else(|| CodegenError::Internal("reduced value missing".into()))
            })
            .collect()
    }

    /// A load's values at `cols` column vectors, `off` elements along the walk past `addr`:
    /// four elements each at `Vector` width, or one element splatted (read once) when the load
    /// does not move along the columns.
    fn leaf_values(&mut self, l: &Leaf, w: Width, addr: Value, off: usize, cols: usize) -> Vec<Value> {
        let bytes = off * l.stride * 4;
        if w == Width::Vector && l.splat {
            let x = self.load(l.dtype, Width::Scalar, addr, bytes as i32);
            vec![self.emit(w).widen(x); cols]
        } else {
            // Column vectors are 16 bytes apart (a scalar walk has one column).
            (0..cols).map(|c| self.load(l.dtype, w, addr, (bytes + c * 16) as i32)).collect()
        }
    }

    /// `acc ∘ x` for the reduction's combining op, at f32 width.
    fn combine(&mut self, kind: ReduceOp, w: Width, acc: Value, x: Value) -> Value {
        match kind {
            ReduceOp::Sum => self.emit(w).add(acc, x),
            ReduceOp::Max => self.emit(w).max(acc, x, false),
        }
    }
}
