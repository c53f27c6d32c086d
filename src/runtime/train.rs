//! The training loop: initialise parameters, feed batches to the compiled train step, evaluate,
//! log and summarise. All per-step buffers exist before the first step.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::data::{Batcher, Dataset, Labels};
use super::init;
use super::log::{MetricsLog, Progress, ProgressStyle, Record};
use super::rng::Rng;
use crate::codegen::{CompileOptions, Executable};
use crate::diag::Diag;
use crate::driver::{self, Compiled};
use crate::ir::{Graph, InputRole, OutputRole};
use crate::sema::InitSpec;

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Train for this many steps.
    pub steps: Option<usize>,
    /// Train for this many epochs.
    pub epochs: Option<usize>,
    /// Seed for initialisation and shuffling.
    pub seed: Option<u64>,
    /// Write JSON lines here.
    pub log: Option<PathBuf>,
    /// Log every this many steps.
    pub log_every: Option<usize>,
    /// Threads for large matrix products (1 or 2).
    pub threads: usize,
    /// Verify generated code (slower compile).
    pub verify: bool,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Steps taken.
    pub steps: usize,
    /// Loss over the whole training set (or of the parameters alone) after training.
    pub final_loss: f64,
    /// Metrics over the whole training set after training.
    pub metrics: Vec<(String, f64)>,
    /// Final parameter values by name.
    pub params: Vec<(String, Vec<f32>)>,
    /// Time in the training loop.
    pub wall: Duration,
    /// Time from source to native code.
    pub compile: Duration,
}

