//! Gradient-health statistics as extra scalar outputs of the train step (`--grad-stats`): each
//! parameter's gradient norm and update-to-weight ratio, and each ReLU layer's fraction of dead
//! units. They are reductions inside the compiled step, so the runtime reads a few scalars
//! instead of copying tensors out; a step compiled without them does none of this work.
//!
//! Assumes `train_step` was composed from `backward` (so backward's node ids, the forward
//! pass's among them, mean the same nodes in it). The statistics only read values the step
//! computes anyway, so they cannot change the step's other outputs.

use crate::ir::{BinOp, Graph, InputRole, NodeId, Op, OutputRole, ReduceOp, Stat, UnOp};

/// The ReLU layers of `forward` that the loss depends on (not a metric's own copy of the
/// model) and whose activations depend on the data, each with its name:
/// sema's source name of the value (`h1`), or `relu<k>` (the k-th ReLU, 1-based) for one the
/// source does not name. A ReLU is `max(x, 0)`, as `std.nn.relu` lowers.
pub fn relu_layers(forward: &Graph, names: &[(NodeId, String)]) -> Vec<(NodeId, String)> {
    let n = forward.nodes.len();
    let mut from_data = vec![false; n];
    for (i, node) in forward.nodes.iter().enumerate() {
        from_data[i] = if let Op::Input(k) = node.op {
            forward.inputs[k].role == InputRole::Data
        } else {
            node.args.iter().any(|a| from_data[a.index()])
        };
    }
    let mut to_loss = vec![false; n];
    for o in forward.outputs.iter().filter(|o| o.role == OutputRole::Loss) {
        to_loss[o.node.index()] = true;
    }
    for i in (0..n).rev() {
        if to_loss[i] {
            for a in &forward.nodes[i].args {
                to_loss[a.index()] = true;
            }
        }
    }
    let is_zero = |id: NodeId| {
        let node = forward.node(id);
        let leaf = if let Op::Broadcast(_) = node.op { forward.node(node.args[0]) } else { node };
        leaf.op == Op::Const(0.0)
    };
    let mut layers: Vec<(NodeId, String)> = Vec::new();
    for (i, node) in forward.nodes.iter().enumerate() {
        let relu = node.op == Op::Binary(BinOp::Max) && node.args.iter().any(|&a| is_zero(a));
        // Axis 0 is the batch; a scalar has no units to count.
        if !relu || !from_data[i] || !to_loss[i] || node.ty.shape.is_empty() {
            continue;
        }
        let id = NodeId(i as u32);
        let k = layers.len() + 1;
        let mut name = names.iter().find(|(node, _)| *node == id).map_or(format!("relu{k}"), |(_, s)| s.clone());
        // Two values under one name (a layer called twice) keep apart, as in `gradc grad`.
        while layers.iter().any(|(_, taken)| *taken == name) {
            name.push('′');
        }
        layers.push((id, name));
    }
    layers
}

/// `train_step` with a [`Stat`] output per parameter (its gradient norm and update ratio, the
/// gradient as `backward` hands it to the update: after clipping and accumulation) and per
/// ReLU layer in `relus` (the fraction of its units that are 0 for every row of the batch).
///
/// # Panics
/// If a parameter of `train_step` has no gradient in `backward` (compose guarantees one).
pub fn grad_stats(train_step: &Graph, backward: &Graph, relus: &[(NodeId, String)]) -> Graph {
    let mut g = train_step.clone();
    let params: Vec<(String, NodeId)> =
        g.outputs.iter().filter(|o| o.role == OutputRole::Param).map(|o| (o.name.clone(), o.node)).collect();
    for (name, new) in params {
        let grad_name = format!("{name}.grad");
        let grad = backward.outputs.iter().find(|o| o.role == OutputRole::Grad && o.name == grad_name);
        let grad = grad.unwrap_or_else(|| panic!("parameter `{name}` has no gradient")).node;
        let k = g.input_index(&name).expect("in-place outputs name an input");
        let old = g.input_node(k);
        let grad_norm = norm(&mut g, grad);
        g.add_output(&Stat::GradNorm.output_name(&name), grad_norm, OutputRole::Stat);
        let diff = g.build(Op::Binary(BinOp::Sub), vec![new, old]);
        let (change, weights) = (norm(&mut g, diff), norm(&mut g, old));
        let ratio = g.build(Op::Binary(BinOp::Div), vec![change, weights]);
        g.add_output(&Stat::UpdateRatio.output_name(&name), ratio, OutputRole::Stat);
    }
    for (node, name) in relus {
        let dead = dead_fraction(&mut g, *node);
        g.add_output(&Stat::DeadRelu.output_name(name), dead, OutputRole::Stat);
    }
    g
}

/// The Euclidean norm of every element of `x`, a scalar.
fn norm(g: &mut Graph, x: NodeId) -> NodeId {
    let sq = g.build(Op::Binary(BinOp::Mul), vec![x, x]);
    let sum = sum_all(g, sq);
    g.build(Op::Unary(UnOp::Sqrt), vec![sum])
}

/// The sum of every element of `x`, a scalar.
fn sum_all(g: &mut Graph, x: NodeId) -> NodeId {
    let axes: Vec<usize> = (0..g.ty(x).shape.len()).collect();
    if axes.is_empty() {
        x
    } else {
        g.build(Op::Reduce(ReduceOp::Sum, axes), vec![x])
    }
}

/// The fraction of the units of the activation `a` (`[B, ...]`, never negative) that are 0 in
/// every row: a unit is an index into the axes after the batch's.
fn dead_fraction(g: &mut Graph, a: NodeId) -> NodeId {
    let shape = g.ty(a).shape.clone();
    let most = g.build(Op::Reduce(ReduceOp::Max, vec![0]), vec![a]);
    let rest = &shape[1..];
    let zero = g.constant(0.0);
    let zeros = if rest.is_empty() { zero } else { g.build(Op::Broadcast(rest.to_vec()), vec![zero]) };
    let dead = g.build(Op::Binary(BinOp::Eq), vec![most, zeros]);
    let count = sum_all(g, dead);
    let units = g.constant(rest.iter().product::<usize>() as f64);
    g.build(Op::Binary(BinOp::Div), vec![count, units])
}
