//! Reads of the embedded backend: one redb read transaction, one consistent state.

use std::sync::Arc;

use redb::ReadTransaction;

use super::Shared;
use super::read_cache::Generation;

use super::tables::*;
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::{Activation, License};
use crate::store::StoreError;

/// One consistent view of the database.
pub struct RedbReader {
    pub(super) txn: ReadTransaction,
    /// The store's read cache and the generation this snapshot may use it at; `None` when a
    /// commit was under way as the snapshot began (`super::read_cache`).
    pub(super) cache: Option<(Arc<Shared>, Generation)>,
}

impl RedbReader {
    /// The licence with this canonical key.
    pub fn license(&self, key: &str) -> Result<Option<License>, StoreError> {
        if let Some((shared, at)) = &self.cache
            && let Some(license) = shared.cache.license(*at, key)
        {
            return Ok(Some(license));
        }
        let table = self.txn.open_table(LICENSES)?;
        let license: Option<License> = table.get(key)?.map(|v| decode(v.value())).transpose()?;
        if let (Some((shared, at)), Some(license)) = (&self.cache, &license)
            && license.key == key
        {
            shared.cache.keep_license(*at, license);
        }
        Ok(license)
    }

    /// The analytics install with this id.
    pub fn install(&self, id: &str) -> Result<Option<Install>, StoreError> {
        let table = self.txn.open_table(ANALYTICS_INSTALLS)?;
        table.get(id)?.map(|v| decode(v.value())).transpose()
    }

    /// Installs stored (the count `analytics.maxInstalls` reads).
    pub fn installs_stored(&self) -> Result<i64, StoreError> {
        let table = self.txn.open_table(ANALYTICS_COUNTS)?;
        Ok(table.get(INSTALL_COUNT)?.map_or(0, |v| v.value()))
    }

    /// The activation of `key` on `computer_id`.
    pub fn activation(
        &self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        if let Some((shared, at)) = &self.cache
            && let Some(activation) = shared.cache.activation(*at, key, computer_id)
        {
            return Ok(Some(activation));
        }
        let table = self.txn.open_table(ACTIVATIONS)?;
        let activation: Option<Activation> = table
            .get((key, computer_id))?
            .map(|v| decode(v.value()))
            .transpose()?;
        if let (Some((shared, at)), Some(activation)) = (&self.cache, &activation)
            && activation.computer_id == computer_id
        {
            shared.cache.keep_activation(*at, key, activation);
        }
        Ok(activation)
    }

    /// Every activation of `key`, ordered by computer id.
    pub fn activations(&self, key: &str) -> Result<Vec<Activation>, StoreError> {
        super::tx::activations_of(&self.txn.open_table(ACTIVATIONS)?, key)
    }

    /// The history of `key`, oldest first.
    pub fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let table = self.txn.open_table(HISTORY)?;
        let mut out = Vec::new();
        for row in table.range((key, 0u64)..)? {
            let (k, v) = row?;
            if k.value().0 != key {
                break;
            }
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// Times of the releases of `key` in the release log, oldest first.
    pub fn release_times(&self, key: &str) -> Result<Vec<i64>, StoreError> {
        super::tx::release_times_of(&self.txn.open_table(RELEASES)?, key)
    }

    /// Counted activations made on UTC day `day`.
    pub fn activations_on(&self, day: i64) -> Result<i64, StoreError> {
        self.counter(&activations_on(day))
    }

    /// Keys created on UTC day `day`.
    pub fn keys_created_on(&self, day: i64) -> Result<i64, StoreError> {
        self.counter(&keys_created_on(day))
    }

    /// A counter's value (0 when never written).
    pub fn counter(&self, name: &str) -> Result<i64, StoreError> {
        let table = self.txn.open_table(COUNTERS)?;
        Ok(table.get(name)?.map_or(0, |v| v.value()))
    }
}

impl RedbReader {
    /// Licences stored (a table length: redb keeps it in the table header).
    pub fn licenses_stored(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        Ok(self.txn.open_table(LICENSES)?.len()?)
    }

    /// Activations stored.
    pub fn activations_stored(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        Ok(self.txn.open_table(ACTIVATIONS)?.len()?)
    }

    /// Whether the replay memory holds a change made for (`vendor`, `id`).
    pub fn remembers_change(&self, vendor: &str, id: &str) -> Result<bool, StoreError> {
        match self.txn.open_table(REPLAYS) {
            Ok(table) => Ok(table.get((vendor, id))?.is_some()),
            // A file from before the memory existed remembers nothing.
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
