//! Shopify's `X-Shopify-Hmac-Sha256` header: the base64 HMAC-SHA256 of the raw body, keyed
//! with the app's client secret (or, for a webhook made in the store admin, the secret shown
//! under Settings → Notifications → Webhooks). Shopify signs no timestamp; a replay is caught
//! by the host through the event id (`X-Shopify-Webhook-Id`).

use licd_plugin_api::WebhookRefusal;
use licd_webhook_kit::signature::{any_matches, from_base64};

/// The header's name.
pub const HEADER: &str = "X-Shopify-Hmac-Sha256";

/// Checks `header` (`None` when absent) over `body`.
///
/// # Errors
/// [`WebhookRefusal::BadSignature`]: no header, not base64, or not the body's HMAC.
pub fn verify(header: Option<&str>, body: &[u8], secret: &[u8]) -> Result<(), WebhookRefusal> {
    let bad = |why: &str| WebhookRefusal::BadSignature(format!("{HEADER}: {why}"));
    let header = header.ok_or_else(|| bad("the header is missing (not a Shopify delivery?)"))?;
    let digest = from_base64(header).ok_or_else(|| bad("the header is not base64"))?;
    if !any_matches(secret, &[body], &[digest]) {
        return Err(bad(
            "the signature does not match the body (tampered, or webhookSecret is not the secret Shopify signs with)",
        ));
    }
    Ok(())
}
