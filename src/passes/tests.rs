//! One snapshot per pass over shared fixture graphs, each showing the input beside the output,
//! and checks that every pass keeps what the fixtures compute.

use super::{cse, dce, optimize, simplify};
use crate::ir::interp::{eval, Tensor};
use crate::ir::print::print;
use crate::ir::{BinOp, Graph, InputRole, NodeId, Op, OutputRole, ReduceOp, Type, UnOp};

fn op(g: &mut Graph, op: Op, args: &[NodeId]) -> NodeId {
    g.push(op, args.to_vec()).expect("fixture is well-typed")
}

fn splat(g: &mut Graph, c: f32, shape: &[usize]) -> NodeId {
    let k = g.constant(f64::from(c));
    op(g, Op::Broadcast(shape.to_vec()), &[k])
}

/// Every simplification rule once, each result a separate output.
fn algebra() -> Graph {
    let mut g = Graph::new("algebra");
    let s = [2, 3];
    let x = g.add_input("x", Type::f32(s.to_vec()), InputRole::Data);
    let y = g.add_input("y", Type::f32(s.to_vec()), InputRole::Data);
    let mut outs: Vec<(&str, NodeId)> = Vec::new();
    let one = splat(&mut g, 1.0, &s);
    let zero = splat(&mut g, 0.0, &s);
    outs.push(("x_times_1", op(&mut g, Op::Binary(BinOp::Mul), &[x, one])));
    outs.push(("1_times_x", op(&mut g, Op::Binary(BinOp::Mul), &[one, x])));
    outs.push(("x_times_0", op(&mut g, Op::Binary(BinOp::Mul), &[x, zero])));
    outs.push(("x_plus_0", op(&mut g, Op::Binary(BinOp::Add), &[x, zero])));
    outs.push(("0_plus_x", op(&mut g, Op::Binary(BinOp::Add), &[zero, x])));
    outs.push(("x_minus_0", op(&mut g, Op::Binary(BinOp::Sub), &[x, zero])));
    outs.push(("x_over_1", op(&mut g, Op::Binary(BinOp::Div), &[x, one])));
    let nx = op(&mut g, Op::Unary(UnOp::Neg), &[x]);
    outs.push(("neg_neg_x", op(&mut g, Op::Unary(UnOp::Neg), &[nx])));
    let ny = op(&mut g, Op::Unary(UnOp::Neg), &[y]);
    outs.push(("x_minus_neg_y", op(&mut g, Op::Binary(BinOp::Sub), &[x, ny])));
    outs.push(("x_plus_neg_y", op(&mut g, Op::Binary(BinOp::Add), &[x, ny])));
    outs.push(("neg_y_plus_x", op(&mut g, Op::Binary(BinOp::Add), &[ny, x])));
    for (name, c) in [("x_pow_1", 1.0), ("x_pow_0", 0.0), ("x_pow_2", 2.0), ("x_pow_half", 0.5), ("x_pow_m1", -1.0)] {
        let e = splat(&mut g, c, &s);
        outs.push((name, op(&mut g, Op::Binary(BinOp::Pow), &[x, e])));
    }
    // Folding through broadcasts: (2 + 3) * x, then exp(0) and 2 > 1 as scalars.
    let two = g.constant(2.0);
    let three = g.constant(3.0);
    let five = op(&mut g, Op::Binary(BinOp::Add), &[two, three]);
    let fiveb = op(&mut g, Op::Broadcast(s.to_vec()), &[five]);
    outs.push(("folded_times_x", op(&mut g, Op::Binary(BinOp::Mul), &[fiveb, x])));
    let threeb = splat(&mut g, 3.0, &s);
    let twob = splat(&mut g, 2.0, &s);
    outs.push(("bcast_const_fold", op(&mut g, Op::Binary(BinOp::Sub), &[threeb, twob])));
    let z = g.constant(0.0);
    outs.push(("exp_0", op(&mut g, Op::Unary(UnOp::Exp), &[z])));
    let one_s = g.constant(1.0);
    outs.push(("two_gt_one", op(&mut g, Op::Binary(BinOp::Gt), &[two, one_s])));
    // Floor, cos and sin of constants fold too.
    let two_half = g.constant(2.5);
    outs.push(("floor_2_5", op(&mut g, Op::Unary(UnOp::Floor), &[two_half])));
    outs.push(("cos_0", op(&mut g, Op::Unary(UnOp::Cos), &[z])));
    // select with a constant mask picks an operand (-0 is false); with one operand (or one
    // constant) twice it is that operand; with a data mask it stays.
    let negz = splat(&mut g, -0.0, &s);
    outs.push(("select_1", op(&mut g, Op::Select, &[one, x, y])));
    outs.push(("select_0", op(&mut g, Op::Select, &[zero, x, y])));
    outs.push(("select_neg_0", op(&mut g, Op::Select, &[negz, x, y])));
    outs.push(("select_x_x", op(&mut g, Op::Select, &[y, x, x])));
    let twob2 = splat(&mut g, 2.0, &s);
    let twob3 = splat(&mut g, 2.0, &s);
    outs.push(("select_k_k", op(&mut g, Op::Select, &[y, twob2, twob3])));
    outs.push(("select_kept", op(&mut g, Op::Select, &[y, x, ny])));
    // Shape ops: bcast(bcast), bcast to own shape, reshape to own shape, reshape(reshape),
    // reshape of a constant, sum over no axes.
    let row = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[x]);
    let b1 = op(&mut g, Op::Broadcast(vec![1, 3]), &[row]);
    outs.push(("bcast_bcast", op(&mut g, Op::Broadcast(vec![4, 1, 3]), &[b1])));
    outs.push(("bcast_same", op(&mut g, Op::Broadcast(s.to_vec()), &[x])));
    outs.push(("reshape_same", op(&mut g, Op::Reshape(s.to_vec()), &[x])));
    let r1 = op(&mut g, Op::Reshape(vec![6]), &[x]);
    outs.push(("reshape_reshape", op(&mut g, Op::Reshape(vec![3, 2]), &[r1])));
    outs.push(("reshape_const", op(&mut g, Op::Reshape(vec![6]), &[one])));
    outs.push(("sum_no_axes", op(&mut g, Op::Reduce(ReduceOp::Sum, vec![]), &[x])));
    // Rewrites that cascade: (x - -y) * 1 ^ 1 becomes x + y.
    let xmy = op(&mut g, Op::Binary(BinOp::Sub), &[x, ny]);
    let t1 = op(&mut g, Op::Binary(BinOp::Mul), &[xmy, one]);
    outs.push(("cascade", op(&mut g, Op::Binary(BinOp::Pow), &[t1, one])));
    for (name, id) in outs {
        g.add_output(name, id, OutputRole::Metric);
    }
    g
}

