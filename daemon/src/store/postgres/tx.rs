//! The domain operations of [`Tx`] over one PostgreSQL transaction (READ COMMITTED).
//!
//! A licence is locked for its change with `SELECT … FOR UPDATE`: two nodes changing one
//! licence take turns, and the second reads what the first committed, so seats are never
//! over-issued whatever node a call lands on. Everything else a command writes is either
//! keyed by that licence (activations, history, release log) or a row no other transaction
//! needs to wait for:
//!
//! - counters are sharded: each transaction adds to one of [`SHARDS`] rows of a counter
//!   (picked once per transaction, so one transaction never holds two shards and two
//!   transactions cannot wait on each other in a cycle), and a read sums the shards;
//! - order ids and replay ids are serialised on a transaction-scoped advisory lock of their
//!   own, so a retried order that lands on two nodes at once is created once and the second
//!   finds the keys of the first;
//! - history and the release log take their order from identity columns; appends for one
//!   key happen under that licence's lock, so they commit in the order they were made.
//!
//! Each operation is one statement (two for the few that lock or write two rows), prepared
//! once per connection.

use deadpool_postgres::Transaction;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};

use super::db_error;
use crate::customers::{Customer, email_key};
use crate::license::authorization_code::AuthorizationCode;
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;
use crate::store::StoreError;
use crate::store::console_sessions::ConsoleSession;
use crate::store::embedded::tables::{INSTALL_COUNT, analytics_day_key};
use crate::store::outbox::{OutgoingMail, QueuedMail};
use crate::store::tx::{Group, InstallScope, OrderRef, RememberedChange, Tx};
use crate::store::webhook_outbox::{QueuedWebhook, WebhookEvent};

/// Rows per counter: enough that 16 nodes' worth of concurrent commands rarely pick the
/// same row, few enough that a read sums them in one index range.
pub const SHARDS: i16 = 16;

/// Counter names in `counters`.
pub(super) const COUNT_ACTIVATIONS: &str = "activations";
pub(super) const COUNT_KEYS_CREATED: &str = "keys_created";
pub(super) const COUNT_LICENSES: &str = "licenses_stored";
/// The `day` of a counter that is not per day.
pub(super) const ALWAYS: i64 = 0;

/// A counter's value: the sum of its shards.
pub(super) const READ_COUNTER: &str =
    "SELECT coalesce(sum(n), 0)::bigint FROM counters WHERE counter = $1 AND day = $2";
const BUMP_COUNTER: &str = "INSERT INTO counters (counter, day, shard, n) VALUES ($1, $2, $3, $4)
    ON CONFLICT (counter, day, shard) DO UPDATE SET n = counters.n + excluded.n";

const AUTH_CODE: &str = "SELECT value FROM authorization_codes WHERE hash = $1";
const AUTH_CODES_OF: &str = "SELECT value FROM authorization_codes WHERE email = $1
    ORDER BY created, hash COLLATE \"C\"";
const PUT_AUTH_CODE: &str = "INSERT INTO authorization_codes (hash, email, created, value)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (hash) DO UPDATE SET email = excluded.email, created = excluded.created,
    value = excluded.value";
const REMOVE_AUTH_CODE: &str = "DELETE FROM authorization_codes WHERE hash = $1";

const LICENSE_FOR_UPDATE: &str = "SELECT value FROM licenses WHERE key = $1 FOR UPDATE";
const LICENSE_EXISTS: &str = "SELECT 1 FROM licenses WHERE key = $1";
const PUT_LICENSE: &str = "INSERT INTO licenses (key, value) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub(super) const ACTIVATION: &str =
    "SELECT value FROM activations WHERE key = $1 AND computer_id = $2";
// "C": the byte order the embedded backend returns, whatever the database's collation.
pub(super) const ACTIVATIONS_OF: &str =
    "SELECT value FROM activations WHERE key = $1 ORDER BY computer_id COLLATE \"C\"";
