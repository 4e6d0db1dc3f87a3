//! Admin work: the admin socket of a running daemon, the admin API it serves, and the CLI's
//! client that falls back to opening a stopped database (spec operations.md, Admin socket).
//!
//! - [`api`]: the endpoints, one router for both cases;
//! - [`socket`]: `<dataDir>/admin.sock` in the daemon;
//! - [`client`]: the CLI's connection, to the daemon or in process;
//! - [`keys`], [`customers`], [`data`], [`signing`]: the endpoints' handlers; [`body`]: request and reply
//!   bodies.

pub mod api;
pub mod body;
pub mod client;
pub mod customers;
pub mod data;
pub mod keys;
pub mod mail;
pub mod qlm_import;
pub mod signing;
pub mod socket;
pub mod webhooks;

use std::path::PathBuf;

use crate::config::Config;
use crate::config::DATABASE_FILE;
use crate::license::dates;
use crate::license::deactivation_code;
use crate::license::keys::ActivationKey;
use crate::store::StoreError;

/// Why an admin command failed. The `Display` text is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The database could not be opened or used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The admin API refused the request; the text is its reason.
    #[error("{0}")]
    Refused(String),
    /// Bad input on the command line.
    #[error("{0}")]
    Usage(String),
    /// The admin socket exists but cannot be used (permissions, say).
    #[error("cannot reach the admin socket {path}: {source} (run as the licd user or root)")]
    Socket {
        /// The socket.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The daemon broke the HTTP exchange.
    #[error("the admin connection failed: {0}")]
    Protocol(String),
    /// Setting up or closing the in-process database failed.
    #[error("{0}")]
    Setup(String),
}

/// The database file of a configuration.
pub fn database_path(config: &Config) -> PathBuf {
    config.server.data_dir.join(DATABASE_FILE)
}

fn parse_key(key: &str) -> Result<ActivationKey, AdminError> {
    ActivationKey::parse_for_lookup(key)
        .map_err(|e| AdminError::Usage(format!("{key} is not a valid activation key: {e}")))
}

/// The deactivation verification code of `key` on `computer_id` for `date` (today, UTC,
/// when `None`), as ReleaseLicenseHttp accepts it.
pub fn deactivation_code(
    config: &Config,
    key: &str,
    computer_id: &str,
    date: Option<&str>,
) -> Result<String, AdminError> {
    let key = parse_key(key)?;
    let secret = config
        .options
        .communication_encryption_key
        .as_deref()
        .ok_or_else(|| {
            AdminError::Usage(
                "options.communicationEncryptionKey is not set in this configuration; pass the server's --config".into(),
            )
        })?;
    let date = match date {
        Some(d) => dates::parse_date(d)
            .ok_or_else(|| AdminError::Usage(format!("--date {d}: expected yyyy-MM-dd")))?,
        None => dates::utc_date(dates::now())
            .ok_or_else(|| AdminError::Usage("the system clock is out of range".into()))?,
    };
    Ok(deactivation_code::code_for(
        key.as_str(),
        computer_id,
        secret,
        date,
    ))
}
