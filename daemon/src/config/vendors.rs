//! `[[vendor]]` and `[[plugin]]`: who may call the vendor methods, and the plugins that
//! authenticate some of them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::field_map::FieldMap;
use super::redacted;

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
    /// The `is_*` arguments a request of this plugin vendor may carry besides those its
    /// plugin's `map_args` writes. `None`: licd's default list
    /// (`crate::auth::unsigned_args::DEFAULT_UNSIGNED_ARGS`) when the plugin signs the body
    /// only, no limit for other plugins. Set, the list applies whatever the plugin signs.
    #[serde(default)]
    pub unsigned_args: Option<Vec<String>>,
    /// A known field map (`qlm`, `woocommerce`, `regnow`): the store's own field names read
    /// as `is_*` arguments (`super::field_map`).
    #[serde(default)]
    pub preset: Option<String>,
    /// `[vendor.fields]`: store field name → `is_*` argument, added to the preset's (and
    /// overriding it for the same field name).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

impl Vendor {
    /// The vendor's field map: its `preset`, then its `fields` (empty when it has neither).
    pub fn field_map(&self) -> FieldMap {
        FieldMap::new(self.preset.as_deref(), &self.fields)
    }
}

/// The argument a plugin names a signed request with; a client can never vouch for it.
const REPLAY_ID_ARG: &str = "is_replayid";

/// The rules of a vendor's `unsignedArgs` (step 3 of loading): only with a plugin (a
/// password vendor's whole request is vouched for by its password), each entry an `is_*`
/// name, and never `is_replayid`, which only a plugin may write.
pub(super) fn unsigned_args_problems(vendor: &Vendor, place: &str) -> Vec<String> {
    let Some(list) = &vendor.unsigned_args else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if vendor.plugin.is_none() {
        problems.push(format!(
            "{place}: `unsignedArgs` limits what a plugin vendor's requests may carry besides \
             the signed ones, and this vendor has no `plugin`; remove it"
        ));
    }
    for name in list {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("is_") || lower.len() == 3 {
            problems.push(format!(
                "{place}: `unsignedArgs` names `{name}`, which is not an is_* argument; list \
                 licd's own arguments, e.g. [\"is_vendor\", \"is_productid\"]"
            ));
        } else if lower == REPLAY_ID_ARG {
            problems.push(format!(
                "{place}: `unsignedArgs` names `{name}`; a replay id counts only when the \
                 vendor's plugin writes it, so remove it from the list"
            ));
        }
    }
    problems
}

/// Warnings about vendors that do not stop licd: a vendor with a plugin but no `methods`
/// list lets every request its plugin allows call every vendor method, revocation and
/// licence editing included, although a store's plugin is written for one or two of them.
pub(super) fn vendor_warnings(vendors: &[Vendor]) -> Vec<String> {
    vendors
        .iter()
        .filter(|v| v.plugin.is_some() && v.methods.is_none())
        .map(|v| {
            format!(
                "[[vendor]] \"{}\": it has a plugin but no `methods` list, so any request the \
                 plugin allows may call every vendor method (UpdateLicenseHttp and \
                 RevokeLicenseHttp included); list the methods the store calls, e.g. \
                 methods = [\"GetActivationKey\"]",
                v.name
            )
        })
        .collect()
}

/// Serde default for flags that are on unless turned off.
fn yes() -> bool {
    true
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
            .field("unsigned_args", &self.unsigned_args)
            .field("preset", &self.preset)
            .field("fields", &self.fields)
            .finish()
    }
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
