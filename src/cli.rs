//! The `gradc` command line's grammar: its commands, flags and their checks, with examples in
//! each command's `--help` (the binary, src/main.rs, does the output; the tests parse the
//! examples against this grammar).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::runtime::train::RunConfig;
use crate::snapshot::Stage;

/// gradc: compile and train `.grad` models.
#[derive(Parser)]
#[command(name = "gradc", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Shown after `gradc --help`'s list of commands.
const EXAMPLES: &str = "\
Examples:
  gradc run examples/glyphs_mlp.grad --save w.safetensors --log log.jsonl
  gradc eval examples/glyphs_mlp.grad --init w.safetensors               (the test set)
  gradc eval examples/glyphs_mlp.grad --init w.safetensors --data glyphs  (the training rows)
  gradc predict examples/glyphs_mlp.grad --init w.safetensors --input x.npy --output y.npy --classes
  gradc predict examples/blobs_softmax.grad --init w.safetensors --input x.csv --output p.csv --probabilities
  gradc export examples/mnist_cnn.grad --init w.safetensors --onnx cnn.onnx --batch 32
  gradc compare examples/compare_optimizers.grad --out runs";

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Compile FILE and train it, printing progress and a summary.
    #[command(after_help = RUN_EXAMPLES)]
    Run {
        /// The .grad file.
        file: PathBuf,
        #[command(flatten)]
        training: Training,
        /// Write one JSON object per logged step to FILE.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Write one CSV row per logged step to FILE: step, epoch, loss, lr, metrics, validation metrics.
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
        /// Log every N steps.
        #[arg(long, value_name = "N", value_parser = count)]
        log_every: Option<usize>,
        /// Log gradient-health statistics every N steps (every logged step without N): each
        /// parameter's gradient norm and update-to-weight ratio, each ReLU layer's dead units.
        // `=` required: with an optional value, `--grad-stats FILE` would read FILE as N.
        #[arg(long, value_name = "N", value_parser = count, require_equals = true)]
        grad_stats: Option<Option<usize>>,
        /// Print no progress, only the summary.
        #[arg(long, short)]
        quiet: bool,
        /// Print the summary as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Save the final parameters, optimizer state, step and standardization statistics to
        /// this safetensors file.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Run every step in its own native call, never many in one (same numbers, slower: for
        /// measuring what the bursts save).
        #[arg(long)]
        step_by_step: bool,
        /// Train data-parallel across the ranks of `mpirun -n R gradc run FILE --distributed`:
        /// each rank takes its share of every batch and the gradients are summed over the
        /// ranks inside the step; rank 0 prints, logs and saves (needs a build with `--features mpi`).
        #[arg(long)]
        distributed: bool,
    },
    /// Train each run of FILE's compare block from the same seed; print a table, write CSVs and charts.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare {
        /// The .grad file, with a `compare { ... }` block.
        file: PathBuf,
        #[command(flatten)]
        training: Training,
        /// Directory for the CSV histories and the charts [default: FILE's name + `-compare`].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Count steps until the loss reaches LOSS [default: 1.1 × the best final loss].
        #[arg(long, value_name = "LOSS")]
        target: Option<f64>,
    },
    /// Score a saved model on a data declaration without training: its loss and every metric.
    #[command(after_help = EVAL_EXAMPLES)]
    Eval {
        /// The .grad file the model was trained with.
        file: PathBuf,
        /// The model's parameters, as `run --save` wrote them (optimizer state is not read).
        #[arg(long, value_name = "FILE")]
        init: PathBuf,
        /// The data declaration to score; the train block's data scores its training rows
        /// [default: the train block's test set].
        #[arg(long, value_name = "NAME")]
        data: Option<String>,
        /// Print one JSON object (numbers as the log writes them) instead of a table.
        #[arg(long)]
        json: bool,
        /// Threads for large matrix products.
        #[arg(long, default_value_t = 2, value_parser = threads)]
        threads: usize,
    },
    /// Run a saved model on rows of features and write its outputs (logits, by default).
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict {
        /// The .grad file the model was trained with.
        file: PathBuf,
        /// The model's parameters, as `run --save` wrote them.
        #[arg(long, value_name = "FILE")]
        init: PathBuf,
        /// The rows: a .npy array [N, ...] or a .csv file with the training file's feature
        /// columns; preprocessed as the training data (`scale`, stored `standardize` statistics).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Where to write the outputs: .npy (f32 [N, K], or i32 [N] classes) or .csv.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Write each row's softmax probabilities instead of its logits.
        #[arg(long, conflicts_with = "classes")]
        probabilities: bool,
        /// Write each row's class: the index of its largest output.
        #[arg(long)]
        classes: bool,
        /// Threads for large matrix products.
        #[arg(long, default_value_t = 2, value_parser = threads)]
        threads: usize,
    },
    /// Write a saved model as an ONNX model (opset 17): its evaluation forward graph, with the
    /// checkpoint's weights as initializers, taking batches of any size (or `--batch N`) of the
    /// rows `predict --input` takes.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export {
        /// The .grad file the model was trained with.
        file: PathBuf,
        /// The model's parameters, as `run --save` wrote them.
        #[arg(long, value_name = "FILE")]
        init: PathBuf,
        /// Where to write the ONNX model.
        #[arg(long, value_name = "FILE")]
        onnx: PathBuf,
        /// Fix the batch at N rows. Without it the model's first input and output axis is the
        /// symbol `batch`, and the model takes any number of rows.
        #[arg(long, value_name = "N", value_parser = count)]
        batch: Option<usize>,
    },
    /// Report errors in FILE without running it.
    #[command(after_help = CHECK_EXAMPLES)]
    Check {
        /// The .grad file.
        file: PathBuf,
    },
    /// Draw the curves of JSON-lines logs written by `run --log`: loss, metrics (validation
    /// beside training), learning rate and every other logged number, one colour per log.
    #[command(after_help = PLOT_EXAMPLES)]
    Plot {
        /// The logs, each `gradc run --log` output.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Write OUT.svg and OUT.png (default: the first log's path without its extension).
        #[arg(long, value_name = "OUT")]
        out: Option<PathBuf>,
    },
    /// Print each parameter's gradient as maths, in FILE's own names.
    #[command(after_help = GRAD_EXAMPLES)]
    Grad {
        /// The .grad file.
        file: PathBuf,
        /// Print only this parameter's gradient (and the lines it reads).
        #[arg(long, value_name = "NAME")]
        param: Option<String>,
        /// Write a LaTeX document instead of text.
        #[arg(long)]
        latex: bool,
        /// Print each gradient's numbers on the first batch, too.
        #[arg(long)]
        values: bool,
        /// Take the parameters from this safetensors file instead of their initialisers.
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
        /// Write the gradients' numbers on the first batch to this safetensors file.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Threads for large matrix products.
        #[arg(long, default_value_t = 2, value_parser = threads)]
        threads: usize,
    },
    /// Check each parameter's gradient against central finite differences (f64, first batch).
    #[command(after_help = GRADCHECK_EXAMPLES)]
    Gradcheck {
        /// The .grad file.
        file: PathBuf,
        /// Take the parameters from this safetensors file instead of their initialisers.
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
        /// Check only these parameters (comma-separated).
        #[arg(long, value_name = "NAMES", value_delimiter = ',')]
        params: Option<Vec<String>>,
        /// Check N entries of each larger parameter, drawn with the run's seed.
        #[arg(long, value_name = "N", default_value_t = crate::gradcheck::SAMPLE, value_parser = count)]
        sample: usize,
        /// Check every entry of every parameter.
        #[arg(long, conflicts_with = "sample")]
        all: bool,
    },
    /// The learning-rate range test: train with an exponentially growing lr, plot the smoothed
    /// loss against it and suggest one (nothing is saved).
    #[command(after_help = LRFIND_EXAMPLES)]
    LrFind {
        /// The .grad file.
        file: PathBuf,
        /// The first learning rate.
        #[arg(long, value_name = "LR", default_value_t = 1e-7, value_parser = positive)]
        from: f64,
        /// The last learning rate.
        #[arg(long, value_name = "LR", default_value_t = 10.0, value_parser = positive)]
        to: f64,
        /// Updates from the first learning rate to the last.
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = range_steps)]
        steps: usize,
        /// Where to write lr_find.csv, .svg and .png (default: `<stem>-lr-find`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Threads for large matrix products.
        #[arg(long, default_value_t = 2, value_parser = threads)]
        threads: usize,
    },
    /// Print FILE's program at one stage of the pipeline, or check it against a stored snapshot.
    #[command(after_help = IR_EXAMPLES)]
    Ir {
        /// The .grad file.
        file: PathBuf,
        /// Which stage to print.
        #[arg(long, value_enum, default_value = "optimized")]
        stage: Stage,
        /// Print the backward stage as differentiation leaves it, before simplification.
        #[arg(long)]
        raw: bool,
        /// Compare the printed IR with this file: a diff and a failure when they differ.
        #[arg(long, value_name = "FILE.ir")]
        check: Option<PathBuf>,
        /// With --check, write the printed IR to its file instead (a new or regular file only).
        #[arg(long, requires = "check")]
        update: bool,
    },
    /// Check every `M.grad` in DIR against its `M.<stage>.ir` snapshots beside it, and its gradients.
    #[command(after_help = TEST_EXAMPLES)]
    Test {
        /// The directory.
        dir: PathBuf,
        /// Write the printed IR to every snapshot that differs instead of failing.
        #[arg(long)]
        update: bool,
    },
    /// Print a completion script for a shell, to source from its startup file.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The training flags `run` and `compare` share.
