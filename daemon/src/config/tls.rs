//! `[server] tlsCertFile` / `tlsKeyFile`: the certificate chain and private key licd serves
//! HTTPS with.
//!
//! The pair is read and checked while the configuration loads, next to the `<name>File`
//! secrets, so that `licd check-config` names a bad pair, a reload with a bad pair is
//! refused like any other bad file (the running certificate stays), and a good reload puts
//! the new certificate in force for every connection accepted after it.
//!
//! The key is a secret and its file is checked as the other secret files are: writable by
//! anyone but its owner is refused, readable by everyone is a warning.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use super::Config;
use super::secrets::permission_warning;

/// Larger files are refused: a chain of a few certificates is a few KiB, and a path pointing
/// at something else by mistake should fail fast rather than be read into memory.
const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

/// The protocol versions licd offers: TLS 1.3, and 1.2 for older clients.
static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A checked certificate and key, ready to serve.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The rustls settings every TLS connection accepted under this configuration uses.
    pub server_config: Arc<rustls::ServerConfig>,
    /// The certificate chain file, as resolved.
    pub cert_path: PathBuf,
    /// SHA-256 of the end-entity certificate in hex, for logs (which certificate is served).
    pub fingerprint: String,
}

impl fmt::Debug for TlsIdentity {
    // The rustls settings hold the private key: show only which certificate this is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_path", &self.cert_path)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Why a certificate and key could not be used. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The path names a directory or a device.
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is far larger than any certificate chain or key.
    #[error(
        "{path} is {len} bytes long; a PEM certificate chain or key is at most {MAX_PEM_FILE_BYTES} bytes"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The key file's permissions let others change it.
    #[error("{0}")]
    Permissions(String),
    /// The file is not PEM, or a PEM section is damaged.
    #[error("{path} is not valid PEM ({reason})")]
    NotPem {
        /// The file.
        path: PathBuf,
        /// What the parser found.
        reason: String,
    },
    /// The certificate file holds no certificate.
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is of a kind rustls cannot sign with, or is damaged.
    #[error("the private key in {path} cannot be used: {reason}")]
    UnusableKey {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        reason: rustls::Error,
    },
    /// The first certificate cannot be parsed.
    #[error("the first certificate in {path} cannot be parsed: {reason}")]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        reason: rustls::Error,
    },
    /// The key belongs to another certificate.
    #[error(
        "the private key in {key} does not match the certificate in {cert} (the first \
         certificate of the chain must be the server's own)"
    )]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the settings (should not happen with its own provider).
    #[error("cannot set up TLS: {0}")]
    Setup(rustls::Error),
}

/// Reads the pair named in `[server]` into `config.server.tls` and records warnings on
/// `config`. Returns the problems found, prefixed with the configuration's origin. Nothing
/// is read unless both files are named; [`super::validate`] reports one without the other.
pub(super) fn resolve(config: &mut Config, base_dir: Option<&Path>) -> Vec<String> {
    let server = &config.server;
    let (Some(cert), Some(key)) = (&server.tls_cert_file, &server.tls_key_file) else {
        return Vec::new();
    };
    let (cert, key) = (resolve_path(cert, base_dir), resolve_path(key, base_dir));
    let origin = config.origin.clone();
    let prefix = |m: String| {
        if origin.is_empty() {
            m
        } else {
            format!("{origin}: {m}")
        }
    };
    match load(&cert, &key) {
        Ok((identity, warning)) => {
            if let Some(w) = warning {
                let w = prefix(format!("[server]: `tlsKeyFile`: {w}"));
                config.warnings.push(w);
            }
            config.server.tls = Some(identity);
            Vec::new()
        }
        Err((key_name, e)) => vec![prefix(format!("[server]: `{key_name}`: {e}"))],
    }
}

