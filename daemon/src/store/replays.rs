//! The replay memory: a change made for a replay id is remembered with its outcome, in the
//! same write transaction as the change, so that a repeat of the id is answered with the
//! first outcome and changes nothing.
//!
//! A replay id names one signed request from outside (a body-signing plugin's signature, a
//! webhook's event id). Because the row is written by the writer inside the transaction of the
//! change, a crash can never leave a change without its row, nor a row without its change;
//! and a refused change writes no row, so a retry after a failure runs again.
//!
//! The memory is bounded: a row older than [`REPLAY_DAYS`] is dropped, and past
//! [`MAX_REPLAYS`] rows the oldest go first. The writer prunes in each batch that remembers
//! something and at least hourly otherwise, at most [`PRUNE_PER_BATCH`] rows at a time so a
//! batch never waits on a large clean-up. A row past its 30 days but not yet pruned is still
//! honoured: answering a late repeat with its first outcome is never worse than changing twice.

use crate::license::dates::SECONDS_PER_DAY;

/// How long a replay id is remembered, in days.
pub const REPLAY_DAYS: i64 = 30;

/// Seconds a replay id is remembered.
pub const REPLAY_SECONDS: i64 = REPLAY_DAYS * SECONDS_PER_DAY;

/// The most rows the memory keeps; past it the oldest are dropped. At roughly 1 KiB a row
/// (the outcome holds the licences changed) this bounds the memory near 100 MiB, and covers
/// more than 3,000 remembered changes a day for the whole 30 days.
pub const MAX_REPLAYS: u64 = 100_000;

/// The most rows one batch prunes.
pub const PRUNE_PER_BATCH: usize = 1_000;

/// Which replay a change is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayKey {
    /// The vendor, lower case (vendor names are compared ignoring case).
    pub vendor: String,
    /// The replay id, as the plugin wrote it.
    pub id: String,
    /// The method the request called: a repeat through another method is not answered with
    /// this outcome (see `crate::plugins::replay`).
    pub method: String,
}

impl ReplayKey {
    /// The key of `id` from `vendor` (any case) for `method`.
    pub fn new(vendor: &str, id: &str, method: &str) -> ReplayKey {
        ReplayKey {
            vendor: vendor.to_lowercase(),
            id: id.to_string(),
            method: method.to_string(),
        }
    }
}
