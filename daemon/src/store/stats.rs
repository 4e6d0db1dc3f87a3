//! What the writer thread reports about its commits, for `/metrics` and the watchdog.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::metrics::Histogram;

/// Bucket bounds of the batch-size histogram: commands per commit, up to the batch limit.
const BATCH_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/// Bucket bounds of the commit-latency histogram, in microseconds (0.1 ms to 1 s): an fsync
/// costs ~0.3 ms on an SSD and 1–10 ms on disks without power-loss protection.
const COMMIT_BOUNDS: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

/// Commit statistics, written by the writer thread and read by anyone.
#[derive(Debug)]
pub struct StoreStats {
    /// Commands applied per committed batch.
    pub batch_size: Histogram,
    /// Time from beginning the write transaction to the end of its durable commit.
    pub commit_latency: Histogram,
    /// Milliseconds after `epoch` when the last commit ended (0: none yet).
    last_commit_ms: AtomicU64,
    epoch: Instant,
}

impl StoreStats {
    pub(crate) fn new() -> Self {
        StoreStats {
            batch_size: Histogram::new(BATCH_BOUNDS, 1.0),
            commit_latency: Histogram::new(COMMIT_BOUNDS, 1e6),
            last_commit_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Records a commit of `commands` commands that began at `began`.
    pub(crate) fn record_commit(&self, commands: usize, began: Instant) {
        let now = Instant::now();
        self.batch_size.observe(commands as u64);
        self.commit_latency
            .observe(now.duration_since(began).as_micros() as u64);
        let ms = now.duration_since(self.epoch).as_millis() as u64;
        self.last_commit_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// Whether a commit ended within `window` before now.
    pub(crate) fn committed_within(&self, window: std::time::Duration) -> bool {
        let last = self.last_commit_ms.load(Ordering::Relaxed);
        if last == 0 {
            return false;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        now.saturating_sub(last) <= window.as_millis() as u64
    }
}
