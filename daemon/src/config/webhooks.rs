//! `[webhooks]`: the events licd sends to the vendor's own systems (docs/webhooks.md,
//! "Events licd sends"), with QLM's server property names.
//!
//! The secret key signs every event (`X-QLM-Signature`, `X-Licd-Signature`): never logged,
//! never quoted in a problem, and may be read from `webHookSecretKeyFile`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::redacted;
use crate::store::events::{EventRoutes, Route};
use crate::store::webhook_outbox::EventName;

/// `[webhooks]`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhooksConfig {
    /// Whether events are queued and sent at all.
    pub web_hooks_enabled: bool,
    /// Retries after the first failed attempt: an event is dead after `1 + this` failed
    /// attempts.
    pub web_hook_max_retries: u32,
    /// The wait after the first failed attempt, in seconds; it doubles after each further
    /// failure.
    pub web_hook_retry_interval: u64,
    /// The key events are signed with.
    pub web_hook_secret_key: Option<String>,
    /// A file holding `webHookSecretKey`.
    pub web_hook_secret_key_file: Option<PathBuf>,
    /// `[[webhooks.endpoint]]`: where events go.
    pub endpoint: Vec<Endpoint>,
}

/// `[[webhooks.endpoint]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// `http://` or `https://` URL the events are POSTed to.
    pub url: String,
    /// The events it receives, by QLM's names (`license_created`, ...).
    #[serde(default)]
    pub events: Vec<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            web_hooks_enabled: false,
            web_hook_max_retries: 5,
            web_hook_retry_interval: 60,
            web_hook_secret_key: None,
            web_hook_secret_key_file: None,
            endpoint: Vec::new(),
        }
    }
}

impl fmt::Debug for WebhooksConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhooksConfig")
            .field("web_hooks_enabled", &self.web_hooks_enabled)
            .field("web_hook_max_retries", &self.web_hook_max_retries)
            .field("web_hook_retry_interval", &self.web_hook_retry_interval)
            .field("web_hook_secret_key", &redacted(&self.web_hook_secret_key))
            .field("web_hook_secret_key_file", &self.web_hook_secret_key_file)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl WebhooksConfig {
    /// Which endpoint receives which event; `None` when webhooks are off. Names that are not
    /// events are left out (validation refuses a configuration with one).
    pub fn routes(&self) -> Option<EventRoutes> {
        if !self.web_hooks_enabled {
            return None;
        }
        let routes = self
            .endpoint
            .iter()
            .map(|e| Route {
                url: e.url.clone(),
                events: e
                    .events
                    .iter()
                    .filter_map(|n| n.parse::<EventName>().ok())
                    .collect::<BTreeSet<_>>(),
            })
            .collect();
        Some(EventRoutes { routes })
    }

    /// The wait after the `failures`-th failed attempt (1 for the first):
    /// `webHookRetryInterval × 2^(failures − 1)` seconds, at most a day.
    pub fn delay_after(&self, failures: u32) -> u64 {
        let doublings = failures.saturating_sub(1).min(32);
        self.web_hook_retry_interval
            .saturating_mul(1u64 << doublings)
            .clamp(1, 86_400)
    }

    /// Whether an event that has now failed `failures` times is dead.
    pub fn is_dead_after(&self, failures: u32) -> bool {
        failures > self.web_hook_max_retries
    }
}

/// The problems of `[webhooks]` (after its secret was read), never quoting the secret.
pub(super) fn problems(webhooks: &WebhooksConfig) -> Vec<String> {
    let place = "[webhooks]";
    let mut out = Vec::new();
    if webhooks.web_hook_retry_interval == 0 || webhooks.web_hook_retry_interval > 86_400 {
        out.push(format!(
            "{place}: `webHookRetryInterval` is {}; it must be between 1 and 86400 seconds",
            webhooks.web_hook_retry_interval
        ));
    }
    if webhooks.web_hook_max_retries > 100 {
        out.push(format!(
            "{place}: `webHookMaxRetries` is {}; it must be at most 100",
            webhooks.web_hook_max_retries
        ));
    }
    let mut urls = BTreeSet::new();
    for (index, endpoint) in webhooks.endpoint.iter().enumerate() {
        let at = format!("[[webhooks.endpoint]] #{}", index + 1);
        if let Some(problem) = url_problem(&endpoint.url) {
            out.push(format!("{at}: `url` {problem}"));
        }
        if !urls.insert(endpoint.url.as_str()) {
            out.push(format!(
                "{at}: `url` {} is listed twice; give one endpoint every event it receives",
                endpoint.url
            ));
        }
        if endpoint.events.is_empty() {
            out.push(format!(
                "{at}: `events` is empty; list the events it receives ({})",
                known()
            ));
        }
        for name in &endpoint.events {
            if name.parse::<EventName>().is_err() {
                out.push(format!(
                    "{at}: `events` names `{name}`, which is not an event licd sends; the \
                     events are {}",
                    known()
                ));
            }
        }
    }
    if webhooks.web_hooks_enabled {
        match webhooks.web_hook_secret_key.as_deref() {
            None => out.push(format!(
                "{place}: `webHooksEnabled = true` needs `webHookSecretKey` or \
                 `webHookSecretKeyFile`: every event is signed with it"
            )),
            Some(key) if key.trim().is_empty() => out.push(format!(
                "{place}: `webHookSecretKey` is empty; write a long random string (for \
                 example the output of `openssl rand -hex 32`)"
            )),
            Some(_) => {}
        }
        if webhooks.endpoint.is_empty() {
            out.push(format!(
                "{place}: `webHooksEnabled = true` but no [[webhooks.endpoint]] is listed; add \
                 one with `url` and `events`, or set `webHooksEnabled = false`"
            ));
        }
    }
    out
}

