//! `[plugin.config.products]`: the licd product of a store's line item, for stores whose
//! orders carry no licd metadata (Shopify, WooCommerce).
//!
//! ```toml
//! [plugin.config.products]
//! "LICD-PRO" = { is_productid = 1, is_majorversion = 1, is_minorversion = 0 }
//! "8072" = { is_productid = 2, is_majorversion = 3, is_minorversion = 0, is_features = "0:3" }
//! ```
//! A key is a line item's SKU, or its store product id written as text; the table's values are
//! the `is_*` arguments of GetActivationKey, numbers and booleans passed as their text.

use std::collections::BTreeMap;

use crate::actions::scalar_text;
use crate::config::ConfigError;

/// Arguments a product entry may not set, because the order does: each key is for one buyer
/// and one order, and a product entry applies to every order of the product.
pub const ORDER_ARGS: [&str; 4] = ["is_email", "is_orderid", "is_quantity", "is_subscriptionid"];

/// The products of `[plugin.config.products]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductTable {
    products: BTreeMap<String, Vec<(String, String)>>,
}

impl ProductTable {
    /// Reads the table (`None` when absent: an empty table).
    ///
    /// # Errors
    /// An entry that is not a table, has no `is_productid`, an argument not named `is_*` or
    /// naming an order's argument ([`ORDER_ARGS`]), or a value that is not a string, number
    /// or boolean.
    pub fn new(table: Option<&serde_json::Value>) -> Result<ProductTable, ConfigError> {
        let Some(table) = table else {
            return Ok(ProductTable::default());
        };
        let table = table
            .as_object()
            .ok_or(ConfigError::NotATable("products"))?;
        let mut products = BTreeMap::new();
        for (key, entry) in table {
            let bad = |why: String| ConfigError::BadProduct {
                key: key.clone(),
                why,
            };
            let entry = entry
                .as_object()
                .ok_or_else(|| bad("is not a table of is_* arguments".into()))?;
            let mut args = Vec::new();
            for (name, value) in entry {
                let lower = name.to_ascii_lowercase();
                if !lower.starts_with("is_") || lower.len() == 3 {
                    return Err(bad(format!(
                        "has {name}; a product sets is_* arguments only"
                    )));
                }
                if ORDER_ARGS.contains(&lower.as_str()) {
                    return Err(bad(format!("sets {name}, which comes from each order")));
                }
                let text = scalar_text(value).ok_or_else(|| {
                    bad(format!(
                        "gives {name} a value that is not text, a number or a boolean"
                    ))
                })?;
                args.push((lower, text));
            }
            // By name, so that the actions do not depend on serde_json's map order.
            args.sort();
            if !args.iter().any(|(n, _)| n == "is_productid") {
                return Err(bad("has no is_productid".into()));
            }
            products.insert(key.clone(), args);
        }
        Ok(ProductTable { products })
    }

    /// Whether the table has no product.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// The arguments of the first of `keys` the table has (a line item's SKU, then its product
    /// id): SKUs are what vendors manage, product ids what every item has. Empty keys (an item
    /// without SKU) are skipped.
    pub fn find<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Option<&[(String, String)]> {
        keys.into_iter()
            .filter(|k| !k.is_empty())
            .find_map(|k| self.products.get(k))
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_become_text_arguments_found_by_sku_then_product_id() {
        let t = ProductTable::new(Some(&json!({
            "LICD-PRO": {"is_productid": 1, "is_majorversion": 1, "is_minorversion": 0},
            "8072": {"IS_PRODUCTID": "2", "is_send_mail": true}
        })))
        .unwrap();
        let pro = vec![
            ("is_majorversion".to_string(), "1".to_string()),
            ("is_minorversion".to_string(), "0".to_string()),
            ("is_productid".to_string(), "1".to_string()),
        ];
        assert_eq!(t.find(["LICD-PRO", "8072"]), Some(pro.as_slice()));
        assert_eq!(
            t.find(["", "8072"]).map(<[_]>::to_vec),
            Some(vec![
                ("is_productid".to_string(), "2".to_string()),
                ("is_send_mail".to_string(), "true".to_string()),
            ])
        );
        assert_eq!(t.find(["OTHER", "1"]), None);
    }

    #[test]
    fn malformed_entries_are_refused_with_their_key() {
        for (table, needle) in [
            (json!({"A": 1}), "not a table"),
            (json!({"A": {"is_majorversion": 1}}), "no is_productid"),
            (
                json!({"A": {"is_productid": 1, "quantity": 2}}),
                "is_* arguments only",
            ),
            (
                json!({"A": {"is_productid": 1, "is_quantity": 2}}),
                "each order",
            ),
            (json!({"A": {"is_productid": [1]}}), "not text"),
            (json!([1]), "table"),
        ] {
            let e = ProductTable::new(Some(&table)).unwrap_err().to_string();
            assert!(e.contains(needle), "{table}: {e}");
        }
    }
}
