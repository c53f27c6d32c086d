//! Typed n-dimensional arrays as the NPY, NPZ and IDX readers return them, and the dataset a
//! features array and a labels array make.

use std::path::Path;

use super::errors::{self, Origin};
use super::{Buffer, Dataset, Labels};

/// The elements of an [`Array`], in C order, in their stored type.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// 32-bit floats.
    F32(Buffer<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 32-bit signed integers (IDX's i8 and i16 widened to them).
    I32(Vec<i32>),
    /// 64-bit signed integers.
    I64(Vec<i64>),
    /// Bytes.
    U8(Vec<u8>),
}

/// An n-dimensional array read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub values: Values,
}

/// The most bytes a data file (or what a gzipped one decompresses to) may hold.
pub(crate) const MAX_DATA_BYTES: u64 = 4 << 30;

/// Reads a whole regular file, with a diagnostic for every path that cannot be one.
pub(crate) fn read(path: &Path, o: &Origin) -> Result<Vec<u8>, crate::diag::Diag> {
    crate::files::read_regular(path, MAX_DATA_BYTES).map_err(|r| errors::refused(o, r))
}

/// The number of elements of `shape`, or `None` on overflow.
pub(crate) fn elements(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Features as f32, checking each is finite; `row` is the number of elements per row.
fn finite_f32(values: Values, row: usize, o: &Origin) -> Result<Buffer<f32>, crate::diag::Diag> {
    let x: Buffer<f32> = match values {
        // Read in place when a caller lent them.
        Values::F32(v) => v,
        // A value beyond f32's range becomes infinite, and the check below rejects it.
        Values::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::I32(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::I64(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::U8(v) => v.into_iter().map(f32::from).collect(),
    };
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(errors::not_finite(o, i / row)),
        None => Ok(x),
    }
}

/// Class labels from integers, checking each is in `0..=i32::MAX`.
fn classes(values: &[i64], o: &Origin) -> Result<Vec<i32>, crate::diag::Diag> {
    values
        .iter()
        .enumerate()
        .map(|(row, &v)| i32::try_from(v).ok().filter(|&c| c >= 0).ok_or_else(|| errors::bad_class(o, row, v)))
        .collect()
}

/// The rows of features `x` (shape `[N, ...]`; each row keeps the rest of the shape) as an
/// unlabelled dataset, every value checked to be a finite f32.
pub fn features(x: Array, xo: &Origin) -> Result<Dataset, crate::diag::Diag> {
    let (n, shape) = match x.shape.split_first() {
        Some((&n, row)) if !row.is_empty() && n > 0 && row.iter().all(|&d| d > 0) => (n, row.to_vec()),
        _ => return Err(errors::features_shape(xo, &x.shape)),
    };
    let d: usize = shape.iter().product();
    let features = finite_f32(x.values, d, xo)?;
    Ok(Dataset { features, n, d, shape, labels: Labels::None })
}

/// The dataset of features `x` (shape `[N, ...]`; each row keeps the rest of the shape) and
/// labels `y`: integers are class labels (`[N]`), floats regression targets (`[N]` or `[N, K]`).
pub fn dataset(x: Array, xo: &Origin, y: Array, yo: &Origin) -> Result<Dataset, crate::diag::Diag> {
    let Dataset { features, n, d, shape, .. } = features(x, xo)?;
    let integral = matches!(y.values, Values::I32(_) | Values::I64(_) | Values::U8(_));
    let m = y.shape.first().copied().unwrap_or(0);
    let k = match y.shape[..] {
        [_] => 1,
        [_, k] if !integral && k > 0 => k,
        _ => return Err(errors::labels_shape(yo, &y.shape, integral)),
    };
    if m != n {
        return Err(errors::row_counts(xo, n, yo, m));
    }
    let labels = match y.values {
        Values::I32(v) => class_labels(classes(&v.into_iter().map(i64::from).collect::<Vec<_>>(), yo)?),
        Values::I64(v) => class_labels(classes(&v, yo)?),
        Values::U8(v) => class_labels(v.into_iter().map(i32::from).collect()),
        Values::F32(v) => Labels::Targets { y: finite_f32(Values::F32(v), k, yo)?.into_vec(), k },
        Values::F64(v) => Labels::Targets { y: finite_f32(Values::F64(v), k, yo)?.into_vec(), k },
    };
    Ok(Dataset { features, n, d, shape, labels })
}

/// Class labels, with as many classes as the largest label plus one.
fn class_labels(y: Vec<i32>) -> Labels {
    let classes = y.iter().max().map_or(0, |&m| m as usize + 1);
    Labels::Classes { y, classes }
}
