//! Air-gapped computers (spec offline.md): the work behind `licd license-file` and
//! `licd signing-key`, as library functions over a [`Store`] and a [`Signer`], so that the
//! command line runs them on a stopped database ([`on_stopped_database`]) and the admin
//! socket on the running daemon's own store and signer, with the same code.
//!
//! Offline deactivation needs nothing here: the customer's code goes through
//! ReleaseLicenseHttp or `licd release`, the release road every release takes.

mod stopped;

pub use stopped::{
    OutputFile, export_on_stopped_database, license_file_on_stopped_database,
    list_on_stopped_database, on_stopped_database, rotate_on_stopped_database,
};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::errors::MethodError;
use crate::license::dates;
use crate::license::rules::ProductQuery;
use crate::methods::activation::{ActivationCtx, Check, Checked, check_or_activate};
use crate::methods::validate_license::validate_reply;
use crate::signing::keys::SigningKey;
use crate::signing::reply::PendingSignature;
use crate::signing::{Signer, SigningError};
use crate::store::{Store, StoreError};

/// How long an offline activation may wait for the writer.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// Why an offline command failed. The `Display` text is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The database could not be opened or used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A licence rule refused the activation (nothing was changed).
    #[error("{} (code {})", .0.message, .0.code.number())]
    Refused(MethodError),
    /// A key could not be made, read or used.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// Bad input on the command line.
    #[error("{0}")]
    Usage(String),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
}

impl From<MethodError> for OfflineError {
    fn from(e: MethodError) -> Self {
        OfflineError::Refused(e)
    }
}

/// What `licd license-file` asks for.
#[derive(Debug, Clone)]
pub struct LicenseFileRequest {
    /// The activation key, in any accepted form.
    pub key: String,
    /// The air-gapped computer's ID, as its application reports it.
    pub computer_id: String,
    /// Its name, stored with the activation.
    pub computer_name: Option<String>,
}

/// A signed licence file for an air-gapped computer.
#[derive(Debug, Clone)]
pub struct LicenseFile {
    /// The signed ValidateLicenseHttp reply, byte for byte what
    /// `ValidateLicenseHttp?…&is_sign=true` returns.
    pub document: String,
    /// The reply's `<result>` sentence (activated, or already valid).
    pub result: String,
    /// The name of the key that signed it.
    pub key_name: String,
}

/// Activates `request.key` for the air-gapped computer exactly as ValidateLicenseHttp would
/// (same rules, slot counting and durable commit, run through the same code) and returns the
/// signed reply. A computer already activated gets its licence file again and uses no
/// further slot.
pub async fn license_file(
    store: &Store,
    signer: &Signer,
    config: Arc<Config>,
    request: &LicenseFileRequest,
) -> Result<LicenseFile, OfflineError> {
    license_file_for(
        store,
        signer,
        config,
        request,
        "local".into(),
        "license-file",
    )
    .await
}

/// [`license_file`] for a requester other than the server host: `client` (the client
/// address of the customer portal's download) is logged and stored as the activation's
/// address when `captureIPAddress` is on; `method` names the page in the log.
pub async fn license_file_for(
    store: &Store,
    signer: &Signer,
    config: Arc<Config>,
    request: &LicenseFileRequest,
    client: String,
    method: &'static str,
) -> Result<LicenseFile, OfflineError> {
    check_computer_id(&request.computer_id)?;
    if let Some(name) = &request.computer_name {
        check_text("--computer-name", name)?;
    }
    let check = Check {
        key: request.key.clone(),
        computer_id: Some(request.computer_id.clone()),
        computer_key: None,
        activate: true,
        computer_name: request.computer_name.clone(),
        product: ProductQuery::default(),
        email: None,
        user_data: None,
        affiliate_id: None,
        activation_user_data: None,
        sign: true,
        json: false,
    };
    // Prepared first, like an HTTP request: a key that cannot be made changes nothing.
    let signature =
        PendingSignature::prepare(signer, store, config.security.signature_algorithm).await?;
    let key_name = signature.key_name().to_string();
    let now = dates::now();
    let ctx = ActivationCtx {
        store,
        config: config.clone(),
        client,
        method,
        now,
        deadline: Instant::now() + COMMAND_DEADLINE,
    };
    let checked = check_or_activate(&check, &ctx, None).await?;
    if !matches!(checked, Checked::Active { .. }) {
        return Err(MethodError::internal("the activation ended without a computer key").into());
    }
    let customer = crate::methods::license_info::customer_of(store, checked.license()).await?;
    let mut reply = validate_reply(checked, customer.as_ref(), &config, now);
    signature.apply(&mut reply).await?;
    let document = reply
        .signed_document
        .take()
        .ok_or_else(|| OfflineError::Refused(MethodError::internal("the reply was not signed")))?;
    Ok(LicenseFile {
        document,
        result: reply.result,
        key_name,
    })
}

/// One licence-signing key, as `licd signing-key list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyInfo {
    /// `licd-` and 16 hex digits.
    pub name: String,
    /// When it was made, UTC Unix seconds.
    pub created_at: i64,
    /// Whether new replies are signed with it.
    pub current: bool,
    /// The public key, PEM.
    pub public_key_pem: String,
}

