//! Outbound events (docs/webhooks.md, "Events licd sends"): the body and signatures of an
//! event, the HTTP client that POSTs it, and the sender task that drains the store's webhook
//! outbox. The events themselves are queued by the store, in the transaction of the change
//! that makes them (`crate::store::events`).

pub mod body;
pub mod post;
pub mod sender;
pub mod signature;

use std::sync::atomic::{AtomicU64, Ordering};

/// The webhook counters of `/metrics`, kept by the sender task.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Events an endpoint answered with 2xx.
    pub delivered: AtomicU64,
    /// Attempts of events whose earlier attempt had failed.
    pub retried: AtomicU64,
    /// Events given up after `1 + webHookMaxRetries` failed attempts.
    pub dead: AtomicU64,
}

impl WebhookCounters {
    /// Adds one to `counter`.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (delivered, retried, dead) now.
    pub fn figures(&self) -> (u64, u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
            self.dead.load(Ordering::Relaxed),
        )
    }
}
