//! What a `data` declaration's pipeline does to loaded rows: `|> standardize` and `|> split(val: ...)`.

use super::Dataset;
use crate::diag::{Diag, Span};
use crate::rng::Rng;

/// Per-feature mean and standard deviation, as applied by [`standardize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Population standard deviation of each feature; 1 for a constant feature (left centred only).
    pub std: Vec<f32>,
}

impl Scaling {
    /// Maps each feature to `(x - mean) / std`, e.g. a test set with the training set's scaling.
    ///
    /// # Panics
    /// If the dataset's feature count differs from this scaling's.
    pub fn apply(&self, ds: &mut Dataset) {
        assert_eq!(ds.d, self.mean.len(), "scaling for {} features applied to {}", self.mean.len(), ds.d);
        if ds.d == 0 {
            return;
        }
        for row in ds.features.chunks_exact_mut(ds.d) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
    }
}

/// Rescales every feature to mean 0 and standard deviation 1 and returns the scaling used.
///
/// Labels and targets are left alone. Statistics are accumulated in f64.
pub fn standardize(ds: &mut Dataset) -> Scaling {
    let (d, n) = (ds.d, ds.n as f64);
    if d == 0 || ds.n == 0 {
        return Scaling { mean: vec![0.0; d], std: vec![1.0; d] };
    }
    let mut sum = vec![0.0f64; d];
    for row in ds.features.chunks_exact(d) {
        for (s, &x) in sum.iter_mut().zip(row) {
            *s += f64::from(x);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let mut sq = vec![0.0f64; d];
    for row in ds.features.chunks_exact(d) {
        for ((s, &x), m) in sq.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(x) - m).powi(2);
        }
    }
    let std = sq.iter().map(|s| (s / n).sqrt()).map(|s| if s > 0.0 { s as f32 } else { 1.0 }).collect();
    let scaling = Scaling { mean: mean.iter().map(|&m| m as f32).collect(), std };
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
        return Err(Diag::new(
            "gradc::data::split",
            format!("splitting {} rows at {train_frac} leaves the {empty} set empty", ds.n),
        )
        .at(span, "split here")
        .help("use more data or a fraction nearer 0.5"));
    }
    let (train, test) = split_rows(ds.n, n_train, seed);
    Ok((ds.select(&train), ds.select(&test)))
}

/// The rows of `n` that [`split`] puts in the training set of `n_train` rows and in the test
/// set, each in the original order.
pub(crate) fn split_rows(n: usize, n_train: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut order);
    let mut test = order.split_off(n_train);
    order.sort_unstable();
    test.sort_unstable();
    (order, test)
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
            features: vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0],
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
        let mut test = Dataset { features: vec![3.0, 7.0], n: 1, d: 2, shape: vec![2], labels: Labels::None };
        scaling.apply(&mut test);
        assert_eq!(test.features, [0.0, 2.0]);
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
