//! Training output: a JSON-lines metrics log (serde_json) and a human-readable progress display
//! (an indicatif bar on a terminal, plain lines elsewhere).

mod csv;
mod format;
mod progress;
pub mod summary;

pub use csv::MetricsCsv;
pub use format::{fmt_loss, fmt_param, fmt_wall};
pub use progress::{terminal, Cadence, Point, Progress, ProgressTo};

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap};

use crate::ir::LogKey;

/// Writes one JSON object per logged step, e.g. `{"step": 10, "loss": 0.123, "lr": 0.001, "accuracy": 0.97}`.
///
/// Keys are always `step`, `loss`, `lr`, then the metrics (and any other hyper-parameter a
/// schedule sets, such as `momentum`) in the order given to [`MetricsLog::new`].
/// Numbers are printed by serde_json in their shortest form that parses back to the same f32
/// (`0.001`, `1.5e-7`, `3e+20`). JSON has no NaN
/// or infinity, so such values are written as `null` and the line gains a
/// `"non_finite": [...]` key listing them; [`MetricsLog::first_non_finite`] reports the first step.
/// Each line is flushed as it is written, so a crash or kill leaves only whole lines.
#[derive(Debug)]
pub struct MetricsLog<W: Write> {
    out: W,
    /// Metric names.
    keys: Vec<String>,
    /// Reused for each line.
    line: Vec<u8>,
    first_non_finite: Option<u64>,
}

impl<W: Write> MetricsLog<W> {
    /// A log writing to `out` whose lines carry the named metrics after `step`, `loss` and `lr`.
    ///
    /// # Panics
    /// If a metric name repeats or is `step`, `loss`, `lr` or `non_finite` (duplicate JSON keys).
    pub fn new(out: W, metrics: &[&str]) -> MetricsLog<W> {
        let mut taken: Vec<&str> = LogKey::ALL.iter().filter(|k| **k != LogKey::Final).map(|k| k.name()).collect();
        for &name in metrics {
            assert!(!taken.contains(&name), "metric name `{name}` is used twice or reserved");
            taken.push(name);
        }
        let keys = metrics.iter().map(|m| m.to_string()).collect();
        MetricsLog { out, keys, line: Vec::new(), first_non_finite: None }
    }

    /// Writes the line for one step; `metrics` are in the order of the names given to [`MetricsLog::new`].
    ///
    /// # Panics
    /// If `metrics` has a different length than the list of names.
    pub fn log(&mut self, step: u64, loss: f32, lr: f32, metrics: &[f32]) -> io::Result<()> {
        self.record(&Record { step, loss, lr, metrics, tested: &[], params: &[], last: false })
    }

    /// Writes one line: the step's numbers, the test set's scores if it has them, then each
    /// parameter (a number, or an array for a tensor), then `"final": true` on the line that
    /// closes a run.
    ///
    /// # Panics
    /// If `metrics` has a different length than the list of names, or a parameter is named like a key.
    pub fn record(&mut self, r: &Record<'_>) -> io::Result<()> {
        assert_eq!(r.metrics.len(), self.keys.len(), "one value per metric name");
        for (name, _) in r.params {
            assert!(!LogKey::ALL.iter().any(|k| k.name() == name), "parameter `{name}` shadows a key");
        }
        let named = [(LogKey::Loss.name(), r.loss), (LogKey::Lr.name(), r.lr)];
        let tested = r.tested.iter().map(|(n, v)| (n.as_str(), *v));
        let scalars =
            named.into_iter().chain(self.keys.iter().map(String::as_str).zip(r.metrics.iter().copied())).chain(tested);
        let params = r.params.iter().flat_map(|(n, vs)| vs.iter().map(move |v| (n.as_str(), *v)));
        let mut non_finite: Vec<&str> =
            scalars.clone().chain(params).filter(|(_, v)| !v.is_finite()).map(|(n, _)| n).collect();
        non_finite.dedup();
        let line = Line { step: r.step, scalars, params: r.params, last: r.last, non_finite: &non_finite };
        self.line.clear();
        line.serialize(&mut serde_json::Serializer::with_formatter(&mut self.line, Spaced))?;
        self.line.push(b'\n');
        if !non_finite.is_empty() {
            self.first_non_finite.get_or_insert(r.step);
        }
        self.out.write_all(&self.line)?;
        self.out.flush()
    }

