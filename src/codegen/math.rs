//! Width-generic CLIF emitters: constants, comparisons, selects, NaN-propagating max, and
//! polynomial `exp`, `log`, `tanh`, `sin` and `cos` that work the same on `f32` and `f32x4`.
//!
//! Decisions:
//! - `exp` and `log` are the Cephes single-precision algorithms (range reduction by `n·ln 2` in
//!   two parts, then a degree-6/9 polynomial), evaluated with FMA when the host has it. `exp`
//!   scales by `2^n` as two factors `2^(n/2)·2^(n-n/2)` so that results down to the subnormal
//!   range and up to overflow (inf) come out right without special cases; its input is clamped
//!   to [-104, 88.8] (outside, the result is 0 or inf anyway). `log` rescales subnormal inputs
//!   and fixes up 0, negatives, NaN and inf with selects.
//! - `tanh` is Cephes' odd polynomial for |x| < 0.625 and `1 - 2/(e^{2|x|}+1)` with the sign of x
//!   beyond, both computed and blended (no branches, so it vectorises).
//! - `sin` and `cos` are Cephes' single-precision polynomials (degree 7 odd for sin, degree 8
//!   even for cos, on [-π/4, π/4]) after a Cody–Waite reduction `|x| = q·π/2 + r`, with π/2 in
//!   four parts: the first three have 11 significant bits, so `q·part` is exact for q < 2^13
//!   (and each subtraction is exact or cancels into the next), and the four together are π/2
//!   to 8.3e-20, so the reduction is off by at most 5e-16 at |x| = 8192 and the error stays
//!   relative even next to the zeros of sin and cos. `q` comes from the same 1.5·2^23 rounding
//!   trick as in `exp`; its low two bits pick the polynomial (sin r or cos r) and the sign,
//!   applied by flipping the sign bit, so there are no branches. Both polynomials are computed
//!   for every lane. The reduction holds for |x| <= [`TRIG_MAX`] = 8192 (q <= 5215); lowering
//!   checks that bound per vector (NaN fails it) and calls Rust's `sinf`/`cosf` on every lane of
//!   a vector that is beyond it, so huge arguments, inf and NaN come out as Rust computes them.
//!   Measured (with and without FMA): max relative error 1.7e-7 and max absolute error 9.8e-8
//!   over [-8192, 8192] and next to every multiple of π/2 there. Why not call Rust for every
//!   element: on the build machine the polynomial runs at ~1 ns per element in `f32x4` loops,
//!   a per-lane call to `sinf` at ~3 ns, and a plain Rust `sinf` loop at ~2 ns.
//! - Max(a, b) is `a < b ? b : a`, which Cranelift lowers to one `maxps` (it returns `a` when
//!   either is NaN), plus a select that propagates a NaN `b`, so the result is NaN when either
//!   operand is, as the interpreter's IEEE `maximum`. When `b` cannot be NaN (a constant, as in
//!   ReLU) the fixup is skipped.
//!
//! - These approximations are for f32 and f32x4; f64 (scalar-kernel) code calls Rust's `exp`,
//!   `ln`, `tanh`, `powf`, `sin` and `cos` instead, since it runs once per step.
//!
//! Measured maximum relative errors over dense sweeps are asserted in `codegen::tests::approx`.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// Largest |x| that [`Emit::sin_cos`] reduces accurately; larger arguments, infinities and NaN
/// go to Rust's `sinf`/`cosf`.
pub(crate) const TRIG_MAX: f32 = 8192.0;

/// How values are computed: one f32, four f32 lanes, or one f64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// One `f32`.
    Scalar,
    /// An `f32x4`.
    Vector,
    /// One `f64`: scalar kernels (hyper-parameter arithmetic such as `1 - beta2^t`) compute in
    /// double precision, as PyTorch does with Python floats, and round once when stored.
    Double,
}

impl Width {
    /// The float type.
    pub(crate) fn f(self) -> Type {
        match self {
            Width::Scalar => types::F32,
            Width::Vector => types::F32X4,
            Width::Double => types::F64,
        }
    }

    /// The integer type of the same shape, for bit manipulation.
    fn i(self) -> Type {
        match self {
            Width::Scalar => types::I32,
            Width::Vector => types::I32X4,
            Width::Double => types::I64,
        }
    }
}

