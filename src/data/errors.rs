//! The errors of reading array files (NPY, NPZ, IDX) and checking their rows and labels, one
//! constructor each, with their codes as constants. Each names the file it is about and points
//! at the `data` declaration that loaded it.

use std::fmt::Display;

use crate::diag::{Diag, Span};

/// A data file that cannot be read at all.
pub const DATA_MISSING: &str = "gradc::data::missing";
/// A data file (or its decompressed contents) is larger than gradc reads.
pub const DATA_TOO_LARGE: &str = "gradc::data::too_large";
/// A malformed or unsupported NPY file (or NPY array inside an NPZ file).
pub const DATA_NPY: &str = "gradc::data::npy";
/// A malformed NPZ archive, or one without the named array.
pub const DATA_NPZ: &str = "gradc::data::npz";
/// A malformed or unsupported IDX file.
pub const DATA_IDX: &str = "gradc::data::idx";
/// Arrays of the wrong shape for features or labels, or whose row counts differ.
pub const DATA_SHAPE: &str = "gradc::data::shape";
/// A value that cannot be a feature or a label (not finite, a negative class, ...).
pub const DATA_VALUE: &str = "gradc::data::value";
/// A class label outside the model's range of classes.
pub const DATA_LABEL: &str = "gradc::data::label";

/// Where an array came from: the file's name as shown, the format's error code, and the `data`
/// declaration's expression.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The file (and, inside an NPZ file, the array), as shown in messages.
    pub file: String,
    /// The format's code for errors of its layout: [`DATA_NPY`] or [`DATA_IDX`].
    pub code: &'static str,
    /// The expression that named the file.
    pub span: Span,
}

impl Origin {
    /// A diagnostic with this origin's format code about its file.
    fn error(&self, message: impl Display, help: impl Into<String>) -> Diag {
        self.with_code(self.code, message, help)
    }

    /// A diagnostic with `code` about this origin's file.
    fn with_code(&self, code: &'static str, message: impl Display, help: impl Into<String>) -> Diag {
        Diag::new(code, format!("`{}`: {message}", self.file)).at(self.span, "file loaded here").help(help)
    }
}

/// The file could not be read, for the reason `r`.
pub fn refused(o: &Origin, r: crate::files::Refusal) -> Diag {
    use crate::files::Refusal;
    match r {
        Refusal::Missing(e) | Refusal::Io(e) => o.with_code(
            DATA_MISSING,
            format_args!("cannot read it: {e}"),
            "paths are relative to the directory of the .grad file; check the name and permissions",
        ),
        Refusal::Directory => o.with_code(DATA_MISSING, "is a directory, not a data file", "name a file inside it"),
        Refusal::Special(kind) => o.with_code(
            DATA_MISSING,
            format_args!("is {kind}, not a regular file"),
            "data is read from regular files only; copy the stream into a file first",
        ),
        Refusal::TooLarge { len, limit } => o.with_code(
            DATA_TOO_LARGE,
            format_args!(
                "holds {} or more, over the {} a data file may hold (decompressed)",
                crate::files::size(len),
                crate::files::size(limit)
            ),
            "split the data into several files, or use a smaller sample",
        ),
    }
}

/// The file does not start with NPY's magic string.
pub fn not_npy(o: &Origin) -> Diag {
    o.error("not an NPY file (it does not start with `\\x93NUMPY`)", "write arrays with numpy.save")
}

/// An NPY format version other than 1.0, 2.0 or 3.0.
pub fn npy_version(o: &Origin, major: u8, minor: u8) -> Diag {
    o.error(
        format_args!("NPY format version {major}.{minor} is not supported"),
        "versions 1.0, 2.0 and 3.0 are read; write the array again with numpy.save",
    )
}

/// The NPY header dictionary is malformed: `problem` says how.
pub fn npy_header(o: &Origin, problem: &str) -> Diag {
    o.error(
        format_args!("malformed NPY header: {problem}"),
        "the header must be a dictionary like {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784)}",
    )
}

/// A multi-byte dtype stored big-endian.
pub fn big_endian(o: &Origin, descr: &str) -> Diag {
    let little = descr.replacen('>', "<", 1);
    o.error(
        format_args!("the array is big-endian (`{descr}`)"),
        format!("only little-endian arrays are read; save `a.astype('{little}')` instead"),
    )
}

/// A multi-byte dtype in native (`=`) byte order, which does not say which order it is.
pub fn native_order(o: &Origin, descr: &str) -> Diag {
    let little = descr.replacen('=', "<", 1);
    o.error(
        format_args!("the array's byte order is `native` (`{descr}`), which does not say which it is"),
        format!("save `a.astype('{little}')` to store it little-endian"),
    )
}

/// `fortran_order: True`.
pub fn fortran_order(o: &Origin) -> Diag {
    o.error(
        "the array is stored in Fortran (column-major) order",
        "only C order is read; save `numpy.ascontiguousarray(a)` instead",
    )
}

