//! Offline activation and the licence-signing keys through the admin API (spec offline.md):
//! the same functions as on a stopped database (`crate::offline`), on the daemon's store and
//! signer, so a running daemon's cached signing key never goes stale.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::api::{AdminCtx, Refusal, Reply};
use super::body::{self, Body};
use super::keys::query_value;
use crate::offline::{self, LicenseFileRequest, OfflineError, PublicKeyFormat, SigningKeyInfo};
use crate::signing::SigningError;

impl From<OfflineError> for Refusal {
    fn from(e: OfflineError) -> Self {
        let status = match &e {
            OfflineError::Refused(_) | OfflineError::Signing(SigningError::BadImport(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            OfflineError::Usage(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Refusal::new(status, e.to_string())
    }
}

/// `POST /v1/license-file` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseFileBody {
    key: String,
    computer_id: String,
    #[serde(default)]
    computer_name: Option<String>,
}

/// `POST /v1/license-file` reply.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LicenseFileReply {
    document: String,
    result: String,
    key_name: String,
}

/// `POST /v1/license-file`: activates the key for an air-gapped computer and answers the
/// signed licence file; the CLI writes it.
pub async fn license_file(ctx: &AdminCtx, body: Body) -> Reply {
    let request: LicenseFileBody = body::read_json(body).await.map_err(Refusal::bad)?;
    let request = LicenseFileRequest {
        key: request.key,
        computer_id: request.computer_id,
        computer_name: request.computer_name,
    };
    let state = &ctx.state;
    let made = offline::license_file(&state.store, &state.signer, state.config(), &request).await?;
    Ok(body::json(
        StatusCode::OK,
        &LicenseFileReply {
            document: made.document,
            result: made.result,
            key_name: made.key_name,
        },
    ))
}

/// One key in replies.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyReply {
    name: String,
    created_at: i64,
    current: bool,
    public_key_pem: String,
}

impl From<SigningKeyInfo> for KeyReply {
    fn from(k: SigningKeyInfo) -> Self {
        KeyReply {
            name: k.name,
            created_at: k.created_at,
            current: k.current,
            public_key_pem: k.public_key_pem,
        }
    }
}

/// `GET /v1/signing-keys`: every key, oldest first (the first is made when there is none).
pub async fn list(ctx: &AdminCtx) -> Reply {
    let keys = offline::signing_keys(&ctx.state.store, &ctx.state.signer).await?;
    let keys: Vec<KeyReply> = keys.into_iter().map(KeyReply::from).collect();
    Ok(body::json(StatusCode::OK, &keys))
}

/// `GET /v1/signing-keys/public?all=true&format=pem|rsakeyvalue`: what
/// `licd signing-key export` writes.
pub async fn public(ctx: &AdminCtx, query: &str) -> Reply {
    let all = query_value(query, "all").is_some_and(|v| v == "true");
    let format = match query_value(query, "format") {
        None => PublicKeyFormat::Pem,
        Some(name) => PublicKeyFormat::from_name(&name).ok_or_else(|| {
            Refusal::bad(format!(
                "format={}: expected pem or rsakeyvalue",
                crate::text::quote(&name)
            ))
        })?,
    };
    let text =
        offline::export_public_keys(&ctx.state.store, &ctx.state.signer, all, format).await?;
    let content_type = match format {
        PublicKeyFormat::Pem => "application/x-pem-file",
        PublicKeyFormat::RsaKeyValue => "application/xml",
    };
    Ok(body::with_type(
        StatusCode::OK,
        content_type,
        body::full(text),
    ))
}

/// `POST /v1/signing-keys/import` body: the key file's text and its form.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportBody {
    format: String,
    key: String,
}

/// `POST /v1/signing-keys/import`: a shop's own private key becomes the current key; the
/// old ones stay. A key that is not valid is 422 and nothing is stored.
pub async fn import(ctx: &AdminCtx, body: Body) -> Reply {
    let request: ImportBody = body::read_json(body).await.map_err(Refusal::bad)?;
    if PublicKeyFormat::from_name(&request.format) != Some(PublicKeyFormat::RsaKeyValue) {
        return Err(Refusal::bad(format!(
            "format {}: only rsakeyvalue (QLM's <RSAKeyValue> private key) can be imported",
            crate::text::quote(&request.format)
        )));
    }
    let key = offline::import_signing_key(&ctx.state.store, &ctx.state.signer, request.key).await?;
    Ok(body::json(StatusCode::OK, &KeyReply::from(key)))
}

/// `POST /v1/signing-keys/rotate`: a new current key; the old ones stay.
pub async fn rotate(ctx: &AdminCtx) -> Reply {
    let key = offline::rotate_signing_key(&ctx.state.store, &ctx.state.signer).await?;
    Ok(body::json(StatusCode::OK, &KeyReply::from(key)))
}
