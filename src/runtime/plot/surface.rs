//! Contour plots: a function of two variables as filled bands and isolines (from the `contour`
//! crate's marching squares), a colour bar on the same scale, and paths drawn over it with
//! their starts, ends and the optimum marked.

use std::io;

use contour::ContourBuilder;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{fmt_plain, strokes, Frame, Ticks};
use super::{bold, colour, font, invalid, inward, legend, legend_size, marker, px, stroke, ContourChart, Drawn, Grid};
use super::{Marker, Picture, Swatch, INK};

const PLOT_W: f64 = 500.0;
const PLOT_H: f64 = 420.0;
const TITLE_H: f64 = 44.0;
const MARGIN: f64 = 16.0;
const Y_LABELS: f64 = 70.0;
const X_LABELS: f64 = 50.0;
/// The colour bar with its labels: gap, bar, labels and the rotated `z` label.
const BAR_AREA: f64 = 24.0 + 16.0 + 64.0;

/// Contour levels strictly inside `(lo, hi)`: plotters' 1-2-5 steps on a linear scale, or
/// 1-2-5, 1-3 or whole decades (by how many decades the range spans) on a log scale, which
/// needs `lo > 0`.
pub fn contour_levels(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) || (log && lo <= 0.0) {
        return vec![];
    }
    // plotters' key points carry rounding (0.9999999999999999 for 1), so "inside" has a margin.
    let margin = 1e-9 * (hi - lo);
    let inside = |v: &f64| *v > lo + margin && *v < hi - margin;
    if !log {
        return RangedCoordf64::from(lo..hi).key_points(12).into_iter().filter(inside).collect();
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades = e1 - e0;
    let (mantissas, every): (&[f64], i32) = match decades {
        ..=5 => (&[1.0, 2.0, 5.0], 1),
        6..=10 => (&[1.0, 3.0], 1),
        11..=20 => (&[1.0], 1),
        _ => (&[1.0], (decades + 19) / 20),
    };
    (e0..=e1)
        .filter(|e| (e - e0) % every == 0)
        .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
        .filter(inside)
        .collect()
}

/// A contour chart worked out: bands, isolines and the colour scale, ready to draw.
pub(super) struct Surface<'c> {
    chart: &'c ContourChart,
    size: (u32, u32),
    /// Filled regions in `(x, y)`, largest first, so each is painted before what lies inside it.
    pub bands: Vec<(Vec<(f64, f64)>, RGBColor)>,
    /// Isolines in `(x, y)`.
    pub isolines: Vec<Vec<(f64, f64)>>,
    /// The colour scale's ends and edges between bands, in scale space (log10 on a log scale).
    scale: (f64, f64, bool),
    edges: Vec<f64>,
    colours: Vec<RGBColor>,
    entries: Vec<(String, Swatch)>,
}

