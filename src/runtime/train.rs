//! The training loop: initialise parameters, feed batches to the compiled train step, evaluate,
//! log and summarise. All per-step buffers exist before the first step.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::batch::Batcher;
use super::checkpoint;
use super::init;
use super::log::{MetricsLog, Progress, ProgressStyle, Record};
use crate::codegen::{CompileOptions, Executable};
use crate::data::{Dataset, Labels, LabelsOut};
use crate::diag::Diag;
use crate::driver::{self, Compiled};
use crate::ir::{Graph, InputRole, OutputRole, StepInput, StepOutput};
use crate::rng::Rng;
use crate::sema::{Converge, EarlyStop, Plateau};

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
    /// Start from the parameters in this safetensors file instead of the initializers.
    pub init: Option<PathBuf>,
    /// Save the final parameters to this safetensors file.
    pub save: Option<PathBuf>,
}

/// One logged point of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPoint {
    /// Steps taken.
    pub step: usize,
    /// That step's batch loss.
    pub loss: f64,
    /// That step's learning rate.
    pub lr: f64,
    /// Metrics over the whole training set, in the order of `Summary::metrics`.
    pub metrics: Vec<(String, f64)>,
    /// Parameters of at most 16 elements, after the step.
    pub params: Vec<(String, Vec<f32>)>,
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
    /// Every logged point, in order.
    pub history: Vec<LogPoint>,
    /// Why the run ended.
    pub stopped: StopReason,
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

/// Native code for one graph at one batch size, with the arena slots the loop touches every
/// step resolved once, at compile time.
pub struct Runner {
    /// The compiled graph.
    pub exe: Executable,
    outputs: Vec<(String, OutputRole)>,
    x: Option<usize>,
    y: Option<usize>,
    t: Option<usize>,
    apply: Option<usize>,
    epoch: Option<usize>,
    lr_scale: Option<usize>,
    loss: Option<usize>,
    lr: Option<usize>,
    update_norm: Option<usize>,
}

impl Runner {
    /// Compiles `graph`.
    pub fn new(graph: &Graph, opts: &CompileOptions) -> Result<Runner, Diag> {
        let exe = driver::jit(graph, opts)?;
        let by_role = |role| graph.inputs.iter().find(|i| i.role == role).and_then(|i| exe.input_slot(&i.name));
        let input = |which: StepInput| exe.input_slot(which.name());
        let output = |which: StepOutput| exe.output_slot(which.name());
        Ok(Runner {
            outputs: graph.outputs.iter().map(|o| (o.name.clone(), o.role)).collect(),
            x: by_role(InputRole::Data),
            y: by_role(InputRole::Label),
            t: input(StepInput::T),
            apply: input(StepInput::Apply),
            epoch: input(StepInput::Epoch),
            lr_scale: input(StepInput::LrScale),
            loss: output(StepOutput::Loss),
            lr: output(StepOutput::Lr),
            update_norm: output(StepOutput::UpdateNorm),
            exe,
        })
    }

    /// Copies the dataset rows `rows` (as many as this step takes) into the data inputs.
    pub fn load_rows(&mut self, data: &Dataset, rows: &[usize]) {
        if let Some(x) = self.x {
            data.copy_features(rows, self.exe.slot_mut(x));
        }
        let Some(y) = self.y else { return };
        let out = match &data.labels {
            Labels::Classes { .. } => LabelsOut::Classes(self.exe.slot_i32_mut(y)),
            Labels::Targets { .. } => LabelsOut::Targets(self.exe.slot_mut(y)),
            Labels::None => return,
        };
        data.copy_labels(rows, out);
    }

    /// Sets the step inputs the graph has: the update number `t`, whether this micro-batch
    /// applies the update, the epoch and the plateau scale of the learning rate.
    fn set_steps(&mut self, t: usize, apply: bool, epoch: usize, lr_scale: f64) {
        let values = [
            (self.t, t as f64),
            (self.apply, f64::from(u8::from(apply))),
            (self.epoch, epoch as f64),
            (self.lr_scale, lr_scale),
        ];
        for (slot, value) in values {
            if let Some(slot) = slot {
                self.exe.slot_mut(slot)[0] = value as f32;
            }
        }
    }

