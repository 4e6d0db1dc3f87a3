//! Who may call what: the guard that applies each method's declaration to a request
//! ([`guard`]), and what it applies: address lists, vendor credentials, their cost and
//! throttling, strict authentication and vendor plugins.

pub mod addresses;
pub mod attempts;
pub mod effects;
pub mod field_map;
pub mod guard;
pub mod password;
pub mod strict;
pub mod throttle;
pub mod unsigned_args;
pub mod vendor;
