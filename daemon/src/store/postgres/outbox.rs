//! The mail outbox in table `mail_outbox` (`crate::store::outbox`).
//!
//! Several nodes run a sender each. A claim takes due rows with `FOR UPDATE SKIP LOCKED`
//! and moves their next try to the end of the claim in the same statement: a second node
//! claiming at the same moment skips the rows the first has locked instead of waiting for
//! them, and once the claim commits the rows are not due for anyone until the claim ends.
//! No transaction stays open while SMTP talks.

use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::tx::{PgTx, column, json};
use crate::store::StoreError;
use crate::store::outbox::{OutgoingMail, QueuedMail, short_error};

const ENQUEUE: &str = "INSERT INTO mail_outbox (queued_at, next_try_at, message)
    VALUES ($1, $1, $2) RETURNING id";
const COLUMNS: &str = "id, queued_at, next_try_at, attempts, last_error, message";
const CLAIM: &str = "UPDATE mail_outbox SET next_try_at = $2 WHERE id IN
    (SELECT id FROM mail_outbox WHERE next_try_at <= $1 ORDER BY next_try_at, id LIMIT $3
     FOR UPDATE SKIP LOCKED)
    RETURNING id, queued_at, next_try_at, attempts, last_error, message";
const NEXT_DUE: &str = "SELECT min(next_try_at) FROM mail_outbox";
const REMOVE: &str = "DELETE FROM mail_outbox WHERE id = $1 RETURNING id";
const FAILED: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_try_at = $2,
    last_error = $3 WHERE id = $1 RETURNING id";
const RETRY: &str = "UPDATE mail_outbox SET next_try_at = $2 WHERE id = $1 RETURNING id";

/// A row of [`COLUMNS`] as a queued message.
pub(super) fn queued(row: &Row) -> Result<QueuedMail, StoreError> {
    let attempts: i32 = column(row, 3)?;
    Ok(QueuedMail {
        id: column(row, 0)?,
        queued_at: column(row, 1)?,
        next_try_at: column(row, 2)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error: column(row, 4)?,
        mail: json(row, 5)?,
    })
}

pub(super) async fn enqueue(
    tx: &mut PgTx<'_>,
    mail: &OutgoingMail,
    at: i64,
) -> Result<i64, StoreError> {
    let row = tx.row(ENQUEUE, &[&at, &Json(mail)]).await?;
    let row = row.ok_or_else(|| StoreError::Corrupt("INSERT … RETURNING gave no row".into()))?;
    column(&row, 0)
}

pub(super) async fn claim_due(
    tx: &mut PgTx<'_>,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<QueuedMail>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = tx.rows(CLAIM, &[&now, &lease_until, &limit]).await?;
    let mut out = rows.iter().map(queued).collect::<Result<Vec<_>, _>>()?;
    // RETURNING follows no ORDER BY.
    out.sort_by_key(|m| m.id);
    Ok(out)
}

pub(super) async fn next_due(tx: &mut PgTx<'_>) -> Result<Option<i64>, StoreError> {
    match tx.row(NEXT_DUE, &[]).await? {
        Some(row) => column(&row, 0),
        None => Ok(None),
    }
}

pub(super) async fn all(tx: &mut PgTx<'_>) -> Result<Vec<QueuedMail>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM mail_outbox ORDER BY id");
    tx.rows(&sql, &[]).await?.iter().map(queued).collect()
}

pub(super) async fn remove(tx: &mut PgTx<'_>, id: i64) -> Result<bool, StoreError> {
    Ok(tx.row(REMOVE, &[&id]).await?.is_some())
}

pub(super) async fn failed(
    tx: &mut PgTx<'_>,
    id: i64,
    next_try_at: i64,
    error: &str,
) -> Result<bool, StoreError> {
    let error = short_error(error);
    Ok(tx
        .row(FAILED, &[&id, &next_try_at, &error])
        .await?
        .is_some())
}

pub(super) async fn retry(tx: &mut PgTx<'_>, id: i64, at: i64) -> Result<bool, StoreError> {
    Ok(tx.row(RETRY, &[&id, &at]).await?.is_some())
}
