//! Admin commands that act on the database directly, with the daemon stopped: the same
//! commands and rules as the HTTP methods, through the same store writer.
//!
//! While a daemon holds the database, redb's file lock refuses the open and the error says
//! so. Going through the running daemon (admin socket) is a later addition.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::errors::MethodError;
use crate::license::dates;
use crate::license::deactivation_code;
use crate::license::keys::ActivationKey;
use crate::methods::release_license::{ReleaseInput, release_command};
use crate::response::Reply;
use crate::serve::DATABASE_FILE;
use crate::store::{Outcome, Store, StoreError, StoreOptions};

/// Why an admin command failed. The `Display` text is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The database could not be opened or used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A licence rule refused the request.
    #[error("{} (code {})", .0.message, .0.code.number())]
    Refused(MethodError),
    /// Bad input on the command line.
    #[error("{0}")]
    Usage(String),
}

/// How long a command-line change may wait for the writer.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// The database file of a configuration.
pub fn database_path(config: &Config) -> PathBuf {
    config.server.data_dir.join(DATABASE_FILE)
}

fn parse_key(key: &str) -> Result<ActivationKey, AdminError> {
    ActivationKey::parse(key)
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

/// Releases `key` from `computer_id` on a stopped database, as a support desk does with a
/// customer's deactivation code. Same rules, release log and history as ReleaseLicenseHttp.
pub async fn release(
    config: &Config,
    key: &str,
    computer_id: &str,
    code: Option<&str>,
) -> Result<Reply, AdminError> {
    let key = parse_key(key)?;
    let store = Store::open_existing(&database_path(config), StoreOptions::default())?;
    let command = release_command(
        config,
        &key,
        ReleaseInput {
            computer_id: Some(computer_id.to_string()),
            code: code.map(str::to_string),
            log_release: true,
            vendor: Some("licd release (command line)".into()),
            client: "local".into(),
            now: dates::now(),
        },
        Box::new(|_| Ok(())),
    );
    let outcome = store
        .execute(command, Instant::now() + COMMAND_DEADLINE)
        .await;
    store.close()?;
    match outcome {
        Ok(Outcome::Released {
            license,
            activation,
        }) => Ok(crate::methods::release_license::reply(
            &key,
            &activation.computer_id,
            license.available(),
        )),
        Ok(_) => Err(AdminError::Refused(MethodError::internal(
            "the store answered a release with another outcome",
        ))),
        Err(e) => Err(AdminError::Refused(e)),
    }
}