    /// The loss of the last run.
    fn loss(&self) -> f64 {
        // Every forward graph has a loss output (sema adds it).
        f64::from(self.exe.output_at(self.loss.expect("graphs have a loss"))[0])
    }

    /// A scalar output of the last run, NaN if the graph lacks it.
    fn scalar(&self, slot: Option<usize>) -> f64 {
        slot.map_or(f64::NAN, |s| f64::from(self.exe.output_at(s)[0]))
    }

    /// The names of the graph's outputs with this role.
    fn exe_outputs(&self, role: OutputRole) -> Vec<String> {
        self.outputs.iter().filter(|o| o.1 == role).map(|o| o.0.clone()).collect()
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

/// How many updates a run makes: the command line's steps or epochs, else the train block's.
/// With gradient accumulation each update takes `accumulate` batches.
pub fn total_steps(c: &Compiled, cfg: &RunConfig) -> usize {
    let train = c.module.train();
    let rows = c.data.as_ref().map_or(1, |d| d.n);
    let per_epoch = rows.div_ceil(c.batch);
    let updates = |epochs: usize| (epochs * per_epoch).div_ceil(train.accumulate);
    match (cfg.steps, cfg.epochs, train.steps, train.epochs) {
        (Some(s), _, _, _) | (None, None, Some(s), _) => s,
        (None, Some(e), _, _) | (None, None, None, Some(e)) => updates(e),
        (None, None, None, None) => unreachable!("train::check requires steps or epochs"),
    }
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// It ran every step it was asked for.
    Completed,
    /// The monitored value stopped improving.
    EarlyStopped {
        /// The monitored quantity.
        on: String,
        /// Its best value.
        best: f64,
        /// The epoch (from 1) of the best value.
        best_epoch: usize,
        /// Whether the best parameters were restored.
        restored: bool,
    },
    /// The loss stopped being finite.
    Diverged {
        /// The step whose loss was not finite.
        step: usize,
        /// That loss.
        loss: f64,
        /// The learning rate of that step.
        lr: f64,
    },
    /// A convergence criterion was met.
    Converged {
        /// `update_norm` or `loss_change`.
        criterion: &'static str,
        /// The value that fell below the tolerance.
        value: f64,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Completed => f.write_str("completed"),
            StopReason::EarlyStopped { on, best, best_epoch, restored } => {
                let r = if *restored { ", its parameters restored" } else { "" };
                write!(f, "early stopping: `{on}` stopped improving; best {best:.6} at epoch {best_epoch}{r}")
            }
            StopReason::Converged { criterion, value } => write!(f, "converged: `{criterion}` fell to {value:.3e}"),
            StopReason::Diverged { step, loss, .. } => write!(f, "diverged: the loss became {loss} at step {step}"),
        }
    }
}

impl StopReason {
    /// The error a diverged run is, with what to try; `None` for the other reasons.
    pub fn diagnostic(&self) -> Option<Diag> {
        let StopReason::Diverged { step, loss, lr } = *self else { return None };
        Some(
            Diag::new("gradc::train::diverged", format!("the loss became {loss} at step {step}"))
                .help(format!("training diverged; lower the learning rate (it was {lr}) or clip gradients")),
        )
    }
}

/// Tracks a monitored value for early stopping (Keras' rule: improvement beyond `min_delta`).
struct EarlyStopper<'a> {
    spec: &'a EarlyStop,
    best: f64,
    best_epoch: usize,
    wait: usize,
    best_params: Vec<(String, Vec<f32>)>,
}

impl EarlyStopper<'_> {
    /// Whether higher is better: accuracies are maximised, losses minimised.
    fn maximize(&self) -> bool {
        !self.spec.on.ends_with("loss")
    }

    /// Records an evaluation; returns true when patience has run out.
    fn observe(&mut self, value: f64, epoch: usize, exe: &Executable, params: &[String]) -> bool {
        let improved = if self.maximize() {
            value > self.best + self.spec.min_delta
        } else {
            value < self.best - self.spec.min_delta
        };
        if improved {
            self.best = value;
            self.best_epoch = epoch;
            self.wait = 0;
            if self.spec.restore {
                self.best_params = read_params(exe, params);
            }
            return false;
        }
        self.wait += 1;
        self.wait >= self.spec.patience
    }
}

