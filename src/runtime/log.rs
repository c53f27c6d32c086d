//! Training output: a JSON-lines metrics log (serde_json) and a human-readable progress display
//! (an indicatif bar on a terminal, plain lines elsewhere).

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle as IndicatifStyle};
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

/// Where a run shows its progress.
pub enum ProgressTo<'a> {
    /// An in-place bar on the terminal (stderr), fitted to its width: for people.
    Bar,
    /// A line every `every` steps (none if 0) plus one at the last step, to this writer: for
    /// logs and pipes.
    Lines(&'a mut dyn Write),
    /// Nowhere.
    Hidden,
}

impl ProgressTo<'_> {
    /// The bar if stderr is a terminal, else lines to `stderr`.
    pub fn stderr(stderr: &mut io::Stderr) -> ProgressTo<'_> {
        if stderr.is_terminal() {
            ProgressTo::Bar
        } else {
            ProgressTo::Lines(stderr)
        }
    }
}

/// Shows training progress: step/total, loss, steps per second and the estimated time left.
#[derive(Debug)]
pub struct Progress<W: Write> {
    kind: Kind<W>,
    total: u64,
    start: Instant,
    /// The last step a line was printed for, so [`Progress::finish`] does not repeat it.
    last_step: Option<u64>,
}

/// How a [`Progress`] shows itself.
#[derive(Debug)]
enum Kind<W: Write> {
    Lines { out: W, every: u64 },
    Bar(ProgressBar),
    Hidden,
}

/// Redraws of the bar per second, at most.
const REDRAWS_PER_SEC: u8 = 10;

impl<W: Write> Progress<W> {
    /// Lines every `every` steps towards `total`, written to `out`; the clock starts now.
    pub fn lines(out: W, total: u64, every: u64) -> Progress<W> {
        Progress::with(Kind::Lines { out, every }, total)
    }

    /// A bar towards `total` drawn on `target` (the terminal: `ProgressDrawTarget::stderr()`).
    /// indicatif redraws it in place, throttled, and the `wide_bar` takes only the columns the
    /// numbers leave, so the line fits the terminal however narrow it is.
    pub fn bar(total: u64, target: ProgressDrawTarget) -> Progress<W> {
        let bar = ProgressBar::with_draw_target(Some(total), target);
        // The template is a constant that parses (a test constructs it).
        bar.set_style(bar_style().expect("the bar template parses"));
        Progress::with(Kind::Bar(bar), total)
    }

    /// Progress that shows nothing.
    pub fn hidden(total: u64) -> Progress<W> {
        Progress::with(Kind::Hidden, total)
    }

    fn with(kind: Kind<W>, total: u64) -> Progress<W> {
        Progress { kind, total, start: Instant::now(), last_step: None }
    }

    /// Reports that `step` steps are done and the latest loss.
    pub fn update(&mut self, step: u64, loss: f32) -> io::Result<()> {
        self.update_at(step, loss, self.start.elapsed())
    }

    /// Like [`Progress::update`], with the time since the start given (deterministic for tests and replays).
    pub fn update_at(&mut self, step: u64, loss: f32, elapsed: Duration) -> io::Result<()> {
        match &self.kind {
            Kind::Lines { every, .. } => {
                if step == self.total || (step > 0 && step.is_multiple_of(*every)) {
                    self.print_line(step, loss, elapsed)?;
                }
                Ok(())
            }
            Kind::Bar(bar) => {
                bar.set_message(self.stats(step, loss, elapsed));
                bar.set_position(step);
                Ok(())
            }
            Kind::Hidden => Ok(()),
        }
    }

    /// Shows a line of text above the progress, e.g. a note about the checkpoint the run starts from.
    pub fn note(&mut self, text: &str) -> io::Result<()> {
        match &mut self.kind {
            Kind::Lines { out, .. } => {
                writeln!(out, "{text}")?;
                out.flush()
            }
            Kind::Bar(bar) => {
                bar.println(text);
                Ok(())
            }
            Kind::Hidden => Ok(()),
        }
    }

