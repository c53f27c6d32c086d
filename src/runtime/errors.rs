//! The errors the runtime raises — checkpoints that do not fit, runs that diverge, files that
//! cannot be written — one constructor each, with their codes as constants; call sites name the
//! error, not its wording.

use std::fmt::Display;
use std::io;
use std::path::Path;

use safetensors::tensor::Dtype;

use crate::diag::{Diag, Span};

/// A checkpoint file that cannot be read.
pub const CHECKPOINT_READ: &str = "gradc::checkpoint::read";
/// A checkpoint that is not a valid safetensors file, or whose metadata is malformed.
pub const CHECKPOINT_CORRUPT: &str = "gradc::checkpoint::corrupt";
/// A checkpoint without a tensor for one of the parameters.
pub const CHECKPOINT_MISSING: &str = "gradc::checkpoint::missing";
/// A checkpoint tensor that is not F32.
pub const CHECKPOINT_DTYPE: &str = "gradc::checkpoint::dtype";
/// A checkpoint tensor whose shape is not its parameter's.
pub const CHECKPOINT_SHAPE: &str = "gradc::checkpoint::shape";
/// A checkpoint tensor that is no parameter of the program.
pub const CHECKPOINT_EXTRA: &str = "gradc::checkpoint::extra";
/// A resumed run whose seed is not the one its checkpoint was saved with (a warning).
pub const CHECKPOINT_SEED: &str = "gradc::checkpoint::seed";
/// A checkpoint that cannot be encoded or written.
pub const CHECKPOINT_WRITE: &str = "gradc::checkpoint::write";
/// A loss that stopped being finite.
pub const TRAIN_DIVERGED: &str = "gradc::train::diverged";
/// A layer whose gradient vanished for a while (a warning).
pub const TRAIN_VANISHING: &str = "gradc::train::vanishing";
/// A layer whose gradient exploded for a while (a warning).
pub const TRAIN_EXPLODING: &str = "gradc::train::exploding";
/// A batch size of 0.
pub const DATA_BATCH: &str = "gradc::data::batch";
/// A metrics log that cannot be created or written.
pub const IO_LOG: &str = "gradc::io::log";
/// Every run of a comparison diverged.
pub const COMPARE_DIVERGED: &str = "gradc::compare::diverged";
/// A comparison with no runs.
pub const COMPARE_EMPTY: &str = "gradc::compare::empty";
/// A comparison's output that cannot be written.
pub const IO_COMPARE: &str = "gradc::io::compare";
/// An lr-find output could not be written.
pub const IO_LR_FIND: &str = "gradc::io::lr_find";
/// Progress output that cannot be written.
pub const IO_PROGRESS: &str = "gradc::io::progress";
/// A predictions file of an unknown format, or one that cannot be written.
pub const IO_PREDICT: &str = "gradc::io::predict";
/// The ranks of a distributed run ended with different parameters.
pub const RANKS_DIVERGED: &str = "gradc::distributed::diverged";

/// The checkpoint at `path` cannot be read.
pub fn checkpoint_unreadable(path: &Path, r: crate::files::Refusal) -> Diag {
    let why = r.reason("a checkpoint");
    Diag::new(CHECKPOINT_READ, format!("cannot read the checkpoint `{}`: {why}", path.display()))
        .help("name a .safetensors file written by `gradc run --save`; the path is relative to the current directory")
}

/// The file at `path` is not safetensors, as the decoder's error `e` says.
pub fn checkpoint_corrupt(path: &Path, e: impl Display) -> Diag {
    Diag::new(CHECKPOINT_CORRUPT, format!("`{}` is not a valid safetensors file: {e}", path.display()))
        .help("pass a file written by `gradc run --save` or by safetensors' `save_file`")
}

/// The checkpoint at `path` has a metadata entry `key` that is not a step count.
pub fn checkpoint_bad_step(path: &Path, key: &str) -> Diag {
    Diag::new(CHECKPOINT_CORRUPT, format!("`{}` has a malformed `{key}` entry", path.display()))
        .help("pass a file written by `gradc run --save`")
}

/// The checkpoint at `path` records `step` updates in `key`, more than any run can take.
pub fn checkpoint_step_too_large(path: &Path, key: &str, step: usize) -> Diag {
    Diag::new(
        CHECKPOINT_CORRUPT,
        format!("`{}` records {step} updates in `{key}`, more than a run can take ({})", path.display(), u32::MAX),
    )
    .help("pass a file written by `gradc run --save`; this one was edited or damaged")
}

/// The checkpoint at `path` has no tensor `name`; `extra` are the tensors it holds that the
/// program does not have, the likely renamings.
pub fn checkpoint_missing(path: &Path, name: &str, extra: &[&str]) -> Diag {
    let help = match extra {
        [] => "the checkpoint must hold every parameter, named as `gradc ir` prints it".to_string(),
        names => format!(
            "it holds tensors the program does not have ({}); was a layer renamed? \
             Parameters are named after the binding of the layer call",
            quoted(names)
        ),
    };
    Diag::new(CHECKPOINT_MISSING, format!("the checkpoint `{}` has no tensor `{name}`", path.display())).help(help)
}

