//! Every VJP rule checked against central finite differences in f64 through the reference
//! interpreter, every test graph checked to give the same outputs once optimised, and
//! snapshots of `backward` and `compose`.

use super::{backward, compose, control};
use crate::ir::interp::{eval, Tensor};
use crate::ir::print::print;
use crate::ir::{BinOp, DType, Graph, InputRole, NodeId, Op, OutputRole, ReduceOp, Shape, Type, UnOp};
use crate::passes::optimize;

/// SplitMix64: a tiny seeded generator, so the tests are reproducible.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn tensor(&mut self, shape: &[usize], dist: Dist) -> Tensor {
        let n = shape.iter().product();
        let data = (0..n)
            .map(|_| match dist {
                Dist::Signed => self.uniform(-2.0, 2.0),
                Dist::Positive => self.uniform(0.5, 2.0),
                // Magnitude at least 0.2, so no kink at 0 is within reach of the differences.
                Dist::AwayFromZero => {
                    let m = self.uniform(0.2, 2.0);
                    if self.next_u64() & 1 == 0 {
                        m
                    } else {
                        -m
                    }
                }
            })
            .collect();
        Tensor::new(shape.to_vec(), data)
    }
}

/// How a test input is drawn.
#[derive(Clone, Copy)]
enum Dist {
    /// Uniform in [-2, 2).
    Signed,
    /// Uniform in [0.5, 2): where `log`, `sqrt` and `pow` need it.
    Positive,
    /// Uniform magnitude in [0.2, 2) with a random sign: away from the kinks of `abs` and `sign`.
    AwayFromZero,
}

/// Appends `op(args)`.
fn op(g: &mut Graph, op: Op, args: &[NodeId]) -> NodeId {
    g.push(op, args.to_vec()).expect("test graph is well-typed")
}

/// Appends the constant `c` broadcast to `shape`.
fn splat(g: &mut Graph, c: f32, shape: &[usize]) -> NodeId {
    let k = g.constant(f64::from(c));
    op(g, Op::Broadcast(shape.to_vec()), &[k])
}

/// A forward graph with `params`, computing `loss = sum(f(params) * R)` for a random data
/// input `R` (so the cotangent is not uniform), and values for its inputs.
fn case(
    seed: u64,
    params: &[(&str, &[usize], Dist)],
    f: impl FnOnce(&mut Graph, &[NodeId]) -> NodeId,
) -> (Graph, Vec<Tensor>) {
    case_with_data(seed, params, &[], f)
}

/// `case` with data inputs (given values, no gradient) after the parameters: `f` gets the
/// parameter nodes, then the data nodes; the inputs are the parameters, the data, then `R`.
fn case_with_data(
    seed: u64,
    params: &[(&str, &[usize], Dist)],
    data: &[(&str, Tensor)],
    f: impl FnOnce(&mut Graph, &[NodeId]) -> NodeId,
) -> (Graph, Vec<Tensor>) {
    let mut rng = Rng(seed);
    let mut g = Graph::new("forward");
    let mut values = Vec::new();
    let mut ids = Vec::new();
    for (name, shape, dist) in params {
        ids.push(g.add_input(name, Type::f32(shape.to_vec()), InputRole::Param));
        values.push(rng.tensor(shape, *dist));
    }
    for (name, value) in data {
        ids.push(g.add_input(name, Type::f32(value.shape.clone()), InputRole::Data));
        values.push(value.clone());
    }
    let y = f(&mut g, &ids);
    let shape: Shape = g.ty(y).shape.clone();
    let r = g.add_input("r", Type::f32(shape.clone()), InputRole::Data);
    values.push(rng.tensor(&shape, Dist::Signed));
    let yr = op(&mut g, Op::Binary(BinOp::Mul), &[y, r]);
    let loss = op(&mut g, Op::Reduce(ReduceOp::Sum, (0..shape.len()).collect()), &[yr]);
    g.add_output("loss", loss, OutputRole::Loss);
    (g, values)
}

/// The loss of `forward` at `inputs`.
fn loss_at(forward: &Graph, inputs: &[Tensor]) -> f64 {
    let at = forward.outputs.iter().position(|o| o.role == OutputRole::Loss).expect("a loss output");
    eval(forward, inputs)[at].data[0]
}

