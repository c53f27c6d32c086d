//! Tests of the reference interpreter.

use super::interp::*;
use super::{Graph, Op, Type};
use crate::ir::{BinOp, DType, InputRole, OutputRole, ReduceOp, UnOp};

fn t(shape: &[usize], data: &[f64]) -> Tensor {
    Tensor::new(shape.to_vec(), data.to_vec())
}

fn run(op: Op, args: &[&Tensor]) -> Tensor {
    let tys: Vec<Type> = args.iter().map(|a| Type::f32(a.shape.clone())).collect();
    let refs: Vec<&Type> = tys.iter().collect();
    let out = op.infer(&refs).expect("well-typed");
    eval_op(&op, args, &out)
}

#[test]
fn elementwise() {
    let a = t(&[4], &[-2.0, 0.0, 1.5, 4.0]);
    let b = t(&[4], &[1.0, 0.0, 3.0, 4.0]);
    assert_eq!(run(Op::Unary(UnOp::Sign), &[&a]).data, [-1.0, 0.0, 1.0, 1.0]);
    assert_eq!(run(Op::Binary(BinOp::Max), &[&a, &b]).data, [1.0, 0.0, 3.0, 4.0]);
    assert_eq!(run(Op::Binary(BinOp::Gt), &[&a, &b]).data, [0.0, 0.0, 0.0, 0.0]);
    assert_eq!(run(Op::Binary(BinOp::Gt), &[&b, &a]).data, [1.0, 0.0, 1.0, 0.0]);
    assert_eq!(run(Op::Binary(BinOp::Eq), &[&a, &b]).data, [0.0, 1.0, 0.0, 1.0]);
    assert_eq!(run(Op::Binary(BinOp::Pow), &[&b, &t(&[4], &[2.0, 0.5, 2.0, 0.5])]).data, [1.0, 0.0, 9.0, 2.0]);
    assert_eq!(run(Op::Binary(BinOp::Sub), &[&a, &b]).data, [-3.0, 0.0, -1.5, 0.0]);
    assert!(run(Op::Binary(BinOp::Max), &[&t(&[1], &[f64::NAN]), &t(&[1], &[1.0])]).data[0].is_nan());
}

#[test]
fn floor_cos_sin() {
    let x = t(&[6], &[-1.5, -0.0, 0.25, 2.0, 2.999, -3.0]);
    let floor = run(Op::Unary(UnOp::Floor), &[&x]).data;
    assert_eq!(floor, [-2.0, -0.0, 0.0, 2.0, 2.0, -3.0]);
    assert!(floor[1].is_sign_negative(), "floor(-0) is -0");
    let pi = std::f64::consts::PI;
    let angles = t(&[4], &[0.0, pi / 2.0, pi, -pi / 6.0]);
    let (cos, sin) = (run(Op::Unary(UnOp::Cos), &[&angles]).data, run(Op::Unary(UnOp::Sin), &[&angles]).data);
    let (want_cos, want_sin) = ([1.0, 0.0, -1.0, 3f64.sqrt() / 2.0], [0.0, 1.0, 0.0, -0.5]);
    for i in 0..4 {
        assert!((cos[i] - want_cos[i]).abs() < 1e-15 && (sin[i] - want_sin[i]).abs() < 1e-15, "{i}");
    }
    let specials = t(&[3], &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
    assert!(run(Op::Unary(UnOp::Floor), &[&specials]).data[0].is_nan());
    assert_eq!(run(Op::Unary(UnOp::Floor), &[&specials]).data[1..], [f64::INFINITY, f64::NEG_INFINITY]);
    assert!(run(Op::Unary(UnOp::Sin), &[&specials]).data.iter().all(|v| v.is_nan()));
    assert!(run(Op::Unary(UnOp::Cos), &[&specials]).data.iter().all(|v| v.is_nan()));
}

#[test]
fn select_picks_without_blending() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    // Masks: 1, 0, -0, any nonzero, NaN (nonzero, so true).
    let c = t(&[5], &[1.0, 0.0, -0.0, -2.5, nan]);
    let a = t(&[5], &[1.0, nan, inf, 4.0, 5.0]);
    let b = t(&[5], &[-inf, 2.0, 3.0, nan, -5.0]);
    assert_eq!(run(Op::Select, &[&c, &a, &b]).data, [1.0, 2.0, 3.0, 4.0, 5.0]);
    // The mask and both operands are f32 of one shape.
    let tys = [Type::f32(vec![5]), Type::f32(vec![5]), Type::f32(vec![1])];
    let refs: Vec<&Type> = tys.iter().collect();
    assert!(Op::Select.infer(&refs).is_err());
    let mixed = [Type::new(DType::I32, vec![5]), Type::f32(vec![5]), Type::f32(vec![5])];
    let refs: Vec<&Type> = mixed.iter().collect();
    assert!(Op::Select.infer(&refs).is_err(), "the mask is f32");
}

