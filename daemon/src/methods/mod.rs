//! The HTTP methods, one file each, named after the method.
//!
//! Each method is a struct with `parse(&Args)` (syntax of every argument, codes 5 and 208)
//! and an `apply` (authentication where the method needs it, look-up, rules, effect, reply).
//! [`Method`] is the dispatcher; the router runs the address and gate checks before it, so
//! the order of checks of methods.md holds for every method.

pub mod activate_key;
pub mod activation;
pub mod get_activation_key;
pub mod get_latest_version;
pub mod licence_info;
pub mod maintenance_plan;
pub mod ping;
pub mod release_license;
pub mod renew_subscription;
pub mod retrieve_activation_key;
pub mod revoke_license;
pub mod update_license;
pub mod upgrade_license;
pub mod validate_license;
pub mod wire;

#[cfg(test)]
mod protocol_doc_tests;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::auth::{addresses, strict, vendor};
use crate::config::{Config, SecurityConfig, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::http::client_addr::ClientAddr;
use crate::license::keys::ActivationKey;
use crate::plugins::replay::{self, ReplaySlot};
use crate::response::Reply;
use crate::state::AppState;
use crate::store::Remembered;

/// Everything a method needs besides its arguments.
pub struct Ctx {
    /// Shared server state.
    pub state: Arc<AppState>,
    /// The configuration snapshot for this request.
    pub config: Arc<Config>,
    /// The client address (README §2).
    pub client: ClientAddr,
    /// The request's time, UTC Unix seconds.
    pub now: i64,
    /// `server.requestTimeoutMs` after the request arrived.
    pub deadline: Instant,
    /// The request as received, for vendor plugins and strict authentication.
    pub raw: RawRequest,
    /// The vendor a plugin has allowed for this request (set once by the plugin step, read by
    /// the vendor check).
    pub plugin_passed: OnceLock<String>,
    /// The replay id a body-signing plugin named this request with (set by the plugin step,
    /// taken by [`Ctx::execute`]).
    pub replay: ReplaySlot,
}

/// What vendor plugins and strict authentication read of a request besides its arguments.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    /// The request target as sent (path and query), moved out of the request, not copied.
    pub uri: http::Uri,
    /// The request headers.
    pub headers: http::HeaderMap,
    /// The raw body.
    pub body: bytes::Bytes,
    /// Whether the body held form arguments (parsed into the arguments).
    pub form_body: bool,
}

impl RawRequest {
    /// The request target as sent: path and query.
    pub fn target(&self) -> &str {
        self.uri
            .path_and_query()
            .map_or_else(|| self.uri.path(), |pq| pq.as_str())
    }

    /// The raw query string.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }
}

impl Ctx {
    /// Sends a change to the store (`Store::execute`). When the vendor's plugin named this
    /// request with a replay id, the change is remembered under it in its own transaction,
    /// and a repeat is answered with the first outcome and changes nothing (docs/plugins.md
    /// §6).
    pub async fn execute<C: Remembered>(&self, command: C) -> Result<C::Done, MethodError> {
        let store = &self.state.store;
        let Some(key) = self.replay.take() else {
            return Ok(store.run(command, self.deadline).await?);
        };
        let result = store
            .run_remembered(command, self.deadline, key.clone(), self.now)
            .await?;
        replay::first_outcome(&key, result, self.client, vendor::FAILED)
    }

    /// Authenticates the vendor of this request for `method` (code 8 on failure): its plugin
    /// (when it has one), its password (when it has one), and strict authentication when the
    /// method is listed in `strictAuthenticationHttpMethods`.
    pub async fn vendor(&self, method: Method, args: &Args) -> Result<Vendor, MethodError> {
        if self.plugin_passed.get().is_none() {
            // `Method::call` runs the plugin step first whenever the method will authenticate;
            // this catches any path that did not, so a plugin vendor is never let through
            // on its password alone.
            vendor::run_plugin(self, method, args).await?;
        }
        let vendor = vendor::authenticate(self, method, args).await?;
        if strict::is_strict(&self.config.security, method, args) {
            vendor::check_strict(self, method, &vendor)?;
        }
        Ok(vendor)
    }

