//! The `gradc` command line: argument parsing and output only; the work is in the library.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use gradc::cli::{Cli, Command};
use gradc::diag::{Diag, SourceMap};
use gradc::driver;
use gradc::driver::score::Part;
use gradc::export::onnx::batch::show;
use gradc::runtime::log::{fmt_loss, summary, ProgressTo};
use gradc::runtime::score::{Prediction, Scores};
use gradc::runtime::train::{self, RunConfig, StatsEvery};
use gradc::snapshot::Stage;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            file,
            training,
            log,
            metrics,
            log_every,
            grad_stats,
            quiet,
            json,
            save,
            step_by_step,
            distributed,
        } => {
            let output = RunOutput { quiet, json };
            let grad_stats = grad_stats.map(|n| n.map_or(StatsEvery::Logged, StatsEvery::Steps));
            let threads = training.threads;
            let config = RunConfig { log, metrics, log_every, grad_stats, save, step_by_step, ..training.config() };
            if distributed || gradc::collective::launched() {
                return run_distributed(&file, &config, output, distributed, threads, None);
            }
            match run(&file, &config, output) {
                Ok(Ran::Alone) => Ok(()),
                // `distributed = true` in a process no launcher started: a run of one rank, of
                // the program already compiled.
                Ok(Ran::Distributed(built)) => {
                    return run_distributed(&file, &config, output, true, threads, Some(Ok(*built)))
                }
                Err(e) => Err(e),
            }
        }
        Command::Compare { file, training, out, target } => compare(&file, out, target, &training.config()),
        Command::Eval { file, init, data, json, threads } => eval(&file, &init, data.as_deref(), json, threads),
        Command::Predict { file, init, input, output, probabilities, classes, threads } => {
            let what = match (probabilities, classes) {
                (true, _) => Prediction::Probabilities,
                (false, true) => Prediction::Classes,
                (false, false) => Prediction::Outputs,
            };
            predict(&file, &init, (&input, &output), what, threads)
        }
        Command::Export { file, init, onnx, batch } => export(&file, &init, &onnx, batch),
        Command::Check { file } => check(&file),
        Command::Plot { logs, out } => plot(&logs, out),
        Command::Ir { file, stage, raw, check, update } => ir(&file, stage, raw, check.as_deref(), update),
        Command::Test { dir, update } => test(&dir, update),
        Command::Grad { file, param, latex, values, init, save, threads } => {
            grad(&file, &gradc::gradmath::Options { param, latex, values, init, save, threads })
        }
        Command::LrFind { file, from, to, steps, out, threads } => {
            lr_find(&file, &gradc::runtime::lr_find::Range { from, to, steps }, out, threads)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gradc", &mut script);
            emit(&String::from_utf8_lossy(&script))
        }
        Command::Gradcheck { file, init, params, sample, all } => {
            gradcheck(&file, &gradc::gradcheck::Options { params, init, sample: (!all).then_some(sample) })
        }
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
        if diag.count() > 1 {
            eprintln!("gradc: {} errors", diag.count());
        }
    } else {
        eprint!("{}", plain(diag));
    }
}

/// A diagnostic as `report` writes it where stderr is no terminal (and a rank of a distributed
/// run sends it to rank 0).
fn plain(diag: &Diag) -> String {
    let more = if diag.count() > 1 { format!("gradc: {} errors\n", diag.count()) } else { String::new() };
    format!("{}{more}", diag.render_plain())
}

/// Reports warnings on stderr, as errors are reported.
fn warn(warnings: &[Diag], sources: &SourceMap) {
    for w in warnings {
        report(&w.clone().with_sources(sources));
    }
}

fn check(file: &Path) -> CliResult {
    let mut front = driver::parse(file)?;
    let compiled = driver::check(&mut front).map_err(|d| (d, front.sources.clone()))?;
    let warnings = &compiled.lowered.warnings;
    warn(warnings, &front.sources);
    match warnings.len() {
        0 => eprintln!("{}: no errors", file.display()),
        n => eprintln!("{}: no errors, {n} warning{}", file.display(), if n == 1 { "" } else { "s" }),
    }
    Ok(())
}

