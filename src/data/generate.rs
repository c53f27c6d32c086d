//! Synthetic generators: `spirals`, `blobs`, `xor`, `linear`, `sine` and `random`.
//!
//! Conventions shared by every generator:
//! - `n` is always the *total* number of rows, never a per-class count.
//! - Classification rows are interleaved by class (row `i` has class `i % classes`), so class
//!   sizes differ by at most one and even an unshuffled prefix of the data is balanced.
//! - Every value is a pure function of the arguments and the seed (see [`crate::rng`]).
//! - Arguments come from the user's `.grad` file, so bad ones are [`Diag`]s pointing at the
//!   generator expression.

use std::f64::consts::{PI, TAU};

use super::{Dataset, Labels};
use crate::diag::{Diag, Span};
use crate::rng::Rng;

/// Largest number of elements a generator may allocate for one array (1 GiB of f32), so a typo
/// such as `n: 1e10` is a diagnostic instead of an out-of-memory abort.
const MAX_ELEMENTS: usize = 1 << 28;

/// `spirals(...)`: interleaved spiral arms, one per class (after CS231n's classic example).
///
/// Class `c`'s `j`-th point has radius `r = j / (n_c - 1)` (evenly spaced in `[0, 1]`) and angle
/// `θ = 2π·c/classes + 2π·turns·r + noise·z`, `z ~ N(0, 1)`, at `(r·sin θ, r·cos θ)`. Unlike
/// CS231n's fixed 4-radian offsets, the arms are spread evenly for any number of classes.
/// Defaults: `n: 200, classes: 2, noise: 0.2, turns: 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spirals {
    /// Total number of points.
    pub n: usize,
    /// Number of arms (classes).
    pub classes: usize,
    /// Standard deviation of the angular noise, in radians.
    pub noise: f64,
    /// How many full turns each arm makes from the centre to radius 1.
    pub turns: f64,
}

impl Default for Spirals {
    fn default() -> Spirals {
        Spirals { n: 200, classes: 2, noise: 0.2, turns: 1.0 }
    }
}

/// `blobs(...)`: isotropic Gaussian clusters, one per class.
///
/// Centres are fixed, not random, so clusters never overlap by bad luck: for `dim ≥ 2` they sit
/// evenly on a circle of radius 5 in the first two coordinates (0 in the rest); for `dim = 1`
/// they are evenly spaced on `[-5, 5]`. Defaults: `n: 200, classes: 3, dim: 2, std: 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Blobs {
    /// Total number of points.
    pub n: usize,
    /// Number of clusters (classes).
    pub classes: usize,
    /// Number of features.
    pub dim: usize,
    /// Standard deviation of each cluster along every axis.
    pub std: f64,
}

impl Default for Blobs {
    fn default() -> Blobs {
        Blobs { n: 200, classes: 3, dim: 2, std: 1.0 }
    }
}

/// `xor(...)`: two classes in the four quadrants of `[-1, 1]²`; class 1 where `x·y < 0`.
///
/// Row `i` lies in quadrant `i % 4` (clockwise from `x, y > 0`), uniformly within it, so
/// classes alternate row by row; then `noise·z` is added to each coordinate (labels are not noisy).
/// Defaults: `n: 200, noise: 0.1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Xor {
    /// Total number of points.
    pub n: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate.
    pub noise: f64,
}

impl Default for Xor {
    fn default() -> Xor {
        Xor { n: 200, noise: 0.1 }
    }
}

/// `linear(...)`: regression `y = x·w + b + noise·z` with `x ~ N(0, I)`; see [`linear_truth`].
///
/// Features, noise and the drawn truth use separate streams of the seed, so changing `noise` or
/// giving `weights` does not move the points. Defaults: `n: 200, dim: 1, noise: 0.1`, drawn truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Number of rows.
    pub n: usize,
    /// Number of features.
    pub dim: usize,
    /// Standard deviation of the Gaussian noise on `y`.
    pub noise: f64,
    /// True weights (length `dim`); drawn uniformly from `[-2, 2)` when absent.
    pub weights: Option<Vec<f64>>,
    /// True bias; drawn uniformly from `[-1, 1)` when absent.
    pub bias: Option<f64>,
}

impl Default for Linear {
    fn default() -> Linear {
        Linear { n: 200, dim: 1, noise: 0.1, weights: None, bias: None }
    }
}

