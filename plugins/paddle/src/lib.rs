//! licd vendor plugin for Paddle Billing webhooks.
//!
//! Paddle POSTs each event of a notification destination (Developer Tools → Notifications) to
//! `…/qlmservice.asmx/QlmWebHookHandler?is_vendor=NAME`, signed in `Paddle-Signature`
//! ([`signature`]). The plugin checks the signature over the raw body before reading any of
//! it, names the event by its `event_id` (the same on every retry) and `event_type`, and turns
//! it into licd actions ([`events`]).
//!
//! Configuration (`[plugin.config]`): `webhookSecret = "pdl_ntfset_…"` or
//! `webhookSecretFile`, `toleranceSeconds` (300), `[plugin.config.events]`, and optionally
//! `[plugin.config.products]` (by price id, else product id) instead of `custom_data`.
//! docs/webhooks.md has the vendor's side. The plugin takes webhooks only: `authenticate`
//! refuses every method call.

pub mod events;
pub mod signature;

use licd_plugin_api::{
    Request, VendorPlugin, Verdict, WebhookEvent, WebhookRefusal, export_vendor_plugin,
};
use licd_webhook_kit::actions::text_at;
use licd_webhook_kit::config::{StoreSpec, WebhookConfig};
use licd_webhook_kit::{refuse_method_call, unix_now};
use serde_json::Value;

/// What the Paddle plugin reads from its configuration.
pub const SPEC: StoreSpec = StoreSpec {
    store: "Paddle",
    secret_hint: "Paddle shows the destination's secret key, pdl_ntfset_…, in Developer Tools > Notifications",
    signs_timestamp: true,
    uses_products: true,
    events: &events::EVENTS,
    extra_keys: &[],
};

/// The plugin instance: its checked configuration.
#[derive(Debug)]
pub struct Paddle {
    config: WebhookConfig,
}

impl Paddle {
    /// The event of a delivery with `Paddle-Signature` `header` and `body`, at `now` (Unix
    /// seconds).
    ///
    /// # Errors
    /// [`WebhookRefusal::BadSignature`] before anything of the body is read, or
    /// [`WebhookRefusal::BadEvent`] for a genuine body that is no Paddle event.
    pub fn receive(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, WebhookRefusal> {
        signature::verify(
            header,
            body,
            self.config.secret.bytes(),
            now,
            self.config.tolerance_seconds,
        )?;
        let event: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookRefusal::BadEvent(format!("the body is not JSON: {e}")))?;
        let id = text_at(&event, &["event_id"])
            .ok_or_else(|| WebhookRefusal::BadEvent("the event has no event_id".into()))?;
        let kind = text_at(&event, &["event_type"])
            .ok_or_else(|| WebhookRefusal::BadEvent(format!("event {id} has no event_type")))?;
        let data = event.get("data").unwrap_or(&Value::Null);
        Ok(WebhookEvent {
            actions: events::actions(&kind, data, &self.config.events, &self.config.products)?,
            id,
            kind,
        })
    }
}

impl VendorPlugin for Paddle {
    const HANDLES_WEBHOOKS: bool = true;

    fn create(config_json: &str) -> Result<Self, String> {
        let config = WebhookConfig::parse(config_json, &SPEC).map_err(|e| e.to_string())?;
        Ok(Paddle { config })
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        refuse_method_call("Paddle", req)
    }

    fn webhook(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        self.receive(req.header(signature::HEADER), req.body(), unix_now())
    }
}

export_vendor_plugin!(Paddle, name = "paddle");

#[cfg(test)]
mod tests;
