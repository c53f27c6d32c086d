//! JIT against the reference interpreter on every op, alone and fused; approximation error
//! bounds; snapshots of the kernels and memory plan of a small MLP training step.

use super::*;
use crate::ir::interp::{eval, Tensor};
use crate::ir::{BinOp, Input, InputRole, NodeId, Op, OutputRole, ReduceOp, Type, UnOp};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

fn opts() -> CompileOptions {
    CompileOptions { verify: true, keep_clif: false, threads: 1, flush_denormals: false }
}

fn f32_input(g: &mut Graph, name: &str, shape: &[usize]) -> NodeId {
    g.add_input(name, Type::f32(shape.to_vec()), InputRole::Data)
}

fn push(g: &mut Graph, op: Op, args: &[NodeId]) -> NodeId {
    g.push(op, args.to_vec()).expect("test graphs are well-typed")
}

/// Random data for an input: f32 uniform in `range`, i32 labels in `0..5`; rounded to f32.
fn random_input(i: &Input, rng: &mut Rng, range: (f64, f64)) -> Tensor {
    let n = i.ty.numel();
    let data = match i.ty.dtype {
        DType::F32 => (0..n).map(|_| f64::from(rng.uniform(range.0, range.1) as f32)).collect(),
        DType::I32 => (0..n).map(|_| (rng.next() * 5.0).floor()).collect(),
    };
    Tensor::new(i.ty.shape.clone(), data)
}

/// Whether a JIT result matches the interpreter: 1e-5 relative plus an absolute term scaled by
/// the tensor's largest magnitude (sums and products round in f32 against an f64 oracle).
fn close(got: f64, want: f64, scale: f64) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    // The oracle computes in f64; a result beyond f32's range is an f32 infinity.
    if (want as f32).is_infinite() {
        return got == f64::from(want as f32);
    }
    (got - want).abs() <= 1e-5 * want.abs() + 1e-6 * (1.0 + scale)
}

/// Compiles `g`, runs it on `inputs` and compares every output (and every in-place update) with
/// the interpreter; returns the executable for further checks.
fn check_with(g: &Graph, inputs: &[Tensor]) -> Executable {
    g.verify().expect("test graph verifies");
    let mut exe = Executable::compile(g, &opts()).unwrap_or_else(|e| panic!("compile failed: {e}"));
    for (t, i) in inputs.iter().zip(&g.inputs) {
        match i.ty.dtype {
            DType::F32 => {
                let dst = exe.input_mut(&i.name).expect("f32 input");
                for (d, &s) in dst.iter_mut().zip(&t.data) {
                    *d = s as f32;
                }
            }
            DType::I32 => {
                let dst = exe.input_i32_mut(&i.name).expect("i32 input");
                for (d, &s) in dst.iter_mut().zip(&t.data) {
                    *d = s as i32;
                }
            }
        }
    }
    exe.run();
    let want = eval(g, inputs);
    for (o, w) in g.outputs.iter().zip(&want) {
        let got: Vec<f64> = match g.ty(o.node).dtype {
            DType::F32 => exe.output(&o.name).expect("f32 output").iter().map(|&x| f64::from(x)).collect(),
            DType::I32 => exe.output_i32(&o.name).expect("i32 output").iter().map(|&x| f64::from(x)).collect(),
        };
        assert_eq!(got.len(), w.data.len(), "output `{}` has the wrong length", o.name);
        let scale = w.data.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(x.abs()));
        for (j, (&a, &b)) in got.iter().zip(&w.data).enumerate() {
            assert!(close(a, b, scale), "output `{}`[{j}]: jit {a}, interpreter {b}\n{}", o.name, exe.kernels());
        }
    }
    exe
}

/// `check_with` on random inputs in `range`.
fn check_range(g: &Graph, range: (f64, f64)) -> Executable {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, range)).collect();
    check_with(g, &inputs)
}

fn check(g: &Graph) -> Executable {
    check_range(g, (-2.0, 2.0))
}

/// Inner sizes that exercise the vector body, the scalar remainder and both.
const SHAPES: [&[usize]; 8] = [&[], &[1], &[3], &[4], &[7], &[33], &[5, 7], &[2, 3, 9]];

mod ops {
    use super::*;

    fn unary(op: Op, range: (f64, f64)) {
        for shape in SHAPES {
            let mut g = Graph::new("unary");
            let x = f32_input(&mut g, "x", shape);
            let y = push(&mut g, op.clone(), &[x]);
            g.add_output("y", y, OutputRole::Metric);
            check_range(&g, range);
        }
    }

    #[test]
    fn neg() {
        unary(Op::Unary(UnOp::Neg), (-3.0, 3.0));
    }

    #[test]
    fn exp() {
        unary(Op::Unary(UnOp::Exp), (-30.0, 30.0));
    }

    #[test]
    fn log() {
        unary(Op::Unary(UnOp::Log), (1e-3, 1e3));
    }

    #[test]
    fn sqrt() {
        unary(Op::Unary(UnOp::Sqrt), (0.0, 100.0));
    }

    #[test]
    fn abs() {
        unary(Op::Unary(UnOp::Abs), (-3.0, 3.0));
    }

    #[test]
    fn tanh() {
        unary(Op::Unary(UnOp::Tanh), (-6.0, 6.0));
    }

    #[test]
    fn erf() {
        unary(Op::Unary(UnOp::Erf), (-4.0, 4.0));
    }

    #[test]
    fn log1p() {
        unary(Op::Unary(UnOp::Log1p), (-0.99, 1e3));
    }

    #[test]
    fn expm1() {
        unary(Op::Unary(UnOp::Expm1), (-30.0, 30.0));
    }

    #[test]
    fn sign_with_zeros() {
        let mut g = Graph::new("sign");
        let x = f32_input(&mut g, "x", &[9]);
        let y = push(&mut g, Op::Unary(UnOp::Sign), &[x]);
        g.add_output("y", y, OutputRole::Metric);
        let data = vec![-2.0, 0.0, 3.0, -0.0, 1e-30, -1e-30, 5.0, -5.0, 0.0];
        check_with(&g, &[Tensor::new(vec![9], data)]);
    }

    fn binary(op: Op, range: (f64, f64)) {
        for shape in SHAPES {
            let mut g = Graph::new("binary");
            let a = f32_input(&mut g, "a", shape);
            let b = f32_input(&mut g, "b", shape);
            let y = push(&mut g, op.clone(), &[a, b]);
            g.add_output("y", y, OutputRole::Metric);
            check_range(&g, range);
        }
    }

    #[test]
    fn add() {
        binary(Op::Binary(BinOp::Add), (-3.0, 3.0));
    }

    #[test]
    fn sub() {
        binary(Op::Binary(BinOp::Sub), (-3.0, 3.0));
    }

    #[test]
    fn mul() {
        binary(Op::Binary(BinOp::Mul), (-3.0, 3.0));
    }

    #[test]
    fn div() {
        binary(Op::Binary(BinOp::Div), (0.5, 3.0));
    }

    #[test]
    fn pow_general() {
        binary(Op::Binary(BinOp::Pow), (0.1, 3.0));
    }

    #[test]
    fn max() {
        binary(Op::Binary(BinOp::Max), (-3.0, 3.0));
    }

    #[test]
    fn min() {
        binary(Op::Binary(BinOp::Min), (-3.0, 3.0));
    }

    #[test]
    fn gt() {
        binary(Op::Binary(BinOp::Gt), (-3.0, 3.0));
    }

