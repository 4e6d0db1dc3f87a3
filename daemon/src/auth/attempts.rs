//! Authentication attempts per client address (spec methods.md, Auth, security issue): each
//! address has [`SLOTS_PER_CLIENT`] slots, an attempt counts against
//! `security.authFailuresPerMinute` when it takes one (refunded if it succeeds), and waiting
//! for a slot counts nothing.
//!
//! Why slots: checking "is this address blocked?" before an argon2 run and counting the
//! failure after it let 399 concurrent wrong passwords from one address all be checked against
//! a limit of 20, and a burst of 600 from one address queued every other vendor's login behind
//! its argon2 work. With two slots an address has at most two checks in flight, each counted
//! before it runs, so it can never be checked more than the limit allows. On top of that one
//! address runs at most half of the argon2 permits (at least one) at once: on a 2-core machine
//! a flood from one address never holds every permit, so another address's login starts its
//! argon2 run at once instead of waiting for the flood's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::throttle::{Bucket, Counted, FailureThrottle};
use crate::http::client_addr::ClientAddr;

/// How many authentication attempts of one client address may be in flight at once.
pub const SLOTS_PER_CLIENT: usize = 2;

/// The client address is blocked: refuse with code 8 without checking anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked;

/// The failure windows of every address and the slots of the addresses now authenticating.
/// One is shared by every connection.
#[derive(Debug)]
pub struct AuthAttempts {
    failures: FailureThrottle,
    /// Only addresses with an attempt holding or waiting for a slot have an entry: the last
    /// one out removes it, so the map is bounded by the requests in flight.
    slots: Mutex<HashMap<Bucket, Places>>,
    /// How many argon2 runs one address may have at once.
    argon2_share: usize,
}

/// An address's slots, and its share of the argon2 permits.
#[derive(Debug, Clone)]
struct Places {
    slots: Arc<Semaphore>,
    argon2: Arc<Semaphore>,
}

impl AuthAttempts {
    /// No failures counted, no slot taken. `argon2_permits` is the number of argon2
    /// verifications that may run at once (the password checker's cap); one address gets half
    /// of them, at least one.
    #[must_use]
    pub fn new(argon2_permits: usize) -> Self {
        AuthAttempts {
            failures: FailureThrottle::new(),
            slots: Mutex::new(HashMap::new()),
            argon2_share: (argon2_permits / 2).max(1),
        }
    }

    /// Whether `client` is blocked now (instant refusal: being blocked tells the caller
    /// nothing new, so it costs no argon2 run).
    pub fn is_blocked(&self, client: ClientAddr, limit: u32) -> bool {
        self.failures.is_blocked(client, limit, Instant::now())
    }

    /// Waits for one of `client`'s slots, then counts the attempt. [`Blocked`] at once when
    /// the address is blocked, and after the wait when it was blocked meanwhile (its waiting
    /// requests get code 8 without a check). Cancel-safe: a dropped wait frees its place.
    pub async fn take_slot(&self, client: ClientAddr, limit: u32) -> Result<Attempt<'_>, Blocked> {
        let bucket = Bucket::from(client);
        if self.failures.is_blocked(bucket, limit, Instant::now()) {
            return Err(Blocked);
        }
        let places = self
            .lock_slots()
            .entry(bucket)
            .or_insert_with(|| Places {
                slots: Arc::new(Semaphore::new(SLOTS_PER_CLIENT)),
                argon2: Arc::new(Semaphore::new(self.argon2_share)),
            })
            .clone();
        let slot = Slot {
            owner: self,
            bucket,
            places: Some(places.clone()),
        };
        // The semaphores are never closed; refusing is the safe answer if they were.
        let permit = places.slots.acquire_owned().await.map_err(|_| Blocked)?;
        let counted = self
            .failures
            .try_count(bucket, limit, Instant::now())
            .ok_or(Blocked)?;
        let attempt = Attempt {
            owner: self,
            bucket,
            limit,
            counted: Some(counted),
            permit: Some(permit),
            argon2_turn: None,
            _slot: Some(slot),
        };
        // Counted first: an attempt waiting for its address's turn at argon2 holds a slot.
        let turn = places.argon2.acquire_owned().await.map_err(|_| Blocked)?;
        Ok(Attempt {
            argon2_turn: Some(turn),
            ..attempt
        })
    }

    /// Counts an attempt that needs no slot because it costs no argon2 (strict authentication's
    /// HMAC check): checked and counted in one step, refunded if it succeeds.
    pub fn count(&self, client: ClientAddr, limit: u32) -> Result<Attempt<'_>, Blocked> {
        let bucket = Bucket::from(client);
        let counted = self
            .failures
            .try_count(bucket, limit, Instant::now())
            .ok_or(Blocked)?;
        Ok(Attempt {
            owner: self,
            bucket,
            limit,
            counted: Some(counted),
            permit: None,
            argon2_turn: None,
            _slot: None,
        })
    }

    /// A poisoned lock only means a thread panicked mid-update; the map is still usable.
    fn lock_slots(&self) -> MutexGuard<'_, HashMap<Bucket, Places>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn tracked_slots(&self) -> usize {
        self.lock_slots().len()
    }
}

/// One counted authentication attempt, holding its slot until dropped. It stays counted as a
/// failure unless [`Attempt::refund`] is called.
#[derive(Debug)]
pub struct Attempt<'a> {
    owner: &'a AuthAttempts,
    bucket: Bucket,
    limit: u32,
    counted: Option<Counted>,
    /// Dropped before `_slot` (fields drop in order), so the slot's clean-up sees the
    /// semaphores free.
    permit: Option<OwnedSemaphorePermit>,
    /// The address's turn at argon2 (see the module's documentation).
    argon2_turn: Option<OwnedSemaphorePermit>,
    _slot: Option<Slot<'a>>,
}

