//! Consistent reads: every read through one [`Snapshot`] sees the same state.
//!
//! Reads are `async` so that a backend on a server fits; the embedded backend answers each
//! at once from its read transaction, which never waits for writes.

use super::StoreError;
use super::console_sessions::ConsoleSession;
use super::embedded::RedbReader;
use super::license_search::LicenseSearch;
use super::overview::Overview;
use super::postgres::PgReader;
use crate::customers::Customer;
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;

/// One consistent view of the store.
///
/// PostgreSQL's reads are boxed (`Box::pin`): an `async fn` that matches on the backend is as
/// large as its largest branch, and tokio-postgres's futures are kilobytes, which every redb
/// read would otherwise carry, and copy, through each future that awaits it.
pub enum Snapshot {
    /// A read transaction of the embedded file.
    Redb(RedbReader),
    /// A REPEATABLE READ transaction of the PostgreSQL database.
    Postgres(PgReader),
}

impl Snapshot {
    /// The licence with this canonical key.
    pub async fn license(&self, key: &str) -> Result<Option<License>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.license(key),
            Snapshot::Postgres(r) => Box::pin(r.license(key)).await,
        }
    }

    /// The analytics install with this id.
    pub async fn install(&self, id: &str) -> Result<Option<Install>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.install(id),
            Snapshot::Postgres(r) => Box::pin(r.install(id)).await,
        }
    }

    /// Analytics installs stored.
    pub async fn installs_stored(&self) -> Result<i64, StoreError> {
        match self {
            Snapshot::Redb(r) => r.installs_stored(),
            Snapshot::Postgres(r) => Box::pin(r.installs_stored()).await,
        }
    }

    /// The activation of `key` on `computer_id`.
    pub async fn activation(
        &self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.activation(key, computer_id),
            Snapshot::Postgres(r) => Box::pin(r.activation(key, computer_id)).await,
        }
    }

    /// Every activation of `key`, ordered by computer id.
    pub async fn activations(&self, key: &str) -> Result<Vec<Activation>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.activations(key),
            Snapshot::Postgres(r) => Box::pin(r.activations(key)).await,
        }
    }

    /// The history of `key`, oldest first.
    pub async fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.history(key),
            Snapshot::Postgres(r) => Box::pin(r.history(key)).await,
        }
    }

    /// Times of the logged releases of `key`, oldest first.
    pub async fn release_times(&self, key: &str) -> Result<Vec<i64>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.release_times(key),
            Snapshot::Postgres(r) => Box::pin(r.release_times(key)).await,
        }
    }

    /// Counted activations made on UTC day `day`.
    pub async fn activations_on(&self, day: i64) -> Result<i64, StoreError> {
        match self {
            Snapshot::Redb(r) => r.activations_on(day),
            Snapshot::Postgres(r) => Box::pin(r.activations_on(day)).await,
        }
    }

    /// Keys created on UTC day `day`.
    pub async fn keys_created_on(&self, day: i64) -> Result<i64, StoreError> {
        match self {
            Snapshot::Redb(r) => r.keys_created_on(day),
            Snapshot::Postgres(r) => Box::pin(r.keys_created_on(day)).await,
        }
    }

    /// Licences stored.
    pub async fn licenses_stored(&self) -> Result<u64, StoreError> {
        match self {
            Snapshot::Redb(r) => r.licenses_stored(),
            Snapshot::Postgres(r) => Box::pin(r.licenses_stored()).await,
        }
    }

    /// Activations stored.
    pub async fn activations_stored(&self) -> Result<u64, StoreError> {
        match self {
            Snapshot::Redb(r) => r.activations_stored(),
            Snapshot::Postgres(r) => Box::pin(r.activations_stored()).await,
        }
    }

    /// Licences whose order id equals `order_id` and whose user data equals `user_data`, for
    /// each of the two that is given (both `None` finds nothing), ordered by key. May scan
    /// every licence: callers run it off the request threads.
    pub async fn licenses_by_order(
        &self,
        order_id: Option<&str>,
        user_data: Option<&str>,
    ) -> Result<Vec<License>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.licenses_by_order(order_id, user_data),
            Snapshot::Postgres(r) => Box::pin(r.licenses_by_order(order_id, user_data)).await,
        }
    }

    /// The customer with this id (a licence's `customer`).
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.customer(id),
            Snapshot::Postgres(r) => Box::pin(r.customer(id)).await,
        }
    }

    /// The customer of `license`, if it has one.
    pub async fn customer_of(&self, license: &License) -> Result<Option<Customer>, StoreError> {
        match &license.customer {
            Some(id) => self.customer(id).await,
            None => Ok(None),
        }
    }

    /// The customer with this e-mail (any case).
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.customer_by_email(email),
            Snapshot::Postgres(r) => Box::pin(r.customer_by_email(email)).await,
        }
    }

    /// Every customer, in the order of their e-mails (ignoring case).
    pub async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.customers(),
            Snapshot::Postgres(r) => Box::pin(r.customers()).await,
        }
    }

    /// The licence keys of the customer with this e-mail (any case), in key order.
    pub async fn license_keys_of_customer(&self, email: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.license_keys_of_customer(email),
            Snapshot::Postgres(r) => Box::pin(r.license_keys_of_customer(email)).await,
        }
    }

    /// The current licence-signing key, if one was made.
    pub async fn current_signing_key_name(&self) -> Result<Option<String>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.current_signing_key_name(),
            Snapshot::Postgres(r) => Box::pin(r.current_signing_key_name()).await,
        }
    }

    /// The signing key with this name.
    pub async fn signing_key(&self, name: &str) -> Result<Option<StoredSigningKey>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.signing_key(name),
            Snapshot::Postgres(r) => Box::pin(r.signing_key(name)).await,
        }
    }

    /// The licences a staff search finds (`super::license_search`), in key order. May scan
    /// every licence: callers run it off the request threads.
    pub async fn search_licenses(
        &self,
        search: &LicenseSearch,
    ) -> Result<Vec<License>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.search_licenses(search),
            Snapshot::Postgres(r) => Box::pin(r.search_licenses(search)).await,
        }
    }

    /// The console dashboard's numbers at `now`, the per-day series `days` days back
    /// (`super::overview`). Reads every licence: callers run it off the request threads.
    pub async fn overview(&self, now: i64, days: i64) -> Result<Overview, StoreError> {
        match self {
            Snapshot::Redb(r) => r.overview(now, days),
            Snapshot::Postgres(r) => Box::pin(r.overview(now, days)).await,
        }
    }

    /// The staff console session stored under `digest` (`super::console_sessions`).
    pub async fn console_session(
        &self,
        digest: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.console_session(digest),
            Snapshot::Postgres(r) => Box::pin(r.console_session(digest)).await,
        }
    }

    /// Every signing key, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        match self {
            Snapshot::Redb(r) => r.signing_keys(),
            Snapshot::Postgres(r) => Box::pin(r.signing_keys()).await,
        }
    }

    /// Whether the replay memory (`super::replays`) holds a change made for (`vendor`,
    /// `id`): the portal asks whether a single-use link was used, without a write.
    pub async fn remembers_change(&self, vendor: &str, id: &str) -> Result<bool, StoreError> {
        match self {
            Snapshot::Redb(r) => r.remembers_change(vendor, id),
            Snapshot::Postgres(r) => Box::pin(r.remembers_change(vendor, id)).await,
        }
    }
}
