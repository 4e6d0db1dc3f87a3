//! The guard: what every method call passes before and around its own code, applied from the
//! method's [`Declaration`](crate::method_decl::Declaration) (its names, gate, effects and
//! auth need), so that no method writes a rule of its own and none can forget one.
//!
//! The order is that of methods.md ("Order of checks"), in three steps the router and the
//! method table call:
//! 1. [`admit`], before the syntax of the arguments: the address lists (3: `blockIPAddresses`,
//!    then `httpAdminMethods` by effect), then the method's gate (7).
//! 2. [`prepare`], once the request's own arguments have parsed: strict authentication's
//!    query-only rule (5), `is_vendor` when no default commerce provider names one (208), the
//!    vendor plugin's step (its `authenticate`, then the arguments it maps, merged) or the
//!    vendor's field map (`field_map`: store fields read as `is_*` arguments), the address
//!    and strict rules again with those arguments (they can add an effect), and the
//!    gates of effect-adding arguments (7: `is_revoke` on UpdateLicenseHttp).
//! 3. [`authenticate`] (or [`vendor`]), after the method has parsed every argument: the
//!    vendor's password or plugin verdict, and the strict HMAC headers (8).
//!
//! When a call authenticates is written once, in [`authenticates`]: steps 2 and 3 both ask it.

