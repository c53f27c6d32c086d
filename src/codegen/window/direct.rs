//! Direct stride-1 convolutions (forward, input gradient, weight gradient) for small channel
//! counts, where im2col's copy costs as much as the product (`super` decides which applies).
//!
//! Each image's input planes are copied into zero-padded planes whose rows are as long as the
//! output rows plus the kernel's reach, so the input of tap (ky, kx) for output position q
//! (row-major over the padded row length) is at q + ky·dh·wp + kx·dw: every tap is one
//! contiguous vector load, whatever the padding. Positions past an output row's end are
//! computed and dropped. The input gradient is the same correlation of the padded output
//! gradient with the flipped, transposed kernel.
//!
//! Known difference from the interpreter: the weight gradient also multiplies the zero
//! gradient of the dropped positions by the inputs there, so an infinite input can turn a sum
//! the interpreter keeps finite into NaN (im2col multiplies padding taps alike).
//!
//! Sums run in the same order whatever the thread count: the forward and input-gradient
//! kernels split by images, the weight gradient by output channels, each summing over all
//! images in image order.

use super::simd::{simd_entry, Path, Simd};
use super::{out_slice, Activation, Geometry};
use crate::codegen::split::{run, share};

/// Lanes of the widest path: buffers are sized for it, so every path fits.
const MAX_LANES: usize = 16;

/// The padded layout of one image's planes for a correlation producing `oh × ow` outputs.
#[derive(Debug, Clone, Copy)]
struct Plan {
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    dh: usize,
    dw: usize,
    /// Row length of padded input and output planes.
    wp: usize,
    /// Rows of a padded input plane.
    hp: usize,
    /// Output positions computed per plane: `oh · wp`, rounded up to two widest vectors.
    len: usize,
    /// Length of a padded input plane: every tap of every computed position lands inside.
    plane: usize,
}

impl Plan {
    fn new(oh: usize, ow: usize, g: &Geometry) -> Plan {
        let (wp, hp) = (ow + (g.kw - 1) * g.dw, oh + (g.kh - 1) * g.dh);
        let len = (oh * wp).next_multiple_of(2 * MAX_LANES);
        let plane = len + (g.kh - 1) * g.dh * wp + (g.kw - 1) * g.dw;
        Plan { oh, ow, kh: g.kh, kw: g.kw, dh: g.dh, dw: g.dw, wp, hp, len, plane }
    }

    fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// The offset of tap `t` (row-major over the kernel) from its output position.
    fn offset(&self, t: usize) -> usize {
        (t / self.kw) * self.dh * self.wp + (t % self.kw) * self.dw
    }
}

/// Copies planes `[n, h, w]` from `src` into `dst` (planes `plane` apart, rows `wp` long, `rows`
/// rows), element (iy, ix) to (iy + top, ix + left) where that is inside; zeros elsewhere.
fn place(
    src: &[f32],
    (h, w): (usize, usize),
    (top, left): (isize, isize),
    (rows, wp, plane): (usize, usize, usize),
    dst: &mut [f32],
) {
    dst.fill(0.0);
    // Input rows and columns that land inside the padded plane.
    let inside = |off: isize, len: usize, room: usize| {
        let lo = (-off).max(0) as usize;
        let hi = ((room as isize - off).max(0) as usize).min(len);
        (lo.min(hi), hi)
    };
    let (ylo, yhi) = inside(top, h, rows);
    let (xlo, xhi) = inside(left, w, wp);
    for (s, d) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(plane)) {
        for iy in ylo..yhi {
            let at = (iy as isize + top) as usize * wp;
            let d0 = (xlo as isize + left) as usize;
            copy_row(&mut d[at + d0..at + d0 + (xhi - xlo)], &s[iy * w + xlo..iy * w + xhi]);
        }
    }
}

