//! RequestAuthorizationCodeForActivationHttp: e-mails a customer a six-digit code that
//! activates one of its licences on the computer that asked (docs/authorization-codes.md).
//!
//! No authentication, so the reply is the same whatever happened: it never tells whether
//! the address owns a licence, was sent a code, or hit a limit. The code and its mail are
//! written in one transaction (the outbox, docs/mail.md); the reply never waits on SMTP.

use std::sync::Arc;

use crate::auth::guard;
use crate::config::Config;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::authorization_code::{self as rules, MAX_CODES_PER_ADDRESS_PER_HOUR};
use crate::license::rules::ProductQuery;
use crate::mail::template::AUTHORIZATION_CODE;
use crate::method_decl::{AuthNeed, Declaration, Gate, MethodCall};
use crate::methods::Ctx;
use crate::methods::activation::license_check;
use crate::response::Reply;
use crate::store::commands::{CodeIssued, CodeMail, IssueAuthorizationCode};

/// What RequestAuthorizationCodeForActivationHttp declares to the guard.
pub const DECLARATION: Declaration = Declaration::new(
    "RequestAuthorizationCodeForActivationHttp",
    AuthNeed::WhenCredentialsGiven,
)
.gated_by(ACTIVATION_BY_AUTHORIZATION_CODE);

/// The gate both authorization-code methods share.
pub const ACTIVATION_BY_AUTHORIZATION_CODE: Gate =
    Gate::new("security.enableActivationByAuthorizationCode", |s| {
        s.enable_activation_by_authorization_code
    });

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = RequestAuthorizationCode::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    m.apply(ctx).await
}

/// A parsed RequestAuthorizationCodeForActivationHttp request.
pub struct RequestAuthorizationCode {
    email: String,
    computer_id: String,
    product: ProductQuery,
}

impl RequestAuthorizationCode {
    /// `is_email` and `is_pcid` required (208); `is_productid`, `is_majorversion`,
    /// `is_minorversion` optional numbers, narrowing the licences a code may be for.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let email = args
            .text_max("is_email", 255)?
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| MethodError::missing("is_email"))?
            .to_lowercase();
        let computer_id = args
            .computer_id("is_pcid")?
            .ok_or_else(|| MethodError::missing("is_pcid"))?;
        Ok(RequestAuthorizationCode {
            email,
            computer_id,
            product: ProductQuery {
                product_id: args.unsigned("is_productid")?,
                major: args.unsigned("is_majorversion")?,
                minor: args.unsigned("is_minorversion")?,
            },
        })
    }

    /// Makes and mails a code when the address owns a licence this computer may activate
    /// and no hourly limit is reached; replies the same sentence in every case.
    pub async fn apply(self, ctx: &Ctx) -> Result<Reply, MethodError> {
        let minutes = ctx
            .config
            .activation
            .activation_by_authorization_code_expiry_duration;
        let reply = Reply::new(format!(
            "If {} owns a licence this computer can activate, an authorization code was \
             e-mailed to it; it is valid for {} minutes.",
            self.email,
            minutes_text(minutes)
        ));
        // Counted before the store is asked (refunded when nothing is mailed), so that
        // concurrent requests of one address cannot all pass the hourly limit.
        let Some(counted) = ctx.state.code_mails.try_count(
            ctx.client,
            MAX_CODES_PER_ADDRESS_PER_HOUR,
            std::time::Instant::now(),
        ) else {
            tracing::info!(
                method = "RequestAuthorizationCodeForActivationHttp",
                client = %ctx.client,
                "no code mailed: the client address reached its hourly limit"
            );
            return Ok(reply);
        };
        let command = IssueAuthorizationCode {
            email: self.email,
            computer_id: self.computer_id,
            now: ctx.now,
            expires: rules::expiry(ctx.now, minutes),
            check: Box::new(license_check(ctx.config.clone(), self.product, ctx.now)),
            secret: *ctx.state.store.secret(),
            mail: code_mail(ctx.config.clone(), minutes),
        };
        let issued = ctx.state.store.run(command, ctx.deadline).await;
        let outcome = match &issued {
            Ok(CodeIssued::Mailed { .. }) => "code mailed",
            Ok(CodeIssued::NoLicense) => {
                "no code: the address owns no licence this request may activate"
            }
            Ok(CodeIssued::HourlyLimit) => "no code: the address reached its hourly limit",
            Err(_) => "no code: the store failed",
        };
        if !matches!(issued, Ok(CodeIssued::Mailed { .. })) {
            ctx.state.code_mails.refund(counted);
        }
        // The address is personal data and the code a secret: neither is logged.
        tracing::info!(
            method = "RequestAuthorizationCodeForActivationHttp",
            client = %ctx.client,
            "{outcome}"
        );
        match issued? {
            CodeIssued::Mailed { .. } => ctx.state.mail_wake.notify_one(),
            CodeIssued::NoLicense | CodeIssued::HourlyLimit => {}
        }
        Ok(reply)
    }
}

/// The mail of a code under the configuration in force.
fn code_mail(config: Arc<Config>, minutes: f64) -> CodeMail {
    CodeMail {
        template: config.mail.template(AUTHORIZATION_CODE),
        expiry_minutes: minutes_text(minutes),
        product_name: Box::new(move |license| {
            config.product_name(
                license.product_id,
                license.major_version,
                license.minor_version,
            )
        }),
    }
}

/// Minutes as a customer reads them: `10`, `0.5`.
fn minutes_text(minutes: f64) -> String {
    let rounded = (minutes * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

#[cfg(test)]
mod tests {
    use super::minutes_text;

    #[test]
    fn expiry_minutes_read_as_a_person_writes_them() {
        assert_eq!(minutes_text(10.0), "10");
        assert_eq!(minutes_text(0.5), "0.5");
        assert_eq!(minutes_text(0.1), "0.1");
        assert_eq!(minutes_text(1440.0), "1440");
    }
}
