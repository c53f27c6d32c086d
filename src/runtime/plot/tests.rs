use std::path::{Path, PathBuf};

use super::axes::{strokes, Frame, Ticks};
use super::*;

/// A fresh directory for one test's files.
fn out_dir(name: &str) -> PathBuf {
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
fn svg_attr(svg: &str, name: &str) -> u32 {
    let root = &svg[..svg.find('>').expect("root element")];
    let start = root.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
    root[start..].split('"').next().and_then(|v| v.parse().ok()).expect("numeric attribute")
}

/// Every text of an SVG, as written (escaped).
fn texts(svg: &str) -> Vec<&str> {
    svg.split("</text>").filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.trim())).collect()
}

/// Checks both files exist, the SVG is well-formed-looking and shows every label, and the PNG
/// is twice the SVG's size.
fn check_files(svg: &Path, png: &Path, labels: &[&str]) -> String {
    let text = std::fs::read_to_string(svg).expect("SVG written");
    assert!(text.starts_with("<svg ") && text.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(text.trim_end().ends_with("</svg>"));
    for label in labels {
        assert!(texts(&text).contains(label), "SVG shows {label:?}: {:?}", texts(&text));
    }
    let (w, h) = png_size(&std::fs::read(png).expect("PNG written"));
    assert_eq!((w, h), (svg_attr(&text, "width") * 2, svg_attr(&text, "height") * 2));
    text
}

fn series(label: &str, points: Vec<(f64, f64)>) -> Series {
    Series { label: label.into(), points, ..Series::default() }
}

fn decaying(rate: f64, noise: f64) -> Vec<(f64, f64)> {
    (1..=200).map(|s| (s as f64 * 10.0, 2.0 * (-rate * s as f64).exp() * (1.0 + noise * (s as f64).sin()))).collect()
}

fn loss_panel(series: Vec<Series>) -> Panel {
    Panel {
        title: "loss".into(),
        x_label: "step".into(),
        y_label: "loss".into(),
        log_y: true,
        series,
        ..Panel::default()
    }
}

#[test]
fn line_chart_writes_svg_and_png_with_every_label() {
    let dir = out_dir("lines");
    let runs = [("sgd(lr: 0.1)", 0.01), ("momentum(lr: 0.1, momentum: 0.9)", 0.03), ("adam(lr: 0.01)", 0.05)];
    let loss = runs.iter().map(|(l, r)| series(l, decaying(*r, 0.2))).collect();
    let acc = runs
        .iter()
        .map(|(l, r)| series(l, decaying(*r, 0.0).into_iter().map(|(s, v)| (s, 1.0 - v / 4.0)).collect()))
        .collect();
    let accuracy = Panel { title: "accuracy".into(), y_label: "accuracy".into(), series: acc, ..Panel::default() };
    let chart = Chart {
        title: "Optimizers on spirals <&>".into(),
        panels: vec![loss_panel(loss), accuracy],
        empty: String::new(),
    };
    let (svg, png) = (dir.join("curves.svg"), dir.join("curves.png"));
    line_chart(&chart, &svg, &png).expect("chart written");
    let text = check_files(&svg, &png, &["sgd(lr: 0.1)", "momentum(lr: 0.1, momentum: 0.9)", "adam(lr: 0.01)"]);
    assert!(texts(&text).contains(&"Optimizers on spirals &lt;&amp;&gt;"), "the title is escaped");
    assert!(texts(&text).contains(&"10⁻¹"), "log axis labels decades");
}

#[test]
fn line_chart_survives_empty_flat_and_non_finite_series() {
    let dir = out_dir("degenerate");
    let series = vec![
        series("empty", vec![]),
        series("flat", vec![(1.0, 0.0), (2.0, 0.0)]),
        series("broken", vec![(1.0, f64::NAN), (2.0, f64::INFINITY), (3.0, -1.0)]),
    ];
    let chart =
        Chart { panels: vec![Panel { log_y: true, series, ..Panel::default() }, Panel::default()], ..Chart::default() };
    let (svg, png) = (dir.join("a.svg"), dir.join("a.png"));
    line_chart(&chart, &svg, &png).expect("chart written");
    check_files(&svg, &png, &["empty", "flat", "broken"]);
    line_chart(&Chart::default(), &svg, &png).expect("an empty chart is still a picture");
}

/// A run that trained between 2 and 0.1, and one that diverged to 1e34.
fn with_diverged() -> Vec<Series> {
    let trained = series("sgd(lr: 0.01)", decaying(0.02, 0.0));
    let mut wild: Vec<(f64, f64)> = (1..=30).map(|s| (s as f64 * 10.0, 1.5 * 10f64.powi(s - 1))).collect();
    wild.push((310.0, f64::INFINITY));
    vec![trained, Series { label: "sgd(lr: 10) (diverged)".into(), points: wild, diverged: true, ..Series::default() }]
}

#[test]
fn a_diverged_run_does_not_stretch_the_axes_and_is_marked() {
    let frame = Frame::fit(&with_diverged(), false, true).expect("points to show");
    assert!(frame.log_y);
    assert!(frame.y.1 < 2f64.log10() + 0.2, "framed by the run that trained, not by 1e34: {:?}", frame.y);
    assert!(frame.x.1 <= 2000.0 && frame.x.0 >= 10.0);
    // Its curve stops where it leaves the frame.
    let parts = frame.parts(&with_diverged()[1].points);
    assert_eq!(parts.len(), 1);
    let last = *parts[0].last().expect("a visible part");
    assert!((last.1 - frame.y.1).abs() < 1e-9, "cut at the top of the frame: {last:?}");

    let dir = out_dir("diverged");
    let chart = Chart { panels: vec![loss_panel(with_diverged())], ..Chart::default() };
    let (svg, png) = (dir.join("a.svg"), dir.join("a.png"));
    line_chart(&chart, &svg, &png).expect("chart written");
    let text = check_files(&svg, &png, &["sgd(lr: 0.01)", "sgd(lr: 10) (diverged)", "diverged"]);
    assert!(!texts(&text).iter().any(|t| t.contains("10³")), "no tick beyond the trained runs");
}

#[test]
fn zeros_on_a_log_axis_are_counted_in_a_note() {
    let mut points = decaying(0.02, 0.0);
    points.extend([(2010.0, 0.0), (2020.0, 0.0)]);
    let frame = Frame::fit(&[series("adam", points.clone())], false, true).expect("points");
    assert_eq!(frame.note().as_deref(), Some("2 points at 0 not shown on the log axis"));
    assert_eq!(
        Frame::fit(&[series("adam", points.clone())], false, false).expect("points").note(),
        None,
        "linear axes show 0"
    );
    let dir = out_dir("zeros");
    let chart = Chart { panels: vec![loss_panel(vec![series("adam", points)])], ..Chart::default() };
    let (svg, png) = (dir.join("a.svg"), dir.join("a.png"));
    line_chart(&chart, &svg, &png).expect("chart written");
    check_files(&svg, &png, &["2 points at 0 not shown on the log axis"]);
}

#[test]
fn a_chart_with_no_points_says_why_instead_of_drawing_empty_axes() {
    assert_eq!(Frame::fit(&[series("sgd", vec![])], false, true), None);
    let dir = out_dir("empty");
    let chart = Chart {
        panels: vec![loss_panel(vec![series("sgd", vec![])])],
        empty: "no steps were run".into(),
        ..Chart::default()
    };
    let (svg, png) = (dir.join("a.svg"), dir.join("a.png"));
    line_chart(&chart, &svg, &png).expect("chart written");
    let text = check_files(&svg, &png, &["no steps were run", "loss", "sgd"]);
    assert!(!texts(&text).contains(&"step"), "no axes: {:?}", texts(&text));
}

#[test]
fn curves_are_cut_at_the_frame_and_where_they_cannot_be_placed() {
    let frame = Frame { x: (0.0, 1.0), log_x: false, y: (0.0, 1.0), log_y: false, non_positive: 0, all_zero: true };
    // A diverging path: inside, out to 1e18, back in, a gap, then inside again.
    let parts =
        frame.parts(&[(0.5, 0.5), (0.5, 1e18), (0.5, -1e18), (0.25, 0.25), (0.3, f64::NAN), (0.1, 0.1), (0.2, 0.2)]);
    let cut = vec![vec![(0.5, 0.5), (0.5, 1.0)], vec![(0.5, 1.0), (0.5, 0.0)], vec![(0.25, 0.0), (0.25, 0.25)]];
    assert_eq!(parts[..3], cut, "each crossing lies on the edge, even from 1e18 away");
    assert_eq!(parts[3], [(0.1, 0.1), (0.2, 0.2)], "a point that cannot be placed breaks the line");
    assert!(frame.parts(&[(5.0, 5.0), (6.0, 6.0)]).is_empty());
}

#[test]
fn zigzags_are_drawn_as_strokes_without_spikes() {
    let frame = Frame { x: (0.0, 10.0), log_x: false, y: (0.0, 10.0), log_y: false, non_positive: 0, all_zero: true };
    let zigzag = [(1.0, 1.0), (5.0, 1.0), (1.0, 1.2), (5.0, 1.4)];
    let s = strokes(&zigzag, &frame, (100.0, 100.0));
    assert_eq!(s, vec![vec![(1.0, 1.0), (5.0, 1.0)], vec![(5.0, 1.0), (1.0, 1.2)], vec![(1.0, 1.2), (5.0, 1.4)]]);
    let gentle = [(1.0, 1.0), (2.0, 1.1), (2.0001, 1.1), (3.0, 1.3)];
    assert_eq!(strokes(&gentle, &frame, (100.0, 100.0)), vec![vec![(1.0, 1.0), (2.0, 1.1), (3.0, 1.3)]]);
}

#[test]
fn ticks_are_readable() {
    let labels = |t: &Ticks| t.major.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
    assert_eq!(labels(&Ticks::new(0.0, 2000.0, false, 6)), ["0", "500", "1000", "1500", "2000"]);
    assert_eq!(labels(&Ticks::new(0.012f64.log10(), 30f64.log10(), true, 6)), ["10⁻¹", "10⁰", "10¹"]);
    assert_eq!(labels(&Ticks::new(0.012f64.log10(), 0.9f64.log10(), true, 6)), ["0.02", "0.05", "0.1", "0.2", "0.5"]);
    assert_eq!(
        labels(&Ticks::new(0.3f64.log10(), 0.9f64.log10(), true, 6)),
        ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"],
        "within one decade plotters' own log ticks would leave the axis bare"
    );
    let wide = Ticks::new(-12.0, 2.0, true, 6);
    assert!(wide.major.len() <= 8 && wide.major.iter().all(|(v, _)| v.fract() == 0.0), "{wide:?}");
    assert_eq!(axes::fmt_tick(0.25, 0.25), "0.25");
    assert_eq!(axes::fmt_tick(-1.5, 0.5), "−1.5");
    assert_eq!(axes::fmt_tick(-0.0, 0.1), "0");
    assert_eq!(axes::fmt_plain(0.0002), "2e−4");
}

fn rosenbrock_grid(n: usize) -> Grid {
    let xs: Vec<f64> = (0..n).map(|i| -2.0 + 4.0 * i as f64 / (n - 1) as f64).collect();
    let ys: Vec<f64> = (0..n).map(|j| -1.0 + 4.0 * j as f64 / (n - 1) as f64).collect();
    let z = ys.iter().flat_map(|&y| xs.iter().map(move |&x| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2))).collect();
    Grid { xs, ys, z }
}