/// `dst.copy_from_slice(src)` for the short rows of images (a few dozen elements), as
/// fixed-size copies of 8 the compiler inlines, the last one overlapping: a call to `memmove`
/// per row cost a tenth of cnn-small's step.
fn copy_row(dst: &mut [f32], src: &[f32]) {
    map_row(dst, src, |v| v);
}

/// `dst[i] = f(src[i])` in the way of `copy_row`; the overlapping last chunk is computed from
/// `src` again, so it writes what it wrote before.
#[inline(always)]
fn map_row(dst: &mut [f32], src: &[f32], f: impl Fn(f32) -> f32) {
    let n = src.len();
    if n < 8 {
        return dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s));
    }
    let mut map8 = |at: usize| {
        if let (Some(d), Some(s)) = (dst[at..].first_chunk_mut::<8>(), src[at..].first_chunk::<8>()) {
            *d = s.map(&f);
        }
    };
    for at in (0..n - 8).step_by(8) {
        map8(at);
    }
    map8(n - 8);
}

/// Copies the `oh × ow` outputs of each computed plane (`len` apart, rows `wp` long) to `dst`.
fn unplace(src: &[f32], p: &Plan, dst: &mut [f32]) {
    for (s, d) in src.chunks_exact(p.len).zip(dst.chunks_exact_mut(p.oh * p.ow)) {
        for (oy, row) in d.chunks_exact_mut(p.ow).enumerate() {
            copy_row(row, &s[oy * p.wp..oy * p.wp + p.ow]);
        }
    }
}

/// `unplace` applying `act` on the way, the planes being output channels `first..`: the
/// activated result is written once.
fn unplace_activated(src: &[f32], p: &Plan, act: Activation, first: usize, dst: &mut [f32]) {
    if act.is_identity() {
        return unplace(src, p, dst);
    }
    for (o, (s, d)) in src.chunks_exact(p.len).zip(dst.chunks_exact_mut(p.oh * p.ow)).enumerate() {
        let b = act.bias(first + o);
        for (oy, row) in d.chunks_exact_mut(p.ow).enumerate() {
            map_row(row, &s[oy * p.wp..oy * p.wp + p.ow], |v| act.apply(v, b));
        }
    }
}

/// `out[o][q] = Σ_c Σ_t w[o][c][t] · x[c][q + offset(t)]` for `no` outputs from `nc` padded
/// planes; `w` is `[no, nc, taps]`, `out` `[no, len]`.
///
/// # Safety
/// `x` must hold `nc · plane`, `w` `no · nc · taps` and `out` `no · len` elements.
#[inline(always)]
unsafe fn correlate<S: Simd>(x: *const f32, nc: usize, w: *const f32, no: usize, out: *mut f32, p: Plan) {
    let per_o = nc * p.taps();
    let mut o = 0;
    // SAFETY (both loops): blocks stay inside `w` and `out`, as the caller guarantees.
    while o + 4 <= no {
        unsafe { correlate_block::<S, 4>(x, nc, w.add(o * per_o), out.add(o * p.len), p) };
        o += 4;
    }
    while o < no {
        unsafe { correlate_block::<S, 1>(x, nc, w.add(o * per_o), out.add(o * p.len), p) };
        o += 1;
    }
}

