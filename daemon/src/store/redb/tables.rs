//! redb table definitions and value encoding.
//!
//! redb has no schema migration, so every table name carries a version (`_v1`): a future
//! change of layout adds a `_v2` table and copies, leaving old files readable.

use redb::TableDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// The layout version written in `meta_v1` under [`SCHEMA_KEY`].
pub const SCHEMA_VERSION: u64 = 1;
/// `meta_v1` key of the schema version (8 bytes, little-endian).
pub const SCHEMA_KEY: &str = "schema_version";
/// `meta_v1` key of the 32-byte server secret.
pub const SECRET_KEY: &str = "server_secret";
/// `meta_v1` key of the name of the current licence-signing key (UTF-8); absent until the
/// first key is made (spec offline.md: made when first needed, not at start).
pub const CURRENT_SIGNING_KEY: &str = "current_signing_key";

/// Server-wide values: schema version, server secret.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");
/// Licences by canonical activation key, JSON.
pub const LICENSES: TableDefinition<&str, &[u8]> = TableDefinition::new("licenses_v1");
/// Activations by (canonical key, computer id), JSON. A range over one key lists its seats.
pub const ACTIVATIONS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("activations_v1");
/// History entries by (canonical key, sequence number), JSON.
pub const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history_v1");
/// The release log by (canonical key, sequence number) → release time. Release limits count
/// it; it is kept whether or not history logging is on (QLM's limits silently stop working
/// without history; licd's must not).
pub const RELEASES: TableDefinition<(&str, u64), i64> = TableDefinition::new("releases_v1");
/// Counters that licence decisions read (per-day caps, licence count, sequences).
pub const COUNTERS: TableDefinition<&str, i64> = TableDefinition::new("counters_v1");
/// Keys created per (vendor, product, order id), so a store's retried callback gets the same
/// keys back. The value is a JSON array of canonical keys.
pub const ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("orders_v1");
/// The subscription index: (subscription id, canonical key) for every licence created with
/// `is_subscriptionid`, so RenewSubscriptionHttp finds a subscription's keys with one range
/// read instead of a scan. A key replaced by UpgradeLicense is taken out of it.
pub const SUBSCRIPTIONS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("subscriptions_v1");
/// The vendor-scoped groups: (`vendor_group_key(vendor, group)`, canonical key) for every
/// licence created with an order id or a subscription id, so that RevokeLicenseHttp,
/// RenewSubscriptionHttp and RenewMaintenancePlan find the calling vendor's keys of one order
/// or subscription with one range read (`super::vendor_groups`). A key replaced by
/// UpgradeLicense is taken out of it.
pub const VENDOR_GROUPS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("vendor_groups_v1");
/// The replay memory: (vendor in lower case, replay id) → the first outcome of the change
/// made for that id, with its time and method, JSON (`super::replays`). Written in the
/// transaction of the change itself; named for any kind of replay id (a body-signing
/// plugin's signed request, a webhook's event id).
pub const REPLAYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("replays_v1");
/// The replay memory in age order, so the writer drops the oldest rows without a scan:
/// `replay_order_key(time, vendor, id)` → the same (time, vendor, id), JSON.
pub const REPLAY_ORDER: TableDefinition<&str, &[u8]> = TableDefinition::new("replay_order_v1");
/// Licence-signing keys by name (`licd-…`), JSON (`crate::signing::stored::StoredSigningKey`,
/// private key included). Old keys stay after a rotation, so files they signed still verify.
pub const SIGNING_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("signing_keys_v1");
/// Authorization codes by their keyed hash, JSON (`crate::license::authorization_code`): the
/// codes RequestAuthorizationCodeForActivationHttp mailed, never the codes themselves.
pub const AUTH_CODES: TableDefinition<&str, &[u8]> = TableDefinition::new("auth_codes_v1");
/// The authorization codes of each e-mail address: (e-mail in lower case, code hash), for the
/// hourly limit and for counting wrong codes against an address's pending codes.
pub const AUTH_CODES_BY_EMAIL: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("auth_codes_by_email_v1");
/// Analytics installs (AnalyticsAddInstallHttp …) by install id, JSON
/// (`crate::license::install::Install`).
pub const ANALYTICS_INSTALLS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("analytics_installs_v1");
/// The counts the `[analytics]` caps read: [`INSTALL_COUNT`], and per UTC day and scope
/// (`analytics_day_key`). Apart from `counters_v1`, so that analytics never touches the
/// rows licence decisions read.
pub const ANALYTICS_COUNTS: TableDefinition<&str, i64> =
    TableDefinition::new("analytics_counts_v1");

