//! The window helper's epilogues (`fuse::epilogue`): bias and ReLU inside the convolution and
//! ReLU's gradient mask inside the max-pool gradient, against the interpreter (with ±inf and
//! NaN), bit for bit against the unfused kernels, at one and two threads, on every SIMD path.

use super::*;
use crate::codegen::window::Path;
use crate::ir::window_cases::conv;
use crate::ir::{Conv2d, Pool2d, WindowOp};

/// One block: `y = max_pool(max(conv(x, w) + b, 0))` and the gradient of `z = conv + b` for a
/// cotangent `gy` of `y`, written as autodiff writes it: `select(gt(z, 0), pool_grad(r, gy), 0)`.
/// `unfused` also outputs the convolution and the pool gradient, which keeps both folds out.
struct Block {
    x: [usize; 4],
    w: [usize; 4],
    conv: Conv2d,
    pool: Pool2d,
    bias: bool,
    relu: bool,
}

impl Block {
    fn graph(&self, unfused: bool) -> Graph {
        let mut g = Graph::new("block");
        let x = f32_input(&mut g, "x", &self.x);
        let w = f32_input(&mut g, "w", &self.w);
        let c = push(&mut g, Op::Window(WindowOp::Conv(self.conv)), &[x, w]);
        let shape = g.ty(c).shape.clone();
        let mut z = c;
        if self.bias {
            let b = f32_input(&mut g, "b", &[self.w[0]]);
            let b = push(&mut g, Op::Reshape(vec![self.w[0], 1, 1]), &[b]);
            let b = push(&mut g, Op::Broadcast(shape.clone()), &[b]);
            z = push(&mut g, Op::Binary(BinOp::Add), &[c, b]);
        }
        let zero = g.splat(0.0, &shape);
        let r = if self.relu { push(&mut g, Op::Binary(BinOp::Max), &[z, zero]) } else { z };
        let y = push(&mut g, Op::Window(WindowOp::MaxPool(self.pool)), &[r]);
        let pooled = g.ty(y).shape.clone();
        let gy = f32_input(&mut g, "gy", &pooled);
        let p = push(&mut g, Op::Window(WindowOp::MaxPoolGrad(self.pool)), &[r, gy]);
        let mask = push(&mut g, Op::Binary(BinOp::Gt), &[z, zero]);
        let dz = push(&mut g, Op::Select, &[mask, p, zero]);
        g.add_output("r", r, OutputRole::Metric);
        g.add_output("y", y, OutputRole::Metric);
        g.add_output("dz", dz, OutputRole::Metric);
        if unfused {
            g.add_output("c", c, OutputRole::Metric);
            g.add_output("p", p, OutputRole::Metric);
        }
        g
    }
}

fn pool(k: usize, s: usize, pad: usize) -> Pool2d {
    Pool2d { kernel: [k; 2], stride: [s; 2], pad: [pad; 2] }
}

/// Direct kernels (stride 1, ≤ 16 channels) and im2col (stride 2; 17 input channels), odd
/// sizes, batch 1, groups, the 2×2 pool's straight-line rows and the general pool loops.
fn blocks() -> Vec<Block> {
    let b = |x, w, conv, pool, bias, relu| Block { x, w, conv, pool, bias, relu };
    let (same, two) = (conv(1, [1, 1], 1, 1), pool(2, 2, 0));
    vec![
        b([2, 3, 9, 11], [6, 3, 3, 3], same, two, true, true),
        b([1, 8, 14, 14], [16, 8, 3, 3], same, two, true, true),
        b([1, 1, 7, 5], [5, 1, 3, 3], same, two, false, true),
        b([3, 2, 6, 6], [4, 2, 3, 3], same, two, true, false),
        b([2, 3, 9, 9], [4, 3, 3, 3], conv(2, [1, 1], 1, 1), two, true, true),
        b([1, 17, 6, 7], [3, 17, 3, 3], same, pool(3, 2, 1), true, true),
        b([2, 4, 8, 7], [6, 2, 3, 3], conv(1, [1, 1], 1, 2), pool(3, 1, 0), false, true),
        b([1, 4, 5, 5], [3, 4, 1, 1], conv(1, [0, 0], 1, 1), pool(2, 1, 0), true, true),
    ]
}

/// Runs `f` once on every SIMD path this CPU supports.
fn on_every_path(f: impl Fn()) {
    for path in Path::ALL.into_iter().filter(|p| p.supported()) {
        Path::forced(path, &f);
    }
}

