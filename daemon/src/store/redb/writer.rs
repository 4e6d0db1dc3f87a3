//! The single writer thread: group commit.
//!
//! redb allows one write transaction at a time and every durable commit costs an fsync
//! (~0.3 ms here). Handlers therefore never write: they queue a command, and this thread
//! takes everything waiting (up to `batch_max`), applies it in order in one transaction,
//! commits once with `Durability::Immediate`, and only then answers each caller. Under load
//! one fsync serves hundreds of changes; alone, a change waits for nothing but its own fsync.
//!
//! A failed commit fails every command of its batch (code 3000, nothing applied); the
//! thread then reopens the database, and while it does readers get 503. If the file cannot
//! be reopened the process exits non-zero so that the service manager restarts it.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Durability, ReadableTable};
use tokio::sync::oneshot;

use super::Shared;
use super::jobs::{Answer, Job, Ran};
use super::lazy::LazyUpdates;
use super::replays;
use super::tables::{BATCH_SEQ, COUNTERS};
use super::tx::RedbTx;
use crate::store::StoreError;
use crate::store::StoreOptions;

/// What the writer's queue carries.
// The queue's slots were Job-sized before pings existed; boxing jobs to shrink the rare
// ping would add an allocation to every write instead.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Task {
    /// A command to apply.
    Job(Box<dyn Job>),
    /// A liveness probe, answered as soon as the writer takes it from the queue.
    Ping(oneshot::Sender<()>),
}

/// How long a reopen after a failed commit may take before the process gives up.
const REOPEN_PATIENCE: Duration = Duration::from_secs(10);

/// How often the replay memory is pruned when no batch remembers anything.
const REPLAY_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

pub(crate) fn spawn(
    shared: Arc<Shared>,
    options: &StoreOptions,
) -> Result<(SyncSender<Task>, JoinHandle<()>), StoreError> {
    let (tx, rx) = sync_channel(options.queue_depth);
    let batch_max = options.batch_max.max(1);
    let flush = options.lazy_flush;
    let handle = std::thread::Builder::new()
        .name("licd-writer".into())
        .spawn(move || run(&shared, &rx, batch_max, flush))
        .map_err(|e| StoreError::Setup(format!("cannot start the writer thread: {e}")))?;
    Ok((tx, handle))
}

fn run(shared: &Shared, rx: &Receiver<Task>, batch_max: usize, flush: Duration) {
    let mut writer = Writer {
        shared,
        batch_seq: None,
        pruned_at: None,
    };
    let mut last_flush = Instant::now();
    loop {
        let first = match rx.recv_timeout(flush) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch: Vec<Box<dyn Job>> = Vec::new();
        let mut take = |task| match task {
            Task::Job(job) => batch.push(job),
            // A caller that gave up waiting needs no answer.
            Task::Ping(answer) => drop(answer.send(())),
        };
        if let Some(task) = first {
            take(task);
        }
        for _ in 1..batch_max {
            match rx.try_recv() {
                Ok(task) => take(task),
                Err(_) => break,
            }
        }
        let lazy = if last_flush.elapsed() >= flush {
            last_flush = Instant::now();
            shared.take_lazy()
        } else {
            LazyUpdates::new()
        };
        if batch.is_empty() && lazy.is_empty() {
            continue;
        }
        writer.commit_batch(batch, &lazy);
    }
    // Shutdown: every sender is gone and the queue is drained; write what is pending.
    let lazy = shared.take_lazy();
    if !lazy.is_empty() {
        writer.commit_batch(Vec::new(), &lazy);
    }
}

struct Writer<'a> {
    shared: &'a Shared,
    /// Number of the last committed batch, read from the file when first needed.
    batch_seq: Option<i64>,
    /// When the replay memory was last pruned (`None`: not yet).
    pruned_at: Option<Instant>,
}

