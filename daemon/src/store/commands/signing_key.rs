//! Licence-signing keys: stored like every change, so a key that signed a reply is durably
//! in the database before the reply leaves.

use super::Command;
use crate::signing::stored::StoredSigningKey;
use crate::store::tx::{Tx, TxResult};

/// A change to the signing keys. The key itself is made by the caller, off the writer
/// thread (RSA key generation takes far longer than a batch should wait).
pub enum SigningKeyChange {
    /// Store this key and make it current, unless a current key exists already; the
    /// result is the current key either way (two processes making the first key at once
    /// agree on one).
    EnsureCurrent(StoredSigningKey),
    /// Store this key and make it current; the previous ones stay stored.
    Rotate(StoredSigningKey),
}

// Never `Remembered`: a signing key (a private key) is never copied into the replay memory.
impl Command for SigningKeyChange {
    type Done = StoredSigningKey;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<StoredSigningKey> {
        let new = match self {
            SigningKeyChange::EnsureCurrent(new) => {
                if let Some(current) = tx.current_signing_key().await? {
                    return Ok(current);
                }
                new
            }
            SigningKeyChange::Rotate(new) => new,
        };
        tx.make_signing_key_current(new).await?;
        Ok(new.clone())
    }
}
