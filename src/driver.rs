//! The pipeline, stage by stage: read → parse → resolve → load data → elaborate →
//! differentiate → compose → optimise → compile. `main.rs` calls these; tests call them too.
//!
//! Data flows one way: the driver compiles every executable a run needs into a
//! [`runtime::plan::Plan`] before the first step, and the runtime never calls back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::autodiff::control;
use crate::codegen::{CompileOptions, Executable};
use crate::data::transform::Scaling;
use crate::data::{self, Dataset};
use crate::diag::{Diag, FileId, SourceMap};
use crate::ir::{Graph, InputRole, Op};
use crate::runtime::checkpoint;
use crate::runtime::compare::{Label, Report};
use crate::runtime::log::ProgressTo;
use crate::runtime::plan::{Controls, Executables, Plan, Program};
use crate::runtime::runner::Runner;
use crate::runtime::train::{RunConfig, Summary};
use crate::sema::{self, Converge, DataShape, LabelShape, Lowered, Module};
use crate::syntax::{self, ast};
use crate::{autodiff, passes, runtime};

pub mod errors;
pub mod export;
pub mod rows;
pub mod score;

/// Largest source file accepted, so a mistaken path to a huge file fails fast.
const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// A parsed and resolved program with its sources.
pub struct Front {
    /// Every source text, for rendering diagnostics.
    pub sources: SourceMap,
    /// The user's file.
    pub user: FileId,
    /// The directory data paths are relative to.
    pub dir: PathBuf,
    /// The syntax tree of the user's file.
    pub ast: ast::File,
}

