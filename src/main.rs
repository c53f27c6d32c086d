//! The `gradc` command line: argument parsing and output only; the work is in the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gradc::diag::{Diag, SourceMap};
use gradc::driver;
use gradc::runtime::compare;
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
        /// Train for N steps (overrides the train block).
        #[arg(long, value_name = "N")]
        steps: Option<usize>,
        /// Train for N epochs (overrides the train block).
        #[arg(long, value_name = "N")]
        epochs: Option<usize>,
        /// Seed for initialisation and shuffling (overrides the train block).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Write one JSON object per logged step to FILE.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Log every N steps.
        #[arg(long, value_name = "N")]
        log_every: Option<usize>,
        /// Threads for large matrix products.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Start from the parameters in this safetensors file (tensors named as `gradc ir` prints).
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
        /// Save the final parameters to this safetensors file.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// Train each run of FILE's compare block from the same start; print a table, write CSVs and charts.
    Compare {
        /// The .grad file, with a `compare { ... }` block.
        file: PathBuf,
        /// Directory for the CSV histories and the charts [default: FILE's name + `-compare`].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Train each run for N steps (overrides the train block).
        #[arg(long, value_name = "N")]
        steps: Option<usize>,
        /// Train each run for N epochs (overrides the train block).
        #[arg(long, value_name = "N")]
        epochs: Option<usize>,
        /// Seed for initialisation and shuffling, shared by every run (overrides the train block).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Count steps until the loss reaches LOSS [default: 1.1 × the best final loss].
        #[arg(long, value_name = "LOSS")]
        target: Option<f64>,
        /// Start every run from the parameters in this safetensors file.
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
        /// Threads for large matrix products.
        #[arg(long, default_value_t = 2)]
        threads: usize,
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
        Command::Run { file, steps, epochs, seed, log, log_every, threads, init, save } => {
            let cfg = RunConfig { steps, epochs, seed, log, log_every, threads, verify: false, init, save };
            run(&file, &cfg)
        }
        Command::Compare { file, out, steps, epochs, seed, target, init, threads } => {
            let cfg = RunConfig { steps, epochs, seed, init, threads, ..RunConfig::default() };
            compare(&file, out, target, &cfg)
        }
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
    let (front, compiled) = front_and_compile(file)?;
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
    let summary = train::train(&compiled, cfg, &mut std::io::stderr()).map_err(|d| (d, front.sources.clone()))?;
    if let Some(d) = summary.stopped.diagnostic() {
        return Err((d, front.sources));
    }
    println!("final loss   {}", fmt_loss(summary.final_loss));
    for (name, value) in &summary.metrics {
        println!("{name:<12} {:.4}", value);
    }
    for (name, values) in summary.params.iter().filter(|(_, v)| v.len() == 1) {
        println!("{name:<12} {:.6}", values[0]);
    }
    println!("steps        {}", summary.steps);
    if summary.stopped != train::StopReason::Completed {
        println!("stopped      {}", summary.stopped);
    }
    let wall = summary.wall.as_secs_f64();
    if wall < 1.0 {
        println!("wall time    {:.2} ms", wall * 1e3);
    } else {
        println!("wall time    {wall:.3} s");
    }
    println!("steps/s      {:.0}", summary.steps_per_sec());
    println!("compile time {:.1} ms", summary.compile.as_secs_f64() * 1e3);
    Ok(())
}

/// Six significant digits, in scientific notation once the loss is small.
fn fmt_loss(loss: f64) -> String {
    if loss != 0.0 && loss.abs() < 1e-3 {
        format!("{loss:.5e}")
    } else {
        format!("{loss:.6}")
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
        compare::compare(&runs, cfg, &out, &mut std::io::stderr()).map_err(|d| (d, front.sources.clone()))?;
    if let Some(loss) = target {
        report.set_target(loss);
    }
    println!("{report}");
    for path in report.files() {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn ir(file: &Path, stage: Stage) -> CliResult {
    if let Stage::Ast = stage {
        let front = driver::parse(file)?;
        print!("{}", gradc::syntax::print::print(&front.ast));
        return Ok(());
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
    print!("{text}");
    Ok(())
}
