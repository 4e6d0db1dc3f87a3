//! Reads of the licence-signing keys (`signing_keys_v1`, and the current key's name in
//! `meta_v1`). Writes go through the writer (`commands::SigningKeyChange`).

use redb::ReadableTable;

use super::RedbReader;
use super::tables::*;
use crate::signing::stored::StoredSigningKey;
use crate::store::StoreError;

impl RedbReader {
    /// The name of the current signing key; `None` until the first key is made.
    pub fn current_signing_key_name(&self) -> Result<Option<String>, StoreError> {
        let meta = self.txn.open_table(META)?;
        meta.get(CURRENT_SIGNING_KEY)?
            .map(|v| String::from_utf8(v.value().to_vec()))
            .transpose()
            .map_err(|_| StoreError::Corrupt("current signing key name".into()))
    }

    /// The signing key with this name.
    pub fn signing_key(&self, name: &str) -> Result<Option<StoredSigningKey>, StoreError> {
        let keys = self.txn.open_table(SIGNING_KEYS)?;
        keys.get(name)?.map(|v| decode(v.value())).transpose()
    }

    /// Every signing key, oldest first (by creation time, then name).
    pub fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let keys = self.txn.open_table(SIGNING_KEYS)?;
        let mut out: Vec<StoredSigningKey> = Vec::new();
        for row in keys.iter()? {
            let (_, v) = row?;
            out.push(decode(v.value())?);
        }
        out.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
        Ok(out)
    }
}
