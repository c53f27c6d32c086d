//! What a `data` declaration's pipeline does to loaded rows: `|> standardize` and
//! `|> split(val: ..., test: ...)`.

use super::Dataset;
use crate::diag::{Diag, Span};
use crate::rng::Rng;

/// The statistics `|> standardize` maps features with: a mean and a standard deviation for
/// each index of a row's first axis — each feature of `[N, F]` data, each channel of
/// `[N, C, H, W]` images — taken over every row and the row's other axes, as sklearn's
/// `StandardScaler` (for tables) and torchvision's `Normalize` (for images) apply them.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Mean of each feature or channel.
    pub mean: Vec<f32>,
    /// Population standard deviation of each feature or channel; 1 for a constant one (left
    /// centred only).
    pub std: Vec<f32>,
}

/// How many statistics [`Scaling`] keeps for rows of `shape`: the length of its first axis.
pub fn channels(shape: &[usize]) -> usize {
    shape.first().copied().unwrap_or(1)
}

impl Scaling {
    /// The statistics of `ds`'s rows. Accumulated in f64 over two passes (mean, then squared
    /// deviations), so a large offset costs no precision.
    pub fn of(ds: &Dataset) -> Scaling {
        let c = channels(&ds.shape);
        let inner = ds.d.checked_div(c).unwrap_or(0);
        let count = (ds.n * inner) as f64;
        if ds.n == 0 || inner == 0 {
            return Scaling { mean: vec![0.0; c], std: vec![1.0; c] };
        }
        let mut sum = vec![0.0f64; c];
        for_each_channel(ds, inner, |ch, x| sum[ch] += f64::from(x));
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let mut sq = vec![0.0f64; c];
        for_each_channel(ds, inner, |ch, x| sq[ch] += (f64::from(x) - mean[ch]).powi(2));
        let std = sq.iter().map(|s| (s / count).sqrt()).map(|s| if s > 0.0 { s as f32 } else { 1.0 }).collect();
        Scaling { mean: mean.iter().map(|&m| m as f32).collect(), std }
    }

    /// Maps each feature to `(x - mean) / std` with the statistics of its feature or channel,
    /// e.g. a test set with the training set's statistics.
    ///
    /// # Panics
    /// If the dataset's rows have another number of features or channels than this scaling.
    pub fn apply(&self, ds: &mut Dataset) {
        let c = channels(&ds.shape);
        assert_eq!(c, self.mean.len(), "scaling for {} channels applied to {c}", self.mean.len());
        if ds.d == 0 {
            return;
        }
        let inner = ds.d / c;
        for row in ds.features.to_mut().chunks_exact_mut(ds.d) {
            for ((run, m), s) in row.chunks_exact_mut(inner).zip(&self.mean).zip(&self.std) {
                run.iter_mut().for_each(|x| *x = (*x - m) / s);
            }
        }
    }
}

/// Calls `f(channel, x)` for every feature `x` of every row, where a row is `channels` runs of
/// `inner` features.
fn for_each_channel(ds: &Dataset, inner: usize, mut f: impl FnMut(usize, f32)) {
    for row in ds.features.chunks_exact(ds.d) {
        for (ch, run) in row.chunks_exact(inner).enumerate() {
            run.iter().for_each(|&x| f(ch, x));
        }
    }
}

/// Rescales every feature (or channel) to mean 0 and standard deviation 1 and returns the
/// scaling used. Labels and targets are left alone.
pub fn standardize(ds: &mut Dataset) -> Scaling {
    let scaling = Scaling::of(ds);
    scaling.apply(ds);
    scaling
}

/// Splits rows at random into a training set of `round(n · train_frac)` rows and a test set of
/// the rest; each keeps the original row order. `span` is the expression that asked for it.
pub fn split(ds: &Dataset, train_frac: f64, seed: u64, span: Span) -> Result<(Dataset, Dataset), Diag> {
    if !(train_frac > 0.0 && train_frac < 1.0) {
        return Err(Diag::new(
            "gradc::data::split",
            format!("the training fraction must lie strictly between 0 and 1, got {train_frac}"),
        )
        .at(span, "split here")
        .help("e.g. 0.8 keeps 80% of the rows for training and 20% for testing"));
    }
    let n_train = (ds.n as f64 * train_frac).round() as usize;
    if n_train == 0 || n_train == ds.n {
        let empty = if n_train == 0 { "training" } else { "test" };
        return Err(empty_part(ds.n, &format!("at {train_frac}"), empty, span));
    }
    let (train, test, _) = split_rows(ds.n, n_train, ds.n - n_train, seed);
    Ok((ds.select(&train), ds.select(&test)))
}

