//! What a set of axes shows: the frame (set by the runs that trained, so one that diverged
//! cannot flatten the others), the ticks, each curve's parts inside the frame, and the points a
//! log axis had to leave out. Values here are in axis space: log10 of y on a log axis.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

use super::Series;

/// The ranges of a set of axes, in axis space, and what they leave out.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Frame {
    /// The x range; of log10 x on a log axis.
    pub x: (f64, f64),
    /// Whether x is on a log scale.
    pub log_x: bool,
    /// The y range; of log10 y on a log axis.
    pub y: (f64, f64),
    /// Whether y is on a log scale.
    pub log_y: bool,
    /// Finite points at or below zero, which a log axis cannot show.
    pub non_positive: usize,
    /// Whether all of those are exactly zero.
    pub all_zero: bool,
}

impl Frame {
    /// The frame for `series`: over the points of those that did not diverge (all of them if
    /// every one did), with y on a log scale if asked and any value is positive. `None` when
    /// there is no point to show.
    pub fn fit(series: &[Series], log_x: bool, log_y: bool) -> Option<Frame> {
        let positive = |s: &&Series| s.points.iter().any(|p| p.0.is_finite() && p.1.is_finite() && p.1 > 0.0);
        let log_y = log_y && series.iter().any(|s| positive(&s));
        let place = |p: &(f64, f64)| place(*p, log_x, log_y);
        let trained: Vec<&Series> =
            series.iter().filter(|s| !s.diverged && s.points.iter().any(|p| place(p).is_some())).collect();
        let framing = if trained.is_empty() { series.iter().collect() } else { trained };
        let points: Vec<(f64, f64)> = framing.iter().flat_map(|s| s.points.iter().filter_map(place)).collect();
        let span = |v: &mut dyn Iterator<Item = f64>| {
            v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
        };
        let (x0, x1) = span(&mut points.iter().map(|p| p.0));
        let (y0, y1) = span(&mut points.iter().map(|p| p.1));
        if !x0.is_finite() {
            return None;
        }
        let widen = |(a, b): (f64, f64), by: f64| {
            if b > a {
                (a, b)
            } else {
                (a - by.max(a.abs() * 0.1), b + by.max(a.abs() * 0.1))
            }
        };
        let x = if log_x { widen((x0, x1), 0.15) } else { widen((x0, x1), 0.5) };
        let y = if log_y {
            // At least a third of a decade tall, and 4% of the span clear above and below.
            let (a, b) = widen((y0, y1), 0.15);
            let (a, b) = if b - a < 0.3 { ((a + b) / 2.0 - 0.15, (a + b) / 2.0 + 0.15) } else { (a, b) };
            (a - 0.04 * (b - a), b + 0.04 * (b - a))
        } else {
            let (a, b) = widen((y0, y1), 0.5);
            (a - 0.05 * (b - a), b + 0.05 * (b - a))
        };
        let hidden =
            || series.iter().flat_map(|s| &s.points).filter(|p| p.0.is_finite() && p.1.is_finite() && p.1 <= 0.0);
        let non_positive = if log_y { hidden().count() } else { 0 };
        Some(Frame { x, log_x, y, log_y, non_positive, all_zero: hidden().all(|p| p.1 == 0.0) })
    }

    /// A point in axis space, if it can be shown.
    pub fn place(&self, p: (f64, f64)) -> Option<(f64, f64)> {
        place(p, self.log_x, self.log_y)
    }

    /// A line saying what the log axis leaves out, if anything.
    pub fn note(&self) -> Option<String> {
        let k = self.non_positive;
        let what = if self.all_zero { "at 0" } else { "at or below 0" };
        (k > 0).then(|| format!("{k} point{} {what} not shown on the log axis", if k == 1 { "" } else { "s" }))
    }

    fn contains(&self, (a, b): (f64, f64)) -> bool {
        (self.x.0..=self.x.1).contains(&a) && (self.y.0..=self.y.1).contains(&b)
    }

