//! Between backward and update: a data-parallel rank's share of the loss and the sum of the
//! ranks' gradients, gradient clipping, gradient accumulation and the update norm, each a
//! rewrite of graphs that keeps their inputs and outputs typed as before.
//!
//! Assumes graphs from `backward` (gradients as `Grad` outputs) and from sema's update
//! elaboration (new values as `Param`/`State` outputs). Guarantees: the rewritten graphs verify.

use crate::ir::{BinOp, Graph, InputRole, NodeId, Op, OutputRole, ReduceOp, StepInput, StepOutput, UnOp};

/// How to clip gradients, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Scale all gradients by `min(1, max_norm / (norm + 1e-6))`, `norm` over every parameter.
    GlobalNorm(f64),
    /// Clamp every gradient element to `[-v, v]`.
    Value(f64),
}

/// A scalar node broadcast to `shape`.
fn at_shape(g: &mut Graph, scalar: NodeId, shape: &[usize]) -> NodeId {
    if shape.is_empty() {
        scalar
    } else {
        g.build(Op::Broadcast(shape.to_vec()), vec![scalar])
    }
}

/// `cond ? a : b` for a scalar 0/1 `cond` and tensors `a`, `b` of one shape.
fn select(g: &mut Graph, cond: NodeId, a: NodeId, b: NodeId) -> NodeId {
    let shape = g.ty(a).shape.clone();
    let c = at_shape(g, cond, &shape);
    g.build(Op::Select, vec![c, a, b])
}

/// The sum of squares of every element of `nodes`, a scalar.
fn sum_of_squares(g: &mut Graph, nodes: &[NodeId]) -> NodeId {
    let mut total = g.constant(0.0);
    for &n in nodes {
        let sq = g.build(Op::Binary(BinOp::Mul), vec![n, n]);
        let axes: Vec<usize> = (0..g.ty(n).shape.len()).collect();
        let s = if axes.is_empty() { sq } else { g.build(Op::Reduce(ReduceOp::Sum, axes), vec![sq]) };
        total = g.build(Op::Binary(BinOp::Add), vec![total, s]);
    }
    total
}

/// One rank's forward graph of a data-parallel step: its loss times `share`, the rank's
/// fraction of the global batch's rows. A loss that averages over its rows then adds up over
/// the ranks to the global batch's loss, and so do its gradients (terms that do not depend on
/// the rows, a penalty on the weights, add up to themselves since the shares sum to 1).
/// A share of 1 (one rank) leaves the graph's values unchanged.
pub fn share_loss(forward: &Graph, share: f64) -> Graph {
    let mut g = forward.clone();
    let i = g.outputs.iter().position(|o| o.role == OutputRole::Loss).expect("a forward graph has a loss");
    let s = g.constant(share);
    g.outputs[i].node = g.build(Op::Binary(BinOp::Mul), vec![g.outputs[i].node, s]);
    g
}

/// One rank's forward graph drawing, at every `rand` over the batch's rows, the numbers the
/// single process draws for those rows, so that dropout masks are the single process's:
/// `global` is the single process's forward graph at the whole batch, `first_row` where the
/// rank's rows start in it. A `rand` of the same shape in both draws as it did (it does not
/// depend on the batch). `Err` with the call site's key of a `rand` whose shape depends on
/// the batch other than by its first axis: its numbers have no contiguous share to take.
pub fn offset_rand(local: &Graph, global: &Graph, first_row: usize) -> Result<Graph, u64> {
    let mut g = local.clone();
    for node in &mut g.nodes {
        let Op::Rand { key, shape, first } = &mut node.op else { continue };
        let theirs = global.nodes.iter().find_map(|n| {
            if let Op::Rand { key: k, shape: s, .. } = &n.op {
                (k == key).then_some(s)
            } else {
                None
            }
        });
        match theirs {
            Some(s) if s == shape => {}
            Some(s) if !s.is_empty() && !shape.is_empty() && s[1..] == shape[1..] => {
                *first = (first_row * shape[1..].iter().product::<usize>()) as u64;
            }
            Some(_) | None => return Err(*key),
        }
    }
    Ok(g)
}

/// The backward graph of a data-parallel rank with every gradient and the loss summed over the
/// ranks (`all_sum`): each rank then clips, accumulates and updates with the global batch's
/// gradient, so the ranks' parameters stay identical, and logs the global batch's loss.
/// Applied to [`share_loss`]'s graph, before clipping, so a global norm is the norm over all
/// ranks.
pub fn all_sum(backward: &Graph) -> Graph {
    let mut g = backward.clone();
    for i in 0..g.outputs.len() {
        if matches!(g.outputs[i].role, OutputRole::Grad | OutputRole::Loss) {
            g.outputs[i].node = g.build(Op::AllSum, vec![g.outputs[i].node]);
        }
    }
    g
}

