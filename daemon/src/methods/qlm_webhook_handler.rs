//! QlmWebHookHandler: a store pushes a signed event (Stripe, Shopify, WooCommerce, Paddle);
//! the vendor's plugin checks the signature and reads the event into licd method calls;
//! licd applies them in one transaction and remembers the event's id (docs/webhooks.md).
//!
//! `POST {basePath}/qlmservice.asmx/QlmWebHookHandler?is_vendor=NAME` (and the other two
//! URL forms). The body, up to `server.maxWebhookBodyBytes`, is the store's and goes to the
//! plugin untouched; it is never read as arguments. Only the plugin's `webhook` function
//! vouches for the request (no password: stores cannot send one), so every argument of
//! every action comes from the signed body or the plugin's own configuration.
//!
//! Replies. Stores retry anything but a 2xx, so the status says whether a retry can help:
//! 200 for an event applied, repeated (same outcome, nothing changed) or ignored; 401 for a
//! signature the plugin refused; 400 for a genuine body no action can be made of (a retry
//! cannot help, but the store shows the failure); 404 for a vendor with no webhook plugin;
//! 422 when a licence rule refused the event's first action (nothing changed, nothing
//! remembered: the store's retry runs it again, e.g. after the checkout event it depended
//! on); 503 while the plugin or the database is busy.

use std::sync::Arc;

use http::StatusCode;
use licd_plugin_api::webhook::{WebhookAction, WebhookEvent};

use crate::config::Vendor;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::{ArgLimits, Args};
use crate::license::keys::ActivationKey;
use crate::mail::template::{self, LICENSE_KEYS};
use crate::method_decl::Declaration;
use crate::methods::get_activation_key::{self, GetActivationKey};
use crate::methods::renew_subscription::{self, RenewSubscription};
use crate::methods::revoke_license::{self, RevokeLicense};
use crate::methods::update_user_information::{self, UpdateUserInformation};
use crate::methods::{Ctx, masked};
use crate::metrics::PluginOutcome;
use crate::plugins::{Plugin, PluginRequest, RefusalKind};
use crate::response::{Field, Reply};
use crate::store::Replayable;
use crate::store::commands::{ApplyWebhookEvent, KeyMail, StepDone, WebhookApplied, WebhookStep};
use crate::store::replays::ReplayKey;

/// The method's name as QLM spells it.
pub const NAME: &str = "QlmWebHookHandler";

/// Whether a URL names this method (in any case, as every method name).
pub fn is_named(name: &str) -> bool {
    name.eq_ignore_ascii_case(NAME)
}

/// Serves one webhook: the vendor's plugin reads it, its actions are applied once.
///
/// # Errors
/// See the module's list of replies; every refusal has a status other than 200.
pub async fn serve(args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    handle(args, ctx).await.map_err(retryable)
}

async fn handle(args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let vendor_name = args.required("is_vendor")?;
    let (vendor, plugin_name, plugin) = webhook_plugin(ctx, vendor_name)?;
    let event = read_event(ctx, &vendor, &plugin_name, &plugin).await?;
    if event.actions.is_empty() {
        tracing::info!(vendor = %vendor.name, event = %untrusted(&event.id), kind = %untrusted(&event.kind), client = %ctx.client, "webhook event ignored: nothing to do for its type");
        let mut reply = Reply::new(format!(
            "Event {} ({}) ignored: nothing to do.",
            event.id, event.kind
        ));
        reply.push(Field::text("eventId", event.id));
        return Ok(reply);
    }
    let steps = event
        .actions
        .iter()
        .enumerate()
        .map(|(n, action)| step(ctx, &vendor, n + 1, action))
        .collect::<Result<Vec<_>, _>>()?;
    let key = ReplayKey::new(&vendor.name, &event.id, NAME);
    let command = ApplyWebhookEvent {
        steps,
        now: ctx.now,
    };
    let result = ctx
        .state
        .store
        .run_remembered(command, ctx.deadline, key, ctx.now)
        .await
        .map_err(|e| {
            let e = MethodError::from(e);
            tracing::warn!(vendor = %vendor.name, event = %untrusted(&event.id), kind = %untrusted(&event.kind), code = e.code.number(), reason = %e.message, "webhook event refused; nothing changed");
            e
        })?;
    let (applied, repeated) = match result {
        Replayable::Fresh(applied) => (applied, false),
        Replayable::Repeat {
            first: Some(applied),
            method,
        } if method == NAME => (applied, true),
        Replayable::Repeat { method, .. } => {
            tracing::warn!(vendor = %vendor.name, event = %untrusted(&event.id), first_method = %method, "webhook event refused: its id was first used as the replay id of another method");
            return Err(MethodError::new(
                ErrorCode::InvalidFormat,
                "The event id was already used by another request of this vendor.",
            )
            .with_status(StatusCode::CONFLICT));
        }
    };
    if !repeated && mailed(&applied) {
        ctx.state.mail_wake.notify_one();
    }
    log_applied(ctx, &vendor, &event, &applied, repeated);
    Ok(reply(&event, &applied, repeated))
}

