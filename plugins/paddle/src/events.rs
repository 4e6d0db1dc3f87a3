//! Paddle Billing events as licd actions.
//!
//! - `transaction.completed` of a checkout or API sale (`origin` `web` or `api`) → the buyer
//!   (UpdateUserInformation, when `custom_data` has `is_email`: a Paddle transaction names
//!   its customer by id only) and the keys (GetActivationKey). The product comes from
//!   `[plugin.config.products]` when it is set (one GetActivationKey per item it knows by
//!   `price.id`, else `price.product_id`, with the item's quantity), else from the
//!   transaction's `custom_data` in QLM's names (`is_productid`, `is_majorversion`, …;
//!   `is_quantity` from `custom_data`, else the sum of the items' quantities). `is_orderid`
//!   is the transaction id, `is_subscriptionid` its `subscription_id`. A sale that names no
//!   licd product is ignored.
//! - `transaction.completed` of a renewal (`origin` `subscription_recurring`) →
//!   RenewSubscriptionHttp to `billing_period.ends_at`. Its `[plugin.config.events]` key is
//!   `transaction.completed.subscription_recurring`, so that renewals and sales can be
//!   switched off apart.
//! - `transaction.completed` of any other origin (`subscription_update`: a prorated charge
//!   for a changed plan; `subscription_payment_method_change`) → nothing: no new licence was
//!   bought.
//! - `subscription.canceled` → RevokeLicenseHttp of the subscription's keys.

use licd_plugin_api::{WebhookAction, WebhookRefusal};
use licd_webhook_kit::actions::{
    create_keys, metadata_args, renew_subscription, revoke_subscription, rfc3339_to_licd_date,
    text_at, update_user, with_args,
};
use licd_webhook_kit::events::{EventRule, EventTable, Handling};
use licd_webhook_kit::orders::{LineItem, Order, paid_order_actions};
use licd_webhook_kit::products::ProductTable;
use serde_json::Value;

/// The sale (and renewal) event.
pub const TRANSACTION_COMPLETED: &str = "transaction.completed";
/// The `[plugin.config.events]` name of a renewal's `transaction.completed`.
pub const RENEWAL: &str = "transaction.completed.subscription_recurring";
/// The cancellation event.
pub const SUBSCRIPTION_CANCELED: &str = "subscription.canceled";

/// What each event does unless `[plugin.config.events]` says otherwise.
pub const EVENTS: [EventRule; 3] = [
    EventRule::on(TRANSACTION_COMPLETED, Handling::Create),
    EventRule::on(RENEWAL, Handling::Renew),
    EventRule::on(SUBSCRIPTION_CANCELED, Handling::Revoke),
];

/// The origins of a transaction that sells a licence.
const SALE_ORIGINS: [&str; 2] = ["web", "api"];

/// The rule an event of type `kind` with `data` falls under: a renewal's
/// `transaction.completed` is told apart by its origin.
pub fn rule_name<'a>(kind: &'a str, data: &Value) -> Option<&'a str> {
    if kind != TRANSACTION_COMPLETED {
        return Some(kind);
    }
    match text_at(data, &["origin"]).as_deref() {
        Some("subscription_recurring") => Some(RENEWAL),
        Some(origin) if SALE_ORIGINS.contains(&origin) => Some(kind),
        _ => None,
    }
}

/// The actions of the event of type `kind` with `data`.
///
/// # Errors
/// [`WebhookRefusal::BadEvent`] when the data lacks what its handling needs.
pub fn actions(
    kind: &str,
    data: &Value,
    events: &EventTable,
    products: &ProductTable,
) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let Some(rule) = rule_name(kind, data) else {
        return Ok(Vec::new());
    };
    match events.handling(rule) {
        Handling::Create => sale(data, products),
        Handling::Renew => renewal(data),
        Handling::Revoke => cancellation(data),
        Handling::Ignore => Ok(Vec::new()),
    }
}

/// A completed sale: the buyer and their keys.
fn sale(txn: &Value, products: &ProductTable) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let id = text_at(txn, &["id"])
        .ok_or_else(|| WebhookRefusal::BadEvent("the transaction has no id".into()))?;
    let custom = metadata_args(txn.get("custom_data"), "custom_data")?;
    let email = custom
        .iter()
        .find(|(n, _)| n == "is_email")
        .map(|(_, v)| v.clone());
    let subscription = text_at(txn, &["subscription_id"]);
    let items = txn
        .get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !products.is_empty() {
        // The vendor's table decides the product, so a buyer who edits Paddle.js customData
        // in the browser cannot pick another product or quantity than they paid for.
        let order = Order {
            id,
            email,
            full_name: None,
            subscription_id: subscription,
        };
        let items: Vec<LineItem> = items
            .iter()
            .map(|i| {
                LineItem::read(
                    i,
                    &[&["price", "id"], &["price", "product_id"]],
                    &["quantity"],
                )
            })
            .collect();
        return paid_order_actions(products, &order, &items);
    }
    if !custom.iter().any(|(n, _)| n == "is_productid") {
        return Ok(Vec::new());
    }
    let quantity = if custom.iter().any(|(n, _)| n == "is_quantity") {
        None
    } else {
        let sum: u64 = items
            .iter()
            .filter_map(|i| i.get("quantity").and_then(Value::as_u64))
            .sum();
        (sum > 0).then(|| sum.to_string())
    };
    let mut out: Vec<WebhookAction> = update_user(email.as_deref(), None).into_iter().collect();
    out.push(create_keys(with_args(
        custom,
        [
            ("is_quantity", quantity),
            ("is_orderid", Some(id)),
            ("is_subscriptionid", subscription),
        ],
    )));
    Ok(out)
}

/// A renewal's transaction: the subscription's keys now expire at the end of the billed
/// period.
fn renewal(txn: &Value) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let id = text_at(txn, &["id"]).unwrap_or_default();
    let subscription = text_at(txn, &["subscription_id"]).ok_or_else(|| {
        WebhookRefusal::BadEvent(format!(
            "the renewal transaction {id} has no subscription_id"
        ))
    })?;
    let ends_at = text_at(txn, &["billing_period", "ends_at"]).ok_or_else(|| {
        WebhookRefusal::BadEvent(format!(
            "the renewal transaction {id} has no billing_period.ends_at"
        ))
    })?;
    let expdate = rfc3339_to_licd_date(&ends_at).ok_or_else(|| {
        WebhookRefusal::BadEvent(format!(
            "billing_period.ends_at {ends_at:?} is not an RFC 3339 time"
        ))
    })?;
    Ok(vec![renew_subscription(&subscription, &expdate)])
}

/// A canceled subscription: its keys are revoked.
fn cancellation(subscription: &Value) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let id = text_at(subscription, &["id"])
        .ok_or_else(|| WebhookRefusal::BadEvent("the subscription has no id".into()))?;
    Ok(vec![revoke_subscription(&id)])
}
