//! The helper the generated code calls for convolutions and pooling (`ir::window`).
//!
//! Decisions:
//! - Stride-1 convolutions with at most 16 channels per group on either side run direct
//!   kernels (`direct`): im2col's copy of every tap costs as much as their small products.
//!   Other convolutions are im2col + GEMM (`im2col`). Measured on cnn-small's layers (1→8 and
//!   8→16 channels, 3×3, 28×28 and 14×14, batch 64), see docs/ARCHITECTURE.md.
//! - The direct kernels are written once over a small vector trait and compiled for AVX-512,
//!   AVX2 + FMA and portable code, chosen at run time (`simd`).
//! - Two threads split the work by images, output channels or planes (`split`), so every
//!   output element is computed in the same order whatever the thread count: results are
//!   bit-identical at one and two threads (`codegen::tests::window::threads_give_identical_bits`).
//! - Pooling is direct loops (`pool`).
//! - A kernel's epilogue (`kernel::Epilogue`, chosen by `fuse::epilogue`) is applied as the
//!   result is written: a convolution's bias and ReLU in its copy out of the padded planes
//!   (`direct`) or right after each image's product (`im2col`), ReLU's gradient mask in the
//!   pool gradient's own pass (`pool`). The bias comes as the call's fifth argument.
//! - The op's geometry arrives as a pointer to a small `#[repr(C)]` table the generated code
//!   fills on its stack, so the call takes six arguments whatever the op.

mod direct;
mod im2col;
mod pool;
mod simd;

use super::helpers::PARALLEL_MIN_FLOPS;
use crate::ir::{Shape, WindowOp};
pub(crate) use simd::Path;

/// An op's sizes and attributes, as the generated code lays them out (`usize` each, in order).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    dh: usize,
    dw: usize,
    groups: usize,
    /// The epilogue's ReLU: after a convolution `max(y, 0)`, after a max-pool gradient the
    /// mask `select(x > 0, dx, 0)` (`kernel::Epilogue`); 0 or 1.
    relu: usize,
    threads: usize,
}

/// What `gradc_window` computes; the discriminant is passed as the call's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Kind {
    /// `conv2d(x, w)`.
    Conv,
    /// `conv2d_input_grad(g, w)`.
    ConvInput,
    /// `conv2d_weight_grad(x, g)`.
    ConvWeight,
    /// `max_pool2d(x)`.
    MaxPool,
    /// `max_pool2d_grad(x, g)`.
    MaxPoolGrad,
    /// `avg_pool2d(x)`.
    AvgPool,
    /// `avg_pool2d_grad(g)`.
    AvgPoolGrad,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Conv,
        Kind::ConvInput,
        Kind::ConvWeight,
        Kind::MaxPool,
        Kind::MaxPoolGrad,
        Kind::AvgPool,
        Kind::AvgPoolGrad,
    ];
}

impl Geometry {
    /// The table as the generated code stores it.
    pub(crate) fn words(&self) -> [usize; 18] {
        let g = self;
        [
            g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, g.relu,
            g.threads,
        ]
    }
}

/// The helper's kind and geometry for `op` with operand shapes `args` and result shape `out`
/// (all rank 4, as the op's shape rule checked), with the epilogue's ReLU if `relu`; `threads`
/// is what the helper may use.
pub(crate) fn geometry(op: &WindowOp, args: &[&Shape], out: &Shape, relu: bool, threads: usize) -> (Kind, Geometry) {
    let relu = usize::from(relu);
    let conv = |c: &crate::ir::Conv2d, x: &Shape, w: &Shape, y: &Shape| Geometry {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        o: w[0],
        kh: w[2],
        kw: w[3],
        oh: y[2],
        ow: y[3],
        sh: c.stride[0],
        sw: c.stride[1],
        ph: c.pad_lo[0],
        pw: c.pad_lo[1],
        dh: c.dilation[0],
        dw: c.dilation[1],
        groups: c.groups,
        relu,
        threads,
    };
    let pool = |p: &crate::ir::Pool2d, x: &Shape, y: &Shape| Geometry {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        o: x[1],
        kh: p.kernel[0],
        kw: p.kernel[1],
        oh: y[2],
        ow: y[3],
        sh: p.stride[0],
        sw: p.stride[1],
        ph: p.pad[0],
        pw: p.pad[1],
        dh: 1,
        dw: 1,
        groups: 1,
        relu,
        threads,
    };
    match op {
        WindowOp::Conv(c) => (Kind::Conv, conv(c, args[0], args[1], out)),
        WindowOp::ConvInput(c, _) => (Kind::ConvInput, conv(c, out, args[1], args[0])),
        WindowOp::ConvWeight(c, _) => (Kind::ConvWeight, conv(c, args[0], out, args[1])),
        WindowOp::MaxPool(p) => (Kind::MaxPool, pool(p, args[0], out)),
        WindowOp::MaxPoolGrad(p) => (Kind::MaxPoolGrad, pool(p, args[0], args[1])),
        WindowOp::AvgPool(p) => (Kind::AvgPool, pool(p, args[0], out)),
        WindowOp::AvgPoolGrad(p, _) => (Kind::AvgPoolGrad, pool(p, out, args[0])),
    }
}

