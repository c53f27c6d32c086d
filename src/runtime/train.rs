//! The training loop (long because the `Trainer`'s methods — stepping one at a time and in
//! bursts, what is due after an update, evaluation, the summary — share its private state; the
//! burst buffers are in [`super::burst`]): initialise parameters, feed batches to the compiled
//! train step, evaluate, log and summarise. Every executable and per-step buffer exists before
//! the first step (the driver compiles them into a [`Plan`]); the stopping rules are in
//! [`super::stopping`].

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::batch::Batcher;
use super::burst::Burst;
use super::checkpoint::{self, RunState};
use super::errors;
pub use super::health::StatsEvery;
use super::health::{Health, StatsPoint};
use super::init;
use super::log::{self, Cadence, MetricsCsv, MetricsLog, Point, Progress, ProgressTo, Record};
use super::plan::{Executables, Plan, Program};
use super::runner::{loss_value, Runner, Steps};
pub use super::stopping::StopReason;
use super::stopping::{converged, EarlyStopper, PlateauState};
use crate::codegen::Executable;
use crate::collective::{self, Place};
use crate::data::Dataset;
use crate::diag::Diag;
use crate::ir::{OutputRole, Stat, StepOutput};
use crate::rng::Rng;
use crate::spec::ParamInfo;

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
    /// Write a CSV row per logged step here.
    pub metrics: Option<PathBuf>,
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
    /// Evaluate the whole training set at every logged step, metrics or not (compare's "steps
    /// to target" needs the whole-set loss, not a noisy batch's).
    pub evaluate_logged: bool,
    /// Compute gradient-health statistics (`--grad-stats`), overriding the train block's
    /// `grad_stats`.
    pub grad_stats: Option<StatsEvery>,
    /// Run every step in its own native call instead of many in one when the host has nothing
    /// to do between them (the numbers are the same).
    pub step_by_step: bool,
    /// This process's rank in a distributed run (`--distributed`): it trains on its share of
    /// each batch, and only rank 0 logs, reports progress and saves. `None` trains alone.
    pub place: Option<Place>,
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
    /// That step's other hyper-parameters a schedule set (`momentum`, `beta1`), by name.
    pub hypers: Vec<(String, f64)>,
    /// Metrics over the whole training set, in the order of `Summary::metrics`.
    pub metrics: Vec<(String, f64)>,
    /// Parameters of at most 16 elements, after the step.
    pub params: Vec<(String, Vec<f32>)>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Steps taken by this run.
    pub steps: usize,
    /// Steps the checkpoint it resumed from had taken (0 for a fresh run).
    pub resumed: usize,
    /// Loss over the whole training set (or of the parameters alone) after training.
    pub final_loss: f64,
    /// Metrics over the whole training set after training (and the validation set's, as
    /// `val_loss`, `val_<metric>`).
    pub metrics: Vec<(String, f64)>,
    /// Loss and metrics over the test set with the final parameters, as `test_loss`,
    /// `test_<metric>`; empty without a test set.
    pub test: Vec<(String, f64)>,
    /// Final parameter values by name.
    pub params: Vec<(String, Vec<f32>)>,
    /// Every logged point, in order.
    pub history: Vec<LogPoint>,
    /// The gradient-health statistics of every step that computed them, in order.
    pub stats: Vec<StatsPoint>,
    /// Warnings about the run's gradients (a layer's that vanished or exploded).
    pub warnings: Vec<Diag>,
    /// Why the run ended.
    pub stopped: StopReason,
    /// Time in the training loop.
    pub wall: Duration,
    /// Time from source to native code.
    pub compile: Duration,
    /// Ranks the run trained on (1 alone).
    pub ranks: usize,
    /// Time this process spent in the training loop's sums over the ranks, waiting for the
    /// other ranks included (zero alone).
    pub summing: Duration,
}

