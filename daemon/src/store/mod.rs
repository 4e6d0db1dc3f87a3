//! The licence store, the same for every backend.
//!
//! Callers see one [`Store`]: typed commands (`commands`) whose results arrive once the
//! change is durable (spec README §6), consistent reads through a [`Snapshot`], and the
//! maintenance interface ([`maintenance`]) a backend may refuse. The commands are written
//! once over the domain operations of [`tx::Tx`]; a backend implements those operations in
//! one folder (`redb/`, the embedded default, with its single writer thread and group
//! commit) and passes the one store test suite (`suite`).
//!
//! Nothing outside this module names a backend or its types: the enum below is the only
//! place that lists them.

pub mod access;
pub mod commands;
pub mod console_sessions;
pub mod data_dir;
/// The embedded backend, in folder `redb/`.
#[path = "redb/mod.rs"]
mod embedded;
mod error;
pub mod events;
mod install_check;
pub mod license_search;
pub mod lock;
pub mod maintenance;
pub mod outbox;
pub mod overview;
pub mod permissions;
/// The PostgreSQL backend, in folder `postgres/`.
mod postgres;
pub mod replays;
mod snapshot;
mod stats;
#[cfg(test)]
mod suite;
pub mod tx;
pub mod webhook_outbox;

pub use commands::{Command, Remembered, Replayable};
pub use error::{CommandError, StoreError};
pub use maintenance::{CheckReport, Compacted, Copied};
pub use postgres::{PostgresSettings, server_name as postgres_server_name};
pub use snapshot::Snapshot;
pub use stats::StoreStats;

/// Why a PostgreSQL connection URL cannot be used, in words that never quote it.
pub fn postgres_url_problem(url: &str) -> Result<(), String> {
    postgres::url_problem(url)
}

/// Why the files a PostgreSQL URL's TLS parameters name (`sslrootcert`, `sslcert`,
/// `sslkey`) cannot be used, naming the file; relative paths are resolved against
/// `files_dir` (the configuration file's directory).
pub fn postgres_tls_problem(url: &str, files_dir: Option<&Path>) -> Result<(), String> {
    postgres::tls_problem(url, files_dir)
}

/// What the maintenance commands say with the PostgreSQL backend: the tool to use instead.
pub mod postgres_tools {
    pub use super::postgres::maintenance::{BACKUP, COMPACT, RESTORE};
}

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::license::Activation;
use replays::ReplayKey;

/// How the store is tuned.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Page cache in bytes (`server.cacheSizeMiB`).
    pub cache_bytes: usize,
    /// Most commands applied in one transaction.
    pub batch_max: usize,
    /// Commands that may wait for the writer; past this the caller gets 503.
    pub queue_depth: usize,
    /// How often lazily written bookkeeping (last-seen times) is flushed.
    pub lazy_flush: Duration,
    /// Told how far a repair after an unclean stop has got (0.0 to 1.0); a repair walks
    /// the whole file and can take minutes.
    pub repair_progress: Option<fn(f64)>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 64 << 20,
            batch_max: 512,
            queue_depth: 8192,
            lazy_flush: Duration::from_secs(1),
            repair_progress: None,
        }
    }
}

