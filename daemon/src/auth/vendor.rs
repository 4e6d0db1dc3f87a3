//! Vendor authentication of a request (methods.md, "Auth").
//!
//! The vendor is named by `is_vendor` (or `options.defaultCommerceProvider`); it must exist,
//! be enabled and have the method in its `methods` list, and `is_user`/`is_pwd` must match
//! its credentials. Every failure is code 8 with one message that does not say which part
//! was wrong, and costs the same (one argon2 verification, see `password`).

use std::net::IpAddr;
use std::time::Instant;

use crate::auth::password::{ExpectedCredential, StoredPassword};
use crate::config::{Config, Scope, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::License;
use crate::state::AppState;

const FAILED: &str = "Authentication failed: check the vendor name, user and password.";

/// Authenticates the vendor of a request for `method`; returns the vendor on success.
pub async fn authenticate(
    state: &AppState,
    config: &Config,
    method: &str,
    args: &Args,
    client: IpAddr,
    deadline: Instant,
) -> Result<Vendor, MethodError> {
    let limit = config.security.auth_failures_per_minute;
    if state.throttle.is_blocked(client, limit, Instant::now()) {
        tracing::warn!(%client, method, "authentication refused: too many failures from this address");
        return Err(MethodError::new(
            ErrorCode::AuthenticationError,
            "Too many failed authentications from your address; wait a minute and try again.",
        ));
    }
    let name = args
        .text("is_vendor")
        .unwrap_or(config.options.default_commerce_provider.as_str());
    let vendor = config
        .vendor(name)
        .filter(|v| v.enabled && v.may_call(method));
    if let Some(v) = vendor
        && v.plugin.is_some()
    {
        // Plugin authentication arrives with the plugin host; until then such a vendor is
        // refused rather than let through on its password alone.
        tracing::warn!(vendor = %v.name, method, "vendor plugins are not supported by this build; request denied");
        return Err(MethodError::new(ErrorCode::AuthenticationError, FAILED));
    }
    let expected = vendor.and_then(|v| {
        let password = match (&v.password_hash, &v.password) {
            (Some(hash), _) => StoredPassword::Hash(hash),
            (None, Some(plain)) => StoredPassword::Plain(plain),
            (None, None) => return None,
        };
        Some(ExpectedCredential {
            vendor: &v.name,
            user: v.user.as_deref().unwrap_or(""),
            password,
        })
    });
    let user = args.get("is_user").unwrap_or("");
    let password = args.get("is_pwd").unwrap_or("");
    let verified = tokio::time::timeout_at(
        deadline.into(),
        state.passwords.verify(expected, user, password),
    )
    .await
    .map_err(|_| {
        MethodError::busy(
            "The server is busy verifying credentials; nothing was changed. Retry shortly.",
        )
    })?;
    match vendor {
        Some(v) if verified => Ok(v.clone()),
        _ => {
            state.throttle.record_failure(client, Instant::now());
            tracing::warn!(vendor = %name, %client, method, "vendor authentication failed");
            Err(MethodError::new(ErrorCode::AuthenticationError, FAILED))
        }
    }
}

/// Refuses a vendor with `scope = "own"` acting on a licence another vendor created.
pub fn check_scope(vendor: &Vendor, license: &License) -> Result<(), MethodError> {
    if vendor.scope == Scope::Own && !vendor.name.eq_ignore_ascii_case(&license.vendor) {
        return Err(MethodError::new(
            ErrorCode::AuthenticationError,
            format!(
                "Vendor {} may only act on licences it created.",
                vendor.name
            ),
        ));
    }
    Ok(())
}
