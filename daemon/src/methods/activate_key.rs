//! ActivateKey: QLM's older activation call. The road of ValidateLicenseHttp
//! (`super::activation`) with `is_activate=true` and a short reply, signed when asked (spec
//! offline.md).

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::methods::activation::{ActivationCtx, Check, Checked, check_or_activate};
use crate::methods::license_info::customer_of;
use crate::methods::validate_license::{display_key, result_sentence};
use crate::response::{Field, Reply};

/// What ActivateKey declares to the guard.
pub const DECLARATION: Declaration = Declaration::new("ActivateKey", AuthNeed::WhenVendorNamed);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = ActivateKey::parse(args)?;
    let vendor = guard::authenticate(ctx, call, args).await?;
    m.apply(ctx, vendor.as_ref()).await
}

/// A parsed ActivateKey request.
pub struct ActivateKey {
    check: Check,
}

impl ActivateKey {
    /// The arguments of ValidateLicenseHttp; `is_activate` is always true here.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let mut check = Check::parse(args)?;
        check.activate = true;
        if check.computer_id.is_none() {
            return Err(MethodError::missing("is_pcid"));
        }
        Ok(ActivateKey { check })
    }

    /// Activates (or confirms the activation) and replies with `pckey`, `activationKey`,
    /// `computerID` and `userEmail`, signed when asked. A vendor given with `is_vendor` is
    /// held to its scope.
    pub async fn apply(self, ctx: &Ctx, vendor: Option<&Vendor>) -> Result<Reply, MethodError> {
        let signature = self.check.prepare_signature(ctx).await?;
        let actx = ActivationCtx::http(ctx, "ActivateKey");
        let checked = check_or_activate(&self.check, &actx, vendor).await?;
        let customer = customer_of(&ctx.state.store, checked.license()).await?;
        let mut reply = match checked {
            Checked::Active {
                license,
                activation,
                computer_key,
                new,
            } => {
                let key = crate::license::keys::ActivationKey::from_canonical_unchecked(
                    license.key.clone(),
                );
                let mut r = Reply::new(result_sentence(new, &activation.computer_id));
                r.push(Field::text("pckey", display_key(&computer_key)));
                r.push(Field::text("activationKey", key.dashed()));
                r.push(Field::text("computerID", activation.computer_id));
                r.push_opt("userEmail", customer.map(|c| c.email));
                r
            }
            Checked::NotActivated { .. } => {
                return Err(MethodError::internal(
                    "ActivateKey ended without an activation.",
                ));
            }
        };
        if let Some(signature) = signature {
            signature.apply(&mut reply).await?;
        }
        Ok(reply)
    }
}
