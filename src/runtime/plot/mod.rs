//! Charts written as SVG and PNG: line charts of training curves on shared axes, and contour
//! plots of a function of two variables with paths (optimizer trajectories) drawn over it.
//!
//! Plain data in, files out. `axes` decides what is shown (the frame, the ticks, the parts of
//! each curve inside the frame, what had to be left out), `curves` and `surface` draw it with
//! plotters, once on its SVG backend and once, at twice the size, on its bitmap backend. Text in
//! both comes from the embedded DejaVu Sans, so nothing depends on the machine's fonts.

mod axes;
mod curves;
mod logs;
mod surface;
#[cfg(test)]
mod tests;

use std::io;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::{register_font, text_anchor, FontStyle};
use plotters_backend::DrawingErrorKind;

pub use logs::{log_chart, plot_logs};
pub use surface::contour_levels;

/// A named sequence of `(x, y)` points: a curve of a line chart or a path over a contour plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The legend entry; series with the same label look the same in every panel.
    pub label: String,
    /// Points in drawing order; a non-finite point (or a non-positive one on a log axis) breaks the line.
    pub points: Vec<(f64, f64)>,
    /// The run diverged: it does not set the frame, and where it ends or leaves the frame is marked.
    pub diverged: bool,
    /// Its colour, an index into the palette (which repeats after ten); `None` takes the next
    /// in order of appearance.
    pub colour: Option<usize>,
    /// Its line's dash pattern, an index into [`DASHES`]: 0 is solid.
    pub dash: usize,
}

/// One set of axes of a line chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Shown above the axes; may be empty.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// A logarithmic y axis (for losses spanning decades).
    pub log_y: bool,
    /// A logarithmic x axis (for learning rates).
    pub log_x: bool,
    /// The curves.
    pub series: Vec<Series>,
    /// Points marked with a cross and labelled, as `(x, y, label)`.
    pub marks: Vec<(f64, f64, String)>,
}

/// A line chart: panels in rows of two with one legend for all of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// The title above the panels.
    pub title: String,
    /// The panels, left to right, then top to bottom.
    pub panels: Vec<Panel>,
    /// What a panel with no point to draw says instead of showing empty axes; empty for
    /// "nothing to draw".
    pub empty: String,
}

/// A function of two variables sampled on a grid: `z[j * xs.len() + i]` is its value at `(xs[i], ys[j])`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grid {
    /// Increasing x coordinates (at least two).
    pub xs: Vec<f64>,
    /// Increasing y coordinates (at least two).
    pub ys: Vec<f64>,
    /// Values, row by row (one row per y).
    pub z: Vec<f64>,
}

/// A filled contour plot of a grid with labelled paths drawn over it, each from a start marker to an end marker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContourChart {
    /// The title above the plot.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// The colour bar's label (what `z` is).
    pub z_label: String,
    /// The function's values.
    pub grid: Grid,
    /// Logarithmically spaced levels (for functions spanning decades, like Rosenbrock's).
    pub log_levels: bool,
    /// The paths, in `(x, y)` coordinates.
    pub paths: Vec<Series>,
    /// Where the function is known to be least, marked when given.
    pub optimum: Option<(f64, f64)>,
}

/// Writes a line chart as SVG to `svg` and as PNG (at twice the size, for sharp text) to `png`.
pub fn line_chart(chart: &Chart, svg: &Path, png: &Path) -> io::Result<()> {
    render(&curves::Lines::new(chart), svg, png)
}

/// Writes a contour plot with its paths as SVG to `svg` and as PNG to `png`.
pub fn contour_chart(chart: &ContourChart, svg: &Path, png: &Path) -> io::Result<()> {
    render(&surface::Surface::new(chart)?, svg, png)
}

/// The result of drawing on a backend.
type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart laid out, ready to draw on any backend.
trait Picture {
    /// Its size in drawing units.
    fn size(&self) -> (u32, u32);
    /// Draws it on `root` at `s` pixels per drawing unit.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, s: f64) -> Drawn<DB>;
}

/// Draws `picture` twice: as SVG at one pixel per drawing unit, and as PNG at [`PNG_SCALE`],
/// each into memory and then written by [`crate::output::write_atomically`] (so a chart replaces
/// only a new or regular file, and an interrupted write leaves no half-drawn one).
fn render(picture: &impl Picture, svg: &Path, png: &Path) -> io::Result<()> {
    register_fonts();
    let (w, h) = picture.size();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
        picture.draw(&root, 1.0).and_then(|()| root.present()).map_err(failed)?;
    }
    let (pw, ph) = (w * PNG_SCALE as u32, h * PNG_SCALE as u32);
    let mut pixels = vec![0u8; pw as usize * ph as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (pw, ph)).into_drawing_area();
        picture.draw(&root, PNG_SCALE).and_then(|()| root.present()).map_err(failed)?;
    }
    let mut encoded = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut encoded, pw, ph);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder.write_header().and_then(|mut out| out.write_image_data(&pixels)).map_err(io::Error::other)?;
    crate::output::write_atomically(svg, text.as_bytes())?;
    crate::output::write_atomically(png, &encoded)
}

