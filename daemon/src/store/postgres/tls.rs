//! TLS to PostgreSQL as libpq's parameters say: how much of the server's certificate is
//! checked (`sslmode`), against which roots (`sslrootcert`), and with which client
//! certificate (`sslcert`, `sslkey`, `sslpassword`).
//!
//! The connector is native-tls over the system OpenSSL, which licence signing links already
//! (no second TLS stack). The rules follow libpq, so that a URL that works with `psql` works
//! with licd:
//! - `verify-ca` checks the chain, `verify-full` the chain and the host name; `require`
//!   checks nothing, except that a root file (`sslrootcert=PATH`) makes it `verify-ca`;
//!   `prefer` (the default) and `disable` check nothing.
//! - `sslrootcert=PATH` trusts the certificates of that PEM file and nothing else;
//!   `sslrootcert=system`, or none, trusts the system's store (`/etc/ssl/certs`).
//!   `system` goes with `verify-full` only (libpq 16): roots that vouch for every public
//!   host name mean something only when the name is checked.
//! - The client key must be readable by its owner alone (0600), or by root's group too
//!   (0640) when root owns it: a key others can read is refused, as libpq refuses it.
//!
//! Relative paths are resolved against the configuration file's directory, as every other
//! file licd's configuration names. Each problem names its parameter and its file.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::config::SslMode;

use super::conninfo::SslParams;

/// Larger files are refused: a chain or a root bundle is at most a few hundred KiB, and a
/// path pointing at something else by mistake should fail fast.
const MAX_PEM_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The modes licd accepts, for messages.
const MODES: &str = "disable, prefer, require, verify-ca or verify-full";

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verify {
    /// Nothing: any certificate is accepted (`prefer`, `require` without a root file).
    Nothing,
    /// The chain up to a trusted root (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The roots a server certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Roots {
    /// The system's CA store.
    System,
    /// The certificates of this PEM file, and nothing else.
    File(PathBuf),
}

/// The client certificate licd presents.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct ClientFiles {
    /// The certificate chain, the client's own certificate first (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8, PKCS#1 or SEC1, maybe encrypted).
    pub key: PathBuf,
    /// The passphrase of an encrypted key (a secret).
    pub password: Option<String>,
}

impl std::fmt::Debug for ClientFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What the TLS parameters of a connection string ask for, files not read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsPlan {
    /// The mode tokio-postgres negotiates with (the `verify-` modes are its `require`).
    pub mode: SslMode,
    /// What of the server's certificate is checked.
    pub verify: Verify,
    /// The roots it is checked against.
    pub roots: Roots,
    /// The client certificate, when one is given.
    pub client: Option<ClientFiles>,
}

/// Why a file the TLS parameters name cannot be used. Each message names the parameter
/// and the file, never a passphrase.
#[derive(Debug, thiserror::Error)]
pub(super) enum TlsFileError {
    /// The file could not be read.
    #[error("{param}: cannot read {path}: {source}")]
    Unreadable {
        /// The parameter naming the file.
        param: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The path names a directory or a device.
    #[error("{param}: {path} is not a regular file")]
    NotAFile {
        /// The parameter naming the file.
        param: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// The file is far larger than any PEM file of certificates or a key.
    #[error(
        "{param}: {path} is {len} bytes long; a PEM file is at most {MAX_PEM_FILE_BYTES} bytes"
    )]
    TooLarge {
        /// The parameter naming the file.
        param: &'static str,
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The key file may be read by others than its owner (libpq's rule and words).
    #[error(
        "sslkey: private key file {path} has group or world access; permissions should be \
         u=rw (0600) or less (u=rw,g=r (0640) or less if root owns it)"
    )]
    KeyAccess {
        /// The key file.
        path: PathBuf,
    },
    /// A PEM section is damaged.
    #[error("{param}: {path} is not valid PEM ({reason})")]
    NotPem {
        /// The parameter naming the file.
        param: &'static str,
        /// The file.
        path: PathBuf,
        /// What OpenSSL found.
        reason: String,
    },
    /// The file holds no certificate.
    #[error("{param}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The parameter naming the file.
        param: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error("sslkey: {path} holds no PEM private key (-----BEGIN PRIVATE KEY----- or similar)")]
    NoKey {
        /// The key file.
        path: PathBuf,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("sslkey: {path} is encrypted; give its passphrase as sslpassword")]
    Encrypted {
        /// The key file.
        path: PathBuf,
    },
    /// The key could not be read, with the passphrase if one was given.
    #[error("sslkey: cannot read the private key in {path}{hint} ({reason})")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What may be wrong beyond OpenSSL's words.
        hint: &'static str,
        /// OpenSSL's reason.
        reason: String,
    },
    /// The key belongs to another certificate.
    #[error("sslkey: the private key in {key} does not match the certificate in {cert}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// OpenSSL refused the settings.
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    Setup(String),
}