    #[test]
    fn eq_f32_with_ties() {
        let mut g = Graph::new("eq");
        let a = f32_input(&mut g, "a", &[7]);
        let b = f32_input(&mut g, "b", &[7]);
        let y = push(&mut g, Op::Binary(BinOp::Eq), &[a, b]);
        g.add_output("y", y, OutputRole::Metric);
        let a_data = Tensor::new(vec![7], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let b_data = Tensor::new(vec![7], vec![1.0, 0.0, 3.0, 0.0, 5.0, 6.0, 0.0]);
        check_with(&g, &[a_data, b_data]);
    }

    #[test]
    fn floor() {
        unary(Op::Unary(UnOp::Floor), (-5.0, 5.0));
    }

    #[test]
    fn floor_at_integers_and_extremes() {
        let data = [
            -2.5,
            -0.0,
            0.0,
            2.0,
            -2.0,
            0.5,
            -0.5,
            1e30,
            -1e-30,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            8_388_607.5,
            -8_388_607.5,
            0.999_999_94,
            -1.000_000_1,
            3.0,
        ];
        let mut g = Graph::new("floor");
        let x = f32_input(&mut g, "x", &[data.len()]);
        let y = push(&mut g, Op::Unary(UnOp::Floor), &[x]);
        g.add_output("y", y, OutputRole::Metric);
        let inputs = [Tensor::new(vec![data.len()], data.iter().map(|&v| f64::from(v as f32)).collect())];
        let exe = check_with(&g, &inputs);
        assert_eq!(exe.output("y").expect("y")[1].to_bits(), (-0.0f32).to_bits(), "floor(-0) is -0");
    }

    #[test]
    fn cos() {
        unary(Op::Unary(UnOp::Cos), (-10.0, 10.0));
    }

    #[test]
    fn sin() {
        unary(Op::Unary(UnOp::Sin), (-10.0, 10.0));
    }

    /// Beyond |x| = 8192 a vector takes the call to Rust's sinf/cosf; most here do.
    #[test]
    fn sin_cos_large_arguments() {
        unary(Op::Unary(UnOp::Sin), (-2e4, 2e4));
        unary(Op::Unary(UnOp::Cos), (-2e4, 2e4));
    }

    /// A mask of 1, 0, -0 and other nonzeros (-3, NaN): random per element.
    fn random_mask(n: usize, rng: &mut Rng) -> Vec<f64> {
        (0..n).map(|_| [1.0, 0.0, -0.0, -3.0, 1.0, 0.0, f64::NAN][(rng.next() * 7.0) as usize]).collect()
    }

    #[test]
    fn select() {
        let mut rng = Rng(21);
        for shape in SHAPES {
            let mut g = Graph::new("select");
            let c = f32_input(&mut g, "c", shape);
            let a = f32_input(&mut g, "a", shape);
            let b = f32_input(&mut g, "b", shape);
            let y = push(&mut g, Op::Select, &[c, a, b]);
            g.add_output("y", y, OutputRole::Metric);
            let mut inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, (-3.0, 3.0))).collect();
            inputs[0].data = random_mask(inputs[0].data.len(), &mut rng);
            check_with(&g, &inputs);
        }
    }

    /// Operands that are views: a mask row repeated down the rows, a broadcast scalar input, a
    /// constant; all in one loop.
    #[test]
    fn select_of_broadcasts() {
        for (m, n) in [(1, 1), (3, 7), (5, 4), (2, 33)] {
            let mut g = Graph::new("select_bcast");
            let x = f32_input(&mut g, "x", &[m, n]);
            let row = f32_input(&mut g, "row", &[n]);
            let s = f32_input(&mut g, "s", &[]);
            let rb = push(&mut g, Op::Broadcast(vec![m, n]), &[row]);
            let sb = push(&mut g, Op::Broadcast(vec![m, n]), &[s]);
            let half = g.constant(0.5);
            let hb = push(&mut g, Op::Broadcast(vec![m, n]), &[half]);
            let y1 = push(&mut g, Op::Select, &[rb, sb, x]);
            let zero = g.constant(0.0);
            let zb = push(&mut g, Op::Broadcast(vec![m, n]), &[zero]);
            let pos = push(&mut g, Op::Binary(BinOp::Gt), &[x, zb]);
            let y2 = push(&mut g, Op::Select, &[pos, x, hb]);
            g.add_output("y1", y1, OutputRole::Metric);
            g.add_output("y2", y2, OutputRole::Metric);
            let mut rng = Rng(22);
            let mut inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, (-1.0, 1.0))).collect();
            inputs[1].data = random_mask(n, &mut rng);
            let exe = check_with(&g, &inputs);
            assert_eq!(exe.stats().kernels, 1, "one fused loop:\n{}", exe.kernels());
        }
    }

    /// The point of select: a NaN or inf in the operand not picked, loaded or computed in the
    /// same kernel (log and sqrt of negatives), never reaches the result, at every width.
    #[test]
    fn select_nan_in_unpicked_branch_does_not_leak() {
        for shape in SHAPES {
            let n: usize = shape.iter().product();
            let mut g = Graph::new("select_nan");
            let c = f32_input(&mut g, "c", shape);
            let a = f32_input(&mut g, "a", shape);
            let b = f32_input(&mut g, "b", shape);
            let plain = push(&mut g, Op::Select, &[c, a, b]);
            let (la, sb) = (push(&mut g, Op::Unary(UnOp::Log), &[a]), push(&mut g, Op::Unary(UnOp::Sqrt), &[b]));
            let computed = push(&mut g, Op::Select, &[c, la, sb]);
            g.add_output("plain", plain, OutputRole::Metric);
            g.add_output("computed", computed, OutputRole::Metric);
            let picks_a = |i: usize| i % 3 != 1;
            let mask = (0..n).map(|i| if picks_a(i) { [1.0, -2.0][i % 2] } else { [0.0, -0.0][i % 2] }).collect();
            // Where a is picked, b is NaN, inf or negative, and the other way round.
            let bad = [f64::NAN, f64::INFINITY, -1.0, f64::NEG_INFINITY];
            let a_data = (0..n).map(|i| if picks_a(i) { 0.5 + i as f64 } else { bad[i % 4] }).collect();
            let b_data = (0..n).map(|i| if picks_a(i) { bad[i % 4] } else { 2.0 + i as f64 }).collect();
            let t = |data| Tensor::new(shape.to_vec(), data);
            let inputs = [t(mask), t(a_data), t(b_data)];
            let exe = check_with(&g, &inputs);
            for (name, want) in ["plain", "computed"].into_iter().zip(eval(&g, &inputs)) {
                let out = exe.output(name).expect("output");
                assert!(out.iter().all(|v| v.is_finite()), "jit {name} {shape:?}: {out:?}\n{}", exe.kernels());
                assert!(want.data.iter().all(|v| v.is_finite()), "interpreter {name} {shape:?}: {want:?}");
            }
        }
    }

    #[test]
    fn max_propagates_nan_from_either_side() {
        let mut g = Graph::new("max_nan");
        let a = f32_input(&mut g, "a", &[5]);
        let b = f32_input(&mut g, "b", &[5]);
        let y = push(&mut g, Op::Binary(BinOp::Max), &[a, b]);
        let zero = g.constant(0.0);
        let z = push(&mut g, Op::Broadcast(vec![5]), &[zero]);
        let relu = push(&mut g, Op::Binary(BinOp::Max), &[a, z]);
        g.add_output("y", y, OutputRole::Metric);
        g.add_output("relu", relu, OutputRole::Metric);
        let nan = f64::NAN;
        let a_data = Tensor::new(vec![5], vec![nan, 1.0, -1.0, nan, 2.0]);
        let b_data = Tensor::new(vec![5], vec![1.0, nan, -2.0, nan, 3.0]);
        check_with(&g, &[a_data, b_data]);
    }

    #[test]
    fn min_propagates_nan_from_either_side() {
        let mut g = Graph::new("min_nan");
        let a = f32_input(&mut g, "a", &[5]);
        let b = f32_input(&mut g, "b", &[5]);
        let y = push(&mut g, Op::Binary(BinOp::Min), &[a, b]);
        let one = g.constant(1.0);
        let o = push(&mut g, Op::Broadcast(vec![5]), &[one]);
        let capped = push(&mut g, Op::Binary(BinOp::Min), &[a, o]);
        g.add_output("y", y, OutputRole::Metric);
        g.add_output("capped", capped, OutputRole::Metric);
        let nan = f64::NAN;
        let a_data = Tensor::new(vec![5], vec![nan, 1.0, -1.0, nan, 2.0]);
        let b_data = Tensor::new(vec![5], vec![1.0, nan, -2.0, nan, 3.0]);
        check_with(&g, &[a_data, b_data]);
    }

    /// `x ^ c` for constants: squaring for integral c (negative bases included), `powf` otherwise.
    #[test]
    fn pow_constant_exponents() {
        for c in [2.0, 3.0, -1.0, 0.0, 1.0, 8.0, -3.0, 0.5, 2.5, 9.0] {
            let mut g = Graph::new("powc");
            let x = f32_input(&mut g, "x", &[7]);
            let k = g.constant(c);
            let kb = push(&mut g, Op::Broadcast(vec![7]), &[k]);
            let y = push(&mut g, Op::Binary(BinOp::Pow), &[x, kb]);
            g.add_output("y", y, OutputRole::Metric);
            let range = if c == c.trunc() { (-2.0, 2.0) } else { (0.1, 2.0) };
            check_range(&g, range);
        }
    }

    /// `(theta - 3)^2` on a scalar parameter, as the quadratic example writes it.
    #[test]
    fn pow_of_negative_base_scalar() {
        let mut g = Graph::new("quadratic");
        let theta = g.add_input("theta", Type::f32(vec![]), InputRole::Param);
        let three = g.constant(3.0);
        let d = push(&mut g, Op::Binary(BinOp::Sub), &[theta, three]);
        let two = g.constant(2.0);
        let loss = push(&mut g, Op::Binary(BinOp::Pow), &[d, two]);
        g.add_output("loss", loss, OutputRole::Loss);
        check_with(&g, &[Tensor::scalar(0.0)]);
        // A general exponent with a negative base and integral value goes through powf.
        let mut g = Graph::new("pow_input_exponent");
        let a = f32_input(&mut g, "a", &[5]);
        let b = f32_input(&mut g, "b", &[5]);
        let y = push(&mut g, Op::Binary(BinOp::Pow), &[a, b]);
        g.add_output("y", y, OutputRole::Metric);
        let a_data = Tensor::new(vec![5], vec![-3.0, -2.0, -1.5, 2.0, -0.5]);
        let b_data = Tensor::new(vec![5], vec![2.0, 3.0, 2.0, 0.5, -2.0]);
        check_with(&g, &[a_data, b_data]);
    }
}

