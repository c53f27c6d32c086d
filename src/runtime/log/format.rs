//! Numbers and durations as the progress display and the summaries print them.

use std::time::Duration;

/// Four decimals in the usual range, scientific notation for tiny or huge losses.
pub(super) fn format_loss(loss: f32) -> String {
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

/// `0.4s` (tenths under ten seconds, so a short run's times are not all `0s`), `42s`, `3m07s`
/// or `2h05m`.
pub(super) fn format_duration(secs: f64) -> String {
    if secs < 9.95 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// Values of a tensor a summary prints in full; larger ones are summarised.
const IN_FULL: usize = 8;

/// A parameter for a summary: a scalar as a number, a tensor of at most eight values as its
/// shape and every value, a larger one as its shape, norm and first values.
pub fn fmt_param(shape: &[usize], values: &[f32]) -> String {
    let list = |vs: &[f32]| vs.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(", ");
    let dims = shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    match values {
        [v] if shape.iter().all(|d| *d == 1) => format!("{v:.6}"),
        vs if vs.len() <= IN_FULL => format!("[{dims}]  [{}]", list(vs)),
        vs => {
            let norm = vs.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
            format!("[{dims}]  norm {norm:.4}  first [{}, ...]", list(&vs[..4]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_print_in_full_or_summarised() {
        assert_eq!(fmt_param(&[], &[1.5]), "1.500000");
        assert_eq!(fmt_param(&[1], &[-2.0]), "-2.000000");
        assert_eq!(fmt_param(&[3, 1], &[1.0, -2.5, 0.25]), "[3, 1]  [1.000000, -2.500000, 0.250000]");
        let big: Vec<f32> = (0..9).map(|i| i as f32).collect();
        // sqrt(0² + 1² + ... + 8²) = sqrt(204).
        assert_eq!(fmt_param(&[9], &big), "[9]  norm 14.2829  first [0.000000, 1.000000, 2.000000, 3.000000, ...]");
    }

    #[test]
    fn durations_and_losses_format_compactly() {
        assert_eq!(format_duration(0.44), "0.4s");
        assert_eq!(format_duration(9.96), "10s");
        assert_eq!(format_duration(59.6), "1m00s");
        assert_eq!(format_duration(187.0), "3m07s");
        assert_eq!(format_duration(7500.0), "2h05m");
        assert_eq!(format_loss(0.0), "0.0000");
        assert_eq!(format_loss(123456.0), "1.235e5");
        assert_eq!(format_loss(f32::INFINITY), "inf");
    }
}