/// How `gradc run` reports.
#[derive(Clone, Copy)]
struct RunOutput {
    /// No header and no progress, only the summary.
    quiet: bool,
    /// The summary as JSON.
    json: bool,
}

/// How `run` ended: it trained, or found the file asks to be trained distributed (and hands
/// over what it compiled).
enum Ran {
    Alone,
    Distributed(Box<(driver::Front, driver::Compiled)>),
}

/// A parsed and compiled file, or why not.
type Built = Result<(driver::Front, driver::Compiled), (Diag, SourceMap)>;

fn run(file: &Path, cfg: &RunConfig, output: RunOutput) -> Result<Ran, (Diag, SourceMap)> {
    let mut front = driver::parse(file)?;
    let compiled = driver::compile_from(&mut front, cfg.init.as_deref()).map_err(|d| (d, front.sources.clone()))?;
    if compiled.module.train().distributed {
        return Ok(Ran::Distributed(Box::new((front, compiled))));
    }
    warn(&compiled.lowered.warnings, &front.sources);
    if !output.quiet {
        eprintln!("{}", compiled.header(&file.display().to_string()));
    }
    // Ctrl-C stops training after the current step, which still reports and saves.
    #[cfg(unix)]
    let watch = gradc::runtime::interrupt::watch();
    let mut stderr = std::io::stderr();
    let progress = if output.quiet { ProgressTo::Hidden } else { ProgressTo::stderr(&mut stderr) };
    let summary = driver::train(&compiled, cfg, progress).map_err(|d| (d, front.sources.clone()))?;
    #[cfg(unix)]
    drop(watch);
    warn(&summary.warnings, &front.sources);
    if let Some(d) = summary.stopped.diagnostic() {
        return Err((d, front.sources));
    }
    let params = &compiled.lowered.params;
    emit(&if output.json { summary::json(&summary, params) } else { summary::table(&summary, params) })?;
    // An interrupted run, reported and saved, ends as the signal would have ended it.
    #[cfg(unix)]
    if let train::StopReason::Interrupted { signal } = summary.stopped {
        gradc::runtime::interrupt::exit_by(signal);
    }
    Ok(Ran::Alone)
}

