//! Vendor authentication of a request (methods.md, "Auth").
//!
//! The vendor is named by `is_vendor` (or `options.defaultCommerceProvider`); it must exist,
//! be enabled and have the method in its `methods` list. If it names a plugin, the plugin
//! decides ([`run_plugin`], which also merges the arguments the plugin maps); if it has a
//! password, `is_user`/`is_pwd` must match it as well; strictly authenticated methods also
//! need the HMAC headers ([`check_strict`]). Every failure is code 8 with one message that
//! does not say which part was wrong; the log says which. Password failures cost the same
//! whatever was wrong (one argon2 verification, see `password`).

use std::sync::Arc;

use crate::auth::attempts::{Attempt, Blocked};
use crate::auth::password::{ExpectedCredential, StoredPassword, Verification};
use crate::auth::{effects, strict, unsigned_args};
use crate::config::{Config, Scope, Vendor};
use crate::errors::{AUTHENTICATION_FAILED as FAILED, ErrorCode, MethodError};
use crate::http::args::{ArgLimits, Args};
use crate::http::client_addr::ClientAddr;
use crate::license::License;
use crate::logging::untrusted;
use crate::method_decl::{MethodCall, MethodTable};
use crate::metrics::PluginOutcome;
use crate::plugins::replay::split_replay_id;
use crate::plugins::{Plugin, PluginRequest, RefusalKind};
use crate::request::{Ctx, RawRequest};
use crate::store::replays::ReplayKey;

/// What a vendor name that names no allowed vendor is logged as: the name came from the
/// request (it may even be a password typed into the wrong field), so it is never logged.
const UNKNOWN_VENDOR: &str = "(unknown)";

/// Authenticates the vendor of a request for `call`; returns the vendor on success.
///
/// A vendor with a plugin is refused unless its plugin allowed this request ([`run_plugin`],
/// which the guard runs first). A remembered password is answered from memory and takes no
/// authentication slot; every other check takes one of the client address's slots and is
/// counted against `authFailuresPerMinute` before it runs ([`crate::auth::attempts`]).
pub async fn authenticate(ctx: &Ctx, call: MethodCall, args: &Args) -> Result<Vendor, MethodError> {
    let state = &ctx.state;
    let config = &ctx.config;
    let client = ctx.client;
    let limit = config.security.auth_failures_per_minute;
    if state.attempts.is_blocked(client, limit) {
        return Err(too_many(client, call));
    }
    let vendor = allowed_vendor(config, state.methods, call, args);
    if let Some(v) = vendor
        && v.plugin.is_some()
    {
        if ctx.plugin_passed.get() != Some(&v.name) {
            // The guard runs the plugin step first; this is a reload that gave the
            // vendor a plugin while the request was under way. Counted like any refusal.
            let _counted = state.attempts.count(client, limit);
            tracing::warn!(vendor = %v.name, %client, method = call.name, "vendor plugin did not allow this request");
            return Err(MethodError::new(ErrorCode::AuthenticationError, FAILED));
        }
        // The plugin decides; a password, when the vendor also has one, must match as well.
        if v.password.is_none() && v.password_hash.is_none() {
            return Ok(v.clone());
        }
    }
    let expected = vendor.and_then(expected_credential);
    let user = args.get("is_user").unwrap_or("");
    let password = args.get("is_pwd").unwrap_or("");
    if let (Some(v), Some(e)) = (vendor, expected)
        && state.passwords.remembers(e, user, password)
    {
        return Ok(v.clone());
    }
    let checked = tokio::time::timeout_at(ctx.deadline.into(), async {
        let attempt = state.attempts.take_slot(client, limit).await?;
        let verdict = state
            .passwords
            .verify_attempt(expected, user, password, &|| attempt.still_allowed())
            .await;
        Ok::<_, Blocked>((attempt, verdict))
    })
    .await
    .map_err(|_| busy())?;
    match (checked, vendor) {
        (Err(Blocked) | Ok((_, Verification::Blocked)), _) => Err(too_many(client, call)),
        (Ok((attempt, Verification::Accepted)), Some(v)) => {
            attempt.refund();
            Ok(v.clone())
        }
        _ => {
            tracing::warn!(vendor = logged_vendor(vendor), %client, method = call.name, "vendor authentication failed");
            Err(MethodError::new(ErrorCode::AuthenticationError, FAILED))
        }
    }
}

/// The vendor `is_vendor` (or `options.defaultCommerceProvider`) names, if it exists, is
/// enabled and its `methods` name this request (effects, not spellings: [`effects::names`]).
fn allowed_vendor<'c>(
    config: &'c Config,
    table: MethodTable,
    call: MethodCall,
    args: &Args,
) -> Option<&'c Vendor> {
    let name = args
        .text("is_vendor")
        .unwrap_or(config.options.default_commerce_provider.as_str());
    config.vendor(name).filter(|v| {
        v.enabled
            && v.methods
                .as_deref()
                .is_none_or(|list| effects::names(list, table, call, args))
    })
}