/// The store: one of the backends licd is built with.
///
/// An enum rather than a `dyn` trait object: the backends are a closed set compiled into
/// the one binary, their operations are `async fn`s generic over the backend (which a trait
/// object cannot carry without boxing every future), and a `match` costs nothing on the
/// request road.
///
/// The PostgreSQL branches of its `async` methods are boxed (`Box::pin`), as in [`Snapshot`]:
/// otherwise every redb call's future would be as large as the PostgreSQL one (7 KiB for an
/// activation), and each request would copy it through every future that awaits it.
pub enum Store {
    /// The embedded redb file.
    Redb(embedded::RedbStore),
    /// A PostgreSQL database shared by every node.
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (or creates) the embedded database at `path`, creating the schema and the
    /// server secret on first start, and starts its writer.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        embedded::RedbStore::open(path, options).map(Store::Redb)
    }

    /// Opens an existing embedded database for an admin command; refuses to create one (only
    /// `serve`, `restore` and `import` create databases).
    pub fn open_existing(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        embedded::RedbStore::open_existing(path, options).map(Store::Redb)
    }

    /// Connects to the PostgreSQL database of `settings`, migrating its schema (once, under
    /// an advisory lock, however many nodes start) and reading the shared server secret.
    pub async fn open_postgres(
        settings: &PostgresSettings,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        postgres::PgStore::open(settings, &options)
            .await
            .map(Store::Postgres)
    }

    /// The 32-byte server secret that computer keys are derived with.
    pub fn secret(&self) -> &[u8; 32] {
        match self {
            Store::Redb(s) => s.secret(),
            Store::Postgres(s) => s.secret(),
        }
    }

    /// Begins a consistent read: every read through it sees one state.
    pub async fn read(&self) -> Result<Snapshot, StoreError> {
        match self {
            Store::Redb(s) => s.reader().map(Snapshot::Redb),
            Store::Postgres(s) => Box::pin(s.reader()).await.map(Snapshot::Postgres),
        }
    }

    /// Records a sender's outcome (a mail or an event delivered, failed, …): up to five tries
    /// a second apart, each with its own 30 s deadline, because a delivery already made must
    /// not be repeated for want of a busy moment. Past that the outcome is logged as lost;
    /// `what` names it ("a mail delivery"). Nothing is lost either way: the outbox row stays
    /// claimed and is tried again when its claim ends.
    pub async fn record_outcome<C: Command + Clone + std::fmt::Debug>(
        &self,
        change: C,
        what: &str,
    ) {
        const TRIES: usize = 5;
        const PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
        const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
        for _ in 0..TRIES {
            match self.run(change.clone(), Instant::now() + DEADLINE).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record {what}; trying again");
                    tokio::time::sleep(PAUSE).await;
                }
            }
        }
        tracing::error!(
            ?change,
            "the outcome of {what} was not recorded; it is tried again when its claim ends"
        );
    }

    /// Applies a command and waits for its durable result.
    ///
    /// The change is either applied and durable when this returns `Ok`, or not applied at
    /// all: a full queue is [`StoreError::Busy`], a command the store reached after
    /// `deadline` is [`StoreError::TooLate`]. The wait is deliberately not cancelled by a
    /// request timeout, so a caller is never told "timed out" about a change that was then
    /// applied.
    ///
    /// With outbound events routed ([`Store::events`]), the command runs watched, and the
    /// events its change makes are queued in its transaction ([`events`]).
    pub async fn run<C: Command>(
        &self,
        command: C,
        deadline: Instant,
    ) -> Result<C::Done, CommandError> {
        let Some(routes) = self.events().routes() else {
            return self.run_unwatched(command, deadline).await;
        };
        let queued = Arc::new(AtomicBool::new(false));
        let observed = events::Observed {
            command,
            routes,
            queued: queued.clone(),
        };
        let done = self.run_unwatched(observed, deadline).await;
        self.wake_sender(done.is_ok(), &queued);
        done
    }

    /// Runs a command as it is.
    async fn run_unwatched<C: Command>(
        &self,
        command: C,
        deadline: Instant,
    ) -> Result<C::Done, CommandError> {
        match self {
            Store::Redb(s) => s.run(command, deadline).await,
            Store::Postgres(s) => Box::pin(s.run(command, deadline)).await,
        }
    }

    /// Wakes the webhook sender when a stored command queued an event.
    fn wake_sender(&self, stored: bool, queued: &AtomicBool) {
        if stored && queued.load(Ordering::Relaxed) {
            self.events().wake.notify_one();
        }
    }

    /// The routes of outbound events (set from `[webhooks]` by whoever holds the
    /// configuration) and the webhook sender's wake-up.
    pub fn events(&self) -> &events::EventHook {
        match self {
            Store::Redb(s) => s.events(),
            Store::Postgres(s) => s.events(),
        }
    }

    /// [`Store::run`] for a change made for a replay id (`replays`): when `key` is
    /// remembered, nothing is applied and the answer is the first result; otherwise the
    /// command is applied and its result remembered under `key`, at time `at` (UTC Unix
    /// seconds), in the same transaction. A refused command is not remembered.
    pub async fn run_remembered<C: Remembered>(
        &self,
        command: C,
        deadline: Instant,
        key: ReplayKey,
        at: i64,
    ) -> Result<Replayable<C::Done>, CommandError> {
        let Some(routes) = self.events().routes() else {
            return self
                .run_remembered_unwatched(command, deadline, key, at)
                .await;
        };
        let queued = Arc::new(AtomicBool::new(false));
        let observed = events::Observed {
            command,
            routes,
            queued: queued.clone(),
        };
        let done = self
            .run_remembered_unwatched(observed, deadline, key, at)
            .await;
        self.wake_sender(done.is_ok(), &queued);
        done
    }

    /// Runs a command made for a replay id as it is.
    async fn run_remembered_unwatched<C: Remembered>(
        &self,
        command: C,
        deadline: Instant,
        key: ReplayKey,
        at: i64,
    ) -> Result<Replayable<C::Done>, CommandError> {
        match self {
            Store::Redb(s) => s.run_remembered(command, deadline, key, at).await,
            Store::Postgres(s) => Box::pin(s.run_remembered(command, deadline, key, at)).await,
        }
    }

    /// Commit statistics (batch sizes, commit latency) for `/metrics`.
    pub fn stats(&self) -> &StoreStats {
        match self {
            Store::Redb(s) => s.stats(),
            Store::Postgres(s) => s.stats(),
        }
    }

    /// Records a strict-authentication signature accepted until `forget_after`, where the
    /// nodes of one database share it; false when a node accepted it before.
    ///
    /// One redb file has one process, whose own memory (`crate::auth::strict::ReplayMemory`)
    /// already refuses a replay, so redb answers true without touching the file. PostgreSQL
    /// keeps the signature in a table every node reads, so a signed request accepted by one
    /// node is refused by all.
    pub async fn first_signature_use(
        &self,
        signature: &str,
        forget_after: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Redb(_) => Ok(true),
            Store::Postgres(s) => {
                Box::pin(s.first_signature_use(signature, forget_after, now)).await
            }
        }
    }

    /// The database's size in bytes for `/metrics`: the redb file at `redb_file`, or
    /// PostgreSQL's `pg_database_size`; `None` when it cannot be read now.
    pub async fn database_size(&self, redb_file: &Path) -> Option<u64> {
        match self {
            Store::Redb(_) => std::fs::metadata(redb_file).ok().map(|m| m.len()),
            Store::Postgres(s) => Box::pin(s.database_size()).await,
        }
    }

    /// Whether the store's writer answers within `timeout` (`/healthz`, the systemd
    /// watchdog).
    pub async fn writer_alive(&self, timeout: Duration) -> bool {
        match self {
            Store::Redb(s) => s.writer_alive(timeout).await,
            Store::Postgres(s) => Box::pin(s.writer_alive(timeout)).await,
        }
    }

    /// Records bookkeeping that no licence decision reads (last-seen time, name, computer key
    /// last given) to be written with the next flush, without waiting. A crash loses at most
    /// one flush interval of it (docs/design.md).
    pub fn record_lazily(&self, key: &str, activation: Activation) {
        match self {
            Store::Redb(s) => s.record_lazily(key, activation),
            Store::Postgres(s) => s.record_lazily(key, activation),
        }
    }

    /// The lazily recorded state of `stored` if one is waiting for the next flush (same
    /// activation, not a later one made after a release).
    pub fn pending(&self, key: &str, stored: &Activation) -> Option<Activation> {
        match self {
            Store::Redb(s) => s.pending(key, stored),
            Store::Postgres(s) => s.pending(key, stored),
        }
    }

    /// Applies every queued command, flushes the lazy bookkeeping and closes the database
    /// cleanly.
    pub fn close(self) -> Result<(), StoreError> {
        match self {
            Store::Redb(s) => s.close(),
            Store::Postgres(s) => s.close(),
        }
    }
}
