//! The configuration file: TOML → typed structs, defaults, secrets and whole-file validation.
//!
//! One file configures everything (spec/config.md). Loading happens in three steps, each
//! collecting every problem it finds rather than stopping at the first, so that
//! `licd check-config` lists everything an admin has to fix in one run:
//!
//! 1. [`document`]: TOML syntax, unknown keys and value types, each problem with its line;
//! 2. [`secrets`]: `<name>File` secrets are read and their file permissions checked;
//! 3. [`validate`]: ranges and cross-references (duplicate products, unknown plugins, ...).
//!
//! The key names are QLM's own, verbatim, so an admin coming from QLM finds every name they
//! know; Rust field names are their snake_case.

mod document;
mod ip_list;
mod secrets;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use ip_list::IpList;

use crate::license::properties::PropertyDef;

/// Every HTTP method licd serves, spelled as QLM spells it.
///
/// Lists in the configuration that name methods (`httpAdminMethods`, a vendor's `methods`,
/// ...) are checked against this, so a typo is refused at start instead of silently
/// protecting nothing.
pub const KNOWN_METHODS: &[&str] = &[
    "PingHttp",
    "GetActivationKey",
    "GetActivationKeyWithExpiryDate",
    "ValidateLicenseHttp",
    "ActivateKey",
    "ReleaseLicenseHttp",
    "UpdateLicenseHttp",
    "UpgradeLicense",
    "RevokeLicenseHttp",
    "RenewSubscriptionHttp",
    "EnableMaintenancePlan",
    "RenewMaintenancePlan",
    "RetrieveActivationKeyHttp",
    "GetLatestVersionHttp",
];

/// The QLM spelling of a method name given in any case, or `None` if licd has no such method.
pub fn canonical_method_name(name: &str) -> Option<&'static str> {
    KNOWN_METHODS
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(name))
}

/// Every problem found in a configuration; loading refuses the whole file when there is one.
///
/// Each problem is one line that names the file, the place (line, or table and key) and what
/// to change. No problem text ever holds a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ConfigError {
    /// One sentence per problem, in file order where the order is known.
    pub problems: Vec<String>,
}

