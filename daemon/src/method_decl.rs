//! What a method declares about itself for the guard: its names, its gate, the effects it can
//! cause and when it authenticates a vendor.
//!
//! Each file in `methods/` holds a `DECLARATION` next to its `parse` and `apply`; the table in
//! `methods/mod.rs` lists them, and `auth::guard` applies them. This module is neutral ground
//! (it knows neither `methods/` nor `auth/`), so that the guard can read declarations without
//! importing the methods it guards.

use crate::config::{OptionsConfig, SecurityConfig};
use crate::http::args::Args;

/// What one method declares.
#[derive(Debug)]
pub struct Declaration {
    /// The method's name as QLM spells it.
    pub name: &'static str,
    /// Other names QLM gives the same method (served by the same code, under the same rules).
    pub aliases: &'static [&'static str],
    /// The `[security]` property that must be on, if any (code 7 when it is off).
    pub gate: Option<Gate>,
    /// The rows of the method lists every call of the method belongs to.
    pub effects: &'static [Effect],
    /// Rows a call joins when it carries a non-empty argument, and the gate such an argument
    /// needs besides the method's own.
    pub argument_effects: &'static [ArgumentEffect],
    /// When a call authenticates a vendor (strictly authenticated calls always do).
    pub auth: AuthNeed,
}

impl Declaration {
    /// A method named `name` that authenticates as `auth` says, with no alias, no gate and no
    /// effect; the builders below add them, so a method file states only what applies.
    pub const fn new(name: &'static str, auth: AuthNeed) -> Self {
        Declaration {
            name,
            aliases: &[],
            gate: None,
            effects: &[],
            argument_effects: &[],
            auth,
        }
    }

    /// The same, also served under `aliases`.
    pub const fn also_named(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// The same, turned on by `gate`.
    pub const fn gated_by(mut self, gate: Gate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The same, every call belonging to the rows `effects`.
    pub const fn causing(mut self, effects: &'static [Effect]) -> Self {
        self.effects = effects;
        self
    }

    /// The same, joining rows through the arguments `argument_effects`.
    pub const fn causing_by_argument(
        mut self,
        argument_effects: &'static [ArgumentEffect],
    ) -> Self {
        self.argument_effects = argument_effects;
        self
    }

    /// The method's name, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// The name of this method `name` spells (any case), if it spells one.
    pub fn name_for(&self, name: &str) -> Option<&'static str> {
        self.names().find(|n| n.eq_ignore_ascii_case(name))
    }

    /// Whether the method's gate, if it has one, is on.
    pub fn is_enabled(&self, security: &SecurityConfig) -> bool {
        self.gate.is_none_or(|g| g.is_on(security))
    }
}

/// A `[security]` property that turns a method (or one of its arguments) on.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// The property as the code-7 message names it (`security.enableGetActivationKey`).
    pub property: &'static str,
    /// Reads the property.
    pub read: fn(&SecurityConfig) -> bool,
}

impl Gate {
    /// The gate `property`, read by `read`.
    pub const fn new(property: &'static str, read: fn(&SecurityConfig) -> bool) -> Self {
        Gate { property, read }
    }

    /// Whether the property is on.
    pub fn is_on(self, security: &SecurityConfig) -> bool {
        (self.read)(security)
    }
}

/// What a request does, as `httpAdminMethods`, `strictAuthenticationHttpMethods` and a
/// vendor's `methods` see it: naming one method of a row names every method of the row
/// (`auth::effects`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// New licence keys.
    Create,
    /// Revoking (or restoring) a licence.
    Revoke,
    /// Extending a subscription.
    Renew,
    /// The maintenance plan.
    Maintenance,
    /// Releasing an activation.
    Release,
}

/// A row a call joins through one of its arguments (`UpdateLicenseHttp?is_revoke=true`
/// revokes).
#[derive(Debug, Clone, Copy)]
pub struct ArgumentEffect {
    /// The argument (lower case) that adds the row when given non-empty.
    pub argument: &'static str,
    /// The row it adds.
    pub effect: Effect,
    /// The property the argument needs as well, with what the code-7 message calls the act
    /// (`Revoking`).
    pub gate: Option<(&'static str, Gate)>,
}

/// When a call authenticates a vendor, apart from strict authentication (methods.md, Auth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthNeed {
    /// Every call.
    Always,
    /// When the client sends credentials (`is_user` or `is_pwd`): wrong credentials are
    /// refused even where a method needs none.
    WhenCredentialsGiven,
    /// When credentials are given or `is_vendor` names a vendor (ActivateKey holds a named
    /// vendor to its scope).
    WhenVendorNamed,
    /// When credentials are given or `options.releaseLicenseRequiresAuthentication` is on.
    WhenReleaseRequiresIt,
}

impl AuthNeed {
    /// Whether a call with `args` authenticates, strict authentication aside.
    pub fn applies(self, args: &Args, options: &OptionsConfig) -> bool {
        let credentials = args.get("is_user").is_some() || args.get("is_pwd").is_some();
        match self {
            AuthNeed::Always => true,
            AuthNeed::WhenCredentialsGiven => credentials,
            AuthNeed::WhenVendorNamed => credentials || args.get("is_vendor").is_some(),
            AuthNeed::WhenReleaseRequiresIt => {
                credentials || options.release_license_requires_authentication
            }
        }
    }
}

/// The method a request calls, under the name it called it by (an alias keeps its own name in
/// messages, logs, plugin requests and metrics).
#[derive(Debug, Clone, Copy)]
pub struct MethodCall {
    /// The name called, as QLM spells it.
    pub name: &'static str,
    /// What the method declares.
    pub declaration: &'static Declaration,
}

/// Every method served, in the order the service page lists them.
#[derive(Debug, Clone, Copy)]
pub struct MethodTable(pub &'static [&'static Declaration]);

impl MethodTable {
    /// The method `name` (any case) names, with its QLM spelling.
    pub fn find(self, name: &str) -> Option<MethodCall> {
        self.0.iter().find_map(|d| {
            d.name_for(name).map(|name| MethodCall {
                name,
                declaration: d,
            })
        })
    }

    /// Every name served, each method's aliases right after it.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.0.iter().flat_map(|d| d.names())
    }

    /// The names of the methods whose every call belongs to `effect`'s row.
    pub fn members(self, effect: Effect) -> impl Iterator<Item = &'static str> {
        self.0
            .iter()
            .filter(move |d| d.effects.contains(&effect))
            .flat_map(|d| d.names())
    }
}