impl<'c> Surface<'c> {
    /// Works out `chart`'s bands and isolines; the grid must be well formed.
    pub fn new(chart: &'c ContourChart) -> io::Result<Surface<'c>> {
        let g = &chart.grid;
        check_grid(g)?;
        let (t, lo, hi, log) = scaled(g, chart.log_levels);
        let levels: Vec<f64> = if log {
            contour_levels(10f64.powf(lo), 10f64.powf(hi), true).into_iter().map(f64::log10).collect()
        } else {
            contour_levels(lo, hi, false)
        };
        let mut edges = vec![lo];
        edges.extend(&levels);
        // Just above the top, so the highest value falls in the last band.
        edges.push(hi + (hi - lo) * 1e-9);
        let colours: Vec<RGBColor> =
            edges.windows(2).map(|e| band_colour(((e[0] + e[1]) / 2.0 - lo) / (hi - lo))).collect();
        let builder = ContourBuilder::new(g.xs.len(), g.ys.len(), true);
        // Unknown values paint as the lowest band; infinite ones as the highest.
        let values: Vec<f64> = t.iter().map(|v| if v.is_nan() { lo } else { v.clamp(lo, hi) }).collect();
        let failed = |e: contour::Error| invalid(format!("contouring failed: {e}"));
        let mut bands = vec![];
        for (band, c) in builder.isobands(&values, &edges).map_err(failed)?.iter().zip(&colours) {
            for polygon in band.geometry() {
                bands.push((ring(g, polygon.exterior().0.iter().map(|p| (p.x, p.y))), *c));
            }
        }
        bands.sort_by(|a, b| area(&b.0).total_cmp(&area(&a.0)));
        let lines = builder.lines(&values, &levels).map_err(failed)?;
        let isolines =
            lines.iter().flat_map(|l| l.geometry().iter().map(|s| ring(g, s.0.iter().map(|p| (p.x, p.y))))).collect();

        let mut entries = vec![];
        if chart.paths.iter().any(|p| !p.points.is_empty()) {
            entries.push(("start".to_string(), Swatch::Mark(Marker::Start)));
            entries.push(("end".to_string(), Swatch::Mark(Marker::End(INK))));
        }
        if let Some((a, b)) = chart.optimum {
            entries.push((format!("optimum ({}, {})", fmt_plain(a), fmt_plain(b)), Swatch::Mark(Marker::Optimum)));
        }
        for (i, p) in chart.paths.iter().enumerate() {
            let c = colour(p.colour.unwrap_or(i));
            entries.push((p.label.clone(), if p.diverged { Swatch::Diverged(c, 0) } else { Swatch::LineDot(c) }));
        }
        let (lw, lh) = legend_size(&entries);
        let w =
            MARGIN + Y_LABELS + PLOT_W + 10.0 + BAR_AREA + MARGIN + if entries.is_empty() { 0.0 } else { lw + MARGIN };
        let h = (TITLE_H + 10.0 + PLOT_H + X_LABELS + MARGIN).max(TITLE_H + 10.0 + lh + MARGIN);
        Ok(Surface {
            chart,
            size: (w.ceil() as u32, h.ceil() as u32),
            bands,
            isolines,
            scale: (lo, hi, log),
            edges,
            colours,
            entries,
        })
    }

    fn draw_all<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> Drawn<DB> {
        let chart = self.chart;
        root.fill(&WHITE)?;
        let (w, _) = root.dim_in_pixel();
        let title = Text::new(
            chart.title.as_str(),
            (w as i32 / 2, px(MARGIN, s)),
            bold(16.0, s).pos(Pos::new(HPos::Center, VPos::Top)),
        );
        root.draw(&title)?;
        let body = root.margin(px(TITLE_H, s), px(MARGIN, s), px(MARGIN, s), 0);
        let (main, rest) = body.split_horizontally(px(Y_LABELS + PLOT_W + 10.0, s));
        let (bar, side) = rest.split_horizontally(px(BAR_AREA, s));
        self.draw_plot(&main, chart, s)?;
        self.draw_bar(&bar, chart, s)?;
        legend(&side.margin(px(10.0, s), 0, px(MARGIN, s), 0), &self.entries, s)
    }

    fn draw_plot<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, chart: &ContourChart, s: f64) -> Drawn<DB> {
        let g = &chart.grid;
        // The axes end exactly at the grid: nothing outside it is known.
        let frame = Frame {
            x: (g.xs[0], g.xs[g.xs.len() - 1]),
            log_x: false,
            y: (g.ys[0], g.ys[g.ys.len() - 1]),
            log_y: false,
            non_positive: 0,
            all_zero: true,
        };
        let (xt, yt) = (Ticks::new(frame.x.0, frame.x.1, false, 6), Ticks::new(frame.y.0, frame.y.1, false, 6));
        let mut plot = ChartBuilder::on(area)
            .margin_top(px(10.0, s))
            .margin_right(px(10.0, s))
            .x_label_area_size(px(X_LABELS, s))
            .y_label_area_size(px(Y_LABELS, s))
            .build_cartesian_2d(xt.scale(frame.x), yt.scale(frame.y))?;
        plot.configure_mesh()
            .disable_mesh()
            .x_desc(chart.x_label.as_str())
            .y_desc(chart.y_label.as_str())
            .x_label_formatter(&|v| xt.label(*v))
            .y_label_formatter(&|v| yt.label(*v))
            .label_style(font(11.5, s))
            .axis_desc_style(font(13.0, s))
            .axis_style(INK.stroke_width(stroke(1.0, s)))
            .set_all_tick_mark_size(px(5.0, s))
            .draw()?;
        plot.draw_series(self.bands.iter().map(|(ring, c)| Polygon::new(ring.clone(), c.filled())))?;
        let iso = BLACK.mix(0.28).stroke_width(stroke(0.7, s));
        plot.draw_series(self.isolines.iter().map(|l| PathElement::new(l.clone(), iso)))?;

        // Thicker paths first beneath thinner ones, so paths that coincide show as nested stripes.
        let count = chart.paths.len();
        let width = |i: usize| if count > 1 { 3.6 - 2.2 * i as f64 / (count - 1) as f64 } else { 2.2 };
        let parts: Vec<Vec<Vec<(f64, f64)>>> = chart.paths.iter().map(|p| frame.parts(&p.points)).collect();
        let drawn: Vec<Vec<Vec<(f64, f64)>>> =
            parts.iter().map(|p| p.iter().flat_map(|p| strokes(p, &frame, (PLOT_W, PLOT_H))).collect()).collect();
        for (i, part) in drawn.iter().enumerate() {
            let halo = WHITE.mix(0.75).stroke_width(stroke(width(i) + 2.5, s));
            plot.draw_series(part.iter().map(|p| PathElement::new(p.clone(), halo)))?;
        }
        for (i, part) in drawn.iter().enumerate() {
            let style = colour(chart.paths[i].colour.unwrap_or(i)).stroke_width(stroke(width(i), s));
            plot.draw_series(part.iter().map(|p| PathElement::new(p.clone(), style)))?;
        }
        let area = plot.plotting_area();
        for (i, (path, part)) in chart.paths.iter().zip(&parts).enumerate() {
            let c = colour(path.colour.unwrap_or(i));
            let finite: Vec<&(f64, f64)> = path.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            if let Some(&&first) = finite.first().filter(|p| frame.parts(&[***p]).len() == 1) {
                area.draw(&marker(first, Marker::Start, s))?;
            }
            if path.diverged {
                if let Some(&end) = part.last().and_then(|p| p.last()) {
                    area.draw(&marker(end, Marker::Diverged(c), s))?;
                    let (pos, off) = inward(end, &frame, s);
                    area.draw(
                        &(EmptyElement::at(end) + Text::new("diverged", off, font(11.5, s).color(&INK).pos(pos))),
                    )?;
                }
            } else if let Some(&&last) = finite.last().filter(|p| frame.parts(&[***p]).len() == 1) {
                area.draw(&marker(last, Marker::End(c), s))?;
            }
        }
        if let Some(o) = chart.optimum.filter(|o| frame.parts(&[*o]).len() == 1) {
            area.draw(&marker(o, Marker::Optimum, s))?;
        }
        let border = Rectangle::new([(frame.x.0, frame.y.0), (frame.x.1, frame.y.1)], INK.stroke_width(stroke(1.0, s)));
        area.draw(&border)
    }