impl Summary {
    /// Training throughput.
    pub fn steps_per_sec(&self) -> f64 {
        self.steps as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Native code for one batch size, with where its data inputs are.
struct Step {
    exe: Executable,
    x: Option<String>,
    y: Option<String>,
}

impl Step {
    fn new(graph: &Graph, opts: &CompileOptions) -> Result<Step, Diag> {
        let named = |role| graph.inputs.iter().find(|i| i.role == role).map(|i| i.name.clone());
        Ok(Step { exe: driver::jit(graph, opts)?, x: named(InputRole::Data), y: named(InputRole::Label) })
    }

    /// Copies the dataset rows `rows` (as many as this step takes) into the data inputs.
    fn load_rows(&mut self, data: &Dataset, rows: &[usize]) {
        let d = data.d;
        if let Some(x) = &self.x {
            // Inputs named by the graph exist in its executable.
            let buf = self.exe.input_mut(x).expect("data input exists");
            for (r, &row) in rows.iter().enumerate() {
                buf[r * d..(r + 1) * d].copy_from_slice(&data.features[row * d..(row + 1) * d]);
            }
        }
        let Some(y) = &self.y else { return };
        match &data.labels {
            Labels::Classes { y: labels, .. } => {
                let buf = self.exe.input_i32_mut(y).expect("label input exists");
                for (r, &row) in rows.iter().enumerate() {
                    buf[r] = labels[row];
                }
            }
            Labels::Targets { y: targets, k } => {
                let buf = self.exe.input_mut(y).expect("target input exists");
                for (r, &row) in rows.iter().enumerate() {
                    buf[r * k..(r + 1) * k].copy_from_slice(&targets[row * k..(row + 1) * k]);
                }
            }
            Labels::None => {}
        }
    }

    /// Copies parameters and optimizer state from another executable.
    fn take_state(&mut self, from: &Executable, names: &[String]) {
        for name in names {
            if let (Some(src), Some(dst)) = (from.input(name), self.exe.input_mut(name)) {
                dst.copy_from_slice(src);
            }
        }
    }
}

/// Trains a compiled program and returns the summary; progress goes to `progress_out`.
pub fn train(c: &Compiled, cfg: &RunConfig, progress_out: &mut dyn Write) -> Result<Summary, Diag> {
    let compile_started = Instant::now();
    let train = c.module.train();
    let opts = CompileOptions { verify: cfg.verify, keep_clif: false, threads: cfg.threads.max(1) };
    let rows = c.data.as_ref().map_or(1, |d| d.n);
    let batch = c.batch;
    let full_batches = rows / batch;
    let tail = rows % batch;
    let per_epoch = full_batches + usize::from(tail > 0);
    let total = match (cfg.steps, cfg.epochs, train.steps, train.epochs) {
        (Some(s), _, _, _) => s,
        (None, Some(e), _, _) => e * per_epoch,
        (None, None, Some(s), _) => s,
        (None, None, None, Some(e)) => e * per_epoch,
        (None, None, None, None) => unreachable!("train::check requires steps or epochs"),
    };
    let mut main = Step::new(&c.optimized, &opts)?;
    let mut short = match tail {
        0 => None,
        n => Some(Step::new(&driver::train_step_at(c, n)?, &opts)?),
    };
    let mut eval = Step::new(&driver::forward_at(c, rows)?, &opts)?;
    let compile = c.frontend_time + compile_started.elapsed();

    // Parameters and state start in the main executable; the others copy them when they run.
    let seed = cfg.seed.unwrap_or(train.seed);
    let rng = Rng::new(seed);
    let mut carried: Vec<String> = Vec::new();
    for (name, values) in initial_values(c, seed) {
        main.exe.input_mut(&name).expect("param and state inputs exist").copy_from_slice(&values);
        carried.push(name);
    }
    let param_names: Vec<String> = c.lowered.params.iter().map(|p| p.name.clone()).collect();
    let small_params: Vec<String> =
        c.lowered.params.iter().filter(|p| p.shape.iter().product::<usize>() <= 16).map(|p| p.name.clone()).collect();
    let metric_names: Vec<String> =
        c.optimized.outputs.iter().filter(|o| o.role == OutputRole::Metric).map(|o| o.name.clone()).collect();

    let metric_refs: Vec<&str> = metric_names.iter().map(String::as_str).collect();
    let mut log = match &cfg.log {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                Diag::new("gradc::io::log", format!("cannot write the log `{}`: {e}", path.display()))
                    .help("check that the directory exists and is writable")
            })?;
            Some(MetricsLog::new(file, &metric_refs))
        }
        None => None,
    };
    let log_every = cfg.log_every.or(train.log_every).unwrap_or((total / 20).max(1));
    let mut progress = Progress::new(progress_out, total as u64, progress_style(log_every));
    let shuffle = if train.shuffle { Some(rng.fork("shuffle")) } else { None };
    let mut batcher = Batcher::new(rows, batch, shuffle, train.span)?;
    let all_rows: Vec<usize> = (0..rows).collect();
    let data = c.data.as_ref();

    let started = Instant::now();
    let mut last_lr = f64::NAN;
    for step in 0..total {
        let in_epoch = step % per_epoch;
        if in_epoch == 0 {
            batcher.start_epoch((step / per_epoch) as u64);
        }
        let is_short = in_epoch == full_batches;
        let runner = match (&mut short, is_short) {
            (Some(s), true) => {
                s.take_state(&main.exe, &carried);
                s
            }
            _ => &mut main,
        };
        if let Some(d) = data {
            runner.load_rows(d, batcher.indices(in_epoch));
        }
        runner.exe.input_mut("t").expect("step input exists")[0] = (step + 1) as f32;
        runner.exe.run();
        let loss = runner.exe.output("loss").expect("loss output")[0] as f64;
        last_lr = runner.exe.output("lr").map_or(f64::NAN, |l| l[0] as f64);
        if is_short {
            if let Some(s) = &short {
                main.take_state(&s.exe, &carried);
            }
        }
        if !loss.is_finite() {
            return Err(Diag::new("gradc::train::diverged", format!("the loss became {loss} at step {}", step + 1))
                .help(format!("training diverged; lower the learning rate (it was {last_lr}) or clip gradients")));
        }
        let logged = (step + 1) % log_every == 0 || step + 1 == total;
        if logged {
            let metrics = if metric_names.is_empty() {
                vec![]
            } else {
                eval.take_state(&main.exe, &param_names);
                run_eval(&mut eval, data, &all_rows, &metric_names).1
            };
            if let Some(log) = &mut log {
                let params = read_params(&main.exe, &small_params);
                let values: Vec<f32> = metrics.iter().map(|m| m.1 as f32).collect();
                let record = Record {
                    step: step as u64 + 1,
                    loss: loss as f32,
                    lr: last_lr as f32,
                    metrics: &values,
                    params: &params,
                    last: false,
                };
                log.record(&record).map_err(io_error)?;
            }
            progress.update(step as u64 + 1, loss as f32).map_err(io_error)?;
        }
    }
    let wall = started.elapsed();
    eval.take_state(&main.exe, &param_names);
    let (final_loss, metrics) = run_eval(&mut eval, data, &all_rows, &metric_names);
    let params = read_params(&main.exe, &param_names);
    progress.finish(total as u64, final_loss as f32).map_err(io_error)?;
    if let Some(log) = &mut log {
        let small = read_params(&main.exe, &small_params);
        let values: Vec<f32> = metrics.iter().map(|m| m.1 as f32).collect();
        let record = Record {
            step: total as u64,
            loss: final_loss as f32,
            lr: last_lr as f32,
            metrics: &values,
            params: &small,
            last: true,
        };
        log.record(&record).map_err(io_error)?;
    }
    Ok(Summary { steps: total, final_loss, metrics, params, wall, compile })
}

