//! Graph nodes to mathematical terms, recognising the patterns a reader knows by name.
//!
//! Every op is written by its notation column ([`Notation`]); on top of that, a few patterns of
//! the differentiated stdlib are read as the maths they are:
//! - a scaled sum, difference or negation is one linear combination `Σ cᵢ·tᵢ + k`;
//! - `exp(z − max_j z) / Σ_j exp(…)`, and `q ⊙ exp(…) / Σ_j exp(…)`, are `softmax(z)` and
//!   `q·softmax(z)`;
//! - the gradient sent through the max that log-softmax subtracts for stability,
//!   `[z = max_j z] ⊙ Σ_j n / Σ_j [z = max_j z]`, is 0 when every row of `n` sums to 0, which
//!   holds for the softmax-cross-entropy gradient `c·(softmax(z) − onehot(y))` (the rows of
//!   `onehot(y)` sum to 1: labels are checked to lie in the model's classes when data loads);
//! - `select(a > 0, g, 0)` of a value `max(a, 0)` the source names `h` is `[h > 0] ⊙ g`.

use std::collections::HashMap;

use crate::ir::notation::{Infix, Notation, Relation};
use crate::ir::{BinOp, Graph, NodeId, Op, ReduceOp, UnOp};

/// Index of a term in [`Terms`].
pub type TermId = usize;

/// A relation in an Iverson bracket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// `>`
    Gt,
    /// `≤`
    Le,
    /// `=`
    Eq,
    /// `≠`
    Ne,
}

/// A mathematical term; operands are earlier terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A name of the program: an input, a parameter, a binding, a model call.
    Name(String),
    /// A number.
    Num(f64),
    /// `Σ cᵢ·tᵢ + k`.
    Lin(Vec<(f64, TermId)>, f64),
    /// `a ⊙ b` per element, or `a·b` when `scalar` (one side is a scalar).
    Prod(TermId, TermId, bool),
    /// `a / b`.
    Quot(TermId, TermId),
    /// `a^b`.
    Pow(TermId, TermId),
    /// `|a|`.
    Abs(TermId),
    /// `[a rel b]`.
    Bracket(TermId, Rel, TermId),
    /// `f(a, …)`.
    Func(&'static str, Vec<TermId>),
    /// `a · b`, each side transposed when its flag is set.
    MatMul(TermId, bool, TermId, bool),
    /// A sum over the axes these index letters name (all letters: every axis).
    Sum(Vec<&'static str>, TermId),
    /// A maximum over the axes these letters name.
    Max(Vec<&'static str>, TermId),
    /// `softmax(z)` over the last axis.
    Softmax(TermId),
    /// `where(c, a, b)`.
    Where(TermId, TermId, TermId),
    /// The values of `a` regrouped into this shape.
    Reshape(TermId, Vec<usize>),
}

impl Term {
    /// The operands.
    pub fn children(&self) -> Vec<TermId> {
        match self {
            Term::Name(_) | Term::Num(_) => vec![],
            Term::Lin(ts, _) => ts.iter().map(|t| t.1).collect(),
            Term::Prod(a, b, _) | Term::Quot(a, b) | Term::Pow(a, b) | Term::Bracket(a, _, b) => vec![*a, *b],
            Term::MatMul(a, _, b, _) => vec![*a, *b],
            Term::Abs(a) | Term::Sum(_, a) | Term::Max(_, a) | Term::Softmax(a) | Term::Reshape(a, _) => vec![*a],
            Term::Func(_, args) => args.clone(),
            Term::Where(c, a, b) => vec![*c, *a, *b],
        }
    }
}

/// Terms built from one graph, memoised by node.
pub struct Builder<'g> {
    g: &'g Graph,
    names: &'g HashMap<NodeId, String>,
    batch: Option<usize>,
    /// Every term built.
    pub terms: Vec<Term>,
    /// The node each term was built from.
    pub origin: Vec<NodeId>,
    memo: HashMap<NodeId, TermId>,
}

/// Index letters of axes: `b` for the batch, then by position.
fn letter(axis: usize, rank: usize, batch: bool) -> &'static str {
    match (axis, batch, rank) {
        (0, true, _) => "b",
        (0, false, _) => "n",
        (1, _, 4) => "c",
        (2, _, 4) => "h",
        (3, _, 4) => "w",
        (1, _, _) => "j",
        (2, _, _) => "k",
        (_, _, _) => "l",
    }
}