const PUT_ACTIVATION: &str = "INSERT INTO activations (key, computer_id, value) VALUES ($1, $2, $3)
    ON CONFLICT (key, computer_id) DO UPDATE SET value = excluded.value";
const REMOVE_ACTIVATION: &str = "DELETE FROM activations WHERE key = $1 AND computer_id = $2";
const REMOVE_ACTIVATIONS: &str = "DELETE FROM activations WHERE key = $1";
const REMOVE_LICENSE: &str = "DELETE FROM licenses WHERE key = $1 RETURNING key";
const FORGET_ORDER: &str =
    "DELETE FROM orders WHERE vendor = $1 AND product_id = $2 AND order_id = $3";

pub(super) const RELEASE_TIMES: &str =
    "SELECT released_at FROM releases WHERE key = $1 ORDER BY seq";
const LOG_RELEASE: &str = "INSERT INTO releases (key, released_at) VALUES ($1, $2)";
const APPEND_HISTORY: &str = "INSERT INTO history (key, value) VALUES ($1, $2)";

/// Serialises one order id (or replay id) across nodes until the transaction ends.
const LOCK_NAME: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
const BY_ORDER: &str =
    "SELECT keys FROM orders WHERE vendor = $1 AND product_id = $2 AND order_id = $3";
const RECORD_ORDER: &str =
    "INSERT INTO orders (vendor, product_id, order_id, keys) VALUES ($1, $2, $3, $4)";

const BY_SUBSCRIPTION: &str =
    "SELECT key FROM subscriptions WHERE subscription_id = $1 ORDER BY key COLLATE \"C\"";
const JOIN_SUBSCRIPTION: &str = "INSERT INTO subscriptions (subscription_id, key) VALUES ($1, $2)
    ON CONFLICT DO NOTHING";
const LEAVE_SUBSCRIPTION: &str =
    "DELETE FROM subscriptions WHERE subscription_id = $1 AND key = $2";

/// A vendor's order (`o`) or subscription (`s`), the vendor in lower case; the primary key
/// is the index, so a group is one range read at any number of licences.
const VENDOR_GROUP_KEYS: &str = "SELECT key FROM vendor_groups
    WHERE vendor = $1 AND kind = $2 AND group_id = $3 ORDER BY key COLLATE \"C\"";
const JOIN_VENDOR_GROUP: &str = "INSERT INTO vendor_groups (vendor, kind, group_id, key)
    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const LEAVE_VENDOR_GROUP: &str = "DELETE FROM vendor_groups
    WHERE vendor = $1 AND kind = $2 AND group_id = $3 AND key = $4";

/// The columns of a vendor group: the vendor in lower case (vendor names are compared
/// ignoring case), the kind letter and the id.
fn group_columns<'g>(vendor: &str, group: &'g Group) -> (String, &'static str, &'g str) {
    let (kind, id) = match group {
        Group::Order(id) => ("o", id.as_str()),
        Group::Subscription(id) => ("s", id.as_str()),
    };
    (vendor.to_lowercase(), kind, id)
}

/// A customer, locked for the change (two transactions changing one customer take turns).
const CUSTOMER_FOR_UPDATE: &str = "SELECT value FROM customers WHERE id = $1 FOR UPDATE";
const CUSTOMER_BY_EMAIL: &str = "SELECT value FROM customers WHERE email_key = $1 FOR UPDATE";
const PUT_CUSTOMER: &str = "INSERT INTO customers (id, email_key, value) VALUES ($1, $2, $3)
    ON CONFLICT (id) DO UPDATE SET email_key = excluded.email_key, value = excluded.value";
const REMOVE_CUSTOMER: &str = "DELETE FROM customers WHERE id = $1";
pub(super) const CUSTOMER_KEYS: &str = "SELECT k.key FROM customers c
    JOIN customer_licenses k ON k.customer_id = c.id
    WHERE c.email_key = $1 ORDER BY k.key COLLATE \"C\"";
