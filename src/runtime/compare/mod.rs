//! Comparing models, optimizers, schedules and batch sizes: each variant of one program is
//! trained from the same seed (so a model from the same initial weights, over the same data
//! order), then every run's history is written as CSV, the results are tabulated by the headline
//! metric, and the loss and metric curves are drawn; for a program whose parameters are two
//! scalars, so is the loss surface with every run's path.

mod history;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::checkpoint;
use super::errors;
use super::log::{fmt_loss, fmt_wall, ProgressTo};
use super::plan::{Plan, Program};
use super::plot::{self, Chart, ContourChart, Grid, Panel, Series};
use super::runner::Runner;
use super::train::{self, total_steps, LogPoint, RunConfig, Summary};
use crate::data::Dataset;
use crate::diag::Diag;
use crate::ir::StepOutput;
use crate::output;
use history::write_csv;

/// Points per run to log when neither the command line nor the train block says: enough for
/// smooth curves, few enough that evaluating the metrics stays cheap.
const CURVE_POINTS: usize = 200;
/// The fewest points per run a costly evaluation leaves (see [`curve_points`]).
const MIN_CURVE_POINTS: usize = 25;
/// An evaluation runs every training and validation row forward only, about a third of a
/// training step's work per row: this many evaluations per row trained cost about as much as
/// the training itself, which is where [`curve_points`] stops adding points.
const EVALS_PER_ROW_TRAINED: f64 = 3.0;
/// What the summary table is sorted by: the first of these the runs report, with whether higher
/// is better: the test set's scores first, when the runs have one.
const HEADLINE: &[(&str, bool)] = &[
    ("test_accuracy", true),
    ("val_accuracy", true),
    ("accuracy", true),
    ("test_loss", false),
    ("val_loss", false),
    ("loss", false),
];
/// Points per run for two-parameter programs, whose every step is a visible move on the surface.
const PATH_POINTS: usize = 2000;
/// Rows of data times grid points the loss surface may cost; the grid is finer when that allows.
const SURFACE_BUDGET: usize = 20_000_000;

/// The outcome of training one variant.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Training finished.
    Trained(Summary),
    /// The loss stopped being finite; the diagnostic says when, the summary has the history so far.
    Diverged(Diag, Summary),
}

/// A run's name: its label, and the parts of it that pick how its curves are drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Label {
    /// The whole label, e.g. `cnn · adam(lr: 0.001)`.
    pub text: String,
    /// Its model part, when the runs differ in model: each model has its own line style.
    pub model: Option<String>,
    /// The rest, which picks the colour: runs that differ only in model share one.
    pub setting: String,
}

/// One variant's run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The variant's label, such as `adam(lr: 0.01)`.
    pub label: String,
    /// Its curves' colour (an index into the charts' palette) and dash pattern.
    pub style: (usize, usize),
    /// Updates per pass over the training data, for charts whose runs differ in batch size;
    /// `None` without data.
    pub steps_per_epoch: Option<f64>,
    /// What training gave.
    pub outcome: Outcome,
    /// Its history as CSV, if it trained.
    pub csv: Option<PathBuf>,
}

impl Run {
    /// The summary of a run that finished.
    pub fn summary(&self) -> Option<&Summary> {
        match &self.outcome {
            Outcome::Trained(s) => Some(s),
            Outcome::Diverged(..) => None,
        }
    }

    /// The logged points of the run, up to its divergence if it diverged.
    pub fn history(&self) -> &[LogPoint] {
        match &self.outcome {
            Outcome::Trained(s) | Outcome::Diverged(_, s) => &s.history,
        }
    }
}

/// Every run of a comparison, the target loss the table measures speed by, and the pictures.
#[derive(Debug, Clone)]
pub struct Report {
    /// The runs, in the order given.
    pub runs: Vec<Run>,
    /// The loss "steps to target" refers to; NaN when no run finished.
    pub target: f64,
    /// Loss (and metric) curves: SVG and PNG.
    pub curves: Option<[PathBuf; 2]>,
    /// The loss surface with each run's path, for two scalar parameters: SVG and PNG.
    pub trajectories: Option<[PathBuf; 2]>,
}

impl Report {
    /// Measures "steps to target" against this loss instead of 1.1 × the best final loss.
    pub fn set_target(&mut self, loss: f64) {
        self.target = loss;
    }

