//! Method lists name effects, not spellings (spec methods.md, Addresses, security issue).
//!
//! `httpAdminMethods`, `strictAuthenticationHttpMethods` and a vendor's `methods` list QLM
//! method names, but several methods have the same effect: with `GetActivationKey` admin-only,
//! `GetActivationKeyWithExpiryDate` created keys from a foreign address, and with
//! `RevokeLicenseHttp` admin-only, `UpdateLicenseHttp?is_revoke=true` revoked. So naming one
//! member of a row ([`Effect`]: the methods declaring it, `MethodTable::members`) names the
//! whole row, and a request is named by a list when the list names its method (by any of its
//! names) or a row the request belongs to.
//!
//! Activation is a public client action and has no row: `ActivateKey` and
//! `ValidateLicenseHttp` stay separate names.

use crate::http::args::Args;
pub use crate::method_decl::Effect;
use crate::method_decl::{MethodCall, MethodTable};

/// The rows a request belongs to: its method's, and those its arguments add
/// (`UpdateLicenseHttp` with `is_revoke` revokes, `RenewSubscriptionHttp` with
/// `is_maintenance_plan` renews the maintenance plan too).
pub fn of<'a>(call: MethodCall, args: &'a Args) -> impl Iterator<Item = Effect> + 'a {
    let declaration = call.declaration;
    // Worked out without allocating: this runs several times on every request.
    let by_argument = declaration
        .argument_effects
        .iter()
        .filter(|a| args.get(a.argument).is_some_and(|v| !v.is_empty()))
        .map(|a| a.effect);
    declaration.effects.iter().copied().chain(by_argument)
}

/// Whether `list` (QLM method names, any case) names this request: its method by any of its
/// names, or a member of a row the request belongs to.
pub fn names(list: &[String], table: MethodTable, call: MethodCall, args: &Args) -> bool {
    let listed = |name: &str| list.iter().any(|n| n.eq_ignore_ascii_case(name));
    call.declaration.names().any(listed) || of(call, args).any(|e| table.members(e).any(listed))
}
