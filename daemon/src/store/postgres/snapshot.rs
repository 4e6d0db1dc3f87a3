//! Reads: one REPEATABLE READ, READ ONLY transaction, so every read of a snapshot sees the
//! state of one moment, as a redb read transaction does. Readers take no row locks and never
//! wait for writers.

use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::db_error;
use super::tx::{
    ACTIVATION, ACTIVATIONS_OF, ALWAYS, COUNT_ACTIVATIONS, COUNT_KEYS_CREATED, COUNT_LICENSES,
    CURRENT_SIGNING_KEY_NAME, CUSTOMER_KEYS, READ_ANALYTICS_COUNT, READ_COUNTER, RELEASE_TIMES,
    column, json,
};
use crate::customers::{Customer, email_key};
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;
use crate::store::StoreError;
use crate::store::embedded::tables::INSTALL_COUNT;

const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const LICENSE: &str = "SELECT value FROM licenses WHERE key = $1";
const INSTALL: &str = "SELECT value FROM analytics_installs WHERE id = $1";
const HISTORY: &str = "SELECT value FROM history WHERE key = $1 ORDER BY seq";
// An exact count: a scan of the primary key, for /metrics, not per request. Licences are
// counted by their counter, which `dbMaxRecords` reads too.
const ACTIVATIONS_STORED: &str = "SELECT count(*) FROM activations";
const LICENSES_BY_ORDER: &str = "SELECT value FROM licenses
    WHERE ($1::text IS NULL OR value->>'order_id' = $1)
      AND ($2::text IS NULL OR value->>'user_data' = $2)
    ORDER BY key COLLATE \"C\"";
const SIGNING_KEY: &str = "SELECT value FROM signing_keys WHERE name = $1";
const CUSTOMER: &str = "SELECT value FROM customers WHERE id = $1";
const CUSTOMER_BY_EMAIL: &str = "SELECT value FROM customers WHERE email_key = $1";
const CUSTOMERS: &str = "SELECT value FROM customers ORDER BY email_key COLLATE \"C\"";
const REMEMBERS_CHANGE: &str = "SELECT 1 FROM replays WHERE vendor = $1 AND id = $2";
const SIGNING_KEYS: &str = "SELECT value FROM signing_keys ORDER BY created_at, name COLLATE \"C\"";

/// One consistent view of the database, on a pooled connection of its own.
pub struct PgReader {
    /// `None` only while dropping.
    pub(super) client: Option<Object>,
}

impl PgReader {
    /// Begins the snapshot on `client`.
    pub(super) async fn begin(client: Object) -> Result<PgReader, StoreError> {
        client.batch_execute(BEGIN).await.map_err(db_error)?;
        Ok(PgReader {
            client: Some(client),
        })
    }

    pub(super) async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client.as_ref().ok_or(StoreError::Stopped)?;
        let statement = client.prepare_cached(sql).await.map_err(db_error)?;
        client.query(&statement, params).await.map_err(db_error)
    }

    pub(super) async fn row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(sql, params).await?.into_iter().next())
    }

    async fn count(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<i64, StoreError> {
        self.row(sql, params)
            .await?
            .map_or(Ok(0), |r| column::<i64>(&r, 0))
    }

    /// The analytics install with this id.
    pub async fn install(&self, id: &str) -> Result<Option<Install>, StoreError> {
        let row = self.row(INSTALL, &[&id]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    /// Installs stored (the count `analytics.maxInstalls` reads).
    pub async fn installs_stored(&self) -> Result<i64, StoreError> {
        self.count(READ_ANALYTICS_COUNT, &[&INSTALL_COUNT]).await
    }

    /// The licence with this canonical key.
    pub async fn license(&self, key: &str) -> Result<Option<License>, StoreError> {
        let row = self.row(LICENSE, &[&key]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    /// The activation of `key` on `computer_id`.
    pub async fn activation(
        &self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        let row = self.row(ACTIVATION, &[&key, &computer_id]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    /// Every activation of `key`, ordered by computer id.
    pub async fn activations(&self, key: &str) -> Result<Vec<Activation>, StoreError> {
        let rows = self.rows(ACTIVATIONS_OF, &[&key]).await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }

    /// The history of `key`, oldest first.
    pub async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = self.rows(HISTORY, &[&key]).await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }

    /// Times of the logged releases of `key`, oldest first.
    pub async fn release_times(&self, key: &str) -> Result<Vec<i64>, StoreError> {
        let rows = self.rows(RELEASE_TIMES, &[&key]).await?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    /// Counted activations made on UTC day `day`.
    pub async fn activations_on(&self, day: i64) -> Result<i64, StoreError> {
        self.count(READ_COUNTER, &[&COUNT_ACTIVATIONS, &day]).await
    }

    /// Keys created on UTC day `day`.
    pub async fn keys_created_on(&self, day: i64) -> Result<i64, StoreError> {
        self.count(READ_COUNTER, &[&COUNT_KEYS_CREATED, &day]).await
    }

    /// Licences stored.
    pub async fn licenses_stored(&self) -> Result<u64, StoreError> {
        let stored = self
            .count(READ_COUNTER, &[&COUNT_LICENSES, &ALWAYS])
            .await?;
        Ok(stored.max(0) as u64)
    }

    /// Activations stored.
    pub async fn activations_stored(&self) -> Result<u64, StoreError> {
        Ok(self.count(ACTIVATIONS_STORED, &[]).await?.max(0) as u64)
    }

    /// Licences whose order id and user data equal those given (both `None` finds nothing),
    /// ordered by key.
    pub async fn licenses_by_order(
        &self,
        order_id: Option<&str>,
        user_data: Option<&str>,
    ) -> Result<Vec<License>, StoreError> {
        if order_id.is_none() && user_data.is_none() {
            return Ok(Vec::new());
        }
        let rows = self
            .rows(LICENSES_BY_ORDER, &[&order_id, &user_data])
            .await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }

    /// The name of the current signing key; `None` until the first key is made.
    pub async fn current_signing_key_name(&self) -> Result<Option<String>, StoreError> {
        let row = self.row(CURRENT_SIGNING_KEY_NAME, &[]).await?;
        row.map(|r| column(&r, 0)).transpose()
    }

    /// The signing key with this name.
    pub async fn signing_key(&self, name: &str) -> Result<Option<StoredSigningKey>, StoreError> {
        let row = self.row(SIGNING_KEY, &[&name]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    /// The customer with this id.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        let row = self.row(CUSTOMER, &[&id]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    /// The customer with this e-mail (any case).
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, StoreError> {
        let row = self.row(CUSTOMER_BY_EMAIL, &[&email_key(email)]).await?;
        row.map(|r| json(&r, 0)).transpose()
    }

    /// Every customer, in the order of their e-mails (ignoring case).
    pub async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        let rows = self.rows(CUSTOMERS, &[]).await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }

    /// The licence keys of the customer with this e-mail, in key order.
    pub async fn license_keys_of_customer(&self, email: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.rows(CUSTOMER_KEYS, &[&email_key(email)]).await?;
        rows.iter().map(|r| column(r, 0)).collect()
    }

    /// Whether the replay memory holds a change made for (`vendor`, `id`).
    pub async fn remembers_change(&self, vendor: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.row(REMEMBERS_CHANGE, &[&vendor, &id]).await?.is_some())
    }

    /// Every signing key, oldest first (by creation time, then name).
    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows = self.rows(SIGNING_KEYS, &[]).await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }
}

impl Drop for PgReader {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        // The connection goes back to the pool only once its snapshot has ended: the
        // rollback runs on the runtime, and without one the connection is closed instead.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}
