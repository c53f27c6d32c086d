//! Line charts: panels in rows of two sharing one legend, each framed by the runs that trained.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{strokes, Frame, Ticks};
use super::{
    bold, colour, dash_pattern, dashed, font, inward, legend, legend_size, marker, px, stroke, Chart, Drawn, Marker,
    Panel, Picture, Swatch,
};
use super::{GRIDLINE, INK, MUTED};

/// Panels per row: more would make the picture too wide to read when shrunk.
const PANELS_PER_ROW: usize = 2;
const CELL_W: f64 = 540.0;
const CELL_H: f64 = 380.0;
const TITLE_H: f64 = 44.0;
const MARGIN: f64 = 16.0;

/// A line chart laid out: where everything goes, in drawing units.
pub(super) struct Lines<'c> {
    chart: &'c Chart,
    size: (u32, u32),
    cols: usize,
    rows: usize,
    /// Whether the legend takes the last row's empty cell rather than a column on the right.
    spare_cell: bool,
    /// Every distinct label in order of appearance, with its swatch: its colour (its own, or
    /// the next in order) and dash pattern.
    entries: Vec<(String, Swatch)>,
}

impl<'c> Lines<'c> {
    /// Lays out `chart`.
    pub fn new(chart: &'c Chart) -> Lines<'c> {
        let mut entries: Vec<(String, Swatch)> = vec![];
        for s in chart.panels.iter().flat_map(|p| &p.series) {
            if !entries.iter().any(|(l, _)| *l == s.label) {
                let c = colour(s.colour.unwrap_or(entries.len()));
                let swatch = if s.diverged { Swatch::Diverged(c, s.dash) } else { Swatch::Line(c, s.dash) };
                entries.push((s.label.clone(), swatch));
            }
        }
        let n = chart.panels.len().max(1);
        let cols = n.min(PANELS_PER_ROW);
        let rows = n.div_ceil(cols);
        let spare_cell = !n.is_multiple_of(cols);
        let (lw, lh) = legend_size(&entries);
        let legend_w = if spare_cell || entries.is_empty() { 0.0 } else { lw + MARGIN };
        let w = cols as f64 * CELL_W + legend_w + MARGIN;
        let h = (TITLE_H + rows as f64 * CELL_H).max(TITLE_H + lh + 2.0 * MARGIN);
        Lines { chart, size: (w.ceil() as u32, h.ceil() as u32), cols, rows, spare_cell, entries }
    }

    /// The colour and dash pattern of the series labelled `label`.
    fn style_of(&self, label: &str) -> (RGBColor, usize) {
        match self.entries.iter().find(|(l, _)| l == label).map(|e| e.1) {
            Some(Swatch::Line(c, dash) | Swatch::Diverged(c, dash)) => (c, dash),
            // Every series' label has an entry of one of those two kinds.
            Some(Swatch::LineDot(_) | Swatch::Mark(_)) | None => (colour(0), 0),
        }
    }
}

impl Picture for Lines<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> Drawn<DB> {
        let (chart, layout) = (self.chart, self);
        root.fill(&WHITE)?;
        let (w, _) = root.dim_in_pixel();
        let centre_top = Pos::new(HPos::Center, VPos::Top);
        root.draw(&Text::new(chart.title.as_str(), (w as i32 / 2, px(MARGIN, s)), bold(16.0, s).pos(centre_top)))?;
        let body = root.margin(px(TITLE_H, s), 0, 0, 0);
        let (plots, column) = if layout.spare_cell {
            (body.clone(), None)
        } else {
            let (a, b) = body.split_horizontally(px(layout.cols as f64 * CELL_W, s));
            (a, Some(b))
        };
        let cells = plots.split_evenly((layout.rows, layout.cols));
        for (panel, cell) in chart.panels.iter().zip(&cells) {
            draw_panel(cell, panel, layout, &chart.empty, s)?;
        }
        match column {
            Some(area) => legend(&area.margin(px(30.0, s), 0, 0, 0), &layout.entries, s),
            None => {
                let cell = &cells[chart.panels.len()];
                legend(&cell.margin(px(40.0, s), 0, px(76.0, s), 0), &layout.entries, s)
            }
        }
    }
}