    /// The colour bar, on the bands' scale, aligned with the plot.
    fn draw_bar<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, chart: &ContourChart, s: f64) -> Drawn<DB> {
        let (lo, hi, log) = self.scale;
        let ticks = Ticks::new(lo, hi, log, 8);
        let mut bar = ChartBuilder::on(area)
            .margin_top(px(10.0, s))
            .margin_bottom(px(X_LABELS, s))
            .margin_left(px(24.0, s))
            .right_y_label_area_size(px(64.0, s))
            .build_cartesian_2d(0f64..1f64, ticks.scale((lo, hi)))?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(chart.z_label.as_str())
            .y_label_formatter(&|v| ticks.label(*v))
            .label_style(font(11.5, s))
            .axis_desc_style(font(13.0, s))
            .axis_style(INK.stroke_width(stroke(1.0, s)))
            .set_all_tick_mark_size(px(5.0, s))
            .draw()?;
        let cells = self.edges.windows(2).zip(&self.colours);
        bar.draw_series(cells.map(|(e, c)| Rectangle::new([(0.0, e[0]), (1.0, e[1].min(hi))], c.filled())))?;
        bar.plotting_area().draw(&Rectangle::new([(0.0, lo), (1.0, hi)], INK.stroke_width(stroke(1.0, s))))
    }
}

