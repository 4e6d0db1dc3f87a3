//! WooCommerce orders as licd actions, by the order's `status` (WooCommerce sends the whole
//! order on `order.created` and `order.updated`; the status says what happened):
//!
//! - `completed` → the buyer (UpdateUserInformation: `billing.email`, `billing.first_name`
//!   and `last_name`) and one GetActivationKey per line item that `[plugin.config.products]`
//!   knows by its `sku`, else its `product_id`, with the line item's `quantity` and the
//!   order's `id` as `is_orderid`. Line items the table does not know are skipped; an order
//!   with none is ignored.
//! - `cancelled` → RevokeLicenseHttp of the order's keys.
//! - `refunded` → nothing, unless `[plugin.config.events] refunded = "revoke"`.
//! - any other status (`pending`, `processing`, `on-hold`, …) → nothing.

use licd_plugin_api::{WebhookAction, WebhookRefusal};
use licd_webhook_kit::actions::{revoke_order, text_at};
use licd_webhook_kit::events::{EventRule, Handling};
use licd_webhook_kit::orders::{LineItem, Order, full_name, paid_order_actions};
use licd_webhook_kit::products::ProductTable;
use serde_json::Value;

/// What each status does unless `[plugin.config.events]` says otherwise.
pub const EVENTS: [EventRule; 3] = [
    EventRule::on("completed", Handling::Create),
    EventRule::on("cancelled", Handling::Revoke),
    EventRule::off("refunded", Handling::Revoke),
];

/// The actions of order `id` under `handling`.
///
/// # Errors
/// [`WebhookRefusal::BadEvent`] when the order lacks what its handling needs.
pub fn actions(
    handling: Handling,
    id: &str,
    order: &Value,
    products: &ProductTable,
) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    match handling {
        Handling::Create => {
            let buyer = Order {
                id: id.to_string(),
                email: text_at(order, &["billing", "email"]),
                full_name: full_name(
                    text_at(order, &["billing", "first_name"]),
                    text_at(order, &["billing", "last_name"]),
                ),
                subscription_id: None,
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
        Handling::Revoke => Ok(vec![revoke_order(id)]),
        Handling::Renew | Handling::Ignore => Ok(Vec::new()),
    }
}