/// `correlate` for `OB` consecutive outputs, two vectors of positions at a time.
#[inline(always)]
unsafe fn correlate_block<S: Simd, const OB: usize>(x: *const f32, nc: usize, w: *const f32, out: *mut f32, p: Plan) {
    let (l, taps) = (S::LANES, p.taps());
    let per_o = nc * taps;
    let mut q = 0;
    // SAFETY: `len` is a multiple of 2·MAX_LANES ≥ 2·l, so every vector of positions is below
    // `len`, and position + offset(t) < plane; weights index below OB · per_o.
    unsafe {
        while q < p.len {
            let mut acc = [[S::zero(); 2]; OB];
            for c in 0..nc {
                let xc = x.add(c * p.plane + q);
                let wc = w.add(c * taps);
                for ky in 0..p.kh {
                    for kx in 0..p.kw {
                        let at = xc.add(ky * p.dh * p.wp + kx * p.dw);
                        let (x0, x1) = (S::load(at), S::load(at.add(l)));
                        let t = ky * p.kw + kx;
                        for (i, a) in acc.iter_mut().enumerate() {
                            let wv = S::splat(*wc.add(i * per_o + t));
                            a[0] = S::fma(wv, x0, a[0]);
                            a[1] = S::fma(wv, x1, a[1]);
                        }
                    }
                }
            }
            for (i, a) in acc.iter().enumerate() {
                S::store(out.add(i * p.len + q), a[0]);
                S::store(out.add(i * p.len + q + l), a[1]);
            }
            q += 2 * l;
        }
    }
}

simd_entry! {
    /// `correlate` on `path`.
    fn correlate_on => correlate(x: *const f32, nc: usize, w: *const f32, no: usize, out: *mut f32, p: Plan)
}

/// Adds `Σ_q g[o][q] · x[c][q + offset(t)]` to the vector accumulator of every (o, c, t):
/// `acc` is `[no, nc, taps, MAX_LANES]`, of which each path uses its lanes.
///
/// # Safety
/// `g` must hold `no · len`, `x` `nc · plane` and `acc` `no · nc · taps · MAX_LANES` elements.
#[inline(always)]
unsafe fn weight_sums<S: Simd>(g: *const f32, no: usize, x: *const f32, nc: usize, acc: *mut f32, p: Plan) {
    let taps = p.taps();
    let mut o = 0;
    // SAFETY: every block stays inside the buffers, as the caller guarantees.
    unsafe {
        while o < no {
            let ob = if o + 4 <= no { 4 } else { 1 };
            for c in 0..nc {
                let mut t = 0;
                while t < taps {
                    let at = acc.add(((o * nc + c) * taps + t) * MAX_LANES);
                    let (g, x) = (g.add(o * p.len), x.add(c * p.plane));
                    let offs = [p.offset(t), p.offset((t + 1).min(taps - 1))];
                    match (ob, t + 2 <= taps) {
                        (4, true) => weight_block::<S, 4, 2>(g, x, offs, at, nc * taps, p.len),
                        (4, false) => weight_block::<S, 4, 1>(g, x, offs, at, nc * taps, p.len),
                        (_, true) => weight_block::<S, 1, 2>(g, x, offs, at, nc * taps, p.len),
                        (_, false) => weight_block::<S, 1, 1>(g, x, offs, at, nc * taps, p.len),
                    }
                    t += if t + 2 <= taps { 2 } else { 1 };
                }
            }
            o += ob;
        }
    }
}

/// `weight_sums` for `OB` outputs (`per_o` accumulators apart) and `TB` taps at `offs`.
#[inline(always)]
unsafe fn weight_block<S: Simd, const OB: usize, const TB: usize>(
    g: *const f32,
    x: *const f32,
    offs: [usize; 2],
    acc: *mut f32,
    per_o: usize,
    len: usize,
) {
    // SAFETY: positions stay below `len` (a multiple of the lanes) and position + offset below
    // the plane; accumulators are inside `acc`, as `weight_sums` guarantees.
    unsafe {
        let mut a = [[S::zero(); TB]; OB];
        for (i, ai) in a.iter_mut().enumerate() {
            for (j, aij) in ai.iter_mut().enumerate() {
                *aij = S::load(acc.add((i * per_o + j) * MAX_LANES));
            }
        }
        let mut q = 0;
        while q < len {
            let xs: [S::V; TB] = std::array::from_fn(|j| S::load(x.add(offs[j] + q)));
            for (i, ai) in a.iter_mut().enumerate() {
                let gv = S::load(g.add(i * len + q));
                for (aij, &xv) in ai.iter_mut().zip(&xs) {
                    *aij = S::fma(gv, xv, *aij);
                }
            }
            q += S::LANES;
        }
        for (i, ai) in a.iter().enumerate() {
            for (j, &aij) in ai.iter().enumerate() {
                S::store(acc.add((i * per_o + j) * MAX_LANES), aij);
            }
        }
    }
}

