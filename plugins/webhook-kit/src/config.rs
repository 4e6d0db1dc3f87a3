//! The `[plugin.config]` of a store plugin, handed to `create` as JSON.
//!
//! ```toml
//! [plugin.config]
//! webhookSecretFile = "/etc/licd/stripe-webhook.secret"   # or webhookSecret = "whsec_…"
//! toleranceSeconds = 300                                   # stores that sign a timestamp
//!   [plugin.config.events]
//!   "invoice.payment_succeeded" = "ignore"
//!   [plugin.config.products]                               # stores without metadata
//!   "LICD-PRO" = { is_productid = 1, is_majorversion = 1, is_minorversion = 0 }
//! ```
//! Every mistake is refused with a sentence, so that licd does not start with a store whose
//! events it would then refuse (or worse, misread); an unknown key is a mistake too, because
//! a misspelt `toleranceSecond` would otherwise leave the default in force unnoticed.

use std::fmt;

use serde_json::{Map, Value};

use crate::events::{EventRule, EventTable};
use crate::products::ProductTable;

/// The default `toleranceSeconds`: Stripe's own default, and what Paddle's SDKs allow within
/// a few seconds of; stores re-sign every retry, so a genuine delivery is always fresh.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;

/// The largest `toleranceSeconds`: a day. A longer window only widens the replay window past
/// anything a working clock needs.
pub const MAX_TOLERANCE_SECONDS: u64 = 86_400;

/// A configuration a plugin refuses, with what to do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The JSON is not an object (a broken host).
    #[error("the configuration is not a JSON object: {0}")]
    NotJson(String),
    /// Neither `webhookSecret` nor `webhookSecretFile`.
    #[error(
        "the {store} webhook secret is missing: set webhookSecret or webhookSecretFile in [plugin.config] ({where_})"
    )]
    NoSecret {
        /// The store.
        store: &'static str,
        /// Where the store shows the secret.
        where_: &'static str,
    },
    /// Both of them.
    #[error("set webhookSecret or webhookSecretFile, not both")]
    BothSecrets,
    /// The secret is empty, or a key that should be text is not.
    #[error("{0} must be non-empty text")]
    NotText(&'static str),
    /// `webhookSecretFile` cannot be read.
    #[error("cannot read webhookSecretFile {path}: {why}")]
    SecretFile {
        /// The path.
        path: String,
        /// The system's reason.
        why: String,
    },
    /// `toleranceSeconds` is not a whole number in range.
    #[error("toleranceSeconds must be a whole number of seconds from 1 to {MAX_TOLERANCE_SECONDS}")]
    BadTolerance,
    /// `toleranceSeconds` for a store that signs no timestamp.
    #[error("{0} signs no timestamp, so toleranceSeconds does not apply: remove it")]
    NoTimestamp(&'static str),
    /// `[plugin.config.products]` for a store whose events carry their own metadata.
    #[error(
        "{0} events carry licd's product arguments in their own metadata; [plugin.config.products] does not apply: remove it"
    )]
    NoProducts(&'static str),
    /// A table key (`events`, `products`) that is not a table.
    #[error("[plugin.config.{0}] must be a table")]
    NotATable(&'static str),
    /// An override for an event the plugin does not know.
    #[error(
        "[plugin.config.events] names {name:?}, which this plugin does not handle; it handles {known}"
    )]
    UnknownEvent {
        /// The name given.
        name: String,
        /// The names it knows.
        known: String,
    },
    /// An override value other than the event's action or `"ignore"`.
    #[error("[plugin.config.events] gives {name:?} the value {value}; it takes {allowed}")]
    BadEventValue {
        /// The event.
        name: String,
        /// The value given, as JSON.
        value: String,
        /// What it takes.
        allowed: String,
    },
    /// A malformed product entry.
    #[error("[plugin.config.products] {key:?} {why}")]
    BadProduct {
        /// The entry's key.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// A key the plugin does not read.
    #[error(
        "[plugin.config] has the key {key:?}, which the {store} plugin does not read; it reads {known}"
    )]
    UnknownKey {
        /// The key.
        key: String,
        /// The store.
        store: &'static str,
        /// The keys it reads.
        known: String,
    },
}

