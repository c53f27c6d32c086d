//! The helper the generated code calls for convolutions and pooling (`ir::window`).
//!
//! Decisions:
//! - Convolutions are im2col + GEMM (the `gemm` crate, as `@`): per image and group, the
//!   window taps are copied into a `[C/groups·KH·KW, OH·OW]` column matrix in a scratch buffer,
//!   then one product gives the output (forward), the column gradient (input gradient, scattered
//!   back by col2im) or the weight gradient (accumulated over the batch in image order).
//! - A product uses two threads under the same rule as `@` (`PARALLEL_MIN_FLOPS`). gemm splits
//!   the work by output blocks and each output element's inner sum runs in one order whatever
//!   the thread count, so results are bit-identical at one and two threads
//!   (`codegen::tests::window::threads_give_identical_bits`).
//! - Pooling is direct loops: a few compares or adds per output, cheaper than any copy.
//! - The op's geometry arrives as a pointer to a small `#[repr(C)]` table the generated code
//!   fills on its stack, so the call takes five arguments whatever the op.

use std::cell::RefCell;

use super::helpers::PARALLEL_MIN_FLOPS;
use crate::ir::{Shape, WindowOp};

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
    pub(crate) fn words(&self) -> [usize; 17] {
        let g = self;
        [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups, g.threads]
    }
}

/// The helper's kind and geometry for `op` with operand shapes `args` and result shape `out`
/// (all rank 4, as the op's shape rule checked); `threads` is what GEMM may use.
pub(crate) fn geometry(op: &WindowOp, args: &[&Shape], out: &Shape, threads: usize) -> (Kind, Geometry) {
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

thread_local! {
    /// The im2col column matrix, reused across calls and steps (the helper is not reentrant).
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a zeroed-or-stale scratch buffer of `len` elements (`f` writes before it reads).
fn with_columns(len: usize, f: impl FnOnce(&mut [f32])) {
    COLUMNS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() < len {
            c.resize(len, 0.0);
        }
        f(&mut c[..len]);
    });
}

impl Geometry {
    fn cg(&self) -> usize {
        self.c / self.groups
    }

    fn og(&self) -> usize {
        self.o / self.groups
    }

    /// Rows of the column matrix: taps per output element.
    fn taps(&self) -> usize {
        self.cg() * self.kh * self.kw
    }

    /// Columns of the column matrix: output positions per image.
    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Threads for a product of this many multiply-adds.
    fn threads_for(&self, flops: usize) -> gemm::Parallelism {
        if self.threads > 1 && flops >= PARALLEL_MIN_FLOPS {
            gemm::Parallelism::Rayon(self.threads)
        } else {
            gemm::Parallelism::None
        }
    }

    /// The outputs `ox` whose tap `k` (along an axis of `len`, stride `s`, dilation `d`, padding
    /// `p`, `n` outputs) lands inside the input: `lo..hi`, and the input index of output `lo`.
    fn valid(len: usize, s: usize, d: usize, p: usize, n: usize, k: usize) -> (usize, usize, usize) {
        let off = k * d;
        // ox·s + off ≥ p  ⇔  ox ≥ ceil((p - off) / s)
        let lo = if off >= p { 0 } else { (p - off).div_ceil(s) };
        // ox·s + off - p < len  ⇔  ox·s < len + p - off
        let hi = if len + p <= off { 0 } else { (len + p - off).div_ceil(s) }.min(n);
        let lo = lo.min(hi);
        (lo, hi, (lo * s + off).saturating_sub(p))
    }

    /// Calls `f(row of col, ci, iy, ox range, first ix)` for every (tap, output row) pair whose
    /// input row is inside the input; the caller handles the rest of the column matrix.
    fn rows(&self, mut f: impl FnMut(usize, usize, usize, (usize, usize), usize)) {
        let p = self.positions();
        for ci in 0..self.cg() {
            for ky in 0..self.kh {
                let (ylo, yhi, iy0) = Self::valid(self.h, self.sh, self.dh, self.ph, self.oh, ky);
                for kx in 0..self.kw {
                    let (xlo, xhi, ix0) = Self::valid(self.w, self.sw, self.dw, self.pw, self.ow, kx);
                    let row = ((ci * self.kh + ky) * self.kw + kx) * p;
                    for (j, oy) in (ylo..yhi).enumerate() {
                        f(row + oy * self.ow, ci, iy0 + j * self.sh, (xlo, xhi), ix0);
                    }
                }
            }
        }
    }