/// The parts `|> split(val: v, test: t)` makes of `ds`: the training rows, and the validation
/// and test rows when their fraction is given, each in the original order. The test set has
/// `round(n·t)` rows and the training set `round(n·(1−v−t))`, the validation set the rest; so
/// without a test fraction the parts are [`split`]'s at `1 − v`, and the test rows are the
/// same whatever `v` is. Fractions are checked by sema: each in (0, 1), their sum below 1.
pub fn split_parts(
    ds: Dataset,
    val: Option<f64>,
    test: Option<f64>,
    seed: u64,
    span: Span,
) -> Result<(Dataset, Option<Dataset>, Option<Dataset>), Diag> {
    if val.is_none() && test.is_none() {
        // The rows as they are: no copy of what may be most of the process's memory.
        return Ok((ds, None, None));
    }
    let n = ds.n;
    let rows = |f: f64| ((n as f64 * f).round() as usize).min(n);
    let n_test = test.map_or(0, rows);
    let n_train = match val {
        Some(v) => rows(1.0 - v - test.unwrap_or(0.0)).min(n - n_test),
        None => n - n_test,
    };
    let n_val = n - n_train - n_test;
    let how = match (val, test) {
        (Some(v), Some(t)) => format!("with val: {v}, test: {t}"),
        (Some(v), None) => format!("with val: {v}"),
        (None, _) => format!("with test: {}", test.unwrap_or(0.0)),
    };
    let parts = [(true, n_train, "training"), (val.is_some(), n_val, "validation"), (test.is_some(), n_test, "test")];
    if let Some((_, _, part)) = parts.iter().find(|(asked, rows, _)| *asked && *rows == 0) {
        return Err(empty_part(n, &how, part, span));
    }
    let (train, held, tested) = split_rows(n, n_train, n_val, seed);
    let part = |asked: bool, rows: &[usize]| asked.then(|| ds.select(rows));
    Ok((ds.select(&train), part(val.is_some(), &held), part(test.is_some(), &tested)))
}

/// The diagnostic for a split of `n` rows (`how`) that leaves `part` empty.
fn empty_part(n: usize, how: &str, part: &str, span: Span) -> Diag {
    Diag::new("gradc::data::split", format!("splitting {n} rows {how} leaves the {part} set empty"))
        .at(span, "split here")
        .help("use more data or a fraction nearer 0.5")
}