fn rosenbrock_chart() -> ContourChart {
    let path = |label: &str, bend: f64| {
        let points = (0..=50)
            .map(|k| {
                let s = k as f64 / 50.0;
                (-1.5 + 2.5 * s, 2.0 - s + bend * (s * std::f64::consts::PI).sin())
            })
            .collect();
        series(label, points)
    };
    ContourChart {
        title: "Rosenbrock".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        z_label: "loss".into(),
        grid: rosenbrock_grid(81),
        log_levels: true,
        paths: vec![path("sgd(lr: 0.001)", 0.0), path("adam(lr: 0.05)", -1.0)],
        optimum: Some((1.0, 1.0)),
    }
}

#[test]
fn contour_chart_draws_bands_paths_ends_the_optimum_and_a_colour_bar() {
    let dir = out_dir("contour");
    let chart = rosenbrock_chart();
    let (svg, png) = (dir.join("t.svg"), dir.join("t.png"));
    contour_chart(&chart, &svg, &png).expect("chart written");
    let labels = ["sgd(lr: 0.001)", "adam(lr: 0.05)", "start", "end", "optimum (1, 1)", "loss", "Rosenbrock", "10²"];
    let text = check_files(&svg, &png, &labels);
    assert!(text.matches("<polygon").count() > 20, "the filled bands are polygons");
    let surface = surface::Surface::new(&chart).expect("a valid grid");
    assert!(surface.bands.windows(2).all(|w| area(&w[0].0) >= area(&w[1].0)), "largest first, so none hides another");
    let mut plain = chart.clone();
    plain.optimum = None;
    let (svg, png) = (dir.join("u.svg"), dir.join("u.png"));
    contour_chart(&plain, &svg, &png).expect("chart written");
    assert!(!std::fs::read_to_string(&svg).expect("SVG").contains("optimum"), "only a stated optimum is marked");
}