/// The true parameters behind a [`linear`] dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearTruth {
    /// True weights, one per feature.
    pub weights: Vec<f64>,
    /// True bias.
    pub bias: f64,
}

/// `sine(...)`: regression `y = sin(x) + noise·z` with `x` uniform in `[-π, π)`: one full period.
///
/// Features and noise use separate streams of the seed. Defaults: `n: 200, noise: 0.1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sine {
    /// Number of rows.
    pub n: usize,
    /// Standard deviation of the Gaussian noise on `y`.
    pub noise: f64,
}

impl Default for Sine {
    fn default() -> Sine {
        Sine { n: 200, noise: 0.1 }
    }
}

/// A user error in a generator's arguments.
fn arg_error(span: Span, message: String, help: &str) -> Diag {
    Diag::new("gradc::data::generator", message).at(span, "in this dataset").help(help)
}

/// Checks `n ≥ 1` and that `n` rows of `width` values fit in [`MAX_ELEMENTS`].
fn check_n(generator: &str, n: usize, width: usize, span: Span) -> Result<(), Diag> {
    if n == 0 {
        return Err(arg_error(
            span,
            format!("{generator}: `n` must be at least 1"),
            "ask for some points, e.g. `n: 200`",
        ));
    }
    if n.checked_mul(width).is_none_or(|total| total > MAX_ELEMENTS) {
        return Err(arg_error(
            span,
            format!("{generator}: {n} × {width} values is too large to hold in memory"),
            &format!("generated datasets are limited to {MAX_ELEMENTS} values per array"),
        ));
    }
    Ok(())
}

/// Checks that a standard deviation argument is finite and non-negative.
fn check_std(generator: &str, name: &str, v: f64, span: Span) -> Result<(), Diag> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(arg_error(
            span,
            format!("{generator}: `{name}` must be a finite number ≥ 0, got {v}"),
            "use 0 for no noise",
        ))
    }
}

/// Checks a count argument such as `classes` or `dim` is at least 1.
fn check_count(generator: &str, name: &str, v: usize, span: Span) -> Result<(), Diag> {
    if v == 0 {
        return Err(arg_error(span, format!("{generator}: `{name}` must be at least 1"), "use a positive integer"));
    }
    Ok(())
}

/// Checks `1 ≤ classes ≤ n`, so every class has a point (and labels, being below `n`, fit an i32).
fn check_classes(generator: &str, classes: usize, n: usize, span: Span) -> Result<(), Diag> {
    check_count(generator, "classes", classes, span)?;
    if classes > n {
        return Err(arg_error(
            span,
            format!("{generator}: {classes} classes need at least {classes} points, got n = {n}"),
            "raise `n` or lower `classes`",
        ));
    }
    Ok(())
}

/// Number of rows of class `c` when `n` rows are interleaved over `classes` classes.
fn class_size(n: usize, classes: usize, c: usize) -> usize {
    n / classes + usize::from(c < n % classes)
}

/// Class labels `i % classes` for `n` interleaved rows.
fn interleaved_classes(n: usize, classes: usize) -> Labels {
    // Labels are below `n`, which `check_n` keeps far below i32::MAX.
    Labels::Classes { y: (0..n).map(|i| (i % classes) as i32).collect(), classes }
}

/// Generates a [`Spirals`] dataset.
pub fn spirals(p: &Spirals, seed: u64, span: Span) -> Result<Dataset, Diag> {
    check_n("spirals", p.n, 2, span)?;
    check_classes("spirals", p.classes, p.n, span)?;
    check_std("spirals", "noise", p.noise, span)?;
    if !(p.turns.is_finite() && p.turns >= 0.0) {
        return Err(arg_error(
            span,
            format!("spirals: `turns` must be a finite number ≥ 0, got {}", p.turns),
            "e.g. `turns: 1.5`",
        ));
    }
    let mut rng = Rng::new(seed);
    let mut features = Vec::with_capacity(2 * p.n);
    for i in 0..p.n {
        let (c, j) = (i % p.classes, i / p.classes);
        let size = class_size(p.n, p.classes, c);
        let r = if size > 1 { j as f64 / (size - 1) as f64 } else { 0.0 };
        let theta = TAU * c as f64 / p.classes as f64 + TAU * p.turns * r + p.noise * rng.normal();
        features.extend([(r * theta.sin()) as f32, (r * theta.cos()) as f32]);
    }
    Ok(Dataset { features: features.into(), n: p.n, d: 2, shape: vec![2], labels: interleaved_classes(p.n, p.classes) })
}

