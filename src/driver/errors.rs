//! The errors the driver raises — source files that cannot be read, a `compare` without a compare
//! block, code generation that fails — one constructor each, with their codes as constants; call
//! sites name the error, not its wording.

use std::fmt::Display;
use std::io;
use std::path::Path;

use crate::diag::{Diag, FileId, Span};

/// A source path that does not exist or cannot be inspected.
pub const IO_MISSING: &str = "gradc::io::missing";
/// A source path that is a directory.
pub const IO_DIRECTORY: &str = "gradc::io::directory";
/// The source is a FIFO, a device or a socket.
pub const IO_SPECIAL: &str = "gradc::io::special";
/// The source file is larger than a `.grad` file may be.
pub const IO_TOO_LARGE: &str = "gradc::io::too_large";
/// A source file that cannot be read.
pub const IO_READ: &str = "gradc::io::read";
/// A source file that is not UTF-8.
pub const IO_UTF8: &str = "gradc::io::utf8";
/// `gradc compare` of a program without a compare block.
pub const COMPARE_MISSING: &str = "gradc::compare::missing";
/// Code generation that failed.
pub const CODEGEN_FAILED: &str = "gradc::codegen::failed";
/// A command's report that cannot be written to standard output.
pub const IO_STDOUT: &str = "gradc::io::stdout";
/// `gradc eval` of a program without data, or without a test set to score by default.
pub const EVAL_DATA: &str = "gradc::eval::data";
/// `gradc predict` of a program it cannot predict with.
pub const PREDICT_MODEL: &str = "gradc::predict::model";
/// Rows given to train on (the Python package's `fit`) for a program that declares no training data.
pub const ROWS_DATA: &str = "gradc::rows::data";
/// `lr-find --to` not above `--from`.
pub const LR_RANGE: &str = "gradc::lr_find::range";
/// A distributed run that cannot be: no MPI in this build or none to start, no data to split,
/// a batch with fewer rows than ranks, or ranks started for a run that is not distributed.
pub const DISTRIBUTED: &str = "gradc::distributed";

/// `gradc eval` of a program whose loss takes no data.
pub fn eval_without_data() -> Diag {
    Diag::new(EVAL_DATA, "the program's loss takes no data, so there is nothing to evaluate it on")
        .help("`gradc run` reports the loss of a program of parameters alone")
}

/// `gradc eval` without `--data` of a program whose train block, training on `data`, has no test set.
pub fn no_test_set(data: &str) -> Diag {
    Diag::new(EVAL_DATA, "the train block has no test set to evaluate on").help(format!(
        "name one with `test = t` in the train block or `|> split(test: 0.2)` of `{data}`, \
             or pass `--data NAME` to score a data declaration"
    ))
}

/// Rows given to train on for a program whose train block names no data: nothing says how the
/// rows feed the loss, nor how to preprocess them.
pub fn rows_without_data() -> Diag {
    Diag::new(ROWS_DATA, "the train block names no data, so there is nothing the given rows can stand for").help(
        "declare the data (`data d = npy(\"x.npy\", \"y.npy\")`, say) and name it with `data = d` in the train block",
    )
}

/// Labels to score a model on of kind `kind`, where its training rows have `train_kind`.
pub fn rows_labels_unlike(kind: &str, train_kind: &str) -> Diag {
    Diag::new(EVAL_DATA, format!("`y` holds {kind}, but the model was trained on {train_kind}"))
        .help("give labels as the model was trained on: int32 or int64 class labels, or float32 targets")
}

/// `gradc predict` of a program whose loss takes no data.
pub fn predict_without_data() -> Diag {
    Diag::new(PREDICT_MODEL, "the program's loss takes no data, so its model has no inputs to predict from")
        .help("predict with a program whose train block names data")
}

/// `gradc predict` of a program (its loss at `loss`) without exactly one `model`.
pub fn predict_without_model(loss: Span) -> Diag {
    Diag::new(PREDICT_MODEL, "`gradc predict` runs the program's `model`, and it has none, or several")
        .at(loss, "the loss")
        .help("declare the network as one `model m(x: f32[B, D]) -> f32[B, K] { ... }` and call it from the loss")
}

/// A model whose output, of type `ty`, is not f32.
pub fn predict_not_f32(ty: &str) -> Diag {
    Diag::new(PREDICT_MODEL, format!("the model's output is {ty}, not f32"))
        .help("`gradc predict` writes the model's f32 outputs; return them from the model")
}

/// `--probabilities` or `--classes` (`classes`) of a model whose output has `shape`, not `[N, K]`.
pub fn predict_no_classes(shape: &[usize], classes: bool) -> Diag {
    let flag = if classes { "--classes" } else { "--probabilities" };
    Diag::new(
        PREDICT_MODEL,
        format!("`{flag}` needs outputs of shape [N, K], one per class; the model's are {shape:?}"),
    )
    .help("leave out the flag to write the outputs as they are")
}

/// Standard output refused the command's report (a full device, say).
pub fn stdout_unwritable(e: io::Error) -> Diag {
    Diag::new(IO_STDOUT, format!("cannot write the report to standard output: {e}"))
        .help("redirect the output to a file on a device with space, or to /dev/null")
}

/// The source `path` cannot be found or inspected.
pub fn source_missing(path: &Path, e: io::Error) -> Diag {
    Diag::new(IO_MISSING, format!("cannot read `{}`: {e}", path.display()))
        .help("check the path; it is relative to the current directory")
}