/// Every elementwise op in one fused chain, stored at two points, and the same chain reduced.
#[test]
fn every_op_in_one_fused_chain() {
    for shape in [vec![3usize], vec![5, 7], vec![2, 3, 9]] {
        let mut g = Graph::new("chain");
        let a = f32_input(&mut g, "a", &shape);
        let b = f32_input(&mut g, "b", &shape);
        let k = |g: &mut Graph, v: f64| {
            let c = g.constant(v);
            push(g, Op::Broadcast(shape.clone()), &[c])
        };
        let (tenth, one, two) = (k(&mut g, 0.1), k(&mut g, 1.0), k(&mut g, 2.0));
        let t1 = push(&mut g, Op::Binary(BinOp::Mul), &[a, tenth]);
        let t2 = push(&mut g, Op::Unary(UnOp::Exp), &[t1]);
        let bb = push(&mut g, Op::Binary(BinOp::Mul), &[b, b]);
        let t3 = push(&mut g, Op::Binary(BinOp::Add), &[t2, bb]);
        let t4 = push(&mut g, Op::Unary(UnOp::Log), &[t3]);
        let t5 = push(&mut g, Op::Binary(BinOp::Add), &[t4, one]);
        let t6 = push(&mut g, Op::Unary(UnOp::Sqrt), &[t5]);
        let t7 = push(&mut g, Op::Binary(BinOp::Sub), &[t6, a]);
        let t8 = push(&mut g, Op::Unary(UnOp::Tanh), &[t7]);
        let t9 = push(&mut g, Op::Unary(UnOp::Abs), &[t8]);
        let t10 = push(&mut g, Op::Binary(BinOp::Add), &[t9, one]);
        let t11 = push(&mut g, Op::Binary(BinOp::Pow), &[t10, b]);
        let t12 = push(&mut g, Op::Binary(BinOp::Pow), &[t11, two]);
        let d = push(&mut g, Op::Binary(BinOp::Sub), &[a, b]);
        let t13 = push(&mut g, Op::Unary(UnOp::Sign), &[d]);
        let t14 = push(&mut g, Op::Binary(BinOp::Max), &[t12, t13]);
        let t15 = push(&mut g, Op::Binary(BinOp::Gt), &[t14, a]);
        let t16 = push(&mut g, Op::Binary(BinOp::Eq), &[t15, t13]);
        let t17 = push(&mut g, Op::Binary(BinOp::Div), &[t14, t10]);
        let t18 = push(&mut g, Op::Unary(UnOp::Neg), &[t17]);
        let t19 = push(&mut g, Op::Binary(BinOp::Add), &[t18, t16]);
        let t20 = push(&mut g, Op::Unary(UnOp::Cos), &[t19]);
        let t21 = push(&mut g, Op::Unary(UnOp::Sin), &[t7]);
        let three = k(&mut g, 3.0);
        let t22 = push(&mut g, Op::Binary(BinOp::Mul), &[t21, three]);
        let t23 = push(&mut g, Op::Unary(UnOp::Floor), &[t22]);
        // t15 is a mask with both values.
        let t24 = push(&mut g, Op::Select, &[t15, t20, t23]);
        let end = push(&mut g, Op::Binary(BinOp::Add), &[t24, t19]);
        g.add_output("mid", t8, OutputRole::Metric);
        g.add_output("end", end, OutputRole::Metric);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());

        // The same chain feeding a reduction (without the mid output) is one loop too.
        g.outputs.clear();
        let all: Vec<usize> = (0..shape.len()).collect();
        let total = push(&mut g, Op::Reduce(ReduceOp::Sum, all), &[end]);
        g.add_output("total", total, OutputRole::Loss);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());
    }
}

/// Scalar kernels compute in f64 and round once: `1 - beta2^t` at t = 1 is 0.001 to f32
/// precision, not `1 - 0.999f32` (1.3e-5 off), as PyTorch computes bias corrections in Python
/// floats; transcendentals in them are Rust's f64 functions.
#[test]
fn scalar_kernels_compute_in_double() {
    let mut g = Graph::new("bias_correction");
    let t = g.add_input("t", Type::f32(vec![]), InputRole::Step);
    let beta2 = g.constant(0.999);
    let p = push(&mut g, Op::Binary(BinOp::Pow), &[beta2, t]);
    let one = g.constant(1.0);
    let bc = push(&mut g, Op::Binary(BinOp::Sub), &[one, p]);
    let e = push(&mut g, Op::Unary(UnOp::Exp), &[bc]);
    let l = push(&mut g, Op::Unary(UnOp::Log), &[bc]);
    let th = push(&mut g, Op::Unary(UnOp::Tanh), &[bc]);
    // In f32, 1 - 0.999 is 4.7e-8 too large: floor(bc * 1e8) would be 100004, sin and cos of
    // bc * 1e4 off by 4e-4.
    let big = g.constant(1e8);
    let bc_big = push(&mut g, Op::Binary(BinOp::Mul), &[bc, big]);
    let fl = push(&mut g, Op::Unary(UnOp::Floor), &[bc_big]);
    let ten4 = g.constant(1e4);
    let angle = push(&mut g, Op::Binary(BinOp::Mul), &[bc, ten4]);
    let (s, c) = (push(&mut g, Op::Unary(UnOp::Sin), &[angle]), push(&mut g, Op::Unary(UnOp::Cos), &[angle]));
    let thousandth = g.constant(0.001);
    let mask = push(&mut g, Op::Binary(BinOp::Sub), &[bc, thousandth]);
    let sel = push(&mut g, Op::Select, &[mask, s, c]);
    let outs = [("bc2", bc), ("exp", e), ("log", l), ("tanh", th), ("floor", fl), ("sin", s), ("cos", c), ("sel", sel)];
    for (name, node) in outs {
        g.add_output(name, node, OutputRole::Metric);
    }
    let mut exe = Executable::compile(&g, &opts()).expect("compiles");
    exe.input_mut("t").expect("t")[0] = 1.0;
    exe.run();
    let bc = 1.0 - 0.999f64;
    let (fl, s, c) = ((bc * 1e8).floor(), (bc * 1e4).sin(), (bc * 1e4).cos());
    // 1 - 0.999 is not 0.001 in f64 either (the mask is 8.7e-19), so the select picks sin.
    let sel = if bc - 0.001 != 0.0 { s } else { c };
    let wants = [("bc2", bc), ("exp", bc.exp()), ("log", bc.ln()), ("tanh", bc.tanh()), ("floor", fl), ("sin", s)];
    for (name, want) in wants.into_iter().chain([("cos", c), ("sel", sel)]) {
        assert_eq!(exe.output(name).expect("output")[0], want as f32, "{name}");
    }
    assert_eq!(fl, 100_000.0);
}

mod views {
    use super::*;

    #[test]
    fn broadcast_rows_columns_and_scalars() {
        for (m, n) in [(1, 1), (3, 7), (5, 4), (2, 33)] {
            let mut g = Graph::new("bcast");
            let x = f32_input(&mut g, "x", &[m, n]);
            let row = f32_input(&mut g, "row", &[n]);
            let col = f32_input(&mut g, "col", &[m, 1]);
            let s = f32_input(&mut g, "s", &[]);
            let rb = push(&mut g, Op::Broadcast(vec![m, n]), &[row]);
            let cb = push(&mut g, Op::Broadcast(vec![m, n]), &[col]);
            let sb = push(&mut g, Op::Broadcast(vec![m, n]), &[s]);
            let half = g.constant(0.5);
            let hb = push(&mut g, Op::Broadcast(vec![m, n]), &[half]);
            let a = push(&mut g, Op::Binary(BinOp::Add), &[x, rb]);
            let b = push(&mut g, Op::Binary(BinOp::Mul), &[a, cb]);
            let c = push(&mut g, Op::Binary(BinOp::Sub), &[b, sb]);
            let d = push(&mut g, Op::Binary(BinOp::Mul), &[c, hb]);
            g.add_output("y", d, OutputRole::Metric);
            let exe = check(&g);
            assert_eq!(exe.stats().kernels, 1, "one fused loop:\n{}", exe.kernels());
        }
    }

    #[test]
    fn broadcast_of_rank3_middle_axis() {
        let mut g = Graph::new("bcast3");
        let x = f32_input(&mut g, "x", &[3, 1, 5]);
        let y = f32_input(&mut g, "y", &[3, 4, 5]);
        let xb = push(&mut g, Op::Broadcast(vec![3, 4, 5]), &[x]);
        let z = push(&mut g, Op::Binary(BinOp::Mul), &[xb, y]);
        g.add_output("z", z, OutputRole::Metric);
        check(&g);
    }