/// Reads a `.grad` file: every way a path can be unusable is a diagnostic.
pub fn read(path: &Path) -> Result<(SourceMap, FileId), Diag> {
    use crate::files::Refusal;
    let bytes = crate::files::read_regular(path, MAX_SOURCE_BYTES).map_err(|r| match r {
        Refusal::Missing(e) => errors::source_missing(path, e),
        Refusal::Directory => errors::source_is_directory(path),
        Refusal::Special(kind) => errors::source_special(path, kind),
        Refusal::TooLarge { len, .. } => errors::source_too_large(path, len),
        Refusal::Io(e) => errors::source_unreadable(path, e),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| errors::source_not_utf8(path, e.utf8_error().valid_up_to()))?;
    let mut sources = SourceMap::default();
    let user = sources.add(&path.display().to_string(), text);
    Ok((sources, user))
}

/// Reads and parses a file.
pub fn parse(path: &Path) -> Result<Front, (Diag, SourceMap)> {
    let (sources, user) = read(path).map_err(|d| (d, SourceMap::default()))?;
    parse_source(sources, user, path.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// Parses the source `user` of `sources` (read from a file, or given as text), whose data
/// paths are relative to `dir`.
pub fn parse_source(sources: SourceMap, user: FileId, dir: PathBuf) -> Result<Front, (Diag, SourceMap)> {
    let ast = match syntax::parse(sources.text(user), user) {
        Ok(ast) => ast,
        Err(d) => return Err((d.with_sources(&sources), sources)),
    };
    Ok(Front { sources, user, dir, ast })
}

/// Everything compiled from one program, stage by stage.
pub struct Compiled {
    /// The resolved program.
    pub module: Module,
    /// The training data, if any.
    pub data: Option<Dataset>,
    /// The validation data: rows the data declaration splits off, or the train block's `val`.
    pub val: Option<Dataset>,
    /// The test data: rows the data declaration splits off, or the train block's `test`.
    pub test: Option<Dataset>,
    /// The statistics the data was standardized with, when its declaration standardizes.
    pub scaling: Option<Scaling>,
    /// Rows per training step.
    pub batch: usize,
    /// Forward and update graphs at the training batch size.
    pub lowered: Lowered,
    /// The forward graph with gradients.
    pub backward: Graph,
    /// forward + backward + update, before optimisation.
    pub train_step: Graph,
    /// The train step after the optimisation passes.
    pub optimized: Graph,
    /// Time spent from source to graphs.
    pub frontend_time: Duration,
}

/// Compiles a parsed file to optimised graphs; data files are read here.
pub fn compile(front: &mut Front) -> Result<Compiled, Diag> {
    compile_with(front, None)
}

/// Compiles a parsed file whose model starts from, or is, the checkpoint `init` (`--init`):
/// its data is standardized with the statistics the checkpoint keeps, if it keeps some.
pub fn compile_from(front: &mut Front, init: Option<&Path>) -> Result<Compiled, Diag> {
    let stored = stored_scaling(init)?;
    compile_with(front, stored.as_ref().zip(init))
}

/// The standardization statistics the checkpoint `init` keeps, if it is given and keeps some.
fn stored_scaling(init: Option<&Path>) -> Result<Option<Scaling>, Diag> {
    Ok(init.map(checkpoint::load_scaling).transpose()?.flatten())
}

/// Compiles a parsed file as [`compile`] does, standardizing its data with `stored`
/// statistics (from the checkpoint it names) instead of the training rows' own, when given:
/// so a resumed, evaluated or predicting model sees its inputs as it was trained on them.
pub fn compile_with(front: &mut Front, stored: Option<(&Scaling, &Path)>) -> Result<Compiled, Diag> {
    let started = Instant::now();
    let module = resolve(front)?;
    compile_module(module, &front.dir, started, stored, None)
}

/// Compiles each run of the file's `compare` block, named by what sets it apart; the runs share
/// the data, the seed (so a model's initial weights) and the data order, and differ in model,
/// optimizer, schedule or batch size.
pub fn compile_variants(front: &mut Front) -> Result<Vec<(Label, Compiled)>, Diag> {
    let started = Instant::now();
    let module = resolve(front)?;
    if module.variant_list().is_empty() {
        return Err(errors::no_compare_block(front.user));
    }
    let mut runs = Vec::new();
    for (i, v) in module.variant_list().iter().enumerate() {
        let label = Label { text: v.label.clone(), model: v.model_part.clone(), setting: v.setting.clone() };
        runs.push((label, compile_module(module.with_variant(i), &front.dir, started, None, None)?));
    }
    Ok(runs)
}

/// Compiles a parsed file for `gradc lr-find`: its optimizer's learning rate grows from `from`
/// to `to` over `steps` updates, exponentially, by the compiled step's own schedule
/// (`exponential` with `gamma = (to / from)^(1 / (steps − 1))`).
pub fn compile_lr_range(front: &mut Front, from: f64, to: f64, steps: usize) -> Result<Compiled, Diag> {
    if to <= from {
        return Err(errors::lr_range_empty(from, to));
    }
    let started = Instant::now();
    let module = resolve(front)?;
    let gamma = (to / from).powf(1.0 / (steps.max(2) - 1) as f64);
    compile_module(module.with_lr_range(from, gamma), &front.dir, started, None, None)
}

/// Compiles a parsed file and every run of its `compare` block, as `gradc check` does: a compare
/// run's model that does not fit the data is an error of the file.
pub fn check(front: &mut Front) -> Result<Compiled, Diag> {
    let started = Instant::now();
    let module = resolve(front)?;
    let base = compile_module(module.clone(), &front.dir, started, None, None)?;
    for i in 0..module.variant_list().len() {
        compile_module(module.with_variant(i), &front.dir, started, None, None)?;
    }
    Ok(base)
}

/// Compiles a resolved program to train on `rows` (a caller's arrays: the Python package's)
/// instead of the rows its training declaration reads, preprocessed as that declaration says
/// (scaled, split, standardized); from the checkpoint `init` as [`compile_from`] does.
pub fn compile_rows(module: Module, dir: &Path, rows: Dataset, init: Option<&Path>) -> Result<Compiled, Diag> {
    let started = Instant::now();
    if module.data().is_none() {
        return Err(errors::rows_without_data());
    }
    let stored = stored_scaling(init)?;
    compile_module(module, dir, started, stored.as_ref().zip(init), Some(rows))
}

/// Compiles a resolved program, reading the data it declares, as [`compile_from`] does.
pub fn compile_resolved(module: Module, dir: &Path, init: Option<&Path>) -> Result<Compiled, Diag> {
    let started = Instant::now();
    let stored = stored_scaling(init)?;
    compile_module(module, dir, started, stored.as_ref().zip(init), None)
}

/// Resolves the parsed file against the stdlib (the AST moves into the module).
pub fn resolve(front: &mut Front) -> Result<Module, Diag> {
    let ast = std::mem::replace(&mut front.ast, ast::File { items: vec![] });
    sema::resolve(ast, front.user, &mut front.sources)
}

/// Loads the data (or takes `rows` in place of what the training declaration reads) and
/// lowers, differentiates and optimises a resolved program.
fn compile_module(
    module: Module,
    dir: &Path,
    started: Instant,
    stored: Option<(&Scaling, &Path)>,
    rows: Option<Dataset>,
) -> Result<Compiled, Diag> {
    let seed = module.train().seed;
    let from = stored.map(|(_, path)| format!("the checkpoint `{}`", path.display()));
    let statistics = stored.map(|(s, _)| s).zip(from.as_deref());
    let parts = match (module.data(), rows) {
        (Some(spec), None) => Some(data::load(spec, dir, seed, statistics)?),
        (Some(spec), Some(mut rows)) => {
            data::source::scale(spec, &mut rows);
            Some(data::source::prepare(spec, rows, seed, statistics)?)
        }
        (None, _) => None,
    };
    let (data, mut val, mut test, scaling) = match parts {
        Some(p) => (Some(p.train), p.val, p.test, p.scaling),
        None => (None, None, None, None),
    };
    let t = module.train();
    if let (Some(spec), Some(train)) = (module.data(), &data) {
        for (held, part) in [(&t.val, &mut val), (&t.test, &mut test)] {
            if let Some(h) = held {
                let ds = data::source::load_for(h, dir, scaling.as_ref())?;
                data::source::check_like(h, &ds, train, &spec.name)?;
                *part = Some(ds);
            }
        }
    }
    let shape = data.as_ref().map(data_shape);
    let rows = data.as_ref().map_or(1, |d| d.n);
    let batch = t.batch.unwrap_or(rows).min(rows).max(1);
    let lowered = module.lower(shape, batch)?;
    if let (Some(spec), Some(train), Some(classes)) = (module.data(), &data, one_hot_classes(&lowered.forward)) {
        // The parts the declaration split off are checked with it, so rows are the file's.
        let (own_val, own_test) = (spec.validation.and(val.as_ref()), spec.test.and(test.as_ref()));
        data::source::check_classes(spec, seed, train, own_val, own_test, classes)?;
        for (held, part) in [(&t.val, &val), (&t.test, &test)] {
            if let (Some(h), Some(ds)) = (held, part) {
                data::source::check_classes(h, seed, ds, None, None, classes)?;
            }
        }
    }
    let (backward, train_step) = step_graphs(&module, &lowered, None);
    let optimized = passes::optimize(&train_step);
    Ok(Compiled {
        module,
        data,
        val,
        test,
        scaling,
        batch,
        lowered,
        backward,
        train_step,
        optimized,
        frontend_time: started.elapsed(),
    })
}

/// The backward graph (with clipping and accumulation, as the train block asks) and the
/// composed train step (with the update norm, if a convergence test needs it). A rank of a
/// distributed run passes its `share` of the global batch's rows: its loss is weighted by it
/// and the gradients and loss are summed over the ranks before clipping.
fn step_graphs(module: &Module, lowered: &Lowered, share: Option<f64>) -> (Graph, Graph) {
    let train = module.train();
    let mut backward = match share {
        None => autodiff::backward(&lowered.forward),
        Some(s) => control::all_sum(&autodiff::backward(&control::share_loss(&lowered.forward, s))),
    };
    let mut update = lowered.update.clone();
    if let Some(clip) = train.clip {
        let clip = match clip {
            sema::Clip::GlobalNorm(max) => control::Clip::GlobalNorm(max),
            sema::Clip::Value(max) => control::Clip::Value(max),
        };
        backward = control::clip(&backward, clip);
    }
    if train.accumulate > 1 {
        (backward, update) = control::accumulate(&backward, &update, train.accumulate);
    }
    let mut train_step = autodiff::compose(&backward, &update);
    if train.converge.iter().any(|c| matches!(c, Converge::UpdateNorm(_))) {
        train_step = control::update_norm(&train_step);
    }
    (backward, train_step)
}

/// How many classes the loss one-hot encodes the labels into, if it does: the model's range
/// of classes, which every label must lie in (`one_hot` makes a zero row of one outside it).
fn one_hot_classes(forward: &Graph) -> Option<usize> {
    let k = forward.inputs.iter().position(|i| i.role == InputRole::Label)?;
    let labels = forward.input_node(k);
    forward.nodes.iter().find_map(|n| if let Op::OneHot(c) = n.op { (n.args == [labels]).then_some(c) } else { None })
}

/// The shape the elaborator needs from a dataset.
pub fn data_shape(d: &Dataset) -> DataShape {
    let labels = match &d.labels {
        data::Labels::Classes { classes, .. } => LabelShape::Classes(*classes),
        data::Labels::Targets { k, .. } => LabelShape::Targets(*k),
        data::Labels::None => LabelShape::Targets(0),
    };
    DataShape { features: d.shape.clone(), labels }
}

impl Compiled {
    /// The line `gradc run` starts with: the program `name`, its parameters, optimizer and data.
    pub fn header(&self, name: &str) -> String {
        let rows = self.data.as_ref().map_or(0, |d| d.n);
        let params = &self.lowered.params;
        format!(
            "gradc: {name} — {} parameters ({} values), optimizer {}, {}",
            params.len(),
            params.iter().map(|p| p.shape.iter().product::<usize>()).sum::<usize>(),
            self.module.train().optimizer,
            if rows > 0 { format!("{rows} rows, batch {}", self.batch) } else { "no data".into() },
        )
    }
}

/// Compiles a graph to native code, mapping resource errors to diagnostics.
pub fn jit(graph: &Graph, opts: &CompileOptions) -> Result<Executable, Diag> {
    Executable::compile(graph, opts).map_err(|e| errors::codegen_failed(&graph.name, e))
}

/// The evaluation graph (running statistics, no dropout) at the training batch size, before
/// optimisation, as `gradc ir --stage eval` prints it.
pub fn eval_graph(c: &Compiled) -> Result<Graph, Diag> {
    c.module.lower_eval(c.data.as_ref().map(data_shape), c.batch)
}

/// The evaluation graph (running statistics, no dropout) at a batch size, optimised.
pub fn eval_at(c: &Compiled, rows: usize) -> Result<Graph, Diag> {
    let shape = c.data.as_ref().map(data_shape);
    Ok(passes::optimize(&c.module.lower_eval(shape, rows)?))
}

/// A rank's part of a batch of a distributed run.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// Where the rank's rows start in the batch.
    pub first: usize,
    /// The batch's rows, all ranks'.
    pub of: usize,
}

/// The optimised train step at another batch size: for a last, shorter batch, or for a rank
/// of a distributed run its `part` of a batch of `part.of` rows (`rows` of them), its loss
/// weighted by its share ([`step_graphs`]) and its random numbers the single process's for its
/// rows ([`control::offset_rand`]); with the gradient-health statistics when `stats` asks.
pub fn train_step_at(c: &Compiled, rows: usize, stats: bool, part: Option<Part>) -> Result<Graph, Diag> {
    let shape = c.data.as_ref().map(data_shape);
    let mut lowered = c.module.lower(shape.clone(), rows)?;
    let draws = lowered.forward.nodes.iter().any(|n| matches!(n.op, Op::Rand { .. }));
    if let (Some(p), true) = (part, draws) {
        // The single process's draw for the whole batch: compiled already at the batch size.
        let other = if p.of == c.batch { None } else { Some(c.module.lower(shape, p.of)?.forward) };
        let global = other.as_ref().unwrap_or(&c.lowered.forward);
        lowered.forward = control::offset_rand(&lowered.forward, global, p.first)
            .map_err(|_| errors::rand_across_rows(c.module.train().span))?;
    }
    let share = part.map(|p| rows as f64 / p.of as f64);
    let (backward, train_step) = step_graphs(&c.module, &lowered, share);
    Ok(if stats { with_stats(&lowered, &backward, &train_step) } else { passes::optimize(&train_step) })
}

/// The optimised train step with the gradient-health statistics ([`autodiff::stats`]) as
/// extra outputs; `backward` and `train_step` are [`step_graphs`]' of `lowered`.
fn with_stats(lowered: &Lowered, backward: &Graph, train_step: &Graph) -> Graph {
    let relus = autodiff::stats::relu_layers(&lowered.forward, &lowered.names);
    passes::optimize(&autodiff::stats::grad_stats(train_step, backward, &relus))
}

/// Whether a run of `c` computes gradient-health statistics: the command line or the train
/// block asks for them. Only then are they compiled into the step.
pub fn wants_stats(c: &Compiled, cfg: &RunConfig) -> bool {
    cfg.grad_stats.is_some() || c.module.train().grad_stats.is_some()
}

/// The program a run of `c` trains, as the runtime sees it: data, parameters, state and the
/// train block's controls as plain values.
pub fn program(c: &Compiled) -> Program<'_> {
    let t = c.module.train();
    let states = c.optimized.inputs.iter().filter(|i| i.role == InputRole::State);
    Program {
        data: c.data.as_ref(),
        val: c.val.as_ref(),
        test: c.test.as_ref(),
        scaling: c.scaling.as_ref(),
        batch: c.batch,
        params: &c.lowered.params,
        buffers: &c.lowered.buffers,
        states: &c.lowered.states,
        state_slots: states.map(|i| (i.name.clone(), i.ty.shape.clone())).collect(),
        controls: Controls {
            steps: t.steps,
            epochs: t.epochs,
            shuffle: t.shuffle,
            seed: t.seed,
            log_every: t.log_every,
            grad_stats: t.grad_stats,
            accumulate: t.accumulate,
            early_stop: t.early_stop.clone(),
            converge: t.converge.clone(),
            plateau: t.plateau.clone(),
            span: t.span,
        },
        optimum: c.module.optimum(),
    }
}

/// Native code options for `c`'s graphs, run on `threads` threads.
pub fn options(c: &Compiled, threads: usize) -> CompileOptions {
    let flush_denormals = c.module.train().flush_denormals;
    CompileOptions { verify: false, keep_clif: false, threads: threads.max(1), flush_denormals }
}

/// Compiles every executable a run of `c` needs, before its first step: the train step, the
/// step for a shorter last batch, and evaluation at the training, validation and test sets'
/// sizes (the first of which `compare` also draws the loss surface with).
pub fn plan<'a>(c: &'a Compiled, cfg: &RunConfig) -> Result<Plan<'a>, Diag> {
    let started = Instant::now();
    let opts = CompileOptions { verify: cfg.verify, ..options(c, cfg.threads) };
    let runner = |graph: &Graph| jit(graph, &opts).map(|exe| Runner::new(graph, exe));
    let program = program(c);
    let rows = program.rows();
    let stats = wants_stats(c, cfg);
    let span = c.module.train().span;
    if cfg.place.is_some() && c.data.is_none() {
        return Err(errors::distributed_without_data(span));
    }
    // The step at a batch of `rows`; in a distributed run this rank's share of it. Every rank
    // refuses a batch that leaves any rank without rows, so the error is every rank's, reported once.
    let step_at = |rows: usize, what: &str| -> Result<Runner, Diag> {
        match cfg.place {
            None if rows == c.batch && stats => runner(&with_stats(&c.lowered, &c.backward, &c.train_step)),
            None if rows == c.batch => runner(&c.optimized),
            None => runner(&train_step_at(c, rows, stats, None)?),
            Some(place) if rows < place.ranks => Err(errors::batch_below_ranks(span, what, rows, place.ranks)),
            Some(place) => {
                let mine = place.share(rows);
                runner(&train_step_at(c, mine.len(), stats, Some(Part { first: mine.start, of: rows }))?)
            }
        }
    };
    let step = step_at(c.batch, "the batch")?;
    let short_step = match rows % c.batch {
        0 => None,
        tail => Some(step_at(tail, "an epoch's last batch")?),
    };
    // Rank 0 evaluates alone: a sum over the ranks there would wait forever for the others.
    let evaluated = |graph: Graph| -> Result<Runner, Diag> {
        if cfg.place.is_some() && graph.nodes.iter().any(|n| n.op == Op::AllSum) {
            return Err(errors::all_sum_in_evaluation(span));
        }
        runner(&graph)
    };
    let eval = evaluated(eval_at(c, rows)?)?;
    let eval_of = |part: &Option<Dataset>| part.as_ref().map(|d| evaluated(eval_at(c, d.n)?)).transpose();
    let (val_eval, test_eval) = (eval_of(&c.val)?, eval_of(&c.test)?);
    let exes = Executables { step, short_step, eval, val_eval, test_eval };
    Ok(Plan { program, exes, compile: c.frontend_time + started.elapsed() })
}

