//! The licence store: one redb file, one writer thread, reads on their own transactions.
//!
//! Writes are [`Command`] values sent to the writer thread ([`writer`]), which applies every
//! command waiting (up to a batch limit) in one write transaction and commits it durably
//! once before answering each caller: group commit. A reply that reports a change is
//! therefore never sent before the change is on disk (spec README §6). Reads begin their own
//! read transaction and never wait for writes.

pub mod access;
pub mod backup;
pub mod check;
mod columns;
pub mod commands;
pub mod data_dir;
pub mod export;
pub mod import;
mod licence_search;
pub mod lock;
pub mod permissions;
pub mod replays;
mod signing_keys;
mod stats;
pub mod tables;
mod writer;

pub use stats::StoreStats;

#[cfg(test)]
mod failed_commit_tests;
#[cfg(test)]
mod reclaim_tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};

use crate::errors::MethodError;
use crate::license::{Activation, License};
pub use commands::{Command, HistoryEntry, Outcome};
use tables::*;

/// A storage failure. The `Display` text says what happened and, where it can, what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// redb's reason (for example another process holding the lock).
        source: redb::DatabaseError,
    },
    /// A command other than `serve` found no database to work on.
    #[error(
        "no database at {0}; `licd serve` creates it on first start (check --data-dir / server.dataDir)"
    )]
    Missing(PathBuf),
    /// The database could not be closed cleanly (it will be checked on next open).
    #[error("cannot close the database cleanly: {0}")]
    Close(redb::DatabaseError),
    /// The database was written by a newer licd.
    #[error(
        "the database has schema version {found}, newer than this licd supports ({SCHEMA_VERSION}); run a newer licd or restore a backup"
    )]
    SchemaTooNew {
        /// The version in the file.
        found: u64,
    },
    /// A read or write failed inside redb.
    #[error("storage error: {0}")]
    Storage(#[from] redb::Error),
    /// A stored value did not decode.
    #[error("a stored value is corrupt: {0}")]
    Corrupt(String),
    /// The operating system refused a resource the store needs (the writer thread) or
    /// redb refused a setting; not a problem with the stored data.
    #[error("the store could not start: {0}")]
    Setup(String),
    /// The store is reopening the database after a failed commit.
    #[error("the database is being reopened after a failed commit")]
    Unavailable,
    /// The writer thread has stopped.
    #[error("the writer thread has stopped")]
    WriterGone,
    /// The operating system's random generator failed (server secret, keys).
    #[error("the random number generator failed: {0}")]
    Random(String),
    /// A file for backup, restore, export or import could not be read or written.
    #[error("{what} {path}: {source}")]
    File {
        /// What was being done (`cannot write the backup`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The data directory or the database is open to others and licd cannot close it.
    #[error(transparent)]
    Permissions(#[from] permissions::PermissionError),
    /// The data directory cannot be made (a file is in the way, or licd may not).
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    /// licd's user may not create, read or write the database (boxed: large, and in every
    /// `Result` of the store).
    #[error(transparent)]
    Denied(Box<access::AccessDenied>),
    /// Another process holds the database (redb's lock); the text names the licd holding it
    /// when it can.
    #[error(transparent)]
    Held(#[from] lock::Held),
    /// A backup or export file is not one this licd can use; the text says why.
    #[error("{0}")]
    Unusable(String),
    /// Restore or import would overwrite licence data.
    #[error("{0}")]
    NotEmpty(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Storage(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<StoreError> for MethodError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable => MethodError::busy(
                "The database is being reopened; nothing was changed. Retry shortly.",
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                MethodError::internal("An internal storage error occurred; nothing was changed.")
            }
        }
    }
}

/// How the store is tuned.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// redb page cache in bytes (`server.cacheSizeMiB`).
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

/// Opens the database: the file at a path in production; tests pass a fault-injecting
/// storage backend. Called again to reopen after a failed commit.
pub(crate) type Opener = Box<dyn Fn() -> Result<Database, StoreError> + Send + Sync>;

/// State shared by the store handle and the writer thread.
pub(crate) struct Shared {
    opener: Opener,
    db: RwLock<Option<Arc<Database>>>,
    /// Last-seen updates waiting for the next flush, by (key, computer id).
    lazy: Mutex<HashMap<(String, String), Activation>>,
    secret: [u8; 32],
    /// Commit statistics the writer keeps.
    stats: StoreStats,
}

impl Shared {
    pub(crate) fn db(&self) -> Result<Arc<Database>, StoreError> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or(StoreError::Unavailable)
    }

    pub(crate) fn take_lazy(&self) -> HashMap<(String, String), Activation> {
        std::mem::take(&mut *self.lazy.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The handle request handlers use: reads, commands, lazy bookkeeping.
pub struct Store {
    shared: Arc<Shared>,
    queue: Option<SyncSender<writer::Task>>,
    writer: Option<JoinHandle<()>>,
}

impl Store {
    /// Opens (or creates) the database at `path`, creating the schema and the server secret
    /// on first start, and starts the writer thread.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let cache = options.cache_bytes;
        let progress = options.repair_progress;
        Self::open_with(
            Box::new(move || open_database(&path, cache, progress)),
            options,
        )
    }

    /// Opens an existing database for an admin command; refuses to create one (only
    /// `serve`, `restore` and `import` create databases). A daemon holding the file makes
    /// redb's lock fail with a clear error.
    pub fn open_existing(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        Self::open(path, options)
    }

    pub(crate) fn open_with(opener: Opener, options: StoreOptions) -> Result<Store, StoreError> {
        let db = opener()?;
        let secret = prepare(&db)?;
        let shared = Arc::new(Shared {
            opener,
            db: RwLock::new(Some(Arc::new(db))),
            lazy: Mutex::new(HashMap::new()),
            secret,
            stats: StoreStats::new(),
        });
        let (queue, writer) = writer::spawn(shared.clone(), &options)?;
        Ok(Store {
            shared,
            queue: Some(queue),
            writer: Some(writer),
        })
    }

    /// The 32-byte server secret that computer keys are derived with.
    pub fn secret(&self) -> &[u8; 32] {
        &self.shared.secret
    }

    /// Begins a read transaction: every read through it sees one consistent state.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.shared.db()?.begin_read()?,
        })
    }

    /// Sends a command to the writer and waits for its durable outcome.
    ///
    /// A full queue answers 503 at once. Once queued, the command is either applied and
    /// committed, or (when `deadline` passed before the writer reached it) dropped unapplied
    /// and answered with code 3000; the caller is never told "timed out" about a change that
    /// was then applied, so this wait is deliberately not cancelled by a request timeout.
    pub async fn execute(
        &self,
        command: Command,
        deadline: Instant,
    ) -> Result<Outcome, MethodError> {
        self.send(command, deadline, None).await
    }

    /// [`Store::execute`] for a change made for a replay id (`replays`): when `key` is
    /// remembered, nothing is applied and the answer is [`Outcome::Replayed`] with the first
    /// outcome; otherwise the command is applied and its outcome remembered under `key`, at
    /// time `at` (UTC Unix seconds), in the same transaction. A refused command is not
    /// remembered.
    pub async fn execute_remembered(
        &self,
        command: Command,
        deadline: Instant,
        key: replays::ReplayKey,
        at: i64,
    ) -> Result<Outcome, MethodError> {
        self.send(command, deadline, Some(replays::Memo { key, at }))
            .await
    }

    async fn send(
        &self,
        command: Command,
        deadline: Instant,
        replay: Option<replays::Memo>,
    ) -> Result<Outcome, MethodError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = writer::Job {
            command,
            deadline,
            reply,
            replay,
        };
        let queue = self.queue.as_ref().ok_or(StoreError::WriterGone)?;
        match queue.try_send(writer::Task::Job(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(MethodError::busy(
                    "The server is busy (write queue full); nothing was changed. Retry shortly.",
                ));
            }
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::WriterGone.into()),
        }
        answer
            .await
            .map_err(|_| MethodError::from(StoreError::WriterGone))?
    }

    /// Commit statistics (batch sizes, commit latency) for `/metrics`.
    pub fn stats(&self) -> &StoreStats {
        &self.shared.stats
    }

    /// Whether the writer thread answers within `timeout`: a round trip through its queue,
    /// answered as soon as the writer takes it, so a writer stuck in a commit fails it. A
    /// full queue says nothing about liveness, so then a commit ended within `timeout`
    /// counts as the answer. Used by `/healthz` and the systemd watchdog.
    pub async fn writer_alive(&self, timeout: Duration) -> bool {
        let Some(queue) = self.queue.as_ref() else {
            return false;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        match queue.try_send(writer::Task::Ping(tx)) {
            Ok(()) => matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(()))),
            Err(TrySendError::Full(_)) => self.shared.stats.committed_within(timeout),
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Records bookkeeping that no licence decision reads (last-seen time, name, computer key
    /// last given) to be written with the next flush, without waiting. A crash loses at most
    /// one flush interval of it (docs/design.md).
    pub fn record_lazily(&self, key: &str, activation: Activation) {
        let mut lazy = self.shared.lazy.lock().unwrap_or_else(|p| p.into_inner());
        lazy.insert(
            (key.to_string(), activation.computer_id.clone()),
            activation,
        );
    }

    /// The lazily recorded state of `stored` if one is waiting for the next flush (same
    /// activation, not a later one made after a release).
    pub fn pending(&self, key: &str, stored: &Activation) -> Option<Activation> {
        let lazy = self.shared.lazy.lock().unwrap_or_else(|p| p.into_inner());
        lazy.get(&(key.to_string(), stored.computer_id.clone()))
            .filter(|p| p.activated_at == stored.activated_at)
            .cloned()
    }

    /// Stops the writer after it has applied every queued command and flushed the lazy
    /// bookkeeping, then closes the database cleanly.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.stop_writer();
        let db = self
            .shared
            .db
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(db) = db.and_then(|db| Arc::try_unwrap(db).ok()) {
            db.close().map_err(StoreError::Close)?;
        }
        Ok(())
    }

    fn stop_writer(&mut self) {
        self.queue.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the writer thread panicked");
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// Opens or creates the redb file with the configured page cache, telling `progress` how
/// far a repair after an unclean stop has got.
///
/// Every open of the live database, by `serve` and by each command working on a stopped
/// database, comes here: the data directory and the file are made private first
/// ([`permissions`]), and a new file is created 0600.
pub(crate) fn open_database(
    path: &Path,
    cache_bytes: usize,
    progress: Option<fn(f64)>,
) -> Result<Database, StoreError> {
    permissions::secure(path)?;
    permissions::create_database_file(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            return StoreError::Denied(Box::new(access::AccessDenied::database(path)));
        }
        StoreError::File {
            what: "cannot create the database",
            path: path.to_path_buf(),
            source,
        }
    })?;
    let mut builder = Database::builder();
    builder.set_cache_size(cache_bytes);
    if let Some(progress) = progress {
        builder.set_repair_callback(move |session| progress(session.progress()));
    }
    builder
        .create(path)
        .map_err(|source| open_error(path, source))
}

