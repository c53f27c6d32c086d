//! Algebraic simplification. Assumes a verified graph; guarantees the same inputs and outputs,
//! every node of the same type as the node it replaces, and no rule left to apply, in one
//! forward sweep (operands are simplified before their users, and each rewrite's new nodes are
//! simplified as they are built). Nodes a rewrite leaves unused stay: DCE removes them.
//!
//! The algebraic facts come from the op table (`ir::elementwise`): identities, zeros, cheaper
//! forms with a constant operand, involutions and absorbed negations. Rules, where a constant
//! seen through a `Broadcast` counts as that constant:
//! elementwise ops on constants fold (computed by the reference interpreter, rounded to f32);
//! `bcast(bcast x)` and `reshape(reshape x)` collapse; a broadcast or reshape to the operand's
//! own shape, and a sum or max over no axes, is the operand; `x*1`, `1*x`, `x+0`, `0+x`, `x-0`,
//! `x/1`, `--x` and `x^1` are `x`; `x*0` and `0*x` are `0`; `x^0` is `1`; `x^2` is `x*x`;
//! `x^0.5` is `sqrt x`; `x^-1` is `1/x`; `x-(-y)` is `x+y`; `x+(-y)` and `(-y)+x` are `x-y`;
//! `select(k, x, y)` with a constant mask `k` is `x` when `k != 0` (NaN included) and `y`
//! otherwise; `select(c, x, x)` is `x`, as is `select(c, x, y)` when `x` and `y` are the same
//! constant (bit for bit).
//! These hold for real numbers; IEEE corner cases are not kept: `0*x` is `0` even when `x` is
//! an infinity or NaN, the sign of a zero may change, and `(-inf)^0.5` becomes `NaN`. The
//! select rules are exact even there. The identity permutation, a slice of a whole axis and a concat of one operand are the operand. A cast to the operand's own element type is the operand;
//! a cast to i32 of a constant does not fold (constants are f32).

use crate::ir::interp::{eval_op, Tensor};
use crate::ir::{BinOp, DType, Graph, NodeId, Op, Rewrite, Type, UnOp};

/// Simplifies every node, building the result in one forward sweep.
pub fn run(g: &Graph) -> Graph {
    let mut s = Simplifier {
        out: Graph { name: g.name.clone(), inputs: g.inputs.clone(), nodes: Vec::new(), outputs: Vec::new() },
    };
    let mut map: Vec<NodeId> = Vec::with_capacity(g.nodes.len());
    for node in &g.nodes {
        let args: Vec<NodeId> = node.args.iter().map(|a| map[a.index()]).collect();
        let id = if let Op::Input(_) = node.op {
            s.out.push_typed(node.op.clone(), args, node.ty.clone())
        } else {
            s.emit(node.op.clone(), args, node.ty.clone())
        };
        map.push(id);
    }
    for o in &g.outputs {
        s.out.add_output(&o.name, map[o.node.index()], o.role);
    }
    s.out
}

/// The graph being built.
struct Simplifier {
    out: Graph,
}

impl Simplifier {
    /// The node for `op(args)` of type `ty`: an existing or simpler node when a rule applies.
    fn emit(&mut self, op: Op, args: Vec<NodeId>, ty: Type) -> NodeId {
        match self.rewrite(&op, &args, &ty) {
            Some(x) => {
                assert_eq!(
                    self.out.ty(x),
                    &ty,
                    "internal compiler error: simplify changed the type of `{}`",
                    op.name()
                );
                x
            }
            None => self.out.push_typed(op, args, ty),
        }
    }

    /// The scalar constant `id` holds at every element, if it is a `Const` or a broadcast of one.
    fn konst(&self, id: NodeId) -> Option<f64> {
        let node = self.out.node(id);
        if let Op::Const(c) = node.op {
            Some(c)
        } else if let Op::Broadcast(_) = node.op {
            self.konst(node.args[0])
        } else {
            None
        }
    }

    /// The operand of `id` if it is a unary node of this op.
    fn operand_if(&self, id: NodeId, op: impl Fn(UnOp) -> bool) -> Option<NodeId> {
        let node = self.out.node(id);
        match node.op {
            Op::Unary(u) if op(u) => Some(node.args[0]),
            Op::Unary(_) | Op::Input(_) | Op::Const(_) | Op::Binary(_) | Op::Select => None,
            Op::Broadcast(_) | Op::Reshape(_) | Op::Reduce(..) | Op::MatMul { .. } | Op::OneHot(_) | Op::Argmax(_) => {
                None
            }
            Op::Window(_) | Op::Rand { .. } | Op::AllSum => None,
            Op::Cast(_) | Op::Permute(_) | Op::Slice { .. } | Op::Concat { .. } | Op::Gather | Op::ScatterAdd(_) => {
                None
            }
        }
    }

    /// The operand of `id` if it is the same view op (`Broadcast` or `Reshape`) as `op`.
    fn same_view(&self, id: NodeId, op: &Op) -> Option<NodeId> {
        let node = self.out.node(id);
        (std::mem::discriminant(&node.op) == std::mem::discriminant(op)).then(|| node.args[0])
    }