    /// Authenticates only when the client sent credentials: wrong credentials are refused
    /// even where a method needs none (methods.md, Auth).
    pub async fn vendor_if_given(
        &self,
        method: Method,
        args: &Args,
    ) -> Result<Option<Vendor>, MethodError> {
        // A strictly authenticated method always authenticates (methods.md).
        if args.get("is_user").is_some()
            || args.get("is_pwd").is_some()
            || strict::is_strict(&self.config.security, method, args)
        {
            return self.vendor(method, args).await.map(Some);
        }
        Ok(None)
    }
}

/// The methods licd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Health and version.
    PingHttp,
    /// Create keys.
    GetActivationKey,
    /// Create keys (QLM's second name).
    GetActivationKeyWithExpiryDate,
    /// Activate and validate.
    ValidateLicenseHttp,
    /// QLM's older activation call.
    ActivateKey,
    /// Latest version of a product.
    GetLatestVersionHttp,
    /// Release an activation.
    ReleaseLicenseHttp,
    /// Change a licence in place.
    UpdateLicenseHttp,
    /// Replace a licence by a new key.
    UpgradeLicense,
    /// Revoke or restore a licence.
    RevokeLicenseHttp,
    /// Extend a subscription.
    RenewSubscriptionHttp,
    /// Turn the maintenance plan on, counting from now.
    EnableMaintenancePlan,
    /// Extend the maintenance plan.
    RenewMaintenancePlan,
    /// Find keys by order id or user data.
    RetrieveActivationKeyHttp,
}

impl Method {
    /// Every method, in the order the service page lists them.
    pub const ALL: [Method; 14] = [
        Method::PingHttp,
        Method::GetActivationKey,
        Method::GetActivationKeyWithExpiryDate,
        Method::ValidateLicenseHttp,
        Method::ActivateKey,
        Method::GetLatestVersionHttp,
        Method::ReleaseLicenseHttp,
        Method::UpdateLicenseHttp,
        Method::UpgradeLicense,
        Method::RevokeLicenseHttp,
        Method::RenewSubscriptionHttp,
        Method::EnableMaintenancePlan,
        Method::RenewMaintenancePlan,
        Method::RetrieveActivationKeyHttp,
    ];

