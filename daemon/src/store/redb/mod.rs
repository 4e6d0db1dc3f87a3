//! The embedded backend: one redb file, one writer thread, reads on their own transactions.
//!
//! Writes are [`Command`] values sent to the writer thread ([`writer`]), which applies every
//! command waiting (up to a batch limit) in one write transaction and commits it durably
//! once before answering each caller: group commit. A reply that reports a change is
//! therefore never sent before the change is on disk (spec README §6). Reads begin their own
//! read transaction and never wait for writes.

pub mod backup;
pub mod check;
mod columns;
mod console_sessions;
mod customers;
pub mod export;
pub mod import;
mod jobs;
mod lazy;
mod license_search;
mod outbox;
mod overview;
mod read_cache;
pub(crate) mod replays;
mod signing_keys;
mod snapshot;
mod subscription_index;
pub mod tables;
mod tx;
mod vendor_groups;
mod webhook_outbox;
mod writer;

pub use snapshot::RedbReader;

#[cfg(test)]
mod failed_commit_tests;

use std::collections::HashMap;
use std::path::Path;

use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, ReadableTable};

use crate::license::Activation;
use crate::store::commands::{Command, Remembered, Replayable};
use crate::store::replays::ReplayKey;
use crate::store::{CommandError, StoreError, StoreOptions, StoreStats, access, lock, permissions};
use jobs::{Plain, Queued, WithMemo, Work};
use tables::*;

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Backend(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Opens the database: the file at a path in production; tests pass a fault-injecting
/// storage backend. Called again to reopen after a failed commit.
pub(crate) type Opener = Box<dyn Fn() -> Result<Database, StoreError> + Send + Sync>;

/// State shared by the store handle and the writer thread.
pub(crate) struct Shared {
    opener: Opener,
    db: RwLock<Option<Arc<Database>>>,
    /// Last-seen updates waiting for the next flush, by licence key, then computer id.
    lazy: Mutex<lazy::LazyUpdates>,
    secret: [u8; 32],
    /// Commit statistics the writer keeps.
    stats: StoreStats,
    /// Decoded licences and activations of the committed state ([`read_cache`]); every
    /// commit on the live database goes through [`read_cache::ReadCache::commit_under_way`].
    cache: read_cache::ReadCache,
}

impl Shared {
    pub(crate) fn db(&self) -> Result<Arc<Database>, StoreError> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        guard.clone().ok_or(StoreError::Unavailable)
    }

    pub(crate) fn take_lazy(&self) -> lazy::LazyUpdates {
        std::mem::take(&mut *self.lazy.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The embedded store: reads, commands, lazy bookkeeping.
pub struct RedbStore {
    shared: Arc<Shared>,
    queue: Option<SyncSender<writer::Task>>,
    writer: Option<JoinHandle<()>>,
    events: crate::store::events::EventHook,
}

impl RedbStore {
    /// Opens (or creates) the database at `path`, creating the schema and the server secret
    /// on first start, and starts the writer thread.
    pub fn open(path: &Path, options: StoreOptions) -> Result<RedbStore, StoreError> {
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
    pub fn open_existing(path: &Path, options: StoreOptions) -> Result<RedbStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        Self::open(path, options)
    }

    pub(crate) fn open_with(
        opener: Opener,
        options: StoreOptions,
    ) -> Result<RedbStore, StoreError> {
        let db = opener()?;
        let secret = prepare(&db)?;
        let shared = Arc::new(Shared {
            opener,
            db: RwLock::new(Some(Arc::new(db))),
            lazy: Mutex::new(HashMap::new()),
            secret,
            stats: StoreStats::new(),
            cache: read_cache::ReadCache::default(),
        });
        let (queue, writer) = writer::spawn(shared.clone(), &options)?;
        Ok(RedbStore {
            shared,
            queue: Some(queue),
            writer: Some(writer),
            events: Default::default(),
        })
    }

    /// The routes of outbound events and the sender's wake-up.
    pub fn events(&self) -> &crate::store::events::EventHook {
        &self.events
    }

    /// The 32-byte server secret that computer keys are derived with.
    pub fn secret(&self) -> &[u8; 32] {
        &self.shared.secret
    }

    /// Begins a read transaction: every read through it sees one consistent state.
    pub fn reader(&self) -> Result<RedbReader, StoreError> {
        let before = self.shared.cache.generation();
        let txn = self.shared.db()?.begin_read()?;
        let cached = read_cache::ReadCache::stable(before, self.shared.cache.generation());
        Ok(RedbReader {
            txn,
            cache: cached.map(|at| (self.shared.clone(), at)),
        })
    }

    /// Sends a command to the writer and waits for its durable result.
    ///
    /// A full queue answers [`StoreError::Busy`] at once. Once queued, the command is either
    /// applied and committed, or (when `deadline` passed before the writer reached it)
    /// dropped unapplied ([`StoreError::TooLate`]); the caller is never told "timed out"
    /// about a change that was then applied, so this wait is deliberately not cancelled by
    /// a request timeout.
    pub async fn run<C: Command>(
        &self,
        command: C,
        deadline: Instant,
    ) -> Result<C::Done, CommandError> {
        self.send(Plain(command), deadline).await
    }

    /// [`RedbStore::run`] for a change made for a replay id: when `key` is remembered,
    /// nothing is applied and the answer is the first result; otherwise the command is
    /// applied and its result remembered under `key`, at time `at` (UTC Unix seconds), in the
    /// same transaction. A refused command is not remembered.
    pub async fn run_remembered<C: Remembered>(
        &self,
        command: C,
        deadline: Instant,
        key: ReplayKey,
        at: i64,
    ) -> Result<Replayable<C::Done>, CommandError> {
        self.send(WithMemo { command, key, at }, deadline).await
    }

    async fn send<W: Work>(&self, work: W, deadline: Instant) -> Result<W::Done, CommandError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Box::new(Queued {
            work,
            deadline,
            reply,
        });
        let queue = self.queue.as_ref().ok_or(StoreError::Stopped)?;
        match queue.try_send(writer::Task::Job(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Busy.into()),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Stopped.into()),
        }
        // The writer drops a command unanswered only when it abandons its batch before
        // applying it (the database handle or the transaction could not be had): nothing of
        // it was written.
        answer.await.map_err(|_| StoreError::NotStored)?
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
        // Keys are allocated only for a licence or computer not yet waiting.
        match lazy.get_mut(key) {
            Some(seats) => match seats.get_mut(&activation.computer_id) {
                Some(waiting) => *waiting = activation,
                None => {
                    seats.insert(activation.computer_id.clone(), activation);
                }
            },
            None => {
                let seats = HashMap::from([(activation.computer_id.clone(), activation)]);
                lazy.insert(key.to_string(), seats);
            }
        }
    }

    /// The lazily recorded state of `stored` if one is waiting for the next flush (same
    /// activation, not a later one made after a release).
    pub fn pending(&self, key: &str, stored: &Activation) -> Option<Activation> {
        let lazy = self.shared.lazy.lock().unwrap_or_else(|p| p.into_inner());
        lazy.get(key)?
            .get(&stored.computer_id)
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
            db.close().map_err(|e| StoreError::Close(e.to_string()))?;
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

impl Drop for RedbStore {
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
            reason: source.to_string(),
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
                return Err(StoreError::SchemaTooNew {
                    found,
                    supported: SCHEMA_VERSION,
                });
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
    txn.open_table(AUTH_CODES)?;
    txn.open_table(AUTH_CODES_BY_EMAIL)?;
    txn.open_table(ANALYTICS_INSTALLS)?;
    txn.open_table(ANALYTICS_COUNTS)?;
    txn.open_table(MAIL_OUTBOX)?;
    txn.open_table(WEBHOOK_OUTBOX)?;
    txn.open_table(CONSOLE_SESSIONS)?;
    subscription_index::index_subscriptions(&txn)?;
    vendor_groups::index_vendor_groups(&txn)?;
    customers::link_stored_emails(&txn)?;
    txn.commit()?;
    Ok(secret)
}

impl crate::store::maintenance::Maintenance for RedbStore {
    fn backup_to(&self, out: &Path) -> Result<backup::Copied, StoreError> {
        RedbStore::backup_to(self, out)
    }

    fn check(&self) -> Result<check::CheckReport, StoreError> {
        RedbStore::check(self)
    }

    fn export_to(&self, out: &mut dyn std::io::Write, secrets: bool) -> Result<u64, StoreError> {
        RedbStore::export_to(self, out, secrets)
    }

    fn import_from(
        &self,
        input: &mut dyn std::io::BufRead,
        running: bool,
    ) -> Result<import::Imported, StoreError> {
        RedbStore::import_from(self, input, running)
    }

    fn for_each_license(
        &self,
        f: &mut dyn FnMut(crate::license::License) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.reader()?.for_each_license(f)
    }
}
