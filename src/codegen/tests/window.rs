//! JIT against the interpreter for the window family (`ir::window`) over the corner cases of
//! the autodiff tests, on every SIMD path this CPU supports, a whole convolutional backward
//! pass, ties in max pooling, and bit-identical results at one and two threads.

use super::*;
use crate::autodiff::backward;
use crate::codegen::window::Path;
use crate::ir::window_cases::conv;
use crate::ir::{Conv2d, Pool2d, WindowOp};

/// The shared corner cases, and cases for the direct kernels' blocking and placement: one big
/// enough for the vector loops, cnn-small's second layer at batch 1, more outputs than a block
/// of four with a remainder, padding beyond the kernel's reach (the input gradient crops the
/// output gradient), dilation with groups, and more than 16 channels (im2col at stride 1).
fn conv_cases() -> Vec<([usize; 4], [usize; 4], Conv2d)> {
    let mut cases = crate::ir::window_cases::conv_cases();
    cases.extend([
        ([3, 5, 9, 11], [6, 5, 3, 3], conv(1, [1, 1], 1, 1)),
        ([1, 8, 14, 14], [16, 8, 3, 3], conv(1, [1, 1], 1, 1)),
        ([2, 3, 7, 5], [9, 3, 3, 3], conv(1, [1, 1], 1, 1)),
        ([1, 2, 5, 6], [3, 2, 3, 3], conv(1, [3, 3], 1, 1)),
        ([1, 4, 9, 8], [6, 2, 3, 2], conv(1, [2, 1], 2, 2)),
        ([1, 17, 5, 6], [3, 17, 3, 3], conv(1, [1, 1], 1, 1)),
    ]);
    cases
}

/// Runs `f` once on every SIMD path this CPU supports.
fn on_every_path(f: impl Fn()) {
    for path in Path::ALL.into_iter().filter(|p| p.supported()) {
        Path::forced(path, &f);
    }
}

fn pool_cases() -> Vec<([usize; 4], Pool2d)> {
    let p = |k: usize, s: usize, pad: usize| Pool2d { kernel: [k; 2], stride: [s; 2], pad: [pad; 2] };
    vec![
        ([2, 2, 4, 4], p(2, 2, 0)),
        ([1, 1, 5, 7], p(3, 2, 1)),
        ([1, 3, 5, 5], p(3, 1, 0)),
        ([2, 1, 7, 5], Pool2d { kernel: [2, 3], stride: [1, 2], pad: [1, 1] }),
        // 2×2 stride 2 over odd sizes: the last row and column are in no window.
        ([2, 3, 7, 9], p(2, 2, 0)),
        ([1, 2, 28, 28], p(2, 2, 0)),
    ]
}

/// A graph computing the op and both gradient ops from random operands and cotangent.
fn conv_graph(x: [usize; 4], w: [usize; 4], c: Conv2d) -> Graph {
    let mut g = Graph::new("conv");
    let xi = f32_input(&mut g, "x", &x);
    let wi = f32_input(&mut g, "w", &w);
    let y = push(&mut g, Op::Window(WindowOp::Conv(c)), &[xi, wi]);
    let ys = g.ty(y).shape.clone();
    let gy = f32_input(&mut g, "gy", &ys);
    let dx = push(&mut g, Op::Window(WindowOp::ConvInput(c, [x[2], x[3]])), &[gy, wi]);
    let dw = push(&mut g, Op::Window(WindowOp::ConvWeight(c, [w[2], w[3]])), &[xi, gy]);
    g.add_output("y", y, OutputRole::Metric);
    g.add_output("dx", dx, OutputRole::Metric);
    g.add_output("dw", dw, OutputRole::Metric);
    g
}

#[test]
fn conv2d_and_its_gradients() {
    on_every_path(|| {
        for (x, w, c) in conv_cases() {
            check(&conv_graph(x, w, c));
        }
    });
}

fn pool_graph(x: [usize; 4], p: Pool2d) -> Graph {
    let mut g = Graph::new("pool");
    let xi = f32_input(&mut g, "x", &x);
    let max = push(&mut g, Op::Window(WindowOp::MaxPool(p)), &[xi]);
    let avg = push(&mut g, Op::Window(WindowOp::AvgPool(p)), &[xi]);
    let ys = g.ty(max).shape.clone();
    let gy = f32_input(&mut g, "gy", &ys);
    let dmax = push(&mut g, Op::Window(WindowOp::MaxPoolGrad(p)), &[xi, gy]);
    let davg = push(&mut g, Op::Window(WindowOp::AvgPoolGrad(p, [x[2], x[3]])), &[gy]);
    for (name, v) in [("max", max), ("avg", avg), ("dmax", dmax), ("davg", davg)] {
        g.add_output(name, v, OutputRole::Metric);
    }
    g
}