    /// Shows the final state (unless just shown) and ends the bar's line.
    pub fn finish(&mut self, step: u64, loss: f32) -> io::Result<()> {
        self.finish_at(step, loss, self.start.elapsed())
    }

    /// Like [`Progress::finish`], with the time since the start given.
    pub fn finish_at(&mut self, step: u64, loss: f32, elapsed: Duration) -> io::Result<()> {
        match &self.kind {
            Kind::Lines { .. } if self.last_step == Some(step) => Ok(()),
            Kind::Lines { .. } => self.print_line(step, loss, elapsed),
            Kind::Bar(bar) => {
                bar.set_message(self.stats(step, loss, elapsed));
                bar.set_position(step);
                bar.finish();
                Ok(())
            }
            Kind::Hidden => Ok(()),
        }
    }

    /// The writer of a [`Progress::lines`].
    pub fn into_inner(self) -> Option<W> {
        match self.kind {
            Kind::Lines { out, .. } => Some(out),
            Kind::Bar(_) | Kind::Hidden => None,
        }
    }

    fn print_line(&mut self, step: u64, loss: f32, elapsed: Duration) -> io::Result<()> {
        let width = self.total.to_string().len();
        let line = format!("step {step:>width$}/{}  {}", self.total, self.stats(step, loss, elapsed));
        self.last_step = Some(step);
        if let Kind::Lines { out, .. } = &mut self.kind {
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        Ok(())
    }

    /// `loss 0.1234  56.7 steps/s  ETA 1m05s`.
    fn stats(&self, step: u64, loss: f32, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        let (rate, eta) = if secs > 0.0 && step > 0 {
            let rate = step as f64 / secs;
            let left = self.total.saturating_sub(step) as f64 / rate;
            (format_rate(rate), format_duration(left))
        } else {
            ("--".to_string(), "--".to_string())
        };
        format!("loss {}  {rate} steps/s  ETA {eta}", format_loss(loss))
    }
}

/// `[####----] 12/50  loss 0.1234  56.7 steps/s  ETA 1m05s`, the bar as wide as the rest allows.
fn bar_style() -> Result<IndicatifStyle, indicatif::style::TemplateError> {
    Ok(IndicatifStyle::with_template("[{wide_bar}] {pos}/{len}  {msg}")?.progress_chars("##-"))
}

/// The terminal's draw target for [`Progress::bar`], redrawn at most ten times a second.
pub fn terminal() -> ProgressDrawTarget {
    ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SEC)
}

/// Four decimals in the usual range, scientific notation for tiny or huge losses.
fn format_loss(loss: f32) -> String {
    let a = loss.abs();
    if !loss.is_finite() || a == 0.0 || (1e-2..1e5).contains(&a) {
        format!("{loss:.4}")
    } else {
        format!("{loss:.3e}")
    }
}

/// A loss for a summary: six decimals, in scientific notation once the loss is small.
pub fn fmt_loss(loss: f64) -> String {
    if loss != 0.0 && loss.abs() < 1e-3 {
        format!("{loss:.3e}")
    } else {
        format!("{loss:.6}")
    }
}

