//! Checking a vendor's `is_user`/`is_pwd` against its configured credential.
//!
//! The rules (spec/methods.md, "Auth"): a refusal must not tell which part was wrong, neither by
//! its message nor by its timing, so every check that is not answered from memory pays exactly
//! one argon2 verification, whether the vendor is unknown, the user is wrong, or the password is
//! wrong; at most `max_parallel` argon2 verifications run at once so that a burst of logins
//! cannot starve the licence methods of CPU; and a credential verified once is remembered as a
//! keyed hash so that a client calling in a loop does not pay argon2 on every request.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// How many remembered verifications are kept before the memory is cleared. Only successful
/// verifications are remembered, one per (vendor, user), so this is only reached after many
/// configuration changes; clearing costs each vendor one more argon2 verification.
const REMEMBERED_MAX: usize = 4096;

/// Bytes of the per-process MAC key: the output size of SHA-256, as RFC 2104 recommends.
const MAC_KEY_LEN: usize = 32;

/// SHA-256's block size, the length HMAC-SHA256 takes its key in.
const HMAC_BLOCK_LEN: usize = 64;

/// One keyed SHA-256 digest.
type Digest = [u8; 32];

type HmacSha256 = Hmac<Sha256>;

/// The password a vendor is configured with.
#[derive(Debug, Clone, Copy)]
pub enum StoredPassword<'a> {
    /// The password itself, as written in the configuration.
    Plain(&'a str),
    /// An argon2 PHC string (`$argon2id$v=19$…`), as printed by `licd hash-password`.
    Hash(&'a str),
}

/// The expected credential of a configured vendor.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedCredential<'a> {
    /// The vendor's name (`is_vendor`); part of the remembered digest so that two vendors with
    /// the same user and password are remembered apart.
    pub vendor: &'a str,
    /// The user the vendor expects in `is_user`.
    pub user: &'a str,
    /// The password the vendor expects in `is_pwd`.
    pub password: StoredPassword<'a>,
}

/// The outcome of [`PasswordChecker::verify_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The credential matches.
    Accepted,
    /// It does not (or the vendor is unknown); one argon2 verification was paid.
    Refused,
    /// The caller's `may_run` said no once the argon2 permit was granted (the address was
    /// blocked while the attempt waited): nothing was checked.
    Blocked,
}