impl TlsPlan {
    /// What `ssl` asks for, relative paths resolved against `dir` (the configuration
    /// file's directory; `None`: the current directory). An error says which parameters
    /// do not go together, quoting no value.
    pub fn new(ssl: &SslParams, dir: Option<&Path>) -> Result<TlsPlan, String> {
        let system_roots = ssl.root_cert.as_deref() == Some("system");
        let mode = match ssl.mode.as_deref() {
            None if system_roots => "verify-full",
            None => "prefer",
            Some(m) => m,
        };
        let roots = match ssl.root_cert.as_deref() {
            None => Roots::System,
            Some("system") => {
                if mode != "verify-full" {
                    return Err(
                        "sslrootcert=system goes with sslmode=verify-full only (as in libpq): \
                         the system's roots vouch for any public host, so the host name must \
                         be checked"
                            .into(),
                    );
                }
                Roots::System
            }
            Some(path) => Roots::File(resolve("sslrootcert", path, dir)?),
        };
        let root_file = matches!(roots, Roots::File(_));
        let (mode, verify) = match mode {
            "disable" => (SslMode::Disable, Verify::Nothing),
            "prefer" => (SslMode::Prefer, Verify::Nothing),
            // libpq: "if a root CA file exists, sslmode=require behaves as verify-ca".
            "require" if root_file => (SslMode::Require, Verify::Chain),
            "require" => (SslMode::Require, Verify::Nothing),
            "verify-ca" => (SslMode::Require, Verify::Chain),
            "verify-full" => (SslMode::Require, Verify::Full),
            "allow" => {
                return Err(format!(
                    "sslmode allow (plain first, TLS only if the server insists) is not \
                     supported; use {MODES}"
                ));
            }
            _ => return Err(format!("invalid value for option `sslmode`; use {MODES}")),
        };
        let client = match (&ssl.cert, &ssl.key) {
            (None, None) => {
                if ssl.password.is_some() {
                    return Err("sslpassword is given but no sslkey it would unlock".into());
                }
                None
            }
            (Some(cert), Some(key)) => Some(ClientFiles {
                cert: resolve("sslcert", cert, dir)?,
                key: resolve("sslkey", key, dir)?,
                password: ssl.password.clone(),
            }),
            (Some(_), None) => return Err(missing_half("sslcert", "sslkey")),
            (None, Some(_)) => return Err(missing_half("sslkey", "sslcert")),
        };
        Ok(TlsPlan {
            mode,
            verify,
            roots,
            client,
        })
    }

    /// Reads and checks the files of the plan and makes the connector every connection of
    /// the pool uses.
    pub fn connector(&self) -> Result<MakeTlsConnector, TlsFileError> {
        let mut builder = native_tls::TlsConnector::builder();
        builder
            .danger_accept_invalid_certs(self.verify == Verify::Nothing)
            .danger_accept_invalid_hostnames(self.verify != Verify::Full);
        if let Roots::File(path) = &self.roots {
            // The file replaces the system's store, as in libpq.
            builder.disable_built_in_roots(true);
            for root in certificates("sslrootcert", path)? {
                builder.add_root_certificate(to_native(&root)?);
            }
        }
        if let Some(client) = &self.client {
            builder.identity(identity(client)?);
        }
        let connector = builder
            .build()
            .map_err(|e| TlsFileError::Setup(e.to_string()))?;
        Ok(MakeTlsConnector::new(connector))
    }
}

