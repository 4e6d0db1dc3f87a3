//! The subscription index (`subscriptions_v1`) filled once for a database written before
//! it existed; later key creations and upgrades keep it up to date.

use redb::{ReadableTable, WriteTransaction};

use super::tables::*;
use crate::license::License;
use crate::store::StoreError;

/// `meta_v1` key set once the subscription index holds every licence created before it
/// existed, so the one-time fill runs on the first start after an upgrade of licd only.
const SUBSCRIPTIONS_INDEXED: &str = "subscriptions_indexed";

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

#[cfg(test)]
mod tests {
    use redb::Database;
    use redb::backends::InMemoryBackend;

    use super::*;

    /// A licence of product 1 with an optional subscription id.
    fn license(key: &str, subscription: Option<&str>, upgraded: bool) -> License {
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
    fn licenses_written_before_the_index_existed_are_indexed_once_except_upgraded_ones() {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut licenses = txn.open_table(LICENSES).unwrap();
            for l in [
                license("K1", Some("S"), false),
                license("K2", Some("S"), true),
                license("K3", None, false),
                license("K4", Some("T"), false),
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