    /// The part of the segment p–q inside the frame (Liang–Barsky). plotters moves each point
    /// outside its plotting area onto the border, which bends a line leaving the frame along
    /// the edge; cutting it here keeps its direction and tells where it left.
    fn clip(&self, p: (f64, f64), q: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        // Each end's parameter with the edge that set it: the crossing lies exactly on that
        // edge, which computing it from the parameter could miss by far for a point at 1e18.
        let (mut t0, mut t1) = ((0.0f64, None), (1.0f64, None));
        let edges = [(-dx, p.0 - self.x.0, (0, self.x.0)), (dx, self.x.1 - p.0, (0, self.x.1))];
        let edges =
            edges.into_iter().chain([(-dy, p.1 - self.y.0, (1, self.y.0)), (dy, self.y.1 - p.1, (1, self.y.1))]);
        for (den, num, edge) in edges {
            if den == 0.0 {
                if num < 0.0 {
                    return None;
                }
            } else if den < 0.0 {
                if num / den > t0.0 {
                    t0 = (num / den, Some(edge));
                }
            } else if num / den < t1.0 {
                t1 = (num / den, Some(edge));
            }
        }
        let at = |(t, edge): (f64, Option<(usize, f64)>), end: (f64, f64)| match edge {
            None => end,
            Some((0, x)) => (x, if dy == 0.0 { p.1 } else { p.1 + t * dy }),
            Some((_, y)) => (if dx == 0.0 { p.0 } else { p.0 + t * dx }, y),
        };
        (t0.0 <= t1.0).then(|| (at(t0, p), at(t1, q)))
    }

    /// The parts of a curve inside the frame, in axis space: a point that cannot be placed (not
    /// finite, or not positive on a log axis) ends a part, and so does leaving the frame.
    pub fn parts(&self, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let mut parts = vec![];
        let mut part: Vec<(f64, f64)> = vec![];
        let mut prev = None;
        for p in points {
            let Some(q) = self.place(*p) else {
                prev = None;
                parts.extend((!part.is_empty()).then(|| std::mem::take(&mut part)));
                continue;
            };
            match prev.replace(q).map(|p| self.clip(p, q)) {
                None if self.contains(q) => part.push(q),
                None | Some(None) => parts.extend((!part.is_empty()).then(|| std::mem::take(&mut part))),
                Some(Some((a, b))) => {
                    if part.last() != Some(&a) {
                        parts.extend((!part.is_empty()).then(|| std::mem::take(&mut part)));
                        part.push(a);
                    }
                    part.push(b);
                    if b != q {
                        parts.push(std::mem::take(&mut part));
                    }
                }
            }
        }
        parts.extend((!part.is_empty()).then_some(part));
        parts
    }
}

/// A part of a curve as strokes for plotters, `size` being the frame's size in drawing units:
/// points closer than a third of a unit to the last one kept are dropped, and the line is cut
/// where it turns back by more than 120°. plotters joins thick lines with unlimited miters, so
/// a zigzag (an optimizer bouncing across a valley) would otherwise draw spikes far outside
/// the curve, and beyond the frame.
pub(super) fn strokes(part: &[(f64, f64)], frame: &Frame, size: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let unit = |p: (f64, f64)| {
        ((p.0 - frame.x.0) / (frame.x.1 - frame.x.0) * size.0, (p.1 - frame.y.0) / (frame.y.1 - frame.y.0) * size.1)
    };
    let mut kept: Vec<(f64, f64)> = vec![];
    for (i, &p) in part.iter().enumerate() {
        let far = kept.last().is_none_or(|&q| {
            let (a, b) = (unit(p), unit(q));
            (a.0 - b.0).hypot(a.1 - b.1) >= 1.0 / 3.0
        });
        if far || i + 1 == part.len() {
            kept.push(p);
        }
    }
    let mut strokes = vec![];
    let mut stroke = vec![];
    for (i, &p) in kept.iter().enumerate() {
        stroke.push(p);
        if let (Some(&a), Some(&b)) = (i.checked_sub(1).and_then(|j| kept.get(j)), kept.get(i + 1)) {
            let (a, p, b) = (unit(a), unit(p), unit(b));
            let (u, v) = ((p.0 - a.0, p.1 - a.1), (b.0 - p.0, b.1 - p.1));
            let cos = (u.0 * v.0 + u.1 * v.1) / (u.0.hypot(u.1) * v.0.hypot(v.1));
            if cos < -0.5 {
                strokes.push(std::mem::replace(&mut stroke, vec![kept[i]]));
            }
        }
    }
    strokes.push(stroke);
    strokes
}

/// A point in axis space, if it can be shown (a log x axis shows only positive x, as the
/// learning rates it is for are).
fn place((x, y): (f64, f64), log_x: bool, log_y: bool) -> Option<(f64, f64)> {
    let ok = x.is_finite() && y.is_finite() && (!log_y || y > 0.0) && (!log_x || x > 0.0);
    ok.then(|| (if log_x { x.log10() } else { x }, if log_y { y.log10() } else { y }))
}

