//! How close the matrix products come to this CPU's arithmetic peak: `cargo bench --bench gemm_peak`.
//!
//! Measures one core's peak single-precision FMA rate (independent 512-bit FMAs where the CPU
//! has AVX-512, else 256-bit), then the products of a training step of mlp-small and mlp-wide
//! (forward, weight gradient and input gradient, with the transposes the backward pass reads)
//! through the pinned `gemm` crate exactly as `codegen::matmul` calls it, single-threaded, and
//! prints each product's rate as a share of the peak. On one thread the products are most of
//! both steps, so the share bounds what any step built on them can gain.

use std::hint::black_box;
use std::time::Instant;

/// One core's peak single-precision rate in GFLOP/s: the best of five runs of 12 independent
/// FMA chains.
fn peak_gflops() -> f64 {
    let iters = 50_000_000;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let lanes = fmas(black_box(iters));
            lanes as f64 * 2.0 / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// Runs `iters` rounds of 12 FMA chains at the widest width the CPU has; returns the lanes computed.
fn fmas(iters: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            unsafe { x86::fmas512(iters) };
            return iters * 12 * 16;
        }
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has FMA and AVX (checked above).
            unsafe { x86::fmas256(iters) };
            return iters * 12 * 8;
        }
    }
    let mut acc = [1.0f32; 12];
    for _ in 0..iters {
        for a in &mut acc {
            *a = a.mul_add(1.000_001, 0.999_999);
        }
    }
    black_box(acc);
    iters * 12
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// 12 chains of 512-bit FMAs, `iters` rounds.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fmas512(iters: usize) {
        let (a, b) = (_mm512_set1_ps(1.000_001), _mm512_set1_ps(0.999_999));
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            // Twelve named registers: an array indexed in a loop would go through the stack.
            let [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11] = &mut acc;
            for x in [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11] {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        black_box(acc);
    }

    /// 12 chains of 256-bit FMAs, `iters` rounds.
    #[target_feature(enable = "avx,fma")]
    pub unsafe fn fmas256(iters: usize) {
        let (a, b) = (_mm256_set1_ps(1.000_001), _mm256_set1_ps(0.999_999));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            let [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11] = &mut acc;
            for x in [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11] {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        black_box(acc);
    }
}

/// A product `m × n` of depth `k`: row-major output, `a` transposed (`ta`) or not, `b` likewise.
struct Shape {
    what: &'static str,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
}

const SHAPES: &[Shape] = &[
    Shape { what: "mlp-small forward x @ W1", m: 64, n: 128, k: 784, ta: false, tb: false },
    Shape { what: "mlp-small dW1 = xᵀ @ dh", m: 784, n: 128, k: 64, ta: true, tb: false },
    Shape { what: "mlp-wide forward x @ W1", m: 256, n: 1024, k: 784, ta: false, tb: false },
    Shape { what: "mlp-wide forward h1 @ W2", m: 256, n: 1024, k: 1024, ta: false, tb: false },
    Shape { what: "mlp-wide dW2 = h1ᵀ @ dh2", m: 1024, n: 1024, k: 256, ta: true, tb: false },
    Shape { what: "mlp-wide dW1 = xᵀ @ dh1", m: 784, n: 1024, k: 256, ta: true, tb: false },
    Shape { what: "mlp-wide dh1 = dh2 @ W2ᵀ", m: 256, n: 1024, k: 1024, ta: false, tb: true },
];

/// The best of five timings of `reps` products of `s`, in GFLOP/s.
fn product_gflops(s: &Shape) -> f64 {
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
    let (a, b, mut c) = (fill(s.m * s.k), fill(s.k * s.n), vec![0.0f32; s.m * s.n]);
    // (row stride, column stride) of each operand.
    let (a_rs, a_cs) = if s.ta { (1, s.m as isize) } else { (s.k as isize, 1) };
    let (b_rs, b_cs) = if s.tb { (1, s.k as isize) } else { (s.n as isize, 1) };
    let flops = 2.0 * (s.m * s.n * s.k) as f64;
    let reps = ((3e9 / flops) as usize).max(3);
    let mut best = 0.0f64;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..reps {
            // SAFETY: a holds m·k, b k·n and c m·n elements, which the strides stay inside.
            unsafe {
                gemm::gemm(
                    s.m,
                    s.n,
                    s.k,
                    c.as_mut_ptr(),
                    1,
                    s.n as isize,
                    false,
                    a.as_ptr(),
                    a_cs,
                    a_rs,
                    b.as_ptr(),
                    b_cs,
                    b_rs,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        }
        best = best.max(flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    black_box(&c);
    best
}

fn main() {
    let peak = peak_gflops();
    println!("one core's FMA peak: {peak:.1} GFLOP/s (best of 5)");
    println!("{:<28} {:>16} {:>10} {:>8}", "product", "m × n × k", "GFLOP/s", "of peak");
    for s in SHAPES {
        let rate = product_gflops(s);
        let dims = format!("{}×{}×{}", s.m, s.n, s.k);
        println!("{:<28} {:>16} {:>10.1} {:>7.0}%", s.what, dims, rate, 100.0 * rate / peak);
    }
}
