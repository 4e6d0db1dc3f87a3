//! Vendor authentication of a request (methods.md, "Auth").
//!
//! The vendor is named by `is_vendor` (or `options.defaultCommerceProvider`); it must exist,
//! be enabled and have the method in its `methods` list. If it names a plugin, the plugin
//! decides ([`run_plugin`], which also merges the arguments the plugin maps); if it has a
//! password, `is_user`/`is_pwd` must match it as well; strictly authenticated methods also
//! need the HMAC headers ([`check_strict`]). Every failure is code 8 with one message that
//! does not say which part was wrong; the log says which. Password failures cost the same
//! whatever was wrong (one argon2 verification, see `password`).

use std::net::IpAddr;
use std::time::Instant;

use crate::auth::password::{ExpectedCredential, StoredPassword};
use crate::auth::{strict, unsigned_args};
use crate::config::{Config, Scope, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::{ArgLimits, Args};
use crate::license::License;
use crate::methods::{Ctx, Method, RawRequest};
use crate::metrics::PluginOutcome;
use crate::plugins::replay::split_replay_id;
use crate::plugins::{PluginRequest, RefusalKind};
use crate::state::AppState;
use crate::store::replays::ReplayKey;

/// The one message of every authentication failure (code 8): it never says which part was
/// wrong.
pub(crate) const FAILED: &str = "Authentication failed: check the vendor name, user and password.";

/// Authenticates the vendor of a request for `method`; returns the vendor on success.
///
/// `plugin_passed` is the vendor whose plugin allowed this request ([`run_plugin`]); a vendor
/// with a plugin is refused without it.
pub async fn authenticate(
    state: &AppState,
    config: &Config,
    method: &str,
    args: &Args,
    client: IpAddr,
    deadline: Instant,
    plugin_passed: Option<&str>,
) -> Result<Vendor, MethodError> {
    let limit = config.security.auth_failures_per_minute;
    if state.throttle.is_blocked(client, limit, Instant::now()) {
        tracing::warn!(%client, method, "authentication refused: too many failures from this address");
        return Err(MethodError::new(
            ErrorCode::AuthenticationError,
            "Too many failed authentications from your address; wait a minute and try again.",
        ));
    }
    let name = args
        .text("is_vendor")
        .unwrap_or(config.options.default_commerce_provider.as_str());
    let vendor = config
        .vendor(name)
        .filter(|v| v.enabled && v.may_call(method));
    if let Some(v) = vendor
        && v.plugin.is_some()
    {
        if plugin_passed != Some(v.name.as_str()) {
            state.throttle.record_failure(client, Instant::now());
            tracing::warn!(vendor = %v.name, %client, method, "vendor plugin did not allow this request");
            return Err(MethodError::new(ErrorCode::AuthenticationError, FAILED));
        }
        // The plugin decides; a password, when the vendor also has one, must match as well.
        if v.password.is_none() && v.password_hash.is_none() {
            return Ok(v.clone());
        }
    }
    let expected = vendor.and_then(|v| {
        let password = match (&v.password_hash, &v.password) {
            (Some(hash), _) => StoredPassword::Hash(hash),
            (None, Some(plain)) => StoredPassword::Plain(plain),
            (None, None) => return None,
        };
        Some(ExpectedCredential {
            vendor: &v.name,
            user: v.user.as_deref().unwrap_or(""),
            password,
        })
    });
    let user = args.get("is_user").unwrap_or("");
    let password = args.get("is_pwd").unwrap_or("");
    let verified = tokio::time::timeout_at(
        deadline.into(),
        state.passwords.verify(expected, user, password),
    )
    .await
    .map_err(|_| {
        MethodError::busy(
            "The server is busy verifying credentials; nothing was changed. Retry shortly.",
        )
    })?;
    match vendor {
        Some(v) if verified => Ok(v.clone()),
        _ => {
            state.throttle.record_failure(client, Instant::now());
            tracing::warn!(vendor = %name, %client, method, "vendor authentication failed");
            Err(MethodError::new(ErrorCode::AuthenticationError, FAILED))
        }
    }
}

/// Refuses a vendor with `scope = "own"` acting on a licence another vendor created.
pub fn check_scope(vendor: &Vendor, license: &License) -> Result<(), MethodError> {
    if vendor.scope == Scope::Own && !vendor.name.eq_ignore_ascii_case(&license.vendor) {
        return Err(MethodError::new(
            ErrorCode::AuthenticationError,
            format!(
                "Vendor {} may only act on licences it created.",
                vendor.name
            ),
        ));
    }
    Ok(())
}

/// The plugin step of a request whose vendor names a plugin: `authenticate`, then the
/// arguments `map_args` produced merged into the request's (a mapped argument the request
/// already carries is code 5). Returns `None` when the vendor (unknown, disabled, not allowed
/// this method, or without a plugin) is left to [`authenticate`].
///
/// Any refusal of the plugin (deny, timeout, error, panic, garbage) is code 8, a log line
/// naming the plugin, the vendor and the reason, and a count in `/metrics`.
pub async fn run_plugin(
    ctx: &Ctx,
    method: Method,
    args: &Args,
) -> Result<Option<Args>, MethodError> {
    let config = &ctx.config;
    let name = args
        .text("is_vendor")
        .unwrap_or(config.options.default_commerce_provider.as_str());
    let Some(vendor) = config
        .vendor(name)
        .filter(|v| v.enabled && v.may_call(method.name()))
    else {
        return Ok(None);
    };
    let Some(plugin_name) = vendor.plugin.as_deref() else {
        return Ok(None);
    };
    let state = &ctx.state;
    let client = ctx.client;
    if state.throttle.is_blocked(
        client,
        config.security.auth_failures_per_minute,
        Instant::now(),
    ) {
        tracing::warn!(%client, method = method.name(), "authentication refused: too many failures from this address");
        return Err(MethodError::new(
            ErrorCode::AuthenticationError,
            "Too many failed authentications from your address; wait a minute and try again.",
        ));
    }
    let refuse = |reason: &dyn std::fmt::Display| {
        tracing::warn!(plugin = %plugin_name, vendor = %vendor.name, %client, method = method.name(), reason = %reason, "vendor plugin refused the request");
        MethodError::new(ErrorCode::AuthenticationError, FAILED)
    };
    let Some(plugin) = state.plugins.get(plugin_name) else {
        // A reload can name a plugin that was not loaded at start.
        return Err(refuse(
            &"the plugin is not loaded (the plugin set changes only with a restart)",
        ));
    };
    let request = plugin_request(ctx, method, &vendor.name);
    let mapped = match plugin.judge(request, ctx.deadline.into()).await {
        Ok(mapped) => {
            state
                .metrics
                .record_plugin_call(plugin_name, PluginOutcome::Allowed);
            mapped
        }
        Err(refusal) => {
            let outcome = match refusal.kind {
                RefusalKind::Denied => {
                    // Only a deny is the client's doing; a broken plugin must not lock a
                    // store's address out.
                    state.throttle.record_failure(client, Instant::now());
                    PluginOutcome::Denied
                }
                RefusalKind::Timeout | RefusalKind::Busy => PluginOutcome::Timeout,
                _ => PluginOutcome::Error,
            };
            state.metrics.record_plugin_call(plugin_name, outcome);
            return Err(refuse(&refusal));
        }
    };
    let server = &config.server;
    let limits = ArgLimits {
        max_args: server.max_args,
        max_value_bytes: server.max_value_bytes,
    };
    // A body-signing plugin vouches for its mapped arguments only; its replay id leaves them.
    let body_only = plugin.signs_body_only();
    unsigned_args::check(vendor, body_only, args).map_err(|why| refuse(&why))?;
    let (mapped, replay_id) = split_replay_id(&mapped, body_only).map_err(|why| refuse(&why))?;
    let merged = merge_mapped(&ctx.raw, limits, args, &mapped).map_err(|m| match m {
        MergeError::Plugin(why) => refuse(&why),
        MergeError::Request(e) => e,
    })?;
    if let Some(id) = replay_id {
        ctx.replay
            .set(ReplayKey::new(&vendor.name, &id, method.name()));
    }
    // Set once per request; a second plugin step (a path that authenticates twice) finds the
    // same vendor, so losing this race changes nothing.
    let _ = ctx.plugin_passed.set(vendor.name.clone());
    Ok(Some(merged))
}

/// Why mapped arguments could not be merged.
enum MergeError {
    /// The plugin's output is unusable: deny, like any plugin failure.
    Plugin(String),
    /// The request itself is at fault (a duplicate, a bad value): its own code.
    Request(MethodError),
}

/// The request's arguments with `mapped` (form-encoded `is_*` arguments) added, parsed by
/// the same rules as the request's own (so duplicates, aliases, limits and bad values are
/// refused exactly as if the store had sent them).
fn merge_mapped(
    raw: &RawRequest,
    limits: ArgLimits,
    args: &Args,
    mapped: &str,
) -> Result<Args, MergeError> {
    if mapped.is_empty() {
        return Ok(args.clone());
    }
    let pairs = licd_plugin_api::form::parse(mapped.as_bytes())
        .map_err(|e| MergeError::Plugin(format!("map_args wrote a malformed form ({e})")))?;
    for (name, _) in &pairs {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("is_") {
            return Err(MergeError::Plugin(format!(
                "map_args wrote {name}, which is not an is_* argument"
            )));
        }
        if matches!(lower.as_str(), "is_vendor" | "is_user" | "is_pwd") {
            return Err(MergeError::Plugin(format!(
                "map_args wrote {lower}; a plugin may not change who is authenticated"
            )));
        }
        if args.get(&lower).is_some() {
            return Err(MergeError::Request(MethodError::invalid(format!(
                "The argument {lower} was given more than once: the vendor's plugin maps it from the store's own fields and the request also carries it."
            ))));
        }
    }
    let mut body = Vec::with_capacity(raw.body.len() + mapped.len() + 1);
    if raw.form_body {
        body.extend_from_slice(&raw.body);
        body.push(b'&');
    }
    body.extend_from_slice(mapped.as_bytes());
    Args::parse(raw.query(), Some(&body), limits).map_err(MergeError::Request)
}

/// What the plugin is shown: the request as received, and nothing of the server's own.
fn plugin_request(ctx: &Ctx, method: Method, vendor: &str) -> PluginRequest {
    let raw = &ctx.raw;
    // The router has already parsed (and refused anything malformed in) these same bytes,
    // so the lenient re-reading here cannot lose an argument the method will see.
    let decode = |bytes: &[u8]| licd_plugin_api::form::parse(bytes).unwrap_or_default();
    let mut args = decode(raw.query().unwrap_or("").as_bytes());
    if raw.form_body {
        args.extend(decode(&raw.body));
    }
    let headers = raw
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    PluginRequest {
        method: method.name().to_string(),
        vendor: vendor.to_string(),
        client: ctx.client.to_string(),
        url: raw.target().to_string(),
        args,
        headers,
        body: raw.body.clone(),
    }
}

/// Strict authentication of an authenticated vendor (methods.md): code 8 on failure, with
/// the reason in the log only.
pub fn check_strict(ctx: &Ctx, method: Method, vendor: &Vendor) -> Result<(), MethodError> {
    let request = strict::Signed {
        target: ctx.raw.target(),
        headers: &ctx.raw.headers,
    };
    let security = &ctx.config.security;
    strict::verify(
        security,
        vendor.api_key.as_deref(),
        request,
        ctx.now,
        &ctx.state.strict_replay,
    )
    .map_err(|why| {
        ctx.state.throttle.record_failure(ctx.client, Instant::now());
        tracing::warn!(vendor = %vendor.name, client = %ctx.client, method = method.name(), reason = %why, "strict authentication failed");
        MethodError::new(ErrorCode::AuthenticationError, FAILED)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ArgLimits = ArgLimits {
        max_args: 64,
        max_value_bytes: 4096,
    };

    /// A POSTed form with `query` in the URL, and the arguments the router parsed from it.
    fn request(query: &str, body: &str) -> (RawRequest, Args) {
        let raw = RawRequest {
            uri: format!("/qlmservice.asmx/GetActivationKey?{query}")
                .parse()
                .expect("a valid URI"),
            body: bytes::Bytes::from(body.to_string()),
            form_body: !body.is_empty(),
            ..RawRequest::default()
        };
        let args = Args::parse(Some(query), Some(body.as_bytes()), LIMITS).expect("valid");
        (raw, args)
    }

    fn merge(query: &str, body: &str, mapped: &str) -> Result<Args, MergeError> {
        let (raw, args) = request(query, body);
        merge_mapped(&raw, LIMITS, &args, mapped)
    }

    #[test]
    fn mapped_arguments_join_the_query_and_the_form_body() {
        let merged = merge(
            "is_vendor=FS",
            "quantity=3",
            "is_quantity=3&is_email=a%40b.c",
        )
        .unwrap_or_else(|_| panic!("merge refused"));
        assert_eq!(merged.get("is_vendor"), Some("FS"));
        assert_eq!(merged.get("is_quantity"), Some("3"));
        assert_eq!(merged.get("is_email"), Some("a@b.c"));
        assert_eq!(
            merged.others(),
            &[("quantity".to_string(), "3".to_string())]
        );
    }

    #[test]
    fn a_mapped_argument_the_request_carries_even_as_an_alias_is_code_5() {
        for (query, mapped) in [
            ("is_quantity=1", "IS_QUANTITY=3"),
            ("is_maintduration=5", "is_mainduration=6"),
        ] {
            match merge(query, "", mapped) {
                Err(MergeError::Request(e)) => {
                    assert_eq!(e.code, ErrorCode::InvalidFormat, "{query}");
                }
                _ => panic!("{mapped} over {query} was not refused as a duplicate"),
            }
        }
    }

    #[test]
    fn a_plugin_mapping_other_names_credentials_or_garbage_is_denied() {
        for mapped in ["quantity=3", "is_vendor=Other", "is_PWD=x", "is_email=%zz"] {
            assert!(
                matches!(
                    merge("is_vendor=FS", "", mapped),
                    Err(MergeError::Plugin(_))
                ),
                "{mapped}"
            );
        }
    }
}
