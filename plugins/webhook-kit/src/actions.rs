//! The licd method calls a store event asks for, and the `is_*` arguments read from its JSON.
//!
//! Every builder takes values from the signed body (or the plugin's configuration) only. The
//! order's own values (buyer, order, subscription, quantity) are added last and replace a
//! same-named argument from metadata or the product table: they describe this purchase,
//! which metadata written once for a product cannot.

use chrono::DateTime;
use licd_plugin_api::{WebhookAction, WebhookRefusal};
use serde_json::Value;

/// The method that creates keys.
pub const GET_ACTIVATION_KEY: &str = "GetActivationKey";
/// The method that moves a subscription's expiry.
pub const RENEW_SUBSCRIPTION: &str = "RenewSubscriptionHttp";
/// The method that revokes an order's or a subscription's keys.
pub const REVOKE_LICENSE: &str = "RevokeLicenseHttp";
/// The method that records the buyer.
pub const UPDATE_USER_INFORMATION: &str = "UpdateUserInformation";

/// The text of a JSON scalar as licd reads arguments: strings as they are, numbers in
/// decimal, booleans as `true`/`false`; `None` for null, arrays and objects.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The non-empty text at `path` under `value` (`["customer_details", "email"]`), numbers as
/// text (store ids are often numbers), or `None`.
pub fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(scalar_text)
        .filter(|s| !s.is_empty())
}

/// The `is_*` entries of a metadata object (Stripe's `metadata`, Paddle's `custom_data`),
/// names in lower case; other entries are the vendor's own and are left alone. `None` or
/// `null` metadata has none.
///
/// # Errors
/// [`WebhookRefusal::BadEvent`] when metadata is not an object or an `is_*` value is not a
/// scalar: the vendor's checkout is misconfigured, and answering 400 makes the store show the
/// failed delivery (and retry it) instead of licd silently creating the wrong keys.
pub fn metadata_args(
    metadata: Option<&Value>,
    field: &str,
) -> Result<Vec<(String, String)>, WebhookRefusal> {
    let Some(metadata) = metadata.filter(|m| !m.is_null()) else {
        return Ok(Vec::new());
    };
    let object = metadata
        .as_object()
        .ok_or_else(|| WebhookRefusal::BadEvent(format!("{field} is not an object")))?;
    let mut args = Vec::new();
    for (name, value) in object {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("is_") || lower.len() == 3 {
            continue;
        }
        let text = scalar_text(value).ok_or_else(|| {
            WebhookRefusal::BadEvent(format!("{field}.{name} is not text, a number or a boolean"))
        })?;
        args.push((lower, text));
    }
    // By name, so that the actions do not depend on serde_json's map order.
    args.sort();
    Ok(args)
}

