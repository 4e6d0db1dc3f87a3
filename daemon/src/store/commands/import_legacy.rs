//! `licd import-qlm`: licences with legacy keys (imported from QLM) and their activations,
//! all in one transaction.

use std::collections::BTreeMap;

use super::Command;
use crate::license::history::HistoryEntry;
use crate::license::{Activation, License};
use crate::store::tx::{OrderRef, Tx, TxResult};

/// The history event of an imported licence.
const IMPORTED_EVENT: &str = "imported from QLM";

/// One licence to import, with the line it came from (for the report).
#[derive(Debug, Clone)]
pub struct LegacyLicense {
    /// Its line in the licences file.
    pub line: u64,
    /// The licence, stored under its legacy key.
    pub license: License,
    /// Its activations (`license.activations_used` counts them).
    pub activations: Vec<Activation>,
}

/// Imports licences. A key already stored is never overwritten: it is reported by its line;
/// then nothing at all is written, unless `skip_existing` says to import the others.
pub struct ImportLegacy {
    /// The licences, in file order.
    pub licenses: Vec<LegacyLicense>,
    /// Import the licences whose key is new and report the others, rather than nothing.
    pub skip_existing: bool,
    /// The import's time (history).
    pub now: i64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyImported {
    /// Whether anything was written (false: a key was already stored and nothing was).
    pub written: bool,
    /// Licences written.
    pub licenses: usize,
    /// Activations written.
    pub activations: usize,
    /// Lines of the licences whose key was already stored.
    pub existing: Vec<u64>,
}

impl Command for ImportLegacy {
    type Done = LegacyImported;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<LegacyImported> {
        // Every refusal before the first write: the writer shares one transaction.
        let mut existing = Vec::new();
        let mut new = Vec::with_capacity(self.licenses.len());
        for item in &self.licenses {
            if tx.license_exists(&item.license.key).await? {
                existing.push(item.line);
            } else {
                new.push(item);
            }
        }
        if !existing.is_empty() && !self.skip_existing {
            return Ok(LegacyImported {
                written: false,
                licenses: 0,
                activations: 0,
                existing,
            });
        }
        let mut orders: BTreeMap<(String, u32, String), Vec<String>> = BTreeMap::new();
        let mut activations = 0;
        for item in &new {
            // A QLM customer e-mail becomes the licence's customer.
            let mut linked = item.license.clone();
            let created = linked.created;
            super::customers::link_email(tx, &mut linked, created).await?;
            let license = &linked;
            tx.put_license(license).await?;
            tx.count_stored_license().await?;
            for activation in &item.activations {
                tx.put_activation(&license.key, activation).await?;
            }
            activations += item.activations.len();
            tx.append_history(&license.key, &imported_entry(self.now))
                .await?;
            if let Some(subscription) = &license.subscription_id {
                tx.join_subscription(subscription, &license.key).await?;
            }
            // The vendor-scoped index RevokeLicenseHttp and the renewals read an order or
            // subscription id through.
            tx.join_vendor_groups(license).await?;
            if let Some(order) = &license.order_id {
                orders
                    .entry((license.vendor.clone(), license.product_id, order.clone()))
                    .or_default()
                    .push(license.key.clone());
            }
        }
        for ((vendor, product_id, order_id), keys) in orders {
            record_order_keys(tx, &vendor, product_id, &order_id, keys).await?;
        }
        Ok(LegacyImported {
            written: true,
            licenses: new.len(),
            activations,
            existing,
        })
    }
}

/// Adds `keys` to the keys an order was fulfilled with (a QLM order often has several
/// rows), so that a store retrying that order is answered with them.
async fn record_order_keys<T: Tx>(
    tx: &mut T,
    vendor: &str,
    product_id: u32,
    order_id: &str,
    keys: Vec<String>,
) -> TxResult<()> {
    let order = OrderRef {
        vendor,
        product_id,
        order_id,
    };
    let mut all = tx.by_order(&order).await?.unwrap_or_default();
    all.extend(keys);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    tx.record_order(&order, &refs).await?;
    Ok(())
}

/// The history line every imported licence starts with.
fn imported_entry(now: i64) -> HistoryEntry {
    HistoryEntry {
        time: now,
        event: IMPORTED_EVENT.to_string(),
        computer_id: None,
        computer_name: None,
        computer_key: None,
        activated_at: None,
        vendor: Some("licd import-qlm".into()),
        client: None,
        license_before: None,
    }
}