impl ConfigError {
    /// A configuration error with a single problem (unreadable file, say).
    pub fn single(problem: String) -> Self {
        ConfigError {
            problems: vec![problem],
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// `[server]`: licd's own settings.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[security]`: QLM's security server properties.
    #[serde(default)]
    pub security: SecurityConfig,
    /// `[options]`: QLM's options server properties.
    #[serde(default)]
    pub options: OptionsConfig,
    /// `[activation]`: QLM's activation server properties.
    #[serde(default)]
    pub activation: ActivationConfig,
    /// `[[product]]`: one entry per product version licences may name.
    #[serde(default, rename = "product")]
    pub products: Vec<Product>,
    /// `[[vendor]]`: the stores and integrations that may call vendor methods.
    #[serde(default, rename = "vendor")]
    pub vendors: Vec<Vendor>,
    /// `[[plugin]]`: vendor-authentication plugins to load.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<PluginConfig>,
    /// Things worth telling the admin that do not stop licd (plaintext passwords, ...).
    #[serde(skip)]
    warnings: Vec<String>,
    /// Where the configuration came from, to prefix validation problems with.
    #[serde(skip)]
    origin: String,
}

impl Config {
    /// The configuration built into the binary: `conf/licd.toml`, a demo server on 127.0.0.1.
    pub const EMBEDDED_DEFAULT: &'static str = include_str!("../../../conf/licd.toml");

    /// The name the embedded default goes by in messages.
    const EMBEDDED_ORIGIN: &'static str = "embedded default (conf/licd.toml)";

    /// Parses and validates the embedded default.
    ///
    /// Relative secret files in it (there are none as shipped) resolve against the current
    /// directory.
    pub fn embedded() -> Result<Config, ConfigError> {
        Config::parse(Self::EMBEDDED_DEFAULT, Self::EMBEDDED_ORIGIN, None)
    }

    /// Loads the file at `path`, or the embedded default when `path` is `None`.
    ///
    /// Reads the file, parses it, reads `<name>File` secrets relative to the file's directory
    /// and validates the whole result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Config::embedded();
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::single(format!(
                "cannot read configuration file {}: {e}",
                path.display()
            ))
        })?;
        Config::parse(&text, &path.display().to_string(), path.parent())
    }

    /// Parses configuration text and validates it.
    ///
    /// `origin` names the text in messages (usually the file name); `base_dir` is the
    /// directory relative `<name>File` paths are resolved against (`None`: the current
    /// directory).
    pub fn parse(text: &str, origin: &str, base_dir: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = document::parse(text, origin)?;
        config.origin = origin.to_owned();
        let mut problems = secrets::resolve(&mut config, base_dir);
        if let Err(invalid) = config.validate() {
            problems.extend(invalid.problems);
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Checks the whole configuration and lists every problem found, not just the first.
    ///
    /// [`Config::parse`] runs this; `serve` runs it again after `--listen` / `--data-dir`
    /// have overridden the file, since an override can break a rule (the demo password on a
    /// public address).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = validate::problems(self);
        if problems.is_empty() {
            return Ok(());
        }
        let problems = problems
            .into_iter()
            .map(|p| {
                if self.origin.is_empty() {
                    p
                } else {
                    format!("{}: {p}", self.origin)
                }
            })
            .collect();
        Err(ConfigError { problems })
    }

    /// The product with this id and version, if the configuration defines it.
    pub fn product(&self, id: u32, major: u32, minor: u32) -> Option<&Product> {
        self.products
            .iter()
            .find(|p| p.id == id && p.major_version == major && p.minor_version == minor)
    }

    /// The vendor called `name`, compared case-insensitively as QLM compares `is_vendor`.
    pub fn vendor(&self, name: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| same_name(&v.name, name))
    }

    /// The plugin called `name` (exactly), as a vendor's `plugin` key names it.
    pub fn plugin(&self, name: &str) -> Option<&PluginConfig> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// Things the admin should hear about at start that do not stop licd: plaintext
    /// passwords, secret files readable by everyone, ...
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The settings a reload cannot change (spec/config.md, Reload), by their TOML names,
    /// that differ between `self` (running) and `newer` (just read).
    ///
    /// The reloader keeps the running values of these and logs a warning naming them.
    pub fn settings_needing_restart(&self, newer: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.server.listen != newer.server.listen {
            changed.push("server.listen");
        }
        if self.server.data_dir != newer.server.data_dir {
            changed.push("server.dataDir");
        }
        if self.server.cache_size_mib != newer.server.cache_size_mib {
            changed.push("server.cacheSizeMiB");
        }
        if self.plugins != newer.plugins {
            changed.push("[[plugin]]");
        }
        changed
    }
}

