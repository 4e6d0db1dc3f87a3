//! The unsigned `is_*` arguments of a plugin vendor (methods.md, Auth; docs/plugins.md).
//!
//! A plugin such as FastSpring's checks a signature over the POSTed body, and nothing else:
//! the query string of the URL the store was given (licd's own `is_vendor`, `is_productid`,
//! …) is not covered. Whoever holds a captured callback could add
//! `is_numberofactivationsperkey=10000`, `is_orderid=…` or `is_revoke=true` to its URL and
//! send it again. So for a vendor whose plugin declares `LICD_FLAG_SIGNS_BODY_ONLY`, the
//! `is_*` arguments the request itself carries (query string or body) must all be in the
//! vendor's `unsignedArgs`, or in [`DEFAULT_UNSIGNED_ARGS`]: counts, keys, revocation and
//! order or subscription ids then come only from what `map_args` reads out of the signed
//! body. A vendor whose plugin signs more (headers, the URL) is unaffected unless it sets
//! `unsignedArgs`, which then applies to it too.
//!
//! Names are compared as argument parsing stores them (`crate::http::args::canonical_name`):
//! in any case, and an alias counts as the name it spells, so `is_mainduration` is allowed
//! where `is_maintduration` is, and `is_deacivation_code` refused where
//! `is_deactivation_code` is.

use crate::config::Vendor;
use crate::http::args::{Args, canonical_name};

/// What QLM's FastSpring fulfilment and rebill URLs carry: the vendor and its credentials,
/// the reply format, the product and version, and the licence terms a store fixes per product
/// (model, features, expiry, maintenance), none of which a replay could multiply.
pub const DEFAULT_UNSIGNED_ARGS: [&str; 15] = [
    "is_vendor",
    "is_user",
    "is_pwd",
    "is_qlmversion",
    "is_format",
    "is_writebom",
    "is_productid",
    "is_majorversion",
    "is_minorversion",
    "is_expduration",
    "is_expdate",
    "is_licensemodel",
    "is_features",
    "is_maintenance_plan",
    "is_maintduration",
];

/// The unsigned `is_*` arguments a request of `vendor` may carry (canonical names), or
/// `None` when any may: a plugin that signs more than the body, and no `unsignedArgs`.
fn allowed(vendor: &Vendor, signs_body_only: bool) -> Option<Vec<String>> {
    match &vendor.unsigned_args {
        Some(list) => Some(list.iter().map(|n| canonical_name(n)).collect()),
        None if signs_body_only => Some(
            DEFAULT_UNSIGNED_ARGS
                .iter()
                .map(|n| (*n).to_string())
                .collect(),
        ),
        None => None,
    }
}

/// Refuses a request of a plugin vendor that carries an `is_*` argument its plugin does not
/// vouch for; `args` are the request's own arguments, before the plugin's mapped ones join
/// them. The error names the argument, for the log (the client gets the one code-8 message).
pub fn check(vendor: &Vendor, signs_body_only: bool, args: &Args) -> Result<(), String> {
    let Some(allowed) = allowed(vendor, signs_body_only) else {
        return Ok(());
    };
    match args
        .licd_names()
        .find(|name| !allowed.iter().any(|a| a == name))
    {
        None => Ok(()),
        Some(name) => Err(format!(
            "the request carries {name}, which the plugin does not sign{} and the vendor's \
             unsignedArgs does not list",
            if signs_body_only {
                " (it signs the body only)"
            } else {
                ""
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::args::ArgLimits;

    const LIMITS: ArgLimits = ArgLimits {
        max_args: 64,
        max_value_bytes: 4096,
    };

    fn vendor(unsigned: Option<&[&str]>) -> Vendor {
        let list = unsigned.map_or(String::new(), |l| {
            format!(
                "unsignedArgs = [{}]\n",
                l.iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        let toml = format!(
            "[[vendor]]\nname = \"FS\"\nplugin = \"fs\"\nmethods = [\"GetActivationKey\"]\n{list}\
             [[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n"
        );
        let config = crate::config::Config::parse(&toml, "t.toml", None).expect("valid");
        config.vendors[0].clone()
    }

    fn args(query: &str) -> Args {
        Args::parse(Some(query), None, LIMITS).expect("valid")
    }

    const FULFILMENT: &str =
        "is_vendor=FS&is_productid=1&is_majorversion=1&is_minorversion=0&IS_FORMAT=json";

    #[test]
    fn a_body_only_plugin_vendor_gets_the_default_list_and_nothing_else() {
        let v = vendor(None);
        assert_eq!(check(&v, true, &args(FULFILMENT)), Ok(()));
        for extra in [
            "is_quantity=3",
            "is_numberofactivationsperkey=10000",
            "is_orderid=X",
            "is_revoke=true",
            "is_avkey=K",
            "is_replayid=abc",
        ] {
            let name = extra.split('=').next().unwrap_or_default();
            let e = check(&v, true, &args(&format!("{FULFILMENT}&{extra}"))).unwrap_err();
            assert!(e.contains(name) && e.contains("body only"), "{e}");
        }
    }

    #[test]
    fn an_alias_counts_as_the_name_it_spells() {
        let v = vendor(None);
        assert_eq!(
            check(
                &v,
                true,
                &args("is_maintenance_plan=true&is_mainduration=30")
            ),
            Ok(())
        );
        let e = check(&v, true, &args("is_deacivation_code=1")).unwrap_err();
        assert!(e.contains("is_deactivation_code"), "{e}");
        // The list may name the alias too: it covers both spellings.
        let listed = vendor(Some(&["IS_MAINDURATION"]));
        assert_eq!(check(&listed, true, &args("is_maintduration=30")), Ok(()));
    }

    #[test]
    fn an_explicit_list_replaces_the_default_and_binds_other_plugins_too() {
        let v = vendor(Some(&["is_vendor", "is_productid", "is_userdata1"]));
        assert_eq!(
            check(
                &v,
                true,
                &args("is_vendor=FS&is_productid=1&is_userdata1=x")
            ),
            Ok(())
        );
        assert!(check(&v, true, &args("is_vendor=FS&is_expduration=30")).is_err());
        let e = check(&v, false, &args("is_vendor=FS&is_quantity=2")).unwrap_err();
        assert!(e.contains("is_quantity") && !e.contains("body only"), "{e}");
    }

    #[test]
    fn a_plugin_that_signs_more_than_the_body_is_unaffected_without_a_list() {
        let v = vendor(None);
        assert_eq!(
            check(
                &v,
                false,
                &args("is_vendor=FS&is_quantity=10000&is_revoke=true")
            ),
            Ok(())
        );
    }
}