/// Ticks of an axis over `(lo, hi)` in axis space: labelled ones and unlabelled minor ones.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ticks {
    /// Labelled ticks with their labels.
    pub major: Vec<(f64, String)>,
    /// Unlabelled ticks.
    pub minor: Vec<f64>,
}

impl Ticks {
    /// About `n` ticks at plotters' 1-2-5 steps on a linear axis. On a log axis (`lo`, `hi`
    /// being log10 of the ends): decades labelled `10ⁿ` when more than two fall inside, else
    /// 1-2-5 (or every) multiples of a power of ten labelled plainly; plotters' own log ticks
    /// leave a range within one decade bare.
    pub fn new(lo: f64, hi: f64, log: bool, n: usize) -> Ticks {
        if !log {
            let values: Vec<f64> = RangedCoordf64::from(lo..hi).key_points(n);
            let step = values.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(hi - lo);
            return Ticks { major: values.iter().map(|v| (*v, fmt_tick(*v, step))).collect(), minor: vec![] };
        }
        let (e0, e1) = ((lo - 1e-9).ceil() as i32, (hi + 1e-9).floor() as i32);
        let inside = |v: &f64| *v >= lo - 1e-9 && *v <= hi + 1e-9;
        let multiples = |ms: &[f64]| -> Vec<f64> {
            (e0 - 1..=e1).flat_map(|e| ms.iter().map(move |m| (m * 10f64.powi(e)).log10())).filter(inside).collect()
        };
        let all = multiples(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        if e1 - e0 >= 2 {
            let every = (e1 - e0 + 6) / 6;
            let major: Vec<(f64, String)> =
                (e0..=e1).filter(|e| (e - e0) % every == 0).map(|e| (f64::from(e), power_of_ten(e))).collect();
            let minor = if every == 1 && e1 - e0 <= 8 {
                all.into_iter().filter(|v| v.fract().abs() > 1e-9).collect()
            } else {
                (e0..=e1).filter(|e| (e - e0) % every != 0).map(f64::from).collect()
            };
            return Ticks { major, minor };
        }
        let mut major = multiples(&[1.0, 2.0, 5.0]);
        if major.len() < 3 {
            major = all.clone();
        }
        let minor = all.into_iter().filter(|v| !major.contains(v)).collect();
        Ticks { major: major.into_iter().map(|v| (v, fmt_plain(10f64.powf(v)))).collect(), minor }
    }

    /// The label of the tick at `v`, or nothing: plotters asks for each key point.
    pub fn label(&self, v: f64) -> String {
        let near = self.major.iter().find(|(t, _)| (t - v).abs() <= 1e-9 * t.abs().max(1.0));
        near.map_or(String::new(), |(_, l)| l.clone())
    }

    /// A plotters axis over `(lo, hi)` with these ticks.
    pub fn scale(&self, (lo, hi): (f64, f64)) -> Scale {
        Scale { lo, hi, major: self.major.iter().map(|t| t.0).collect(), minor: self.minor.clone() }
    }
}

/// A linear plotters axis with the ticks of [`Ticks`] (plotters' `WithKeyPoints` would do, but
/// its ranges cannot take a label formatter).
#[derive(Debug, Clone)]
pub(super) struct Scale {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Scale {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// A tick value with as many decimals as its step needs.
pub(super) fn fmt_tick(v: f64, step: f64) -> String {
    if v.abs() >= 1e6 || (step < 1e-4 && v != 0.0) {
        return fmt_plain(v);
    }
    let power = step.log10().floor();
    let mut decimals = (-power).max(0.0) as usize;
    // Steps of 2.5, 0.25, ... need one more decimal than their power of ten; 25, 250 do not.
    if power <= 0.0 && ((step / 10f64.powf(power)) - 2.5).abs() < 1e-9 {
        decimals += 1;
    }
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        "0".into()
    } else {
        minus_sign(s)
    }
}

/// A value to three significant digits, in exponent notation when very large or small.
pub(super) fn fmt_plain(v: f64) -> String {
    let s = if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        let s = format!("{v:.2e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
    } else {
        let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    minus_sign(s)
}

/// Typographic minus signs, as in printed charts.
fn minus_sign(s: String) -> String {
    s.replace('-', "\u{2212}")
}

/// `10` with a superscript exponent, as log axes label decades.
fn power_of_ten(e: i32) -> String {
    const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = e
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => SUPERSCRIPTS[d.to_digit(10).unwrap_or(0) as usize],
        })
        .collect();
    format!("10{digits}")
}