    /// Flattening a broadcast cannot be a strided view: the broadcast is materialised first.
    #[test]
    fn reshape_of_broadcast_materialises() {
        let mut g = Graph::new("reshape_bcast");
        let x = f32_input(&mut g, "x", &[3]);
        let y = f32_input(&mut g, "y", &[6]);
        let xb = push(&mut g, Op::Broadcast(vec![2, 3]), &[x]);
        let xr = push(&mut g, Op::Reshape(vec![6]), &[xb]);
        let z = push(&mut g, Op::Binary(BinOp::Add), &[xr, y]);
        g.add_output("z", z, OutputRole::Metric);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 2, "{}", exe.kernels());
    }

    /// Reshapes that keep contiguity are free, including splitting a broadcast row.
    #[test]
    fn reshape_views() {
        let mut g = Graph::new("reshape");
        let x = f32_input(&mut g, "x", &[4, 6]);
        let r = f32_input(&mut g, "r", &[6]);
        let xr = push(&mut g, Op::Reshape(vec![2, 2, 6]), &[x]);
        let rb = push(&mut g, Op::Broadcast(vec![2, 2, 6]), &[r]);
        let rr = push(&mut g, Op::Reshape(vec![2, 2, 2, 3]), &[rb]);
        let xr2 = push(&mut g, Op::Reshape(vec![2, 2, 2, 3]), &[xr]);
        let z = push(&mut g, Op::Binary(BinOp::Mul), &[xr2, rr]);
        g.add_output("z", z, OutputRole::Metric);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());
    }

    /// Outputs that are a constant, a view or an input get their own buffers.
    #[test]
    fn outputs_that_are_not_computed() {
        let mut g = Graph::new("copies");
        let x = f32_input(&mut g, "x", &[2, 3]);
        let lr = g.constant(0.25);
        let xb = push(&mut g, Op::Reshape(vec![3, 2]), &[x]);
        g.add_output("lr", lr, OutputRole::Lr);
        g.add_output("xr", xb, OutputRole::Metric);
        g.add_output("x_again", x, OutputRole::Metric);
        check(&g);
    }
}

mod reductions {
    use super::*;