const JOIN_CUSTOMER: &str = "INSERT INTO customer_licenses (customer_id, key) VALUES ($1, $2)
    ON CONFLICT DO NOTHING";
const LEAVE_CUSTOMER: &str = "DELETE FROM customer_licenses WHERE customer_id = $1 AND key = $2";

pub(super) const CURRENT_SIGNING_KEY_NAME: &str =
    "SELECT convert_from(value, 'UTF8') FROM meta WHERE name = 'current_signing_key'";
const CURRENT_SIGNING_KEY: &str = "SELECT s.value FROM meta m JOIN signing_keys s
    ON s.name = convert_from(m.value, 'UTF8') WHERE m.name = 'current_signing_key'";
const PUT_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (name, created_at, value) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at, value = excluded.value";
const MAKE_CURRENT: &str = "INSERT INTO meta (name, value)
    VALUES ('current_signing_key', convert_to($1, 'UTF8'))
    ON CONFLICT (name) DO UPDATE SET value = excluded.value";

const RECALL_CHANGE: &str = "SELECT method, outcome FROM replays WHERE vendor = $1 AND id = $2";
const REMEMBER_CHANGE: &str =
    "INSERT INTO replays (vendor, id, at, method, outcome) VALUES ($1, $2, $3, $4, $5)";
/// Drops a bounded number of rows past the memory's age with each remembered change, so the
/// table stays bounded without a sweeper (store/replays.rs).
const PRUNE_REPLAYS: &str = "DELETE FROM replays WHERE (vendor, id) IN
    (SELECT vendor, id FROM replays WHERE at < $1 ORDER BY at LIMIT $2)";
/// PostgreSQL's own estimate of the rows of `replays` (kept by autovacuum's ANALYZE): read
/// with each remembered change, it costs nothing, where a `count(*)` would read the table.
const REPLAYS_ESTIMATE: &str =
    "SELECT reltuples::bigint FROM pg_class WHERE oid = 'replays'::regclass";
/// Past [`MAX_REPLAYS`](crate::store::replays::MAX_REPLAYS) rows the oldest go first, a
/// bounded number with each change, as on redb.
const PRUNE_REPLAYS_OVER: &str = "DELETE FROM replays WHERE (vendor, id) IN
    (SELECT vendor, id FROM replays ORDER BY at DESC, vendor, id OFFSET $1 LIMIT $2)";

/// Records the change's command id (`super::outcome`), holding a lock on it until the
/// transaction ends: a node resolving a lost COMMIT takes that lock first, so it reads the
/// id only once this transaction has committed or is gone.
const MARK_COMMAND: &str = "INSERT INTO command_ids (id, at)
    SELECT $1, $2 FROM (SELECT pg_advisory_xact_lock($1)) AS locked";
/// Drops a bounded number of ids past their age with each change; rows another node is
/// dropping at the same moment are skipped, not waited for.
const PRUNE_COMMANDS: &str = "DELETE FROM command_ids WHERE id IN
    (SELECT id FROM command_ids WHERE at < $1 ORDER BY at LIMIT 64 FOR UPDATE SKIP LOCKED)";

const INSTALL_FOR_UPDATE: &str = "SELECT value FROM analytics_installs WHERE id = $1 FOR UPDATE";
const PUT_INSTALL: &str = "INSERT INTO analytics_installs (id, value) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET value = excluded.value";
pub(super) const READ_ANALYTICS_COUNT: &str =
    "SELECT coalesce(max(n), 0)::bigint FROM analytics_counts WHERE name = $1";
const BUMP_ANALYTICS_COUNT: &str = "INSERT INTO analytics_counts (name, n) VALUES ($1, 1)
    ON CONFLICT (name) DO UPDATE SET n = analytics_counts.n + 1";

