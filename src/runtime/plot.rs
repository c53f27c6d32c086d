//! Charts written as SVG and PNG: line charts of training curves on shared axes, and contour
//! plots of a function of two variables with paths (optimizer trajectories) drawn over it.
//!
//! Plain data in, files out. A chart is laid out once as a list of shapes and rendered twice: as
//! SVG text, and as an anti-aliased raster (tiny-skia) with text drawn from the embedded DejaVu
//! Sans, so both files show the same picture and nothing depends on the machine's fonts.

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, OutlineCurve};
use tiny_skia::{FillRule, LineCap, LineJoin, Mask, Paint, PathBuilder, Pixmap, PixmapPaint, StrokeDash, Transform};

/// A named sequence of `(x, y)` points: a curve of a line chart or a path over a contour plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend entry; series with the same label have the same colour in every panel.
    pub label: String,
    /// Points in drawing order; a non-finite point (or a non-positive one on a log axis) breaks the line.
    pub points: Vec<(f64, f64)>,
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
    /// The curves.
    pub series: Vec<Series>,
}

/// A line chart: panels side by side with one legend for all of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// The title above the panels.
    pub title: String,
    /// The panels, left to right.
    pub panels: Vec<Panel>,
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
}

/// Writes a line chart as SVG to `svg` and as PNG (at twice the size, for sharp text) to `png`.
pub fn line_chart(chart: &Chart, svg: &Path, png: &Path) -> io::Result<()> {
    write_both(&layout_lines(chart), svg, png)
}

/// Writes a contour plot with its paths as SVG to `svg` and as PNG to `png`.
pub fn contour_chart(chart: &ContourChart, svg: &Path, png: &Path) -> io::Result<()> {
    check_grid(&chart.grid)?;
    write_both(&layout_contour(chart)?, svg, png)
}

