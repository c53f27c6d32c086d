//! The `gradc` command line: argument parsing and output only; the work is in the library.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use gradc::diag::{Diag, SourceMap};
use gradc::driver;
use gradc::runtime::log::{fmt_loss, fmt_wall, ProgressTo};
use gradc::runtime::train::{self, RunConfig};

/// gradc: compile and train `.grad` models.
#[derive(Parser)]
#[command(name = "gradc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile FILE and train it, printing progress and a summary.
    Run {
        /// The .grad file.
        file: PathBuf,
        #[command(flatten)]
        training: Training,
        /// Write one JSON object per logged step to FILE.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Log every N steps.
        #[arg(long, value_name = "N", value_parser = count)]
        log_every: Option<usize>,
        /// Save the final parameters, optimizer state and step to this safetensors file.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// Train each run of FILE's compare block from the same start; print a table, write CSVs and charts.
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
    /// Report errors in FILE without running it.
    Check {
        /// The .grad file.
        file: PathBuf,
    },
    /// Print FILE's program at one stage of the pipeline.
    Ir {
        /// The .grad file.
        file: PathBuf,
        /// Which stage to print.
        #[arg(long, value_enum, default_value = "optimized")]
        stage: Stage,
    },
}

/// The training flags `run` and `compare` share.
#[derive(Args)]
struct Training {
    /// Train for N steps (overrides the train block).
    #[arg(long, value_name = "N", value_parser = length)]
    steps: Option<usize>,
    /// Train for N epochs (overrides the train block).
    #[arg(long, value_name = "N", value_parser = length)]
    epochs: Option<usize>,
    /// Seed for initialisation and shuffling (overrides the train block).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Start from this safetensors file: parameters named as `gradc ir` prints them, and, in a
    /// file `--save` wrote, the optimizer state and step to resume from.
    #[arg(long, value_name = "FILE")]
    init: Option<PathBuf>,
    /// Threads for large matrix products.
    #[arg(long, default_value_t = 2, value_parser = threads)]
    threads: usize,
}

/// `--threads`: from 1 to 256.
fn threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 256".into()),
    }
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
    fn config(self) -> RunConfig {
        let Training { steps, epochs, seed, init, threads } = self;
        RunConfig { steps, epochs, seed, init, threads, ..RunConfig::default() }
    }
}