/// `gradc run` as one rank of a distributed run (`--distributed`, or any run an MPI launcher
/// started): every rank compiles (or takes `built`, the file compiled already), then the ranks agree, so that an error is reported once, by
/// rank 0; rank 0 alone prints progress and the summary. A rank that fails after the ranks
/// agreed ends the whole run (`MPI_Abort`), so that no rank waits for it forever. Each of
/// several ranks runs one thread unless `threads` (`--threads`) says otherwise: ranks started
/// one per core would otherwise contend for the cores (mlp-wide on 2 ranks of 2 cores: 30%
/// slower at two threads a rank).
fn run_distributed(
    file: &Path,
    cfg: &RunConfig,
    output: RunOutput,
    asked: bool,
    threads: Option<usize>,
    built: Option<Built>,
) -> ExitCode {
    use gradc::collective;
    let (_session, place) = match collective::join() {
        Ok(joined) => joined,
        Err(why) => {
            report(&driver::errors::mpi_unavailable(&why));
            return ExitCode::FAILURE;
        }
    };
    if place.ranks > 1 {
        // A rank that panics must not leave through `MPI_Finalize`, which waits for the others
        // while they wait for it inside a collective: it ends the whole run.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            collective::abort(101);
        }));
    }
    let rendered = |(d, sources): (Diag, SourceMap)| plain(&d.with_sources(&sources));
    let built = built.unwrap_or_else(|| {
        driver::parse(file).and_then(|mut front| match driver::compile_from(&mut front, cfg.init.as_deref()) {
            Ok(c) => Ok((front, c)),
            Err(d) => Err((d, front.sources)),
        })
    });
    let distributed = asked || built.as_ref().is_ok_and(|(_, c)| c.module.train().distributed);
    let threads = threads.unwrap_or(if distributed && place.ranks > 1 { 1 } else { cfg.threads });
    let cfg = RunConfig { place: distributed.then_some(place), threads, ..cfg.clone() };
    let planned = match &built {
        Ok(_) if !distributed && place.ranks > 1 => {
            Err(rendered((driver::errors::ranks_not_distributed(place.ranks), SourceMap::default())))
        }
        Ok((front, c)) => match driver::plan(c, &cfg) {
            Ok(plan) => Ok((front, c, plan)),
            Err(d) => Err(rendered((d, front.sources.clone()))),
        },
        Err(e) => Err(rendered(e.clone())),
    };
    let status =
        planned.as_ref().map(|(_, c, plan)| driver::fingerprint(c, &cfg, plan, !output.quiet)).map_err(String::clone);
    match collective::agree(status) {
        Ok(()) => {}
        Err(Some(report)) => {
            eprint!("{report}");
            return ExitCode::FAILURE;
        }
        Err(None) => return ExitCode::FAILURE,
    }
    let Ok((front, c, mut plan)) = planned else {
        // The ranks agreed, so every one of them planned.
        return ExitCode::FAILURE;
    };
    let leads = place.leads();
    #[cfg(unix)]
    if leads && place.ranks > 1 {
        gradc::runtime::interrupt::explain_termination();
    }
    if leads {
        warn(&c.lowered.warnings, &front.sources);
        if !output.quiet {
            eprintln!(
                "{} — {} rank{}",
                c.header(&file.display().to_string()),
                place.ranks,
                if place.ranks == 1 { "" } else { "s" }
            );
        }
    }
    // Every rank keeps the same progress (lines, never a bar), so that all decide alike when
    // to evaluate; rank 0's goes to stderr.
    let (mut stderr, mut sink) = (std::io::stderr(), std::io::sink());
    let progress = match (output.quiet, leads) {
        (true, _) => ProgressTo::Hidden,
        (false, true) => ProgressTo::Lines(&mut stderr),
        (false, false) => ProgressTo::Lines(&mut sink),
    };
    let summary = match train::train(&mut plan, &cfg, progress) {
        Ok(s) => s,
        Err(d) => {
            let report = rendered((d, front.sources.clone()));
            match leads {
                true => eprint!("{report}"),
                false => eprint!("gradc: rank {} of {}: {report}", place.rank, place.ranks),
            }
            collective::abort(1);
        }
    };
    if !leads {
        return if summary.stopped.diagnostic().is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }
    warn(&summary.warnings, &front.sources);
    if let Some(d) = summary.stopped.diagnostic() {
        report(&d.with_sources(&front.sources));
        return ExitCode::FAILURE;
    }
    let params = &c.lowered.params;
    let text = if output.json { summary::json(&summary, params) } else { summary::table(&summary, params) };
    match emit(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err((d, _)) => {
            report(&d);
            ExitCode::FAILURE
        }
    }
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

/// Compiles `file` for scoring the model saved in `init`: its data standardized with the
/// checkpoint's statistics.
fn front_and_compile_from(file: &Path, init: &Path) -> Result<(driver::Front, driver::Compiled), (Diag, SourceMap)> {
    let mut front = driver::parse(file)?;
    match driver::compile_from(&mut front, Some(init)) {
        Ok(c) => Ok((front, c)),
        Err(d) => Err((d, front.sources)),
    }
}

