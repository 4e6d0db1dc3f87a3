//! licd: a self-hosted software-licence server speaking Quick License Manager's HTTP methods.
//!
//! The road of a request (docs/design.md): [`http`] (limits, arguments) → [`methods`] (one
//! file per method) → [`auth`] → [`license`] (pure rules) → [`store`] (redb, group commit)
//! → [`response`] (canonical XML or JSON).

pub mod admin;
pub mod auth;
pub mod config;
pub mod errors;
pub mod http;
pub mod license;
pub mod logging;
pub mod methods;
pub mod metrics;
pub mod notify;
pub mod offline;
pub mod output_file;
pub mod plugins;
pub mod reload;
pub mod response;
pub mod serve;
pub mod signing;
pub mod state;
pub mod store;
pub mod text;