/// What a store plugin declares about itself, for reading its configuration.
#[derive(Debug, Clone, Copy)]
pub struct StoreSpec {
    /// The store's name, for messages ("Stripe").
    pub store: &'static str,
    /// Where the store's dashboard shows the webhook secret, for the missing-secret message.
    pub secret_hint: &'static str,
    /// Whether the signature covers a timestamp (`toleranceSeconds` applies).
    pub signs_timestamp: bool,
    /// Whether the plugin reads `[plugin.config.products]`.
    pub uses_products: bool,
    /// The events it understands.
    pub events: &'static [EventRule],
    /// Further `[plugin.config]` keys the plugin reads itself (from [`WebhookConfig::extra`]).
    pub extra_keys: &'static [&'static str],
}

/// The webhook secret. Its `Debug` hides it, so that no log line or test failure prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret's bytes, the HMAC key.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A store plugin's configuration, read and checked.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The HMAC key.
    pub secret: Secret,
    /// The largest distance between a signed timestamp and now, in seconds.
    pub tolerance_seconds: u64,
    /// What each event does.
    pub events: EventTable,
    /// The products of line items (empty for stores with metadata).
    pub products: ProductTable,
    /// The plugin's own keys ([`StoreSpec::extra_keys`]), unchecked.
    pub extra: Map<String, Value>,
}

/// The keys every store plugin reads.
const COMMON_KEYS: [&str; 2] = ["webhookSecret", "webhookSecretFile"];

