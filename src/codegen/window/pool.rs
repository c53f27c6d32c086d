//! Pooling: direct loops, a few compares or adds per output, cheaper than any copy. The common
//! 2×2 stride-2 unpadded max pool has its own straight-line loops; large inputs are split by
//! planes over two threads (each plane computed as at one thread).

use std::slice;

use super::simd::{simd_entry, Path, Simd};
use super::{out_slice, Geometry};
use crate::codegen::split::run;

/// Inputs at least this large are pooled on two threads when allowed: below it the hand-off
/// costs more than the half it saves.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 17;

/// Planes per unit of work the two threads claim.
const PLANES_PER_UNIT: usize = 16;

/// Runs `f(path, planes)` over all `n·c` planes in units, on two threads when the input is large.
fn by_planes(g: &Geometry, f: impl Fn(Path, std::ops::Range<usize>) + Sync) {
    let planes = g.n * g.c;
    let two = g.threads > 1 && planes * g.h * g.w >= PARALLEL_MIN_ELEMENTS;
    let units = planes.div_ceil(PLANES_PER_UNIT);
    run(two, units, [0; 3], &|path, unit, _| {
        f(path, unit * PLANES_PER_UNIT..((unit + 1) * PLANES_PER_UNIT).min(planes))
    });
}

/// Whether the pool is 2×2 with stride 2 and no padding (every window inside the input).
fn two_by_two(g: &Geometry) -> bool {
    (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw) == (2, 2, 2, 2, 0, 0)
}

/// The interpreter's (and PyTorch's) step of a max: move to `v` if greater or NaN.
#[inline(always)]
fn step((best, at): (f32, usize), (v, i): (f32, usize)) -> (f32, usize) {
    if v > best || v.is_nan() {
        (v, i)
    } else {
        (best, at)
    }
}

/// Calls `f(plane offset, y index, rows, columns)` for every pooling window of `planes`: the
/// window's rows and columns inside the input (not the padding), as ranges of input indices.
fn windows(
    g: &Geometry,
    planes: std::ops::Range<usize>,
    mut f: impl FnMut(usize, usize, (usize, usize), (usize, usize)),
) {
    let range = |o: usize, s: usize, p: usize, k: usize, len: usize| {
        let start = o * s;
        (start.saturating_sub(p), (start + k).saturating_sub(p).min(len))
    };
    for plane in planes {
        for oy in 0..g.oh {
            let rows = range(oy, g.sh, g.ph, g.kh, g.h);
            for ox in 0..g.ow {
                let cols = range(ox, g.sw, g.pw, g.kw, g.w);
                f(plane * g.h * g.w, (plane * g.oh + oy) * g.ow + ox, rows, cols);
            }
        }
    }
}

/// The index of the window's maximum, by `step` from -inf at the first element. A window holds
/// at least one element, since its padding is at most half of it.
fn first_max(x: &[f32], w: usize, base: usize, rows: (usize, usize), cols: (usize, usize)) -> usize {
    let mut best = (f32::NEG_INFINITY, base + rows.0 * w + cols.0);
    for iy in rows.0..rows.1 {
        let row = base + iy * w;
        for (j, &v) in x[row + cols.0..row + cols.1].iter().enumerate() {
            best = step(best, (v, row + cols.0 + j));
        }
    }
    best.1
}

/// One output row of a 2×2 max pool from input rows `x0` and `x1`; a NaN wins as in `step`.
/// Written as straight-line selects over pairs so the compiler vectorises it for each path.
#[inline(always)]
unsafe fn max_row<S: Simd>(x0: *const f32, x1: *const f32, y: *mut f32, ow: usize) {
    // SAFETY: the caller guarantees `2·ow` elements in each row and `ow` in `y`.
    let (x0, x1, y) = unsafe {
        (slice::from_raw_parts(x0, 2 * ow), slice::from_raw_parts(x1, 2 * ow), slice::from_raw_parts_mut(y, ow))
    };
    let pick = |m: f32, v: f32| if v > m || v.is_nan() { v } else { m };
    for ((o, a), b) in y.iter_mut().zip(x0.chunks_exact(2)).zip(x1.chunks_exact(2)) {
        *o = pick(pick(pick(a[0], a[1]), b[0]), b[1]);
    }
}

simd_entry! {
    /// `max_row` on `path`.
    fn max_row_on => max_row(x0: *const f32, x1: *const f32, y: *mut f32, ow: usize)
}

/// The gradient of one output row of a 2×2 max pool: each window's `gy` goes to its first
/// maximum in `x0`/`x1` (rows `dx0`/`dx1`), zeros to the rest; with `mask`, only where that
/// maximum is above 0 (`select(x > 0, dx, 0)`, the ReLU gradient epilogue).
#[inline(always)]
unsafe fn max_grad_row<S: Simd>(
    x0: *const f32,
    x1: *const f32,
    gy: *const f32,
    dx0: *mut f32,
    dx1: *mut f32,
    ow: usize,
    mask: bool,
) {
    // SAFETY: the caller guarantees `2·ow` elements in each row and `ow` in `gy`.
    let (x0, x1, gy, dx0, dx1) = unsafe {
        (
            slice::from_raw_parts(x0, 2 * ow),
            slice::from_raw_parts(x1, 2 * ow),
            slice::from_raw_parts(gy, ow),
            slice::from_raw_parts_mut(dx0, 2 * ow),
            slice::from_raw_parts_mut(dx1, 2 * ow),
        )
    };
    let pick = |(m, k): (f32, u32), (v, j): (f32, u32)| if v > m || v.is_nan() { (v, j) } else { (m, k) };
    let rows = dx0.chunks_exact_mut(2).zip(dx1.chunks_exact_mut(2)).zip(x0.chunks_exact(2).zip(x1.chunks_exact(2)));
    for (((d0, d1), (a, b)), &g) in rows.zip(gy) {
        let (m, k) = pick(pick(pick((a[0], 0), (a[1], 1)), (b[0], 2)), (b[1], 3));
        // Masked, a window whose maximum is not above 0 sends nothing (NaN is not).
        let g = if !mask || m > 0.0 { g } else { 0.0 };
        let to = |j: u32| if k == j { g } else { 0.0 };
        (d0[0], d0[1], d1[0], d1[1]) = (to(0), to(1), to(2), to(3));
    }
}