    /// The first logged step whose whole-set loss is at most the target, else the end of
    /// training if the final loss is.
    pub fn steps_to_target(&self, run: &Run) -> Option<usize> {
        let s = run.summary()?;
        s.history
            .iter()
            .find(|p| logged_loss(p) <= self.target)
            .map(|p| p.step)
            .or_else(|| (s.final_loss <= self.target).then_some(s.steps))
    }

    /// Whether every run diverged.
    pub fn all_diverged(&self) -> bool {
        self.runs.iter().all(|r| r.summary().is_none())
    }

    /// Every file written: pictures first, then the CSV histories.
    pub fn files(&self) -> Vec<&Path> {
        let pictures = self.curves.iter().chain(&self.trajectories).flatten().map(PathBuf::as_path);
        pictures.chain(self.runs.iter().filter_map(|r| r.csv.as_deref())).collect()
    }

    /// The quantity the table is sorted by, and whether higher is better: the first of
    /// [`HEADLINE`] that the first run to finish reports.
    pub fn headline(&self) -> Option<(&'static str, bool)> {
        let s = self.runs.iter().find_map(Run::summary)?;
        HEADLINE.iter().copied().find(|(name, _)| headline_value(s, name).is_some())
    }

    /// The runs best first by the headline (ties and runs without it in the order given), the
    /// diverged ones last.
    pub fn ranked(&self) -> Vec<&Run> {
        let mut runs: Vec<&Run> = self.runs.iter().collect();
        if let Some((name, higher)) = self.headline() {
            let key = |r: &Run| r.summary().and_then(|s| headline_value(s, name)).filter(|v| !v.is_nan());
            // Stable: equal keys keep their order.
            runs.sort_by(|a, b| match (key(a), key(b)) {
                (Some(x), Some(y)) if higher => y.total_cmp(&x),
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
        runs
    }
}

/// A summary's final value of `name`: its loss, or a metric.
fn headline_value(s: &Summary, name: &str) -> Option<f64> {
    match name {
        "loss" => Some(s.final_loss),
        _ => s.metrics.iter().chain(&s.test).find(|(n, _)| n == name).map(|(_, v)| *v),
    }
}

/// The summary table: label, final loss, final metrics, steps to the target loss, wall time;
/// best first by the headline, which a line above it names.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some((name, higher)), true) = (self.headline(), self.runs.len() > 1) {
            let name = if name == "loss" { "final loss" } else { name };
            writeln!(f, "runs by {name}, {} first", if higher { "highest" } else { "lowest" })?;
        }
        let metrics: Vec<&str> = self
            .runs
            .iter()
            .find_map(Run::summary)
            .map_or(vec![], |s| s.metrics.iter().chain(&s.test).map(|(name, _)| name.as_str()).collect());
        let mut header = vec!["run".to_string(), "final loss".into()];
        header.extend(metrics.iter().map(|m| m.to_string()));
        header.push("steps".into());
        // No run finished, so there is no target to reach.
        let targeted = !self.target.is_nan();
        if targeted {
            header.push(format!("steps to loss ≤ {}", fmt_loss(self.target)));
        }
        header.push("wall".into());
        let rows: Vec<Vec<String>> = self
            .ranked()
            .into_iter()
            .map(|run| {
                let mut row = vec![run.label.clone()];
                match &run.outcome {
                    Outcome::Trained(s) => {
                        row.push(fmt_loss(s.final_loss));
                        for m in &metrics {
                            let value = s.metrics.iter().chain(&s.test).find(|(name, _)| name == m);
                            row.push(value.map_or("-".into(), |(_, v)| format!("{v:.4}")));
                        }
                        row.push(s.steps.to_string());
                        if targeted {
                            row.push(self.steps_to_target(run).map_or("-".into(), |n| n.to_string()));
                        }
                        row.push(fmt_wall(s.wall));
                    }
                    Outcome::Diverged(d, _) => row.push(format!("diverged: {}", d.message)),
                }
                row
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                // A divergence message spans the columns after the label, so it sets no width.
                let cells = rows.iter().filter(|r| r.len() == header.len()).map(|r| r[c].chars().count());
                cells.chain([header[c].chars().count()]).max().unwrap_or(0)
            })
            .collect();
        let label_w = rows.iter().map(|r| r[0].chars().count()).chain([widths[0]]).max().unwrap_or(0);
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = format!("{:<label_w$}", row[0]);
            for (c, cell) in row.iter().enumerate().skip(1) {
                if row.len() == header.len() {
                    line += &format!("  {cell:>w$}", w = widths[c]);
                } else {
                    line += &format!("  {cell}");
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// A logged point's loss over the whole training set (compare evaluates it at every logged
/// step), else that step's batch loss.
fn logged_loss(p: &LogPoint) -> f64 {
    p.metrics.iter().find(|(n, _)| n == StepOutput::Loss.name()).map_or(p.loss, |(_, v)| *v)
}

/// Trains every `(label, plan)` with the same overrides, writes `out_dir/<label>.csv` for
/// each, `out_dir/curves.{svg,png}` and, when the parameters are two scalars,
/// `out_dir/trajectories.{svg,png}`; one line per run goes to `progress` (`[2/5] adam ...` and
/// its result), and on a terminal ([`ProgressTo::Bar`]) a bar while the run trains. A run whose
/// loss diverges is reported as such rather than stopping the comparison.
pub fn compare(
    runs: &mut [(Label, Plan)],
    cfg: &RunConfig,
    out_dir: &Path,
    mut progress: ProgressTo,
) -> Result<Report, Diag> {
    if runs.is_empty() {
        return Err(errors::nothing_to_compare());
    }
    std::fs::create_dir_all(out_dir).map_err(|e| errors::compare_unwritable(out_dir, e))?;
    let pair = scalar_pair(&runs[0].1.program);
    let mut names = vec!["curves".to_string(), "trajectories".to_string()];
    let csvs: Vec<PathBuf> =
        runs.iter().map(|(l, _)| out_dir.join(format!("{}.csv", file_stem(&l.text, &mut names)))).collect();
    // Every output is checked before the first run trains, so a bad path costs no training.
    let charts = ["curves.svg", "curves.png", "trajectories.svg", "trajectories.png"].map(|f| out_dir.join(f));
    for path in csvs.iter().chain(&charts) {
        output::check(path).map_err(|e| errors::compare_unwritable(path, e))?;
    }
    let mut results = vec![];
    let count = runs.len();
    let labels: Vec<&Label> = runs.iter().map(|r| &r.0).collect();
    let styles = styles(&labels);
    for (i, (label, plan)) in runs.iter_mut().enumerate() {
        let label = &label.text;
        let every = cfg.log_every.or(plan.program.controls.log_every).unwrap_or_else(|| {
            let points = if pair.is_some() { PATH_POINTS } else { curve_points(plan, cfg) };
            total_steps(&plan.program, cfg).div_ceil(points).max(1)
        });
        // One JSON log or checkpoint per comparison would be overwritten by each run; the CSVs
        // replace the log.
        let run_cfg = RunConfig { log_every: Some(every), log: None, save: None, evaluate_logged: true, ..cfg.clone() };
        let heading = format!("[{}/{count}] {label}", i + 1);
        let shown = match &mut progress {
            ProgressTo::Lines(out) => {
                write!(out, "{heading} ... ").and_then(|()| out.flush()).map_err(errors::progress_unwritable)?;
                ProgressTo::Hidden
            }
            ProgressTo::Bar | ProgressTo::Labelled(_) => ProgressTo::Labelled(heading.clone()),
            ProgressTo::Hidden => ProgressTo::Hidden,
        };
        let summary = train::train(plan, &run_cfg, shown)?;
        let path = csvs[i].clone();
        write_csv(&path, &summary).map_err(|e| errors::compare_unwritable(&path, e))?;
        let (result, outcome) = match summary.stopped.diagnostic() {
            Some(d) => (format!("diverged: {}", d.message), Outcome::Diverged(d, summary)),
            None => {
                let (steps, wall, loss) = (summary.steps, fmt_wall(summary.wall), fmt_loss(summary.final_loss));
                (format!("{steps} steps in {wall}, final loss {loss}"), Outcome::Trained(summary))
            }
        };
        match &mut progress {
            ProgressTo::Lines(out) => writeln!(out, "{result}"),
            // The bar was cleared: its line becomes the run's result.
            ProgressTo::Bar | ProgressTo::Labelled(_) => writeln!(std::io::stderr(), "{heading} ... {result}"),
            ProgressTo::Hidden => Ok(()),
        }
        .map_err(errors::progress_unwritable)?;
        let p = &plan.program;
        let steps_per_epoch = p.data.map(|d| d.n.div_ceil(p.batch) as f64 / p.controls.accumulate as f64);
        results.push(Run { label: label.clone(), style: styles[i], steps_per_epoch, outcome, csv: Some(path) });
    }
    let best = results.iter().filter_map(Run::summary).map(|s| s.final_loss).fold(f64::INFINITY, f64::min);
    let mut report = Report {
        runs: results,
        target: if best.is_finite() { 1.1 * best } else { f64::NAN },
        curves: None,
        trajectories: None,
    };
    // Diverged runs are drawn up to their divergence, so a comparison where all diverge still
    // shows how.
    if report.runs.iter().any(|r| r.summary().is_some() || !r.history().is_empty()) {
        let files = [out_dir.join("curves.svg"), out_dir.join("curves.png")];
        let chart = curves_chart(&report, &runs[0].1.program, cfg);
        plot::line_chart(&chart, &files[0], &files[1]).map_err(|e| errors::compare_unwritable(&files[0], e))?;
        report.curves = Some(files);
        if let Some((x, y)) = pair {
            let files = [out_dir.join("trajectories.svg"), out_dir.join("trajectories.png")];
            let chart = trajectories_chart(&report, &mut runs[0].1, cfg, (&x, &y))?;
            plot::contour_chart(&chart, &files[0], &files[1]).map_err(|e| errors::compare_unwritable(&files[0], e))?;
            report.trajectories = Some(files);
        }
    }
    Ok(report)
}

/// Points to log per run: [`CURVE_POINTS`], fewer when each point's evaluation of the whole
/// training and validation sets would cost more than the training (never fewer than
/// [`MIN_CURVE_POINTS`]).
fn curve_points(plan: &Plan, cfg: &RunConfig) -> usize {
    let p = &plan.program;
    // Every logged point evaluates the whole training set (`evaluate_logged`).
    let Some(data) = p.data else { return CURVE_POINTS };
    let evaluated = data.n + p.val.map_or(0, |v| v.n);
    let trained = total_steps(p, cfg) * p.batch * p.controls.accumulate;
    let affordable = EVALS_PER_ROW_TRAINED * trained as f64 / evaluated as f64;
    (affordable as usize).clamp(MIN_CURVE_POINTS, CURVE_POINTS)
}

/// Each run's colour and dash pattern. When the runs differ in model and in something else,
/// the model picks the dash and the rest of the label the colour, so that one optimizer looks
/// alike on every model; otherwise runs take the colours in order, then the same colours
/// dashed.
fn styles(labels: &[&Label]) -> Vec<(usize, usize)> {
    let index = |seen: &mut Vec<String>, key: &str| match seen.iter().position(|k| k == key) {
        Some(i) => i,
        None => {
            seen.push(key.to_string());
            seen.len() - 1
        }
    };
    let (mut models, mut settings) = (vec![], vec![]);
    let keys: Vec<(usize, usize)> = labels
        .iter()
        .map(|l| (index(&mut models, l.model.as_deref().unwrap_or("")), index(&mut settings, &l.setting)))
        .collect();
    let factored = models.len() > 1 && settings.len() > 1 && settings.len() <= PALETTE_SIZE;
    keys.iter()
        .enumerate()
        .map(|(i, &(model, setting))| if factored { (setting, model) } else { (i % PALETTE_SIZE, i / PALETTE_SIZE) })
        .collect()
}

/// How many colours the charts' palette has before it repeats.
const PALETTE_SIZE: usize = 10;

/// The names of the two parameters when a program has exactly two, each a single number.
fn scalar_pair(p: &Program) -> Option<(String, String)> {
    match p.params {
        [a, b] if [a, b].iter().all(|p| p.shape.iter().product::<usize>() == 1) => {
            Some((a.name.clone(), b.name.clone()))
        }
        _ => None,
    }
}

/// A file name from a label (`momentum(lr: 0.1)` → `momentum_lr_0.1`), distinct from `taken`.
fn file_stem(label: &str, taken: &mut Vec<String>) -> String {
    let mut stem = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            stem.push(c);
        } else if !stem.is_empty() && !stem.ends_with('_') {
            stem.push('_');
        }
    }
    // No hidden files, and nothing like `..`.
    let stem = stem.trim_matches(['_', '.']).to_string();
    let stem = if stem.is_empty() { "run".to_string() } else { stem };
    let mut unique = stem.clone();
    for k in 2.. {
        if !taken.contains(&unique) {
            break;
        }
        unique = format!("{stem}_{k}");
    }
    taken.push(unique.clone());
    unique
}

fn seed(p: &Program, cfg: &RunConfig) -> u64 {
    cfg.seed.unwrap_or(p.controls.seed)
}

/// A legend label: a diverged run keeps its place and colour, with nothing to draw.
fn legend_label(run: &Run) -> String {
    match run.outcome {
        Outcome::Trained(_) => run.label.clone(),
        Outcome::Diverged(..) => format!("{} (diverged)", run.label),
    }
}

/// One series per run, of the points `point` picks from its history.
fn series(report: &Report, point: impl Fn(&Run, &LogPoint) -> Option<(f64, f64)>) -> Vec<Series> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let points = |r: &Run| r.history().iter().filter_map(|p| point(r, p)).filter(finite).collect();
    let diverged = |r: &Run| matches!(r.outcome, Outcome::Diverged(..));
    let series = |r: &Run| Series {
        label: legend_label(r),
        points: points(r),
        diverged: diverged(r),
        colour: Some(r.style.0),
        dash: r.style.1,
    };
    report.runs.iter().map(series).collect()
}

/// The loss (on a log scale when the runs that trained span more than a decade), one panel per
/// training-set metric, the same for the validation set when there is one and, if it changes,
/// the learning rate.
fn curves_chart(report: &Report, first: &Program, cfg: &RunConfig) -> Chart {
    let history = || report.runs.iter().flat_map(Run::history).filter(|p| p.loss.is_finite());
    let trained = || report.runs.iter().filter_map(Run::summary).flat_map(|s| &s.history);
    let spans_decades = |value: &dyn Fn(&LogPoint) -> Option<f64>| {
        let values = || trained().filter_map(value).filter(|v| v.is_finite());
        let lo = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        lo.is_finite() && values().fold(f64::NEG_INFINITY, f64::max) / lo > 10.0
    };
    let metric = |p: &LogPoint, name: &str| p.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let whole_set = history().all(|p| p.metrics.iter().any(|(n, _)| n == "loss"));
    let mini_batch = first.data.is_some_and(|d| first.batch < d.n);
    // Runs of different batch sizes take different numbers of steps over the same data: they
    // line up by epoch.
    let by_epoch = report.runs.windows(2).any(|w| w[0].steps_per_epoch != w[1].steps_per_epoch);
    let x_label = if by_epoch { "epoch" } else { "step" };
    let step = |r: &Run, p: &LogPoint| match (by_epoch, r.steps_per_epoch) {
        (true, Some(n)) => p.step as f64 / n,
        _ => p.step as f64,
    };
    let mut panels = vec![Panel {
        title: if mini_batch && !whole_set { "training loss (each step's batch)" } else { "training loss" }.into(),
        x_label: x_label.into(),
        y_label: "loss".into(),
        log_y: spans_decades(&|p| Some(logged_loss(p))),
        series: series(report, |r, p| Some((step(r, p), logged_loss(p)))),
        ..Panel::default()
    }];
    let names: Vec<&str> = history().next().map_or(vec![], |p| p.metrics.iter().map(|(n, _)| n.as_str()).collect());
    let train_metrics = names.iter().filter(|n| **n != "loss" && !n.starts_with("val_"));
    let val_metrics = names.iter().filter(|n| n.starts_with("val_"));
    for &name in train_metrics.chain(val_metrics) {
        let (title, y_label) = match name.strip_prefix("val_") {
            Some("loss") => ("validation loss".to_string(), "loss"),
            Some(m) => (format!("{m} (validation set)"), m),
            None => (format!("{name} (training set)"), name),
        };
        panels.push(Panel {
            title,
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: name == "val_loss" && spans_decades(&|p| metric(p, name)),
            series: series(report, |r, p| metric(p, name).map(|v| (step(r, p), v))),
            ..Panel::default()
        });
    }
    // Schedules are easier to judge beside the learning rate they produced.
    let lr_varies =
        report.runs.iter().filter_map(Run::summary).any(|s| s.history.windows(2).any(|w| w[0].lr != w[1].lr));
    if lr_varies {
        panels.push(Panel {
            title: "learning rate".into(),
            x_label: x_label.into(),
            y_label: "lr".into(),
            log_y: false,
            series: series(report, |r, p| Some((step(r, p), p.lr))),
            ..Panel::default()
        });
    }
    Chart {
        title: format!("Training curves, every run from the same seed ({}) and data order", seed(first, cfg)),
        panels,
        empty: "no steps were run".into(),
    }
}

/// Every run's path through `(x, y)` from the shared start (a diverged one leaves the frame), over the loss on a grid
/// that covers all the paths; the loss is evaluated with the first run's executables.
fn trajectories_chart(
    report: &Report,
    first: &mut Plan,
    cfg: &RunConfig,
    (x, y): (&str, &str),
) -> Result<ContourChart, Diag> {
    let p = &first.program;
    let mut start = train::initial_values(p, seed(p, cfg));
    // Runs started from a checkpoint start from its values, as training does.
    if let Some(path) = &cfg.init {
        for (name, values) in checkpoint::load(path, p.params, &p.optimizer_state(), &p.state_slots)?.values {
            if let Some(slot) = start.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = values;
            }
        }
    }
    let value = |params: &[(String, Vec<f32>)], name: &str| {
        params.iter().find(|(n, _)| n == name).map_or(f64::NAN, |(_, v)| f64::from(v[0]))
    };
    let origin = (value(&start, x), value(&start, y));
    let mut paths = series(report, |_, p| Some((value(&p.params, x), value(&p.params, y))));
    for path in &mut paths {
        path.points.insert(0, origin);
    }
    let optimum = p.optimum.map(|o| {
        let at = |name: &str| o.iter().find(|(n, _)| n == name).map_or(f64::NAN, |(_, v)| *v);
        (at(x), at(y))
    });
    let rows = p.rows();
    // Frame the runs that trained; a diverging path leaves the frame rather than shrinking it.
    let mut framed: Vec<Series> = paths.iter().filter(|p| !p.diverged).cloned().collect();
    framed.extend(optimum.map(|o| Series { points: vec![o], ..Series::default() }));
    let (xs, ys) =
        grid_axes(if framed.is_empty() { &paths } else { &framed }, (SURFACE_BUDGET / rows).isqrt().clamp(41, 321));
    let z = surface(&mut first.exes.eval, p.data, (x, y), &xs, &ys);
    let positive = z.iter().filter(|v| v.is_finite() && **v > 0.0);
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
    Ok(ContourChart {
        title: format!("Loss surface over ({x}, {y}) and each optimizer's path"),
        x_label: x.into(),
        y_label: y.into(),
        z_label: "loss".into(),
        // Log levels when the surface spans decades and has no negative values to misplace.
        log_levels: z.iter().all(|v| !v.is_finite() || *v >= 0.0) && lo.is_finite() && hi / lo > 100.0,
        grid: Grid { xs, ys, z },
        paths,
        optimum,
    })
}