/// Pipeline stages `gradc ir` can print.
#[derive(Clone, Copy, ValueEnum)]
enum Stage {
    Ast,
    Forward,
    Backward,
    Update,
    Optimized,
    Kernels,
    Clif,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { file, training, log, log_every, save } => {
            run(&file, &RunConfig { log, log_every, save, ..training.config() })
        }
        Command::Compare { file, training, out, target } => compare(&file, out, target, &training.config()),
        Command::Check { file } => check(&file),
        Command::Ir { file, stage } => ir(&file, stage),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((diag, sources)) => {
            report(&diag.with_sources(&sources));
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), (Diag, SourceMap)>;

fn report(diag: &Diag) {
    if std::io::stderr().is_terminal() {
        eprintln!("{:?}", miette::Report::new(diag.clone()));
    } else {
        eprint!("{}", diag.render_plain());
    }
    if diag.count() > 1 {
        eprintln!("gradc: {} errors", diag.count());
    }
}

fn front_and_compile(file: &Path) -> Result<(driver::Front, driver::Compiled), (Diag, SourceMap)> {
    let mut front = driver::parse(file)?;
    match driver::compile(&mut front) {
        Ok(c) => Ok((front, c)),
        Err(d) => Err((d, front.sources)),
    }
}

fn check(file: &Path) -> CliResult {
    front_and_compile(file)?;
    eprintln!("{}: no errors", file.display());
    Ok(())
}

fn run(file: &Path, cfg: &RunConfig) -> CliResult {
    let mut front = driver::parse(file)?;
    let compiled = driver::compile_from(&mut front, cfg.init.as_deref()).map_err(|d| (d, front.sources.clone()))?;
    let t = compiled.module.train();
    let rows = compiled.data.as_ref().map_or(0, |d| d.n);
    eprintln!(
        "gradc: {} — {} parameters ({} values), optimizer {}, {}",
        file.display(),
        compiled.lowered.params.len(),
        compiled.lowered.params.iter().map(|p| p.shape.iter().product::<usize>()).sum::<usize>(),
        t.optimizer,
        if rows > 0 { format!("{rows} rows, batch {}", compiled.batch) } else { "no data".into() },
    );
    let summary = driver::train(&compiled, cfg, ProgressTo::stderr(&mut std::io::stderr()))
        .map_err(|d| (d, front.sources.clone()))?;
    if let Some(d) = summary.stopped.diagnostic() {
        return Err((d, front.sources));
    }
    // Writing to a String cannot fail.
    let mut text = String::new();
    writeln!(text, "final loss   {}", fmt_loss(summary.final_loss)).expect("write to String");
    for (name, value) in summary.metrics.iter().chain(&summary.test) {
        writeln!(text, "{name:<12} {:.4}", value).expect("write to String");
    }
    for (name, values) in summary.params.iter().filter(|(_, v)| v.len() == 1) {
        writeln!(text, "{name:<12} {:.6}", values[0]).expect("write to String");
    }
    writeln!(text, "steps        {}", summary.steps).expect("write to String");
    if summary.stopped != train::StopReason::Completed {
        writeln!(text, "stopped      {}", summary.stopped).expect("write to String");
    }
    writeln!(text, "wall time    {}", fmt_wall(summary.wall)).expect("write to String");
    writeln!(text, "steps/s      {:.0}", summary.steps_per_sec()).expect("write to String");
    writeln!(text, "compile time {:.1} ms", summary.compile.as_secs_f64() * 1e3).expect("write to String");
    emit(&text)
}

/// Writes a command's report to standard output: a closed pipe (`| head -0`) ends the command
/// quietly, any other write error is a diagnostic, never a panic.
fn emit(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err((driver::errors::stdout_unwritable(e), SourceMap::default())),
    }
}

fn compare(file: &Path, out: Option<PathBuf>, target: Option<f64>, cfg: &RunConfig) -> CliResult {
    let mut front = driver::parse(file)?;
    let runs = driver::compile_variants(&mut front).map_err(|d| (d, front.sources.clone()))?;
    let out = out.unwrap_or_else(|| {
        let stem = file.file_stem().map_or("gradc".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-compare"))
    });
    eprintln!("gradc: {} — {} runs from the same start, output in {}", file.display(), runs.len(), out.display());
    let mut report =
        driver::compare(&runs, cfg, &out, &mut std::io::stderr()).map_err(|d| (d, front.sources.clone()))?;
    if let Some(loss) = target {
        report.set_target(loss);
    }
    let mut text = format!("{report}\n");
    for path in report.files() {
        // Writing to a String cannot fail.
        writeln!(text, "wrote {}", path.display()).expect("write to String");
    }
    emit(&text)
}

fn ir(file: &Path, stage: Stage) -> CliResult {
    if let Stage::Ast = stage {
        let front = driver::parse(file)?;
        return emit(&gradc::syntax::print::print(&front.ast));
    }
    let (front, c) = front_and_compile(file)?;
    let text = match stage {
        Stage::Ast => unreachable!("handled above"),
        Stage::Forward => gradc::ir::print::print(&c.lowered.forward),
        Stage::Backward => gradc::ir::print::print(&c.backward),
        Stage::Update => gradc::ir::print::print(&c.lowered.update),
        Stage::Optimized => gradc::ir::print::print(&c.optimized),
        Stage::Kernels | Stage::Clif => {
            let opts = gradc::codegen::CompileOptions { verify: true, keep_clif: true, threads: 1 };
            let exe = driver::jit(&c.optimized, &opts).map_err(|d| (d, front.sources.clone()))?;
            match stage {
                Stage::Kernels => exe.kernels().to_string(),
                _ => exe.clif().unwrap_or_default().to_string(),
            }
        }
    };
    emit(&text)
}