/// Random inputs in [-2, 2], with ±inf and NaN in every fifth element of `x`, `b` and `gy`
/// when `special` (not in `w`: the kernels multiply padding zeros by weights, which the
/// interpreter skips, so an infinite weight would be NaN at the border in one of them only).
fn inputs(g: &Graph, special: bool) -> Vec<Tensor> {
    let mut rng = Rng(17);
    let specials = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
    g.inputs
        .iter()
        .map(|i| {
            let mut t = random_input(i, &mut rng, (-2.0, 2.0));
            if special && i.name != "w" {
                for (j, v) in t.data.iter_mut().enumerate().filter(|(j, _)| j % 5 == 3) {
                    *v = f64::from(specials[(j / 5) % 3]);
                }
            }
            t
        })
        .collect()
}

/// The output bits of `g` compiled for `threads` on `inputs`.
fn bits(g: &Graph, inputs: &[Tensor], threads: usize, outputs: &[&str]) -> Vec<Vec<u32>> {
    let mut exe = Executable::compile(g, &CompileOptions { threads, ..opts() }).expect("compiles");
    for (t, i) in inputs.iter().zip(&g.inputs) {
        let dst = exe.input_mut(&i.name).expect("input");
        dst.iter_mut().zip(&t.data).for_each(|(d, &s)| *d = s as f32);
    }
    exe.run();
    outputs.iter().map(|o| exe.output(o).expect("output").iter().map(|v| v.to_bits()).collect()).collect()
}

/// The fused kernels are there: one per fold, and no elementwise kernel is left for them.
fn assert_fused(b: &Block, exe: &Executable) {
    let k = exe.kernels();
    let conv_line = k.lines().find(|l| l.contains(" conv2d[")).expect("a conv kernel");
    assert_eq!(conv_line.contains("+ bias b"), b.bias, "{k}");
    assert_eq!(conv_line.contains("then relu"), b.relu, "{k}");
    if b.relu {
        assert!(k.contains("then relu mask"), "{k}");
        assert!(!k.contains("elementwise"), "{k}");
    }
}

#[test]
fn fused_blocks_match_the_interpreter() {
    on_every_path(|| {
        for b in blocks() {
            let g = b.graph(false);
            for special in [false, true] {
                let exe = check_with(&g, &inputs(&g, special));
                assert_fused(&b, &exe);
            }
        }
    });
}

/// The epilogues compute the elementwise kernels' own f32 operations: same bits, NaN and
/// infinities included.
#[test]
fn fused_blocks_give_the_unfused_bits() {
    on_every_path(|| {
        for b in blocks() {
            let (fused, unfused) = (b.graph(false), b.graph(true));
            let unfused_exe = Executable::compile(&unfused, &opts()).expect("compiles");
            assert!(!unfused_exe.kernels().contains("then relu"), "{}", unfused_exe.kernels());
            for special in [false, true] {
                let data = inputs(&fused, special);
                let outputs = ["r", "y", "dz"];
                assert!(bits(&fused, &data, 1, &outputs) == bits(&unfused, &data, 1, &outputs), "block {:?}", b.x);
            }
        }
    });
}

/// Large enough for two threads (cnn-small's first layer at a batch of 16), same bits.
#[test]
fn fused_blocks_give_identical_bits_at_two_threads() {
    let b = Block {
        x: [16, 1, 28, 28],
        w: [8, 1, 3, 3],
        conv: conv(1, [1, 1], 1, 1),
        pool: pool(2, 2, 0),
        bias: true,
        relu: true,
    };
    let g = b.graph(false);
    on_every_path(|| {
        for special in [false, true] {
            let data = inputs(&g, special);
            let outputs = ["r", "y", "dz"];
            assert!(bits(&g, &data, 1, &outputs) == bits(&g, &data, 2, &outputs), "one and two threads differ");
        }
    });
}

/// A mask or a pre-activation used elsewhere stays an elementwise kernel, and the rest still
/// matches the interpreter.
#[test]
fn shared_intermediates_are_not_folded() {
    let b = Block {
        x: [2, 3, 9, 11],
        w: [6, 3, 3, 3],
        conv: conv(1, [1, 1], 1, 1),
        pool: pool(2, 2, 0),
        bias: true,
        relu: true,
    };
    let mut g = b.graph(false);
    // The pre-activation `z` (the add) as an output: the bias folds, the ReLU does not.
    let z = g.nodes.iter().position(|n| matches!(n.op, Op::Binary(BinOp::Add))).expect("the bias add");
    g.add_output("z", NodeId(z as u32), OutputRole::Metric);
    let exe = check_with(&g, &inputs(&g, true));
    let k = exe.kernels();
    assert!(k.contains("+ bias b\n") && k.contains("then relu mask"), "{k}");
}

#[test]
fn kernels_snapshot() {
    let b = Block {
        x: [2, 3, 9, 11],
        w: [6, 3, 3, 3],
        conv: conv(1, [1, 1], 1, 1),
        pool: pool(2, 2, 0),
        bias: true,
        relu: true,
    };
    insta::assert_snapshot!(print_kernels(&b.graph(false)).expect("fuses"));
}