/// `side` grid coordinates per axis spanning every path's points with a margin of 15% on each side.
fn grid_axes(paths: &[Series], side: usize) -> (Vec<f64>, Vec<f64>) {
    let points = || paths.iter().flat_map(|p| p.points.iter()).filter(|p| p.0.is_finite() && p.1.is_finite());
    let span = |coord: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points().map(coord).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (-1.0, 1.0) };
        let margin = if hi > lo { 0.15 * (hi - lo) } else { 1.0f64.max(lo.abs() * 0.5) };
        let (a, b) = (lo - margin, hi + margin);
        (0..side).map(|i| a + (b - a) * i as f64 / (side - 1) as f64).collect::<Vec<_>>()
    };
    (span(|p| p.0), span(|p| p.1))
}

/// The loss at every grid point, from the forward graph compiled for the whole training set.
fn surface(eval: &mut Runner, data: Option<&Dataset>, (x, y): (&str, &str), xs: &[f64], ys: &[f64]) -> Vec<f64> {
    if let Some(data) = data {
        eval.load_rows(data, &(0..data.n).collect::<Vec<_>>());
    }
    let exe = &mut eval.exe;
    let mut z = Vec::with_capacity(xs.len() * ys.len());
    for &b in ys {
        for &a in xs {
            // A parameter the loss does not use has no input; the surface is then flat along it.
            for (name, v) in [(x, a), (y, b)] {
                if let Some(buf) = exe.input_mut(name) {
                    buf[0] = v as f32;
                }
            }
            exe.run();
            z.push(exe.output(StepOutput::Loss.name()).map_or(f64::NAN, |l| f64::from(l[0])));
        }
    }
    z
}

#[cfg(test)]
mod tests;
