//! Data, upstream of compilation: datasets held in memory, read from files (CSV, NPY, NPZ, IDX) or made
//! by synthetic generators, then standardised and split as the `data` declaration asks. The
//! elaborator learns the data's shape from here; the runtime only copies rows out.
//!
//! A reader for another format is a sibling of [`csv`], [`npy`] and [`idx`] that returns a
//! [`Dataset`] (or [`array::Array`]s), and a [`source::DataSource`] variant that
//! [`source::load`] dispatches to it. Their diagnostics are in [`errors`].

pub mod array;
pub mod buffer;
pub mod csv;
pub mod errors;
pub mod generate;
pub mod glyphs;
pub mod idx;
pub mod inputs;
pub mod npy;
pub mod source;
pub mod transform;

pub use buffer::Buffer;
pub use source::{load, DataSource, DataSpec};

/// A dataset held in memory: `n` rows of `d` features, and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major `[n, d]` features (each row in C order when its shape has several dimensions).
    pub features: Buffer<f32>,
    /// Number of rows.
    pub n: usize,
    /// Number of features per row: the product of `shape`.
    pub d: usize,
    /// The shape of one row's features: `[d]` for a table, `[C, H, W]` for images.
    pub shape: Vec<usize>,
    /// Labels, one per row (or none).
    pub labels: Labels,
}

/// The labels of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Unlabelled data.
    None,
    /// One class index in `0..classes` per row.
    Classes {
        /// Class index of each row.
        y: Vec<i32>,
        /// Number of classes.
        classes: usize,
    },
    /// Regression targets: row-major `[n, k]`.
    Targets {
        /// Target values.
        y: Vec<f32>,
        /// Targets per row.
        k: usize,
    },
}

impl Dataset {
    /// The features of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.d..(i + 1) * self.d]
    }

    /// A new dataset of the given rows, in the given order.
    pub(crate) fn select(&self, rows: &[usize]) -> Dataset {
        let features = rows.iter().flat_map(|&i| self.row(i)).copied().collect();
        let labels = match &self.labels {
            Labels::None => Labels::None,
            Labels::Classes { y, classes } => {
                Labels::Classes { y: rows.iter().map(|&i| y[i]).collect(), classes: *classes }
            }
            Labels::Targets { y, k } => {
                Labels::Targets { y: rows.iter().flat_map(|&i| &y[i * k..(i + 1) * k]).copied().collect(), k: *k }
            }
        };
        Dataset { features, n: rows.len(), d: self.d, shape: self.shape.clone(), labels }
    }
}

/// Caller-owned label buffer for one batch, matching the dataset's [`Labels`].
#[derive(Debug)]
pub enum LabelsOut<'a> {
    /// The dataset is unlabelled.
    None,
    /// Room for at least `batch_size` class indices.
    Classes(&'a mut [i32]),
    /// Room for at least `batch_size · k` targets.
    Targets(&'a mut [f32]),
}

impl Dataset {
    /// Copies the features of `rows`, in that order, into the front of `out` (row-major).
    ///
    /// # Panics
    /// If `out` is too small.
    pub fn copy_features(&self, rows: &[usize], out: &mut [f32]) {
        let d = self.d;
        assert!(out.len() >= rows.len() * d, "feature buffer of {} for {} rows of {d}", out.len(), rows.len());
        for (j, &i) in rows.iter().enumerate() {
            out[j * d..(j + 1) * d].copy_from_slice(self.row(i));
        }
    }

    /// Copies the labels of `rows`, in that order, into the front of `out`.
    ///
    /// # Panics
    /// If `out` is too small or of another kind than the dataset's labels.
    pub fn copy_labels(&self, rows: &[usize], out: LabelsOut<'_>) {
        match (&self.labels, out) {
            (Labels::None, LabelsOut::None) => {}
            (Labels::Classes { y, .. }, LabelsOut::Classes(out)) => {
                assert!(out.len() >= rows.len(), "label buffer of {} for {} rows", out.len(), rows.len());
                for (dst, &i) in out.iter_mut().zip(rows) {
                    *dst = y[i];
                }
            }
            (Labels::Targets { y, k }, LabelsOut::Targets(out)) => {
                assert!(out.len() >= rows.len() * k, "target buffer of {} for {} rows of {k}", out.len(), rows.len());
                for (j, &i) in rows.iter().enumerate() {
                    out[j * k..(j + 1) * k].copy_from_slice(&y[i * k..(i + 1) * k]);
                }
            }
            (labels, out) => panic!("label buffer {out:?} does not match dataset labels {}", labels_kind(labels)),
        }
    }
}

/// A short name for a label kind, for panic messages.
fn labels_kind(labels: &Labels) -> &'static str {
    match labels {
        Labels::None => "none",
        Labels::Classes { .. } => "classes",
        Labels::Targets { .. } => "targets",
    }
}