impl Writer<'_> {
    fn commit_batch(&mut self, batch: Vec<Box<dyn Job>>, lazy: &LazyUpdates) {
        let mut replies: Vec<Box<dyn Answer>> = Vec::with_capacity(batch.len());
        let mut seq = None;
        let began = Instant::now();
        let result = self.try_commit(batch, lazy, &mut replies, &mut seq);
        let applied = match result {
            Ok(()) => {
                self.shared.stats.record_commit(replies.len(), began);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, commands = replies.len(), "commit failed");
                // An fsync error can leave the commit in the file anyway (its header was
                // written before the sync failed), so the reopened file decides what the
                // callers are told: never "nothing was changed" about a change that exists.
                let applied = !matches!(e, StoreError::Unavailable)
                    && reopen(self.shared).is_some_and(|found| Some(found) == seq);
                if !applied {
                    self.batch_seq = None;
                }
                applied
            }
        };
        if applied {
            self.batch_seq = seq;
        }
        for reply in replies {
            reply.send(if applied {
                Ok(())
            } else {
                Err(StoreError::NotStored)
            });
        }
    }

    fn try_commit(
        &mut self,
        batch: Vec<Box<dyn Job>>,
        lazy: &LazyUpdates,
        replies: &mut Vec<Box<dyn Answer>>,
        seq: &mut Option<i64>,
    ) -> Result<(), StoreError> {
        let db = self.shared.db()?;
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Setup(e.to_string()))?;
        let next = {
            let mut counters = txn.open_table(COUNTERS)?;
            let current = match self.batch_seq {
                Some(s) => s,
                None => counters.get(BATCH_SEQ)?.map_or(0, |v| v.value()),
            };
            counters.insert(BATCH_SEQ, current + 1)?;
            current + 1
        };
        *seq = Some(next);
        let now = Instant::now();
        let prune_replays = batch.iter().any(|job| job.remembers())
            || self
                .pruned_at
                .is_none_or(|at| at.elapsed() >= REPLAY_PRUNE_INTERVAL);
        // A flush of lazy bookkeeping alone opens no command tables.
        if !batch.is_empty() {
            let mut tx = RedbTx::open(&txn)?;
            for job in batch {
                if now > job.deadline() {
                    replies.push(job.too_late());
                    continue;
                }
                match job.run(&mut tx) {
                    Ran::Done(answer) => replies.push(answer),
                    Ran::Failed(answer, e) => {
                        replies.push(answer);
                        // Dropping the transaction aborts it: nothing of the batch is applied.
                        *seq = None;
                        return Err(e);
                    }
                }
            }
        }
        super::lazy::apply_lazy(&txn, lazy)?;
        if prune_replays {
            replays::prune(&txn, crate::license::dates::now(), replays::BOUNDS)?;
        }
        {
            let _under_way = self.shared.cache.commit_under_way();
            txn.commit()?;
        }
        if prune_replays {
            self.pruned_at = Some(Instant::now());
        }
        Ok(())
    }
}

/// Replaces the database handle after a failed commit, so that redb re-reads its state from
/// the file, and makes that state durable with one empty commit. Returns the number of the
/// last batch in the file. Readers see 503 meanwhile. If the file cannot be reopened within
/// [`REOPEN_PATIENCE`], the process exits so that the service manager restarts it.
fn reopen(shared: &Shared) -> Option<i64> {
    let old = shared.db.write().unwrap_or_else(|p| p.into_inner()).take();
    drop(old);
    // The reopened file decides what is committed; nothing read before may be served.
    shared.cache.forget_all();
    let started = Instant::now();
    loop {
        // The file lock is released only when the last reader drops its handle.
        match (shared.opener)().and_then(|db| durable_batch_seq(&db).map(|seq| (db, seq))) {
            Ok((db, seq)) => {
                *shared.db.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(db));
                shared.cache.forget_all();
                tracing::warn!("database reopened after a failed commit");
                return Some(seq);
            }
            Err(e) if started.elapsed() < REOPEN_PATIENCE => {
                tracing::warn!(error = %e, "reopening the database");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot reopen the database; exiting so the service manager restarts licd");
                std::process::exit(1);
            }
        }
    }
}

/// Commits nothing durably (one fsync), so that whatever the reopened file shows is on
/// disk, and returns the last batch number in it.
fn durable_batch_seq(db: &redb::Database) -> Result<i64, StoreError> {
    let txn = db.begin_write()?;
    let seq = txn
        .open_table(COUNTERS)?
        .get(BATCH_SEQ)?
        .map_or(0, |v| v.value());
    txn.commit()?;
    Ok(seq)
}
