//! ValidateLicenseHttp: the client call that activates when needed and validates, on the
//! road it shares with ActivateKey and `licd license-file` (`super::activation`). A success
//! reply that carries a computer key is signed when asked (spec offline.md).

use crate::auth::guard;
use crate::config::Config;
use crate::customers::Customer;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::methods::activation::{ActivationCtx, Check, Checked, check_or_activate};
use crate::methods::license_info::{customer_of, license_info};
use crate::response::{Field, Reply};

/// What ValidateLicenseHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("ValidateLicenseHttp", AuthNeed::WhenCredentialsGiven);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = ValidateLicense::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    m.apply(ctx).await
}

/// A parsed ValidateLicenseHttp request.
pub struct ValidateLicense {
    check: Check,
}

impl ValidateLicense {
    /// Checks the syntax of every argument.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        Ok(ValidateLicense {
            check: Check::parse(args)?,
        })
    }

    /// Validates, activating when needed; the reply carries the computer key and the licence
    /// info elements, and is signed when asked.
    pub async fn apply(self, ctx: &Ctx) -> Result<Reply, MethodError> {
        let signature = self.check.prepare_signature(ctx).await?;
        let actx = ActivationCtx::http(ctx, "ValidateLicenseHttp");
        let checked = check_or_activate(&self.check, &actx, None).await?;
        let signed = matches!(checked, Checked::Active { .. });
        let customer = customer_of(&ctx.state.store, checked.license()).await?;
        let mut reply = validate_reply(checked, customer.as_ref(), &ctx.config, ctx.now);
        // Only a reply with a computer key is signed: it is the licence file (offline.md).
        if let Some(signature) = signature.filter(|_| signed) {
            signature.apply(&mut reply).await?;
        }
        Ok(reply)
    }
}

/// The reply of ValidateLicenseHttp (and of `licd license-file`): `<result>`, then for an
/// activated computer `pckey`, then the licence info elements (with the activation's
/// `computerName`, `computerID` and `activationDate` when there is one).
pub fn validate_reply(
    checked: Checked,
    customer: Option<&Customer>,
    config: &Config,
    now: i64,
) -> Reply {
    match checked {
        Checked::Active {
            license,
            activation,
            computer_key,
            new,
        } => {
            let mut r = Reply::new(result_sentence(new, &activation.computer_id));
            r.push(Field::text("pckey", display_key(&computer_key)));
            r.fields.extend(license_info(
                &license,
                customer,
                config,
                now,
                false,
                Some(&activation),
            ));
            r
        }
        Checked::NotActivated { license } => {
            let mut r = Reply::new("The license is valid but not activated on this computer.");
            r.fields
                .extend(license_info(&license, customer, config, now, true, None));
            r
        }
    }
}

/// The `<result>` of a successful validation: a new activation names the computer.
pub fn result_sentence(new_activation: bool, computer_id: &str) -> String {
    if new_activation {
        format!("The license was activated on computer {computer_id}.")
    } else {
        "Your license is valid.".to_string()
    }
}

/// A computer key in its dashed form, whatever form it was stored in. A key that is not a
/// licd key without dashes is sent as it is: an imported QLM computer key keeps QLM's form.
pub fn display_key(key: &str) -> String {
    if key.contains('-') || key.chars().count() != crate::license::keys::KEY_LENGTH {
        return key.to_string();
    }
    crate::license::keys::ComputerKey::from_canonical_unchecked(key.to_string()).dashed()
}
