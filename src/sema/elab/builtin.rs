//! Built-in functions: the op table's unary ops, reductions, `where`, `clip` and the others
//! of `sema::builtins`, and initializers.

use super::{errors, Elab, Val};
use crate::diag::{Diag, Span};
use crate::ir::op::broadcast_shapes;
use crate::ir::{self, DType, NodeId, Op, ReduceOp, UnOp};
use crate::sema::{expected, Init};
use crate::syntax::ast::BinOp;

impl Elab<'_> {
    pub(super) fn num(&self, v: &(Val, Span), what: &str) -> Result<f64, Diag> {
        match &v.0 {
            Val::Num(x) => Ok(*x),
            Val::Bool(b) => Ok(f64::from(u8::from(*b))),
            other => Err(self.locate(expected(what, v.1, &other.describe(&self.g)))),
        }
    }

    /// Normalises axes given as a number, a list or "all" (NaN) against a rank.
    pub(super) fn axes(&self, v: &(Val, Span), rank: usize) -> Result<Vec<usize>, Diag> {
        let list = match &v.0 {
            Val::Num(x) if x.is_nan() => return Ok((0..rank).collect()),
            Val::List(items) => {
                items.iter().map(|i| self.num(&(i.clone(), v.1), "an axis")).collect::<Result<Vec<_>, _>>()?
            }
            _ => vec![self.num(v, "an axis")?],
        };
        let mut axes = Vec::new();
        for a in list {
            let k = if a < 0.0 { a + rank as f64 } else { a };
            if k < 0.0 || k >= rank as f64 || k.fract() != 0.0 {
                return Err(self.locate(errors::bad_axis(v.1, a, rank)));
            }
            axes.push(k as usize);
        }
        axes.sort_unstable();
        axes.dedup();
        Ok(axes)
    }

    /// A dimension of a shape list at `span`: a whole number in the u32 range.
    pub(super) fn dimension(&self, d: &Val, span: Span) -> Result<usize, Diag> {
        let n = self.num(&(d.clone(), span), "a dimension")?;
        if n < 0.0 || n.fract() != 0.0 || n > u32::MAX as f64 {
            return Err(self.locate(errors::bad_reshape_dimension(span, n)));
        }
        Ok(n as usize)
    }

    pub(super) fn builtin(&mut self, name: &str, a: Vec<(Val, Span)>, span: Span) -> Result<Val, Diag> {
        // Every unary op of the table is a built-in function of the same name.
        if let Some(op) = UnOp::from_name(name) {
            return match &a[0].0 {
                Val::Num(x) => Ok(Val::Num(op.eval(*x))),
                v => {
                    let n = self.tensor(v.clone(), a[0].1)?;
                    Ok(Val::Tensor(self.push(Op::Unary(op), vec![n], span)?))
                }
            };
        }
        match name {
            "sum" | "mean" | "max" => {
                if let Val::Num(x) = a[0].0 {
                    return Ok(Val::Num(x));
                }
                if let Val::List(items) = &a[0].0 {
                    return self.fold_list(name, items.clone(), span);
                }
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let shape = self.g.ty(x).shape.clone();
                let axes = self.axes(&a[1], shape.len())?;
                let keepdims = self.num(&a[2], "`true` or `false`")? != 0.0;
                let op = Op::Reduce(if name == "max" { ReduceOp::Max } else { ReduceOp::Sum }, axes.clone());
                let mut r = self.push(op, vec![x], span)?;
                if name == "mean" {
                    let count: usize = axes.iter().map(|&i| shape[i]).product();
                    let c = self.g.constant(count as f64);
                    r = self.broadcast_op(Op::Binary(ir::BinOp::Div), r, c, span)?;
                }
                if keepdims {
                    let kept: Vec<usize> =
                        shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
                    r = self.push(Op::Reshape(kept), vec![r], span)?;
                }
                Ok(Val::Tensor(r))
            }
            "maximum" | "minimum" => {
                let op = if name == "maximum" { ir::BinOp::Max } else { ir::BinOp::Min };
                if let (Val::Num(x), Val::Num(y)) = (&a[0].0, &a[1].0) {
                    return Ok(Val::Num(op.eval(*x, *y)));
                }
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let y = self.tensor(a[1].0.clone(), a[1].1)?;
                Ok(Val::Tensor(self.broadcast_op(Op::Binary(op), x, y, span)?))
            }
            "where" => self.select(&a, span),
            "clip" => {
                // clip(x, lo, hi) = min(max(x, lo), hi)
                let lo = self.builtin("maximum", vec![a[0].clone(), a[1].clone()], span)?;
                self.builtin("minimum", vec![(lo, span), a[2].clone()], span)
            }
            "one_hot" => {
                let labels = self.tensor(a[0].0.clone(), a[0].1)?;
                let classes = self.num(&a[1], "a number of classes")?;
                if classes < 1.0 || classes.fract() != 0.0 || classes > 1e7 {
                    return Err(self.locate(errors::bad_class_count(a[1].1, classes)));
                }
                Ok(Val::Tensor(self.push(Op::OneHot(classes as usize), vec![labels], span)?))
            }
            "argmax" => {
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let rank = self.g.ty(x).shape.len();
                let axes = self.axes(&a[1], rank)?;
                Ok(Val::Tensor(self.push(Op::Argmax(axes[0]), vec![x], span)?))
            }
            "reshape" => {
                // A number is the same at every shape (it broadcasts), so reshaping leaves it:
                // this keeps `reshape(b, [out, 1, 1])` valid for a bias declared `false`.
                if let Val::Num(x) = a[0].0 {
                    return Ok(Val::Num(x));
                }
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let Val::List(dims) = &a[1].0 else {
                    return Err(self.locate(expected("a list of dimensions", a[1].1, &a[1].0.describe(&self.g))));
                };
                let mut shape = Vec::new();
                // One dimension may be -1, as in torch: whatever the others leave.
                let mut inferred = None;
                for d in dims {
                    if *d == Val::Num(-1.0) && inferred.is_none() {
                        inferred = Some(shape.len());
                        shape.push(1);
                        continue;
                    }
                    shape.push(self.dimension(d, a[1].1)?);
                }
                if let Some(k) = inferred {
                    let known: usize = shape.iter().product();
                    let total = self.g.ty(x).numel();
                    if known != 0 && total.is_multiple_of(known) {
                        shape[k] = total / known;
                    }
                }
                Ok(Val::Tensor(self.push(Op::Reshape(shape), vec![x], span)?))
            }
            "convolve2d" | "max_pool2d" | "avg_pool2d" => self.window(name, &a, span),
            "shape" | "size" => {
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let shape = self.g.ty(x).shape.clone();
                if name == "shape" {
                    return Ok(Val::List(shape.iter().map(|&d| Val::Num(d as f64)).collect()));
                }
                let axis = self.axes(&a[1], shape.len())?;
                Ok(Val::Num(shape[axis[0]] as f64))
            }
            "rand" => self.rand(&a[0], span),
            // A layer gives its bias the fan-in of its weight, which `torch_default` needs.
            "with_fan_in" => match &a[0].0 {
                Val::Init(Init::TorchDefault { fan_in: None }) => {
                    let fan = self.num(&a[1], "a fan-in")?;
                    if fan < 0.0 || fan.fract() != 0.0 || fan > u32::MAX as f64 {
                        return Err(self.locate(errors::bad_reshape_dimension(a[1].1, fan)));
                    }
                    Ok(Val::Init(Init::TorchDefault { fan_in: Some(fan as usize) }))
                }
                other => Ok(other.clone()),
            },
            // A check of a layer's arguments, reported at the user's call.
            "require" => {
                let Val::Str(message) = &a[1].0 else {
                    return Err(self.locate(expected("a message", a[1].1, &a[1].0.describe(&self.g))));
                };
                match &a[0].0 {
                    Val::Bool(true) => Ok(Val::Bool(true)),
                    Val::Bool(false) => Err(self.locate(errors::requirement(span, message))),
                    other => Err(self.locate(expected("a compile-time condition", a[0].1, &other.describe(&self.g)))),
                }
            }
            "f32" | "i32" => {
                let to = if name == "f32" { DType::F32 } else { DType::I32 };
                let x = match &a[0].0 {
                    // A compile-time number stays one; `i32` truncates it toward zero.
                    Val::Num(x) => return Ok(Val::Num(if to == DType::I32 { x.trunc() } else { *x })),
                    v => self.tensor(v.clone(), a[0].1)?,
                };
                if self.g.ty(x).dtype == to {
                    return Ok(Val::Tensor(x));
                }
                Ok(Val::Tensor(self.push(Op::Cast(to), vec![x], span)?))
            }
            "transpose" | "permute" | "flatten" | "slice" | "index" => self.layout(name, &a, span),
            "gather" => {
                let table = self.tensor(a[0].0.clone(), a[0].1)?;
                let ids = self.tensor(a[1].0.clone(), a[1].1)?;
                Ok(Val::Tensor(self.push(Op::Gather, vec![table, ids], span)?))
            }
            // The sum over the ranks of a distributed run; one process's own value alone.
            "all_sum" => {
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                Ok(Val::Tensor(self.push(Op::AllSum, vec![x], span)?))
            }
            "concat" => {
                let Val::List(items) = &a[0].0 else {
                    return Err(self.locate(expected("a list of tensors", a[0].1, &a[0].0.describe(&self.g))));
                };
                let parts =
                    items.iter().map(|v| self.tensor(v.clone(), a[0].1)).collect::<Result<Vec<NodeId>, Diag>>()?;
                let Some(&first) = parts.first() else {
                    return Err(self.locate(expected("a non-empty list", a[0].1, "an empty list")));
                };
                let axis = self.axis(&a[1], self.g.ty(first).shape.len().max(1))?;
                Ok(Val::Tensor(self.push(Op::Concat { axis, parts: parts.len() }, parts, span)?))
            }
            _ => self.initializer(name, &a, span),
        }
    }

    /// One axis of a value of rank `rank`, negative from the end.
    fn axis(&self, v: &(Val, Span), rank: usize) -> Result<usize, Diag> {
        let a = self.num(v, "an axis")?;
        let k = if a < 0.0 { a + rank as f64 } else { a };
        if k < 0.0 || k >= rank as f64 || k.fract() != 0.0 {
            return Err(self.locate(errors::bad_axis(v.1, a, rank)));
        }
        Ok(k as usize)
    }

    /// `transpose(x, a, b)`, `permute(x, dims)`, `slice(x, axis, start, end, step)` and
    /// `index(x, axis, i)` (views), and `flatten(x, start)`: every axis from `start` on merged
    /// into one, as torch.flatten(x, start_dim) (a reshape). Built-ins rather than stdlib code
    /// because `.grad` types have a fixed rank.
    fn layout(&mut self, name: &str, a: &[(Val, Span)], span: Span) -> Result<Val, Diag> {
        let x = self.tensor(a[0].0.clone(), a[0].1)?;
        let shape = self.g.ty(x).shape.clone();
        let rank = shape.len();
        let op = match name {
            "transpose" => {
                let (i, j) = (self.axis(&a[1], rank)?, self.axis(&a[2], rank)?);
                let mut perm: Vec<usize> = (0..rank).collect();
                perm.swap(i, j);
                Op::Permute(perm)
            }
            "permute" => {
                let Val::List(items) = &a[1].0 else {
                    return Err(self.locate(expected("a list of axes", a[1].1, &a[1].0.describe(&self.g))));
                };
                let perm = items.iter().map(|i| self.axis(&(i.clone(), a[1].1), rank)).collect::<Result<_, _>>()?;
                Op::Permute(perm)
            }
            "slice" | "index" => {
                let axis = self.axis(&a[1], rank)?;
                let n = shape[axis] as f64;
                // Python's rules: negative bounds count from the end, and bounds clamp to the axis.
                let bound = |v: f64| if v < 0.0 { (v + n).max(0.0) } else { v.min(n) };
                let whole = |this: &Self, v: &(Val, Span), what: &str| -> Result<f64, Diag> {
                    let x = this.num(v, what)?;
                    if x.fract() != 0.0 {
                        return Err(this.locate(expected(what, v.1, &x.to_string())));
                    }
                    Ok(x)
                };
                if name == "index" {
                    let i = whole(self, &a[2], "a whole-number index")?;
                    let k = if i < 0.0 { i + n } else { i };
                    if k < 0.0 || k >= n {
                        return Err(self.locate(errors::bad_index(a[2].1, i, shape[axis])));
                    }
                    let one = Op::Slice { axis, start: k as usize, end: k as usize + 1, step: 1 };
                    let s = self.push(one, vec![x], span)?;
                    let mut to = shape.clone();
                    to.remove(axis);
                    return Ok(Val::Tensor(self.push(Op::Reshape(to), vec![s], span)?));
                }
                let start = bound(whole(self, &a[2], "a whole-number start")?);
                let end = match &a[3].0 {
                    Val::Num(e) if e.is_nan() => n,
                    _ => bound(whole(self, &a[3], "a whole-number end")?),
                };
                let step = whole(self, &a[4], "a whole-number step")?;
                if step < 1.0 {
                    return Err(self.locate(errors::bad_step(a[4].1, step)));
                }
                let step = step.min(n.max(1.0)) as usize;
                Op::Slice { axis, start: start as usize, end: (end.max(start)) as usize, step }
            }
            _ => {
                let start = self.axis(&a[1], rank.max(1))?.min(rank);
                let mut to = shape[..start].to_vec();
                to.push(shape[start..].iter().product());
                Op::Reshape(to)
            }
        };
        Ok(Val::Tensor(self.push(op, vec![x], span)?))
    }

    /// `sum`, `mean` or `max` of a compile-time list's elements (numbers or scalars).
    pub(super) fn fold_list(&mut self, name: &str, items: Vec<Val>, span: Span) -> Result<Val, Diag> {
        let n = items.len();
        let mut iter = items.into_iter();
        let Some(mut acc) = iter.next() else {
            return Err(self.locate(expected("a non-empty list", span, "an empty list")));
        };
        for item in iter {
            acc = if name == "max" {
                self.builtin("maximum", vec![(acc, span), (item, span)], span)?
            } else {
                self.binary(BinOp::Add, acc, item, span)?
            };
        }
        if name == "mean" {
            acc = self.binary(BinOp::Div, acc, Val::Num(n as f64), span)?;
        }
        Ok(acc)
    }

    /// `where(cond, a, b)`: a compile-time condition picks a branch; a tensor condition (nonzero
    /// per element) selects elementwise, broadcasting the three operands together.
    pub(super) fn select(&mut self, a: &[(Val, Span)], span: Span) -> Result<Val, Diag> {
        match &a[0].0 {
            Val::Bool(c) => return Ok(if *c { a[1].0.clone() } else { a[2].0.clone() }),
            Val::Num(c) => return Ok(if *c != 0.0 { a[1].0.clone() } else { a[2].0.clone() }),
            _ => {}
        }
        let c = self.tensor(a[0].0.clone(), a[0].1)?;
        let x = self.tensor(a[1].0.clone(), a[1].1)?;
        let y = self.tensor(a[2].0.clone(), a[2].1)?;
        let shapes = [&self.g.ty(c).shape, &self.g.ty(x).shape, &self.g.ty(y).shape];
        let shape = broadcast_shapes(shapes[0], shapes[1]).and_then(|s| broadcast_shapes(&s, shapes[2]));
        let Some(shape) = shape else {
            return Err(self.locate(errors::broadcast_three(span, shapes[0], shapes[1], shapes[2])));
        };
        let c = self.as_shape(Val::Tensor(c), &shape, span)?;
        let x = self.as_shape(Val::Tensor(x), &shape, span)?;
        let y = self.as_shape(Val::Tensor(y), &shape, span)?;
        Ok(Val::Tensor(self.push(Op::Select, vec![c, x, y], span)?))
    }

    pub(super) fn initializer(&self, name: &str, a: &[(Val, Span)], span: Span) -> Result<Val, Diag> {
        let n = |i: usize| self.num(&a[i], "a number");
        let init = match name {
            "zeros" => Init::Zeros,
            "ones" => Init::Constant(1.0),
            "constant" => Init::Constant(n(0)?),
            "normal" => Init::Normal { mean: n(0)?, std: n(1)? },
            "uniform" => Init::Uniform { lo: n(0)?, hi: n(1)? },
            "xavier_normal" | "glorot_normal" => Init::XavierNormal { gain: n(0)? },
            "xavier_uniform" | "glorot_uniform" => Init::XavierUniform { gain: n(0)? },
            "he_normal" | "kaiming_normal" => Init::HeNormal { gain: n(0)? },
            "he_uniform" | "kaiming_uniform" => Init::HeUniform { gain: n(0)? },
            "torch_default" => Init::TorchDefault { fan_in: None },
            _ => unreachable!("builtins::formals lists only names handled here"),
        };
        init.check(span).map_err(|d| self.locate(d))?;
        Ok(Val::Init(init))
    }
}
