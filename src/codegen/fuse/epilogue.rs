//! Epilogue fusion: the elementwise work right after a convolution or a max-pool gradient is
//! done by the window helper as it writes the result (`Kernel::Window`'s `Epilogue`), instead
//! of by elementwise kernels that read the whole result back. The only place that recognises
//! these producer–consumer patterns:
//!
//! - `max(conv2d(x, w) + bias, 0)`: a convolution, then optionally a per-channel bias (a
//!   broadcast of a graph input with `O` elements), then optionally ReLU (`max(·, 0)`, with the
//!   constant second, as `std.nn.relu` writes it).
//! - `select(gt(z, 0), max_pool2d_grad(x, g), 0)` where `x` is `z` or `max(z, 0)`: ReLU's
//!   gradient after a max pool of its output. `gt(max(z, 0), 0)` equals `gt(z, 0)` for every
//!   `z`, NaN and -0 included (both are false unless `z > 0`), so the helper masks by the
//!   pool's own input and the mask is never stored.
//!
//! A pattern folds only when every intermediate is used inside it and is not a graph output,
//! so nothing it hides is needed elsewhere. A ReLU folds into a convolution only when every
//! other user of its input is a mask that folded into a pool gradient.

use super::Fuser;
use crate::ir::{BinOp, Op, WindowOp};

/// What a window node's kernel does on its result, in graph nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Folded {
    /// Bias (the graph input node) and ReLU after a convolution.
    Conv { bias: Option<usize>, relu: bool },
    /// ReLU's gradient mask after a max-pool gradient.
    ReluMask,
}

/// A window node's epilogue and the node whose value its kernel writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fold {
    pub(super) what: Folded,
    pub(super) last: usize,
}

impl Fuser<'_> {
    /// Finds the epilogues: masks first, since a ReLU folds into its convolution only if the
    /// masks of its input folded.
    pub(super) fn fold_epilogues(&mut self) {
        let n = self.g.nodes.len();
        let mut masks = Vec::new();
        let mut folded_uses = vec![0; n];
        for s in 0..n {
            if let Some((p, m)) = self.relu_mask(s) {
                self.folds.insert(p, Fold { what: Folded::ReluMask, last: s });
                self.folded[s] = Some(p);
                folded_uses[m] += 1;
                masks.push((m, p));
            }
        }
        // A mask with a user outside the folds stays an elementwise node (reading `z`).
        for (m, p) in masks {
            if folded_uses[m] == self.users[m].len() {
                self.folded[m] = Some(p);
            }
        }
        for c in 0..n {
            if let Some((fold, members)) = self.conv_epilogue(c) {
                for x in members {
                    self.folded[x] = Some(c);
                }
                self.folds.insert(c, fold);
            }
        }
    }

    /// The bias node window node `w`'s epilogue reads, if any.
    pub(super) fn fold_bias(&self, w: usize) -> Option<usize> {
        match self.folds.get(&w)?.what {
            Folded::Conv { bias, .. } => bias,
            Folded::ReluMask => None,
        }
    }

    /// Whether `x` is the constant +0 (through broadcasts and reshapes).
    fn is_zero(&self, x: usize) -> bool {
        if let Op::Const(c) = self.op(x) {
            return c.to_bits() == 0.0f64.to_bits();
        }
        matches!(self.op(x), Op::Broadcast(_) | Op::Reshape(_)) && self.is_zero(self.g.nodes[x].args[0].index())
    }

    /// `Some(z)` if `x` is `max(z, 0)`: ReLU as `std.nn.relu` writes it.
    fn relu_of(&self, x: usize) -> Option<usize> {
        let args: Vec<usize> = self.args(x).collect();
        (matches!(self.op(x), Op::Binary(BinOp::Max)) && self.is_zero(args[1])).then_some(args[0])
    }

    /// `Some((p, m))` if `s` is `select(m, p, 0)` with `m = gt(z, 0)`, `p` a max-pool gradient
    /// of `z` or `max(z, 0)` used only here, and neither `p` nor `m` a graph output.
    fn relu_mask(&self, s: usize) -> Option<(usize, usize)> {
        if !matches!(self.op(s), Op::Select) {
            return None;
        }
        let [m, p, zero] = [0, 1, 2].map(|i| self.g.nodes[s].args[i].index());
        let pool_grad = matches!(self.op(p), Op::Window(WindowOp::MaxPoolGrad(_)));
        if !pool_grad || !self.is_zero(zero) || self.users[p] != [s] || self.is_output[p] || self.is_output[m] {
            return None;
        }
        let margs: Vec<usize> = self.args(m).collect();
        if !matches!(self.op(m), Op::Binary(BinOp::Gt)) || !self.is_zero(margs[1]) {
            return None;
        }
        let (z, x) = (margs[0], self.g.nodes[p].args[0].index());
        (x == z || self.relu_of(x) == Some(z)).then_some((p, m))
    }

    /// The epilogue of convolution node `c`, if it has one, and the nodes it folds.
    fn conv_epilogue(&self, c: usize) -> Option<(Fold, Vec<usize>)> {
        if !matches!(self.op(c), Op::Window(WindowOp::Conv(_))) || self.is_output[c] {
            return None;
        }
        let only_user = if let [u] = self.users[c][..] { Some(u) } else { None };
        let bias = only_user.and_then(|u| self.bias_of(u, c, self.shape(c)[1]));
        // The node ReLU applies to: the bias add, or the convolution itself.
        let a = match (bias, only_user) {
            (Some(_), Some(u)) => u,
            _ => c,
        };
        let relu = self.users[a].iter().copied().find(|&r| self.relu_of(r) == Some(a));
        let is_folded_mask = |v: usize| matches!(self.op(v), Op::Binary(BinOp::Gt)) && self.folded[v].is_some();
        let relu =
            relu.filter(|_| !self.is_output[a] && self.users[a].iter().all(|&v| Some(v) == relu || is_folded_mask(v)));
        let last = relu.unwrap_or(a);
        let members = [(a != c).then_some(a), relu].into_iter().flatten().collect();
        (bias.is_some() || relu.is_some())
            .then_some((Fold { what: Folded::Conv { bias, relu: relu.is_some() }, last }, members))
    }

    /// `Some(b)` if `u` is `c + broadcast(b)` (either order) with `b` a graph input of
    /// `channels` elements along dim 1 of `c`.
    fn bias_of(&self, u: usize, c: usize, channels: usize) -> Option<usize> {
        if !matches!(self.op(u), Op::Binary(BinOp::Add)) {
            return None;
        }
        let args: Vec<usize> = self.args(u).collect();
        let other = if args[0] == c { args[1] } else { args[0] };
        if !matches!(self.op(other), Op::Broadcast(_)) || other == c {
            return None;
        }
        let mut b = self.g.nodes[other].args[0].index();
        // The broadcast source, right-aligned to rank 4, must be [1, O, 1, 1].
        let from = self.shape(b);
        let lead = 4usize.checked_sub(from.len())?;
        let dims = (0..4).map(|i| if i < lead { 1 } else { from[i - lead] });
        if !dims.eq([1, channels, 1, 1]) {
            return None;
        }
        while matches!(self.op(b), Op::Reshape(_)) {
            b = self.g.nodes[b].args[0].index();
        }
        matches!(self.op(b), Op::Input(_)).then_some(b)
    }
}