simd_entry! {
    /// `weight_sums` on `path`.
    fn weight_sums_on => weight_sums(g: *const f32, no: usize, x: *const f32, nc: usize, acc: *mut f32, p: Plan)
}

fn lanes(path: Path) -> usize {
    match path {
        Path::Avx512 => 16,
        Path::Avx2 | Path::Portable => 8,
    }
}

/// Whether the direct kernels handle `g` (else im2col + GEMM does): stride 1 and at most 16
/// channels per group on either side, where the copy im2col makes costs as much as the product.
pub(super) fn applies(g: &Geometry) -> bool {
    g.sh == 1 && g.sw == 1 && g.cg() <= 16 && g.og() <= 16 && g.kh > 0 && g.kw > 0
}

/// Images per unit of work the two threads claim.
const IMAGES_PER_UNIT: usize = 4;

/// The images of unit `unit`.
fn images(g: &Geometry, unit: usize) -> std::ops::Range<usize> {
    unit * IMAGES_PER_UNIT..((unit + 1) * IMAGES_PER_UNIT).min(g.n)
}

/// Whether a job of `macs` multiply-adds over `units` independent parts is split in two.
fn two(g: &Geometry, macs: usize, units: usize) -> bool {
    g.threads > 1 && units > 1 && macs >= super::PARALLEL_MIN_FLOPS
}

/// `y[N, O, OH, OW] = act(conv2d(x, w))`.
pub(super) fn conv(g: &Geometry, x: &[f32], w: &[f32], act: Activation, y: &mut [f32]) {
    let (cg, og) = (g.cg(), g.og());
    let p = Plan::new(g.oh, g.ow, g);
    let y_at = y.as_mut_ptr() as usize;
    let macs = g.n * g.o * g.oh * g.ow * cg * g.taps();
    let units = g.n.div_ceil(IMAGES_PER_UNIT);
    run(two(g, macs, units), units, [cg * p.plane, og * p.len, 0], &|path, unit, [xp, yp, _]| {
        for b in images(g, unit) {
            for grp in 0..g.groups {
                let src = &x[(b * g.c + grp * cg) * g.h * g.w..][..cg * g.h * g.w];
                place(src, (g.h, g.w), (g.ph as isize, g.pw as isize), (p.hp, p.wp, p.plane), xp);
                let per = og * cg * g.taps();
                let wg = &w[grp * per..][..per];
                // SAFETY: the buffers hold what `correlate` reads and writes; `path` is
                // this thread's (supported) path.
                unsafe { correlate_on(path, xp.as_ptr(), cg, wg.as_ptr(), og, yp.as_mut_ptr(), p) };
                // SAFETY: units write disjoint images of `y`, which outlives `run`.
                let out = unsafe { out_slice(y_at, (b * g.o + grp * og) * g.oh * g.ow, og * g.oh * g.ow) };
                unplace_activated(yp, &p, act, grp * og, out);
            }
        }
    });
}

