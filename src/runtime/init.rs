//! Parameter initializers, with the formulas of PyTorch's `torch.nn.init`.
//!
//! Fans follow our layouts, which differ from PyTorch's for dense weights: a dense weight is
//! stored `[in, out]` (we compute `x @ w`), so for rank 2 `fan_in = shape[0]` and
//! `fan_out = shape[1]`. Convolution kernels are `[out_c, in_c, kh, kw, ...]` as in PyTorch, so
//! for rank > 2 `fan_in = in_c · receptive field` and `fan_out = out_c · receptive field`.
//! PyTorch rejects fan-based initializers below rank 2; we define `fan_in = fan_out = n` for a
//! vector of length `n` and `1` for a scalar, so `he_normal` on a bias means something.

use crate::rng::Rng;
pub use crate::spec::Init;

/// The gain PyTorch's `calculate_gain("relu")` returns: the usual He (Kaiming) gain.
pub const RELU_GAIN: f64 = std::f64::consts::SQRT_2;

/// `(fan_in, fan_out)` of a tensor of this shape under our layouts (see the module docs).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [fan_in, fan_out] => (*fan_in, *fan_out),
        [out_c, in_c, kernel @ ..] => {
            let receptive: usize = kernel.iter().product();
            (in_c * receptive, out_c * receptive)
        }
    }
}