/// Generates a [`Blobs`] dataset.
pub fn blobs(p: &Blobs, seed: u64, span: Span) -> Result<Dataset, Diag> {
    check_count("blobs", "dim", p.dim, span)?;
    check_n("blobs", p.n, p.dim, span)?;
    check_classes("blobs", p.classes, p.n, span)?;
    check_std("blobs", "std", p.std, span)?;
    let centre = |c: usize| -> [f64; 2] {
        if p.dim == 1 {
            let x = if p.classes == 1 { 0.0 } else { -5.0 + 10.0 * c as f64 / (p.classes - 1) as f64 };
            [x, 0.0]
        } else {
            let a = TAU * c as f64 / p.classes as f64;
            [5.0 * a.cos(), 5.0 * a.sin()]
        }
    };
    let mut rng = Rng::new(seed);
    let mut features = Vec::with_capacity(p.dim * p.n);
    for i in 0..p.n {
        let at = centre(i % p.classes);
        features.extend((0..p.dim).map(|k| (at.get(k).copied().unwrap_or(0.0) + p.std * rng.normal()) as f32));
    }
    Ok(Dataset {
        features: features.into(),
        n: p.n,
        d: p.dim,
        shape: vec![p.dim],
        labels: interleaved_classes(p.n, p.classes),
    })
}

/// Generates an [`Xor`] dataset.
pub fn xor(p: &Xor, seed: u64, span: Span) -> Result<Dataset, Diag> {
    check_n("xor", p.n, 2, span)?;
    check_std("xor", "noise", p.noise, span)?;
    // Quadrants clockwise from (+,+), so the class alternates 0, 1, 0, 1 row by row.
    const SIGNS: [[f64; 2]; 4] = [[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]];
    let mut rng = Rng::new(seed);
    let mut features = Vec::with_capacity(2 * p.n);
    for i in 0..p.n {
        let [sx, sy] = SIGNS[i % 4];
        let (x, y) = (sx * rng.uniform(), sy * rng.uniform());
        features.extend([(x + p.noise * rng.normal()) as f32, (y + p.noise * rng.normal()) as f32]);
    }
    Ok(Dataset { features: features.into(), n: p.n, d: 2, shape: vec![2], labels: interleaved_classes(p.n, 2) })
}

/// The true weights and bias of the [`linear`] dataset with these arguments and seed.
pub fn linear_truth(p: &Linear, seed: u64, span: Span) -> Result<LinearTruth, Diag> {
    check_count("linear", "dim", p.dim, span)?;
    if p.dim > MAX_ELEMENTS {
        return Err(arg_error(
            span,
            format!("linear: `dim` = {} is too large to hold in memory", p.dim),
            &format!("generated datasets are limited to {MAX_ELEMENTS} values per array"),
        ));
    }
    let mut rng = Rng::new(seed).fork("truth");
    let weights = match &p.weights {
        Some(w) if w.len() != p.dim => {
            return Err(arg_error(
                span,
                format!("linear: `weights` has {} values but `dim` is {}", w.len(), p.dim),
                "give one weight per feature, or omit `weights` to draw them from the seed",
            ));
        }
        Some(w) if w.iter().any(|v| !v.is_finite()) => {
            return Err(arg_error(span, "linear: `weights` must be finite".into(), "use finite numbers"));
        }
        Some(w) => w.clone(),
        None => (0..p.dim).map(|_| rng.uniform_range(-2.0, 2.0)).collect(),
    };
    let bias = match p.bias {
        Some(b) if !b.is_finite() => {
            return Err(arg_error(span, format!("linear: `bias` must be finite, got {b}"), "use a finite number"));
        }
        Some(b) => b,
        None => rng.uniform_range(-1.0, 1.0),
    };
    Ok(LinearTruth { weights, bias })
}