/// `dx[N, C, H, W] = conv2d_input_grad(gy, w)`: the correlation of the padded `gy` with the
/// kernel flipped in both axes and transposed to `[C/groups, O/groups, KH, KW]`.
pub(super) fn conv_input(g: &Geometry, gy: &[f32], w: &[f32], dx: &mut [f32]) {
    let (cg, og, taps) = (g.cg(), g.og(), g.taps());
    let p = Plan::new(g.h, g.w, g);
    let offset = ((((g.kh - 1) * g.dh) as isize) - g.ph as isize, (((g.kw - 1) * g.dw) as isize) - g.pw as isize);
    let dx_at = dx.as_mut_ptr() as usize;
    let macs = g.n * g.o * g.oh * g.ow * cg * taps;
    let units = g.n.div_ceil(IMAGES_PER_UNIT);
    run(two(g, macs, units), units, [og * p.plane, cg * p.len, cg * og * taps], &|path, unit, [gp, dxp, wt]| {
        for grp in 0..g.groups {
            let wg = &w[grp * og * cg * taps..][..og * cg * taps];
            for c in 0..cg {
                for o in 0..og {
                    for t in 0..taps {
                        wt[(c * og + o) * taps + t] = wg[(o * cg + c) * taps + taps - 1 - t];
                    }
                }
            }
            for b in images(g, unit) {
                let src = &gy[(b * g.o + grp * og) * g.oh * g.ow..][..og * g.oh * g.ow];
                place(src, (g.oh, g.ow), offset, (p.hp, p.wp, p.plane), gp);
                // SAFETY: as in `conv`.
                unsafe { correlate_on(path, gp.as_ptr(), og, wt.as_ptr(), cg, dxp.as_mut_ptr(), p) };
                // SAFETY: units write disjoint images of `dx`, which outlives `run`.
                let out = unsafe { out_slice(dx_at, (b * g.c + grp * cg) * g.h * g.w, cg * g.h * g.w) };
                unplace(dxp, &p, out);
            }
        }
    });
}

/// `dw[O, C/groups, KH, KW] = conv2d_weight_grad(x, gy)`: per output channel, vector sums over
/// every image's positions in image order, reduced across lanes at the end.
pub(super) fn conv_weight(g: &Geometry, x: &[f32], gy: &[f32], dw: &mut [f32]) {
    let (cg, og, taps) = (g.cg(), g.og(), g.taps());
    let p = Plan::new(g.oh, g.ow, g);
    let dw_at = dw.as_mut_ptr() as usize;
    let macs = g.n * g.o * g.oh * g.ow * cg * taps;
    // Halves of the output channels at two threads, all at one: each channel's sums are the same.
    let parts = if two(g, macs, g.o) { 2 } else { 1 };
    let lens = [cg * p.plane, og * p.len, og * cg * taps * MAX_LANES];
    run(parts > 1, parts, lens, &|path, part, [xp, gp, acc]| {
        let mine = share(g.o, part, parts);
        for grp in 0..g.groups {
            // This part's output channels within the group.
            let lo = mine.start.clamp(grp * og, (grp + 1) * og);
            let hi = mine.end.clamp(grp * og, (grp + 1) * og);
            if lo == hi {
                continue;
            }
            let (no, acc) = (hi - lo, &mut acc[..(hi - lo) * cg * taps * MAX_LANES]);
            acc.fill(0.0);
            for b in 0..g.n {
                let src = &x[(b * g.c + grp * cg) * g.h * g.w..][..cg * g.h * g.w];
                place(src, (g.h, g.w), (g.ph as isize, g.pw as isize), (p.hp, p.wp, p.plane), xp);
                let src = &gy[(b * g.o + lo) * g.oh * g.ow..][..no * g.oh * g.ow];
                place(src, (g.oh, g.ow), (0, 0), (g.oh, p.wp, p.len), &mut gp[..no * p.len]);
                // SAFETY: the buffers hold what `weight_sums` reads and writes.
                unsafe { weight_sums_on(path, gp.as_ptr(), no, xp.as_ptr(), cg, acc.as_mut_ptr(), p) };
            }
            // SAFETY: parts write disjoint output channels of `dw`, which outlives `run`.
            let out = unsafe { out_slice(dw_at, lo * cg * taps, no * cg * taps) };
            for (d, lanes_of) in out.iter_mut().zip(acc.chunks_exact(MAX_LANES)) {
                *d = lanes_of[..lanes(path)].iter().map(|&v| f64::from(v)).sum::<f64>() as f32;
            }
        }
    });
}