/// Parameters of a statement.
type Params<'p> = [&'p (dyn ToSql + Sync)];

/// One command's transaction.
pub(crate) struct PgTx<'c> {
    txn: Transaction<'c>,
    /// The counter row this transaction adds to.
    shard: i16,
    /// A statement failed with a serialization failure or deadlock: the whole command may
    /// be run again.
    pub(super) retryable: bool,
}

impl<'c> PgTx<'c> {
    /// Wraps an open transaction; `shard` picks the counter rows it adds to.
    pub(crate) fn new(txn: Transaction<'c>, shard: i16) -> Self {
        PgTx {
            txn,
            shard,
            retryable: false,
        }
    }

    /// Writes the change's command id `id`, made at `at` (UTC Unix seconds), and drops ids
    /// older than `oldest`.
    pub(crate) async fn mark_command(
        &mut self,
        id: i64,
        at: i64,
        oldest: i64,
    ) -> Result<(), StoreError> {
        self.execute(MARK_COMMAND, &[&id, &at]).await?;
        self.execute(PRUNE_COMMANDS, &[&oldest]).await
    }

    /// Commits; the change is durable (synchronous commit) when this returns `Ok`.
    pub(crate) async fn commit(self) -> Result<(), tokio_postgres::Error> {
        self.txn.commit().await
    }

    /// Ends the transaction without its changes.
    pub(crate) async fn rollback(self) {
        // A failed rollback leaves nothing behind: the server drops the transaction with the
        // connection, and a broken connection is not put back in the pool.
        let _ = self.txn.rollback().await;
    }

    fn failed(&mut self, e: tokio_postgres::Error) -> StoreError {
        if super::is_retryable(&e) {
            self.retryable = true;
        }
        db_error(e)
    }

    pub(super) async fn rows(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let statement = match self.txn.prepare_cached(sql).await {
            Ok(s) => s,
            Err(e) => return Err(self.failed(e)),
        };
        match self.txn.query(&statement, params).await {
            Ok(rows) => Ok(rows),
            Err(e) => Err(self.failed(e)),
        }
    }

    pub(super) async fn row(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(sql, params).await?.into_iter().next())
    }

    pub(super) async fn execute(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<(), StoreError> {
        let statement = match self.txn.prepare_cached(sql).await {
            Ok(s) => s,
            Err(e) => return Err(self.failed(e)),
        };
        match self.txn.execute(&statement, params).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// A counter read to decide a cap: first an advisory lock on that counter and day, held
    /// to the end of the transaction, so two nodes deciding the same cap take turns and the
    /// second sees the first's count (READ COMMITTED reads what committed before each
    /// statement). Only deployments that set the cap pay for it: commands read the count
    /// only then.
    async fn cap_counter(&mut self, name: &str, day: i64) -> Result<i64, StoreError> {
        self.lock_name(&format!("cap\u{1f}{name}\u{1f}{day}"))
            .await?;
        self.counter(name, day).await
    }

    /// An analytics count read to decide a cap, under an advisory lock on that count held to
    /// the end of the transaction, as [`PgTx::cap_counter`]. A command reads the counts of
    /// one install in a fixed order (key, address, total) and takes no other lock before
    /// them, so two adds never wait on each other in a cycle.
    async fn cap_analytics_count(&mut self, name: &str) -> Result<i64, StoreError> {
        self.lock_name(&format!("cap\u{1f}analytics\u{1f}{name}"))
            .await?;
        let row = self.row(READ_ANALYTICS_COUNT, &[&name]).await?;
        row.map_or(Ok(0), |r| column(&r, 0))
    }

    async fn counter(&mut self, name: &str, day: i64) -> Result<i64, StoreError> {
        let row = self.row(READ_COUNTER, &[&name, &day]).await?;
        row.map_or(Ok(0), |r| column(&r, 0))
    }

    async fn bump(&mut self, name: &str, day: i64, n: i64) -> Result<(), StoreError> {
        let shard = self.shard;
        self.execute(BUMP_COUNTER, &[&name, &day, &shard, &n]).await
    }

    async fn lock_name(&mut self, name: &str) -> Result<(), StoreError> {
        self.execute(LOCK_NAME, &[&name]).await
    }

    /// Locks `order` for this transaction; its vendor as stored (lower case, as vendor
    /// names compare) and its product id as a column value.
    async fn lock_order(&mut self, order: &OrderRef<'_>) -> Result<(String, i64), StoreError> {
        let vendor = order.vendor.to_lowercase();
        let name = format!(
            "order\u{1f}{vendor}\u{1f}{}\u{1f}{}",
            order.product_id, order.order_id
        );
        self.lock_name(&name).await?;
        Ok((vendor, i64::from(order.product_id)))
    }
}

/// Column `i` of `row`, a value that does not decode being corruption.
pub(super) fn column<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("a stored value: {e}")))
}

