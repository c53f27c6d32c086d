//! Pooling: direct loops, a few compares or adds per output, cheaper than any copy. The common
//! 2×2 stride-2 unpadded max pool has its own straight-line loops; large inputs are split by
//! planes over two threads (each plane computed as at one thread).

use super::split::{run, share};
use super::{out_slice, Geometry};

/// Inputs at least this large are pooled on two threads when allowed: below it the hand-off
/// costs more than the half it saves.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 17;

/// Runs `f(planes)` over all `n·c` planes, in two parts when the input is large.
fn by_planes(g: &Geometry, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let planes = g.n * g.c;
    let two = g.threads > 1 && planes > 1 && planes * g.h * g.w >= PARALLEL_MIN_ELEMENTS;
    run(two, &|_, part, parts| f(share(planes, part, parts)));
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

/// For each 2×2 window of `planes`: `f(y index, index of the first maximum in x)`.
#[inline(always)]
fn two_by_two_max(g: &Geometry, x: &[f32], planes: std::ops::Range<usize>, mut f: impl FnMut(usize, usize)) {
    for plane in planes {
        let base = plane * g.h * g.w;
        for oy in 0..g.oh {
            let r0 = base + 2 * oy * g.w;
            let r1 = r0 + g.w;
            let (x0, x1) = (&x[r0..r0 + 2 * g.ow], &x[r1..r1 + 2 * g.ow]);
            for ox in 0..g.ow {
                // Starting at the first element is `first_max`'s start at -inf, one step on.
                let mut best = (x0[2 * ox], r0 + 2 * ox);
                best = step(best, (x0[2 * ox + 1], r0 + 2 * ox + 1));
                best = step(best, (x1[2 * ox], r1 + 2 * ox));
                best = step(best, (x1[2 * ox + 1], r1 + 2 * ox + 1));
                f((plane * g.oh + oy) * g.ow + ox, best.1);
            }
        }
    }
}

/// `y = max_pool2d(x)`.
pub(super) fn max_pool(g: &Geometry, x: &[f32], y: &mut [f32]) {
    let y_at = y.as_mut_ptr() as usize;
    by_planes(g, |planes| {
        let per = g.oh * g.ow;
        // SAFETY: parts write disjoint planes of `y`, which outlives `by_planes`.
        let y = unsafe { out_slice(y_at, planes.start * per, planes.len() * per) };
        let first = planes.start * per;
        if two_by_two(g) {
            two_by_two_max(g, x, planes, |yi, at| y[yi - first] = x[at]);
        } else {
            windows(g, planes, |base, yi, r, c| y[yi - first] = x[first_max(x, g.w, base, r, c)]);
        }
    });
}

/// `dx = max_pool2d_grad(x, gy)`: each window's gradient goes to its first maximum.
pub(super) fn max_pool_grad(g: &Geometry, x: &[f32], gy: &[f32], dx: &mut [f32]) {
    let dx_at = dx.as_mut_ptr() as usize;
    by_planes(g, |planes| {
        let per = g.h * g.w;
        // SAFETY: parts write disjoint planes of `dx`, which outlives `by_planes`.
        let dx = unsafe { out_slice(dx_at, planes.start * per, planes.len() * per) };
        let first = planes.start * per;
        dx.fill(0.0);
        if two_by_two(g) {
            // Windows do not overlap: each input receives at most one gradient.
            two_by_two_max(g, x, planes, |yi, at| dx[at - first] = gy[yi]);
        } else {
            windows(g, planes, |base, yi, r, c| dx[first_max(x, g.w, base, r, c) - first] += gy[yi]);
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
