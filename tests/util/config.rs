//! Configuration files for a test daemon: the TOML text, its demo products and vendor, and
//! the TLS certificate files a configuration names.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The demo vendor of [`TestConfig::demo`].
pub const VENDOR: &str = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=demo";

/// A configuration file built from sections; tables not named keep their defaults.
#[derive(Clone, Debug, Default)]
pub struct TestConfig {
    server: Vec<String>,
    security: Vec<String>,
    options: Vec<String>,
    activation: Vec<String>,
    tail: Vec<String>,
    redb_only: bool,
}

impl TestConfig {
    /// Products 1 "Demo" 1.0 (two properties) and 1.1 and 2.0, product 2 "Other" 1.0, and the
    /// demo vendor (user demo, password demo), as the embedded default has.
    pub fn demo() -> Self {
        let mut c = TestConfig::default();
        c.options
            .push("defaultCommerceProvider = \"QlmAuthenticationProvider\"".into());
        c.tail.push(
            r#"
[[product]]
id = 1
name = "Demo"
majorVersion = 1
minorVersion = 0
latestVersion = "1.4.2"
latestVersionUrl = "https://example.com/demo-1.4.2.msi"
latestVersionNotes = "Bug fixes & <more>."
  [[product.property]]
  category = "quality"
  name = "module_validation"
  type = "int"
  default = "0"
  [[product.property]]
  category = "edition"
  name = "tier"
  type = "string"
  default = "standard"

[[product]]
id = 1
name = "Demo"
majorVersion = 1
minorVersion = 1

[[product]]
id = 1
name = "Demo"
majorVersion = 2
minorVersion = 0
releaseDate = "2026-06-01"

[[product]]
id = 2
name = "Other"
majorVersion = 1
minorVersion = 0

[[vendor]]
name = "QlmAuthenticationProvider"
user = "demo"
password = "demo"
"#
            .into(),
        );
        c
    }

    /// Adds a line to `[server]`.
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.into());
        self
    }
    /// Adds a line to `[security]`.
    pub fn security(mut self, line: &str) -> Self {
        self.security.push(line.into());
        self
    }
    /// Adds a line to `[options]`.
    pub fn options(mut self, line: &str) -> Self {
        self.options.push(line.into());
        self
    }
    /// Adds a line to `[activation]`.
    pub fn activation(mut self, line: &str) -> Self {
        self.activation.push(line.into());
        self
    }
    /// Appends raw TOML at the end (more `[[product]]` or `[[vendor]]` tables).
    pub fn append(mut self, toml: &str) -> Self {
        self.tail.push(toml.into());
        self
    }

    /// Keeps this configuration on the redb backend whatever `LICD_TEST_BACKEND` says: for a
    /// test that reads or writes the redb file itself (backup, file modes, compaction, …).
    pub fn redb_only(mut self) -> Self {
        self.redb_only = true;
        self
    }

    /// Whether [`TestConfig::redb_only`] was asked for.
    pub fn is_redb_only(&self) -> bool {
        self.redb_only
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for (name, lines) in [
            ("server", &self.server),
            ("security", &self.security),
            ("options", &self.options),
            ("activation", &self.activation),
        ] {
            s.push_str(&format!("[{name}]\n"));
            for l in lines {
                s.push_str(l);
                s.push('\n');
            }
            s.push('\n');
        }
        for t in &self.tail {
            s.push_str(t);
            s.push('\n');
        }
        s
    }
}

/// A certificate authority made at test time (rcgen), that signs server certificates for
/// `127.0.0.1` and `localhost`; clients of [`super::send_tls`] trust it alone.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA's own certificate.
    pub cert: rustls::pki_types::CertificateDer<'static>,
    /// The same as PEM, the end of every chain file.
    cert_pem: String,
}

/// A server certificate and its key, as PEM, and the certificate as DER (what a client sees).
pub struct ServerCert {
    /// The certificate chain file's contents: the server certificate, then the CA's.
    pub chain_pem: String,
    /// The private key file's contents (PKCS#8).
    pub key_pem: String,
    /// The server certificate as a TLS client receives it.
    pub der: Vec<u8>,
}

impl TestCa {
    /// A new CA with a fresh key.
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "licd test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost with this serial number and common
    /// name, signed by this CA.
    pub fn server_cert(&self, serial: u64, common_name: &str) -> ServerCert {
        self.cert_for(
            serial,
            common_name,
            &["localhost"],
            &[[127, 0, 0, 1].into()],
        )
    }

    /// A certificate with this serial number and common name for these host names and
    /// addresses (none: a client certificate), signed by this CA.
    pub fn cert_for(
        &self,
        serial: u64,
        common_name: &str,
        names: &[&str],
        addresses: &[std::net::IpAddr],
    ) -> ServerCert {
        use rcgen::{CertificateParams, DnType, KeyPair, SanType};
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .subject_alt_names
            .extend(addresses.iter().map(|a| SanType::IpAddress(*a)));
        params.serial_number = Some(serial.into());
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        ServerCert {
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// The CA's certificate as PEM, for a client's file of trusted roots.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

impl ServerCert {
    /// Writes `cert.pem` (0644) and `key.pem` (0600) into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.chain_pem).expect("write certificate");
        std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(&key, &self.key_pem).expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        (cert, key)
    }
}
