//! Finite-difference checks of the VJPs of casts, layout ops (permute, slice, concat) and gather.

use super::*;

#[test]
fn casts_pass_no_gradient() {
    // f(a) = f32(i32(a * 3)) * a: the cast's result is piecewise constant, so the gradient is
    // f32(i32(3a)) alone.
    let (g, x) = case(200, &[("a", &[2, 5], Dist::Signed)], |g, p| {
        let three = splat(g, 3.0, &[2, 5]);
        let a3 = op(g, Op::Binary(BinOp::Mul), &[p[0], three]);
        let i = op(g, Op::Cast(DType::I32), &[a3]);
        let f = op(g, Op::Cast(DType::F32), &[i]);
        op(g, Op::Binary(BinOp::Mul), &[f, p[0]])
    });
    check(&g, &x);
}

#[test]
fn permute_passes_the_inverse_permutation() {
    for (seed, perm) in [vec![1, 0, 2], vec![2, 0, 1], vec![1, 2, 0], vec![2, 1, 0]].into_iter().enumerate() {
        let (g, x) = case(210 + seed as u64, &[("a", &[2, 3, 4], Dist::Signed)], |g, p| {
            let t = op(g, Op::Permute(perm.clone()), &[p[0]]);
            op(g, Op::Unary(UnOp::Tanh), &[t])
        });
        check(&g, &x);
    }
}

#[test]
fn slice_pads_its_gradient_with_zeros() {
    // (axis, start, end, step) over a [5, 7] parameter: every combination of a leading gap, a
    // trailing gap and a step that does or does not divide the length.
    let cases = [(0, 0, 5, 1), (1, 2, 7, 1), (1, 0, 4, 1), (1, 1, 6, 2), (1, 0, 7, 3), (0, 1, 5, 2), (1, 3, 3, 1)];
    for (seed, (axis, start, end, step)) in cases.into_iter().enumerate() {
        let (g, x) = case(220 + seed as u64, &[("a", &[5, 7], Dist::Signed)], |g, p| {
            let s = op(g, Op::Slice { axis, start, end, step }, &[p[0]]);
            op(g, Op::Unary(UnOp::Exp), &[s])
        });
        check(&g, &x);
    }
}

#[test]
fn concat_slices_its_gradient() {
    let (g, x) = case(230, &[("a", &[2, 3], Dist::Signed), ("b", &[2, 1], Dist::Signed)], |g, p| {
        let e = op(g, Op::Unary(UnOp::Exp), &[p[1]]);
        let j = op(g, Op::Concat { axis: 1, parts: 3 }, &[p[0], e, p[0]]);
        op(g, Op::Unary(UnOp::Tanh), &[j])
    });
    check(&g, &x);
}

#[test]
fn gather_scatters_its_gradient_and_scatter_gathers_it() {
    // ids repeat (row 1 twice) and fall outside the table (-1, 4): those rows are zero.
    let ids = Tensor::new(vec![2, 3], vec![1.0, 0.0, 1.0, 3.0, -1.0, 4.0]);
    let mut rng = Rng(240);
    let mut g = Graph::new("forward");
    let t = g.add_input("t", Type::f32(vec![4, 2]), InputRole::Param);
    let u = g.add_input("u", Type::f32(vec![2, 3, 2]), InputRole::Param);
    let i = g.add_input("ids", Type::new(DType::I32, vec![2, 3]), InputRole::Label);
    let r = g.add_input("r", Type::f32(vec![2, 3, 2]), InputRole::Data);
    let r2 = g.add_input("r2", Type::f32(vec![4, 2]), InputRole::Data);
    let x = op(&mut g, Op::Gather, &[t, i]);
    let ex = op(&mut g, Op::Unary(UnOp::Exp), &[x]);
    let a = op(&mut g, Op::Binary(BinOp::Mul), &[ex, r]);
    let s = op(&mut g, Op::ScatterAdd(4), &[i, u]);
    let ts = op(&mut g, Op::Unary(UnOp::Tanh), &[s]);
    let b = op(&mut g, Op::Binary(BinOp::Mul), &[ts, r2]);
    let sa = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1, 2]), &[a]);
    let sb = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[b]);
    let loss = op(&mut g, Op::Binary(BinOp::Add), &[sa, sb]);
    g.add_output("loss", loss, OutputRole::Loss);
    let values = vec![
        rng.tensor(&[4, 2], Dist::Signed),
        rng.tensor(&[2, 3, 2], Dist::Signed),
        ids,
        rng.tensor(&[2, 3, 2], Dist::Signed),
        rng.tensor(&[4, 2], Dist::Signed),
    ];
    check(&g, &values);
}