/// Generates a [`Linear`] regression dataset (one target per row).
pub fn linear(p: &Linear, seed: u64, span: Span) -> Result<Dataset, Diag> {
    check_n("linear", p.n, p.dim, span)?;
    let truth = linear_truth(p, seed, span)?;
    check_std("linear", "noise", p.noise, span)?;
    let root = Rng::new(seed);
    let (mut xs, mut noise) = (root.fork("x"), root.fork("noise"));
    let mut features = Vec::with_capacity(p.n * p.dim);
    let mut y = Vec::with_capacity(p.n);
    for _ in 0..p.n {
        let mut dot = truth.bias;
        for w in &truth.weights {
            let x = xs.normal();
            dot += w * x;
            features.push(x as f32);
        }
        y.push((dot + p.noise * noise.normal()) as f32);
    }
    Ok(Dataset { features: features.into(), n: p.n, d: p.dim, shape: vec![p.dim], labels: Labels::Targets { y, k: 1 } })
}

/// Generates a [`Sine`] regression dataset (one feature, one target).
pub fn sine(p: &Sine, seed: u64, span: Span) -> Result<Dataset, Diag> {
    check_n("sine", p.n, 1, span)?;
    check_std("sine", "noise", p.noise, span)?;
    let root = Rng::new(seed);
    let (mut xs, mut noise) = (root.fork("x"), root.fork("noise"));
    let mut features = Vec::with_capacity(p.n);
    let mut y = Vec::with_capacity(p.n);
    for _ in 0..p.n {
        let x = xs.uniform_range(-PI, PI);
        features.push(x as f32);
        y.push((x.sin() + p.noise * noise.normal()) as f32);
    }
    Ok(Dataset { features: features.into(), n: p.n, d: 1, shape: vec![1], labels: Labels::Targets { y, k: 1 } })
}

/// `random(...)`: features uniform in `[-1, 1)` and labels uniform over the classes, unrelated
/// to each other: a workload for benchmarks, where only the shapes matter.
#[derive(Debug, Clone, PartialEq)]
pub struct Random {
    /// Number of rows.
    pub n: usize,
    /// Number of features.
    pub dim: usize,
    /// Number of classes.
    pub classes: usize,
}

