//! The vendor-scoped groups (`vendor_groups_v1`): the keys each vendor created for one order
//! or one subscription, behind [`Tx::vendor_group_keys`](crate::store::tx::Tx) and its two
//! writers. Filled once for a database written before the table existed; later key
//! creations and upgrades keep it up to date.
//!
//! A row is (`vendor, kind, id` joined by unit separators, canonical key) → nothing, so one
//! range read over the first part lists a group in key order. Arguments cannot hold the
//! separator (control characters are refused when they are parsed), so no vendor or id can
//! run into the next part.

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::*;
use crate::license::License;
use crate::store::StoreError;
use crate::store::tx::Group;

/// `meta_v1` key set once `vendor_groups_v1` holds every licence created before it existed,
/// so the one-time fill runs on the first start after an upgrade of licd only.
const VENDOR_GROUPS_INDEXED: &str = "vendor_groups_indexed";

/// The table as a write transaction holds it.
type GroupTable<'t> = Table<'t, (&'static str, &'static str), ()>;

/// The first part of a row of `group` of `vendor`: the vendor in lower case (vendor names are
/// compared ignoring case), the kind and the id.
fn group_key(vendor: &str, group: &Group) -> String {
    let (kind, id) = match group {
        Group::Order(id) => ('o', id),
        Group::Subscription(id) => ('s', id),
    };
    format!("{}\u{1f}{kind}\u{1f}{id}", vendor.to_lowercase())
}

/// The keys filed under `group` of `vendor`, in key order.
pub(super) fn keys(
    table: &impl ReadableTable<(&'static str, &'static str), ()>,
    vendor: &str,
    group: &Group,
) -> Result<Vec<String>, StoreError> {
    let wanted = group_key(vendor, group);
    let mut keys = Vec::new();
    for row in table.range((wanted.as_str(), "")..)? {
        let (k, _) = row?;
        let (found, key) = k.value();
        if found != wanted {
            break;
        }
        keys.push(key.to_string());
    }
    Ok(keys)
}

/// Files `license` under each of its groups.
pub(super) fn join(table: &mut GroupTable<'_>, license: &License) -> Result<(), StoreError> {
    for group in Group::of(license) {
        let part = group_key(&license.vendor, &group);
        table.insert((part.as_str(), license.key.as_str()), ())?;
    }
    Ok(())
}

/// Takes `license` out of each of its groups.
pub(super) fn leave(table: &mut GroupTable<'_>, license: &License) -> Result<(), StoreError> {
    for group in Group::of(license) {
        let part = group_key(&license.vendor, &group);
        table.remove((part.as_str(), license.key.as_str()))?;
    }
    Ok(())
}

/// Fills `vendor_groups_v1` from the licences once, for a database written before the table
/// existed (keys replaced by an upgrade are left out, as [`leave`] takes them out). Called
/// when the store opens.
pub(crate) fn index_vendor_groups(txn: &WriteTransaction) -> Result<(), StoreError> {
    {
        let meta = txn.open_table(META)?;
        if meta.get(VENDOR_GROUPS_INDEXED)?.is_some() {
            return Ok(());
        }
    }
    fill_vendor_groups(txn)
}

/// Files every licence of the database under its groups, whatever the marker says, and sets
/// the marker. `licd import` runs it after writing an export's rows: an export made by an
/// earlier licd carries licences but no `vendor_groups_v1` rows, and the fresh database it
/// goes into was marked indexed when it was made. Filing a licence twice writes the same row.
pub(crate) fn fill_vendor_groups(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let mut table = txn.open_table(VENDOR_GROUPS)?;
    let licenses = txn.open_table(LICENSES)?;
    for row in licenses.iter()? {
        let (_, value) = row?;
        let license: License = decode(value.value())?;
        if license.upgraded_to.is_none() {
            join(&mut table, &license)?;
        }
    }
    meta.insert(VENDOR_GROUPS_INDEXED, [1u8].as_slice())?;
    Ok(())
}

