//! The staff console's sessions in table `console_sessions` (`crate::store::console_sessions`):
//! the SHA-256 digest of a session id → the session, which every node reads, so a staff user
//! logged in through one node is logged in on all of them.
//!
//! The times the sweep compares are columns of their own, so the sweep is one indexed
//! statement however many sessions there are.

use tokio_postgres::types::Json;

use super::snapshot::PgReader;
use super::tx::{PgTx, json};
use crate::store::StoreError;
use crate::store::console_sessions::ConsoleSession;

const SESSION_FOR_UPDATE: &str = "SELECT value FROM console_sessions WHERE digest = $1 FOR UPDATE";
const SESSION: &str = "SELECT value FROM console_sessions WHERE digest = $1";
const PUT: &str = "INSERT INTO console_sessions (digest, created_at, last_seen, value)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (digest) DO UPDATE SET created_at = excluded.created_at,
    last_seen = excluded.last_seen, value = excluded.value";
const REMOVE: &str = "DELETE FROM console_sessions WHERE digest = $1 RETURNING digest";
const REMOVE_EXPIRED: &str =
    "DELETE FROM console_sessions WHERE last_seen < $1 OR created_at < $2 RETURNING digest";

pub(super) async fn get(
    tx: &mut PgTx<'_>,
    digest: &str,
) -> Result<Option<ConsoleSession>, StoreError> {
    let row = tx.row(SESSION_FOR_UPDATE, &[&digest]).await?;
    row.map(|r| json(&r, 0)).transpose()
}

pub(super) async fn put(
    tx: &mut PgTx<'_>,
    digest: &str,
    session: &ConsoleSession,
) -> Result<(), StoreError> {
    tx.execute(
        PUT,
        &[
            &digest,
            &session.created_at,
            &session.last_seen,
            &Json(session),
        ],
    )
    .await
}

pub(super) async fn remove(tx: &mut PgTx<'_>, digest: &str) -> Result<bool, StoreError> {
    Ok(tx.row(REMOVE, &[&digest]).await?.is_some())
}

pub(super) async fn remove_expired(
    tx: &mut PgTx<'_>,
    seen_before: i64,
    created_before: i64,
) -> Result<u64, StoreError> {
    let rows = tx
        .rows(REMOVE_EXPIRED, &[&seen_before, &created_before])
        .await?;
    Ok(rows.len() as u64)
}

impl PgReader {
    /// The session stored under `digest`.
    pub async fn console_session(
        &self,
        digest: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = self.row(SESSION, &[&digest]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }
}