/// Checks every gradient `backward` computes against central differences, and that the
/// optimised backward graph computes the same outputs as the unoptimised one.
fn check(forward: &Graph, inputs: &[Tensor]) {
    forward.verify().expect("test graph verifies");
    let bwd = backward(forward);
    bwd.verify().unwrap_or_else(|e| panic!("backward graph is invalid: {e}\n{}", print(&bwd)));
    let outs = eval(&bwd, inputs);
    let params: Vec<usize> =
        (0..forward.inputs.len()).filter(|&k| forward.inputs[k].role == InputRole::Param).collect();
    let grads: Vec<(usize, &Tensor)> = bwd
        .outputs
        .iter()
        .zip(&outs)
        .filter(|(o, _)| o.role == OutputRole::Grad)
        .map(|(o, t)| (bwd.input_index(o.name.strip_suffix(".grad").unwrap()).unwrap(), t))
        .collect();
    assert_eq!(grads.iter().map(|(k, _)| *k).collect::<Vec<_>>(), params, "one gradient per parameter, in input order");
    for (k, grad) in grads {
        assert_eq!(grad.shape, inputs[k].shape, "gradient of `{}` has the parameter's shape", forward.inputs[k].name);
        for e in 0..inputs[k].data.len() {
            let x = inputs[k].data[e];
            let h = 1e-6 * x.abs().max(1.0);
            let mut plus = inputs.to_vec();
            plus[k].data[e] = x + h;
            let mut minus = inputs.to_vec();
            minus[k].data[e] = x - h;
            let numeric = (loss_at(forward, &plus) - loss_at(forward, &minus)) / (2.0 * h);
            let analytic = grad.data[e];
            assert!(
                (analytic - numeric).abs() <= 1e-5 + 1e-3 * numeric.abs(),
                "d loss / d {}[{e}]: backward gives {analytic}, finite differences {numeric}\n{}",
                forward.inputs[k].name,
                print(&bwd)
            );
        }
    }
    check_optimized(&bwd, inputs);
}

/// `optimize(g)` computes what `g` computes.
fn check_optimized(g: &Graph, inputs: &[Tensor]) {
    let opt = optimize(g);
    assert!(opt.nodes.len() <= g.nodes.len(), "optimising grew the graph");
    for ((o, want), got) in g.outputs.iter().zip(eval(g, inputs)).zip(eval(&opt, inputs)) {
        assert_eq!(want.shape, got.shape);
        for (w, v) in want.data.iter().zip(&got.data) {
            assert!(
                (w - v).abs() <= 1e-9 + 1e-6 * w.abs(),
                "output `{}` changed when optimised: {w} vs {v}\n{}",
                o.name,
                print(&opt)
            );
        }
    }
}

/// A one-parameter case for a unary op.
fn unary(seed: u64, o: Op, dist: Dist) {
    let (g, x) = case(seed, &[("a", &[2, 3], dist)], |g, p| op(g, o, &[p[0]]));
    check(&g, &x);
}

/// A two-parameter case for a binary elementwise op.
fn binary(seed: u64, o: Op, da: Dist, db: Dist) {
    let (g, x) = case(seed, &[("a", &[2, 3], da), ("b", &[2, 3], db)], |g, p| op(g, o, &[p[0], p[1]]));
    check(&g, &x);
}

#[test]
fn neg() {
    unary(1, Op::Unary(UnOp::Neg), Dist::Signed);
}

#[test]
fn exp() {
    unary(2, Op::Unary(UnOp::Exp), Dist::Signed);
}

#[test]
fn log() {
    unary(3, Op::Unary(UnOp::Log), Dist::Positive);
}

#[test]
fn sqrt() {
    unary(4, Op::Unary(UnOp::Sqrt), Dist::Positive);
}

#[test]
fn abs() {
    unary(5, Op::Unary(UnOp::Abs), Dist::AwayFromZero);
}

#[test]
fn tanh() {
    unary(6, Op::Unary(UnOp::Tanh), Dist::Signed);
}

#[test]
fn cos() {
    unary(90, Op::Unary(UnOp::Cos), Dist::Signed);
}

#[test]
fn erf() {
    unary(92, Op::Unary(UnOp::Erf), Dist::Signed);
}

#[test]
fn log1p() {
    unary(96, Op::Unary(UnOp::Log1p), Dist::Positive);
}

#[test]
fn expm1() {
    unary(97, Op::Unary(UnOp::Expm1), Dist::Signed);
}

