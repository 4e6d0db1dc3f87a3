//! `licd check` on PostgreSQL: licd's invariants, read from one REPEATABLE READ, READ ONLY
//! transaction, so it runs while nodes serve (it takes no lock a command waits for).
//!
//! The rules are those of the embedded check that apply to this layout: the schema version
//! and the server secret are there; every licence decodes and is stored under its own key;
//! each licence's seat count equals its activation rows and does not pass its seats; every
//! activation, history entry, release, order and subscription names a licence that exists
//! (the foreign key guards only activations, and only while nobody disables it), and so
//! does every vendor group row; every
//! subscription row matches its licence's subscription; the licence counter (summed over its
//! shards) equals the licences stored; every signing key decodes and the current one exists;
//! no table is one this licd does not know. PostgreSQL's own page checks are `pg_amcheck`'s.

use std::collections::HashMap;

use tokio_postgres::types::Json;
use tokio_postgres::{Client, Row, Transaction};

use super::schema::SCHEMA_VERSION;
use super::tx::{ALWAYS, COUNT_LICENSES, READ_COUNTER, column as get};
use super::{PostgresSettings, db_error};
use crate::license::history::HistoryEntry;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;
use crate::store::{CheckReport, StoreError};

/// Most problems listed in one report, as the embedded check.
const MAX_PROBLEMS: usize = 100;

/// Rows fetched per round trip by [`each_row`].
const BATCH: i32 = 1_000;

/// Every table the schema makes.
pub(super) const KNOWN_TABLES: &[&str] = &[
    "schema_version",
    "meta",
    "licenses",
    "activations",
    "history",
    "releases",
    "counters",
    "orders",
    "subscriptions",
    "vendor_groups",
    "customers",
    "customer_licenses",
    "signing_keys",
    "replays",
    "analytics_installs",
    "analytics_counts",
    "mail_outbox",
    // Short-lived, of the nodes only (a lost COMMIT's look-up, strict signatures in their
    // window): nothing to check against the licences, and neither export nor migrate
    // carries them.
    "command_ids",
    "strict_signatures",
    // Authorization codes live minutes; export and migrate leave them out (a customer
    // requests a new one), as the embedded backend's export does.
    "authorization_codes",
    // Events waiting for their endpoint belong to the nodes that made them; export and
    // migrate leave them out, as the embedded backend's export does.
    "webhook_outbox",
    // Staff sessions belong to the nodes; export and migrate leave them out (staff log in
    // again), as the embedded backend's export does.
    "console_sessions",
];

const TABLES: &str = "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()
    ORDER BY tablename";
const VERSION: &str = "SELECT version FROM schema_version";
const SECRET_LENGTH: &str = "SELECT length(value) FROM meta WHERE name = 'server_secret'";
const LICENSES: &str = "SELECT key, value FROM licenses ORDER BY key COLLATE \"C\"";
const ACTIVATIONS: &str = "SELECT key, computer_id, value FROM activations";
const ORPHAN_ACTIVATIONS: &str = "SELECT a.key, a.computer_id FROM activations a
    WHERE NOT EXISTS (SELECT 1 FROM licenses l WHERE l.key = a.key)";
const HISTORY: &str = "SELECT key, seq, value FROM history";
// The history and release log of a licence deleted by `licd keys delete` stay, after a last
// `deleted` history line: they name no licence, and rightly.
const ORPHAN_HISTORY: &str = "SELECT h.key, h.seq FROM history h
    WHERE NOT EXISTS (SELECT 1 FROM licenses l WHERE l.key = h.key)
      AND NOT EXISTS (SELECT 1 FROM history d WHERE d.key = h.key
                      AND d.value->>'event' = 'deleted')";
const ORPHAN_RELEASES: &str = "SELECT r.key, r.seq FROM releases r
    WHERE NOT EXISTS (SELECT 1 FROM licenses l WHERE l.key = r.key)
      AND NOT EXISTS (SELECT 1 FROM history d WHERE d.key = r.key
                      AND d.value->>'event' = 'deleted')";
const ORPHAN_VENDOR_GROUPS: &str = "SELECT g.vendor, g.kind, g.group_id, g.key
    FROM vendor_groups g WHERE NOT EXISTS (SELECT 1 FROM licenses l WHERE l.key = g.key)";