/// An in-place bar on a terminal; otherwise a line at each log point.
fn progress_style(every: usize) -> ProgressStyle {
    if std::io::stderr().is_terminal() {
        ProgressStyle::Bar
    } else {
        ProgressStyle::Lines { every: every as u64 }
    }
}

fn io_error(e: std::io::Error) -> Diag {
    Diag::new("gradc::io::log", format!("writing the log failed: {e}")).help("check the disk and the log path")
}

fn read_params(exe: &Executable, names: &[String]) -> Vec<(String, Vec<f32>)> {
    names.iter().map(|n| (n.clone(), exe.input(n).expect("param input exists").to_vec())).collect()
}

/// Loss and metrics over the whole training set with the parameters the evaluator holds.
fn run_eval(
    eval: &mut Step,
    data: Option<&Dataset>,
    all_rows: &[usize],
    metrics: &[String],
) -> (f64, Vec<(String, f64)>) {
    if let Some(d) = data {
        eval.load_rows(d, all_rows);
    }
    eval.exe.run();
    let loss = eval.exe.output("loss").expect("loss output")[0] as f64;
    let values = metrics.iter().map(|m| (m.clone(), eval.exe.output(m).expect("metric output")[0] as f64)).collect();
    (loss, values)
}

/// The starting values of every parameter (each from its own stream of `seed`) and every
/// optimizer state variable, by name.
pub fn initial_values(c: &Compiled, seed: u64) -> Vec<(String, Vec<f32>)> {
    let rng = Rng::new(seed);
    let params = c
        .lowered
        .params
        .iter()
        .map(|p| (p.name.clone(), init::fill(&to_init(&p.init), &p.shape, &mut rng.fork(&p.name))));
    let states = c.lowered.states.iter().map(|s| (s.name.clone(), vec![s.init; s.shape.iter().product()]));
    params.chain(states).collect()
}

/// The runtime's initializer for what the source asked for.
fn to_init(spec: &InitSpec) -> init::Init {
    match *spec {
        InitSpec::Zeros => init::Init::Zeros,
        InitSpec::Constant(c) => init::Init::Constant(c),
        InitSpec::Normal { mean, std } => init::Init::Normal { mean, std },
        InitSpec::Uniform { lo, hi } => init::Init::Uniform { lo, hi },
        InitSpec::XavierNormal(gain) => init::Init::XavierNormal { gain },
        InitSpec::XavierUniform(gain) => init::Init::XavierUniform { gain },
        InitSpec::HeNormal(gain) => init::Init::HeNormal { gain },
        InitSpec::HeUniform(gain) => init::Init::HeUniform { gain },
    }
}
