//! The replay memory's tables in redb: pruning and the consistency check. Rows are
//! written by `RedbTx::remember_change` inside the change's own transaction.

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::tables::{REPLAY_ORDER, REPLAYS, decode, replay_order_key};
use super::tx::{OrderEntry, ReplayRow};
use crate::store::StoreError;
use crate::store::replays::{MAX_REPLAYS, PRUNE_PER_BATCH, REPLAY_SECONDS};

/// How many rows the memory keeps and how many one prune drops at most: [`MAX_REPLAYS`] and
/// [`PRUNE_PER_BATCH`] in service (tests use small ones).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) max_rows: u64,
    pub(crate) per_prune: usize,
}

/// The bounds licd runs with.
pub(crate) const BOUNDS: Bounds = Bounds {
    max_rows: MAX_REPLAYS,
    per_prune: PRUNE_PER_BATCH,
};

/// Drops rows older than [`REPLAY_DAYS`] at `now`, and the oldest past `bounds.max_rows`, at
/// most `bounds.per_prune` of them. Returns how many were dropped.
pub(crate) fn prune(txn: &WriteTransaction, now: i64, bounds: Bounds) -> Result<usize, StoreError> {
    let cutoff = now - REPLAY_SECONDS;
    let mut rows = txn.open_table(REPLAYS)?;
    let mut order = txn.open_table(REPLAY_ORDER)?;
    let mut dropped = 0;
    while dropped < bounds.per_prune {
        let oldest = match order.first()? {
            Some((k, v)) => Some((k.value().to_string(), decode::<OrderEntry>(v.value())?)),
            None => None,
        };
        let Some((order_key, entry)) = oldest else {
            break;
        };
        if entry.at >= cutoff && order.len()? <= bounds.max_rows {
            break;
        }
        order.remove(order_key.as_str())?;
        rows.remove((entry.vendor.as_str(), entry.id.as_str()))?;
        dropped += 1;
    }
    Ok(dropped)
}

