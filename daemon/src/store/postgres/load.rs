//! An export (`licd export`'s JSON lines, written by either backend) loaded into an empty
//! PostgreSQL database in one transaction: `licd migrate --to postgres` and `licd import`.
//!
//! The database must hold nothing yet: no licence data and no server secret (a node that
//! started on it made one, and keeps it in memory). `meta` is locked first, so a node
//! starting meanwhile waits at its secret and then reads the one loaded. Every row is
//! written in the one transaction; a line that does not parse, a table or counter this
//! licd does not know, a missing `end` line or counts that do not add up roll everything
//! back. The export's layout is the embedded backend's (`_v1` tables, counters by name);
//! its `replay_order_v1` rows are the age index PostgreSQL keeps as an index, and its
//! sequence counters are PostgreSQL's identity columns, so neither is copied.

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::sync::mpsc::{Receiver, Sender};
use tokio_postgres::Transaction;
use tokio_postgres::types::{Json, ToSql};

use super::check::KNOWN_TABLES;
use super::tx::{COUNT_ACTIVATIONS, COUNT_KEYS_CREATED, COUNT_LICENSES, column, json};
use super::{PostgresSettings, db_error};
use crate::license::License;
use crate::store::StoreError;
use crate::store::embedded::export::{FORMAT, LAYOUT_VERSION};
use crate::store::embedded::import::{Header, Line, unhex};
use crate::store::tx::Group;

/// The schema of the embedded layout whose tables this loader maps.
const EXPORT_SCHEMA: u64 = 1;

/// Waits for a starting node's `INSERT` of its server secret until this load has committed.
const LOCK_META: &str = "LOCK TABLE meta IN SHARE ROW EXCLUSIVE MODE";

/// What a load wrote: rows per PostgreSQL table, in the order of [`TABLES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Rows written to each table, by table name.
    pub rows: Vec<(&'static str, u64)>,
    /// Whether the export carried the server secret (computer keys stay equal).
    pub secrets: bool,
}

/// The entry of `vendor_groups` in [`TABLES`].
const GROUPS: usize = 10;

/// The tables a load writes, and the statement that writes one row of each.
const TABLES: &[(&str, &str)] = &[
    ("meta", "INSERT INTO meta (name, value) VALUES ($1, $2)"),
    (
        "licenses",
        "INSERT INTO licenses (key, value) VALUES ($1, $2)",
    ),
    (
        "activations",
        "INSERT INTO activations (key, computer_id, value) VALUES ($1, $2, $3)",
    ),
    (
        "history",
        "INSERT INTO history (key, value) VALUES ($1, $2)",
    ),
    (
        "releases",
        "INSERT INTO releases (key, released_at) VALUES ($1, $2)",
    ),
    (
        "counters",
        "INSERT INTO counters (counter, day, shard, n) VALUES ($1, $2, 0, $3)",
    ),
    (
        "orders",
        "INSERT INTO orders (vendor, product_id, order_id, keys) VALUES ($1, $2, $3, $4)",
    ),
    (
        "subscriptions",
        "INSERT INTO subscriptions (subscription_id, key) VALUES ($1, $2)",
    ),
    (
        "replays",
        "INSERT INTO replays (vendor, id, at, method, outcome) VALUES ($1, $2, $3, $4, $5)",
    ),
    (
        "signing_keys",
        "INSERT INTO signing_keys (name, created_at, value) VALUES ($1, $2, $3)",
    ),
    (
        "vendor_groups",
        "INSERT INTO vendor_groups (vendor, kind, group_id, key) VALUES ($1, $2, $3, $4)",
    ),
    (
        "customers",
        "INSERT INTO customers (id, email_key, value) VALUES ($1, $2, $3)",
    ),
    (
        "customer_licenses",
        "INSERT INTO customer_licenses (customer_id, key) VALUES ($1, $2)",
    ),
    (
        "analytics_installs",
        "INSERT INTO analytics_installs (id, value) VALUES ($1, $2)",
    ),
    (
        "analytics_counts",
        "INSERT INTO analytics_counts (name, n) VALUES ($1, $2)",
    ),
    (
        "mail_outbox",
        "INSERT INTO mail_outbox (queued_at, next_try_at, attempts, last_error, message)
         VALUES ($1, $2, $3, $4, $5)",
    ),
];