/// A new tensor of `shape` (row-major) filled by `init`, drawing from `rng` in element order.
///
/// `init` should have passed [`Init::check`]; fan-based initializers of an empty tensor draw
/// nothing, so a zero fan never divides.
pub fn fill(init: &Init, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
    let len: usize = shape.iter().product();
    let (fan_in, fan_out) = fans(shape);
    let (fan_in, fan_sum) = (fan_in as f64, (fan_in + fan_out) as f64);
    let normal = |rng: &mut Rng, mean: f64, std: f64| -> Vec<f32> {
        (0..len).map(|_| (mean + std * rng.normal()) as f32).collect()
    };
    let uniform =
        |rng: &mut Rng, lo: f64, hi: f64| -> Vec<f32> { (0..len).map(|_| rng.uniform_range(lo, hi) as f32).collect() };
    match *init {
        Init::Zeros => vec![0.0; len],
        Init::Constant(v) => vec![v as f32; len],
        Init::Normal { mean, std } => normal(rng, mean, std),
        Init::Uniform { lo, hi } => uniform(rng, lo, hi),
        Init::XavierNormal { gain } => normal(rng, 0.0, gain * (2.0 / fan_sum).sqrt()),
        Init::XavierUniform { gain } => {
            let bound = gain * (6.0 / fan_sum).sqrt();
            uniform(rng, -bound, bound)
        }
        Init::HeNormal { gain } => normal(rng, 0.0, gain / fan_in.sqrt()),
        Init::HeUniform { gain } => {
            let bound = gain * (3.0 / fan_in).sqrt();
            uniform(rng, -bound, bound)
        }
        Init::TorchDefault { fan_in: own } => {
            let fan = own.map_or(fan_in, |f| f as f64);
            let bound = if fan > 0.0 { 1.0 / fan.sqrt() } else { 0.0 };
            uniform(rng, -bound, bound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(xs: &[f32]) -> (f64, f64, f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = xs.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
        let min = xs.iter().fold(f64::INFINITY, |m, &x| m.min(f64::from(x)));
        let max = xs.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
        (mean, var.sqrt(), min, max)
    }

    /// Fills a [400, 100] dense weight (40 000 samples) and checks mean and std within 2%.
    fn check_normal(init: Init, want_std: f64) {
        let xs = fill(&init, &[400, 100], &mut Rng::new(11));
        assert_eq!(xs.len(), 40_000);
        let (mean, std, _, _) = stats(&xs);
        assert!(mean.abs() < 0.03 * want_std, "{init:?}: mean {mean}");
        assert!((std / want_std - 1.0).abs() < 0.02, "{init:?}: std {std}, want {want_std}");
    }

    /// Checks every sample lies within ±bound, the extremes approach it, and std = bound/√3.
    fn check_uniform(init: Init, bound: f64) {
        let xs = fill(&init, &[400, 100], &mut Rng::new(12));
        let (mean, std, min, max) = stats(&xs);
        let b = bound as f32 as f64;
        assert!(min >= -b && max <= b, "{init:?}: [{min}, {max}] exceeds ±{bound}");
        assert!(min < -0.999 * bound && max > 0.999 * bound, "{init:?}: [{min}, {max}] not near ±{bound}");
        assert!(mean.abs() < 0.03 * bound, "{init:?}: mean {mean}");
        assert!((std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.02, "{init:?}: std {std}");
    }

    #[test]
    fn fans_follow_our_layouts() {
        assert_eq!(fans(&[]), (1, 1));
        assert_eq!(fans(&[7]), (7, 7));
        // Dense weights are [in, out].
        assert_eq!(fans(&[3, 5]), (3, 5));
        // Conv kernels are [out_c, in_c, kh, kw]: PyTorch's receptive-field rule.
        assert_eq!(fans(&[16, 3, 5, 5]), (75, 400));
        assert_eq!(fans(&[8, 4, 3]), (12, 24));
    }

    #[test]
    fn zeros_and_constant() {
        let mut rng = Rng::new(0);
        assert_eq!(fill(&Init::Zeros, &[2, 3], &mut rng), vec![0.0; 6]);
        assert_eq!(fill(&Init::Constant(0.5), &[4], &mut rng), vec![0.5; 4]);
        assert_eq!(fill(&Init::Constant(2.0), &[], &mut rng), vec![2.0]);
        assert!(fill(&Init::HeNormal { gain: RELU_GAIN }, &[0, 5], &mut rng).is_empty());
    }

    #[test]
    fn normal_and_uniform() {
        let xs = fill(&Init::Normal { mean: 3.0, std: 0.5 }, &[200, 200], &mut Rng::new(1));
        let (mean, std, _, _) = stats(&xs);
        assert!((mean - 3.0).abs() < 0.01 && (std - 0.5).abs() < 0.01, "mean {mean} std {std}");
        let xs = fill(&Init::Uniform { lo: 1.0, hi: 2.0 }, &[200, 200], &mut Rng::new(2));
        let (mean, _, min, max) = stats(&xs);
        assert!(min >= 1.0 && max <= 2.0 && (mean - 1.5).abs() < 0.01);
    }

    #[test]
    fn xavier_matches_pytorch_formulas() {
        // fan_in = 400, fan_out = 100.
        check_normal(Init::XavierNormal { gain: 1.0 }, (2.0f64 / 500.0).sqrt());
        check_normal(Init::XavierNormal { gain: 5.0 / 3.0 }, 5.0 / 3.0 * (2.0f64 / 500.0).sqrt());
        check_uniform(Init::XavierUniform { gain: 1.0 }, (6.0f64 / 500.0).sqrt());
    }

    #[test]
    fn he_matches_pytorch_formulas() {
        // fan_in = 400 (mode fan_in): std = √2/√400 ≈ 0.0707, bound = √2·√(3/400) ≈ 0.1225.
        check_normal(Init::HeNormal { gain: RELU_GAIN }, 2f64.sqrt() / 20.0);
        check_uniform(Init::HeUniform { gain: RELU_GAIN }, 2f64.sqrt() * (3.0f64 / 400.0).sqrt());
        // nn.Linear's default: bound = 1/sqrt(fan_in).
        check_uniform(Init::HeUniform { gain: (1.0f64 / 3.0).sqrt() }, 1.0 / 20.0);
        // torch's nn.Linear default is the same distribution as kaiming_uniform(a = √5).
        check_uniform(Init::TorchDefault { fan_in: None }, 1.0 / 20.0);
    }

    #[test]
    fn conv_kernels_use_receptive_field() {
        // [out 32, in 16, 3, 3]: fan_in = 144, so He std = √2/12.
        let xs = fill(&Init::HeNormal { gain: RELU_GAIN }, &[32, 16, 3, 3], &mut Rng::new(5));
        let (_, std, _, _) = stats(&xs);
        assert!((std / (2f64.sqrt() / 12.0) - 1.0).abs() < 0.05, "std {std}");
    }

    #[test]
    fn fill_is_reproducible_per_stream() {
        let root = Rng::new(2024);
        let a = fill(&Init::XavierUniform { gain: 1.0 }, &[3, 2], &mut root.fork("h1.w"));
        let b = fill(&Init::XavierUniform { gain: 1.0 }, &[3, 2], &mut root.fork("h1.w"));
        let c = fill(&Init::XavierUniform { gain: 1.0 }, &[3, 2], &mut root.fork("h2.w"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Golden: pins the draw order (row-major, one uniform per element) for good.
        assert_eq!(a, GOLDEN_XAVIER);
    }

    // Computed independently by a Python transcription of the RNG and the Xavier formula.
    const GOLDEN_XAVIER: [f32; 6] = [-1.0221845, 0.80374765, 1.0931776, -0.49514624, -1.0074613, -0.986738];
}