/// Generates a [`Random`] dataset.
pub fn random(p: &Random, seed: u64, span: Span) -> Result<Dataset, Diag> {
    check_n("random", p.n, p.dim.max(1), span)?;
    if p.dim == 0 || p.classes == 0 {
        return Err(arg_error(
            span,
            "random: `dim` and `classes` must be at least 1".into(),
            "e.g. `random(n: 1000, dim: 784, classes: 10)`",
        ));
    }
    let root = Rng::new(seed);
    let (mut xs, mut ys) = (root.fork("x"), root.fork("y"));
    let features = (0..p.n * p.dim).map(|_| xs.uniform_range(-1.0, 1.0) as f32).collect();
    let y = (0..p.n).map(|_| ys.below(p.classes as u64) as i32).collect();
    Ok(Dataset { features, n: p.n, d: p.dim, shape: vec![p.dim], labels: Labels::Classes { y, classes: p.classes } })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diag::FileId;

    pub(crate) fn span() -> Span {
        Span::new(FileId(0), 10, 30)
    }

    pub(crate) fn classes(ds: &Dataset) -> (&[i32], usize) {
        match &ds.labels {
            Labels::Classes { y, classes } => (y, *classes),
            other => panic!("expected classes, got {other:?}"),
        }
    }

    pub(crate) fn targets(ds: &Dataset) -> &[f32] {
        match &ds.labels {
            Labels::Targets { y, k: 1 } => y,
            other => panic!("expected one target, got {other:?}"),
        }
    }

    fn class_counts(ds: &Dataset) -> Vec<usize> {
        let (y, k) = classes(ds);
        let mut counts = vec![0; k];
        for &c in y {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Mean of the rows of class `c`.
    fn class_mean(ds: &Dataset, c: i32) -> Vec<f64> {
        let (y, _) = classes(ds);
        let rows: Vec<usize> = (0..ds.n).filter(|&i| y[i] == c).collect();
        (0..ds.d).map(|k| rows.iter().map(|&i| f64::from(ds.row(i)[k])).sum::<f64>() / rows.len() as f64).collect()
    }

    #[test]
    fn spirals_shape_balance_and_determinism() {
        let p = Spirals { n: 301, classes: 3, ..Spirals::default() };
        let ds = spirals(&p, 1, span()).unwrap();
        assert_eq!((ds.n, ds.d, ds.features.len()), (301, 2, 602));
        assert_eq!(class_counts(&ds), [101, 100, 100]);
        assert_eq!(classes(&ds).0[..4], [0, 1, 2, 0]);
        assert_eq!(ds, spirals(&p, 1, span()).unwrap());
        assert_ne!(ds, spirals(&p, 2, span()).unwrap());
        // Radii run from 0 to 1 along each arm, whatever the noise.
        let radius = |i: usize| ds.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        assert_eq!(radius(0), 0.0);
        assert!((radius(300) - 1.0).abs() < 1e-6);
        assert!((0..ds.n).all(|i| radius(i) <= 1.0 + 1e-6));
    }

    #[test]
    fn spirals_without_noise_follow_the_formula() {
        let p = Spirals { n: 10, classes: 2, noise: 0.0, turns: 0.5 };
        let ds = spirals(&p, 0, span()).unwrap();
        // Row 7 is class 1, point 3 of 5: r = 0.75, θ = π + π·0.75.
        let theta = PI + PI * 0.75;
        assert!((ds.row(7)[0] - (0.75 * theta.sin()) as f32).abs() < 1e-6);
        assert!((ds.row(7)[1] - (0.75 * theta.cos()) as f32).abs() < 1e-6);
    }

    #[test]
    fn golden_spirals() {
        // Pins the generator (formula, draw order and RNG) forever.
        let ds = spirals(&Spirals { n: 4, ..Spirals::default() }, 42, span()).unwrap();
        assert_eq!(ds.features, GOLDEN_SPIRALS);
    }

    // Computed independently by a Python transcription of the RNG and the formula.
    const GOLDEN_SPIRALS: [f32; 8] = [0.0, 0.0, 0.0, 0.0, 0.26553842, 0.9641003, 0.13716128, -0.99054873];

    #[test]
    fn blobs_cluster_around_fixed_centres() {
        let p = Blobs { n: 3000, classes: 3, dim: 3, std: 0.5 };
        let ds = blobs(&p, 7, span()).unwrap();
        assert_eq!((ds.n, ds.d), (3000, 3));
        assert_eq!(class_counts(&ds), [1000, 1000, 1000]);
        for c in 0..3 {
            let a = TAU * f64::from(c) / 3.0;
            let want = [5.0 * a.cos(), 5.0 * a.sin(), 0.0];
            let got = class_mean(&ds, c);
            assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 0.05), "class {c}: {got:?} vs {want:?}");
        }
        let one_d = blobs(&Blobs { n: 30, classes: 3, dim: 1, std: 0.0 }, 7, span()).unwrap();
        assert_eq!(one_d.features[..3], [-5.0, 0.0, 5.0]);
        assert_eq!(ds, blobs(&p, 7, span()).unwrap());
    }

    #[test]
    fn xor_labels_match_quadrants() {
        let ds = xor(&Xor { n: 1001, noise: 0.0 }, 3, span()).unwrap();
        assert_eq!(class_counts(&ds), [501, 500]);
        let (y, _) = classes(&ds);
        for (i, &label) in y.iter().enumerate() {
            let [a, b] = [ds.row(i)[0], ds.row(i)[1]];
            assert!(a.abs() <= 1.0 && b.abs() <= 1.0);
            assert_eq!(label, i32::from(a * b < 0.0), "row {i}: ({a}, {b})");
        }
        // Points fill each quadrant uniformly: E|x| = 1/2.
        let mean_abs = ds.features.iter().map(|v| f64::from(v.abs())).sum::<f64>() / ds.features.len() as f64;
        assert!((mean_abs - 0.5).abs() < 0.02, "{mean_abs}");
    }

    #[test]
    fn linear_exposes_its_truth() {
        let p = Linear { n: 5000, dim: 3, noise: 0.1, ..Linear::default() };
        let truth = linear_truth(&p, 5, span()).unwrap();
        assert_eq!(truth.weights.len(), 3);
        assert!(truth.weights.iter().all(|w| (-2.0..2.0).contains(w)) && (-1.0..1.0).contains(&truth.bias));
        let ds = linear(&p, 5, span()).unwrap();
        let y = targets(&ds);
        // Residuals against the truth have the noise's spread.
        let residual: Vec<f64> = (0..ds.n)
            .map(|i| {
                let fit: f64 = ds.row(i).iter().zip(&truth.weights).map(|(&x, w)| f64::from(x) * w).sum();
                f64::from(y[i]) - fit - truth.bias
            })
            .collect();
        let rms = (residual.iter().map(|r| r * r).sum::<f64>() / ds.n as f64).sqrt();
        assert!((rms - 0.1).abs() < 0.005, "rms {rms}");
    }

    #[test]
    fn linear_with_given_truth_keeps_the_points() {
        let drawn = Linear { n: 50, dim: 2, noise: 0.0, ..Linear::default() };
        let given = Linear { weights: Some(vec![1.0, -3.0]), bias: Some(0.5), ..drawn.clone() };
        assert_eq!(linear_truth(&given, 9, span()).unwrap(), LinearTruth { weights: vec![1.0, -3.0], bias: 0.5 });
        let (a, b) = (linear(&drawn, 9, span()).unwrap(), linear(&given, 9, span()).unwrap());
        assert_eq!(a.features, b.features);
        let y = targets(&b);
        assert!((y[0] - (b.row(0)[0] - 3.0 * b.row(0)[1] + 0.5)).abs() < 1e-5);
        let huge = linear_truth(&Linear { dim: usize::MAX, ..Linear::default() }, 0, span()).unwrap_err();
        assert_eq!(huge.message, format!("linear: `dim` = {} is too large to hold in memory", usize::MAX));
    }

    #[test]
    fn sine_is_sin_plus_noise() {
        let ds = sine(&Sine { n: 100, noise: 0.0 }, 1, span()).unwrap();
        assert_eq!((ds.n, ds.d), (100, 1));
        let y = targets(&ds);
        for (&x, &t) in ds.features.iter().zip(y) {
            assert!((-PI as f32..PI as f32).contains(&x));
            assert!((t - x.sin()).abs() < 1e-6);
        }
        // Noise changes only the targets.
        assert_eq!(ds.features, sine(&Sine { n: 100, noise: 0.3 }, 1, span()).unwrap().features);
    }

    #[test]
    fn generator_argument_errors() {
        let cases: Vec<(Result<Dataset, Diag>, &str)> = vec![
            (spirals(&Spirals { n: 0, ..Spirals::default() }, 0, span()), "spirals: `n` must be at least 1"),
            (
                spirals(&Spirals { classes: 0, ..Spirals::default() }, 0, span()),
                "spirals: `classes` must be at least 1",
            ),
            (
                spirals(&Spirals { noise: -0.5, ..Spirals::default() }, 0, span()),
                "spirals: `noise` must be a finite number ≥ 0, got -0.5",
            ),
            (
                spirals(&Spirals { turns: f64::NAN, ..Spirals::default() }, 0, span()),
                "spirals: `turns` must be a finite number ≥ 0, got NaN",
            ),
            (blobs(&Blobs { dim: 0, ..Blobs::default() }, 0, span()), "blobs: `dim` must be at least 1"),
            (
                spirals(&Spirals { n: 3, classes: 5, ..Spirals::default() }, 0, span()),
                "spirals: 5 classes need at least 5 points, got n = 3",
            ),
            (
                blobs(&Blobs { n: 2, classes: 3, ..Blobs::default() }, 0, span()),
                "blobs: 3 classes need at least 3 points, got n = 2",
            ),
            (
                blobs(&Blobs { n: 1 << 40, dim: 1 << 30, ..Blobs::default() }, 0, span()),
                "blobs: 1099511627776 × 1073741824 values is too large to hold in memory",
            ),
            (
                xor(&Xor { noise: f64::INFINITY, ..Xor::default() }, 0, span()),
                "xor: `noise` must be a finite number ≥ 0, got inf",
            ),
            (
                linear(&Linear { dim: 2, weights: Some(vec![1.0]), ..Linear::default() }, 0, span()),
                "linear: `weights` has 1 values but `dim` is 2",
            ),
            (
                linear(&Linear { bias: Some(f64::NAN), ..Linear::default() }, 0, span()),
                "linear: `bias` must be finite, got NaN",
            ),
            (
                linear(&Linear { n: 3, dim: usize::MAX, ..Linear::default() }, 0, span()),
                "linear: 3 × 18446744073709551615 values is too large to hold in memory",
            ),
            (sine(&Sine { n: 0, noise: 0.1 }, 0, span()), "sine: `n` must be at least 1"),
        ];
        for (result, message) in cases {
            let d = result.expect_err(message);
            assert_eq!(d.code, "gradc::data::generator");
            assert_eq!(d.message, message);
            assert_eq!(d.label.as_ref().map(|l| l.0), Some(span()));
            assert!(d.help.is_some());
        }
    }
}