    /// Copies one group of one image (`x`: `[C/groups, H, W]`) into `col[taps, positions]`.
    fn im2col(&self, x: &[f32], col: &mut [f32]) {
        // Taps in the padding read zero; the loop below writes every tap inside the input.
        col.fill(0.0);
        let (h, w, sw) = (self.h, self.w, self.sw);
        self.rows(|at, ci, iy, (lo, hi), ix0| {
            let src = &x[(ci * h + iy) * w..][..w];
            let dst = &mut col[at + lo..at + hi];
            if sw == 1 {
                dst.copy_from_slice(&src[ix0..ix0 + (hi - lo)]);
            } else {
                for (j, d) in dst.iter_mut().enumerate() {
                    *d = src[ix0 + j * sw];
                }
            }
        });
    }

    /// Adds `col[taps, positions]` back into one group of one image (`dx`: `[C/groups, H, W]`).
    fn col2im(&self, col: &[f32], dx: &mut [f32]) {
        let (h, w, sw) = (self.h, self.w, self.sw);
        self.rows(|at, ci, iy, (lo, hi), ix0| {
            let dst = &mut dx[(ci * h + iy) * w..][..w];
            for (j, &c) in col[at + lo..at + hi].iter().enumerate() {
                dst[ix0 + j * sw] += c;
            }
        });
    }
}

/// A strided matrix operand: element (i, j) is `ptr[i * rs + j * cs]`.
struct Mat {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

/// `dst[m, n] (+)= a @ b`, `dst` with row stride `dst_rs`; adds to `dst` when `accumulate`.
///
/// # Safety
/// Every element the strides reach must be inside its buffer, and `dst` must not overlap `a`/`b`.
unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    par: gemm::Parallelism,
) {
    // SAFETY: guaranteed by the caller. With `read_dst`, gemm computes dst = 1·dst + 1·(a @ b);
    // without, dst = 1·(a @ b).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.ptr,
            a.cs,
            a.rs,
            b.ptr,
            b.cs,
            b.rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// `y[N, O, OH, OW] = conv2d(x, w)`.
fn conv(g: &Geometry, x: &[f32], w: &[f32], y: &mut [f32]) {
    let (k, p, og, cg) = (g.taps(), g.positions(), g.og(), g.cg());
    let par = g.threads_for(og * p * k);
    if k == 0 {
        // No taps: every output is an empty sum (gemm wants a nonzero inner dimension).
        y.fill(0.0);
        return;
    }
    with_columns(k * p, |col| {
        for b in 0..g.n {
            for grp in 0..g.groups {
                g.im2col(&x[(b * g.c + grp * cg) * g.h * g.w..][..cg * g.h * g.w], col);
                let dst = &mut y[(b * g.o + grp * og) * p..][..og * p];
                let a = Mat { ptr: w[grp * og * k..].as_ptr(), rs: k as isize, cs: 1 };
                let bm = Mat { ptr: col.as_ptr(), rs: p as isize, cs: 1 };
                // SAFETY: `a` is the group's [og, k] weights, `bm` the [k, p] columns, `dst` [og, p].
                unsafe { product((og, p, k), dst.as_mut_ptr(), p, a, bm, false, par) };
            }
        }
    });
}

/// `dx[N, C, H, W] = conv2d_input_grad(g, w)`: per image and group, `col = wᵀ @ g`, then col2im.
fn conv_input(geo: &Geometry, gy: &[f32], w: &[f32], dx: &mut [f32]) {
    let (k, p, og, cg) = (geo.taps(), geo.positions(), geo.og(), geo.cg());
    let par = geo.threads_for(og * p * k);
    dx.fill(0.0);
    if og == 0 {
        return;
    }
    with_columns(k * p, |col| {
        for b in 0..geo.n {
            for grp in 0..geo.groups {
                // Element (kk, oc) of wᵀ is w[oc * k + kk].
                let a = Mat { ptr: w[grp * og * k..].as_ptr(), rs: 1, cs: k as isize };
                let bm = Mat { ptr: gy[(b * geo.o + grp * og) * p..].as_ptr(), rs: p as isize, cs: 1 };
                // SAFETY: `a` is the group's weights seen as [k, og], `bm` its [og, p] gradient, `col` [k, p].
                unsafe { product((k, p, og), col.as_mut_ptr(), p, a, bm, false, par) };
                geo.col2im(col, &mut dx[(b * geo.c + grp * cg) * geo.h * geo.w..][..cg * geo.h * geo.w]);
            }
        }
    });
}

/// `dw[O, C/groups, KH, KW] = conv2d_weight_grad(x, g)`: `Σ_images g @ colᵀ`, in image order.
fn conv_weight(geo: &Geometry, x: &[f32], gy: &[f32], dw: &mut [f32]) {
    let (k, p, og, cg) = (geo.taps(), geo.positions(), geo.og(), geo.cg());
    let par = geo.threads_for(og * p * k);
    if geo.n == 0 || p == 0 || k == 0 {
        dw.fill(0.0);
        return;
    }
    with_columns(k * p, |col| {
        for b in 0..geo.n {
            for grp in 0..geo.groups {
                geo.im2col(&x[(b * geo.c + grp * cg) * geo.h * geo.w..][..cg * geo.h * geo.w], col);
                let a = Mat { ptr: gy[(b * geo.o + grp * og) * p..].as_ptr(), rs: p as isize, cs: 1 };
                // Element (pp, kk) of colᵀ is col[kk * p + pp].
                let bm = Mat { ptr: col.as_ptr(), rs: 1, cs: p as isize };
                let dst = &mut dw[grp * og * k..][..og * k];
                // SAFETY: `a` is [og, p], `bm` [p, k], `dst` the group's [og, k] weights.
                unsafe { product((og, k, p), dst.as_mut_ptr(), k, a, bm, b > 0, par) };
            }
        }
    });
}

/// Calls `f(plane offset, y index, rows, columns)` for every pooling window: the window's rows
/// and columns inside the input (not the padding), as ranges of input indices.
fn pool_windows(g: &Geometry, mut f: impl FnMut(usize, usize, (usize, usize), (usize, usize))) {
    let range = |o: usize, s: usize, p: usize, k: usize, len: usize| {
        let start = o * s;
        (start.saturating_sub(p), (start + k).saturating_sub(p).min(len))
    };
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            let rows = range(oy, g.sh, g.ph, g.kh, g.h);
            for ox in 0..g.ow {
                let cols = range(ox, g.sw, g.pw, g.kw, g.w);
                f(plane * g.h * g.w, (plane * g.oh + oy) * g.ow + ox, rows, cols);
            }
        }
    }
}