impl<'g> Builder<'g> {
    /// A builder over `g`, naming nodes from `names`; `batch` is the rows per batch, if any.
    pub fn new(g: &'g Graph, names: &'g HashMap<NodeId, String>, batch: Option<usize>) -> Builder<'g> {
        Builder { g, names, batch, terms: vec![], origin: vec![], memo: HashMap::new() }
    }

    fn push(&mut self, t: Term, from: NodeId) -> TermId {
        self.terms.push(t);
        self.origin.push(from);
        self.terms.len() - 1
    }

    fn op(&self, n: NodeId) -> &Op {
        &self.g.node(n).op
    }

    fn arg(&self, n: NodeId, i: usize) -> NodeId {
        self.g.node(n).args[i]
    }

    /// The constant every element of `n` holds, if it is a constant or a broadcast of one.
    fn konst(&self, n: NodeId) -> Option<f64> {
        if let Op::Const(c) = self.op(n) {
            Some(*c)
        } else if let Op::Broadcast(_) = self.op(n) {
            self.konst(self.arg(n, 0))
        } else {
            None
        }
    }

    /// `n` without the broadcasts and unit-axis reshapes around it.
    fn strip(&self, n: NodeId) -> NodeId {
        if matches!(self.op(n), Op::Broadcast(_)) || (matches!(self.op(n), Op::Reshape(_)) && self.unit_reshape(n)) {
            self.strip(self.arg(n, 0))
        } else {
            n
        }
    }

    /// Whether the reshape `n` only adds or removes unit axes.
    fn unit_reshape(&self, n: NodeId) -> bool {
        let big = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
        big(&self.g.ty(n).shape) == big(&self.g.ty(self.arg(n, 0)).shape)
    }

    /// The binary op of `n`, if it is one.
    fn binary(&self, n: NodeId) -> Option<(crate::ir::BinOp, NodeId, NodeId)> {
        if let Op::Binary(b) = self.op(n) {
            Some((*b, self.arg(n, 0), self.arg(n, 1)))
        } else {
            None
        }
    }

    /// Whether `n` reduces `of` over its last axis with `r`.
    fn last_axis_reduce(&self, n: NodeId, r: ReduceOp, of: NodeId) -> bool {
        let last = self.g.ty(of).shape.len().wrapping_sub(1);
        matches!(self.op(n), Op::Reduce(op, axes) if *op == r && axes == &[last]) && self.arg(n, 0) == of
    }

    /// `z` when `e` is `exp(z − max_j z)` or `exp(z)`.
    fn exp_of(&self, e: NodeId) -> Option<NodeId> {
        if !matches!(self.op(e), Op::Unary(UnOp::Exp)) {
            return None;
        }
        let s = self.arg(e, 0);
        if let Some((BinOp::Sub, z, m)) = self.binary(s) {
            let m = self.strip(m);
            if self.last_axis_reduce(m, ReduceOp::Max, z) {
                return Some(z);
            }
        }
        Some(s)
    }

    /// `(q, z)` when `n` is `q ⊙ exp(…z…) / Σ_j exp(…z…)` with `q` one value per row.
    fn scaled_softmax(&self, n: NodeId) -> Option<(NodeId, NodeId)> {
        let (BinOp::Mul, a, b) = self.binary(n)? else { return None };
        for (p, e) in [(a, b), (b, a)] {
            let Some(z) = self.exp_of(e) else { continue };
            let Some((BinOp::Div, q, d)) = self.binary(self.strip(p)) else { continue };
            if self.last_axis_reduce(self.strip(d), ReduceOp::Sum, e) {
                return Some((q, z));
            }
        }
        None
    }

    /// `z` when `n` is `exp(…z…) / Σ_j exp(…z…)`.
    fn softmax(&self, n: NodeId) -> Option<NodeId> {
        let (BinOp::Div, e, d) = self.binary(n)? else { return None };
        let z = self.exp_of(e)?;
        self.last_axis_reduce(self.strip(d), ReduceOp::Sum, e).then_some(z)
    }

    /// `n` when `m` is the gradient through a row max, `[z = max_j z] ⊙ Σ_j n / Σ_j [z = max_j z]`.
    fn through_max(&self, m: NodeId) -> Option<NodeId> {
        let (BinOp::Mul, a, b) = self.binary(m)? else { return None };
        for (mask, share) in [(a, b), (b, a)] {
            let Some((BinOp::Eq, z, mx)) = self.binary(mask) else { continue };
            if !self.last_axis_reduce(self.strip(mx), ReduceOp::Max, z) {
                continue;
            }
            let Some((BinOp::Div, num, count)) = self.binary(self.strip(share)) else { continue };
            let (num, count) = (self.strip(num), self.strip(count));
            if self.last_axis_reduce(count, ReduceOp::Sum, mask) && matches!(self.op(num), Op::Reduce(ReduceOp::Sum, _))
            {
                let n = self.arg(num, 0);
                if self.last_axis_reduce(num, ReduceOp::Sum, n) {
                    return Some(n);
                }
            }
        }
        None
    }

    /// The value every row of `n` (over its last axis) sums to, when it is one known constant.
    fn row_sum(&self, n: NodeId) -> Option<f64> {
        if let Some((q, _)) = self.scaled_softmax(n) {
            return self.per_row(q);
        }
        if self.softmax(n).is_some() {
            return Some(1.0);
        }
        if let Some(inner) = self.through_max(n) {
            return self.row_sum(inner);
        }
        if matches!(self.op(n), Op::OneHot(_)) {
            return Some(1.0);
        }
        if let Op::Unary(u) = self.op(n) {
            return if u.is_negation() { self.row_sum(self.arg(n, 0)).map(|s| -s) } else { None };
        }
        let (op, a, b) = self.binary(n)?;
        match op {
            BinOp::Add => Some(self.row_sum(a)? + self.row_sum(b)?),
            BinOp::Sub => Some(self.row_sum(a)? - self.row_sum(b)?),
            BinOp::Mul => match (self.konst(a), self.konst(b)) {
                (Some(c), _) => self.row_sum(b).map(|s| c * s),
                (None, Some(c)) => self.row_sum(a).map(|s| c * s),
                (None, None) => None,
            },
            BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min | BinOp::Gt | BinOp::Eq => None,
        }
    }

    /// The constant a per-row value `q` holds, when `q` is a row sum of something with known row sums.
    fn per_row(&self, q: NodeId) -> Option<f64> {
        let s = self.strip(q);
        if matches!(self.op(s), Op::Reduce(ReduceOp::Sum, _)) && self.last_axis_reduce(s, ReduceOp::Sum, self.arg(s, 0))
        {
            self.row_sum(self.arg(s, 0))
        } else {
            self.konst(s)
        }
    }

    /// Whether `n` is the gradient through a row max that is zero (see the module docs).
    fn vanishes(&self, n: NodeId) -> bool {
        self.through_max(n).and_then(|inner| self.row_sum(inner)) == Some(0.0)
    }

    /// Whether `n` is a scalar or a broadcast of one.
    fn is_scalar(&self, n: NodeId) -> bool {
        self.g.ty(self.strip(n)).shape.iter().all(|&d| d == 1)
    }

    /// The term for node `n`.
    pub fn term(&mut self, n: NodeId) -> TermId {
        if let Some(&t) = self.memo.get(&n) {
            return t;
        }
        let t = self.build(n);
        self.memo.insert(n, t);
        t
    }

    fn build(&mut self, n: NodeId) -> TermId {
        let node = self.g.node(n).clone();
        if let (Some(name), false) = (self.names.get(&n), matches!(node.op, Op::Input(_) | Op::Const(_))) {
            return self.push(Term::Name(name.clone()), n);
        }
        let args = node.args.clone();
        match node.op.notation() {
            Notation::Input => {
                let Op::Input(k) = node.op else { unreachable!("only inputs are written as inputs") };
                self.push(Term::Name(self.g.inputs[k].name.clone()), n)
            }
            Notation::Number => {
                let c = self.konst(n).unwrap_or(f64::NAN);
                self.push(Term::Num(c), n)
            }
            Notation::Negate => {
                let a = self.term(args[0]);
                self.scale(-1.0, a, n)
            }
            Notation::Infix(Infix::Minus) if self.konst(args[0]) == Some(1.0) && self.comparison(args[1]) => {
                // `1 − [a > b]` is `[a ≤ b]`: how sema writes `>=`, `<=` and `!=`.
                self.mask(args[1], true)
            }
            Notation::Infix(Infix::Plus) | Notation::Infix(Infix::Minus) => {
                let sign = if node.op.notation() == Notation::Infix(Infix::Plus) { 1.0 } else { -1.0 };
                match (self.vanishes(args[0]), self.vanishes(args[1])) {
                    (false, true) => self.term(args[0]),
                    (true, false) if sign > 0.0 => self.term(args[1]),
                    _both_or_neither => {
                        let (a, b) = (self.term(args[0]), self.term(args[1]));
                        self.add(a, sign, b, n)
                    }
                }
            }
            Notation::Infix(Infix::Times) => {
                if let Some((q, z)) = self.scaled_softmax(n) {
                    let s = self.term(z);
                    let s = self.push(Term::Softmax(s), n);
                    return match self.per_row(q) {
                        Some(c) => self.scale(c, s, n),
                        None => {
                            let q = self.term(q);
                            self.push(Term::Prod(q, s, false), n)
                        }
                    };
                }
                match (self.konst(args[0]), self.konst(args[1])) {
                    (Some(c), _) => {
                        let b = self.term(args[1]);
                        self.scale(c, b, n)
                    }
                    (None, Some(c)) => {
                        let a = self.term(args[0]);
                        self.scale(c, a, n)
                    }
                    (None, None) => {
                        let scalar = self.is_scalar(args[0]) || self.is_scalar(args[1]);
                        let (a, b) = (self.term(args[0]), self.term(args[1]));
                        self.push(Term::Prod(a, b, scalar), n)
                    }
                }
            }
            Notation::Infix(Infix::Over) => {
                if let Some(z) = self.softmax(n) {
                    let s = self.term(z);
                    return self.push(Term::Softmax(s), n);
                }
                let a = self.term(args[0]);
                match self.konst(args[1]) {
                    Some(c) => self.scale(1.0 / c, a, n),
                    None => {
                        let b = self.term(args[1]);
                        self.push(Term::Quot(a, b), n)
                    }
                }
            }
            Notation::Infix(Infix::Power) => {
                let (a, b) = (self.term(args[0]), self.term(args[1]));
                self.push(Term::Pow(a, b), n)
            }
            Notation::Abs => {
                let a = self.term(args[0]);
                self.push(Term::Abs(a), n)
            }
            Notation::Bracket(rel) => {
                let (a, b) = (self.term(args[0]), self.term(args[1]));
                let rel = match rel {
                    Relation::Greater => Rel::Gt,
                    Relation::Equal => Rel::Eq,
                };
                self.push(Term::Bracket(a, rel, b), n)
            }
            Notation::Function(name) => {
                let ts = args.iter().map(|&a| self.term(a)).collect();
                self.push(Term::Func(name, ts), n)
            }
            Notation::View => {
                let a = self.term(args[0]);
                if matches!(node.op, Op::Reshape(_)) && !self.unit_reshape(n) {
                    self.push(Term::Reshape(a, node.ty.shape.clone()), n)
                } else {
                    a
                }
            }
            Notation::MatMul { ta, tb } => {
                let (a, b) = (self.term(args[0]), self.term(args[1]));
                self.push(Term::MatMul(a, ta, b, tb), n)
            }
            Notation::Sum(axes) | Notation::Max(axes) => {
                let shape = self.g.ty(args[0]).shape.clone();
                let batch = self.batch.is_some() && shape.first().copied() == self.batch;
                let letters = axes.iter().filter(|&&a| shape[a] != 1).map(|&a| letter(a, shape.len(), batch)).collect();
                let a = self.term(args[0]);
                if matches!(node.op.notation(), Notation::Sum(_)) {
                    self.push(Term::Sum(letters, a), n)
                } else {
                    self.push(Term::Max(letters, a), n)
                }
            }
            Notation::Select => self.select(n, &args),
        }
    }

    /// `select(c, a, b)`: with one branch zero, an Iverson bracket times the other.
    fn select(&mut self, n: NodeId, args: &[NodeId]) -> TermId {
        let (c, a, b) = (args[0], args[1], args[2]);
        let picked = match (self.konst(a), self.konst(b)) {
            (_, Some(0.0)) => Some((a, false)),
            (Some(0.0), _) => Some((b, true)),
            _neither => None,
        };
        match picked {
            Some((g, negated)) => {
                let mask = self.mask(c, negated);
                let g = self.term(g);
                self.push(Term::Prod(mask, g, false), n)
            }
            None => {
                let (c, a, b) = (self.term(c), self.term(a), self.term(b));
                self.push(Term::Where(c, a, b), n)
            }
        }
    }

    /// Whether `n` is a comparison, a 0/1 truth value.
    fn comparison(&self, n: NodeId) -> bool {
        self.binary(n).is_some_and(|(op, _, _)| op.is_comparison())
    }

    /// The bracket for a select mask `c` (or its negation): `[a > b]` for a comparison, with
    /// `a` written as the source names `max(a, 0)` when `b` is 0 (the ReLU's mask).
    fn mask(&mut self, c: NodeId, negated: bool) -> TermId {
        let (rel, a, b) = match self.binary(c) {
            Some((BinOp::Gt, a, b)) => (if negated { Rel::Le } else { Rel::Gt }, a, b),
            Some((BinOp::Eq, a, b)) => (if negated { Rel::Ne } else { Rel::Eq }, a, b),
            Some((BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Max | BinOp::Min, ..))
            | None => {
                let t = self.term(c);
                // A mask that is already a truth value is its own bracket.
                if let (Term::Bracket(a, rel, b), false) = (&self.terms[t], negated) {
                    let (a, rel, b) = (*a, *rel, *b);
                    return self.push(Term::Bracket(a, rel, b), c);
                }
                if let (Term::Bracket(a, rel, b), true) = (&self.terms[t], negated) {
                    let flipped = match rel {
                        Rel::Gt => Rel::Le,
                        Rel::Le => Rel::Gt,
                        Rel::Eq => Rel::Ne,
                        Rel::Ne => Rel::Eq,
                    };
                    let (a, b) = (*a, *b);
                    return self.push(Term::Bracket(a, flipped, b), c);
                }
                let zero = self.push(Term::Num(0.0), c);
                return self.push(Term::Bracket(t, if negated { Rel::Eq } else { Rel::Ne }, zero), c);
            }
        };
        let relu = (self.konst(b) == Some(0.0))
            .then(|| {
                (0..self.g.nodes.len()).map(|i| NodeId(i as u32)).find(|&m| {
                    matches!(self.binary(m), Some((BinOp::Max, x, z)) if x == a && self.konst(z) == Some(0.0))
                        && self.names.contains_key(&m)
                })
            })
            .flatten();
        let ta = self.term(relu.unwrap_or(a));
        let tb = self.term(b);
        self.push(Term::Bracket(ta, rel, tb), c)
    }

    /// The parts of a term as a linear combination.
    fn parts(&self, t: TermId) -> (Vec<(f64, TermId)>, f64) {
        if let Term::Lin(ts, k) = &self.terms[t] {
            (ts.clone(), *k)
        } else if let Term::Num(c) = &self.terms[t] {
            (vec![], *c)
        } else {
            (vec![(1.0, t)], 0.0)
        }
    }

    /// A linear combination, or the single term it reduces to.
    fn lin(&mut self, mut ts: Vec<(f64, TermId)>, k: f64, n: NodeId) -> TermId {
        ts.retain(|t| t.0 != 0.0);
        match ts.as_slice() {
            [] => self.push(Term::Num(k), n),
            [(c, t)] if *c == 1.0 && k == 0.0 => *t,
            _many => self.push(Term::Lin(ts, k), n),
        }
    }

    /// `a + sign·b`, like terms collected.
    fn add(&mut self, a: TermId, sign: f64, b: TermId, n: NodeId) -> TermId {
        let (mut ts, ka) = self.parts(a);
        let (us, kb) = self.parts(b);
        for (c, u) in us {
            match ts.iter_mut().find(|t| t.1 == u) {
                Some(t) => t.0 += sign * c,
                None => ts.push((sign * c, u)),
            }
        }
        self.lin(ts, ka + sign * kb, n)
    }

    /// `c·t`: a number folds, a single scaled term rescales, a sum stays whole inside.
    fn scale(&mut self, c: f64, t: TermId, n: NodeId) -> TermId {
        if let Term::Num(x) = self.terms[t] {
            return self.push(Term::Num(c * x), n);
        }
        if let Term::Lin(ts, k) = &self.terms[t] {
            if let ([(d, u)], 0.0) = (ts.as_slice(), *k) {
                let (d, u) = (*d, *u);
                return self.lin(vec![(c * d, u)], 0.0, n);
            }
        }
        self.lin(vec![(c, t)], 0.0, n)
    }
}
