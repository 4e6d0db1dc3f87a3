//! ReleaseLicenseHttp: deactivates a licence on a computer so that the key can be activated
//! elsewhere; the check-in of a cloud or floating seat; and how an offline deactivation
//! (with its verification code) reaches the server.

use crate::auth::guard;
use crate::config::{Config, Vendor};
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::keys::ActivationKey;
use crate::method_decl::{AuthNeed, Declaration, Effect, Gate, MethodCall};
use crate::methods::{Ctx, lookup_key, masked};
use crate::response::{Field, Reply};
use crate::store::commands::{LicenseCheck, Release, Released};

/// What ReleaseLicenseHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("ReleaseLicenseHttp", AuthNeed::WhenReleaseRequiresIt)
        .gated_by(Gate::new("security.enableReleaseKeyHttp", |s| {
            s.enable_release_key_http
        }))
        .causing(&[Effect::Release]);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = ReleaseLicense::parse(args)?;
    let vendor = guard::authenticate(ctx, call, args).await?;
    m.apply(ctx, vendor.as_ref()).await
}

/// A parsed release request.
pub struct ReleaseLicense {
    key: String,
    computer_id: Option<String>,
    code: Option<String>,
    log_release: bool,
}

impl ReleaseLicense {
    /// `is_avkey` (required), `is_pcid`, `is_deactivation_code` (alias
    /// `is_deacivation_code`), `is_logRelease`.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        Ok(ReleaseLicense {
            key: args.required("is_avkey")?.to_string(),
            computer_id: args.computer_id("is_pcid")?,
            code: args
                .text_max("is_deactivation_code", 128)?
                .map(str::to_string),
            log_release: args.boolean("is_logrelease")?.unwrap_or(true),
        })
    }

    /// Releases the activation in one transaction: slot freed, release log, history.
    pub async fn apply(self, ctx: &Ctx, vendor: Option<&Vendor>) -> Result<Reply, MethodError> {
        let key = lookup_key(&self.key)?;
        let scope = vendor.cloned();
        let command = release_command(
            &ctx.config,
            &key,
            ReleaseInput {
                computer_id: self.computer_id,
                code: self.code,
                log_release: self.log_release,
                vendor: vendor.map(|v| v.name.clone()),
                client: ctx.client.to_string(),
                now: ctx.now,
            },
            Box::new(move |license| match &scope {
                Some(v) => crate::auth::vendor::check_scope(v, license),
                None => Ok(()),
            }),
        );
        let Released {
            license,
            activation,
        } = ctx.execute(command).await?;
        tracing::info!(
            method = "ReleaseLicenseHttp",
            key = %masked(&key),
            computer = %crate::logging::untrusted(&activation.computer_id),
            vendor = vendor.map_or("", |v| v.name.as_str()),
            client = %ctx.client,
            "activation released"
        );
        Ok(reply(&key, &activation.computer_id, license.available()))
    }
}

/// What one release asks for, whoever asks (HTTP or `licd release`).
pub struct ReleaseInput {
    /// The computer to release (optional when the key has one activation).
    pub computer_id: Option<String>,
    /// The deactivation verification code, if given.
    pub code: Option<String>,
    /// False for `is_logRelease=false`.
    pub log_release: bool,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address (or `local` for the command line), for the history.
    pub client: String,
    /// The time of the request.
    pub now: i64,
}

/// The store command of a release, with the server properties that govern it.
pub fn release_command(
    config: &Config,
    key: &ActivationKey,
    input: ReleaseInput,
    check: LicenseCheck,
) -> Release {
    let options = &config.options;
    Release {
        key: key.as_str().to_string(),
        computer_id: input.computer_id,
        code: input.code,
        now: input.now,
        code_required: options.release_license_requires_verification_code,
        communication_key: options.communication_encryption_key.clone(),
        prevent_minutes: options.prevent_deactivation_period,
        max_release_count: options.max_release_count,
        max_release_period_days: options.max_release_period_in_days,
        log_history: input.log_release && options.history_table_log_release,
        vendor: input.vendor,
        client: Some(input.client),
        check,
    }
}

/// The reply of a release: `<result>` naming key and computer, `<activationKey>`,
/// `<computerID>`, `<availableLicenses>`.
pub fn reply(key: &ActivationKey, computer_id: &str, available: u32) -> Reply {
    let dashed = key.dashed();
    let mut r = Reply::new(format!(
        "Activation Key {dashed} has been released from computer {computer_id}."
    ));
    r.push(Field::text("activationKey", dashed));
    r.push(Field::text("computerID", computer_id));
    r.push(Field::int("availableLicenses", i64::from(available)));
    r
}
