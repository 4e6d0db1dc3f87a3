//! Key creation: licences from a template, limits, and the order-id memory that makes a
//! store's retried callback return the keys created the first time.

use serde::{Deserialize, Serialize};

use super::customers::link_email;
use super::{Command, Remembered, fresh_key};
use crate::license::history::HistoryEntry;
use crate::license::{License, dates, rules};
use crate::store::StoreError;
use crate::store::tx::{OrderRef, Tx, TxError, TxResult};

/// Creates `count` licences that copy `template` with fresh keys.
pub struct CreateKeys {
    /// Every field but `key` is copied to each new licence.
    pub template: License,
    /// How many licences.
    pub count: u32,
    /// The order id, when given: a retry with the same (vendor, product, order) returns the
    /// licences created the first time.
    pub order_id: Option<String>,
    /// `options.maxNewKeysPerDay`.
    pub max_per_day: i64,
    /// `options.dbMaxRecords`.
    pub max_stored: i64,
}

/// Licences created, or found again for a retried order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    /// The licences, in creation order.
    pub licenses: Vec<License>,
    /// True when the order had been fulfilled before and nothing new was created.
    pub reused: bool,
}

impl Command for CreateKeys {
    type Done = Created;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Created> {
        let order = self.order_id.as_deref().map(|order_id| OrderRef {
            vendor: &self.template.vendor,
            product_id: self.template.product_id,
            order_id,
        });
        if let Some(order) = &order
            && let Some(keys) = tx.by_order(order).await?
        {
            return Ok(Created {
                licenses: order_licenses(tx, keys).await?,
                reused: true,
            });
        }
        let day = dates::day_number(self.template.created);
        // Each count is read only when its cap is set (see `Activate`).
        let made_today = if self.max_per_day >= 0 {
            tx.keys_created_on(day).await?
        } else {
            0
        };
        let stored = if self.max_stored >= 0 {
            tx.licenses_stored().await?
        } else {
            0
        };
        rules::check_creation_limits(
            u64::from(self.count),
            made_today,
            self.max_per_day,
            stored,
            self.max_stored,
        )
        .map_err(TxError::Abort)?;
        let mut created = Vec::with_capacity(self.count as usize);
        for _ in 0..self.count {
            let key = fresh_key(tx, self.template.model).await?;
            let mut license = self.template.clone();
            license.key = key.as_str().to_string();
            link_email(tx, &mut license, self.template.created).await?;
            tx.put_license(&license).await?;
            if let Some(id) = &license.subscription_id {
                tx.join_subscription(id, &license.key).await?;
            }
            tx.join_vendor_groups(&license).await?;
            created.push(license);
        }
        tx.count_new_licenses(day, i64::from(self.count)).await?;
        if let Some(order) = &order {
            let keys: Vec<&str> = created.iter().map(|l| l.key.as_str()).collect();
            tx.record_order(order, &keys).await?;
        }
        Ok(Created {
            licenses: created,
            reused: false,
        })
    }
}

impl Remembered for CreateKeys {
    const KIND: &'static str = "Created";

    /// Key creation answered from the memory reports itself as reused, as a retried order
    /// does.
    fn as_repeat(first: Created) -> Created {
        Created {
            reused: true,
            ..first
        }
    }
}

/// [`CreateKeys`] with a history line on each new licence, in the same transaction: the
/// staff console's creation, whose history names the member of staff and their address
/// (the methods' creation writes none: the licence record says who created it).
pub struct CreateKeysWithHistory {
    /// The creation.
    pub create: CreateKeys,
    /// The line each new licence gets (nothing is written for a retried order's keys).
    pub entry: HistoryEntry,
}

impl Command for CreateKeysWithHistory {
    type Done = Created;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Created> {
        let created = self.create.apply(tx).await?;
        if !created.reused {
            for license in &created.licenses {
                tx.append_history(&license.key, &self.entry).await?;
            }
        }
        Ok(created)
    }
}

/// The licences an order was fulfilled with.
async fn order_licenses<T: Tx>(tx: &mut T, keys: Vec<String>) -> TxResult<Vec<License>> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(license) = tx.license_for_update(&key).await? else {
            return Err(StoreError::Corrupt(format!("order names a missing licence {key}")).into());
        };
        found.push(license);
    }
    Ok(found)
}