/// Case-insensitive name comparison (vendor names), without allocating.
fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// `[server]`: licd's own settings (not QLM server properties).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerConfig {
    /// Address and port to listen on; port 0 picks a free port (tests).
    #[serde(deserialize_with = "document::socket_addr")]
    pub listen: SocketAddr,
    /// URL prefix before `qlmservice.asmx`, e.g. `/qlmLicenseServer`; empty for none.
    pub base_path: String,
    /// Directory holding `licd.redb` and `admin.sock`.
    pub data_dir: PathBuf,
    /// Connections served at once; past this, new connections wait.
    pub max_connections: u32,
    /// Time allowed to read a request's headers; also the idle keep-alive timeout.
    pub header_read_timeout_ms: u64,
    /// Time after which an unanswered request gets code 3000.
    pub request_timeout_ms: u64,
    /// Limit on request line plus headers (HTTP 431 past it).
    pub max_header_bytes: usize,
    /// Limit on a request body (HTTP 413 past it).
    pub max_body_bytes: usize,
    /// Limit on the number of arguments of one request.
    pub max_args: usize,
    /// Limit on the length of one argument value.
    pub max_value_bytes: usize,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// redb page cache size.
    #[serde(rename = "cacheSizeMiB")]
    pub cache_size_mib: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: IpList,
    /// Client addresses that may read `/metrics`.
    #[serde(rename = "metricsAllowedIPs")]
    pub metrics_allowed_ips: IpList,
    /// Log line format.
    pub log_format: LogFormat,
    /// Least severe level logged.
    pub log_level: LogLevel,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_path: String::new(),
            data_dir: PathBuf::from("./licd-data"),
            max_connections: 10_000,
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 15_000,
            max_header_bytes: 8192,
            max_body_bytes: 65_536,
            max_args: 64,
            max_value_bytes: 4096,
            shutdown_grace_seconds: 10,
            cache_size_mib: 64,
            trusted_proxies: IpList::default(),
            metrics_allowed_ips: loopback_nets(),
            log_format: LogFormat::Text,
            log_level: LogLevel::Info,
        }
    }
}

/// `["127.0.0.0/8", "::1/128"]`, the default of the lists that guard local-only features.
fn loopback_nets() -> IpList {
    IpList(vec![
        ipnet::IpNet::V4(ipnet::Ipv4Net::new_assert([127, 0, 0, 0].into(), 8)),
        ipnet::IpNet::V6(ipnet::Ipv6Net::new_assert(
            std::net::Ipv6Addr::LOCALHOST,
            128,
        )),
    ])
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// The least severe level that is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// Failures and things that may need attention.
    Warn,
    /// Normal operation (start, stop, reloads).
    Info,
    /// Detail for troubleshooting.
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// `[security]`: QLM's security server properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SecurityConfig {
    /// GetActivationKey and GetActivationKeyWithExpiryDate may be called.
    pub enable_get_activation_key: bool,
    /// ReleaseLicenseHttp may be called.
    pub enable_release_key_http: bool,
    /// UpdateLicenseHttp and UpgradeLicense may be called.
    pub enable_upgrade_license: bool,
    /// RevokeLicenseHttp may be called.
    pub enable_revoke_license: bool,
    /// RenewSubscriptionHttp may be called.
    pub enable_renew_subscription_http: bool,
    /// RetrieveActivationKeyHttp may be called (off by default: it reveals keys).
    pub enable_retrieve_activation_key_http: bool,
    /// GetLatestVersionHttp may be called.
    pub enable_get_latest_version_http: bool,
    /// Methods only `httpAdminMethodsAllowedIPAddresses` may call.
    pub http_admin_methods: Vec<String>,
    /// Client networks allowed to call `httpAdminMethods`.
    #[serde(rename = "httpAdminMethodsAllowedIPAddresses")]
    pub http_admin_methods_allowed_ip_addresses: IpList,
    /// Methods that need the strict (HMAC) authentication headers.
    pub strict_authentication_http_methods: Vec<String>,
    /// Seconds of clock skew allowed in strict authentication.
    pub strict_authentication_timestamp_tolerance: u64,
    /// Lowest `X-Qlm-Authentication-Version` accepted.
    pub strict_authentication_minimum_version: u32,
    /// Failed vendor authentications one client address may make in a minute.
    pub auth_failures_per_minute: u32,
    /// Sign every ValidateLicenseHttp / ActivateKey reply.
    pub sign_license_replies: bool,
    /// Signature algorithm of signed replies and licence files.
    pub signature_algorithm: SignatureAlgorithm,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            enable_get_activation_key: true,
            enable_release_key_http: true,
            enable_upgrade_license: true,
            enable_revoke_license: true,
            enable_renew_subscription_http: true,
            enable_retrieve_activation_key_http: false,
            enable_get_latest_version_http: true,
            http_admin_methods: Vec::new(),
            http_admin_methods_allowed_ip_addresses: loopback_nets(),
            strict_authentication_http_methods: vec!["RetrieveActivationKeyHttp".to_owned()],
            strict_authentication_timestamp_tolerance: 300,
            strict_authentication_minimum_version: 2,
            auth_failures_per_minute: 20,
            sign_license_replies: false,
            signature_algorithm: SignatureAlgorithm::RsaSha256,
        }
    }
}

