//! Signed licence replies (spec offline.md §1): the keys, the XML-DSig signature, and the
//! [`Signer`] that bounds how many signatures run at once.
//!
//! Signing costs about 2 ms of CPU, so it runs on the blocking pool, at most one per core at
//! once; a short queue waits for a core, and a request beyond it is refused with 503 before
//! anything is changed ([`Signer::admit`] comes before the activation). The current key is
//! read from the database on every signature (one short read transaction) and parsed only
//! when it changed, so a rotation by any road (the admin socket, a stopped-database command,
//! a restore) takes effect at once.

pub mod keys;
pub mod reply;
pub mod rsa_key_value;
pub mod stored;
pub mod xmldsig;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::config::SignatureAlgorithm;
use crate::errors::MethodError;
use crate::license::dates;
use crate::store::commands::SigningKeyChange;
use crate::store::{Store, StoreError};
use keys::SigningKey;

/// Requests that may wait for a free core, per core, beyond those signing: at 2 ms a
/// signature the last one waits about 30 ms.
pub const QUEUE_PER_CORE: usize = 16;

/// How long a new key may wait for the writer once made: a key is server bookkeeping made
/// once, not the client's change, so it does not share the request's deadline.
const KEY_WRITE_DEADLINE: Duration = Duration::from_secs(30);

/// Why a reply could not be signed or a key not be made.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// Every core is signing and the queue is full.
    #[error("too many signatures are waiting")]
    Busy,
    /// OpenSSL failed (key generation, hashing, signing).
    #[error("OpenSSL failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// A read of the key table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer refused or failed to store a key.
    #[error("the signing key could not be stored: {}", .0.message)]
    Write(MethodError),
    /// A stored key does not parse or does not match its name.
    #[error(
        "the signing key {name} in the database is damaged ({why}); restore a backup, or run `licd signing-key rotate` and give vendors the new public key"
    )]
    DamagedKey {
        /// The key's name.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// A key given to `licd signing-key import` is not a valid private key (nothing was
    /// stored).
    #[error("the key was not imported, nothing was changed: {0}")]
    BadImport(#[from] rsa_key_value::RsaKeyValueError),
    /// The database names a current key that is not in the key table.
    #[error("the database names {0} as the current signing key but does not hold it")]
    MissingKey(String),
    /// What was handed to the signer is not one unsigned reply document.
    #[error("only an unsigned <QuickLicenseManager> reply document can be signed")]
    NotAReply,
    /// The blocking task that signs or generates stopped unexpectedly.
    #[error("the signing task stopped: {0}")]
    Task(String),
}

impl From<SigningError> for MethodError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Busy => MethodError::busy(
                "The server is busy signing licence replies; nothing was changed. Retry shortly.",
            ),
            SigningError::Write(e) => e,
            SigningError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "licence signing failed");
                MethodError::internal(
                    "The server could not sign the licence reply; nothing was changed. Retry later.",
                )
            }
        }
    }
}

/// Signs replies: the current key, cached, and the bound on concurrent signatures.
pub struct Signer {
    permits: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    max_admitted: usize,
    current: Mutex<Option<Arc<SigningKey>>>,
    /// Serialises key creation, so that concurrent first requests make one key.
    creating: tokio::sync::Mutex<()>,
}

impl Signer {
    /// A signer running at most `cores` signatures at once with [`QUEUE_PER_CORE`] waiting
    /// per core.
    pub fn new(cores: usize) -> Signer {
        let cores = cores.max(1);
        Signer::with_limits(cores, cores * QUEUE_PER_CORE)
    }