    /// Writes the gradient-health statistics of one step as a line of its own: `step`, then for
    /// each statistic with values an object from parameter or layer name to value, e.g.
    /// `{"step": 50, "grad_norm": {"h1.w": 0.12}, "update_ratio": {"h1.w": 0.001}, "dead_relu": {"h1": 0.0}}`.
    /// A value that is not finite is `null`, and the line gains `non_finite` listing it as
    /// `<statistic>:<name>`.
    pub fn stats(&mut self, step: u64, groups: &[(&str, Vec<(String, f32)>)]) -> io::Result<()> {
        let mut non_finite: Vec<String> = Vec::new();
        for (key, values) in groups {
            non_finite.extend(values.iter().filter(|v| !v.1.is_finite()).map(|v| format!("{key}:{}", v.0)));
        }
        let line = StatsLine { step, groups, non_finite: &non_finite };
        self.line.clear();
        line.serialize(&mut serde_json::Serializer::with_formatter(&mut self.line, Spaced))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()
    }

    /// The first logged step at which some value was NaN or infinite.
    pub fn first_non_finite(&self) -> Option<u64> {
        self.first_non_finite
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One line of the log.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Steps taken.
    pub step: u64,
    /// The loss (of this step's batch, or over the data on the final line).
    pub loss: f32,
    /// The learning rate used.
    pub lr: f32,
    /// One value per metric name.
    pub metrics: &'a [f32],
    /// The test set's loss and metrics by name (`test_loss`, ...), on the line that closes a
    /// run with a test set; written after the metrics.
    pub tested: &'a [(String, f32)],
    /// Parameters to include, by name.
    pub params: &'a [(String, Vec<f32>)],
    /// Marks the line that closes a run.
    pub last: bool,
}

/// One line of the log in the order it is written: `step`, the scalars (loss, learning rate,
/// metrics), the parameters, `final` and `non_finite`.
struct Line<'a, 'n, I> {
    step: u64,
    scalars: I,
    params: &'a [(String, Vec<f32>)],
    last: bool,
    non_finite: &'n [&'a str],
}

impl<'a, I: Iterator<Item = (&'a str, f32)> + Clone> Serialize for Line<'a, '_, I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(LogKey::Step.name(), &self.step)?;
        for (key, value) in self.scalars.clone() {
            map.serialize_entry(key, &finite(value))?;
        }
        for (name, values) in self.params {
            match values.as_slice() {
                [v] => map.serialize_entry(name, &finite(*v))?,
                vs => map.serialize_entry(name, &vs.iter().map(|v| finite(*v)).collect::<Vec<_>>())?,
            }
        }
        if self.last {
            map.serialize_entry(LogKey::Final.name(), &true)?;
        }
        if !self.non_finite.is_empty() {
            map.serialize_entry(LogKey::NonFinite.name(), self.non_finite)?;
        }
        map.end()
    }
}

/// A line of gradient-health statistics ([`MetricsLog::stats`]).
struct StatsLine<'a> {
    step: u64,
    groups: &'a [(&'a str, Vec<(String, f32)>)],
    non_finite: &'a [String],
}

impl Serialize for StatsLine<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(LogKey::Step.name(), &self.step)?;
        for (key, values) in self.groups.iter().filter(|g| !g.1.is_empty()) {
            map.serialize_entry(key, &Named(values))?;
        }
        if !self.non_finite.is_empty() {
            map.serialize_entry(LogKey::NonFinite.name(), self.non_finite)?;
        }
        map.end()
    }
}

/// Values by name, serialised as a JSON object in their order.
struct Named<'a>(&'a [(String, f32)]);

impl Serialize for Named<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, v) in self.0 {
            map.serialize_entry(name, &finite(*v))?;
        }
        map.end()
    }
}

/// A value as JSON can hold it: `None` (written `null`) when it is NaN or infinite. serde_json
/// writes an f32 with its shortest round-trip digits.
fn finite(v: f32) -> Option<f32> {
    v.is_finite().then_some(v)
}

