//! The curves of JSON-lines training logs (`gradc plot`): a panel per logged quantity, the
//! validation set's beside the training set's, one colour per log.

use std::path::{Path, PathBuf};

use super::{Chart, Panel, Series};
use crate::diag::Diag;
use crate::runtime::errors;

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
            if is_curve(key) && value.is_number() && !keys.iter().any(|k| k == base) {
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
            for (i, (label, lines)) in logs.iter().enumerate() {
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
            Panel {
                title: key.clone(),
                x_label: "step".into(),
                y_label: key.clone(),
                log_y: key.ends_with("loss") && spans_decades,
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
}
