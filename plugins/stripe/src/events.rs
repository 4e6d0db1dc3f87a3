//! Stripe events as licd actions.
//!
//! - `checkout.session.completed` (and `checkout.session.async_payment_succeeded`, for
//!   payment methods that settle later) → the buyer (UpdateUserInformation) and their keys
//!   (GetActivationKey) from the Checkout Session's `metadata`, in QLM's names (`is_productid`,
//!   `is_majorversion`, `is_minorversion`, `is_quantity`, `is_features`, `is_send_mail`, …),
//!   with `is_email`, `is_orderid` (the session id) and `is_subscriptionid` from the session.
//!   A session without `is_productid` in its metadata is not a licd sale: ignored. A session
//!   not yet paid (`payment_status` `unpaid`: a bank debit still settling) is ignored too;
//!   Stripe sends `checkout.session.async_payment_succeeded` when the money arrives.
//! - `invoice.payment_succeeded` → RenewSubscriptionHttp to the latest
//!   `lines.data[].period.end`, except the subscription's first invoice
//!   (`billing_reason` `subscription_create`), whose keys the checkout event creates.
//! - `customer.subscription.deleted` → RevokeLicenseHttp of the subscription's keys.

use licd_plugin_api::{WebhookAction, WebhookRefusal};
use licd_webhook_kit::actions::{
    create_keys, metadata_args, renew_subscription, revoke_subscription, text_at,
    unix_to_licd_date, update_user, with_args,
};
use licd_webhook_kit::events::{EventRule, Handling};
use serde_json::Value;

/// The purchase event.
pub const CHECKOUT_COMPLETED: &str = "checkout.session.completed";
/// The purchase event of payment methods that settle after checkout.
pub const CHECKOUT_ASYNC_SUCCEEDED: &str = "checkout.session.async_payment_succeeded";
/// The renewal event.
pub const INVOICE_PAID: &str = "invoice.payment_succeeded";
/// The cancellation event.
pub const SUBSCRIPTION_DELETED: &str = "customer.subscription.deleted";

/// What each event does unless `[plugin.config.events]` says otherwise.
pub const EVENTS: [EventRule; 4] = [
    EventRule::on(CHECKOUT_COMPLETED, Handling::Create),
    EventRule::on(CHECKOUT_ASYNC_SUCCEEDED, Handling::Create),
    EventRule::on(INVOICE_PAID, Handling::Renew),
    EventRule::on(SUBSCRIPTION_DELETED, Handling::Revoke),
];

/// The actions of the event's `data.object` under `handling`.
///
/// # Errors
/// [`WebhookRefusal::BadEvent`] when the object lacks what its handling needs.
pub fn actions(handling: Handling, object: &Value) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    match handling {
        Handling::Create => purchase(object),
        Handling::Renew => renewal(object),
        Handling::Revoke => cancellation(object),
        Handling::Ignore => Ok(Vec::new()),
    }
}

/// A Checkout Session: the buyer and their keys.
fn purchase(session: &Value) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let product = metadata_args(session.get("metadata"), "the Checkout Session's metadata")?;
    if !product.iter().any(|(n, _)| n == "is_productid") {
        return Ok(Vec::new());
    }
    if text_at(session, &["payment_status"]).as_deref() == Some("unpaid") {
        return Ok(Vec::new());
    }
    let session_id = text_at(session, &["id"])
        .ok_or_else(|| WebhookRefusal::BadEvent("the Checkout Session has no id".into()))?;
    let email = text_at(session, &["customer_details", "email"])
        .or_else(|| text_at(session, &["customer_email"]));
    let name = text_at(session, &["customer_details", "name"]);
    let mut out: Vec<WebhookAction> = update_user(email.as_deref(), name.as_deref())
        .into_iter()
        .collect();
    out.push(create_keys(with_args(
        product,
        [
            ("is_email", email),
            ("is_orderid", Some(session_id)),
            ("is_subscriptionid", text_at(session, &["subscription"])),
        ],
    )));
    Ok(out)
}

/// An Invoice of a subscription: its keys now expire at the end of the period paid for.
fn renewal(invoice: &Value) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    if text_at(invoice, &["billing_reason"]).as_deref() == Some("subscription_create") {
        return Ok(Vec::new());
    }
    // API versions before 2025-03-31 name the subscription at the top; later ones under
    // `parent`. Either may be expanded into an object.
    let subscription = [
        &["subscription"][..],
        &["subscription", "id"],
        &["parent", "subscription_details", "subscription"],
        &["parent", "subscription_details", "subscription", "id"],
    ]
    .into_iter()
    .find_map(|path| text_at(invoice, path));
    // An invoice outside any subscription (a one-off invoice) renews nothing.
    let Some(subscription) = subscription else {
        return Ok(Vec::new());
    };
    let period_end = invoice
        .pointer("/lines/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|line| line.pointer("/period/end").and_then(Value::as_i64))
        .max()
        .ok_or_else(|| {
            WebhookRefusal::BadEvent(format!(
                "the invoice of subscription {subscription} has no lines.data[].period.end"
            ))
        })?;
    let expdate = unix_to_licd_date(period_end).ok_or_else(|| {
        WebhookRefusal::BadEvent(format!("the period end {period_end} is out of range"))
    })?;
    Ok(vec![renew_subscription(&subscription, &expdate)])
}

/// A deleted (ended) Subscription: its keys are revoked.
fn cancellation(subscription: &Value) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let id = text_at(subscription, &["id"])
        .ok_or_else(|| WebhookRefusal::BadEvent("the Subscription has no id".into()))?;
    Ok(vec![revoke_subscription(&id)])
}
