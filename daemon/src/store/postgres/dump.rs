//! `licd export` on PostgreSQL: the database as the export's JSON lines, in the embedded
//! layout (`store/redb/export.rs`), so that `licd import` loads it into either backend and
//! a database moves back from PostgreSQL to redb.
//!
//! One REPEATABLE READ, READ ONLY transaction: a consistent snapshot while nodes serve.
//! Sharded counters are written as their sums under the embedded names; the embedded
//! backend's sequence counters (`history_seq`, `release_seq`) are written one past the
//! largest sequence number, and its replay age index (`replay_order_v1`) is written from the
//! replay rows, so an import into redb continues both where PostgreSQL stopped.

use std::io::Write;

use serde_json::{Value, json};
use tokio_postgres::types::Json;
use tokio_postgres::{Client, Row, Transaction};

use super::check::each_row;
use super::tx::{COUNT_ACTIVATIONS, COUNT_KEYS_CREATED, COUNT_LICENSES, column};
use super::{PostgresSettings, db_error};
use crate::store::StoreError;
use crate::store::embedded::export::{FORMAT, LAYOUT_VERSION, hex};
use crate::store::embedded::tables::{SCHEMA_VERSION, replay_order_key};

const META: &str = "SELECT name, value FROM meta WHERE name = ANY($1) ORDER BY name";
const LICENSES: &str = "SELECT key, value FROM licenses ORDER BY key COLLATE \"C\"";
const ACTIVATIONS: &str = "SELECT key, computer_id, value FROM activations
    ORDER BY key COLLATE \"C\", computer_id COLLATE \"C\"";
const HISTORY: &str = "SELECT key, seq, value FROM history ORDER BY key COLLATE \"C\", seq";
const RELEASES: &str = "SELECT key, seq, released_at FROM releases ORDER BY key COLLATE \"C\", seq";
const COUNTERS: &str = "SELECT counter, day, sum(n)::bigint FROM counters
    GROUP BY counter, day ORDER BY counter, day";
const NEXT_SEQ: &str = "SELECT (SELECT coalesce(max(seq), 0) + 1 FROM history),
    (SELECT coalesce(max(seq), 0) + 1 FROM releases)";
const ORDERS: &str = "SELECT vendor, product_id, order_id, keys FROM orders
    ORDER BY vendor, product_id, order_id";
const SUBSCRIPTIONS: &str = "SELECT subscription_id, key FROM subscriptions
    ORDER BY subscription_id COLLATE \"C\", key COLLATE \"C\"";
const VENDOR_GROUPS: &str = "SELECT vendor, kind, group_id, key FROM vendor_groups
    ORDER BY vendor, kind, group_id, key COLLATE \"C\"";
const REPLAYS: &str = "SELECT vendor, id, at, method, outcome FROM replays ORDER BY vendor, id";
const CUSTOMERS: &str = "SELECT id, email_key, value FROM customers ORDER BY id COLLATE \"C\"";
const CUSTOMER_LICENSES: &str = "SELECT customer_id, key FROM customer_licenses
    ORDER BY customer_id COLLATE \"C\", key COLLATE \"C\"";
const INSTALLS: &str = "SELECT id, value FROM analytics_installs ORDER BY id COLLATE \"C\"";
const ANALYTICS_COUNTS: &str = "SELECT name, n FROM analytics_counts ORDER BY name COLLATE \"C\"";
const SIGNING_KEYS: &str = "SELECT name, value FROM signing_keys ORDER BY name COLLATE \"C\"";
const MAIL_OUTBOX: &str = "SELECT id, queued_at, next_try_at, attempts, last_error, message
    FROM mail_outbox ORDER BY id";
const MAIL_SEQ: &str = "SELECT coalesce(max(id), 0) FROM mail_outbox";

/// Connects to the database of `settings` and writes its export to `out`.
pub async fn export_database(
    settings: &PostgresSettings,
    out: &mut dyn Write,
    secrets: bool,
) -> Result<u64, StoreError> {
    let mut client = super::direct::connection(settings).await?;
    export(&mut client, out, secrets).await
}

