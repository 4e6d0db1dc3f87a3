//! RevokeLicenseHttp: revokes a licence (or restores it with `is_revoke=false`). A revoked
//! licence cannot be activated and fails validation (201); its activations stay recorded and
//! can still be released. An order or subscription id in place of the key revokes every key
//! the calling vendor created for it, in one transaction (`super::selection`).

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::License;
use crate::license::update::set_revoked;
use crate::method_decl::{AuthNeed, Declaration, Effect, MethodCall};
use crate::methods::Ctx;
use crate::methods::selection::{Selection, dashed, reply_for};
use crate::methods::update_license::{REVOKE_GATE, edit_command, log_changes, run_edit};
use crate::response::{Field, Reply};
use crate::store::commands::Edit;

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
    which: Selection,
    revoke: bool,
}

impl RevokeLicense {
    /// `is_avkey`, `is_orderid` or `is_subscriptionid` (exactly one), `is_revoke` (default
    /// `true`; `false` restores).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        Ok(RevokeLicense {
            which: Selection::parse(args)?,
            revoke: args.boolean("is_revoke")?.unwrap_or(true),
        })
    }

    /// Revokes or restores in one transaction, with a history entry for each licence.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let which = self.which.clone();
        let what = if self.revoke {
            "licence revoked"
        } else {
            "licence restored"
        };
        let licenses = run_edit(ctx, self.command(ctx, vendor)?).await?;
        log_changes("RevokeLicenseHttp", ctx, vendor, &licenses, what);
        Ok(reply(&licenses, &which))
    }

    /// The store's command for this change (a store's webhook runs it among the other
    /// actions of its event).
    ///
    /// # Errors
    /// A selection the vendor may not make.
    pub fn command(self, ctx: &Ctx, vendor: &Vendor) -> Result<Edit, MethodError> {
        let target = self.which.target(vendor)?;
        let (revoke, now) = (self.revoke, ctx.now);
        let event = if revoke { "revoked" } else { "restored" };
        let rule = Box::new(move |license: &License| set_revoked(license, revoke, now));
        Ok(edit_command(ctx, vendor, target, event, true, rule))
    }
}

/// The reply naming the key, as for one key; for an order or subscription, the count and the
/// `<licenses>` list too.
fn reply(licenses: &[License], which: &Selection) -> Reply {
    reply_for(
        licenses,
        which,
        |one| {
            format!(
                "Successfully updated license information for ActivationKey={}.",
                dashed(one)
            )
        },
        |many| format!("Successfully updated license information for {many}."),
        |l| vec![Field::bool("revoked", l.revoked)],
    )
}
