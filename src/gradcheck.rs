//! `gradc gradcheck`: the program's gradients against central finite differences, in f64
//! through the reference interpreter, on the first batch a run would train on — what
//! `torch.autograd.gradcheck` does for one function, for a whole `.grad` program.
//!
//! The analytic side is the optimised backward graph (what the train step computes), evaluated
//! by the interpreter; the numeric side perturbs one entry of a parameter by ±ε and evaluates
//! the forward graph's loss. Both see the same inputs: the batch, the parameters, and the
//! step inputs of the first step, so dropout draws the same mask in every evaluation and batch
//! norm uses the batch's statistics (training mode).

use std::fmt::Write;
use std::path::PathBuf;

use crate::diag::Diag;
use crate::driver::Compiled;
use crate::gradmath::{self, values};
use crate::ir::interp::{self, Tensor};
use crate::ir::{Graph, OutputRole};
use crate::rng::Rng;

pub mod errors;

#[cfg(test)]
mod tests;

/// The finite-difference step, as torch's `gradcheck` (`eps=1e-6`): in f64 its truncation
/// error (ε²·f‴/6) and rounding error (1e-16·|loss|/ε) are both far below the tolerance.
pub const EPS: f64 = 1e-6;
/// The smaller steps an entry that fails at [`EPS`] is checked at again. In a network, moving
/// one weight by ε moves thousands of relu inputs and max-pool operands, and one of them may
/// cross its kink (relu at 0, a tie in max) within ±ε, where the central difference is not the
/// derivative; at a step ten or a hundred times smaller it does not cross, while a wrong
/// gradient still disagrees (the difference only nears the true derivative), and rounding
/// (1e-16·|loss|/ε) stays below the tolerance, which is not changed.
pub const RETRY: [f64; 2] = [1e-7, 1e-8];
/// The absolute tolerance, as torch's `gradcheck` (`atol=1e-5`).
pub const ATOL: f64 = 1e-5;
/// The relative tolerance, as torch's `gradcheck` (`rtol=1e-3`).
pub const RTOL: f64 = 1e-3;
/// Entries checked per parameter unless `--sample` or `--all` say otherwise: each costs two
/// evaluations of the loss.
pub const SAMPLE: usize = 64;

/// What `gradc gradcheck` is asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only these parameters (all when `None`).
    pub params: Option<Vec<String>>,
    /// Parameters from this safetensors file instead of their initialisers.
    pub init: Option<PathBuf>,
    /// At most this many entries per parameter, drawn with the run's seed; every entry when
    /// `None`.
    pub sample: Option<usize>,
}

/// One entry's two derivatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// The flat (row-major) index in the parameter.
    pub index: usize,
    /// The backward graph's derivative.
    pub analytic: f64,
    /// The central difference.
    pub numeric: f64,
    /// The step of `numeric`: [`EPS`], or one of [`RETRY`] when the loss has a kink within ±ε.
    pub step: f64,
}

impl Entry {
    /// |analytic − numeric|.
    pub fn abs_err(&self) -> f64 {
        (self.analytic - self.numeric).abs()
    }

    /// |analytic − numeric| / max(|analytic|, |numeric|); 0 when both are 0.
    pub fn rel_err(&self) -> f64 {
        let scale = self.analytic.abs().max(self.numeric.abs());
        if scale == 0.0 {
            0.0
        } else {
            self.abs_err() / scale
        }
    }

    /// How far past its tolerance the error is: ≤ 0 passes, as torch's `allclose`.
    fn excess(&self) -> f64 {
        self.abs_err() - (ATOL + RTOL * self.numeric.abs())
    }

    /// Whether the entry passes: |analytic − numeric| ≤ atol + rtol·|numeric|.
    pub fn passes(&self) -> bool {
        self.excess() <= 0.0
    }
}

/// One parameter's check.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The parameter.
    pub param: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The entries checked, in index order.
    pub entries: Vec<Entry>,
}

impl Row {
    /// The parameter's number of entries.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The largest absolute error.
    pub fn max_abs(&self) -> f64 {
        self.entries.iter().map(Entry::abs_err).fold(0.0, f64::max)
    }

