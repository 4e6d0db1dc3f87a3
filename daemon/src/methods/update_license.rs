//! UpdateLicenseHttp: changes a licence in place; the key stays the same. Also the parsing
//! and store plumbing the other licence-editing methods share (UpgradeLicense,
//! RevokeLicenseHttp, RenewSubscriptionHttp, the maintenance-plan methods).

use crate::auth::guard;
use crate::auth::vendor::check_scope;
use crate::config::{Config, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::{Args, quote};
use crate::license::License;
use crate::license::features::Features;
use crate::license::keys::ActivationKey;
use crate::license::model::{BaseModel, LicenseModel};
use crate::license::properties::{self, PropertyDef};
use crate::license::update::{ExpiryChange, UpdateRequest, apply_update};
use crate::method_decl::{ArgumentEffect, AuthNeed, Declaration, Effect, Gate, MethodCall};
use crate::methods::license_info::{customer_of, license_info};
use crate::methods::{Ctx, lookup_key, masked};
use crate::response::Reply;
use crate::store::commands::{Edit, Edited, LicenseCheck, LicenseEdit, Target};

/// `security.enableUpgradeLicense`: the gate of UpdateLicenseHttp and UpgradeLicense.
pub const GATE: Gate = Gate::new("security.enableUpgradeLicense", |s| {
    s.enable_upgrade_license
});

/// `security.enableRevokeLicense`: the gate of RevokeLicenseHttp and of revoking through
/// UpdateLicenseHttp (here, beside the plumbing both share, so neither file imports the other
/// in a circle).
pub const REVOKE_GATE: Gate =
    Gate::new("security.enableRevokeLicense", |s| s.enable_revoke_license);

/// What UpdateLicenseHttp declares to the guard (`is_revoke` revokes, and needs
/// `security.enableRevokeLicense` as well).
pub const DECLARATION: Declaration = Declaration::new("UpdateLicenseHttp", AuthNeed::Always)
    .gated_by(GATE)
    .causing_by_argument(&[ArgumentEffect {
        argument: "is_revoke",
        effect: Effect::Revoke,
        // Checked with the gates, before the syntax of the arguments (methods.md).
        gate: Some(("Revoking", REVOKE_GATE)),
    }]);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = UpdateLicense::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed UpdateLicenseHttp request.
pub struct UpdateLicense {
    key: String,
    request: UpdateRequest,
}

impl UpdateLicense {
    /// Checks the syntax of every argument (methods.md table); a request that changes
    /// nothing is code 208.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let key = args.required("is_avkey")?.to_string();
        let mut request = version_features_and_expiry(args)?;
        // Only here does an empty is_expdate say something: it removes the fixed expiry
        // (methods.md). UpgradeLicense, like every other method, reads it as not given.
        if args.get("is_expdate") == Some("") {
            request.expiry = ExpiryChange::Remove;
        }
        request.base_model = base_model(args)?;
        request.properties = properties::parse_changes(args.text("is_pp").unwrap_or(""))?;
        request.quantity = bounded(args, "is_quantity", 1, 100_000)?;
        request.user_data = text(args, "is_userdata1", 1024)?;
        request.affiliate_id = text(args, "is_affiliateid", 255)?;
        request.revoke = args.boolean("is_revoke")?;
        request.max_release_count = args.integer("is_maxreleasecount", -2, 100_000)?;
        request.max_release_period = release_period(args)?;
        if !request.changes_something() {
            return Err(MethodError::new(
                ErrorCode::MissingArgument,
                "There is nothing to update: give at least one field to change (for example is_features, is_expdate, is_quantity or is_pp).",
            ));
        }
        Ok(UpdateLicense { key, request })
    }

    /// Applies every change in one transaction and answers with the licence as it is now.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let key = lookup_key(&self.key)?;
        let license = run_edit(ctx, self.command(ctx, vendor)?)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| MethodError::internal("The store changed no licence."))?;
        log_change("UpdateLicenseHttp", ctx, vendor, &key, "licence updated");
        let mut reply = Reply::new(format!(
            "Successfully updated license information for ActivationKey={}.",
            key.dashed()
        ));
        let customer = customer_of(&ctx.state.store, &license).await?;
        reply.fields.extend(license_info(
            &license,
            customer.as_ref(),
            &ctx.config,
            ctx.now,
            false,
            None,
        ));
        Ok(reply)
    }
}

impl UpdateLicense {
    /// The store's command for this change (the staff console runs it with its own history
    /// line).
    ///
    /// # Errors
    /// A key that is not one (code 203).
    pub fn command(self, ctx: &Ctx, vendor: &Vendor) -> Result<Edit, MethodError> {
        let key = lookup_key(&self.key)?;
        let config = ctx.config.clone();
        let now = ctx.now;
        let request = self.request;
        let rule: LicenseEdit = Box::new(move |license| {
            apply_update(license, &request, declared_properties(&config), now)
        });
        Ok(edit_command(
            ctx,
            vendor,
            Target::Key(key.as_str().to_string()),
            "updated",
            true,
            rule,
        ))
    }
}

