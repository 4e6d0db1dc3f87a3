//! The replay memory: a change made for a replay id is remembered with its outcome, in the
//! same write transaction as the change, so that a repeat of the id is answered with the
//! first outcome and changes nothing.
//!
//! A replay id names one signed request from outside (a body-signing plugin's signature, a
//! webhook's event id). Because the row is written by the writer inside the transaction of the
//! change, a crash can never leave a change without its row, nor a row without its change;
//! and a refused change writes no row, so a retry after a failure runs again.
//!
//! The memory is bounded: a row older than [`REPLAY_DAYS`] is dropped, and past
//! [`MAX_REPLAYS`] rows the oldest go first. The writer prunes in each batch that remembers
//! something and at least hourly otherwise, at most [`PRUNE_PER_BATCH`] rows at a time so a
//! batch never waits on a large clean-up. A row past its 30 days but not yet pruned is still
//! honoured: answering a late repeat with its first outcome is never worse than changing twice.

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::commands::Outcome;
use super::tables::{REPLAY_ORDER, REPLAYS, decode, encode, replay_order_key};
use crate::license::dates::SECONDS_PER_DAY;

/// How long a replay id is remembered, in days.
pub const REPLAY_DAYS: i64 = 30;

/// The most rows the memory keeps; past it the oldest are dropped. At roughly 1 KiB a row
/// (the outcome holds the licences changed) this bounds the memory near 100 MiB, and covers
/// more than 3,000 remembered changes a day for the whole 30 days.
pub const MAX_REPLAYS: u64 = 100_000;

/// The most rows one batch prunes.
pub const PRUNE_PER_BATCH: usize = 1_000;

/// Which replay a change is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayKey {
    /// The vendor, lower case (vendor names are compared ignoring case).
    pub vendor: String,
    /// The replay id, as the plugin wrote it.
    pub id: String,
    /// The method the request called: a repeat through another method is not answered with
    /// this outcome (see `crate::plugins::replay`).
    pub method: String,
}

impl ReplayKey {
    /// The key of `id` from `vendor` (any case) for `method`.
    pub fn new(vendor: &str, id: &str, method: &str) -> ReplayKey {
        ReplayKey {
            vendor: vendor.to_lowercase(),
            id: id.to_string(),
            method: method.to_string(),
        }
    }
}

/// A change's replay key and the request's time, carried with its command to the writer.
#[derive(Debug, Clone)]
pub(crate) struct Memo {
    pub(crate) key: ReplayKey,
    /// UTC Unix seconds: the row's age counts from here.
    pub(crate) at: i64,
}

/// A `replays_v1` value.
#[derive(Debug, Serialize, Deserialize)]
struct ReplayRow {
    at: i64,
    method: String,
    outcome: Outcome,
}

/// A `replay_order_v1` value: which row its key stands for.
#[derive(Debug, Serialize, Deserialize)]
struct OrderEntry {
    at: i64,
    vendor: String,
    id: String,
}

/// The first outcome remembered for `memo`'s key, as [`Outcome::Replayed`], or `None` when
/// the id is new.
pub(crate) fn recall(txn: &WriteTransaction, memo: &Memo) -> Result<Option<Outcome>, StoreError> {
    let rows = txn.open_table(REPLAYS)?;
    let Some(value) = rows.get((memo.key.vendor.as_str(), memo.key.id.as_str()))? else {
        return Ok(None);
    };
    let row: ReplayRow = decode(value.value())?;
    Ok(Some(Outcome::Replayed {
        method: row.method,
        first: Box::new(row.outcome),
    }))
}

