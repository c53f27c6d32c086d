//! The errors of `gradc export --onnx`, one constructor each, with their codes as constants.

use std::io;
use std::path::Path;

use crate::diag::Diag;

/// A model that uses an op with no ONNX form.
pub const EXPORT_UNSUPPORTED: &str = "gradc::export::unsupported";
/// A model whose ONNX form needs a fixed batch size, exported without `--batch`.
pub const EXPORT_BATCH: &str = "gradc::export::batch";
/// An ONNX file that cannot be written.
pub const EXPORT_WRITE: &str = "gradc::export::write";

/// The model's evaluation graph holds the op `op`, which has no ONNX form because of `why`.
pub fn unsupported(op: &str, why: &str) -> Diag {
    Diag::new(EXPORT_UNSUPPORTED, format!("the model uses `{op}`, which has no ONNX form: {why}")).help(format!(
        "export a model whose evaluation mode does without `{op}` (`gradc ir --stage eval` shows its graph)"
    ))
}

/// The model's `what` (an op, or the graph's inputs or outputs) `why`, which ties the model to
/// one batch size.
pub fn fixed_batch(what: &str, why: &str) -> Diag {
    Diag::new(EXPORT_BATCH, format!("the model's `{what}` {why}, so its ONNX form cannot take batches of any size"))
        .help("pass `--batch N` to export the model for batches of exactly N rows")
}

/// The ONNX file `path` cannot be written.
pub fn unwritable(path: &Path, e: io::Error) -> Diag {
    Diag::new(EXPORT_WRITE, format!("cannot write the ONNX model `{}`: {e}", path.display()))
        .help("check that the directory exists and is writable, and that the path is a regular file or new")
}