impl Attempt<'_> {
    /// Whether the check may still go ahead, asked again once the argon2 permit is granted:
    /// false when more failures than the limit are now counted (a reload lowered it).
    pub fn still_allowed(&self) -> bool {
        !self
            .owner
            .failures
            .is_over(self.bucket, self.limit, Instant::now())
    }

    /// Takes the attempt back: it succeeded, or failed through no fault of the client's (a
    /// broken plugin must not lock a store's address out).
    pub fn refund(mut self) {
        if let Some(counted) = self.counted.take() {
            self.owner.failures.refund(counted);
        }
        self.argon2_turn = None;
        self.permit = None;
    }
}

/// A place among an address's slots, held or waited for; the last one of an address removes
/// the address's entry.
#[derive(Debug)]
struct Slot<'a> {
    owner: &'a AuthAttempts,
    bucket: Bucket,
    places: Option<Places>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut slots = self.owner.lock_slots();
        // Clones are only made under this lock, so once ours is gone a count of 1 (the map's
        // own) means nobody holds or waits for this address's slots.
        drop(self.places.take());
        if slots
            .get(&self.bucket)
            .is_some_and(|p| Arc::strong_count(&p.slots) == 1)
        {
            slots.remove(&self.bucket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::time::Duration;

    fn client(text: &str) -> ClientAddr {
        ClientAddr::Ip(text.parse::<IpAddr>().expect("address"))
    }

    #[tokio::test]
    async fn an_address_has_two_slots_and_a_third_attempt_waits() {
        let attempts = AuthAttempts::new(4);
        let a = client("10.0.0.1");
        let first = attempts.take_slot(a, 20).await.expect("slot");
        let _second = attempts.take_slot(a, 20).await.expect("slot");
        let third = tokio::time::timeout(Duration::from_millis(50), attempts.take_slot(a, 20));
        assert!(third.await.is_err(), "a third slot was granted");
        // Another address is not held up.
        let _other = attempts
            .take_slot(client("10.0.0.2"), 20)
            .await
            .expect("slot");
        drop(first);
        let third = tokio::time::timeout(Duration::from_millis(50), attempts.take_slot(a, 20));
        assert!(third.await.is_ok(), "a freed slot was not granted");
    }

    #[tokio::test]
    async fn waiting_attempts_are_not_counted_and_get_blocked_after_the_limit() {
        let attempts = Arc::new(AuthAttempts::new(4));
        let a = client("10.0.0.1");
        let limit = 5;
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let attempts = attempts.clone();
                tokio::spawn(async move {
                    let attempt = attempts.take_slot(a, limit).await;
                    tokio::task::yield_now().await;
                    attempt.is_ok()
                })
            })
            .collect();
        let mut checked = 0;
        for t in tasks {
            checked += usize::from(t.await.expect("task"));
        }
        assert_eq!(checked, limit as usize, "exactly the limit was checked");
        assert!(attempts.is_blocked(a, limit));
        assert_eq!(attempts.take_slot(a, limit).await.err(), Some(Blocked));
        assert_eq!(
            attempts.tracked_slots(),
            0,
            "slot entries were not cleaned up"
        );
    }

    #[tokio::test]
    async fn one_address_runs_at_most_half_the_argon2_permits() {
        // Two permits: one address gets one turn at a time, its second slot waits for it.
        let attempts = AuthAttempts::new(2);
        let a = client("10.0.0.1");
        let first = attempts.take_slot(a, 20).await.expect("slot");
        let second = tokio::time::timeout(Duration::from_millis(50), attempts.take_slot(a, 20));
        assert!(second.await.is_err(), "a second argon2 turn was granted");
        let _other = attempts
            .take_slot(client("10.0.0.2"), 20)
            .await
            .expect("slot");
        drop(first);
        let second = tokio::time::timeout(Duration::from_millis(50), attempts.take_slot(a, 20));
        assert!(second.await.is_ok());
    }

    #[tokio::test]
    async fn a_refunded_attempt_does_not_count() {
        let attempts = AuthAttempts::new(4);
        let a = client("10.0.0.1");
        for _ in 0..10 {
            attempts.take_slot(a, 2).await.expect("slot").refund();
            attempts.count(a, 2).expect("counted").refund();
        }
        assert!(!attempts.is_blocked(a, 2));
        drop(attempts.take_slot(a, 2).await.expect("slot"));
        drop(attempts.count(a, 2).expect("counted"));
        assert!(attempts.is_blocked(a, 2));
        assert_eq!(attempts.count(a, 2).err(), Some(Blocked));
    }

    #[tokio::test]
    async fn a_cancelled_wait_frees_its_place() {
        let attempts = AuthAttempts::new(4);
        let a = client("10.0.0.1");
        let first = attempts.take_slot(a, 20).await.expect("slot");
        let second = attempts.take_slot(a, 20).await.expect("slot");
        let waiting = tokio::time::timeout(Duration::from_millis(20), attempts.take_slot(a, 20));
        assert!(waiting.await.is_err());
        drop((first, second));
        assert_eq!(attempts.tracked_slots(), 0);
    }

    #[tokio::test]
    async fn a_lowered_limit_stops_an_attempt_already_counted() {
        let attempts = AuthAttempts::new(4);
        let a = client("10.0.0.1");
        let _one = attempts.take_slot(a, 20).await.expect("slot");
        let two = attempts.take_slot(a, 20).await.expect("slot");
        assert!(two.still_allowed());
        let strict = Attempt { limit: 1, ..two };
        assert!(!strict.still_allowed());
    }
}
