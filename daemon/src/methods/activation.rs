//! The activation road that ValidateLicenseHttp, ActivateKey and `licd license-file`
//! (`crate::offline`) share: read the licence and this computer's activation, let the rules
//! in `crate::license::validation` decide, then activate (one `Activate` command) or validate
//! the existing activation (a durable seat record, or a lazy write).

use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, Vendor};
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::decisions::ActivationLimits;
use crate::license::keys::ActivationKey;
use crate::license::refusal::Refusal;
use crate::license::rules::{self, ActivationRequest, ProductQuery};
use crate::license::validation::{self, RevalidationPolicy};
use crate::license::{Activation, License, dates};
use crate::methods::{Ctx, lookup_key, masked, not_found};
use crate::signing::reply::PendingSignature;
use crate::store::Store;
use crate::store::commands::{Activate, Activated, RecordSeat, SeatRecorded};

/// What a client sends to validate or activate.
#[derive(Debug, Clone)]
pub struct Check {
    /// `is_avkey` as sent.
    pub key: String,
    /// `is_pcid`.
    pub computer_id: Option<String>,
    /// `is_pckey`.
    pub computer_key: Option<String>,
    /// `is_activate`.
    pub activate: bool,
    /// `is_computer_name`.
    pub computer_name: Option<String>,
    /// `is_productid`, `is_majorversion`, `is_minorversion`.
    pub product: ProductQuery,
    /// `is_email`.
    pub email: Option<String>,
    /// `is_userdata1`.
    pub user_data: Option<String>,
    /// `is_affiliateid`.
    pub affiliate_id: Option<String>,
    /// `is_alog_userdata1`.
    pub activation_user_data: Option<String>,
    /// `is_sign`.
    pub sign: bool,
    /// `is_format=json`: such a reply is never signed.
    pub json: bool,
}

impl Check {
    /// Parses the arguments ValidateLicenseHttp and ActivateKey share.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let sign = args.boolean("is_sign")?.unwrap_or(false);
        let json = args
            .text("is_format")
            .is_some_and(|f| f.eq_ignore_ascii_case("json"));
        if sign && json {
            return Err(MethodError::invalid(
                "is_sign=true cannot be combined with is_format=json: only XML replies are signed; leave out is_format or send is_format=xml.",
            ));
        }
        let text = |name, max| -> Result<Option<String>, MethodError> {
            Ok(args.text_max(name, max)?.map(str::to_string))
        };
        Ok(Check {
            key: args.required("is_avkey")?.to_string(),
            computer_id: args.computer_id("is_pcid")?,
            // Compared, never rejected for its form (README §4): only maxValueBytes bounds it.
            computer_key: args.text("is_pckey").map(str::to_string),
            activate: args.boolean("is_activate")?.unwrap_or(true),
            computer_name: text("is_computer_name", 255)?,
            product: ProductQuery {
                product_id: args.unsigned("is_productid")?,
                major: args.unsigned("is_majorversion")?,
                minor: args.unsigned("is_minorversion")?,
            },
            email: text("is_email", 255)?,
            user_data: text("is_userdata1", 1024)?,
            affiliate_id: text("is_affiliateid", 255)?,
            activation_user_data: text("is_alog_userdata1", 1024)?,
            sign,
            json,
        })
    }

    /// Whether a success reply is to be signed: asked with `is_sign`, or always with
    /// `[security] signLicenseReplies`, except JSON replies, which have no signature form.
    /// Without a computer ID no reply carries a computer key, so none is signed.
    pub fn wants_signature(&self, config: &Config) -> bool {
        self.computer_id.is_some()
            && (self.sign || (config.security.sign_license_replies && !self.json))
    }

    /// Prepares the signature when one is wanted, before anything changes (a full signing
    /// queue is 503 with nothing changed).
    pub async fn prepare_signature(
        &self,
        ctx: &Ctx,
    ) -> Result<Option<PendingSignature>, MethodError> {
        if !self.wants_signature(&ctx.config) {
            return Ok(None);
        }
        let algorithm = ctx.config.security.signature_algorithm;
        PendingSignature::prepare(&ctx.state.signer, &ctx.state.store, algorithm)
            .await
            .map(Some)
    }
}