/// The JSON value in column `i` of `row`.
pub(super) fn json<T: DeserializeOwned>(row: &Row, i: usize) -> Result<T, StoreError> {
    let Json(value) = column::<Json<T>>(row, i)?;
    Ok(value)
}

/// A value as a JSON parameter.
fn as_json<T: Serialize>(value: &T) -> Json<&T> {
    Json(value)
}

impl Tx for PgTx<'_> {
    async fn license_for_update(&mut self, key: &str) -> Result<Option<License>, StoreError> {
        let row = self.row(LICENSE_FOR_UPDATE, &[&key]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn license_exists(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.row(LICENSE_EXISTS, &[&key]).await?.is_some())
    }

    async fn put_license(&mut self, license: &License) -> Result<(), StoreError> {
        self.execute(PUT_LICENSE, &[&license.key, &as_json(license)])
            .await
    }

    async fn licenses_stored(&mut self) -> Result<i64, StoreError> {
        self.cap_counter(COUNT_LICENSES, ALWAYS).await
    }

    async fn keys_created_on(&mut self, day: i64) -> Result<i64, StoreError> {
        self.cap_counter(COUNT_KEYS_CREATED, day).await
    }

    async fn count_new_licenses(&mut self, day: i64, n: i64) -> Result<(), StoreError> {
        self.bump(COUNT_KEYS_CREATED, day, n).await?;
        self.bump(COUNT_LICENSES, ALWAYS, n).await
    }

    async fn count_stored_license(&mut self) -> Result<(), StoreError> {
        self.bump(COUNT_LICENSES, ALWAYS, 1).await
    }

    async fn activation(
        &mut self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        let row = self.row(ACTIVATION, &[&key, &computer_id]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn activations(&mut self, key: &str) -> Result<Vec<Activation>, StoreError> {
        let rows = self.rows(ACTIVATIONS_OF, &[&key]).await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }

    async fn put_activation(
        &mut self,
        key: &str,
        activation: &Activation,
    ) -> Result<(), StoreError> {
        self.execute(
            PUT_ACTIVATION,
            &[&key, &activation.computer_id, &as_json(activation)],
        )
        .await
    }

    async fn remove_activation(&mut self, key: &str, computer_id: &str) -> Result<(), StoreError> {
        self.execute(REMOVE_ACTIVATION, &[&key, &computer_id]).await
    }

    async fn activations_on(&mut self, day: i64) -> Result<i64, StoreError> {
        self.cap_counter(COUNT_ACTIVATIONS, day).await
    }

    async fn count_activation(&mut self, day: i64) -> Result<(), StoreError> {
        self.bump(COUNT_ACTIVATIONS, day, 1).await
    }

    async fn release_times(&mut self, key: &str) -> Result<Vec<i64>, StoreError> {
        let rows = self.rows(RELEASE_TIMES, &[&key]).await?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    async fn log_release(&mut self, key: &str, time: i64) -> Result<(), StoreError> {
        self.execute(LOG_RELEASE, &[&key, &time]).await
    }

    async fn append_history(&mut self, key: &str, entry: &HistoryEntry) -> Result<(), StoreError> {
        self.execute(APPEND_HISTORY, &[&key, &as_json(entry)]).await
    }

    async fn by_order(&mut self, order: &OrderRef<'_>) -> Result<Option<Vec<String>>, StoreError> {
        let (vendor, product) = self.lock_order(order).await?;
        let row = self
            .row(BY_ORDER, &[&vendor, &product, &order.order_id])
            .await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn record_order(
        &mut self,
        order: &OrderRef<'_>,
        keys: &[&str],
    ) -> Result<(), StoreError> {
        // Taken again in case a command records an order it did not look up first (the
        // lock is re-entrant within a transaction).
        let (vendor, product) = self.lock_order(order).await?;
        self.execute(
            RECORD_ORDER,
            &[&vendor, &product, &order.order_id, &as_json(&keys)],
        )
        .await
    }

    async fn by_subscription(&mut self, subscription_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.rows(BY_SUBSCRIPTION, &[&subscription_id]).await?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    async fn join_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.execute(JOIN_SUBSCRIPTION, &[&subscription_id, &key])
            .await
    }

    async fn leave_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.execute(LEAVE_SUBSCRIPTION, &[&subscription_id, &key])
            .await
    }

    async fn vendor_group_keys(
        &mut self,
        vendor: &str,
        group: &Group,
    ) -> Result<Vec<String>, StoreError> {
        let (vendor, kind, id) = group_columns(vendor, group);
        let rows = self.rows(VENDOR_GROUP_KEYS, &[&vendor, &kind, &id]).await?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    async fn join_vendor_groups(&mut self, license: &License) -> Result<(), StoreError> {
        for group in Group::of(license) {
            let (vendor, kind, id) = group_columns(&license.vendor, &group);
            self.execute(JOIN_VENDOR_GROUP, &[&vendor, &kind, &id, &license.key])
                .await?;
        }
        Ok(())
    }

    async fn leave_vendor_groups(&mut self, license: &License) -> Result<(), StoreError> {
        for group in Group::of(license) {
            let (vendor, kind, id) = group_columns(&license.vendor, &group);
            self.execute(LEAVE_VENDOR_GROUP, &[&vendor, &kind, &id, &license.key])
                .await?;
        }
        Ok(())
    }

    async fn customer(&mut self, id: &str) -> Result<Option<Customer>, StoreError> {
        let row = self.row(CUSTOMER_FOR_UPDATE, &[&id]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn customer_by_email(&mut self, email: &str) -> Result<Option<Customer>, StoreError> {
        let key = email_key(email);
        // A row lock cannot hold an e-mail no customer has yet: the advisory lock on the
        // e-mail makes a second node creating the same customer wait, then find the first's.
        self.lock_name(&format!("customer\u{1f}{key}")).await?;
        let row = self.row(CUSTOMER_BY_EMAIL, &[&key]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn put_customer(&mut self, customer: &Customer) -> Result<(), StoreError> {
        let key = email_key(&customer.email);
        self.execute(PUT_CUSTOMER, &[&customer.id, &key, &Json(customer)])
            .await
    }

    async fn remove_customer(&mut self, id: &str) -> Result<(), StoreError> {
        self.execute(REMOVE_CUSTOMER, &[&id]).await
    }

    async fn license_keys_of_customer(&mut self, email: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.rows(CUSTOMER_KEYS, &[&email_key(email)]).await?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    async fn join_customer(&mut self, customer_id: &str, key: &str) -> Result<(), StoreError> {
        self.execute(JOIN_CUSTOMER, &[&customer_id, &key]).await
    }

    async fn leave_customer(&mut self, customer_id: &str, key: &str) -> Result<(), StoreError> {
        self.execute(LEAVE_CUSTOMER, &[&customer_id, &key]).await
    }

    async fn current_signing_key(&mut self) -> Result<Option<StoredSigningKey>, StoreError> {
        let row = self.row(CURRENT_SIGNING_KEY, &[]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn make_signing_key_current(&mut self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.execute(
            PUT_SIGNING_KEY,
            &[&key.name, &key.created_at, &as_json(key)],
        )
        .await?;
        self.execute(MAKE_CURRENT, &[&key.name]).await
    }

    async fn recall_change(
        &mut self,
        vendor: &str,
        id: &str,
    ) -> Result<Option<RememberedChange>, StoreError> {
        // Held to the end of the transaction: a repeat arriving on another node meanwhile
        // waits, then finds this change remembered.
        self.lock_name(&format!("replay\u{1f}{vendor}\u{1f}{id}"))
            .await?;
        let Some(row) = self.row(RECALL_CHANGE, &[&vendor, &id]).await? else {
            return Ok(None);
        };
        Ok(Some(RememberedChange {
            method: column(&row, 0)?,
            outcome: json(&row, 1)?,
        }))
    }

    async fn remember_change(
        &mut self,
        vendor: &str,
        id: &str,
        at: i64,
        change: &RememberedChange,
    ) -> Result<(), StoreError> {
        self.execute(
            REMEMBER_CHANGE,
            &[&vendor, &id, &at, &change.method, &as_json(&change.outcome)],
        )
        .await?;
        let oldest = at - crate::store::replays::REPLAY_SECONDS;
        let limit = crate::store::replays::PRUNE_PER_BATCH as i64;
        self.execute(PRUNE_REPLAYS, &[&oldest, &limit]).await?;
        // The row bound is applied once the estimate passes it (it lags the table until the
        // next ANALYZE, so the memory may hold a few rows more for a while, never fewer
        // than it should).
        let max = i64::try_from(crate::store::replays::MAX_REPLAYS).unwrap_or(i64::MAX);
        let estimate: i64 = match self.row(REPLAYS_ESTIMATE, &[]).await? {
            Some(row) => column(&row, 0)?,
            None => 0,
        };
        if estimate >= max {
            self.execute(PRUNE_REPLAYS_OVER, &[&max, &limit]).await?;
        }
        Ok(())
    }

    async fn authorization_code(
        &mut self,
        hash: &str,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        match self.row(AUTH_CODE, &[&hash]).await? {
            Some(row) => Ok(Some(json(&row, 0)?)),
            None => Ok(None),
        }
    }

    async fn authorization_codes_of(
        &mut self,
        email: &str,
    ) -> Result<Vec<AuthorizationCode>, StoreError> {
        // Held to the end of the transaction: the hourly limit and the wrong-code count of
        // one address are decided by one node at a time.
        self.lock_name(&format!("authcode\u{1f}{email}")).await?;
        self.rows(AUTH_CODES_OF, &[&email])
            .await?
            .iter()
            .map(|row| json(row, 0))
            .collect()
    }

    async fn put_authorization_code(&mut self, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.execute(
            PUT_AUTH_CODE,
            &[&code.hash, &code.email, &code.created, &as_json(code)],
        )
        .await?;
        Ok(())
    }

    async fn remove_authorization_code(
        &mut self,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        self.execute(REMOVE_AUTH_CODE, &[&code.hash]).await?;
        Ok(())
    }

    async fn install_for_update(&mut self, id: &str) -> Result<Option<Install>, StoreError> {
        let row = self.row(INSTALL_FOR_UPDATE, &[&id]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    async fn put_install(&mut self, install: &Install) -> Result<(), StoreError> {
        self.execute(PUT_INSTALL, &[&install.id, &as_json(install)])
            .await
    }

    async fn installs_stored(&mut self) -> Result<i64, StoreError> {
        self.cap_analytics_count(INSTALL_COUNT).await
    }

    async fn installs_added_on(
        &mut self,
        day: i64,
        scope: InstallScope<'_>,
    ) -> Result<i64, StoreError> {
        self.cap_analytics_count(&analytics_day_key(day, &scope.counter_name()))
            .await
    }

    async fn count_new_install(
        &mut self,
        day: i64,
        scopes: &[InstallScope<'_>],
    ) -> Result<(), StoreError> {
        for scope in scopes {
            let name = analytics_day_key(day, &scope.counter_name());
            self.execute(BUMP_ANALYTICS_COUNT, &[&name]).await?;
        }
        self.execute(BUMP_ANALYTICS_COUNT, &[&INSTALL_COUNT]).await
    }

    async fn enqueue_mail(&mut self, mail: &OutgoingMail, at: i64) -> Result<i64, StoreError> {
        super::outbox::enqueue(self, mail, at).await
    }

    async fn claim_due_mail(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        super::outbox::claim_due(self, now, lease_until, limit).await
    }

    async fn next_mail_due(&mut self) -> Result<Option<i64>, StoreError> {
        super::outbox::next_due(self).await
    }

    async fn queued_mail(&mut self) -> Result<Vec<QueuedMail>, StoreError> {
        super::outbox::all(self).await
    }

    async fn remove_mail(&mut self, id: i64) -> Result<bool, StoreError> {
        super::outbox::remove(self, id).await
    }

    async fn mail_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        super::outbox::failed(self, id, next_try_at, error).await
    }

    async fn retry_mail(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        super::outbox::retry(self, id, at).await
    }

    async fn remove_license(&mut self, key: &str) -> Result<(), StoreError> {
        self.execute(REMOVE_ACTIVATIONS, &[&key]).await?;
        if self.row(REMOVE_LICENSE, &[&key]).await?.is_some() {
            self.bump(COUNT_LICENSES, ALWAYS, -1).await?;
        }
        Ok(())
    }

    async fn forget_order(&mut self, order: &OrderRef<'_>) -> Result<(), StoreError> {
        let (vendor, product) = self.lock_order(order).await?;
        self.execute(FORGET_ORDER, &[&vendor, &product, &order.order_id])
            .await
    }

    async fn enqueue_webhook(&mut self, event: &WebhookEvent) -> Result<i64, StoreError> {
        super::webhook_outbox::enqueue(self, event).await
    }

    async fn claim_due_webhooks(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedWebhook>, StoreError> {
        super::webhook_outbox::claim_due(self, now, lease_until, limit).await
    }

    async fn next_webhook_due(&mut self) -> Result<Option<i64>, StoreError> {
        super::webhook_outbox::next_due(self).await
    }

    async fn queued_webhooks(&mut self) -> Result<Vec<QueuedWebhook>, StoreError> {
        super::webhook_outbox::all(self).await
    }

    async fn remove_webhook(&mut self, id: i64) -> Result<bool, StoreError> {
        super::webhook_outbox::remove(self, id).await
    }

    async fn webhook_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        dead: bool,
        error: &str,
    ) -> Result<bool, StoreError> {
        super::webhook_outbox::failed(self, id, next_try_at, dead, error).await
    }

    async fn retry_webhook(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        super::webhook_outbox::retry(self, id, at).await
    }

    async fn console_session(
        &mut self,
        digest: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        super::console_sessions::get(self, digest).await
    }

    async fn put_console_session(
        &mut self,
        digest: &str,
        session: &ConsoleSession,
    ) -> Result<(), StoreError> {
        super::console_sessions::put(self, digest, session).await
    }

    async fn remove_console_session(&mut self, digest: &str) -> Result<bool, StoreError> {
        super::console_sessions::remove(self, digest).await
    }

    async fn remove_expired_console_sessions(
        &mut self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        super::console_sessions::remove_expired(self, seen_before, created_before).await
    }
}
