//! Finite-difference checks of the window family (`ir::window`): convolutions over the stride,
//! padding, dilation and groups corner cases, their two gradient ops as forward ops (so the
//! VJPs a second differentiation would use are checked too), and both poolings.

use super::{case, check, op, Dist};
use crate::ir::window_cases::conv_cases;
use crate::ir::{Op, Pool2d, Type, WindowOp};

/// The result shape of `op` on f32 operands of these shapes.
fn out_shape(op: WindowOp, args: &[&[usize]]) -> Vec<usize> {
    let tys: Vec<Type> = args.iter().map(|s| Type::f32(s.to_vec())).collect();
    op.infer(&tys.iter().collect::<Vec<_>>()).expect("test cases are well-typed").shape
}

#[test]
fn conv2d_input_and_weights() {
    for (seed, (x, w, c)) in conv_cases().into_iter().enumerate() {
        let (g, inputs) = case(700 + seed as u64, &[("x", &x, Dist::Signed), ("w", &w, Dist::Signed)], |g, p| {
            op(g, Op::Window(WindowOp::Conv(c)), &[p[0], p[1]])
        });
        check(&g, &inputs);
    }
}

/// The input-gradient op as a forward op: its VJP is a convolution and a weight gradient.
#[test]
fn conv2d_input_grad_is_differentiable() {
    for (seed, (x, w, c)) in conv_cases().into_iter().enumerate() {
        let y = out_shape(WindowOp::Conv(c), &[&x, &w]);
        let o = Op::Window(WindowOp::ConvInput(c, [x[2], x[3]]));
        let (g, inputs) = case(720 + seed as u64, &[("g", &y, Dist::Signed), ("w", &w, Dist::Signed)], |g, p| {
            op(g, o, &[p[0], p[1]])
        });
        check(&g, &inputs);
    }
}

/// The weight-gradient op as a forward op: its VJP is an input gradient and a convolution.
#[test]
fn conv2d_weight_grad_is_differentiable() {
    for (seed, (x, w, c)) in conv_cases().into_iter().enumerate() {
        let y = out_shape(WindowOp::Conv(c), &[&x, &w]);
        let o = Op::Window(WindowOp::ConvWeight(c, [w[2], w[3]]));
        let (g, inputs) = case(740 + seed as u64, &[("x", &x, Dist::Signed), ("g", &y, Dist::Signed)], |g, p| {
            op(g, o, &[p[0], p[1]])
        });
        check(&g, &inputs);
    }
}

/// Pooling corner cases: (input, kernel, stride, padding).
fn pool_cases() -> Vec<([usize; 4], Pool2d)> {
    let p = |k: usize, s: usize, pad: usize| Pool2d { kernel: [k; 2], stride: [s; 2], pad: [pad; 2] };
    vec![
        ([2, 2, 4, 4], p(2, 2, 0)),
        ([1, 1, 5, 7], p(3, 2, 1)),
        ([1, 3, 5, 5], p(3, 1, 0)),
        ([2, 1, 7, 5], Pool2d { kernel: [2, 3], stride: [1, 2], pad: [1, 1] }),
    ]
}

#[test]
fn max_pool2d() {
    for (seed, (x, p)) in pool_cases().into_iter().enumerate() {
        let (g, inputs) = case(760 + seed as u64, &[("x", &x, Dist::Signed)], |g, a| {
            op(g, Op::Window(WindowOp::MaxPool(p)), &[a[0]])
        });
        check(&g, &inputs);
    }
}

#[test]
fn avg_pool2d_and_its_gradient() {
    for (seed, (x, p)) in pool_cases().into_iter().enumerate() {
        let (g, inputs) = case(780 + seed as u64, &[("x", &x, Dist::Signed)], |g, a| {
            op(g, Op::Window(WindowOp::AvgPool(p)), &[a[0]])
        });
        check(&g, &inputs);
        let y = out_shape(WindowOp::AvgPool(p), &[&x]);
        let o = Op::Window(WindowOp::AvgPoolGrad(p, [x[2], x[3]]));
        let (g, inputs) = case(790 + seed as u64, &[("g", &y, Dist::Signed)], |g, a| op(g, o, &[a[0]]));
        check(&g, &inputs);
    }
}