fn area(ring: &[(f64, f64)]) -> f64 {
    ring.iter().zip(ring.iter().cycle().skip(1)).map(|(p, q)| p.0 * q.1 - q.0 * p.1).sum::<f64>().abs() / 2.0
}

#[test]
fn contour_chart_rejects_a_malformed_grid() {
    let dir = out_dir("bad-grid");
    let mut chart = ContourChart { grid: rosenbrock_grid(5), ..ContourChart::default() };
    chart.grid.z.pop();
    let err = contour_chart(&chart, &dir.join("a.svg"), &dir.join("a.png")).expect_err("too few values");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
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
    let levels = contour_levels(0.0, 1.0, false);
    assert_eq!(levels.len(), 9, "{levels:?}");
    for (k, l) in levels.iter().enumerate() {
        assert!((l - 0.1 * (k + 1) as f64).abs() < 1e-12, "{levels:?}");
    }
}

#[test]
fn isolines_follow_a_circle() {
    let n = 41;
    let xs: Vec<f64> = (0..n).map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64).collect();
    let grid = Grid {
        xs: xs.clone(),
        ys: xs.clone(),
        z: xs.iter().flat_map(|&y| xs.iter().map(move |&x| x * x + y * y)).collect(),
    };
    let chart = ContourChart { grid, ..ContourChart::default() };
    let surface = surface::Surface::new(&chart).expect("a valid grid");
    // The level at 0.2 (linear levels over [0, 2]) is the circle of radius √0.2.
    let ring = surface.isolines.iter().find(|l| (l[0].0.hypot(l[0].1) - 0.2f64.sqrt()).abs() < 0.02).expect("r = √0.2");
    assert!(ring.len() > 40);
    for p in ring {
        assert!((p.0.hypot(p.1) - 0.2f64.sqrt()).abs() < 0.01, "point {p:?} is off the circle");
    }
}

#[test]
fn dashes_follow_the_pattern_across_corners() {
    use super::dashed;
    let line = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)];
    assert_eq!(dashed(&line, &[]), [line.to_vec()], "solid is the whole line");
    let pieces = dashed(&line, &[4.0, 2.0]);
    let close = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9;
    let ends: Vec<((f64, f64), (f64, f64))> = pieces.iter().map(|p| (p[0], p[p.len() - 1])).collect();
    let want =
        [((0.0, 0.0), (4.0, 0.0)), ((6.0, 0.0), (10.0, 0.0)), ((10.0, 2.0), (10.0, 6.0)), ((10.0, 8.0), (10.0, 10.0))];
    assert_eq!(ends.len(), want.len(), "{pieces:?}");
    assert!(ends.iter().zip(&want).all(|(a, b)| close(a.0, b.0) && close(a.1, b.1)), "{pieces:?}");
    // A dash that turns the corner keeps the corner.
    let turning = dashed(&line, &[12.0, 1.0]);
    assert_eq!(turning[0], [(0.0, 0.0), (10.0, 0.0), (10.0, 2.0)]);
}