#[test]
fn sin() {
    unary(91, Op::Unary(UnOp::Sin), Dist::Signed);
}

/// Each needs the other's rule: d/da sin(cos(a) * b) = cos(cos(a) * b) * b * -sin(a).
#[test]
fn sin_of_cos() {
    let (g, x) = case(92, &[("a", &[2, 3], Dist::Signed), ("b", &[2, 3], Dist::Signed)], |g, p| {
        let c = op(g, Op::Unary(UnOp::Cos), &[p[0]]);
        let cb = op(g, Op::Binary(BinOp::Mul), &[c, p[1]]);
        op(g, Op::Unary(UnOp::Sin), &[cb])
    });
    check(&g, &x);
}

/// `select(mask, a, b)` with a mask holding 1, 0, -0 and another nonzero: each operand gets the
/// gradient exactly where it was picked and zero elsewhere; the mask is data.
#[test]
fn select_both_branches() {
    let mask = Tensor::new(vec![2, 3], vec![1.0, 0.0, -0.0, -2.5, 1.0, 0.0]);
    let params: [(&str, &[usize], Dist); 2] = [("a", &[2, 3], Dist::Signed), ("b", &[2, 3], Dist::Signed)];
    let (g, x) = case_with_data(93, &params, &[("mask", mask.clone())], |g, p| op(g, Op::Select, &[p[2], p[0], p[1]]));
    check(&g, &x);
    let out = eval(&backward(&g), &x);
    let r = &x[3].data;
    for (e, &m) in mask.data.iter().enumerate() {
        let (da, db) = if m != 0.0 { (r[e], 0.0) } else { (0.0, r[e]) };
        assert_eq!((out[1].data[e], out[2].data[e]), (da, db), "element {e}");
    }
    // One operand on both sides, through different functions: the two gradients add up.
    let (g, x) = case_with_data(94, &params[..1], &[("mask", mask)], |g, p| {
        let sq = op(g, Op::Binary(BinOp::Mul), &[p[0], p[0]]);
        let e = op(g, Op::Unary(UnOp::Exp), &[p[0]]);
        op(g, Op::Select, &[p[1], sq, e])
    });
    check(&g, &x);
}

/// Floor is piecewise constant and a select's mask only picks: neither passes a gradient, so a
/// parameter used only through them gets exactly zero, even at a mask value of 0 where finite
/// differences would jump.
#[test]
fn floor_and_select_mask_get_no_gradient() {
    let params: [(&str, &[usize], Dist); 4] = [
        ("a", &[2, 3], Dist::Signed),
        ("b", &[2, 3], Dist::Signed),
        ("mask", &[2, 3], Dist::AwayFromZero),
        ("f", &[2, 3], Dist::Signed),
    ];
    // loss = sum((select(mask, a, b) + floor(f) * a) * R)
    let (g, x) = case(95, &params, |g, p| {
        let s = op(g, Op::Select, &[p[2], p[0], p[1]]);
        let fl = op(g, Op::Unary(UnOp::Floor), &[p[3]]);
        let fa = op(g, Op::Binary(BinOp::Mul), &[fl, p[0]]);
        op(g, Op::Binary(BinOp::Add), &[s, fa])
    });
    // Finite differences agree where the mask is nonzero and f is not an integer.
    check(&g, &x);
    let mut x = x;
    x[2] = Tensor::new(vec![2, 3], vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    x[3].data[0] = 1.0;
    let bwd = backward(&g);
    let out = eval(&bwd, &x);
    let names: Vec<&str> = bwd.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["loss", "a.grad", "b.grad", "mask.grad", "f.grad"]);
    assert_eq!(out[3], Tensor::full(vec![2, 3], 0.0), "the mask gets no gradient");
    assert_eq!(out[4], Tensor::full(vec![2, 3], 0.0), "floor passes no gradient");
}

#[test]
fn add() {
    binary(7, Op::Binary(BinOp::Add), Dist::Signed, Dist::Signed);
}

#[test]
fn sub() {
    binary(8, Op::Binary(BinOp::Sub), Dist::Signed, Dist::Signed);
}

#[test]
fn mul() {
    binary(9, Op::Binary(BinOp::Mul), Dist::Signed, Dist::Signed);
}

#[test]
fn div() {
    binary(10, Op::Binary(BinOp::Div), Dist::Signed, Dist::AwayFromZero);
}