/// A dtype other than f32, f64, i32, i64 and u8.
pub fn npy_dtype(o: &Origin, descr: &str) -> Diag {
    o.error(
        format_args!("dtype `{descr}` is not supported"),
        "use float32 (`<f4`), float64 (`<f8`), int32 (`<i4`), int64 (`<i8`) or uint8 (`|u1`)",
    )
}

/// An IDX file whose magic number does not start with two zero bytes.
pub fn not_idx(o: &Origin) -> Diag {
    o.error(
        "not an IDX file (its first two bytes must be zero)",
        "IDX is the MNIST format, e.g. `train-images-idx3-ubyte` (optionally gzipped)",
    )
}

/// An IDX type code other than 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E.
pub fn idx_type(o: &Origin, code: u8) -> Diag {
    o.error(
        format_args!("unknown IDX element type 0x{code:02X}"),
        "IDX types are 0x08 (u8), 0x09 (i8), 0x0B (i16), 0x0C (i32), 0x0D (f32) and 0x0E (f64)",
    )
}

/// An IDX file of `rank` dimensions where `want` (`images` or `labels`) needs another.
pub fn idx_rank(o: &Origin, rank: usize, want: &str) -> Diag {
    let (dims, example) = match want {
        "images" => ("3 dimensions [N, H, W]", "train-images-idx3-ubyte"),
        _ => ("1 dimension [N]", "train-labels-idx1-ubyte"),
    };
    o.with_code(
        DATA_SHAPE,
        format_args!("an IDX {want} file has {dims}, this one has {rank}"),
        format!("name a file like `{example}` here"),
    )
}

/// A gzip stream that does not decompress.
pub fn gzip(o: &Origin, e: &std::io::Error) -> Diag {
    o.error(format_args!("cannot decompress it: {e}"), "the file looks gzipped but is damaged; download it again")
}

/// The file ends before its header does.
pub fn header_truncated(o: &Origin) -> Diag {
    o.error("the file ends inside its header", "the file was cut short; write or download it again")
}

/// The data section is shorter than the shape says.
pub fn truncated(o: &Origin, shape: &[usize], dtype: &str, need: usize, have: usize) -> Diag {
    o.error(
        format_args!("the data is truncated: shape {shape:?} of {dtype} needs {need} bytes, the file holds {have}"),
        "the file was cut short; write or download it again",
    )
}

/// Bytes left over after the data the shape accounts for.
pub fn trailing(o: &Origin, shape: &[usize], extra: usize) -> Diag {
    o.error(
        format_args!("{extra} bytes follow the data of shape {shape:?}"),
        "the header's shape does not match the data; write the file again",
    )
}

/// Dimensions whose product overflows.
pub fn too_large(o: &Origin, shape: &[usize]) -> Diag {
    o.error(format_args!("shape {shape:?} is too large"), "the header is damaged; write the file again")
}

/// An NPZ file that is not a readable zip archive.
pub fn not_zip(o: &Origin, e: &dyn Display) -> Diag {
    o.with_code(DATA_NPZ, format_args!("not a readable NPZ (zip) archive: {e}"), "write it with numpy.savez")
}

/// An NPZ archive without the array `name`; `available` lists the arrays it has.
pub fn no_array(o: &Origin, name: &str, available: &[String]) -> Diag {
    let list: Vec<String> = available.iter().map(|a| format!("`{a}`")).collect();
    let help =
        if list.is_empty() { "the archive holds no arrays".into() } else { format!("it holds {}", list.join(", ")) };
    o.with_code(DATA_NPZ, format_args!("there is no array named `{name}`"), help)
}

/// An NPZ member that cannot be extracted (unsupported compression, bad checksum, ...).
pub fn npz_member(o: &Origin, name: &str, e: &dyn Display) -> Diag {
    o.with_code(
        DATA_NPZ,
        format_args!("cannot extract array `{name}`: {e}"),
        "numpy.savez and numpy.savez_compressed archives are read (stored or deflated entries)",
    )
}

/// A features array of a shape that has no rows of features.
pub fn features_shape(o: &Origin, shape: &[usize]) -> Diag {
    o.with_code(
        DATA_SHAPE,
        format_args!("features of shape {shape:?} are not rows of features"),
        "features need a shape [N, D] (or [N, C, H, W] for images) with every dimension at least 1",
    )
}

/// A labels array of the wrong shape; `classes` if its dtype makes it class labels.
pub fn labels_shape(o: &Origin, shape: &[usize], classes: bool) -> Diag {
    let help = if classes {
        "integer labels are classes: one per row, of shape [N]"
    } else {
        "float labels are regression targets, of shape [N] or [N, K]"
    };
    o.with_code(DATA_SHAPE, format_args!("labels of shape {shape:?} do not fit"), help)
}