/// torch.optim.lr_scheduler.ReduceLROnPlateau's state machine.
struct PlateauState<'a> {
    spec: &'a Plateau,
    best: f64,
    bad_epochs: usize,
    cooldown: usize,
    /// Multiplier of the scheduled learning rate, fed to the graph's `lr_scale` input.
    scale: f64,
}

impl PlateauState<'_> {
    fn is_better(&self, a: f64) -> bool {
        let t = self.spec.threshold;
        match (self.spec.maximize, self.spec.relative) {
            (false, true) => a < self.best * (1.0 - t),
            (false, false) => a < self.best - t,
            (true, true) => a > self.best * (1.0 + t),
            (true, false) => a > self.best + t,
        }
    }

    /// One epoch's value of the monitored quantity; `lr` is the learning rate now in use.
    fn step(&mut self, value: f64, lr: f64) {
        if self.is_better(value) {
            self.best = value;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown > 0 {
            self.cooldown -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.spec.patience {
            let new_lr = (lr * self.spec.factor).max(self.spec.min_lr);
            if lr - new_lr > 1e-8 {
                self.scale *= new_lr / lr;
            }
            self.cooldown = self.spec.cooldown;
            self.bad_epochs = 0;
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
    let seed = cfg.seed.unwrap_or(train.seed);
    let shuffle = if train.shuffle { Some(Rng::new(seed).fork("shuffle")) } else { None };
    let mut batcher = Batcher::new(rows, batch, shuffle, train.span)?;
    let (full_batches, tail, per_epoch) = (batcher.full_batches(), batcher.remainder(), batcher.num_batches());
    let k = train.accumulate;
    let total = total_steps(c, cfg);
    let mut main = Runner::new(&c.optimized, &opts)?;
    let mut short = match tail {
        0 => None,
        n => Some(Runner::new(&driver::train_step_at(c, n)?, &opts)?),
    };
    let mut eval = Runner::new(&driver::forward_at(c, rows)?, &opts)?;
    let mut val_eval = match &c.val {
        Some(v) => Some(Runner::new(&driver::forward_at(c, v.n)?, &opts)?),
        None => None,
    };
    let compile = c.frontend_time + compile_started.elapsed();

    // Parameters and state start in the main executable; the others copy them when they run.
    let mut carried: Vec<String> = Vec::new();
    for (name, values) in initial_values(c, seed) {
        main.exe.input_mut(&name).expect("param and state inputs exist").copy_from_slice(&values);
        carried.push(name);
    }
    // A checkpoint replaces the initializers' values; one saved by gradc also restores the
    // optimizer state and the step, so the run continues where it stopped.
    let state_slots = state_slots(c);
    let mut start = 0;
    if let Some(path) = &cfg.init {
        let restored = checkpoint::load(path, &c.lowered.params, &state_slots)?;
        for (name, values) in restored.values {
            main.exe.input_mut(&name).expect("param and state inputs exist").copy_from_slice(&values);
        }
        start = restored.step;
    }
    if let Some(path) = &cfg.save {
        checkpoint::check_writable(path)?;
    }
    let param_names: Vec<String> = c.lowered.params.iter().map(|p| p.name.clone()).collect();
    let small_params: Vec<String> =
        c.lowered.params.iter().filter(|p| p.shape.iter().product::<usize>() <= 16).map(|p| p.name.clone()).collect();
    let train_metrics: Vec<String> = eval.exe_outputs(OutputRole::Metric);
    let mut metric_names = train_metrics.clone();
    if val_eval.is_some() {
        metric_names.push("val_loss".into());
        metric_names.extend(train_metrics.iter().map(|m| format!("val_{m}")));
    }

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
    let all_rows: Vec<usize> = (0..rows).collect();
    let val_rows: Vec<usize> = (0..c.val.as_ref().map_or(0, |v| v.n)).collect();
    let data = c.data.as_ref();
    let mut stopper = train.early_stop.as_ref().map(|spec| EarlyStopper {
        spec,
        best: if spec.on.ends_with("loss") { f64::INFINITY } else { f64::NEG_INFINITY },
        best_epoch: 0,
        wait: 0,
        best_params: vec![],
    });
    let mut plateau = train.plateau.as_ref().map(|spec| PlateauState {
        spec,
        best: if spec.maximize { f64::NEG_INFINITY } else { f64::INFINITY },
        bad_epochs: 0,
        cooldown: 0,
        scale: 1.0,
    });
    let converge = &train.converge;

    let started = Instant::now();
    let mut last_lr = f64::NAN;
    let mut last_loss = f64::NAN;
    let mut history = Vec::new();
    let mut stopped = StopReason::Completed;
    let mut updates = start;
    let mut micro = start * k;
    let end = start + total;
    batcher.start_epoch((micro / per_epoch) as u64);
    'training: while updates < end {
        let in_epoch = micro % per_epoch;
        let epoch = micro / per_epoch;
        if in_epoch == 0 {
            batcher.start_epoch(epoch as u64);
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
        let applies = (micro + 1).is_multiple_of(k);
        runner.set_steps(micro / k + 1, applies, epoch, plateau.as_ref().map_or(1.0, |p| p.scale));
        runner.exe.run();
        let loss = runner.loss();
        last_lr = runner.scalar(runner.lr);
        let update_norm = runner.scalar(runner.update_norm);
        if is_short {
            if let Some(s) = &short {
                main.take_state(&s.exe, &carried);
            }
        }
        if !loss.is_finite() {
            let params = read_params(&main.exe, &small_params);
            history.push(LogPoint { step: updates + 1, loss, lr: last_lr, metrics: vec![], params });
            stopped = StopReason::Diverged { step: updates + 1, loss, lr: last_lr };
            break 'training;
        }
        micro += 1;
        if !applies {
            continue;
        }
        updates += 1;
        let epoch_done = data.is_none() || micro.is_multiple_of(per_epoch);
        let logged = updates % log_every == 0 || updates == end;
        let monitoring = epoch_done && (stopper.is_some() || plateau.is_some());
        let metrics = if (logged && !metric_names.is_empty()) || monitoring {
            evaluate(
                &mut eval,
                val_eval.as_mut(),
                &main.exe,
                data,
                c.val.as_ref(),
                &all_rows,
                &val_rows,
                &param_names,
                &train_metrics,
            )
        } else {
            vec![]
        };
        if logged {
            let params = read_params(&main.exe, &small_params);
            let point = LogPoint { step: updates, loss, lr: last_lr, metrics: metrics.clone(), params };
            if let Some(log) = &mut log {
                write_line(log, &metric_names, &point, false)?;
            }
            history.push(point);
            progress.update((updates - start) as u64, loss as f32).map_err(io_error)?;
        }
        for criterion in converge {
            let (name, value, tol) = match *criterion {
                Converge::UpdateNorm(tol) => (StepOutput::UpdateNorm.name(), update_norm, tol),
                Converge::LossChange(tol) => ("loss_change", (loss - last_loss).abs(), tol),
            };
            if value < tol {
                stopped = StopReason::Converged { criterion: name, value };
                break 'training;
            }
        }
        last_loss = loss;
        if monitoring {
            let epochs_done = if data.is_none() { updates } else { micro / per_epoch };
            if let Some(p) = &mut plateau {
                p.step(lookup(&metrics, &p.spec.on), last_lr);
            }
            if let Some(s) = &mut stopper {
                if s.observe(lookup(&metrics, &s.spec.on), epochs_done, &main.exe, &param_names) {
                    if s.spec.restore {
                        for (name, values) in &s.best_params {
                            main.exe.input_mut(name).expect("param input exists").copy_from_slice(values);
                        }
                    }
                    stopped = StopReason::EarlyStopped {
                        on: s.spec.on.clone(),
                        best: s.best,
                        best_epoch: s.best_epoch,
                        restored: s.spec.restore,
                    };
                    break 'training;
                }
            }
        }
    }
    let wall = started.elapsed();
    let mut metrics = evaluate(
        &mut eval,
        val_eval.as_mut(),
        &main.exe,
        data,
        c.val.as_ref(),
        &all_rows,
        &val_rows,
        &param_names,
        &train_metrics,
    );
    // `evaluate` puts the whole-set loss first; the summary reports it apart from the metrics.
    let (_, final_loss) = metrics.remove(0);
    let params = read_params(&main.exe, &param_names);
    progress.finish((updates - start) as u64, final_loss as f32).map_err(io_error)?;
    if let Some(log) = &mut log {
        let small = read_params(&main.exe, &small_params);
        let point = LogPoint { step: updates, loss: final_loss, lr: last_lr, metrics: metrics.clone(), params: small };
        write_line(log, &metric_names, &point, true)?;
    }
    // A diverged run's parameters are not worth keeping.
    if let (Some(path), None) = (&cfg.save, stopped.diagnostic()) {
        let state: Vec<(String, Vec<usize>, Vec<f32>)> = state_slots
            .iter()
            .map(|(n, shape)| (n.clone(), shape.clone(), main.exe.input(n).expect("state input exists").to_vec()))
            .collect();
        checkpoint::save(path, &c.lowered.params, &params, &state, updates)?;
    }
    Ok(Summary { steps: updates - start, final_loss, metrics, params, history, stopped, wall, compile })
}

/// Writes one line of the JSON-lines log: the point's numbers in the log's metric order.
fn write_line(log: &mut MetricsLog<std::fs::File>, names: &[String], p: &LogPoint, last: bool) -> Result<(), Diag> {
    let values: Vec<f32> = names.iter().map(|n| lookup(&p.metrics, n) as f32).collect();
    let record =
        Record { step: p.step as u64, loss: p.loss as f32, lr: p.lr as f32, metrics: &values, params: &p.params, last };
    log.record(&record).map_err(io_error)
}

/// A named value from a list, NaN if absent.
fn lookup(values: &[(String, f64)], name: &str) -> f64 {
    values.iter().find(|(n, _)| n == name).map_or(f64::NAN, |v| v.1)
}

/// Loss and metrics over the training set (as `loss`, `<metric>`) and the validation set
/// (as `val_loss`, `val_<metric>`) with the parameters of `from`.
#[allow(clippy::too_many_arguments)] // the two evaluators and their data travel in pairs
fn evaluate(
    eval: &mut Runner,
    val_eval: Option<&mut Runner>,
    from: &Executable,
    data: Option<&Dataset>,
    val: Option<&Dataset>,
    rows: &[usize],
    val_rows: &[usize],
    params: &[String],
    metrics: &[String],
) -> Vec<(String, f64)> {
    eval.take_state(from, params);
    let (loss, mut out) = run_eval(eval, data, rows, metrics);
    out.insert(0, (StepOutput::Loss.name().into(), loss));
    if let (Some(v), Some(val)) = (val_eval, val) {
        v.take_state(from, params);
        let (val_loss, val_metrics) = run_eval(v, Some(val), val_rows, metrics);
        out.push(("val_loss".into(), val_loss));
        out.extend(val_metrics.into_iter().map(|(n, x)| (format!("val_{n}"), x)));
    }
    out
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
    eval: &mut Runner,
    data: Option<&Dataset>,
    all_rows: &[usize],
    metrics: &[String],
) -> (f64, Vec<(String, f64)>) {
    if let Some(d) = data {
        eval.load_rows(d, all_rows);
    }
    eval.exe.run();
    let values = metrics.iter().map(|m| (m.clone(), eval.exe.output(m).expect("metric output")[0] as f64)).collect();
    (eval.loss(), values)
}

/// The starting values of every parameter (each from its own stream of `seed`) and every
/// optimizer state variable, by name.
pub fn initial_values(c: &Compiled, seed: u64) -> Vec<(String, Vec<f32>)> {
    let rng = Rng::new(seed);
    let params =
        c.lowered.params.iter().map(|p| (p.name.clone(), init::fill(&p.init, &p.shape, &mut rng.fork(&p.name))));
    // Optimizer state starts where its declaration says; other state (accumulators) at zero.
    let states = state_slots(c).into_iter().map(|(name, shape)| {
        let init = c.lowered.states.iter().find(|s| s.name == name).map_or(0.0, |s| s.init);
        (name, vec![init; shape.iter().product()])
    });
    params.chain(states).collect()
}

/// The name and shape of every state input of the train step: optimizer state, and gradient
/// accumulators when the train block accumulates. Checkpoints save and restore these.
pub fn state_slots(c: &Compiled) -> Vec<(String, Vec<usize>)> {
    let states = c.optimized.inputs.iter().filter(|i| i.role == InputRole::State);
    states.map(|i| (i.name.clone(), i.ty.shape.clone())).collect()
}