/// Repeated subexpressions, commuted operands and constants that differ only in sign of zero.
fn duplicates() -> Graph {
    let mut g = Graph::new("duplicates");
    let x = g.add_input("x", Type::f32(vec![3]), InputRole::Data);
    let y = g.add_input("y", Type::f32(vec![3]), InputRole::Data);
    let e1 = op(&mut g, Op::Unary(UnOp::Exp), &[x]);
    let e2 = op(&mut g, Op::Unary(UnOp::Exp), &[x]);
    let a1 = op(&mut g, Op::Binary(BinOp::Add), &[e1, y]);
    let a2 = op(&mut g, Op::Binary(BinOp::Add), &[y, e2]);
    let s1 = op(&mut g, Op::Binary(BinOp::Sub), &[e1, y]);
    let s2 = op(&mut g, Op::Binary(BinOp::Sub), &[y, e2]);
    let c1 = splat(&mut g, 2.0, &[3]);
    let c2 = splat(&mut g, 2.0, &[3]);
    let m1 = op(&mut g, Op::Binary(BinOp::Mul), &[a1, c1]);
    let m2 = op(&mut g, Op::Binary(BinOp::Mul), &[a2, c2]);
    let pz = splat(&mut g, 0.0, &[3]);
    let nz = splat(&mut g, -0.0, &[3]);
    let mx1 = op(&mut g, Op::Binary(BinOp::Max), &[m1, pz]);
    let mx2 = op(&mut g, Op::Binary(BinOp::Max), &[m2, nz]);
    let total = op(&mut g, Op::Binary(BinOp::Add), &[mx1, mx2]);
    let diff = op(&mut g, Op::Binary(BinOp::Sub), &[s1, s2]);
    g.add_output("total", total, OutputRole::Metric);
    g.add_output("diff", diff, OutputRole::Metric);
    g.add_output("again", m2, OutputRole::Metric);
    g
}

