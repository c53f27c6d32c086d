//! How an op is written as mathematics, for `gradc grad`: a column of the op table
//! ([`super::Op::notation`], [`super::UnOp::notation`], [`super::BinOp::notation`]).

/// An infix arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infix {
    /// `a + b`
    Plus,
    /// `a − b`
    Minus,
    /// `a · b` for a scalar, `a ⊙ b` per element
    Times,
    /// `a / b`
    Over,
    /// `a^b`
    Power,
}

/// A comparison, written as an Iverson bracket `[a > b]` (1 where it holds, else 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `a > b`
    Greater,
    /// `a = b`
    Equal,
}

/// How an op is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Notation {
    /// A graph input: its name.
    Input,
    /// A constant: its value.
    Number,
    /// `−a`.
    Negate,
    /// `a ∘ b` for an infix operator.
    Infix(Infix),
    /// `|a|`.
    Abs,
    /// `[a > b]`: a 0/1 truth value.
    Bracket(Relation),
    /// A named function of the operands, `exp(a)`, `max(a, b)`, `conv2d(x, w)`.
    Function(&'static str),
    /// The operand's values at another shape (numpy broadcasting, or unit axes added or
    /// removed): written as the operand itself; a reshape that regroups axes as `reshape(a)`.
    View,
    /// A matrix product, each side transposed or not: `aᵀ · b`.
    MatMul {
        /// The first operand is transposed.
        ta: bool,
        /// The second operand is transposed.
        tb: bool,
    },
    /// A sum over these axes of the operand: `Σ_b a`.
    Sum(Vec<usize>),
    /// A maximum over these axes of the operand: `max_j a`.
    Max(Vec<usize>),
    /// `select(c, a, b)`: `a` where `c` holds, else `b`.
    Select,
}
