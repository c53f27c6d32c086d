//! The elementwise op families, one row per op: `UnOp` and `BinOp`.
//!
//! Each op owns every facet here: its printed (and built-in function) name, its f64 reference
//! semantics (which the interpreter, constant folding and sema's arithmetic on numbers all
//! use), its VJP rule, and the algebraic facts `simplify` rewrites with. Code generation lowers
//! each op in `codegen/lower.rs`; nothing else names a unary op. Adding one is a variant, a
//! row in each `match` below, and its lowering.

use super::notation::{Infix, Notation, Relation};
use super::{Graph, NodeId, Op};

/// A one-operand elementwise op on f32 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// natural logarithm
    Log,
    /// square root
    Sqrt,
    /// `|x|`
    Abs,
    /// -1, 0 or 1 (its gradient is zero)
    Sign,
    /// hyperbolic tangent
    Tanh,
    /// largest integer not above `x` (its gradient is zero)
    Floor,
    /// cosine (radians)
    Cos,
    /// sine (radians)
    Sin,
    /// the error function, `2/√π ∫₀ˣ e^(-t²) dt` (exact GELU is built on it)
    Erf,
    /// ln(1 + x), exact for small x (stable softplus and binary cross-entropy)
    Log1p,
    /// e^x - 1, exact for small x
    Expm1,
}

/// A two-operand elementwise op; operands have one shape (broadcasting is explicit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ^ b`
    Pow,
    /// elementwise maximum, NaN if either is NaN
    Max,
    /// elementwise minimum, NaN if either is NaN
    Min,
    /// `a > b` as 1.0 or 0.0 (no gradient)
    Gt,
    /// `a == b` as 1.0 or 0.0 (no gradient); operands f32 or i32
    Eq,
}

/// A cheaper form of `x op k` for a constant `k`, as [`BinOp::with_const_rhs`] gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rewrite {
    /// The constant, whatever `x` is.
    Const(f64),
    /// `x o x`.
    SelfBinary(BinOp),
    /// `u(x)`.
    Unary(UnOp),
    /// `c o x`.
    ConstLhs(f64, BinOp),
}

/// IEEE 754-2019 `maximum`: NaN if either operand is NaN (what the JIT's `fmax` does).
fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// IEEE 754-2019 `minimum`: NaN if either operand is NaN (what the JIT's `fmin` does).
fn min_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

impl UnOp {
    /// Every unary op, in declaration order (the index is the op's code in generated calls).
    pub const ALL: [UnOp; 13] = [
        UnOp::Neg,
        UnOp::Exp,
        UnOp::Log,
        UnOp::Sqrt,
        UnOp::Abs,
        UnOp::Sign,
        UnOp::Tanh,
        UnOp::Floor,
        UnOp::Cos,
        UnOp::Sin,
        UnOp::Erf,
        UnOp::Log1p,
        UnOp::Expm1,
    ];