const ORDERS: &str = "SELECT vendor, product_id, order_id, keys FROM orders";
/// A customer link that disagrees with its licence (missing, or naming another customer),
/// and a licence naming a customer that is not there or not linked back.
const CUSTOMER_LINKS: &str = "SELECT k.customer_id, k.key, l.key IS NOT NULL
    FROM customer_licenses k LEFT JOIN licenses l ON l.key = k.key
    WHERE l.key IS NULL OR l.value->>'customer' IS DISTINCT FROM k.customer_id";
const LICENSE_CUSTOMERS: &str = "SELECT l.key, l.value->>'customer' FROM licenses l
    WHERE l.value->>'customer' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customer_licenses k
        JOIN customers c ON c.id = k.customer_id
        WHERE k.key = l.key AND k.customer_id = l.value->>'customer')";
const SUBSCRIPTIONS: &str = "SELECT s.subscription_id, s.key, l.value->>'subscription_id',
    l.key IS NOT NULL FROM subscriptions s LEFT JOIN licenses l ON l.key = s.key";
const SIGNING_KEYS: &str = "SELECT name, value FROM signing_keys";
const INSTALLS: &str = "SELECT id, value::text FROM analytics_installs";
const MAIL_OUTBOX: &str = "SELECT id, message FROM mail_outbox";
const CURRENT_KEY_MISSING: &str = "SELECT convert_from(m.value, 'UTF8') FROM meta m
    WHERE m.name = 'current_signing_key'
      AND NOT EXISTS (SELECT 1 FROM signing_keys s WHERE s.name = convert_from(m.value, 'UTF8'))";

/// Connects to the database of `settings` and checks it, without migrating its schema or
/// writing anything (a node need not have started with this licd's version).
pub async fn check_database(settings: &PostgresSettings) -> Result<CheckReport, StoreError> {
    let mut client = super::direct::connection(settings).await?;
    check(&mut client).await
}

/// Runs the checks on `client` in one read-only snapshot.
pub(super) async fn check(client: &mut Client) -> Result<CheckReport, StoreError> {
    let txn = super::direct::snapshot(client).await?;
    let mut report = Report::default();
    if report.tables_and_meta(&txn).await? {
        let licenses = report.licenses(&txn).await?;
        report.activations(&txn, &licenses).await?;
        report.history(&txn).await?;
        report.orders(&txn, &licenses).await?;
        report.subscriptions(&txn).await?;
        report.vendor_groups(&txn).await?;
        report.customers(&txn).await?;
        report.license_counter(&txn).await?;
        report.installs(&txn).await?;
        report.signing_keys(&txn).await?;
        report.mail_outbox(&txn).await?;
    }
    // A read-only transaction: ending it either way changes nothing.
    txn.rollback().await.map_err(db_error)?;
    Ok(report.0)
}

/// Each licence that decodes, by key: (seats in use, seats).
type LicenseIndex = HashMap<String, (u32, u32)>;

#[derive(Default)]
struct Report(CheckReport);

impl Report {
    fn problem(&mut self, text: String) {
        if self.0.problems.len() < MAX_PROBLEMS {
            self.0.problems.push(text);
        }
    }

    /// The tables are the schema's and meta holds the version and a secret; `false` when
    /// there is no licd schema at all (nothing else can be read).
    async fn tables_and_meta(&mut self, txn: &Transaction<'_>) -> Result<bool, StoreError> {
        let tables: Vec<String> = strings(txn.query(TABLES, &[]).await.map_err(db_error)?)?;
        if !tables.iter().any(|t| t == "licenses") {
            self.problem("the database has no licd schema (no node has started on it)".into());
            return Ok(false);
        }
        for table in tables
            .iter()
            .filter(|t| !KNOWN_TABLES.contains(&t.as_str()))
        {
            self.problem(format!("table {table} is not one this licd knows"));
        }
        let version: Option<i64> = match txn.query_opt(VERSION, &[]).await.map_err(db_error)? {
            Some(row) => Some(get(&row, 0)?),
            None => None,
        };
        if version != Some(SCHEMA_VERSION) {
            self.problem(format!(
                "schema_version says {version:?}, this licd knows version {SCHEMA_VERSION}"
            ));
        }
        let secret = txn.query_opt(SECRET_LENGTH, &[]).await.map_err(db_error)?;
        let length: Option<i32> = secret.map(|r| get(&r, 0)).transpose()?;
        if length != Some(32) {
            self.problem("meta has no valid 32-byte server secret".into());
        }
        Ok(true)
    }

