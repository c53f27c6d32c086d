//! The progress display: an indicatif bar on a terminal, plain lines elsewhere.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle as IndicatifStyle};

use super::format::{format_duration, format_loss};

/// Where a run shows its progress.
pub enum ProgressTo<'a> {
    /// An in-place bar on the terminal (stderr), fitted to its width: for people.
    Bar,
    /// A line every `every` steps (none if 0) plus one at the last step, to this writer: for
    /// logs and pipes.
    Lines(&'a mut dyn Write),
    /// A bar on the terminal (stderr) after this label, for one run among several (`compare`):
    /// steps only, and cleared when the run ends, for the caller to print its result.
    Labelled(String),
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

/// Shows training progress like Keras' `fit()`: the epoch, the step, the running mean of the
/// batch loss over the epoch, the metrics evaluated at that point, elapsed time and the time left.
#[derive(Debug)]
pub struct Progress<W: Write> {
    kind: Kind<W>,
    total: u64,
    /// Epochs the run ends after (counting a resumed run's), and every how many epochs a line
    /// is shown; `None` shows steps only (a run without data, or of one epoch).
    epochs: Option<(u64, u64)>,
    /// Steps in an epoch, the length of a bar (which is per epoch, as Keras' is, with epochs).
    epoch_len: u64,
    /// The step the current epoch began after.
    epoch_start: u64,
    start: Instant,
    /// The last step a line was printed for, so [`Progress::finish`] does not repeat it.
    last_step: Option<u64>,
    /// Whether the bar is cleared at the end ([`Progress::labelled`]) rather than left.
    transient: bool,
}

/// Where a run stands after an update.
#[derive(Debug, Clone, Copy)]
pub struct Point<'a> {
    /// Steps this run has taken.
    pub step: u64,
    /// The epoch the step is in, from 1.
    pub epoch: u64,
    /// Whether the step ended its epoch.
    pub epoch_done: bool,
    /// The mean batch loss of the epoch so far (the final loss, at the end).
    pub loss: f32,
    /// The metrics evaluated at this step by name (none if it evaluated nothing); a whole-set
    /// `loss` among them is left out, the line's loss being the batches'.
    pub metrics: &'a [(String, f64)],
}

impl Point<'_> {
    /// A point with only a step and a loss.
    pub fn step(step: u64, loss: f32) -> Point<'static> {
        Point { step, epoch: 1, epoch_done: false, loss, metrics: &[] }
    }
}

