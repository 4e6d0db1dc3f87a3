//! WooCommerce's `X-WC-Webhook-Signature` header: the base64 HMAC-SHA256 of the raw body,
//! keyed with the webhook's Secret (WooCommerce → Settings → Advanced → Webhooks). WooCommerce
//! signs no timestamp; the event id (order id and status, from the signed body) is what makes
//! a replay harmless.

use licd_plugin_api::WebhookRefusal;
use licd_webhook_kit::signature::{any_matches, from_base64};

/// The header's name.
pub const HEADER: &str = "X-WC-Webhook-Signature";

/// Checks `header` over `body`.
///
/// # Errors
/// [`WebhookRefusal::BadSignature`]: not base64, or not the body's HMAC.
pub fn verify(header: &str, body: &[u8], secret: &[u8]) -> Result<(), WebhookRefusal> {
    let bad = |why: &str| WebhookRefusal::BadSignature(format!("{HEADER}: {why}"));
    let digest = from_base64(header).ok_or_else(|| bad("the header is not base64"))?;
    if !any_matches(secret, &[body], &[digest]) {
        return Err(bad(
            "the signature does not match the body (tampered, or webhookSecret is not the webhook's Secret)",
        ));
    }
    Ok(())
}