impl Geometry {
    fn cg(&self) -> usize {
        self.c / self.groups
    }

    fn og(&self) -> usize {
        self.o / self.groups
    }

    /// Kernel taps per channel.
    fn taps(&self) -> usize {
        self.kh * self.kw
    }
}

/// A convolution's epilogue (`kernel::Epilogue::Conv`): `max(y + bias[o], 0)`, each part
/// optional.
#[derive(Debug, Clone, Copy)]
pub(super) struct Activation<'a> {
    bias: Option<&'a [f32]>,
    relu: bool,
}

impl Activation<'_> {
    /// Whether it changes anything.
    fn is_identity(&self) -> bool {
        self.bias.is_none() && !self.relu
    }

    /// The bias of output channel `o`; without one -0, the exact identity of addition
    /// (`-0 + -0 = -0`), so one loop serves both.
    fn bias(&self, o: usize) -> f32 {
        self.bias.map_or(-0.0, |b| b[o])
    }

    /// `v` plus the bias `b`, then ReLU as the JIT's `max(v, 0)` computes it: 0 where `v < 0`,
    /// else `v` (NaN and -0 stay).
    #[inline(always)]
    fn apply(&self, v: f32, b: f32) -> f32 {
        let v = v + b;
        if self.relu && v < 0.0 {
            0.0
        } else {
            v
        }
    }

    /// Applies it to consecutive `len`-element planes of output channels `first..`.
    fn planes(&self, y: &mut [f32], len: usize, first: usize) {
        if self.is_identity() || len == 0 {
            return;
        }
        for (o, plane) in y.chunks_exact_mut(len).enumerate() {
            let b = self.bias(first + o);
            plane.iter_mut().for_each(|v| *v = self.apply(*v, b));
        }
    }
}

/// The `len` elements at `at` of an output buffer whose address is `base`: how a part of a
/// job split over two threads reaches its own disjoint share of the output.
///
/// # Safety
/// The range must be inside the buffer, which must outlive the slice, and no other live slice
/// may overlap it.
unsafe fn out_slice<'a>(base: usize, at: usize, len: usize) -> &'a mut [f32] {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts_mut((base as *mut f32).add(at), len) }
}

/// Runs op `kind` with geometry `geo` on `a` (and `b`), writing `out`; a convolution adds
/// `bias` (`[O]`, unless null) and applies the epilogue's ReLU.
///
/// # Safety
/// `kind` must be a `Kind` discriminant, `geo` a valid table for it, and `a`, `b`, `bias` and
/// `out` must hold the operands and the result the geometry describes; `out` must not overlap
/// them.
pub(crate) unsafe extern "C" fn gradc_window(
    kind: usize,
    geo: *const Geometry,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    out: *mut f32,
) {
    // SAFETY: guaranteed by the caller.
    let g = unsafe { *geo };
    let Some(&kind) = Kind::ALL.get(kind) else { return };
    let input = g.n * g.c * g.h * g.w;
    let output = g.n * g.o * g.oh * g.ow;
    let weights = g.o * g.cg() * g.kh * g.kw;
    // SAFETY (every slice below): the caller guarantees the buffers hold these many elements.
    let slice = |p: *const f32, n: usize| unsafe { std::slice::from_raw_parts(p, n) };
    let slice_mut = |p: *mut f32, n: usize| unsafe { std::slice::from_raw_parts_mut(p, n) };
    let direct = direct::applies(&g);
    let act = Activation { bias: (!bias.is_null()).then(|| slice(bias, g.o)), relu: g.relu != 0 };
    match kind {
        Kind::Conv if direct => direct::conv(&g, slice(a, input), slice(b, weights), act, slice_mut(out, output)),
        Kind::Conv => im2col::conv(&g, slice(a, input), slice(b, weights), act, slice_mut(out, output)),
        Kind::ConvInput if direct => direct::conv_input(&g, slice(a, output), slice(b, weights), slice_mut(out, input)),
        Kind::ConvInput => im2col::conv_input(&g, slice(a, output), slice(b, weights), slice_mut(out, input)),
        Kind::ConvWeight if direct => {
            direct::conv_weight(&g, slice(a, input), slice(b, output), slice_mut(out, weights))
        }
        Kind::ConvWeight => im2col::conv_weight(&g, slice(a, input), slice(b, output), slice_mut(out, weights)),
        Kind::MaxPool => pool::max_pool(&g, slice(a, input), slice_mut(out, output)),
        Kind::MaxPoolGrad => pool::max_pool_grad(&g, slice(a, input), slice(b, output), slice_mut(out, input)),
        Kind::AvgPool => pool::avg_pool(&g, slice(a, input), slice_mut(out, output)),
        Kind::AvgPoolGrad => pool::avg_pool_grad(&g, slice(a, output), slice_mut(out, input)),
    }
}