/// Contour levels strictly inside `(lo, hi)`: 1-2-5 steps on a linear scale, or 1-2-5, 1-3 or
/// whole decades (by how many decades the range spans) on a log scale, which needs `lo > 0`.
pub fn contour_levels(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) || (log && lo <= 0.0) {
        return vec![];
    }
    let inside = |v: &f64| *v > lo && *v < hi;
    if !log {
        return linear_ticks(lo, hi, 10).into_iter().filter(inside).collect();
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

// ---------------------------------------------------------------------------------------------
// Shapes, and their two renderings.

/// Drawing units per PNG pixel: the PNG is twice the SVG's nominal size.
const PNG_SCALE: f32 = 2.0;
const FONT_FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgba(u8, u8, u8, u8);

impl Rgba {
    const fn rgb(hex: u32) -> Rgba {
        Rgba((hex >> 16) as u8, (hex >> 8) as u8, hex as u8, 255)
    }

    fn with_alpha(self, a: u8) -> Rgba {
        Rgba(self.0, self.1, self.2, a)
    }

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    fn opacity(self) -> f32 {
        f32::from(self.3) / 255.0
    }

    fn skia(self) -> tiny_skia::Color {
        tiny_skia::Color::from_rgba8(self.0, self.1, self.2, self.3)
    }
}

const WHITE: Rgba = Rgba::rgb(0xffffff);
const INK: Rgba = Rgba::rgb(0x222222);
const GRIDLINE: Rgba = Rgba::rgb(0xe4e4e4);

/// A stroke: colour, width in drawing units, and whether it is dashed.
#[derive(Debug, Clone, Copy)]
struct Pen {
    color: Rgba,
    width: f32,
    dashed: bool,
}

impl Pen {
    fn new(color: Rgba, width: f32) -> Pen {
        Pen { color, width, dashed: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl Rect {
    fn right(&self) -> f32 {
        self.x + self.w
    }

    fn bottom(&self) -> f32 {
        self.y + self.h
    }

    fn corners(&self) -> Vec<(f32, f32)> {
        vec![(self.x, self.y), (self.right(), self.y), (self.right(), self.bottom()), (self.x, self.bottom())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Anchor {
    Start,
    Middle,
    End,
}

#[derive(Debug, Clone)]
struct Text {
    /// The baseline point the anchor refers to.
    at: (f32, f32),
    text: String,
    size: f32,
    anchor: Anchor,
    bold: bool,
    /// Rotated a quarter turn anticlockwise, reading upwards (y axis labels).
    vertical: bool,
}

enum Shape {
    /// Polylines (one per part), closed into polygons if `closed`, filled and/or stroked.
    Path {
        parts: Vec<Vec<(f32, f32)>>,
        closed: bool,
        fill: Option<Rgba>,
        pen: Option<Pen>,
    },
    Circle {
        at: (f32, f32),
        r: f32,
        fill: Rgba,
        pen: Pen,
    },
    Text(Text),
    /// A raster at PNG resolution stretched over `rect`.
    Image {
        rect: Rect,
        pixels: Pixmap,
    },
    /// Shapes clipped to a rectangle.
    Clip {
        rect: Rect,
        shapes: Vec<Shape>,
    },
}

impl Shape {
    fn line(points: Vec<(f32, f32)>, pen: Pen) -> Shape {
        Shape::Path { parts: vec![points], closed: false, fill: None, pen: Some(pen) }
    }

    fn rect(r: Rect, fill: Option<Rgba>, pen: Option<Pen>) -> Shape {
        Shape::Path { parts: vec![r.corners()], closed: true, fill, pen }
    }

    fn text(at: (f32, f32), text: &str, size: f32, anchor: Anchor) -> Text {
        Text { at, text: text.to_string(), size, anchor, bold: false, vertical: false }
    }
}

struct Drawing {
    w: f32,
    h: f32,
    shapes: Vec<Shape>,
}

fn write_both(d: &Drawing, svg: &Path, png: &Path) -> io::Result<()> {
    std::fs::write(svg, d.svg()?)?;
    std::fs::write(png, d.png()?)
}

fn n(v: f32) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Drawing {
    fn svg(&self) -> io::Result<String> {
        let (w, h, ink) = (n(self.w), n(self.h), INK.hex());
        // Text takes the root's fill; every other shape sets its own.
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
             width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\" fill=\"{ink}\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        );
        let mut clips = 0;
        for shape in &self.shapes {
            svg_shape(&mut s, shape, &mut clips)?;
        }
        s.push_str("</svg>\n");
        Ok(s)
    }

    fn png(&self) -> io::Result<Vec<u8>> {
        let (pw, ph) = ((self.w * PNG_SCALE).round() as u32, (self.h * PNG_SCALE).round() as u32);
        let mut pixmap = Pixmap::new(pw, ph).ok_or_else(|| invalid(format!("cannot draw a {pw}×{ph} picture")))?;
        pixmap.fill(WHITE.skia());
        let ts = Transform::from_scale(PNG_SCALE, PNG_SCALE);
        for shape in &self.shapes {
            raster_shape(&mut pixmap, shape, ts, None)?;
        }
        pixmap.encode_png().map_err(io::Error::other)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn svg_pen(pen: Option<Pen>) -> String {
    match pen {
        None => " stroke=\"none\"".into(),
        Some(p) => {
            let mut s = format!(
                " stroke=\"{}\" stroke-width=\"{}\" stroke-linecap=\"round\" stroke-linejoin=\"round\"",
                p.color.hex(),
                n(p.width)
            );
            if p.color.3 != 255 {
                s += &format!(" stroke-opacity=\"{:.3}\"", p.color.opacity());
            }
            if p.dashed {
                s += &format!(" stroke-dasharray=\"{} {}\"", n(p.width * 3.0), n(p.width * 2.5));
            }
            s
        }
    }
}

fn svg_fill(fill: Option<Rgba>) -> String {
    match fill {
        None => " fill=\"none\"".into(),
        Some(c) if c.3 == 255 => format!(" fill=\"{}\"", c.hex()),
        Some(c) => format!(" fill=\"{}\" fill-opacity=\"{:.3}\"", c.hex(), c.opacity()),
    }
}

fn svg_shape(s: &mut String, shape: &Shape, clips: &mut usize) -> io::Result<()> {
    match shape {
        Shape::Path { parts, closed, fill, pen } => {
            let mut d = String::new();
            for part in parts.iter().filter(|p| !p.is_empty()) {
                for (i, &(x, y)) in part.iter().enumerate() {
                    d += &format!("{}{} {}", if i == 0 { "M" } else { "L" }, n(x), n(y));
                }
                if *closed {
                    d.push('Z');
                }
            }
            if !d.is_empty() {
                s.push_str(&format!("<path d=\"{d}\"{}{}/>\n", svg_fill(*fill), svg_pen(*pen)));
            }
        }
        Shape::Circle { at, r, fill, pen } => s.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\"{}{}/>\n",
            n(at.0),
            n(at.1),
            n(*r),
            svg_fill(Some(*fill)),
            svg_pen(Some(*pen))
        )),
        Shape::Text(t) => {
            let anchor = match t.anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            let mut attrs =
                format!("x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\"", n(t.at.0), n(t.at.1), n(t.size));
            if t.bold {
                attrs += " font-weight=\"bold\"";
            }
            if t.vertical {
                attrs += &format!(" transform=\"rotate(-90 {} {})\"", n(t.at.0), n(t.at.1));
            }
            s.push_str(&format!("<text {attrs}>{}</text>\n", escape(&t.text)));
        }
        Shape::Image { rect, pixels } => {
            let png = pixels.encode_png().map_err(io::Error::other)?;
            s.push_str(&format!(
                "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
                 xlink:href=\"data:image/png;base64,{}\"/>\n",
                n(rect.x),
                n(rect.y),
                n(rect.w),
                n(rect.h),
                base64(&png)
            ));
        }
        Shape::Clip { rect, shapes } => {
            *clips += 1;
            let id = format!("clip{clips}");
            s.push_str(&format!(
                "<clipPath id=\"{id}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n\
                 <g clip-path=\"url(#{id})\">\n",
                n(rect.x),
                n(rect.y),
                n(rect.w),
                n(rect.h)
            ));
            for shape in shapes {
                svg_shape(s, shape, clips)?;
            }
            s.push_str("</g>\n");
        }
    }
    Ok(())
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn paint(color: Rgba) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(color.skia());
    p.anti_alias = true;
    p
}

fn skia_stroke(pen: Pen) -> tiny_skia::Stroke {
    tiny_skia::Stroke {
        width: pen.width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        dash: if pen.dashed { StrokeDash::new(vec![pen.width * 3.0, pen.width * 2.5], 0.0) } else { None },
        ..Default::default()
    }
}

fn raster_shape(pixmap: &mut Pixmap, shape: &Shape, ts: Transform, mask: Option<&Mask>) -> io::Result<()> {
    match shape {
        Shape::Path { parts, closed, fill, pen } => {
            let mut pb = PathBuilder::new();
            for part in parts.iter().filter(|p| !p.is_empty()) {
                pb.move_to(part[0].0, part[0].1);
                for &(x, y) in &part[1..] {
                    pb.line_to(x, y);
                }
                if *closed {
                    pb.close();
                }
            }
            // An empty or degenerate path draws nothing.
            let Some(path) = pb.finish() else { return Ok(()) };
            if let Some(c) = fill {
                pixmap.fill_path(&path, &paint(*c), FillRule::Winding, ts, mask);
            }
            if let Some(pen) = pen {
                pixmap.stroke_path(&path, &paint(pen.color), &skia_stroke(*pen), ts, mask);
            }
        }
        Shape::Circle { at, r, fill, pen } => {
            if let Some(path) = PathBuilder::from_circle(at.0, at.1, *r) {
                pixmap.fill_path(&path, &paint(*fill), FillRule::Winding, ts, mask);
                pixmap.stroke_path(&path, &paint(pen.color), &skia_stroke(*pen), ts, mask);
            }
        }
        Shape::Text(t) => {
            if let Some(path) = text_path(t) {
                let mut place = Transform::from_translate(t.at.0, t.at.1);
                if t.vertical {
                    place = Transform::from_rotate(-90.0).post_concat(place);
                }
                pixmap.fill_path(&path, &paint(INK), FillRule::Winding, place.post_concat(ts), mask);
            }
        }
        Shape::Image { rect, pixels } => {
            let (sx, sy) = (rect.w / pixels.width() as f32, rect.h / pixels.height() as f32);
            let place = Transform::from_row(sx, 0.0, 0.0, sy, rect.x, rect.y).post_concat(ts);
            pixmap.draw_pixmap(0, 0, pixels.as_ref(), &PixmapPaint::default(), place, mask);
        }
        Shape::Clip { rect, shapes } => {
            let mut clip = Mask::new(pixmap.width(), pixmap.height())
                .ok_or_else(|| invalid("cannot allocate a clip mask".into()))?;
            let r = tiny_skia::Rect::from_xywh(rect.x, rect.y, rect.w, rect.h)
                .ok_or_else(|| invalid("empty clip rectangle".into()))?;
            clip.fill_path(&PathBuilder::from_rect(r), FillRule::Winding, true, ts);
            for shape in shapes {
                raster_shape(pixmap, shape, ts, Some(&clip))?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Text.

struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        regular: FontRef::try_from_slice(dejavu::sans::regular()).expect("the embedded DejaVu Sans is a valid font"),
        bold: FontRef::try_from_slice(dejavu::sans::bold()).expect("the embedded DejaVu Sans Bold is a valid font"),
    })
}

fn font(bold: bool) -> &'static FontRef<'static> {
    if bold {
        &fonts().bold
    } else {
        &fonts().regular
    }
}

/// Drawing units per font unit at `size`.
fn font_scale(f: &FontRef<'static>, size: f32) -> f32 {
    size / f.units_per_em().unwrap_or(2048.0)
}

/// The advance width of `text`, which both renderings use to lay out labels and legends.
fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let f = font(bold);
    text.chars().map(|c| f.h_advance_unscaled(f.glyph_id(c))).sum::<f32>() * font_scale(f, size)
}

/// The outlines of a text's glyphs with the anchor point at the origin.
fn text_path(t: &Text) -> Option<tiny_skia::Path> {
    let f = font(t.bold);
    let scale = font_scale(f, t.size);
    let mut pen_x = match t.anchor {
        Anchor::Start => 0.0,
        Anchor::Middle => -text_width(&t.text, t.size, t.bold) / 2.0,
        Anchor::End => -text_width(&t.text, t.size, t.bold),
    };
    let mut pb = PathBuilder::new();
    for c in t.text.chars() {
        let id = f.glyph_id(c);
        if let Some(outline) = f.outline(id) {
            // Font units point up; the drawing's y points down.
            let at = |p: ab_glyph::Point| (pen_x + p.x * scale, -p.y * scale);
            let mut last = None;
            for curve in &outline.curves {
                let (start, end) = match *curve {
                    OutlineCurve::Line(a, b) | OutlineCurve::Quad(a, _, b) | OutlineCurve::Cubic(a, _, _, b) => (a, b),
                };
                if last != Some(start) {
                    if last.is_some() {
                        pb.close();
                    }
                    let (x, y) = at(start);
                    pb.move_to(x, y);
                }
                match *curve {
                    OutlineCurve::Line(_, b) => {
                        let (x, y) = at(b);
                        pb.line_to(x, y);
                    }
                    OutlineCurve::Quad(_, c, b) => {
                        let ((cx, cy), (x, y)) = (at(c), at(b));
                        pb.quad_to(cx, cy, x, y);
                    }
                    OutlineCurve::Cubic(_, c1, c2, b) => {
                        let ((ax, ay), (bx, by), (x, y)) = (at(c1), at(c2), at(b));
                        pb.cubic_to(ax, ay, bx, by, x, y);
                    }
                }
                last = Some(end);
            }
            if last.is_some() {
                pb.close();
            }
        }
        pen_x += f.h_advance_unscaled(id) * scale;
    }
    pb.finish()
}

// ---------------------------------------------------------------------------------------------
// Axes.

/// A scale from data values to `[0, 1]`, with labelled major ticks and unlabelled minor ones.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    major: Vec<(f64, String)>,
    minor: Vec<f64>,
}

impl Axis {
    /// Where `v` falls between the ends, 0 at `lo` and 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// Whether `v` can be placed on this axis.
    fn accepts(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }

    /// A linear axis over `[lo, hi]`: padded by `pad` of the span on each side, and extended to a
    /// tick when one lies within 5% of the span outside.
    fn linear(lo: f64, hi: f64, pad: f64) -> Axis {
        let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        if hi - lo <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
            let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo, hi) = (lo - d, hi + d);
        }
        let span = hi - lo;
        (lo, hi) = (lo - pad * span, hi + pad * span);
        let step = nice_step(hi - lo, 6);
        let (lo_tick, hi_tick) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        if lo - lo_tick <= 0.05 * span {
            lo = lo_tick;
        }
        if hi_tick - hi <= 0.05 * span {
            hi = hi_tick;
        }
        let major = linear_ticks(lo, hi, 6).into_iter().map(|v| (v, fmt_tick(v, step))).collect();
        Axis { lo, hi, log: false, major, minor: vec![] }
    }

    /// A linear axis ending exactly at `lo` and `hi`, with nice ticks inside.
    fn exact(lo: f64, hi: f64) -> Axis {
        Axis { lo, hi, ..Axis::linear(lo, hi, 0.0) }
    }

    /// A log axis over `[lo, hi]` (both positive) padded by 4% of its decades on each side and
    /// at least a factor of two wide: decades labelled `10ⁿ` when more than two fall inside, else
    /// 1-2-5 (or every) multiples of a power of ten, labelled plainly.
    fn log(lo: f64, hi: f64) -> Axis {
        let (mut l0, mut l1) = (lo.log10(), hi.log10());
        if l1 - l0 < 0.3 {
            let mid = (l0 + l1) / 2.0;
            (l0, l1) = (mid - 0.15, mid + 0.15);
        }
        let pad = 0.04 * (l1 - l0);
        let (a, b) = (l0 - pad, l1 + pad);
        let (e0, e1) = ((a - 1e-9).ceil() as i32, (b + 1e-9).floor() as i32);
        let inside = move |v: &f64| v.log10() >= a - 1e-9 && v.log10() <= b + 1e-9;
        let multiples = |ms: &'static [f64]| {
            (e0 - 1..=e1)
                .flat_map(move |e| ms.iter().map(move |m| m * 10f64.powi(e)))
                .filter(inside)
                .collect::<Vec<_>>()
        };
        let (major, minor) = if e1 - e0 >= 2 {
            let every = (e1 - e0 + 7) / 7;
            let major = (e0..=e1).filter(|e| (e - e0) % every == 0).map(|e| (10f64.powi(e), power_of_ten(e))).collect();
            let minor = if every == 1 && e1 - e0 <= 8 {
                multiples(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
            } else {
                (e0..=e1).filter(|e| (e - e0) % every != 0).map(|e| 10f64.powi(e)).collect()
            };
            (major, minor)
        } else {
            let mut major = multiples(&[1.0, 2.0, 5.0]);
            if major.len() < 2 {
                major = multiples(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
            }
            let minor = multiples(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
            let minor = minor.into_iter().filter(|v| !major.contains(v)).collect();
            (major.into_iter().map(|v| (v, fmt_plain(v))).collect(), minor)
        };
        Axis { lo: 10f64.powf(a), hi: 10f64.powf(b), log: true, major, minor }
    }

    /// An axis for `values`: log if asked and any value is positive, else linear with `pad`.
    fn fit(values: impl Iterator<Item = f64> + Clone, log: bool, pad: f64) -> Axis {
        if log {
            let pos = values.clone().filter(|v| v.is_finite() && *v > 0.0);
            let (lo, hi) = pos.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            if lo.is_finite() {
                return Axis::log(lo, hi);
            }
        }
        let finite = values.filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        Axis::linear(lo, hi, pad)
    }

    /// The widest tick label, for the gutter beside a y axis.
    fn label_width(&self, size: f32) -> f32 {
        self.major.iter().map(|(_, l)| text_width(l, size, false)).fold(0.0, f32::max)
    }
}

/// A 1, 2, 2.5 or 5 times a power of ten near `span / target`.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let nice = match raw / mag {
        m if m <= 1.0 => 1.0,
        m if m <= 2.0 => 2.0,
        m if m <= 2.5 => 2.5,
        m if m <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * mag
}

/// Multiples of a nice step in `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = nice_step(hi - lo, target);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // Dividing by the step's inverse keeps decimal steps exact: 3 / 10 is 0.3, 3 * 0.1 is not.
    let inverse = (1.0 / step).round();
    let at =
        |k: i64| if step < 1.0 && (inverse * step - 1.0).abs() < 1e-12 { k as f64 / inverse } else { k as f64 * step };
    (first..=last).map(at).collect()
}

/// A tick value with as many decimals as its step needs.
fn fmt_tick(v: f64, step: f64) -> String {
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
fn fmt_plain(v: f64) -> String {
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

// ---------------------------------------------------------------------------------------------
// Layout.

const TITLE_SIZE: f32 = 16.0;
const LABEL_SIZE: f32 = 13.0;
const TICK_SIZE: f32 = 11.5;
const MARGIN: f32 = 16.0;
const TICK_LEN: f32 = 5.0;

/// Distinct colours for series (Tableau 10); beyond ten they repeat with dashes.
const PALETTE: [u32; 10] =
    [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf];

fn series_pen(index: usize, width: f32) -> Pen {
    Pen { color: Rgba::rgb(PALETTE[index % PALETTE.len()]), width, dashed: index >= PALETTE.len() }
}

/// The space left of a plot for its y tick labels and rotated axis label.
fn y_gutter(y: &Axis) -> f32 {
    LABEL_SIZE + 10.0 + y.label_width(TICK_SIZE) + 6.0 + TICK_LEN
}

/// The space below a plot for x tick labels and the axis label.
const X_GUTTER: f32 = TICK_LEN + 4.0 + TICK_SIZE + 10.0 + LABEL_SIZE + 4.0;

/// Frame, grid lines, ticks, tick labels and axis labels of a plot occupying `r`.
fn axes(out: &mut Vec<Shape>, r: Rect, x: &Axis, y: &Axis, x_label: &str, y_label: &str, grid: bool) {
    let px = |v: f64| r.x + (x.frac(v) as f32) * r.w;
    let py = |v: f64| r.bottom() - (y.frac(v) as f32) * r.h;
    let on = |a: f32, lo: f32, hi: f32| a >= lo - 0.5 && a <= hi + 0.5;
    if grid {
        let mut parts = vec![];
        for (v, _) in &x.major {
            let a = px(*v);
            if on(a, r.x + 1.0, r.right() - 1.0) {
                parts.push(vec![(a, r.y), (a, r.bottom())]);
            }
        }
        for (v, _) in &y.major {
            let a = py(*v);
            if on(a, r.y + 1.0, r.bottom() - 1.0) {
                parts.push(vec![(r.x, a), (r.right(), a)]);
            }
        }
        out.push(Shape::Path { parts, closed: false, fill: None, pen: Some(Pen::new(GRIDLINE, 1.0)) });
    }
    let mut ticks = vec![];
    for (v, label) in &x.major {
        let a = px(*v);
        if on(a, r.x, r.right()) {
            ticks.push(vec![(a, r.bottom()), (a, r.bottom() + TICK_LEN)]);
            out.push(Shape::Text(Shape::text(
                (a, r.bottom() + TICK_LEN + 3.0 + TICK_SIZE),
                label,
                TICK_SIZE,
                Anchor::Middle,
            )));
        }
    }
    for (v, label) in &y.major {
        let a = py(*v);
        if on(a, r.y, r.bottom()) {
            ticks.push(vec![(r.x - TICK_LEN, a), (r.x, a)]);
            let at = (r.x - TICK_LEN - 3.0, a + 0.36 * TICK_SIZE);
            out.push(Shape::Text(Shape::text(at, label, TICK_SIZE, Anchor::End)));
        }
    }
    for v in &y.minor {
        let a = py(*v);
        if on(a, r.y, r.bottom()) {
            ticks.push(vec![(r.x - TICK_LEN * 0.6, a), (r.x, a)]);
        }
    }
    out.push(Shape::Path { parts: ticks, closed: false, fill: None, pen: Some(Pen::new(INK, 1.0)) });
    out.push(Shape::rect(r, None, Some(Pen::new(INK, 1.0))));
    let x_at = (r.x + r.w / 2.0, r.bottom() + X_GUTTER - 4.0);
    out.push(Shape::Text(Shape::text(x_at, x_label, LABEL_SIZE, Anchor::Middle)));
    let y_at = (r.x - y_gutter(y) + LABEL_SIZE, r.y + r.h / 2.0);
    out.push(Shape::Text(Text { vertical: true, ..Shape::text(y_at, y_label, LABEL_SIZE, Anchor::Middle) }));
}

/// What a legend entry shows beside its label.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A line in the series' pen.
    Line(Pen),
    /// A line ending in a filled dot, as paths end in a contour plot.
    LineDot(Pen),
    /// An open circle: where every path starts.
    Start,
}

const LEGEND_ROW: f32 = 20.0;
const SWATCH_W: f32 = 26.0;

fn legend_size(entries: &[(String, Swatch)]) -> (f32, f32) {
    let text = entries.iter().map(|(l, _)| text_width(l, LABEL_SIZE, false)).fold(0.0, f32::max);
    (10.0 + SWATCH_W + 8.0 + text + 10.0, 8.0 + LEGEND_ROW * entries.len() as f32 + 4.0)
}

/// A boxed legend with its top-left corner at `at`.
fn legend(out: &mut Vec<Shape>, at: (f32, f32), entries: &[(String, Swatch)]) {
    if entries.is_empty() {
        return;
    }
    let (w, h) = legend_size(entries);
    let frame = Rect { x: at.0, y: at.1, w, h };
    out.push(Shape::rect(frame, Some(WHITE), Some(Pen::new(Rgba::rgb(0xbbbbbb), 1.0))));
    for (i, (label, swatch)) in entries.iter().enumerate() {
        let mid = at.1 + 8.0 + LEGEND_ROW * (i as f32 + 0.5);
        let (x0, x1) = (at.0 + 10.0, at.0 + 10.0 + SWATCH_W);
        match *swatch {
            Swatch::Line(pen) => {
                out.push(Shape::line(vec![(x0, mid), (x1, mid)], Pen { width: pen.width + 0.6, ..pen }))
            }
            Swatch::LineDot(pen) => {
                out.push(Shape::line(vec![(x0, mid), (x1, mid)], pen));
                out.push(Shape::Circle { at: (x1 - 4.0, mid), r: 4.0, fill: pen.color, pen: Pen::new(WHITE, 1.2) });
            }
            Swatch::Start => out.push(start_marker(((x0 + x1) / 2.0, mid))),
        }
        let text_at = (x1 + 8.0, mid + 0.36 * LABEL_SIZE);
        out.push(Shape::Text(Shape::text(text_at, label, LABEL_SIZE, Anchor::Start)));
    }
}

fn start_marker(at: (f32, f32)) -> Shape {
    Shape::Circle { at, r: 5.0, fill: WHITE, pen: Pen::new(INK, 1.6) }
}

fn title(out: &mut Vec<Shape>, text: &str, center: f32) {
    let t = Text { bold: true, ..Shape::text((center, MARGIN + TITLE_SIZE), text, TITLE_SIZE, Anchor::Middle) };
    out.push(Shape::Text(t));
}

/// Splits points into drawable runs (a point off the axes ends a run) and maps them to the plot.
fn polylines(points: &[(f64, f64)], x: &Axis, y: &Axis, r: Rect) -> Vec<Vec<(f32, f32)>> {
    // Segments are clipped to a box around the plot before they reach the rasteriser, which
    // cannot draw coordinates like 1e18 (a diverging optimizer's path); the plot clips the rest.
    let bound = Bounds::around(r);
    let to_px = |(a, b): (f64, f64)| {
        (f64::from(r.x) + x.frac(a) * f64::from(r.w), f64::from(r.bottom()) - y.frac(b) * f64::from(r.h))
    };
    let mut parts: Vec<Vec<(f32, f32)>> = vec![];
    let mut run: Vec<(f32, f32)> = vec![];
    let mut prev: Option<(f64, f64)> = None;
    for &(a, b) in points {
        if !(x.accepts(a) && y.accepts(b)) {
            prev = None;
            if !run.is_empty() {
                parts.push(std::mem::take(&mut run));
            }
            continue;
        }
        let q = to_px((a, b));
        let Some(p) = prev.replace(q) else {
            if bound.contains(q) {
                run.push((q.0 as f32, q.1 as f32));
            }
            continue;
        };
        match bound.clip(p, q) {
            Some((c0, c1)) => {
                if run.is_empty() {
                    run.push((c0.0 as f32, c0.1 as f32));
                }
                run.push((c1.0 as f32, c1.1 as f32));
                if c1 != q {
                    parts.push(std::mem::take(&mut run));
                }
            }
            None if !run.is_empty() => parts.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        parts.push(run);
    }
    parts
}

/// A box in drawing units, larger than the plot so clipping at it is invisible.
#[derive(Clone, Copy)]
struct Bounds {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Bounds {
    fn around(r: Rect) -> Bounds {
        let (w, h) = (f64::from(r.w), f64::from(r.h));
        Bounds {
            x0: f64::from(r.x) - w,
            y0: f64::from(r.y) - h,
            x1: f64::from(r.right()) + w,
            y1: f64::from(r.bottom()) + h,
        }
    }

    fn contains(&self, (a, b): (f64, f64)) -> bool {
        (self.x0..=self.x1).contains(&a) && (self.y0..=self.y1).contains(&b)
    }

    /// The part of the segment p–q inside the box (Liang–Barsky), if any.
    fn clip(&self, p: (f64, f64), q: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (den, num) in [(-dx, p.0 - self.x0), (dx, self.x1 - p.0), (-dy, p.1 - self.y0), (dy, self.y1 - p.1)] {
            if den == 0.0 {
                if num < 0.0 {
                    return None;
                }
            } else {
                let t = num / den;
                if den < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        let at = |t: f64| {
            if t == 1.0 {
                q
            } else if t == 0.0 {
                p
            } else {
                (p.0 + t * dx, p.1 + t * dy)
            }
        };
        (t0 <= t1).then(|| (at(t0), at(t1)))
    }
}

const PLOT_W: f32 = 440.0;
const PLOT_H: f32 = 300.0;
const PANEL_GAP: f32 = 30.0;

/// Panels per row of a line chart: more would make the picture too wide to read when shrunk.
const PANELS_PER_ROW: usize = 2;

fn layout_lines(chart: &Chart) -> Drawing {
    let mut labels: Vec<&str> = vec![];
    for s in chart.panels.iter().flat_map(|p| &p.series) {
        if !labels.contains(&s.label.as_str()) {
            labels.push(&s.label);
        }
    }
    let colour = |label: &str| labels.iter().position(|l| *l == label).unwrap_or(0);
    let axes_of: Vec<(Axis, Axis)> = chart
        .panels
        .iter()
        .map(|panel| {
            let points = || panel.series.iter().flat_map(|s| s.points.iter());
            (Axis::fit(points().map(|p| p.0), false, 0.0), Axis::fit(points().map(|p| p.1), panel.log_y, 0.05))
        })
        .collect();
    // Panels sit in a grid of equal cells, so the plots in a column line up.
    let gutter = axes_of.iter().map(|(_, y)| y_gutter(y)).fold(0.0, f32::max);
    let cols = chart.panels.len().clamp(1, PANELS_PER_ROW);
    let title_h = if chart.panels.iter().any(|p| !p.title.is_empty()) { LABEL_SIZE + 10.0 } else { 0.0 };
    let row_h = title_h + PLOT_H + X_GUTTER + 14.0;
    let top = MARGIN + TITLE_SIZE + 14.0;
    let mut shapes = vec![];
    for (k, (panel, (x, y))) in chart.panels.iter().zip(&axes_of).enumerate() {
        let (col, row) = ((k % cols) as f32, (k / cols) as f32);
        let r = Rect {
            x: MARGIN + col * (gutter + PLOT_W + PANEL_GAP) + gutter,
            y: top + row * row_h + title_h,
            w: PLOT_W,
            h: PLOT_H,
        };
        axes(&mut shapes, r, x, y, &panel.x_label, &panel.y_label, true);
        let curves = panel
            .series
            .iter()
            .map(|s| Shape::Path {
                parts: polylines(&s.points, x, y, r),
                closed: false,
                fill: None,
                pen: Some(series_pen(colour(&s.label), 1.6)),
            })
            .collect();
        shapes.push(Shape::Clip { rect: r, shapes: curves });
        if !panel.title.is_empty() {
            let at = (r.x + r.w / 2.0, r.y - 9.0);
            let t = Text { bold: true, ..Shape::text(at, &panel.title, LABEL_SIZE, Anchor::Middle) };
            shapes.push(Shape::Text(t));
        }
    }
    let entries: Vec<(String, Swatch)> =
        labels.iter().enumerate().map(|(i, l)| (l.to_string(), Swatch::Line(series_pen(i, 1.6)))).collect();
    let (lw, lh) = legend_size(&entries);
    let plots_right = MARGIN + cols as f32 * (gutter + PLOT_W + PANEL_GAP) - PANEL_GAP;
    let rows = chart.panels.len().div_ceil(cols).max(1) as f32;
    // The legend takes the last row's empty cell if there is one, else a column on the right.
    let spare_cell = !chart.panels.len().is_multiple_of(cols);
    let at = if spare_cell {
        (MARGIN + (cols - 1) as f32 * (gutter + PLOT_W + PANEL_GAP) + gutter, top + (rows - 1.0) * row_h + title_h)
    } else {
        (plots_right + 20.0, top + title_h)
    };
    legend(&mut shapes, at, &entries);
    let w = if entries.is_empty() { plots_right + MARGIN } else { plots_right.max(at.0 + lw) + MARGIN };
    let h = (top + rows * row_h - 14.0 + MARGIN).max(at.1 + lh + MARGIN);
    title(&mut shapes, &chart.title, w / 2.0);
    Drawing { w: w.ceil(), h: h.ceil(), shapes }
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

/// Level crossings on the grid (marching squares): line segments in `(x, y)` coordinates.
fn contour_segments(g: &Grid, t: &[f64], level: f64) -> Vec<[(f64, f64); 2]> {
    let nx = g.xs.len();
    let mut segments = vec![];
    for j in 0..g.ys.len() - 1 {
        for i in 0..nx - 1 {
            let corner = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let v = corner.map(|(a, b)| t[b * nx + a]);
            if v.iter().any(|x| !x.is_finite()) {
                continue;
            }
            // Crossings on the edges bottom, right, top, left, in that order.
            let mut cross = [None; 4];
            for (e, cut) in cross.iter_mut().enumerate() {
                let (a, b) = (e, (e + 1) % 4);
                if (v[a] >= level) != (v[b] >= level) {
                    let s = (level - v[a]) / (v[b] - v[a]);
                    let (pa, pb) = ((g.xs[corner[a].0], g.ys[corner[a].1]), (g.xs[corner[b].0], g.ys[corner[b].1]));
                    *cut = Some((pa.0 + s * (pb.0 - pa.0), pa.1 + s * (pb.1 - pa.1)));
                }
            }
            match cross {
                [Some(b), Some(r), Some(t), Some(l)] => {
                    // A saddle: the cell's mean decides which opposite corners the level separates.
                    let centre_above = v.iter().sum::<f64>() / 4.0 >= level;
                    if centre_above == (v[0] >= level) {
                        segments.push([b, r]);
                        segments.push([t, l]);
                    } else {
                        segments.push([b, l]);
                        segments.push([r, t]);
                    }
                }
                _ => {
                    let found: Vec<(f64, f64)> = cross.iter().flatten().copied().collect();
                    if let [p, q] = found[..] {
                        segments.push([p, q]);
                    }
                }
            }
        }
    }
    segments
}

/// Colours for the contour bands, from low values (dark) to high (light): viridis, lightened
/// so that the coloured paths drawn over it stay visible.
fn band_colour(f: f64) -> Rgba {
    const VIRIDIS: [u32; 11] =
        [0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c, 0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725];
    let f = if f.is_finite() { f.clamp(0.0, 1.0) } else { 0.0 };
    let pos = f * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let (a, b, u) = (Rgba::rgb(VIRIDIS[k]), Rgba::rgb(VIRIDIS[k + 1]), pos - k as f64);
    let mix = |p: u8, q: u8| {
        let c = f64::from(p) + u * (f64::from(q) - f64::from(p));
        (c + 0.55 * (255.0 - c)).round() as u8
    };
    Rgba(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2), 255)
}

/// The band a value lies in (0 below the first level) and each band's colour.
struct Bands {
    levels: Vec<f64>,
    colours: Vec<Rgba>,
}

impl Bands {
    fn new(levels: Vec<f64>, lo: f64, hi: f64) -> Bands {
        let mut edges = vec![lo];
        edges.extend(&levels);
        edges.push(hi);
        let colours = edges.windows(2).map(|e| band_colour(((e[0] + e[1]) / 2.0 - lo) / (hi - lo))).collect();
        Bands { levels, colours }
    }

    fn colour(&self, t: f64) -> Rgba {
        if t.is_nan() {
            return Rgba::rgb(0xdddddd);
        }
        self.colours[self.levels.partition_point(|l| *l <= t)]
    }
}

/// The value at `(x, y)` interpolated bilinearly from the grid.
fn bilinear(g: &Grid, t: &[f64], x: f64, y: f64) -> f64 {
    let cell = |v: &[f64], a: f64| {
        let i = v.partition_point(|c| *c <= a).clamp(1, v.len() - 1) - 1;
        (i, ((a - v[i]) / (v[i + 1] - v[i])).clamp(0.0, 1.0))
    };
    let ((i, u), (j, w)) = (cell(&g.xs, x), cell(&g.ys, y));
    let nx = g.xs.len();
    let at = |a: usize, b: usize| t[b * nx + a];
    let bottom = at(i, j) + u * (at(i + 1, j) - at(i, j));
    let top = at(i, j + 1) + u * (at(i + 1, j + 1) - at(i, j + 1));
    bottom + w * (top - bottom)
}

const CONTOUR_W: f32 = 500.0;
const CONTOUR_H: f32 = 420.0;
const BAR_W: f32 = 14.0;

fn layout_contour(chart: &ContourChart) -> io::Result<Drawing> {
    let g = &chart.grid;
    let (t, lo, hi, log) = scaled(g, chart.log_levels);
    let levels: Vec<f64> = if log {
        contour_levels(10f64.powf(lo), 10f64.powf(hi), true).into_iter().map(f64::log10).collect()
    } else {
        contour_levels(lo, hi, false)
    };
    let bands = Bands::new(levels.clone(), lo, hi);
    // The axes end exactly at the grid: nothing outside it is known.
    let x = Axis::exact(g.xs[0], g.xs[g.xs.len() - 1]);
    let y = Axis::exact(g.ys[0], g.ys[g.ys.len() - 1]);
    let top = MARGIN + TITLE_SIZE + 14.0;
    let r = Rect { x: MARGIN + y_gutter(&y), y: top, w: CONTOUR_W, h: CONTOUR_H };
    let mut shapes = vec![];

    let (pw, ph) = ((r.w * PNG_SCALE).round() as u32, (r.h * PNG_SCALE).round() as u32);
    let mut fill = Pixmap::new(pw, ph).ok_or_else(|| invalid("cannot allocate the contour raster".into()))?;
    let (fw, fh) = (pw as usize, ph as usize);
    for (k, px) in fill.pixels_mut().iter_mut().enumerate() {
        let (u, v) = (((k % fw) as f64 + 0.5) / fw as f64, ((k / fw) as f64 + 0.5) / fh as f64);
        let (a, b) = (x.lo + u * (x.hi - x.lo), y.hi - v * (y.hi - y.lo));
        let c = bands.colour(bilinear(g, &t, a, b));
        *px = tiny_skia::ColorU8::from_rgba(c.0, c.1, c.2, 255).premultiply();
    }
    shapes.push(Shape::Image { rect: r, pixels: fill });

    let to_px = |(a, b): (f64, f64)| (r.x + x.frac(a) as f32 * r.w, r.bottom() - y.frac(b) as f32 * r.h);
    let mut over = vec![];
    let lines: Vec<Vec<(f32, f32)>> =
        levels.iter().flat_map(|l| contour_segments(g, &t, *l)).map(|[p, q]| vec![to_px(p), to_px(q)]).collect();
    over.push(Shape::Path { parts: lines, closed: false, fill: None, pen: Some(Pen::new(Rgba(0, 0, 0, 70), 0.7)) });
    let mut entries = vec![];
    if chart.paths.iter().any(|p| !p.points.is_empty()) {
        entries.push(("start".to_string(), Swatch::Start));
    }
    // Paths often share a valley: each is drawn narrower than the one before, over a white halo
    // under all of them, so overlapping paths show as nested stripes rather than hiding each other.
    let count = chart.paths.len();
    let pens: Vec<Pen> = (0..count)
        .map(|i| series_pen(i, if count > 1 { 3.6 - 2.2 * i as f32 / (count - 1) as f32 } else { 2.0 }))
        .collect();
    let parts: Vec<Vec<Vec<(f32, f32)>>> = chart.paths.iter().map(|p| polylines(&p.points, &x, &y, r)).collect();
    for (part, pen) in parts.iter().zip(&pens) {
        let halo = Pen { color: WHITE.with_alpha(190), width: pen.width + 2.5, dashed: false };
        over.push(Shape::Path { parts: part.clone(), closed: false, fill: None, pen: Some(halo) });
    }
    for ((part, pen), path) in parts.into_iter().zip(&pens).zip(&chart.paths) {
        over.push(Shape::Path { parts: part, closed: false, fill: None, pen: Some(*pen) });
        entries.push((path.label.clone(), Swatch::LineDot(*pen)));
    }
    for (path, pen) in chart.paths.iter().zip(&pens) {
        let inside: Vec<(f64, f64)> =
            path.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
        let bound = Bounds::around(r);
        let shown = |p: (f32, f32)| bound.contains((f64::from(p.0), f64::from(p.1)));
        if let (Some(&first), Some(&last)) = (inside.first(), inside.last()) {
            if shown(to_px(first)) {
                over.push(start_marker(to_px(first)));
            }
            if shown(to_px(last)) {
                over.push(Shape::Circle { at: to_px(last), r: 4.5, fill: pen.color, pen: Pen::new(WHITE, 1.2) });
            }
        }
    }
    shapes.push(Shape::Clip { rect: r, shapes: over });
    axes(&mut shapes, r, &x, &y, &chart.x_label, &chart.y_label, false);

    // The colour bar, on the same scale as the bands.
    let bar = Rect { x: r.right() + 18.0, y: r.y, w: BAR_W, h: r.h };
    let z_axis = if log {
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        Axis { lo: a, hi: b, ..Axis::log(a, b) }
    } else {
        Axis::exact(lo, hi)
    };
    let bar_y = |tv: f64| {
        let f = if log { z_axis.frac(10f64.powf(tv)) } else { z_axis.frac(tv) };
        bar.bottom() - f as f32 * bar.h
    };
    let mut edges = vec![lo];
    edges.extend(&levels);
    edges.push(hi);
    let bar_shapes = edges
        .windows(2)
        .zip(&bands.colours)
        .map(|(e, c)| {
            Shape::rect(Rect { x: bar.x, y: bar_y(e[1]), w: bar.w, h: bar_y(e[0]) - bar_y(e[1]) }, Some(*c), None)
        })
        .collect();
    shapes.push(Shape::Clip { rect: bar, shapes: bar_shapes });
    shapes.push(Shape::rect(bar, None, Some(Pen::new(INK, 1.0))));
    let mut ticks = vec![];
    let mut label_w: f32 = 0.0;
    for (v, label) in &z_axis.major {
        let a = bar.bottom() - z_axis.frac(*v) as f32 * bar.h;
        if a >= bar.y - 0.5 && a <= bar.bottom() + 0.5 {
            ticks.push(vec![(bar.right(), a), (bar.right() + TICK_LEN, a)]);
            let at = (bar.right() + TICK_LEN + 3.0, a + 0.36 * TICK_SIZE);
            shapes.push(Shape::Text(Shape::text(at, label, TICK_SIZE, Anchor::Start)));
            label_w = label_w.max(text_width(label, TICK_SIZE, false));
        }
    }
    shapes.push(Shape::Path { parts: ticks, closed: false, fill: None, pen: Some(Pen::new(INK, 1.0)) });
    let z_at = (bar.right() + TICK_LEN + 3.0 + label_w + 10.0 + LABEL_SIZE, bar.y + bar.h / 2.0);
    let z_text = Text { vertical: true, ..Shape::text(z_at, &chart.z_label, LABEL_SIZE, Anchor::Middle) };
    shapes.push(Shape::Text(z_text));

    let legend_x = z_at.0 + 16.0;
    let (lw, lh) = legend_size(&entries);
    legend(&mut shapes, (legend_x, top), &entries);
    let w = if entries.is_empty() { z_at.0 + MARGIN } else { legend_x + lw + MARGIN };
    let h = (top + r.h + X_GUTTER + MARGIN).max(top + lh + MARGIN);
    title(&mut shapes, &chart.title, w / 2.0);
    Ok(Drawing { w: w.ceil(), h: h.ceil(), shapes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test's files.
    fn out_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gradc-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    /// The width and height in a PNG's header, after checking its signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    /// The value of a numeric attribute of the root `<svg>` element.
    fn svg_attr(svg: &str, name: &str) -> f32 {
        let root = &svg[..svg.find('>').expect("root element")];
        let start = root.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
        root[start..].split('"').next().and_then(|v| v.parse().ok()).expect("numeric attribute")
    }

    /// Checks both files exist, the SVG is well-formed-looking and names every label, and the PNG
    /// is twice the SVG's size.
    fn check_files(svg: &Path, png: &Path, labels: &[&str]) -> String {
        let text = std::fs::read_to_string(svg).expect("SVG written");
        assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(text.trim_end().ends_with("</svg>"));
        assert_eq!(text.matches("<g ").count(), text.matches("</g>").count(), "balanced groups");
        for label in labels {
            assert!(text.contains(&format!(">{}</text>", escape(label))), "SVG shows {label:?}");
        }
        let (w, h) = png_size(&std::fs::read(png).expect("PNG written"));
        assert_eq!((w, h), ((svg_attr(&text, "width") * 2.0) as u32, (svg_attr(&text, "height") * 2.0) as u32));
        text
    }

    fn decaying(rate: f64, noise: f64) -> Vec<(f64, f64)> {
        (1..=200)
            .map(|s| (s as f64 * 10.0, 2.0 * (-rate * s as f64).exp() * (1.0 + noise * (s as f64).sin())))
            .collect()
    }

    #[test]
    fn line_chart_writes_svg_and_png_with_every_label() {
        let dir = out_dir("lines");
        let runs = [("sgd(lr: 0.1)", 0.01), ("momentum(lr: 0.1, momentum: 0.9)", 0.03), ("adam(lr: 0.01)", 0.05)];
        let loss = runs.iter().map(|(l, r)| Series { label: l.to_string(), points: decaying(*r, 0.2) }).collect();
        let acc = runs
            .iter()
            .map(|(l, r)| Series {
                label: l.to_string(),
                points: decaying(*r, 0.0).into_iter().map(|(s, v)| (s, 1.0 - v / 4.0)).collect(),
            })
            .collect();
        let chart = Chart {
            title: "Optimizers on spirals <&>".into(),
            panels: vec![
                Panel {
                    title: "loss".into(),
                    x_label: "step".into(),
                    y_label: "loss".into(),
                    log_y: true,
                    series: loss,
                },
                Panel {
                    title: "accuracy".into(),
                    x_label: "step".into(),
                    y_label: "accuracy".into(),
                    log_y: false,
                    series: acc,
                },
            ],
        };
        let (svg, png) = (dir.join("curves.svg"), dir.join("curves.png"));
        line_chart(&chart, &svg, &png).expect("chart written");
        let text = check_files(&svg, &png, &["sgd(lr: 0.1)", "momentum(lr: 0.1, momentum: 0.9)", "adam(lr: 0.01)"]);
        assert!(text.contains("Optimizers on spirals &lt;&amp;&gt;"), "the title is escaped");
        assert!(text.contains(">10⁻¹</text>"), "log axis labels decades");
    }

    #[test]
    fn line_chart_survives_empty_flat_and_non_finite_series() {
        let dir = out_dir("degenerate");
        let series = vec![
            Series { label: "empty".into(), points: vec![] },
            Series { label: "flat".into(), points: vec![(1.0, 0.0), (2.0, 0.0)] },
            Series { label: "broken".into(), points: vec![(1.0, f64::NAN), (2.0, f64::INFINITY), (3.0, -1.0)] },
        ];
        let chart = Chart {
            title: String::new(),
            panels: vec![Panel { log_y: true, series, ..Panel::default() }, Panel::default()],
        };
        let (svg, png) = (dir.join("a.svg"), dir.join("a.png"));
        line_chart(&chart, &svg, &png).expect("chart written");
        check_files(&svg, &png, &["empty", "flat", "broken"]);
        line_chart(&Chart::default(), &svg, &png).expect("an empty chart is still a picture");
    }

    fn rosenbrock_grid(n: usize) -> Grid {
        let xs: Vec<f64> = (0..n).map(|i| -2.0 + 4.0 * i as f64 / (n - 1) as f64).collect();
        let ys: Vec<f64> = (0..n).map(|j| -1.0 + 4.0 * j as f64 / (n - 1) as f64).collect();
        let z =
            ys.iter().flat_map(|&y| xs.iter().map(move |&x| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2))).collect();
        Grid { xs, ys, z }
    }

    #[test]
    fn paths_far_outside_the_frame_are_clipped_not_drawn() {
        let r = Rect { x: 0.0, y: 0.0, w: 100.0, h: 100.0 };
        let (x, y) = (Axis::exact(0.0, 1.0), Axis::exact(0.0, 1.0));
        // A diverging path: inside, then out to 1e18, then back in.
        let parts = polylines(&[(0.5, 0.5), (0.5, 1e18), (0.5, -1e18), (0.25, 0.25)], &x, &y, r);
        for p in parts.iter().flatten() {
            assert!(p.0.abs() <= 300.0 && p.1.abs() <= 300.0, "point {p:?} escaped the clip box");
        }
        assert_eq!(parts[0][0], (50.0, 50.0), "the visible start is kept exactly");
        let b = Bounds::around(r);
        assert_eq!(b.clip((50.0, 50.0), (50.0, 1e20)), Some(((50.0, 50.0), (50.0, 200.0))));
        assert_eq!(b.clip((500.0, 500.0), (600.0, 600.0)), None);
    }

    #[test]
    fn contour_chart_draws_paths_legend_and_colour_bar() {
        let dir = out_dir("contour");
        let path = |label: &str, bend: f64| Series {
            label: label.into(),
            points: (0..=50)
                .map(|k| {
                    let s = k as f64 / 50.0;
                    (-1.5 + 2.5 * s, 2.0 - s + bend * (s * std::f64::consts::PI).sin())
                })
                .collect(),
        };
        let chart = ContourChart {
            title: "Rosenbrock".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            z_label: "loss".into(),
            grid: rosenbrock_grid(81),
            log_levels: true,
            paths: vec![path("sgd(lr: 0.001)", 0.0), path("adam(lr: 0.05)", -1.0)],
        };
        let (svg, png) = (dir.join("t.svg"), dir.join("t.png"));
        contour_chart(&chart, &svg, &png).expect("chart written");
        let text = check_files(&svg, &png, &["sgd(lr: 0.001)", "adam(lr: 0.05)", "start", "loss", "Rosenbrock"]);
        assert!(text.contains("xlink:href=\"data:image/png;base64,iVBORw0KGgo"), "the filled bands are a PNG");
    }

    #[test]
    fn contour_chart_rejects_a_malformed_grid() {
        let dir = out_dir("bad-grid");
        let mut chart = ContourChart { grid: rosenbrock_grid(5), ..ContourChart::default() };
        chart.grid.z.pop();
        let err = contour_chart(&chart, &dir.join("a.svg"), &dir.join("a.png")).expect_err("too few values");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        chart.grid = Grid { xs: vec![1.0, 0.0], ys: vec![0.0, 1.0], z: vec![0.0; 4] };
        assert!(contour_chart(&chart, &dir.join("a.svg"), &dir.join("a.png")).is_err(), "decreasing xs");
    }

    #[test]
    fn log_levels_are_1_2_5_per_decade_inside_the_range() {
        assert_eq!(contour_levels(0.5, 30.0, true), vec![1.0, 2.0, 5.0, 10.0, 20.0]);
        let wide = contour_levels(1e-3, 1e4, true);
        assert_eq!(wide.first(), Some(&3e-3), "1-3 steps over seven decades");
        assert!(wide.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(wide.len(), 13);
        let huge = contour_levels(1e-30, 1.0, true);
        assert!(huge.len() <= 20 && huge.iter().all(|l| *l > 1e-30 && *l < 1.0));
        assert!(contour_levels(0.0, 1.0, true).is_empty(), "a log scale needs a positive range");
        assert!(contour_levels(1.0, 1.0, false).is_empty());
    }

    #[test]
    fn linear_levels_are_nice_numbers() {
        assert_eq!(contour_levels(0.0, 1.0, false), vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    }

    #[test]
    fn marching_squares_follows_a_circle() {
        let n = 41;
        let xs: Vec<f64> = (0..n).map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64).collect();
        let grid = Grid {
            xs: xs.clone(),
            ys: xs.clone(),
            z: xs.iter().flat_map(|&y| xs.iter().map(move |&x| x * x + y * y)).collect(),
        };
        let segments = contour_segments(&grid, &grid.z, 0.25);
        assert!(segments.len() > 40);
        for p in segments.iter().flatten() {
            let r = (p.0 * p.0 + p.1 * p.1).sqrt();
            assert!((r - 0.5).abs() < 0.01, "point {p:?} is {r} from the centre");
        }
        // A saddle cell crossed by the level on all four edges gives two segments.
        let saddle = Grid { xs: vec![0.0, 1.0], ys: vec![0.0, 1.0], z: vec![1.0, 0.0, 0.0, 1.0] };
        assert_eq!(contour_segments(&saddle, &saddle.z, 0.5).len(), 2);
    }

    #[test]
    fn axes_pick_readable_ticks() {
        let a = Axis::linear(1.0, 2000.0, 0.0);
        assert_eq!((a.lo, a.hi), (0.0, 2000.0), "extended to the nearby ticks");
        assert_eq!(a.major.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["0", "500", "1000", "1500", "2000"]);
        let l = Axis::log(0.012, 30.0);
        assert!(l.lo < 0.012 && l.lo > 0.008 && l.hi > 30.0 && l.hi < 45.0, "padded, not rounded to decades");
        assert_eq!(l.major.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["10⁻²", "10⁻¹", "10⁰", "10¹"]);
        let two = Axis::log(0.012, 0.9);
        assert_eq!(
            two.major.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["0.02", "0.05", "0.1", "0.2", "0.5", "1"]
        );
        let narrow = Axis::log(0.3, 0.9);
        assert_eq!(
            narrow.major.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]
        );
        let narrower = Axis::log(0.31, 0.45);
        assert_eq!(narrower.major.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["0.3", "0.4", "0.5"]);
        assert_eq!(fmt_tick(0.25, 0.25), "0.25");
        assert_eq!(fmt_tick(7.5, 2.5), "7.5");
        assert_eq!(fmt_tick(750.0, 250.0), "750");
        assert_eq!(fmt_tick(-0.0, 0.1), "0");
        assert_eq!(fmt_tick(-1.5, 0.5), "−1.5");
        assert_eq!(fmt_tick(2.5e6, 5e5), "2.5e6");
        assert_eq!(fmt_plain(0.002), "0.002");
        assert_eq!(fmt_plain(0.0002), "2e−4");
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
