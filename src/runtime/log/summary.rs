//! A finished run's report: the table `gradc run` prints, and its `--json` form.

use std::fmt::Write as _;

use super::format::{fmt_loss, fmt_param, fmt_wall};
use crate::runtime::train::{StopReason, Summary};
use crate::spec::ParamInfo;

/// Values of a tensor the JSON summary lists; it gives the first ones of a larger tensor.
const JSON_VALUES: usize = 8;

/// The summary as a table of names and values: the final loss, the metrics and test scores,
/// every parameter (`params` gives their shapes), the steps, why the run stopped, and the times.
pub fn table(s: &Summary, params: &[ParamInfo]) -> String {
    let names = s.metrics.iter().chain(&s.test).map(|(n, _)| n).chain(s.params.iter().map(|p| &p.0));
    // One column of names, as wide as the longest (`test_accuracy`, a parameter's).
    let w = names.map(|n| n.chars().count()).chain([12]).max().unwrap_or(12);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let mut line = |name: &str, value: String| writeln!(text, "{name:<w$} {value}").expect("write to String");
    line("final loss", fmt_loss(s.final_loss));
    for (name, value) in s.metrics.iter().chain(&s.test) {
        line(name, format!("{value:.4}"));
    }
    for (name, values) in &s.params {
        line(name, fmt_param(&shape_of(params, name, values), values));
    }
    line(
        "steps",
        match s.resumed {
            0 => s.steps.to_string(),
            from => format!("{} ({} in all, resumed at step {from})", s.steps, s.steps + from),
        },
    );
    if s.stopped != StopReason::Completed {
        line("stopped", s.stopped.to_string());
    }
    line("wall time", fmt_wall(s.wall));
    line("steps/s", format!("{:.0}", s.steps_per_sec()));
    line("compile time", format!("{:.1} ms", s.compile.as_secs_f64() * 1e3));
    if s.ranks > 1 {
        let share = 100.0 * s.summing.as_secs_f64() / s.wall.as_secs_f64().max(1e-9);
        line("ranks", format!("{}, {share:.1}% of rank 0's training time in sums over them", s.ranks));
    }
    text
}

/// The summary as one JSON object: `final_loss`, `metrics` and `test` (by name), `steps`,
/// `resumed_from`, `stopped` (a [`StopReason::code`]) and `stop_reason` (its wording), `wall_time_s`, `steps_per_sec`, `compile_time_s` and `params`
/// (each with its `shape`, `norm` and `values`, the first eight of a larger tensor). Numbers
/// are written as the log writes them, `null` when not finite.
pub fn json(s: &Summary, params: &[ParamInfo]) -> String {
    let scores = |list: &[(String, f64)]| {
        let entries: Vec<String> = list.iter().map(|(n, v)| format!("{}: {}", string(n), number(*v))).collect();
        format!("{{{}}}", entries.join(", "))
    };
    let param = |(name, values): &(String, Vec<f32>)| {
        let shape = shape_of(params, name, values);
        let norm = values.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
        let shown: Vec<String> = values.iter().take(JSON_VALUES).map(|v| number(f64::from(*v))).collect();
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        format!(
            "{}: {{\"shape\": [{}], \"norm\": {}, \"values\": [{}]}}",
            string(name),
            dims.join(", "),
            number(norm),
            shown.join(", ")
        )
    };
    let params: Vec<String> = s.params.iter().map(param).collect();
    // A distributed run says on how many ranks, and how long rank 0 spent summing over them.
    let ranks = match s.ranks {
        1 => String::new(),
        r => format!("\"ranks\": {r}, \"all_sum_s\": {}, ", s.summing.as_secs_f64()),
    };
    format!(
        "{{\"final_loss\": {}, \"metrics\": {}, \"test\": {}, \"steps\": {}, \"resumed_from\": {}, \
         \"stopped\": {}, \"stop_reason\": {}, \"wall_time_s\": {}, \"steps_per_sec\": {}, \"compile_time_s\": {}, {ranks}\"params\": {{{}}}}}\n",
        number(s.final_loss),
        scores(&s.metrics),
        scores(&s.test),
        s.steps,
        s.resumed,
        string(s.stopped.code()),
        string(&s.stopped.to_string()),
        s.wall.as_secs_f64(),
        s.steps_per_sec(),
        s.compile.as_secs_f64(),
        params.join(", ")
    )
}

/// The declared shape of the named parameter; flat if it is not declared (cannot happen for a
/// summary's parameters, which come from the same program).
fn shape_of(params: &[ParamInfo], name: &str, values: &[f32]) -> Vec<usize> {
    params.iter().find(|p| p.name == name).map_or_else(|| vec![values.len()], |p| p.shape.clone())
}

/// The shortest digits that read back as the same f32, or `null`.
fn number(x: f64) -> String {
    serde_json::to_string(&(x as f32)).unwrap_or_else(|_| "null".into())
}

/// A JSON string.
fn string(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).expect("a string serializes")
}
