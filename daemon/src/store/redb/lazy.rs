//! Bookkeeping no licence decision reads (last-seen time, name, computer key last given),
//! written with the next flush instead of a commit of its own.

use std::collections::HashMap;

use redb::{ReadableTable, WriteTransaction};

use super::tables::{ACTIVATIONS, decode, encode};
use crate::license::Activation;
use crate::store::StoreError;

/// Lazily kept bookkeeping by licence key, then computer id: nested, so that the look-up
/// every validation makes ([`super::RedbStore::pending`]) needs no owned key.
pub(crate) type LazyUpdates = HashMap<String, HashMap<String, Activation>>;

/// Writes lazily kept bookkeeping, only where the activation still exists as it was made
/// (a release or a new activation in between wins).
pub(crate) fn apply_lazy(txn: &WriteTransaction, updates: &LazyUpdates) -> Result<(), StoreError> {
    let mut activations = txn.open_table(ACTIVATIONS)?;
    for (key, seats) in updates {
        for (pc, update) in seats {
            let current: Option<Activation> = activations
                .get((key.as_str(), pc.as_str()))?
                .map(|v| decode(v.value()))
                .transpose()?;
            if current.is_some_and(|c| c.activated_at == update.activated_at) {
                activations.insert((key.as_str(), pc.as_str()), encode(update)?.as_slice())?;
            }
        }
    }
    Ok(())
}