/// Emits arithmetic at one width into a function builder.
pub(crate) struct Emit<'x, 'f> {
    /// The builder, positioned where the code goes.
    pub(crate) b: &'x mut FunctionBuilder<'f>,
    /// The width of every value.
    pub(crate) w: Width,
    /// Whether the host has FMA (else `mul_add` is a multiply and an add).
    pub(crate) fma: bool,
}

impl Emit<'_, '_> {
    /// A float constant (rounded to f32 unless the width is `Double`).
    pub(crate) fn c(&mut self, v: f64) -> Value {
        match self.w {
            Width::Double => self.b.ins().f64const(v),
            Width::Scalar | Width::Vector => {
                let s = self.b.ins().f32const(v as f32);
                self.widen(s)
            }
        }
    }

    /// An i32 constant.
    fn ci(&mut self, v: i32) -> Value {
        let s = self.b.ins().iconst(types::I32, i64::from(v));
        self.widen(s)
    }

    /// A scalar, splatted when vector.
    pub(crate) fn widen(&mut self, s: Value) -> Value {
        match self.w {
            Width::Scalar | Width::Double => s,
            Width::Vector => {
                let ty = self.b.func.dfg.value_type(s).by(4).expect("a 32-bit lane type has an x4 vector type");
                self.b.ins().splat(ty, s)
            }
        }
    }

    /// `a + b`
    pub(crate) fn add(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fadd(a, b)
    }

    /// `a - b`
    pub(crate) fn sub(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fsub(a, b)
    }

    /// `a * b`
    pub(crate) fn mul(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fmul(a, b)
    }

    /// `a / b`
    pub(crate) fn div(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fdiv(a, b)
    }

