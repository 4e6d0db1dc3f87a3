//! Licence keys through the admin API: list, show, create, revoke, release.
//!
//! Create, revoke and release run the HTTP methods' own code (GetActivationKey,
//! RevokeLicenseHttp, the ReleaseLicenseHttp command) on behalf of a configured vendor, so
//! the rules, limits and history are the same as over HTTP; only the vendor's credentials
//! are not asked for (the socket's file permissions are the credential) and its `scope` and
//! `methods` do not restrict the admin.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http::StatusCode;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use super::api::{AdminCtx, Refusal, Reply};
use super::body::{self, Body};
use crate::config::{Config, Scope, Vendor};
use crate::errors::MethodError;
use crate::http::args::{ArgLimits, Args};
use crate::license::dates;
use crate::license::history::HistoryEntry;
use crate::license::keys::ActivationKey;
use crate::methods::get_activation_key::GetActivationKey;
use crate::methods::release_license::{ReleaseInput, release_command};
use crate::methods::revoke_license::RevokeLicense;
use crate::methods::{Ctx, RawRequest};
use crate::response::{Format, Reply as MethodReply, render_ok};
use crate::store::commands::{DeleteLicense, Released};

/// How long an admin change may wait for the writer.
pub(super) const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// The value of `name` in a query string, percent-decoded.
pub(super) fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// `GET /v1/keys?product=ID&order=ID`: every licence (filtered), one JSON object a line,
/// as stored, streamed from one read transaction.
pub fn list(ctx: &AdminCtx, query: &str) -> Reply {
    let product = match query_value(query, "product") {
        Some(p) => Some(
            p.parse::<u32>()
                .map_err(|_| Refusal::bad(format!("product {p} is not a number")))?,
        ),
        None => None,
    };
    let order = query_value(query, "order");
    let state = ctx.state.clone();
    Ok(body::stream("application/x-ndjson", move |out| {
        state.store.maintenance()?.for_each_license(&mut |license| {
            let wanted = product.is_none_or(|p| license.product_id == p)
                && order
                    .as_deref()
                    .is_none_or(|o| license.order_id.as_deref() == Some(o));
            if wanted {
                serde_json::to_writer(&mut *out, &license)
                    .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
                writeln!(out).map_err(|source| crate::store::StoreError::File {
                    what: "cannot send the list",
                    path: "-".into(),
                    source,
                })?;
            }
            Ok(())
        })
    }))
}

fn parse_key(key: &str) -> Result<ActivationKey, Refusal> {
    ActivationKey::parse_for_lookup(key)
        .map_err(|e| Refusal::bad(format!("{key} is not a valid activation key: {e}")))
}

/// `GET /v1/keys/{key}`.
#[derive(Serialize)]
struct Shown {
    #[serde(rename = "licence")]
    license: crate::license::License,
    activations: Vec<crate::license::Activation>,
    history: Vec<HistoryEntry>,
    releases: Vec<i64>,
}

/// `GET /v1/keys/{key}`: the licence, its activations, history and release log.
pub async fn show(ctx: &AdminCtx, key: &str) -> Reply {
    let key = parse_key(key)?;
    let reader = ctx.state.store.read().await?;
    let license = reader.license(key.as_str()).await?.ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no licence {}", key.dashed()),
        )
    })?;
    let shown = Shown {
        activations: reader.activations(key.as_str()).await?,
        history: reader.history(key.as_str()).await?,
        releases: reader.release_times(key.as_str()).await?,
        license,
    };
    Ok(body::json(StatusCode::OK, &shown))
}

/// `DELETE /v1/keys/{key}`: removes the licence, its activations and index entries; its
/// history stays (with a last `deleted` line). Fires `license_deleted`.
pub async fn delete(ctx: &AdminCtx, key: &str) -> Reply {
    let key = parse_key(key)?;
    let command = DeleteLicense {
        key: key.as_str().to_string(),
        now: dates::now(),
        by: "licd keys delete (command line)".to_string(),
        client: None,
    };
    match ctx
        .state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await
    {
        Ok(_) => {
            tracing::info!(key = %key.dashed(), "licence deleted (licd keys delete)");
            Ok(body::json(
                StatusCode::OK,
                &serde_json::json!({ "deleted": key.dashed() }),
            ))
        }
        Err(crate::store::CommandError::Refused(_)) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("no licence {}", key.dashed()),
        )),
        Err(crate::store::CommandError::Store(e)) => Err(e.into()),
    }
}

/// The vendor an admin change acts for: the one named, else `defaultCommerceProvider`, else
/// the only vendor. Its scope and method list do not apply to the admin.
pub fn acting_vendor(config: &Config, name: Option<&str>) -> Result<Vendor, Refusal> {
    let default = Some(config.options.default_commerce_provider.as_str()).filter(|n| !n.is_empty());
    let vendor = match name.or(default) {
        Some(n) => config
            .vendor(n)
            .ok_or_else(|| Refusal::bad(format!("the configuration has no vendor {n}")))?,
        None => match config.vendors.as_slice() {
            [only] => only,
            [] => return Err(Refusal::bad("the configuration defines no vendor")),
            _ => {
                return Err(Refusal::bad(
                    "several vendors are configured; name one with --vendor",
                ));
            }
        },
    };
    let mut vendor = vendor.clone();
    vendor.scope = Scope::All;
    vendor.methods = None;
    Ok(vendor)
}