/// `file` as given if absolute or if there is no base directory, else joined to it (as the
/// secret files are resolved).
pub(super) fn resolve_path(file: &Path, base_dir: Option<&Path>) -> PathBuf {
    match base_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

/// Reads and checks the pair; the identity and a permission warning about the key, or the
/// key name (`tlsCertFile` or `tlsKeyFile`) the problem is about and the problem.
pub(super) fn load(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(TlsIdentity, Option<String>), (&'static str, TlsFileError)> {
    let cert_pem = read_pem_file(cert_path).map_err(|e| ("tlsCertFile", e))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ("tlsCertFile", pem_error(cert_path, e)))?;
    let Some(end_entity) = chain.first() else {
        let e = TlsFileError::NoCertificate {
            path: cert_path.to_path_buf(),
        };
        return Err(("tlsCertFile", e));
    };
    let fingerprint = hex(&Sha256::digest(end_entity.as_ref()));

    let warning = key_permissions(key_path).map_err(|e| ("tlsKeyFile", e))?;
    let key_pem = read_pem_file(key_path).map_err(|e| ("tlsKeyFile", e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => (
            "tlsKeyFile",
            TlsFileError::NoKey {
                path: key_path.to_path_buf(),
            },
        ),
        other => ("tlsKeyFile", pem_error(key_path, other)),
    })?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = certified_key(&provider, chain, key, cert_path, key_path)?;
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(|e| ("tlsCertFile", TlsFileError::Setup(e)))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    // licd speaks HTTP/1.1 only; saying so lets clients that offer h2 fall back at once.
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let identity = TlsIdentity {
        server_config: Arc::new(server_config),
        cert_path: cert_path.to_path_buf(),
        fingerprint,
    };
    Ok((identity, warning))
}

/// The chain and key as one signing identity, refused unless the key is the certificate's.
fn certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, (&'static str, TlsFileError)> {
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|reason| {
            let path = key_path.to_path_buf();
            ("tlsKeyFile", TlsFileError::UnusableKey { path, reason })
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err((
            "tlsKeyFile",
            TlsFileError::Mismatch {
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
            },
        )),
        Err(reason) => Err((
            "tlsCertFile",
            TlsFileError::BadCertificate {
                path: cert_path.to_path_buf(),
                reason,
            },
        )),
    }
}

/// The permission rule of secret files, applied to the key file.
fn key_permissions(path: &Path) -> Result<Option<String>, TlsFileError> {
    let meta = fs::metadata(path).map_err(|source| TlsFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    permission_warning(path, &meta).map_err(TlsFileError::Permissions)
}

/// The bytes of a PEM file, refusing what cannot be one.
fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsFileError> {
    let unreadable = |source| TlsFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(TlsFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > MAX_PEM_FILE_BYTES {
        return Err(TlsFileError::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    fs::read(path).map_err(unreadable)
}

/// A PEM parse failure as a problem naming the file.
fn pem_error(path: &Path, e: pem::Error) -> TlsFileError {
    let reason = match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".to_owned(),
        pem::Error::Base64Decode(why) => format!("bad base64: {why}"),
        other => other.to_string(),
    };
    TlsFileError::NotPem {
        path: path.to_path_buf(),
        reason,
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::write_file;

    /// A self-signed certificate for localhost and its key, both PEM.
    fn pair() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_loads_and_names_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        write_file(dir.path(), "cert.pem", &cert, 0o644);
        write_file(dir.path(), "key.pem", &key, 0o600);
        let (id, warning) =
            load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
        assert_eq!(id.fingerprint.len(), 64);
        assert!(warning.is_none());
        assert!(!format!("{id:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = pair();
        let (_, other_key) = pair();
        write_file(dir.path(), "cert.pem", &cert, 0o644);
        write_file(dir.path(), "key.pem", &other_key, 0o600);
        let (name, e) =
            load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap_err();
        assert_eq!(name, "tlsKeyFile");
        assert!(matches!(e, TlsFileError::Mismatch { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("cert.pem") && text.contains("key.pem"),
            "{text}"
        );
    }

    #[test]
    fn files_that_are_not_pem_or_hold_the_wrong_thing_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        write_file(dir.path(), "cert.pem", &cert, 0o644);
        write_file(dir.path(), "key.pem", &key, 0o600);
        write_file(dir.path(), "junk", "not a certificate\n", 0o600);
        write_file(
            dir.path(),
            "broken",
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
            0o600,
        );
        let d = dir.path();
        let cases = [
            (
                d.join("junk"),
                d.join("key.pem"),
                "tlsCertFile",
                "no PEM certificate",
            ),
            (
                d.join("broken"),
                d.join("key.pem"),
                "tlsCertFile",
                "not valid PEM",
            ),
            (
                d.join("cert.pem"),
                d.join("junk"),
                "tlsKeyFile",
                "no PEM private key",
            ),
            (
                d.join("cert.pem"),
                d.join("cert.pem"),
                "tlsKeyFile",
                "no PEM private key",
            ),
            (
                d.join("missing"),
                d.join("key.pem"),
                "tlsCertFile",
                "cannot read",
            ),
            (
                d.to_path_buf(),
                d.join("key.pem"),
                "tlsCertFile",
                "not a regular file",
            ),
        ];
        for (cert, key, name, words) in cases {
            let (got, e) = load(&cert, &key).unwrap_err();
            assert_eq!(got, name, "{e}");
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn a_key_file_others_may_write_is_refused_and_one_all_may_read_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        write_file(dir.path(), "cert.pem", &cert, 0o644);
        write_file(dir.path(), "key.pem", &key, 0o666);
        let cert = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        let (name, e) = load(&cert, &key_path).unwrap_err();
        assert_eq!(name, "tlsKeyFile");
        assert!(e.to_string().contains("writable"), "{e}");
        write_file(dir.path(), "key.pem", &key, 0o644);
        let (_, warning) = load(&cert, &key_path).unwrap();
        assert!(warning.is_some_and(|w| w.contains("readable by everyone")));
    }
}
