//! A lost COMMIT answer, resolved (docs/scale-out.md).
//!
//! Each change writes a random command id in its own transaction (`tx.rs`, table
//! `command_ids`), under a transaction-scoped advisory lock on that id. When the connection
//! breaks while COMMIT is on its way, the node cannot tell from the client whether the
//! server committed. It asks again on another connection: it first takes the same advisory
//! lock, which it gets only once the first transaction has committed or is gone (a server
//! that lost its client rolls back an open transaction and ends the session), then looks the
//! id up. Found: the change is stored and its reply is the true one. Not found: nothing was
//! changed. Only while the database stays out of reach past the request's deadline is the
//! outcome unknown (code 3000; repeating the request is safe).

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use super::{db_error, pool_error};
use crate::store::StoreError;

/// How long a command id is kept: far longer than any request waits for its outcome.
pub(super) const KEEP_SECONDS: i64 = 3_600;

/// The least time given to learn an outcome, even when the request's deadline has passed
/// while COMMIT was on its way: one fresh connection and two statements.
pub(super) const LEAST_WAIT: Duration = Duration::from_secs(2);

/// How long to wait between two attempts to reach the database.
const PAUSE: Duration = Duration::from_millis(250);

const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
const FIND: &str = "SELECT 1 FROM command_ids WHERE id = $1";

/// A new random command id.
pub(super) fn command_id() -> Result<i64, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(i64::from_le_bytes(bytes))
}

/// Whether the change with command id `id` is stored, asked until `deadline`; past it,
/// [`StoreError::OutcomeUnknown`].
pub(super) async fn committed(pool: &Pool, id: i64, deadline: Instant) -> Result<bool, StoreError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StoreError::OutcomeUnknown);
        }
        match tokio::time::timeout(left, ask(pool, id)).await {
            Ok(Ok(found)) => return Ok(found),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot yet learn whether a change was committed");
                tokio::time::sleep(PAUSE.min(left)).await;
            }
            Err(_) => return Err(StoreError::OutcomeUnknown),
        }
    }
}

/// One attempt: the lock (the first transaction is over), then the id.
async fn ask(pool: &Pool, id: i64) -> Result<bool, StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let txn = client.transaction().await.map_err(db_error)?;
    txn.execute(LOCK, &[&id]).await.map_err(db_error)?;
    let found = txn.query_opt(FIND, &[&id]).await.map_err(db_error)?;
    txn.rollback().await.map_err(db_error)?;
    Ok(found.is_some())
}