/// Customers by id, JSON (`crate::customers::Customer`): the one place a licence's e-mail and
/// contact details live (a licence names its customer's id).
pub const CUSTOMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("customers_v1");
/// The e-mail index: `customers::email_key(email)` → the customer's id (a JSON string), so
/// an e-mail finds its customer with one read and names at most one.
pub const CUSTOMER_EMAILS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("customer_emails_v1");
/// The keys of each customer: (customer id, canonical key), so a range read lists what a
/// customer owns (`Tx::license_keys_of_customer`).
pub const CUSTOMER_LICENSES: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("customer_licenses_v1");
/// The mail outbox (`crate::store::outbox`): outbox id → the message and its delivery state,
/// JSON (`MailState`). A delivered message is deleted; the outbox holds only what is still
/// to be sent, so a scan of it is short.
pub const MAIL_OUTBOX: TableDefinition<i64, &[u8]> = TableDefinition::new("mail_outbox_v1");
/// The webhook outbox (`crate::store::webhook_outbox`): outbox id → the event for one
/// endpoint and its delivery state, JSON (`WebhookState`). A delivered event is deleted; dead
/// ones stay until retried or dropped.
pub const WEBHOOK_OUTBOX: TableDefinition<i64, &[u8]> = TableDefinition::new("webhook_outbox_v1");

/// The staff console's sessions (`crate::store::console_sessions`): the SHA-256 digest of a
/// session id (hex) → the session, JSON. Never the id itself.
pub const CONSOLE_SESSIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("console_sessions_v1");

/// Counter: licences stored (`dbMaxRecords`).
pub const LICENSE_COUNT: &str = "licences";
/// Counter: number of the last committed write batch. Read back after a failed commit to
/// learn whether the batch reached the file after all.
pub const BATCH_SEQ: &str = "batch_seq";
/// Counter: next release-log sequence number.
pub const RELEASE_SEQ: &str = "release_seq";
/// Counter: next history sequence number.
pub const HISTORY_SEQ: &str = "history_seq";
/// Counter: next mail-outbox id (ids are never reused, so `licd mail drop ID` never hits a
/// newer message that took a delivered one's number).
pub const MAIL_SEQ: &str = "mail_seq";
/// Counter: next webhook-outbox id (never reused; ids increase in the order events are
/// written, which is the order each endpoint receives them in).
pub const WEBHOOK_SEQ: &str = "webhook_seq";

/// Counter name of keys created on a UTC day.
pub fn keys_created_on(day: i64) -> String {
    format!("keys_created:{day}")
}

/// Counter name of new activations on a UTC day.
pub fn activations_on(day: i64) -> String {
    format!("activations:{day}")
}

/// `analytics_counts_v1` key: installs stored (`maxInstalls`).
pub const INSTALL_COUNT: &str = "installs";

/// `analytics_counts_v1` key of the installs added on a UTC day under one scope
/// (`InstallScope::counter_name`).
pub fn analytics_day_key(day: i64, scope: &str) -> String {
    format!("{day}\u{1f}{scope}")
}

/// `orders_v1` key: vendor (lower case), product id and order id, separated by a unit
/// separator that arguments cannot contain (control characters are refused at parse time).
pub fn order_key(vendor: &str, product_id: u32, order_id: &str) -> String {
    format!(
        "{}\u{1f}{product_id}\u{1f}{order_id}",
        vendor.to_lowercase()
    )
}

/// `replay_order_v1` key: the time zero-padded (so text order is time order), then vendor and
/// replay id after unit separators, which makes the key unique.
pub fn replay_order_key(at: i64, vendor: &str, id: &str) -> String {
    format!("{:020}\u{1f}{vendor}\u{1f}{id}", at.max(0))
}

/// Encodes a stored value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Decodes a stored value; a value that does not decode is reported as corruption.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}
