//! licd: a self-hosted software-licence server speaking Quick License Manager's HTTP methods.
//!
//! The road of a request (docs/design.md): [`http`] (limits, arguments) → [`auth::guard`]
//! (addresses, gates, vendor authentication, applying each method's [`method_decl`]) →
//! [`methods`] (one file per method, one table) → [`license`] (pure rules) → [`store`] (the
//! seam; redb behind it) → [`response`] (canonical XML or JSON).

pub mod admin;
pub mod auth;
pub mod config;
pub mod console;
pub mod customers;
pub mod errors;
pub mod http;
pub mod license;
pub mod logging;
pub mod mail;
pub mod method_decl;
pub mod methods;
pub mod metrics;
pub mod notify;
pub mod offline;
pub mod output_file;
pub mod plugins;
pub mod portal;
pub mod qlm_import;
pub mod reload;
pub mod request;
pub mod response;
pub mod serve;
pub mod signing;
pub mod state;
pub mod store;
pub mod text;
pub mod web;
pub mod webhooks;

/// The licd version reported by PingHttp, the service page, `/metrics` and the start-up line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
