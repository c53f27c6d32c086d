//! `gradc lr-find`: the learning-rate range test (Smith 2015; fastai's `lr_find`,
//! torch-lr-finder). The compiled step's own schedule grows the learning rate exponentially from
//! `from` to `to` (the driver compiled it so); this trains from the initial weights one
//! update per step, smooths the loss, stops when it diverges, suggests the learning rate where
//! the smoothed loss falls fastest, and draws it. Nothing is saved: the weights on disk are
//! never touched.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::batch::Batcher;
use super::plan::Plan;
use super::plot::{self, Chart, Panel, Series};
use super::runner::Steps;
use super::{errors, train};
use crate::diag::Diag;
use crate::rng::Rng;

/// The smoothing of the loss, as fastai's: an exponential moving average with debiasing.
pub const BETA: f64 = 0.98;
/// The test stops when the smoothed loss exceeds this many times the best, as fastai's.
pub const DIVERGED: f64 = 4.0;
/// Points left out at the start and at the end when looking for the steepest descent, as
/// torch-lr-finder's `suggest_lr` (`skip_start=10, skip_end=5`).
pub const SKIP: (usize, usize) = (10, 5);

/// What the range test is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The first learning rate.
    pub from: f64,
    /// The last learning rate.
    pub to: f64,
    /// Updates from `from` to `to`.
    pub steps: usize,
}

/// One update of the test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The learning rate the step used, as the step reports it.
    pub lr: f64,
    /// The step's loss (its batch's, before the update).
    pub loss: f64,
    /// The smoothed loss.
    pub smoothed: f64,
}

/// Why the test ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    /// It reached the last learning rate.
    Completed,
    /// The smoothed loss exceeded [`DIVERGED`] times the best, at the last point.
    Diverged,
    /// The loss stopped being finite at this learning rate (which is not a point).
    NonFinite(f64),
}

/// The result of a range test.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// One per update made.
    pub points: Vec<Point>,
    /// Why it ended.
    pub end: End,
    /// The index in `points` of the suggested learning rate, if there are enough points.
    pub suggestion: Option<usize>,
    /// The files written.
    pub files: Vec<PathBuf>,
}

impl Finding {
    /// The suggested learning rate.
    pub fn suggested_lr(&self) -> Option<f64> {
        self.suggestion.map(|i| self.points[i].lr)
    }
}

/// Runs the range test on `plan` (whose step's schedule grows the learning rate) with the run's
/// seed, and writes `out_dir/lr_find.{csv,svg,png}`.
pub fn run(plan: &mut Plan, range: &Range, seed: u64, out_dir: &Path) -> Result<Finding, Diag> {
    // Before the test runs, so a bad output path costs no training.
    for path in outputs(out_dir) {
        crate::output::check(&path).map_err(|e| errors::lr_find_unwritable(&path, e))?;
    }
    let program = &plan.program;
    let step = &mut plan.exes.step;
    for (name, values) in train::initial_values(program, seed) {
        // Every parameter and state slot is an input of the train step.
        step.exe.input_mut(&name).expect("param and state inputs exist").copy_from_slice(&values);
    }
    let c = &program.controls;
    let shuffle = c.shuffle.then(|| Rng::new(seed).fork("shuffle"));
    let mut batcher = Batcher::new(program.rows(), program.batch, shuffle, c.span)?;
    // Full batches only (fastai's loaders drop the last, shorter one): every loss is over as
    // many rows, and one executable runs every step.
    let full = batcher.full_batches().max(1);
    let k = c.accumulate.max(1);
    let (mut points, mut end) = (Vec::new(), End::Completed);
    let (mut average, mut best) = (0.0, f64::INFINITY);
    let mut micro = 0;
    for update in 0..range.steps {
        let mut sum = 0.0;
        for j in 0..k {
            let (epoch, b) = (micro / full, micro % full);
            if b == 0 {
                batcher.start_epoch(epoch as u64);
            }
            if let Some(d) = program.data {
                step.load_rows(d, batcher.indices(b));
            }
            let s = Steps { t: update + 1, apply: j + 1 == k, epoch, lr_scale: 1.0, seed, micro };
            step.set_steps(&s);
            step.exe.run();
            sum += step.loss();
            micro += 1;
        }
        let (loss, lr) = (sum / k as f64, step.lr());
        if !loss.is_finite() {
            end = End::NonFinite(lr);
            break;
        }
        average = BETA * average + (1.0 - BETA) * loss;
        let smoothed = average / (1.0 - BETA.powi(points.len() as i32 + 1));
        points.push(Point { lr, loss, smoothed });
        best = best.min(smoothed);
        if smoothed > DIVERGED * best {
            end = End::Diverged;
            break;
        }
    }
    let suggestion = steepest(&points);
    let mut finding = Finding { points, end, suggestion, files: vec![] };
    write(&mut finding, out_dir)?;
    Ok(finding)
}