/// Signature algorithm for signed replies and licence files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256, the default.
    #[serde(rename = "rsa-sha256")]
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-1, for older QLM clients only.
    #[serde(rename = "rsa-sha1")]
    RsaSha1,
}

/// `[options]`: QLM's options server properties.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct OptionsConfig {
    /// ReleaseLicenseHttp needs vendor credentials.
    pub release_license_requires_authentication: bool,
    /// ReleaseLicenseHttp needs a deactivation verification code.
    pub release_license_requires_verification_code: bool,
    /// Key shared with client applications, needed for verification codes; after loading it
    /// holds the value, whether written inline or read from `communicationEncryptionKeyFile`.
    pub communication_encryption_key: Option<String>,
    /// File `communicationEncryptionKey` was read from, kept so messages can name it.
    pub communication_encryption_key_file: Option<PathBuf>,
    /// Releases allowed per key in `maxReleasePeriodInDays`; -1 unlimited.
    pub max_release_count: i64,
    /// The period `maxReleaseCount` counts over, in days.
    pub max_release_period_in_days: i64,
    /// Minutes after an activation during which it cannot be released.
    pub prevent_deactivation_period: i64,
    /// Record releases in the history.
    pub history_table_log_release: bool,
    /// Record upgrades in the history.
    pub history_table_log_upgrade: bool,
    /// Vendor used when `is_vendor` is absent; empty for none.
    pub default_commerce_provider: String,
    /// Stored when `is_qlmversion` is absent.
    pub default_qlm_version: String,
    /// Client networks refused on every method.
    #[serde(rename = "blockIPAddresses")]
    pub block_ip_addresses: IpList,
    /// Computer IDs refused for activation and validation.
    #[serde(rename = "blockComputerIDs")]
    pub block_computer_ids: Vec<String>,
    /// Server-wide cap on new activations per UTC day; -1 unlimited.
    pub max_activations_per_day: i64,
    /// Server-wide cap on keys created per UTC day; -1 unlimited.
    pub max_new_keys_per_day: i64,
    /// Cap on licences stored; -1 unlimited.
    pub db_max_records: i64,
    /// A duration becomes a fixed expiry date when the key is created.
    pub use_duration_to_set_expiry_date: bool,
    /// A duration becomes a fixed expiry date at first activation.
    pub use_duration_to_set_expiry_date_when_activating: bool,
    /// Licence model when a duration is given and no model.
    pub default_license_model_when_duration_set: String,
    /// Licence model when an expiry date is given and no model.
    pub default_license_model_when_expiry_date_set: String,
    /// Days after expiry during which RenewSubscriptionHttp still renews.
    pub subscription_grace_period: i64,
    /// Default maintenance-plan extension, in days.
    pub maintenance_plan_period_in_days: i64,
    /// Days after maintenance expiry during which a renewal still counts.
    pub maintenance_plan_grace_period: i64,
    /// Refuse validation (code 225) when the client's computer key differs.
    pub require_computer_key_match_when_validating_on_server: bool,
    /// A key may activate an older version of its product.
    pub allow_activating_older_version: bool,
}