fn failed<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(e.to_string())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// PNG pixels per drawing unit: the PNG is twice the SVG's nominal size.
const PNG_SCALE: f64 = 2.0;

/// The font family every text uses; SVG viewers without DejaVu Sans fall back along the list.
const FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

/// Registers the embedded DejaVu Sans with plotters under [`FAMILY`], once.
fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (style, bytes) in [(FontStyle::Normal, dejavu::sans::regular()), (FontStyle::Bold, dejavu::sans::bold())] {
            // The embedded fonts are valid TrueType; were one not, text would fail to draw with
            // plotters' "font unavailable", reported as the write error it causes.
            if register_font(FAMILY, style, bytes).is_err() {
                continue;
            }
        }
    });
}

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRIDLINE: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);

/// Text at `size` drawing units, scaled by `s` pixels per unit.
fn font(size: f64, s: f64) -> TextStyle<'static> {
    // plotters sizes text by its line height, 1.24 em; this keeps `size` the em size.
    TextStyle::from((FAMILY, size * s * 1.24).into_font()).color(&INK)
}

fn bold(size: f64, s: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size * s * 1.24, FontStyle::Bold).into_font()).color(&INK)
}

/// A length in drawing units as pixels.
fn px(v: f64, s: f64) -> i32 {
    (v * s).round() as i32
}

/// A stroke width in drawing units as whole pixels (plotters' strokes are whole), at least one.
fn stroke(v: f64, s: f64) -> u32 {
    ((v * s).round() as u32).max(1)
}

/// Distinct colours for series (Tableau 10); beyond ten they repeat.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Dash patterns, lengths in drawing units alternately drawn and skipped: solid, dashed,
/// dotted, dash-dot; beyond four they repeat.
pub const DASHES: [&[f64]; 4] = [&[], &[7.0, 4.0], &[1.6, 3.2], &[7.0, 3.0, 1.6, 3.0]];

fn dash_pattern(index: usize) -> &'static [f64] {
    DASHES[index % DASHES.len()]
}

/// The drawn pieces of a polyline in drawing units under a dash pattern (the whole line when
/// solid); the pattern runs on across the line's corners.
fn dashed(line: &[(f64, f64)], pattern: &[f64]) -> Vec<Vec<(f64, f64)>> {
    if pattern.is_empty() || line.len() < 2 {
        return vec![line.to_vec()];
    }
    let (mut k, mut left) = (0, pattern[0]);
    let mut pieces = vec![];
    let mut piece = vec![line[0]];
    for w in line.windows(2) {
        let (mut a, b) = (w[0], w[1]);
        let mut length = (b.0 - a.0).hypot(b.1 - a.1);
        while length > left {
            let t = left / length;
            a = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            length -= left;
            // Even indices are drawn: a piece ends, or the gap ends and a new one starts.
            if k % 2 == 0 {
                piece.push(a);
                pieces.push(std::mem::take(&mut piece));
            } else {
                piece.push(a);
            }
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= length;
        if k % 2 == 0 {
            piece.push(b);
        }
    }
    if piece.len() > 1 {
        pieces.push(piece);
    }
    pieces
}

/// Where a label beside a mark at `at` goes so that it stays inside `frame`: its anchor and
/// offset in pixels, towards the frame's inside.
fn inward(at: (f64, f64), frame: &axes::Frame, s: f64) -> (text_anchor::Pos, (i32, i32)) {
    use text_anchor::{HPos, Pos, VPos};
    let left = at.0 > frame.x.0 + 0.65 * (frame.x.1 - frame.x.0);
    let high = at.1 > frame.y.0 + 0.75 * (frame.y.1 - frame.y.0);
    let pos = Pos::new(if left { HPos::Right } else { HPos::Left }, if high { VPos::Top } else { VPos::Bottom });
    (pos, (px(if left { -9.0 } else { 9.0 }, s), px(if high { 4.0 } else { -4.0 }, s)))
}

/// A point marked on a chart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    /// An open circle: where every path starts.
    Start,
    /// A dot in a path's colour: where it ends.
    End(RGBColor),
    /// A triangle in a series' colour: where a diverged run ends or leaves the frame.
    Diverged(RGBColor),
    /// A cross: where the function is least.
    Optimum,
}

/// `m` drawn at `at`, `s` pixels per drawing unit.
fn marker<C>(at: C, m: Marker, s: f64) -> Mark<C> {
    Mark { at, line: None, marker: Some(m), s }
}

/// A marker, and in a legend the line it ends, drawn straight on the backend: plotters
/// composes elements only of `'static` parts, which its backends, borrowing their file, are not.
struct Mark<C> {
    at: C,
    /// A line rightwards from `at`, in a colour, this many pixels long, in a dash pattern; the
    /// marker goes at its end.
    line: Option<(RGBColor, i32, usize)>,
    marker: Option<Marker>,
    s: f64,
}

