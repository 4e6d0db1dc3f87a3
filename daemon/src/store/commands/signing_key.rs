//! Licence-signing keys: stored through the writer like every change, so a key that signed
//! a reply is durably in the database before the reply leaves.

use redb::{ReadableTable, WriteTransaction};

use super::{ApplyError, Outcome};
use crate::signing::keys::StoredSigningKey;
use crate::store::StoreError;
use crate::store::tables::*;

/// A change to the signing keys. The key itself is made by the caller, off the writer
/// thread (RSA key generation takes far longer than a batch should wait).
pub enum SigningKeyChange {
    /// Store this key and make it current, unless a current key exists already; the
    /// outcome is the current key either way (two processes making the first key at once
    /// agree on one).
    EnsureCurrent(StoredSigningKey),
    /// Store this key and make it current; the previous ones stay stored.
    Rotate(StoredSigningKey),
}

pub(super) fn apply(
    txn: &WriteTransaction,
    change: SigningKeyChange,
) -> Result<Outcome, ApplyError> {
    let mut meta = txn.open_table(META)?;
    let mut keys = txn.open_table(SIGNING_KEYS)?;
    let new = match change {
        SigningKeyChange::EnsureCurrent(new) => {
            let current = meta
                .get(CURRENT_SIGNING_KEY)?
                .map(|v| String::from_utf8(v.value().to_vec()))
                .transpose()
                .map_err(|_| StoreError::Corrupt("current signing key name".into()))?;
            if let Some(name) = current
                && let Some(stored) = keys.get(name.as_str())?
            {
                return Ok(Outcome::SigningKey(decode(stored.value())?));
            }
            new
        }
        SigningKeyChange::Rotate(new) => new,
    };
    keys.insert(new.name.as_str(), encode(&new)?.as_slice())?;
    meta.insert(CURRENT_SIGNING_KEY, new.name.as_bytes())?;
    Ok(Outcome::SigningKey(new))
}
