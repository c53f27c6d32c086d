//! The progress display: an indicatif bar on a terminal, plain lines elsewhere.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle as IndicatifStyle};

use super::format::{format_duration, format_loss, format_rate};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
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
}