/// The entries of `customers` and `customer_licenses` in [`TABLES`].
const CUSTOMERS: usize = 11;
const CUSTOMER_LICENSES: usize = 12;
/// The entries of `analytics_installs` and `analytics_counts` in [`TABLES`].
const INSTALLS: usize = 13;
const ANALYTICS_COUNTS: usize = 14;

/// The entry of `mail_outbox` in [`TABLES`].
const OUTBOX: usize = 15;

/// Export lines, sent one whole line at a time from a blocking thread (an export being
/// written, a file being read) to [`load_export`].
pub struct LineSender {
    lines: Sender<Result<String, StoreError>>,
    partial: Vec<u8>,
}

/// Lines in flight between the writer and the load.
const IN_FLIGHT: usize = 1024;

/// A sender of export lines and the receiver [`load_export`] reads.
pub fn line_channel() -> (LineSender, Receiver<Result<String, StoreError>>) {
    let (lines, receiver) = tokio::sync::mpsc::channel(IN_FLIGHT);
    (
        LineSender {
            lines,
            partial: Vec::new(),
        },
        receiver,
    )
}

impl LineSender {
    /// Sends the last line if it lacks its newline, or `failure`, which makes the load
    /// roll back.
    pub fn finish(mut self, failure: Option<StoreError>) {
        let rest = std::mem::take(&mut self.partial);
        let last = match failure {
            Some(e) => Err(e),
            None if rest.is_empty() => return,
            None => String::from_utf8(rest)
                .map_err(|_| StoreError::Unusable("the export is not UTF-8".into())),
        };
        // A load that ended already has its answer.
        let _ = self.lines.blocking_send(last);
    }
}

impl std::io::Write for LineSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let mut line = std::mem::replace(&mut self.partial, rest);
            line.pop();
            let line = String::from_utf8(line)
                .map_err(|_| StoreError::Unusable("the export is not UTF-8".into()));
            self.lines.blocking_send(line).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the load has stopped")
            })?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Loads the export arriving on `lines` into the empty database of `settings`, migrating its
/// schema first; nothing is written unless every line loads and the counts agree.
pub async fn load_export(
    settings: &PostgresSettings,
    mut lines: Receiver<Result<String, StoreError>>,
) -> Result<Loaded, StoreError> {
    let mut client = super::direct::connection(settings).await?;
    super::schema::migrate(&mut client).await?;
    let txn = client.transaction().await.map_err(db_error)?;
    txn.batch_execute(LOCK_META).await.map_err(db_error)?;
    refuse_non_empty(&txn).await?;
    let mut loader = Loader::new(&txn).await?;
    while let Some(line) = lines.recv().await {
        loader.line(&line?).await?;
    }
    let loaded = loader.finish().await?;
    txn.commit().await.map_err(db_error)?;
    Ok(loaded)
}

/// Refuses a database where any of licd's tables holds a row, naming them.
async fn refuse_non_empty(txn: &Transaction<'_>) -> Result<(), StoreError> {
    let mut full = Vec::new();
    for table in KNOWN_TABLES.iter().filter(|t| **t != "schema_version") {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let row = txn.query_one(&sql, &[]).await.map_err(db_error)?;
        if column::<bool>(&row, 0)? {
            full.push(*table);
        }
    }
    if full.is_empty() {
        return Ok(());
    }
    Err(StoreError::NotEmpty(format!(
        "the PostgreSQL database is not empty ({} hold rows{}); load into an empty database \
         (CREATE DATABASE … OWNER …) that no licd node has started on",
        full.join(", "),
        if full == ["meta"] {
            ": a node has started on it and made its server secret"
        } else {
            ""
        }
    )))
}

/// The load in progress.
struct Loader<'a, 't> {
    txn: &'a Transaction<'t>,
    statements: Vec<tokio_postgres::Statement>,
    /// Rows written per entry of [`TABLES`].
    written: Vec<u64>,
    /// Counter sums written, by (counter, day), to check against the table after.
    counters: BTreeMap<(String, i64), i64>,
    header: Option<Header>,
    rows: u64,
    end: Option<u64>,
}