/// The index of the steepest descent of the smoothed loss against log lr, as torch-lr-finder:
/// the least of numpy's `gradient` (central differences, one-sided at the ends) over the points
/// without the first and last [`SKIP`]; the points are evenly spaced in log lr, so the gradient
/// by index is the gradient by log lr up to a constant. `None` below two points left.
pub fn steepest(points: &[Point]) -> Option<usize> {
    let (a, b) = SKIP;
    let kept = points.get(a..points.len().checked_sub(b)?)?;
    let l: Vec<f64> = kept.iter().map(|p| p.smoothed).collect();
    let n = l.len();
    if n < 2 {
        return None;
    }
    let gradient = |i: usize| match i {
        0 => l[1] - l[0],
        i if i == n - 1 => l[n - 1] - l[n - 2],
        i => (l[i + 1] - l[i - 1]) / 2.0,
    };
    let least = (0..n).min_by(|&i, &j| gradient(i).total_cmp(&gradient(j)))?;
    Some(a + least)
}

/// The files the test writes in `out_dir`: `lr_find.csv`, `.svg` and `.png`.
fn outputs(out_dir: &Path) -> [std::path::PathBuf; 3] {
    ["csv", "svg", "png"].map(|ext| out_dir.join(format!("lr_find.{ext}")))
}

/// Writes the points as CSV and the plot of smoothed loss against lr, with the suggestion
/// marked; only a new or regular file is replaced.
fn write(f: &mut Finding, out_dir: &Path) -> Result<(), Diag> {
    std::fs::create_dir_all(out_dir).map_err(|e| errors::lr_find_unwritable(out_dir, e))?;
    let [csv, svg, png] = outputs(out_dir);
    let mut text = String::from("step,lr,loss,smoothed_loss\n");
    for (i, p) in f.points.iter().enumerate() {
        // Writing to a String cannot fail.
        writeln!(text, "{i},{},{},{}", p.lr, p.loss, p.smoothed).expect("write to String");
    }
    crate::output::write_atomically(&csv, text.as_bytes()).map_err(|e| errors::lr_find_unwritable(&csv, e))?;
    let marks = match (f.suggestion, f.suggested_lr()) {
        (Some(i), Some(lr)) => vec![(lr, f.points[i].smoothed, format!("suggested lr {lr:.2e}"))],
        _ => vec![],
    };
    let series = |label: &str, y: fn(&Point) -> f64, colour| Series {
        label: label.into(),
        points: f.points.iter().map(|p| (p.lr, y(p))).collect(),
        colour: Some(colour),
        ..Series::default()
    };
    let panel = Panel {
        title: "smoothed loss against learning rate".into(),
        x_label: "learning rate (log scale)".into(),
        y_label: "loss".into(),
        log_x: true,
        // The raw losses (in the CSV) jump by decades near the end and would flatten the curve.
        series: vec![series("smoothed loss", |p| p.smoothed, 0)],
        marks,
        ..Panel::default()
    };
    let title = "Learning-rate range test (smoothed with β = 0.98)".into();
    let chart = Chart { title, panels: vec![panel], empty: "no step had a finite loss".into() };
    plot::line_chart(&chart, &svg, &png).map_err(|e| errors::lr_find_unwritable(&svg, e))?;
    f.files = vec![csv, svg, png];
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{steepest, Point};

    fn points(smoothed: &[f64]) -> Vec<Point> {
        smoothed.iter().enumerate().map(|(i, &s)| Point { lr: 10f64.powi(i as i32), loss: s, smoothed: s }).collect()
    }

    #[test]
    fn the_steepest_descent_is_numpys_least_gradient_after_skipping_the_ends() {
        // Flat, a fall over 12–15, flat again; the first ten and last five are skipped. numpy's
        // central difference at 13 is (3.0 − 4.9) / 2, the least.
        let mut l = vec![5.0; 12];
        l.extend([4.9, 4.5, 3.0, 2.9, 2.8, 2.8, 2.8, 2.8, 2.8, 2.8, 2.8]);
        assert_eq!(steepest(&points(&l)), Some(13));
        // A steeper fall among the skipped points does not count.
        l[3] = -100.0;
        assert_eq!(steepest(&points(&l)), Some(13));
    }

    #[test]
    fn too_few_points_suggest_nothing() {
        // Seventeen leave two points; a flat curve's first is the least.
        assert_eq!(steepest(&points(&[1.0; 17])), Some(10));
        assert_eq!(steepest(&points(&[1.0; 16])), None);
        assert_eq!(steepest(&points(&[1.0; 3])), None);
        assert_eq!(steepest(&points(&[])), None);
    }
}
