//! Reference interpreter of the graph IR, in f64: the test oracle. `gradc run` never uses it.
//!
//! Every op is a plain loop over row-major data, written to be obviously right rather than fast.
//! i32 values (labels, argmax results) are stored as integral f64.

use super::{Graph, Op, Shape, Type};

/// A dense row-major tensor of f64 values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first; empty for a scalar.
    pub shape: Shape,
    /// Elements in row-major order; `data.len()` is the product of `shape`.
    pub data: Vec<f64>,
}

impl Tensor {
    /// A tensor from its shape and row-major data; panics if the lengths disagree.
    pub fn new(shape: Shape, data: Vec<f64>) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(n, data.len(), "shape {shape:?} needs {n} elements, found {}", data.len());
        Tensor { shape, data }
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f64) -> Tensor {
        Tensor { shape: vec![], data: vec![value] }
    }

    /// A tensor of this shape filled with `value`.
    pub fn full(shape: Shape, value: f64) -> Tensor {
        let n = shape.iter().product();
        Tensor { shape, data: vec![value; n] }
    }

    /// A tensor from f32 data (as the runtime holds it).
    pub fn from_f32(shape: Shape, data: &[f32]) -> Tensor {
        Tensor::new(shape, data.iter().map(|&x| f64::from(x)).collect())
    }
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The multi-index of flat index `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for i in (0..shape.len()).rev() {
        idx[i] = flat % shape[i];
        flat /= shape[i];
    }
    idx
}

/// IEEE 754-2019 `maximum`: NaN if either operand is NaN (what the JIT's `fmax` does).
fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn map(x: &Tensor, f: impl Fn(f64) -> f64) -> Tensor {
    Tensor { shape: x.shape.clone(), data: x.data.iter().map(|&v| f(v)).collect() }
}

fn zip(a: &Tensor, b: &Tensor, f: impl Fn(f64, f64) -> f64) -> Tensor {
    assert_eq!(a.shape, b.shape, "elementwise operands of different shapes");
    Tensor { shape: a.shape.clone(), data: a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect() }
}

fn zip3(c: &Tensor, a: &Tensor, b: &Tensor, f: impl Fn(f64, f64, f64) -> f64) -> Tensor {
    assert!(c.shape == a.shape && a.shape == b.shape, "elementwise operands of different shapes");
    let data = c.data.iter().zip(&a.data).zip(&b.data).map(|((&x, &y), &z)| f(x, y, z)).collect();
    Tensor { shape: a.shape.clone(), data }
}

/// Reduces `x` over `axes` (removed from the shape) with `f`, starting from `init`.
fn reduce(x: &Tensor, axes: &[usize], out: &[usize], init: f64, f: impl Fn(f64, f64) -> f64) -> Tensor {
    let out_strides = strides(out);
    let mut data = vec![init; out.iter().product()];
    for (flat, &v) in x.data.iter().enumerate() {
        let idx = unravel(flat, &x.shape);
        let kept = idx.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d);
        let o: usize = kept.zip(&out_strides).map(|(d, s)| d * s).sum();
        data[o] = f(data[o], v);
    }
    Tensor::new(out.to_vec(), data)
}

/// Applies one op to evaluated operands; `out` is the node's type. `Input` is read by the caller.
pub fn eval_op(op: &Op, args: &[&Tensor], out: &Type) -> Tensor {
    let result = match op {
        Op::Input(k) => panic!("input {k} is bound by the caller, not evaluated"),
        Op::Const(c) => Tensor::scalar(*c),
        Op::Neg => map(args[0], |x| -x),
        Op::Exp => map(args[0], f64::exp),
        Op::Log => map(args[0], f64::ln),
        Op::Sqrt => map(args[0], f64::sqrt),
        Op::Abs => map(args[0], f64::abs),
        Op::Sign => map(args[0], |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else if x.is_nan() {
                x
            } else {
                0.0
            }
        }),
        Op::Tanh => map(args[0], f64::tanh),
        Op::Floor => map(args[0], f64::floor),
        Op::Cos => map(args[0], f64::cos),
        Op::Sin => map(args[0], f64::sin),
        Op::Add => zip(args[0], args[1], |a, b| a + b),
        Op::Sub => zip(args[0], args[1], |a, b| a - b),
        Op::Mul => zip(args[0], args[1], |a, b| a * b),
        Op::Div => zip(args[0], args[1], |a, b| a / b),
        Op::Pow => zip(args[0], args[1], f64::powf),
        Op::Max => zip(args[0], args[1], max_nan),
        Op::Gt => zip(args[0], args[1], |a, b| if a > b { 1.0 } else { 0.0 }),
        Op::Eq => zip(args[0], args[1], |a, b| if a == b { 1.0 } else { 0.0 }),
        // A NaN mask is "not equal to zero", so it picks `a`.
        Op::Select => zip3(args[0], args[1], args[2], |c, a, b| if c != 0.0 { a } else { b }),
        Op::Broadcast(to) => {
            let x = args[0];
            let offset = to.len() - x.shape.len();
            let in_strides = strides(&x.shape);
            let n: usize = to.iter().product();
            let data = (0..n)
                .map(|flat| {
                    let idx = unravel(flat, to);
                    let src: usize = (0..x.shape.len())
                        .map(|i| if x.shape[i] == 1 { 0 } else { idx[i + offset] * in_strides[i] })
                        .sum();
                    x.data[src]
                })
                .collect();
            Tensor::new(to.clone(), data)
        }
        Op::Reshape(to) => Tensor::new(to.clone(), args[0].data.clone()),
        Op::Sum(axes) => reduce(args[0], axes, &out.shape, 0.0, |acc, v| acc + v),
        Op::MaxReduce(axes) => reduce(args[0], axes, &out.shape, f64::NEG_INFINITY, max_nan),
        Op::MatMul { ta, tb } => {
            let (a, b) = (args[0], args[1]);
            let (m, n) = (out.shape[0], out.shape[1]);
            let k = if *ta { a.shape[0] } else { a.shape[1] };
            // Element (i, p) of op(A) and (p, j) of op(B), reading the stored matrices.
            let at = |i: usize, p: usize| if *ta { a.data[p * a.shape[1] + i] } else { a.data[i * a.shape[1] + p] };
            let bt = |p: usize, j: usize| if *tb { b.data[j * b.shape[1] + p] } else { b.data[p * b.shape[1] + j] };
            let mut data = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    data[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                }
            }
            Tensor::new(vec![m, n], data)
        }
        Op::OneHot(classes) => {
            let labels = args[0];
            let mut data = vec![0.0; labels.data.len() * classes];
            for (row, &label) in labels.data.iter().enumerate() {
                if label >= 0.0 && label < *classes as f64 {
                    data[row * classes + label as usize] = 1.0;
                }
            }
            Tensor::new(vec![labels.data.len(), *classes], data)
        }
        Op::Argmax(axis) => {
            let x = args[0];
            let out_strides = strides(&out.shape);
            let mut best = vec![(f64::NEG_INFINITY, -1.0); out.numel()];
            for (flat, &v) in x.data.iter().enumerate() {
                let idx = unravel(flat, &x.shape);
                let kept = idx.iter().enumerate().filter(|(i, _)| i != axis).map(|(_, &d)| d);
                let o: usize = kept.zip(&out_strides).map(|(d, s)| d * s).sum();
                // Strictly greater: the first index wins ties.
                if best[o].1 < 0.0 || v > best[o].0 {
                    best[o] = (v, idx[*axis] as f64);
                }
            }
            Tensor::new(out.shape.clone(), best.into_iter().map(|(_, i)| i).collect())
        }
    };
    debug_assert_eq!(result.shape, out.shape, "`{}` produced the wrong shape", op.name());
    result
}

/// Evaluates a graph; `inputs` follow `graph.inputs`, the result follows `graph.outputs`.
pub fn eval(graph: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    assert_eq!(inputs.len(), graph.inputs.len(), "graph `{}` takes {} inputs", graph.name, graph.inputs.len());
    for (t, i) in inputs.iter().zip(&graph.inputs) {
        assert_eq!(t.shape, i.ty.shape, "input `{}` has the wrong shape", i.name);
    }
    let mut values: Vec<Tensor> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let value = match node.op {
            Op::Input(k) => inputs[k].clone(),
            _ => {
                let args: Vec<&Tensor> = node.args.iter().map(|a| &values[a.index()]).collect();
                eval_op(&node.op, &args, &node.ty)
            }
        };
        values.push(value);
    }
    graph.outputs.iter().map(|o| values[o.node.index()].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{DType, InputRole, OutputRole};

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
        assert_eq!(run(Op::Sign, &[&a]).data, [-1.0, 0.0, 1.0, 1.0]);
        assert_eq!(run(Op::Max, &[&a, &b]).data, [1.0, 0.0, 3.0, 4.0]);
        assert_eq!(run(Op::Gt, &[&a, &b]).data, [0.0, 0.0, 0.0, 0.0]);
        assert_eq!(run(Op::Gt, &[&b, &a]).data, [1.0, 0.0, 1.0, 0.0]);
        assert_eq!(run(Op::Eq, &[&a, &b]).data, [0.0, 1.0, 0.0, 1.0]);
        assert_eq!(run(Op::Pow, &[&b, &t(&[4], &[2.0, 0.5, 2.0, 0.5])]).data, [1.0, 0.0, 9.0, 2.0]);
        assert_eq!(run(Op::Sub, &[&a, &b]).data, [-3.0, 0.0, -1.5, 0.0]);
        assert!(run(Op::Max, &[&t(&[1], &[f64::NAN]), &t(&[1], &[1.0])]).data[0].is_nan());
    }

    #[test]
    fn floor_cos_sin() {
        let x = t(&[6], &[-1.5, -0.0, 0.25, 2.0, 2.999, -3.0]);
        let floor = run(Op::Floor, &[&x]).data;
        assert_eq!(floor, [-2.0, -0.0, 0.0, 2.0, 2.0, -3.0]);
        assert!(floor[1].is_sign_negative(), "floor(-0) is -0");
        let pi = std::f64::consts::PI;
        let angles = t(&[4], &[0.0, pi / 2.0, pi, -pi / 6.0]);
        let (cos, sin) = (run(Op::Cos, &[&angles]).data, run(Op::Sin, &[&angles]).data);
        let (want_cos, want_sin) = ([1.0, 0.0, -1.0, 3f64.sqrt() / 2.0], [0.0, 1.0, 0.0, -0.5]);
        for i in 0..4 {
            assert!((cos[i] - want_cos[i]).abs() < 1e-15 && (sin[i] - want_sin[i]).abs() < 1e-15, "{i}");
        }
        let specials = t(&[3], &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
        assert!(run(Op::Floor, &[&specials]).data[0].is_nan());
        assert_eq!(run(Op::Floor, &[&specials]).data[1..], [f64::INFINITY, f64::NEG_INFINITY]);
        assert!(run(Op::Sin, &[&specials]).data.iter().all(|v| v.is_nan()));
        assert!(run(Op::Cos, &[&specials]).data.iter().all(|v| v.is_nan()));
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
        assert_eq!(run(Op::Sum(vec![0]), &[&x]).data, [5.0, 7.0, 9.0]);
        assert_eq!(run(Op::Sum(vec![1]), &[&x]).data, [9.0, 12.0]);
        assert_eq!(run(Op::Sum(vec![0, 1]), &[&x]).data, [21.0]);
        assert_eq!(run(Op::Sum(vec![]), &[&x]).data, x.data);
        assert_eq!(run(Op::MaxReduce(vec![0]), &[&x]).data, [4.0, 5.0, 6.0]);
        assert_eq!(run(Op::MaxReduce(vec![1]), &[&x]).data, [5.0, 6.0]);
        let ties = t(&[2, 3], &[1.0, 3.0, 3.0, 2.0, 2.0, 0.0]);
        assert_eq!(run(Op::Argmax(1), &[&ties]).data, [1.0, 0.0]);
        assert_eq!(run(Op::Argmax(0), &[&ties]).data, [1.0, 0.0, 0.0]);
        let y = t(&[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(run(Op::Sum(vec![0, 2]), &[&y]).data, [14.0, 22.0]);
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
        let m = g.push(Op::Mul, vec![x, b]).unwrap();
        let s = g.push(Op::Sum(vec![0]), vec![m]).unwrap();
        let oh = g.push(Op::OneHot(2), vec![y]).unwrap();
        g.add_output("loss", s, OutputRole::Loss);
        g.add_output("oh", oh, OutputRole::Metric);
        let out = eval(&g, &[t(&[2], &[1.0, 3.0]), t(&[2], &[1.0, 0.0])]);
        assert_eq!(out, vec![Tensor::scalar(8.0), t(&[2, 2], &[0.0, 1.0, 1.0, 0.0])]);
    }
}