    /// The printed name, which is also the built-in function's name in `.grad` code.
    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Exp => "exp",
            UnOp::Log => "log",
            UnOp::Sqrt => "sqrt",
            UnOp::Abs => "abs",
            UnOp::Sign => "sign",
            UnOp::Tanh => "tanh",
            UnOp::Floor => "floor",
            UnOp::Cos => "cos",
            UnOp::Sin => "sin",
            UnOp::Erf => "erf",
            UnOp::Log1p => "log1p",
            UnOp::Expm1 => "expm1",
        }
    }

    /// How `gradc grad` writes the op.
    pub fn notation(self) -> Notation {
        match self {
            UnOp::Neg => Notation::Negate,
            UnOp::Abs => Notation::Abs,
            UnOp::Exp | UnOp::Log | UnOp::Sqrt | UnOp::Sign | UnOp::Tanh | UnOp::Floor => {
                Notation::Function(self.name())
            }
            UnOp::Cos | UnOp::Sin | UnOp::Erf | UnOp::Log1p | UnOp::Expm1 => Notation::Function(self.name()),
        }
    }

    /// The op with this name.
    pub fn from_name(name: &str) -> Option<UnOp> {
        UnOp::ALL.into_iter().find(|u| u.name() == name)
    }

    /// The op's index in [`UnOp::ALL`].
    pub fn code(self) -> u32 {
        // Every op is in ALL, so the search finds it; ALL has far fewer than 2^32 entries.
        UnOp::ALL.iter().position(|&u| u == self).expect("every UnOp is in ALL") as u32
    }

    /// The op with index `code` in [`UnOp::ALL`].
    pub fn from_code(code: u32) -> Option<UnOp> {
        UnOp::ALL.get(code as usize).copied()
    }

    /// The reference semantics, in f64.
    pub fn eval(self, x: f64) -> f64 {
        match self {
            UnOp::Neg => -x,
            UnOp::Exp => x.exp(),
            UnOp::Log => x.ln(),
            UnOp::Sqrt => x.sqrt(),
            UnOp::Abs => x.abs(),
            UnOp::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else if x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            UnOp::Tanh => x.tanh(),
            UnOp::Floor => x.floor(),
            UnOp::Cos => x.cos(),
            UnOp::Sin => x.sin(),
            UnOp::Erf => libm::erf(x),
            UnOp::Log1p => x.ln_1p(),
            UnOp::Expm1 => x.exp_m1(),
        }
    }

    /// Whether `f(f(x)) = x`, so `simplify` removes a pair.
    pub fn is_involution(self) -> bool {
        match self {
            UnOp::Neg => true,
            UnOp::Exp | UnOp::Log | UnOp::Sqrt | UnOp::Abs | UnOp::Sign | UnOp::Tanh => false,
            UnOp::Floor | UnOp::Cos | UnOp::Sin | UnOp::Erf | UnOp::Log1p | UnOp::Expm1 => false,
        }
    }

    /// Whether the op is negation, which `a + (-b) = a - b` and its kin absorb.
    pub fn is_negation(self) -> bool {
        self == UnOp::Neg
    }

    /// The unary op that negates (what sema builds for `-x`).
    pub fn negation() -> UnOp {
        UnOp::Neg
    }

    /// The gradient sent to the operand `a` when the output `y` receives `g`, or `None` where
    /// the op is piecewise constant and sends nothing.
    pub fn vjp(self, gr: &mut Graph, a: NodeId, y: NodeId, g: NodeId) -> Option<NodeId> {
        let shape = gr.ty(a).shape.clone();
        Some(match self {
            // f(a) = -a
            // df/da = -g
            UnOp::Neg => gr.build(Op::Unary(UnOp::Neg), vec![g]),
            // f(a) = e^a
            // df/da = g * y
            UnOp::Exp => gr.build(Op::Binary(BinOp::Mul), vec![g, y]),
            // f(a) = ln a
            // df/da = g / a
            UnOp::Log => gr.build(Op::Binary(BinOp::Div), vec![g, a]),
            // f(a) = sqrt(a)
            // df/da = g / (2 * y)
            UnOp::Sqrt => {
                let two = gr.splat(2.0, &shape);
                let twice = gr.build(Op::Binary(BinOp::Mul), vec![two, y]);
                gr.build(Op::Binary(BinOp::Div), vec![g, twice])
            }
            // f(a) = |a|
            // df/da = g * sign(a)
            UnOp::Abs => {
                let s = gr.build(Op::Unary(UnOp::Sign), vec![a]);
                gr.build(Op::Binary(BinOp::Mul), vec![g, s])
            }
            // f(a) = tanh(a)
            // df/da = g * (1 - y^2)
            UnOp::Tanh => {
                let one = gr.splat(1.0, &shape);
                let sq = gr.build(Op::Binary(BinOp::Mul), vec![y, y]);
                let d = gr.build(Op::Binary(BinOp::Sub), vec![one, sq]);
                gr.build(Op::Binary(BinOp::Mul), vec![g, d])
            }
            // f(a) = cos a
            // df/da = -g * sin a
            UnOp::Cos => {
                let s = gr.build(Op::Unary(UnOp::Sin), vec![a]);
                let gs = gr.build(Op::Binary(BinOp::Mul), vec![g, s]);
                gr.build(Op::Unary(UnOp::Neg), vec![gs])
            }
            // f(a) = sin a
            // df/da = g * cos a
            UnOp::Sin => {
                let c = gr.build(Op::Unary(UnOp::Cos), vec![a]);
                gr.build(Op::Binary(BinOp::Mul), vec![g, c])
            }
            // f(a) = erf(a)
            // df/da = g * 2/√π * e^(-a²)
            UnOp::Erf => {
                let sq = gr.build(Op::Binary(BinOp::Mul), vec![a, a]);
                let neg = gr.build(Op::Unary(UnOp::Neg), vec![sq]);
                let e = gr.build(Op::Unary(UnOp::Exp), vec![neg]);
                let c = gr.splat(std::f64::consts::FRAC_2_SQRT_PI, &shape);
                let d = gr.build(Op::Binary(BinOp::Mul), vec![c, e]);
                gr.build(Op::Binary(BinOp::Mul), vec![g, d])
            }
            // f(a) = ln(1 + a)
            // df/da = g / (1 + a)
            UnOp::Log1p => {
                let one = gr.splat(1.0, &shape);
                let d = gr.build(Op::Binary(BinOp::Add), vec![one, a]);
                gr.build(Op::Binary(BinOp::Div), vec![g, d])
            }
            // f(a) = e^a - 1
            // df/da = g * e^a = g * (y + 1)
            UnOp::Expm1 => {
                let one = gr.splat(1.0, &shape);
                let d = gr.build(Op::Binary(BinOp::Add), vec![y, one]);
                gr.build(Op::Binary(BinOp::Mul), vec![g, d])
            }
            // f(a) = sign(a), f(a) = floor(a): piecewise constant
            // df/da = 0
            UnOp::Sign | UnOp::Floor => return None,
        })
    }
}