/// What the validation road needs besides the request: an HTTP request's context, or the
/// server host's for `licd license-file`.
pub struct ActivationCtx<'a> {
    /// The licence store.
    pub store: &'a Store,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// The client address, or `local` on the server host: logged, and stored with a new
    /// activation when `captureIPAddress` is on.
    pub client: String,
    /// The method or command, for the log line of an activation.
    pub method: &'static str,
    /// The request's time, UTC Unix seconds.
    pub now: i64,
    /// When the request must have been queued for the writer.
    pub deadline: Instant,
}

impl<'a> ActivationCtx<'a> {
    /// The context of an HTTP request.
    pub fn http(ctx: &'a Ctx, method: &'static str) -> Self {
        ActivationCtx {
            store: &ctx.state.store,
            config: ctx.config.clone(),
            client: ctx.client.to_string(),
            method,
            now: ctx.now,
            deadline: ctx.deadline,
        }
    }
}

/// The result of the validation road.
pub enum Checked {
    /// The computer holds an activation (new or existing).
    Active {
        /// The licence after any change.
        license: License,
        /// The computer's activation as now stored.
        activation: Activation,
        /// The current computer key.
        computer_key: String,
        /// True when this request made the activation.
        new: bool,
    },
    /// No activation and `is_activate=false`: report only.
    NotActivated {
        /// The licence as stored.
        license: License,
    },
}

impl Checked {
    /// The licence, activated here or not.
    pub fn license(&self) -> &License {
        match self {
            Checked::Active { license, .. } | Checked::NotActivated { license } => license,
        }
    }
}

/// The checks of methods.md "ValidateLicenseHttp", flow steps 1 to 5: refuses what the rules
/// refuse, validates an existing activation, reports when `is_activate=false`, else activates.
pub async fn check_or_activate(
    check: &Check,
    ctx: &ActivationCtx<'_>,
    scope: Option<&Vendor>,
) -> Result<Checked, MethodError> {
    let key = lookup_key(&check.key)?;
    let license_check = license_check(ctx.config.clone(), check.product, ctx.now);
    let (license, stored) = look_up(check, ctx, &key, scope, &license_check).await?;
    // A cloud or floating seat may have been reclaimed or released meanwhile: then a new
    // one is checked out below.
    let license = match stored {
        Some(activation) => match revalidate(check, ctx, &key, license, activation).await? {
            Revalidated::Done(done) => return Ok(done),
            Revalidated::SeatGone(license) => license,
        },
        None => license,
    };
    if !check.activate {
        return Ok(Checked::NotActivated { license });
    }
    let computer_id = check
        .computer_id
        .clone()
        .ok_or_else(|| MethodError::missing("is_pcid"))?;
    let command = activate_command(check, ctx, &key, computer_id, license_check);
    // Boxed, like `record_seat` below: a validation of an activated computer never gets
    // here, and unboxed it would carry (and copy) room for a command's wait on every call.
    Box::pin(activate(check, ctx, &key, command)).await
}

/// Reads the licence and this computer's activation (when a computer is named) from one
/// snapshot. Refuses a licence outside the vendor's scope, one the rules do not let this
/// client use, and a blocked computer.
async fn look_up(
    check: &Check,
    ctx: &ActivationCtx<'_>,
    key: &ActivationKey,
    scope: Option<&Vendor>,
    license_check: &impl Fn(&License) -> Result<(), Refusal>,
) -> Result<(License, Option<Activation>), MethodError> {
    let reader = ctx.store.read().await?;
    let license = reader.license(key.as_str()).await?.ok_or_else(not_found)?;
    if let Some(vendor) = scope {
        crate::auth::vendor::check_scope(vendor, &license)?;
    }
    license_check(&license)?;
    let Some(pc) = &check.computer_id else {
        return Ok((license, None));
    };
    rules::check_computer_allowed(pc, &ctx.config.options.block_computer_ids)?;
    let stored = reader.activation(key.as_str(), pc).await?;
    drop(reader);
    // A validation moments ago may have changed the name or key last given; its lazy write
    // may not be flushed yet, so read our own writes.
    let activation = stored.map(|s| ctx.store.pending(key.as_str(), &s).unwrap_or(s));
    Ok((license, activation))
}