simd_entry! {
    /// `max_grad_row` on `path`.
    fn max_grad_row_on => max_grad_row(x0: *const f32, x1: *const f32, gy: *const f32, dx0: *mut f32, dx1: *mut f32, ow: usize, mask: bool)
}

/// `y = max_pool2d(x)`.
pub(super) fn max_pool(g: &Geometry, x: &[f32], y: &mut [f32]) {
    let y_at = y.as_mut_ptr() as usize;
    by_planes(g, |path, planes| {
        let per = g.oh * g.ow;
        // SAFETY: units write disjoint planes of `y`, which outlives `by_planes`.
        let y = unsafe { out_slice(y_at, planes.start * per, planes.len() * per) };
        let first = planes.start * per;
        if two_by_two(g) {
            for (plane, out) in planes.zip(y.chunks_exact_mut(per)) {
                for (oy, row) in out.chunks_exact_mut(g.ow).enumerate() {
                    let x0 = &x[(plane * g.h + 2 * oy) * g.w..][..g.w + 2 * g.ow];
                    // SAFETY: rows 2·oy and 2·oy + 1 hold 2·ow elements each (`x0` spans
                    // them); `path` is this thread's.
                    unsafe { max_row_on(path, x0.as_ptr(), x0[g.w..].as_ptr(), row.as_mut_ptr(), g.ow) };
                }
            }
        } else {
            windows(g, planes, |base, yi, r, c| y[yi - first] = x[first_max(x, g.w, base, r, c)]);
        }
    });
}

/// `dx = max_pool2d_grad(x, gy)`: each window's gradient goes to its first maximum.
pub(super) fn max_pool_grad(g: &Geometry, x: &[f32], gy: &[f32], dx: &mut [f32]) {
    let dx_at = dx.as_mut_ptr() as usize;
    by_planes(g, |path, planes| {
        let per = g.h * g.w;
        // SAFETY: units write disjoint planes of `dx`, which outlives `by_planes`.
        let dx = unsafe { out_slice(dx_at, planes.start * per, planes.len() * per) };
        let first = planes.start * per;
        if two_by_two(g) {
            for (plane, out) in planes.zip(dx.chunks_exact_mut(per)) {
                // An odd last row or column is in no window.
                out.fill(0.0);
                for oy in 0..g.oh {
                    let x0 = &x[(plane * g.h + 2 * oy) * g.w..][..g.w + 2 * g.ow];
                    let gy = &gy[(plane * g.oh + oy) * g.ow..][..g.ow];
                    let d0 = &mut out[2 * oy * g.w..][..g.w + 2 * g.ow];
                    let (d0, d1) = d0.split_at_mut(g.w);
                    // SAFETY: as in `max_pool`; `d0` and `d1` are the two output rows.
                    unsafe {
                        max_grad_row_on(
                            path,
                            x0.as_ptr(),
                            x0[g.w..].as_ptr(),
                            gy.as_ptr(),
                            d0.as_mut_ptr(),
                            d1.as_mut_ptr(),
                            g.ow,
                            g.relu != 0,
                        )
                    };
                }
            }
        } else {
            dx.fill(0.0);
            windows(g, planes.clone(), |base, yi, r, c| dx[first_max(x, g.w, base, r, c) - first] += gy[yi]);
            if g.relu != 0 {
                let x = &x[first..][..dx.len()];
                dx.iter_mut().zip(x).for_each(|(d, &v)| *d = if v > 0.0 { *d } else { 0.0 });
            }
        }
    });
}

/// `y = avg_pool2d(x)`: padding counts as zeros.
pub(super) fn avg_pool(g: &Geometry, x: &[f32], y: &mut [f32]) {
    let count = (g.kh * g.kw) as f32;
    windows(g, 0..g.n * g.c, |base, yi, r, c| {
        let rows = (r.0..r.1).map(|iy| x[base + iy * g.w + c.0..base + iy * g.w + c.1].iter().sum::<f32>());
        y[yi] = rows.sum::<f32>() / count;
    });
}

/// `dx = avg_pool2d_grad(gy)`.
pub(super) fn avg_pool_grad(g: &Geometry, gy: &[f32], dx: &mut [f32]) {
    let count = (g.kh * g.kw) as f32;
    dx.fill(0.0);
    windows(g, 0..g.n * g.c, |base, yi, r, c| {
        let share = gy[yi] / count;
        for iy in r.0..r.1 {
            dx[base + iy * g.w + c.0..base + iy * g.w + c.1].iter_mut().for_each(|d| *d += share);
        }
    });
}
