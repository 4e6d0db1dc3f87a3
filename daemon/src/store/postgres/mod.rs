//! The PostgreSQL backend: N licd nodes on one database (docs/scale-out.md).
//!
//! Each command is one PostgreSQL transaction on a pooled connection, READ COMMITTED, the
//! licence locked with `SELECT … FOR UPDATE` (`tx`). The reply is sent only after COMMIT
//! returned; sessions force `synchronous_commit = on`. A deadlock or serialization failure
//! runs the command again (bounded); a COMMIT whose answer is lost is resolved by the
//! change's command id (`outcome`). What every node must share lives in
//! the database: the server secret (made once, `schema`), signing keys, the replay memory,
//! order ids, the release log, the counters. Reads are REPEATABLE READ snapshots
//! (`snapshot`). There is no writer thread: the database's row locks order the changes.

pub(super) mod check;
mod connect;
mod conninfo;
mod console_sessions;
mod direct;
pub(super) mod dump;
mod license_search;
pub(super) mod load;
pub(super) mod maintenance;
mod outbox;
mod outcome;
mod overview;
mod schema;
mod snapshot;
mod tls;
mod tx;
mod webhook_outbox;

pub use connect::{PostgresSettings, server_name, tls_problem, url_problem};
pub use snapshot::PgReader;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;

use crate::license::Activation;
use crate::store::commands::{self, Command, Remembered, Replayable};
use crate::store::replays::ReplayKey;
use crate::store::tx::{Tx, TxError, TxResult};
use crate::store::{CommandError, StoreError, StoreOptions, StoreStats};
use tx::{PgTx, SHARDS};

/// How often a command asks the pool for a connection before it gives up (each ask waits up
/// to the pool's own timeout): a node whose database just restarted reconnects within it.
const ATTEMPTS: u32 = 3;

/// Writes one lazily kept bookkeeping row, only where the activation is still the one it
/// was recorded for (a release or a new activation in between wins).
const FLUSH_LAZY: &str = "UPDATE activations SET value = $3
    WHERE key = $1 AND computer_id = $2 AND (value->>'activated_at')::bigint = $4";

/// How many times a command runs at most when PostgreSQL keeps refusing its transaction
/// with a deadlock or a serialization failure: such a refusal says nothing about the
/// command, and a second run usually goes through.
pub(super) const RUNS: u32 = 4;

/// What one run of a command's transaction gave.
enum Ran<D> {
    /// An answer for the caller.
    Done(Result<D, CommandError>),
    /// A deadlock or serialization failure: rolled back, nothing was changed, may be run
    /// again.
    Conflict,
    /// COMMIT was sent and its answer lost: the change is stored if its command id is.
    Lost {
        /// The result, true if the change is stored.
        done: D,
        /// The change's command id.
        id: i64,
    },
}

/// Rolls back a transaction a statement of which failed: a conflict may be run again,
/// anything else is the caller's answer.
async fn abandon<D>(tx: PgTx<'_>, e: StoreError) -> Ran<D> {
    let retryable = tx.retryable;
    tx.rollback().await;
    if retryable {
        Ran::Conflict
    } else {
        Ran::Done(Err(e.into()))
    }
}

/// The pause before run `runs + 1`: random within a window that doubles with each run
/// (10, 20, 40 ms), so that two transactions that deadlocked do not meet again in step.
fn retry_pause(runs: u32) -> Duration {
    let window = 10u64 << runs.saturating_sub(1).min(6);
    let mut bytes = [0u8; 2];
    // A failed random read only costs the jitter: the pause is then the whole window.
    let jitter = match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from(u16::from_le_bytes(bytes)) % window,
        Err(_) => 0,
    };
    Duration::from_millis(window / 2 + jitter / 2 + 1)
}

/// Lazily kept bookkeeping by (key, computer id).
type Lazy = Mutex<HashMap<(String, String), Activation>>;

/// The PostgreSQL store of one node.
pub struct PgStore {
    pool: Pool,
    secret: [u8; 32],
    stats: StoreStats,
    lazy: Arc<Lazy>,
    flusher: Option<JoinHandle<()>>,
    events: crate::store::events::EventHook,
}

