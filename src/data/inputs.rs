//! Rows to predict from (`gradc predict --input X.npy|X.csv`): read, checked against the shape
//! of the rows the model was trained on, and preprocessed as they were.

use std::path::Path;

use super::array::{features, Array};
use super::csv::{load_csv, LabelSpec};
use super::errors::{self, Origin};
use super::npy::{load_npy, origin};
use super::source::{scale, DataSource, DataSpec};
use super::transform::Scaling;
use super::Dataset;
use crate::diag::Diag;

/// Reads the rows of features in the `.npy` or `.csv` file at `path` for a model trained on
/// the data `spec` declares, whose rows have shape `row`, and preprocesses them as those were:
/// `spec`'s `scale`, then the training statistics `scaling`.
///
/// An NPY array must have shape `[N, ...row]`; a CSV file one column per feature (in the order
/// the training file has them; its label or target columns, if present, are left out).
/// Diagnostics name the file; they point at no source, the path came from the command line.
pub fn load_inputs(path: &Path, spec: &DataSpec, row: &[usize], scaling: Option<&Scaling>) -> Result<Dataset, Diag> {
    let file = path.display().to_string();
    let ds = match extension(path).as_deref() {
        Some("npy") => {
            let array = load_npy(path, spec.span).map_err(unlabelled)?;
            return from_array(array, &origin(path, spec.span), spec, row, scaling);
        }
        Some("csv") => {
            let labels = match &spec.source {
                DataSource::Csv { columns, .. } => columns.clone(),
                DataSource::Generator { .. }
                | DataSource::Npy { .. }
                | DataSource::Npz { .. }
                | DataSource::Idx { .. } => vec![],
            };
            let mut ds = load_csv(path, LabelSpec::Without(labels), spec.span).map_err(unlabelled)?;
            let d: usize = row.iter().product();
            if ds.d != d {
                return Err(errors::inputs_columns(&file, ds.d, d));
            }
            ds.shape = row.to_vec();
            ds
        }
        _ => return Err(errors::inputs_format(&file)),
    };
    Ok(preprocess(spec, ds, scaling))
}

/// The rows of features in `array` (read from the file `o` names, or a caller's array named so)
/// for a model trained on the data `spec` declares, whose rows have shape `row`: checked to be
/// of shape `[N, ...row]` and preprocessed as [`load_inputs`] preprocesses a file's.
pub fn from_array(
    array: Array,
    o: &Origin,
    spec: &DataSpec,
    row: &[usize],
    scaling: Option<&Scaling>,
) -> Result<Dataset, Diag> {
    if array.shape.get(1..) != Some(row) {
        return Err(errors::inputs_shape(&o.file, &array.shape, row));
    }
    let ds = features(array, o).map_err(unlabelled)?;
    Ok(preprocess(spec, ds, scaling))
}

/// Rows preprocessed as the training rows were: `spec`'s `scale`, then the statistics `scaling`.
pub fn preprocess(spec: &DataSpec, mut ds: Dataset, scaling: Option<&Scaling>) -> Dataset {
    scale(spec, &mut ds);
    if let Some(s) = scaling {
        s.apply(&mut ds);
    }
    ds
}

/// A path's extension, lower case.
pub fn extension(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_lowercase())
}

/// A reader's diagnostic without its pointer at the `data` declaration: the file it is about
/// came from the command line.
fn unlabelled(mut d: Diag) -> Diag {
    d.label = None;
    d
}
