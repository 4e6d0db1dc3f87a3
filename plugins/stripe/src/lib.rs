//! licd vendor plugin for Stripe webhooks.
//!
//! Stripe POSTs each event of a webhook endpoint (Dashboard → Developers → Webhooks) to
//! `…/qlmservice.asmx/QlmWebHookHandler?is_vendor=NAME`, signed in `Stripe-Signature`
//! ([`signature`]). The plugin checks the signature over the raw body before reading any of
//! it, names the event by its `id` (Stripe retries deliveries with the same id; licd applies
//! one id once) and its `type`, and turns it into licd actions ([`events`]).
//!
//! Configuration (`[plugin.config]`): `webhookSecret = "whsec_…"` or `webhookSecretFile`,
//! `toleranceSeconds` (300), `[plugin.config.events]` overrides (`"ignore"`, or the event's
//! own action). docs/webhooks.md has the vendor's side.
//!
//! The plugin takes webhooks only: `authenticate` refuses every method call.

pub mod events;
pub mod signature;

use licd_plugin_api::{
    Request, VendorPlugin, Verdict, WebhookEvent, WebhookRefusal, export_vendor_plugin,
};
use licd_webhook_kit::actions::text_at;
use licd_webhook_kit::config::{StoreSpec, WebhookConfig};
use licd_webhook_kit::events::Handling;
use licd_webhook_kit::{refuse_method_call, unix_now};
use serde_json::Value;

/// What the Stripe plugin reads from its configuration.
pub const SPEC: StoreSpec = StoreSpec {
    store: "Stripe",
    secret_hint: "Stripe shows it as the endpoint's Signing secret, whsec_…, in Developers > Webhooks",
    signs_timestamp: true,
    uses_products: false,
    events: &events::EVENTS,
    extra_keys: &[],
};

/// The plugin instance: its checked configuration.
#[derive(Debug)]
pub struct Stripe {
    config: WebhookConfig,
}

impl Stripe {
    /// The event of a delivery with `Stripe-Signature` `header` and `body`, at `now` (Unix
    /// seconds).
    ///
    /// # Errors
    /// [`WebhookRefusal::BadSignature`] before anything of the body is read, or
    /// [`WebhookRefusal::BadEvent`] for a genuine body that is no Stripe event.
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
        let id = text_at(&event, &["id"])
            .ok_or_else(|| WebhookRefusal::BadEvent("the event has no id".into()))?;
        let kind = text_at(&event, &["type"])
            .ok_or_else(|| WebhookRefusal::BadEvent(format!("event {id} has no type")))?;
        let handling = self.config.events.handling(&kind);
        let object = event.pointer("/data/object").unwrap_or(&Value::Null);
        if !object.is_object() && handling != Handling::Ignore {
            return Err(WebhookRefusal::BadEvent(format!(
                "event {id} ({kind}) has no data.object"
            )));
        }
        Ok(WebhookEvent {
            actions: events::actions(handling, object)?,
            id,
            kind,
        })
    }
}

impl VendorPlugin for Stripe {
    const HANDLES_WEBHOOKS: bool = true;

    fn create(config_json: &str) -> Result<Self, String> {
        let config = WebhookConfig::parse(config_json, &SPEC).map_err(|e| e.to_string())?;
        Ok(Stripe { config })
    }

    fn authenticate(&self, req: &Request<'_>) -> Verdict {
        refuse_method_call("Stripe", req)
    }

    fn webhook(&self, req: &Request<'_>) -> Result<WebhookEvent, WebhookRefusal> {
        self.receive(req.header(signature::HEADER), req.body(), unix_now())
    }
}

export_vendor_plugin!(Stripe, name = "stripe");

#[cfg(test)]
mod tests;