    fn reduce(op: fn(Vec<usize>) -> Op, shape: &[usize], axes: Vec<usize>, fused: bool) {
        let mut g = Graph::new("reduce");
        let x = f32_input(&mut g, "x", shape);
        let src = if fused {
            let e = push(&mut g, Op::Unary(UnOp::Exp), &[x]);
            let h = g.constant(0.5);
            let hb = push(&mut g, Op::Broadcast(shape.to_vec()), &[h]);
            push(&mut g, Op::Binary(BinOp::Mul), &[e, hb])
        } else {
            x
        };
        let y = push(&mut g, op(axes.clone()), &[src]);
        g.add_output("y", y, OutputRole::Metric);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 1, "producers fuse into the reduction:\n{}", exe.kernels());
    }

    fn every_axis_set(op: fn(Vec<usize>) -> Op) {
        let shapes: [&[usize]; 7] = [&[1], &[7], &[33], &[3, 5], &[4, 9], &[8, 1], &[2, 3, 9]];
        for shape in shapes {
            let rank = shape.len();
            for mask in 0..(1usize << rank) {
                let axes: Vec<usize> = (0..rank).filter(|a| mask & (1 << a) != 0).collect();
                for fused in [false, true] {
                    reduce(op, shape, axes.clone(), fused);
                }
            }
        }
    }

    #[test]
    fn sum_over_every_axis_set() {
        every_axis_set(|a| Op::Reduce(ReduceOp::Sum, a));
    }

    #[test]
    fn max_over_every_axis_set() {
        every_axis_set(|a| Op::Reduce(ReduceOp::Max, a));
    }

    #[test]
    fn big_sums_both_loop_orders() {
        for (shape, axes) in [(vec![64, 1000], vec![1]), (vec![1000, 64], vec![0]), (vec![100_003], vec![0])] {
            let mut g = Graph::new("big");
            let x = f32_input(&mut g, "x", &shape);
            let y = push(&mut g, Op::Reduce(ReduceOp::Sum, axes), &[x]);
            g.add_output("y", y, OutputRole::Metric);
            check(&g);
        }
    }

    /// Sums of tens of thousands of terms that cancel, as batch norm's are: a constant
    /// background less the mean, and a foreground of the other sign, in both loop orders (the
    /// innermost dim reduced, alone or under an outer reduced dim, and kept). Running f32 sums
    /// missed the f64 results (about ±25) by 1.2e-3 to 4.5e-3; PyTorch's cascade misses these
    /// by 6e-6 to 3.6e-5, blocked sums into f64 by 3.1e-5.
    #[test]
    fn long_cancelling_sums_both_loop_orders() {
        let cases: [(&[usize], &[usize]); 4] =
            [(&[64, 3, 784], &[0, 2]), (&[3, 50_176], &[1]), (&[50_176, 3], &[0]), (&[784, 5, 64], &[0, 2])];
        for (shape, axes) in cases {
            let mut g = Graph::new("cancelling");
            let x = f32_input(&mut g, "x", shape);
            let y = push(&mut g, Op::Reduce(ReduceOp::Sum, axes.to_vec()), &[x]);
            g.add_output("y", y, OutputRole::Metric);
            let mut rng = Rng(11);
            let n: usize = shape.iter().product();
            let data: Vec<f64> = (0..n)
                .map(|_| {
                    let v = if rng.next() < 0.85 { 0.03 } else { -0.17 + 0.01 * rng.uniform(-1.0, 1.0) };
                    f64::from(v as f32)
                })
                .collect();
            check_with(&g, &[Tensor::new(shape.to_vec(), data)]);
        }
    }

    /// Bodies with loads of every kind (contiguous, broadcast along the reduced dims, broadcast
    /// along the rows, transposed) over every axis set of a shape whose rows take each path:
    /// grouped vectors, a single vector and scalars, or blocks of 16 and 4 columns and single
    /// columns; sums and maxima.
    #[test]
    fn broadcasts_and_transposes_over_every_axis_set() {
        let shape = [3, 6, 37];
        for kind in [ReduceOp::Sum, ReduceOp::Max] {
            for transposed in [false, true] {
                for mask in 0..8usize {
                    let axes: Vec<usize> = (0..3).filter(|a| mask & (1 << a) != 0).collect();
                    let mut g = Graph::new("loads");
                    let x = if transposed {
                        let xt = f32_input(&mut g, "x", &[37, 6, 3]);
                        push(&mut g, Op::Permute(vec![2, 1, 0]), &[xt])
                    } else {
                        f32_input(&mut g, "x", &shape)
                    };
                    let y = f32_input(&mut g, "y", &[3, 1, 37]);
                    let z = f32_input(&mut g, "z", &[3, 6, 1]);
                    let yb = push(&mut g, Op::Broadcast(shape.to_vec()), &[y]);
                    let zb = push(&mut g, Op::Broadcast(shape.to_vec()), &[z]);
                    let xy = push(&mut g, Op::Binary(BinOp::Mul), &[x, yb]);
                    let e = push(&mut g, Op::Binary(BinOp::Add), &[xy, zb]);
                    let r = push(&mut g, Op::Reduce(kind, axes.clone()), &[e]);
                    g.add_output("r", r, OutputRole::Metric);
                    let exe = check(&g);
                    assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());
                }
            }
        }
    }

    /// A reduced body with no loads at all (a broadcast constant), in every loop order.
    #[test]
    fn sums_of_a_constant() {
        for mask in 0..8usize {
            let axes: Vec<usize> = (0..3).filter(|a| mask & (1 << a) != 0).collect();
            let mut g = Graph::new("constant");
            let c = g.constant(0.25);
            let cb = push(&mut g, Op::Broadcast(vec![3, 6, 37]), &[c]);
            let r = push(&mut g, Op::Reduce(ReduceOp::Sum, axes), &[cb]);
            g.add_output("r", r, OutputRole::Metric);
            let exe = check(&g);
            assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());
        }
    }

    /// Reductions run on one thread in a fixed order: a long sum has the same bits whatever
    /// the thread count.
    #[test]
    fn threads_give_identical_sums() {
        let mut g = Graph::new("sums");
        let x = f32_input(&mut g, "x", &[64, 12, 196]);
        for (name, axes) in [("inner", vec![0, 2]), ("outer", vec![0]), ("all", vec![0, 1, 2])] {
            let y = push(&mut g, Op::Reduce(ReduceOp::Sum, axes), &[x]);
            g.add_output(name, y, OutputRole::Metric);
        }
        let mut rng = Rng(5);
        let data: Vec<f32> = (0..64 * 12 * 196).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
        let run = |threads: usize| {
            let mut exe = Executable::compile(&g, &CompileOptions { threads, ..opts() }).expect("compiles");
            exe.input_mut("x").expect("input").copy_from_slice(&data);
            exe.run();
            ["inner", "outer", "all"]
                .map(|o| exe.output(o).expect("output").iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
        };
        assert!(run(1) == run(2), "one and two threads differ");
    }

    /// A product large enough for the two-thread split, transposed operands included, has
    /// the same bits at one and two threads.
    #[test]
    fn threads_give_identical_products() {
        let n = 256;
        assert!(n * n * n >= crate::codegen::matmul::PARALLEL_MIN_FLOPS, "the product is split at two threads");
        let mut g = Graph::new("products");
        let a = f32_input(&mut g, "a", &[n, n]);
        let b = f32_input(&mut g, "b", &[n, n]);
        for (name, ta, tb) in [("ab", false, false), ("atb", true, false), ("abt", false, true)] {
            let c = push(&mut g, Op::MatMul { ta, tb }, &[a, b]);
            g.add_output(name, c, OutputRole::Metric);
        }
        let mut rng = Rng(9);
        let data: Vec<f32> = (0..n * n).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
        let run = |threads: usize| {
            let mut exe = Executable::compile(&g, &CompileOptions { threads, ..opts() }).expect("compiles");
            exe.input_mut("a").expect("input").copy_from_slice(&data);
            exe.input_mut("b").expect("input").iter_mut().zip(data.iter().rev()).for_each(|(b, &d)| *b = d);
            exe.run();
            ["ab", "atb", "abt"]
                .map(|o| exe.output(o).expect("output").iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
        };
        assert!(run(1) == run(2), "one and two threads differ");
    }

    /// Elementwise kernels large enough to run in halves at two threads have the same bits at
    /// one and two threads: a row cut at a multiple of four with a scalar remainder (sin over
    /// its polynomial's range and beyond, exp up to overflow), an outer dim of odd length with
    /// a broadcast operand, and a transposed (strided, scalar) operand.
    #[test]
    fn threads_give_identical_elementwise() {
        let n = crate::codegen::lower::PARALLEL_MIN_ELEMENTS + 3;
        let mut g = Graph::new("halves");
        let x = f32_input(&mut g, "x", &[n]);
        let s = push(&mut g, Op::Unary(UnOp::Sin), &[x]);
        let e = push(&mut g, Op::Unary(UnOp::Exp), &[x]);
        let se = push(&mut g, Op::Binary(BinOp::Mul), &[s, e]);
        g.add_output("row", se, OutputRole::Metric);
        let a = f32_input(&mut g, "a", &[517, 513]);
        let b = f32_input(&mut g, "b", &[513]);
        let bb = push(&mut g, Op::Broadcast(vec![517, 513]), &[b]);
        let ab = push(&mut g, Op::Binary(BinOp::Mul), &[a, bb]);
        let t = push(&mut g, Op::Unary(UnOp::Tanh), &[ab]);
        g.add_output("outer", t, OutputRole::Metric);
        let at = push(&mut g, Op::Permute(vec![1, 0]), &[a]);
        let ta = push(&mut g, Op::Unary(UnOp::Log), &[at]);
        g.add_output("transposed", ta, OutputRole::Metric);
        let program = fuse::fuse(&g).expect("fuses");
        let halved = program.kernels.iter().filter(|k| crate::codegen::lower::halved(k, 2).is_some()).count();
        assert!(halved >= 3, "{halved} kernels run in halves:\n{:?}", program.kernels);
        let mut rng = Rng(11);
        let xs: Vec<f32> =
            (0..n).map(|i| rng.uniform(-1.0, 1.0) as f32 * if i % 3 == 0 { 2e4 } else { 90.0 }).collect();
        let as_: Vec<f32> = (0..517 * 513).map(|_| rng.uniform(0.0, 3.0) as f32).collect();
        let bs: Vec<f32> = (0..513).map(|_| rng.uniform(-2.0, 2.0) as f32).collect();
        let run = |threads: usize| {
            let mut exe = Executable::compile(&g, &CompileOptions { threads, ..opts() }).expect("compiles");
            exe.input_mut("x").expect("input").copy_from_slice(&xs);
            exe.input_mut("a").expect("input").copy_from_slice(&as_);
            exe.input_mut("b").expect("input").copy_from_slice(&bs);
            exe.run();
            ["row", "outer", "transposed"]
                .map(|o| exe.output(o).expect("output").iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
        };
        assert!(run(1) == run(2), "one and two threads differ");
    }

    /// `flush_denormals` flushes subnormal inputs and results in the JIT's loops and in the
    /// products, on the calling thread and on the split worker alike (a kernel and a product
    /// both large enough to run in halves at two threads), and leaves the caller's mode as it was.
    #[test]
    fn flushing_applies_to_both_threads() {
        let n = crate::codegen::lower::PARALLEL_MIN_ELEMENTS + 3;
        let mut g = Graph::new("flush");
        let x = f32_input(&mut g, "x", &[n]);
        let x2 = push(&mut g, Op::Binary(BinOp::Mul), &[x, x]);
        let sum = push(&mut g, Op::Binary(BinOp::Add), &[x2, x]);
        g.add_output("elementwise", sum, OutputRole::Metric);
        // 256³ multiply-adds reach the split threshold; each product 1e-40 is subnormal, their
        // sums up to 2.56e-38 normal.
        let side = 256;
        assert!(side * side * side >= crate::codegen::matmul::PARALLEL_MIN_FLOPS);
        let a = f32_input(&mut g, "a", &[side, side]);
        let ab = push(&mut g, Op::MatMul { ta: false, tb: false }, &[a, a]);
        g.add_output("product", ab, OutputRole::Metric);
        let run = |threads: usize, flush_denormals: bool| {
            let opts = CompileOptions { threads, flush_denormals, ..opts() };
            let mut exe = Executable::compile(&g, &opts).expect("compiles");
            exe.input_mut("x").expect("input").fill(1e-39);
            exe.input_mut("a").expect("input").fill(1e-20);
            exe.run();
            ["elementwise", "product"].map(|o| exe.output(o).expect("output").to_vec())
        };
        let halve = |v: f32| std::hint::black_box(v) * 0.5;
        for threads in [1, 2] {
            let [elementwise, product] = run(threads, false);
            assert!(elementwise.iter().all(|&v| v == 1e-39), "{threads} threads keep subnormals");
            assert!(product.iter().all(|&v| (v / 2.56e-38 - 1.0).abs() < 1e-3), "{threads} threads: {}", product[0]);
            let [elementwise, product] = run(threads, true);
            assert!(elementwise.iter().all(|&v| v == 0.0), "{threads} threads flush in the loops");
            assert!(product.iter().all(|&v| v == 0.0), "{threads} threads flush in the product");
            assert!(halve(f32::MIN_POSITIVE) > 0.0, "the caller's mode is restored");
        }
    }

    /// sin and cos (whose out-of-range path is a branch inside the loop) feeding sums over the
    /// inner axis (reduced innermost) and the outer axis (blocks of output columns),
    /// with rows of small and of large arguments.
    #[test]
    fn trig_inside_reductions_both_loop_orders() {
        for range in [(-3.0, 3.0), (-2e4, 2e4)] {
            for axes in [vec![0], vec![1], vec![0, 1]] {
                let mut g = Graph::new("trig_sum");
                let x = f32_input(&mut g, "x", &[6, 11]);
                let s = push(&mut g, Op::Unary(UnOp::Sin), &[x]);
                let c = push(&mut g, Op::Unary(UnOp::Cos), &[x]);
                let sc = push(&mut g, Op::Binary(BinOp::Mul), &[s, c]);
                let y = push(&mut g, Op::Reduce(ReduceOp::Sum, axes), &[sc]);
                g.add_output("y", y, OutputRole::Metric);
                let exe = check_range(&g, range);
                assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());
            }
        }
    }

    #[test]
    fn max_reduce_propagates_nan() {
        let mut g = Graph::new("max_nan");
        let x = f32_input(&mut g, "x", &[2, 9]);
        let y = push(&mut g, Op::Reduce(ReduceOp::Max, vec![1]), &[x]);
        let z = push(&mut g, Op::Reduce(ReduceOp::Max, vec![0]), &[x]);
        g.add_output("rows", y, OutputRole::Metric);
        g.add_output("cols", z, OutputRole::Metric);
        let mut data: Vec<f64> = (0..18).map(f64::from).collect();
        data[3] = f64::NAN;
        data[17] = f64::NAN;
        check_with(&g, &[Tensor::new(vec![2, 9], data)]);
    }

    /// Softmax: the exp feeds both the sum and the division, so it is materialised, and the
    /// division must not merge with the exp's kernel through the sum (that would be a cycle).
    #[test]
    fn softmax_avoids_cycles() {
        let mut g = Graph::new("softmax");
        let x = f32_input(&mut g, "x", &[5, 7]);
        let m = push(&mut g, Op::Reduce(ReduceOp::Max, vec![1]), &[x]);
        let mr = push(&mut g, Op::Reshape(vec![5, 1]), &[m]);
        let mb = push(&mut g, Op::Broadcast(vec![5, 7]), &[mr]);
        let z = push(&mut g, Op::Binary(BinOp::Sub), &[x, mb]);
        let e = push(&mut g, Op::Unary(UnOp::Exp), &[z]);
        let s = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![1]), &[e]);
        let sr = push(&mut g, Op::Reshape(vec![5, 1]), &[s]);
        let sb = push(&mut g, Op::Broadcast(vec![5, 7]), &[sr]);
        let p = push(&mut g, Op::Binary(BinOp::Div), &[e, sb]);
        g.add_output("p", p, OutputRole::Metric);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 4, "{}", exe.kernels());
    }
}

mod matmul {
    use super::*;