#[derive(Args)]
pub struct Training {
    /// Train for N steps (overrides the train block).
    #[arg(long, value_name = "N", value_parser = length)]
    pub steps: Option<usize>,
    /// Train for N epochs (overrides the train block).
    #[arg(long, value_name = "N", value_parser = length)]
    pub epochs: Option<usize>,
    /// Seed for initialisation and shuffling (overrides the train block).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Start from this safetensors file: parameters named as `gradc ir` prints them, and, in a
    /// file `--save` wrote, the optimizer state, step and stopping rules' counters to resume
    /// from (state of another optimizer is left unused: the run starts afresh at step 0) and
    /// the standardization statistics.
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// Threads for large matrix products [default: 2; 1 on each rank of a distributed run of
    /// several ranks, which take the cores themselves].
    #[arg(long, value_name = "N", value_parser = threads)]
    pub threads: Option<usize>,
}

/// `--threads`: from 1 to 256.
fn threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 256".into()),
    }
}

/// `--from` and `--to`: a finite number above 0.
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err("expected a finite number above 0".into()),
    }
}

/// `lr-find --steps`: from 2 (the first and the last learning rate) to 2^32 − 1.
fn range_steps(s: &str) -> Result<usize, String> {
    bounded(s, 2)
}

/// `--log-every`: a whole number from 1 to 2^32 − 1, the bounds the train block's key has.
fn count(s: &str) -> Result<usize, String> {
    bounded(s, 1)
}

