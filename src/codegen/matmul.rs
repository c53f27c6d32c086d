//! Products through the `gemm` crate, for `@` (`helpers::gradc_matmul`) and the im2col
//! convolutions (`window::im2col`), split over two threads by halves of the output.
//!
//! Decisions:
//! - gemm's own two-thread split (rayon) gained only 1.0–1.3× inside a training step on the
//!   Intel machine kind (probably because its workers sleep between the step's products while
//!   the caller's thread waits idle beside them). Two halves of the output, one computed on the calling
//!   thread and one on the parked worker the window helpers use (`split`), made mlp-wide's
//!   two-thread step 12% faster than gemm's split did (`farm-bench`, A/B wall 0.88).
//! - Each half is one single-threaded gemm call, so an element's bits depend on how gemm
//!   computes a product of that half's shape. For a general product (`general`) gemm sums
//!   each element's k terms in depth blocks whose size depends on k alone, each block in order
//!   with fused multiply-adds, so a half computes the same bits as the whole product does.
//!   Shapes gemm treats specially (k ≤ 2, a single row or column, outputs of at most 256
//!   elements or at most 64 × 64) are never split. `tests::halves_match_the_whole` holds this
//!   to the gemm version the lock file pins, bit for bit, on shapes at those edges.
//! - A large product whose right operand is read down its columns (a weight's transpose, as
//!   in `dh = dz @ Wᵀ`) multiplies a row-major copy of it instead. On the AMD kind gemm ran
//!   mlp-wide's `dh2 @ W2ᵀ` (256×1024×1024) at 70 GFLOP/s strided, and the same shape
//!   row-major at 111: the copy (tiles of 8 × 8) takes 0.9 ms, and saves 2.9 ms of the
//!   product; each half of a split product copies what it reads, on its own thread.
//!   mlp-wide trains about 6% faster so at one thread and 5% at two. On the Intel kind the
//!   strided product ran as fast as the row-major one (65% and 61% of the peak), so there
//!   the copy may cost its 0.9 ms (not measured). The layout does not change a general
//!   product's bits (`tests`).

use std::cell::RefCell;

use super::split;
use super::window::Path;

/// Products with at least this many multiply-adds (m·n·k) are split in two when two threads
/// are allowed: below it the hand-off costs more than the second thread saves. mlp-small's
/// dW1 (784×128×64, 6.4M) is split, as mlp-wide's products (205M to 268M) are; its forward
/// product (64×128×784) is not, as halves of 64 × 64 would take gemm's small-product path.
pub(crate) const PARALLEL_MIN_FLOPS: usize = 1 << 22;

/// Products with at least this many multiply-adds whose right operand has unit row stride
/// and is not a single column take a row-major copy of it first.
const COPY_MIN_FLOPS: usize = 1 << 24;

