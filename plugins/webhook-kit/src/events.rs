//! Which store event does what, and the vendor's `[plugin.config.events]` overrides.
//!
//! Each plugin declares its events as [`EventRule`]s: the store's name for the event (Stripe's
//! `checkout.session.completed`, WooCommerce's order status `completed`, …), the one thing it
//! can do, and whether it does it unless told otherwise. An override names the event and says
//! either that thing or `"ignore"`. Anything else is refused at start: a purchase cannot be
//! told to `"revoke"` (the event carries no licence to revoke), and a misspelt event name
//! would otherwise be silently ignored while the vendor believes it is configured.

use std::collections::BTreeMap;

use crate::config::ConfigError;

/// What an event does: the override values of `[plugin.config.events]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// `"create"`: licence keys for the buyer (GetActivationKey).
    Create,
    /// `"renew"`: move the subscription's expiry (RenewSubscriptionHttp).
    Renew,
    /// `"revoke"`: revoke the order's or subscription's keys (RevokeLicenseHttp).
    Revoke,
    /// `"ignore"`: answer 200 and change nothing.
    Ignore,
}

impl Handling {
    /// The override value naming this handling.
    pub fn name(self) -> &'static str {
        match self {
            Handling::Create => "create",
            Handling::Renew => "renew",
            Handling::Revoke => "revoke",
            Handling::Ignore => "ignore",
        }
    }

    /// The handling an override value names.
    fn from_name(name: &str) -> Option<Handling> {
        [
            Handling::Create,
            Handling::Renew,
            Handling::Revoke,
            Handling::Ignore,
        ]
        .into_iter()
        .find(|h| h.name() == name)
    }
}

/// One event a plugin understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRule {
    /// The store's name for it, as a key of `[plugin.config.events]`.
    pub name: &'static str,
    /// What it does when enabled.
    pub action: Handling,
    /// Whether it is enabled without an override.
    pub enabled: bool,
}

impl EventRule {
    /// An event that does `action` unless overridden with `"ignore"`.
    pub const fn on(name: &'static str, action: Handling) -> EventRule {
        EventRule {
            name,
            action,
            enabled: true,
        }
    }

    /// An event ignored unless an override names `action`.
    pub const fn off(name: &'static str, action: Handling) -> EventRule {
        EventRule {
            name,
            action,
            enabled: false,
        }
    }
}

/// The handling of every event a plugin understands, overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTable {
    handling: BTreeMap<&'static str, Handling>,
}

impl EventTable {
    /// The table of `rules` with the overrides of `[plugin.config.events]` (`None` when the
    /// table is absent).
    ///
    /// # Errors
    /// An override that is not a table, names an event outside `rules`, or gives it a value
    /// other than its action or `"ignore"`.
    pub fn new(
        rules: &[EventRule],
        overrides: Option<&serde_json::Value>,
    ) -> Result<EventTable, ConfigError> {
        let mut handling: BTreeMap<&'static str, Handling> = rules
            .iter()
            .map(|r| {
                let h = if r.enabled {
                    r.action
                } else {
                    Handling::Ignore
                };
                (r.name, h)
            })
            .collect();
        let Some(overrides) = overrides else {
            return Ok(EventTable { handling });
        };
        let overrides = overrides
            .as_object()
            .ok_or(ConfigError::NotATable("events"))?;
        for (name, value) in overrides {
            let rule =
                rules
                    .iter()
                    .find(|r| r.name == name)
                    .ok_or_else(|| ConfigError::UnknownEvent {
                        name: name.clone(),
                        known: rules.iter().map(|r| r.name).collect::<Vec<_>>().join(", "),
                    })?;
            let allowed = format!("\"{}\" or \"ignore\"", rule.action.name());
            let asked = value
                .as_str()
                .and_then(Handling::from_name)
                .filter(|h| *h == rule.action || *h == Handling::Ignore)
                .ok_or_else(|| ConfigError::BadEventValue {
                    name: name.clone(),
                    value: value.to_string(),
                    allowed,
                })?;
            handling.insert(rule.name, asked);
        }
        Ok(EventTable { handling })
    }

    /// What the event named `name` does: [`Handling::Ignore`] for an event the plugin does
    /// not know (stores send many; the vendor may have ticked more than needed).
    pub fn handling(&self, name: &str) -> Handling {
        self.handling.get(name).copied().unwrap_or(Handling::Ignore)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: [EventRule; 3] = [
        EventRule::on("paid", Handling::Create),
        EventRule::on("cancelled", Handling::Revoke),
        EventRule::off("refunded", Handling::Revoke),
    ];

    #[test]
    fn defaults_apply_without_overrides_and_unknown_events_are_ignored() {
        let t = EventTable::new(&RULES, None).unwrap();
        assert_eq!(t.handling("paid"), Handling::Create);
        assert_eq!(t.handling("cancelled"), Handling::Revoke);
        assert_eq!(t.handling("refunded"), Handling::Ignore);
        assert_eq!(t.handling("customer.created"), Handling::Ignore);
    }

    #[test]
    fn an_override_switches_an_event_off_or_on() {
        let o = json!({"paid": "ignore", "refunded": "revoke"});
        let t = EventTable::new(&RULES, Some(&o)).unwrap();
        assert_eq!(t.handling("paid"), Handling::Ignore);
        assert_eq!(t.handling("refunded"), Handling::Revoke);
        assert_eq!(t.handling("cancelled"), Handling::Revoke);
    }

    #[test]
    fn an_override_outside_the_event_s_action_or_an_unknown_event_is_refused() {
        for (o, needle) in [
            (json!({"paid": "revoke"}), "\"create\" or \"ignore\""),
            (json!({"paid": "delete"}), "\"delete\""),
            (json!({"paid": 1}), "paid"),
            (json!({"payd": "ignore"}), "paid, cancelled, refunded"),
            (json!(["paid"]), "table"),
        ] {
            let e = EventTable::new(&RULES, Some(&o)).unwrap_err().to_string();
            assert!(e.contains(needle), "{o}: {e}");
        }
    }
}
