//! Key creation: licences from a template, limits, and the order-id memory that makes a
//! store's retried callback return the keys created the first time.

use redb::{ReadableTable, WriteTransaction};

use super::{ApplyError, Outcome, refused};
use crate::license::keys::ActivationKey;
use crate::license::{License, dates, rules};
use crate::store::StoreError;
use crate::store::tables::*;

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

pub(super) fn create_keys(txn: &WriteTransaction, c: CreateKeys) -> Result<Outcome, ApplyError> {
    let mut licenses = txn.open_table(LICENSES)?;
    let mut orders = txn.open_table(ORDERS)?;
    let mut counters = txn.open_table(COUNTERS)?;
    let mut subscriptions = txn.open_table(SUBSCRIPTIONS)?;
    let order = c
        .order_id
        .as_deref()
        .map(|o| order_key(&c.template.vendor, c.template.product_id, o));
    if let Some(order) = &order
        && let Some(keys) = orders.get(order.as_str())?
    {
        let keys: Vec<String> = decode(keys.value())?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(v) = licenses.get(key.as_str())? else {
                return Err(ApplyError::Storage(StoreError::Corrupt(format!(
                    "order names a missing licence {key}"
                ))));
            };
            found.push(decode(v.value())?);
        }
        return Ok(Outcome::Created {
            licenses: found,
            reused: true,
        });
    }
    let day_counter = keys_created_on(dates::day_number(c.template.created));
    let made_today = counters.get(day_counter.as_str())?.map_or(0, |v| v.value());
    let stored = counters.get(LICENCE_COUNT)?.map_or(0, |v| v.value());
    rules::check_creation_limits(
        u64::from(c.count),
        made_today,
        c.max_per_day,
        stored,
        c.max_stored,
    )
    .map_err(refused)?;
    let mut created = Vec::with_capacity(c.count as usize);
    for _ in 0..c.count {
        let key = loop {
            let k = ActivationKey::generate(c.template.model)
                .map_err(|e| ApplyError::Storage(StoreError::Random(e.to_string())))?;
            // 120 random bits make a collision unheard of; checking costs one look-up.
            if licenses.get(k.as_str())?.is_none() {
                break k;
            }
        };
        let mut license = c.template.clone();
        license.key = key.as_str().to_string();
        licenses.insert(key.as_str(), encode(&license)?.as_slice())?;
        if let Some(id) = &license.subscription_id {
            subscriptions.insert((id.as_str(), key.as_str()), ())?;
        }
        created.push(license);
    }
    let n = i64::from(c.count);
    counters.insert(day_counter.as_str(), made_today + n)?;
    counters.insert(LICENCE_COUNT, stored + n)?;
    if let Some(order) = &order {
        let keys: Vec<&str> = created.iter().map(|l| l.key.as_str()).collect();
        orders.insert(order.as_str(), encode(&keys)?.as_slice())?;
    }
    Ok(Outcome::Created {
        licenses: created,
        reused: false,
    })
}