/// The vendor named and its plugin, which must have a `webhook` function (404 otherwise:
/// this server takes no webhooks for that name).
fn webhook_plugin(ctx: &Ctx, name: &str) -> Result<(Vendor, String, Arc<Plugin>), MethodError> {
    let none = || {
        MethodError::new(
            ErrorCode::InvalidFormat,
            format!(
                "This server takes no webhooks for vendor '{}': no such vendor, or its plugin has no webhook function.",
                crate::http::args::quote(name)
            ),
        )
        .with_status(StatusCode::NOT_FOUND)
    };
    let vendor = ctx.config.vendor(name).ok_or_else(none)?;
    let plugin_name = vendor.plugin.as_deref().ok_or_else(none)?;
    let plugin = ctx.state.plugins.get(plugin_name).ok_or_else(none)?;
    if !plugin.handles_webhooks() {
        return Err(none());
    }
    Ok((vendor.clone(), plugin_name.to_string(), Arc::clone(plugin)))
}

/// Hands the request to the plugin's `webhook` and turns its refusals into replies.
async fn read_event(
    ctx: &Ctx,
    vendor: &Vendor,
    plugin_name: &str,
    plugin: &Arc<Plugin>,
) -> Result<WebhookEvent, MethodError> {
    let raw = &ctx.raw;
    let request = PluginRequest {
        method: NAME.to_string(),
        vendor: vendor.name.clone(),
        client: ctx.client.to_string(),
        url: raw.target().to_string(),
        args: licd_plugin_api::form::parse(raw.query().unwrap_or("").as_bytes())
            .unwrap_or_default(),
        headers: raw
            .headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: raw.body.clone(),
    };
    let metrics = &ctx.state.metrics;
    let refusal = match plugin.webhook(request, ctx.deadline.into()).await {
        Ok(event) => {
            metrics.record_plugin_call(plugin_name, PluginOutcome::Allowed);
            return Ok(event);
        }
        Err(refusal) => refusal,
    };
    let (outcome, error) = match refusal.kind {
        RefusalKind::Denied => (
            PluginOutcome::Denied,
            MethodError::new(
                ErrorCode::AuthenticationError,
                "The webhook's signature was refused.",
            )
            .with_status(StatusCode::UNAUTHORIZED),
        ),
        RefusalKind::BadEvent | RefusalKind::Garbage => (
            PluginOutcome::Error,
            MethodError::invalid("The vendor's plugin could not read the webhook's event.")
                .with_status(StatusCode::BAD_REQUEST),
        ),
        RefusalKind::Timeout | RefusalKind::Busy => (
            PluginOutcome::Timeout,
            MethodError::busy("The vendor's plugin is busy; nothing was changed. Retry shortly."),
        ),
        _ => (
            PluginOutcome::Error,
            MethodError::internal("The vendor's plugin failed; nothing was changed."),
        ),
    };
    metrics.record_plugin_call(plugin_name, outcome);
    tracing::warn!(plugin = %plugin_name, vendor = %vendor.name, client = %ctx.client, reason = %untrusted(&refusal.detail), "webhook refused by the vendor's plugin; nothing changed");
    Err(error)
}

