//! The HTTP methods, one file each, named after the method, and the table that serves them.
//!
//! Each method file holds a `DECLARATION` (its names, gate, effects and auth need, applied by
//! `auth::guard`), a `parse(&Args)` (syntax of every argument, codes 5 and 208), an `apply`
//! (look-up, rules, effect, reply) and a `run` that joins them: parse, authenticate through
//! the guard, apply. Adding a method is one file and one row of [`table!`].

pub mod activate_key;
pub mod activate_key_by_authorization_code;
pub mod activation;
pub mod analytics;
pub mod analytics_add_install;
pub mod analytics_remove_install;
pub mod analytics_update_install;
pub mod analytics_update_last_accessed_date;
pub mod get_activation_key;
pub mod get_latest_version;
pub mod license_info;
pub mod maintenance_plan;
pub mod ping;
pub mod qlm_webhook_handler;
pub mod release_license;
pub mod renew_subscription;
pub mod request_authorization_code;
pub mod retrieve_activation_key;
pub mod revoke_license;
pub mod selection;
pub mod subscribe_to_mail_list;
pub mod update_license;
pub mod update_privacy_consent;
pub mod update_user_information;
pub mod upgrade_license;
pub mod validate_license;
pub mod wire;

#[cfg(test)]
mod protocol_doc_tests;
#[cfg(test)]
mod table_tests;

use std::future::Future;
use std::pin::Pin;

use crate::auth::guard;
use crate::config::{ResponseFormat, Vendor};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::keys::ActivationKey;
use crate::method_decl::{Declaration, MethodCall, MethodTable};
use crate::response::Reply;

// Moved to `crate::request` (below both the guard and the methods); named here too because
// every method file knows them by this path.
pub use crate::request::{Ctx, RawRequest};

/// What a method's `run` returns: its reply, boxed so that every method fits one table.
type Running<'a> = Pin<Box<dyn Future<Output = Result<Reply, MethodError>> + Send + 'a>>;

/// A method's `run`: parse, authenticate through the guard, apply.
type Run = for<'a> fn(MethodCall, &'a Args, &'a Ctx) -> Running<'a>;

/// One row of the table: what the method declares, and the code that serves it.
struct Entry {
    declaration: &'static Declaration,
    run: Run,
}

/// The table, from one list: `ENTRIES` for dispatch and [`DECLARATIONS`] for the guard,
/// the service page and metrics, in the same order.
macro_rules! table {
    ($($declaration:path => $run:path),* $(,)?) => {
        static ENTRIES: &[Entry] = &[$(Entry {
            declaration: &$declaration,
            run: |call, args, ctx| Box::pin($run(call, args, ctx)),
        }),*];

        /// Every method served, in the order the service page lists them.
        pub const DECLARATIONS: MethodTable = MethodTable(&[$(&$declaration),*]);
    };
}

table! {
    ping::DECLARATION => ping::run,
    get_activation_key::DECLARATION => get_activation_key::run,
    validate_license::DECLARATION => validate_license::run,
    activate_key::DECLARATION => activate_key::run,
    get_latest_version::DECLARATION => get_latest_version::run,
    release_license::DECLARATION => release_license::run,
    update_license::DECLARATION => update_license::run,
    upgrade_license::DECLARATION => upgrade_license::run,
    revoke_license::DECLARATION => revoke_license::run,
    renew_subscription::DECLARATION => renew_subscription::run,
    maintenance_plan::ENABLE_DECLARATION => maintenance_plan::enable,
    maintenance_plan::RENEW_DECLARATION => maintenance_plan::renew,
    retrieve_activation_key::DECLARATION => retrieve_activation_key::run,
    update_user_information::DECLARATION => update_user_information::run,
    update_privacy_consent::DECLARATION => update_privacy_consent::run,
    subscribe_to_mail_list::DECLARATION => subscribe_to_mail_list::run,
    analytics_add_install::DECLARATION => analytics_add_install::run,
    analytics_update_install::DECLARATION => analytics_update_install::run,
    analytics_remove_install::DECLARATION => analytics_remove_install::run,
    analytics_update_last_accessed_date::DECLARATION => analytics_update_last_accessed_date::run,
    request_authorization_code::DECLARATION => request_authorization_code::run,
    activate_key_by_authorization_code::DECLARATION => activate_key_by_authorization_code::run,
}

/// A method found by the name in a URL, ready to serve.
#[derive(Clone, Copy)]
pub struct Method {
    /// The method, under the name it was called by.
    pub call: MethodCall,
    run: Run,
}

impl Method {
    /// The method named in a URL, matched case-insensitively (aliases included).
    pub fn find(name: &str) -> Option<Method> {
        ENTRIES.iter().find_map(|entry| {
            entry.declaration.name_for(name).map(|name| Method {
                call: MethodCall {
                    name,
                    declaration: entry.declaration,
                },
                run: entry.run,
            })
        })
    }

    /// The name called, as QLM spells it.
    pub fn name(self) -> &'static str {
        self.call.name
    }

    /// Serves the call once the router has admitted it (`guard::admit`) and its arguments
    /// have parsed: the guard's checks before the method parses (`guard::prepare`, which
    /// also runs a vendor plugin and merges the arguments it maps), then the method, which
    /// parses the arguments (merged, when a plugin mapped some), authenticates and applies.
    pub async fn serve(self, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
        let merged = guard::prepare(ctx, self.call, args).await?;
        (self.run)(self.call, merged.as_ref().unwrap_or(args), ctx).await
    }
}

/// Parses an activation key for look-up; a malformed key or a failed check character is
/// "not found" (203) without touching the database (README §4). A key that is not licd's
/// but has the form of a QLM key is looked up as a legacy key (`license::legacy_key`).
pub fn lookup_key(input: &str) -> Result<ActivationKey, MethodError> {
    ActivationKey::parse_for_lookup(input).map_err(|_| not_found())
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

/// The text form of a reply that hands out `keys`: the keys alone, one a line, when `vendor`
/// has `responseFormat = "text"` (stores whose fulfilment reads a single-line licence), else
/// none. Refusals stay XML, and `is_format=json` wins (the router).
pub fn key_lines(vendor: &Vendor, keys: Vec<String>) -> Option<Vec<String>> {
    (vendor.response_format == ResponseFormat::Text).then_some(keys)
}

/// Code 218 for a product id and version not in the configuration.
pub fn product_not_found(id: u32, major: u32, minor: u32) -> MethodError {
    MethodError::new(
        ErrorCode::ProductNotFound,
        format!("Product {id} version {major}.{minor} is not defined on this server."),
    )
}
