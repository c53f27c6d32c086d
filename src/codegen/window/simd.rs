//! The vector operations the direct kernels are written in, for three instruction sets chosen
//! at run time: AVX-512, AVX2 with FMA, and portable code the compiler vectorises for the
//! baseline target. A kernel is one generic function; `simd_entry!` instantiates it once per
//! path under the matching `target_feature`, so the intrinsics inline into it.

use std::cell::Cell;
use std::sync::OnceLock;

/// An instruction set the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// 16 lanes, fused multiply-add.
    Avx512,
    /// 8 lanes, fused multiply-add.
    Avx2,
    /// 8 lanes as plain arrays, multiply then add.
    Portable,
}

thread_local! {
    /// A path a test forced on this thread (and on the work it hands to the second thread).
    static FORCED: Cell<Option<Path>> = const { Cell::new(None) };
}

impl Path {
    /// Every path, fastest first.
    pub(crate) const ALL: [Path; 3] = [Path::Avx512, Path::Avx2, Path::Portable];

    /// Whether this CPU can run the path.
    pub(crate) fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            Path::Avx512 | Path::Avx2 => false,
            Path::Portable => true,
        }
    }

    /// The path for kernels called on this thread: a forced one, else the fastest supported.
    pub(crate) fn current() -> Path {
        static BEST: OnceLock<Path> = OnceLock::new();
        FORCED.with(Cell::get).unwrap_or_else(|| {
            *BEST.get_or_init(|| Self::ALL.into_iter().find(|p| p.supported()).unwrap_or(Path::Portable))
        })
    }

    /// Runs `f` with kernels on this thread forced to `path` (which must be supported).
    #[cfg(test)]
    pub(crate) fn forced<T>(path: Path, f: impl FnOnce() -> T) -> T {
        assert!(path.supported(), "{path:?} is not supported here");
        let before = FORCED.with(|c| c.replace(Some(path)));
        let out = f();
        FORCED.with(|c| c.set(before));
        out
    }
}

/// Vectors of `LANES` f32.
///
/// # Safety
/// Every method may use instructions of its path: call them only from code compiled for it.
pub(crate) trait Simd {
    /// Elements per vector.
    const LANES: usize;
    /// One vector.
    type V: Copy;
    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `LANES` elements from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES` elements to `p` (any alignment).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `acc + a·b`.
    unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
}

/// Plain arrays; the compiler turns the lane loops into the baseline target's vectors.
pub(crate) struct Portable;

impl Simd for Portable {
    const LANES: usize = 8;
    type V = [f32; 8];
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: the caller guarantees 8 readable elements.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees 8 writable elements.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V {
        std::array::from_fn(|i| acc[i] + a[i] * b[i])
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    /// 256-bit vectors with FMA.
    pub(crate) struct Avx2;

    // SAFETY (every method): the caller runs on a CPU with AVX2 and FMA, and guarantees the
    // pointers reach 8 elements.
    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        #[inline(always)]
        unsafe fn zero() -> Self::V {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self::V {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self::V {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self::V) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V {
            unsafe { _mm256_fmadd_ps(a, b, acc) }
        }
    }

    /// 512-bit vectors.
    pub(crate) struct Avx512;

    // SAFETY (every method): the caller runs on a CPU with AVX-512F, and guarantees the
    // pointers reach 16 elements.
    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        #[inline(always)]
        unsafe fn zero() -> Self::V {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self::V {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self::V {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self::V) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V {
            unsafe { _mm512_fmadd_ps(a, b, acc) }
        }
    }
}

/// `fn $name(path, args…)`: runs generic `$generic::<S>(args…)` for the `S` of `path`, compiled
/// with that path's target features.
macro_rules! simd_entry {
    ($(#[$doc:meta])* fn $name:ident => $generic:ident ( $($a:ident : $t:ty),* $(,)? )) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As for the generic kernel; `path` must be supported by this CPU.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(path: $crate::codegen::window::simd::Path, $($a: $t),*) {
            use $crate::codegen::window::simd::{Path, Portable};
            #[cfg(target_arch = "x86_64")]
            {
                use $crate::codegen::window::simd::{Avx2, Avx512};
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($a: $t),*) {
                    // SAFETY: as for the entry.
                    unsafe { $generic::<Avx512>($($a),*) }
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($a: $t),*) {
                    // SAFETY: as for the entry.
                    unsafe { $generic::<Avx2>($($a),*) }
                }
                match path {
                    // SAFETY: the caller guarantees the CPU supports `path`.
                    Path::Avx512 => return unsafe { avx512($($a),*) },
                    Path::Avx2 => return unsafe { avx2($($a),*) },
                    Path::Portable => {}
                }
            }
            let _ = path;
            // SAFETY: as for the entry; portable code runs anywhere.
            unsafe { $generic::<Portable>($($a),*) }
        }
    };
}
pub(crate) use simd_entry;
