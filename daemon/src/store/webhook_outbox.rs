//! The webhook outbox's rows, the same for every backend (docs/webhooks.md, "Events licd
//! sends").
//!
//! An event is written in the transaction of the change that causes it, one row per
//! endpoint that subscribes to it (`crate::store::events`), so it is durable exactly when the
//! change is. The sender task (`crate::webhooks::sender`) claims, for each endpoint, the
//! oldest event still waiting, POSTs it and deletes it once the receiver answered 2xx: the
//! events of one endpoint go out one at a time in the order they were written, which keeps
//! the events of one licence in order. An event that failed `1 + webHookMaxRetries` times is
//! dead: kept for `licd webhooks list`, no longer holding up the endpoint's later events.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::customers::Customer;
use crate::license::License;

/// The events licd sends, with QLM's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventName {
    /// A licence was created (GetActivationKey, `licd keys create`, an upgrade's new key).
    LicenseCreated,
    /// A computer was activated.
    LicenseActivated,
    /// An activation was released (or reclaimed).
    LicenseReleased,
    /// Any other change of a stored licence (revoke, renewal, update, its customer, ...).
    LicenseModified,
    /// `licd keys delete`.
    LicenseDeleted,
    /// A customer was created.
    CustomerCreated,
    /// A customer's record changed.
    CustomerModified,
    /// A customer was erased (`licd customers delete`).
    CustomerDeleted,
}

impl EventName {
    /// Every event, in the order the documentation lists them.
    pub const ALL: [EventName; 8] = [
        EventName::LicenseCreated,
        EventName::LicenseActivated,
        EventName::LicenseReleased,
        EventName::LicenseModified,
        EventName::LicenseDeleted,
        EventName::CustomerCreated,
        EventName::CustomerModified,
        EventName::CustomerDeleted,
    ];

