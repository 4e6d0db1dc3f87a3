//! E-mail: templates, and the sender task that delivers the store's outbox over SMTP
//! (docs/mail.md).

pub mod retry;
pub mod sender;
pub mod smtp;
pub mod template;

use std::sync::atomic::{AtomicU64, Ordering};

/// The mail counters of `/metrics`, kept by the sender task.
#[derive(Debug, Default)]
pub struct MailCounters {
    /// Messages the SMTP server accepted.
    pub sent: AtomicU64,
    /// Delivery attempts of a message whose earlier attempt had failed.
    pub retried: AtomicU64,
    /// Delivery attempts that failed (the message stays in the outbox).
    pub failed: AtomicU64,
}

impl MailCounters {
    /// Adds one to `counter`.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (sent, retried, failed) now.
    pub fn figures(&self) -> (u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
