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