    /// The largest relative error.
    pub fn max_rel(&self) -> f64 {
        self.entries.iter().map(Entry::rel_err).fold(0.0, f64::max)
    }

    /// Whether every checked entry passes.
    pub fn passes(&self) -> bool {
        self.entries.iter().all(Entry::passes)
    }

    /// How many entries passed only at a smaller step: a kink of the loss lies within ±ε.
    pub fn kinks(&self) -> usize {
        self.entries.iter().filter(|e| e.step != EPS && e.passes()).count()
    }

    /// The entry furthest past its tolerance.
    pub fn worst(&self) -> Option<&Entry> {
        self.entries.iter().max_by(|a, b| a.excess().total_cmp(&b.excess()))
    }

    /// `name[i, j]` for a flat index.
    fn at(&self, mut flat: usize) -> String {
        let mut idx = vec![0; self.shape.len()];
        for (i, d) in self.shape.iter().enumerate().rev() {
            idx[i] = flat % d;
            flat /= d;
        }
        let idx: Vec<String> = idx.iter().map(usize::to_string).collect();
        if idx.is_empty() {
            self.param.clone()
        } else {
            format!("{}[{}]", self.param, idx.join(", "))
        }
    }
}

/// Every parameter's check, and what it was checked on.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The loss's name.
    pub loss: String,
    /// The batch's rows, when the loss reads data.
    pub batch: Option<usize>,
    /// Entries checked per parameter, `None` for all.
    pub sample: Option<usize>,
    /// One per parameter checked, in input order.
    pub checks: Vec<Row>,
}

impl Report {
    /// Whether every parameter passes.
    pub fn passes(&self) -> bool {
        self.checks.iter().all(Row::passes)
    }

    /// The parameters that fail.
    pub fn failures(&self) -> Vec<&Row> {
        self.checks.iter().filter(|r| !r.passes()).collect()
    }
}

/// `gradc gradcheck`: checks the gradients of the compiled program; the report is returned
/// whether or not they pass ([`Report::passes`]).
pub fn command(c: &Compiled, opts: &Options) -> Result<Report, Diag> {
    let (maths, backward) = gradmath::of(c);
    let params: Vec<String> = match &opts.params {
        Some(names) => {
            for n in names {
                maths.check_param(n)?;
            }
            maths.grads.iter().map(|g| g.param.clone()).filter(|p| names.contains(p)).collect()
        }
        None => maths.grads.iter().map(|g| g.param.clone()).collect(),
    };
    let feed = values::feed(c, &backward, opts.init.as_deref())?;
    let sample = opts.sample;
    let checks = check(c, &feed, &backward, &params, sample);
    let batch = c.data.as_ref().map(|_| feed.rows.len());
    Ok(Report { loss: maths.loss, batch, sample, checks })
}

/// Checks `backward`'s gradient of each of `params` against central differences of the loss of
/// `c`'s forward graph, on the feed; at most `sample` entries per parameter (drawn with the
/// run's seed), every entry when `None`.
pub fn check(
    c: &Compiled,
    feed: &values::Feed,
    backward: &Graph,
    params: &[String],
    sample: Option<usize>,
) -> Vec<Row> {
    let mut loss_graph = c.lowered.forward.clone();
    loss_graph.outputs.retain(|o| o.role == OutputRole::Loss);
    let loss_graph = crate::passes::dce::run(&loss_graph);
    let base = values::tensors(c, &loss_graph, feed);
    let loss_at = |inputs: &[Tensor]| interp::eval(&loss_graph, inputs)[0].data[0];

    let grads = interp::eval(backward, &values::tensors(c, backward, feed));
    params
        .iter()
        .map(|p| {
            let at = backward.outputs.iter().position(|o| o.name == format!("{p}.grad"));
            // `params` are the backward graph's parameters, each with a gradient output.
            let grad = &grads[at.expect("a gradient output per parameter")];
            let entries = match loss_graph.input_index(p) {
                Some(k) => indices(grad.data.len(), sample, feed.seed, p)
                    .into_iter()
                    .map(|e| {
                        let mut inputs = base.clone();
                        let x = base[k].data[e];
                        let mut difference = |step: f64| {
                            inputs[k].data[e] = x + step;
                            let plus = loss_at(&inputs);
                            inputs[k].data[e] = x - step;
                            let minus = loss_at(&inputs);
                            Entry { index: e, analytic: grad.data[e], numeric: (plus - minus) / (2.0 * step), step }
                        };
                        let first = difference(EPS);
                        if first.passes() {
                            return first;
                        }
                        RETRY.into_iter().map(&mut difference).find(Entry::passes).unwrap_or(first)
                    })
                    .collect(),
                // A parameter the loss does not read: its gradient must be zero.
                None => indices(grad.data.len(), sample, feed.seed, p)
                    .into_iter()
                    .map(|e| Entry { index: e, analytic: grad.data[e], numeric: 0.0, step: EPS })
                    .collect(),
            };
            Row { param: p.clone(), shape: grad.shape.clone(), entries }
        })
        .collect()
}