    /// Every licence decodes under its own key; returns those that decode.
    async fn licenses(&mut self, txn: &Transaction<'_>) -> Result<LicenseIndex, StoreError> {
        let mut licenses = LicenseIndex::new();
        each_row(txn, LICENSES, |row| {
            let key: String = get(row, 0)?;
            self.0.licenses += 1;
            match decoded::<License>(row, 1)? {
                Ok(l) => {
                    if l.key != key {
                        self.problem(format!("licence {key} is stored with key {}", l.key));
                    }
                    licenses.insert(key, (l.activations_used, l.activations_allowed));
                }
                Err(e) => self.problem(format!("licence {key} does not decode: {e}")),
            }
            Ok(())
        })
        .await?;
        Ok(licenses)
    }

    /// Every activation decodes and names a licence; each licence's count equals its rows
    /// and is within its seats.
    async fn activations(
        &mut self,
        txn: &Transaction<'_>,
        licenses: &LicenseIndex,
    ) -> Result<(), StoreError> {
        let mut rows: HashMap<String, u32> = HashMap::new();
        each_row(txn, ACTIVATIONS, |row| {
            let (key, pc): (String, String) = (get(row, 0)?, get(row, 1)?);
            self.0.activations += 1;
            if let Err(e) = decoded::<Activation>(row, 2)? {
                self.problem(format!("activation of {key} on {pc} does not decode: {e}"));
            }
            *rows.entry(key).or_default() += 1;
            Ok(())
        })
        .await?;
        each_row(txn, ORPHAN_ACTIVATIONS, |row| {
            let (key, pc): (String, String) = (get(row, 0)?, get(row, 1)?);
            self.problem(format!("activation on {pc} names a missing licence {key}"));
            Ok(())
        })
        .await?;
        let mut keys: Vec<&String> = licenses.keys().collect();
        keys.sort();
        for key in keys {
            let (used, seats) = licenses[key];
            let stored = rows.get(key).copied().unwrap_or(0);
            if used != stored {
                self.problem(format!(
                    "licence {key} counts {used} activations but {stored} are stored"
                ));
            }
            if stored > seats {
                self.problem(format!(
                    "licence {key} has {stored} activations stored but only {seats} seats"
                ));
            }
        }
        Ok(())
    }