/// `--steps` and `--epochs`: from 0 (evaluate the start, train nothing) to 2^32 − 1.
fn length(s: &str) -> Result<usize, String> {
    bounded(s, 0)
}

/// A whole number from `min` to 2^32 − 1.
fn bounded(s: &str, min: u64) -> Result<usize, String> {
    match s.parse::<u64>() {
        Ok(n) if (min..=u64::from(u32::MAX)).contains(&n) => Ok(n as usize),
        _ => Err(format!("expected a whole number from {min} to {}", u32::MAX)),
    }
}

impl Training {
    /// The run configuration these flags ask for.
    pub fn config(self) -> RunConfig {
        let Training { steps, epochs, seed, init, threads } = self;
        RunConfig { steps, epochs, seed, init, threads: threads.unwrap_or(2), ..RunConfig::default() }
    }
}

/// `gradc run --help`'s examples.
const RUN_EXAMPLES: &str = "Examples:\n  gradc run examples/glyphs_mlp.grad\n  gradc run examples/spiral_mlp.grad --epochs 50 --log log.jsonl --save w.safetensors\n  gradc run examples/spiral_mlp.grad --init w.safetensors --epochs 10 --json";

/// `gradc compare --help`'s examples.
const COMPARE_EXAMPLES: &str = "Examples:\n  gradc compare examples/compare_optimizers.grad\n  gradc compare examples/rosenbrock.grad --steps 500 --out runs";