/// Clips the gradients of `backward` as torch.nn.utils does: by global norm, scaling every
/// gradient by `min(1, max / (norm + 1e-6))` with the norm over all parameters together; or by
/// value, clamping each element to `[-max, max]`.
pub fn clip(backward: &Graph, clip: Clip) -> Graph {
    let mut g = backward.clone();
    let grads: Vec<usize> = (0..g.outputs.len()).filter(|&i| g.outputs[i].role == OutputRole::Grad).collect();
    match clip {
        Clip::GlobalNorm(max) => {
            let nodes: Vec<NodeId> = grads.iter().map(|&i| g.outputs[i].node).collect();
            let ss = sum_of_squares(&mut g, &nodes);
            let norm = g.build(Op::Unary(UnOp::Sqrt), vec![ss]);
            let eps = g.constant(1e-6);
            let denom = g.build(Op::Binary(BinOp::Add), vec![norm, eps]);
            let max = g.constant(max);
            let ratio = g.build(Op::Binary(BinOp::Div), vec![max, denom]);
            let one = g.constant(1.0);
            let coef = g.build(Op::Binary(BinOp::Min), vec![ratio, one]);
            for &i in &grads {
                let grad = g.outputs[i].node;
                let shape = g.ty(grad).shape.clone();
                let c = at_shape(&mut g, coef, &shape);
                g.outputs[i].node = g.build(Op::Binary(BinOp::Mul), vec![grad, c]);
            }
        }
        Clip::Value(max) => {
            for &i in &grads {
                let grad = g.outputs[i].node;
                let shape = g.ty(grad).shape.clone();
                let lo = g.constant(-max);
                let lo = at_shape(&mut g, lo, &shape);
                let hi = g.constant(max);
                let hi = at_shape(&mut g, hi, &shape);
                // clamp(x, -max, max) = min(max(x, -max), max)
                let above = g.build(Op::Binary(BinOp::Max), vec![grad, lo]);
                g.outputs[i].node = g.build(Op::Binary(BinOp::Min), vec![above, hi]);
            }
        }
    }
    g
}

/// Gradient accumulation over `k` micro-batches. The backward graph sums each gradient into an
/// accumulator (`<param>.acc`, state) and hands `sum / k` to the update; a step input `apply`
/// (1 on every `k`-th micro-batch, else 0) decides whether the update's new parameters and
/// state replace the old ones, and whether the accumulators restart from zero.
pub fn accumulate(backward: &Graph, update: &Graph, k: usize) -> (Graph, Graph) {
    let mut b = backward.clone();
    let apply = b.add_step_input(StepInput::Apply);
    let grads: Vec<usize> = (0..b.outputs.len()).filter(|&i| b.outputs[i].role == OutputRole::Grad).collect();
    let scale = b.constant(1.0 / k as f64);
    let zero = b.constant(0.0);
    for i in grads {
        let grad = b.outputs[i].node;
        let ty = b.ty(grad).clone();
        let name = format!("{}.acc", b.outputs[i].name.trim_end_matches(".grad"));
        let acc = b.add_input(&name, ty.clone(), InputRole::State);
        let sum = b.build(Op::Binary(BinOp::Add), vec![acc, grad]);
        let s = at_shape(&mut b, scale, &ty.shape);
        b.outputs[i].node = b.build(Op::Binary(BinOp::Mul), vec![sum, s]);
        let zeros = at_shape(&mut b, zero, &ty.shape);
        let next = select(&mut b, apply, zeros, sum);
        b.add_output(&name, next, OutputRole::State);
    }
    let mut u = update.clone();
    let apply = u.add_step_input(StepInput::Apply);
    for i in 0..u.outputs.len() {
        if matches!(u.outputs[i].role, OutputRole::Param | OutputRole::State) {
            let k = u.input_index(&u.outputs[i].name).expect("in-place outputs name an input");
            let old = u.input_node(k);
            let new = u.outputs[i].node;
            u.outputs[i].node = select(&mut u, apply, new, old);
        }
    }
    (b, u)
}

/// Adds the step output `update_norm`: the Euclidean norm of the change of all parameters.
pub fn update_norm(train_step: &Graph) -> Graph {
    let mut g = train_step.clone();
    let mut diffs = Vec::new();
    for o in g.outputs.clone().iter().filter(|o| o.role == OutputRole::Param) {
        let k = g.input_index(&o.name).expect("in-place outputs name an input");
        let old = g.input_node(k);
        diffs.push(g.build(Op::Binary(BinOp::Sub), vec![o.node, old]));
    }
    let ss = sum_of_squares(&mut g, &diffs);
    let norm = g.build(Op::Unary(UnOp::Sqrt), vec![ss]);
    g.add_step_output(StepOutput::UpdateNorm, norm);
    g
}
