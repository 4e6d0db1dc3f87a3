//! ActivateKeyByAuthorizationCodeHttp: activates the licence an e-mailed authorization code
//! is for, on the computer it was requested for, exactly as ValidateLicenseHttp activates,
//! and replies the same way (docs/authorization-codes.md).
//!
//! Six digits are guessable, so every wrong code costs the guesser: it counts against the
//! pending codes of the `is_email` given (void after
//! `activationByAuthorizationCodeMaxAttempts`), or, when that names no pending code, as a
//! failed authentication of the client address (`security.authFailuresPerMinute`, per /64 for
//! IPv6). A blocked address is refused with code 8 before any code is looked at.

use crate::auth::guard;
use crate::errors::{AUTHENTICATION_FAILED, ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::authorization_code::{code_hash, normalise};
use crate::license::rules::ProductQuery;
use crate::method_decl::{AuthNeed, Declaration, MethodCall};
use crate::methods::Ctx;
use crate::methods::activation::{ActivationCtx, Check, check_or_activate};
use crate::methods::license_info::customer_of;
use crate::methods::request_authorization_code::ACTIVATION_BY_AUTHORIZATION_CODE;
use crate::methods::validate_license::validate_reply;
use crate::response::Reply;
use crate::store::commands::{CheckAuthorizationCode, CodeChecked, SpendAuthorizationCode};

/// What ActivateKeyByAuthorizationCodeHttp declares to the guard.
pub const DECLARATION: Declaration = Declaration::new(
    "ActivateKeyByAuthorizationCodeHttp",
    AuthNeed::WhenCredentialsGiven,
)
.gated_by(ACTIVATION_BY_AUTHORIZATION_CODE);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = ActivateByAuthorizationCode::parse(args)?;
    guard::authenticate(ctx, call, args).await?;
    m.apply(ctx).await
}

/// A parsed ActivateKeyByAuthorizationCodeHttp request.
pub struct ActivateByAuthorizationCode {
    /// The code as typed, normalised; `None` when it cannot be a code (then it is wrong).
    code: Option<String>,
    email: Option<String>,
    /// The activation's arguments; the key is filled in from the code.
    check: Check,
}

/// Code 203 for a wrong or unknown code: the same sentence whatever was wrong.
fn wrong_code() -> MethodError {
    MethodError::new(
        ErrorCode::LicenseNotFound,
        "The authorization code is not valid for this computer; check the code in the e-mail.",
    )
}

/// Code 200 for a used, voided or expired code.
fn spent_code() -> MethodError {
    MethodError::rule(
        "The authorization code was already used, has expired, or was voided after too many \
         wrong codes; request a new one.",
    )
}

impl ActivateByAuthorizationCode {
    /// `is_authcode` and `is_pcid` required (208); `is_email`, `is_computer_name`,
    /// `is_pckey`, `is_activate`, `is_sign` and `is_format` as ValidateLicenseHttp takes them.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let code = args
            .text_max("is_authcode", 64)?
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| MethodError::missing("is_authcode"))?;
        let computer_id = args
            .computer_id("is_pcid")?
            .ok_or_else(|| MethodError::missing("is_pcid"))?;
        let email = args
            .text_max("is_email", 255)?
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty());
        let sign = args.boolean("is_sign")?.unwrap_or(false);
        let json = args
            .text("is_format")
            .is_some_and(|f| f.eq_ignore_ascii_case("json"));
        if sign && json {
            return Err(MethodError::invalid(
                "is_sign=true cannot be combined with is_format=json: only XML replies are signed; leave out is_format or send is_format=xml.",
            ));
        }
        let check = Check {
            key: String::new(),
            computer_id: Some(computer_id),
            computer_key: args.text("is_pckey").map(str::to_string),
            activate: args.boolean("is_activate")?.unwrap_or(true),
            computer_name: args.text_max("is_computer_name", 255)?.map(str::to_string),
            product: ProductQuery::default(),
            email: None,
            user_data: None,
            affiliate_id: None,
            activation_user_data: None,
            sign,
            json,
        };
        Ok(ActivateByAuthorizationCode {
            code: normalise(code),
            email,
            check,
        })
    }

    /// Checks the code, activates its key on the computer, then spends the code.
    pub async fn apply(mut self, ctx: &Ctx) -> Result<Reply, MethodError> {
        let limit = ctx.config.security.auth_failures_per_minute;
        if ctx.state.attempts.is_blocked(ctx.client, limit) {
            return Err(MethodError::new(
                ErrorCode::AuthenticationError,
                AUTHENTICATION_FAILED,
            ));
        }
        let computer_id = self.check.computer_id.clone().unwrap_or_default();
        let checked = match &self.code {
            Some(code) => {
                let command = CheckAuthorizationCode {
                    hash: code_hash(ctx.state.store.secret(), code),
                    computer_id,
                    email: self.email.clone(),
                    now: ctx.now,
                    max_attempts: ctx
                        .config
                        .activation
                        .activation_by_authorization_code_max_attempts,
                };
                ctx.state.store.run(command, ctx.deadline).await?
            }
            None => CodeChecked::Wrong { counted: 0 },
        };
        let key = match checked {
            CodeChecked::Activate { key } => key,
            CodeChecked::Spent => return Err(spent_code()),
            CodeChecked::Wrong { counted } => return Err(self.count_wrong(ctx, counted)),
        };
        self.check.key = key;
        let signature = self.check.prepare_signature(ctx).await?;
        let actx = ActivationCtx::http(ctx, "ActivateKeyByAuthorizationCodeHttp");
        let checked = check_or_activate(&self.check, &actx, None).await?;
        let active = matches!(checked, crate::methods::activation::Checked::Active { .. });
        if active && let Some(code) = &self.code {
            // Spent once its activation is made: a code activates once. Two requests racing
            // with one code activate the same computer, which is the same activation.
            let spend = SpendAuthorizationCode {
                hash: code_hash(ctx.state.store.secret(), code),
            };
            ctx.state.store.run(spend, ctx.deadline).await?;
        }
        let customer = customer_of(&ctx.state.store, checked.license()).await?;
        let mut reply = validate_reply(checked, customer.as_ref(), &ctx.config, ctx.now);
        if let Some(signature) = signature.filter(|_| active) {
            signature.apply(&mut reply).await?;
        }
        Ok(reply)
    }

    /// The refusal of a wrong code, counted: against the named address's pending codes (the
    /// store did), else as a failed authentication of the client address.
    fn count_wrong(&self, ctx: &Ctx, counted: usize) -> MethodError {
        tracing::info!(
            method = "ActivateKeyByAuthorizationCodeHttp",
            client = %ctx.client,
            counted_against_codes = counted,
            "wrong authorization code"
        );
        if counted > 0 {
            return wrong_code();
        }
        let limit = ctx.config.security.auth_failures_per_minute;
        match ctx.state.attempts.count(ctx.client, limit) {
            // Kept counted: the attempt failed.
            Ok(_attempt) => wrong_code(),
            Err(_) => MethodError::new(ErrorCode::AuthenticationError, AUTHENTICATION_FAILED),
        }
    }
}