    /// A signer with explicit limits: `parallel` signatures at once, `queue` more waiting.
    pub fn with_limits(parallel: usize, queue: usize) -> Signer {
        let parallel = parallel.max(1);
        Signer {
            permits: Arc::new(Semaphore::new(parallel)),
            admitted: Arc::new(AtomicUsize::new(0)),
            max_admitted: parallel + queue,
            current: Mutex::new(None),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes a place for one signature, before the request changes anything, so that a
    /// refusal (503, [`SigningError::Busy`]) changes nothing. The place is given back when
    /// the ticket is dropped.
    pub fn admit(&self) -> Result<Ticket, SigningError> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        if before >= self.max_admitted {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(SigningError::Busy);
        }
        Ok(Ticket {
            permits: self.permits.clone(),
            admitted: self.admitted.clone(),
        })
    }

    /// The current signing key, made and stored (through the writer) when there is none yet.
    pub async fn current_key(&self, store: &Store) -> Result<Arc<SigningKey>, SigningError> {
        if let Some(key) = self.stored_current(store).await? {
            return Ok(key);
        }
        let _one_at_a_time = self.creating.lock().await;
        if let Some(key) = self.stored_current(store).await? {
            return Ok(key);
        }
        let made = generate().await?;
        let stored = made.to_stored()?;
        let kept = self
            .write(store, SigningKeyChange::EnsureCurrent(stored))
            .await?;
        // Another process may have made one in between: the stored one wins.
        let key = if kept.name == made.name() {
            Arc::new(made)
        } else {
            Arc::new(SigningKey::from_stored(&kept)?)
        };
        tracing::info!(key = key.name(), "licence-signing key created");
        self.remember(key.clone());
        Ok(key)
    }

    /// Makes a new key and makes it current; the old keys stay stored and listed, so files
    /// they signed still verify.
    pub async fn rotate(&self, store: &Store) -> Result<Arc<SigningKey>, SigningError> {
        let _one_at_a_time = self.creating.lock().await;
        let made = generate().await?;
        let stored = made.to_stored()?;
        self.write(store, SigningKeyChange::Rotate(stored)).await?;
        let key = Arc::new(made);
        tracing::info!(key = key.name(), "licence-signing key rotated");
        self.remember(key.clone());
        Ok(key)
    }

    /// Makes a shop's own private key (QLM's `<RSAKeyValue>` form) the current key, stored
    /// as a rotation stores a new one: the old keys stay, so files they signed still verify.
    /// A key that does not pass the checks of `rsa_key_value::parse_private` stores nothing.
    pub async fn import(
        &self,
        store: &Store,
        xml: String,
    ) -> Result<Arc<SigningKey>, SigningError> {
        let now = dates::now();
        // OpenSSL's key check tests both primes: up to a second for the largest keys.
        let key = tokio::task::spawn_blocking(move || SigningKey::from_rsa_key_value(&xml, now))
            .await
            .map_err(|e| SigningError::Task(e.to_string()))??;
        let _one_at_a_time = self.creating.lock().await;
        self.write(store, SigningKeyChange::Rotate(key.to_stored()?))
            .await?;
        let key = Arc::new(key);
        tracing::info!(key = key.name(), "licence-signing key imported");
        self.remember(key.clone());
        Ok(key)
    }

    /// The key the database names current, from the cache when it is the same.
    async fn stored_current(&self, store: &Store) -> Result<Option<Arc<SigningKey>>, SigningError> {
        let reader = store.read().await?;
        let Some(name) = reader.current_signing_key_name().await? else {
            return Ok(None);
        };
        if let Some(key) = self.cached().filter(|k| k.name() == name) {
            return Ok(Some(key));
        }
        let stored = reader
            .signing_key(&name)
            .await?
            .ok_or(SigningError::MissingKey(name))?;
        let key = Arc::new(SigningKey::from_stored(&stored)?);
        self.remember(key.clone());
        Ok(Some(key))
    }

    async fn write(
        &self,
        store: &Store,
        command: SigningKeyChange,
    ) -> Result<keys::StoredSigningKey, SigningError> {
        store
            .run(command, Instant::now() + KEY_WRITE_DEADLINE)
            .await
            .map_err(|e| SigningError::Write(e.into()))
    }

    fn cached(&self) -> Option<Arc<SigningKey>> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn remember(&self, key: Arc<SigningKey>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }
}

/// A place in the signing queue (see [`Signer::admit`]).
pub struct Ticket {
    permits: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
}

impl Ticket {
    /// Signs an unsigned reply document (`crate::response::xml_reply_document`) once a core
    /// is free, on the blocking pool.
    pub async fn sign(
        &self,
        key: Arc<SigningKey>,
        document: String,
        algorithm: SignatureAlgorithm,
    ) -> Result<String, SigningError> {
        // The semaphore is never closed, so acquire cannot fail; map it all the same.
        let _core = self
            .permits
            .acquire()
            .await
            .map_err(|e| SigningError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(move || xmldsig::sign_document(&document, &key, algorithm))
            .await
            .map_err(|e| SigningError::Task(e.to_string()))?
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Makes an RSA-3072 key on the blocking pool (it takes up to seconds of CPU).
async fn generate() -> Result<SigningKey, SigningError> {
    let now = dates::now();
    let started = Instant::now();
    let key = tokio::task::spawn_blocking(move || SigningKey::generate(now))
        .await
        .map_err(|e| SigningError::Task(e.to_string()))??;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "RSA-3072 key generated"
    );
    Ok(key)
}

/// Lowercase hex, two digits a byte (also the web layer's token digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// One key for every unit test of the crate: generation is the slow part.
#[cfg(test)]
pub(crate) fn test_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(1_700_000_000).expect("RSA key generation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_cores_and_the_queue_a_signature_is_refused_as_busy() {
        let signer = Signer::with_limits(1, 2);
        let held: Vec<Ticket> = (0..3).map(|_| signer.admit().unwrap()).collect();
        assert!(matches!(signer.admit(), Err(SigningError::Busy)));
        drop(held);
        assert!(signer.admit().is_ok(), "places are given back on drop");
    }

    #[test]
    fn busy_is_a_503_with_retry_after_that_says_nothing_changed() {
        let e = MethodError::from(SigningError::Busy);
        assert_eq!(e.status, http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.retry_after, Some(1));
        assert!(e.message.contains("nothing was changed"));
    }

    #[tokio::test]
    async fn at_most_parallel_signatures_run_at_once() {
        let signer = Signer::with_limits(1, 8);
        let ticket = signer.admit().unwrap();
        let _core = signer.permits.acquire().await.unwrap();
        let doc = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<QuickLicenseManager>\n\
<result>ok</result>\n</QuickLicenseManager>"
            .to_string();
        let key = Arc::new(SigningKey::from_stored(&test_key().to_stored().unwrap()).unwrap());
        let waiting = ticket.sign(key, doc, SignatureAlgorithm::RsaSha256);
        // The only core is taken: the signature waits instead of running.
        let timed_out = tokio::time::timeout(Duration::from_millis(200), waiting).await;
        assert!(timed_out.is_err());
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
