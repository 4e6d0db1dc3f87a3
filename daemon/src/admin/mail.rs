//! The mail outbox through the admin API: list, retry, drop, and a test mail
//! (docs/mail.md).

use std::time::Instant;

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::api::{AdminCtx, Refusal, Reply};
use super::body::{self, Body};
use super::keys::COMMAND_DEADLINE;
use crate::license::dates;
use crate::mail::template::{self, TEST};
use crate::store::commands::{EnqueueMail, ListMail};
use crate::store::outbox::{MailChange, OutgoingMail, QueuedMail, is_parked};

/// One outbox row as listed: everything but the body, which may hold a code.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: i64,
    to: String,
    subject: String,
    template: String,
    queued_at: String,
    attempts: u32,
    /// `due`, `waiting` (for its next try, or held by a sender) or `parked` (refused for
    /// good: waits for retry or drop).
    state: &'static str,
    next_try_at: Option<String>,
    last_error: Option<String>,
}

impl Listed {
    fn of(queued: QueuedMail, now: i64) -> Listed {
        let parked = is_parked(queued.next_try_at);
        let state = if parked {
            "parked"
        } else if queued.next_try_at <= now {
            "due"
        } else {
            "waiting"
        };
        Listed {
            id: queued.id,
            to: queued.mail.to,
            subject: queued.mail.subject,
            template: queued.mail.template,
            queued_at: dates::format_iso(queued.queued_at),
            attempts: queued.attempts,
            state,
            next_try_at: (!parked).then(|| dates::format_iso(queued.next_try_at)),
            last_error: queued.last_error,
        }
    }
}

/// `GET /v1/mail`: the outbox, oldest first, bodies left out.
pub async fn list(ctx: &AdminCtx) -> Reply {
    let queued = ctx
        .state
        .store
        .run(ListMail, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(command_refusal)?;
    let now = dates::now();
    let listed: Vec<Listed> = queued.into_iter().map(|q| Listed::of(q, now)).collect();
    Ok(body::json(StatusCode::OK, &listed))
}

/// The id of a path segment.
fn parse_id(id: &str) -> Result<i64, Refusal> {
    id.parse::<i64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Refusal::bad(format!("`{id}` is not a mail id (see `licd mail list`)")))
}

/// What a store command's failure means to the operator.
fn command_refusal(e: crate::store::CommandError) -> Refusal {
    match e {
        crate::store::CommandError::Store(e) => e.into(),
        crate::store::CommandError::Refused(e) => {
            Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, e.message)
        }
    }
}

/// Runs an operator's change of one message; 404 when the outbox has no such id.
async fn change(ctx: &AdminCtx, id: i64, change: MailChange) -> Result<(), Refusal> {
    let queued = ctx
        .state
        .store
        .run(change, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(command_refusal)?;
    if queued {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("the outbox has no mail {id} (sent or dropped already?)"),
        ))
    }
}

/// `POST /v1/mail/{id}/retry`: due now; the running sender is woken.
pub async fn retry(ctx: &AdminCtx, id: &str) -> Reply {
    let id = parse_id(id)?;
    let at = dates::now();
    change(ctx, id, MailChange::Retry { id, at }).await?;
    ctx.state.mail_wake.notify_one();
    tracing::info!(mail = id, "mail made due (licd mail retry)");
    Ok(body::json(
        StatusCode::OK,
        &serde_json::json!({ "retried": id, "running": ctx.running }),
    ))
}

/// `DELETE /v1/mail/{id}`: removed unsent.
pub async fn drop(ctx: &AdminCtx, id: &str) -> Reply {
    let id = parse_id(id)?;
    change(ctx, id, MailChange::Drop(id)).await?;
    tracing::info!(mail = id, "mail dropped unsent (licd mail drop)");
    Ok(body::json(
        StatusCode::OK,
        &serde_json::json!({ "dropped": id }),
    ))
}

/// `POST /v1/mail/test`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    to: String,
}

/// `POST /v1/mail/test`: queues the `Test` template to an address and wakes the sender.
pub async fn test(ctx: &AdminCtx, request: Body) -> Reply {
    let request: TestRequest = body::read_json(request).await.map_err(Refusal::bad)?;
    let to = request.to.trim().to_string();
    if to.parse::<lettre::message::Mailbox>().is_err() {
        return Err(Refusal::bad(format!("`{to}` is not a mail address")));
    }
    let config = ctx.state.config();
    let server = server_name();
    let (subject, body_text) = config
        .mail
        .template(TEST)
        .render(&[("email", &to), ("serverName", &server)]);
    let mail = OutgoingMail {
        to,
        subject,
        body: body_text,
        template: template::TEST.to_string(),
    };
    let command = EnqueueMail {
        mail,
        at: dates::now(),
    };
    let id = ctx
        .state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(command_refusal)?;
    ctx.state.mail_wake.notify_one();
    Ok(body::json(
        StatusCode::OK,
        &serde_json::json!({
            "queued": id,
            "running": ctx.running,
            "sends": config.mail.sends(),
        }),
    ))
}

/// This machine's name, for the test mail.
fn server_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "licd".to_string())
}
