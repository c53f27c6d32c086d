//! Gradient health (`--grad-stats`): the statistics the compiled step computes, read on the
//! steps that log them, and the watch that warns of a layer whose gradient vanishes or
//! explodes.

use crate::diag::Diag;
use crate::ir::Stat;

/// A layer's gradient vanishes when its norm is below this fraction of the largest layer's
/// gradient norm at the same step. Relative, so that a model near its optimum, where every
/// gradient is small, does not warn.
pub const VANISHING: f64 = 1e-3;
/// A layer's gradient explodes when its norm is above this.
pub const EXPLODING: f64 = 1e3;
/// Consecutive statistics points a layer's gradient must vanish or explode for before the run
/// warns.
pub const PATIENCE: usize = 5;

/// When a run computes the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsEvery {
    /// At every logged step (`--grad-stats` without a count).
    Logged,
    /// Every this many updates.
    Steps(usize),
}

/// The statistics of one step, each list in the order the step's outputs give them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsPoint {
    /// Updates made.
    pub step: usize,
    /// Each parameter's gradient norm.
    pub grad_norm: Vec<(String, f64)>,
    /// Each parameter's update-to-weight ratio.
    pub update_ratio: Vec<(String, f64)>,
    /// Each ReLU layer's fraction of dead units.
    pub dead_relu: Vec<(String, f64)>,
}

impl StatsPoint {
    /// Sorts the step's statistic outputs, by name as [`Stat::output_name`] makes them.
    pub fn new(step: usize, outputs: Vec<(String, f64)>) -> StatsPoint {
        let mut p = StatsPoint { step, ..StatsPoint::default() };
        for (name, value) in outputs {
            let Some((stat, of)) = Stat::parse(&name) else { continue };
            p.group_mut(stat).push((of.to_string(), value));
        }
        p
    }

    /// The values of one statistic.
    pub fn group(&self, stat: Stat) -> &[(String, f64)] {
        match stat {
            Stat::GradNorm => &self.grad_norm,
            Stat::UpdateRatio => &self.update_ratio,
            Stat::DeadRelu => &self.dead_relu,
        }
    }

    fn group_mut(&mut self, stat: Stat) -> &mut Vec<(String, f64)> {
        match stat {
            Stat::GradNorm => &mut self.grad_norm,
            Stat::UpdateRatio => &mut self.update_ratio,
            Stat::DeadRelu => &mut self.dead_relu,
        }
    }
}

/// The layer a parameter belongs to: its name up to the last `.` (`h1` for `h1.w`), or the
/// whole name for a parameter of no layer (`theta`).
pub fn layer_of(param: &str) -> &str {
    param.rsplit_once('.').map_or(param, |(layer, _)| layer)
}

/// Whether a gradient norm is too small or too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    Vanishing,
    Exploding,
}

/// One layer's watch: its run of consecutive troubled points.
#[derive(Debug, Clone)]
struct Watch {
    layer: String,
    /// The trouble of the current run of points, its length and the step it began at.
    run: Option<(Trouble, usize, usize)>,
    /// Troubles already warned of (each once per run).
    warned: Vec<Trouble>,
}

/// Watches each layer's gradient norm (the norm of all its parameters' gradients together)
/// over the statistics points and collects a warning for each layer whose norm vanishes or
/// explodes for [`PATIENCE`] consecutive points.
#[derive(Debug, Clone, Default)]
pub struct Health {
    watches: Vec<Watch>,
    warnings: Vec<Diag>,
}

impl Health {
    /// Takes in one point's gradient norms.
    pub fn observe(&mut self, point: &StatsPoint) {
        let mut layers: Vec<(&str, f64)> = Vec::new();
        for (param, n) in &point.grad_norm {
            let layer = layer_of(param);
            match layers.iter_mut().find(|(l, _)| *l == layer) {
                Some((_, sq)) => *sq += n * n,
                None => layers.push((layer, n * n)),
            }
        }
        let largest = layers.iter().map(|l| l.1.sqrt()).fold(0.0, f64::max);
        for (layer, sq) in layers {
            let norm = sq.sqrt();
            let trouble = if norm > EXPLODING {
                Some(Trouble::Exploding)
            } else if norm < VANISHING * largest {
                Some(Trouble::Vanishing)
            } else {
                None
            };
            let watch = match self.watches.iter().position(|w| w.layer == layer) {
                Some(i) => &mut self.watches[i],
                None => {
                    self.watches.push(Watch { layer: layer.to_string(), run: None, warned: vec![] });
                    self.watches.last_mut().expect("just pushed")
                }
            };
            watch.run = match (trouble, watch.run) {
                (None, _) => None,
                (Some(t), Some((was, count, from))) if t == was => Some((t, count + 1, from)),
                (Some(t), _) => Some((t, 1, point.step)),
            };
            if let Some((t, count, from)) = watch.run {
                if count == PATIENCE && !watch.warned.contains(&t) {
                    watch.warned.push(t);
                    self.warnings.push(warning(layer, t, from, point.step, norm, largest));
                }
            }
        }
    }