    /// QLM's name (`license_created`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::LicenseCreated => "license_created",
            EventName::LicenseActivated => "license_activated",
            EventName::LicenseReleased => "license_released",
            EventName::LicenseModified => "license_modified",
            EventName::LicenseDeleted => "license_deleted",
            EventName::CustomerCreated => "customer_created",
            EventName::CustomerModified => "customer_modified",
            EventName::CustomerDeleted => "customer_deleted",
        }
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`EventName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an event licd sends")]
pub struct UnknownEvent(pub String);

impl FromStr for EventName {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventName::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEvent(s.to_string()))
    }
}

/// What an event is about, as it was when the change was made. The body's `license` or
/// `customer` object is rendered from it when the event is sent (`crate::webhooks::body`),
/// with the JSON reply's own code, so a receiver reads the fields it knows from the methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Subject {
    /// A licence, with its customer when it has one.
    License {
        /// The licence after the change (before it, for `license_deleted`).
        license: Box<License>,
        /// Its customer.
        customer: Option<Customer>,
    },
    /// A customer after the change (before it, for `customer_deleted`).
    Customer(Customer),
}

/// One event for one endpoint, as queued.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The event's id, shared by the rows of one event for every endpoint: receivers
    /// deduplicate on it (a delivery whose answer was lost is sent again).
    pub event_id: String,
    /// Which event.
    pub event: EventName,
    /// The endpoint's URL.
    pub url: String,
    /// When the change was made (UTC Unix seconds): the body's `time`.
    pub at: i64,
    /// What it is about.
    pub subject: Subject,
}

impl fmt::Debug for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The subject holds personal data (the customer's e-mail): left out of logs.
        f.debug_struct("WebhookEvent")
            .field("event_id", &self.event_id)
            .field("event", &self.event)
            .field("url", &self.url)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// An event in the outbox, with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedWebhook {
    /// The outbox id (`licd webhooks retry ID`), increasing in the order events were written.
    pub id: i64,
    /// The event.
    pub event: WebhookEvent,
    /// Delivery attempts that failed so far.
    pub attempts: u32,
    /// When it is tried next (UTC Unix seconds); while a sender holds it, the end of that
    /// sender's claim.
    pub next_try_at: i64,
    /// Whether it failed `1 + webHookMaxRetries` times and waits for `licd webhooks retry`
    /// or `drop`.
    pub dead: bool,
    /// What the receiver or the connection said at the last failed attempt.
    pub last_error: Option<String>,
}

/// The state of a queued event, stored as the value of its row (the id is the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookState {
    /// The event.
    pub event: WebhookEvent,
    /// See [`QueuedWebhook::attempts`].
    #[serde(default)]
    pub attempts: u32,
    /// See [`QueuedWebhook::next_try_at`].
    pub next_try_at: i64,
    /// See [`QueuedWebhook::dead`].
    #[serde(default)]
    pub dead: bool,
    /// See [`QueuedWebhook::last_error`].
    #[serde(default)]
    pub last_error: Option<String>,
}

impl WebhookState {
    /// The queued event with id `id`.
    pub fn with_id(self, id: i64) -> QueuedWebhook {
        QueuedWebhook {
            id,
            event: self.event,
            attempts: self.attempts,
            next_try_at: self.next_try_at,
            dead: self.dead,
            last_error: self.last_error,
        }
    }
}

/// What the sender task does with an event it claimed, or what an operator asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookChange {
    /// The receiver answered 2xx: the event leaves the outbox.
    Delivered(i64),
    /// The attempt failed: counted, and tried again at `next_try_at`, or dead.
    Failed {
        /// The event.
        id: i64,
        /// When it is tried next (ignored when `dead`).
        next_try_at: i64,
        /// Whether this was its last attempt.
        dead: bool,
        /// What went wrong, without any secret.
        error: String,
    },
    /// `licd webhooks retry`: alive again and due at `at` (its failed attempts stay counted).
    Retry {
        /// The event.
        id: i64,
        /// Now.
        at: i64,
    },
    /// `licd webhooks drop`: removed unsent.
    Drop(i64),
}

/// The events of `queued` each sender may take now: per endpoint, the oldest event that is
/// not dead, when it is due at `now`; at most `limit`, oldest first. Both backends claim
/// exactly these (PostgreSQL in SQL), so an endpoint never has two events in flight and its
/// events go out in the order they were written.
pub fn heads_due(queued: &[QueuedWebhook], now: i64, limit: usize) -> Vec<i64> {
    let mut heads: std::collections::BTreeMap<&str, &QueuedWebhook> = Default::default();
    for q in queued.iter().filter(|q| !q.dead) {
        heads
            .entry(q.event.url.as_str())
            .and_modify(|h| {
                if q.id < h.id {
                    *h = q;
                }
            })
            .or_insert(q);
    }
    let mut due: Vec<i64> = heads
        .into_values()
        .filter(|h| h.next_try_at <= now)
        .map(|h| h.id)
        .collect();
    due.sort_unstable();
    due.truncate(limit);
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: i64, url: &str, next_try_at: i64, dead: bool) -> QueuedWebhook {
        QueuedWebhook {
            id,
            event: WebhookEvent {
                event_id: format!("e{id}"),
                event: EventName::CustomerCreated,
                url: url.into(),
                at: 0,
                subject: Subject::Customer(Customer::new("c".into(), "a@example.com", 0)),
            },
            attempts: 0,
            next_try_at,
            dead,
            last_error: None,
        }
    }

    #[test]
    fn only_the_oldest_live_event_of_each_endpoint_is_claimed() {
        let rows = [
            queued(1, "http://a", 100, false),
            queued(2, "http://a", 0, false),
            queued(3, "http://b", 0, true),
            queued(4, "http://b", 0, false),
            queued(5, "http://b", 0, false),
        ];
        // a's head (1) waits for its backoff, so a's later event waits too; b's dead event
        // does not hold b up.
        assert_eq!(heads_due(&rows, 50, 10), vec![4]);
        assert_eq!(heads_due(&rows, 100, 10), vec![1, 4]);
        assert_eq!(heads_due(&rows, 100, 1), vec![1]);
    }

    #[test]
    fn event_names_are_qlm_s_and_parse_back() {
        for e in EventName::ALL {
            assert_eq!(e.as_str().parse::<EventName>(), Ok(e));
        }
        assert_eq!(
            "license_changed".parse::<EventName>(),
            Err(UnknownEvent("license_changed".into()))
        );
        assert_eq!(
            serde_json::to_string(&EventName::LicenseActivated).ok(),
            Some("\"license_activated\"".to_string())
        );
    }
}
