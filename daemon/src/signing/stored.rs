//! A licence-signing key as the store keeps it: a record with no behaviour, so the store can
//! hold it without depending on the signing code.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A signing key as stored in `signing_keys_v1` (JSON). The private key is PKCS#8 PEM, the
/// form `openssl pkey` reads, so that an export of the database carries it losslessly.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSigningKey {
    /// `licd-` and 16 hex digits (module doc).
    pub name: String,
    /// When it was made, UTC Unix seconds.
    pub created_at: i64,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
}

impl fmt::Debug for StoredSigningKey {
    // Never print the private key, whatever logs an outcome.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}