/// Writes the export of the database on `client` to `out`; without `secrets`, leaves out
/// the server secret and the signing keys. Returns the rows written.
pub(super) async fn export(
    client: &mut Client,
    out: &mut dyn Write,
    secrets: bool,
) -> Result<u64, StoreError> {
    let txn = super::direct::snapshot(client).await?;
    let header = json!({
        "format": FORMAT,
        "version": LAYOUT_VERSION,
        "licd": env!("CARGO_PKG_VERSION"),
        "schema": SCHEMA_VERSION,
        "secrets": secrets,
    });
    let mut lines = Lines { out, rows: 0 };
    lines.put(&header)?;
    write_rows(&txn, &mut lines, secrets).await?;
    let rows = lines.rows;
    lines.put(&json!({ "end": { "rows": rows } }))?;
    lines.out.flush().map_err(io)?;
    txn.rollback().await.map_err(db_error)?;
    Ok(rows)
}

/// The lines written so far.
struct Lines<'a> {
    out: &'a mut dyn Write,
    rows: u64,
}

impl Lines<'_> {
    fn put(&mut self, line: &Value) -> Result<(), StoreError> {
        writeln!(self.out, "{line}").map_err(io)
    }

    fn row(&mut self, table: &str, key: Value, value: Value) -> Result<(), StoreError> {
        self.put(&json!({ "table": table, "key": key, "value": value }))?;
        self.rows += 1;
        Ok(())
    }
}

fn io(source: std::io::Error) -> StoreError {
    StoreError::File {
        what: "cannot write the export",
        path: "-".into(),
        source,
    }
}

fn value(row: &Row, i: usize) -> Result<Value, StoreError> {
    let Json(v) = column::<Json<Value>>(row, i)?;
    Ok(v)
}