/// Says who holds the database, or who may not open it, when redb cannot.
fn open_error(path: &Path, source: redb::DatabaseError) -> StoreError {
    match source {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            let pid = path.parent().and_then(lock::holder);
            lock::Held {
                path: path.to_path_buf(),
                pid,
            }
            .into()
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(e))
            if e.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            StoreError::Denied(Box::new(access::AccessDenied::database(path)))
        }
        source => StoreError::Open {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Creates every table, checks the schema version and returns the server secret, creating
/// it on first start.
fn prepare(db: &Database) -> Result<[u8; 32], StoreError> {
    let txn = db.begin_write()?;
    let secret = {
        let mut meta = txn.open_table(META)?;
        if let Some(v) = meta.get(SCHEMA_KEY)? {
            let bytes: [u8; 8] = v
                .value()
                .try_into()
                .map_err(|_| StoreError::Corrupt("schema version".into()))?;
            let found = u64::from_le_bytes(bytes);
            if found > SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew { found });
            }
        } else {
            meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())?;
        }
        let existing = meta
            .get(SECRET_KEY)?
            .map(|v| <[u8; 32]>::try_from(v.value()));
        match existing {
            Some(Ok(secret)) => secret,
            Some(Err(_)) => return Err(StoreError::Corrupt("server secret".into())),
            None => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| StoreError::Random(e.to_string()))?;
                meta.insert(SECRET_KEY, secret.as_slice())?;
                secret
            }
        }
    };
    txn.open_table(LICENSES)?;
    txn.open_table(ACTIVATIONS)?;
    txn.open_table(HISTORY)?;
    txn.open_table(COUNTERS)?;
    txn.open_table(ORDERS)?;
    txn.open_table(RELEASES)?;
    txn.open_table(SUBSCRIPTIONS)?;
    txn.open_table(SIGNING_KEYS)?;
    txn.open_table(REPLAYS)?;
    txn.open_table(REPLAY_ORDER)?;
    commands::index_subscriptions(&txn)?;
    txn.commit()?;
    Ok(secret)
}

