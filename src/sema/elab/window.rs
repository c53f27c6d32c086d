//! The window built-ins: `convolve2d` (the primitive under the `std.nn.conv2d` layer),
//! `max_pool2d` and `avg_pool2d`, whose attributes are numbers, pairs `[rows, columns]` or, for
//! a convolution's padding, `same`.

use super::{errors, Elab, Val};
use crate::diag::{Diag, Span};
use crate::ir::{Conv2d, Op, Pool2d, WindowOp};

impl Elab<'_> {
    /// A window attribute: a whole number ≥ `min` or a list of two, as `[rows, columns]`.
    fn pair(&self, v: &(Val, Span), callee: &str, attribute: &str, min: usize) -> Result<[usize; 2], Diag> {
        let bad = || self.locate(errors::bad_window_attribute(v.1, callee, attribute, min));
        let whole = |x: &Val| match x {
            Val::Num(n) if n.fract() == 0.0 && *n >= min as f64 && *n <= u32::MAX as f64 => Ok(*n as usize),
            Val::Tensor(_)
            | Val::Num(_)
            | Val::Bool(_)
            | Val::Init(_)
            | Val::List(_)
            | Val::Str(_)
            | Val::Record(_) => Err(bad()),
        };
        match &v.0 {
            Val::List(items) if items.len() == 2 => Ok([whole(&items[0])?, whole(&items[1])?]),
            other => Ok([whole(other)?; 2]),
        }
    }

    /// `convolve2d(x, w, stride, padding, dilation, groups)`, `max_pool2d(x, kernel, stride,
    /// padding)` or `avg_pool2d(...)`, with the arguments bound in `builtins::formals` order.
    pub(super) fn window(&mut self, name: &str, a: &[(Val, Span)], span: Span) -> Result<Val, Diag> {
        let x = self.tensor(a[0].0.clone(), a[0].1)?;
        let op = if name == "convolve2d" {
            let w = self.tensor(a[1].0.clone(), a[1].1)?;
            let stride = self.pair(&a[2], name, "stride", 1)?;
            let dilation = self.pair(&a[4], name, "dilation", 1)?;
            let groups = self.pair(&a[5], name, "groups", 1)?;
            if groups[0] != groups[1] {
                return Err(self.locate(errors::bad_window_attribute(a[5].1, name, "groups", 1)));
            }
            let (pad_lo, pad_hi) = match &a[3].0 {
                // PyTorch's `same`: (k - 1)·d in total, the odd one on the bottom/right.
                Val::Str(s) if s == "same" => {
                    if stride != [1, 1] {
                        return Err(self.locate(errors::same_padding_stride(a[3].1)));
                    }
                    let ws = &self.g.ty(w).shape;
                    let k = if ws.len() == 4 { [ws[2], ws[3]] } else { [1, 1] };
                    let total = [0, 1].map(|i| dilation[i] * k[i].saturating_sub(1));
                    ([0, 1].map(|i| total[i] / 2), [0, 1].map(|i| total[i] - total[i] / 2))
                }
                _ => {
                    let p = self.pair(&a[3], name, "padding", 0)?;
                    (p, p)
                }
            };
            let conv = Conv2d { stride, pad_lo, pad_hi, dilation, groups: groups[0] };
            return Ok(Val::Tensor(self.push(Op::Window(WindowOp::Conv(conv)), vec![x, w], span)?));
        } else {
            let kernel = self.pair(&a[1], name, "kernel", 1)?;
            // A stride not given (NaN) is the kernel, as PyTorch's.
            let stride = match a[2].0 {
                Val::Num(s) if s.is_nan() => kernel,
                _ => self.pair(&a[2], name, "stride", 1)?,
            };
            let pad = self.pair(&a[3], name, "padding", 0)?;
            let pool = Pool2d { kernel, stride, pad };
            if name == "max_pool2d" {
                WindowOp::MaxPool(pool)
            } else {
                WindowOp::AvgPool(pool)
            }
        };
        Ok(Val::Tensor(self.push(Op::Window(op), vec![x], span)?))
    }
}
