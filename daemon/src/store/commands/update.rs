//! Licence editing. UpdateLicenseHttp, RevokeLicenseHttp, RenewSubscriptionHttp and the
//! maintenance-plan methods change licences in place ([`Edit`]); UpgradeLicense replaces a
//! licence by a new key ([`Upgrade`]). Each is one transaction, every refusal is decided
//! before the first write, and the history keeps each licence as it was before.
//!
//! The rule itself arrives as a closure built by the method handler from the request and the
//! configuration (it calls `crate::license::update` or `crate::license::renewal`), so the
//! store stays ignorant of the rules and of the configuration.

use redb::{ReadableTable, WriteTransaction};

use super::{ApplyError, HistoryEntry, LicenceCheck, Outcome, append_history, refused};
use crate::errors::{ErrorCode, MethodError};
use crate::license::keys::ActivationKey;
use crate::license::{License, rules};
use crate::store::StoreError;
use crate::store::tables::*;

/// `meta_v1` key set once the subscription index holds every licence created before it
/// existed, so the one-time fill runs on the first start after an upgrade of licd only.
const SUBSCRIPTIONS_INDEXED: &str = "subscriptions_indexed";

/// A change of one licence: the licence as stored in, the licence to store (or the refusal)
/// out. It must not change the key.
pub type LicenceEdit = Box<dyn Fn(&License) -> Result<License, MethodError> + Send>;

/// UpgradeLicense's rule: the old licence and the new key in; the old licence marked as
/// replaced and the new licence out.
pub type UpgradeRule =
    Box<dyn Fn(&License, &str) -> Result<(License, License), MethodError> + Send>;

/// Which licences an [`Edit`] changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One licence, by canonical activation key.
    Key(String),
    /// Every licence created with this `is_subscriptionid` (RenewSubscriptionHttp), except
    /// keys replaced by an upgrade.
    Subscription(String),
}

/// Changes licences in place, all or none.
pub struct Edit {
    /// The licences to change.
    pub target: Target,
    /// Checks on each licence (vendor scope), run inside the transaction.
    pub check: LicenceCheck,
    /// The rule: each licence after the change.
    pub edit: LicenceEdit,
    /// The history event: `updated`, `revoked`, `restored`, `renewed`, `maintenance`.
    pub event: &'static str,
    /// False when the method was asked not to log (`is_logRelease=false` on a renewal).
    pub log_history: bool,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address, for the history.
    pub client: Option<String>,
    /// The request's time.
    pub now: i64,
}

/// Replaces a licence by a new key (UpgradeLicense).
pub struct Upgrade {
    /// Canonical activation key of the licence replaced.
    pub key: String,
    /// Checks on the licence (vendor scope), run inside the transaction.
    pub check: LicenceCheck,
    /// The rule.
    pub upgrade: UpgradeRule,
    /// `options.dbMaxRecords`: the new licence counts as one more stored.
    pub max_stored: i64,
    /// `options.historyTableLogUpgrade`.
    pub log_history: bool,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address, for the history.
    pub client: Option<String>,
    /// The request's time.
    pub now: i64,
}

pub(super) fn edit(txn: &WriteTransaction, c: Edit) -> Result<Outcome, ApplyError> {
    let mut licenses = txn.open_table(LICENSES)?;
    let keys = match &c.target {
        Target::Key(key) => vec![key.clone()],
        Target::Subscription(id) => subscription_keys(txn, id)?,
    };
    let mut changes = Vec::with_capacity(keys.len());
    for key in keys {
        let before: License = match licenses.get(key.as_str())? {
            Some(v) => decode(v.value())?,
            None if matches!(c.target, Target::Key(_)) => {
                return Err(refused(crate::methods::not_found()));
            }
            None => {
                return Err(ApplyError::Storage(StoreError::Corrupt(format!(
                    "the subscription index names a missing licence {key}"
                ))));
            }
        };
        if matches!(c.target, Target::Subscription(_)) && before.upgraded_to.is_some() {
            // The index drops replaced keys; this guards a file indexed by an older licd.
            continue;
        }
        (c.check)(&before).map_err(refused)?;
        let after = (c.edit)(&before).map_err(refused)?;
        changes.push((key, before, after));
    }
    if changes.is_empty() {
        return Err(refused(subscription_not_found()));
    }
    for (key, _, after) in &changes {
        licenses.insert(key.as_str(), encode(after)?.as_slice())?;
    }
    if c.log_history {
        let mut counters = txn.open_table(COUNTERS)?;
        let mut history = txn.open_table(HISTORY)?;
        for (key, before, _) in &changes {
            let entry = entry(c.event, c.now, &c.vendor, &c.client, before);
            append_history(&mut counters, &mut history, key, &entry)?;
        }
    }
    Ok(Outcome::Edited {
        licenses: changes.into_iter().map(|(_, _, after)| after).collect(),
    })
}

