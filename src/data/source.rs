//! A checked `data` declaration, and turning it into a dataset: a generator call, or a CSV,
//! NPY, NPZ or IDX file.

use std::collections::BTreeMap;
use std::path::Path;

use super::array::dataset;
use super::csv::{load_csv, LabelSpec};
use super::errors;
use super::generate as data;
use super::idx::load_idx;
use super::npy::{load_npy, load_npz, origin};
use super::transform::{split, split_rows, standardize};
use super::{Dataset, Labels};
use crate::diag::{Diag, Span};

/// Where training data comes from, as the `data` declaration said.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A built-in synthetic generator with numeric arguments (defaults filled in).
    Generator {
        /// `spirals`, `blobs`, `xor`, `linear` or `sine`.
        name: String,
        /// Arguments by name.
        args: BTreeMap<String, f64>,
    },
    /// A CSV file with a header row.
    Csv {
        /// The path as written, relative to the `.grad` file.
        path: String,
        /// The label column (classification) or target column (regression).
        column: String,
        /// `true` for `label:` (integer classes), `false` for `target:` (regression).
        classes: bool,
    },
    /// Features and labels in two NPY files; integer labels are classes, float ones targets.
    Npy {
        /// The features file, relative to the `.grad` file.
        features: String,
        /// The labels file.
        labels: String,
    },
    /// Features and labels as two arrays of one NPZ archive.
    Npz {
        /// The archive, relative to the `.grad` file.
        path: String,
        /// The features array's name (without `.npy`).
        features: String,
        /// The labels array's name.
        labels: String,
    },
    /// MNIST-style IDX files, plain or gzipped: images `[N, H, W]` and labels `[N]`.
    Idx {
        /// The images file, relative to the `.grad` file.
        images: String,
        /// The labels file.
        labels: String,
    },
}

/// A resolved `data` declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    /// Its name.
    pub name: String,
    /// Where the rows come from.
    pub source: DataSource,
    /// Multiply every feature by this (`|> scale(1/255)`), before standardising.
    pub scale: Option<f64>,
    /// Standardize features to zero mean and unit variance (`|> standardize`).
    pub standardize: bool,
    /// Fraction of rows held out for validation (`|> split(val: 0.2)`).
    pub validation: Option<f64>,
    /// The source expression, for diagnostics about the data.
    pub span: Span,
}

/// Loads or generates the dataset a `data` declaration describes (file paths are relative to
/// `dir`), and splits off the validation rows it asks for, drawn with `seed`.
pub fn load(spec: &DataSpec, dir: &Path, seed: u64) -> Result<(Dataset, Option<Dataset>), Diag> {
    let mut ds = match &spec.source {
        DataSource::Npy { features, labels } => {
            let (x, y) = (dir.join(features), dir.join(labels));
            dataset(load_npy(&x, spec.span)?, &origin(&x, spec.span), load_npy(&y, spec.span)?, &origin(&y, spec.span))?
        }
        DataSource::Npz { path, features, labels } => {
            let mut arrays = load_npz(&dir.join(path), &[features, labels], spec.span)?.into_iter();
            // `load_npz` returns one array per name asked for: two.
            let ((x, xo), (y, yo)) = (arrays.next().expect("features"), arrays.next().expect("labels"));
            dataset(x, &xo, y, &yo)?
        }
        DataSource::Idx { images, labels } => load_idx(&dir.join(images), &dir.join(labels), spec.span)?,
        DataSource::Csv { path, column, classes } => {
            let label =
                if *classes { LabelSpec::Class(column.clone()) } else { LabelSpec::Targets(vec![column.clone()]) };
            load_csv(&dir.join(path), label, spec.span)?
        }
        DataSource::Generator { name, args } => {
            // sema fills in every argument's default, so each lookup succeeds.
            let arg = |k: &str| args[k];
            let count = |k: &str| args[k] as usize;
            let seed = args["seed"] as u64;
            match name.as_str() {
                "spirals" => data::spirals(
                    &data::Spirals {
                        n: count("n"),
                        classes: count("classes"),
                        noise: arg("noise"),
                        turns: arg("turns"),
                    },
                    seed,
                    spec.span,
                )?,
                "blobs" => data::blobs(
                    &data::Blobs { n: count("n"), classes: count("classes"), dim: count("dim"), std: arg("std") },
                    seed,
                    spec.span,
                )?,
                "xor" => data::xor(&data::Xor { n: count("n"), noise: arg("noise") }, seed, spec.span)?,
                "linear" => data::linear(
                    &data::Linear { n: count("n"), dim: count("dim"), noise: arg("noise"), weights: None, bias: None },
                    seed,
                    spec.span,
                )?,
                "random" => data::random(
                    &data::Random { n: count("n"), dim: count("dim"), classes: count("classes") },
                    seed,
                    spec.span,
                )?,
                "sine" => data::sine(&data::Sine { n: count("n"), noise: arg("noise") }, seed, spec.span)?,
                other => unreachable!("sema accepts only known generators, not `{other}`"),
            }
        }
    };
    if let Some(factor) = spec.scale {
        let factor = factor as f32;
        ds.features.iter_mut().for_each(|x| *x *= factor);
    }
    let Some(val) = spec.validation else {
        if spec.standardize {
            standardize(&mut ds);
        }
        return Ok((ds, None));
    };
    let (mut train, mut held_out) = split(&ds, 1.0 - val, seed, spec.span)?;
    if spec.standardize {
        // Statistics of the training rows only, applied to both: no peeking at validation data.
        standardize(&mut train).apply(&mut held_out);
    }
    Ok((train, Some(held_out)))
}