use crate::auth::{addresses, field_map, strict, vendor};
use crate::config::{Config, SecurityConfig, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::http::client_addr::ClientAddr;
use crate::method_decl::{Gate, MethodCall, MethodTable};
use crate::request::Ctx;

/// Step 1: code 3 when the client's address may not make this call, then code 7 when the
/// method's gate is off. `args` are the request's own, or none when they are malformed (their
/// refusal comes after these checks).
pub fn admit(
    config: &Config,
    table: MethodTable,
    call: MethodCall,
    args: &Args,
    client: ClientAddr,
) -> Result<(), MethodError> {
    if let Err(e) = addresses::check(config, table, call, args, client) {
        tracing::warn!(%client, method = call.name, "request blocked by address");
        return Err(e);
    }
    match call.declaration.gate {
        Some(gate) if !gate.is_on(&config.security) => Err(disabled(call.name, gate)),
        _ => Ok(()),
    }
}

/// Whether this call authenticates a vendor: when it is strictly authenticated, or when its
/// declared [`AuthNeed`](crate::method_decl::AuthNeed) applies to `args`.
pub fn authenticates(config: &Config, table: MethodTable, call: MethodCall, args: &Args) -> bool {
    strict::is_strict(&config.security, table, call, args)
        || call.declaration.auth.applies(args, &config.options)
}

/// Step 2: the checks between the syntax of the request's own arguments and the method's
/// parsing. Returns the arguments merged with those a vendor plugin or field map mapped,
/// when one did (the method parses those instead).
pub async fn prepare(
    ctx: &Ctx,
    call: MethodCall,
    args: &Args,
) -> Result<Option<Args>, MethodError> {
    let config = &ctx.config;
    let table = ctx.state.methods;
    check_query_only(ctx, call, args)?;
    let authenticates = authenticates(config, table, call, args);
    if authenticates && config.options.default_commerce_provider.is_empty() {
        // Without a default commerce provider the vendor is a required argument: its
        // absence is the caller's missing argument (208), not a failed login.
        args.required("is_vendor")?;
    }
    let merged = if authenticates {
        match vendor::run_plugin(ctx, call, args).await? {
            Some(merged) => Some(merged),
            // A vendor has a plugin or a field map, never both (the configuration refuses
            // it): the map renames what a plugin would have mapped.
            None => field_map::apply(config, args)?,
        }
    } else {
        None
    };
    if let Some(merged) = &merged {
        // Mapped arguments (a plugin's or a field map's) can add an effect (`is_revoke`),
        // and so an address or strict rule, that the request's own arguments did not have.
        addresses::check(config, table, call, merged, ctx.client)?;
        check_query_only(ctx, call, merged)?;
    }
    check_argument_gates(&config.security, call, merged.as_ref().unwrap_or(args))?;
    Ok(merged)
}

/// Step 3: authenticates the vendor when [`authenticates`] says this call does; `None` when
/// it does not (no credentials where a method needs none).
pub async fn authenticate(
    ctx: &Ctx,
    call: MethodCall,
    args: &Args,
) -> Result<Option<Vendor>, MethodError> {
    if !authenticates(&ctx.config, ctx.state.methods, call, args) {
        return Ok(None);
    }
    authenticate_vendor(ctx, call, args).await.map(Some)
}

/// Step 3 for a method that declares [`AuthNeed::Always`](crate::method_decl::AuthNeed) and
/// acts for the vendor it authenticates.
pub async fn vendor(ctx: &Ctx, call: MethodCall, args: &Args) -> Result<Vendor, MethodError> {
    authenticate(ctx, call, args).await?.ok_or_else(|| {
        // Only a declaration that does not match its method's code gets here.
        tracing::error!(
            method = call.name,
            "the method acts for a vendor but its declaration does not always authenticate"
        );
        MethodError::internal("The server could not authenticate this request.")
    })
}

/// The vendor of this call (code 8 on failure): its plugin (when it has one), its password
/// (when it has one), and strict authentication when the call is strictly authenticated.
async fn authenticate_vendor(
    ctx: &Ctx,
    call: MethodCall,
    args: &Args,
) -> Result<Vendor, MethodError> {
    if ctx.plugin_passed.get().is_none() {
        // `prepare` runs the plugin step whenever the call will authenticate; this catches
        // any path that did not, so a plugin vendor is never let through on its password
        // alone.
        vendor::run_plugin(ctx, call, args).await?;
    }
    let vendor = vendor::authenticate(ctx, call, args).await?;
    if strict::is_strict(&ctx.config.security, ctx.state.methods, call, args) {
        vendor::check_strict(ctx, call, &vendor)?;
    }
    Ok(vendor)
}

/// Code 5 when a strictly authenticated call carries form-body arguments, which its signature
/// does not cover.
fn check_query_only(ctx: &Ctx, call: MethodCall, args: &Args) -> Result<(), MethodError> {
    if strict::is_strict(&ctx.config.security, ctx.state.methods, call, args) {
        strict::check_query_only(call.name, ctx.raw.form_body)?;
    }
    Ok(())
}

/// Code 7 when the call carries an argument whose effect needs a gate that is off
/// (methods.md: `is_revoke` on UpdateLicenseHttp needs `security.enableRevokeLicense`).
fn check_argument_gates(
    security: &SecurityConfig,
    call: MethodCall,
    args: &Args,
) -> Result<(), MethodError> {
    for effect in call.declaration.argument_effects {
        if let Some((doing, gate)) = effect.gate
            && args.text(effect.argument).is_some()
            && !gate.is_on(security)
        {
            let what = format!("{doing} through {} ({})", call.name, effect.argument);
            return Err(disabled(&what, gate));
        }
    }
    Ok(())
}

/// Code 7: `what` needs `gate`, which is off.
fn disabled(what: &str, gate: Gate) -> MethodError {
    MethodError::new(
        ErrorCode::OperationDisabled,
        format!(
            "{what} is disabled on this server ({} = false).",
            gate.property
        ),
    )
}

#[cfg(test)]
mod tests {
    //! The rules on a small table of their own (the guard cannot import `methods/`); the
    //! declarations of the real methods are held to the old behaviour in `methods/mod.rs`.

    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::http::args::ArgLimits;
    use crate::method_decl::{ArgumentEffect, AuthNeed, Declaration, Effect};

    const LIMITS: ArgLimits = ArgLimits {
        max_args: 64,
        max_value_bytes: 4096,
    };

    const CREATE_GATE: Gate = Gate::new("security.enableGetActivationKey", |s| {
        s.enable_get_activation_key
    });
    const REVOKE_GATE: Gate =
        Gate::new("security.enableRevokeLicense", |s| s.enable_revoke_license);

    const CREATE: Declaration = Declaration::new("GetActivationKey", AuthNeed::Always)
        .also_named(&["GetActivationKeyWithExpiryDate"])
        .gated_by(CREATE_GATE)
        .causing(&[Effect::Create]);
    const REVOKE: Declaration = Declaration::new("RevokeLicenseHttp", AuthNeed::Always)
        .gated_by(REVOKE_GATE)
        .causing(&[Effect::Revoke]);
    const UPDATE: Declaration = Declaration::new("UpdateLicenseHttp", AuthNeed::Always)
        .causing_by_argument(&[ArgumentEffect {
            argument: "is_revoke",
            effect: Effect::Revoke,
            gate: Some(("Revoking", REVOKE_GATE)),
        }]);
    const PING: Declaration = Declaration::new("PingHttp", AuthNeed::WhenCredentialsGiven);
    const ACTIVATE: Declaration = Declaration::new("ActivateKey", AuthNeed::WhenVendorNamed);
    const RELEASE: Declaration =
        Declaration::new("ReleaseLicenseHttp", AuthNeed::WhenReleaseRequiresIt)
            .causing(&[Effect::Release]);
    const TABLE: MethodTable =
        MethodTable(&[&PING, &CREATE, &UPDATE, &REVOKE, &ACTIVATE, &RELEASE]);

    fn call(name: &str) -> MethodCall {
        TABLE.find(name).expect("a method of the test table")
    }

    fn args(query: &str) -> Args {
        Args::parse(Some(query), None, LIMITS).expect("valid arguments")
    }

    fn config() -> Config {
        Config::embedded().expect("the embedded default is valid")
    }

    fn foreign() -> ClientAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)).into()
    }

    fn local() -> ClientAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST).into()
    }

    #[test]
    fn a_gate_that_is_off_is_code_7_naming_the_name_called_and_the_property() {
        let mut c = config();
        c.security.enable_get_activation_key = false;
        for name in ["GetActivationKey", "getactivationkeywithexpirydate"] {
            let called = call(name);
            let e = admit(&c, TABLE, called, &args(""), local()).unwrap_err();
            assert_eq!(e.code, ErrorCode::OperationDisabled);
            assert_eq!(
                e.message,
                format!(
                    "{} is disabled on this server (security.enableGetActivationKey = false).",
                    called.name
                )
            );
        }
        c.security.enable_get_activation_key = true;
        assert!(admit(&c, TABLE, call("GetActivationKey"), &args(""), local()).is_ok());
    }

    #[test]
    fn the_address_is_checked_before_the_gate() {
        let mut c = config();
        c.security.enable_get_activation_key = false;
        c.options.block_ip_addresses = crate::config::IpList::loopback();
        let e = admit(&c, TABLE, call("GetActivationKey"), &args(""), local()).unwrap_err();
        assert_eq!(e.code, ErrorCode::IpRestriction);
        assert_eq!(
            e.message,
            "Requests from your address are blocked on this server."
        );
    }

    #[test]
    fn an_admin_only_effect_from_a_non_admin_address_is_code_3() {
        let mut c = config();
        c.security.http_admin_methods = vec!["RevokeLicenseHttp".to_owned()];
        let revoking = args("is_revoke=true");
        let e = admit(&c, TABLE, call("UpdateLicenseHttp"), &revoking, foreign()).unwrap_err();
        assert_eq!(e.code, ErrorCode::IpRestriction);
        assert_eq!(
            e.message,
            "UpdateLicenseHttp is an administrative method and your address is not allowed to call it."
        );
        assert!(admit(&c, TABLE, call("UpdateLicenseHttp"), &revoking, local()).is_ok());
        let editing = args("is_features=0:1");
        assert!(admit(&c, TABLE, call("UpdateLicenseHttp"), &editing, foreign()).is_ok());
        let e = admit(&c, TABLE, call("RevokeLicenseHttp"), &args(""), foreign()).unwrap_err();
        assert_eq!(e.code, ErrorCode::IpRestriction);
    }

    #[test]
    fn listing_one_name_of_a_row_guards_every_name_of_it() {
        let mut c = config();
        c.security.http_admin_methods = vec!["GetActivationKeyWithExpiryDate".to_owned()];
        let e = admit(&c, TABLE, call("GetActivationKey"), &args(""), foreign()).unwrap_err();
        assert_eq!(e.code, ErrorCode::IpRestriction);
        assert!(admit(&c, TABLE, call("PingHttp"), &args(""), foreign()).is_ok());
    }

    #[test]
    fn an_effect_adding_argument_needs_its_own_gate_with_code_7() {
        let mut security = config().security;
        security.enable_revoke_license = false;
        let update = call("UpdateLicenseHttp");
        let e = check_argument_gates(&security, update, &args("is_revoke=true")).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationDisabled);
        assert_eq!(
            e.message,
            "Revoking through UpdateLicenseHttp (is_revoke) is disabled on this server (security.enableRevokeLicense = false)."
        );
        // An empty value adds no effect, so it needs no gate.
        assert!(check_argument_gates(&security, update, &args("is_revoke=")).is_ok());
        security.enable_revoke_license = true;
        assert!(check_argument_gates(&security, update, &args("is_revoke=true")).is_ok());
    }

    #[test]
    fn each_auth_need_authenticates_when_its_rule_says() {
        let mut c = config();
        c.security.strict_authentication_http_methods = Vec::new();
        c.options.release_license_requires_authentication = false;
        let cases = [
            ("PingHttp", "", false),
            ("PingHttp", "is_user=u", true),
            ("PingHttp", "is_pwd=", true),
            ("PingHttp", "is_vendor=V", false),
            ("ActivateKey", "", false),
            ("ActivateKey", "is_vendor=V", true),
            ("ActivateKey", "is_pwd=p", true),
            ("ReleaseLicenseHttp", "", false),
            ("ReleaseLicenseHttp", "is_user=u", true),
            ("GetActivationKey", "", true),
            ("UpdateLicenseHttp", "", true),
        ];
        for (name, query, expected) in cases {
            assert_eq!(
                authenticates(&c, TABLE, call(name), &args(query)),
                expected,
                "{name}?{query}"
            );
        }
        c.options.release_license_requires_authentication = true;
        assert!(authenticates(
            &c,
            TABLE,
            call("ReleaseLicenseHttp"),
            &args("")
        ));
    }

    #[test]
    fn a_strictly_authenticated_call_always_authenticates() {
        let mut c = config();
        c.security.strict_authentication_http_methods = vec!["PingHttp".to_owned()];
        assert!(authenticates(&c, TABLE, call("PingHttp"), &args("")));
        // Strict by effect: listing RevokeLicenseHttp covers a revoking update.
        c.security.strict_authentication_http_methods = vec!["RevokeLicenseHttp".to_owned()];
        let update = call("UpdateLicenseHttp");
        assert!(strict::is_strict(
            &c.security,
            TABLE,
            update,
            &args("is_revoke=true")
        ));
        assert!(!strict::is_strict(&c.security, TABLE, update, &args("")));
    }
}