/// Dead nodes, an unused input, and an output that reads an input directly.
fn dead() -> Graph {
    let mut g = Graph::new("dead");
    let x = g.add_input("x", Type::f32(vec![2, 2]), InputRole::Data);
    let unused = g.add_input("unused", Type::f32(vec![5]), InputRole::Data);
    let p = g.add_input("p", Type::f32(vec![2, 2]), InputRole::Param);
    let _dead_chain = {
        let e = op(&mut g, Op::Unary(UnOp::Exp), &[unused]);
        op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[e])
    };
    let xp = op(&mut g, Op::MatMul { ta: true, tb: false }, &[x, p]);
    let _dead_tanh = op(&mut g, Op::Unary(UnOp::Tanh), &[xp]);
    let s = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[xp]);
    let _dead_const = g.constant(7.0);
    g.add_output("loss", s, OutputRole::Loss);
    g.add_output("p", p, OutputRole::Param);
    g
}

fn fixtures() -> Vec<Graph> {
    vec![algebra(), duplicates(), dead()]
}

/// Deterministic inputs for a fixture: input `k`'s element `e` is `(k + 1) * 0.37 + e * 0.21`, offset
/// so that some are negative.
fn inputs(g: &Graph) -> Vec<Tensor> {
    let value = |k: usize, e: usize| ((k + 1) as f64 * 0.37 + e as f64 * 0.21) % 2.0 - 0.6;
    g.inputs
        .iter()
        .enumerate()
        .map(|(k, i)| Tensor::new(i.ty.shape.clone(), (0..i.ty.numel()).map(|e| value(k, e)).collect()))
        .collect()
}

/// The snapshot text: each fixture's input and output.
fn show(pass: fn(&Graph) -> Graph) -> String {
    let mut text = String::new();
    for g in fixtures() {
        let out = pass(&g);
        out.verify().unwrap_or_else(|e| panic!("invalid output: {e}\n{}", print(&out)));
        text += &format!("--- input\n{}--- output\n{}\n", print(&g), print(&out));
    }
    text
}

/// The outputs of `pass(g)` agree with those of `g` on every fixture, NaN matching NaN.
fn keeps_values(pass: fn(&Graph) -> Graph) {
    for g in fixtures() {
        let x = inputs(&g);
        let out = pass(&g);
        for ((o, want), got) in g.outputs.iter().zip(eval(&g, &x)).zip(eval(&out, &x)) {
            assert_eq!(want.shape, got.shape, "output `{}` of `{}`", o.name, g.name);
            for (w, v) in want.data.iter().zip(&got.data) {
                let same = (w.is_nan() && v.is_nan()) || (w - v).abs() <= 1e-12 * w.abs().max(1.0);
                assert!(same, "output `{}` of `{}`: {w} became {v}", o.name, g.name);
            }
        }
    }
}

#[test]
fn simplify_snapshot() {
    insta::assert_snapshot!("simplify", show(simplify::run));
}

#[test]
fn cse_snapshot() {
    insta::assert_snapshot!("cse", show(cse::run));
}

#[test]
fn dce_snapshot() {
    insta::assert_snapshot!("dce", show(dce::run));
}

#[test]
fn optimize_snapshot() {
    insta::assert_snapshot!("optimize", show(optimize));
}

#[test]
fn passes_keep_values() {
    keeps_values(simplify::run);
    keeps_values(cse::run);
    keeps_values(dce::run);
    keeps_values(optimize);
}

#[test]
fn simplify_reaches_a_fixed_point() {
    for g in fixtures() {
        let once = dce::run(&simplify::run(&g));
        assert_eq!(print(&dce::run(&simplify::run(&once))), print(&once), "fixture `{}`", g.name);
    }
}

#[test]
fn dce_keeps_unused_inputs() {
    let g = dce::run(&dead());
    assert_eq!(g.inputs, dead().inputs);
    assert!(g.nodes.iter().any(|n| n.op == Op::Input(1)));
    assert_eq!(g.nodes.len(), 5);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "pass `broken` broke the graph")]
fn a_broken_pass_is_reported() {
    let g = dead();
    let mut bad = g.clone();
    bad.nodes.swap(3, 4);
    super::checked("broken", &g, bad);
}