    fn product(m: usize, n: usize, k: usize, ta: bool, tb: bool, threads: usize) {
        let mut g = Graph::new("matmul");
        let a = f32_input(&mut g, "a", &if ta { [k, m] } else { [m, k] });
        let b = f32_input(&mut g, "b", &if tb { [n, k] } else { [k, n] });
        let c = push(&mut g, Op::MatMul { ta, tb }, &[a, b]);
        g.add_output("c", c, OutputRole::Metric);
        let mut rng = Rng(7);
        let inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, (-1.0, 1.0))).collect();
        let mut exe = Executable::compile(&g, &CompileOptions { threads, ..opts() }).expect("compiles");
        for (t, i) in inputs.iter().zip(&g.inputs) {
            let dst = exe.input_mut(&i.name).expect("input");
            dst.iter_mut().zip(&t.data).for_each(|(d, &s)| *d = s as f32);
        }
        exe.run();
        let want = &eval(&g, &inputs)[0];
        let got = exe.output("c").expect("output");
        for (j, (&a, &b)) in got.iter().zip(&want.data).enumerate() {
            assert!(close(f64::from(a), b, (k as f64).sqrt()), "{m}x{n}x{k} ta={ta} tb={tb} [{j}]: {a} vs {b}");
        }
    }

    #[test]
    fn all_transposes_and_odd_sizes() {
        for (m, n, k) in [(1, 1, 1), (7, 5, 3), (3, 1, 8), (1, 9, 2)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    product(m, n, k, ta, tb, 1);
                }
            }
        }
    }

    #[test]
    fn mnist_layer_one_and_two_threads() {
        for ta in [false, true] {
            for tb in [false, true] {
                product(64, 128, 784, ta, tb, 1);
            }
        }
        product(64, 128, 784, false, false, 2);
    }

    /// A broadcast operand is not contiguous: it is materialised before the GEMM.
    #[test]
    fn broadcast_operand() {
        let mut g = Graph::new("bcast_mm");
        let a = f32_input(&mut g, "a", &[3]);
        let b = f32_input(&mut g, "b", &[3, 4]);
        let ab = push(&mut g, Op::Broadcast(vec![2, 3]), &[a]);
        let c = push(&mut g, Op::MatMul { ta: false, tb: false }, &[ab, b]);
        g.add_output("c", c, OutputRole::Metric);
        check(&g);
    }
}

mod ints {
    use super::*;

    #[test]
    fn one_hot_argmax_eq_accuracy() {
        let mut g = Graph::new("acc");
        let logits = f32_input(&mut g, "logits", &[6, 5]);
        let y = g.add_input("y", Type::new(DType::I32, vec![6]), InputRole::Label);
        let oh = push(&mut g, Op::OneHot(5), &[y]);
        let am = push(&mut g, Op::Argmax(1), &[logits]);
        let eq = push(&mut g, Op::Binary(BinOp::Eq), &[am, y]);
        let hits = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[eq]);
        let am0 = push(&mut g, Op::Argmax(0), &[logits]);
        g.add_output("oh", oh, OutputRole::Metric);
        g.add_output("pred", am, OutputRole::Metric);
        g.add_output("hits", hits, OutputRole::Metric);
        g.add_output("pred0", am0, OutputRole::Metric);
        g.add_output("labels", y, OutputRole::Metric);
        let mut rng = Rng(3);
        let mut lt = random_input(&g.inputs[0], &mut rng, (-1.0, 1.0));
        // Ties resolve to the first index.
        lt.data[5..10].copy_from_slice(&[0.5, 0.9, 0.9, 0.1, 0.9]);
        let labels = Tensor::new(vec![6], vec![1.0, 1.0, 4.0, -1.0, 5.0, 0.0]);
        check_with(&g, &[lt, labels]);
    }

    #[test]
    fn eq_on_i32_vectorised() {
        let mut g = Graph::new("eq_i32");
        let a = g.add_input("a", Type::new(DType::I32, vec![11]), InputRole::Label);
        let b = g.add_input("b", Type::new(DType::I32, vec![11]), InputRole::Label);
        let e = push(&mut g, Op::Binary(BinOp::Eq), &[a, b]);
        g.add_output("e", e, OutputRole::Metric);
        check(&g);
    }
}

mod in_place {
    use super::*;

    /// Adam's m, v and p updates are one loop with three in-place outputs.
    #[test]
    fn adam_is_one_multi_output_kernel() {
        let mut g = Graph::new("adam");
        let shape = vec![13, 7];
        let p = g.add_input("w", Type::f32(shape.clone()), InputRole::Param);
        let m = g.add_input("w.m", Type::f32(shape.clone()), InputRole::State);
        let v = g.add_input("w.v", Type::f32(shape.clone()), InputRole::State);
        let grad = g.add_input("w.grad", Type::f32(shape.clone()), InputRole::Grad);
        let c = |g: &mut Graph, x: f64| {
            let k = g.constant(x);
            push(g, Op::Broadcast(shape.clone()), &[k])
        };
        let (b1, omb1, b2, omb2, lr, eps) =
            (c(&mut g, 0.9), c(&mut g, 0.1), c(&mut g, 0.999), c(&mut g, 0.001), c(&mut g, 0.01), c(&mut g, 1e-8));
        let m1 = push(&mut g, Op::Binary(BinOp::Mul), &[b1, m]);
        let m2 = push(&mut g, Op::Binary(BinOp::Mul), &[omb1, grad]);
        let m_new = push(&mut g, Op::Binary(BinOp::Add), &[m1, m2]);
        let v1 = push(&mut g, Op::Binary(BinOp::Mul), &[b2, v]);
        let gg = push(&mut g, Op::Binary(BinOp::Mul), &[grad, grad]);
        let v2 = push(&mut g, Op::Binary(BinOp::Mul), &[omb2, gg]);
        let v_new = push(&mut g, Op::Binary(BinOp::Add), &[v1, v2]);
        let sq = push(&mut g, Op::Unary(UnOp::Sqrt), &[v_new]);
        let den = push(&mut g, Op::Binary(BinOp::Add), &[sq, eps]);
        let step = push(&mut g, Op::Binary(BinOp::Div), &[m_new, den]);
        let upd = push(&mut g, Op::Binary(BinOp::Mul), &[lr, step]);
        let p_new = push(&mut g, Op::Binary(BinOp::Sub), &[p, upd]);
        g.add_output("w", p_new, OutputRole::Param);
        g.add_output("w.m", m_new, OutputRole::State);
        g.add_output("w.v", v_new, OutputRole::State);
        let mut rng = Rng(11);
        let mut inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, (-1.0, 1.0))).collect();
        inputs[2].data.iter_mut().for_each(|x| *x = x.abs());
        let exe = check_with(&g, &inputs);
        assert_eq!(exe.stats().kernels, 1, "{}", exe.kernels());
        let plan = memplan::print_plan(&g).expect("plans");
        assert!(!plan.contains("copy"), "every update is written in place:\n{plan}");
    }

    /// A kernel that reads the parameter after its update kernel must see the old value: the
    /// update goes to a temporary and is copied back after the last kernel.
    #[test]
    fn param_read_after_update_sees_old_value() {
        let mut g = Graph::new("late_read");
        let x = f32_input(&mut g, "x", &[3, 4]);
        let w = g.add_input("w", Type::f32(vec![4, 5]), InputRole::Param);
        let half = g.constant(0.5);
        let hb = push(&mut g, Op::Broadcast(vec![4, 5]), &[half]);
        let w_new = push(&mut g, Op::Binary(BinOp::Mul), &[w, hb]);
        let y = push(&mut g, Op::MatMul { ta: false, tb: false }, &[x, w]);
        let loss = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[y]);
        g.add_output("w", w_new, OutputRole::Param);
        g.add_output("loss", loss, OutputRole::Loss);
        let exe = check(&g);
        let order = exe.kernels();
        assert!(order.find("matmul").expect("matmul") < order.find("elementwise").expect("update"), "{order}");
        let plan = memplan::print_plan(&g).expect("plans");
        assert!(plan.contains("in place of w"), "the update runs last and writes in place:\n{plan}");
        // A later reader the schedule cannot move: the update feeds the loss, which also reads w.
        let mut g = Graph::new("late_read");
        let w = g.add_input("w", Type::f32(vec![4]), InputRole::Param);
        let half = g.constant(0.5);
        let hb = push(&mut g, Op::Broadcast(vec![4]), &[half]);
        let w_new = push(&mut g, Op::Binary(BinOp::Mul), &[w, hb]);
        let total = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[w_new]);
        let tr = push(&mut g, Op::Reshape(vec![1]), &[total]);
        let tb = push(&mut g, Op::Broadcast(vec![4]), &[tr]);
        let y = push(&mut g, Op::Binary(BinOp::Mul), &[w, tb]);
        g.add_output("w", w_new, OutputRole::Param);
        g.add_output("y", y, OutputRole::Metric);
        check(&g);
        let plan = memplan::print_plan(&g).expect("plans");
        assert!(plan.contains("after the last kernel: copy"), "{plan}");
    }

    /// Parameters updated from each other's old values (a swap) must not see the new ones.
    #[test]
    fn swapped_params() {
        let mut g = Graph::new("swap");
        let a = g.add_input("a", Type::f32(vec![5]), InputRole::Param);
        let b = g.add_input("b", Type::f32(vec![5]), InputRole::Param);
        g.add_output("a", b, OutputRole::Param);
        g.add_output("b", a, OutputRole::Param);
        check(&g);
    }

    /// An update that keeps its parameter as it is needs no kernel at all.
    #[test]
    fn identity_update_is_free() {
        let mut g = Graph::new("same");
        let a = g.add_input("a", Type::f32(vec![5]), InputRole::Param);
        g.add_output("a", a, OutputRole::Param);
        let exe = check(&g);
        assert_eq!(exe.stats().kernels, 0);
    }
}