/// `gradc eval --help`'s examples.
const EVAL_EXAMPLES: &str = "Examples:\n  gradc eval examples/glyphs_mlp.grad --init w.safetensors\n  gradc eval examples/glyphs_mlp.grad --init w.safetensors --data glyphs --json";

/// `gradc predict --help`'s examples.
const PREDICT_EXAMPLES: &str = "Examples:\n  gradc predict examples/glyphs_mlp.grad --init w.safetensors --input x.npy --output y.npy --classes\n  gradc predict examples/blobs_softmax.grad --init w.safetensors --input x.csv --output p.csv --probabilities";

/// `gradc check --help`'s examples.
/// `gradc export --help`'s examples.
const EXPORT_EXAMPLES: &str = "Examples:\n  gradc export examples/mnist_cnn.grad --init w.safetensors --onnx cnn.onnx\n  gradc export examples/mnist_cnn.grad --init w.safetensors --onnx cnn32.onnx --batch 32";

const CHECK_EXAMPLES: &str = "Examples:\n  gradc check examples/glyphs_mlp.grad\n  gradc check model.grad";

/// `gradc plot --help`'s examples.
const PLOT_EXAMPLES: &str = "Examples:\n  gradc plot log.jsonl\n  gradc plot adam.jsonl sgd.jsonl --out curves";

/// `gradc grad --help`'s examples.
const GRAD_EXAMPLES: &str = "Examples:\n  gradc grad examples/linear_regression.grad\n  gradc grad examples/linear_regression.grad --param w --latex\n  gradc grad examples/spiral_mlp.grad --values --save g.safetensors";

/// `gradc gradcheck --help`'s examples.
const GRADCHECK_EXAMPLES: &str = "Examples:\n  gradc gradcheck examples/spiral_mlp.grad\n  gradc gradcheck examples/linear_regression.grad --params w,b --all";

/// `gradc lrfind --help`'s examples.
const LRFIND_EXAMPLES: &str = "Examples:\n  gradc lr-find examples/spiral_mlp.grad\n  gradc lr-find examples/spiral_mlp.grad --from 1e-5 --to 1 --steps 200 --out lr";

/// `gradc ir --help`'s examples.
const IR_EXAMPLES: &str = "Examples:\n  gradc ir examples/quadratic.grad\n  gradc ir examples/quadratic.grad --stage backward --raw\n  gradc ir examples/quadratic.grad --stage backward --check quadratic.backward.ir --update";

/// `gradc test --help`'s examples.
const TEST_EXAMPLES: &str = "Examples:\n  gradc test tests/ir\n  gradc test tests/ir --update";

/// `gradc completions --help`'s examples.
const COMPLETIONS_EXAMPLES: &str = "Examples:
  gradc completions bash > ~/.local/share/bash-completion/completions/gradc
  gradc completions zsh > ~/.zfunc/_gradc
  gradc completions fish > ~/.config/fish/completions/gradc.fish";
