//! The VJP rules: one `match` arm per op, each written in IR ops below its maths.
//!
//! In the comments `g` is the gradient arriving at the node's output `y`, and `d/da` is the
//! gradient sent to operand `a`; `bcast`, `sum` and `expand` move values between shapes.

use crate::ir::{Graph, NodeId, Op, Shape};

/// Appends a node that autodiff built; a type error here is a bug in a VJP rule.
pub(super) fn push(g: &mut Graph, op: Op, args: Vec<NodeId>) -> NodeId {
    let name = op.name();
    g.push(op, args).unwrap_or_else(|e| panic!("internal compiler error: autodiff built an ill-typed `{name}`: {e}"))
}

/// The f32 constant `value` at `shape`: a scalar `Const`, broadcast unless `shape` is `[]`.
pub(super) fn splat(g: &mut Graph, value: f64, shape: &[usize]) -> NodeId {
    let c = g.constant(value);
    if shape.is_empty() {
        c
    } else {
        push(g, Op::Broadcast(shape.to_vec()), vec![c])
    }
}

/// Undoes a reduction's shape: `x` has `shape` with `axes` removed; the result has `shape`,
/// each element of `x` repeated along the reduced axes.
fn expand(g: &mut Graph, x: NodeId, axes: &[usize], shape: &Shape) -> NodeId {
    if axes.is_empty() {
        return x;
    }
    let keep: Shape = shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
    // Broadcasting aligns dims on the right, so leading size-1 dims need no reshape.
    let first = keep.iter().position(|&d| d != 1).unwrap_or(keep.len());
    let x = if keep[first..] == g.ty(x).shape[..] { x } else { push(g, Op::Reshape(keep), vec![x]) };
    push(g, Op::Broadcast(shape.clone()), vec![x])
}