/// `args` with `overrides` set: each override replaces a same-named argument or is added.
pub fn with_args(
    mut args: Vec<(String, String)>,
    overrides: impl IntoIterator<Item = (&'static str, Option<String>)>,
) -> Vec<(String, String)> {
    for (name, value) in overrides {
        let Some(value) = value else { continue };
        args.retain(|(n, _)| n != name);
        args.push((name.to_string(), value));
    }
    args
}

/// GetActivationKey with `args` (product arguments, then the order's).
pub fn create_keys(args: Vec<(String, String)>) -> WebhookAction {
    WebhookAction::new(GET_ACTIVATION_KEY, args)
}

/// UpdateUserInformation for the buyer: `is_email`, and `is_fullname` when known. `None`
/// without an e-mail address, which is what names a customer in licd.
pub fn update_user(email: Option<&str>, full_name: Option<&str>) -> Option<WebhookAction> {
    let email = email.filter(|e| !e.is_empty())?;
    let mut args = vec![("is_email", email)];
    if let Some(name) = full_name.filter(|n| !n.trim().is_empty()) {
        args.push(("is_fullname", name.trim()));
    }
    Some(WebhookAction::new(UPDATE_USER_INFORMATION, args))
}

/// RenewSubscriptionHttp: the subscription's keys now expire at `expdate` (licd's
/// `yyyy-MM-dd HH:mm:ss`, UTC).
pub fn renew_subscription(subscription_id: &str, expdate: &str) -> WebhookAction {
    WebhookAction::new(
        RENEW_SUBSCRIPTION,
        [
            ("is_subscriptionid", subscription_id),
            ("is_expdate", expdate),
        ],
    )
}

/// RevokeLicenseHttp of every key of a subscription.
pub fn revoke_subscription(subscription_id: &str) -> WebhookAction {
    WebhookAction::new(REVOKE_LICENSE, [("is_subscriptionid", subscription_id)])
}

/// RevokeLicenseHttp of every key of an order.
pub fn revoke_order(order_id: &str) -> WebhookAction {
    WebhookAction::new(REVOKE_LICENSE, [("is_orderid", order_id)])
}

/// Unix seconds as licd's `yyyy-MM-dd HH:mm:ss` (UTC), or `None` out of chrono's range.
pub fn unix_to_licd_date(seconds: i64) -> Option<String> {
    DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// An RFC 3339 time (Paddle's `2024-05-12T10:18:47.635628Z`) as licd's `yyyy-MM-dd
/// HH:mm:ss` in UTC; fractions of a second are dropped (licd keeps whole seconds).
pub fn rfc3339_to_licd_date(text: &str) -> Option<String> {
    // The Unix seconds are the same whatever the offset, and drop the fraction.
    unix_to_licd_date(DateTime::parse_from_rfc3339(text).ok()?.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_gives_its_is_entries_in_lower_case_as_text() {
        let m = json!({"is_productid": "1", "IS_MajorVersion": 1, "is_send_mail": true, "campaign": "x"});
        assert_eq!(
            metadata_args(Some(&m), "metadata").unwrap(),
            vec![
                ("is_majorversion".to_string(), "1".to_string()),
                ("is_productid".to_string(), "1".to_string()),
                ("is_send_mail".to_string(), "true".to_string()),
            ]
        );
        assert_eq!(metadata_args(Some(&Value::Null), "m"), Ok(vec![]));
        assert_eq!(metadata_args(None, "m"), Ok(vec![]));
        assert!(metadata_args(Some(&json!({"is_features": {"a": 1}})), "m").is_err());
        assert!(metadata_args(Some(&json!("x")), "m").is_err());
    }

    #[test]
    fn the_order_s_values_replace_metadata_s() {
        let args = vec![
            ("is_email".to_string(), "meta@example.com".to_string()),
            ("is_productid".to_string(), "1".to_string()),
        ];
        let merged = with_args(
            args,
            [
                ("is_email", Some("buyer@example.com".to_string())),
                ("is_subscriptionid", None),
            ],
        );
        assert_eq!(
            merged,
            vec![
                ("is_productid".to_string(), "1".to_string()),
                ("is_email".to_string(), "buyer@example.com".to_string()),
            ]
        );
    }

    #[test]
    fn dates_become_licd_s_utc_text() {
        assert_eq!(
            unix_to_licd_date(1_735_689_600).as_deref(),
            Some("2025-01-01 00:00:00")
        );
        assert_eq!(
            rfc3339_to_licd_date("2024-05-12T10:18:47.635628Z").as_deref(),
            Some("2024-05-12 10:18:47")
        );
        assert_eq!(
            rfc3339_to_licd_date("2024-05-12T12:18:47+02:00").as_deref(),
            Some("2024-05-12 10:18:47")
        );
        assert_eq!(rfc3339_to_licd_date("2024-05-12"), None);
    }

    #[test]
    fn a_buyer_without_e_mail_is_not_recorded() {
        assert_eq!(update_user(None, Some("A B")), None);
        let a = update_user(Some("a@example.com"), Some(" ")).unwrap();
        assert_eq!(
            a.args,
            vec![("is_email".to_string(), "a@example.com".to_string())]
        );
        let a = update_user(Some("a@example.com"), Some("Ann Buyer")).unwrap();
        assert_eq!(a.arg("is_fullname"), Some("Ann Buyer"));
    }
}