/// The credential a vendor is configured with, if it has a password.
fn expected_credential(v: &Vendor) -> Option<ExpectedCredential<'_>> {
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
}

/// The vendor as a log line names it: its configured name, or a fixed token.
fn logged_vendor(vendor: Option<&Vendor>) -> &str {
    vendor.map_or(UNKNOWN_VENDOR, |v| v.name.as_str())
}

/// Code 8 for a blocked address, answered at once: being blocked tells the caller nothing new.
fn too_many(client: ClientAddr, call: MethodCall) -> MethodError {
    tracing::warn!(%client, method = call.name, "authentication refused: too many failures from this address");
    MethodError::new(
        ErrorCode::AuthenticationError,
        "Too many failed authentications from your address; wait a minute and try again.",
    )
}

/// Code 3000 when the request's deadline passed while waiting for a slot or argon2.
fn busy() -> MethodError {
    MethodError::busy(
        "The server is busy verifying credentials; nothing was changed. Retry shortly.",
    )
}

/// Refuses a vendor with `scope = "own"` acting on a licence another vendor created.
pub fn check_scope(
    vendor: &Vendor,
    license: &License,
) -> Result<(), crate::license::refusal::Refusal> {
    use crate::license::refusal::{Reason, Refusal};
    if vendor.scope == Scope::Own && !vendor.name.eq_ignore_ascii_case(&license.vendor) {
        return Err(Refusal::new(
            Reason::OtherVendor,
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
/// The plugin call takes one of the client address's authentication slots, like a password
/// check. Any refusal of the plugin (deny, timeout, error, panic, garbage) is code 8, a log
/// line naming the plugin, the vendor and the reason, and a count in `/metrics`; a deny also
/// pays one dummy argon2 run, so that timing does not tell which vendors use a plugin.
pub async fn run_plugin(
    ctx: &Ctx,
    call: MethodCall,
    args: &Args,
) -> Result<Option<Args>, MethodError> {
    let Some(vendor) = allowed_vendor(&ctx.config, ctx.state.methods, call, args) else {
        return Ok(None);
    };
    let Some(plugin_name) = vendor.plugin.as_deref() else {
        return Ok(None);
    };
    let step = PluginStep {
        plugin_name,
        vendor,
        client: ctx.client,
        call,
    };
    let attempt = take_plugin_slot(ctx, call).await?;
    let Some(plugin) = ctx.state.plugins.get(plugin_name) else {
        // A reload can name a plugin that was not loaded at start: the server's fault.
        attempt.refund();
        return Err(
            step.refuse(&"the plugin is not loaded (the plugin set changes only with a restart)")
        );
    };
    let mapped = call_plugin(ctx, &step, plugin, args, attempt).await?;
    let merged = merge_plugin_output(ctx, &step, plugin.signs_body_only(), args, &mapped)?;
    Ok(Some(merged))
}

/// The vendor plugin a request is being judged by, as its refusals name it.
struct PluginStep<'c> {
    /// The plugin's configured name.
    plugin_name: &'c str,
    /// The vendor whose plugin it is.
    vendor: &'c Vendor,
    /// Who sent the request.
    client: ClientAddr,
    /// The method asked for.
    call: MethodCall,
}

impl PluginStep<'_> {
    /// Code 8 for any refusal of the plugin step, with a log line that says why (the client
    /// is told nothing more than for a wrong password).
    fn refuse(&self, reason: &dyn std::fmt::Display) -> MethodError {
        tracing::warn!(plugin = %self.plugin_name, vendor = %self.vendor.name, client = %self.client, method = self.call.name, reason = %untrusted(&reason.to_string()), "vendor plugin refused the request");
        MethodError::new(ErrorCode::AuthenticationError, FAILED)
    }
}

/// One of the client address's authentication slots for a plugin call, waited for until the
/// request's deadline (code 3000 past it; code 8 if the address is blocked).
async fn take_plugin_slot<'s>(ctx: &'s Ctx, call: MethodCall) -> Result<Attempt<'s>, MethodError> {
    let client = ctx.client;
    let limit = ctx.config.security.auth_failures_per_minute;
    tokio::time::timeout_at(
        ctx.deadline.into(),
        ctx.state.attempts.take_slot(client, limit),
    )
    .await
    .map_err(|_| busy())?
    .map_err(|Blocked| too_many(client, call))
}

