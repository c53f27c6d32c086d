//! Comparing optimizers and schedules: each variant of one program is trained from the same seed
//! (so from the same initial weights, over the same data order), then every run's history is
//! written as CSV, the results are tabulated, and the loss and metric curves are drawn; for a
//! program whose parameters are two scalars, so is the loss surface with every run's path.

use std::fmt;
use std::io::{self, Write};
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

/// Points per run to log when neither the command line nor the train block says: enough for
/// smooth curves, few enough that evaluating the metrics stays cheap.
const CURVE_POINTS: usize = 200;
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

/// One variant's run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The variant's label, such as `adam(lr: 0.01)`.
    pub label: String,
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

    /// The first logged step whose loss is at most the target, else the end of training if the
    /// final loss is.
    pub fn steps_to_target(&self, run: &Run) -> Option<usize> {
        let s = run.summary()?;
        s.history
            .iter()
            .find(|p| logged_loss(p) <= self.target)
            .map(|p| p.step)
            .or_else(|| (s.final_loss <= self.target).then_some(s.steps))
    }

    /// Every file written: pictures first, then the CSV histories.
    pub fn files(&self) -> Vec<&Path> {
        let pictures = self.curves.iter().chain(&self.trajectories).flatten().map(PathBuf::as_path);
        pictures.chain(self.runs.iter().filter_map(|r| r.csv.as_deref())).collect()
    }
}

