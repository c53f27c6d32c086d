//! Reverse-mode automatic differentiation, graph to graph: [`backward`] appends the gradient
//! of the loss with respect to every parameter, and [`compose`] joins it with an optimizer's
//! update graph into the `train_step` graph.

pub mod control;
pub mod stats;

#[cfg(test)]
mod tests;

use crate::ir::{BinOp, DType, Graph, InputRole, NodeId, Op, OutputRole, Type};

/// The forward graph with the gradient of its loss appended: one `<param>.grad` output per parameter.
///
/// The result, named `backward`, keeps every forward node, input and output, then appends the
/// reverse sweep and, for each `Param` input in input order, a `Grad` output named
/// `<param>.grad` of the parameter's type. Only nodes on a path from a parameter to the loss
/// are differentiated; a parameter the loss does not depend on gets a zero gradient.
///
/// # Panics
/// If `forward` does not have exactly one `Loss` output or the loss is not an f32 scalar
/// (sema guarantees both), or if a VJP rule builds an ill-typed node (a compiler bug).
pub fn backward(forward: &Graph) -> Graph {
    let mut g = forward.clone();
    g.name = "backward".to_string();
    let losses: Vec<NodeId> = forward.outputs.iter().filter(|o| o.role == OutputRole::Loss).map(|o| o.node).collect();
    let [loss] = losses[..] else {
        panic!("graph `{}` has {} loss outputs, autodiff needs exactly one", forward.name, losses.len());
    };
    assert_eq!(forward.ty(loss), &Type::scalar(DType::F32), "the loss must be an f32 scalar");

    // A node is on a path when it is an f32 value that depends on a parameter and the loss
    // depends on it; only those are differentiated.
    let n = forward.nodes.len();
    let mut from_param = vec![false; n];
    for (i, node) in forward.nodes.iter().enumerate() {
        from_param[i] = if let Op::Input(k) = node.op {
            forward.inputs[k].role == InputRole::Param
        } else {
            node.args.iter().any(|a| from_param[a.index()])
        };
    }
    let mut to_loss = vec![false; n];
    to_loss[loss.index()] = true;
    for i in (0..n).rev() {
        if to_loss[i] {
            for a in &forward.nodes[i].args {
                to_loss[a.index()] = true;
            }
        }
    }
    let on_path: Vec<bool> =
        (0..n).map(|i| from_param[i] && to_loss[i] && forward.nodes[i].ty.dtype == DType::F32).collect();

    // The reverse sweep: each node's gradient is complete before its VJP runs, since all its
    // users come later in topological order.
    let mut grads: Vec<Option<NodeId>> = vec![None; n];
    if on_path[loss.index()] {
        grads[loss.index()] = Some(g.constant(1.0));
    }
    for i in (0..n).rev() {
        let Some(grad_out) = grads[i] else { continue };
        let args = forward.nodes[i].args.clone();
        let wants: Vec<bool> = args.iter().map(|a| on_path[a.index()]).collect();
        let op = forward.nodes[i].op.clone();
        for (arg, contribution) in args.iter().zip(op.vjp(&mut g, NodeId(i as u32), grad_out, &wants)) {
            let Some(c) = contribution else { continue };
            assert_eq!(
                g.ty(c),
                g.ty(*arg),
                "the VJP of `{}` gave a gradient of the wrong type",
                g.node(NodeId(i as u32)).op.name()
            );
            grads[arg.index()] = Some(match grads[arg.index()] {
                Some(prev) => g.build(Op::Binary(BinOp::Add), vec![prev, c]),
                None => c,
            });
        }
    }

    for (k, input) in forward.inputs.iter().enumerate() {
        if input.role != InputRole::Param {
            continue;
        }
        let grad = match grads[forward.input_node(k).index()] {
            Some(d) => d,
            None => g.splat(0.0, &input.ty.shape),
        };
        g.add_output(&format!("{}.grad", input.name), grad, OutputRole::Grad);
    }
    g
}

/// The `train_step` graph: `backward` followed by `update`, with the update's gradients wired
/// to the backward graph's `Grad` outputs.
///
/// `update` reads `Param`, `Grad` (`<param>.grad`), `State` and `Step` inputs. Each `Grad`
/// input becomes the backward graph's output of that name; every other update input is
/// unified by name with a backward input of the same role and type if there is one (the
/// parameters), else added as a new input (state, step). The outputs are the backward
/// graph's outputs except its gradients, then the update's outputs.
///
/// # Panics
/// If `update` reads a gradient `backward` does not compute, or an input whose name matches a
/// backward input of another role or type (sema guarantees neither happens).
pub fn compose(backward: &Graph, update: &Graph) -> Graph {
    let mut g = backward.clone();
    g.name = "train_step".to_string();
    g.outputs.retain(|o| o.role != OutputRole::Grad);
    let mut map: Vec<NodeId> = Vec::with_capacity(update.nodes.len());
    for node in &update.nodes {
        let id = if let Op::Input(k) = node.op {
            let input = &update.inputs[k];
            {
                if input.role == InputRole::Grad {
                    let out = backward.outputs.iter().find(|o| o.role == OutputRole::Grad && o.name == input.name);
                    let out = out.unwrap_or_else(|| {
                        panic!("the update reads `{}`, which backward does not compute", input.name)
                    });
                    assert_eq!(backward.ty(out.node), &input.ty, "`{}` has another type in backward", input.name);
                    out.node
                } else {
                    match backward.input_index(&input.name) {
                        Some(j) => {
                            let theirs = &backward.inputs[j];
                            assert!(
                                theirs.role == input.role && theirs.ty == input.ty,
                                "update input `{}` clashes with a backward input of the same name",
                                input.name
                            );
                            backward.input_node(j)
                        }
                        None => g.add_input(&input.name, input.ty.clone(), input.role),
                    }
                }
            }
        } else {
            let args = node.args.iter().map(|a| map[a.index()]).collect();
            g.push_typed(node.op.clone(), args, node.ty.clone())
        };
        map.push(id);
    }
    for o in &update.outputs {
        g.add_output(&o.name, map[o.node.index()], o.role);
    }
    g
}