impl<'a, C> PointCollection<'a, C> for &'a Mark<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;

    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Mark<C> {
    fn draw<I: Iterator<Item = (i32, i32)>>(
        &self,
        mut points: I,
        b: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = points.next() else { return Ok(()) };
        let s = self.s;
        let mut cx = x;
        if let Some((c, w, dash)) = self.line {
            let scaled: Vec<f64> = dash_pattern(dash).iter().map(|l| l * s).collect();
            for piece in dashed(&[(f64::from(x), f64::from(y)), (f64::from(x + w), f64::from(y))], &scaled) {
                let ends: Vec<(i32, i32)> = piece.iter().map(|p| (p.0.round() as i32, p.1.round() as i32)).collect();
                b.draw_path(ends, &c.stroke_width(stroke(2.2, s)))?;
            }
            cx = x + w - px(4.0, s);
        }
        let r = px(5.0, s).max(1) as u32;
        match self.marker {
            None => Ok(()),
            Some(Marker::Start) => {
                b.draw_circle((cx, y), r, &WHITE.filled(), true)?;
                b.draw_circle((cx, y), r, &INK.stroke_width(stroke(1.6, s)), false)
            }
            Some(Marker::End(c)) => {
                b.draw_circle((cx, y), r + px(1.2, s) as u32, &WHITE.filled(), true)?;
                b.draw_circle((cx, y), r, &c.filled(), true)
            }
            Some(Marker::Diverged(c)) => {
                let (a, h) = (px(6.0, s), px(5.0, s));
                let tri = |k: i32| vec![(cx, y - a - k), (cx - h - k, y + h - 1), (cx + h + k, y + h - 1)];
                b.fill_polygon(tri(2), &WHITE.filled())?;
                b.fill_polygon(tri(0), &c.filled())
            }
            Some(Marker::Optimum) => {
                let a = px(6.0, s);
                for style in [WHITE.stroke_width(stroke(5.0, s)), INK.stroke_width(stroke(2.4, s))] {
                    b.draw_line((cx - a, y - a), (cx + a, y + a), &style)?;
                    b.draw_line((cx - a, y + a), (cx + a, y - a), &style)?;
                }
                Ok(())
            }
        }
    }
}

/// What a legend entry shows beside its label.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    /// A line in a series' colour and dash pattern.
    Line(RGBColor, usize),
    /// A line ending in a filled dot, as paths end in a contour plot.
    LineDot(RGBColor),
    /// A line in a series' colour and dash pattern ending in the diverged marker.
    Diverged(RGBColor, usize),
    /// A marker alone.
    Mark(Marker),
}

const LEGEND_SIZE: f64 = 12.5;
/// plotters' legend rows are one line of text apart, and the text is padded all round.
const LEGEND_ROW: f64 = LEGEND_SIZE * 1.24;
const LEGEND_PAD: f64 = 7.0;
const SWATCH_W: f64 = 34.0;

/// The size of the legend for `entries`, in drawing units.
fn legend_size(entries: &[(String, Swatch)]) -> (f64, f64) {
    let f = font(LEGEND_SIZE, 1.0);
    let text = entries.iter().map(|(l, _)| text_width(l, &f)).fold(0.0, f64::max);
    (SWATCH_W + text + 2.0 * LEGEND_PAD, LEGEND_ROW * entries.len() as f64 + 2.0 * LEGEND_PAD)
}

/// The width of `text` in `style`'s font, in the style's pixels.
fn text_width(text: &str, style: &TextStyle) -> f64 {
    register_fonts();
    // Without the font (it is embedded, so only in theory) an average glyph is half an em.
    style.font.box_size(text).map_or(text.chars().count() as f64 * style.font.get_size() * 0.5, |(w, _)| f64::from(w))
}

/// A boxed legend in the top-left corner of `area`: plotters' series labels on an empty chart.
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[(String, Swatch)], s: f64) -> Drawn<DB> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut chart = ChartBuilder::on(area).build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    let w = px(SWATCH_W - 8.0, s);
    for (label, swatch) in entries {
        let swatch = *swatch;
        let series = chart.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?;
        series.label(label).legend(move |at| swatch_at(swatch, at, w, s));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(px(LEGEND_PAD, s))
        .legend_area_size(px(SWATCH_W, s))
        .label_font(font(LEGEND_SIZE, s))
        .border_style(RGBColor(0xbb, 0xbb, 0xbb))
        .background_style(WHITE)
        .draw()
}

/// A legend entry's swatch `w` pixels wide centred on `(x, y)`.
fn swatch_at(swatch: Swatch, (x, y): (i32, i32), w: i32, s: f64) -> Mark<(i32, i32)> {
    let start = (x - w / 2, y);
    match swatch {
        Swatch::Line(c, dash) => Mark { at: start, line: Some((c, w, dash)), marker: None, s },
        Swatch::LineDot(c) => Mark { at: start, line: Some((c, w, 0)), marker: Some(Marker::End(c)), s },
        Swatch::Diverged(c, dash) => Mark { at: start, line: Some((c, w, dash)), marker: Some(Marker::Diverged(c)), s },
        Swatch::Mark(m) => marker((x, y), m, s),
    }
}
