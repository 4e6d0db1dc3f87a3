//! A vendor's field map applied to a request (`crate::config::field_map`, docs/field-maps.md):
//! the store's own field names, from the query or a form body, read as `is_*` arguments.
//!
//! It runs in the guard's step 2 for a call that authenticates, where a plugin vendor's
//! `map_args` would run (a vendor has one or the other, never both), and before the method
//! parses: a mapped argument then goes through the same parsing and duplicate rules as one
//! the store sent under its `is_*` name, and the address and strict rules are applied again
//! to the mapped arguments (a field read as `is_revoke` adds an effect).
//!
//! Strict authentication signs the URL only, so a strictly authenticated call may carry no
//! form body (code 5, checked on the request as received, before the map). Every field a map
//! reads in such a call is therefore in the signed query string: the map renames what was
//! signed and cannot let an unsigned field in.

use crate::config::Config;
use crate::errors::MethodError;
use crate::http::args::Args;

/// The request's arguments with the fields of its vendor's map read as `is_*` arguments, or
/// `None` when the vendor (named by `is_vendor`, else `options.defaultCommerceProvider`) is
/// unknown or has no map.
pub fn apply(config: &Config, args: &Args) -> Result<Option<Args>, MethodError> {
    let name = args
        .text("is_vendor")
        .unwrap_or(config.options.default_commerce_provider.as_str());
    let Some(vendor) = config.vendor(name) else {
        return Ok(None);
    };
    let map = vendor.field_map();
    if map.is_empty() {
        return Ok(None);
    }
    args.with_fields(|field| map.target(field)).map(Some)
}