#[test]
fn broadcast_and_reshape() {
    let col = t(&[2, 1], &[1.0, 2.0]);
    assert_eq!(run(Op::Broadcast(vec![2, 3]), &[&col]).data, [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    let row = t(&[3], &[1.0, 2.0, 3.0]);
    assert_eq!(run(Op::Broadcast(vec![2, 3]), &[&row]).data, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    assert_eq!(run(Op::Broadcast(vec![2, 2]), &[&Tensor::scalar(7.0)]).data, [7.0; 4]);
    let r = run(Op::Reshape(vec![3, 2]), &[&t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])]);
    assert_eq!((r.shape, r.data), (vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
}

#[test]
fn reductions() {
    let x = t(&[2, 3], &[1.0, 5.0, 3.0, 4.0, 2.0, 6.0]);
    assert_eq!(run(Op::Reduce(ReduceOp::Sum, vec![0]), &[&x]).data, [5.0, 7.0, 9.0]);
    assert_eq!(run(Op::Reduce(ReduceOp::Sum, vec![1]), &[&x]).data, [9.0, 12.0]);
    assert_eq!(run(Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[&x]).data, [21.0]);
    assert_eq!(run(Op::Reduce(ReduceOp::Sum, vec![]), &[&x]).data, x.data);
    assert_eq!(run(Op::Reduce(ReduceOp::Max, vec![0]), &[&x]).data, [4.0, 5.0, 6.0]);
    assert_eq!(run(Op::Reduce(ReduceOp::Max, vec![1]), &[&x]).data, [5.0, 6.0]);
    let ties = t(&[2, 3], &[1.0, 3.0, 3.0, 2.0, 2.0, 0.0]);
    assert_eq!(run(Op::Argmax(1), &[&ties]).data, [1.0, 0.0]);
    assert_eq!(run(Op::Argmax(0), &[&ties]).data, [1.0, 0.0, 0.0]);
    let y = t(&[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    assert_eq!(run(Op::Reduce(ReduceOp::Sum, vec![0, 2]), &[&y]).data, [14.0, 22.0]);
}

#[test]
fn matmul_transposes() {
    // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,0],[0,1],[1,1]] (3x2); A@B = [[4,5],[10,11]].
    let a = t(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = t(&[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let at = t(&[3, 2], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let bt = t(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
    let want = [4.0, 5.0, 10.0, 11.0];
    assert_eq!(run(Op::MatMul { ta: false, tb: false }, &[&a, &b]).data, want);
    assert_eq!(run(Op::MatMul { ta: true, tb: false }, &[&at, &b]).data, want);
    assert_eq!(run(Op::MatMul { ta: false, tb: true }, &[&a, &bt]).data, want);
    assert_eq!(run(Op::MatMul { ta: true, tb: true }, &[&at, &bt]).data, want);
}

#[test]
fn one_hot_out_of_range_is_zero_row() {
    let labels = t(&[3], &[2.0, -1.0, 3.0]);
    let out = Type::f32(vec![3, 3]);
    let r = eval_op(&Op::OneHot(3), &[&labels], &out);
    assert_eq!(r.data, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn whole_graph() {
    let mut g = Graph::new("g");
    let x = g.add_input("x", Type::f32(vec![2]), InputRole::Data);
    let y = g.add_input("y", Type::new(DType::I32, vec![2]), InputRole::Label);
    let two = g.constant(2.0);
    let b = g.push(Op::Broadcast(vec![2]), vec![two]).unwrap();
    let m = g.push(Op::Binary(BinOp::Mul), vec![x, b]).unwrap();
    let s = g.push(Op::Reduce(ReduceOp::Sum, vec![0]), vec![m]).unwrap();
    let oh = g.push(Op::OneHot(2), vec![y]).unwrap();
    g.add_output("loss", s, OutputRole::Loss);
    g.add_output("oh", oh, OutputRole::Metric);
    let out = eval(&g, &[t(&[2], &[1.0, 3.0]), t(&[2], &[1.0, 0.0])]);
    assert_eq!(out, vec![Tensor::scalar(8.0), t(&[2, 2], &[0.0, 1.0, 1.0, 0.0])]);
}

#[test]
fn shape_errors_carry_shapes_and_render_once() {
    let mut g = Graph::new("bad");
    let a = g.add_input("a", Type::f32(vec![2]), InputRole::Data);
    let b = g.add_input("b", Type::f32(vec![3]), InputRole::Data);
    let err = g.push(Op::Binary(BinOp::Add), vec![a, b]).expect_err("shapes differ");
    assert_eq!(err, crate::ir::ShapeError::Operands { op: "add", shapes: vec![vec![2], vec![3]] });
    assert_eq!(err.kind(), crate::ir::ShapeErrorKind::Mismatch);
    assert_eq!(err.to_string(), "`add` needs operands of one shape, found [2] and [3]");
    let err = g.push(Op::MatMul { ta: false, tb: true }, vec![a, b]).expect_err("vectors");
    assert_eq!(err, crate::ir::ShapeError::MatMulRank(vec![2], vec![3]));
}

/// Hand-computed values: a cross-correlation (not a flipped convolution), `same` padding of an
/// even kernel on the bottom/right, and max pooling that pads with -inf.
#[test]
fn window_ops_by_hand() {
    use crate::ir::interp::eval_op;
    use crate::ir::{Conv2d, Pool2d, WindowOp};
    let x = Tensor::new(vec![1, 1, 3, 3], (1..=9).map(f64::from).collect());
    let w = Tensor::new(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let same = Conv2d { stride: [1, 1], pad_lo: [0, 0], pad_hi: [1, 1], dilation: [1, 1], groups: 1 };
    let out = Type::f32(vec![1, 1, 3, 3]);
    let y = eval_op(&Op::Window(WindowOp::Conv(same)), &[&x, &w], &out);
    // y[0,0] = 1·1 + 2·2 + 4·3 + 5·4; the last row and column read zeros below and right.
    assert_eq!(y.data, vec![37.0, 47.0, 21.0, 67.0, 77.0, 33.0, 23.0, 26.0, 9.0]);
    let neg = Tensor::new(vec![1, 1, 2, 2], vec![-1.0, -2.0, -3.0, -4.0]);
    let pool = Pool2d { kernel: [2, 2], stride: [1, 1], pad: [1, 1] };
    let m = eval_op(&Op::Window(WindowOp::MaxPool(pool)), &[&neg], &Type::f32(vec![1, 1, 3, 3]));
    assert_eq!(m.data, vec![-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -3.0, -3.0, -4.0]);
    let a = eval_op(&Op::Window(WindowOp::AvgPool(pool)), &[&neg], &Type::f32(vec![1, 1, 3, 3]));
    assert_eq!(a.data[0], -0.25, "padding counts in the mean");
}
