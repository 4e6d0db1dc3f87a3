//! The admin API: one router for the admin socket of a running daemon and for the CLI
//! working on a stopped database in its own process, so every admin command has one
//! implementation. `docs/admin-api.md` documents each endpoint.
//!
//! Adding an endpoint: one line in [`handle`]'s table and a handler taking the context,
//! the query and the body, returning a reply.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::body::{self, Body};
use super::{customers, data, keys, mail, qlm_import, signing, webhooks};
use crate::state::AppState;

/// What every endpoint works on.
pub struct AdminCtx {
    /// The server state: configuration, store, signer.
    pub state: Arc<AppState>,
    /// True inside a serving daemon; false when the CLI opened a stopped database.
    pub running: bool,
}

/// Answers one admin request. Never fails: every refusal is a reply with `{"error": …}`.
pub async fn handle(ctx: Arc<AdminCtx>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    // Segments are percent-decoded: a key may come encoded.
    let decoded: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let reply = match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["v1", "status"]) => status(&ctx),
        (&Method::GET, ["v1", "keys"]) => keys::list(&ctx, &query),
        (&Method::POST, ["v1", "keys"]) => keys::create(&ctx, body).await,
        (&Method::GET, ["v1", "keys", key]) => keys::show(&ctx, key).await,
        (&Method::DELETE, ["v1", "keys", key]) => keys::delete(&ctx, key).await,
        (&Method::POST, ["v1", "keys", key, "revoke"]) => keys::revoke(&ctx, key, body).await,
        (&Method::POST, ["v1", "release"]) => keys::release(&ctx, body).await,
        (&Method::GET, ["v1", "customers"]) => customers::list(&ctx).await,
        (&Method::GET, ["v1", "customers", email]) => customers::show(&ctx, email).await,
        (&Method::DELETE, ["v1", "customers", email]) => customers::delete(&ctx, email).await,
        (&Method::GET, ["v1", "mail"]) => mail::list(&ctx).await,
        (&Method::POST, ["v1", "mail", "test"]) => mail::test(&ctx, body).await,
        (&Method::POST, ["v1", "mail", id, "retry"]) => mail::retry(&ctx, id).await,
        (&Method::DELETE, ["v1", "mail", id]) => mail::drop(&ctx, id).await,
        (&Method::GET, ["v1", "webhooks"]) => webhooks::list(&ctx).await,
        (&Method::POST, ["v1", "webhooks", "retry"]) => webhooks::retry(&ctx, None).await,
        (&Method::POST, ["v1", "webhooks", id, "retry"]) => webhooks::retry(&ctx, Some(id)).await,
        (&Method::DELETE, ["v1", "webhooks"]) => webhooks::drop(&ctx, None).await,
        (&Method::DELETE, ["v1", "webhooks", id]) => webhooks::drop(&ctx, Some(id)).await,
        (&Method::GET, ["v1", "backup"]) => data::backup(&ctx).await,
        (&Method::GET, ["v1", "export"]) => data::export(&ctx, &query),
        (&Method::POST, ["v1", "import"]) => data::import(&ctx, body).await,
        (&Method::POST, ["v1", "import-qlm"]) => qlm_import::import(&ctx, body).await,
        (&Method::POST, ["v1", "check"]) => data::check(&ctx).await,
        (&Method::POST, ["v1", "license-file"]) => signing::license_file(&ctx, body).await,
        (&Method::GET, ["v1", "signing-keys"]) => signing::list(&ctx).await,
        (&Method::GET, ["v1", "signing-keys", "public"]) => signing::public(&ctx, &query).await,
        (&Method::POST, ["v1", "signing-keys", "rotate"]) => signing::rotate(&ctx).await,
        (&Method::POST, ["v1", "signing-keys", "import"]) => signing::import(&ctx, body).await,
        (_, ["v1", ..]) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {} {path}", parts.method),
        )),
        _ => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("admin endpoints start with /v1/, not {path}"),
        )),
    };
    reply.unwrap_or_else(|r| body::error(r.status, &r.message))
}

/// An endpoint's refusal: the status and the one line the CLI prints.
#[derive(Debug)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong and, where it helps, what to do.
    pub message: String,
}

impl Refusal {
    /// A refusal with this status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        let status = match &e {
            E::NotEmpty(_) => StatusCode::CONFLICT,
            E::Unusable(_) | E::SchemaTooNew { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Refusal::new(status, e.to_string())
    }
}

/// An endpoint's answer.
pub type Reply = Result<Response<Body>, Refusal>;

/// `GET /v1/status`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    version: &'static str,
    pid: u32,
    data_dir: String,
    running: bool,
}

fn status(ctx: &AdminCtx) -> Reply {
    Ok(body::json(
        StatusCode::OK,
        &Status {
            version: crate::VERSION,
            pid: std::process::id(),
            data_dir: ctx.state.config().server.data_dir.display().to_string(),
            running: ctx.running,
        },
    ))
}
