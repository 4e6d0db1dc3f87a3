//! UpdatePrivacyConsentHttp: records whether the customer of a key consents to the privacy
//! policy, and when. The caller names both the key and its customer's e-mail; either wrong
//! is the same 203, so the method tells nobody whose key it is.

use crate::auth::guard;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates::format_datetime;
use crate::method_decl::{AuthNeed, Declaration, Gate, MethodCall};
use crate::methods::{Ctx, lookup_key};
use crate::response::{Field, Reply};
use crate::store::commands::RecordConsent;

/// What UpdatePrivacyConsentHttp declares to the guard.
pub const DECLARATION: Declaration =
    Declaration::new("UpdatePrivacyConsentHttp", AuthNeed::WhenCredentialsGiven).gated_by(
        Gate::new("security.enablePrivacyConsentHttp", |s| {
            s.enable_privacy_consent_http
        }),
    );

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = UpdatePrivacyConsent::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    m.apply(ctx).await
}

/// A parsed UpdatePrivacyConsentHttp request.
pub struct UpdatePrivacyConsent {
    key: String,
    email: String,
    consent: bool,
}

impl UpdatePrivacyConsent {
    /// `is_avkey`, `is_email` and `is_consent` (a boolean), all required (208).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let key = args.required("is_avkey")?.to_string();
        let email = args
            .text_max("is_email", 255)?
            .ok_or_else(|| MethodError::missing("is_email"))?
            .to_string();
        let consent = args
            .boolean("is_consent")?
            .ok_or_else(|| MethodError::missing("is_consent"))?;
        Ok(UpdatePrivacyConsent {
            key,
            email,
            consent,
        })
    }

    /// Records the consent and replies with it and its date.
    pub async fn apply(self, ctx: &Ctx) -> Result<Reply, MethodError> {
        let key = lookup_key(&self.key)?;
        let command = RecordConsent {
            key: key.as_str().to_string(),
            email: self.email,
            consent: self.consent,
            now: ctx.now,
        };
        let customer = ctx.state.store.run(command, ctx.deadline).await?;
        tracing::info!(
            method = "UpdatePrivacyConsentHttp",
            customer = %customer.id,
            client = %ctx.client,
            consent = self.consent,
            "privacy consent recorded"
        );
        let mut r = Reply::new(if self.consent {
            "The privacy consent was recorded: consent given."
        } else {
            "The privacy consent was recorded: consent denied."
        });
        r.push(Field::text("activationKey", key.dashed()));
        r.push(Field::text("userEmail", customer.email));
        r.push(Field::bool("privacyConsent", self.consent));
        r.push(Field::text(
            "privacyConsentDate",
            format_datetime(customer.privacy_consent_date.unwrap_or(ctx.now)),
        ));
        Ok(r)
    }
}