fn draw_panel<DB: DrawingBackend>(
    cell: &DrawingArea<DB, Shift>,
    panel: &Panel,
    layout: &Lines,
    empty: &str,
    s: f64,
) -> Drawn<DB> {
    let Some(frame) = Frame::fit(&panel.series, panel.log_x, panel.log_y) else {
        return empty_panel(cell, panel, if empty.is_empty() { "nothing to draw" } else { empty }, s);
    };
    let (xt, yt) = (Ticks::new(frame.x.0, frame.x.1, frame.log_x, 6), Ticks::new(frame.y.0, frame.y.1, frame.log_y, 6));
    let mut chart = ChartBuilder::on(cell)
        .caption(panel.title.as_str(), bold(13.0, s))
        .margin(px(10.0, s))
        .margin_right(px(22.0, s))
        .x_label_area_size(px(46.0, s))
        .y_label_area_size(px(66.0, s))
        .build_cartesian_2d(xt.scale(frame.x), yt.scale(frame.y))?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| yt.label(*v))
        .label_style(font(11.5, s))
        .axis_desc_style(font(13.0, s))
        .bold_line_style(GRIDLINE.stroke_width(stroke(1.0, s)))
        .light_line_style(RGBColor(0xf3, 0xf3, 0xf3).stroke_width(stroke(1.0, s)))
        .axis_style(INK.stroke_width(stroke(1.0, s)))
        .set_all_tick_mark_size(px(5.0, s))
        .draw()?;
    let (x, y) = (frame.x, frame.y);
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let area = (f64::from(w) / s, f64::from(h) / s);
    let border = Rectangle::new([(x.0, y.0), (x.1, y.1)], INK.stroke_width(stroke(1.0, s)));
    chart.plotting_area().draw(&border)?;
    // Axis space to drawing units and back, for dashes of the same length everywhere.
    let to_units = |p: &(f64, f64)| ((p.0 - x.0) / (x.1 - x.0) * area.0, (p.1 - y.0) / (y.1 - y.0) * area.1);
    let to_axes = |p: &(f64, f64)| (x.0 + p.0 / area.0 * (x.1 - x.0), y.0 + p.1 / area.1 * (y.1 - y.0));
    for series in &panel.series {
        let (c, dash) = layout.style_of(&series.label);
        let parts = frame.parts(&series.points);
        for part in &parts {
            if let [only] = part[..] {
                chart.plotting_area().draw(&Circle::new(only, px(2.5, s), c.filled()))?;
            } else {
                let style = c.stroke_width(stroke(1.8, s));
                let pieces = strokes(part, &frame, area).into_iter().flat_map(|stroke| {
                    let units: Vec<(f64, f64)> = stroke.iter().map(to_units).collect();
                    dashed(&units, dash_pattern(dash)).into_iter().map(|p| p.iter().map(to_axes).collect::<Vec<_>>())
                });
                chart.draw_series(pieces.map(|p| PathElement::new(p, style)))?;
            }
        }
        if let Some(&end) = parts.last().and_then(|p| p.last()).filter(|_| series.diverged) {
            chart.plotting_area().draw(&marker(end, Marker::Diverged(c), s))?;
            let (pos, off) = inward(end, &frame, s);
            let label = EmptyElement::at(end) + Text::new("diverged", off, font(11.5, s).color(&c).pos(pos));
            chart.plotting_area().draw(&label)?;
        }
    }
    for (at, label) in panel.marks.iter().filter_map(|(x, y, l)| Some((frame.place((*x, *y))?, l))) {
        chart.plotting_area().draw(&marker(at, Marker::Optimum, s))?;
        let (pos, off) = inward(at, &frame, s);
        chart.plotting_area().draw(&(EmptyElement::at(at) + Text::new(label.clone(), off, font(11.5, s).pos(pos))))?;
    }
    if let Some(note) = frame.note() {
        let at = EmptyElement::at((x.1, y.1));
        let style = font(11.0, s).color(&MUTED).pos(Pos::new(HPos::Right, VPos::Top));
        chart.plotting_area().draw(&(at + Text::new(note, (px(-6.0, s), px(5.0, s)), style)))?;
    }
    Ok(())
}

/// A panel with nothing to draw: its title and a box saying why, instead of empty axes.
fn empty_panel<DB: DrawingBackend>(cell: &DrawingArea<DB, Shift>, panel: &Panel, message: &str, s: f64) -> Drawn<DB> {
    let area = cell.margin(px(10.0, s), px(56.0, s), px(76.0, s), px(22.0, s));
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    area.draw(&Text::new(panel.title.as_str(), (w / 2, 0), bold(13.0, s).pos(Pos::new(HPos::Center, VPos::Top))))?;
    let top = px(26.0, s);
    area.draw(&Rectangle::new([(0, top), (w - 1, h - 1)], GRIDLINE.stroke_width(stroke(1.0, s))))?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    area.draw(&Text::new(message, (w / 2, (top + h) / 2), font(13.0, s).color(&MUTED).pos(centre)))
}