/// The entries to check of a parameter of `n`: all, or `sample` of them drawn with the seed and
/// the parameter's name (so the same on every run), in index order.
fn indices(n: usize, sample: Option<usize>, seed: u64, param: &str) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    match sample {
        Some(k) if k < n => {
            Rng::new(seed).fork(&format!("gradcheck {param}")).shuffle(&mut all);
            all.truncate(k);
            all.sort_unstable();
            all
        }
        Some(_) | None => all,
    }
}

/// Scientific notation with two significant digits, `0` for zero.
fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.1e}")
    }
}

/// The report as a table, with the step and tolerances it was checked at.
pub fn render(r: &Report) -> String {
    // Writing to a String cannot fail.
    let mut out = String::new();
    let batch = r.batch.map_or(String::new(), |n| format!(" on the first batch ({n} rows)"));
    writeln!(out, "gradient check of ∂{}/∂parameter{batch}, in f64:", r.loss).expect("write to String");
    writeln!(out, "  analytic: the backward graph; numeric: (loss(p + ε) − loss(p − ε)) / 2ε, ε = {EPS:e}")
        .expect("write to String");
    writeln!(out, "  an entry passes when |analytic − numeric| ≤ {ATOL:e} + {RTOL:e}·|numeric|")
        .expect("write to String");
    writeln!(
        out,
        "  one failing at ε is checked again at ε = {:e} and {:e}: if it passes there, a kink of the loss \
         (relu at 0, a tie in max) lies within ±ε (column `kinks`)",
        RETRY[0], RETRY[1]
    )
    .expect("write to String");
    if let Some(k) = r.sample {
        if r.checks.iter().any(|row| row.numel() > k) {
            writeln!(
                out,
                "  parameters of more than {k} entries: {k} entries drawn with the run's seed (--all checks all)"
            )
            .expect("write to String");
        }
    }
    out.push('\n');
    let header = ["parameter", "shape", "entries", "max abs err", "max rel err", "kinks", "result"];
    let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
    for row in &r.checks {
        let dims: Vec<String> = row.shape.iter().map(usize::to_string).collect();
        let checked = match row.entries.len() {
            n if n == row.numel() => n.to_string(),
            n => format!("{n} of {}", row.numel()),
        };
        let result = if row.passes() { "pass" } else { "FAIL" };
        lines.push([
            row.param.clone(),
            format!("[{}]", dims.join(", ")),
            checked,
            sci(row.max_abs()),
            sci(row.max_rel()),
            row.kinks().to_string(),
            result.into(),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0)).collect();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}")).collect();
        writeln!(out, "{}", cells.join("  ").trim_end()).expect("write to String");
    }
    out.push('\n');
    let failures = r.failures();
    if failures.is_empty() {
        let n = r.checks.len();
        writeln!(out, "{}", if n == 1 { "the parameter passes".into() } else { format!("all {n} parameters pass") })
            .expect("write to String");
    }
    for row in failures {
        if let Some(e) = row.worst() {
            writeln!(
                out,
                "worst entry {}: analytic {:e}, numeric {:e} (at every step)",
                row.at(e.index),
                e.analytic,
                e.numeric
            )
            .expect("write to String");
        }
    }
    out
}
