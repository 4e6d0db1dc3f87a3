//! licd vendor plugin for Shopify webhooks.
//!
//! Shopify POSTs each order event of a webhook subscription to
//! `…/qlmservice.asmx/QlmWebHookHandler?is_vendor=NAME` with the order as JSON, signed in
//! `X-Shopify-Hmac-Sha256` ([`signature`]). The plugin checks the signature over the raw body
//! before reading any of it, names the event by `X-Shopify-Webhook-Id` (the same on every
//! retry of one delivery) and `X-Shopify-Topic`, and turns it into licd actions ([`events`]).
//! Shopify orders carry no licd metadata, so `[plugin.config.products]` maps line items (by
//! SKU, else product id) to licd products.
//!
//! Configuration (`[plugin.config]`): `webhookSecret` or `webhookSecretFile`,
//! `[plugin.config.products]`, `[plugin.config.events]`. docs/webhooks.md has the vendor's
//! side. The plugin takes webhooks only: `authenticate` refuses every method call.

pub mod events;
pub mod signature;

use licd_plugin_api::{
    Request, VendorPlugin, Verdict, WebhookEvent, WebhookRefusal, export_vendor_plugin,
};
use licd_webhook_kit::config::{StoreSpec, WebhookConfig};
use licd_webhook_kit::refuse_method_call;
use serde_json::Value;

/// The header naming the delivery (the event id).
pub const WEBHOOK_ID_HEADER: &str = "X-Shopify-Webhook-Id";
/// The header naming the topic (the event type).
pub const TOPIC_HEADER: &str = "X-Shopify-Topic";

/// What the Shopify plugin reads from its configuration.
pub const SPEC: StoreSpec = StoreSpec {
    store: "Shopify",
    secret_hint: "the app's client secret, or for a webhook made in the admin the key under Settings > Notifications > Webhooks",
    signs_timestamp: false,
    uses_products: true,
    events: &events::EVENTS,
    extra_keys: &[],
};

/// The plugin instance: its checked configuration.
#[derive(Debug)]
pub struct Shopify {
    config: WebhookConfig,
}

impl Shopify {
    /// The event of a delivery.
    ///
    /// # Errors
    /// [`WebhookRefusal::BadSignature`] before anything of the body is read, or
    /// [`WebhookRefusal::BadEvent`] for a genuine delivery licd cannot read.
    pub fn receive(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        let body = req.body();
        signature::verify(
            req.header(signature::HEADER),
            body,
            self.config.secret.bytes(),
        )?;
        // The headers are not signed, but they only name the delivery: the actions come from
        // the signed body. A forged topic on a genuine body could at worst turn a captured
        // paid order into its cancellation, and capturing one needs the vendor's TLS.
        let header = |name: &str| {
            req.header(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| WebhookRefusal::BadEvent(format!("the {name} header is missing")))
        };
        let id = header(WEBHOOK_ID_HEADER)?.to_string();
        let kind = header(TOPIC_HEADER)?.to_string();
        let order: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookRefusal::BadEvent(format!("the body is not JSON: {e}")))?;
        let handling = self.config.events.handling(&kind);
        Ok(WebhookEvent {
            actions: events::actions(handling, &order, &self.config.products)?,
            id,
            kind,
        })
    }
}

impl VendorPlugin for Shopify {
    const HANDLES_WEBHOOKS: bool = true;

    fn create(config_json: &str) -> Result<Self, String> {
        let config = WebhookConfig::parse(config_json, &SPEC).map_err(|e| e.to_string())?;
        Ok(Shopify { config })
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        refuse_method_call("Shopify", req)
    }

    fn webhook(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        self.receive(req)
    }
}

export_vendor_plugin!(Shopify, name = "shopify");

#[cfg(test)]
mod tests;