/// The gradient each operand of `node` receives when its output receives `grad_out`.
///
/// Only operands with `wants[i]` set get a gradient; the others (constants, data, values
/// no parameter reaches) get `None` and no nodes are built for them.
pub(super) fn vjp(g: &mut Graph, node: NodeId, grad_out: NodeId, wants: &[bool]) -> Vec<Option<NodeId>> {
    let n = g.node(node).clone();
    let y = node;
    let gr = grad_out;
    // The first two operands (no rule needs a third's value); an op with fewer has `node` in
    // their place, which its arm never reads.
    let a = n.args.first().copied().unwrap_or(node);
    let b = n.args.get(1).copied().unwrap_or(node);
    let shape = n.ty.shape.clone();
    // `rule(i, f)` builds operand i's gradient with `f` only if it is wanted.
    let mut grads: Vec<Option<NodeId>> = vec![None; n.args.len()];
    let mut rule = |g: &mut Graph, i: usize, f: &dyn Fn(&mut Graph) -> NodeId| {
        if wants[i] {
            grads[i] = Some(f(g));
        }
    };
    match &n.op {
        // Inputs and constants have no operands.
        Op::Input(_) | Op::Const(_) => {}
        // f(a) = -a
        // df/da = -g
        Op::Neg => rule(g, 0, &|g| push(g, Op::Neg, vec![gr])),
        // f(a) = e^a
        // df/da = g * y
        Op::Exp => rule(g, 0, &|g| push(g, Op::Mul, vec![gr, y])),
        // f(a) = ln a
        // df/da = g / a
        Op::Log => rule(g, 0, &|g| push(g, Op::Div, vec![gr, a])),
        // f(a) = sqrt(a)
        // df/da = g / (2 * y)
        Op::Sqrt => rule(g, 0, &|g| {
            let two = splat(g, 2.0, &shape);
            let twice = push(g, Op::Mul, vec![two, y]);
            push(g, Op::Div, vec![gr, twice])
        }),
        // f(a) = |a|
        // df/da = g * sign(a)
        Op::Abs => rule(g, 0, &|g| {
            let s = push(g, Op::Sign, vec![a]);
            push(g, Op::Mul, vec![gr, s])
        }),
        // f(a) = tanh(a)
        // df/da = g * (1 - y^2)
        Op::Tanh => rule(g, 0, &|g| {
            let one = splat(g, 1.0, &shape);
            let sq = push(g, Op::Mul, vec![y, y]);
            let d = push(g, Op::Sub, vec![one, sq]);
            push(g, Op::Mul, vec![gr, d])
        }),
        // f(a) = cos a
        // df/da = -g * sin a
        Op::Cos => rule(g, 0, &|g| {
            let s = push(g, Op::Sin, vec![a]);
            let gs = push(g, Op::Mul, vec![gr, s]);
            push(g, Op::Neg, vec![gs])
        }),
        // f(a) = sin a
        // df/da = g * cos a
        Op::Sin => rule(g, 0, &|g| {
            let c = push(g, Op::Cos, vec![a]);
            push(g, Op::Mul, vec![gr, c])
        }),
        // f(a, b) = a + b
        // df/da = g, df/db = g
        Op::Add => {
            rule(g, 0, &|_| gr);
            rule(g, 1, &|_| gr);
        }
        // f(a, b) = a - b
        // df/da = g, df/db = -g
        Op::Sub => {
            rule(g, 0, &|_| gr);
            rule(g, 1, &|g| push(g, Op::Neg, vec![gr]));
        }
        // f(a, b) = a * b
        // df/da = g * b, df/db = g * a
        Op::Mul => {
            rule(g, 0, &|g| push(g, Op::Mul, vec![gr, b]));
            rule(g, 1, &|g| push(g, Op::Mul, vec![gr, a]));
        }
        // f(a, b) = a / b
        // df/da = g / b, df/db = -g * a / b^2 = -(g * y / b)
        Op::Div => {
            rule(g, 0, &|g| push(g, Op::Div, vec![gr, b]));
            rule(g, 1, &|g| {
                let gy = push(g, Op::Mul, vec![gr, y]);
                let q = push(g, Op::Div, vec![gy, b]);
                push(g, Op::Neg, vec![q])
            });
        }
        // f(a, b) = a ^ b
        // df/da = g * b * a^(b-1), df/db = g * ln(a) * y
        // A constant exponent (even behind a broadcast) is never wanted, so no `ln a` of a
        // negative `a` is built for it.
        Op::Pow => {
            rule(g, 0, &|g| {
                let one = splat(g, 1.0, &shape);
                let bm1 = push(g, Op::Sub, vec![b, one]);
                let p = push(g, Op::Pow, vec![a, bm1]);
                let bp = push(g, Op::Mul, vec![b, p]);
                push(g, Op::Mul, vec![gr, bp])
            });
            rule(g, 1, &|g| {
                let ln = push(g, Op::Log, vec![a]);
                let ly = push(g, Op::Mul, vec![ln, y]);
                push(g, Op::Mul, vec![gr, ly])
            });
        }
        // f(a, b) = max(a, b)
        // df/da = g * (a > b), df/db = g * (1 - (a > b)) = g - g * (a > b)
        // Ties send the gradient to `b`, so relu(x) = max(x, 0) has gradient 0 at 0.
        Op::Max => {
            let mask = push(g, Op::Gt, vec![a, b]);
            let ga = push(g, Op::Mul, vec![gr, mask]);
            rule(g, 0, &|_| ga);
            rule(g, 1, &|g| push(g, Op::Sub, vec![gr, ga]));
        }
        // f(a) = sign(a), f(a) = floor(a), f(a, b) = (a > b), f(a, b) = (a == b): piecewise constant
        // df/da = 0 (no gradient)
        Op::Sign | Op::Floor | Op::Gt | Op::Eq => {}
        // f(c, x, z) = c != 0 ? x : z, per element (here c is `a`, x is `b`, z the third operand)
        // df/dx = select(c, g, 0), df/dz = select(c, 0, g); the mask c is piecewise constant and
        // gets no gradient. Picking rather than multiplying by the mask keeps a NaN or inf in an
        // element of `g` away from the operand that element did not pick.
        Op::Select => {
            let zero = |g: &mut Graph| splat(g, 0.0, &shape);
            rule(g, 1, &|g| {
                let z = zero(g);
                push(g, Op::Select, vec![a, gr, z])
            });
            rule(g, 2, &|g| {
                let z = zero(g);
                push(g, Op::Select, vec![a, z, gr])
            });
        }
        // f(a) = bcast(a): each element of a is copied to several outputs
        // df/da = reshape(sum(g, broadcast axes))
        Op::Broadcast(to) => rule(g, 0, &|g| {
            let from = g.ty(a).shape.clone();
            let offset = to.len() - from.len();
            let axes: Vec<usize> =
                (0..to.len()).filter(|&i| i < offset || (from[i - offset] == 1 && to[i] != 1)).collect();
            if axes.is_empty() {
                return gr;
            }
            let s = push(g, Op::Sum(axes), vec![gr]);
            if g.ty(s).shape == from {
                s
            } else {
                push(g, Op::Reshape(from), vec![s])
            }
        }),
        // f(a) = reshape(a)
        // df/da = reshape(g) back to a's shape
        Op::Reshape(_) => rule(g, 0, &|g| {
            let from = g.ty(a).shape.clone();
            push(g, Op::Reshape(from), vec![gr])
        }),
        // f(a) = sum(a, axes)
        // df/da = expand(g): g repeated along the summed axes
        Op::Sum(axes) => rule(g, 0, &|g| {
            let from = g.ty(a).shape.clone();
            expand(g, gr, axes, &from)
        }),
        // f(a) = max(a, axes)
        // df/da = m * expand(g / sum(m, axes)) with m = (a == expand(y)):
        // the gradient goes to the maxima, split evenly among ties
        Op::MaxReduce(axes) => rule(g, 0, &|g| {
            let from = g.ty(a).shape.clone();
            let ye = expand(g, y, axes, &from);
            let m = push(g, Op::Eq, vec![a, ye]);
            let count = push(g, Op::Sum(axes.clone()), vec![m]);
            let share = push(g, Op::Div, vec![gr, count]);
            let se = expand(g, share, axes, &from);
            push(g, Op::Mul, vec![m, se])
        }),
        // f(A, B) = op(A) @ op(B), op(X) = X or Xᵀ; the flags make every transpose free.
        // C = A B:   dA = g Bᵀ,    dB = Aᵀ g
        // C = Aᵀ B:  dA = B gᵀ,    dB = A g
        // C = A Bᵀ:  dA = g B,     dB = gᵀ A
        // C = Aᵀ Bᵀ: dA = Bᵀ gᵀ,   dB = gᵀ Aᵀ
        Op::MatMul { ta, tb } => {
            let mm =
                |g: &mut Graph, ta: bool, tb: bool, x: NodeId, w: NodeId| push(g, Op::MatMul { ta, tb }, vec![x, w]);
            match (ta, tb) {
                (false, false) => {
                    rule(g, 0, &|g| mm(g, false, true, gr, b));
                    rule(g, 1, &|g| mm(g, true, false, a, gr));
                }
                (true, false) => {
                    rule(g, 0, &|g| mm(g, false, true, b, gr));
                    rule(g, 1, &|g| mm(g, false, false, a, gr));
                }
                (false, true) => {
                    rule(g, 0, &|g| mm(g, false, false, gr, b));
                    rule(g, 1, &|g| mm(g, true, false, gr, a));
                }
                (true, true) => {
                    rule(g, 0, &|g| mm(g, true, true, b, gr));
                    rule(g, 1, &|g| mm(g, true, true, gr, a));
                }
            }
        }
        // f(labels) = one_hot(labels), f(a) = argmax(a): integer-valued
        // no gradient
        Op::OneHot(_) | Op::Argmax(_) => {}
    }
    grads
}
