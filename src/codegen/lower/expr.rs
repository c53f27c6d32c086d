//! Kernel body expressions at each width: every elementwise op's Cranelift lowering (inline
//! code from `math`, or a call to the op table's own semantics), constant exponents by
//! squaring, and the helper calls.

use super::Lowerer;
use crate::codegen::kernel::{expr_dtype, Expr};
use crate::codegen::math::{Width, TRIG_MAX};
use crate::codegen::CodegenError;
use crate::ir::{BinOp, DType, UnOp};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, BlockArg, FuncRef, InstBuilder, Value};

/// The exponent of `x^c` when `c` is an integral constant of at most 8 in magnitude, which
/// `powi` computes by multiplication.
pub(super) fn small_integer(e: &Expr) -> Option<i32> {
    if let Expr::Const(c) = *e {
        (c == c.trunc() && c.abs() <= 8.0).then_some(c as i32)
    } else {
        None
    }
}

impl Lowerer<'_> {
    /// Evaluates a body at one width; `leaves` holds the loaded values of the `Load` expressions.
    pub(super) fn eval(
        &mut self,
        body: &[Expr],
        w: Width,
        mut vals: Vec<Option<Value>>,
    ) -> Result<Vec<Option<Value>>, CodegenError> {
        let missing = || CodegenError::Internal("a kernel body uses a value before defining it".into());
        for (e, expr) in body.iter().enumerate() {
            let v = match expr {
                Expr::Load { .. } => continue,
                Expr::Const(c) => self.emit(w).c(*c),
                Expr::Unary(op, a) => {
                    let x = vals[*a].ok_or_else(missing)?;
                    let double = w == Width::Double;
                    let mut m = self.emit(w);
                    match op {
                        UnOp::Neg => m.b.ins().fneg(x),
                        UnOp::Exp if double => self.unary_call(w, *op, x),
                        UnOp::Exp => m.exp(x),
                        UnOp::Log if double => self.unary_call(w, *op, x),
                        UnOp::Log => m.log(x),
                        UnOp::Sqrt => m.b.ins().sqrt(x),
                        UnOp::Abs => m.b.ins().fabs(x),
                        UnOp::Sign => m.sign(x),
                        UnOp::Tanh if double => self.unary_call(w, *op, x),
                        UnOp::Tanh => m.tanh(x),
                        UnOp::Floor => m.b.ins().floor(x),
                        UnOp::Cos | UnOp::Sin if double => self.unary_call(w, *op, x),
                        UnOp::Cos | UnOp::Sin => self.trig(w, *op, x),
                        // No inline approximation yet: the table's f64 value, rounded.
                        UnOp::Erf | UnOp::Log1p | UnOp::Expm1 => self.unary_call(w, *op, x),
                    }
                }
                Expr::Binary(op, a, b) => {
                    let (x, y) = (vals[*a].ok_or_else(missing)?, vals[*b].ok_or_else(missing)?);
                    let ints = expr_dtype(&self.program.values, body, *a) == DType::I32;
                    match op {
                        BinOp::Add => self.emit(w).add(x, y),
                        BinOp::Sub => self.emit(w).sub(x, y),
                        BinOp::Mul => self.emit(w).mul(x, y),
                        BinOp::Div => self.emit(w).div(x, y),
                        BinOp::Pow => match small_integer(&body[*b]) {
                            Some(n) => self.powi(w, x, n),
                            None => self.powf(w, x, y),
                        },
                        BinOp::Max => {
                            let number = matches!(body[*b], Expr::Const(c) if !c.is_nan());
                            self.emit(w).max(x, y, number)
                        }
                        BinOp::Min => {
                            let number = matches!(body[*b], Expr::Const(c) if !c.is_nan());
                            self.emit(w).min(x, y, number)
                        }
                        BinOp::Gt => {
                            let mut m = self.emit(w);
                            let gt = m.cmp(FloatCC::GreaterThan, x, y);
                            m.one_if(gt)
                        }
                        BinOp::Eq if ints => {
                            let mut m = self.emit(w);
                            let eq = m.int_eq(x, y);
                            m.one_if(eq)
                        }
                        BinOp::Eq => {
                            let mut m = self.emit(w);
                            let eq = m.cmp(FloatCC::Equal, x, y);
                            m.one_if(eq)
                        }
                    }
                }
                Expr::Select(c, a, b) => {
                    let (c, x, y) =
                        (vals[*c].ok_or_else(missing)?, vals[*a].ok_or_else(missing)?, vals[*b].ok_or_else(missing)?);
                    let mut m = self.emit(w);
                    let zero = m.c(0.0);
                    // `ne` is true for NaN, as `c != 0.0` is in the interpreter.
                    let picks_a = m.cmp(FloatCC::NotEqual, c, zero);
                    m.sel(picks_a, x, y)
                }
                Expr::Cast(to, a) => {
                    let x = vals[*a].ok_or_else(missing)?;
                    let int = if w == Width::Vector { types::I32X4 } else { types::I32 };
                    match (expr_dtype(&self.program.values, body, *a), to) {
                        (DType::F32, DType::F32) | (DType::I32, DType::I32) => x,
                        // Truncating, saturating, NaN to 0: what `as i32` does in the interpreter.
                        (DType::F32, DType::I32) => self.b.ins().fcvt_to_sint_sat(int, x),
                        (DType::I32, DType::F32) => self.b.ins().fcvt_from_sint(w.f(), x),
                    }
                }
            };
            vals[e] = Some(v);
        }
        Ok(vals)
    }

    /// `x^c` for an integral constant by squaring; `x^0` is 1 (as `powf` says, even for NaN).
    pub(super) fn powi(&mut self, w: Width, x: Value, c: i32) -> Value {
        let mut m = self.emit(w);
        let mut result: Option<Value> = None;
        let mut base = x;
        let mut e = c.unsigned_abs();
        while e > 0 {
            if e & 1 == 1 {
                result = Some(match result {
                    Some(r) => m.mul(r, base),
                    None => base,
                });
            }
            e >>= 1;
            if e > 0 {
                base = m.mul(base, base);
            }
        }
        let r = match result {
            Some(r) => r,
            None => return m.c(1.0),
        };
        if c < 0 {
            let one = m.c(1.0);
            m.div(one, r)
        } else {
            r
        }
    }

    /// Calls a helper that returns one value.
    pub(super) fn call(&mut self, f: FuncRef, args: &[Value]) -> Value {
        let call = self.b.ins().call(f, args);
        self.b.inst_results(call)[0]
    }

    /// Calls an f32 helper on each element: once at `Scalar` width, lane by lane at `Vector`.
    pub(super) fn call_f32(&mut self, w: Width, f: FuncRef, args: &[Value]) -> Value {
        match w {
            Width::Scalar | Width::Double => self.call(f, args),
            Width::Vector => {
                let mut out = args[0];
                for lane in 0..4u8 {
                    let lanes: Vec<Value> = args.iter().map(|&a| self.b.ins().extractlane(a, lane)).collect();
                    let r = self.call(f, &lanes);
                    out = self.b.ins().insertlane(out, r, lane);
                }
                out
            }
        }
    }

    /// `x^y` through the `powf` helper (lane by lane in vector code), or `pow64` in f64.
    pub(super) fn powf(&mut self, w: Width, x: Value, y: Value) -> Value {
        match w {
            Width::Double => self.call(self.callees.pow64, &[x, y]),
            Width::Scalar | Width::Vector => self.call_f32(w, self.callees.powf, &[x, y]),
        }
    }

    /// Unary `op` on `x` by the op table's own semantics: `unary64` at `Double` width, else
    /// `unary32` (computed in f64, rounded), lane by lane in vector code.
    pub(super) fn unary_call(&mut self, w: Width, op: UnOp, x: Value) -> Value {
        let code = self.b.ins().iconst(types::I32, i64::from(op.code()));
        match w {
            Width::Double => self.call(self.callees.unary64, &[code, x]),
            Width::Scalar => self.call(self.callees.unary32, &[code, x]),
            Width::Vector => {
                let mut out = x;
                for lane in 0..4u8 {
                    let v = self.b.ins().extractlane(x, lane);
                    let r = self.call(self.callees.unary32, &[code, v]);
                    out = self.b.ins().insertlane(out, r, lane);
                }
                out
            }
        }
    }

    /// `sin x` or `cos x` at f32 width: the inline polynomial when every lane has
    /// |x| <= `TRIG_MAX`, else, in a cold block, the exact value on each lane.
    pub(super) fn trig(&mut self, w: Width, op: UnOp, x: Value) -> Value {
        let fast = self.emit(w).sin_cos(x, op == UnOp::Cos);
        let ax = self.b.ins().fabs(x);
        let limit = self.emit(w).c(f64::from(TRIG_MAX));
        // Ordered `<=`: false for NaN, which takes the exact path.
        let in_range = self.b.ins().fcmp(FloatCC::LessThanOrEqual, ax, limit);
        let all_in_range = if w == Width::Vector { self.b.ins().vall_true(in_range) } else { in_range };
        let slow = self.b.create_block();
        let join = self.b.create_block();
        let result = self.b.append_block_param(join, w.f());
        self.b.ins().brif(all_in_range, join, &[BlockArg::Value(fast)], slow, &[]);
        self.b.seal_block(slow);
        self.b.set_cold_block(slow);
        self.b.switch_to_block(slow);
        let exact = self.unary_call(w, op, x);
        self.b.ins().jump(join, &[BlockArg::Value(exact)]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        result
    }
}
