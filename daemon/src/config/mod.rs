//! The configuration file: TOML → typed structs, defaults, secrets and whole-file validation.
//!
//! One file configures everything (spec/config.md). Loading happens in three steps, each
//! collecting every problem it finds rather than stopping at the first, so that
//! `licd check-config` lists everything an admin has to fix in one run:
//!
//! 1. [`document`]: TOML syntax, unknown keys and value types, each problem with its line;
//! 2. [`secrets`] and [`tls`]: `<name>File` secrets and the TLS certificate and key are
//!    read and their file permissions checked;
//! 3. [`validate`] and [`credentials`]: ranges and cross-references (duplicate products,
//!    unknown plugins, ...), and the rules on vendor credentials (the demo password).
//!
//! The key names are QLM's own, verbatim, so an admin coming from QLM finds every name they
//! know; Rust field names are their snake_case.

mod analytics;
mod blame;
mod console;
mod credentials;
mod document;
mod explain;
pub mod field_map;
mod ip_list;
mod mail;
mod portal;
mod products;
mod secrets;
mod server;
mod server_properties;
mod store;
mod suggest;
mod tls;
mod validate;
mod vendors;
mod webhooks;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde::Deserialize;

pub use analytics::AnalyticsConfig;
pub use console::{ConsoleConfig, ConsoleUser, Role};
pub use ip_list::IpList;
pub use mail::{MailConfig, SmtpSecurity};
pub use portal::PortalConfig;
pub use products::Product;
pub use server::{DATABASE_FILE, LogFormat, LogLevel, ServerConfig};
pub use server_properties::{ActivationConfig, OptionsConfig, SecurityConfig, SignatureAlgorithm};
pub use store::{Backend, StoreConfig};
pub use tls::{TlsFileError, TlsIdentity};
pub use vendors::{PluginConfig, ResponseFormat, Scope, Vendor};
pub use webhooks::{Endpoint, WebhooksConfig};

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
    "UpdateUserInformation",
    "UpdatePrivacyConsentHttp",
    "SubscribeToMailListHttp",
    "GetLatestVersionHttp",
    "AnalyticsAddInstallHttp",
    "AnalyticsUpdateInstallHttp",
    "AnalyticsRemoveInstallHttp",
    "AnalyticsUpdateLastAccessedDateHttp",
    "RequestAuthorizationCodeForActivationHttp",
    "ActivateKeyByAuthorizationCodeHttp",
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
///
/// Build it with [`Config::load`] or [`Config::parse`]: deserialising it directly (with
/// `toml::from_str`) would skip reading secret files and every rule of [`Config::validate`].
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
    /// `[store]`: the backend holding the licences (redb, or a shared PostgreSQL).
    #[serde(default)]
    pub store: StoreConfig,
    /// `[analytics]`: the caps of the analytics methods.
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// `[mail]`: the SMTP server and the mail templates.
    #[serde(default)]
    pub mail: MailConfig,
    /// `[webhooks]`: the events licd sends to the vendor's own systems.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// `[console]`: the staff console's listener, sessions and users.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// `[portal]`: the customer portal on the main listener.
    #[serde(default)]
    pub portal: PortalConfig,
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
        let (mut config, mut problems) = document::parse(text, origin)?;
        config.origin = origin.to_owned();
        config.store.files_dir = base_dir.map(Path::to_path_buf);
        problems.extend(secrets::resolve(&mut config, base_dir));
        problems.extend(tls::resolve(&mut config, base_dir));
        problems.extend(console::resolve(&mut config, base_dir));
        if let Err(invalid) = config.validate() {
            problems.extend(invalid.problems);
        }
        let mut warnings = vendors::vendor_warnings(&config.vendors);
        warnings.extend(store::warnings(
            &config.store,
            config.server.cache_size_mib,
            ServerConfig::default().cache_size_mib,
        ));
        warnings.extend(credentials::weaker_hash_warnings(&config));
        config.warnings.extend(warnings.into_iter().map(|w| {
            if origin.is_empty() {
                w
            } else {
                format!("{origin}: {w}")
            }
        }));
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

    /// The name a customer reads for product `id` version `major.minor`: the configured
    /// product's, else `product ID` (a licence whose product left the configuration).
    pub fn product_name(&self, id: u32, major: u32, minor: u32) -> String {
        self.product(id, major, minor)
            .map_or_else(|| format!("product {id}"), |p| p.name.clone())
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
    /// The reloader keeps the running values of these and logs a warning naming them. Apply
    /// the command-line overrides (`--listen`, `--data-dir`) to `newer` before comparing, or
    /// every reload would seem to change them.
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
        if self.store != newer.store {
            changed.push("[store]");
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

/// What `{:?}` shows in place of a secret: whether it is set, never its value.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}