impl Default for OptionsConfig {
    fn default() -> Self {
        OptionsConfig {
            release_license_requires_authentication: true,
            release_license_requires_verification_code: false,
            communication_encryption_key: None,
            communication_encryption_key_file: None,
            max_release_count: -1,
            max_release_period_in_days: 365,
            prevent_deactivation_period: 0,
            history_table_log_release: true,
            history_table_log_upgrade: true,
            default_commerce_provider: String::new(),
            default_qlm_version: "6.0.00".to_owned(),
            block_ip_addresses: IpList::default(),
            block_computer_ids: Vec::new(),
            max_activations_per_day: -1,
            max_new_keys_per_day: -1,
            db_max_records: -1,
            use_duration_to_set_expiry_date: false,
            use_duration_to_set_expiry_date_when_activating: true,
            default_license_model_when_duration_set: "trial".to_owned(),
            default_license_model_when_expiry_date_set: "subscription".to_owned(),
            subscription_grace_period: 0,
            maintenance_plan_period_in_days: 365,
            maintenance_plan_grace_period: 0,
            require_computer_key_match_when_validating_on_server: false,
            allow_activating_older_version: false,
        }
    }
}

/// Written by hand so that `{:?}` of a configuration never prints the encryption key.
impl fmt::Debug for OptionsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptionsConfig")
            .field(
                "release_license_requires_authentication",
                &self.release_license_requires_authentication,
            )
            .field(
                "release_license_requires_verification_code",
                &self.release_license_requires_verification_code,
            )
            .field(
                "communication_encryption_key",
                &redacted(&self.communication_encryption_key),
            )
            .field(
                "communication_encryption_key_file",
                &self.communication_encryption_key_file,
            )
            .field("max_release_count", &self.max_release_count)
            .field(
                "max_release_period_in_days",
                &self.max_release_period_in_days,
            )
            .field(
                "prevent_deactivation_period",
                &self.prevent_deactivation_period,
            )
            .field("history_table_log_release", &self.history_table_log_release)
            .field("history_table_log_upgrade", &self.history_table_log_upgrade)
            .field("default_commerce_provider", &self.default_commerce_provider)
            .field("default_qlm_version", &self.default_qlm_version)
            .field("block_ip_addresses", &self.block_ip_addresses)
            .field("block_computer_ids", &self.block_computer_ids)
            .field("max_activations_per_day", &self.max_activations_per_day)
            .field("max_new_keys_per_day", &self.max_new_keys_per_day)
            .field("db_max_records", &self.db_max_records)
            .field(
                "use_duration_to_set_expiry_date",
                &self.use_duration_to_set_expiry_date,
            )
            .field(
                "use_duration_to_set_expiry_date_when_activating",
                &self.use_duration_to_set_expiry_date_when_activating,
            )
            .field(
                "default_license_model_when_duration_set",
                &self.default_license_model_when_duration_set,
            )
            .field(
                "default_license_model_when_expiry_date_set",
                &self.default_license_model_when_expiry_date_set,
            )
            .field("subscription_grace_period", &self.subscription_grace_period)
            .field(
                "maintenance_plan_period_in_days",
                &self.maintenance_plan_period_in_days,
            )
            .field(
                "maintenance_plan_grace_period",
                &self.maintenance_plan_grace_period,
            )
            .field(
                "require_computer_key_match_when_validating_on_server",
                &self.require_computer_key_match_when_validating_on_server,
            )
            .field(
                "allow_activating_older_version",
                &self.allow_activating_older_version,
            )
            .finish()
    }
}

/// `[activation]`: QLM's activation server properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ActivationConfig {
    /// Store the client address with each activation.
    #[serde(rename = "captureIPAddress")]
    pub capture_ip_address: bool,
    /// Refresh the stored computer name when a computer activates again.
    pub update_computer_name_when_reactivating: bool,
    /// Cloud (floating) seats idle longer than this are reclaimed; 0 = never.
    pub cloud_inactivity_threshold_minutes: u64,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        ActivationConfig {
            capture_ip_address: false,
            update_computer_name_when_reactivating: true,
            cloud_inactivity_threshold_minutes: 0,
        }
    }
}