/// Remembers `outcome` for `memo`'s key, in the transaction of the change it reports.
pub(crate) fn remember(
    txn: &WriteTransaction,
    memo: &Memo,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    // Only licence changes come with a replay id. A signing key (a private key) is never
    // copied into the memory, whatever a caller asks.
    if matches!(outcome, Outcome::SigningKey(_) | Outcome::Replayed { .. }) {
        return Ok(());
    }
    let key = &memo.key;
    let row = ReplayRow {
        at: memo.at,
        method: key.method.clone(),
        outcome: outcome.clone(),
    };
    let entry = OrderEntry {
        at: memo.at,
        vendor: key.vendor.clone(),
        id: key.id.clone(),
    };
    txn.open_table(REPLAYS)?.insert(
        (key.vendor.as_str(), key.id.as_str()),
        encode(&row)?.as_slice(),
    )?;
    txn.open_table(REPLAY_ORDER)?.insert(
        replay_order_key(memo.at, &key.vendor, &key.id).as_str(),
        encode(&entry)?.as_slice(),
    )?;
    Ok(())
}

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
    let cutoff = now - REPLAY_DAYS * SECONDS_PER_DAY;
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
    use super::*;
    use crate::store::{Store, StoreOptions};

    fn memo(vendor: &str, id: &str, at: i64) -> Memo {
        Memo {
            key: ReplayKey::new(vendor, id, "GetActivationKey"),
            at,
        }
    }

    fn outcome() -> Outcome {
        Outcome::SeatRecorded { still_there: true }
    }

    /// Runs `f` in one committed write transaction of a fresh database.
    fn with_txn<T>(store: &Store, f: impl FnOnce(&WriteTransaction) -> T) -> T {
        let db = store.shared.db().expect("db");
        let txn = db.begin_write().expect("txn");
        let out = f(&txn);
        txn.commit().expect("commit");
        out
    }

    fn rows(store: &Store) -> (u64, u64) {
        let reader = store.reader().expect("reader");
        let rows = reader.txn.open_table(REPLAYS).expect("table").len();
        let order = reader.txn.open_table(REPLAY_ORDER).expect("table").len();
        (rows.expect("len"), order.expect("len"))
    }

    #[test]
    fn a_remembered_id_is_recalled_by_vendor_in_any_case_and_others_are_new() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        with_txn(&store, |txn| {
            remember(txn, &memo("FastSpring", "h1", 1_000), &outcome()).expect("remember");
            let again = recall(txn, &memo("FASTSPRING", "h1", 2_000)).expect("recall");
            assert_eq!(
                again,
                Some(Outcome::Replayed {
                    method: "GetActivationKey".into(),
                    first: Box::new(outcome()),
                })
            );
            assert_eq!(
                recall(txn, &memo("FastSpring", "h2", 0)).expect("recall"),
                None
            );
            assert_eq!(recall(txn, &memo("Other", "h1", 0)).expect("recall"), None);
        });
        let reader = store.reader().expect("reader");
        assert_eq!(problems(&reader.txn).expect("check"), Vec::<String>::new());
    }

    #[test]
    fn rows_older_than_thirty_days_and_past_the_cap_are_pruned_oldest_first() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        let day = SECONDS_PER_DAY;
        let now = 100 * day;
        with_txn(&store, |txn| {
            remember(txn, &memo("v", "old", now - 31 * day), &outcome()).expect("old");
            remember(txn, &memo("v", "young", now - 29 * day), &outcome()).expect("young");
            assert_eq!(prune(txn, now, BOUNDS).expect("prune"), 1);
            assert!(
                recall(txn, &memo("v", "old", now))
                    .expect("recall")
                    .is_none()
            );
            assert!(
                recall(txn, &memo("v", "young", now))
                    .expect("recall")
                    .is_some()
            );
            assert_eq!(prune(txn, now, BOUNDS).expect("prune"), 0);
        });
        assert_eq!(rows(&store), (1, 1));
        // Past the cap the oldest go even when young, a bounded number per prune.
        let small = Bounds {
            max_rows: 3,
            per_prune: 2,
        };
        with_txn(&store, |txn| {
            for i in 0..5 {
                let at = now - day + i;
                remember(txn, &memo("v", &format!("r{i}"), at), &outcome()).expect("remember");
            }
            assert_eq!(prune(txn, now, small).expect("prune"), 2);
            assert!(
                recall(txn, &memo("v", "young", now))
                    .expect("recall")
                    .is_none()
            );
            assert!(
                recall(txn, &memo("v", "r0", now))
                    .expect("recall")
                    .is_none()
            );
            assert_eq!(prune(txn, now, small).expect("prune"), 1);
            assert!(
                recall(txn, &memo("v", "r1", now))
                    .expect("recall")
                    .is_none()
            );
            assert!(
                recall(txn, &memo("v", "r2", now))
                    .expect("recall")
                    .is_some()
            );
            assert_eq!(prune(txn, now, small).expect("prune"), 0);
        });
        assert_eq!(rows(&store), (3, 3));
        let reader = store.reader().expect("reader");
        assert_eq!(problems(&reader.txn).expect("check"), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_refused_change_is_not_remembered_so_its_retry_runs() {
        use crate::store::commands::{Command, CreateKeys};
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        let create = |max_per_day| {
            let mut template = crate::license::License::for_tests("permanent", 1, 1_800_000_000);
            template.key = String::new();
            Command::CreateKeys(CreateKeys {
                template,
                count: 1,
                order_id: None,
                max_per_day,
                max_stored: -1,
            })
        };
        let key = || ReplayKey::new("FS", "h", "GetActivationKey");
        let deadline = || std::time::Instant::now() + std::time::Duration::from_secs(10);
        let now = crate::license::dates::now();
        let refused = store
            .execute_remembered(create(0), deadline(), key(), now)
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(rows(&store), (0, 0));
        let made = store
            .execute_remembered(create(-1), deadline(), key(), now)
            .await
            .expect("created");
        assert!(matches!(made, Outcome::Created { .. }), "{made:?}");
        assert_eq!(rows(&store), (1, 1));
    }

    #[test]
    fn a_signing_key_or_a_replayed_answer_is_never_copied_into_the_memory() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        let key = Outcome::SigningKey(crate::signing::keys::StoredSigningKey {
            name: "licd-0".into(),
            created_at: 0,
            private_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
        });
        let replayed = Outcome::Replayed {
            method: "GetActivationKey".into(),
            first: Box::new(outcome()),
        };
        with_txn(&store, |txn| {
            remember(txn, &memo("v", "k", 0), &key).expect("remember");
            remember(txn, &memo("v", "r", 0), &replayed).expect("remember");
        });
        assert_eq!(rows(&store), (0, 0));
    }
}
