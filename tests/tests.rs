//! Black-box tests: each starts the real `licd` on `127.0.0.1:0` with a temp data directory
//! and checks it over HTTP on loopback. One test binary keeps link time low on 2-core CI.

mod util;

mod activate_key;
mod admin;
mod air_gapped;
mod analytics;
mod auth;
mod authorization_code;
mod backup;
mod browser;
mod cli;
mod concurrency;
mod config_errors;
mod console;
mod customers;
mod docs;
mod file_modes;
mod get_activation_key;
mod import_qlm;
mod licence_editing;
mod mail;
mod packaging;
mod persistence;
mod ping_and_latest_version;
mod plugins;
mod portal;
mod postgres;
mod postgres_migrate;
mod qlm_clients;
mod qlm_reply_and_keys;
mod release_license;
mod reliability;
mod security;
mod service;
mod startup;
mod store_integrations;
mod strict_auth;
mod tls;
mod update_license;
mod validate_license;
mod webhooks_in;
mod webhooks_out;
mod wire;
