//! licd vendor plugin for WooCommerce webhooks.
//!
//! A WooCommerce webhook (topic "Order updated", and "Order created" for orders that are
//! complete at once) POSTs the order as JSON to
//! `…/qlmservice.asmx/QlmWebHookHandler?is_vendor=NAME`, signed in `X-WC-Webhook-Signature`
//! ([`signature`]). The plugin checks the signature over the raw body before reading any of
//! it, names the event `<order id>:<status>` (WooCommerce sends an order again on every
//! update; licd applies one id once, so a completed order creates its keys once however
//! often it is edited afterwards) with the status as its type, and turns it into licd
//! actions ([`events`]). WooCommerce orders carry no licd metadata, so
//! `[plugin.config.products]` maps line items (by SKU, else product id) to licd products.
//! The unsigned ping WooCommerce sends when a webhook is saved is answered as an ignored event
//! ([`ping`]).
//!
//! Configuration (`[plugin.config]`): `webhookSecret` or `webhookSecretFile`,
//! `[plugin.config.products]`, `[plugin.config.events]`, `acceptPing` (true). docs/webhooks.md
//! has the vendor's side. The plugin takes webhooks only: `authenticate` refuses every method
//! call.

pub mod events;
pub mod ping;
pub mod signature;

use licd_plugin_api::{
    Request, VendorPlugin, Verdict, WebhookEvent, WebhookRefusal, export_vendor_plugin,
};
use licd_webhook_kit::actions::text_at;
use licd_webhook_kit::config::{StoreSpec, WebhookConfig};
use licd_webhook_kit::refuse_method_call;
use serde_json::Value;

/// What the WooCommerce plugin reads from its configuration.
pub const SPEC: StoreSpec = StoreSpec {
    store: "WooCommerce",
    secret_hint: "the webhook's Secret in WooCommerce > Settings > Advanced > Webhooks",
    signs_timestamp: false,
    uses_products: true,
    events: &events::EVENTS,
    extra_keys: &[ping::ACCEPT_PING_KEY],
};

/// The plugin instance: its checked configuration.
#[derive(Debug)]
pub struct WooCommerce {
    config: WebhookConfig,
    accept_ping: bool,
}

impl WooCommerce {
    /// The event of a delivery.
    ///
    /// # Errors
    /// [`WebhookRefusal::BadSignature`] before anything of the body is read, or
    /// [`WebhookRefusal::BadEvent`] for a genuine delivery licd cannot read.
    pub fn receive(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        let body = req.body();
        let Some(header) = req.header(signature::HEADER) else {
            return self.unsigned(body);
        };
        signature::verify(header, body, self.config.secret.bytes())?;
        let order: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookRefusal::BadEvent(format!("the body is not JSON: {e}")))?;
        let id = text_at(&order, &["id"])
            .ok_or_else(|| WebhookRefusal::BadEvent("the order has no id".into()))?;
        let status = text_at(&order, &["status"])
            .ok_or_else(|| WebhookRefusal::BadEvent(format!("order {id} has no status")))?;
        let handling = self.config.events.handling(&status);
        Ok(WebhookEvent {
            actions: events::actions(handling, &id, &order, &self.config.products)?,
            id: format!("{id}:{status}"),
            kind: status,
        })
    }

    /// A request without signature: WooCommerce's ping, or refused.
    fn unsigned(&self, body: &[u8]) -> Result<WebhookEvent, WebhookRefusal> {
        match ping::webhook_id(body) {
            Some(n) if self.accept_ping => Ok(WebhookEvent {
                id: format!("ping:{n}"),
                kind: "ping".into(),
                actions: Vec::new(),
            }),
            _ => Err(WebhookRefusal::BadSignature(format!(
                "{}: the header is missing (not a WooCommerce delivery, or a webhook without a Secret)",
                signature::HEADER
            ))),
        }
    }
}

impl VendorPlugin for WooCommerce {
    const HANDLES_WEBHOOKS: bool = true;

    fn create(config_json: &str) -> Result<Self, String> {
        let config = WebhookConfig::parse(config_json, &SPEC).map_err(|e| e.to_string())?;
        let accept_ping = match config.extra.get(ping::ACCEPT_PING_KEY) {
            None => true,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("{} must be true or false", ping::ACCEPT_PING_KEY))?,
        };
        Ok(WooCommerce {
            config,
            accept_ping,
        })
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        refuse_method_call("WooCommerce", req)
    }

    fn webhook(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        self.receive(req)
    }
}

export_vendor_plugin!(WooCommerce, name = "woocommerce");

#[cfg(test)]
mod tests;