impl WebhookConfig {
    /// Reads `config_json` for the store `spec` describes.
    ///
    /// # Errors
    /// A [`ConfigError`] saying what to fix.
    pub fn parse(config_json: &str, spec: &StoreSpec) -> Result<WebhookConfig, ConfigError> {
        let value: Value =
            serde_json::from_str(config_json).map_err(|e| ConfigError::NotJson(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(ConfigError::NotJson("not an object".into()));
        };
        check_keys(&map, spec)?;
        let secret = secret(&map, spec)?;
        let tolerance_seconds = match map.get("toleranceSeconds") {
            None => DEFAULT_TOLERANCE_SECONDS,
            Some(_) if !spec.signs_timestamp => return Err(ConfigError::NoTimestamp(spec.store)),
            Some(v) => v
                .as_u64()
                .filter(|t| (1..=MAX_TOLERANCE_SECONDS).contains(t))
                .ok_or(ConfigError::BadTolerance)?,
        };
        let events = EventTable::new(spec.events, map.get("events"))?;
        let products = match map.get("products") {
            Some(_) if !spec.uses_products => return Err(ConfigError::NoProducts(spec.store)),
            table => ProductTable::new(table)?,
        };
        map.retain(|k, _| spec.extra_keys.contains(&k.as_str()));
        Ok(WebhookConfig {
            secret,
            tolerance_seconds,
            events,
            products,
            extra: map,
        })
    }
}

/// Refuses a key no part of the plugin reads.
fn check_keys(map: &Map<String, Value>, spec: &StoreSpec) -> Result<(), ConfigError> {
    let mut known: Vec<&str> = COMMON_KEYS.to_vec();
    if spec.signs_timestamp {
        known.push("toleranceSeconds");
    }
    known.push("events");
    if spec.uses_products {
        known.push("products");
    }
    known.extend_from_slice(spec.extra_keys);
    for key in map.keys() {
        // The keys that do not apply to this store have their own, more helpful messages.
        let explained = matches!(key.as_str(), "toleranceSeconds" | "products");
        if !explained && !known.contains(&key.as_str()) {
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                store: spec.store,
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

/// `webhookSecret` or the content of `webhookSecretFile` (without its trailing line break,
/// which editors add and no store's secret has).
fn secret(map: &Map<String, Value>, spec: &StoreSpec) -> Result<Secret, ConfigError> {
    let text = |key: &'static str| {
        map.get(key)
            .map(|v| v.as_str().ok_or(ConfigError::NotText(key)))
            .transpose()
    };
    let secret = match (text("webhookSecret")?, text("webhookSecretFile")?) {
        (Some(_), Some(_)) => return Err(ConfigError::BothSecrets),
        (Some(inline), None) => inline.to_string(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| ConfigError::SecretFile {
                path: path.to_string(),
                why: e.to_string(),
            })?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        (None, None) => {
            return Err(ConfigError::NoSecret {
                store: spec.store,
                where_: spec.secret_hint,
            });
        }
    };
    if secret.is_empty() {
        return Err(ConfigError::NotText("the webhook secret"));
    }
    Ok(Secret(secret.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventRule, Handling};

    const EVENTS: [EventRule; 1] = [EventRule::on("paid", Handling::Create)];

    fn spec(signs_timestamp: bool, uses_products: bool) -> StoreSpec {
        StoreSpec {
            store: "Shop",
            secret_hint: "Settings > Webhooks",
            signs_timestamp,
            uses_products,
            events: &EVENTS,
            extra_keys: &["acceptPing"],
        }
    }

    fn refusal(json: &str, spec: &StoreSpec) -> String {
        WebhookConfig::parse(json, spec).unwrap_err().to_string()
    }

    #[test]
    fn an_inline_secret_and_the_defaults() {
        let c = WebhookConfig::parse(r#"{"webhookSecret":"s3cret"}"#, &spec(true, false)).unwrap();
        assert_eq!(c.secret.bytes(), b"s3cret");
        assert_eq!(c.tolerance_seconds, DEFAULT_TOLERANCE_SECONDS);
        assert_eq!(c.events.handling("paid"), Handling::Create);
        assert!(c.products.is_empty());
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn the_secret_file_is_read_without_its_trailing_line_break() {
        let dir = std::env::temp_dir().join(format!("licd-webhook-kit-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let json = format!(r#"{{"webhookSecretFile":{:?}}}"#, dir.display().to_string());
        let c = WebhookConfig::parse(&json, &spec(true, false));
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(c.unwrap().secret.bytes(), b"from-file");
    }

    #[test]
    fn no_secret_both_secrets_an_empty_or_unreadable_one_are_refused() {
        let s = spec(true, false);
        assert!(refusal("{}", &s).contains("Settings > Webhooks"));
        assert!(
            refusal(r#"{"webhookSecret":"a","webhookSecretFile":"/x"}"#, &s).contains("not both")
        );
        assert!(refusal(r#"{"webhookSecret":""}"#, &s).contains("non-empty"));
        assert!(refusal(r#"{"webhookSecret":7}"#, &s).contains("webhookSecret"));
        assert!(
            refusal(r#"{"webhookSecretFile":"/nonexistent/s"}"#, &s).contains("/nonexistent/s")
        );
    }

    #[test]
    fn tolerance_range_and_keys_that_do_not_apply_are_refused() {
        let s = spec(true, false);
        let c = WebhookConfig::parse(r#"{"webhookSecret":"a","toleranceSeconds":60}"#, &s).unwrap();
        assert_eq!(c.tolerance_seconds, 60);
        for bad in ["0", "-5", "1.5", "\"300\"", "86401"] {
            let json = format!(r#"{{"webhookSecret":"a","toleranceSeconds":{bad}}}"#);
            assert!(refusal(&json, &s).contains("toleranceSeconds"), "{bad}");
        }
        let untimed = spec(false, true);
        assert!(
            refusal(r#"{"webhookSecret":"a","toleranceSeconds":60}"#, &untimed)
                .contains("signs no timestamp")
        );
        assert!(refusal(r#"{"webhookSecret":"a","products":{}}"#, &s).contains("does not apply"));
        let e = refusal(r#"{"webhookSecret":"a","toleranceSecond":60}"#, &s);
        assert!(
            e.contains("toleranceSecond") && e.contains("reads webhookSecret"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_events_value_is_refused_and_extra_keys_are_kept() {
        let s = spec(false, true);
        assert!(
            refusal(r#"{"webhookSecret":"a","events":{"paid":"revoke"}}"#, &s).contains("paid")
        );
        let c = WebhookConfig::parse(r#"{"webhookSecret":"a","acceptPing":false}"#, &s).unwrap();
        assert_eq!(c.extra.get("acceptPing"), Some(&Value::Bool(false)));
    }
}