/// A storage error from the client, in the store's neutral terms.
///
/// The server's refusals that say "not now" rather than "not this" (it is shutting down,
/// starting up, ended the session, or has no connection to spare) are
/// [`StoreError::Unreachable`] like a server that does not answer at all: the caller gets
/// 503 with `Retry-After`, and nothing was changed (a COMMIT's failure never comes here
/// without its outcome being looked up first, `outcome`).
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if is_not_now(db.code()) => {
            StoreError::Unreachable(format!("{} ({})", db.message(), db.code().code()))
        }
        Some(db) => StoreError::Backend(format!("{} ({})", db.message(), db.code().code())),
        None if e.is_closed() => StoreError::Unreachable(e.to_string()),
        // No answer from the server (I/O, a timeout, a refused connection, a TLS handshake
        // that failed).
        None => StoreError::Unreachable(describe(&e)),
    }
}

/// A failure without an answer from the server, with its causes: tokio-postgres' own words
/// name only the kind ("error performing TLS handshake"), its cause says what happened.
fn describe(e: &tokio_postgres::Error) -> String {
    let mut source = std::error::Error::source(e);
    if let Some(failed) = source.and_then(|s| s.downcast_ref::<native_tls::Error>()) {
        return tls::handshake_failure(failed);
    }
    let mut out = e.to_string();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Whether `code` is a refusal of the moment: connection exceptions (class 08), operator
/// intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now) and
/// too many connections (53300).
fn is_not_now(code: &SqlState) -> bool {
    let code = code.code();
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// Whether the server refused a transaction that may simply be run again.
pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db_error(e),
        other => StoreError::Unreachable(other.to_string()),
    }
}

/// A command made for a replay id, run as one command.
struct Memo<C> {
    command: C,
    key: ReplayKey,
    at: i64,
}

impl<C: Remembered> Command for Memo<C> {
    type Done = Replayable<C::Done>;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Self::Done> {
        commands::apply_remembered(&mut self.command, tx, &self.key, self.at).await
    }
}

impl PgStore {
    /// Connects, brings the schema up to date (once, whatever the number of nodes starting)
    /// and reads the shared server secret (making it on the first start of the first node).
    pub async fn open(
        settings: &PostgresSettings,
        options: &StoreOptions,
    ) -> Result<PgStore, StoreError> {
        let pool = connect::pool(settings)?;
        let mut client = pool.get().await.map_err(pool_error)?;
        schema::migrate(&mut client).await?;
        let mut candidate = [0u8; 32];
        getrandom::fill(&mut candidate).map_err(|e| StoreError::Random(e.to_string()))?;
        let secret = schema::server_secret(&client, candidate).await?;
        drop(client);
        let lazy = Arc::new(Lazy::default());
        let flusher = tokio::spawn(flush_lazily(pool.clone(), lazy.clone(), options.lazy_flush));
        Ok(PgStore {
            pool,
            secret,
            stats: StoreStats::new(),
            lazy,
            flusher: Some(flusher),
            events: Default::default(),
        })
    }

    /// The routes of outbound events and the sender's wake-up.
    pub fn events(&self) -> &crate::store::events::EventHook {
        &self.events
    }

    /// The 32-byte server secret, the same on every node.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Commit statistics for `/metrics`.
    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Begins a consistent read.
    pub async fn reader(&self) -> Result<PgReader, StoreError> {
        PgReader::begin(self.client().await?).await
    }

    /// Applies `command` in a transaction of its own and commits before answering.
    ///
    /// Not applied when `deadline` passed before it began ([`StoreError::TooLate`]). A
    /// deadlock or serialization failure rolls the transaction back and the command runs
    /// again in a new one, after a short random pause, up to [`RUNS`] times in all and not
    /// past `deadline`; after that it is [`StoreError::NotStored`] (nothing was changed). A
    /// commit whose answer was lost is looked up by its command id (`outcome`): stored, the
    /// change's result; not stored, [`StoreError::NotStored`]; the database out of reach
    /// until `deadline` (at least [`outcome::LEAST_WAIT`]), [`StoreError::OutcomeUnknown`].
    pub async fn run<C: Command>(
        &self,
        mut command: C,
        deadline: Instant,
    ) -> Result<C::Done, CommandError> {
        let mut runs = 1;
        loop {
            match self.run_once(&mut command, deadline).await {
                Ran::Done(result) => return result,
                Ran::Conflict if runs < RUNS && Instant::now() < deadline => {
                    tracing::debug!(runs, "PostgreSQL refused a transaction; running it again");
                    tokio::time::sleep(retry_pause(runs)).await;
                    runs += 1;
                }
                Ran::Conflict => return Err(StoreError::NotStored.into()),
                Ran::Lost { done, id } => {
                    let within = deadline.max(Instant::now() + outcome::LEAST_WAIT);
                    return match outcome::committed(&self.pool, id, within).await {
                        Ok(true) => Ok(done),
                        Ok(false) => Err(StoreError::NotStored.into()),
                        Err(e) => Err(e.into()),
                    };
                }
            }
        }
    }