/// The checkpoint at `path`, saved after `step` updates by this program's optimizer, has no
/// tensor `name` of its state: the run would resume with zeros for it.
pub fn checkpoint_missing_state(path: &Path, name: &str, step: usize) -> Diag {
    Diag::new(
        CHECKPOINT_MISSING,
        format!(
            "the checkpoint `{}` has no tensor `{name}`, optimizer state the run needs to resume at step {step}",
            path.display()
        ),
    )
    .help(
        "pass the file `gradc run --save` wrote, unedited; to start the optimizer afresh from its parameters \
         instead, keep only the parameters in the file",
    )
}

/// The run state `name` (a `gradc.*` tensor) in the checkpoint at `path` is unusable: `problem`
/// says why.
pub fn checkpoint_bad_run_state(path: &Path, name: &str, problem: &str) -> Diag {
    Diag::new(CHECKPOINT_CORRUPT, format!("tensor `{name}` in `{}` {problem}", path.display()))
        .help("it is written by `gradc run --save`; pass a file it wrote, unedited")
}

/// The warning that a run resumes from the checkpoint at `path`, saved by a run of seed
/// `saved`, with another seed, `seed`.
pub fn resume_seed(path: &Path, saved: u64, seed: u64) -> Diag {
    Diag::new(
        CHECKPOINT_SEED,
        format!("resuming `{}`, saved by a run of seed {saved}, with seed {seed}", path.display()),
    )
    .help(format!(
        "the shuffled order of the batches and dropout's masks follow the seed, so this run goes on \
         differently from the saved one; pass `--seed {saved}` to continue it exactly"
    ))
    .as_warning()
}

/// Tensor `name` in the checkpoint at `path` is of `dtype`, not F32.
pub fn checkpoint_dtype(path: &Path, name: &str, dtype: Dtype) -> Diag {
    Diag::new(CHECKPOINT_DTYPE, format!("tensor `{name}` in `{}` is {dtype:?}, not F32", path.display()))
        .help("gradc parameters are f32; convert the tensor before saving (in PyTorch: `.float()`)")
}

/// Tensor `name` in the checkpoint at `path` has shape `found`, its parameter `expected`.
pub fn checkpoint_shape(path: &Path, name: &str, found: &[usize], expected: &[usize]) -> Diag {
    Diag::new(
        CHECKPOINT_SHAPE,
        format!(
            "tensor `{name}` in `{}` has shape {found:?}, but the parameter has shape {expected:?}",
            path.display()
        ),
    )
    .help(
        "gradc stores a dense layer's weight as [in, out] (x @ w); a PyTorch nn.Linear weight \
         is [out, in] and must be transposed",
    )
}

/// Tensor `name` in the checkpoint at `path` is none of the program's parameters `params`.
pub fn checkpoint_extra(path: &Path, name: &str, params: &[&str]) -> Diag {
    Diag::new(CHECKPOINT_EXTRA, format!("tensor `{name}` in `{}` is not a parameter of this program", path.display()))
        .help(format!(
            "the program's parameters are {}; remove the tensor from the checkpoint or check the names with `gradc ir`",
            quoted(params)
        ))
}

/// The standardization statistic `name` in the checkpoint at `path` is unusable: `problem` says why.
pub fn checkpoint_bad_scaling(path: &Path, name: &str, problem: &str) -> Diag {
    Diag::new(CHECKPOINT_CORRUPT, format!("tensor `{name}` in `{}` {problem}", path.display()))
        .help("it is written by `gradc run --save` for data with `|> standardize`; save the checkpoint again")
}

/// The checkpoint for `path` cannot be encoded, as the encoder's error `e` says.
pub fn checkpoint_unencodable(path: &Path, e: impl Display) -> Diag {
    Diag::new(CHECKPOINT_WRITE, format!("cannot encode the checkpoint `{}`: {e}", path.display()))
        .help("this is a limit of the safetensors format; please report it with the program")
}

/// The checkpoint `path` cannot be written.
pub fn checkpoint_unwritable(path: &Path, e: io::Error) -> Diag {
    Diag::new(CHECKPOINT_WRITE, format!("cannot write the checkpoint `{}`: {e}", path.display()))
        .help("check that the directory exists and is writable")
}

/// The note that the checkpoint at `path` holds optimizer state `other` (names) of another
/// optimizer than the run's, which therefore starts afresh at step 0.
pub fn other_optimizer_note(path: &Path, other: &[String]) -> String {
    let held = match other {
        [] => "was saved by an optimizer without state".to_string(),
        [a] => format!("holds the state `{a}` of another optimizer"),
        [a, b] => format!("holds the state `{a}`, `{b}` of another optimizer"),
        [a, b, rest @ ..] => format!("holds the state `{a}`, `{b}` and {} more of another optimizer", rest.len()),
    };
    format!(
        "note: `{}` {held}; its parameters are loaded, and this run's optimizer starts afresh at step 0",
        path.display()
    )
}