/// What every rank of a distributed run of `c` must agree on, hashed: the optimised train step
/// at the global batch (its every shape and constant), the training rows' values and the
/// held-out sets' sizes, the sums over the ranks each of the plan's steps runs, in order (each
/// rank's steps are compiled at its share's size, and every rank must call the same sums in
/// the same order), and whatever decides when the host evaluates, which rank 0 broadcasts: the
/// run's length, seed, logging cadence, whether progress is `shown`, and the checkpoint it
/// starts from.
pub fn fingerprint(c: &Compiled, cfg: &RunConfig, plan: &Plan, shown: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: every process of one binary hashes alike.
    let mut h = std::hash::DefaultHasher::new();
    crate::ir::print::print(&c.optimized).hash(&mut h);
    plan.exes.step.exe.collectives().hash(&mut h);
    plan.exes.short_step.as_ref().map(|s| s.exe.collectives()).hash(&mut h);
    (cfg.steps, cfg.epochs, cfg.seed, cfg.log_every, cfg.evaluate_logged, shown).hash(&mut h);
    format!("{:?}", cfg.grad_stats).hash(&mut h);
    (c.val.as_ref().map(|d| d.n), c.test.as_ref().map(|d| d.n)).hash(&mut h);
    // The checkpoint was read whole already; one unreadable now hashes as absent.
    cfg.init.as_ref().map(|p| std::fs::read(p).unwrap_or_default()).hash(&mut h);
    if let Some(d) = &c.data {
        d.features.iter().for_each(|x| x.to_bits().hash(&mut h));
        match &d.labels {
            data::Labels::None => {}
            data::Labels::Classes { y, .. } => y.hash(&mut h),
            data::Labels::Targets { y, .. } => y.iter().for_each(|x| x.to_bits().hash(&mut h)),
        }
    }
    h.finish()
}

/// Compiles a run of `c` and trains it; progress goes to `progress`.
pub fn train(c: &Compiled, cfg: &RunConfig, progress: ProgressTo) -> Result<Summary, Diag> {
    runtime::train::train(&mut plan(c, cfg)?, cfg, progress)
}

/// Compiles every run of a comparison, then trains and compares them (see
/// [`runtime::compare::compare`]).
pub fn compare(
    runs: &[(Label, Compiled)],
    cfg: &RunConfig,
    out_dir: &Path,
    progress: ProgressTo,
) -> Result<Report, Diag> {
    let mut plans = Vec::with_capacity(runs.len());
    for (label, c) in runs {
        plans.push((label.clone(), plan(c, cfg)?));
    }
    runtime::compare::compare(&mut plans, cfg, out_dir, progress)
}
