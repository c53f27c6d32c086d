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
use super::transform::{channels, split_parts, split_rows, Scaling};
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
        /// The label column (classification), or the target columns in order (regression).
        columns: Vec<String>,
        /// `true` for `label:` (integer classes), `false` for `target:`/`targets:` (regression).
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
    /// Fraction of rows held out as the test set (`|> split(test: 0.2)`).
    pub test: Option<f64>,
    /// The source expression, for diagnostics about the data.
    pub span: Span,
}

/// The rows of the training declaration, split as it asks and standardized with the
/// statistics of the training rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// The rows trained on.
    pub train: Dataset,
    /// The rows `|> split(val: ...)` held out for validation.
    pub val: Option<Dataset>,
    /// The rows `|> split(test: ...)` held out as the test set.
    pub test: Option<Dataset>,
    /// The statistics every part was standardized with, when the declaration standardizes.
    pub scaling: Option<Scaling>,
}

/// Loads the training declaration `spec` (file paths relative to `dir`), splits off the
/// validation and test rows it asks for, drawn with `seed`, and standardizes every part with
/// the training rows' statistics, or with `stored` ones (from a checkpoint, named by `from`
/// in diagnostics) when given.
pub fn load(spec: &DataSpec, dir: &Path, seed: u64, stored: Option<(&Scaling, &str)>) -> Result<Splits, Diag> {
    prepare(spec, read(spec, dir)?, seed, stored)
}

/// Splits and standardizes rows read for the training declaration `spec` (by [`read`], or
/// given by a caller and [`scale`]d) as [`load`] does.
pub fn prepare(spec: &DataSpec, ds: Dataset, seed: u64, stored: Option<(&Scaling, &str)>) -> Result<Splits, Diag> {
    let (mut train, mut val, mut test) = split_parts(ds, spec.validation, spec.test, seed, spec.span)?;
    let scaling = match (spec.standardize, stored) {
        (false, None) => None,
        (false, Some((_, from))) => return Err(errors::scaling_unused(spec.span, &spec.name, from)),
        (true, Some((s, from))) => {
            check_channels(spec, &train, s, from)?;
            Some(s.clone())
        }
        // Statistics of the training rows only: no peeking at validation or test data.
        (true, None) => Some(Scaling::of(&train)),
    };
    if let Some(s) = &scaling {
        for part in std::iter::once(&mut train).chain(val.as_mut()).chain(test.as_mut()) {
            s.apply(part);
        }
    }
    Ok(Splits { train, val, test, scaling })
}

/// Loads a declaration whose rows feed the model trained on another (validation, test and
/// `gradc eval --data` sets): read as `spec` says and standardized with the training
/// statistics `scaling`, if any. Sema has given `spec` the training declaration's `scale` and
/// `standardize`, and no split.
pub fn load_for(spec: &DataSpec, dir: &Path, scaling: Option<&Scaling>) -> Result<Dataset, Diag> {
    let mut ds = read(spec, dir)?;
    if let Some(s) = scaling {
        check_channels(spec, &ds, s, "the training rows")?;
        s.apply(&mut ds);
    }
    Ok(ds)
}

/// Checks that statistics `s` (from `from`) fit the rows of `ds`, loaded for `spec`.
fn check_channels(spec: &DataSpec, ds: &Dataset, s: &Scaling, from: &str) -> Result<(), Diag> {
    match channels(&ds.shape) {
        c if c == s.mean.len() => Ok(()),
        c => Err(errors::scaling_channels(spec.span, &spec.name, &ds.shape, c, s.mean.len(), from)),
    }
}