    /// The warnings so far, in the order they arose.
    pub fn warnings(&self) -> &[Diag] {
        &self.warnings
    }
}

/// The warning that `layer`'s gradient norm (`norm` at step `to`, the largest layer's
/// `largest`) vanished or exploded at every statistics point from step `from` to `to`.
fn warning(layer: &str, trouble: Trouble, from: usize, to: usize, norm: f64, largest: f64) -> Diag {
    let points = format!("{PATIENCE} statistics points in a row (steps {from} to {to})");
    match trouble {
        Trouble::Vanishing => Diag::new(
            super::errors::TRAIN_VANISHING,
            format!(
                "the gradient of layer `{layer}` vanishes: its norm stayed below {VANISHING:e} × the largest \
                 layer's for {points}; at step {to} it is {norm:.3e} against {largest:.3e}"
            ),
        )
        .help(
            "the gradient shrinks on its way back through saturating activations (sigmoid, tanh), so this layer \
             barely learns; use relu with he_normal init, batch normalisation or residual connections, or fewer layers",
        ),
        Trouble::Exploding => Diag::new(
            super::errors::TRAIN_EXPLODING,
            format!(
                "the gradient of layer `{layer}` explodes: its norm stayed above {EXPLODING:e} for {points}; \
                 at step {to} it is {norm:.3e}"
            ),
        )
        .help("lower the learning rate, or clip the gradients in the train block (`clip = global_norm(1.0)`)"),
    }
    .as_warning()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: usize, norms: &[(&str, f64)]) -> StatsPoint {
        let grad_norm = norms.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        StatsPoint { step, grad_norm, ..StatsPoint::default() }
    }

    #[test]
    fn outputs_sort_into_their_statistics() {
        let outputs = vec![
            ("grad_norm:h1.w".to_string(), 1.0),
            ("update_ratio:h1.w".to_string(), 0.5),
            ("dead_relu:h1".to_string(), 0.25),
            ("loss".to_string(), 3.0),
        ];
        let p = StatsPoint::new(7, outputs);
        assert_eq!(p.grad_norm, [("h1.w".to_string(), 1.0)]);
        assert_eq!(p.update_ratio, [("h1.w".to_string(), 0.5)]);
        assert_eq!(p.group(Stat::DeadRelu), [("h1".to_string(), 0.25)]);
        assert_eq!((layer_of("b1.conv1.w"), layer_of("theta")), ("b1.conv1", "theta"));
    }

    #[test]
    fn a_layer_warns_once_after_patience_points_in_a_row() {
        let mut h = Health::default();
        // The weight and bias of `l1` together: sqrt(3e-4² + 4e-4²) = 5e-4 < 1e-3 × 1.
        let bad = |s| point(s, &[("l1.w", 3e-4), ("l1.b", 4e-4), ("out.w", 1.0)]);
        for s in 1..PATIENCE {
            h.observe(&bad(s));
        }
        h.observe(&point(PATIENCE, &[("l1.w", 1.0), ("out.w", 1.0)]));
        assert!(h.warnings().is_empty(), "a healthy point breaks the run");
        for s in 0..2 * PATIENCE {
            h.observe(&bad(10 + s));
        }
        assert_eq!(h.warnings().len(), 1, "{:?}", h.warnings());
        let text = h.warnings()[0].render_plain();
        assert!(text.contains("layer `l1` vanishes") && text.contains("steps 10 to 14"), "{text}");
    }

    #[test]
    fn small_gradients_everywhere_are_no_vanishing_and_large_ones_explode() {
        let mut h = Health::default();
        for s in 0..2 * PATIENCE {
            h.observe(&point(s, &[("a.w", 1e-9), ("b.w", 2e-9)]));
        }
        assert!(h.warnings().is_empty(), "near an optimum every gradient is small: {:?}", h.warnings());
        for s in 0..PATIENCE {
            h.observe(&point(100 + s, &[("a.w", 10.0), ("b.w", 2e3)]));
        }
        let texts: Vec<String> = h.warnings().iter().map(Diag::render_plain).collect();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(texts[0].contains("layer `b` explodes") && texts[0].contains("steps 100 to 104"), "{texts:?}");
    }
}