/// A hand-written training step of a 2-layer MLP with softmax cross-entropy, SGD and accuracy.
fn mlp_step(batch: usize, features: usize, hidden: usize, classes: usize) -> Graph {
    let (b, f, h, c) = (batch, features, hidden, classes);
    let mut g = Graph::new("train_step");
    let x = f32_input(&mut g, "x", &[b, f]);
    let y = g.add_input("y", Type::new(DType::I32, vec![b]), InputRole::Label);
    let w1 = g.add_input("h1.w", Type::f32(vec![f, h]), InputRole::Param);
    let b1 = g.add_input("h1.b", Type::f32(vec![h]), InputRole::Param);
    let w2 = g.add_input("out.w", Type::f32(vec![h, c]), InputRole::Param);
    let b2 = g.add_input("out.b", Type::f32(vec![c]), InputRole::Param);
    let k = |g: &mut Graph, v: f64, shape: &[usize]| {
        let k = g.constant(v);
        push(g, Op::Broadcast(shape.to_vec()), &[k])
    };
    // Forward.
    let xw = push(&mut g, Op::MatMul { ta: false, tb: false }, &[x, w1]);
    let b1b = push(&mut g, Op::Broadcast(vec![b, h]), &[b1]);
    let pre = push(&mut g, Op::Binary(BinOp::Add), &[xw, b1b]);
    let zero = k(&mut g, 0.0, &[b, h]);
    let act = push(&mut g, Op::Binary(BinOp::Max), &[pre, zero]);
    let hw = push(&mut g, Op::MatMul { ta: false, tb: false }, &[act, w2]);
    let b2b = push(&mut g, Op::Broadcast(vec![b, c]), &[b2]);
    let logits = push(&mut g, Op::Binary(BinOp::Add), &[hw, b2b]);
    // Softmax cross-entropy.
    let mx = push(&mut g, Op::Reduce(ReduceOp::Max, vec![1]), &[logits]);
    let mxr = push(&mut g, Op::Reshape(vec![b, 1]), &[mx]);
    let mxb = push(&mut g, Op::Broadcast(vec![b, c]), &[mxr]);
    let z = push(&mut g, Op::Binary(BinOp::Sub), &[logits, mxb]);
    let e = push(&mut g, Op::Unary(UnOp::Exp), &[z]);
    let s = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![1]), &[e]);
    let ls = push(&mut g, Op::Unary(UnOp::Log), &[s]);
    let lsr = push(&mut g, Op::Reshape(vec![b, 1]), &[ls]);
    let lsb = push(&mut g, Op::Broadcast(vec![b, c]), &[lsr]);
    let logp = push(&mut g, Op::Binary(BinOp::Sub), &[z, lsb]);
    let oh = push(&mut g, Op::OneHot(c), &[y]);
    let picked = push(&mut g, Op::Binary(BinOp::Mul), &[oh, logp]);
    let total = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[picked]);
    let inv_b = g.constant(-1.0 / b as f64);
    let loss = push(&mut g, Op::Binary(BinOp::Mul), &[total, inv_b]);
    // Accuracy.
    let pred = push(&mut g, Op::Argmax(1), &[logits]);
    let hit = push(&mut g, Op::Binary(BinOp::Eq), &[pred, y]);
    let hits = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[hit]);
    let inv_b1 = g.constant(1.0 / b as f64);
    let acc = push(&mut g, Op::Binary(BinOp::Mul), &[hits, inv_b1]);
    // Backward: dlogits = (softmax - onehot) / B.
    let sr = push(&mut g, Op::Reshape(vec![b, 1]), &[s]);
    let sb = push(&mut g, Op::Broadcast(vec![b, c]), &[sr]);
    let sm = push(&mut g, Op::Binary(BinOp::Div), &[e, sb]);
    let diff = push(&mut g, Op::Binary(BinOp::Sub), &[sm, oh]);
    let ib = k(&mut g, 1.0 / b as f64, &[b, c]);
    let dlogits = push(&mut g, Op::Binary(BinOp::Mul), &[diff, ib]);
    let dw2 = push(&mut g, Op::MatMul { ta: true, tb: false }, &[act, dlogits]);
    let db2 = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[dlogits]);
    let dact = push(&mut g, Op::MatMul { ta: false, tb: true }, &[dlogits, w2]);
    let zero2 = k(&mut g, 0.0, &[b, h]);
    let mask = push(&mut g, Op::Binary(BinOp::Gt), &[pre, zero2]);
    let dpre = push(&mut g, Op::Binary(BinOp::Mul), &[dact, mask]);
    let dw1 = push(&mut g, Op::MatMul { ta: true, tb: false }, &[x, dpre]);
    let db1 = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0]), &[dpre]);
    // SGD.
    let sgd = |g: &mut Graph, p: NodeId, dp: NodeId, name: &str| {
        let shape = g.ty(p).shape.clone();
        let lr = k(g, 0.1, &shape);
        let step = push(g, Op::Binary(BinOp::Mul), &[lr, dp]);
        let p_new = push(g, Op::Binary(BinOp::Sub), &[p, step]);
        g.add_output(name, p_new, OutputRole::Param);
    };
    sgd(&mut g, w1, dw1, "h1.w");
    sgd(&mut g, b1, db1, "h1.b");
    sgd(&mut g, w2, dw2, "out.w");
    sgd(&mut g, b2, db2, "out.b");
    g.add_output("loss", loss, OutputRole::Loss);
    g.add_output("accuracy", acc, OutputRole::Metric);
    g
}

mod mlp {
    use super::*;

    #[test]
    fn train_step_matches_interpreter() {
        let g = mlp_step(8, 6, 5, 3);
        let mut rng = Rng(5);
        let mut inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, (-1.0, 1.0))).collect();
        inputs[1].data.iter_mut().for_each(|l| *l = (*l).min(2.0));
        check_with(&g, &inputs);
    }

    /// A learnable problem (the label is the sign of the first feature) loses most of its loss.
    #[test]
    fn train_step_trains() {
        let g = mlp_step(16, 4, 8, 3);
        let mut exe = Executable::compile(&g, &opts()).expect("compiles");
        let mut rng = Rng(9);
        for (i, input) in g.inputs.iter().enumerate() {
            if input.ty.dtype == DType::F32 {
                let t = random_input(input, &mut rng, (-1.0, 1.0));
                exe.slot_mut(i).iter_mut().zip(&t.data).for_each(|(d, &s)| *d = s as f32);
            }
        }
        let x: Vec<f32> = exe.input("x").expect("x").to_vec();
        let labels = exe.input_i32_mut("y").expect("labels");
        labels.iter_mut().enumerate().for_each(|(r, l)| *l = i32::from(x[r * 4] > 0.0));
        exe.run();
        let first = exe.output("loss").expect("loss")[0];
        for _ in 0..300 {
            exe.run();
        }
        let last = exe.output("loss").expect("loss")[0];
        assert!(last < first * 0.5, "loss went from {first} to {last}");
        assert_eq!(exe.output("accuracy").expect("accuracy"), [1.0]);
    }

    #[test]
    fn kernels_snapshot() {
        insta::assert_snapshot!(print_kernels(&mlp_step(4, 6, 5, 3)).expect("fuses"));
    }

    #[test]
    fn memory_plan_snapshot() {
        insta::assert_snapshot!(print_plan(&mlp_step(4, 6, 5, 3)).expect("plans"));
    }

    #[test]
    fn stats_and_clif() {
        let g = mlp_step(4, 6, 5, 3);
        let exe = Executable::compile(&g, &CompileOptions { keep_clif: true, ..opts() }).expect("compiles");
        let clif = exe.clif().expect("kept");
        assert!(clif.contains("call fn") && clif.contains("f32x4"), "{clif}");
        let stats = exe.stats();
        assert!(stats.clif_insts > 100 && stats.arena_bytes > 0, "{stats:?}");
    }
}

/// Maximum relative errors of the polynomial approximations over dense sweeps.
mod approx {
    use super::*;

