//! The address rules of a method call (spec methods.md, Addresses): `blockIPAddresses`
//! refuses any method, and methods named by `httpAdminMethods` (by effect,
//! [`crate::auth::effects`]) also need the client address in
//! `httpAdminMethodsAllowedIPAddresses`. Both are code 3.

use crate::auth::effects;
use crate::config::Config;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::http::client_addr::ClientAddr;
use crate::method_decl::{MethodCall, MethodTable};

/// Code 3 when `client` may not make `call` with `args`. The guard checks before anything
/// else, with the request's own arguments, and again with the arguments a vendor plugin
/// mapped, which can add an effect (`is_revoke`) of their own.
pub fn check(
    config: &Config,
    table: MethodTable,
    call: MethodCall,
    args: &Args,
    client: ClientAddr,
) -> Result<(), MethodError> {
    if client.is_in(&config.options.block_ip_addresses) {
        return Err(MethodError::new(
            ErrorCode::IpRestriction,
            "Requests from your address are blocked on this server.",
        ));
    }
    let security = &config.security;
    if effects::names(&security.http_admin_methods, table, call, args)
        && !client.is_in(&security.http_admin_methods_allowed_ip_addresses)
    {
        return Err(MethodError::new(
            ErrorCode::IpRestriction,
            format!(
                "{} is an administrative method and your address is not allowed to call it.",
                call.name
            ),
        ));
    }
    Ok(())
}