#[test]
fn pow_both_operands() {
    binary(11, Op::Binary(BinOp::Pow), Dist::Positive, Dist::Signed);
}

#[test]
fn max_elementwise() {
    binary(12, Op::Binary(BinOp::Max), Dist::Signed, Dist::Signed);
}

#[test]
fn min_elementwise() {
    binary(112, Op::Binary(BinOp::Min), Dist::Signed, Dist::Signed);
}

#[test]
fn pow_const_exponent_builds_no_log() {
    for (seed, c) in [(13, 3.0), (14, 2.0), (15, -1.5), (16, 0.5)] {
        let (g, x) = case(seed, &[("a", &[2, 3], Dist::AwayFromZero)], |g, p| {
            let e = splat(g, c, &[2, 3]);
            op(g, Op::Binary(BinOp::Pow), &[p[0], e])
        });
        let x = if c.fract() == 0.0 {
            x
        } else {
            vec![Tensor::new(x[0].shape.clone(), x[0].data.iter().map(|v| v.abs()).collect()), x[1].clone()]
        };
        check(&g, &x);
        assert!(!backward(&g).nodes.iter().any(|n| n.op == Op::Unary(UnOp::Log)), "a constant exponent needs no log");
    }
}

#[test]
fn relu_has_zero_gradient_at_zero() {
    let mut g = Graph::new("forward");
    let x = g.add_input("x", Type::f32(vec![3]), InputRole::Param);
    let zero = splat(&mut g, 0.0, &[3]);
    let r = op(&mut g, Op::Binary(BinOp::Max), &[x, zero]);
    let s = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[r]);
    g.add_output("loss", s, OutputRole::Loss);
    let out = eval(&backward(&g), &[Tensor::new(vec![3], vec![-1.0, 0.0, 2.0])]);
    assert_eq!(out[1].data, [0.0, 0.0, 1.0]);
}

/// The guard LANGUAGE.md recommends for `where`: sqrt(maximum(x, 0)) has gradient 0 where
/// x < 0, though sqrt's gradient at 0 is infinite (it was inf · 0 = NaN).
#[test]
fn sqrt_of_maximum_has_a_finite_gradient_below_zero() {
    let mut g = Graph::new("forward");
    let x = g.add_input("x", Type::f32(vec![3]), InputRole::Param);
    let zero = splat(&mut g, 0.0, &[3]);
    let m = op(&mut g, Op::Binary(BinOp::Max), &[x, zero]);
    let r = op(&mut g, Op::Unary(UnOp::Sqrt), &[m]);
    let s = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[r]);
    g.add_output("loss", s, OutputRole::Loss);
    let out = eval(&backward(&g), &[Tensor::new(vec![3], vec![-1.0, -4.0, 4.0])]);
    assert_eq!(out[1].data, [0.0, 0.0, 0.25]);
    let opts = crate::codegen::CompileOptions { verify: true, keep_clif: false, threads: 1, flush_denormals: false };
    let mut exe = crate::codegen::Executable::compile(&crate::passes::optimize(&backward(&g)), &opts).unwrap();
    exe.input_mut("x").unwrap().copy_from_slice(&[-1.0, -4.0, 4.0]);
    exe.run();
    assert_eq!(exe.output("x.grad").unwrap(), [0.0, 0.0, 0.25], "the JIT agrees");
}

#[test]
fn relu() {
    let (g, x) = case(17, &[("x", &[4, 3], Dist::AwayFromZero)], |g, p| {
        let zero = splat(g, 0.0, &[4, 3]);
        op(g, Op::Binary(BinOp::Max), &[p[0], zero])
    });
    check(&g, &x);
}

#[test]
fn broadcast() {
    let cases: [(&[usize], &[usize]); 6] = [
        (&[], &[2, 3]),
        (&[3], &[2, 3]),
        (&[2, 1], &[2, 3]),
        (&[1, 3], &[2, 2, 3]),
        (&[2, 1, 3], &[2, 4, 3]),
        (&[2, 3], &[2, 3]),
    ];
    for (seed, (from, to)) in cases.into_iter().enumerate() {
        let (g, x) =
            case(20 + seed as u64, &[("a", from, Dist::Signed)], |g, p| op(g, Op::Broadcast(to.to_vec()), &[p[0]]));
        check(&g, &x);
    }
}

