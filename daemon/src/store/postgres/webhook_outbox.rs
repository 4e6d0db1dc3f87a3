//! The webhook outbox in table `webhook_outbox` (`crate::store::webhook_outbox`).
//!
//! Several nodes run a sender each. A claim takes, per endpoint, the oldest event that is not
//! dead (`min(id)` per `url`) when it is due, with `FOR UPDATE SKIP LOCKED`, and moves its
//! next try to the end of the claim in the same statement. A second node claiming at the
//! same moment computes the same heads, finds them locked and skips them; it never takes an
//! endpoint's second event while the first is in flight, so each endpoint receives its
//! events in order. No transaction stays open while a receiver answers.

use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::tx::{PgTx, column, json};
use crate::store::StoreError;
use crate::store::outbox::short_error;
use crate::store::webhook_outbox::{QueuedWebhook, WebhookEvent};

const ENQUEUE: &str = "INSERT INTO webhook_outbox (url, next_try_at, event)
    VALUES ($1, $2, $3) RETURNING id";
const COLUMNS: &str = "id, attempts, next_try_at, dead, last_error, event";
const CLAIM: &str = "UPDATE webhook_outbox SET next_try_at = $2 WHERE id IN
    (SELECT id FROM webhook_outbox
     WHERE id IN (SELECT min(id) FROM webhook_outbox WHERE NOT dead GROUP BY url)
       AND next_try_at <= $1
     ORDER BY id LIMIT $3
     FOR UPDATE SKIP LOCKED)
    RETURNING id, attempts, next_try_at, dead, last_error, event";
const NEXT_DUE: &str = "SELECT min(next_try_at) FROM webhook_outbox WHERE NOT dead";
const REMOVE: &str = "DELETE FROM webhook_outbox WHERE id = $1 RETURNING id";
const FAILED: &str = "UPDATE webhook_outbox SET attempts = attempts + 1, next_try_at = $2,
    dead = $3, last_error = $4 WHERE id = $1 RETURNING id";
const RETRY: &str = "UPDATE webhook_outbox SET dead = false, next_try_at = $2
    WHERE id = $1 RETURNING id";

/// A row of [`COLUMNS`] as a queued event.
fn queued(row: &Row) -> Result<QueuedWebhook, StoreError> {
    let attempts: i32 = column(row, 1)?;
    Ok(QueuedWebhook {
        id: column(row, 0)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_try_at: column(row, 2)?,
        dead: column(row, 3)?,
        last_error: column(row, 4)?,
        event: json(row, 5)?,
    })
}

pub(super) async fn enqueue(tx: &mut PgTx<'_>, event: &WebhookEvent) -> Result<i64, StoreError> {
    let row = tx
        .row(ENQUEUE, &[&event.url, &event.at, &Json(event)])
        .await?;
    let row = row.ok_or_else(|| StoreError::Corrupt("INSERT … RETURNING gave no row".into()))?;
    column(&row, 0)
}

pub(super) async fn claim_due(
    tx: &mut PgTx<'_>,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<QueuedWebhook>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = tx.rows(CLAIM, &[&now, &lease_until, &limit]).await?;
    let mut out = rows.iter().map(queued).collect::<Result<Vec<_>, _>>()?;
    // RETURNING follows no ORDER BY.
    out.sort_by_key(|q| q.id);
    Ok(out)
}

pub(super) async fn next_due(tx: &mut PgTx<'_>) -> Result<Option<i64>, StoreError> {
    match tx.row(NEXT_DUE, &[]).await? {
        Some(row) => column(&row, 0),
        None => Ok(None),
    }
}

pub(super) async fn all(tx: &mut PgTx<'_>) -> Result<Vec<QueuedWebhook>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_outbox ORDER BY id");
    tx.rows(&sql, &[]).await?.iter().map(queued).collect()
}

pub(super) async fn remove(tx: &mut PgTx<'_>, id: i64) -> Result<bool, StoreError> {
    Ok(tx.row(REMOVE, &[&id]).await?.is_some())
}

pub(super) async fn failed(
    tx: &mut PgTx<'_>,
    id: i64,
    next_try_at: i64,
    dead: bool,
    error: &str,
) -> Result<bool, StoreError> {
    let error = short_error(error);
    Ok(tx
        .row(FAILED, &[&id, &next_try_at, &dead, &error])
        .await?
        .is_some())
}

pub(super) async fn retry(tx: &mut PgTx<'_>, id: i64, at: i64) -> Result<bool, StoreError> {
    Ok(tx.row(RETRY, &[&id, &at]).await?.is_some())
}
