//! The curves of JSON-lines training logs (`gradc plot`): a panel per logged quantity, the
//! validation set's beside the training set's, one colour per log. A quantity logged as an
//! object of named values (the gradient-health statistics, `"grad_norm": {"h1.w": ...}`) is one
//! panel with a colour per name and a dash pattern per log; gradient norms are drawn per layer
//! (the norm of all its parameters' gradients together), as vanishing and exploding gradients
//! are read.

use std::path::{Path, PathBuf};

use super::{Chart, Panel, Series};
use crate::diag::Diag;
use crate::ir::Stat;
use crate::runtime::errors;
use crate::runtime::health::layer_of;

/// The most bytes of one log `gradc plot` reads.
const MAX_LOG_BYTES: u64 = 1 << 30;

/// Draws the logs at `paths` into `<out>.svg` and `<out>.png`, which it returns.
pub fn plot_logs(paths: &[PathBuf], out: &Path) -> Result<[PathBuf; 2], Diag> {
    let mut logs = Vec::new();
    for path in paths {
        let bytes = crate::files::read_regular(path, MAX_LOG_BYTES).map_err(|r| errors::log_unreadable(path, r))?;
        let text = String::from_utf8(bytes).map_err(|_| errors::log_malformed(path, 0, "it is not UTF-8 text"))?;
        let mut lines = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| errors::log_malformed(path, i + 1, &e.to_string()))?;
            if !value.is_object() {
                return Err(errors::log_malformed(path, i + 1, "the line is not a JSON object"));
            }
            lines.push(value);
        }
        let label = path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned());
        logs.push((label, lines));
    }
    let files = [out.with_extension("svg"), out.with_extension("png")];
    for f in &files {
        crate::output::check(f).map_err(|e| errors::plot_unwritable(f, e))?;
    }
    super::line_chart(&log_chart(&logs), &files[0], &files[1]).map_err(|e| errors::plot_unwritable(&files[0], e))?;
    Ok(files)
}

/// Keys of a log line that are not curves: the x axis, flags, and the final line's test scores.
fn is_curve(key: &str) -> bool {
    !matches!(key, "step" | "final" | "non_finite") && !key.starts_with("test_")
}

