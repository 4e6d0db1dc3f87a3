//! UpgradeLicense: issues a new key that replaces the old one (for a new major version, say).
//! The old licence is kept, marked as replaced, and refused from then on (code 200).

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::keys::ActivationKey;
use crate::license::update::{UpdateRequest, apply_upgrade};
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::update_license;
use crate::methods::update_license::{
    declared_properties, log_change, scope_check, version_features_and_expiry,
};
use crate::methods::{Ctx, key_lines, lookup_key};
use crate::response::{Field, Reply};
use crate::store::commands::{Upgrade, Upgraded};

/// What UpgradeLicense declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("UpgradeLicense", AuthNeed::Always).gated_by(update_license::GATE);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = UpgradeLicense::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed UpgradeLicense request.
pub struct UpgradeLicense {
    key: String,
    request: UpdateRequest,
}

impl UpgradeLicense {
    /// `is_avkey` (required), `is_productid`, `is_majorversion`, `is_minorversion`,
    /// `is_features`, `is_expdate`, `is_expduration`, `is_qlmversion`, parsed as in
    /// UpdateLicenseHttp. None of the changes is required: an upgrade may only swap the key.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        Ok(UpgradeLicense {
            key: args.required("is_avkey")?.to_string(),
            request: version_features_and_expiry(args)?,
        })
    }

    /// Creates the new licence and marks the old one, in one transaction.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let key = lookup_key(&self.key)?;
        let config = ctx.config.clone();
        let now = ctx.now;
        let request = self.request;
        let options = &ctx.config.options;
        let command = Upgrade {
            key: key.as_str().to_string(),
            check: scope_check(vendor),
            upgrade: Box::new(move |old, new_key| {
                apply_upgrade(old, &request, declared_properties(&config), now, new_key)
            }),
            max_stored: options.db_max_records,
            log_history: options.history_table_log_upgrade,
            vendor: Some(vendor.name.clone()),
            client: Some(ctx.client.to_string()),
            now,
        };
        let Upgraded { new, .. } = ctx.execute(command).await?;
        log_change("UpgradeLicense", ctx, vendor, &key, "licence upgraded");
        let new_key = ActivationKey::from_canonical_unchecked(new.key).dashed();
        let mut reply = Reply::new("The license was upgraded.");
        reply.push(Field::text("activationKey", key.dashed()));
        reply.push(Field::text("newActivationKey", new_key.clone()));
        reply.text_lines = key_lines(vendor, vec![new_key]);
        Ok(reply)
    }
}
