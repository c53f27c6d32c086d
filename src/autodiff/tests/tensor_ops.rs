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