#[test]
fn reshape() {
    let (g, x) = case(30, &[("a", &[2, 3], Dist::Signed)], |g, p| op(g, Op::Reshape(vec![3, 1, 2]), &[p[0]]));
    check(&g, &x);
}

#[test]
fn sum_over_axis_sets() {
    let sets: [&[usize]; 8] = [&[], &[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[0, 1, 2]];
    for (seed, axes) in sets.into_iter().enumerate() {
        let (g, x) = case(40 + seed as u64, &[("a", &[2, 3, 4], Dist::Signed)], |g, p| {
            op(g, Op::Reduce(ReduceOp::Sum, axes.to_vec()), &[p[0]])
        });
        check(&g, &x);
    }
}

#[test]
fn max_reduce_over_axis_sets() {
    let sets: [&[usize]; 5] = [&[0], &[1], &[2], &[0, 2], &[0, 1, 2]];
    for (seed, axes) in sets.into_iter().enumerate() {
        let (g, x) = case(50 + seed as u64, &[("a", &[2, 3, 4], Dist::Signed)], |g, p| {
            op(g, Op::Reduce(ReduceOp::Max, axes.to_vec()), &[p[0]])
        });
        check(&g, &x);
    }
}

#[test]
fn max_reduce_splits_ties_evenly() {
    let mut g = Graph::new("forward");
    let x = g.add_input("x", Type::f32(vec![2, 3]), InputRole::Param);
    let m = op(&mut g, Op::Reduce(ReduceOp::Max, vec![1]), &[x]);
    let s = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[m]);
    g.add_output("loss", s, OutputRole::Loss);
    let out = eval(&backward(&g), &[Tensor::new(vec![2, 3], vec![1.0, 3.0, 3.0, 5.0, 5.0, 5.0])]);
    let third = 1.0 / 3.0;
    assert_eq!(out[1].data, [0.0, 0.5, 0.5, third, third, third]);
}

#[test]
fn matmul_all_transposes() {
    for (seed, (ta, tb)) in [(false, false), (true, false), (false, true), (true, true)].into_iter().enumerate() {
        // op(A) is 2x3 and op(B) is 3x4.
        let a: &[usize] = if ta { &[3, 2] } else { &[2, 3] };
        let b: &[usize] = if tb { &[4, 3] } else { &[3, 4] };
        let (g, x) = case(60 + seed as u64, &[("a", a, Dist::Signed), ("b", b, Dist::Signed)], |g, p| {
            op(g, Op::MatMul { ta, tb }, &[p[0], p[1]])
        });
        check(&g, &x);
    }
}

#[test]
fn ops_without_gradient_pass_none() {
    // loss = sum(a * sign(a) * (a > b) * (b == b) * R) + sum(one_hot(argmax(a)) * a): the
    // gradient flows only through the plain uses of `a`.
    let (g, x) = case(70, &[("a", &[2, 3], Dist::AwayFromZero), ("b", &[2, 3], Dist::Signed)], |g, p| {
        let s = op(g, Op::Unary(UnOp::Sign), &[p[0]]);
        let gt = op(g, Op::Binary(BinOp::Gt), &[p[0], p[1]]);
        let eq = op(g, Op::Binary(BinOp::Eq), &[p[1], p[1]]);
        let m1 = op(g, Op::Binary(BinOp::Mul), &[p[0], s]);
        let m2 = op(g, Op::Binary(BinOp::Mul), &[m1, gt]);
        let m3 = op(g, Op::Binary(BinOp::Mul), &[m2, eq]);
        let am = op(g, Op::Argmax(1), &[p[0]]);
        let oh = op(g, Op::OneHot(3), &[am]);
        let m4 = op(g, Op::Binary(BinOp::Mul), &[oh, p[0]]);
        op(g, Op::Binary(BinOp::Add), &[m3, m4])
    });
    check(&g, &x);
}

#[test]
fn shared_uses_accumulate() {
    // f(a) = a * a + exp(a) * a
    let (g, x) = case(71, &[("a", &[3], Dist::Signed)], |g, p| {
        let sq = op(g, Op::Binary(BinOp::Mul), &[p[0], p[0]]);
        let e = op(g, Op::Unary(UnOp::Exp), &[p[0]]);
        let ea = op(g, Op::Binary(BinOp::Mul), &[e, p[0]]);
        op(g, Op::Binary(BinOp::Add), &[sq, ea])
    });
    check(&g, &x);
}