pub(super) fn upgrade(txn: &WriteTransaction, c: Upgrade) -> Result<Outcome, ApplyError> {
    let mut licenses = txn.open_table(LICENSES)?;
    let mut counters = txn.open_table(COUNTERS)?;
    let old: License = match licenses.get(c.key.as_str())? {
        Some(v) => decode(v.value())?,
        None => return Err(refused(crate::methods::not_found())),
    };
    (c.check)(&old).map_err(refused)?;
    let new_key = loop {
        let k = ActivationKey::generate(old.model)
            .map_err(|e| ApplyError::Storage(StoreError::Random(e.to_string())))?;
        // 120 random bits make a collision unheard of; checking costs one look-up.
        if licenses.get(k.as_str())?.is_none() {
            break k;
        }
    };
    let (replaced, new) = (c.upgrade)(&old, new_key.as_str()).map_err(refused)?;
    let stored = counters.get(LICENCE_COUNT)?.map_or(0, |v| v.value());
    rules::check_creation_limits(1, 0, -1, stored, c.max_stored).map_err(refused)?;
    licenses.insert(c.key.as_str(), encode(&replaced)?.as_slice())?;
    licenses.insert(new_key.as_str(), encode(&new)?.as_slice())?;
    counters.insert(LICENCE_COUNT, stored + 1)?;
    let mut index = txn.open_table(SUBSCRIPTIONS)?;
    if let Some(id) = &old.subscription_id {
        index.remove((id.as_str(), c.key.as_str()))?;
    }
    if let Some(id) = &new.subscription_id {
        index.insert((id.as_str(), new_key.as_str()), ())?;
    }
    if c.log_history {
        let mut history = txn.open_table(HISTORY)?;
        // On both keys, so either one leads to the other's story.
        let on_old = entry("upgraded", c.now, &c.vendor, &c.client, &old);
        append_history(&mut counters, &mut history, &c.key, &on_old)?;
        let on_new = entry("upgraded_from", c.now, &c.vendor, &c.client, &old);
        append_history(&mut counters, &mut history, new_key.as_str(), &on_new)?;
    }
    Ok(Outcome::Upgraded {
        old: Box::new(replaced),
        new: Box::new(new),
    })
}

/// Fills the subscription index from the licences once, for a database written before the
/// index existed. Called when the store opens; later key creations keep it up to date.
pub(crate) fn index_subscriptions(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    if meta.get(SUBSCRIPTIONS_INDEXED)?.is_some() {
        return Ok(());
    }
    let licenses = txn.open_table(LICENSES)?;
    let mut index = txn.open_table(SUBSCRIPTIONS)?;
    for row in licenses.iter()? {
        let (key, value) = row?;
        let license: License = decode(value.value())?;
        if let Some(id) = &license.subscription_id
            && license.upgraded_to.is_none()
        {
            index.insert((id.as_str(), key.value()), ())?;
        }
    }
    meta.insert(SUBSCRIPTIONS_INDEXED, [1u8].as_slice())?;
    Ok(())
}

/// The keys of a subscription, in key order.
fn subscription_keys(txn: &WriteTransaction, id: &str) -> Result<Vec<String>, StoreError> {
    let index = txn.open_table(SUBSCRIPTIONS)?;
    let mut keys = Vec::new();
    for row in index.range((id, "")..)? {
        let (k, _) = row?;
        let (found, key) = k.value();
        if found != id {
            break;
        }
        keys.push(key.to_string());
    }
    Ok(keys)
}

/// Code 203 for a subscription id that names no licence that can still be renewed.
fn subscription_not_found() -> MethodError {
    MethodError::new(
        ErrorCode::LicenseNotFound,
        "No licence has this subscription id; check is_subscriptionid.",
    )
}

/// A history entry keeping the licence as it was before the change.
fn entry(
    event: &str,
    time: i64,
    vendor: &Option<String>,
    client: &Option<String>,
    before: &License,
) -> HistoryEntry {
    HistoryEntry {
        time,
        event: event.to_string(),
        computer_id: None,
        computer_name: None,
        computer_key: None,
        activated_at: None,
        vendor: vendor.clone(),
        client: client.clone(),
        license_before: Some(Box::new(before.clone())),
    }
}

#[cfg(test)]
mod tests {
    use redb::Database;
    use redb::backends::InMemoryBackend;

    use super::*;

    /// A licence of product 1 with an optional subscription id.
    fn licence(key: &str, subscription: Option<&str>, upgraded: bool) -> License {
        serde_json::from_value(serde_json::json!({
            "key": key,
            "product_id": 1,
            "major_version": 1,
            "minor_version": 0,
            "model": {"base": "Subscription", "deployment": "Standard"},
            "activations_allowed": 1,
            "activations_used": 0,
            "subscription_id": subscription,
            "vendor": "v",
            "created": 0,
            "upgraded_to": if upgraded { Some("NEW") } else { None },
        }))
        .unwrap()
    }

    fn indexed(db: &Database) -> Vec<(String, String)> {
        let txn = db.begin_write().unwrap();
        let mut out = Vec::new();
        {
            let index = txn.open_table(SUBSCRIPTIONS).unwrap();
            for row in index.iter().unwrap() {
                let (k, _) = row.unwrap();
                let (id, key) = k.value();
                out.push((id.to_string(), key.to_string()));
            }
        }
        txn.abort().unwrap();
        out
    }

    #[test]
    fn licences_written_before_the_index_existed_are_indexed_once_except_upgraded_ones() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut licenses = txn.open_table(LICENSES).unwrap();
            for l in [
                licence("K1", Some("S"), false),
                licence("K2", Some("S"), true),
                licence("K3", None, false),
                licence("K4", Some("T"), false),
            ] {
                licenses
                    .insert(l.key.as_str(), encode(&l).unwrap().as_slice())
                    .unwrap();
            }
        }
        index_subscriptions(&txn).unwrap();
        txn.commit().unwrap();
        let expected = vec![
            ("S".to_string(), "K1".to_string()),
            ("T".into(), "K4".into()),
        ];
        assert_eq!(indexed(&db), expected);

        // Once marked, the fill does not run again: an entry removed since stays removed.
        let txn = db.begin_write().unwrap();
        txn.open_table(SUBSCRIPTIONS)
            .unwrap()
            .remove(("T", "K4"))
            .unwrap();
        index_subscriptions(&txn).unwrap();
        txn.commit().unwrap();
        assert_eq!(indexed(&db), expected[..1]);
    }
}
