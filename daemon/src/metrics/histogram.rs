//! A Prometheus histogram over fixed buckets, lock-free: one atomic add per observation.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts observations into fixed buckets.
///
/// Values are recorded as integers in a base unit (microseconds, commands) and rendered in
/// the Prometheus unit by dividing by `scale` (1e6 turns microseconds into seconds).
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds of the buckets, ascending, in the base unit; `+Inf` is implicit.
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    scale: f64,
}

impl Histogram {
    /// A histogram with these bucket bounds (base unit, ascending) rendered divided by `scale`.
    pub fn new(bounds: &'static [u64], scale: f64) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            scale,
        }
    }

    /// Records one observation of `value` (base unit).
    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&b| b < value);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of `name`; `labels` is empty or
    /// `key="value",…` without braces.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = match self.bounds.get(i) {
                Some(&b) => format_value(b as f64 / self.scale),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum.load(Ordering::Relaxed) as f64 / self.scale;
        let _ = writeln!(out, "{name}_sum{braces} {}", format_value(sum));
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// A float as Prometheus reads it, without a trailing `.0` on whole numbers.
fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inclusive_of_their_upper_bound() {
        let h = Histogram::new(&[1_000, 10_000], 1e6);
        h.observe(1_000);
        h.observe(5_000);
        h.observe(50_000);
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "method=\"a\"");
        assert!(
            out.contains("x_seconds_bucket{method=\"a\",le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{method=\"a\",le=\"0.01\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{method=\"a\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_sum{method=\"a\"} 0.056\n"), "{out}");
        assert!(out.contains("x_seconds_count{method=\"a\"} 3\n"), "{out}");
        assert_eq!(h.count(), 3);
    }

    #[test]
    fn unlabelled_histogram_renders_without_braces_on_sum_and_count() {
        let h = Histogram::new(&[1, 2], 1.0);
        h.observe(2);
        let mut out = String::new();
        h.render(&mut out, "batch", "");
        assert!(out.contains("batch_bucket{le=\"1\"} 0\n"), "{out}");
        assert!(out.contains("batch_bucket{le=\"2\"} 1\n"), "{out}");
        assert!(out.contains("batch_sum 2\n"), "{out}");
        assert!(out.contains("batch_count 1\n"), "{out}");
    }
}