/// The arguments UpdateLicenseHttp and UpgradeLicense share: `is_productid`,
/// `is_majorversion`, `is_minorversion`, `is_features`, `is_expdate` (empty is not given),
/// `is_expduration` (0 to 36500; `-1` or empty is not given), `is_qlmversion`.
pub(crate) fn version_features_and_expiry(args: &Args) -> Result<UpdateRequest, MethodError> {
    let expiry = args
        .expiry("is_expdate")?
        .map_or(ExpiryChange::Keep, ExpiryChange::Set);
    Ok(UpdateRequest {
        product_id: args.unsigned("is_productid")?,
        major: args.unsigned("is_majorversion")?,
        minor: args.unsigned("is_minorversion")?,
        features: Features::parse_changes(args.text("is_features").unwrap_or(""))?,
        expiry,
        duration_days: args.duration("is_expduration", 0, 36_500)?,
        qlm_version: text(args, "is_qlmversion", 255)?,
        ..UpdateRequest::default()
    })
}

/// `is_licensemodel`: `permanent`, `trial` or `subscription`; the deployment is not changed
/// by an update, so a `_cloud` or `_floating` name is refused (5).
fn base_model(args: &Args) -> Result<Option<BaseModel>, MethodError> {
    let Some(name) = args.text("is_licensemodel") else {
        return Ok(None);
    };
    match LicenseModel::parse(name) {
        Some(model) if !model.is_seat() => Ok(Some(model.base)),
        _ => Err(MethodError::invalid(format!(
            "The argument is_licensemodel has the value '{}'; expected permanent, trial or subscription (the _cloud or _floating part of the licence's model is kept).",
            quote(name)
        ))),
    }
}

/// `is_maxreleaseperiod`: 1 to 36500 days, `-1` (since creation) or `-2` (the server's).
fn release_period(args: &Args) -> Result<Option<i64>, MethodError> {
    match args.integer("is_maxreleaseperiod", -2, 36_500) {
        Ok(Some(0)) | Err(_) => Err(MethodError::invalid(format!(
            "The argument is_maxreleaseperiod has the value '{}'; expected 1 to 36500 days, -1 (since the licence was created) or -2 (the server's maxReleasePeriodInDays).",
            quote(args.text("is_maxreleaseperiod").unwrap_or(""))
        ))),
        Ok(period) => Ok(period),
    }
}

/// An integer argument in `min..=max` as a `u32` (every caller's range is non-negative).
pub(crate) fn bounded(
    args: &Args,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<u32>, MethodError> {
    Ok(args
        .integer(name, min, max)?
        .and_then(|n| u32::try_from(n).ok()))
}

/// A text argument of at most `max` characters.
pub(crate) fn text(args: &Args, name: &str, max: usize) -> Result<Option<String>, MethodError> {
    Ok(args.text_max(name, max)?.map(str::to_string))
}

/// The declared product properties of a configured product version, for the rules.
pub(crate) fn declared_properties<'a>(
    config: &'a Config,
) -> impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]> {
    move |id, major, minor| {
        config
            .product(id, major, minor)
            .map(|p| p.properties.as_slice())
    }
}

/// The vendor-scope check run on each licence inside the transaction.
pub(crate) fn scope_check(vendor: &Vendor) -> LicenseCheck {
    let vendor = vendor.clone();
    Box::new(move |license: &License| check_scope(&vendor, license))
}

/// Changes the licences of `target` with `rule` in one transaction; each after the change.
pub(crate) async fn edit(
    ctx: &Ctx,
    vendor: &Vendor,
    target: Target,
    event: &'static str,
    log_history: bool,
    rule: LicenseEdit,
) -> Result<Vec<License>, MethodError> {
    run_edit(
        ctx,
        edit_command(ctx, vendor, target, event, log_history, rule),
    )
    .await
}

/// Runs an edit; the licences after the change.
pub(crate) async fn run_edit(ctx: &Ctx, command: Edit) -> Result<Vec<License>, MethodError> {
    let Edited { licenses } = ctx.execute(command).await?;
    Ok(licenses)
}

/// The command changing the licences of `target` with `rule`, held to `vendor`'s scope.
pub(crate) fn edit_command(
    ctx: &Ctx,
    vendor: &Vendor,
    target: Target,
    event: &'static str,
    log_history: bool,
    rule: LicenseEdit,
) -> Edit {
    Edit {
        target,
        check: scope_check(vendor),
        edit: rule,
        event,
        log_history,
        vendor: Some(vendor.name.clone()),
        client: Some(ctx.client.to_string()),
        now: ctx.now,
    }
}

/// The log line of a change of each of `licenses`; keys are masked.
pub(crate) fn log_changes(
    method: &'static str,
    ctx: &Ctx,
    vendor: &Vendor,
    licenses: &[License],
    what: &'static str,
) {
    for license in licenses {
        let key = ActivationKey::from_canonical_unchecked(license.key.clone());
        log_change(method, ctx, vendor, &key, what);
    }
}

/// The log line of a licence change; the key is masked.
pub(crate) fn log_change(
    method: &'static str,
    ctx: &Ctx,
    vendor: &Vendor,
    key: &ActivationKey,
    what: &'static str,
) {
    tracing::info!(
        method,
        key = %masked(key),
        vendor = %vendor.name,
        client = %ctx.client,
        "{what}"
    );
}