/// serde_json's compact output with a space after each `,` and `:`, as the log has always been
/// written (and as Python's `json.dumps` writes by default).
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.begin_array_value(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn metrics_lines_have_keys_in_order() {
        let mut log = MetricsLog::new(Vec::new(), &["accuracy", "val_loss"]);
        log.log(10, 0.123, 0.001, &[0.97, 0.25]).unwrap();
        log.log(20, 2.0, 1e-7, &[1.0, 3e20]).unwrap();
        assert_eq!(log.first_non_finite(), None);
        assert_eq!(
            text(log.into_inner()),
            "{\"step\": 10, \"loss\": 0.123, \"lr\": 0.001, \"accuracy\": 0.97, \"val_loss\": 0.25}\n\
             {\"step\": 20, \"loss\": 2.0, \"lr\": 1e-7, \"accuracy\": 1.0, \"val_loss\": 3e+20}\n"
        );
    }

    #[test]
    fn non_finite_values_are_null_and_flagged() {
        let mut log = MetricsLog::new(Vec::new(), &["acc"]);
        log.log(1, 0.5, 0.1, &[0.5]).unwrap();
        log.log(2, f32::NAN, 0.1, &[f32::INFINITY]).unwrap();
        log.log(3, f32::NEG_INFINITY, 0.1, &[0.5]).unwrap();
        assert_eq!(log.first_non_finite(), Some(2));
        let out = text(log.into_inner());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1],
            "{\"step\": 2, \"loss\": null, \"lr\": 0.1, \"acc\": null, \"non_finite\": [\"loss\", \"acc\"]}"
        );
        assert_eq!(lines[2], "{\"step\": 3, \"loss\": null, \"lr\": 0.1, \"acc\": 0.5, \"non_finite\": [\"loss\"]}");
    }

    #[test]
    fn floats_round_trip_exactly() {
        let mut rng = crate::rng::Rng::new(1);
        let mut specials =
            vec![0.0, -0.0, 1.0, -2.5, f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1e-45, 0.1, 1e-5, 9.99e15, 1e16];
        specials.extend((0..2000).map(|_| f32::from_bits(rng.next_u64() as u32)).filter(|v| v.is_finite()));
        for v in specials {
            let mut log = MetricsLog::new(Vec::new(), &[]);
            log.log(0, v, 1.0, &[]).unwrap();
            let line = text(log.into_inner());
            let s = line
                .trim_end()
                .strip_prefix("{\"step\": 0, \"loss\": ")
                .unwrap()
                .strip_suffix(", \"lr\": 1.0}")
                .unwrap();
            let back: f32 = s.parse().unwrap_or_else(|_| panic!("`{s}` does not parse"));
            assert_eq!(back.to_bits(), v.to_bits(), "{v:?} printed as {s}");
            // JSON numbers: no leading `+`, no bare `.5` or `5.`, no `inf`/`NaN`.
            assert!(!s.starts_with('+') && !s.starts_with('.') && !s.ends_with('.') && !s.contains("inf"), "{s}");
        }
    }

    #[test]
    fn metric_names_are_escaped() {
        let mut log = MetricsLog::new(Vec::new(), &["a\"b\\c\nd\te\u{1}é"]);
        log.log(0, 1.0, 1.0, &[0.5]).unwrap();
        let line = text(log.into_inner());
        assert!(line.contains(", \"a\\\"b\\\\c\\nd\\te\\u0001é\": 0.5}"), "{line}");
        let mut log = MetricsLog::new(Vec::new(), &["top \"5\""]);
        log.log(0, 1.0, 1.0, &[0.5]).unwrap();
        assert_eq!(text(log.into_inner()), "{\"step\": 0, \"loss\": 1.0, \"lr\": 1.0, \"top \\\"5\\\"\": 0.5}\n");
    }

    #[test]
    fn stats_lines_nest_values_by_name() {
        let mut log = MetricsLog::new(Vec::new(), &[]);
        let named = |vs: &[(&str, f32)]| vs.iter().map(|(n, v)| (n.to_string(), *v)).collect::<Vec<_>>();
        let groups = [
            ("grad_norm", named(&[("h1.w", 0.5), ("h1.b", 0.25)])),
            ("update_ratio", named(&[("h1.w", 1e-3), ("h1.b", f32::INFINITY)])),
            ("dead_relu", named(&[])),
        ];
        log.stats(50, &groups).unwrap();
        assert_eq!(
            text(log.into_inner()),
            "{\"step\": 50, \"grad_norm\": {\"h1.w\": 0.5, \"h1.b\": 0.25}, \
             \"update_ratio\": {\"h1.w\": 0.001, \"h1.b\": null}, \"non_finite\": [\"update_ratio:h1.b\"]}\n"
        );
    }

    #[test]
    #[should_panic(expected = "metric name `loss` is used twice or reserved")]
    fn reserved_metric_names_panic() {
        MetricsLog::new(Vec::new(), &["loss"]);
    }
}
