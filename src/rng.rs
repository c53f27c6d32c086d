//! A small, splittable, reproducible random number generator.
//!
//! The generator is xoshiro256** (Blackman & Vigna, 2018) whose 256-bit state is filled from a
//! 64-bit *key* by SplitMix64, as its authors recommend. Every output of this module is a pure
//! function of the seed and of the stream names used to fork it, on every platform and for
//! every future version: golden-value tests pin that down, because changing any of it would
//! silently change every initialisation and dataset a user has ever trained on. (The one
//! exception is [`Rng::normal`], whose `ln`, `sin` and `cos` come from the platform's libm and
//! so may differ in the last bit of an f64 between operating systems; once rounded to f32, as
//! parameters and features are, such differences essentially never show.)
//!
//! Splitting: [`Rng::fork`] derives a child generator from the parent's *key* (not its current
//! state) and a stream name hashed with FNV-1a, so `root.fork("h1.w")` is the same no matter
//! how many numbers the parent has drawn or which other streams were forked before it.

use std::f64::consts::TAU;

/// A xoshiro256** generator with a fork key; see the module docs for the algorithm.
#[derive(Debug, Clone)]
pub struct Rng {
    /// xoshiro256** state; never all zero (SplitMix64 cannot yield four zero words in a row).
    s: [u64; 4],
    /// The 64-bit key the state was expanded from; forks derive from it.
    key: u64,
    /// The second value of the last Box–Muller pair, returned by the next [`Rng::normal`].
    spare_normal: Option<f64>,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let s = [splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)];
        Rng { s, key: seed, spare_normal: None }
    }

    /// An independent generator for the named stream, e.g. a parameter's name.
    ///
    /// Depends only on this generator's seed key and `stream`, never on how many numbers have
    /// been drawn, so adding a parameter does not change the initialisation of the others.
    pub fn fork(&self, stream: &str) -> Rng {
        // Mixing the hash before combining and the result after spreads single-bit differences
        // between names (or seeds) over the whole key, so nearby names give unrelated streams.
        Rng::new(mix64(self.key ^ mix64(fnv1a64(stream.as_bytes()))))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform sample from `[0, 1)` with 53 random bits (every representable multiple of 2⁻⁵³).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform sample from `[lo, hi)` (rounding may yield `hi` itself when the range is tiny).
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A standard normal sample, by the exact Box–Muller transform.
    ///
    /// Each pair of uniforms gives two independent normals; the second is kept for the next call.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let r = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        let theta = TAU * self.uniform();
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// A uniform integer in `0..n`, without modulo bias (Lemire's multiply-and-reject method).
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): empty range");
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            // Reject the low products that would over-represent some results.
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Shuffles `items` uniformly in place (Fisher–Yates, from the back).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// One step of SplitMix64 (Steele, Lea & Flood, 2014): advances `x` and returns a mixed word.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix64(*x)
}

/// The key of a `rand` call site: its instance name hashed, so it does not depend on which
/// other sites a program has.
pub fn site_key(name: &str) -> u64 {
    mix64(fnv1a64(name.as_bytes()))
}