/// The problems `licd check` reports about the table: a row naming a licence that is missing,
/// or that is not of that vendor's group.
pub(super) fn problems(txn: &redb::ReadTransaction) -> Result<Vec<String>, StoreError> {
    let table = txn.open_table(VENDOR_GROUPS)?;
    let licenses = txn.open_table(LICENSES)?;
    let mut problems = Vec::new();
    for row in table.iter()? {
        let (k, _) = row?;
        let (part, key) = k.value();
        let shown = part.replace('\u{1f}', "/");
        let Some(value) = licenses.get(key)? else {
            problems.push(format!(
                "vendor group {shown} names a missing licence {key}"
            ));
            continue;
        };
        let license: License = decode(value.value())?;
        if !Group::of(&license).any(|g| group_key(&license.vendor, &g) == part) {
            problems.push(format!(
                "vendor group {shown} lists {key}, but the licence has another vendor, order or subscription"
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableDatabase, TableHandle};

    use super::*;

    /// A licence of product 1 created by `vendor`.
    fn license(key: &str, vendor: &str, order: Option<&str>, sub: Option<&str>) -> License {
        let mut l = License::for_tests("subscription", 1, 0);
        l.key = key.to_string();
        l.vendor = vendor.to_string();
        l.order_id = order.map(str::to_string);
        l.subscription_id = sub.map(str::to_string);
        l
    }

    fn group_keys(db: &Database, vendor: &str, group: &Group) -> Vec<String> {
        let txn = db.begin_read().expect("read");
        let table = txn.open_table(VENDOR_GROUPS).expect("table");
        keys(&table, vendor, group).expect("keys")
    }

    #[test]
    fn a_file_written_before_the_table_existed_is_indexed_when_opened() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("licd.redb");
        // What an older licd wrote: licences, and no vendor_groups_v1 table at all.
        {
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("write");
            {
                let mut licenses = txn.open_table(LICENSES).expect("licences");
                let mut upgraded = license("K0", "Shop", Some("1234"), None);
                upgraded.upgraded_to = Some("K1".into());
                for l in [
                    upgraded,
                    license("K1", "Shop", Some("1234"), Some("S-1")),
                    license("K2", "shop", Some("1234"), None),
                    license("K3", "Other", Some("1234"), Some("S-1")),
                    license("K4", "Shop", None, None),
                ] {
                    licenses
                        .insert(l.key.as_str(), encode(&l).expect("encode").as_slice())
                        .expect("insert");
                }
            }
            txn.commit().expect("commit");
            let txn = db.begin_read().expect("read");
            let tables: Vec<String> = txn
                .list_tables()
                .expect("tables")
                .map(|t| t.name().to_string())
                .collect();
            assert!(
                !tables.iter().any(|t| t == "vendor_groups_v1"),
                "{tables:?}"
            );
        }
        let db = super::super::open_database(&path, 1 << 20, None).expect("open");
        super::super::prepare(&db).expect("prepare");
        let order = Group::Order("1234".into());
        assert_eq!(group_keys(&db, "SHOP", &order), ["K1", "K2"]);
        assert_eq!(group_keys(&db, "other", &order), ["K3"]);
        let sub = Group::Subscription("S-1".into());
        assert_eq!(group_keys(&db, "shop", &sub), ["K1"]);
        assert!(group_keys(&db, "shop", &Group::Order("S-1".into())).is_empty());
        let txn = db.begin_read().expect("read");
        assert!(problems(&txn).expect("checked").is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_export_written_without_the_table_is_indexed_when_imported() {
        use std::time::{Duration, Instant};

        use super::super::RedbStore;
        use crate::store::StoreOptions;
        use crate::store::commands::CreateKeys;

        let dir = tempfile::tempdir().expect("a temporary directory");
        let source = RedbStore::open(&dir.path().join("a"), StoreOptions::default()).expect("open");
        let mut template = license("", "Shop", Some("9"), Some("S-9"));
        template.key = String::new();
        let create = CreateKeys {
            template,
            count: 2,
            order_id: None,
            max_per_day: -1,
            max_stored: -1,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        source.run(create, deadline).await.expect("created");
        let mut out = Vec::new();
        source.export_to(&mut out, true).expect("exported");
        let text = String::from_utf8(out).expect("UTF-8");
        // What an earlier licd exported: the same rows, without vendor_groups_v1.
        let (groups, kept): (Vec<&str>, Vec<&str>) = text
            .lines()
            .partition(|l| l.contains("\"vendor_groups_v1\""));
        assert_eq!(
            groups.len(),
            4,
            "two keys, each in an order and a subscription"
        );
        let rows: u64 = kept
            .iter()
            .find_map(|l| l.strip_prefix("{\"end\":{\"rows\":"))
            .and_then(|n| n.trim_end_matches('}').parse().ok())
            .expect("an end line");
        let old: String = kept
            .iter()
            .map(|l| match l.starts_with("{\"end\"") {
                true => format!("{{\"end\":{{\"rows\":{}}}}}\n", rows - 4),
                false => format!("{l}\n"),
            })
            .collect();
        let target = RedbStore::open(&dir.path().join("b"), StoreOptions::default()).expect("open");
        target
            .import_from(&mut old.as_bytes(), false)
            .expect("imported");
        let db = target.shared.db().expect("db");
        assert_eq!(group_keys(&db, "shop", &Group::Order("9".into())).len(), 2);
        assert_eq!(
            group_keys(&db, "SHOP", &Group::Subscription("S-9".into())).len(),
            2
        );
    }

    #[test]
    fn once_marked_the_fill_does_not_run_again() {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("db");
        let txn = db.begin_write().expect("write");
        {
            let mut licenses = txn.open_table(LICENSES).expect("licences");
            let l = license("K1", "Shop", Some("9"), None);
            licenses
                .insert("K1", encode(&l).expect("encode").as_slice())
                .expect("insert");
        }
        index_vendor_groups(&txn).expect("filled");
        txn.commit().expect("commit");
        let txn = db.begin_write().expect("write");
        {
            let mut table = txn.open_table(VENDOR_GROUPS).expect("table");
            leave(&mut table, &license("K1", "Shop", Some("9"), None)).expect("left");
        }
        index_vendor_groups(&txn).expect("not filled again");
        txn.commit().expect("commit");
        assert!(group_keys(&db, "shop", &Group::Order("9".into())).is_empty());
    }
}