/// Says that `given` needs `other`.
fn missing_half(given: &str, other: &str) -> String {
    format!(
        "{given} is given without {other}: a client certificate needs both sslcert (the \
         certificate) and sslkey (its private key)"
    )
}

/// `value` as a path, joined to `dir` when relative.
fn resolve(param: &str, value: &str, dir: Option<&Path>) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err(format!("{param} is empty; give a file's path"));
    }
    let path = Path::new(value);
    Ok(match dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    })
}

/// The certificates of a PEM file, at least one.
fn certificates(param: &'static str, path: &Path) -> Result<Vec<X509>, TlsFileError> {
    let pem = read_pem_file(param, path)?;
    let certs = X509::stack_from_pem(&pem).map_err(|e| TlsFileError::NotPem {
        param,
        path: path.to_path_buf(),
        reason: reasons(&e),
    })?;
    if certs.is_empty() {
        return Err(TlsFileError::NoCertificate {
            param,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn to_native(cert: &X509) -> Result<native_tls::Certificate, TlsFileError> {
    cert.to_der()
        .ok()
        .and_then(|der| native_tls::Certificate::from_der(&der).ok())
        .ok_or_else(|| TlsFileError::Setup("a certificate could not be re-encoded".into()))
}

/// The client identity: the chain and its key, checked to belong together.
fn identity(client: &ClientFiles) -> Result<native_tls::Identity, TlsFileError> {
    let chain = certificates("sslcert", &client.cert)?;
    let key = private_key(&client.key, client.password.as_deref())?;
    let own = chain[0].public_key().map_err(|e| TlsFileError::NotPem {
        param: "sslcert",
        path: client.cert.clone(),
        reason: reasons(&e),
    })?;
    if !own.public_eq(&key) {
        return Err(TlsFileError::Mismatch {
            cert: client.cert.clone(),
            key: client.key.clone(),
        });
    }
    // native-tls takes PKCS#8 alone: the key is handed on decrypted, in that form, in
    // memory only.
    let pkcs8 = key
        .private_key_to_pem_pkcs8()
        .map_err(|e| TlsFileError::Setup(e.to_string()))?;
    let mut chain_pem = Vec::new();
    for cert in &chain {
        let pem = cert
            .to_pem()
            .map_err(|e| TlsFileError::Setup(e.to_string()))?;
        chain_pem.extend_from_slice(&pem);
    }
    native_tls::Identity::from_pkcs8(&chain_pem, &pkcs8)
        .map_err(|e| TlsFileError::Setup(e.to_string()))
}

/// The private key at `path`, its file's permissions checked first as libpq checks them.
fn private_key(path: &Path, password: Option<&str>) -> Result<PKey<Private>, TlsFileError> {
    key_access(path)?;
    let pem = read_pem_file("sslkey", path)?;
    if !contains(&pem, b"PRIVATE KEY-----") {
        return Err(TlsFileError::NoKey {
            path: path.to_path_buf(),
        });
    }
    let asked = std::cell::Cell::new(false);
    let read = PKey::private_key_from_pem_callback(&pem, |buf| {
        // Called only for an encrypted key. Without a passphrase, 0 bytes: OpenSSL must
        // never prompt on the terminal.
        asked.set(true);
        let pass = password.unwrap_or("").as_bytes();
        let n = pass.len().min(buf.len());
        buf[..n].copy_from_slice(&pass[..n]);
        Ok(n)
    });
    read.map_err(|e| match (asked.get(), password) {
        (true, None) => TlsFileError::Encrypted {
            path: path.to_path_buf(),
        },
        (true, Some(_)) => TlsFileError::BadKey {
            path: path.to_path_buf(),
            hint: " with sslpassword (is it the key's passphrase?)",
            reason: reasons(&e),
        },
        (false, _) => TlsFileError::BadKey {
            path: path.to_path_buf(),
            hint: "",
            reason: reasons(&e),
        },
    })
}

/// libpq's rule for the client key: owned by the user licd runs as, no access for group or
/// others; owned by root, read access for the group at most.
fn key_access(path: &Path) -> Result<(), TlsFileError> {
    let meta = fs::metadata(path).map_err(|source| TlsFileError::Unreadable {
        param: "sslkey",
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mode = meta.mode();
    let open = if meta.uid() == me {
        mode & 0o077 != 0
    } else if meta.uid() == 0 {
        mode & 0o037 != 0
    } else {
        false
    };
    if open {
        return Err(TlsFileError::KeyAccess {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Why a TLS handshake with the server failed, in OpenSSL's words without its codes and
/// source lines, and what licd checked: "the TLS handshake failed: certificate verify failed
/// (hostname mismatch); …".
pub(super) fn handshake_failure(e: &native_tls::Error) -> String {
    let words = openssl_words(&e.to_string());
    let hint = if words.contains("certificate verify failed") {
        "; the server's certificate is checked as sslmode and sslrootcert in postgresUrl say"
    } else {
        ""
    };
    format!("the TLS handshake failed: {words}{hint}")
}

/// OpenSSL's error text without codes, function names, files and lines: native-tls gives
/// "error:0A000086:SSL routines:func:certificate verify failed:file.c:2091: (hostname
/// mismatch)", the operator needs "certificate verify failed (hostname mismatch)".
fn openssl_words(text: &str) -> String {
    let mut reasons: Vec<&str> = Vec::new();
    // Each error is "error:<code>:<library>:<function>:<reason>:<file>:<line>:…".
    for part in text.split("error:").skip(1) {
        if let Some(reason) = part.split(':').nth(3).filter(|r| !r.is_empty())
            && !reasons.contains(&reason)
        {
            reasons.push(reason);
        }
    }
    if reasons.is_empty() {
        return text.to_string();
    }
    // native-tls appends the certificate check's verdict in parentheses.
    let verdict = match text.rfind(" (") {
        Some(at) if text.ends_with(')') => &text[at..],
        _ => "",
    };
    format!("{}{verdict}", reasons.join(", "))
}

/// OpenSSL's reasons, without its file names and line numbers: "bad decrypt".
fn reasons(e: &openssl::error::ErrorStack) -> String {
    let mut out: Vec<&str> = Vec::new();
    for reason in e.errors().iter().filter_map(|e| e.reason()) {
        if !out.contains(&reason) {
            out.push(reason);
        }
    }
    if out.is_empty() {
        return e.to_string();
    }
    out.join(", ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of a PEM file, refusing what cannot be one.
fn read_pem_file(param: &'static str, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    let unreadable = |source| TlsFileError::Unreadable {
        param,
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(TlsFileError::NotAFile {
            param,
            path: path.to_path_buf(),
        });
    }
    if meta.len() > MAX_PEM_FILE_BYTES {
        return Err(TlsFileError::TooLarge {
            param,
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    fs::read(path).map_err(unreadable)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> SslParams {
        let mut ssl = SslParams::default();
        for (k, v) in pairs {
            let slot = match *k {
                "sslmode" => &mut ssl.mode,
                "sslrootcert" => &mut ssl.root_cert,
                "sslcert" => &mut ssl.cert,
                "sslkey" => &mut ssl.key,
                _ => &mut ssl.password,
            };
            *slot = Some(v.to_string());
        }
        ssl
    }

    fn plan(pairs: &[(&str, &str)]) -> Result<TlsPlan, String> {
        TlsPlan::new(&params(pairs), Some(Path::new("/etc/licd")))
    }

    fn write(dir: &Path, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// A self-signed certificate and its key (PKCS#8), as PEM.
    fn pair() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["licd".to_owned()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    fn with_client(dir: &Path, cert: &Path, key: &Path, password: Option<&str>) -> TlsPlan {
        TlsPlan {
            mode: SslMode::Require,
            verify: Verify::Full,
            roots: Roots::File(write(dir, "ca.pem", pair().0.as_bytes(), 0o644)),
            client: Some(ClientFiles {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                password: password.map(str::to_owned),
            }),
        }
    }

    #[test]
    fn a_handshake_failure_is_told_in_openssls_words_without_its_codes() {
        let native = "error:0A000086:SSL routines:tls_post_process_server_certificate:\
                      certificate verify failed:../ssl/statem/statem_clnt.c:2091: (hostname mismatch)";
        assert_eq!(
            openssl_words(native),
            "certificate verify failed (hostname mismatch)"
        );
        assert_eq!(openssl_words("unexpected EOF"), "unexpected EOF");
    }

    #[test]
    fn the_modes_check_what_libpq_checks() {
        let verify = |pairs: &[(&str, &str)]| plan(pairs).unwrap().verify;
        assert_eq!(verify(&[]), Verify::Nothing);
        assert_eq!(verify(&[("sslmode", "require")]), Verify::Nothing);
        assert_eq!(verify(&[("sslmode", "verify-ca")]), Verify::Chain);
        assert_eq!(verify(&[("sslmode", "verify-full")]), Verify::Full);
        // A root file makes `require` check the chain, as in libpq.
        let with_roots = [("sslmode", "require"), ("sslrootcert", "ca.pem")];
        assert_eq!(verify(&with_roots), Verify::Chain);
        assert_eq!(
            plan(&with_roots).unwrap().roots,
            Roots::File("/etc/licd/ca.pem".into())
        );
        assert_eq!(
            plan(&[("sslmode", "verify-ca"), ("sslrootcert", "/srv/ca.pem")])
                .unwrap()
                .roots,
            Roots::File("/srv/ca.pem".into())
        );
    }

    #[test]
    fn sslrootcert_system_means_the_system_store_and_goes_with_verify_full_only() {
        let p = plan(&[("sslrootcert", "system")]).unwrap();
        assert_eq!((p.verify, p.roots), (Verify::Full, Roots::System));
        for mode in ["require", "verify-ca", "prefer"] {
            let why = plan(&[("sslrootcert", "system"), ("sslmode", mode)]).unwrap_err();
            assert!(why.contains("verify-full"), "{mode}: {why}");
        }
    }

    #[test]
    fn half_a_client_certificate_or_an_unknown_mode_is_refused_by_name() {
        let why = plan(&[("sslcert", "c.pem")]).unwrap_err();
        assert!(why.contains("sslcert is given without sslkey"), "{why}");
        let why = plan(&[("sslkey", "k.pem")]).unwrap_err();
        assert!(why.contains("sslkey is given without sslcert"), "{why}");
        let why = plan(&[("sslpassword", "s3cret")]).unwrap_err();
        assert!(
            why.contains("sslpassword") && !why.contains("s3cret"),
            "{why}"
        );
        let why = plan(&[("sslmode", "allow")]).unwrap_err();
        assert!(why.contains("not supported"), "{why}");
        let why = plan(&[("sslmode", "sometimes")]).unwrap_err();
        assert!(why.contains("sslmode"), "{why}");
        let why = plan(&[("sslrootcert", "")]).unwrap_err();
        assert!(why.contains("sslrootcert is empty"), "{why}");
        let p = plan(&[("sslcert", "c.pem"), ("sslkey", "/k.pem")]).unwrap();
        let client = p.client.unwrap();
        assert_eq!(client.cert, Path::new("/etc/licd/c.pem"));
        assert_eq!(client.key, Path::new("/k.pem"));
    }

    #[test]
    fn a_root_file_and_a_client_certificate_make_a_connector() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        let cert = write(dir.path(), "client.pem", cert.as_bytes(), 0o644);
        let pkcs8 = write(dir.path(), "client.key", key.as_bytes(), 0o600);
        assert!(
            with_client(dir.path(), &cert, &pkcs8, None)
                .connector()
                .is_ok()
        );
        // The same key in SEC1 form (-----BEGIN EC PRIVATE KEY-----), which libpq reads too.
        let sec1 = PKey::private_key_from_pem(key.as_bytes())
            .unwrap()
            .ec_key()
            .unwrap()
            .private_key_to_pem()
            .unwrap();
        assert!(sec1.starts_with(b"-----BEGIN EC PRIVATE KEY-----"));
        let sec1 = write(dir.path(), "client-ec.key", &sec1, 0o600);
        assert!(
            with_client(dir.path(), &cert, &sec1, None)
                .connector()
                .is_ok()
        );
    }

    #[test]
    fn a_key_others_may_read_is_refused_naming_it_as_libpq_does() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        let cert = write(dir.path(), "client.pem", cert.as_bytes(), 0o644);
        for mode in [0o644, 0o640, 0o604] {
            let key = write(dir.path(), "client.key", key.as_bytes(), mode);
            let e = with_client(dir.path(), &cert, &key, None)
                .connector()
                .err()
                .expect("refused");
            assert!(matches!(e, TlsFileError::KeyAccess { .. }), "{mode:o}: {e}");
            let text = e.to_string();
            assert!(
                text.contains(&key.display().to_string()) && text.contains("group or world access"),
                "{text}"
            );
        }
    }

    #[test]
    fn unusable_files_are_refused_naming_the_parameter_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let cert = write(d, "client.pem", cert.as_bytes(), 0o644);
        let key = write(d, "client.key", key.as_bytes(), 0o600);
        let junk = write(d, "junk.pem", b"not a certificate\n", 0o600);
        let broken = write(d, "broken.pem", b"-----BEGIN CERTIFICATE-----\nA\n", 0o600);
        let other_key = write(d, "other.key", other_key.as_bytes(), 0o600);
        let roots = |path: &Path| TlsPlan {
            mode: SslMode::Require,
            verify: Verify::Chain,
            roots: Roots::File(path.to_path_buf()),
            client: None,
        };
        let cases = [
            (
                roots(&d.join("missing.pem")),
                "sslrootcert: cannot read",
                "missing.pem",
            ),
            (roots(&junk), "sslrootcert: ", "holds no PEM certificate"),
            (roots(&broken), "sslrootcert: ", "not valid PEM"),
            (roots(d), "sslrootcert: ", "not a regular file"),
            (with_client(d, &junk, &key, None), "sslcert: ", "junk.pem"),
            (
                with_client(d, &cert, &junk, None),
                "sslkey: ",
                "holds no PEM private key",
            ),
            (
                with_client(d, &cert, &d.join("nokey"), None),
                "sslkey: cannot read",
                "nokey",
            ),
            (
                with_client(d, &cert, &other_key, None),
                "does not match",
                "other.key",
            ),
        ];
        for (plan, first, second) in cases {
            let e = plan.connector().err().expect("refused").to_string();
            assert!(e.contains(first) && e.contains(second), "{e}");
        }
    }

    #[test]
    fn an_encrypted_key_needs_its_passphrase_which_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        let cert = write(dir.path(), "client.pem", cert.as_bytes(), 0o644);
        let locked = PKey::private_key_from_pem(key.as_bytes())
            .unwrap()
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"s3cret")
            .unwrap();
        let key = write(dir.path(), "client.key", &locked, 0o600);
        let e = with_client(dir.path(), &cert, &key, None)
            .connector()
            .err()
            .expect("refused");
        assert!(matches!(e, TlsFileError::Encrypted { .. }), "{e}");
        assert!(e.to_string().contains("sslpassword"), "{e}");
        let e = with_client(dir.path(), &cert, &key, Some("n0t-the-passphrase"))
            .connector()
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("client.key") && e.contains("sslpassword"), "{e}");
        assert!(!e.contains("n0t-the-passphrase"), "{e}");
        let right = with_client(dir.path(), &cert, &key, Some("s3cret"));
        assert!(right.connector().is_ok());
        assert!(!format!("{right:?}").contains("s3cret"));
    }
}
