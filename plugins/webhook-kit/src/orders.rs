//! An order of a store without licd metadata (Shopify, WooCommerce, Paddle with a product
//! table) as licd actions: the buyer, then one GetActivationKey per line item that
//! `[plugin.config.products]` knows, with the line item's quantity.

use licd_plugin_api::{WebhookAction, WebhookRefusal};
use serde_json::Value;

use crate::actions::{create_keys, text_at, update_user, with_args};
use crate::products::ProductTable;

/// One line item, as far as licd cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    /// The keys to look the item up by in the product table, first match wins (SKU, then
    /// the store's product id as text).
    pub keys: Vec<String>,
    /// How many were bought, as text.
    pub quantity: Option<String>,
}

impl LineItem {
    /// The item at `item` with its lookup keys at `key_paths` and its quantity at
    /// `quantity_path`.
    pub fn read(item: &Value, key_paths: &[&[&str]], quantity_path: &[&str]) -> LineItem {
        LineItem {
            keys: key_paths
                .iter()
                .filter_map(|path| text_at(item, path))
                .collect(),
            quantity: text_at(item, quantity_path),
        }
    }
}

/// The order's buyer and identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Order {
    /// The store's order id, licd's `is_orderid`.
    pub id: String,
    /// The buyer's e-mail address.
    pub email: Option<String>,
    /// The buyer's name.
    pub full_name: Option<String>,
    /// The store's subscription id, when the order starts one.
    pub subscription_id: Option<String>,
}

/// The actions of a paid order: nothing when no line item is a licd product (the store sells
/// other things too), else the buyer (when there is an e-mail address) and one
/// GetActivationKey per licd line item, in the order's order.
///
/// # Errors
/// [`WebhookRefusal::BadEvent`] for a licd line item whose quantity is not a positive whole
/// number: licd would refuse the call, and the store should show the failed delivery.
pub fn paid_order_actions(
    products: &ProductTable,
    order: &Order,
    items: &[LineItem],
) -> Result<Vec<WebhookAction>, WebhookRefusal> {
    let mut keys = Vec::new();
    for item in items {
        let Some(product) = products.find(item.keys.iter().map(String::as_str)) else {
            continue;
        };
        let quantity = item
            .quantity
            .as_deref()
            .filter(|q| q.parse::<u32>().is_ok_and(|n| n > 0))
            .ok_or_else(|| {
                WebhookRefusal::BadEvent(format!(
                    "order {}: the line item {} has no positive quantity",
                    order.id,
                    item.keys.first().map_or("?", String::as_str)
                ))
            })?;
        keys.push(create_keys(with_args(
            product.to_vec(),
            [
                ("is_quantity", Some(quantity.to_string())),
                ("is_email", order.email.clone()),
                ("is_orderid", Some(order.id.clone())),
                ("is_subscriptionid", order.subscription_id.clone()),
            ],
        )));
    }
    if keys.is_empty() {
        return Ok(keys);
    }
    let mut out: Vec<WebhookAction> =
        update_user(order.email.as_deref(), order.full_name.as_deref())
            .into_iter()
            .collect();
    out.extend(keys);
    Ok(out)
}

/// "First Last" of two optional parts, `None` when both are empty.
pub fn full_name(first: Option<String>, last: Option<String>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn products() -> ProductTable {
        ProductTable::new(Some(
            &json!({"LICD-PRO": {"is_productid": 1}, "77": {"is_productid": 2}}),
        ))
        .unwrap()
    }

    fn item(keys: &[&str], quantity: &str) -> LineItem {
        LineItem {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            quantity: Some(quantity.to_string()),
        }
    }

    fn order() -> Order {
        Order {
            id: "1001".into(),
            email: Some("a@example.com".into()),
            full_name: Some("Ann Buyer".into()),
            subscription_id: None,
        }
    }

    #[test]
    fn known_items_get_keys_with_their_quantity_and_others_are_skipped() {
        let items = [
            item(&["LICD-PRO", "5"], "2"),
            item(&["MUG", "6"], "1"),
            item(&["77"], "1"),
        ];
        let actions = paid_order_actions(&products(), &order(), &items).unwrap();
        let methods: Vec<&str> = actions.iter().map(|a| a.method.as_str()).collect();
        assert_eq!(
            methods,
            [
                "UpdateUserInformation",
                "GetActivationKey",
                "GetActivationKey"
            ]
        );
        assert_eq!(actions[1].arg("is_productid"), Some("1"));
        assert_eq!(actions[1].arg("is_quantity"), Some("2"));
        assert_eq!(actions[1].arg("is_orderid"), Some("1001"));
        assert_eq!(actions[2].arg("is_productid"), Some("2"));
    }

    #[test]
    fn an_order_without_licd_items_asks_for_nothing() {
        let items = [item(&["MUG"], "1")];
        assert_eq!(
            paid_order_actions(&products(), &order(), &items),
            Ok(vec![])
        );
    }

    #[test]
    fn a_licd_item_without_a_positive_quantity_is_a_bad_event() {
        for q in ["0", "-1", "x"] {
            let items = [item(&["LICD-PRO"], q)];
            assert!(
                paid_order_actions(&products(), &order(), &items).is_err(),
                "{q}"
            );
        }
    }

    #[test]
    fn names_join_their_non_empty_parts() {
        assert_eq!(
            full_name(Some("Ann".into()), Some(" Buyer ".into())).as_deref(),
            Some("Ann Buyer")
        );
        assert_eq!(
            full_name(None, Some("Buyer".into())).as_deref(),
            Some("Buyer")
        );
        assert_eq!(full_name(Some(" ".into()), None), None);
    }
}