/// One consistent view of the database.
pub struct Reader {
    txn: ReadTransaction,
}

impl Reader {
    /// The licence with this canonical key.
    pub fn license(&self, key: &str) -> Result<Option<License>, StoreError> {
        let table = self.txn.open_table(LICENSES)?;
        table.get(key)?.map(|v| decode(v.value())).transpose()
    }

    /// The activation of `key` on `computer_id`.
    pub fn activation(
        &self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        let table = self.txn.open_table(ACTIVATIONS)?;
        table
            .get((key, computer_id))?
            .map(|v| decode(v.value()))
            .transpose()
    }

    /// Every activation of `key`, ordered by computer id.
    pub fn activations(&self, key: &str) -> Result<Vec<Activation>, StoreError> {
        commands::activations_of(&self.txn.open_table(ACTIVATIONS)?, key)
    }

    /// The history of `key`, oldest first.
    pub fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let table = self.txn.open_table(HISTORY)?;
        let mut out = Vec::new();
        for row in table.range((key, 0u64)..)? {
            let (k, v) = row?;
            if k.value().0 != key {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// Times of the releases of `key` in the release log, oldest first.
    pub fn release_times(&self, key: &str) -> Result<Vec<i64>, StoreError> {
        let table = self.txn.open_table(RELEASES)?;
        let mut out = Vec::new();
        for row in table.range((key, 0u64)..)? {
            let (k, v) = row?;
            if k.value().0 != key {
                break;
            }
            out.push(v.value());
        }
        Ok(out)
    }

    /// A counter's value (0 when never written).
    pub fn counter(&self, name: &str) -> Result<i64, StoreError> {
        let table = self.txn.open_table(COUNTERS)?;
        Ok(table.get(name)?.map_or(0, |v| v.value()))
    }
}
