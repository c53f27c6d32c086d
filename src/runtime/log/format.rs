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

/// About three significant digits.
pub(super) fn format_rate(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else if rate >= 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}

/// `42s`, `3m07s` or `2h05m`, rounded to whole seconds.
pub(super) fn format_duration(secs: f64) -> String {
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