impl SigningKeyInfo {
    fn of(key: &SigningKey, current: bool) -> Result<Self, OfflineError> {
        Ok(SigningKeyInfo {
            name: key.name().to_string(),
            created_at: key.created_at(),
            current,
            public_key_pem: key.public_key_pem()?,
        })
    }

    /// `NAME  yyyy-MM-dd HH:mm:ss  current|old`: one line of `licd signing-key list`.
    pub fn list_line(&self) -> String {
        format!(
            "{}  {}  {}",
            self.name,
            dates::format_datetime(self.created_at),
            if self.current { "current" } else { "old" }
        )
    }
}

/// Every signing key, oldest first; makes the first key when there is none (offline.md: a
/// key is made when first needed, by a signed reply or a `signing-key` command).
pub async fn signing_keys(
    store: &Store,
    signer: &Signer,
) -> Result<Vec<SigningKeyInfo>, OfflineError> {
    let current = signer.current_key(store).await?;
    let stored = store.read().await?.signing_keys().await?;
    stored
        .iter()
        .map(|s| {
            let key = SigningKey::from_stored(s)?;
            SigningKeyInfo::of(&key, key.name() == current.name())
        })
        .collect()
}

/// The forms `licd signing-key export` writes a public key in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyFormat {
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo), what xmlsec1 and most
    /// verifiers read; the default.
    Pem,
    /// QLM's `<RSAKeyValue><Modulus>…</Modulus><Exponent>…</Exponent></RSAKeyValue>`, what QLM
    /// applications embed.
    RsaKeyValue,
}

impl PublicKeyFormat {
    /// The name on the command line and in the admin API's `format=`.
    pub fn name(self) -> &'static str {
        match self {
            PublicKeyFormat::Pem => "pem",
            PublicKeyFormat::RsaKeyValue => "rsakeyvalue",
        }
    }

    /// The format of that name, in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        [PublicKeyFormat::Pem, PublicKeyFormat::RsaKeyValue]
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// The public key(s), what `licd signing-key export` writes: the current key alone, in
/// `format`, or with `all` every key as PEM, each block after a line naming it (text outside
/// the PEM boundaries is allowed, RFC 7468 §2, and ignored by PEM readers). `all` is PEM
/// only: a QLM application embeds one `<RSAKeyValue>`, and a file of several is no XML.
pub async fn export_public_keys(
    store: &Store,
    signer: &Signer,
    all: bool,
    format: PublicKeyFormat,
) -> Result<String, OfflineError> {
    if !all {
        let key = signer.current_key(store).await?;
        return Ok(match format {
            PublicKeyFormat::Pem => key.public_key_pem()?,
            PublicKeyFormat::RsaKeyValue => {
                let mut xml = key.public_key_rsa_key_value()?;
                xml.push('\n');
                xml
            }
        });
    }
    if format != PublicKeyFormat::Pem {
        return Err(OfflineError::Usage(format!(
            "--all writes PEM only; export the current key alone with --format {}",
            format.name()
        )));
    }
    let mut out = String::new();
    for key in signing_keys(store, signer).await? {
        out.push_str(&key.list_line());
        out.push('\n');
        out.push_str(&key.public_key_pem);
    }
    Ok(out)
}

/// Makes a new current key; the old ones stay, so files they signed still verify.
pub async fn rotate_signing_key(
    store: &Store,
    signer: &Signer,
) -> Result<SigningKeyInfo, OfflineError> {
    let key = signer.rotate(store).await?;
    SigningKeyInfo::of(&key, true)
}

/// Makes a shop's own private key, in QLM's `<RSAKeyValue>` form, the current signing key;
/// the old keys stay. A key that is not valid is refused and nothing is stored.
pub async fn import_signing_key(
    store: &Store,
    signer: &Signer,
    rsa_key_value: String,
) -> Result<SigningKeyInfo, OfflineError> {
    let key = signer.import(store, rsa_key_value).await?;
    SigningKeyInfo::of(&key, true)
}

/// The computer-ID rule of README §4: 1 to 255 characters, no whitespace or control
/// characters.
fn check_computer_id(id: &str) -> Result<(), OfflineError> {
    if id.is_empty() || id.chars().count() > 255 || id.chars().any(|c| c.is_whitespace()) {
        return Err(OfflineError::Usage(format!(
            "--computer-id {}: expected 1 to 255 characters without spaces or control characters",
            crate::text::quote(id)
        )));
    }
    check_text("--computer-id", id)
}

/// What argument parsing refuses over HTTP: control characters (tab allowed) and code points
/// illegal in XML 1.0, which the reply writer must never see; and more than 255 characters.
fn check_text(what: &str, value: &str) -> Result<(), OfflineError> {
    let bad = value
        .chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{FFFE}' || c == '\u{FFFF}');
    if bad || value.chars().count() > 255 {
        return Err(OfflineError::Usage(format!(
            "{what}: at most 255 characters, without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computer_ids_follow_the_readme_rule() {
        assert!(check_computer_id("PC-7").is_ok());
        assert!(check_computer_id(&"x".repeat(255)).is_ok());
        for bad in ["", "PC 7", "PC\t7", "PC\u{1}7", &"x".repeat(256)] {
            assert!(check_computer_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_text("--computer-name", "Build host\t2").is_ok());
        assert!(check_text("--computer-name", "a\u{FFFF}").is_err());
    }
}