/// The activation of `computer_id`, with the server's limits and the licence check the
/// writer re-runs inside its transaction.
fn activate_command(
    check: &Check,
    ctx: &ActivationCtx<'_>,
    key: &ActivationKey,
    computer_id: String,
    license_check: impl Fn(&License) -> Result<(), Refusal> + Send + 'static,
) -> Activate {
    let config = &ctx.config;
    let request = ActivationRequest {
        computer_id,
        computer_name: check.computer_name.clone(),
        client_ip: config
            .activation
            .capture_ip_address
            .then(|| ctx.client.clone()),
        activation_user_data: check.activation_user_data.clone(),
        email: check.email.clone(),
        user_data: check.user_data.clone(),
        affiliate_id: check.affiliate_id.clone(),
    };
    Activate {
        key: key.as_str().to_string(),
        request,
        now: ctx.now,
        limits: ActivationLimits {
            max_per_day: config.options.max_activations_per_day,
            fix_duration_at_activation: config
                .options
                .use_duration_to_set_expiry_date_when_activating,
            reclaim_after_minutes: config.activation.cloud_inactivity_threshold_minutes,
        },
        check: Box::new(license_check),
        secret: *ctx.store.secret(),
    }
}

/// Runs the activation: a new one is logged; a computer that another request activated
/// first is validated instead.
async fn activate(
    check: &Check,
    ctx: &ActivationCtx<'_>,
    key: &ActivationKey,
    command: Activate,
) -> Result<Checked, MethodError> {
    match ctx.store.run(command, ctx.deadline).await? {
        Activated::New {
            license,
            activation,
        } => {
            tracing::info!(
                method = ctx.method,
                key = %masked(key),
                computer = %crate::logging::untrusted(&activation.computer_id),
                client = %ctx.client,
                "licence activated"
            );
            Ok(Checked::Active {
                computer_key: activation.computer_key.clone(),
                license,
                activation,
                new: true,
            })
        }
        Activated::Existing {
            license,
            activation,
        } => match revalidate(check, ctx, key, license, activation).await? {
            Revalidated::Done(done) => Ok(done),
            Revalidated::SeatGone(_) => Err(MethodError::internal(
                "The seat was released while it was being checked out; retry.",
            )),
        },
    }
}

/// The product and usability rule (`validation::check_in_use`) over the configuration in
/// force, as a closure the writer re-runs inside its transaction.
pub fn license_check(
    config: Arc<Config>,
    asked: ProductQuery,
    now: i64,
) -> impl Fn(&License) -> Result<(), Refusal> + Send + 'static {
    move |license: &License| {
        validation::check_in_use(
            license,
            &asked,
            config.options.allow_activating_older_version,
            |id, major, minor| {
                config
                    .product(id, major, minor)
                    .map(|p| p.release_date.as_deref().and_then(dates::parse_expiry))
            },
            now,
        )
    }
}

/// What [`revalidate`] found.
enum Revalidated {
    /// The activation is valid: the answer.
    Done(Checked),
    /// A cloud or floating seat vanished meanwhile (released or reclaimed); the licence is
    /// handed back (not cloned beforehand: this is the validation's hot path).
    SeatGone(License),
}

/// Validates an existing activation.
async fn revalidate(
    check: &Check,
    ctx: &ActivationCtx<'_>,
    key: &ActivationKey,
    license: License,
    activation: Activation,
) -> Result<Revalidated, MethodError> {
    let config = &ctx.config;
    let policy = RevalidationPolicy {
        update_name: config.activation.update_computer_name_when_reactivating,
        require_key_match: config
            .options
            .require_computer_key_match_when_validating_on_server,
    };
    let r = validation::revalidation(
        &license,
        activation,
        check.computer_key.as_deref(),
        check.computer_name.as_deref(),
        policy,
        ctx.now,
        ctx.store.secret(),
    )?;
    if validation::validation_is_durable(&license) {
        if !Box::pin(record_seat(ctx, key, &r.activation)).await? {
            return Ok(Revalidated::SeatGone(license));
        }
    } else {
        ctx.store.record_lazily(key.as_str(), r.activation.clone());
    }
    Ok(Revalidated::Done(Checked::Active {
        license,
        activation: r.activation,
        computer_key: r.computer_key.dashed(),
        new: false,
    }))
}

/// Durably records a seat's validation; false when the seat is no longer there.
async fn record_seat(
    ctx: &ActivationCtx<'_>,
    key: &ActivationKey,
    activation: &Activation,
) -> Result<bool, MethodError> {
    let command = RecordSeat {
        key: key.as_str().to_string(),
        activation: activation.clone(),
    };
    let SeatRecorded { still_there } = ctx.store.run(command, ctx.deadline).await?;
    Ok(still_there)
}