    /// Every history entry decodes; history entries and releases name licences that exist.
    async fn history(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        each_row(txn, HISTORY, |row| {
            let (key, seq): (String, i64) = (get(row, 0)?, get(row, 1)?);
            if let Err(e) = decoded::<HistoryEntry>(row, 2)? {
                self.problem(format!("history entry {seq} of {key} does not decode: {e}"));
            }
            Ok(())
        })
        .await?;
        for (sql, what) in [
            (ORPHAN_HISTORY, "history entry"),
            (ORPHAN_RELEASES, "release"),
        ] {
            each_row(txn, sql, |row| {
                let (key, seq): (String, i64) = (get(row, 0)?, get(row, 1)?);
                self.problem(format!("{what} {seq} names a missing licence {key}"));
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Every order decodes and names only licences that exist.
    async fn orders(
        &mut self,
        txn: &Transaction<'_>,
        licenses: &LicenseIndex,
    ) -> Result<(), StoreError> {
        each_row(txn, ORDERS, |row| {
            let vendor: String = get(row, 0)?;
            let product: i64 = get(row, 1)?;
            let id: String = get(row, 2)?;
            let order = format!("{vendor}/{product}/{id}");
            match decoded::<Vec<String>>(row, 3)? {
                Ok(keys) => {
                    for key in keys.iter().filter(|k| !licenses.contains_key(*k)) {
                        self.problem(format!("order {order} names a missing licence {key}"));
                    }
                }
                Err(e) => self.problem(format!("order {order} does not decode: {e}")),
            }
            Ok(())
        })
        .await
    }

    /// Every analytics install decodes under its own id, and the install counter counts them.
    async fn installs(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        let mut check = crate::store::install_check::InstallCheck::default();
        each_row(txn, INSTALLS, |row| {
            let (id, value): (String, String) = (get(row, 0)?, get(row, 1)?);
            check.row(&id, value.as_bytes());
            Ok(())
        })
        .await?;
        let counted = txn
            .query_one(
                super::tx::READ_ANALYTICS_COUNT,
                &[&crate::store::embedded::tables::INSTALL_COUNT],
            )
            .await
            .map_err(db_error)?;
        for problem in check.finish(get(&counted, 0)?) {
            self.problem(problem);
        }
        Ok(())
    }

    /// Every vendor group row names a licence that exists.
    async fn vendor_groups(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        each_row(txn, ORPHAN_VENDOR_GROUPS, |row| {
            let (vendor, kind, id, key): (String, String, String, String) =
                (get(row, 0)?, get(row, 1)?, get(row, 2)?, get(row, 3)?);
            self.problem(format!(
                "vendor group {vendor}/{kind}/{id} names a missing licence {key}"
            ));
            Ok(())
        })
        .await
    }

    /// Customer links and licences agree, and every customer a licence names exists.
    async fn customers(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        each_row(txn, CUSTOMER_LINKS, |row| {
            let (id, key, exists): (String, String, bool) =
                (get(row, 0)?, get(row, 1)?, get(row, 2)?);
            self.problem(match exists {
                false => format!("customer {id} lists a missing licence {key}"),
                true => {
                    format!("customer {id} lists {key}, but the licence names another customer")
                }
            });
            Ok(())
        })
        .await?;
        each_row(txn, LICENSE_CUSTOMERS, |row| {
            let (key, id): (String, String) = (get(row, 0)?, get(row, 1)?);
            self.problem(format!(
                "licence {key} names customer {id}, which is missing or does not list it"
            ));
            Ok(())
        })
        .await
    }

    /// Every subscription row names a licence that carries that subscription.
    async fn subscriptions(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        each_row(txn, SUBSCRIPTIONS, |row| {
            let (id, key): (String, String) = (get(row, 0)?, get(row, 1)?);
            let carried: Option<String> = get(row, 2)?;
            let exists: bool = get(row, 3)?;
            if !exists {
                self.problem(format!("subscription {id} names a missing licence {key}"));
            } else if carried.as_deref() != Some(id.as_str()) {
                self.problem(format!(
                    "subscription index lists {key} under {id}, but the licence has another subscription"
                ));
            }
            Ok(())
        })
        .await
    }

    /// The licence counter, summed over its shards, equals the licences stored.
    async fn license_counter(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        let row = txn
            .query_one(READ_COUNTER, &[&COUNT_LICENSES, &ALWAYS])
            .await
            .map_err(db_error)?;
        let counted: i64 = get(&row, 0)?;
        if u64::try_from(counted).ok() != Some(self.0.licenses) {
            self.problem(format!(
                "the licence counter says {counted} but {} licences are stored",
                self.0.licenses
            ));
        }
        Ok(())
    }

    /// Every signing key decodes under its own name, and the current one exists.
    /// Every queued message decodes.
    async fn mail_outbox(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        each_row(txn, MAIL_OUTBOX, |row| {
            let id: i64 = get(row, 0)?;
            if decoded::<crate::store::outbox::OutgoingMail>(row, 1)?.is_err() {
                self.problem(format!("queued mail {id} does not decode"));
            }
            Ok(())
        })
        .await
    }

    async fn signing_keys(&mut self, txn: &Transaction<'_>) -> Result<(), StoreError> {
        each_row(txn, SIGNING_KEYS, |row| {
            let name: String = get(row, 0)?;
            match decoded::<StoredSigningKey>(row, 1)? {
                Ok(k) if k.name == name => {}
                Ok(k) => self.problem(format!("signing key {name} is stored as {}", k.name)),
                Err(_) => self.problem(format!("signing key {name} does not decode")),
            }
            Ok(())
        })
        .await?;
        each_row(txn, CURRENT_KEY_MISSING, |row| {
            let name: String = get(row, 0)?;
            self.problem(format!("the current signing key {name} is not stored"));
            Ok(())
        })
        .await
    }
}

/// Calls `f` with each row of `sql`, fetched [`BATCH`] at a time through a portal, so a
/// large table is never held whole.
pub(super) async fn each_row(
    txn: &Transaction<'_>,
    sql: &str,
    mut f: impl FnMut(&Row) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let portal = txn.bind(sql, &[]).await.map_err(db_error)?;
    loop {
        let rows = txn.query_portal(&portal, BATCH).await.map_err(db_error)?;
        for row in &rows {
            f(row)?;
        }
        if rows.len() < BATCH as usize {
            return Ok(());
        }
    }
}

/// The JSON value in column `i` decoded as `T`, or why it does not decode (a finding).
fn decoded<T: serde::de::DeserializeOwned>(
    row: &Row,
    i: usize,
) -> Result<Result<T, serde_json::Error>, StoreError> {
    let Json(value) = get::<Json<serde_json::Value>>(row, i)?;
    Ok(serde_json::from_value(value))
}

fn strings(rows: Vec<Row>) -> Result<Vec<String>, StoreError> {
    rows.iter().map(|r| get(r, 0)).collect()
}