/// Why the password machinery could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The operating system's random number generator failed, so no secret key or salt could be
    /// made; nothing safe can be done without one.
    #[error("the operating system's random number generator failed")]
    Rng(#[source] getrandom::Error),
    /// argon2 refused to hash (for example the password is longer than argon2 accepts).
    #[error("argon2 could not hash the password")]
    Hash(#[source] argon2::password_hash::Error),
}

/// Verifies vendor credentials with the cost, timing, memory and concurrency rules of
/// spec/methods.md ("Auth"). One is made at start-up and shared by every connection.
pub struct PasswordChecker {
    /// HMAC-SHA256 keyed with a random per-process key, cloned for each digest. Keyed so that
    /// the remembered digests are useless outside this process and cannot be brute-forced
    /// offline from a memory dump without also taking the key.
    mac: HmacSha256,
    /// A PHC hash of a random password, made with the strongest argon2 parameters of the
    /// configured vendor hashes (or [`hash_password`]'s when there are none), to verify
    /// against when there is no real hash, so those refusals cost what the others do. Replaced
    /// by [`PasswordChecker::use_dummy_params`] when a reload changes the strongest parameters.
    dummy: RwLock<Dummy>,
    /// Remembered successes: digest of (vendor, expected user) → digest of the whole expected
    /// and given credential. Keyed by the first so that a look-up is one map access and the
    /// secret-dependent comparison is a single constant-time one.
    remembered: Mutex<HashMap<Digest, Digest>>,
    /// Permits for argon2 work; see [`PasswordChecker::new`].
    argon2_permits: Arc<Semaphore>,
}

impl fmt::Debug for PasswordChecker {
    /// Shows neither the key nor the remembered digests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChecker")
            .field("argon2_permits", &self.argon2_permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// The dummy hash and the parameters it was made with.
struct Dummy {
    params: Params,
    hash: Arc<str>,
}

/// What the argon2 step has to verify, decided before it runs so that the blocking task only
/// owns copies of what it needs.
enum Argon2Job {
    /// Verify against the vendor's real hash; its result decides.
    Real { phc: String },
    /// Verify against the dummy only to pay the cost; the result is decided elsewhere.
    Dummy,
}

impl PasswordChecker {
    /// `max_parallel` = how many argon2 verifications may run at once (the daemon passes the
    /// core count); 0 is taken as 1, because no permit at all would make every check wait
    /// forever.
    ///
    /// Makes the per-process MAC key and the dummy hash, which costs one argon2 hash.
    ///
    /// # Errors
    /// [`AuthError::Rng`] if the OS random number generator fails for the key or the dummy
    /// password; [`AuthError::Hash`] if the dummy cannot be hashed (its salt also comes from
    /// the OS random number generator).
    pub fn new(max_parallel: usize) -> Result<Self, AuthError> {
        // HMAC pads a key shorter than the hash's block with zeros (RFC 2104), so a 32-byte
        // random key in a zeroed block is that key; built this way because `new_from_slice`
        // returns an error that cannot happen.
        let mut key = [0u8; HMAC_BLOCK_LEN];
        getrandom::fill(&mut key[..MAC_KEY_LEN]).map_err(AuthError::Rng)?;
        let mac = HmacSha256::new(&key.into());

        let params = Params::default();
        let dummy = Dummy {
            hash: dummy_hash(&params)?,
            params,
        };

        Ok(Self {
            mac,
            dummy: RwLock::new(dummy),
            remembered: Mutex::new(HashMap::new()),
            argon2_permits: Arc::new(Semaphore::new(max_parallel.max(1))),
        })
    }

    /// true iff `given_user == expected.user` and `given_password` matches. `expected = None`
    /// (unknown or disabled vendor) returns false after the same cost.
    ///
    /// A credential verified before (same vendor, user, password and stored credential) is
    /// answered from memory without argon2; every other call pays exactly one argon2
    /// verification, also when it succeeds, so that a refusal of any kind costs the same.
    pub async fn verify(
        &self,
        expected: Option<ExpectedCredential<'_>>,
        given_user: &str,
        given_password: &str,
    ) -> bool {
        self.verify_attempt(expected, given_user, given_password, &|| true)
            .await
            == Verification::Accepted
    }

    /// Whether this exact credential was verified before: answered from memory in constant
    /// time, with no argon2 work, so the caller need not take an authentication slot for it.
    pub fn remembers(
        &self,
        expected: ExpectedCredential<'_>,
        given_user: &str,
        given_password: &str,
    ) -> bool {
        let slot = self.slot_digest(expected.vendor, expected.user);
        let fingerprint = self.credential_digest(expected, given_user, given_password);
        self.is_remembered(&slot, &fingerprint)
    }

    /// [`PasswordChecker::verify`], asking `may_run` once the argon2 permit is granted whether
    /// the check may still go ahead: an address blocked while its attempt waited for the
    /// permit is answered [`Verification::Blocked`] without any argon2 work.
    pub async fn verify_attempt(
        &self,
        expected: Option<ExpectedCredential<'_>>,
        given_user: &str,
        given_password: &str,
        may_run: &(dyn Fn() -> bool + Sync),
    ) -> Verification {
        let Some(expected) = expected else {
            let ran = self
                .run_limited(self.argon2_job(Argon2Job::Dummy, given_password), may_run)
                .await;
            return match ran {
                Some(_) => Verification::Refused,
                None => Verification::Blocked,
            };
        };

        let slot = self.slot_digest(expected.vendor, expected.user);
        let fingerprint = self.credential_digest(expected, given_user, given_password);
        if self.is_remembered(&slot, &fingerprint) {
            return Verification::Accepted;
        }

        // Compared as keyed digests so that neither the content nor the length of the given
        // strings changes how long the comparison takes.
        let user_ok = self
            .keyed_digest(b"user", given_user)
            .ct_eq(&self.keyed_digest(b"user", expected.user));

        let (job, plain_ok) = match expected.password {
            StoredPassword::Plain(stored) => {
                let plain_ok = self
                    .keyed_digest(b"plain", given_password)
                    .ct_eq(&self.keyed_digest(b"plain", stored));
                (Argon2Job::Dummy, Some(plain_ok))
            }
            StoredPassword::Hash(phc) => (
                Argon2Job::Real {
                    phc: phc.to_owned(),
                },
                None,
            ),
        };
        let Some(argon2_ok) = self
            .run_limited(self.argon2_job(job, given_password), may_run)
            .await
        else {
            return Verification::Blocked;
        };

        // Both parts are always computed before either is looked at, so a wrong user costs as
        // much as a wrong password.
        let password_ok = match plain_ok {
            Some(plain_ok) => bool::from(plain_ok),
            None => argon2_ok,
        };
        let accepted = bool::from(user_ok) & password_ok;
        if accepted {
            self.remember(slot, fingerprint);
            Verification::Accepted
        } else {
            Verification::Refused
        }
    }

    /// Pays one dummy argon2 verification for a refusal that was not a password check (a
    /// vendor plugin's denial), so that it costs what a wrong password costs and timing does
    /// not tell which vendors use a plugin. `false` when `may_run` stopped it.
    pub async fn pay_for_refusal(
        &self,
        given_password: &str,
        may_run: &(dyn Fn() -> bool + Sync),
    ) -> bool {
        self.run_limited(self.argon2_job(Argon2Job::Dummy, given_password), may_run)
            .await
            .is_some()
    }

    /// Makes the dummy hash with `params` (the strongest of the configured vendor hashes, see
    /// [`strongest_params`]) unless it already has them. Costs one argon2 hash when they
    /// change; called at start and on every reload, before the configuration takes effect.
    ///
    /// # Errors
    /// As [`PasswordChecker::new`]; the old dummy stays.
    pub fn use_dummy_params(&self, params: Params) -> Result<(), AuthError> {
        if self
            .dummy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .params
            == params
        {
            return Ok(());
        }
        let hash = dummy_hash(&params)?;
        *self.dummy.write().unwrap_or_else(PoisonError::into_inner) = Dummy { params, hash };
        Ok(())
    }

    /// The parameters the dummy hash was made with.
    pub fn dummy_params(&self) -> Params {
        self.dummy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .params
            .clone()
    }

    /// The blocking argon2 work for `job`: true iff the given password matches a real hash.
    /// A stored hash that argon2 cannot use is "no match" and verifies the dummy instead, so it
    /// costs what a wrong password costs.
    fn argon2_job(
        &self,
        job: Argon2Job,
        given_password: &str,
    ) -> impl FnOnce() -> bool + Send + 'static {
        let given_password = given_password.to_owned();
        let dummy_hash = Arc::clone(
            &self
                .dummy
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .hash,
        );
        move || match job {
            Argon2Job::Real { phc } => {
                if let Some(parsed) = usable_argon2_hash(&phc) {
                    argon2_verify(given_password.as_bytes(), &parsed)
                } else {
                    verify_against_dummy(given_password.as_bytes(), &dummy_hash);
                    false
                }
            }
            Argon2Job::Dummy => {
                verify_against_dummy(given_password.as_bytes(), &dummy_hash);
                false
            }
        }
    }

    /// Runs `work` on tokio's blocking pool holding one of the argon2 permits, so that at most
    /// `max_parallel` run at once and the async workers never block on argon2.
    ///
    /// The permit moves into the blocking task: if the caller's future is dropped (client gone)
    /// the work still finishes, and it must keep counting against the cap until it does. A
    /// panic in `work` is "no match". `None`: `may_run`, asked once the permit is granted, said
    /// no, and nothing ran.
    async fn run_limited<F>(&self, work: F, may_run: &(dyn Fn() -> bool + Sync)) -> Option<bool>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        // The semaphore is never closed, so this error cannot happen; refusing is the safe answer.
        let Ok(permit) = Arc::clone(&self.argon2_permits).acquire_owned().await else {
            return Some(false);
        };
        if !may_run() {
            return None;
        }
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        match task.await {
            Ok(matched) => Some(matched),
            Err(error) => {
                tracing::error!(%error, "argon2 verification task failed; treated as no match");
                Some(false)
            }
        }
    }

    /// Whether this exact credential was verified before; the comparison of the secret-dependent
    /// digest is constant-time.
    fn is_remembered(&self, slot: &Digest, fingerprint: &Digest) -> bool {
        let remembered = self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        remembered
            .get(slot)
            .is_some_and(|known| bool::from(known.ct_eq(fingerprint)))
    }

    /// Remembers a success. Clears the memory when it is full rather than tracking age: it only
    /// fills through configuration changes, and the price is one argon2 verification per vendor.
    fn remember(&self, slot: Digest, fingerprint: Digest) {
        let mut remembered = self
            .remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if remembered.len() >= REMEMBERED_MAX && !remembered.contains_key(&slot) {
            tracing::debug!(
                entries = remembered.len(),
                "remembered password verifications cleared"
            );
            remembered.clear();
        }
        remembered.insert(slot, fingerprint);
    }

    /// Where a vendor user's remembered verification is kept.
    fn slot_digest(&self, vendor: &str, user: &str) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(b"slot");
        for field in [vendor, user] {
            update_length_prefixed(&mut mac, field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The digest remembered after a success: the whole expected credential (so a changed
    /// configuration no longer matches) and the whole given one. Length-prefixed so that no two
    /// different tuples encode alike, and a kind byte so a plaintext password that looks like a
    /// PHC string is not taken for that hash.
    fn credential_digest(
        &self,
        expected: ExpectedCredential<'_>,
        given_user: &str,
        given_password: &str,
    ) -> Digest {
        let (kind, stored) = match expected.password {
            StoredPassword::Plain(stored) => (b"plain".as_slice(), stored),
            StoredPassword::Hash(phc) => (b"hash".as_slice(), phc),
        };
        let mut mac = self.mac.clone();
        mac.update(b"credential");
        for field in [
            expected.vendor.as_bytes(),
            expected.user.as_bytes(),
            kind,
            stored.as_bytes(),
            given_user.as_bytes(),
            given_password.as_bytes(),
        ] {
            update_length_prefixed(&mut mac, field);
        }
        mac.finalize().into_bytes().into()
    }

    /// A fixed-length keyed digest of `value` for constant-time comparison; `domain` keeps
    /// digests made for different purposes apart.
    fn keyed_digest(&self, domain: &[u8], value: &str) -> Digest {
        let mut mac = self.mac.clone();
        update_length_prefixed(&mut mac, domain);
        update_length_prefixed(&mut mac, value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// argon2id PHC string with default params and a random salt, for `licd hash-password`.
///
/// # Errors
/// [`AuthError::Hash`] if argon2 refuses the password (too long) or no salt could be drawn.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    hash_password_bytes(password.as_bytes())
}

/// plain synchronous check (config's demo-password check): true iff `phc` is a usable argon2
/// hash of `password`. Blocks for one argon2 verification; not for the request path, which
/// goes through [`PasswordChecker`].
#[must_use]
pub fn verify_hash_blocking(password: &str, phc: &str) -> bool {
    usable_argon2_hash(phc).is_some_and(|parsed| argon2_verify(password.as_bytes(), &parsed))
}

/// The strongest argon2 parameters among the configured vendor hashes: the most work
/// (memory × passes), the dummy hash's parameters, so that an unknown vendor's refusal costs
/// at least what the costliest real hash costs. `Params::default()` (what
/// `licd hash-password` uses) when no vendor has a usable hash.
pub fn strongest_params<'a>(hashes: impl IntoIterator<Item = &'a str>) -> Params {
    hashes
        .into_iter()
        .filter_map(|phc| {
            let parsed = usable_argon2_hash(phc)?;
            let p = Params::try_from(&parsed).ok()?;
            // Only the cost parameters: the output length is the dummy's own business.
            Params::new(p.m_cost(), p.t_cost(), p.p_cost(), None).ok()
        })
        .max_by_key(|p| u64::from(p.m_cost()) * u64::from(p.t_cost()))
        .unwrap_or_default()
}

/// A hash of a random password nobody knows, made with `params`.
fn dummy_hash(params: &Params) -> Result<Arc<str>, AuthError> {
    let mut dummy_password = [0u8; 32];
    getrandom::fill(&mut dummy_password).map_err(AuthError::Rng)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, params.clone());
    argon2
        .hash_password(&dummy_password)
        .map(|hash| Arc::from(hash.to_string()))
        .map_err(AuthError::Hash)
}

fn hash_password_bytes(password: &[u8]) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(AuthError::Hash)
}

/// Parses `phc` and returns it only if argon2 will really run on it: the algorithm is an argon2
/// one, the parameters are valid, and it has a salt and an output. password-hash answers
/// "invalid password" at once for the others, which would make a broken configuration fast to
/// refuse and so tell a prober which vendors have one.
fn usable_argon2_hash(phc: &str) -> Option<PasswordHash> {
    let parsed = PasswordHash::new(phc).ok()?;
    let usable = Algorithm::try_from(parsed.algorithm.as_str()).is_ok()
        && Params::try_from(&parsed).is_ok()
        && parsed.salt.is_some()
        && parsed.hash.is_some();
    usable.then_some(parsed)
}

/// argon2 verification with the parameters the hash names; any error is "no match".
fn argon2_verify(password: &[u8], hash: &PasswordHash) -> bool {
    Argon2::default().verify_password(password, hash).is_ok()
}

/// Pays the cost of one verification; the outcome is irrelevant because nobody knows the random
/// password the dummy was made from.
fn verify_against_dummy(password: &[u8], dummy_hash: &str) {
    if let Some(parsed) = usable_argon2_hash(dummy_hash) {
        argon2_verify(password, &parsed);
    }
}

/// Feeds `field` preceded by its length, so that ("ab", "c") and ("a", "bc") differ.
fn update_length_prefixed(mac: &mut HmacSha256, field: &[u8]) {
    mac.update(&(field.len() as u64).to_le_bytes());
    mac.update(field);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const VENDOR: &str = "acme";
    const USER: &str = "sales";
    const PASSWORD: &str = "correct horse battery staple";

    fn plain(password: &str) -> Option<ExpectedCredential<'_>> {
        Some(ExpectedCredential {
            vendor: VENDOR,
            user: USER,
            password: StoredPassword::Plain(password),
        })
    }

    fn hashed(phc: &str) -> Option<ExpectedCredential<'_>> {
        Some(ExpectedCredential {
            vendor: VENDOR,
            user: USER,
            password: StoredPassword::Hash(phc),
        })
    }

    fn checker() -> PasswordChecker {
        PasswordChecker::new(2).expect("checker")
    }

    async fn timed(
        checker: &PasswordChecker,
        expected: Option<ExpectedCredential<'_>>,
        user: &str,
        password: &str,
    ) -> (bool, Duration) {
        let start = Instant::now();
        let accepted = checker.verify(expected, user, password).await;
        (accepted, start.elapsed())
    }

    /// The fastest of several samples: interference from other tests on a loaded machine
    /// only ever adds time, so the minimum shows the work a path really does.
    fn fastest(samples: Vec<Duration>) -> Duration {
        samples.into_iter().min().unwrap_or_default()
    }

    #[tokio::test]
    async fn correct_plain_password_is_accepted() {
        assert!(checker().verify(plain(PASSWORD), USER, PASSWORD).await);
    }

    #[tokio::test]
    async fn correct_hashed_password_is_accepted() {
        let phc = hash_password(PASSWORD).expect("hash");
        assert!(checker().verify(hashed(&phc), USER, PASSWORD).await);
    }

    #[tokio::test]
    async fn wrong_user_is_refused_with_plain_and_hashed_password() {
        let checker = checker();
        let phc = hash_password(PASSWORD).expect("hash");
        assert!(!checker.verify(plain(PASSWORD), "other", PASSWORD).await);
        assert!(!checker.verify(hashed(&phc), "other", PASSWORD).await);
        assert!(!checker.verify(plain(PASSWORD), "", PASSWORD).await);
    }

    #[tokio::test]
    async fn wrong_password_is_refused_with_plain_and_hashed_password() {
        let checker = checker();
        let phc = hash_password(PASSWORD).expect("hash");
        assert!(!checker.verify(plain(PASSWORD), USER, "wrong").await);
        assert!(!checker.verify(hashed(&phc), USER, "wrong").await);
        assert!(!checker.verify(plain(PASSWORD), USER, "").await);
    }

    #[tokio::test]
    async fn unknown_vendor_is_refused() {
        assert!(!checker().verify(None, USER, PASSWORD).await);
    }

    #[tokio::test]
    async fn plaintext_password_that_looks_like_a_hash_is_not_taken_for_one() {
        let phc = hash_password(PASSWORD).expect("hash");
        let checker = checker();
        assert!(!checker.verify(plain(&phc), USER, PASSWORD).await);
        assert!(checker.verify(plain(&phc), USER, &phc).await);
        assert!(!checker.verify(hashed(&phc), USER, &phc).await);
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_no_match_and_still_costs_one_verification() {
        let checker = checker();
        let phc = hash_password(PASSWORD).expect("hash");
        // The fastest of three: load from other tests only ever adds time.
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples.push(timed(&checker, hashed(&phc), USER, "wrong").await.1);
        }
        let real_cost = fastest(samples);
        for malformed in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$pbkdf2$x",
        ] {
            let (accepted, cost) = timed(&checker, hashed(malformed), USER, PASSWORD).await;
            assert!(!accepted, "{malformed:?} accepted");
            assert!(
                cost * 5 > real_cost,
                "{malformed:?} refused in {cost:?}, a real verification takes {real_cost:?}"
            );
        }
    }

    #[tokio::test]
    async fn second_success_is_served_from_memory() {
        let checker = checker();
        let phc = hash_password(PASSWORD).expect("hash");
        for expected in [hashed(&phc), plain(PASSWORD)] {
            let (first_ok, first) = timed(&checker, expected, USER, PASSWORD).await;
            let (second_ok, second) = timed(&checker, expected, USER, PASSWORD).await;
            assert!(first_ok && second_ok);
            assert!(
                second * 5 < first,
                "first {first:?}, second {second:?}: the second should not run argon2"
            );
        }
    }

    #[tokio::test]
    async fn failures_are_not_remembered() {
        let checker = checker();
        checker.verify(plain(PASSWORD), USER, "wrong").await;
        checker.verify(plain(PASSWORD), USER, "wrong").await;
        assert!(checker.remembered.lock().expect("lock").is_empty());
        assert!(!checker.verify(plain(PASSWORD), USER, "wrong").await);
    }

    #[tokio::test]
    async fn changed_stored_hash_invalidates_the_memory() {
        let checker = checker();
        let old = hash_password(PASSWORD).expect("hash");
        let new = hash_password("the new password").expect("hash");
        assert!(checker.verify(hashed(&old), USER, PASSWORD).await);
        assert!(!checker.verify(hashed(&new), USER, PASSWORD).await);
        assert!(checker.verify(hashed(&new), USER, "the new password").await);
    }

    #[tokio::test]
    async fn changed_user_invalidates_the_memory() {
        let checker = checker();
        assert!(checker.verify(plain(PASSWORD), USER, PASSWORD).await);
        let renamed = Some(ExpectedCredential {
            vendor: VENDOR,
            user: "renamed",
            password: StoredPassword::Plain(PASSWORD),
        });
        assert!(!checker.verify(renamed, USER, PASSWORD).await);
    }

    #[tokio::test]
    async fn remembered_verifications_are_bounded() {
        let checker = checker();
        for n in 0..REMEMBERED_MAX + 10 {
            let vendor = n.to_string();
            let mut mac = checker.mac.clone();
            mac.update(vendor.as_bytes());
            checker.remember(
                checker.slot_digest(&vendor, USER),
                mac.finalize().into_bytes().into(),
            );
        }
        assert!(checker.remembered.lock().expect("lock").len() <= REMEMBERED_MAX);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn timing_of_unknown_vendor_and_wrong_password_is_of_the_same_order() {
        let checker = checker();
        let phc = hash_password(PASSWORD).expect("hash");
        let mut unknown = Vec::new();
        let mut wrong_hashed = Vec::new();
        let mut wrong_plain = Vec::new();
        let mut wrong_user = Vec::new();
        for _ in 0..7 {
            unknown.push(timed(&checker, None, USER, "wrong").await.1);
            wrong_hashed.push(timed(&checker, hashed(&phc), USER, "wrong").await.1);
            wrong_plain.push(timed(&checker, plain(PASSWORD), USER, "wrong").await.1);
            wrong_user.push(timed(&checker, plain(PASSWORD), "other", PASSWORD).await.1);
        }
        let unknown = fastest(unknown);
        for (what, other) in [
            ("wrong hashed password", fastest(wrong_hashed)),
            ("wrong plain password", fastest(wrong_plain)),
            ("wrong user", fastest(wrong_user)),
        ] {
            let ratio = unknown.as_secs_f64() / other.as_secs_f64();
            assert!(
                (1.0 / 3.0..=3.0).contains(&ratio),
                "unknown vendor {unknown:?}, {what} {other:?}"
            );
        }
    }

    /// Counts how many pieces of work run at once through the same path argon2 takes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn argon2_concurrency_cap_is_honoured() {
        for max_parallel in [1, 2] {
            let checker = Arc::new(PasswordChecker::new(max_parallel).expect("checker"));
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let (checker, running, most) = (
                    Arc::clone(&checker),
                    Arc::clone(&running),
                    Arc::clone(&most),
                );
                tasks.push(tokio::spawn(async move {
                    checker
                        .run_limited(
                            move || {
                                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(30));
                                running.fetch_sub(1, Ordering::SeqCst);
                                true
                            },
                            &|| true,
                        )
                        .await
                }));
            }
            for task in tasks {
                assert_eq!(task.await.expect("task"), Some(true));
            }
            // The blocking pool has hundreds of threads, so without the cap all 8 would overlap.
            assert_eq!(most.load(Ordering::SeqCst), max_parallel);
        }
    }

    #[tokio::test]
    async fn panic_in_argon2_task_is_no_match_and_releases_its_permit() {
        let checker = PasswordChecker::new(1).expect("checker");
        assert_eq!(
            checker
                .run_limited(|| panic!("argon2 blew up"), &|| true)
                .await,
            Some(false)
        );
        assert!(checker.verify(plain(PASSWORD), USER, PASSWORD).await);
    }

    #[tokio::test]
    async fn an_attempt_stopped_when_its_permit_is_granted_runs_no_argon2() {
        let checker = checker();
        let phc = hash_password(PASSWORD).expect("hash");
        let outcome = checker
            .verify_attempt(hashed(&phc), USER, PASSWORD, &|| false)
            .await;
        assert_eq!(outcome, Verification::Blocked);
        assert_eq!(
            checker
                .verify_attempt(None, USER, PASSWORD, &|| false)
                .await,
            Verification::Blocked
        );
        assert!(!checker.pay_for_refusal(PASSWORD, &|| false).await);
        // Nothing was verified, so nothing was remembered either.
        assert!(!checker.remembers(hashed(&phc).expect("some"), USER, PASSWORD));
    }

    #[test]
    fn strongest_params_pick_the_costliest_configured_hash() {
        let weak = Params::new(8 * 1024, 1, 1, None).expect("params");
        let strong = Params::new(32 * 1024, 3, 1, None).expect("params");
        let hash = |p: &Params| {
            Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, p.clone())
                .hash_password(b"x")
                .expect("hash")
                .to_string()
        };
        let (w, s) = (hash(&weak), hash(&strong));
        assert_eq!(
            strongest_params([w.as_str(), s.as_str(), "garbage"]),
            strong
        );
        assert_eq!(strongest_params([]), Params::default());
    }

    #[test]
    fn the_dummy_is_remade_only_when_its_parameters_change() {
        let checker = checker();
        assert_eq!(checker.dummy_params(), Params::default());
        let strong = Params::new(32 * 1024, 3, 1, None).expect("params");
        checker.use_dummy_params(strong.clone()).expect("dummy");
        assert_eq!(checker.dummy_params(), strong);
        let hash = checker.dummy.read().expect("lock").hash.clone();
        checker.use_dummy_params(strong).expect("dummy");
        assert!(Arc::ptr_eq(
            &hash,
            &checker.dummy.read().expect("lock").hash
        ));
    }

    #[test]
    fn hash_password_output_verifies_and_is_argon2id() {
        let phc = hash_password(PASSWORD).expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_hash_blocking(PASSWORD, &phc));
        assert!(!verify_hash_blocking("wrong", &phc));
        assert!(!verify_hash_blocking(PASSWORD, "not a hash"));
    }

    #[test]
    fn hash_password_uses_a_fresh_salt_each_time() {
        assert_ne!(
            hash_password(PASSWORD).expect("hash"),
            hash_password(PASSWORD).expect("hash")
        );
    }
}