/// Reads or generates the rows a declaration names, scaled as it says (`|> scale`), before any
/// split or standardization.
pub fn read(spec: &DataSpec, dir: &Path) -> Result<Dataset, Diag> {
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
        DataSource::Csv { path, columns, classes } => {
            let label =
                if *classes { LabelSpec::Class(columns[0].clone()) } else { LabelSpec::Targets(columns.clone()) };
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
    scale(spec, &mut ds);
    Ok(ds)
}

/// Multiplies every feature of rows loaded for `spec` by its `|> scale` factor, if it has one.
pub fn scale(spec: &DataSpec, ds: &mut Dataset) {
    if let Some(factor) = spec.scale {
        let factor = factor as f32;
        ds.features.to_mut().iter_mut().for_each(|x| *x *= factor);
    }
}

/// Checks that every class label of the rows `load` returned for `spec` and `seed` (`train`,
/// and the `val` and `test` parts if it split them off) is below the model's `classes`,
/// naming the first row, in the file's order, that is not.
pub fn check_classes(
    spec: &DataSpec,
    seed: u64,
    train: &Dataset,
    val: Option<&Dataset>,
    test: Option<&Dataset>,
    classes: usize,
) -> Result<(), Diag> {
    let labels = |ds: Option<&Dataset>| match ds.map(|d| &d.labels) {
        Some(Labels::Classes { y, .. }) => y.clone(),
        Some(Labels::None | Labels::Targets { .. }) | None => vec![],
    };
    let rows = |ds: Option<&Dataset>| ds.map_or(0, |d| d.n);
    let (n_train, n_val) = (train.n, rows(val));
    // The split kept the file's order within each part, so replaying it maps rows back.
    let (train_rows, val_rows, test_rows) = split_rows(n_train + n_val + rows(test), n_train, n_val, seed);
    let numbered = train_rows
        .into_iter()
        .zip(labels(Some(train)))
        .chain(val_rows.into_iter().zip(labels(val)))
        .chain(test_rows.into_iter().zip(labels(test)));
    match numbered.filter(|&(_, y)| y as usize >= classes).min() {
        Some((row, label)) => Err(errors::label_out_of_range(spec.span, &spec.name, row, label, classes)),
        None => Ok(()),
    }
}

/// Checks that `ds`, loaded for `spec`, has rows and labels of the kind of the training data
/// `train` (declared as `train_name`), so a model trained on one can be scored on the other.
pub fn check_like(spec: &DataSpec, ds: &Dataset, train: &Dataset, train_name: &str) -> Result<(), Diag> {
    if ds.shape != train.shape {
        return Err(errors::rows_unlike(spec.span, &spec.name, &ds.shape, train_name, &train.shape));
    }
    let (mine, theirs) = (labels_kind(&ds.labels), labels_kind(&train.labels));
    if mine != theirs {
        return Err(errors::labels_unlike(spec.span, &spec.name, &mine, train_name, &theirs));
    }
    Ok(())
}

/// The kind of labels rows have, as diagnostics name it ("class labels", "one regression target").
pub fn labels_kind(l: &Labels) -> String {
    match l {
        Labels::None => "no labels".to_string(),
        Labels::Classes { .. } => "class labels".to_string(),
        Labels::Targets { k: 1, .. } => "one regression target".to_string(),
        Labels::Targets { k, .. } => format!("{k} regression targets"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::tests::span;

    fn spec(validation: Option<f64>, test: Option<f64>) -> DataSpec {
        let source = DataSource::Generator { name: "blobs".into(), args: BTreeMap::new() };
        DataSpec { name: "d".into(), source, scale: None, standardize: false, validation, test, span: span() }
    }

    #[test]
    fn a_label_outside_the_model_s_classes_names_its_row_in_the_file() {
        let y = vec![0, 1, 0, 1, 0, 1, 3, 1, 4, 0];
        let ds = Dataset {
            features: vec![0.0; 10].into(),
            n: 10,
            d: 1,
            shape: vec![1],
            labels: Labels::Classes { y, classes: 5 },
        };
        assert!(check_classes(&spec(None, None), 0, &ds, None, None, 5).is_ok());
        let d = check_classes(&spec(None, None), 0, &ds, None, None, 3).unwrap_err();
        assert_eq!(d.code, errors::DATA_LABEL);
        let want = "row 6 (counting from 0) of `d` has class label 3, but the model has 3 classes (0 to 2)";
        assert_eq!(d.message, want);
        assert_eq!(d.help.as_deref(), Some("give the model 4 outputs, or fix the labels"));
        // After a split the row is still the file's, whichever part it went to.
        for seed in 0..8 {
            for (val, test) in [(Some(0.5), None), (Some(0.3), Some(0.3)), (None, Some(0.4))] {
                let (train, val_part, test_part) = split_parts(ds.clone(), val, test, seed, span()).unwrap();
                let d = check_classes(&spec(val, test), seed, &train, val_part.as_ref(), test_part.as_ref(), 2)
                    .unwrap_err();
                assert_eq!(
                    d.message,
                    "row 6 (counting from 0) of `d` has class label 3, but the model has 2 classes (0 to 1)"
                );
            }
        }
    }
}
