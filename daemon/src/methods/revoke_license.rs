//! RevokeLicenseHttp: revokes a licence (or restores it with `is_revoke=false`). A revoked
//! licence cannot be activated and fails validation (201); its activations stay recorded and
//! can still be released.

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::update::set_revoked;
use crate::method_decl::{AuthNeed, Declaration, Effect, MethodCall};
use crate::methods::update_license::{REVOKE_GATE, edit_one, log_change};
use crate::methods::{Ctx, lookup_key};
use crate::response::{Field, Reply};

/// What RevokeLicenseHttp declares to the guard.
pub const DECLARATION: Declaration = Declaration::new("RevokeLicenseHttp", AuthNeed::Always)
    .gated_by(REVOKE_GATE)
    .causing(&[Effect::Revoke]);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = RevokeLicense::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed RevokeLicenseHttp request.
pub struct RevokeLicense {
    key: String,
    revoke: bool,
}

impl RevokeLicense {
    /// `is_avkey` (required), `is_revoke` (default `true`; `false` restores).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        Ok(RevokeLicense {
            key: args.required("is_avkey")?.to_string(),
            revoke: args.boolean("is_revoke")?.unwrap_or(true),
        })
    }

    /// Revokes or restores in one transaction, with a history entry.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let key = lookup_key(&self.key)?;
        let (revoke, now) = (self.revoke, ctx.now);
        let (event, what) = if revoke {
            ("revoked", "licence revoked")
        } else {
            ("restored", "licence restored")
        };
        let license = edit_one(
            ctx,
            vendor,
            &key,
            event,
            Box::new(move |license| set_revoked(license, revoke, now)),
        )
        .await?;
        log_change("RevokeLicenseHttp", ctx, vendor, &key, what);
        let dashed = key.dashed();
        let mut reply = Reply::new(format!(
            "Successfully updated license information for ActivationKey={dashed}."
        ));
        reply.push(Field::text("activationKey", dashed));
        reply.push(Field::bool("revoked", license.revoked));
        Ok(reply)
    }
}
