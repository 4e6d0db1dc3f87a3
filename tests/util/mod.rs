//! Test harness: runs the real `licd` binary on `127.0.0.1:0` with a temp data directory and
//! talks to it over real HTTP on loopback.

#![allow(dead_code)] // Each test module uses a different part of the harness.

mod backend;
mod browser;
mod config;
mod daemon;
mod http;
mod smtp;
mod webhook_receiver;

pub use backend::{BACKEND_VAR, on_postgres, redb_only_test};
pub use browser::Browser;
pub use config::{ServerCert, TestCa, TestConfig, VENDOR};
pub use daemon::{LICD, TestDaemon, block_on, cli_fails, cli_ok, file_mode, licd_cmd, path_str};
pub use http::{HttpReply, send_raw, send_tls, tls_get};
pub use smtp::{
    SmtpServer, body as mail_body, code_in, decoded_body as decoded_mail_body,
    header as mail_header, queued_code,
};
pub use webhook_receiver::{WEBHOOK_SECRET, WebhookReceiver};