    /// `a * b + c`, fused when the host has FMA.
    fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.fma {
            self.b.ins().fma(a, b, c)
        } else {
            let p = self.b.ins().fmul(a, b);
            self.b.ins().fadd(p, c)
        }
    }

    /// `a * b + c` with a constant `b`.
    fn mul_add_c(&mut self, a: Value, b: f32, c: Value) -> Value {
        let b = self.c(f64::from(b));
        self.mul_add(a, b, c)
    }

    /// Horner evaluation of `coeffs[0] x^(n-1) + ... + coeffs[n-1]`.
    fn poly(&mut self, x: Value, coeffs: &[f32]) -> Value {
        let mut p = self.c(f64::from(coeffs[0]));
        for &c in &coeffs[1..] {
            let c = self.c(f64::from(c));
            p = self.mul_add(p, x, c);
        }
        p
    }

    /// A comparison as a select mask: `i8` for scalars, a float-typed lane mask for vectors
    /// (the form Cranelift's `minps`/`maxps`/`blendv` patterns match).
    pub(crate) fn cmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        let m = self.b.ins().fcmp(cc, a, b);
        match self.w {
            Width::Scalar | Width::Double => m,
            Width::Vector => self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), m),
        }
    }

    /// `m ? a : b` for a mask from `cmp` (or an i32 lane mask converted by `int_mask`).
    pub(crate) fn sel(&mut self, m: Value, a: Value, b: Value) -> Value {
        match self.w {
            Width::Scalar | Width::Double => self.b.ins().select(m, a, b),
            Width::Vector => self.b.ins().bitselect(m, a, b),
        }
    }

    /// A mask as 1.0 (true) or 0.0.
    pub(crate) fn one_if(&mut self, m: Value) -> Value {
        let (one, zero) = (self.c(1.0), self.c(0.0));
        self.sel(m, one, zero)
    }

    /// Whether two i32 values are equal, as a mask for `sel`.
    pub(crate) fn int_eq(&mut self, a: Value, b: Value) -> Value {
        let m = self.b.ins().icmp(cranelift_codegen::ir::condcodes::IntCC::Equal, a, b);
        match self.w {
            Width::Scalar | Width::Double => m,
            Width::Vector => self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), m),
        }
    }

    /// The maximum, NaN if either operand is; `b_is_number` skips the NaN fixup for `b`.
    pub(crate) fn max(&mut self, a: Value, b: Value, b_is_number: bool) -> Value {
        let lt = self.cmp(FloatCC::LessThan, a, b);
        let m = self.sel(lt, b, a);
        if b_is_number {
            return m;
        }
        let nan = self.cmp(FloatCC::Unordered, b, b);
        self.sel(nan, b, m)
    }

    /// `min(a, b)`, NaN if either is NaN; `b_is_number` skips the NaN test of `b`.
    pub(crate) fn min(&mut self, a: Value, b: Value, b_is_number: bool) -> Value {
        let gt = self.cmp(FloatCC::GreaterThan, a, b);
        let m = self.sel(gt, b, a);
        if b_is_number {
            return m;
        }
        let nan = self.cmp(FloatCC::Unordered, b, b);
        self.sel(nan, b, m)
    }

    /// -1, 0 or 1 by the sign of `x`; NaN stays NaN and -0 stays -0.
    pub(crate) fn sign(&mut self, x: Value) -> Value {
        let (zero, one, minus) = (self.c(0.0), self.c(1.0), self.c(-1.0));
        let neg = self.cmp(FloatCC::LessThan, x, zero);
        let inner = self.sel(neg, minus, x);
        let pos = self.cmp(FloatCC::GreaterThan, x, zero);
        self.sel(pos, one, inner)
    }

    fn bits_of(&mut self, x: Value) -> Value {
        let ty = self.w.i();
        self.b.ins().bitcast(ty, MemFlagsData::new(), x)
    }

    fn float_of(&mut self, x: Value) -> Value {
        let ty = self.w.f();
        self.b.ins().bitcast(ty, MemFlagsData::new(), x)
    }

    /// `2^n` for integral `n` in [-126, 127], built from the exponent bits.
    fn pow2i(&mut self, n: Value) -> Value {
        let bias = self.ci(127);
        let e = self.b.ins().iadd(n, bias);
        let amount = self.b.ins().iconst(types::I32, 23);
        let bits = self.b.ins().ishl(e, amount);
        self.float_of(bits)
    }

    /// `e^x` (Cephes `expf`).
    pub(crate) fn exp(&mut self, x: Value) -> Value {
        debug_assert!(self.w != Width::Double, "f64 code calls Rust for transcendentals");
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const C1: f32 = 0.693_359_4;
        const C2: f32 = -2.121_944_4e-4;
        const MAGIC: f32 = 12_582_912.0;
        const P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_66, 0.5];
        // Clamp with NaN passing through (each select keeps `x` when the compare is false, as
        // for NaN); these forms lower to one `maxps`/`minps` each.
        let (lo, hi) = (self.c(-104.0), self.c(88.8));
        let below = self.cmp(FloatCC::LessThan, x, lo);
        let x = self.sel(below, lo, x);
        let above = self.cmp(FloatCC::LessThan, hi, x);
        let x = self.sel(above, hi, x);
        // n = round(x log2 e): adding 1.5 * 2^23 rounds to an integer in the low mantissa bits,
        // which give n as an integer too (|n| < 2^22), so no `nearest` or conversion is needed.
        let magic = self.c(f64::from(MAGIC));
        let t = self.mul_add_c(x, LOG2E, magic);
        let n = self.sub(t, magic);
        let r = self.mul_add_c(n, -C1, x);
        let r = self.mul_add_c(n, -C2, r);
        let p = self.poly(r, &P);
        let r2 = self.mul(r, r);
        let y = self.mul_add(p, r2, r);
        let one = self.c(1.0);
        let y = self.add(y, one);
        // 2^n as 2^n1 * 2^n2 with both halves in range, n in [-150, 129].
        let t_bits = self.bits_of(t);
        let magic_bits = self.ci(MAGIC.to_bits() as i32);
        let ni = self.b.ins().isub(t_bits, magic_bits);
        let shift = self.b.ins().iconst(types::I32, 1);
        let n1 = self.b.ins().sshr(ni, shift);
        let n2 = self.b.ins().isub(ni, n1);
        let (s1, s2) = (self.pow2i(n1), self.pow2i(n2));
        let y = self.mul(y, s1);
        self.mul(y, s2)
    }

    /// The natural logarithm (Cephes `logf`); 0 gives -inf, negatives and NaN give NaN.
    pub(crate) fn log(&mut self, x0: Value) -> Value {
        debug_assert!(self.w != Width::Double, "f64 code calls Rust for transcendentals");
        const SQRTHF: f32 = std::f32::consts::FRAC_1_SQRT_2;
        const Q1: f32 = -2.121_944_4e-4;
        const Q2: f32 = 0.693_359_4;
        const P: [f32; 9] = [
            0.070_376_836,
            -0.115_146_1,
            0.116_769_984,
            -0.124_201_41,
            0.142_493_23,
            -0.166_680_57,
            0.200_007_14,
            -0.249_999_94,
            0.333_333_3,
        ];
        // Subnormals: scale by 2^23 and take 23 off the exponent.
        let min_normal = self.c(f64::from(f32::MIN_POSITIVE));
        let tiny = self.cmp(FloatCC::LessThan, x0, min_normal);
        let scale = self.c(8_388_608.0);
        let scaled = self.mul(x0, scale);
        let x = self.sel(tiny, scaled, x0);
        let (m23, zero) = (self.c(-23.0), self.c(0.0));
        let e_off = self.sel(tiny, m23, zero);

        let bits = self.bits_of(x);
        let amount = self.b.ins().iconst(types::I32, 23);
        let biased = self.b.ins().ushr(bits, amount);
        let bias = self.ci(126);
        let ei = self.b.ins().isub(biased, bias);
        let ty = self.w.f();
        let e = self.b.ins().fcvt_from_sint(ty, ei);
        let e = self.add(e, e_off);
        let keep = self.ci(0x807f_ffff_u32 as i32);
        let half = self.ci(0x3f00_0000);
        let mbits = self.b.ins().band(bits, keep);
        let mbits = self.b.ins().bor(mbits, half);
        let m = self.float_of(mbits);
        // m in [0.5, 1): below sqrt(1/2) use 2m - 1 and one less in the exponent.
        let sqrthf = self.c(f64::from(SQRTHF));
        let small = self.cmp(FloatCC::LessThan, m, sqrthf);
        let one = self.c(1.0);
        let e_dec = self.sel(small, one, zero);
        let e = self.sub(e, e_dec);
        let extra = self.sel(small, m, zero);
        let m = self.add(m, extra);
        let m = self.sub(m, one);

        let z = self.mul(m, m);
        let p = self.poly(m, &P);
        let mz = self.mul(m, z);
        let y = self.mul(p, mz);
        let y = self.mul_add_c(e, Q1, y);
        let y = self.mul_add_c(z, -0.5, y);
        let r = self.add(m, y);
        let r = self.mul_add_c(e, Q2, r);

        let inf = self.c(f64::INFINITY);
        let is_inf = self.cmp(FloatCC::Equal, x0, inf);
        let r = self.sel(is_inf, inf, r);
        let zero = self.c(0.0);
        let is_zero = self.cmp(FloatCC::Equal, x0, zero);
        let minus_inf = self.c(f64::NEG_INFINITY);
        let r = self.sel(is_zero, minus_inf, r);
        let bad = self.cmp(FloatCC::UnorderedOrLessThan, x0, zero);
        let nan = self.c(f64::NAN);
        self.sel(bad, nan, r)
    }

    /// The hyperbolic tangent (Cephes `tanhf`).
    pub(crate) fn tanh(&mut self, x: Value) -> Value {
        debug_assert!(self.w != Width::Double, "f64 code calls Rust for transcendentals");
        const P: [f32; 5] = [-0.005_704_988_7, 0.020_639_088, -0.053_739_715, 0.133_314_42, -0.333_332_8];
        // |x| < 0.625: x + x^3 P(x^2).
        let z = self.mul(x, x);
        let p = self.poly(z, &P);
        let pz = self.mul(p, z);
        let small = self.mul_add(pz, x, x);
        // Beyond: 1 - 2 / (e^{2|x|} + 1), with the sign of x.
        let ax = self.b.ins().fabs(x);
        let two_ax = self.add(ax, ax);
        let e = self.exp(two_ax);
        let one = self.c(1.0);
        let e1 = self.add(e, one);
        let two = self.c(2.0);
        let q = self.div(two, e1);
        let t = self.sub(one, q);
        let sign_bit = self.c(-0.0);
        let sign = self.b.ins().band(x, sign_bit);
        let large = self.b.ins().bor(t, sign);
        let cut = self.c(0.625);
        let near = self.cmp(FloatCC::LessThan, ax, cut);
        self.sel(near, small, large)
    }
}

