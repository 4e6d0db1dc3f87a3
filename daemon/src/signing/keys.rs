//! Licence-signing keys (spec offline.md, "Keys"): RSA-3072 pairs kept in the database.
//!
//! A key is named `licd-` and the first 16 hex digits of the SHA-256 of its public key in
//! DER (SubjectPublicKeyInfo) form, so anyone holding the public key can recompute the name:
//! `openssl pkey -pubin -in licd.pub.pem -outform DER | sha256sum | cut -c1-16`.

use std::fmt;

use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

use super::rsa_key_value::{self, MIN_IMPORT_BITS};
use super::{SigningError, hex};

/// The size of every key licd makes: 3072 bits, the size NIST rates as good past 2030.
/// An imported key (a QLM shop's own) may be smaller, down to [`MIN_IMPORT_BITS`].
pub const KEY_BITS: u32 = 3072;

pub use super::stored::StoredSigningKey;

/// A signing key parsed and ready to sign.
pub struct SigningKey {
    name: String,
    created_at: i64,
    key: PKey<Private>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Makes a new RSA-3072 key pair. Costs from a tenth of a second to a few seconds of CPU
    /// (a random prime search), so callers run it off the async workers.
    pub fn generate(now: i64) -> Result<SigningKey, SigningError> {
        let key = PKey::from_rsa(Rsa::generate(KEY_BITS)?)?;
        Ok(SigningKey {
            name: key_name(&key)?,
            created_at: now,
            key,
        })
    }

    /// A QLM shop's private key in QLM's `<RSAKeyValue>` form, checked strictly
    /// (`rsa_key_value::parse_private`), to be stored as a new current key made at `now`.
    pub fn from_rsa_key_value(xml: &str, now: i64) -> Result<SigningKey, SigningError> {
        let key = PKey::from_rsa(rsa_key_value::parse_private(xml)?)?;
        Ok(SigningKey {
            name: key_name(&key)?,
            created_at: now,
            key,
        })
    }

    /// Parses a stored key; its name must be the one its public key gives, so a damaged or
    /// swapped row is found before it signs anything.
    pub fn from_stored(stored: &StoredSigningKey) -> Result<SigningKey, SigningError> {
        let damaged = |why: String| SigningError::DamagedKey {
            name: stored.name.clone(),
            why,
        };
        let key = PKey::private_key_from_pem(stored.private_key_pem.as_bytes())
            .map_err(|e| damaged(e.to_string()))?;
        let rsa = key.rsa().map_err(|_| damaged("not an RSA key".into()))?;
        if rsa.size() * 8 < MIN_IMPORT_BITS {
            return Err(damaged(format!(
                "{} bits, expected at least {MIN_IMPORT_BITS}",
                rsa.size() * 8
            )));
        }
        let name = key_name(&key)?;
        if name != stored.name {
            return Err(damaged(format!("its public key is named {name}")));
        }
        Ok(SigningKey {
            name,
            created_at: stored.created_at,
            key,
        })
    }

    /// The form kept in the database.
    pub fn to_stored(&self) -> Result<StoredSigningKey, SigningError> {
        let pem = self.key.private_key_to_pem_pkcs8()?;
        Ok(StoredSigningKey {
            name: self.name.clone(),
            created_at: self.created_at,
            private_key_pem: String::from_utf8_lossy(&pem).into_owned(),
        })
    }

    /// `licd-` and 16 hex digits: the `KeyInfo/KeyName` of every signature made with it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the key was made, UTC Unix seconds.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), what vendors embed in their
    /// applications and what `xmlsec1 --pubkey-pem` reads.
    pub fn public_key_pem(&self) -> Result<String, SigningError> {
        let pem = self.key.public_key_to_pem()?;
        Ok(String::from_utf8_lossy(&pem).into_owned())
    }

    /// The public key in QLM's `<RSAKeyValue>` form, what QLM applications embed.
    pub fn public_key_rsa_key_value(&self) -> Result<String, SigningError> {
        Ok(rsa_key_value::public_xml(&*self.key.rsa()?))
    }

    pub(super) fn private_key(&self) -> &PKey<Private> {
        &self.key
    }
}

/// `licd-` and the first 16 hex digits of SHA-256 over the public key's DER.
fn key_name(key: &PKey<Private>) -> Result<String, SigningError> {
    let der = key.public_key_to_der()?;
    let digest = openssl::sha::sha256(&der);
    Ok(format!("licd-{}", &hex(&digest)[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::test_key;

    #[test]
    fn name_is_licd_and_16_hex_digits_of_the_sha256_of_the_public_key_der() {
        let key = test_key();
        let der = key.private_key().public_key_to_der().unwrap();
        let expected = hex(&openssl::sha::sha256(&der));
        assert_eq!(key.name(), format!("licd-{}", &expected[..16]));
        assert_eq!(key.name().len(), 5 + 16);
        assert_eq!(key.private_key().rsa().unwrap().size() * 8, KEY_BITS);
    }

    #[test]
    fn stored_key_reads_back_as_the_same_key() {
        let key = test_key();
        let stored = key.to_stored().unwrap();
        assert!(
            stored
                .private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        let back = SigningKey::from_stored(&stored).unwrap();
        assert_eq!(back.name(), key.name());
        assert_eq!(back.created_at(), 1_700_000_000);
        assert_eq!(
            back.public_key_pem().unwrap(),
            key.public_key_pem().unwrap()
        );
    }

    #[test]
    fn stored_key_under_another_name_is_refused_as_damaged() {
        let mut stored = test_key().to_stored().unwrap();
        stored.name = "licd-0000000000000000".into();
        let e = SigningKey::from_stored(&stored).unwrap_err();
        assert!(matches!(e, SigningError::DamagedKey { .. }), "{e}");
        stored.private_key_pem = "not a key".into();
        assert!(SigningKey::from_stored(&stored).is_err());
    }

    #[test]
    fn debug_output_never_holds_the_private_key() {
        let stored = test_key().to_stored().unwrap();
        assert!(!format!("{stored:?}").contains("PRIVATE"));
        assert!(!format!("{:?}", test_key()).contains("PRIVATE"));
    }
}