/// Features and labels of different row counts.
pub fn row_counts(features: &Origin, n: usize, labels: &Origin, m: usize) -> Diag {
    labels.with_code(
        DATA_SHAPE,
        format_args!("holds {m} labels, but `{}` holds {n} rows of features", features.file),
        "the features and labels files must have the same number of rows, in the same order",
    )
}

/// A feature or target in `row` (counting from 0) that is not a finite f32.
pub fn not_finite(o: &Origin, row: usize) -> Diag {
    o.with_code(
        DATA_VALUE,
        format_args!("row {row} (counting from 0) holds a value that is not a finite f32"),
        "replace NaN, infinite and out-of-range values before training",
    )
}

/// A class label in `row` (counting from 0) that is negative or too large for i32.
pub fn bad_class(o: &Origin, row: usize, label: i64) -> Diag {
    o.with_code(
        DATA_VALUE,
        format_args!("row {row} (counting from 0) has class label {label}, not one of 0, 1, …"),
        "class labels are whole numbers from 0 to K-1",
    )
}

/// Class `label` of `row` (counting from 0) of the data declared at `span` is not below the
/// model's `classes`.
pub fn label_out_of_range(span: Span, data: &str, row: usize, label: i32, classes: usize) -> Diag {
    Diag::new(
        DATA_LABEL,
        format!(
            "row {row} (counting from 0) of `{data}` has class label {label}, but the model has {classes} classes (0 to {})",
            classes.saturating_sub(1)
        ),
    )
    .at(span, "data loaded here")
    .help(format!("give the model {} outputs, or fix the labels", label + 1))
}

/// Standardization statistics of `have` channels (from `from`) for the rows of shape `shape`
/// of the data `data` declared at `span`, which have `want`.
pub fn scaling_channels(span: Span, data: &str, shape: &[usize], want: usize, have: usize, from: &str) -> Diag {
    Diag::new(
        DATA_SHAPE,
        format!(
            "`{data}` has rows of shape {shape:?}, {want} features or channels to standardize, \
             but {from} give statistics for {have}"
        ),
    )
    .at(span, "data loaded here")
    .help("standardized data must have the rows of the data the model was trained on")
}

/// The data `data` declared at `span`, scored by a model trained on `train`, has rows of
/// `shape` where the training rows are `train_shape`.
pub fn rows_unlike(span: Span, data: &str, shape: &[usize], train: &str, train_shape: &[usize]) -> Diag {
    Diag::new(
        DATA_SHAPE,
        format!("`{data}` has rows of shape {shape:?}, but the training data `{train}` has {train_shape:?}"),
    )
    .at(span, "data loaded here")
    .help("a model scores rows of the shape it was trained on; check the file and its columns")
}

/// The data `data` declared at `span` has labels of kind `kind`, the training data `train` of `train_kind`.
pub fn labels_unlike(span: Span, data: &str, kind: &str, train: &str, train_kind: &str) -> Diag {
    Diag::new(DATA_SHAPE, format!("`{data}` has {kind}, but the training data `{train}` has {train_kind}"))
        .at(span, "data loaded here")
        .help(
            "declare it as the training data is declared: the same `label:` or `target:` columns, the same label dtype",
        )
}

/// `from` (a checkpoint) holds standardization statistics, but the data `data` declared at
/// `span` is not standardized.
pub fn scaling_unused(span: Span, data: &str, from: &str) -> Diag {
    Diag::new(DATA_VALUE, format!("{from} holds standardization statistics, but `{data}` is not standardized"))
        .at(span, "data loaded here")
        .help(format!("the model was trained on standardized rows: add `|> standardize` to `{data}`, as it was"))
}

/// An input file for prediction that is neither `.npy` nor `.csv`.
pub fn inputs_format(file: &str) -> Diag {
    Diag::new(DATA_MISSING, format!("`{file}` is not a .npy or .csv file"))
        .help("give the rows to predict from as a NumPy .npy array or a CSV file with a header")
}

/// An NPY input of `shape` for a model whose rows have shape `row`.
pub fn inputs_shape(file: &str, shape: &[usize], row: &[usize]) -> Diag {
    let want: Vec<String> = std::iter::once("N".to_string()).chain(row.iter().map(usize::to_string)).collect();
    Diag::new(
        DATA_SHAPE,
        format!("`{file}` holds an array of shape {shape:?}, but the model takes rows of shape {row:?}"),
    )
    .help(format!("save the rows as an array of shape [{}]", want.join(", ")))
}

/// A CSV input of `d` feature columns for a model whose rows have `want` features.
pub fn inputs_columns(file: &str, d: usize, want: usize) -> Diag {
    Diag::new(DATA_SHAPE, format!("`{file}` has {d} feature columns, but the model takes {want} features"))
        .help("give one column per feature, in the training file's order; label and target columns are left out")
}