    /// One transaction of [`PgStore::run`].
    async fn run_once<C: Command>(&self, command: &mut C, deadline: Instant) -> Ran<C::Done> {
        let mut client = match self.begin_within(deadline).await {
            Ok(client) => client,
            Err(e) => return Ran::Done(Err(e.into())),
        };
        let began = Instant::now();
        let txn = match client.transaction().await {
            Ok(txn) => txn,
            Err(e) => return Ran::Done(Err(db_error(e).into())),
        };
        let mut tx = PgTx::new(txn, shard());
        let done = match command.apply(&mut tx).await {
            Ok(done) => done,
            Err(TxError::Abort(refusal)) => {
                tx.rollback().await;
                return Ran::Done(Err(CommandError::Refused(refusal)));
            }
            Err(TxError::Db(e)) => return abandon(tx, e).await,
        };
        let marked = match outcome::command_id() {
            Ok(id) => {
                let at = crate::license::dates::now();
                tx.mark_command(id, at, at - outcome::KEEP_SECONDS)
                    .await
                    .map(|()| id)
            }
            Err(e) => Err(e),
        };
        let id = match marked {
            Ok(id) => id,
            Err(e) => return abandon(tx, e).await,
        };
        match tx.commit().await {
            Ok(()) => {
                self.stats.record_commit(1, began);
                Ran::Done(Ok(done))
            }
            // A serialization failure can be reported by COMMIT itself: rolled back.
            Err(e) if is_retryable(&e) => Ran::Conflict,
            // Any other failure, even one the server sent (a shutdown can end a session
            // between its commit and the answer), leaves the outcome to be looked up.
            Err(e) => {
                tracing::warn!(error = %e, "COMMIT's answer was lost; looking the change up");
                Ran::Lost { done, id }
            }
        }
    }

    /// A connection, got before `deadline`: a pool that cannot give one (the server does not
    /// answer) is tried again until then.
    async fn begin_within(&self, deadline: Instant) -> Result<Object, StoreError> {
        let mut attempt = 0;
        loop {
            if Instant::now() >= deadline {
                return Err(StoreError::TooLate);
            }
            match self.client().await {
                Ok(client) => return Ok(client),
                Err(e) if attempt + 1 >= ATTEMPTS => return Err(e),
                Err(_) => attempt += 1,
            }
        }
    }

    /// [`PgStore::run`] for a change made for a replay id: a remembered id answers with the
    /// first result; otherwise the change and its memory commit together.
    pub async fn run_remembered<C: Remembered>(
        &self,
        command: C,
        deadline: Instant,
        key: ReplayKey,
        at: i64,
    ) -> Result<Replayable<C::Done>, CommandError> {
        self.run(Memo { command, key, at }, deadline).await
    }