/// The summary table: label, final loss, final metrics, steps to the target loss, wall time.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics: Vec<&str> = self
            .runs
            .iter()
            .find_map(Run::summary)
            .map_or(vec![], |s| s.metrics.iter().map(|(name, _)| name.as_str()).collect());
        let mut header = vec!["run".to_string(), "final loss".into()];
        header.extend(metrics.iter().map(|m| m.to_string()));
        header.push("steps".into());
        header.push(format!("steps to loss ≤ {}", fmt_loss(self.target)));
        header.push("wall".into());
        let rows: Vec<Vec<String>> = self
            .runs
            .iter()
            .map(|run| {
                let mut row = vec![run.label.clone()];
                match &run.outcome {
                    Outcome::Trained(s) => {
                        row.push(fmt_loss(s.final_loss));
                        for m in &metrics {
                            let value = s.metrics.iter().find(|(name, _)| name == m);
                            row.push(value.map_or("-".into(), |(_, v)| format!("{v:.4}")));
                        }
                        row.push(s.steps.to_string());
                        row.push(self.steps_to_target(run).map_or("-".into(), |n| n.to_string()));
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

/// A logged point's loss over the whole training set when the run evaluated it (it does when
/// there are metrics), else that step's batch loss.
fn logged_loss(p: &LogPoint) -> f64 {
    p.metrics.iter().find(|(n, _)| n == StepOutput::Loss.name()).map_or(p.loss, |(_, v)| *v)
}

/// Trains every `(label, plan)` with the same overrides, writes `out_dir/<label>.csv` for
/// each, `out_dir/curves.{svg,png}` and, when the parameters are two scalars,
/// `out_dir/trajectories.{svg,png}`; one line per run goes to `progress`. A run whose loss
/// diverges is reported as such rather than stopping the comparison.
pub fn compare(
    runs: &mut [(String, Plan)],
    cfg: &RunConfig,
    out_dir: &Path,
    progress: &mut dyn Write,
) -> Result<Report, Diag> {
    if runs.is_empty() {
        return Err(errors::nothing_to_compare());
    }
    std::fs::create_dir_all(out_dir).map_err(|e| errors::compare_unwritable(out_dir, e))?;
    let pair = scalar_pair(&runs[0].1.program);
    let mut names = vec!["curves".to_string(), "trajectories".to_string()];
    let mut results = vec![];
    let count = runs.len();
    for (i, (label, plan)) in runs.iter_mut().enumerate() {
        let every = cfg.log_every.or(plan.program.controls.log_every).unwrap_or_else(|| {
            let points = if pair.is_some() { PATH_POINTS } else { CURVE_POINTS };
            total_steps(&plan.program, cfg).div_ceil(points).max(1)
        });
        // One JSON log or checkpoint per comparison would be overwritten by each run; the CSVs
        // replace the log.
        let run_cfg = RunConfig { log_every: Some(every), log: None, save: None, ..cfg.clone() };
        write!(progress, "[{}/{count}] {label} ... ", i + 1).map_err(errors::progress_unwritable)?;
        progress.flush().map_err(errors::progress_unwritable)?;
        let (outcome, csv) = match train::train(plan, &run_cfg, ProgressTo::Hidden) {
            Ok(summary) if summary.stopped.diagnostic().is_some() => {
                let d = summary.stopped.diagnostic().expect("checked by the guard");
                writeln!(progress, "diverged: {}", d.message).map_err(errors::progress_unwritable)?;
                let path = out_dir.join(format!("{}.csv", file_stem(label, &mut names)));
                write_csv(&path, &summary).map_err(|e| errors::compare_unwritable(&path, e))?;
                (Outcome::Diverged(d, summary), Some(path))
            }
            Ok(summary) => {
                let path = out_dir.join(format!("{}.csv", file_stem(label, &mut names)));
                write_csv(&path, &summary).map_err(|e| errors::compare_unwritable(&path, e))?;
                writeln!(
                    progress,
                    "{} steps in {}, final loss {}",
                    summary.steps,
                    fmt_wall(summary.wall),
                    fmt_loss(summary.final_loss)
                )
                .map_err(errors::progress_unwritable)?;
                (Outcome::Trained(summary), Some(path))
            }
            Err(d) => return Err(d),
        };
        results.push(Run { label: label.clone(), outcome, csv });
    }
    let best = results.iter().filter_map(Run::summary).map(|s| s.final_loss).fold(f64::INFINITY, f64::min);
    let mut report = Report {
        runs: results,
        target: if best.is_finite() { 1.1 * best } else { f64::NAN },
        curves: None,
        trajectories: None,
    };
    if report.runs.iter().any(|r| r.summary().is_some()) {
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

/// `step,loss,lr` (the batch's loss), the metrics (`train_loss` for the loss over the training
/// set), then each single-number parameter, one row per logged step.
fn write_csv(path: &Path, s: &Summary) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    let Some(first) = s.history.first() else {
        return writeln!(out, "step,loss,lr");
    };
    let metrics: Vec<&str> = first.metrics.iter().map(|(n, _)| n.as_str()).collect();
    let scalars: Vec<&str> = first.params.iter().filter(|(_, v)| v.len() == 1).map(|(n, _)| n.as_str()).collect();
    let mut header = vec!["step", "loss", "lr"];
    header.extend(metrics.iter().map(|n| if *n == "loss" { "train_loss" } else { n }));
    header.extend(&scalars);
    writeln!(out, "{}", header.join(","))?;
    // By name, so that a point without a value leaves its cell empty rather than shifting the row.
    // Values print as the f32 the compiled step computed them in: `0.05`, not `0.05000000074505806`.
    for p in &s.history {
        let mut row = vec![p.step.to_string(), (p.loss as f32).to_string(), (p.lr as f32).to_string()];
        row.extend(metrics.iter().map(|m| cell(p.metrics.iter().find(|(n, _)| n == m).map(|(_, v)| *v as f32))));
        row.extend(scalars.iter().map(|s| cell(p.params.iter().find(|(n, _)| n == s).map(|(_, v)| v[0]))));
        writeln!(out, "{}", row.join(","))?;
    }
    out.flush()
}

fn cell(value: Option<impl fmt::Display>) -> String {
    value.map_or(String::new(), |v| v.to_string())
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
fn series(report: &Report, point: impl Fn(&LogPoint) -> Option<(f64, f64)>) -> Vec<Series> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let points = |r: &Run| r.history().iter().filter_map(&point).filter(finite).collect();
    let diverged = |r: &Run| matches!(r.outcome, Outcome::Diverged(..));
    report.runs.iter().map(|r| Series { label: legend_label(r), points: points(r), diverged: diverged(r) }).collect()
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
    let step = |p: &LogPoint| p.step as f64;
    let mut panels = vec![Panel {
        title: if mini_batch && !whole_set { "training loss (each step's batch)" } else { "training loss" }.into(),
        x_label: "step".into(),
        y_label: "loss".into(),
        log_y: spans_decades(&|p| Some(logged_loss(p))),
        series: series(report, |p| Some((step(p), logged_loss(p)))),
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
            x_label: "step".into(),
            y_label: y_label.into(),
            log_y: name == "val_loss" && spans_decades(&|p| metric(p, name)),
            series: series(report, |p| metric(p, name).map(|v| (step(p), v))),
        });
    }
    // Schedules are easier to judge beside the learning rate they produced.
    let lr_varies =
        report.runs.iter().filter_map(Run::summary).any(|s| s.history.windows(2).any(|w| w[0].lr != w[1].lr));
    if lr_varies {
        panels.push(Panel {
            title: "learning rate".into(),
            x_label: "step".into(),
            y_label: "lr".into(),
            log_y: false,
            series: series(report, |p| Some((step(p), p.lr))),
        });
    }
    Chart {
        title: format!("Training curves, every run from the same start (seed {})", seed(first, cfg)),
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
    let mut paths = series(report, |p| Some((value(&p.params, x), value(&p.params, y))));
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::runtime::train::StopReason;

    fn point(step: usize, loss: f64, metrics: &[(&str, f64)]) -> LogPoint {
        let metrics = metrics.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        LogPoint { step, loss, lr: 0.1, metrics, params: vec![("w".into(), vec![step as f32])] }
    }

    fn trained(label: &str, history: Vec<LogPoint>, final_loss: f64) -> Run {
        let summary = Summary {
            steps: history.last().map_or(0, |p| p.step),
            final_loss,
            metrics: vec![("accuracy".into(), 0.875)],
            test: vec![],
            params: vec![],
            history,
            stopped: StopReason::Completed,
            wall: Duration::from_millis(1500),
            compile: Duration::ZERO,
        };
        Run { label: label.into(), outcome: Outcome::Trained(summary), csv: None }
    }

    fn report() -> Report {
        let fast = trained("adam(lr: 0.01)", vec![point(10, 0.9, &[]), point(20, 0.2, &[]), point(30, 0.1, &[])], 0.1);
        // The whole-set loss, when logged, counts rather than the batch's.
        let noisy =
            trained("sgd(lr: 0.1)", vec![point(10, 0.05, &[("loss", 0.8)]), point(20, 0.3, &[("loss", 0.4)])], 0.4);
        let mut diverged = trained("sgd(lr: 10)", vec![point(2, 40.0, &[]), point(3, f64::INFINITY, &[])], f64::NAN);
        if let Outcome::Trained(s) = diverged.outcome {
            let stop = StopReason::Diverged { step: 3, loss: f64::INFINITY, lr: 10.0 };
            diverged.outcome =
                Outcome::Diverged(stop.diagnostic().expect("a divergence"), Summary { stopped: stop, ..s });
        }
        Report { runs: vec![fast, noisy, diverged], target: 0.11, curves: None, trajectories: None }
    }

    #[test]
    fn steps_to_target_uses_the_first_logged_step_at_or_below_it() {
        let mut r = report();
        assert_eq!(r.steps_to_target(&r.runs[0]), Some(30));
        assert_eq!(r.steps_to_target(&r.runs[1]), None, "a low batch loss alone does not count");
        assert_eq!(r.steps_to_target(&r.runs[2]), None);
        r.set_target(0.4);
        assert_eq!(r.steps_to_target(&r.runs[1]), Some(20));
        r.set_target(0.15);
        let finished_there = trained("x", vec![point(10, 0.9, &[])], 0.12);
        assert_eq!(r.steps_to_target(&finished_there), Some(10), "the final loss counts at the last step");
    }

    #[test]
    fn the_table_aligns_columns_and_spells_out_divergence() {
        let table = report().to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("run ") && lines[0].contains("accuracy") && lines[0].contains("≤ 0.110000"));
        assert!(lines[1].starts_with("adam(lr: 0.01)  ") && lines[1].ends_with("1.50 s"), "{table}");
        assert!(lines[1].contains("0.8750") && lines[1].contains(" 30 "), "{table}");
        assert_eq!(lines[0].chars().count(), lines[1].chars().count(), "aligned:\n{table}");
        assert_eq!(lines[3], "sgd(lr: 10)     diverged: the loss became inf at step 3");
    }

    #[test]
    fn file_stems_are_readable_and_distinct() {
        let mut taken = vec!["curves".to_string()];
        assert_eq!(file_stem("momentum(lr: 0.1, momentum: 0.9)", &mut taken), "momentum_lr_0.1_momentum_0.9");
        assert_eq!(file_stem("momentum(lr: 0.1, momentum: 0.9)", &mut taken), "momentum_lr_0.1_momentum_0.9_2");
        assert_eq!(
            file_stem("adam(lr: 1e-3) + exponential(gamma: 0.9)", &mut taken),
            "adam_lr_1e-3_exponential_gamma_0.9"
        );
        assert_eq!(file_stem("curves", &mut taken), "curves_2");
        assert_eq!(file_stem("(( ))", &mut taken), "run");
        assert_eq!(file_stem("../..", &mut taken), "run_2", "no path can escape the output directory");
        assert_eq!(file_stem(".hidden", &mut taken), "hidden");
    }

    #[test]
    fn the_csv_has_a_row_per_logged_step_with_scalar_parameters() {
        let dir = std::env::temp_dir().join(format!("gradc-compare-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("run.csv");
        let run = trained("r", vec![point(1, 0.5, &[("loss", 0.25), ("accuracy", 0.5)]), point(2, 0.4, &[])], 0.1);
        write_csv(&path, run.summary().expect("trained")).expect("CSV written");
        let text = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(text, "step,loss,lr,train_loss,accuracy,w\n1,0.5,0.1,0.25,0.5,1\n2,0.4,0.1,,,2\n");
    }

    #[test]
    fn comparing_nothing_is_a_diagnostic() {
        let err = compare(&mut [], &RunConfig::default(), Path::new("unused"), &mut io::sink()).expect_err("no runs");
        assert_eq!(err.code, errors::COMPARE_EMPTY);
    }
}