    /// The f32 constant `value` at `shape`.
    fn splat(&mut self, value: f64, shape: &[usize]) -> NodeId {
        let c = self.out.constant(value);
        if shape.is_empty() {
            c
        } else {
            self.out.push_typed(Op::Broadcast(shape.to_vec()), vec![c], Type::f32(shape.to_vec()))
        }
    }

    /// A simpler node equal to `op(args)`, if a rule applies.
    fn rewrite(&mut self, op: &Op, args: &[NodeId], ty: &Type) -> Option<NodeId> {
        let shape = &ty.shape;
        // Constants are f32, so only ops with an f32 result fold (not a cast to i32).
        if op.is_elementwise() && ty.dtype == DType::F32 {
            let consts: Option<Vec<f64>> = args.iter().map(|&a| self.konst(a)).collect();
            if let Some(cs) = consts {
                let scalars: Vec<Tensor> = cs.iter().map(|&c| Tensor::scalar(c)).collect();
                let refs: Vec<&Tensor> = scalars.iter().collect();
                let value = eval_op(op, &refs, &Type::scalar(DType::F32)).data[0];
                return Some(self.splat(value, shape));
            }
        }
        let a = args.first().copied();
        let b = args.get(1).copied();
        let c = args.get(2).copied();
        let ka = a.and_then(|a| self.konst(a));
        let kb = b.and_then(|b| self.konst(b));
        let kc = c.and_then(|c| self.konst(c));
        // An op with fewer operands has `NodeId(0)` in their place, which its arm never reads.
        let (a, b, c) = (a.unwrap_or(NodeId(0)), b.unwrap_or(NodeId(0)), c.unwrap_or(NodeId(0)));
        match op {
            Op::Broadcast(_) | Op::Reshape(_) if &self.out.ty(a).shape == shape => Some(a),
            Op::Broadcast(to) => {
                let inner = self.same_view(a, op)?;
                Some(self.emit(Op::Broadcast(to.clone()), vec![inner], ty.clone()))
            }
            Op::Reshape(to) => match (ka, self.same_view(a, op)) {
                (Some(c), _) => Some(self.splat(c, to)),
                (None, Some(inner)) => Some(self.emit(Op::Reshape(to.clone()), vec![inner], ty.clone())),
                (None, None) => None,
            },
            Op::Reduce(_, axes) => axes.is_empty().then_some(a),
            Op::Binary(bop) => self.binary(*bop, (a, ka), (b, kb), ty),
            Op::Unary(u) if u.is_involution() => self.operand_if(a, |v| v == *u),
            // select(mask, b, c)
            Op::Select => match (ka, kb, kc) {
                (Some(k), _, _) => Some(if k != 0.0 { b } else { c }),
                _ if b == c => Some(b),
                (_, Some(x), Some(y)) if x.to_bits() == y.to_bits() => Some(b),
                _ => None,
            },
            Op::Cast(to) if self.out.ty(a).dtype == *to => Some(a),
            Op::Permute(p) if p.iter().enumerate().all(|(i, &k)| i == k) => Some(a),
            Op::Slice { .. } if &self.out.ty(a).shape == shape => Some(a),
            Op::Concat { parts: 1, .. } => Some(a),
            Op::Input(_) | Op::Const(_) | Op::Unary(_) | Op::MatMul { .. } | Op::OneHot(_) | Op::Argmax(_) => None,
            Op::Window(_) | Op::Rand { .. } | Op::AllSum => None,
            Op::Cast(_) | Op::Permute(_) | Op::Slice { .. } | Op::Concat { .. } | Op::Gather | Op::ScatterAdd(_) => {
                None
            }
        }
    }

    /// A simpler node equal to `a op b`, from the table's algebraic facts about `op`.
    fn binary(
        &mut self,
        op: BinOp,
        (a, ka): (NodeId, Option<f64>),
        (b, kb): (NodeId, Option<f64>),
        ty: &Type,
    ) -> Option<NodeId> {
        let shape = &ty.shape;
        if kb.is_some() && kb == op.right_identity() {
            return Some(a);
        }
        if ka.is_some() && ka == op.left_identity() {
            return Some(b);
        }
        if let Some(z) = op.zero() {
            if ka == Some(z) || kb == Some(z) {
                return Some(self.splat(z, shape));
            }
        }
        if let Some(k) = kb {
            match op.with_const_rhs(k) {
                Some(Rewrite::Const(c)) => return Some(self.splat(c, shape)),
                Some(Rewrite::SelfBinary(o)) => return Some(self.emit(Op::Binary(o), vec![a, a], ty.clone())),
                Some(Rewrite::Unary(u)) => return Some(self.emit(Op::Unary(u), vec![a], ty.clone())),
                Some(Rewrite::ConstLhs(c, o)) => {
                    let c = self.splat(c, shape);
                    return Some(self.emit(Op::Binary(o), vec![c, a], ty.clone()));
                }
                None => {}
            }
        }
        if let Some(o) = op.absorbs_negated_rhs() {
            if let Some(y) = self.operand_if(b, UnOp::is_negation) {
                return Some(self.emit(Op::Binary(o), vec![a, y], ty.clone()));
            }
        }
        let o = op.absorbs_negated_lhs()?;
        let y = self.operand_if(a, UnOp::is_negation)?;
        Some(self.emit(Op::Binary(o), vec![b, y], ty.clone()))
    }
}