/// A method context for an admin request.
fn method_ctx(ctx: &AdminCtx) -> Ctx {
    Ctx {
        state: ctx.state.clone(),
        config: ctx.state.config(),
        client: IpAddr::V4(Ipv4Addr::LOCALHOST).into(),
        now: dates::now(),
        deadline: Instant::now() + COMMAND_DEADLINE,
        raw: RawRequest::default(),
        plugin_passed: OnceLock::new(),
        replay: Default::default(),
    }
}

/// A method's reply as its JSON form (what `is_format=json` returns over HTTP).
fn method_reply(result: Result<MethodReply, MethodError>) -> Reply {
    match result {
        Ok(reply) => Ok(body::with_type(
            StatusCode::OK,
            "application/json",
            body::full(render_ok(&reply, Format::Json, false).bytes),
        )),
        Err(e) => Ok(body::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &serde_json::json!({
                "error": format!("{} (code {})", e.message, e.code.number()),
                "errorCode": e.code.number(),
            }),
        )),
    }
}

/// `POST /v1/keys`: `{"vendor": "…"?, "args": [["is_productid", "1"], …]}`.
#[derive(Deserialize)]
struct CreateRequest {
    #[serde(default)]
    vendor: Option<String>,
    args: Vec<(String, String)>,
}

/// `POST /v1/keys`: creates keys with GetActivationKey's arguments.
pub async fn create(ctx: &AdminCtx, body: Body) -> Reply {
    let request: CreateRequest = body::read_json(body).await.map_err(Refusal::bad)?;
    let config = ctx.state.config();
    let vendor = acting_vendor(&config, request.vendor.as_deref())?;
    let form: Vec<String> = request
        .args
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect();
    let limits = ArgLimits {
        max_args: config.server.max_args,
        max_value_bytes: config.server.max_value_bytes,
    };
    let method_ctx = method_ctx(ctx);
    let result = async {
        let args = Args::parse(None, Some(form.join("&").as_bytes()), limits)?;
        GetActivationKey::parse(&args)?
            .apply(&method_ctx, &vendor)
            .await
    }
    .await;
    method_reply(result)
}

/// `POST /v1/keys/{key}/revoke`: `{"restore": false, "vendor": "…"?}`.
#[derive(Deserialize, Default)]
struct RevokeRequest {
    #[serde(default)]
    restore: bool,
    #[serde(default)]
    vendor: Option<String>,
}

/// `POST /v1/keys/{key}/revoke`: revokes (or restores) as RevokeLicenseHttp does.
pub async fn revoke(ctx: &AdminCtx, key: &str, body: Body) -> Reply {
    let request: RevokeRequest = body::read_json(body).await.map_err(Refusal::bad)?;
    let vendor = acting_vendor(&ctx.state.config(), request.vendor.as_deref())?;
    let revoke = if request.restore { "false" } else { "true" };
    let query = format!(
        "is_avkey={}&is_revoke={revoke}",
        utf8_percent_encode(key, NON_ALPHANUMERIC)
    );
    let config = ctx.state.config();
    let limits = ArgLimits {
        max_args: config.server.max_args,
        max_value_bytes: config.server.max_value_bytes,
    };
    let method_ctx = method_ctx(ctx);
    let result = async {
        let args = Args::parse(Some(&query), None, limits)?;
        RevokeLicense::parse(&args)?
            .apply(&method_ctx, &vendor)
            .await
    }
    .await;
    method_reply(result)
}

/// `POST /v1/release`: `{"key": "…", "computerId": "…", "code": "…"?}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseRequest {
    key: String,
    computer_id: String,
    #[serde(default)]
    code: Option<String>,
}

/// `POST /v1/release`: releases a key from a computer on the server host, as a support desk
/// does with a customer's deactivation code. Same rules, release log and history as
/// ReleaseLicenseHttp.
pub async fn release(ctx: &AdminCtx, body: Body) -> Reply {
    let request: ReleaseRequest = body::read_json(body).await.map_err(Refusal::bad)?;
    let key = parse_key(&request.key)?;
    let config = ctx.state.config();
    let command = release_command(
        &config,
        &key,
        ReleaseInput {
            computer_id: Some(request.computer_id),
            code: request.code,
            log_release: true,
            vendor: Some("licd release (command line)".into()),
            client: "local".into(),
            now: dates::now(),
        },
        Box::new(|_| Ok(())),
    );
    let outcome = ctx
        .state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(MethodError::from);
    let result = match outcome {
        Ok(Released {
            license,
            activation,
        }) => {
            tracing::info!(
                method = "licd release",
                key = %crate::methods::masked(&key),
                computer = %crate::logging::untrusted(&activation.computer_id),
                client = "local",
                "activation released"
            );
            Ok(crate::methods::release_license::reply(
                &key,
                &activation.computer_id,
                license.available(),
            ))
        }
        Err(e) => Err(e),
    };
    method_reply(result)
}