/// Asks the plugin about the request and returns the arguments it maps. Every outcome is
/// counted in `/metrics`; the attempt is refunded unless the client is at fault (a deny, or
/// an unsigned argument beside a body-signing plugin's), which keeps it counted.
async fn call_plugin(
    ctx: &Ctx,
    step: &PluginStep<'_>,
    plugin: &Arc<Plugin>,
    args: &Args,
    attempt: Attempt<'_>,
) -> Result<String, MethodError> {
    let metrics = &ctx.state.metrics;
    let request = plugin_request(ctx, step.call, &step.vendor.name);
    match plugin.judge(request, ctx.deadline.into()).await {
        Ok(mapped) => {
            metrics.record_plugin_call(step.plugin_name, PluginOutcome::Allowed);
            // A body-signing plugin vouches for its mapped arguments only: an unsigned
            // argument the client added is refused, and the attempt stays counted.
            let body_only = plugin.signs_body_only();
            if let Err(why) = unsigned_args::check(step.vendor, body_only, args) {
                drop(attempt);
                return Err(step.refuse(&why));
            }
            attempt.refund();
            Ok(mapped)
        }
        Err(refusal) => {
            let outcome = match refusal.kind {
                RefusalKind::Denied => {
                    // Only a deny is the client's doing; it stays counted, and costs what a
                    // wrong password costs.
                    pay_for_denial(ctx, args, &attempt).await;
                    PluginOutcome::Denied
                }
                RefusalKind::Timeout | RefusalKind::Busy => {
                    // A broken plugin must not lock a store's address out.
                    attempt.refund();
                    PluginOutcome::Timeout
                }
                _ => {
                    attempt.refund();
                    PluginOutcome::Error
                }
            };
            metrics.record_plugin_call(step.plugin_name, outcome);
            Err(step.refuse(&refusal))
        }
    }
}

/// The request's arguments with those the plugin mapped merged in, the replay id a
/// body-signing plugin names taken out first and remembered; marks the request as passed by
/// the vendor's plugin.
fn merge_plugin_output(
    ctx: &Ctx,
    step: &PluginStep<'_>,
    signs_body_only: bool,
    args: &Args,
    mapped: &str,
) -> Result<Args, MethodError> {
    let server = &ctx.config.server;
    let limits = ArgLimits {
        max_args: server.max_args,
        max_value_bytes: server.max_value_bytes,
    };
    // The replay id a body-signing plugin names leaves the mapped arguments.
    let (mapped, replay_id) =
        split_replay_id(mapped, signs_body_only).map_err(|why| step.refuse(&why))?;
    let merged = merge_mapped(&ctx.raw, limits, args, &mapped).map_err(|m| match m {
        MergeError::Plugin(why) => step.refuse(&why),
        MergeError::Request(e) => e,
    })?;
    let vendor = &step.vendor.name;
    if let Some(id) = replay_id {
        ctx.replay.set(ReplayKey::new(vendor, &id, step.call.name));
    }
    // Set once per request; a second plugin step (a path that authenticates twice) finds the
    // same vendor, so losing this race changes nothing.
    let _ = ctx.plugin_passed.set(vendor.clone());
    Ok(merged)
}

/// One dummy argon2 run for a plugin's denial, within the request's deadline.
async fn pay_for_denial(ctx: &Ctx, args: &Args, attempt: &Attempt<'_>) {
    let password = args.get("is_pwd").unwrap_or("");
    let _ = tokio::time::timeout_at(
        ctx.deadline.into(),
        ctx.state
            .passwords
            .pay_for_refusal(password, &|| attempt.still_allowed()),
    )
    .await;
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
fn plugin_request(ctx: &Ctx, call: MethodCall, vendor: &str) -> PluginRequest {
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
        method: call.name.to_string(),
        vendor: vendor.to_string(),
        client: ctx.client.to_string(),
        url: raw.target().to_string(),
        args,
        headers,
        body: raw.body.clone(),
    }
}

/// Strict authentication of an authenticated vendor (methods.md): code 8 on failure, with
/// the reason in the log only. The HMAC check costs no argon2, so it takes no slot, but it is
/// counted against `authFailuresPerMinute` before it runs (and refunded if it passes), so
/// concurrent forgeries cannot all be checked before any is counted.
///
/// A signature this process accepts is then recorded where the nodes of a shared database
/// see it (`Store::first_signature_use`), so a request accepted by one node is a replay on
/// every other; a database that does not answer is 503 (nothing was changed).
pub async fn check_strict(ctx: &Ctx, call: MethodCall, vendor: &Vendor) -> Result<(), MethodError> {
    let security = &ctx.config.security;
    let attempt = ctx
        .state
        .attempts
        .count(ctx.client, security.auth_failures_per_minute)
        .map_err(|Blocked| too_many(ctx.client, call))?;
    let request = strict::Signed {
        target: ctx.raw.target(),
        headers: &ctx.raw.headers,
    };
    let verified = strict::verify(
        security,
        vendor.api_key.as_deref(),
        request,
        ctx.now,
        &ctx.state.strict_replay,
    );
    let failure = match verified {
        Ok(accepted) => {
            let first = ctx
                .state
                .store
                .first_signature_use(&accepted.signature, accepted.forget_after, ctx.now)
                .await
                .map_err(MethodError::from)?;
            if first {
                attempt.refund();
                return Ok(());
            }
            strict::StrictFailure::Replayed
        }
        Err(why) => why,
    };
    tracing::warn!(vendor = %vendor.name, client = %ctx.client, method = call.name, reason = %untrusted(&failure.to_string()), "strict authentication failed");
    Err(MethodError::new(ErrorCode::AuthenticationError, FAILED))
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