impl Picture for Surface<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> Drawn<DB> {
        self.draw_all(root, s)
    }
}

fn check_grid(g: &Grid) -> io::Result<()> {
    let increasing = |v: &[f64]| v.len() >= 2 && v.windows(2).all(|w| w[0] < w[1]) && v.iter().all(|x| x.is_finite());
    if !increasing(&g.xs) || !increasing(&g.ys) {
        return Err(invalid("a contour grid needs at least two increasing, finite coordinates on each axis".into()));
    }
    if g.z.len() != g.xs.len() * g.ys.len() {
        return Err(invalid(format!(
            "a {}×{} contour grid needs {} values, not {}",
            g.xs.len(),
            g.ys.len(),
            g.xs.len() * g.ys.len(),
            g.z.len()
        )));
    }
    Ok(())
}

/// A ring from the contour crate, whose value `i` sits at `i + 0.5`, in grid coordinates, kept
/// within the grid (the crate closes rings half a cell outside it).
fn ring(g: &Grid, points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let at = |v: &[f64], c: f64| {
        let f = (c - 0.5).clamp(0.0, (v.len() - 1) as f64);
        let i = (f.floor() as usize).min(v.len() - 2);
        v[i] + (f - i as f64) * (v[i + 1] - v[i])
    };
    points.map(|(x, y)| (at(&g.xs, x), at(&g.ys, y))).collect()
}

/// The area a closed ring encloses (shoelace), whichever way it winds.
fn area(ring: &[(f64, f64)]) -> f64 {
    let twice: f64 = ring.iter().zip(ring.iter().cycle().skip(1)).map(|(p, q)| p.0 * q.1 - q.0 * p.1).sum();
    twice.abs() / 2.0
}

/// The grid's values on the colour scale with the scale's ends, and whether the scale is log10
/// of `z` (asked for, and possible: some value is positive); on a log scale non-positive values
/// sit at the bottom.
fn scaled(g: &Grid, log: bool) -> (Vec<f64>, f64, f64, bool) {
    let finite = || g.z.iter().copied().filter(|v| v.is_finite());
    let hi_z = finite().fold(f64::NEG_INFINITY, f64::max);
    let lo_pos = finite().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    if log && lo_pos.is_finite() {
        // Twelve decades of colour are more than the eye can tell apart; values below are the floor.
        let (hi, lo) = (hi_z.log10(), lo_pos.log10().max(hi_z.log10() - 12.0));
        let t =
            g.z.iter()
                .map(|&v| {
                    if v > 0.0 {
                        v.log10().max(lo)
                    } else if v.is_nan() {
                        v
                    } else {
                        lo
                    }
                })
                .collect();
        return (t, lo, if hi > lo { hi } else { lo + 1.0 }, true);
    }
    let lo = finite().fold(f64::INFINITY, f64::min);
    if !lo.is_finite() {
        return (g.z.clone(), 0.0, 1.0, false);
    }
    (g.z.clone(), lo, if hi_z > lo { hi_z } else { lo + 1.0 }, false)
}

/// Colours for the contour bands, from low values (dark) to high (light): viridis, lightened
/// so that the coloured paths drawn over it stay visible.
fn band_colour(f: f64) -> RGBColor {
    const VIRIDIS: [u32; 11] =
        [0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c, 0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725];
    let f = if f.is_finite() { f.clamp(0.0, 1.0) } else { 0.0 };
    let pos = f * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let u = pos - k as f64;
    let channel = |hex: u32, shift: u32| f64::from((hex >> shift) as u8);
    let mix = |shift: u32| {
        let (p, q) = (channel(VIRIDIS[k], shift), channel(VIRIDIS[k + 1], shift));
        let c = p + u * (q - p);
        (c + 0.55 * (255.0 - c)).round() as u8
    };
    RGBColor(mix(16), mix(8), mix(0))
}