impl BinOp {
    /// Every binary op, in declaration order.
    pub const ALL: [BinOp; 9] =
        [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Pow, BinOp::Max, BinOp::Min, BinOp::Gt, BinOp::Eq];

    /// The printed name.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Pow => "pow",
            BinOp::Max => "max",
            BinOp::Min => "min",
            BinOp::Gt => "gt",
            BinOp::Eq => "eq",
        }
    }

    /// How `gradc grad` writes the op.
    pub fn notation(self) -> Notation {
        match self {
            BinOp::Add => Notation::Infix(Infix::Plus),
            BinOp::Sub => Notation::Infix(Infix::Minus),
            BinOp::Mul => Notation::Infix(Infix::Times),
            BinOp::Div => Notation::Infix(Infix::Over),
            BinOp::Pow => Notation::Infix(Infix::Power),
            BinOp::Max => Notation::Function("max"),
            BinOp::Min => Notation::Function("min"),
            BinOp::Gt => Notation::Bracket(Relation::Greater),
            BinOp::Eq => Notation::Bracket(Relation::Equal),
        }
    }

    /// The reference semantics, in f64 (comparisons give 1.0 or 0.0).
    pub fn eval(self, a: f64, b: f64) -> f64 {
        let truth = |t: bool| if t { 1.0 } else { 0.0 };
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => a.powf(b),
            BinOp::Max => max_nan(a, b),
            BinOp::Min => min_nan(a, b),
            BinOp::Gt => truth(a > b),
            BinOp::Eq => truth(a == b),
        }
    }

    /// Whether the result is a 0/1 truth value (which takes no gradient).
    pub fn is_comparison(self) -> bool {
        match self {
            BinOp::Gt | BinOp::Eq => true,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min => false,
        }
    }

    /// Whether `a op b = b op a`, so CSE treats both orders as one node.
    pub fn is_commutative(self) -> bool {
        match self {
            BinOp::Add | BinOp::Mul | BinOp::Max | BinOp::Min | BinOp::Eq => true,
            BinOp::Sub | BinOp::Div | BinOp::Pow | BinOp::Gt => false,
        }
    }

    /// `e` with `x op e = x` for every real `x`.
    pub fn right_identity(self) -> Option<f64> {
        match self {
            BinOp::Add | BinOp::Sub => Some(0.0),
            BinOp::Mul | BinOp::Div | BinOp::Pow => Some(1.0),
            BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// `e` with `e op x = x` for every real `x`.
    pub fn left_identity(self) -> Option<f64> {
        match self {
            BinOp::Add => Some(0.0),
            BinOp::Mul => Some(1.0),
            BinOp::Sub | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// `z` with `x op z = z op x = z` for every real `x` (IEEE infinities and NaN aside).
    pub fn zero(self) -> Option<f64> {
        match self {
            BinOp::Mul => Some(0.0),
            BinOp::Add | BinOp::Sub | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// A cheaper form of `x op k` for a constant `k`, if there is one: `x^0 = 1`, `x^2 = x*x`,
    /// `x^0.5 = sqrt x`, `x^-1 = 1/x`.
    pub fn with_const_rhs(self, k: f64) -> Option<Rewrite> {
        match self {
            BinOp::Pow if k == 0.0 => Some(Rewrite::Const(1.0)),
            BinOp::Pow if k == 2.0 => Some(Rewrite::SelfBinary(BinOp::Mul)),
            BinOp::Pow if k == 0.5 => Some(Rewrite::Unary(UnOp::Sqrt)),
            BinOp::Pow if k == -1.0 => Some(Rewrite::ConstLhs(1.0, BinOp::Div)),
            BinOp::Pow => None,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// The op `o` with `a op (-b) = a o b`: `a + (-b) = a - b`, `a - (-b) = a + b`.
    pub fn absorbs_negated_rhs(self) -> Option<BinOp> {
        match self {
            BinOp::Add => Some(BinOp::Sub),
            BinOp::Sub => Some(BinOp::Add),
            BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// The op `o` with `(-a) op b = b o a`: `(-a) + b = b - a`.
    pub fn absorbs_negated_lhs(self) -> Option<BinOp> {
        match self {
            BinOp::Add => Some(BinOp::Sub),
            BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// The gradients sent to `a` and `b` when the output `y` receives `g`; only those with
    /// `wants` set are built.
    pub fn vjp(
        self,
        gr: &mut Graph,
        [a, b]: [NodeId; 2],
        y: NodeId,
        g: NodeId,
        wants: [bool; 2],
    ) -> [Option<NodeId>; 2] {
        let shape = gr.ty(y).shape.clone();
        let mut out = [None, None];
        let mut rule = |gr: &mut Graph, i: usize, f: &dyn Fn(&mut Graph) -> NodeId| {
            if wants[i] {
                out[i] = Some(f(gr));
            }
        };
        let bin = |gr: &mut Graph, op: BinOp, x: NodeId, z: NodeId| gr.build(Op::Binary(op), vec![x, z]);
        match self {
            // f(a, b) = a + b
            // df/da = g, df/db = g
            BinOp::Add => {
                rule(gr, 0, &|_| g);
                rule(gr, 1, &|_| g);
            }
            // f(a, b) = a - b
            // df/da = g, df/db = -g
            BinOp::Sub => {
                rule(gr, 0, &|_| g);
                rule(gr, 1, &|gr| gr.build(Op::Unary(UnOp::Neg), vec![g]));
            }
            // f(a, b) = a * b
            // df/da = g * b, df/db = g * a
            BinOp::Mul => {
                rule(gr, 0, &|gr| bin(gr, BinOp::Mul, g, b));
                rule(gr, 1, &|gr| bin(gr, BinOp::Mul, g, a));
            }
            // f(a, b) = a / b
            // df/da = g / b, df/db = -g * a / b^2 = -(g * y / b)
            BinOp::Div => {
                rule(gr, 0, &|gr| bin(gr, BinOp::Div, g, b));
                rule(gr, 1, &|gr| {
                    let gy = bin(gr, BinOp::Mul, g, y);
                    let q = bin(gr, BinOp::Div, gy, b);
                    gr.build(Op::Unary(UnOp::Neg), vec![q])
                });
            }
            // f(a, b) = a ^ b
            // df/da = g * b * a^(b-1), df/db = g * ln(a) * y
            // A constant exponent (even behind a broadcast) is never wanted, so no `ln a` of a
            // negative `a` is built for it.
            BinOp::Pow => {
                rule(gr, 0, &|gr| {
                    let one = gr.splat(1.0, &shape);
                    let bm1 = bin(gr, BinOp::Sub, b, one);
                    let p = bin(gr, BinOp::Pow, a, bm1);
                    let bp = bin(gr, BinOp::Mul, b, p);
                    bin(gr, BinOp::Mul, g, bp)
                });
                rule(gr, 1, &|gr| {
                    let ln = gr.build(Op::Unary(UnOp::Log), vec![a]);
                    let ly = bin(gr, BinOp::Mul, ln, y);
                    bin(gr, BinOp::Mul, g, ly)
                });
            }
            // f(a, b) = max(a, b)
            // df/da = (a > b) ? g : 0, df/db = (a > b) ? 0 : g
            // Ties send the gradient to `b`, so relu(x) = max(x, 0) has gradient 0 at 0.
            // f(a, b) = min(a, b)
            // df/da = (b > a) ? g : 0, df/db = (b > a) ? 0 : g; ties send it to `b` too.
            // Picked, not multiplied by the mask: an infinite g (sqrt's at 0, in the guard
            // sqrt(maximum(x, 0))) must give the operand not picked 0, not inf · 0 = NaN.
            BinOp::Max | BinOp::Min => {
                let mask = if self == BinOp::Max { bin(gr, BinOp::Gt, a, b) } else { bin(gr, BinOp::Gt, b, a) };
                let zero = gr.splat(0.0, &shape);
                rule(gr, 0, &|gr| gr.build(Op::Select, vec![mask, g, zero]));
                rule(gr, 1, &|gr| gr.build(Op::Select, vec![mask, zero, g]));
            }
            // f(a, b) = (a > b), f(a, b) = (a == b): piecewise constant
            // df/da = df/db = 0
            BinOp::Gt | BinOp::Eq => {}
        }
        out
    }
}
