//! Convolutions as im2col + GEMM (the `gemm` crate, as `@`), for strides above 1 and channel
//! counts beyond the direct kernels': per image and group, the window taps are copied into a
//! `[C/groups·KH·KW, OH·OW]` column matrix in a scratch buffer, then one product gives the
//! output (forward), the column gradient (input gradient, scattered back by col2im) or the
//! weight gradient (accumulated over the batch in image order).
//!
//! Products go through `codegen::matmul`, as `@`'s do: large ones are halved over two threads,
//! each output element's inner sum in one order whatever the thread count, so results are
//! bit-identical at one and two threads.

use std::cell::RefCell;

use super::{Activation, Geometry};
use crate::codegen::matmul::{self, Mat};

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
    /// Rows of the column matrix: taps per output element.
    fn rows_per_column(&self) -> usize {
        self.cg() * self.taps()
    }

    /// Columns of the column matrix: output positions per image.
    fn positions(&self) -> usize {
        self.oh * self.ow
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

/// `y[N, O, OH, OW] = conv2d(x, w)`.
pub(super) fn conv(g: &Geometry, x: &[f32], w: &[f32], act: Activation, y: &mut [f32]) {
    let (k, p, og, cg) = (g.rows_per_column(), g.positions(), g.og(), g.cg());
    if k == 0 {
        // No taps: every output is an empty sum (gemm wants a nonzero inner dimension).
        y.fill(0.0);
        for b in 0..g.n {
            act.planes(&mut y[b * g.o * p..][..g.o * p], p, 0);
        }
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
                unsafe { matmul::product((og, p, k), dst.as_mut_ptr(), p, a, bm, false, g.threads) };
                act.planes(dst, p, grp * og);
            }
        }
    });
}

/// `dx[N, C, H, W] = conv2d_input_grad(g, w)`: per image and group, `col = wᵀ @ g`, then col2im.
pub(super) fn conv_input(geo: &Geometry, gy: &[f32], w: &[f32], dx: &mut [f32]) {
    let (k, p, og, cg) = (geo.rows_per_column(), geo.positions(), geo.og(), geo.cg());
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
                unsafe { matmul::product((k, p, og), col.as_mut_ptr(), p, a, bm, false, geo.threads) };
                geo.col2im(col, &mut dx[(b * geo.c + grp * cg) * geo.h * geo.w..][..cg * geo.h * geo.w]);
            }
        }
    });
}

/// `dw[O, C/groups, KH, KW] = conv2d_weight_grad(x, g)`: `Σ_images g @ colᵀ`, in image order.
pub(super) fn conv_weight(geo: &Geometry, x: &[f32], gy: &[f32], dw: &mut [f32]) {
    let (k, p, og, cg) = (geo.rows_per_column(), geo.positions(), geo.og(), geo.cg());
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
                unsafe { matmul::product((og, k, p), dst.as_mut_ptr(), k, a, bm, b > 0, geo.threads) };
            }
        }
    });
}