/// Why a line cannot be loaded.
fn bad(line: u64, why: impl std::fmt::Display) -> StoreError {
    StoreError::Unusable(format!("line {line} of the export: {why}"))
}

impl<'a, 't> Loader<'a, 't> {
    async fn new(txn: &'a Transaction<'t>) -> Result<Self, StoreError> {
        let mut statements = Vec::new();
        for (_, sql) in TABLES {
            statements.push(txn.prepare(sql).await.map_err(db_error)?);
        }
        Ok(Loader {
            txn,
            statements,
            written: vec![0; TABLES.len()],
            counters: BTreeMap::new(),
            header: None,
            rows: 0,
            end: None,
        })
    }

    fn number(&self) -> u64 {
        self.rows + 2
    }

    async fn line(&mut self, text: &str) -> Result<(), StoreError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        if self.end.is_some() {
            return Err(bad(self.number(), "a line after the end line"));
        }
        if self.header.is_none() {
            let header: Header = serde_json::from_str(text)
                .map_err(|e| bad(1, format!("not a licd export header ({e})")))?;
            if header.format != FORMAT
                || header.version != LAYOUT_VERSION
                || header.schema != EXPORT_SCHEMA
            {
                return Err(bad(
                    1,
                    format!(
                        "format {} version {} schema {}; this licd reads {FORMAT} version \
                         {LAYOUT_VERSION} schema {EXPORT_SCHEMA}",
                        header.format, header.version, header.schema
                    ),
                ));
            }
            self.header = Some(header);
            return Ok(());
        }
        let n = self.number();
        let line: Line = serde_json::from_str(text).map_err(|e| bad(n, e))?;
        if let Some(end) = line.end {
            self.end = Some(end.rows);
            return Ok(());
        }
        let (Some(table), Some(key), Some(value)) = (line.table, line.key, line.value) else {
            return Err(bad(n, "a row needs a table, a key and a value"));
        };
        let value: Value = serde_json::from_str(value.get()).map_err(|e| bad(n, e))?;
        self.row(&table, key, value).await.map_err(|e| match e {
            StoreError::Unusable(why) => bad(n, format!("{table}: {why}")),
            other => other,
        })?;
        self.rows += 1;
        Ok(())
    }

    /// Writes statement `i` of [`TABLES`] with `params`.
    async fn write(&mut self, i: usize, params: &[&(dyn ToSql + Sync)]) -> Result<(), StoreError> {
        self.txn
            .execute(&self.statements[i], params)
            .await
            .map_err(db_error)?;
        self.written[i] += 1;
        Ok(())
    }

    async fn row(&mut self, table: &str, key: Value, value: Value) -> Result<(), StoreError> {
        match table {
            "meta_v1" => self.meta(&text(&key)?, &value).await,
            "licenses_v1" => self.write(1, &[&text(&key)?, &Json(&value)]).await,
            "activations_v1" => {
                let (k, pc) = pair(&key)?;
                self.write(2, &[&k, &pc, &Json(&value)]).await
            }
            "history_v1" => {
                let (k, _) = pair(&key)?;
                self.write(3, &[&k, &Json(&value)]).await
            }
            "releases_v1" => {
                let (k, _) = pair(&key)?;
                self.write(4, &[&k, &int(&value)?]).await
            }
            "counters_v1" => self.counter(&text(&key)?, int(&value)?).await,
            "orders_v1" => {
                let order = text(&key)?;
                let [vendor, product, id] = three_parts(&order)?;
                let product: i64 = product
                    .parse()
                    .map_err(|_| StoreError::Unusable(format!("product id {product:?}")))?;
                self.write(6, &[&vendor, &product, &id, &Json(&value)])
                    .await
            }
            "vendor_groups_v1" => {
                let (group, k) = pair(&key)?;
                let [vendor, kind, id] = three_parts(&group)?;
                self.write(GROUPS, &[&vendor, &kind, &id, &k]).await
            }
            "subscriptions_v1" => {
                let (id, k) = pair(&key)?;
                self.write(7, &[&id, &k]).await
            }
            "replays_v1" => {
                let (vendor, id) = pair(&key)?;
                let at = int(&value["at"])?;
                let method = text(&value["method"])?;
                let outcome = Json(&value["outcome"]);
                self.write(8, &[&vendor, &id, &at, &method, &outcome]).await
            }
            // Pending mail gets new ids (an identity column), in the export's order.
            "mail_outbox_v1" => {
                let state: crate::store::outbox::MailState = serde_json::from_value(value)
                    .map_err(|e| StoreError::Unusable(format!("a queued mail: {e}")))?;
                let attempts = i32::try_from(state.attempts).unwrap_or(i32::MAX);
                self.write(
                    OUTBOX,
                    &[
                        &state.queued_at,
                        &state.next_try_at,
                        &attempts,
                        &state.last_error,
                        &Json(&state.mail),
                    ],
                )
                .await
            }
            // PostgreSQL keeps the memory's age order as an index (`replays_by_age`).
            "replay_order_v1" => Ok(()),
            "customers_v1" => {
                let id = text(&key)?;
                let email = text(&value["email"])?;
                let email_key = crate::customers::email_key(&email);
                self.write(CUSTOMERS, &[&id, &email_key, &Json(&value)])
                    .await
            }
            // The e-mail index is the `email_key` column of `customers`.
            "customer_emails_v1" => Ok(()),
            "customer_licenses_v1" => {
                let (id, k) = pair(&key)?;
                self.write(CUSTOMER_LICENSES, &[&id, &k]).await
            }
            "signing_keys_v1" => {
                let name = text(&key)?;
                let created = int(&value["created_at"])?;
                self.write(9, &[&name, &created, &Json(&value)]).await
            }
            // Same keys and values on both backends (`store/redb/tables.rs`).
            "analytics_installs_v1" => self.write(INSTALLS, &[&text(&key)?, &Json(&value)]).await,
            "analytics_counts_v1" => {
                self.write(ANALYTICS_COUNTS, &[&text(&key)?, &int(&value)?])
                    .await
            }
            other => Err(StoreError::Unusable(format!(
                "a table this licd does not know ({other})"
            ))),
        }
    }

    async fn meta(&mut self, name: &str, value: &Value) -> Result<(), StoreError> {
        match name {
            // The schema is PostgreSQL's own (`schema_version`), migrated before the load,
            // and its subscription and vendor-group indexes are kept from the start: the embedded
            // backend's markers of both are not copied.
            "schema_version"
            | "subscriptions_indexed"
            | "vendor_groups_indexed"
            | "customers_linked" => Ok(()),
            "server_secret" | "current_signing_key" => {
                let bytes = unhex(&text(value)?)
                    .ok_or_else(|| StoreError::Unusable(format!("{name} is not hex")))?;
                if name == "server_secret" && bytes.len() != 32 {
                    return Err(StoreError::Unusable(
                        "the server secret is not 32 bytes".into(),
                    ));
                }
                self.write(0, &[&name, &bytes]).await
            }
            other => Err(StoreError::Unusable(format!(
                "a meta row this licd does not know ({other})"
            ))),
        }
    }

    /// A counter of the export by its embedded name (`licences`, `activations:DAY`,
    /// `keys_created:DAY`), into shard 0 of PostgreSQL's sharded counter.
    async fn counter(&mut self, name: &str, n: i64) -> Result<(), StoreError> {
        let (counter, day) = match name.split_once(':') {
            None if name == "licences" => (COUNT_LICENSES, 0),
            // Sequences and the batch number: identity columns and no batches here.
            None if matches!(
                name,
                "batch_seq" | "release_seq" | "history_seq" | "mail_seq"
            ) =>
            {
                return Ok(());
            }
            Some(("activations", day)) => (COUNT_ACTIVATIONS, parse_day(day)?),
            Some(("keys_created", day)) => (COUNT_KEYS_CREATED, parse_day(day)?),
            _ => {
                return Err(StoreError::Unusable(format!(
                    "a counter this licd does not know ({name})"
                )));
            }
        };
        self.write(5, &[&counter, &day, &n]).await?;
        *self.counters.entry((counter.to_string(), day)).or_default() += n;
        Ok(())
    }

    /// Files every licence under its vendor groups when the export carried none (one from
    /// a licd older than the groups), as the embedded import does.
    async fn fill_vendor_groups(&mut self) -> Result<(), StoreError> {
        if self.written[GROUPS] > 0 || self.written[1] == 0 {
            return Ok(());
        }
        let mut rows = Vec::new();
        let each = super::check::each_row(self.txn, "SELECT value FROM licenses", |row| {
            let license: License = json(row, 0)?;
            if license.upgraded_to.is_none() {
                for group in Group::of(&license) {
                    let (kind, id) = match group {
                        Group::Order(id) => ("o", id),
                        Group::Subscription(id) => ("s", id),
                    };
                    rows.push((license.vendor.to_lowercase(), kind, id, license.key.clone()));
                }
            }
            Ok(())
        });
        each.await?;
        for (vendor, kind, id, key) in rows {
            self.write(GROUPS, &[&vendor, &kind, &id, &key]).await?;
        }
        Ok(())
    }

    /// Checks the end line and that every table holds the rows written; returns the counts.
    async fn finish(mut self) -> Result<Loaded, StoreError> {
        self.fill_vendor_groups().await?;
        let Some(header) = self.header else {
            return Err(StoreError::Unusable("the export is empty".into()));
        };
        match self.end {
            Some(rows) if rows == self.rows => {}
            Some(rows) => {
                return Err(StoreError::Unusable(format!(
                    "the export's end line counts {rows} rows but {} came before it",
                    self.rows
                )));
            }
            None => {
                return Err(StoreError::Unusable(
                    "the export has no end line: it is truncated".into(),
                ));
            }
        }
        let mut rows = Vec::new();
        for ((table, _), written) in TABLES.iter().zip(&self.written) {
            let sql = format!("SELECT count(*) FROM {table}");
            let row = self.txn.query_one(&sql, &[]).await.map_err(db_error)?;
            let stored = column::<i64>(&row, 0)?;
            if u64::try_from(stored).ok() != Some(*written) {
                return Err(StoreError::Corrupt(format!(
                    "{table} holds {stored} rows after the load, {written} were written"
                )));
            }
            rows.push((*table, *written));
        }
        for ((counter, day), n) in &self.counters {
            let row = self
                .txn
                .query_one(super::tx::READ_COUNTER, &[counter, day])
                .await
                .map_err(db_error)?;
            let stored = column::<i64>(&row, 0)?;
            if stored != *n {
                return Err(StoreError::Corrupt(format!(
                    "counter {counter} of day {day} reads {stored} after the load, {n} were written"
                )));
            }
        }
        // An export of a licd older than customers carries e-mails on its licences: they
        // get their customers as migration V3 gives them to a database's own licences.
        // After the counts, which hold the rows the export carried.
        self.txn
            .batch_execute(super::schema::LINK_STORED_EMAILS)
            .await
            .map_err(db_error)?;
        Ok(Loaded {
            rows,
            secrets: header.secrets,
        })
    }
}

fn text(v: &Value) -> Result<String, StoreError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| StoreError::Unusable(format!("{v} is not a string")))
}

fn int(v: &Value) -> Result<i64, StoreError> {
    v.as_i64()
        .ok_or_else(|| StoreError::Unusable(format!("{v} is not an integer")))
}

/// A two-part key; the second part a string or a sequence number (not kept).
fn pair(v: &Value) -> Result<(String, String), StoreError> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => {
            let second = match b {
                Value::Number(n) => n.to_string(),
                other => text(other)?,
            };
            Ok((text(a)?, second))
        }
        _ => Err(StoreError::Unusable(format!("{v} is not a two-part key"))),
    }
}

/// The three parts of an embedded key joined by unit separators (vendor first).
fn three_parts(joined: &str) -> Result<[&str; 3], StoreError> {
    let mut parts = joined.splitn(3, '\u{1f}');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c)) => Ok([a, b, c]),
        _ => Err(StoreError::Unusable(format!(
            "key {joined:?} has not three parts"
        ))),
    }
}

fn parse_day(day: &str) -> Result<i64, StoreError> {
    day.parse()
        .map_err(|_| StoreError::Unusable(format!("counter day {day:?}")))
}