impl Summary {
    /// Training throughput.
    pub fn steps_per_sec(&self) -> f64 {
        self.steps as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// How many updates a run makes: the command line's steps or epochs, else the train block's.
/// With gradient accumulation each update takes `accumulate` batches.
pub fn total_steps(p: &Program, cfg: &RunConfig) -> usize {
    let c = &p.controls;
    let per_epoch = p.rows().div_ceil(p.batch);
    let updates = |epochs: usize| (epochs * per_epoch).div_ceil(c.accumulate);
    match (cfg.steps, cfg.epochs, c.steps, c.epochs) {
        (Some(s), _, _, _) | (None, None, Some(s), _) => s,
        (None, None, None, None) => unreachable!("train::check requires steps or epochs"),
        (None, Some(e), _, _) | (None, None, None, Some(e)) => updates(e),
    }
}

/// Trains the plan's program with its executables and returns the summary; progress goes to
/// `progress_out`. The executables keep the trained parameters.
pub fn train(plan: &mut Plan, cfg: &RunConfig, progress_out: ProgressTo) -> Result<Summary, Diag> {
    let mut trainer = Trainer::new(&plan.program, &mut plan.exes, cfg, progress_out)?;
    let (started, summed) = (Instant::now(), collective::summing());
    let stopped = trainer.run()?;
    let (wall, summing) = (started.elapsed(), collective::summing() - summed);
    let mut summary = trainer.finish(stopped, cfg)?;
    summary.wall = wall;
    summary.compile = plan.compile;
    summary.summing = summing;
    Ok(summary)
}

/// Which rows feed each step, and where in the run the loop is.
struct Position {
    batcher: Batcher,
    full_batches: usize,
    per_epoch: usize,
    /// Micro-batches per update.
    k: usize,
    /// Micro-batches run so far, counting those of a resumed run.
    micro: usize,
    /// Updates made so far, counting those of a resumed run.
    updates: usize,
    /// Updates made when the run started (from a checkpoint), and when it is to end.
    start: usize,
    end: usize,
}

/// The state of one run between steps.
struct Trainer<'p, 'w> {
    program: &'p Program<'p>,
    exes: &'p mut Executables,
    at: Position,
    /// Names of what the step executables copy to and from each other: parameters and state.
    carried: Vec<String>,
    param_names: Vec<String>,
    /// The parameters and buffers: what evaluation reads and early stopping restores.
    model_names: Vec<String>,
    /// Parameters of at most 16 elements, logged at each point.
    small_params: Vec<String>,
    /// The training set's metrics, and every metric logged (with the validation set's).
    train_metrics: Vec<String>,
    metric_names: Vec<String>,
    /// The log's keys after `lr`: the hyper-parameters the schedule sets, then the metrics.
    log_keys: Vec<String>,
    all_rows: Vec<usize>,
    val_rows: Vec<usize>,
    test_rows: Vec<usize>,
    log: Option<MetricsLog<std::fs::File>>,
    csv: Option<MetricsCsv>,
    log_every: usize,
    /// Compute the gradient-health statistics every this many updates.
    stats_every: Option<usize>,
    /// The statistics of the update just made, on a step that computes them.
    pending_stats: Option<StatsPoint>,
    stats: Vec<StatsPoint>,
    health: Health,
    /// Evaluate at every logged step ([`RunConfig::evaluate_logged`]).
    evaluate_logged: bool,
    progress: Progress<&'w mut dyn Write>,
    stopper: Option<EarlyStopper<'p>>,
    plateau: Option<PlateauState<'p>>,
    history: Vec<LogPoint>,
    /// The run's seed, which `rand` draws from.
    seed: u64,
    last_lr: f64,
    last_hypers: Vec<(String, f64)>,
    last_loss: f64,
    /// The sum and count of this epoch's update losses, for the progress' running mean.
    epoch_loss: (f64, usize),
    /// Buffers for running many steps in one native call.
    burst: Burst,
    /// This process's rank: only rank 0 evaluates, logs and saves.
    place: Place,
}

/// What the host has to do after an update.
struct Due {
    /// The update ended an epoch (every update does without data).
    epoch_done: bool,
    /// It is logged.
    logged: bool,
    /// The progress display shows it.
    shown: bool,
    /// Early stopping or the plateau rule looks at it.
    monitoring: bool,
}

impl<'p, 'w> Trainer<'p, 'w> {
    /// Sets the initial (or restored) parameters and state, and opens the log.
    fn new(
        program: &'p Program<'p>,
        exes: &'p mut Executables,
        cfg: &RunConfig,
        progress_out: ProgressTo<'w>,
    ) -> Result<Trainer<'p, 'w>, Diag> {
        let c = &program.controls;
        let seed = cfg.seed.unwrap_or(c.seed);
        let rows = program.rows();
        // A program without data has one row to order: nothing to shuffle.
        let shuffle = (c.shuffle && program.data.is_some()).then(|| Rng::new(seed).fork("shuffle"));
        let place = cfg.place.unwrap_or(Place::ALONE);
        let batcher = Batcher::new(rows, program.batch, shuffle, c.span)?.for_rank(place);
        // Parameters and state start in the main executable; the others copy them when they run.
        let mut carried: Vec<String> = Vec::new();
        for (name, values) in initial_values(program, seed) {
            exes.step.exe.input_mut(&name).expect("param and state inputs exist").copy_from_slice(&values);
            carried.push(name);
        }
        // A checkpoint replaces the initializers' values; one saved by gradc also restores the
        // optimizer state and the step, so the run continues where it stopped.
        let mut start = 0;
        let mut note = None;
        let mut run = RunState::default();
        if let Some(path) = &cfg.init {
            let model: Vec<ParamInfo> = program.params.iter().chain(program.buffers).cloned().collect();
            let restored = checkpoint::load(path, &model, &program.optimizer_state(), &program.state_slots)?;
            for (name, values) in restored.values {
                exes.step.exe.input_mut(&name).expect("param and state inputs exist").copy_from_slice(&values);
            }
            start = restored.step;
            note = restored.other_state.map(|other| errors::other_optimizer_note(path, &other));
            if let Some(saved) = restored.run.seed.filter(|s| start > 0 && *s != seed) {
                // Rendered as `gradc run` renders warnings when stderr is no terminal.
                note = Some(errors::resume_seed(path, saved, seed).render_plain().trim_end().to_string());
            }
            run = restored.run;
        }
        if let (Some(path), true) = (&cfg.save, place.leads()) {
            checkpoint::check_writable(path)?;
        }
        let total = total_steps(program, cfg);
        let k = c.accumulate;
        let at = Position {
            full_batches: batcher.full_batches(),
            per_epoch: batcher.num_batches(),
            batcher,
            k,
            micro: start * k,
            updates: start,
            start,
            end: start + total,
        };
        let param_names: Vec<String> = program.params.iter().map(|p| p.name.clone()).collect();
        let model_names = program.params.iter().chain(program.buffers).map(|p| p.name.clone()).collect();
        let small = program.params.iter().filter(|p| p.shape.iter().product::<usize>() <= 16);
        let train_metrics = exes.eval.outputs(OutputRole::Metric);
        let mut metric_names = train_metrics.clone();
        if exes.val_eval.is_some() {
            metric_names.push(format!("val_{}", StepOutput::Loss.name()));
            metric_names.extend(train_metrics.iter().map(|m| format!("val_{m}")));
        }
        let log_keys: Vec<String> =
            exes.step.outputs(OutputRole::Hyper).into_iter().chain(metric_names.clone()).collect();
        // Only rank 0 writes the log and the metrics file.
        let (log_path, csv_path) = if place.leads() { (&cfg.log, &cfg.metrics) } else { (&None, &None) };
        let log = match log_path {
            Some(path) => {
                let file = crate::output::create(path).map_err(|e| errors::log_uncreatable(path, e))?;
                let names: Vec<&str> = log_keys.iter().map(String::as_str).collect();
                Some(MetricsLog::new(file, &names))
            }
            None => None,
        };
        let csv = match csv_path {
            Some(path) => Some(MetricsCsv::create(path, &log_keys).map_err(|e| errors::log_uncreatable(path, e))?),
            None => None,
        };
        let log_every = cfg.log_every.or(c.log_every).unwrap_or((total / 20).max(1));
        let stats_every = match cfg.grad_stats {
            Some(StatsEvery::Logged) => Some(log_every),
            Some(StatsEvery::Steps(n)) => Some(n),
            None => c.grad_stats,
        };
        let per_epoch_lines = !matches!(progress_out, ProgressTo::Labelled(_));
        let mut progress = match progress_out {
            ProgressTo::Bar => Progress::bar(total as u64, log::terminal()),
            ProgressTo::Labelled(label) => Progress::bar(total as u64, log::terminal()).labelled(&label),
            ProgressTo::Lines(out) => Progress::lines(out, total as u64, log_every as u64),
            ProgressTo::Hidden => Progress::hidden(total as u64),
        };
        // A line per epoch (per few epochs, so that a long run shows about 20) when there are
        // epochs to count; a run without data or of one epoch shows a line per `log_every` steps.
        let epochs = (at.end * k).div_ceil(at.per_epoch);
        if program.data.is_some() && epochs > 1 && per_epoch_lines {
            progress = progress.epochs(epochs as u64, epochs.div_ceil(20) as u64, at.per_epoch.div_ceil(k) as u64);
        }
        if let Some(note) = &note {
            progress.note(note).map_err(errors::log_unwritable)?;
        }
        // Bursts of steps need one micro-batch per update and no per-step test of the loss; the
        // batch stays put when every step takes all rows in their order.
        let allowed = k == 1 && c.converge.is_empty() && !cfg.step_by_step;
        let feeds_data = program.data.is_some() && (at.per_epoch > 1 || c.shuffle);
        let burst = Burst::new(&exes.step, allowed, feeds_data);
        Ok(Trainer {
            burst,
            program,
            exes,
            at,
            carried,
            param_names,
            model_names,
            small_params: small.map(|p| p.name.clone()).collect(),
            train_metrics,
            metric_names,
            log_keys,
            all_rows: (0..rows).collect(),
            val_rows: (0..program.val.map_or(0, |v| v.n)).collect(),
            test_rows: (0..program.test.map_or(0, |v| v.n)).collect(),
            log,
            csv,
            log_every,
            stats_every,
            pending_stats: None,
            stats: Vec::new(),
            health: Health::default(),
            // Without data the step's loss is already the whole loss.
            evaluate_logged: cfg.evaluate_logged && program.data.is_some(),
            progress,
            stopper: c.early_stop.as_ref().map(|spec| EarlyStopper::new(spec, run.early_stop)),
            plateau: c.plateau.as_ref().map(|spec| PlateauState::new(spec, run.plateau)),
            history: Vec::new(),
            seed,
            last_lr: f64::NAN,
            last_hypers: Vec::new(),
            last_loss: run.last_loss,
            epoch_loss: (0.0, 0),
            place,
        })
    }

    /// Steps until the end or a reason to stop.
    fn run(&mut self) -> Result<StopReason, Diag> {
        let at = &mut self.at;
        at.batcher.start_epoch((at.micro / at.per_epoch) as u64);
        while self.at.updates < self.at.end {
            // A signal stops the run between updates, never inside an accumulation, where its
            // checkpoint resumes.
            if let (Some(signal), true) = (interrupted(), self.at.micro.is_multiple_of(self.at.k)) {
                return Ok(StopReason::Interrupted { signal });
            }
            let n = self.burst_len();
            let stop = if n > 1 {
                self.run_burst(n)?
            } else {
                let (loss, update_norm, applies) = self.micro_step();
                self.after_micro(loss, update_norm, applies)?
            };
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        Ok(StopReason::Completed)
    }

    /// Stops a diverged run, else counts the micro-batch and, when it applied the update, does
    /// what the update asks of the host; returns why to stop, if it is time.
    fn after_micro(&mut self, loss: f64, update_norm: f64, applies: bool) -> Result<Option<StopReason>, Diag> {
        if !loss.is_finite() {
            let params = read_params(&self.exes.step.exe, &self.small_params);
            let step = self.at.updates + 1;
            let hypers = self.last_hypers.clone();
            self.history.push(LogPoint { step, loss, lr: self.last_lr, hypers, metrics: vec![], params });
            return Ok(Some(StopReason::Diverged { step, loss, lr: self.last_lr }));
        }
        self.at.micro += 1;
        if !applies {
            return Ok(None);
        }
        self.at.updates += 1;
        self.after_update(loss, update_norm)
    }

    /// How many steps to run in the next native call: up to the first update that the host
    /// has something to do after (see [`Trainer::due`], whose rules this solves for the next
    /// update they hold at), or the end, and short of the short batch.
    fn burst_len(&self) -> usize {
        let at = &self.at;
        let (u, m) = (at.updates, at.micro);
        // The first multiple of `every` above `x`.
        let above = |x: usize, every: usize| (x / every + 1) * every;
        // Updates (of one micro-batch each) until micro-batch count `micro` is next a multiple of `every`.
        let until = |every: usize| above(m, every) - m;
        let mut next = at.end.min(above(u, self.log_every));
        if self.stopper.is_some() || self.plateau.is_some() || self.progress.restarts_each_epoch() {
            next = next.min(u + until(at.per_epoch));
        }
        if let Some(every) = self.stats_every {
            next = next.min(above(u, every));
        }
        next = match self.progress.cadence() {
            Cadence::Never => next,
            Cadence::Steps(every) => next.min(at.start + above(u - at.start, every as usize)),
            Cadence::Epochs(every) => next.min(u + until(at.per_epoch * every as usize)),
        };
        let mut n = self.burst.cap().min(next - u);
        if self.exes.short_step.is_some() {
            // Full batches left before the short one (none when it is next).
            n = n.min(at.full_batches.saturating_sub(m % at.per_epoch));
        }
        n.max(1)
    }

    /// Runs `n` updates (of one micro-batch each, none taking the short batch) in one native
    /// call, then does the host's work after each of them in order, as if they had run one by
    /// one: only the last can have anything due but counting (see `burst_len`).
    fn run_burst(&mut self, n: usize) -> Result<Option<StopReason>, Diag> {
        let at = &mut self.at;
        let runner = &mut self.exes.step;
        let lr_scale = self.plateau.as_ref().map_or(1.0, |p| p.counters.scale);
        let feeds_data = self.burst.feeds_data();
        let (mut in_epoch, mut epoch) = (at.micro % at.per_epoch, at.micro / at.per_epoch);
        for j in 0..n {
            let micro = at.micro + j;
            if j > 0 {
                in_epoch += 1;
                if in_epoch == at.per_epoch {
                    (in_epoch, epoch) = (0, epoch + 1);
                }
            }
            // Without data there is no order to draw.
            if in_epoch == 0 && self.program.data.is_some() {
                at.batcher.start_epoch(epoch as u64);
            }
            let (steps, data) = self.burst.records(j);
            let s = Steps { t: micro + 1, apply: true, epoch, lr_scale, seed: self.seed, micro };
            runner.step_record(&s, steps);
            match self.program.data {
                Some(d) if feeds_data => runner.data_record(d, at.batcher.indices(in_epoch), data),
                // The one batch of every step, in the arena from now on.
                Some(d) if j == 0 => runner.load_rows(d, at.batcher.indices(in_epoch)),
                _ => {}
            }
        }
        let done = self.burst.run(runner, n);
        let update_norm = runner.update_norm();
        // Only the burst's last update can be one that reports statistics (see `burst_len`).
        let last = at.updates + done;
        if self.stats_every.is_some_and(|every| last.is_multiple_of(every)) {
            self.pending_stats = Some(StatsPoint::new(last, runner.stats()));
        }
        self.last_lr = runner.lr();
        self.last_hypers = runner.hypers();
        // The updates before the last have nothing due but counting, which `after_update`
        // would do: their losses enter the epoch's running mean, restarted at each epoch's
        // end, and the last loss (no loss in a burst but the last can be non-finite).
        let at = &mut self.at;
        let mut in_epoch = at.micro % at.per_epoch;
        for j in 0..done - 1 {
            let loss = loss_value(self.burst.loss(j));
            self.epoch_loss = (self.epoch_loss.0 + loss, self.epoch_loss.1 + 1);
            self.last_loss = loss;
            in_epoch += 1;
            if in_epoch == at.per_epoch || self.program.data.is_none() {
                (in_epoch, self.epoch_loss) = (0, (0.0, 0));
            }
        }
        at.micro += done - 1;
        at.updates += done - 1;
        self.after_micro(loss_value(self.burst.loss(done - 1)), update_norm, true)
    }

    /// Runs the next micro-batch; returns its loss, update norm and whether it applied the update.
    fn micro_step(&mut self) -> (f64, f64, bool) {
        let at = &mut self.at;
        let (in_epoch, epoch) = (at.micro % at.per_epoch, at.micro / at.per_epoch);
        if in_epoch == 0 {
            at.batcher.start_epoch(epoch as u64);
        }
        let exes = &mut *self.exes;
        let is_short = in_epoch == at.full_batches;
        let runner = match (&mut exes.short_step, is_short) {
            (Some(s), true) => {
                s.take_state(&exes.step.exe, &self.carried);
                s
            }
            _ => &mut exes.step,
        };
        if let Some(d) = self.program.data {
            runner.load_rows(d, at.batcher.indices(in_epoch));
        }
        let applies = (at.micro + 1).is_multiple_of(at.k);
        let lr_scale = self.plateau.as_ref().map_or(1.0, |p| p.counters.scale);
        runner.set_steps(&Steps {
            t: at.micro / at.k + 1,
            apply: applies,
            epoch,
            lr_scale,
            seed: self.seed,
            micro: at.micro,
        });
        runner.exe.run();
        let (loss, update_norm) = (runner.loss(), runner.update_norm());
        // The statistics are read only on the updates that report them.
        let update = at.updates + 1;
        if applies && self.stats_every.is_some_and(|n| update.is_multiple_of(n)) {
            self.pending_stats = Some(StatsPoint::new(update, runner.stats()));
        }
        self.last_lr = runner.lr();
        self.last_hypers = runner.hypers();
        if let (Some(s), true) = (&exes.short_step, is_short) {
            exes.step.take_state(&s.exe, &self.carried);
        }
        (loss, update_norm, applies)
    }

    /// Logs, tests convergence and, at the end of an epoch, applies the plateau and early
    /// stopping rules; returns why to stop, if it is time.
    fn after_update(&mut self, loss: f64, update_norm: f64) -> Result<Option<StopReason>, Diag> {
        let Position { micro, updates, per_epoch, start, .. } = self.at;
        let Due { epoch_done, logged, shown, monitoring } = self.due(updates, micro);
        let evaluates = !self.metric_names.is_empty() || self.evaluate_logged;
        self.epoch_loss = (self.epoch_loss.0 + loss, self.epoch_loss.1 + 1);
        let mean = self.epoch_loss.0 / self.epoch_loss.1 as f64;
        let epoch = ((micro - 1) / per_epoch + 1) as u64;
        let step = (updates - start) as u64;
        let wanted = (logged || shown) && !self.metric_names.is_empty();
        let metrics = if (logged && evaluates) || wanted || monitoring { self.evaluate() } else { vec![] };
        if logged || shown || epoch_done {
            let point = Point { step, epoch, epoch_done, loss: mean as f32, metrics: &metrics };
            self.progress.update(&point).map_err(errors::log_unwritable)?;
        } else {
            self.progress.tick(step);
        }
        if epoch_done {
            self.epoch_loss = (0.0, 0);
        }
        if logged {
            let params = read_params(&self.exes.step.exe, &self.small_params);
            let (lr, hypers) = (self.last_lr, self.last_hypers.clone());
            let point = LogPoint { step: updates, loss, lr, hypers, metrics: metrics.clone(), params };
            if let Some(log) = &mut self.log {
                write_line(log, &self.log_keys, &point, None)?;
            }
            if let Some(csv) = &mut self.csv {
                let values = key_values(&self.log_keys, &point);
                csv.row(updates as u64, epoch, loss as f32, point.lr as f32, &values)
                    .map_err(errors::log_unwritable)?;
            }
            self.history.push(point);
        }
        if let Some(point) = self.pending_stats.take() {
            self.write_stats(&point)?;
            self.health.observe(&point);
            self.stats.push(point);
        }
        if let Some(stop) = converged(&self.program.controls.converge, update_norm, loss, self.last_loss) {
            return Ok(Some(stop));
        }
        self.last_loss = loss;
        if !monitoring {
            return Ok(None);
        }
        let epochs_done = if self.program.data.is_none() { updates } else { micro / per_epoch };
        if let Some(p) = &mut self.plateau {
            p.step(lookup(&metrics, &p.spec.on), self.last_lr);
        }
        if let Some(s) = &mut self.stopper {
            if s.observe(lookup(&metrics, &s.spec.on), epochs_done, &self.exes.step.exe, &self.model_names) {
                return Ok(Some(s.stop(&mut self.exes.step.exe)));
            }
        }
        Ok(None)
    }

    /// Writes a line of gradient-health statistics to the log, if there is one.
    fn write_stats(&mut self, point: &StatsPoint) -> Result<(), Diag> {
        let Some(log) = &mut self.log else { return Ok(()) };
        let group = |stat| point.group(stat).iter().map(|(n, v)| (n.clone(), *v as f32)).collect();
        let groups: Vec<(&str, Vec<(String, f32)>)> = Stat::ALL.into_iter().map(|s| (s.key(), group(s))).collect();
        log.stats(point.step as u64, &groups).map_err(errors::log_unwritable)
    }

    /// What the host has to do after update `updates`, micro-batch `micro` (both counted from
    /// the start of training, resumed runs included).
    fn due(&self, updates: usize, micro: usize) -> Due {
        let Position { per_epoch, start, end, .. } = self.at;
        let epoch_done = self.program.data.is_none() || micro.is_multiple_of(per_epoch);
        let logged = updates.is_multiple_of(self.log_every) || updates == end;
        let monitoring = epoch_done && (self.stopper.is_some() || self.plateau.is_some());
        let (step, epoch) = ((updates - start) as u64, ((micro - 1) / per_epoch + 1) as u64);
        // What is shown depends on where the run is, never on the loss or the metrics.
        let shown = self.progress.due(&Point { step, epoch, epoch_done, loss: 0.0, metrics: &[] });
        Due { epoch_done, logged, shown, monitoring }
    }

    /// Loss and metrics over the training set (as `loss`, `<metric>`) and the validation set
    /// (as `val_loss`, `val_<metric>`) with the parameters of the train step. In a distributed
    /// run rank 0 evaluates (its buffers are the model's: batch norm's running statistics are
    /// rank 0's, as DistributedDataParallel broadcasts them from rank 0) and the other ranks
    /// receive its values, so every rank's early stopping and plateau rule decide alike.
    fn evaluate(&mut self) -> Vec<(String, f64)> {
        let mut out = if self.place.leads() {
            self.evaluate_here()
        } else {
            let names = std::iter::once(StepOutput::Loss.name().to_string()).chain(self.metric_names.iter().cloned());
            names.map(|n| (n, f64::NAN)).collect()
        };
        let mut values: Vec<f64> = out.iter().map(|v| v.1).collect();
        collective::broadcast(&mut values);
        out.iter_mut().zip(values).for_each(|(o, v)| o.1 = v);
        out
    }

    /// [`Trainer::evaluate`]'s values, computed by this process.
    fn evaluate_here(&mut self) -> Vec<(String, f64)> {
        let exes = &mut *self.exes;
        exes.eval.take_state(&exes.step.exe, &self.model_names);
        let (loss, mut out) = run_eval(&mut exes.eval, self.program.data, &self.all_rows, &self.train_metrics);
        out.insert(0, (StepOutput::Loss.name().into(), loss));
        if let (Some(v), Some(val)) = (&mut exes.val_eval, self.program.val) {
            v.take_state(&exes.step.exe, &self.model_names);
            let (val_loss, val_metrics) = run_eval(v, Some(val), &self.val_rows, &self.train_metrics);
            out.push((format!("val_{}", StepOutput::Loss.name()), val_loss));
            out.extend(val_metrics.into_iter().map(|(n, x)| (format!("val_{n}"), x)));
        }
        out
    }

    /// Loss and metrics over the test set (as `test_loss`, `test_<metric>`) with the
    /// parameters of the train step; empty without a test set.
    fn evaluate_test(&mut self) -> Vec<(String, f64)> {
        if !self.place.leads() {
            return vec![];
        }
        let exes = &mut *self.exes;
        let (Some(t), Some(test)) = (&mut exes.test_eval, self.program.test) else { return vec![] };
        t.take_state(&exes.step.exe, &self.model_names);
        let (loss, metrics) = run_eval(t, Some(test), &self.test_rows, &self.train_metrics);
        let named = std::iter::once((StepOutput::Loss.name().to_string(), loss)).chain(metrics);
        named.map(|(n, x)| (format!("test_{n}"), x)).collect()
    }

    /// Evaluates the final parameters (on the test set too), closes the log and the progress
    /// display, and saves the checkpoint the command line asks for. Wall and compile times are
    /// the caller's to fill in.
    fn finish(mut self, stopped: StopReason, cfg: &RunConfig) -> Result<Summary, Diag> {
        let mut metrics = self.evaluate();
        // `evaluate` puts the whole-set loss first; the summary reports it apart from the metrics.
        let (_, final_loss) = metrics.remove(0);
        let test = self.evaluate_test();
        let exe = &self.exes.step.exe;
        let params = read_params(exe, &self.param_names);
        let (updates, steps) = (self.at.updates, self.at.updates - self.at.start);
        let epoch = (self.at.micro.max(1) - 1) / self.at.per_epoch + 1;
        let end = Point {
            step: steps as u64,
            epoch: epoch as u64,
            epoch_done: false,
            loss: final_loss as f32,
            metrics: &metrics,
        };
        self.progress.finish(&end).map_err(errors::log_unwritable)?;
        if let Some(log) = &mut self.log {
            let small = read_params(exe, &self.small_params);
            let (lr, hypers) = (self.last_lr, self.last_hypers.clone());
            let point =
                LogPoint { step: updates, loss: final_loss, lr, hypers, metrics: metrics.clone(), params: small };
            let tested: Vec<(String, f32)> = test.iter().map(|(n, x)| (n.clone(), *x as f32)).collect();
            write_line(log, &self.log_keys, &point, Some(&tested))?;
        }
        // Parameters and optimizer state, not buffers: batch norm's running statistics are
        // each rank's own, and rank 0's are the model's.
        if self.place.ranks > 1 {
            let slots = self.program.state_slots.iter().map(|(n, _)| n.clone());
            let names: Vec<String> = self.param_names.iter().cloned().chain(slots).collect();
            if !collective::all_equal(fingerprint(exe, &names)) && self.place.leads() {
                return Err(errors::ranks_diverged(self.place.ranks));
            }
        }
        // A diverged run's parameters are not worth keeping.
        if let (Some(path), None, true) = (&cfg.save, stopped.diagnostic(), self.place.leads()) {
            let state: Vec<(String, Vec<usize>, Vec<f32>)> = self
                .program
                .state_slots
                .iter()
                .map(|(n, shape)| (n.clone(), shape.clone(), exe.input(n).expect("state input exists").to_vec()))
                .collect();
            let model: Vec<ParamInfo> = self.program.params.iter().chain(self.program.buffers).cloned().collect();
            let values = read_params(exe, &self.model_names);
            let owners: Vec<&str> = self.model_names.iter().map(String::as_str).collect();
            let run = RunState {
                seed: Some(self.seed),
                optimizer: Some(checkpoint::kinds(self.program.states.iter().map(|s| s.name.as_str()), &owners)),
                last_loss: self.last_loss,
                early_stop: self.stopper.as_ref().map(|s| s.state.clone()),
                plateau: self.plateau.as_ref().map(|p| p.counters),
            };
            checkpoint::save(path, &model, &values, &state, self.program.scaling, updates, &run)?;
        }
        let (history, stats) = (self.history, self.stats);
        Ok(Summary {
            steps,
            resumed: self.at.start,
            final_loss,
            metrics,
            test,
            params,
            history,
            stats,
            warnings: self.health.warnings().to_vec(),
            stopped,
            wall: Duration::ZERO,
            compile: Duration::ZERO,
            ranks: self.place.ranks,
            summing: Duration::ZERO,
        })
    }
}

/// Writes one line of the JSON-lines log: the point's hyper-parameters and metrics in the
/// order of the log's keys, `names`. The
/// final line has `tested`, the test set's scores (empty without a test set); the others `None`.
fn write_line(
    log: &mut MetricsLog<std::fs::File>,
    names: &[String],
    p: &LogPoint,
    tested: Option<&[(String, f32)]>,
) -> Result<(), Diag> {
    let values = key_values(names, p);
    let record = Record {
        step: p.step as u64,
        loss: p.loss as f32,
        lr: p.lr as f32,
        metrics: &values,
        tested: tested.unwrap_or_default(),
        params: &p.params,
        last: tested.is_some(),
    };
    log.record(&record).map_err(errors::log_unwritable)
}

/// The point's hyper-parameters and metrics in the order of the log's keys, `names`; NaN for
/// those it lacks.
fn key_values(names: &[String], p: &LogPoint) -> Vec<f32> {
    let value = |n: &String| p.hypers.iter().find(|h| h.0 == *n).map_or_else(|| lookup(&p.metrics, n), |h| h.1);
    names.iter().map(|n| value(n) as f32).collect()
}

/// The signal that asked the run to stop, if one did (only while `gradc run` watches for them).
fn interrupted() -> Option<i32> {
    #[cfg(unix)]
    return super::interrupt::requested();
    #[cfg(not(unix))]
    None
}

/// A hash of the bits of the named inputs of `exe` (parameters and state), the same on every
/// rank of a distributed run whose ranks agree.
fn fingerprint(exe: &Executable, names: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: every process of one binary hashes alike.
    let mut h = std::hash::DefaultHasher::new();
    for n in names {
        n.hash(&mut h);
        exe.input(n).expect("param and state inputs exist").iter().for_each(|x| x.to_bits().hash(&mut h));
    }
    h.finish()
}

/// A named value from a list, NaN if absent.
fn lookup(values: &[(String, f64)], name: &str) -> f64 {
    values.iter().find(|(n, _)| n == name).map_or(f64::NAN, |v| v.1)
}

/// The values of the named parameters in `exe`.
pub(super) fn read_params(exe: &Executable, names: &[String]) -> Vec<(String, Vec<f32>)> {
    names.iter().map(|n| (n.clone(), exe.input(n).expect("param input exists").to_vec())).collect()
}

/// Loss and metrics over the given rows with the parameters the evaluator holds.
fn run_eval(
    eval: &mut Runner,
    data: Option<&Dataset>,
    rows: &[usize],
    metrics: &[String],
) -> (f64, Vec<(String, f64)>) {
    if let Some(d) = data {
        eval.load_rows(d, rows);
    }
    eval.exe.run();
    let values = metrics.iter().map(|m| (m.clone(), eval.exe.output(m).expect("metric output")[0] as f64)).collect();
    (eval.loss(), values)
}

/// The starting values of every parameter (each from its own stream of `seed`) and every
/// state variable of the train step, by name.
pub fn initial_values(p: &Program, seed: u64) -> Vec<(String, Vec<f32>)> {
    let rng = Rng::new(seed);
    let params = p.params.iter().chain(p.buffers);
    let params = params.map(|q| (q.name.clone(), init::fill(&q.init, &q.shape, &mut rng.fork(&q.name))));
    // Optimizer state starts where its declaration says; other state (accumulators) at zero.
    let states = p.state_slots.iter().map(|(name, shape)| {
        let init = p.states.iter().find(|s| s.name == *name).map_or(0.0, |s| s.init);
        (name.clone(), vec![init; shape.iter().product()])
    });
    params.chain(states).collect()
}
