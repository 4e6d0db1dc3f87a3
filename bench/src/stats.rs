//! Latency samples, percentiles, and the daemon's resident memory.

use std::time::Duration;

/// What one client measured.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Latency of every successful request, microseconds.
    pub latencies_us: Vec<u32>,
    /// Requests answered with `<error>`, a non-200 status, a wrong body or a transport error.
    pub errors: u64,
    /// The first error seen, to show what went wrong.
    pub first_error: Option<String>,
}

impl ClientStats {
    /// Records one failed request.
    pub fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// The figures of a run.
pub struct Report {
    /// Successful requests per second.
    pub rps: f64,
    /// Latency percentiles.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// First error message, if any.
    pub first_error: Option<String>,
    /// How long the load ran.
    pub elapsed: Duration,
}

/// Merges the clients' samples over `elapsed`.
pub fn summarise(clients: Vec<ClientStats>, elapsed: Duration) -> Report {
    let mut all: Vec<u32> = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for c in clients {
        all.extend(c.latencies_us);
        errors += c.errors;
        first_error = first_error.or(c.first_error);
    }
    all.sort_unstable();
    let pct = |p: f64| -> Duration {
        if all.is_empty() {
            return Duration::ZERO;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        Duration::from_micros(u64::from(all[i]))
    };
    Report {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
        max: all
            .last()
            .map_or(Duration::ZERO, |m| Duration::from_micros(u64::from(*m))),
        ok: all.len() as u64,
        errors,
        first_error,
        elapsed,
    }
}

/// `VmRSS` of a process in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let c = ClientStats {
            latencies_us: (1..=100).collect(),
            ..Default::default()
        };
        let r = summarise(vec![c], Duration::from_secs(2));
        assert_eq!(r.p50, Duration::from_micros(50));
        assert_eq!(r.p99, Duration::from_micros(99));
        assert_eq!(r.max, Duration::from_micros(100));
        assert_eq!(r.rps, 50.0);
    }
}