/// The predictions file `path` has an extension other than `.npy` and `.csv`.
pub fn predict_format(path: &Path) -> Diag {
    Diag::new(IO_PREDICT, format!("`{}` is not a .npy or .csv file name", path.display()))
        .help("name the output `predictions.npy` (a NumPy array) or `predictions.csv`")
}

/// The predictions file `path` cannot be written.
pub fn predict_unwritable(path: &Path, e: io::Error) -> Diag {
    Diag::new(IO_PREDICT, format!("cannot write the predictions `{}`: {e}", path.display()))
        .help("check that the directory exists and is writable, and that the path is a regular file or new")
}

/// The loss became `loss`, not finite, at `step`, with learning rate `lr`.
pub fn diverged(step: usize, loss: f64, lr: f64) -> Diag {
    Diag::new(TRAIN_DIVERGED, format!("the loss became {loss} at step {step}"))
        .help(format!("training diverged; lower the learning rate (it was {lr}) or clip gradients"))
}

/// The `ranks` of a distributed run hold different parameters after training.
pub fn ranks_diverged(ranks: usize) -> Diag {
    Diag::new(RANKS_DIVERGED, format!("the {ranks} ranks ended training with different parameters"))
        .help("every rank must update with the same summed gradients; this is a bug in gradc or in the MPI library, so please report it with the program and the mpirun command")
}

/// A batch size of 0, given at `span`.
pub fn batch_size_zero(span: Span) -> Diag {
    Diag::new(DATA_BATCH, "the batch size must be at least 1")
        .at(span, "batch size given here")
        .help("e.g. `batch: 32`")
}

/// The metrics log `path` cannot be created.
pub fn log_uncreatable(path: &Path, e: io::Error) -> Diag {
    Diag::new(IO_LOG, format!("cannot write the log `{}`: {e}", path.display()))
        .help("check that the directory exists and is writable")
}

/// Writing to the metrics log failed.
pub fn log_unwritable(e: io::Error) -> Diag {
    Diag::new(IO_LOG, format!("writing the log failed: {e}")).help("check the disk and the log path")
}

/// A comparison given no runs.
pub fn nothing_to_compare() -> Diag {
    Diag::new(COMPARE_EMPTY, "there is nothing to compare")
        .help("list optimizers or schedules in a `compare { ... }` block")
}

/// The log at `path` cannot be read for `gradc plot`, for the reason `r`.
pub fn log_unreadable(path: &Path, r: crate::files::Refusal) -> Diag {
    let why = r.reason("a log");
    Diag::new(IO_LOG, format!("cannot read the log `{}`: {why}", path.display()))
        .help("pass a JSON-lines file written by `gradc run --log`")
}

/// Line `line` (1-based; 0 for the whole file) of the log at `path` is not a log line: `why`.
pub fn log_malformed(path: &Path, line: usize, why: &str) -> Diag {
    let at = if line == 0 { String::new() } else { format!(", line {line}") };
    Diag::new(IO_LOG, format!("`{}`{at} is not a gradc log: {why}", path.display()))
        .help("pass a JSON-lines file written by `gradc run --log`, one JSON object per line")
}

/// The picture `path` of `gradc plot` cannot be written.
pub fn plot_unwritable(path: &Path, e: std::io::Error) -> Diag {
    Diag::new(IO_LOG, format!("cannot write `{}`: {e}", path.display()))
        .help("choose another --out; gradc replaces only regular files it can write")
}

/// Every one of a comparison's `runs` diverged.
pub fn every_run_diverged(runs: usize) -> Diag {
    Diag::new(COMPARE_DIVERGED, format!("every run diverged ({runs} of {runs})"))
        .help("lower the learning rates (or clip the gradients); the charts show where each run blew up")
}

/// A comparison's output `path` cannot be written.
pub fn compare_unwritable(path: &Path, e: io::Error) -> Diag {
    Diag::new(IO_COMPARE, format!("cannot write `{}`: {e}", path.display()))
        .help("check that the output directory is writable (choose another with --out)")
}

/// `gradc lr-find` could not write `path`.
pub fn lr_find_unwritable(path: &Path, e: io::Error) -> Diag {
    Diag::new(IO_LR_FIND, format!("cannot write `{}`: {e}", path.display()))
        .help("check that the output directory is writable (choose another with --out)")
}

/// Writing progress failed.
pub fn progress_unwritable(e: io::Error) -> Diag {
    Diag::new(IO_PROGRESS, format!("writing progress failed: {e}")).help("check the output stream")
}

/// `names`, each in backquotes, comma-separated.
fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