/// Which points a [`Progress`] shows besides the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// None.
    Never,
    /// Every this many steps.
    Steps(u64),
    /// The end of every this many epochs.
    Epochs(u64),
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
    /// Lines every `every` steps towards `total` (per epoch, with [`Progress::epochs`]),
    /// written to `out`; the clock starts now.
    pub fn lines(out: W, total: u64, every: u64) -> Progress<W> {
        Progress::with(Kind::Lines { out, every }, total)
    }

    /// A bar towards `total` drawn on `target` (the terminal: `ProgressDrawTarget::stderr()`).
    /// indicatif redraws it in place, throttled, and the `wide_bar` takes only the columns the
    /// numbers leave, so the line fits the terminal however narrow it is. With
    /// [`Progress::epochs`] the bar is per epoch, as Keras' is: when an epoch ends its line
    /// takes the bar's place and the next epoch's bar starts below it.
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

    /// Shows a line every `every` epochs (and at the last step), the run ending after epoch
    /// `epochs`, each of `epoch_len` steps (the bar's length).
    pub fn epochs(mut self, epochs: u64, every: u64, epoch_len: u64) -> Progress<W> {
        self.epochs = Some((epochs, every.max(1)));
        self.epoch_len = epoch_len.max(1);
        if let Kind::Bar(bar) = &self.kind {
            bar.set_length(self.epoch_len.min(self.total));
            bar.set_prefix(format!("Epoch {}/{epochs} ", 1));
        }
        self
    }

    fn with(kind: Kind<W>, total: u64) -> Progress<W> {
        Progress {
            kind,
            total,
            epochs: None,
            epoch_len: total,
            epoch_start: 0,
            start: Instant::now(),
            last_step: None,
            transient: false,
        }
    }

    /// Puts `label` before the bar, which is cleared when the run ends (see [`ProgressTo::Labelled`]).
    pub fn labelled(mut self, label: &str) -> Progress<W> {
        if let Kind::Bar(bar) = &self.kind {
            bar.set_prefix(format!("{label} "));
        }
        self.transient = true;
        self
    }

    /// Moves the bar to step `step` without redrawing its numbers: called at every step, so
    /// the bar moves smoothly while the numbers change at the logged ones.
    pub fn tick(&self, step: u64) {
        if let Kind::Bar(bar) = &self.kind {
            bar.set_position(self.bar_position(step));
        }
    }

    /// Where the bar stands at `step`: the step within the epoch when the bar is per epoch.
    fn bar_position(&self, step: u64) -> u64 {
        match self.epochs {
            Some(_) => (step - self.epoch_start.min(step)).min(self.epoch_len),
            None => step,
        }
    }

    /// Whether a line is shown for this point (so the run can evaluate its metrics for it).
    pub fn due(&self, p: &Point<'_>) -> bool {
        let hidden = matches!(self.kind, Kind::Hidden);
        !hidden
            && (p.step == self.total
                || match self.cadence() {
                    Cadence::Never => false,
                    Cadence::Epochs(every) => p.epoch_done && p.epoch.is_multiple_of(every),
                    Cadence::Steps(every) => p.step > 0 && p.step.is_multiple_of(every),
                })
    }

    /// Whether the end of every epoch needs the host: a bar per epoch restarts there.
    pub fn restarts_each_epoch(&self) -> bool {
        matches!(self.kind, Kind::Bar(_)) && self.epochs.is_some()
    }

    /// Which points besides the last step [`Progress::due`] shows.
    pub fn cadence(&self) -> Cadence {
        match (&self.kind, self.epochs) {
            (Kind::Hidden, _) | (Kind::Bar(_), None) => Cadence::Never,
            (_, Some((_, every))) => Cadence::Epochs(every),
            (Kind::Lines { every, .. }, None) => Cadence::Steps(*every),
        }
    }

    /// Reports where the run stands.
    pub fn update(&mut self, p: &Point<'_>) -> io::Result<()> {
        self.update_at(p, self.start.elapsed())
    }

    /// Like [`Progress::update`], with the time since the start given (deterministic for tests and replays).
    pub fn update_at(&mut self, p: &Point<'_>, elapsed: Duration) -> io::Result<()> {
        let due = self.due(p);
        match &self.kind {
            Kind::Lines { .. } if due => self.print_line(p, elapsed, true),
            Kind::Lines { .. } | Kind::Hidden => Ok(()),
            Kind::Bar(bar) => {
                let bar = bar.clone();
                bar.set_message(self.stats(p, elapsed, true));
                bar.set_position(self.bar_position(p.step));
                if self.epochs.is_some() && p.epoch_done {
                    if due {
                        bar.println(self.line(p, elapsed, true));
                        self.last_step = Some(p.step);
                    }
                    // The next epoch's bar, as long as the steps left allow.
                    self.epoch_start = p.step;
                    bar.set_position(0);
                    bar.set_length(self.epoch_len.min(self.total.saturating_sub(p.step)).max(1));
                    if let Some((epochs, _)) = self.epochs {
                        bar.set_prefix(format!("Epoch {}/{epochs} ", p.epoch + 1));
                    }
                }
                Ok(())
            }
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

    /// Shows the final state (unless the last step was just shown) at the step the run reached, without an ETA
    /// (nothing more will run), and ends the bar's line.
    pub fn finish(&mut self, p: &Point<'_>) -> io::Result<()> {
        self.finish_at(p, self.start.elapsed())
    }

    /// Like [`Progress::finish`], with the time since the start given.
    pub fn finish_at(&mut self, p: &Point<'_>, elapsed: Duration) -> io::Result<()> {
        match &self.kind {
            // A run that stopped early ends on a line without an ETA, even at a step just shown.
            Kind::Lines { .. } if self.last_step == Some(p.step) && p.step == self.total => Ok(()),
            Kind::Lines { .. } => self.print_line(p, elapsed, false),
            Kind::Bar(bar) if self.transient => {
                bar.finish_and_clear();
                Ok(())
            }
            // Per epoch, the last line takes the bar's place (unless the last step's was just printed).
            Kind::Bar(bar) if self.epochs.is_some() => {
                if self.last_step != Some(p.step) || p.step != self.total {
                    bar.println(self.line(p, elapsed, false));
                }
                bar.finish_and_clear();
                Ok(())
            }
            Kind::Bar(bar) => {
                bar.set_message(self.stats(p, elapsed, false));
                bar.set_position(p.step);
                // `abandon` keeps the position a run stopped at, where `finish` would fill the bar.
                bar.abandon();
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

    fn print_line(&mut self, p: &Point<'_>, elapsed: Duration, eta: bool) -> io::Result<()> {
        let line = self.line(p, elapsed, eta);
        self.last_step = Some(p.step);
        if let Kind::Lines { out, .. } = &mut self.kind {
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        Ok(())
    }

    /// `Epoch  3/20  step  36/240  loss 0.1234  accuracy 0.9700  elapsed 2s  ETA 11s`, without
    /// the epoch when the run shows steps only.
    fn line(&self, p: &Point<'_>, elapsed: Duration, eta: bool) -> String {
        let width = self.total.to_string().len();
        let mut line = match self.epochs {
            Some((epochs, _)) => {
                let w = epochs.to_string().len();
                format!("Epoch {:>w$}/{epochs}  ", p.epoch)
            }
            None => String::new(),
        };
        line += &format!("step {:>width$}/{}  loss {}", p.step, self.total, format_loss(p.loss));
        for (name, value) in p.metrics.iter().filter(|(n, _)| n != "loss") {
            line += &format!("  {name} {}", format_loss(*value as f32));
        }
        line + "  " + &self.times(p.step, elapsed, eta)
    }

    /// The bar's message: `loss 0.1234  elapsed 2s  ETA 11s` (the epoch is the bar's prefix).
    fn stats(&self, p: &Point<'_>, elapsed: Duration, eta: bool) -> String {
        format!("loss {}  {}", format_loss(p.loss), self.times(p.step, elapsed, eta))
    }

    /// `elapsed 2s  ETA 11s` (ETA `--` before the first step), or only the elapsed time.
    fn times(&self, step: u64, elapsed: Duration, eta: bool) -> String {
        let secs = elapsed.as_secs_f64();
        let spent = format!("elapsed {}", format_duration(secs));
        if !eta {
            return spent;
        }
        let left = if secs > 0.0 && step > 0 {
            format_duration(self.total.saturating_sub(step) as f64 * secs / step as f64)
        } else {
            "--".to_string()
        };
        format!("{spent}  ETA {left}")
    }
}

/// `Epoch 3/20 [####----] 12/50  loss 0.1234  elapsed 2s  ETA 11s` (the prefix only with epochs),
/// the bar as wide as the rest allows.
fn bar_style() -> Result<IndicatifStyle, indicatif::style::TemplateError> {
    Ok(IndicatifStyle::with_template("{prefix}[{wide_bar}] {pos}/{len}  {msg}")?.progress_chars("##-"))
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
            p.update_at(&Point::step(step, 1.0 / step as f32), Duration::from_millis(step * 20)).unwrap();
        }
        p.finish_at(&Point::step(250, 0.004), Duration::from_secs(5)).unwrap();
        assert_eq!(
            text(p.into_inner().unwrap()),
            "step 100/250  loss 0.0100  elapsed 2.0s  ETA 3.0s\n\
             step 200/250  loss 5.000e-3  elapsed 4.0s  ETA 1.0s\n\
             step 250/250  loss 4.000e-3  elapsed 5.0s  ETA 0.0s\n"
        );
    }

    #[test]
    fn progress_finish_prints_an_early_stop_without_an_eta() {
        let mut p = Progress::lines(Vec::new(), 10_000, 1000);
        p.update_at(&Point::step(0, f32::NAN), Duration::ZERO).unwrap();
        p.finish_at(&Point::step(42, f32::NAN), Duration::from_secs(3)).unwrap();
        assert_eq!(text(p.into_inner().unwrap()), "step    42/10000  loss NaN  elapsed 3.0s\n");
        let mut p = Progress::lines(Vec::new(), 5, 0);
        p.update_at(&Point::step(0, 1.0), Duration::ZERO).unwrap();
        p.finish_at(&Point::step(0, 1.0), Duration::ZERO).unwrap();
        assert_eq!(text(p.into_inner().unwrap()), "step 0/5  loss 1.0000  elapsed 0.0s\n");
    }

    #[test]
    fn progress_lines_per_epoch_show_metrics_and_stop_early() {
        let metrics = [("loss".to_string(), 9.0), ("accuracy".to_string(), 0.9), ("val_loss".to_string(), 0.5)];
        let mut p = Progress::lines(Vec::new(), 120, 7).epochs(12, 2, 10);
        for step in 1..=50 {
            let (epoch, epoch_done) = ((step - 1) / 10 + 1, step % 10 == 0);
            let point = Point { step, epoch, epoch_done, loss: 0.25, metrics: &metrics };
            assert_eq!(p.due(&point), epoch_done && epoch % 2 == 0, "step {step}");
            p.update_at(&point, Duration::from_millis(step * 100)).unwrap();
        }
        let end = Point { step: 50, epoch: 5, epoch_done: true, loss: 0.125, metrics: &metrics[1..2] };
        p.finish_at(&end, Duration::from_secs(5)).unwrap();
        assert_eq!(
            text(p.into_inner().unwrap()),
            "Epoch  2/12  step  20/120  loss 0.2500  accuracy 0.9000  val_loss 0.5000  elapsed 2.0s  ETA 10s\n\
             Epoch  4/12  step  40/120  loss 0.2500  accuracy 0.9000  val_loss 0.5000  elapsed 4.0s  ETA 8.0s\n\
             Epoch  5/12  step  50/120  loss 0.1250  accuracy 0.9000  elapsed 5.0s\n"
        );
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
                p.update_at(&Point::step(step, 1.0 / step as f32), Duration::from_millis(step)).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
            p.finish_at(&Point::step(100_000, 1.234e-5), Duration::from_secs(100)).unwrap();
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
    fn with_epochs_the_bar_is_per_epoch_and_each_epoch_ends_on_its_line() {
        let screen = std::sync::Arc::new(Screen { width: 100, ..Screen::default() });
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(Term(screen.clone())), 255);
        let mut p: Progress<Vec<u8>> = Progress::bar(25, target).epochs(3, 1, 10);
        for step in 1..=25 {
            let (epoch, epoch_done) = ((step - 1) / 10 + 1, step % 10 == 0);
            let point = Point { step, epoch, epoch_done, loss: 0.5, metrics: &[] };
            if epoch_done || step % 4 == 0 {
                p.update_at(&point, Duration::from_millis(step * 100)).unwrap();
            } else {
                p.tick(step);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        p.finish_at(&Point { step: 25, epoch: 3, epoch_done: false, loss: 0.25, metrics: &[] }, Duration::from_secs(3))
            .unwrap();
        let lines: Vec<String> = screen.lines.lock().unwrap().0.iter().filter(|l| !l.is_empty()).cloned().collect();
        let epochs: Vec<&String> = lines.iter().filter(|l| l.contains("  step ")).collect();
        assert_eq!(epochs.len(), 3, "one line per epoch: {lines:?}");
        assert!(epochs[0].starts_with("Epoch 1/3  step 10/25  loss 0.5000") && epochs[0].contains("ETA"), "{lines:?}");
        assert!(epochs[1].starts_with("Epoch 2/3  step 20/25"), "{lines:?}");
        assert!(epochs[2].starts_with("Epoch 3/3  step 25/25  loss 0.2500") && !epochs[2].contains("ETA"), "{lines:?}");
        let bars: Vec<&String> = lines.iter().filter(|l| l.contains("] ")).collect();
        let bar = |epoch: &str, at: &str| bars.iter().any(|b| b.starts_with(epoch) && b.contains(at));
        // (indicatif skips draws closer together than its rate, so not every step is seen.)
        assert!(bar("Epoch 1/3 [", "/10  loss 0.5000"), "the first epoch's bar: {bars:?}");
        assert!(bar("Epoch 2/3 [", "/10  loss"), "the second's: {bars:?}");
        assert!(bar("Epoch 3/3 [", "/5  loss"), "the last, shorter epoch's bar: {bars:?}");
        assert!(bars.iter().all(|b| !b.contains("/25")), "no bar for the whole run: {bars:?}");
    }
}
