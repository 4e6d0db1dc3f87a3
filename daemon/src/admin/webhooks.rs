//! The webhook outbox through the admin API: list, retry, drop (docs/webhooks.md, "Events
//! licd sends"; docs/admin-api.md).

use std::time::Instant;

use http::StatusCode;
use serde::Serialize;

use super::api::{AdminCtx, Refusal, Reply};
use super::body;
use super::keys::COMMAND_DEADLINE;
use crate::license::dates;
use crate::store::CommandError;
use crate::store::commands::ListWebhooks;
use crate::store::webhook_outbox::{QueuedWebhook, WebhookChange};

/// One outbox row as listed: the event, not its body (which holds the customer's data).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: i64,
    event: String,
    event_id: String,
    url: String,
    queued_at: String,
    attempts: u32,
    /// `due`, `waiting` (for its next try, its endpoint's earlier events, or a sender
    /// holding it) or `dead` (waits for retry or drop).
    state: &'static str,
    next_try_at: Option<String>,
    last_error: Option<String>,
}

impl Listed {
    fn of(queued: QueuedWebhook, now: i64) -> Listed {
        let state = if queued.dead {
            "dead"
        } else if queued.next_try_at <= now {
            "due"
        } else {
            "waiting"
        };
        Listed {
            id: queued.id,
            event: queued.event.event.to_string(),
            event_id: queued.event.event_id,
            url: queued.event.url,
            queued_at: dates::format_iso(queued.event.at),
            attempts: queued.attempts,
            state,
            next_try_at: (!queued.dead).then(|| dates::format_iso(queued.next_try_at)),
            last_error: queued.last_error,
        }
    }
}

/// What a store command's failure means to the operator.
fn command_refusal(e: CommandError) -> Refusal {
    match e {
        CommandError::Store(e) => e.into(),
        CommandError::Refused(e) => Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, e.message),
    }
}

/// Every queued event, oldest first.
async fn queued(ctx: &AdminCtx) -> Result<Vec<QueuedWebhook>, Refusal> {
    ctx.state
        .store
        .run(ListWebhooks, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(command_refusal)
}

/// `GET /v1/webhooks`: the outbox, oldest first, dead events included.
pub async fn list(ctx: &AdminCtx) -> Reply {
    let now = dates::now();
    let listed: Vec<Listed> = queued(ctx)
        .await?
        .into_iter()
        .map(|q| Listed::of(q, now))
        .collect();
    Ok(body::json(StatusCode::OK, &listed))
}

/// The id of a path segment.
fn parse_id(id: &str) -> Result<i64, Refusal> {
    id.parse::<i64>().ok().filter(|&n| n > 0).ok_or_else(|| {
        Refusal::bad(format!(
            "`{id}` is not an event id (see `licd webhooks list`)"
        ))
    })
}

/// Runs an operator's change of one event; false when the outbox has no such id.
async fn change(ctx: &AdminCtx, change: WebhookChange) -> Result<bool, Refusal> {
    ctx.state
        .store
        .run(change, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(command_refusal)
}

fn not_queued(id: i64) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!("the webhook outbox has no event {id} (delivered or dropped already?)"),
    )
}

/// `POST /v1/webhooks/{id}/retry`, or every event with `all`: alive again and due now; the
/// running sender is woken.
pub async fn retry(ctx: &AdminCtx, id: Option<&str>) -> Reply {
    let ids = match id {
        Some(id) => vec![parse_id(id)?],
        None => queued(ctx).await?.into_iter().map(|q| q.id).collect(),
    };
    let at = dates::now();
    let mut retried = Vec::new();
    for id in ids {
        if change(ctx, WebhookChange::Retry { id, at }).await? {
            retried.push(id);
        }
    }
    if let Some(id) = id
        && retried.is_empty()
    {
        return Err(not_queued(parse_id(id)?));
    }
    ctx.state.store.events().wake.notify_one();
    tracing::info!(
        events = retried.len(),
        "webhook events made due (licd webhooks retry)"
    );
    Ok(body::json(
        StatusCode::OK,
        &serde_json::json!({ "retried": retried, "running": ctx.running }),
    ))
}

/// `DELETE /v1/webhooks/{id}`, or every event with `all`: removed unsent.
pub async fn drop(ctx: &AdminCtx, id: Option<&str>) -> Reply {
    let ids = match id {
        Some(id) => vec![parse_id(id)?],
        None => queued(ctx).await?.into_iter().map(|q| q.id).collect(),
    };
    let mut dropped = Vec::new();
    for id in ids {
        if change(ctx, WebhookChange::Drop(id)).await? {
            dropped.push(id);
        }
    }
    if let Some(id) = id
        && dropped.is_empty()
    {
        return Err(not_queued(parse_id(id)?));
    }
    tracing::info!(
        events = dropped.len(),
        "webhook events dropped unsent (licd webhooks drop)"
    );
    Ok(body::json(
        StatusCode::OK,
        &serde_json::json!({ "dropped": dropped }),
    ))
}