/// The rows of `n` that [`split_parts`] puts in the training set of `n_train` rows, the
/// validation set of `n_val` rows and the test set of the rest, each in the original order:
/// one shuffle, whose first rows train and whose last rows test.
pub(crate) fn split_rows(n: usize, n_train: usize, n_val: usize, seed: u64) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut order);
    let mut test = order.split_off(n_train + n_val);
    let mut val = order.split_off(n_train);
    order.sort_unstable();
    val.sort_unstable();
    test.sort_unstable();
    (order, val, test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::tests::{classes, span, targets};
    use crate::data::generate::{blobs, xor, Blobs, Xor};
    use crate::data::Labels;

    #[test]
    fn standardize_gives_zero_mean_unit_std() {
        let mut ds = Dataset {
            features: vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0].into(),
            n: 3,
            d: 2,
            shape: vec![2],
            labels: Labels::Targets { y: vec![10.0, 20.0, 30.0], k: 1 },
        };
        let scaling = standardize(&mut ds);
        assert_eq!(scaling.mean, [3.0, 5.0]);
        // Population std of [1, 3, 5] is √(8/3); the constant column keeps scale 1.
        assert_eq!(scaling.std, [(8.0f64 / 3.0).sqrt() as f32, 1.0]);
        let s = (1.5f64).sqrt() as f32;
        let want = [-s, 0.0, 0.0, 0.0, s, 0.0];
        assert!(ds.features.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6), "{:?}", ds.features);
        assert_eq!(targets(&ds), [10.0, 20.0, 30.0]);
        // Applying the same scaling to new data uses the training statistics.
        let mut test = Dataset { features: vec![3.0, 7.0].into(), n: 1, d: 2, shape: vec![2], labels: Labels::None };
        scaling.apply(&mut test);
        assert_eq!(test.features, [0.0, 2.0]);
    }

    #[test]
    fn images_are_standardized_per_channel() {
        // Two images of 2 channels × 2 pixels: channel 0 holds 0, 2, 4, 6; channel 1 holds 10 everywhere.
        let features = vec![0.0, 2.0, 10.0, 10.0, 4.0, 6.0, 10.0, 10.0];
        let mut ds = Dataset { features: features.into(), n: 2, d: 4, shape: vec![2, 1, 2], labels: Labels::None };
        let scaling = standardize(&mut ds);
        // As torchvision's Normalize with the population std over N, H and W (numpy's x.std()).
        assert_eq!(scaling.mean, [3.0, 10.0]);
        assert_eq!(scaling.std, [5.0f32.sqrt(), 1.0]);
        let s = 5.0f32.sqrt();
        assert_eq!(ds.features, [-3.0 / s, -1.0 / s, 0.0, 0.0, 1.0 / s, 3.0 / s, 0.0, 0.0]);
        assert_eq!(channels(&[784]), 784, "a table has one statistic per feature");
        assert_eq!(channels(&[3, 28, 28]), 3, "images one per channel");
    }

    #[test]
    fn split_parts_without_a_test_fraction_is_split() {
        let ds = blobs(&Blobs { n: 101, ..Blobs::default() }, 1, span()).unwrap();
        for seed in 0..4 {
            let (train, val) = split(&ds, 0.8, seed, span()).unwrap();
            assert_eq!(split_parts(ds.clone(), Some(0.2), None, seed, span()).unwrap(), (train, Some(val), None));
        }
        assert_eq!(split_parts(ds.clone(), None, None, 0, span()).unwrap(), (ds.clone(), None, None));
    }

    #[test]
    fn split_parts_partitions_three_ways_and_keeps_the_test_rows_whatever_the_validation_fraction() {
        let ds = blobs(&Blobs { n: 100, ..Blobs::default() }, 1, span()).unwrap();
        let (train, val, test) = split_parts(ds.clone(), Some(0.1), Some(0.2), 3, span()).unwrap();
        let (val, test) = (val.unwrap(), test.unwrap());
        assert_eq!((train.n, val.n, test.n), (70, 10, 20));
        let key = |p: &Dataset| -> Vec<Vec<u32>> {
            (0..p.n).map(|i| p.row(i).iter().map(|v| v.to_bits()).collect()).collect()
        };
        let mut all: Vec<Vec<u32>> = [&train, &val, &test].iter().flat_map(|p| key(p)).collect();
        let mut want = key(&ds);
        all.sort();
        want.sort();
        assert_eq!(all, want, "every row lands in exactly one part");
        let (_, none, same) = split_parts(ds.clone(), None, Some(0.2), 3, span()).unwrap();
        assert_eq!((none, same.as_ref()), (None, Some(&test)), "the test rows do not depend on `val`");
        let (_, _, same) = split_parts(ds.clone(), Some(0.3), Some(0.2), 3, span()).unwrap();
        assert_eq!(same.as_ref(), Some(&test));
    }

    #[test]
    fn a_split_that_leaves_a_part_empty_names_it() {
        let ds = xor(&Xor { n: 10, noise: 0.0 }, 1, span()).unwrap();
        for (val, test, message) in [
            (Some(0.04), Some(0.5), "splitting 10 rows with val: 0.04, test: 0.5 leaves the validation set empty"),
            (None, Some(0.04), "splitting 10 rows with test: 0.04 leaves the test set empty"),
            (Some(0.5), Some(0.46), "splitting 10 rows with val: 0.5, test: 0.46 leaves the training set empty"),
        ] {
            let d = split_parts(ds.clone(), val, test, 0, span()).expect_err(message);
            assert_eq!((d.code, d.message.as_str()), ("gradc::data::split", message));
        }
    }

    #[test]
    fn split_partitions_rows_reproducibly() {
        let ds = blobs(&Blobs { n: 100, ..Blobs::default() }, 1, span()).unwrap();
        let (train, test) = split(&ds, 0.8, 4, span()).unwrap();
        assert_eq!((train.n, test.n), (80, 20));
        assert_eq!((train.features.len(), classes(&test).0.len()), (160, 20));
        // Every original row lands in exactly one part, with its label.
        let mut rows: Vec<(Vec<u32>, i32)> = [&train, &test]
            .iter()
            .flat_map(|p| (0..p.n).map(|i| (p.row(i).iter().map(|v| v.to_bits()).collect(), classes(p).0[i])))
            .collect();
        let mut want: Vec<(Vec<u32>, i32)> =
            (0..ds.n).map(|i| (ds.row(i).iter().map(|v| v.to_bits()).collect(), classes(&ds).0[i])).collect();
        rows.sort();
        want.sort();
        assert_eq!(rows, want);
        assert_eq!((train.clone(), test.clone()), split(&ds, 0.8, 4, span()).unwrap());
        assert_ne!(train, split(&ds, 0.8, 5, span()).unwrap().0);
    }

    #[test]
    fn split_errors() {
        let ds = xor(&Xor { n: 10, noise: 0.0 }, 1, span()).unwrap();
        for (frac, message) in [
            (1.0, "the training fraction must lie strictly between 0 and 1, got 1"),
            (f64::NAN, "the training fraction must lie strictly between 0 and 1, got NaN"),
            (0.01, "splitting 10 rows at 0.01 leaves the training set empty"),
            (0.96, "splitting 10 rows at 0.96 leaves the test set empty"),
        ] {
            let d = split(&ds, frac, 0, span()).expect_err(message);
            assert_eq!((d.code, d.message.as_str()), ("gradc::data::split", message));
        }
    }
}
