//! What licd's store-webhook plugins (Stripe, Shopify, WooCommerce, Paddle) share.
//!
//! A store pushes a signed event to `QlmWebHookHandler`; the vendor's plugin checks the
//! signature over the raw body, then turns the event into licd method calls
//! ([`licd_plugin_api::WebhookEvent`]). The four stores differ in their header and their JSON,
//! not in the rest, which lives here:
//!
//! - [`config`]: the `[plugin.config]` every store plugin reads (`webhookSecret` or
//!   `webhookSecretFile`, `toleranceSeconds`, `[plugin.config.events]`,
//!   `[plugin.config.products]`), refused with a clear sentence at start when wrong;
//! - [`signature`]: HMAC-SHA256 compared in constant time, hex and base64, the timestamp
//!   tolerance;
//! - [`events`]: which store event does what, and the vendor's overrides;
//! - [`products`]: the product table of stores without metadata (Shopify, WooCommerce);
//! - [`orders`]: a paid order's line items as keys, through that table;
//! - [`actions`]: the licd method calls, the `is_*` arguments read from JSON, licd's dates;
//! - [`testing`]: signing helpers and a request builder for the plugins' tests and licd's.
//!
//! The crate never depends on the daemon: a plugin links it statically.

pub mod actions;
pub mod config;
pub mod events;
pub mod orders;
pub mod products;
pub mod signature;
pub mod testing;

use licd_plugin_api::{Request, Verdict};

/// The answer of a webhook-only plugin's `authenticate`: these plugins vouch for store
/// events, never for a method call, so a vendor URL that names one of them cannot be used
/// to call GetActivationKey (or any method) without a store signature.
pub fn refuse_method_call(store: &str, req: &Request<'_>) -> Verdict {
    Verdict::Deny(format!(
        "the {store} plugin takes {store}'s webhooks only (QlmWebHookHandler); it authenticates no method call, and this request calls {}",
        req.method()
    ))
}

/// Now, in Unix seconds, for the timestamp tolerance. A clock before 1970 reads as 0, which
/// makes every signed timestamp stale rather than letting a broken clock accept old ones.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