/// Element `index` of the uniform numbers `rand` draws at the site `key` for micro-batch
/// `counter` of a run seeded with `seed`: a multiple of 2⁻²⁴ in `[0, 1)`, exact in f32.
///
/// Counter-based: element `index` of SplitMix64's sequence started at a hash of (seed, site,
/// counter), so any element is computed alone, in any order, on any thread. Pinned by golden
/// values, as the generator is.
pub fn counter_uniform(seed: u64, key: u64, counter: u32, index: u64) -> f32 {
    let start = mix64(mix64(seed ^ key) ^ mix64(u64::from(counter)));
    let z = mix64(start.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    (z >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// The SplitMix64 output function: a bijective 64-bit avalanche mix.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64-bit FNV-1a hash: stable across platforms and Rust versions, unlike `std`'s hashers.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference outputs of SplitMix64 seeded with 1234567, from the authors' C code.
    #[test]
    fn splitmix64_matches_reference() {
        let mut x = 1234567;
        let got: Vec<u64> = (0..5).map(|_| splitmix64(&mut x)).collect();
        assert_eq!(
            got,
            [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821]
        );
    }

    /// Reference outputs of xoshiro256** from state [1, 2, 3, 4], from the authors' C code.
    #[test]
    fn xoshiro256starstar_matches_reference() {
        let mut rng = Rng { s: [1, 2, 3, 4], key: 0, spare_normal: None };
        let got: Vec<u64> = (0..6).map(|_| rng.next_u64()).collect();
        assert_eq!(got, [11520, 0, 1509978240, 1215971899390074240, 1216172134540287360, 607988272756665600]);
    }

    /// FNV-1a reference values (from the FNV test suite).
    #[test]
    fn fnv1a64_matches_reference() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    /// `counter_uniform` is pinned too: dropout masks of saved runs depend on it.
    #[test]
    fn counter_uniform_golden_values() {
        let got: Vec<f32> = (0..4).map(|i| counter_uniform(42, site_key("drop1."), 7, i)).collect();
        assert_eq!(got, GOLDEN_COUNTER);
        let mean = (0..100_000).map(|i| f64::from(counter_uniform(1, 2, 3, i))).sum::<f64>() / 1e5;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        assert_ne!(counter_uniform(1, 2, 3, 0), counter_uniform(1, 2, 4, 0));
        assert_ne!(counter_uniform(1, 2, 3, 0), counter_uniform(2, 2, 3, 0));
    }

    /// Golden values: these must never change, or every saved experiment stops reproducing.
    #[test]
    fn golden_values() {
        let mut rng = Rng::new(42);
        let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(got, GOLDEN_U64);
        let mut rng = Rng::new(42);
        assert_eq!(rng.uniform().to_bits(), GOLDEN_UNIFORM.to_bits());
        let mut rng = Rng::new(42);
        // ln, sin and cos come from the platform's libm, which may differ in the last bit.
        for want in GOLDEN_NORMAL {
            let got = rng.normal();
            assert!((got - want).abs() < 1e-15, "{got} != {want}");
        }
        let mut rng = Rng::new(42).fork("h1.w");
        assert_eq!(rng.next_u64(), GOLDEN_FORK);
        let mut rng = Rng::new(7);
        let mut v: Vec<u32> = (0..10).collect();
        rng.shuffle(&mut v);
        assert_eq!(v, GOLDEN_SHUFFLE);
        let mut rng = Rng::new(7);
        let got: Vec<u64> = (0..5).map(|_| rng.below(10)).collect();
        assert_eq!(got, GOLDEN_BELOW);
    }

    // Computed independently by a Python transcription of the algorithms in the module docs.
    const GOLDEN_COUNTER: [f32; 4] = [0.10802007, 0.109901905, 0.350771, 0.0067406297];
    const GOLDEN_U64: [u64; 3] = [1546998764402558742, 6990951692964543102, 12544586762248559009];
    const GOLDEN_UNIFORM: f64 = 0.08386297105988216;
    const GOLDEN_NORMAL: [f64; 2] = [-0.303263064678738, 0.28846173882942383];
    const GOLDEN_FORK: u64 = 4249190799602178741;
    const GOLDEN_SHUFFLE: [u32; 10] = [1, 8, 3, 0, 4, 5, 9, 6, 2, 7];
    const GOLDEN_BELOW: [u64; 5] = [7, 2, 8, 9, 9];

    #[test]
    fn same_seed_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::new(1);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(1);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new(2);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fork_ignores_parent_draws_and_depends_on_name() {
        let root = Rng::new(9);
        let mut advanced = root.clone();
        for _ in 0..100 {
            advanced.next_u64();
        }
        assert_eq!(root.fork("h1.w").next_u64(), advanced.fork("h1.w").next_u64());
        assert_ne!(root.fork("h1.w").next_u64(), root.fork("h1.b").next_u64());
        assert_ne!(root.fork("h1.w").next_u64(), Rng::new(10).fork("h1.w").next_u64());
        // Nested forks are ordered: a/b and b/a are different streams.
        assert_ne!(root.fork("a").fork("b").next_u64(), root.fork("b").fork("a").next_u64());
        // A fork is not the parent's own stream.
        assert_ne!(root.fork("").next_u64(), root.clone().next_u64());
    }

    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn uniform_moments_and_range() {
        let mut rng = Rng::new(3);
        let xs: Vec<f64> = (0..100_000).map(|_| rng.uniform()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let (mean, var) = moments(&xs);
        // Standard error of the mean is ~0.0009, of the variance ~0.0003.
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "var {var}");
        let ys: Vec<f64> = (0..10_000).map(|_| rng.uniform_range(-3.0, 5.0)).collect();
        assert!(ys.iter().all(|&y| (-3.0..5.0).contains(&y)));
        assert!((moments(&ys).0 - 1.0).abs() < 0.1);
    }

    #[test]
    fn normal_moments() {
        let mut rng = Rng::new(4);
        let xs: Vec<f64> = (0..100_000).map(|_| rng.normal()).collect();
        let (mean, var) = moments(&xs);
        assert!(mean.abs() < 0.015, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        let within_1 = xs.iter().filter(|x| x.abs() < 1.0).count() as f64 / xs.len() as f64;
        assert!((within_1 - 0.6827).abs() < 0.01, "P(|z|<1) = {within_1}");
        let kurtosis = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / xs.len() as f64 / (var * var);
        assert!((kurtosis - 3.0).abs() < 0.1, "kurtosis {kurtosis}");
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = Rng::new(5);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[rng.below(7) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
        assert_eq!(rng.below(1), 0);
        // The largest range exercises the rejection threshold arithmetic.
        let _ = rng.below(u64::MAX);
    }

    #[test]
    #[should_panic(expected = "empty range")]
    fn below_zero_panics() {
        Rng::new(0).below(0);
    }

    #[test]
    fn shuffle_is_a_permutation_and_uniform_on_small_sets() {
        let mut rng = Rng::new(6);
        let mut v: Vec<usize> = (0..100).collect();
        rng.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(v, sorted);
        // All 6 orders of 3 items appear about equally often.
        let mut counts = std::collections::HashMap::new();
        for _ in 0..60_000 {
            let mut w = [0, 1, 2];
            rng.shuffle(&mut w);
            *counts.entry(w).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        assert!(counts.values().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
        let mut empty: [u8; 0] = [];
        rng.shuffle(&mut empty);
    }
}