async fn write_rows(
    txn: &Transaction<'_>,
    lines: &mut Lines<'_>,
    secrets: bool,
) -> Result<(), StoreError> {
    let names: Vec<&str> = if secrets {
        vec!["current_signing_key", "server_secret"]
    } else {
        vec!["current_signing_key"]
    };
    for row in txn.query(META, &[&names]).await.map_err(db_error)? {
        let (name, bytes): (String, Vec<u8>) = (column(&row, 0)?, column(&row, 1)?);
        lines.row("meta_v1", json!(name), json!(hex(&bytes)))?;
    }
    each_row(txn, LICENSES, |r| {
        lines.row("licenses_v1", json!(column::<String>(r, 0)?), value(r, 1)?)
    })
    .await?;
    each_row(txn, ACTIVATIONS, |r| {
        let key = json!([column::<String>(r, 0)?, column::<String>(r, 1)?]);
        lines.row("activations_v1", key, value(r, 2)?)
    })
    .await?;
    each_row(txn, HISTORY, |r| {
        let key = json!([column::<String>(r, 0)?, column::<i64>(r, 1)?]);
        lines.row("history_v1", key, value(r, 2)?)
    })
    .await?;
    each_row(txn, RELEASES, |r| {
        let key = json!([column::<String>(r, 0)?, column::<i64>(r, 1)?]);
        lines.row("releases_v1", key, json!(column::<i64>(r, 2)?))
    })
    .await?;
    write_counters(txn, lines).await?;
    each_row(txn, ORDERS, |r| {
        let key = format!(
            "{}\u{1f}{}\u{1f}{}",
            column::<String>(r, 0)?,
            column::<i64>(r, 1)?,
            column::<String>(r, 2)?
        );
        lines.row("orders_v1", json!(key), value(r, 3)?)
    })
    .await?;
    each_row(txn, SUBSCRIPTIONS, |r| {
        let key = json!([column::<String>(r, 0)?, column::<String>(r, 1)?]);
        lines.row("subscriptions_v1", key, Value::Null)
    })
    .await?;
    each_row(txn, VENDOR_GROUPS, |r| {
        let group = format!(
            "{}\u{1f}{}\u{1f}{}",
            column::<String>(r, 0)?,
            column::<String>(r, 1)?,
            column::<String>(r, 2)?
        );
        let key = json!([group, column::<String>(r, 3)?]);
        lines.row("vendor_groups_v1", key, Value::Null)
    })
    .await?;
    // The embedded layout: the record, its e-mail index row, and its keys.
    each_row(txn, CUSTOMERS, |r| {
        let id: String = column(r, 0)?;
        lines.row("customers_v1", json!(id), value(r, 2)?)?;
        lines.row(
            "customer_emails_v1",
            json!(column::<String>(r, 1)?),
            json!(id),
        )
    })
    .await?;
    each_row(txn, CUSTOMER_LICENSES, |r| {
        let key = json!([column::<String>(r, 0)?, column::<String>(r, 1)?]);
        lines.row("customer_licenses_v1", key, Value::Null)
    })
    .await?;
    each_row(txn, REPLAYS, |r| {
        let (vendor, id, at): (String, String, i64) = (column(r, 0)?, column(r, 1)?, column(r, 2)?);
        let method: String = column(r, 3)?;
        let outcome = value(r, 4)?;
        lines.row(
            "replays_v1",
            json!([vendor, id]),
            json!({ "at": at, "method": method, "outcome": outcome }),
        )?;
        lines.row(
            "replay_order_v1",
            json!(replay_order_key(at, &vendor, &id)),
            json!({ "at": at, "vendor": vendor, "id": id }),
        )
    })
    .await?;
    // Installs and their counts under the embedded names, which PostgreSQL keeps as they are.
    each_row(txn, INSTALLS, |r| {
        let id: String = column(r, 0)?;
        lines.row("analytics_installs_v1", json!(id), value(r, 1)?)
    })
    .await?;
    each_row(txn, ANALYTICS_COUNTS, |r| {
        let (name, n): (String, i64) = (column(r, 0)?, column(r, 1)?);
        lines.row("analytics_counts_v1", json!(name), json!(n))
    })
    .await?;
    if secrets {
        each_row(txn, SIGNING_KEYS, |r| {
            lines.row(
                "signing_keys_v1",
                json!(column::<String>(r, 0)?),
                value(r, 1)?,
            )
        })
        .await?;
        // Pending mail may hold authorization codes: a secret, as on redb.
        each_row(txn, MAIL_OUTBOX, |r| {
            let mail = super::outbox::queued(r)?;
            let id = mail.id;
            let state = crate::store::outbox::MailState {
                mail: mail.mail,
                queued_at: mail.queued_at,
                attempts: mail.attempts,
                next_try_at: mail.next_try_at,
                last_error: mail.last_error,
            };
            let value =
                serde_json::to_value(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            lines.row("mail_outbox_v1", json!(id), value)
        })
        .await?;
    }
    Ok(())
}

/// The counters under their embedded names, and the embedded sequence counters.
async fn write_counters(txn: &Transaction<'_>, lines: &mut Lines<'_>) -> Result<(), StoreError> {
    for row in txn.query(COUNTERS, &[]).await.map_err(db_error)? {
        let (counter, day, n): (String, i64, i64) =
            (column(&row, 0)?, column(&row, 1)?, column(&row, 2)?);
        let name = match counter.as_str() {
            COUNT_LICENSES => "licences".to_string(),
            COUNT_ACTIVATIONS => format!("activations:{day}"),
            COUNT_KEYS_CREATED => format!("keys_created:{day}"),
            other => {
                return Err(StoreError::Unusable(format!(
                    "a counter this licd does not know ({other})"
                )));
            }
        };
        lines.row("counters_v1", json!(name), json!(n))?;
    }
    let next = txn.query_one(NEXT_SEQ, &[]).await.map_err(db_error)?;
    let (history, releases): (i64, i64) = (column(&next, 0)?, column(&next, 1)?);
    lines.row("counters_v1", json!("history_seq"), json!(history))?;
    lines.row("counters_v1", json!("release_seq"), json!(releases))?;
    let last_mail = txn.query_one(MAIL_SEQ, &[]).await.map_err(db_error)?;
    lines.row(
        "counters_v1",
        json!("mail_seq"),
        json!(column::<i64>(&last_mail, 0)?),
    )
}