#[test]
fn pools_and_their_gradients() {
    on_every_path(|| {
        for (x, p) in pool_cases() {
            check(&pool_graph(x, p));
        }
    });
}

/// Small integers tie often: both sides send each gradient to the window's first maximum.
#[test]
fn max_pool_ties_go_to_the_first_maximum() {
    on_every_path(max_pool_ties);
}

fn max_pool_ties() {
    for (x, p) in pool_cases() {
        let g = pool_graph(x, p);
        let mut rng = Rng(11);
        let inputs: Vec<Tensor> = g
            .inputs
            .iter()
            .map(|i| {
                let t = random_input(i, &mut rng, (-1.0, 2.0));
                if i.name == "x" {
                    Tensor::new(t.shape, t.data.iter().map(|v| v.floor()).collect())
                } else {
                    t
                }
            })
            .collect();
        check_with(&g, &inputs);
    }
}

/// conv → bias → relu → max pool → avg pool → sum, differentiated, then fused and compiled.
#[test]
fn conv_net_backward() {
    let mut g = Graph::new("forward");
    let x = g.add_input("x", Type::f32(vec![2, 3, 9, 8]), InputRole::Data);
    let w = g.add_input("w", Type::f32(vec![4, 3, 3, 3]), InputRole::Param);
    let b = g.add_input("b", Type::f32(vec![4, 1, 1]), InputRole::Param);
    let y = push(&mut g, Op::Window(WindowOp::Conv(conv(1, [1, 1], 1, 1))), &[x, w]);
    let bb = push(&mut g, Op::Broadcast(vec![2, 4, 9, 8]), &[b]);
    let y = push(&mut g, Op::Binary(BinOp::Add), &[y, bb]);
    let zero = g.splat(0.0, &[2, 4, 9, 8]);
    let y = push(&mut g, Op::Binary(BinOp::Max), &[y, zero]);
    let pool = Pool2d { kernel: [2, 2], stride: [2, 2], pad: [0, 0] };
    let y = push(&mut g, Op::Window(WindowOp::MaxPool(pool)), &[y]);
    let y = push(&mut g, Op::Window(WindowOp::AvgPool(Pool2d { kernel: [3, 3], stride: [1, 1], pad: [1, 1] })), &[y]);
    let loss = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1, 2, 3]), &[y]);
    g.add_output("loss", loss, OutputRole::Loss);
    check(&backward(&g));
}

/// Jobs large enough for two threads give the same bits as one thread: a convolution on
/// im2col + GEMM, one on the direct kernels, and pooling, on every SIMD path.
#[test]
fn threads_give_identical_bits() {
    let pool = Pool2d { kernel: [2, 2], stride: [2, 2], pad: [0, 0] };
    let graphs = [
        (conv_graph([4, 16, 32, 32], [32, 16, 3, 3], conv(1, [1, 1], 1, 1)), vec!["y", "dx", "dw"]),
        (conv_graph([9, 8, 14, 14], [16, 8, 3, 3], conv(1, [1, 1], 1, 1)), vec!["y", "dx", "dw"]),
        (pool_graph([6, 16, 40, 40], pool), vec!["max", "dmax"]),
    ];
    on_every_path(|| {
        for (g, outputs) in &graphs {
            let mut rng = Rng(3);
            let inputs: Vec<Tensor> = g.inputs.iter().map(|i| random_input(i, &mut rng, (-1.0, 1.0))).collect();
            let run = |threads: usize| {
                let mut exe = Executable::compile(g, &CompileOptions { threads, ..opts() }).expect("compiles");
                for (t, i) in inputs.iter().zip(&g.inputs) {
                    let dst = exe.input_mut(&i.name).expect("input");
                    dst.iter_mut().zip(&t.data).for_each(|(d, &s)| *d = s as f32);
                }
                exe.run();
                let bits = |o: &&str| exe.output(o).expect("output").iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
                outputs.iter().map(bits).collect::<Vec<_>>()
            };
            assert!(run(1) == run(2), "one and two threads differ for {outputs:?}");
        }
    });
}

/// A reshaped operand is read from its producer's buffer, whose own shape is not rank 4: the
/// kernel keeps the shape the op sees.
#[test]
fn reshaped_operand() {
    let mut g = Graph::new("reshaped");
    let x = f32_input(&mut g, "x", &[2, 36]);
    let w = f32_input(&mut g, "w", &[2, 1, 3, 3]);
    let img = push(&mut g, Op::Reshape(vec![2, 1, 6, 6]), &[x]);
    let y = push(&mut g, Op::Window(WindowOp::Conv(conv(1, [1, 1], 1, 1))), &[img, w]);
    let p = push(&mut g, Op::Window(WindowOp::MaxPool(Pool2d { kernel: [2, 2], stride: [2, 2], pad: [0, 0] })), &[img]);
    g.add_output("y", y, OutputRole::Metric);
    g.add_output("p", p, OutputRole::Metric);
    check(&g);
}