/// The chart of `logs`, each `(label, lines)` with every line a JSON object of the log.
pub fn log_chart(logs: &[(String, Vec<serde_json::Value>)]) -> Chart {
    // Quantities in order of first appearance; `val_x` joins the panel of `x`.
    let mut keys: Vec<String> = Vec::new();
    for line in logs.iter().flat_map(|(_, lines)| lines) {
        let Some(object) = line.as_object() else { continue };
        for (key, value) in object {
            let base = key.strip_prefix("val_").unwrap_or(key);
            let plotted = value.is_number() || value.is_object();
            if is_curve(key) && plotted && !keys.iter().any(|k| k == base) {
                keys.push(base.to_string());
            }
        }
    }
    let step = |l: &serde_json::Value| l.get("step").and_then(serde_json::Value::as_f64);
    let points = |lines: &[serde_json::Value], key: &str| -> Vec<(f64, f64)> {
        lines
            .iter()
            .enumerate()
            // The final line summarises: its loss is over the whole training set, not a batch,
            // and at a step already logged it repeats that line.
            .filter(|(i, l)| {
                l.get("final").is_none() || (key != "loss" && !lines[..*i].iter().any(|o| step(o) == step(l)))
            })
            .filter_map(|(_, l)| Some((step(l)?, l.get(key)?.as_f64()?)))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect()
    };
    // A gradient norm is drawn as its layer's; other names are drawn as they are.
    let per_layer = |key: &str| key == Stat::GradNorm.key();
    let member_of =
        |key: &str, name: &'_ str| if per_layer(key) { layer_of(name).to_string() } else { name.to_string() };
    // The names inside an object-valued quantity, in order of first appearance.
    let members = |key: &str| -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for line in logs.iter().flat_map(|(_, lines)| lines) {
            let Some(object) = line.get(key).and_then(serde_json::Value::as_object) else { continue };
            for name in object.keys().map(|n| member_of(key, n)) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    };
    // A layer's norm from its parameters': the square root of the sum of their squares (none
    // if one of them is not a number).
    let member_value = |line: &serde_json::Value, key: &str, member: &str| -> Option<f64> {
        let object = line.get(key)?.as_object()?;
        if !per_layer(key) {
            return object.get(member)?.as_f64();
        }
        let parts: Vec<Option<f64>> =
            object.iter().filter(|(n, _)| layer_of(n) == member).map(|(_, v)| v.as_f64()).collect();
        let squares: Option<Vec<f64>> = parts.into_iter().map(|v| v.map(|x| x * x)).collect();
        squares.filter(|s| !s.is_empty()).map(|s| s.iter().sum::<f64>().sqrt())
    };
    let member_points = |lines: &[serde_json::Value], key: &str, member: &str| -> Vec<(f64, f64)> {
        let value = |l: &serde_json::Value| member_value(l, key, member);
        lines.iter().filter_map(|l| Some((step(l)?, value(l)?))).filter(|p| p.0.is_finite()).collect()
    };
    // The loss first and the learning rate last, as a reader looks for them; serde_json's
    // objects iterate in key order, which places the rest.
    keys.sort_by_key(|k| match k.as_str() {
        "loss" => 0,
        "lr" => 2,
        _ => 1,
    });
    let panels = keys
        .iter()
        .map(|key| {
            let mut series = Vec::new();
            let names = members(key);
            for (n, name) in names.iter().enumerate() {
                for (i, (label, lines)) in logs.iter().enumerate() {
                    let points = member_points(lines, key, name);
                    if !points.is_empty() {
                        let label = if logs.len() == 1 { name.clone() } else { format!("{label}: {name}") };
                        // The palette repeats after ten colours; the dash pattern tells those apart.
                        let dash = i + n / 10;
                        series.push(Series { label, points, diverged: false, colour: Some(n), dash });
                    }
                }
            }
            for (i, (label, lines)) in logs.iter().enumerate().filter(|_| names.is_empty()) {
                for (name, dash, suffix) in [(key.clone(), 0, ""), (format!("val_{key}"), 1, " (validation)")] {
                    let points = points(lines, &name);
                    if !points.is_empty() {
                        let label = format!("{label}{suffix}");
                        series.push(Series { label, points, diverged: false, colour: Some(i), dash });
                    }
                }
            }
            let values = || series.iter().flat_map(|s| &s.points).map(|p| p.1);
            let lo = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
            let spans_decades = lo.is_finite() && values().all(|v| v > 0.0) && values().fold(0.0, f64::max) / lo > 10.0;
            let title = if per_layer(key) { format!("{key} (per layer)") } else { key.clone() };
            Panel {
                title,
                x_label: "step".into(),
                y_label: key.clone(),
                // Losses and named statistics (gradient norms, update ratios) span decades.
                log_y: (key.ends_with("loss") || !names.is_empty()) && spans_decades,
                series,
                ..Panel::default()
            }
        })
        // A quantity that never changed (a constant learning rate) says nothing as a curve.
        .filter(|p: &Panel| {
            let mut values = p.series.iter().flat_map(|s| &s.points).map(|q| q.1);
            values.next().is_some_and(|first| values.any(|v| v != first))
        })
        .collect();
    Chart { title: "Training curves".into(), panels, empty: "nothing logged".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panel_per_quantity_with_validation_beside_training() {
        let line = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let lines = vec![
            line(r#"{"step": 1, "loss": 2.0, "lr": 0.1, "accuracy": 0.5, "val_loss": 2.5, "w": [1, 2]}"#),
            line(r#"{"step": 2, "loss": 0.1, "lr": 0.05, "accuracy": 0.9, "val_loss": 0.2, "w": [1, 2]}"#),
            line(r#"{"step": 2, "loss": 0.05, "lr": 0.05, "test_loss": 0.3, "final": true}"#),
        ];
        let chart = log_chart(&[("run".into(), lines)]);
        let titles: Vec<&str> = chart.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["loss", "accuracy", "lr"], "arrays, test scores and flags are not curves");
        let loss = &chart.panels[0];
        assert!(loss.log_y, "2.0 down to 0.1 spans a decade");
        let labels: Vec<&str> = loss.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["run", "run (validation)"]);
        assert_eq!(loss.series[0].points, [(1.0, 2.0), (2.0, 0.1)], "the final whole-set loss is not a batch's");
        assert_eq!(chart.panels[2].series[0].points, [(1.0, 0.1), (2.0, 0.05)]);
        let constant =
            vec![line(r#"{"step": 1, "loss": 2.0, "lr": 0.1}"#), line(r#"{"step": 2, "loss": 1.0, "lr": 0.1}"#)];
        let titles: Vec<String> = log_chart(&[("run".into(), constant)]).panels.into_iter().map(|p| p.title).collect();
        assert_eq!(titles, ["loss"], "a constant learning rate is no curve");
    }

    #[test]
    fn named_statistics_are_one_panel_with_a_series_per_name() {
        let line = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let lines = |scale: f64| {
            let first = format!(
                r#"{{"step": 10, "grad_norm": {{"h1.w": {}, "h1.b": 0.0, "out.w": 0.6, "out.b": 0.8}}, "dead_relu": {{"h1": 0.0}}}}"#,
                1e-4 * scale
            );
            vec![
                line(r#"{"step": 10, "loss": 2.0, "lr": 0.1}"#),
                line(&first),
                line(r#"{"step": 20, "loss": 1.0, "lr": 0.1}"#),
                line(
                    r#"{"step": 20, "grad_norm": {"h1.w": null, "h1.b": 1.0, "out.w": 0.5}, "dead_relu": {"h1": 0.0}}"#,
                ),
            ]
        };
        let chart = log_chart(&[("run".into(), lines(1.0))]);
        let titles: Vec<&str> = chart.panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["loss", "grad_norm (per layer)"], "a statistic that never changes is no curve");
        let norms = &chart.panels[1];
        assert!(norms.log_y, "1e-4 to 1 spans decades");
        let labels: Vec<&str> = norms.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["h1", "out"], "a series per layer");
        assert_eq!(norms.series[0].points, [(10.0, 1e-4)], "a null value is no point");
        assert_eq!(norms.series[1].points, [(10.0, 1.0), (20.0, 0.5)], "sqrt(0.6² + 0.8²) = 1");
        let two = log_chart(&[("a".into(), lines(1.0)), ("b".into(), lines(2.0))]);
        let styles: Vec<(&str, Option<usize>, usize)> =
            two.panels[1].series.iter().map(|s| (s.label.as_str(), s.colour, s.dash)).collect();
        assert_eq!(
            styles,
            [("a: h1", Some(0), 0), ("b: h1", Some(0), 1), ("a: out", Some(1), 0), ("b: out", Some(1), 1)]
        );
    }
}