impl Emit<'_, '_> {
    /// `sin x` (or `cos x` when `cos`) for |x| <= [`TRIG_MAX`]; other arguments give garbage,
    /// so the caller must route them elsewhere.
    pub(crate) fn sin_cos(&mut self, x: Value, cos: bool) -> Value {
        debug_assert!(self.w != Width::Double, "f64 code calls Rust for transcendentals");
        // π/2 = P1 + P2 + P3 + P4 + 8.3e-20: P1..P3 are π/2 cut into 11-bit pieces, P4 is the
        // rest rounded to f32 (given as bits, which a decimal literal could round differently).
        const P1: f32 = f32::from_bits(0x3fc9_0000); // 1.5703125
        const P2: f32 = f32::from_bits(0x39fd_a000); // 4.8375129699707031e-4
        const P3: f32 = f32::from_bits(0x33a2_2000); // 7.5495336204767227e-8
        const P4: f32 = f32::from_bits(0x2c34_611a); // 2.5633440682570896e-12
        const MAGIC: f32 = 12_582_912.0;
        const S: [f32; 3] = [-1.951_529_6e-4, 8.332_161e-3, -1.666_665_5e-1];
        const C: [f32; 3] = [2.443_315_7e-5, -1.388_731_6e-3, 4.166_664_6e-2];
        // q = round(|x| 2/π) (an integer in t's low mantissa bits), r = |x| - q π/2.
        let ax = self.b.ins().fabs(x);
        let magic = self.c(f64::from(MAGIC));
        let t = self.mul_add_c(ax, std::f32::consts::FRAC_2_PI, magic);
        let q = self.sub(t, magic);
        let r = self.mul_add_c(q, -P1, ax);
        let r = self.mul_add_c(q, -P2, r);
        let r = self.mul_add_c(q, -P3, r);
        let r = self.mul_add_c(q, -P4, r);
        let z = self.mul(r, r);
        // sin r = r + r z S(z), cos r = 1 - z/2 + z^2 C(z).
        let ps = self.poly(z, &S);
        let psz = self.mul(ps, z);
        let sin_r = self.mul_add(psz, r, r);
        let pc = self.poly(z, &C);
        let pcz = self.mul(pc, z);
        let one = self.c(1.0);
        let half_off = self.mul_add_c(z, -0.5, one);
        let cos_r = self.mul_add(pcz, z, half_off);
        // sin(qπ/2 + r) is sin r, cos r, -sin r, -cos r for q mod 4 = 0, 1, 2, 3; cos x is
        // sin(|x| + π/2), so it takes q + 1.
        let t_bits = self.bits_of(t);
        let magic_bits = self.ci(MAGIC.to_bits() as i32);
        let mut qi = self.b.ins().isub(t_bits, magic_bits);
        if cos {
            let one_i = self.ci(1);
            qi = self.b.ins().iadd(qi, one_i);
        }
        let one_i = self.ci(1);
        let odd = self.b.ins().band(qi, one_i);
        let use_cos = self.int_eq(odd, one_i);
        let y = self.sel(use_cos, cos_r, sin_r);
        let two_i = self.ci(2);
        let second_half = self.b.ins().band(qi, two_i);
        let amount = self.b.ins().iconst(types::I32, 30);
        let mut flip = self.b.ins().ishl(second_half, amount);
        if !cos {
            // sin is odd: sin x = sign(x) sin |x|.
            let x_bits = self.bits_of(x);
            let sign_bit = self.ci(i32::MIN);
            let sign = self.b.ins().band(x_bits, sign_bit);
            flip = self.b.ins().bxor(flip, sign);
        }
        let y_bits = self.bits_of(y);
        let out = self.b.ins().bxor(y_bits, flip);
        self.float_of(out)
    }
}