/// A wall time for a summary: milliseconds under one second, else seconds.
pub fn fmt_wall(wall: Duration) -> String {
    let secs = wall.as_secs_f64();
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// About three significant digits.
fn format_rate(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}

/// `42s`, `3m07s` or `2h05m`, rounded to whole seconds.
fn format_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
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
    #[should_panic(expected = "metric name `loss` is used twice or reserved")]
    fn reserved_metric_names_panic() {
        MetricsLog::new(Vec::new(), &["loss"]);
    }

    #[test]
    fn progress_lines_every_n_steps() {
        let mut p = Progress::lines(Vec::new(), 250, 100);
        for step in 1..=250 {
            p.update_at(step, 1.0 / step as f32, Duration::from_millis(step * 20)).unwrap();
        }
        p.finish_at(250, 0.004, Duration::from_secs(5)).unwrap();
        assert_eq!(
            text(p.into_inner().unwrap()),
            "step 100/250  loss 0.0100  50.0 steps/s  ETA 3s\n\
             step 200/250  loss 5.000e-3  50.0 steps/s  ETA 1s\n\
             step 250/250  loss 4.000e-3  50.0 steps/s  ETA 0s\n"
        );
    }

    #[test]
    fn progress_finish_prints_an_early_stop() {
        let mut p = Progress::lines(Vec::new(), 10_000, 1000);
        p.update_at(0, f32::NAN, Duration::ZERO).unwrap();
        p.finish_at(42, f32::NAN, Duration::from_secs(3)).unwrap();
        assert_eq!(text(p.into_inner().unwrap()), "step    42/10000  loss NaN  14.0 steps/s  ETA 11m51s\n");
        let mut p = Progress::lines(Vec::new(), 5, 0);
        p.finish_at(0, 1.0, Duration::ZERO).unwrap();
        assert_eq!(text(p.into_inner().unwrap()), "step 0/5  loss 1.0000  -- steps/s  ETA --\n");
    }

    /// A terminal of fixed width that records what is drawn on it.
    #[derive(Debug, Default)]
    struct Screen {
        width: u16,
        /// Every line written, and how many times a line was cleared or the cursor moved up to
        /// redraw in place.
        lines: std::sync::Mutex<(Vec<String>, usize)>,
    }

    /// A handle on a shared [`Screen`], for indicatif to own.
    #[derive(Debug)]
    struct Term(std::sync::Arc<Screen>);

    impl indicatif::TermLike for Term {
        fn width(&self) -> u16 {
            self.0.width
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            self.0.lines.lock().unwrap().1 += n;
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.0.lines.lock().unwrap().0.push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.write_line(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.0.lines.lock().unwrap().1 += 1;
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_bar_fits_a_narrow_terminal() {
        bar_style().expect("the template parses");
        for width in [60, 100] {
            let screen = std::sync::Arc::new(Screen { width, ..Screen::default() });
            // No rate limit, so every update draws: the worst case for wrapping.
            let target = ProgressDrawTarget::term_like_with_hz(Box::new(Term(screen.clone())), 255);
            let mut p: Progress<Vec<u8>> = Progress::bar(100_000, target);
            for step in [1, 10, 5000, 99_999] {
                p.update_at(step, 1.0 / step as f32, Duration::from_millis(step)).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
            p.finish_at(100_000, 1.234e-5, Duration::from_secs(100)).unwrap();
            let lines: Vec<String> = screen.lines.lock().unwrap().0.iter().filter(|l| !l.is_empty()).cloned().collect();
            assert!(lines.len() >= 2, "{lines:?}");
            let last = lines.last().unwrap();
            assert!(last.starts_with("[#") && last.contains("] 100000/100000  loss 1.234e-5"), "{last}");
            for line in &lines {
                let cols = line.chars().count();
                assert!(cols <= width as usize, "{cols} columns on a {width}-column terminal: {line:?}");
            }
            assert!(lines.iter().all(|l| !l.contains('\n')), "one line per draw: {lines:?}");
            // Each redraw after the first returns to the bar's line rather than starting a new one.
            assert!(screen.lines.lock().unwrap().1 >= lines.len() - 1, "redrawn in place");
        }
    }

    #[test]
    fn durations_rates_and_losses_format_compactly() {
        assert_eq!(format_duration(0.4), "0s");
        assert_eq!(format_duration(59.6), "1m00s");
        assert_eq!(format_duration(187.0), "3m07s");
        assert_eq!(format_duration(7500.0), "2h05m");
        assert_eq!(format_rate(1234.5), "1234");
        assert_eq!(format_rate(5.678), "5.68");
        assert_eq!(format_loss(0.0), "0.0000");
        assert_eq!(format_loss(123456.0), "1.235e5");
        assert_eq!(format_loss(f32::INFINITY), "inf");
    }
}
