//! Who may call what: vendor credentials, their cost and throttling, and the guard that
//! applies them to a request.

pub mod addresses;
pub mod attempts;
pub mod effects;
pub mod password;
pub mod strict;
pub mod throttle;
pub mod unsigned_args;
pub mod vendor;
