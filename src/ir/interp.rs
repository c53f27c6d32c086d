//! Reference interpreter of the graph IR, in f64: the test oracle. `gradc run` never uses it.
//!
//! Every op is a plain loop over row-major data, written to be obviously right rather than fast.
//! i32 values (labels, argmax results) are stored as integral f64.

use super::{DType, Graph, Op, Shape, Type};

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
        Op::Unary(u) => map(args[0], |x| u.eval(x)),
        Op::Binary(b) => zip(args[0], args[1], |x, y| b.eval(x, y)),
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
        Op::Reduce(r, axes) => reduce(args[0], axes, &out.shape, r.init(), |acc, v| r.combine(acc, v)),
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
        Op::Window(w) => w.eval(args, out),
        // i32 values are integral f64 already; to i32, Rust's `as` truncates toward zero,
        // saturates and maps NaN to 0, as the generated code does.
        Op::Cast(DType::F32) => args[0].clone(),
        Op::Cast(DType::I32) => map(args[0], |x| f64::from(x as i32)),
        Op::Permute(perm) => {
            let x = args[0];
            let in_strides = strides(&x.shape);
            let data = (0..out.numel())
                .map(|flat| {
                    let idx = unravel(flat, &out.shape);
                    x.data[perm.iter().zip(&idx).map(|(&p, &i)| i * in_strides[p]).sum::<usize>()]
                })
                .collect();
            Tensor::new(out.shape.clone(), data)
        }
        Op::Slice { axis, start, step, .. } => {
            let x = args[0];
            let in_strides = strides(&x.shape);
            let data = (0..out.numel())
                .map(|flat| {
                    let mut idx = unravel(flat, &out.shape);
                    idx[*axis] = start + idx[*axis] * step;
                    x.data[idx.iter().zip(&in_strides).map(|(i, s)| i * s).sum::<usize>()]
                })
                .collect();
            Tensor::new(out.shape.clone(), data)
        }
        Op::Concat { axis, .. } => {
            let data = (0..out.numel())
                .map(|flat| {
                    let mut idx = unravel(flat, &out.shape);
                    let mut part = 0;
                    while idx[*axis] >= args[part].shape[*axis] {
                        idx[*axis] -= args[part].shape[*axis];
                        part += 1;
                    }
                    let s = strides(&args[part].shape);
                    args[part].data[idx.iter().zip(&s).map(|(i, s)| i * s).sum::<usize>()]
                })
                .collect();
            Tensor::new(out.shape.clone(), data)
        }
        // The oracle is one process: the sum over ranks is its own value.
        Op::AllSum => args[0].clone(),
        Op::Gather => {
            let (table, ids) = (args[0], args[1]);
            let row: usize = table.shape[1..].iter().product();
            let mut data = vec![0.0; out.numel()];
            for (i, &id) in ids.data.iter().enumerate() {
                if id >= 0.0 && id < table.shape[0] as f64 {
                    let r = id as usize;
                    data[i * row..(i + 1) * row].copy_from_slice(&table.data[r * row..(r + 1) * row]);
                }
            }
            Tensor::new(out.shape.clone(), data)
        }
        Op::ScatterAdd(rows) => {
            let (ids, g) = (args[0], args[1]);
            let row: usize = out.shape[1..].iter().product();
            let mut data = vec![0.0; out.numel()];
            for (i, &id) in ids.data.iter().enumerate() {
                if id >= 0.0 && id < *rows as f64 {
                    let r = id as usize;
                    for j in 0..row {
                        data[r * row + j] += g.data[i * row + j];
                    }
                }
            }
            Tensor::new(out.shape.clone(), data)
        }
        Op::Rand { key, first, .. } => {
            let (seed, counter) = rng_words(&args[0].data);
            let draw = |i| f64::from(crate::rng::counter_uniform(seed, *key, counter, first + i));
            let data = (0..out.numel() as u64).map(draw);
            Tensor::new(out.shape.clone(), data.collect())
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
        let value = if let Op::Input(k) = node.op {
            inputs[k].clone()
        } else {
            let args: Vec<&Tensor> = node.args.iter().map(|a| &values[a.index()]).collect();
            eval_op(&node.op, &args, &node.ty)
        };
        values.push(value);
    }
    graph.outputs.iter().map(|o| values[o.node.index()].clone()).collect()
}

/// The seed and micro-batch counter held in the `rng` step input `[seed_lo, seed_hi, counter]`,
/// whose i32 words carry the bits of u32s.
pub fn rng_words(words: &[f64]) -> (u64, u32) {
    let word = |i: usize| words[i] as i32 as u32;
    (u64::from(word(0)) | u64::from(word(1)) << 32, word(2))
}