thread_local! {
    /// The row-major copy of a right operand: grown once, reused across products and steps.
    static ROW_MAJOR: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A strided matrix operand: element (i, j) is `ptr[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub(crate) ptr: *const f32,
    pub(crate) rs: isize,
    pub(crate) cs: isize,
}

/// Whether gemm computes an `m × n` product of depth `k` by its blocked kernels, whose
/// per-element order depends on `k` alone (see the module's decisions).
fn general(m: usize, n: usize, k: usize) -> bool {
    k > 2 && m > 1 && n > 1 && m * n > 256 && (m > 64 || n > 64)
}

/// The rows or columns at which a product is halved for two threads, if it is: its longer
/// output side, at a multiple of 16 (whole vectors), when both halves are general.
fn halves(m: usize, n: usize, k: usize) -> Option<Half> {
    if m.saturating_mul(n).saturating_mul(k) < PARALLEL_MIN_FLOPS || !general(m, n, k) {
        return None;
    }
    let half = |len: usize| (len / 2).next_multiple_of(16);
    if n >= m {
        let h = half(n);
        (h < n && general(m, h, k) && general(m, n - h, k)).then_some(Half::Columns(h))
    } else {
        let h = half(m);
        (h < m && general(h, n, k) && general(m - h, n, k)).then_some(Half::Rows(h))
    }
}

/// Where a product is halved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    /// Output rows `0..h` and `h..m`.
    Rows(usize),
    /// Output columns `0..h` and `h..n`.
    Columns(usize),
}

impl Half {
    /// Half `unit` (0 or 1) of the product `dst[m, n] = a @ b`: its sizes, and `dst`, `a` and
    /// `b` moved to its first element.
    fn part(self, unit: usize, (m, n, k): (usize, usize, usize), dst: *mut f32, dst_rs: usize, a: Mat, b: Mat) -> Part {
        match (self, unit) {
            (Half::Rows(h), 0) => ((h, n, k), dst, a, b),
            (Half::Rows(h), _) => {
                let a = Mat { ptr: a.ptr.wrapping_offset(h as isize * a.rs), ..a };
                ((m - h, n, k), dst.wrapping_add(h * dst_rs), a, b)
            }
            (Half::Columns(h), 0) => ((m, h, k), dst, a, b),
            (Half::Columns(h), _) => {
                let b = Mat { ptr: b.ptr.wrapping_offset(h as isize * b.cs), ..b };
                ((m, n - h, k), dst.wrapping_add(h), a, b)
            }
        }
    }
}

/// A part of a product: its sizes (m, n, k), `dst`, `a` and `b`.
type Part = ((usize, usize, usize), *mut f32, Mat, Mat);

/// `dst[m, n] (+)= a @ b`, `dst` row-major with row stride `dst_rs`; adds to `dst` when
/// `accumulate`. Large products use two threads when `threads > 1`.
///
/// # Safety
/// Every element the strides reach must be inside its buffer, and `dst` must not overlap `a`
/// or `b`.
pub(crate) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    threads: usize,
) {
    let copy = copies(m, n, k, b);
    let Some(half) = halves(m, n, k).filter(|_| threads > 1) else {
        // SAFETY: guaranteed by the caller.
        return unsafe { one((m, n, k), dst, dst_rs, a, b, accumulate, copy) };
    };
    // Raw pointers are not `Sync`; the halves write disjoint parts of `dst` and only read
    // `a` and `b`.
    let (dst_at, a_at, b_at) = (dst as usize, a.ptr as usize, b.ptr as usize);
    let part = |_: Path, unit: usize, _: [&mut [f32]; 3]| {
        let (dst, a, b) =
            (dst_at as *mut f32, Mat { ptr: a_at as *const f32, ..a }, Mat { ptr: b_at as *const f32, ..b });
        let (sizes, dst, a, b) = half.part(unit, (m, n, k), dst, dst_rs, a, b);
        // SAFETY: guaranteed by the caller; each half reaches a sub-block of what the whole
        // product reaches.
        unsafe { one(sizes, dst, dst_rs, a, b, accumulate, copy) }
    };
    split::run(true, 2, [0; 3], &part);
}

/// Whether the product multiplies a row-major copy of `b`: large, general, and `b` read down
/// its columns. Decided for the whole product, so its halves do as it does.
fn copies(m: usize, n: usize, k: usize, b: Mat) -> bool {
    b.rs == 1 && b.cs != 1 && m.saturating_mul(n).saturating_mul(k) >= COPY_MIN_FLOPS && general(m, n, k)
}

/// Copies the `rows × cols` operand `b` into `copy`, row-major, in tiles of 8 × 8: each row
/// of a tile is written contiguously from eight reads down a column.
///
/// # Safety
/// Every element of `b` must be inside its buffer.
unsafe fn copy_row_major(copy: &mut Vec<f32>, (rows, cols): (usize, usize), b: Mat) {
    if copy.len() < rows * cols {
        copy.resize(rows * cols, 0.0);
    }
    for j0 in (0..cols).step_by(8) {
        let j1 = (j0 + 8).min(cols);
        for i0 in (0..rows).step_by(8) {
            for i in i0..(i0 + 8).min(rows) {
                for (j, x) in (j0..j1).zip(&mut copy[i * cols + j0..i * cols + j1]) {
                    // SAFETY: (i, j) is an element of `b`, which the caller guarantees.
                    *x = unsafe { *b.ptr.offset(i as isize * b.rs + j as isize * b.cs) };
                }
            }
        }
    }
}

/// One single-threaded product `dst[m, n] (+)= a @ b`: a gemm call, on a row-major copy of
/// `b` when `copy` (each half of a split product copies what it reads, on its own thread).
///
/// # Safety
/// As [`product`].
unsafe fn one(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    copy: bool,
) {
    if copy {
        return ROW_MAJOR.with_borrow_mut(|copy| {
            // SAFETY: guaranteed by the caller; the copy holds the k × n elements `b` reaches.
            unsafe {
                copy_row_major(copy, (k, n), b);
                gemm_call((m, n, k), dst, dst_rs, a, Mat { ptr: copy.as_ptr(), rs: n as isize, cs: 1 }, accumulate)
            }
        });
    }
    // SAFETY: guaranteed by the caller.
    unsafe { gemm_call((m, n, k), dst, dst_rs, a, b, accumulate) }
}

/// One gemm call: `dst[m, n] (+)= a @ b` on one thread, operands as they are laid out.
///
/// # Safety
/// As [`product`].
unsafe fn gemm_call((m, n, k): (usize, usize, usize), dst: *mut f32, dst_rs: usize, a: Mat, b: Mat, accumulate: bool) {
    // SAFETY: guaranteed by the caller. With `read_dst`, gemm computes dst = 1·dst + 1·(a @ b);
    // without, dst = 1·(a @ b). gemm names strides (column, row).
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
            gemm::Parallelism::None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Operands of `m·k` and `k·n` values in [-0.5, 0.5), made from `seed` and the shape.
    fn operands(m: usize, n: usize, k: usize, seed: u32) -> (Vec<f32>, Vec<f32>) {
        let mut state = seed ^ (m * 31 + n * 7 + k) as u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
        (a, (0..k * n).map(|_| next()).collect())
    }

    /// A product of `m × n`, depth `k`, over operands made from the shape, transposed as asked,
    /// computed whole on one thread or in the halves two threads take (on this thread).
    fn bits(m: usize, n: usize, k: usize, ta: bool, tb: bool, split: bool) -> Vec<u32> {
        let (a, b) = operands(m, n, k, 0x9e37_79b9);
        let a = if ta {
            Mat { ptr: a.as_ptr(), rs: 1, cs: m as isize }
        } else {
            Mat { ptr: a.as_ptr(), rs: k as isize, cs: 1 }
        };
        let b = if tb {
            Mat { ptr: b.as_ptr(), rs: 1, cs: k as isize }
        } else {
            Mat { ptr: b.as_ptr(), rs: n as isize, cs: 1 }
        };
        let mut c = vec![f32::NAN; m * n];
        // SAFETY (both calls): the operands hold m·k and k·n elements, c holds m·n.
        match halves(m, n, k).filter(|_| split) {
            Some(h) => (0..2).for_each(|unit| {
                let (sizes, dst, a, b) = h.part(unit, (m, n, k), c.as_mut_ptr(), n, a, b);
                unsafe { one(sizes, dst, n, a, b, false, false) }
            }),
            None => unsafe { one((m, n, k), c.as_mut_ptr(), n, a, b, false, false) },
        }
        c.iter().map(|v| v.to_bits()).collect()
    }

    /// The premise of the two-thread split: a general product's halves have the bits of the
    /// whole, for shapes at gemm's edges (outputs just over 64 wide, depths around its block
    /// sizes, sides that leave partial tiles) and both layouts of each operand.
    #[test]
    fn halves_match_the_whole() {
        let mut checked = 0;
        for (m, n) in [(65, 1030), (1030, 65), (66, 300), (300, 130), (97, 97), (256, 1024), (2, 8200), (8200, 2)] {
            for k in [3, 255, 256, 257, 511, 512, 513, 784, 1100, 2049] {
                if m * n * k < PARALLEL_MIN_FLOPS {
                    continue;
                }
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let split = halves(m, n, k).is_some();
                    assert!(split || m.min(n) < 64, "{m}x{n}x{k} is not split");
                    assert!(bits(m, n, k, ta, tb, true) == bits(m, n, k, ta, tb, false), "{m}x{n}x{k} ta={ta} tb={tb}");
                    checked += usize::from(split);
                }
            }
        }
        assert!(checked > 100, "only {checked} split products checked");
    }

    /// The premise of the row-major copy: a product whose right operand is read down its
    /// columns has the bits of the same product of a row-major copy, for shapes at gemm's
    /// edges, whole and in halves.
    #[test]
    fn a_copied_right_operand_gives_the_same_bits() {
        for (m, n, k) in [(256, 1024, 1024), (65, 1030, 300), (1030, 65, 513), (300, 130, 2049), (97, 97, 2000)] {
            assert!(m * n * k >= COPY_MIN_FLOPS && general(m, n, k));
            let (a, w) = operands(m, n, k, 0x2545_f491);
            let a = Mat { ptr: a.as_ptr(), rs: k as isize, cs: 1 };
            // b = wᵀ, read down its columns.
            let b = Mat { ptr: w.as_ptr(), rs: 1, cs: k as isize };
            for threads in [1, 2] {
                let (mut strided, mut copied) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
                // SAFETY: the operands hold m·k and k·n elements, the outputs m·n.
                unsafe {
                    gemm_call((m, n, k), strided.as_mut_ptr(), n, a, b, false);
                    product((m, n, k), copied.as_mut_ptr(), n, a, b, false, threads);
                }
                let differ = strided.iter().zip(&copied).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
                assert_eq!(differ, 0, "{m}x{n}x{k} at {threads} threads");
            }
        }
    }

    #[test]
    fn the_whole_product_decides_the_copy() {
        let columns = |k: usize| Mat { ptr: std::ptr::null(), rs: 1, cs: k as isize };
        // 24M multiply-adds: its halves (12M each) would be below the threshold alone.
        assert!(copies(200, 300, 400, columns(400)));
        assert_eq!(halves(200, 300, 400), Some(Half::Columns(160)));
        assert!(!copies(200, 300, 400, Mat { ptr: std::ptr::null(), rs: 300, cs: 1 }), "row-major already");
        assert!(!copies(64, 128, 784, columns(784)), "6.4M multiply-adds");
    }

    #[test]
    fn only_large_general_products_are_halved() {
        assert_eq!(halves(64, 128, 784), None, "mlp-small's first layer: halves of 64 × 64 are small products");
        assert_eq!(halves(784, 128, 64), Some(Half::Rows(400)), "mlp-small's dW1");
        assert_eq!(halves(64, 64, 784), None, "3.2M multiply-adds");
        assert_eq!(halves(256, 1024, 1024), Some(Half::Columns(512)));
        assert_eq!(halves(1024, 300, 256), Some(Half::Rows(512)));
        assert_eq!(halves(4096, 4096, 2), None, "depth 2 is gemm's outer-product path");
        assert_eq!(halves(1 << 20, 1, 64), None, "a matrix-vector product");
        assert_eq!(halves(100, 100, 2000), Some(Half::Columns(64)));
        assert_eq!(halves(60, 100, 4000), None, "a half of 60 × 48 would take gemm's small-product path");
    }
}
