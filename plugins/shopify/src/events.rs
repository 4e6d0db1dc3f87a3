//! Shopify order webhooks as licd actions.
//!
//! - `orders/paid` → the buyer (UpdateUserInformation: the order's `email`, else
//!   `contact_email`, else `customer.email`; `customer.first_name` and `last_name`) and one
//!   GetActivationKey per line item that `[plugin.config.products]` knows by its `sku`, else
//!   its `product_id`, with the line item's `quantity` and the order's `id` as `is_orderid`.
//!   Line items the table does not know are skipped; an order with none is ignored.
//! - `orders/cancelled` → RevokeLicenseHttp of the order's keys (the order must have
//!   `cancelled_at`: the topic header is not signed).

use licd_plugin_api::{WebhookAction, WebhookRefusal};
use licd_webhook_kit::actions::{revoke_order, text_at};
use licd_webhook_kit::events::{EventRule, Handling};
use licd_webhook_kit::orders::{LineItem, Order, full_name, paid_order_actions};
use licd_webhook_kit::products::ProductTable;
use serde_json::Value;

/// The purchase topic.
pub const ORDERS_PAID: &str = "orders/paid";
/// The cancellation topic.
pub const ORDERS_CANCELLED: &str = "orders/cancelled";

/// What each topic does unless `[plugin.config.events]` says otherwise.
pub const EVENTS: [EventRule; 2] = [
    EventRule::on(ORDERS_PAID, Handling::Create),
    EventRule::on(ORDERS_CANCELLED, Handling::Revoke),
];

/// The actions of the order under `handling`.
///
/// # Errors
/// [`WebhookRefusal::BadEvent`] when the order lacks what its handling needs.
pub fn actions(
    handling: Handling,
    order: &Value,
    products: &ProductTable,
) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    if handling == Handling::Ignore {
        return Ok(Vec::new());
    }
    // Shopify ids are 64-bit numbers; serde_json keeps them exact as u64.
    let id = text_at(order, &["id"])
        .ok_or_else(|| WebhookRefusal::BadEvent("the order has no id".into()))?;
    match handling {
        Handling::Create => {
            let buyer = Order {
                email: text_at(order, &["email"])
                    .or_else(|| text_at(order, &["contact_email"]))
                    .or_else(|| text_at(order, &["customer", "email"])),
                full_name: full_name(
                    text_at(order, &["customer", "first_name"]),
                    text_at(order, &["customer", "last_name"]),
                )
                .or_else(|| text_at(order, &["billing_address", "name"])),
                subscription_id: None,
                id,
            };
            let items: Vec<LineItem> = order
                .get("line_items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|item| LineItem::read(item, &[&["sku"], &["product_id"]], &["quantity"]))
                .collect();
            paid_order_actions(products, &buyer, &items)
        }
        // The topic header is not signed: a captured paid order resent as `orders/cancelled`
        // must not revoke it, and a genuinely cancelled order says when it was cancelled.
        Handling::Revoke if text_at(order, &["cancelled_at"]).is_none() => {
            Err(WebhookRefusal::BadEvent(format!(
                "order {id} arrived as a cancellation but has no cancelled_at"
            )))
        }
        Handling::Revoke => Ok(vec![revoke_order(&id)]),
        Handling::Renew | Handling::Ignore => Ok(Vec::new()),
    }
}