/// The event names, for messages.
fn known() -> String {
    EventName::ALL
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What is wrong with an endpoint URL (or the portal's `publicUrl`), if anything.
pub(super) fn url_problem(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else {
        return Some(format!("\"{url}\" must start with http:// or https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.chars().any(char::is_whitespace) {
        return Some(format!(
            "\"{url}\" must name a host (and optionally a port and path), without spaces or \
             user name"
        ));
    }
    match url.parse::<http::Uri>() {
        Ok(_) => None,
        Err(e) => Some(format!("\"{url}\" is not a URL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> WebhooksConfig {
        WebhooksConfig {
            web_hooks_enabled: true,
            web_hook_secret_key: Some("s3cret-key".into()),
            endpoint: vec![Endpoint {
                url: "https://crm.example.com/licd".into(),
                events: vec!["license_created".into(), "customer_deleted".into()],
            }],
            ..WebhooksConfig::default()
        }
    }

    #[test]
    fn the_default_is_off_and_has_no_problem() {
        let w = WebhooksConfig::default();
        assert_eq!(problems(&w), Vec::<String>::new());
        assert_eq!(w.routes(), None);
    }

    #[test]
    fn enabled_webhooks_need_a_secret_key() {
        assert_eq!(problems(&enabled()), Vec::<String>::new());
        let w = WebhooksConfig {
            web_hook_secret_key: None,
            ..enabled()
        };
        let found = problems(&w);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("webHookSecretKeyFile"), "{found:?}");
    }

    #[test]
    fn an_unknown_event_name_is_named() {
        let mut w = enabled();
        w.endpoint[0].events.push("licence_created".into());
        let found = problems(&w);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`licence_created`"), "{found:?}");
        assert!(
            found[0].starts_with("[[webhooks.endpoint]] #1"),
            "{found:?}"
        );
    }

    #[test]
    fn an_endpoint_url_must_be_http_or_https_with_a_host() {
        for bad in [
            "ftp://x/y",
            "crm.example.com",
            "https:///path",
            "http://a b/",
        ] {
            let mut w = enabled();
            w.endpoint[0].url = bad.into();
            assert!(
                problems(&w).iter().any(|p| p.contains("`url`")),
                "{bad}: {:?}",
                problems(&w)
            );
        }
    }

    #[test]
    fn the_backoff_doubles_from_the_interval() {
        let w = WebhooksConfig {
            web_hook_retry_interval: 60,
            ..enabled()
        };
        let waits: Vec<u64> = (1..=5).map(|n| w.delay_after(n)).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960]);
        assert_eq!(w.delay_after(40), 86_400);
    }

    #[test]
    fn an_event_is_dead_after_one_plus_max_retries_failures() {
        let w = WebhooksConfig {
            web_hook_max_retries: 2,
            ..enabled()
        };
        assert!(!w.is_dead_after(2));
        assert!(w.is_dead_after(3));
    }

    #[test]
    fn routes_follow_the_endpoints_events() {
        let routes = enabled().routes().expect("enabled");
        assert_eq!(routes.routes.len(), 1);
        assert!(
            routes.routes[0]
                .events
                .contains(&EventName::CustomerDeleted)
        );
        assert!(
            !routes.routes[0]
                .events
                .contains(&EventName::LicenseModified)
        );
    }

    #[test]
    fn debug_output_hides_the_secret_key() {
        assert!(!format!("{:?}", enabled()).contains("s3cret-key"));
    }
}