    /// The method's name as QLM spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Method::PingHttp => "PingHttp",
            Method::GetActivationKey => "GetActivationKey",
            Method::GetActivationKeyWithExpiryDate => "GetActivationKeyWithExpiryDate",
            Method::ValidateLicenseHttp => "ValidateLicenseHttp",
            Method::ActivateKey => "ActivateKey",
            Method::GetLatestVersionHttp => "GetLatestVersionHttp",
            Method::ReleaseLicenseHttp => "ReleaseLicenseHttp",
            Method::UpdateLicenseHttp => "UpdateLicenseHttp",
            Method::UpgradeLicense => "UpgradeLicense",
            Method::RevokeLicenseHttp => "RevokeLicenseHttp",
            Method::RenewSubscriptionHttp => "RenewSubscriptionHttp",
            Method::EnableMaintenancePlan => "EnableMaintenancePlan",
            Method::RenewMaintenancePlan => "RenewMaintenancePlan",
            Method::RetrieveActivationKeyHttp => "RetrieveActivationKeyHttp",
        }
    }

    /// The method named in a URL, matched case-insensitively.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The server property that must be on, with its name for the code-7 message.
    pub fn gate(self, security: &SecurityConfig) -> Option<(bool, &'static str)> {
        match self {
            Method::GetActivationKey | Method::GetActivationKeyWithExpiryDate => Some((
                security.enable_get_activation_key,
                "security.enableGetActivationKey",
            )),
            Method::GetLatestVersionHttp => Some((
                security.enable_get_latest_version_http,
                "security.enableGetLatestVersionHttp",
            )),
            Method::ReleaseLicenseHttp => Some((
                security.enable_release_key_http,
                "security.enableReleaseKeyHttp",
            )),
            Method::UpdateLicenseHttp | Method::UpgradeLicense => Some((
                security.enable_upgrade_license,
                "security.enableUpgradeLicense",
            )),
            Method::RevokeLicenseHttp => Some((
                security.enable_revoke_license,
                "security.enableRevokeLicense",
            )),
            Method::RenewSubscriptionHttp => Some((
                security.enable_renew_subscription_http,
                "security.enableRenewSubscriptionHttp",
            )),
            Method::RetrieveActivationKeyHttp => Some((
                security.enable_retrieve_activation_key_http,
                "security.enableRetrieveActivationKeyHttp",
            )),
            // The spec names no property for the maintenance-plan methods.
            Method::PingHttp
            | Method::ValidateLicenseHttp
            | Method::ActivateKey
            | Method::EnableMaintenancePlan
            | Method::RenewMaintenancePlan => None,
        }
    }

    /// Runs the method: parse every argument, then authenticate and apply.
    ///
    /// When the request will authenticate a vendor whose `[[vendor]]` names a plugin, the
    /// plugin runs first and the method parses the request's arguments merged with those the
    /// plugin mapped (spec plugins.md: FastSpring's `quantity` arrives as `is_quantity`).
    pub async fn call(self, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
        if strict::is_strict(&ctx.config.security, self, args) {
            strict::check_query_only(self.name(), ctx.raw.form_body)?;
        }
        let authenticates = self.authenticates(args, &ctx.config);
        if authenticates && ctx.config.options.default_commerce_provider.is_empty() {
            // Without a default commerce provider the vendor is a required argument: its
            // absence is the caller's missing argument (208), not a failed login.
            args.required("is_vendor")?;
        }
        let merged = if authenticates {
            vendor::run_plugin(ctx, self, args).await?
        } else {
            None
        };
        if let Some(merged) = &merged {
            // Mapped arguments can add an effect (`is_revoke`), and so an address or strict
            // rule, that the request's own arguments did not have.
            addresses::check(&ctx.config, self, merged, ctx.client)?;
            if strict::is_strict(&ctx.config.security, self, merged) {
                strict::check_query_only(self.name(), ctx.raw.form_body)?;
            }
        }
        let args = merged.as_ref().unwrap_or(args);
        match self {
            Method::PingHttp => {
                let m = ping::PingHttp::parse(args)?;
                ctx.vendor_if_given(self, args).await?;
                Ok(m.apply(ctx))
            }
            Method::GetActivationKey | Method::GetActivationKeyWithExpiryDate => {
                let m = get_activation_key::GetActivationKey::parse(args)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
            Method::ValidateLicenseHttp => {
                let m = validate_license::ValidateLicense::parse(args)?;
                ctx.vendor_if_given(self, args).await?;
                m.apply(ctx).await
            }
            Method::ActivateKey => {
                let m = activate_key::ActivateKey::parse(args)?;
                let vendor = if args.get("is_vendor").is_some() {
                    Some(ctx.vendor(self, args).await?)
                } else {
                    ctx.vendor_if_given(self, args).await?
                };
                m.apply(ctx, vendor.as_ref()).await
            }
            Method::ReleaseLicenseHttp => {
                let m = release_license::ReleaseLicense::parse(args)?;
                // With releaseLicenseRequiresAuthentication off no credentials are needed,
                // but wrong ones are still refused.
                let vendor = if ctx.config.options.release_license_requires_authentication {
                    Some(ctx.vendor(self, args).await?)
                } else {
                    ctx.vendor_if_given(self, args).await?
                };
                m.apply(ctx, vendor.as_ref()).await
            }
            Method::GetLatestVersionHttp => {
                let m = get_latest_version::GetLatestVersion::parse(args)?;
                ctx.vendor_if_given(self, args).await?;
                m.apply(ctx)
            }
            Method::UpdateLicenseHttp => {
                update_license::check_revoke_gate(args, &ctx.config.security)?;
                let m = update_license::UpdateLicense::parse(args)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
            Method::UpgradeLicense => {
                let m = upgrade_license::UpgradeLicense::parse(args)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
            Method::RevokeLicenseHttp => {
                let m = revoke_license::RevokeLicense::parse(args)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
            Method::RenewSubscriptionHttp => {
                let m = renew_subscription::RenewSubscription::parse(args)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
            Method::EnableMaintenancePlan | Method::RenewMaintenancePlan => {
                let action = if self == Method::EnableMaintenancePlan {
                    crate::license::renewal::MaintenanceAction::Enable
                } else {
                    crate::license::renewal::MaintenanceAction::Renew
                };
                let m = maintenance_plan::MaintenancePlan::parse(args, action)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
            Method::RetrieveActivationKeyHttp => {
                let m = retrieve_activation_key::RetrieveActivationKey::parse(args)?;
                let vendor = ctx.vendor(self, args).await?;
                m.apply(ctx, &vendor).await
            }
        }
    }

    /// Whether this request will authenticate a vendor: always for vendor methods and
    /// strictly authenticated ones, otherwise as the arms of [`Method::call`] decide (when
    /// credentials are given, `is_vendor` on ActivateKey, the release property).
    fn authenticates(self, args: &Args, config: &Config) -> bool {
        let credentials = args.get("is_user").is_some() || args.get("is_pwd").is_some();
        strict::is_strict(&config.security, self, args)
            || match self {
                Method::PingHttp | Method::ValidateLicenseHttp | Method::GetLatestVersionHttp => {
                    credentials
                }
                Method::ActivateKey => credentials || args.get("is_vendor").is_some(),
                Method::ReleaseLicenseHttp => {
                    credentials || config.options.release_license_requires_authentication
                }
                _ => true,
            }
    }
}

/// Parses an activation key for look-up; a malformed key or a failed check character is
/// "not found" (203) without touching the database (README §4).
pub fn lookup_key(input: &str) -> Result<ActivationKey, MethodError> {
    ActivationKey::parse(input).map_err(|_| not_found())
}

/// Code 203.
pub fn not_found() -> MethodError {
    MethodError::new(
        ErrorCode::LicenseNotFound,
        "No licence has this activation key; check the key.",
    )
}

/// A key for logs: the middle masked so that logs never hold a usable key.
pub fn masked(key: &ActivationKey) -> String {
    let dashed = key.dashed();
    let mut groups: Vec<&str> = dashed.split('-').collect();
    let last = groups.len().saturating_sub(1);
    for g in groups.iter_mut().take(last).skip(1) {
        *g = "*****";
    }
    groups.join("-")
}

/// A `u32` argument (product ids, versions): 0 to `i32::MAX`, as QLM's integers.
pub fn u32_arg(args: &Args, name: &str) -> Result<Option<u32>, MethodError> {
    Ok(args
        .integer(name, 0, i64::from(i32::MAX))?
        .and_then(|n| u32::try_from(n).ok()))
}

/// A computer ID: 1 to 255 characters, no whitespace or control characters (README §4).
pub fn computer_id_arg(args: &Args, name: &str) -> Result<Option<String>, MethodError> {
    let Some(v) = args.text(name) else {
        return Ok(None);
    };
    if v.chars().count() > 255 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MethodError::invalid(format!(
            "The argument {name} must be 1 to 255 characters without spaces or control characters."
        )));
    }
    Ok(Some(v.to_string()))
}

/// Code 218 for a product id and version not in the configuration.
pub fn product_not_found(id: u32, major: u32, minor: u32) -> MethodError {
    MethodError::new(
        ErrorCode::ProductNotFound,
        format!("Product {id} version {major}.{minor} is not defined on this server."),
    )
}