fn eval(file: &Path, init: &Path, data: Option<&str>, json: bool, threads: usize) -> CliResult {
    let (front, c) = front_and_compile_from(file, init)?;
    let e = driver::score::eval(&c, &front.dir, init, data, threads).map_err(|d| (d, front.sources.clone()))?;
    let Scores { loss, metrics } = &e.scores;
    if json {
        // Numbers as f32, as the log writes them, so they compare with its `test_*` bit for bit.
        let number = |x: f64| serde_json::to_string(&(x as f32)).unwrap_or_else(|_| "null".into());
        let string = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut fields = vec![format!("\"data\": {}", string(&e.data)), format!("\"part\": \"{}\"", e.part.name())];
        fields.push(format!("\"rows\": {}", e.rows));
        fields.push(format!("\"loss\": {}", number(*loss)));
        fields.extend(metrics.iter().map(|(n, x)| format!("{}: {}", string(n), number(*x))));
        return emit(&format!("{{{}}}\n", fields.join(", ")));
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    let which = match e.part {
        Part::Whole => format!("`{}`", e.data),
        Part::Training => format!("the training rows of `{}`", e.data),
        Part::Test => format!("the test rows of `{}`", e.data),
    };
    writeln!(text, "data         {which} ({} rows)", e.rows).expect("write to String");
    writeln!(text, "loss         {}", fmt_loss(*loss)).expect("write to String");
    for (name, value) in metrics {
        writeln!(text, "{name:<12} {value:.4}").expect("write to String");
    }
    emit(&text)
}

fn predict(file: &Path, init: &Path, (input, output): (&Path, &Path), what: Prediction, threads: usize) -> CliResult {
    let (front, c) = front_and_compile_from(file, init)?;
    let p = driver::score::predict(&c, init, input, output, what, threads).map_err(|d| (d, front.sources.clone()))?;
    emit(&format!("wrote {} ({} rows, shape {:?})\n", output.display(), p.rows, p.shape))
}

fn export(file: &Path, init: &Path, onnx: &Path, batch: Option<usize>) -> CliResult {
    let (front, c) = front_and_compile_from(file, init)?;
    let e = driver::export::onnx(&c, init, onnx, batch).map_err(|d| (d, front.sources.clone()))?;
    let (input, output) = (show(&e.input), show(&e.output));
    emit(&format!("wrote {} (input {input}, output {output}, {} bytes)\n", onnx.display(), e.bytes))
}

fn compare(file: &Path, out: Option<PathBuf>, target: Option<f64>, cfg: &RunConfig) -> CliResult {
    let mut front = driver::parse(file)?;
    let runs = driver::compile_variants(&mut front).map_err(|d| (d, front.sources.clone()))?;
    // Runs sharing a loss share its warnings: each is reported once.
    let mut warnings: Vec<Diag> = Vec::new();
    for w in runs.iter().flat_map(|(_, c)| &c.lowered.warnings) {
        if !warnings.iter().any(|o| o.code == w.code && o.label == w.label) {
            warnings.push(w.clone());
        }
    }
    warn(&warnings, &front.sources);
    let out = out.unwrap_or_else(|| {
        let stem = file.file_stem().map_or("gradc".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-compare"))
    });
    eprintln!("gradc: {} — {} runs from the same seed, output in {}", file.display(), runs.len(), out.display());
    let mut report = driver::compare(&runs, cfg, &out, ProgressTo::stderr(&mut std::io::stderr()))
        .map_err(|d| (d, front.sources.clone()))?;
    if let Some(loss) = target {
        report.set_target(loss);
    }
    let mut text = format!("{report}\n");
    for path in report.files() {
        // Writing to a String cannot fail.
        writeln!(text, "wrote {}", path.display()).expect("write to String");
    }
    emit(&text)?;
    if report.all_diverged() {
        return Err((gradc::runtime::errors::every_run_diverged(report.runs.len()), front.sources));
    }
    Ok(())
}

fn plot(logs: &[PathBuf], out: Option<PathBuf>) -> CliResult {
    // clap requires at least one log.
    let out = out.unwrap_or_else(|| logs[0].with_extension(""));
    let files = gradc::runtime::plot::plot_logs(logs, &out).map_err(|d| (d, SourceMap::default()))?;
    emit(&files.iter().map(|f| format!("wrote {}\n", f.display())).collect::<String>())
}

fn grad(file: &Path, opts: &gradc::gradmath::Options) -> CliResult {
    let mut front = driver::parse(file)?;
    let c = driver::compile_from(&mut front, opts.init.as_deref()).map_err(|d| (d, front.sources.clone()))?;
    let text = gradc::gradmath::command(&c, opts).map_err(|d| (d, front.sources.clone()))?;
    emit(&text)
}

fn gradcheck(file: &Path, opts: &gradc::gradcheck::Options) -> CliResult {
    let mut front = driver::parse(file)?;
    let c = driver::compile_from(&mut front, opts.init.as_deref()).map_err(|d| (d, front.sources.clone()))?;
    let report = gradc::gradcheck::command(&c, opts).map_err(|d| (d, front.sources.clone()))?;
    emit(&gradc::gradcheck::render(&report))?;
    let failed: Vec<&str> = report.failures().iter().map(|r| r.param.as_str()).collect();
    match failed.as_slice() {
        [] => Ok(()),
        _ => Err((gradc::gradcheck::errors::failed(&failed, report.checks.len()), front.sources)),
    }
}

fn lr_find(file: &Path, range: &gradc::runtime::lr_find::Range, out: Option<PathBuf>, threads: usize) -> CliResult {
    use gradc::runtime::lr_find::{self, End};
    let mut front = driver::parse(file)?;
    let c = driver::compile_lr_range(&mut front, range.from, range.to, range.steps)
        .map_err(|d| (d, front.sources.clone()))?;
    warn(&c.lowered.warnings, &front.sources);
    let out = out.unwrap_or_else(|| {
        let stem = file.file_stem().map_or("gradc".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-lr-find"))
    });
    eprintln!(
        "gradc: {} — lr from {:e} to {:e} over {} steps, output in {}",
        file.display(),
        range.from,
        range.to,
        range.steps,
        out.display()
    );
    let cfg = RunConfig { threads, ..RunConfig::default() };
    let mut plan = driver::plan(&c, &cfg).map_err(|d| (d, front.sources.clone()))?;
    let seed = c.module.train().seed;
    let f = lr_find::run(&mut plan, range, seed, &out).map_err(|d| (d, front.sources.clone()))?;
    let mut text = String::new();
    // Writing to a String cannot fail.
    let last = f.points.last().map_or(range.from, |p| p.lr);
    let ended = match f.end {
        End::Completed => format!("reached lr {last:.2e}"),
        End::Diverged => format!("stopped at lr {last:.2e}: the smoothed loss passed {}× its best", lr_find::DIVERGED),
        End::NonFinite(lr) => format!("stopped at lr {lr:.2e}: the loss was not finite"),
    };
    writeln!(text, "{} steps, {ended}", f.points.len()).expect("write to String");
    match f.suggested_lr() {
        Some(lr) => writeln!(text, "suggested lr {lr:.2e} (the steepest descent of the smoothed loss)"),
        None => writeln!(text, "no suggestion: fewer than {} steps ran", lr_find::SKIP.0 + lr_find::SKIP.1 + 2),
    }
    .expect("write to String");
    for path in &f.files {
        writeln!(text, "wrote {}", path.display()).expect("write to String");
    }
    emit(&text)
}

fn ir(file: &Path, stage: Stage, raw: bool, check: Option<&Path>, update: bool) -> CliResult {
    use gradc::snapshot::{self, errors, Comparison};
    let text = snapshot::text(file, stage, raw)?;
    let no_source = |d| (d, SourceMap::default());
    match (check, update) {
        (None, _) => emit(&text),
        (Some(path), true) => {
            let wrote = snapshot::update(&text, path).map_err(no_source)?;
            let what = if wrote { "wrote" } else { "unchanged:" };
            emit(&format!("{what} {}\n", path.display()))
        }
        (Some(path), false) => match snapshot::compare(&text, path).map_err(no_source)? {
            Comparison::Matches => Ok(()),
            Comparison::Differs(diff) => {
                emit(&diff)?;
                Err(no_source(errors::differs(path)))
            }
            Comparison::Missing => Err(no_source(errors::missing(path))),
        },
    }
}

fn test(dir: &Path, update: bool) -> CliResult {
    use gradc::snapshot::{errors, suite};
    let report = suite::run(dir, update).map_err(|d| (d, SourceMap::default()))?;
    emit(&suite::render(&report))?;
    match report.passes() {
        true => Ok(()),
        false => Err((errors::failed(report.failed(), report.models.len()), SourceMap::default())),
    }
}