/// The store's command for action `n`, built by the method it names from its arguments,
/// behind the same gate as that method. A malformed action is 400 naming it.
fn step(
    ctx: &Ctx,
    vendor: &Vendor,
    n: usize,
    action: &WebhookAction,
) -> Result<WebhookStep, MethodError> {
    let bad = |e: MethodError| {
        tracing::warn!(vendor = %vendor.name, action = n, method = %action.method, reason = %e.message, "webhook action refused before anything changed");
        let status = if e.code == ErrorCode::OperationDisabled {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        MethodError::new(
            e.code,
            format!("Action {n} of the event ({}): {}", action.method, e.message),
        )
        .with_status(status)
    };
    let args = action_args(ctx, action).map_err(bad)?;
    let built = match action.method.as_str() {
        "GetActivationKey" => gate(&get_activation_key::DECLARATION, ctx)
            .and_then(|()| GetActivationKey::parse(&args))
            .and_then(|m| m.command(ctx, vendor))
            .and_then(|command| {
                let mail = key_mail(ctx, &args, &command.template)?;
                Ok(WebhookStep::Create { command, mail })
            }),
        "RenewSubscriptionHttp" => gate(&renew_subscription::DECLARATION, ctx)
            .and_then(|()| RenewSubscription::parse(&args))
            .and_then(|m| m.command(ctx, vendor))
            .map(WebhookStep::Edit),
        "RevokeLicenseHttp" => gate(&revoke_license::DECLARATION, ctx)
            .and_then(|()| RevokeLicense::parse(&args))
            .and_then(|m| m.command(ctx, vendor))
            .map(WebhookStep::Edit),
        "UpdateUserInformation" => gate(&update_user_information::DECLARATION, ctx)
            .and_then(|()| UpdateUserInformation::parse(&args))
            .and_then(|m| m.command(ctx, vendor))
            .map(WebhookStep::Customer),
        // The plugin host reads only the methods of `ACTION_METHODS`.
        other => Err(MethodError::internal(format!(
            "{other} is not a method a webhook can call."
        ))),
    };
    built.map_err(bad)
}

/// The action's arguments, read as a query string would be (the same names, aliases and
/// limits).
fn action_args(ctx: &Ctx, action: &WebhookAction) -> Result<Args, MethodError> {
    let server = &ctx.config.server;
    let limits = ArgLimits {
        max_args: server.max_args,
        max_value_bytes: server.max_value_bytes,
    };
    let query = licd_plugin_api::form::encode(&action.args);
    Args::parse(Some(&query), None, limits)
}

/// Code 7 when the method an action calls is disabled on this server.
fn gate(declaration: &Declaration, ctx: &Ctx) -> Result<(), MethodError> {
    match declaration.gate {
        Some(gate) if !gate.is_on(&ctx.config.security) => Err(MethodError::new(
            ErrorCode::OperationDisabled,
            format!(
                "{} is disabled on this server ({} = false).",
                declaration.name, gate.property
            ),
        )),
        _ => Ok(()),
    }
}

/// The mail of the keys to their buyer: to `is_email`, unless `is_send_mail` is false, with
/// the template `is_emailtemplate` names (`LicenseKeys…`, configured) or `LicenseKeys`.
fn key_mail(
    ctx: &Ctx,
    args: &Args,
    template: &crate::license::License,
) -> Result<Option<KeyMail>, MethodError> {
    let Some(to) = args.text("is_email").filter(|e| !e.trim().is_empty()) else {
        return Ok(None);
    };
    if !args.boolean("is_send_mail")?.unwrap_or(true) {
        return Ok(None);
    }
    let mail = &ctx.config.mail;
    let name = match args.text("is_emailtemplate") {
        None => LICENSE_KEYS,
        Some(name) if template::is_key_mail(name) && mail.template.contains_key(name) => name,
        Some(name) if name == LICENSE_KEYS => name,
        Some(name) => {
            return Err(MethodError::invalid(format!(
                "The argument is_emailtemplate names '{}', which is no configured key-mail template ([mail.template.LicenseKeys…]).",
                crate::http::args::quote(name)
            )));
        }
    };
    let product_name = ctx.config.product_name(
        template.product_id,
        template.major_version,
        template.minor_version,
    );
    Ok(Some(KeyMail {
        to: to.trim().to_string(),
        template_name: name.to_string(),
        template: mail.template(name),
        product_name,
    }))
}

/// A refusal as a status a store retries on: QLM answers its errors with 200, a store must
/// see that the event was not applied (500 for the server's own failure, 422 for a rule's).
fn retryable(e: MethodError) -> MethodError {
    if e.status != StatusCode::OK {
        e
    } else if e.code == ErrorCode::UnknownError {
        e.with_status(StatusCode::INTERNAL_SERVER_ERROR)
    } else {
        e.with_status(StatusCode::UNPROCESSABLE_ENTITY)
    }
}

fn mailed(applied: &WebhookApplied) -> bool {
    applied.steps.iter().any(|s| {
        matches!(
            s,
            StepDone::Created {
                mail_id: Some(_),
                ..
            }
        )
    })
}

fn untrusted(text: &str) -> String {
    crate::logging::untrusted(text).to_string()
}

fn dashed(key: &str) -> String {
    ActivationKey::from_canonical_unchecked(key.to_string()).dashed()
}

/// One log line per action; keys are masked.
fn log_applied(
    ctx: &Ctx,
    vendor: &Vendor,
    event: &WebhookEvent,
    applied: &WebhookApplied,
    repeated: bool,
) {
    let (id, kind) = (untrusted(&event.id), untrusted(&event.kind));
    if repeated {
        tracing::info!(vendor = %vendor.name, event = %id, kind = %kind, client = %ctx.client, "webhook event repeated: answered with its first outcome; nothing changed");
        return;
    }
    for (n, step) in applied.steps.iter().enumerate() {
        let action = n + 1;
        match step {
            StepDone::Created {
                keys,
                reused,
                mail_id,
            } => {
                for key in keys {
                    let key = masked(&ActivationKey::from_canonical_unchecked(key.clone()));
                    tracing::info!(vendor = %vendor.name, event = %id, kind = %kind, action, %key, reused, mailed = mail_id.is_some(), "licence created by a webhook");
                }
            }
            StepDone::Changed { event: what, keys } => {
                for key in keys {
                    let key = masked(&ActivationKey::from_canonical_unchecked(key.clone()));
                    tracing::info!(vendor = %vendor.name, event = %id, kind = %kind, action, %key, "licence {what} by a webhook");
                }
            }
            StepDone::Customer { created, .. } => {
                tracing::info!(vendor = %vendor.name, event = %id, kind = %kind, action, created, "customer updated by a webhook");
            }
            StepDone::Refused { message } => {
                tracing::error!(vendor = %vendor.name, event = %id, kind = %kind, action, reason = %message, "webhook action refused after earlier actions of its event were applied; the event is recorded as it stands");
            }
        }
    }
}

/// `<result>` saying what the event did, then `<eventId>`, `<repeated>` and the keys created
/// or changed (`<licenses>`).
fn reply(event: &WebhookEvent, applied: &WebhookApplied, repeated: bool) -> Reply {
    let mut parts = Vec::new();
    let mut records = Vec::new();
    for step in &applied.steps {
        match step {
            StepDone::Created { keys, reused, .. } => {
                let n = keys.len();
                let noun = if n == 1 { "key" } else { "keys" };
                parts.push(if *reused {
                    format!("{n} {noun} of an order fulfilled before")
                } else {
                    format!("created {n} {noun}")
                });
                records.extend(keys.iter().map(|k| {
                    vec![
                        Field::text("activationKey", dashed(k)),
                        Field::text("change", "created"),
                    ]
                }));
            }
            StepDone::Changed { event: what, keys } => {
                let n = keys.len();
                parts.push(format!(
                    "{what} {n} {}",
                    if n == 1 { "licence" } else { "licences" }
                ));
                records.extend(keys.iter().map(|k| {
                    vec![
                        Field::text("activationKey", dashed(k)),
                        Field::text("change", what.clone()),
                    ]
                }));
            }
            StepDone::Customer { email, created } => parts.push(format!(
                "customer {email} {}",
                if *created { "created" } else { "updated" }
            )),
            StepDone::Refused { message } => parts.push(format!("refused: {message}")),
        }
    }
    let mut reply = Reply::new(format!(
        "Event {} ({}){}: {}.",
        event.id,
        event.kind,
        if repeated { " already applied" } else { "" },
        parts.join("; ")
    ));
    reply.push(Field::text("eventId", event.id.clone()));
    reply.push(Field::bool("repeated", repeated));
    reply.push(Field {
        name: "licenses",
        value: crate::response::Value::List {
            item: "license",
            records,
        },
    });
    reply
}