/// `[[product]]`: one product version that licences may name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Product {
    /// QLM product id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Major version; with `id` and `minorVersion` it identifies the product.
    pub major_version: u32,
    /// Minor version.
    pub minor_version: u32,
    /// Release date, `yyyy-MM-dd`, used by maintenance-plan checks. A TOML date
    /// (`releaseDate = 2026-01-15`) is accepted too and stored in the same form.
    #[serde(default, deserialize_with = "document::optional_date")]
    pub release_date: Option<String>,
    /// Latest version, answered by GetLatestVersionHttp.
    #[serde(default)]
    pub latest_version: Option<String>,
    /// Download address of the latest version.
    #[serde(default)]
    pub latest_version_url: Option<String>,
    /// Release notes of the latest version.
    #[serde(default)]
    pub latest_version_notes: Option<String>,
    /// `[[product.property]]`: the product properties this product accepts.
    #[serde(default, rename = "property")]
    pub properties: Vec<PropertyDef>,
}

/// `[[vendor]]`: a store or integration that calls vendor methods (QLM's "3rd Party
/// Extension"), named by `is_vendor`.
///
/// After loading, each secret field holds the value whether it was written inline or read
/// from its `<name>File`; the `*_file` fields keep the path so messages can name it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Vendor {
    /// Name matched case-insensitively against `is_vendor`.
    pub name: String,
    /// A disabled vendor fails authentication (code 8).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// User name expected in `is_user`.
    #[serde(default)]
    pub user: Option<String>,
    /// Plaintext password (accepted, with a warning at start).
    #[serde(default)]
    pub password: Option<String>,
    /// File `password` was read from.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// argon2 PHC string from `licd hash-password`.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// File `passwordHash` was read from.
    #[serde(default)]
    pub password_hash_file: Option<PathBuf>,
    /// Key for strict (HMAC) authentication.
    #[serde(default)]
    pub api_key: Option<String>,
    /// File `apiKey` was read from.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// A `[[plugin]]` that authenticates this vendor.
    #[serde(default)]
    pub plugin: Option<String>,
    /// How replies to this vendor are written.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Methods this vendor may call; `None` means every vendor method.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// Which licences this vendor may act on.
    #[serde(default)]
    pub scope: Scope,
}

/// Serde default for flags that are on unless turned off.
fn yes() -> bool {
    true
}

impl Vendor {
    /// Whether this vendor may call `method` (QLM name, any case).
    pub fn may_call(&self, method: &str) -> bool {
        match &self.methods {
            None => true,
            Some(list) => list.iter().any(|m| m.eq_ignore_ascii_case(method)),
        }
    }
}

/// Written by hand so that `{:?}` of a configuration never prints a password or key.
impl fmt::Debug for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vendor")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("user", &self.user)
            .field("password", &redacted(&self.password))
            .field("password_file", &self.password_file)
            .field("password_hash", &redacted(&self.password_hash))
            .field("password_hash_file", &self.password_hash_file)
            .field("api_key", &redacted(&self.api_key))
            .field("api_key_file", &self.api_key_file)
            .field("plugin", &self.plugin)
            .field("response_format", &self.response_format)
            .field("methods", &self.methods)
            .field("scope", &self.scope)
            .finish()
    }
}

/// What `{:?}` shows in place of a secret: whether it is set, never its value.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

/// How replies to a vendor are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// The `<QuickLicenseManager>` XML envelope.
    #[default]
    Xml,
    /// Plain keys, one a line, for stores that want that.
    Text,
}

/// Which licences a vendor may act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every licence.
    #[default]
    All,
    /// Only licences this vendor created.
    Own,
}

/// `[[plugin]]`: a vendor-authentication plugin to load at start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PluginConfig {
    /// Name vendors use in their `plugin` key.
    pub name: String,
    /// Path of the shared library.
    pub path: PathBuf,
    /// Time allowed for one plugin call.
    #[serde(default = "default_plugin_timeout_ms")]
    pub timeout_ms: u64,
    /// `[plugin.config]`: any table, handed to the plugin as JSON when it is loaded.
    #[serde(default)]
    pub config: toml::Table,
}

/// Serde default of `timeoutMs`.
fn default_plugin_timeout_ms() -> u64 {
    2000
}