/// The consistency rules `licd check` applies to the memory: every row decodes and has its
/// order entry, and every order entry names a row of the same time. Each problem is one
/// sentence.
pub(crate) fn problems(txn: &redb::ReadTransaction) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let (rows, order) = match (txn.open_table(REPLAYS), txn.open_table(REPLAY_ORDER)) {
        (Ok(rows), Ok(order)) => (rows, order),
        // A file from before the memory existed: nothing to check.
        (Err(redb::TableError::TableDoesNotExist(_)), _)
        | (_, Err(redb::TableError::TableDoesNotExist(_))) => return Ok(problems),
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
    };
    for row in rows.iter()? {
        let (k, v) = row?;
        let (vendor, id) = k.value();
        match decode::<ReplayRow>(v.value()) {
            Ok(r) => {
                if order
                    .get(replay_order_key(r.at, vendor, id).as_str())?
                    .is_none()
                {
                    problems.push(format!(
                        "replay {id} of vendor {vendor} has no entry in replay_order_v1"
                    ));
                }
            }
            Err(e) => problems.push(format!(
                "replay {id} of vendor {vendor} does not decode: {e}"
            )),
        }
    }
    for entry in order.iter()? {
        let (k, v) = entry?;
        let key = k.value().replace('\u{1f}', "/");
        match decode::<OrderEntry>(v.value()) {
            Ok(e) => {
                let at = rows
                    .get((e.vendor.as_str(), e.id.as_str()))?
                    .map(|v| decode::<ReplayRow>(v.value()).map(|r| r.at))
                    .transpose();
                if !matches!(at, Ok(Some(t)) if t == e.at) {
                    problems.push(format!(
                        "replay order entry {key} names no replay of that time"
                    ));
                }
            }
            Err(err) => problems.push(format!("replay order entry {key} does not decode: {err}")),
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::store::StoreOptions;
    use crate::store::embedded::RedbStore;
    use crate::store::embedded::tx::RedbTx;
    use crate::store::replays::ReplayKey;
    use crate::store::tx::{RememberedChange, Tx};

    /// The result of an operation of [`RedbTx`], which is ready at once.
    fn ready<T>(future: impl Future<Output = T>) -> T {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("a redb operation waited"),
        }
    }

    fn change() -> RememberedChange {
        RememberedChange {
            method: "GetActivationKey".into(),
            outcome: serde_json::json!({"Created": {"licenses": [], "reused": false}}),
        }
    }

    fn remember(tx: &mut RedbTx<'_>, id: &str, at: i64) {
        ready(tx.remember_change("v", id, at, &change())).expect("remember");
    }

    fn recalled(tx: &mut RedbTx<'_>, id: &str) -> bool {
        ready(tx.recall_change("v", id)).expect("recall").is_some()
    }

    /// Runs `f` in one committed write transaction of a fresh database.
    fn with_txn<T>(store: &RedbStore, f: impl FnOnce(&WriteTransaction) -> T) -> T {
        let db = store.shared.db().expect("db");
        let txn = db.begin_write().expect("txn");
        let out = f(&txn);
        txn.commit().expect("commit");
        out
    }

    fn rows(store: &RedbStore) -> (u64, u64) {
        let reader = store.reader().expect("reader");
        let rows = reader.txn.open_table(REPLAYS).expect("table").len();
        let order = reader.txn.open_table(REPLAY_ORDER).expect("table").len();
        (rows.expect("len"), order.expect("len"))
    }

    #[test]
    fn a_remembered_id_is_recalled_by_vendor_in_any_case_and_others_are_new() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        with_txn(&store, |txn| {
            let mut tx = RedbTx::open(txn).expect("tables");
            let first = ReplayKey::new("FastSpring", "h1", "GetActivationKey");
            ready(tx.remember_change(&first.vendor, &first.id, 1_000, &change()))
                .expect("remember");
            let again = ReplayKey::new("FASTSPRING", "h1", "GetActivationKey");
            assert_eq!(
                ready(tx.recall_change(&again.vendor, &again.id)).expect("recall"),
                Some(change())
            );
            assert_eq!(
                ready(tx.recall_change("fastspring", "h2")).expect("recall"),
                None
            );
            assert_eq!(
                ready(tx.recall_change("other", "h1")).expect("recall"),
                None
            );
        });
        let reader = store.reader().expect("reader");
        assert_eq!(problems(&reader.txn).expect("check"), Vec::<String>::new());
    }

    #[test]
    fn rows_older_than_thirty_days_and_past_the_cap_are_pruned_oldest_first() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        let day = crate::license::dates::SECONDS_PER_DAY;
        let now = 100 * day;
        with_txn(&store, |txn| {
            {
                let mut tx = RedbTx::open(txn).expect("tables");
                remember(&mut tx, "old", now - 31 * day);
                remember(&mut tx, "young", now - 29 * day);
            }
            assert_eq!(prune(txn, now, BOUNDS).expect("prune"), 1);
            let mut tx = RedbTx::open(txn).expect("tables");
            assert!(!recalled(&mut tx, "old"));
            assert!(recalled(&mut tx, "young"));
            drop(tx);
            assert_eq!(prune(txn, now, BOUNDS).expect("prune"), 0);
        });
        assert_eq!(rows(&store), (1, 1));
        // Past the cap the oldest go even when young, a bounded number per prune.
        let small = Bounds {
            max_rows: 3,
            per_prune: 2,
        };
        with_txn(&store, |txn| {
            {
                let mut tx = RedbTx::open(txn).expect("tables");
                for i in 0..5 {
                    remember(&mut tx, &format!("r{i}"), now - day + i);
                }
            }
            assert_eq!(prune(txn, now, small).expect("prune"), 2);
            {
                let mut tx = RedbTx::open(txn).expect("tables");
                assert!(!recalled(&mut tx, "young"));
                assert!(!recalled(&mut tx, "r0"));
            }
            assert_eq!(prune(txn, now, small).expect("prune"), 1);
            {
                let mut tx = RedbTx::open(txn).expect("tables");
                assert!(!recalled(&mut tx, "r1"));
                assert!(recalled(&mut tx, "r2"));
            }
            assert_eq!(prune(txn, now, small).expect("prune"), 0);
        });
        assert_eq!(rows(&store), (3, 3));
        let reader = store.reader().expect("reader");
        assert_eq!(problems(&reader.txn).expect("check"), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_refused_change_is_not_remembered_so_its_retry_runs() {
        use crate::store::commands::{CreateKeys, Replayable};
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        let create = |max_per_day| {
            let mut template = crate::license::License::for_tests("permanent", 1, 1_800_000_000);
            template.key = String::new();
            CreateKeys {
                template,
                count: 1,
                order_id: None,
                max_per_day,
                max_stored: -1,
            }
        };
        let key = || ReplayKey::new("FS", "h", "GetActivationKey");
        let deadline = || std::time::Instant::now() + std::time::Duration::from_secs(10);
        let now = crate::license::dates::now();
        let refused = store
            .run_remembered(create(0), deadline(), key(), now)
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(rows(&store), (0, 0));
        let made = store
            .run_remembered(create(-1), deadline(), key(), now)
            .await
            .expect("created");
        assert!(matches!(made, Replayable::Fresh(_)), "{made:?}");
        assert_eq!(rows(&store), (1, 1));
    }
}