    /// Runs `op` over `xs` (vector body and scalar remainder both cover the sweep) and returns the
    /// largest absolute and relative errors against f64 (a NaN where the exact value is a number
    /// counts as infinitely wrong; an exact zero has no relative error when it is hit exactly).
    fn errors(op: Op, xs: &[f32], exact: fn(f64) -> f64) -> (f64, f64) {
        let (mut abs, mut rel) = (0.0f64, 0.0f64);
        let mut account = |x: f32, y: f32| {
            let (want, got) = (exact(f64::from(x)), f64::from(y));
            if got == want || (want.is_nan() && got.is_nan()) {
                return;
            }
            let err = if got.is_nan() { f64::INFINITY } else { (got - want).abs() };
            abs = abs.max(err);
            rel = rel.max(err / want.abs());
        };
        let mut g = Graph::new("sweep");
        let x = f32_input(&mut g, "x", &[xs.len()]);
        let y = push(&mut g, op.clone(), &[x]);
        g.add_output("y", y, OutputRole::Metric);
        // The same points through the vector loop and, shifted by one, the scalar remainder.
        let mut exe = Executable::compile(&g, &opts()).expect("compiles");
        exe.input_mut("x").expect("x").copy_from_slice(xs);
        exe.run();
        for (&x, &y) in xs.iter().zip(exe.output("y").expect("y")) {
            account(x, y);
        }
        let mut g1 = Graph::new("scalar");
        let x1 = f32_input(&mut g1, "x", &[3]);
        let y1 = push(&mut g1, op, &[x1]);
        g1.add_output("y", y1, OutputRole::Metric);
        let mut exe1 = Executable::compile(&g1, &opts()).expect("compiles");
        for chunk in xs.chunks(3997).map(|c| &c[..3.min(c.len())]) {
            let mut buf = [1.0f32; 3];
            buf[..chunk.len()].copy_from_slice(chunk);
            exe1.input_mut("x").expect("x").copy_from_slice(&buf);
            exe1.run();
            for (&x, &y) in buf.iter().zip(exe1.output("y").expect("y")) {
                account(x, y);
            }
        }
        (abs, rel)
    }

    /// The largest relative error of `op` over `xs`, as `errors` measures it.
    fn max_rel_error(op: Op, xs: &[f32], exact: fn(f64) -> f64) -> f64 {
        errors(op, xs, exact).1
    }

    fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f32> {
        (0..n).map(|i| (lo + (hi - lo) * i as f64 / (n - 1) as f64) as f32).collect()
    }

    #[test]
    fn exp_error() {
        let err = max_rel_error(Op::Unary(UnOp::Exp), &linspace(-87.0, 88.0, 1 << 20), f64::exp);
        eprintln!("exp max relative error {err:e}");
        assert!(err <= 1e-7, "exp max relative error {err:e}");
    }

    #[test]
    fn log_error() {
        let xs: Vec<f32> = linspace(-30.0, 30.0, 1 << 20).iter().map(|&t| 10f64.powf(f64::from(t)) as f32).collect();
        let err = max_rel_error(Op::Unary(UnOp::Log), &xs, f64::ln);
        eprintln!("log max relative error {err:e}");
        assert!(err <= 1e-7, "log max relative error {err:e}");
    }

    #[test]
    fn tanh_error() {
        let xs: Vec<f32> = linspace(-10.0, 10.0, 1 << 20).into_iter().filter(|&x| x != 0.0).collect();
        let err = max_rel_error(Op::Unary(UnOp::Tanh), &xs, f64::tanh);
        eprintln!("tanh max relative error {err:e}");
        assert!(err <= 1.5e-7, "tanh max relative error {err:e}");
    }

    /// The f32 values nearest to `k π/2` for every quadrant the polynomial reduces (|x| <= 8192),
    /// with two neighbours on each side: where sin or cos is closest to zero, so an inexact
    /// reduction would show as a large relative error.
    fn near_zeros() -> Vec<f32> {
        let mut xs = Vec::new();
        for k in 1..=5215 {
            let centre = (f64::from(k) * std::f64::consts::FRAC_PI_2) as f32;
            for d in -2i32..=2 {
                let x = f32::from_bits(centre.to_bits().wrapping_add_signed(d));
                if x <= 8192.0 {
                    xs.extend([x, -x]);
                }
            }
        }
        xs
    }

    #[test]
    fn sin_cos_error() {
        let dense = linspace(-100.0, 100.0, 1 << 20);
        let wide = linspace(-8192.0, 8192.0, 1 << 20);
        let hard = near_zeros();
        for (name, op, exact) in
            [("sin", Op::Unary(UnOp::Sin), f64::sin as fn(f64) -> f64), ("cos", Op::Unary(UnOp::Cos), f64::cos)]
        {
            let (abs, rel) = errors(op.clone(), &dense, exact);
            eprintln!("{name} over [-100, 100]: max absolute error {abs:e}, max relative error {rel:e}");
            assert!(abs <= 1.2e-7 && rel <= 2e-7, "{name} over [-100, 100]: abs {abs:e} rel {rel:e}");
            let (abs, rel) = errors(op.clone(), &wide, exact);
            eprintln!("{name} over [-8192, 8192]: max absolute error {abs:e}, max relative error {rel:e}");
            assert!(abs <= 1.2e-7 && rel <= 2e-7, "{name} over [-8192, 8192]: abs {abs:e} rel {rel:e}");
            let (abs, rel) = errors(op, &hard, exact);
            eprintln!("{name} next to multiples of pi/2: max absolute error {abs:e}, max relative error {rel:e}");
            assert!(abs <= 1.2e-7 && rel <= 2e-7, "{name} next to k pi/2: abs {abs:e} rel {rel:e}");
        }
    }

    /// Beyond the polynomial's range Rust's `sinf`/`cosf` take over: the result is the f32 that
    /// f64 gives, to a unit in the last place.
    #[test]
    fn sin_cos_beyond_the_polynomial() {
        let xs: Vec<f32> = linspace(8192.0, 1e7, 4099).into_iter().chain([3.0e38, -1.0e20, 65536.0]).collect();
        for (op, exact) in [(Op::Unary(UnOp::Sin), f64::sin as fn(f64) -> f64), (Op::Unary(UnOp::Cos), f64::cos)] {
            let (abs, _) = errors(op, &xs, exact);
            assert!(abs <= 6e-8, "{abs:e}");
        }
    }

    #[test]
    fn erf_error() {
        let xs: Vec<f32> = linspace(-6.0, 6.0, 1 << 20).into_iter().filter(|&x| x != 0.0).collect();
        let tiny: Vec<f32> = linspace(-30.0, -1.0, 4096).iter().map(|&t| 10f64.powf(f64::from(t)) as f32).collect();
        for xs in [xs, tiny] {
            let err = max_rel_error(Op::Unary(UnOp::Erf), &xs, libm::erf);
            eprintln!("erf max relative error {err:e}");
            assert!(err <= 2e-7, "erf max relative error {err:e}");
        }
    }

    #[test]
    fn log1p_error() {
        for xs in [
            linspace(-0.999_999, 1e6, 1 << 20).into_iter().filter(|&x| x != 0.0).collect::<Vec<f32>>(),
            linspace(-30.0, -1.0, 4096).iter().map(|&t| 10f64.powf(f64::from(t)) as f32).collect(),
            linspace(-30.0, -1.0, 4096).iter().map(|&t| -(10f64.powf(f64::from(t)) as f32)).collect(),
        ] {
            let err = max_rel_error(Op::Unary(UnOp::Log1p), &xs, f64::ln_1p);
            eprintln!("log1p max relative error {err:e}");
            assert!(err <= 2e-7, "log1p max relative error {err:e}");
        }
    }

    #[test]
    fn expm1_error() {
        for xs in [
            linspace(-87.0, 88.0, 1 << 20).into_iter().filter(|&x| x != 0.0).collect::<Vec<f32>>(),
            linspace(-30.0, -1.0, 4096).iter().map(|&t| 10f64.powf(f64::from(t)) as f32).collect(),
            linspace(-30.0, -1.0, 4096).iter().map(|&t| -(10f64.powf(f64::from(t)) as f32)).collect(),
        ] {
            let err = max_rel_error(Op::Unary(UnOp::Expm1), &xs, f64::exp_m1);
            eprintln!("expm1 max relative error {err:e}");
            assert!(err <= 2e-7, "expm1 max relative error {err:e}");
        }
    }

    #[test]
    fn special_values() {
        let specials = [0.0, -0.0, 1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-40, -1.0, 100.0, -200.0];
        let mut g = Graph::new("specials");
        let x = f32_input(&mut g, "x", &[specials.len()]);
        for op in [
            Op::Unary(UnOp::Exp),
            Op::Unary(UnOp::Log),
            Op::Unary(UnOp::Tanh),
            Op::Unary(UnOp::Sin),
            Op::Unary(UnOp::Cos),
            Op::Unary(UnOp::Floor),
            Op::Unary(UnOp::Erf),
            Op::Unary(UnOp::Log1p),
        ] {
            let name = op.name();
            let y = push(&mut g, op, &[x]);
            g.add_output(name, y, OutputRole::Metric);
        }
        let t = Tensor::new(vec![specials.len()], specials.iter().map(|&v| f64::from(v)).collect());
        let exe = check_with(&g, &[t]);
        assert_eq!(exe.stats().kernels, 1, "siblings reading x are one loop:\n{}", exe.kernels());
    }
}

mod epilogue;
mod tensor_ops;
mod window;