/// Checks that every class label of the rows `load` returned for `spec` and `seed` (`train`,
/// and `val` if it split some off) is below the model's `classes`, naming the first row, in
/// the file's order, that is not.
pub fn check_classes(
    spec: &DataSpec,
    seed: u64,
    train: &Dataset,
    val: Option<&Dataset>,
    classes: usize,
) -> Result<(), Diag> {
    let labels = |ds: &Dataset| match &ds.labels {
        Labels::Classes { y, .. } => y.clone(),
        Labels::None | Labels::Targets { .. } => vec![],
    };
    // The split kept the file's order within each part, so replaying it maps rows back.
    let (train_rows, val_rows) = match val {
        Some(val) => split_rows(train.n + val.n, train.n, seed),
        None => ((0..train.n).collect(), vec![]),
    };
    let val_labels = val.map(labels).unwrap_or_default();
    let rows = train_rows.into_iter().zip(labels(train)).chain(val_rows.into_iter().zip(val_labels));
    match rows.filter(|&(_, y)| y as usize >= classes).min() {
        Some((row, label)) => Err(errors::label_out_of_range(spec.span, &spec.name, row, label, classes)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::tests::span;

    fn spec(validation: Option<f64>) -> DataSpec {
        let source = DataSource::Generator { name: "blobs".into(), args: BTreeMap::new() };
        DataSpec { name: "d".into(), source, scale: None, standardize: false, validation, span: span() }
    }

    #[test]
    fn a_label_outside_the_model_s_classes_names_its_row_in_the_file() {
        let y = vec![0, 1, 0, 1, 0, 1, 3, 1, 4, 0];
        let ds =
            Dataset { features: vec![0.0; 10], n: 10, d: 1, shape: vec![1], labels: Labels::Classes { y, classes: 5 } };
        assert!(check_classes(&spec(None), 0, &ds, None, 5).is_ok());
        let d = check_classes(&spec(None), 0, &ds, None, 3).unwrap_err();
        assert_eq!(d.code, errors::DATA_LABEL);
        let want = "row 6 (counting from 0) of `d` has class label 3, but the model has 3 classes (0 to 2)";
        assert_eq!(d.message, want);
        assert_eq!(d.help.as_deref(), Some("give the model 4 outputs, or fix the labels"));
        // After a split the row is still the file's, whichever part it went to.
        for seed in 0..8 {
            let (train, val) = split(&ds, 0.5, seed, span()).unwrap();
            let d = check_classes(&spec(Some(0.5)), seed, &train, Some(&val), 2).unwrap_err();
            assert_eq!(
                d.message,
                "row 6 (counting from 0) of `d` has class label 3, but the model has 2 classes (0 to 1)"
            );
        }
    }
}