    /// Records a strict-authentication signature accepted by this node until `forget_after`,
    /// in the table every node shares (`strict_signatures`), so a signed request accepted by
    /// one node is refused as a replay by every other. True when no node accepted it before
    /// (or its row is past its window: the insert then takes the row over). Autocommitted:
    /// the signature is spent whether or not the request's change is then stored, as on one
    /// node. A few stale rows are dropped with each use, so the table stays as small as the
    /// window.
    pub async fn first_signature_use(
        &self,
        signature: &str,
        forget_after: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        const FIRST_USE: &str = "INSERT INTO strict_signatures (signature, forget_after)
            VALUES ($1, $2) ON CONFLICT (signature) DO UPDATE
            SET forget_after = excluded.forget_after
            WHERE strict_signatures.forget_after < $3
            RETURNING 1";
        const PRUNE: &str = "DELETE FROM strict_signatures WHERE signature IN (
            SELECT signature FROM strict_signatures WHERE forget_after < $1
            LIMIT 16 FOR UPDATE SKIP LOCKED)";
        let client = self.client().await?;
        let first = client
            .query_opt(FIRST_USE, &[&signature, &forget_after, &now])
            .await
            .map_err(db_error)?
            .is_some();
        client.execute(PRUNE, &[&now]).await.map_err(db_error)?;
        Ok(first)
    }

    /// `pg_database_size` of licd's database (the owner may read it), or `None` when the
    /// database does not answer within 2 s: a scrape never waits on an outage.
    pub async fn database_size(&self) -> Option<u64> {
        let query = async {
            let client = self.client().await.ok()?;
            let row = client
                .query_one("SELECT pg_database_size(current_database())", &[])
                .await
                .ok()?;
            u64::try_from(row.try_get::<_, i64>(0).ok()?).ok()
        };
        tokio::time::timeout(Duration::from_secs(2), query)
            .await
            .ok()
            .flatten()
    }

    /// Whether the database answers a trivial query within `timeout`.
    pub async fn writer_alive(&self, timeout: Duration) -> bool {
        let ping = async {
            let client = self.client().await.ok()?;
            client.simple_query("SELECT 1").await.ok()
        };
        matches!(tokio::time::timeout(timeout, ping).await, Ok(Some(_)))
    }

    /// Keeps bookkeeping no decision reads, written by the next flush.
    pub fn record_lazily(&self, key: &str, activation: Activation) {
        let mut lazy = self.lazy.lock().unwrap_or_else(|p| p.into_inner());
        lazy.insert(
            (key.to_string(), activation.computer_id.clone()),
            activation,
        );
    }

    /// The lazily kept state of `stored`, if one waits for the next flush.
    pub fn pending(&self, key: &str, stored: &Activation) -> Option<Activation> {
        let lazy = self.lazy.lock().unwrap_or_else(|p| p.into_inner());
        lazy.get(&(key.to_string(), stored.computer_id.clone()))
            .filter(|a| a.activated_at == stored.activated_at)
            .cloned()
    }

    /// Flushes the lazy bookkeeping (when a multi-threaded runtime can wait for it) and
    /// closes the pool.
    pub fn close(mut self) -> Result<(), StoreError> {
        if let Some(flusher) = self.flusher.take() {
            flusher.abort();
        }
        let waiting = std::mem::take(&mut *self.lazy.lock().unwrap_or_else(|p| p.into_inner()));
        if !waiting.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            let pool = self.pool.clone();
            tokio::task::block_in_place(|| runtime.block_on(flush(&pool, waiting)))?;
        }
        self.pool.close();
        Ok(())
    }
}

/// The counter shard a transaction adds to.
fn shard() -> i16 {
    let mut byte = [0u8; 1];
    // A failed random read only costs spreading: every transaction then adds to shard 0.
    let _ = getrandom::fill(&mut byte);
    i16::from(byte[0]) % SHARDS
}

/// Writes the lazily kept bookkeeping every `interval`.
async fn flush_lazily(pool: Pool, lazy: Arc<Lazy>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let waiting = std::mem::take(&mut *lazy.lock().unwrap_or_else(|p| p.into_inner()));
        if waiting.is_empty() {
            continue;
        }
        if let Err(e) = flush(&pool, waiting).await {
            // Lost bookkeeping is refreshed by the next validation (docs/design.md).
            tracing::warn!(error = %e, "could not write last-seen times to PostgreSQL");
        }
    }
}

async fn flush(
    pool: &Pool,
    waiting: HashMap<(String, String), Activation>,
) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let txn = client.transaction().await.map_err(db_error)?;
    let statement = txn.prepare_cached(FLUSH_LAZY).await.map_err(db_error)?;
    for ((key, pc), activation) in &waiting {
        let value = tokio_postgres::types::Json(activation);
        txn.execute(&statement, &[key, pc, &value, &activation.activated_at])
            .await
            .map_err(db_error)?;
    }
    txn.commit().await.map_err(db_error)
}

#[cfg(test)]
mod tests;