#[test]
fn unused_parameter_gets_zero_gradient() {
    let (g, x) = case(72, &[("a", &[2], Dist::Signed), ("unused", &[2, 2], Dist::Signed)], |g, p| {
        op(g, Op::Unary(UnOp::Exp), &[p[0]])
    });
    check(&g, &x);
    let out = eval(&backward(&g), &x);
    assert_eq!(out[2], Tensor::full(vec![2, 2], 0.0));
}

#[test]
fn loss_is_a_parameter() {
    let mut g = Graph::new("forward");
    let p = g.add_input("p", Type::scalar(DType::F32), InputRole::Param);
    g.add_output("loss", p, OutputRole::Loss);
    let out = eval(&backward(&g), &[Tensor::scalar(3.0)]);
    assert_eq!(out, vec![Tensor::scalar(3.0), Tensor::scalar(1.0)]);
}

/// A 2-layer MLP classifier with a softmax cross-entropy loss and an accuracy metric:
/// `x: [4, 3]`, `y: i32[4]`, hidden width 5, 3 classes.
fn mlp() -> Graph {
    let (n, d, h, c) = (4, 3, 5, 3);
    let mut g = Graph::new("forward");
    let x = g.add_input("x", Type::f32(vec![n, d]), InputRole::Data);
    let y = g.add_input("y", Type::new(DType::I32, vec![n]), InputRole::Label);
    let w1 = g.add_input("h1.w", Type::f32(vec![d, h]), InputRole::Param);
    let b1 = g.add_input("h1.b", Type::f32(vec![h]), InputRole::Param);
    let w2 = g.add_input("out.w", Type::f32(vec![h, c]), InputRole::Param);
    let b2 = g.add_input("out.b", Type::f32(vec![c]), InputRole::Param);
    // h = relu(x @ w1 + b1)
    let xw = op(&mut g, Op::MatMul { ta: false, tb: false }, &[x, w1]);
    let bb1 = op(&mut g, Op::Broadcast(vec![n, h]), &[b1]);
    let pre = op(&mut g, Op::Binary(BinOp::Add), &[xw, bb1]);
    let zero = splat(&mut g, 0.0, &[n, h]);
    let hid = op(&mut g, Op::Binary(BinOp::Max), &[pre, zero]);
    // logits = h @ w2 + b2
    let hw = op(&mut g, Op::MatMul { ta: false, tb: false }, &[hid, w2]);
    let bb2 = op(&mut g, Op::Broadcast(vec![n, c]), &[b2]);
    let logits = op(&mut g, Op::Binary(BinOp::Add), &[hw, bb2]);
    // lse = log(sum(exp(logits - m))) + m with m the row maximum
    let m = op(&mut g, Op::Reduce(ReduceOp::Max, vec![1]), &[logits]);
    let m1 = op(&mut g, Op::Reshape(vec![n, 1]), &[m]);
    let mb = op(&mut g, Op::Broadcast(vec![n, c]), &[m1]);
    let z = op(&mut g, Op::Binary(BinOp::Sub), &[logits, mb]);
    let ez = op(&mut g, Op::Unary(UnOp::Exp), &[z]);
    let se = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![1]), &[ez]);
    let ls = op(&mut g, Op::Unary(UnOp::Log), &[se]);
    let lse = op(&mut g, Op::Binary(BinOp::Add), &[ls, m]);
    // loss = mean(lse - sum(logits * one_hot(y)))
    let oh = op(&mut g, Op::OneHot(c), &[y]);
    let picked = op(&mut g, Op::Binary(BinOp::Mul), &[logits, oh]);
    let target = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![1]), &[picked]);
    let ce = op(&mut g, Op::Binary(BinOp::Sub), &[lse, target]);
    let total = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[ce]);
    let inv = g.constant(1.0 / n as f64);
    let loss = op(&mut g, Op::Binary(BinOp::Mul), &[total, inv]);
    g.add_output("loss", loss, OutputRole::Loss);
    // accuracy = mean(argmax(logits) == y)
    let am = op(&mut g, Op::Argmax(1), &[logits]);
    let hit = op(&mut g, Op::Binary(BinOp::Eq), &[am, y]);
    let hits = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[hit]);
    let acc = op(&mut g, Op::Binary(BinOp::Mul), &[hits, inv]);
    g.add_output("accuracy", acc, OutputRole::Metric);
    g
}