/// The index of the window's maximum, by the interpreter's (and PyTorch's) rule: start at -inf
/// with the first element, move on to one that is greater or NaN. A window holds at least one
/// element, since its padding is at most half of it.
fn first_max(x: &[f32], w: usize, base: usize, rows: (usize, usize), cols: (usize, usize)) -> usize {
    let (mut best, mut at) = (f32::NEG_INFINITY, base + rows.0 * w + cols.0);
    for iy in rows.0..rows.1 {
        let row = base + iy * w;
        for (j, &v) in x[row + cols.0..row + cols.1].iter().enumerate() {
            if v > best || v.is_nan() {
                best = v;
                at = row + cols.0 + j;
            }
        }
    }
    at
}

/// Runs op `kind` with geometry `geo` on `a` (and `b`), writing `out`.
///
/// # Safety
/// `kind` must be a `Kind` discriminant, `geo` a valid table for it, and `a`, `b` and `out` must
/// hold the operands and the result the geometry describes; `out` must not overlap them.
pub(crate) unsafe extern "C" fn gradc_window(
    kind: usize,
    geo: *const Geometry,
    a: *const f32,
    b: *const f32,
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
    match kind {
        Kind::Conv => conv(&g, slice(a, input), slice(b, weights), slice_mut(out, output)),
        Kind::ConvInput => conv_input(&g, slice(a, output), slice(b, weights), slice_mut(out, input)),
        Kind::ConvWeight => conv_weight(&g, slice(a, input), slice(b, output), slice_mut(out, weights)),
        Kind::MaxPool => {
            let (x, y) = (slice(a, input), slice_mut(out, output));
            pool_windows(&g, |base, yi, r, c| y[yi] = x[first_max(x, g.w, base, r, c)]);
        }
        Kind::MaxPoolGrad => {
            let (x, gy, dx) = (slice(a, input), slice(b, output), slice_mut(out, input));
            dx.fill(0.0);
            pool_windows(&g, |base, yi, r, c| dx[first_max(x, g.w, base, r, c)] += gy[yi]);
        }
        Kind::AvgPool => {
            let (x, y) = (slice(a, input), slice_mut(out, output));
            let count = (g.kh * g.kw) as f32;
            pool_windows(&g, |base, yi, r, c| {
                let rows = (r.0..r.1).map(|iy| x[base + iy * g.w + c.0..base + iy * g.w + c.1].iter().sum::<f32>());
                y[yi] = rows.sum::<f32>() / count;
            });
        }
        Kind::AvgPoolGrad => {
            let (gy, dx) = (slice(a, output), slice_mut(out, input));
            let count = (g.kh * g.kw) as f32;
            dx.fill(0.0);
            pool_windows(&g, |base, yi, r, c| {
                let share = gy[yi] / count;
                for iy in r.0..r.1 {
                    dx[base + iy * g.w + c.0..base + iy * g.w + c.1].iter_mut().for_each(|d| *d += share);
                }
            });
        }
    }
}