/// The source `path` is a directory.
pub fn source_is_directory(path: &Path) -> Diag {
    Diag::new(IO_DIRECTORY, format!("`{}` is a directory", path.display())).help("pass a .grad file")
}

/// The source `path` is a FIFO, a device or a socket (`kind`), which gradc does not read.
pub fn source_special(path: &Path, kind: &str) -> Diag {
    Diag::new(IO_SPECIAL, format!("`{}` is {kind}, not a regular file", path.display()))
        .help("pass a .grad file; to compile generated source, write it to a file first")
}

/// The source `path` is `len` bytes, more than a `.grad` file may be.
pub fn source_too_large(path: &Path, len: u64) -> Diag {
    Diag::new(IO_TOO_LARGE, format!("`{}` is {len} bytes, too large for a .grad file", path.display()))
        .help("pass a .grad source file (at most 16 MiB)")
}

/// The source `path` exists but cannot be read.
pub fn source_unreadable(path: &Path, e: io::Error) -> Diag {
    Diag::new(IO_READ, format!("cannot read `{}`: {e}", path.display())).help("check the file's permissions")
}

/// The source `path` has a byte that is not UTF-8 at `offset`.
pub fn source_not_utf8(path: &Path, offset: usize) -> Diag {
    Diag::new(IO_UTF8, format!("`{}` is not UTF-8 text (invalid byte at offset {offset})", path.display()))
        .help("save the file as UTF-8")
}

/// The program in `file` has no compare block to run.
pub fn no_compare_block(file: FileId) -> Diag {
    Diag::new(COMPARE_MISSING, "this program has no compare block")
        .at(Span::new(file, 0, 0), "expected a `compare { ... }` block in this file")
        .help("add e.g. `compare { optimizers = [sgd(lr: 0.1), adam(lr: 0.01)] }`")
}

/// Code generation of the graph `graph` failed with `e`.
pub fn codegen_failed(graph: &str, e: impl Display) -> Diag {
    Diag::new(CODEGEN_FAILED, format!("code generation failed for `{graph}`: {e}"))
        .help("this is a limit of the compiler (e.g. a tensor too large for memory); please report it with the program")
}

/// `--distributed` (or `distributed = true`) where MPI cannot start: `why`.
pub fn mpi_unavailable(why: &str) -> Diag {
    Diag::new(DISTRIBUTED, format!("cannot train distributed: {why}"))
        .help("build gradc with `cargo build --release --features mpi` (Open MPI's development files installed), then start it with `mpirun -n R gradc run FILE --distributed`")
}

/// A distributed run of a program whose loss takes no data: there are no rows to split.
pub fn distributed_without_data(train: Span) -> Diag {
    Diag::new(DISTRIBUTED, "a distributed run splits each batch of data across the ranks, and this program has no data")
        .at(train, "this train block trains on parameters alone")
        .help("run it in one process, without --distributed")
}

/// A distributed batch (`what`: the batch, or an epoch's shorter last batch) of `rows` rows
/// across more `ranks`: some rank would have no rows.
pub fn batch_below_ranks(train: Span, what: &str, rows: usize, ranks: usize) -> Diag {
    Diag::new(DISTRIBUTED, format!("{what} has {rows} row{}, fewer than the {ranks} ranks", if rows == 1 { "" } else { "s" }))
        .at(train, "each rank takes a share of every batch of this train block")
        .help("use at least as many rows per batch as ranks (a batch size, or a row count, that the ranks divide keeps every rank equally busy), or start fewer ranks")
}

/// A distributed run whose evaluation graph sums over the ranks, where rank 0 evaluates alone.
pub fn all_sum_in_evaluation(train: Span) -> Diag {
    Diag::new(DISTRIBUTED, "evaluation would sum over the ranks (`all_sum`), but in a distributed run rank 0 evaluates alone")
        .at(train, "this train block trains distributed")
        .help("sum over the ranks only in training: put `all_sum` inside `where(training, ..., ...)`, as `batch_norm(sync: true)` does")
}

/// A distributed run drawing random numbers whose shape depends on the batch other than by its
/// first axis: no rank's share of them is a contiguous part of the single process's.
pub fn rand_across_rows(train: Span) -> Diag {
    Diag::new(DISTRIBUTED, "a distributed run cannot split this program's random numbers across the ranks: a `rand` shape depends on the batch other than by its first axis")
        .at(train, "this train block trains distributed")
        .help("draw `rand` with the batch's rows first (as `dropout` does: `rand(shape(x))` of an `x` of shape [B, ...]), then reshape or transpose the numbers")
}

/// Ranks started by an MPI launcher for a run that is not distributed: each would train alone.
pub fn ranks_not_distributed(ranks: usize) -> Diag {
    Diag::new(DISTRIBUTED, format!("gradc was started on {ranks} ranks, but the run is not distributed"))
        .help("add --distributed (or `distributed = true` in the train block) to split each batch across the ranks, or start one process")
}

/// `gradc lr-find --from FROM --to TO` with TO not above FROM.
pub fn lr_range_empty(from: f64, to: f64) -> Diag {
    Diag::new(LR_RANGE, format!("the learning rate would not grow: --to {to:e} is not above --from {from:e}"))
        .help("give a --to above --from, e.g. --from 1e-7 --to 10")
}