#[test]
fn mlp_cross_entropy_end_to_end() {
    let g = mlp();
    let mut rng = Rng(80);
    let inputs: Vec<Tensor> = g
        .inputs
        .iter()
        .map(|i| match i.ty.dtype {
            DType::I32 => {
                Tensor::new(i.ty.shape.clone(), (0..i.ty.numel()).map(|_| (rng.next_u64() % 3) as f64).collect())
            }
            DType::F32 => rng.tensor(&i.ty.shape, Dist::Signed),
        })
        .collect();
    check(&g, &inputs);
}

#[test]
fn backward_snapshot() {
    insta::assert_snapshot!("backward_mlp", print(&backward(&mlp())));
}

/// SGD with an inverse-square-root schedule: `lr = base / sqrt(t)`, `p <- p - lr * g` for
/// every parameter of `forward`.
fn sgd(forward: &Graph, base: f64) -> Graph {
    let mut u = Graph::new("update");
    let step = u.add_input("t", Type::scalar(DType::F32), InputRole::Step);
    let b = u.constant(base);
    let root = op(&mut u, Op::Unary(UnOp::Sqrt), &[step]);
    let lr = op(&mut u, Op::Binary(BinOp::Div), &[b, root]);
    for i in forward.inputs.iter().filter(|i| i.role == InputRole::Param) {
        let p = u.add_input(&i.name, i.ty.clone(), InputRole::Param);
        let gr = u.add_input(&format!("{}.grad", i.name), i.ty.clone(), InputRole::Grad);
        let lrb = op(&mut u, Op::Broadcast(i.ty.shape.clone()), &[lr]);
        let d = op(&mut u, Op::Binary(BinOp::Mul), &[lrb, gr]);
        let np = op(&mut u, Op::Binary(BinOp::Sub), &[p, d]);
        u.add_output(&i.name, np, OutputRole::Param);
    }
    u.add_output("lr", lr, OutputRole::Lr);
    u
}

/// Linear regression: `loss = mean((x @ w + b - y)^2)` with `x: [3, 2]`.
fn regression() -> Graph {
    let mut g = Graph::new("forward");
    let x = g.add_input("x", Type::f32(vec![3, 2]), InputRole::Data);
    let y = g.add_input("y", Type::f32(vec![3, 1]), InputRole::Label);
    let w = g.add_input("w", Type::f32(vec![2, 1]), InputRole::Param);
    let b = g.add_input("b", Type::scalar(DType::F32), InputRole::Param);
    let xw = op(&mut g, Op::MatMul { ta: false, tb: false }, &[x, w]);
    let bb = op(&mut g, Op::Broadcast(vec![3, 1]), &[b]);
    let pred = op(&mut g, Op::Binary(BinOp::Add), &[xw, bb]);
    let err = op(&mut g, Op::Binary(BinOp::Sub), &[pred, y]);
    let two = splat(&mut g, 2.0, &[3, 1]);
    let sq = op(&mut g, Op::Binary(BinOp::Pow), &[err, two]);
    let total = op(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[sq]);
    let third = g.constant(1.0 / 3.0);
    let loss = op(&mut g, Op::Binary(BinOp::Mul), &[total, third]);
    g.add_output("loss", loss, OutputRole::Loss);
    g
}

#[test]
fn compose_snapshot() {
    let f = regression();
    let update = sgd(&f, 0.1);
    let ts = compose(&backward(&f), &update);
    ts.verify().unwrap_or_else(|e| panic!("train_step is invalid: {e}\n{}", print(&ts)));
    insta::assert_snapshot!("compose_sgd", format!("{}\n{}", print(&update), print(&ts)));
}

#[test]
fn compose_sgd_matches_manual_step() {
    let f = mlp();
    let b = backward(&f);
    let ts = compose(&b, &sgd(&f, 0.1));
    ts.verify().unwrap_or_else(|e| panic!("train_step is invalid: {e}\n{}", print(&ts)));
    let mut rng = Rng(81);
    let mut inputs: Vec<Tensor> = f
        .inputs
        .iter()
        .map(|i| match i.ty.dtype {
            DType::I32 => {
                Tensor::new(i.ty.shape.clone(), (0..i.ty.numel()).map(|_| (rng.next_u64() % 3) as f64).collect())
            }
            DType::F32 => rng.tensor(&i.ty.shape, Dist::Signed),
        })
        .collect();
    let bout = eval(&b, &inputs);
    inputs.push(Tensor::scalar(4.0));
    let tout = eval(&ts, &inputs);
    let names: Vec<&str> = ts.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["loss", "accuracy", "h1.w", "h1.b", "out.w", "out.b", "lr"]);
    assert_eq!(tout[..2], bout[..2]);
    let lr = 0.1 / 2.0;
    for (j, o) in ts.outputs.iter().enumerate().filter(|(_, o)| o.role == OutputRole::Param) {
        let k = f.input_index(&o.name).unwrap();
        let grad = &bout[b.outputs.iter().position(|bo| bo.name == format!("{}.grad", o.name)).unwrap()];
        for e in 0..grad.data.len() {
            assert_eq!(tout[j].data[e], inputs[k].data[e] - lr * grad.data[e]);
        }
    }
    assert_eq!(tout[6].data[0], lr);
    check_optimized(&ts, &inputs);
}

#[test]
fn optimized_backward_snapshot() {
    insta::assert_snapshot!("backward_mlp_optimized", print(&optimize(&backward(&mlp()))));
}

/// `all_sum` in one process is its operand: its gradient, `all_sum` of the cotangent, is too.
#[test]
fn all_sum() {
    let (g, x) = case(81, &[("a", &[2, 3], Dist::Signed)], |g, p| {
        let t = op(g, Op::Unary(UnOp::Tanh), &[p[0]]);
        op(g, Op::AllSum, &[t])
    });
    check(&g, &x);
}

/// A rank's share of the loss and the sums over the ranks: the rewritten graphs as text, and
/// in one process (where `all_sum` is its operand) the loss and gradients times the share.
#[test]
fn a_ranks_share_and_sums() {
    let (f, x) = case(82, &[("w", &[3], Dist::Signed)], |g, p| op(g, Op::Unary(UnOp::Sin), &[p[0]]));
    let ranked = control::all_sum(&backward(&control::share_loss(&f, 0.25)));
    ranked.verify().expect("the rewritten graph verifies");
    insta::assert_snapshot!("backward_of_a_rank", print(&ranked));
    let (alone, mine) = (eval(&backward(&f), &x), eval(&ranked, &x));
    for (a, m) in alone.iter().zip(&mine) {
        for (p, q) in a.data.iter().zip(&m.data) {
            assert!((q - 0.25 * p).abs() <= 1e-15 * p.abs(), "{q} is not a quarter of {p}");
        }
    }
    // A share of 1 leaves the single process's values, with one sum per gradient and the loss.
    let one = control::all_sum(&backward(&control::share_loss(&f, 1.0)));
    let sums = optimize(&one).nodes.iter().filter(|n| n.op == Op::AllSum).count();
    assert_eq!(sums, 2, "one sum per gradient and one of the loss");
    assert_eq!(eval(&one, &x), alone);
}

/// A rank's `rand` over the batch's rows starts where its rows start in the single process's
/// draw; one that does not depend on the batch draws as it did; one over another axis cannot
/// be split.
#[test]
fn a_ranks_random_numbers_are_its_rows() {
    let draws = |shapes: &[Vec<usize>]| {
        let mut g = Graph::new("forward");
        let words = g.add_step_input(crate::ir::StepInput::Rng);
        let mut total = g.constant(0.0);
        for (key, shape) in shapes.iter().enumerate() {
            let r = op(&mut g, Op::Rand { key: key as u64, shape: shape.clone(), first: 0 }, &[words]);
            let s = op(&mut g, Op::Reduce(ReduceOp::Sum, (0..shape.len()).collect()), &[r]);
            total = op(&mut g, Op::Binary(BinOp::Add), &[total, s]);
        }
        g.add_output("loss", total, OutputRole::Loss);
        g
    };
    let firsts = |g: &Graph| -> Vec<u64> {
        g.nodes.iter().filter_map(|n| if let Op::Rand { first, .. } = n.op { Some(first) } else { None }).collect()
    };
    let global = draws(&[vec![6, 3], vec![5]]);
    let local = draws(&[vec![2, 3], vec![5]]);
    assert_eq!(firsts(&control::offset_rand(&local, &global, 2).unwrap()), [6, 0]);
    let across = draws(&[vec![3, 2]]);
    assert_eq!(control::offset_rand(&across, &draws(&[vec![3, 6]]), 2).map(|g| firsts(&g)), Err(0));
}

mod tensor_ops;
mod window;
