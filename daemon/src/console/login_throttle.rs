//! Login throttling: 5 failed logins within 15 minutes from one address lock that address
//! out of the console for 15 minutes (docs/console.md). Kept per node, in memory: a guesser
//! spread over N nodes behind a load balancer gets N times the allowance, which at 5 tries
//! per 15 minutes per node is still far too slow to guess an argon2-hashed password.
//!
//! An attempt is counted as a failure before its password is checked, and refunded when it
//! succeeds, so that concurrent attempts can never all pass the check before any of them is
//! counted (the race the security review found in the vendor throttle, docs/security.md).
//! Addresses are counted as the vendor throttle counts them: IPv6 per /64, clients a proxy
//! could not name in one bucket of their own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::throttle::Bucket;

/// Failed logins that lock an address out.
pub const MAX_FAILURES: usize = 5;
/// The window the failures are counted in, and how long the lock-out lasts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at most; past this the oldest entries go first (the table stays a few
/// MiB whatever an attacker sends from).
const MAX_TRACKED: usize = 65_536;

/// One address's recent failures and lock-out.
#[derive(Debug, Default)]
struct Record {
    /// Failures within the window, oldest first (each an attempt counted before its check).
    failures: VecDeque<Instant>,
    /// Locked out until then.
    locked_until: Option<Instant>,
}

/// An attempt counted by [`LoginThrottle::begin`], to refund if the password was right.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    bucket: Bucket,
    at: Instant,
    /// Whether this attempt's failure set the lock.
    locked: bool,
}

/// The console's per-address login throttle.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    records: Mutex<HashMap<Bucket, Record>>,
}

impl LoginThrottle {
    /// Counts an attempt from `bucket` at `now` as a failure before it is checked; `Err`
    /// with the time left when the address is locked out (nothing is checked then).
    pub fn begin(&self, bucket: impl Into<Bucket>, now: Instant) -> Result<Attempt, Duration> {
        let bucket = bucket.into();
        let mut records = self.lock();
        if records.len() >= MAX_TRACKED && !records.contains_key(&bucket) {
            make_room(&mut records, now);
        }
        let record = records.entry(bucket).or_default();
        if let Some(until) = record.locked_until {
            if until > now {
                return Err(until - now);
            }
            record.locked_until = None;
        }
        while record
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            record.failures.pop_front();
        }
        record.failures.push_back(now);
        let locked = record.failures.len() >= MAX_FAILURES;
        if locked {
            record.locked_until = Some(now + WINDOW);
        }
        Ok(Attempt {
            bucket,
            at: now,
            locked,
        })
    }

    /// Takes back the failure counted for an attempt whose password was right: a member of
    /// staff who logs in is not held to their typos.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut records = self.lock();
        if let Some(record) = records.get_mut(&attempt.bucket) {
            if let Some(i) = record.failures.iter().position(|t| *t == attempt.at) {
                record.failures.remove(i);
            }
            if attempt.locked {
                record.locked_until = None;
            }
            if record.failures.is_empty() && record.locked_until.is_none() {
                records.remove(&attempt.bucket);
            }
        }
    }

    /// A poisoned lock only means another thread panicked mid-update; the counts are still
    /// usable, and refusing every login over it would be worse.
    fn lock(&self) -> MutexGuard<'_, HashMap<Bucket, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Drops what has expired; if nothing had, the eighth of the table that failed longest ago.
fn make_room(records: &mut HashMap<Bucket, Record>, now: Instant) {
    records.retain(|_, r| {
        r.locked_until.is_some_and(|u| u > now)
            || r.failures
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) < WINDOW)
    });
    if records.len() < MAX_TRACKED {
        return;
    }
    let mut by_age: Vec<(Option<Instant>, Bucket)> = records
        .iter()
        .map(|(b, r)| (r.failures.back().copied(), *b))
        .collect();
    by_age.sort_unstable();
    for (_, bucket) in by_age.into_iter().take(MAX_TRACKED / 8) {
        records.remove(&bucket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }

    #[test]
    fn five_failures_in_15_minutes_lock_the_address_out_for_15_minutes() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..5 {
            assert!(t.begin(ip(1), start + Duration::from_secs(60 * i)).is_ok());
        }
        let fifth = start + Duration::from_secs(240);
        let left = t.begin(ip(1), fifth + Duration::from_secs(1)).unwrap_err();
        assert_eq!(left, WINDOW - Duration::from_secs(1));
        assert!(
            t.begin(ip(2), fifth).is_ok(),
            "other addresses are not locked"
        );
        assert!(
            t.begin(ip(1), fifth + WINDOW - Duration::from_secs(1))
                .is_err()
        );
        assert!(t.begin(ip(1), fifth + WINDOW).is_ok(), "the lock-out ends");
    }

    #[test]
    fn failures_older_than_15_minutes_no_longer_count() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..4 {
            t.begin(ip(1), start + Duration::from_secs(i)).unwrap();
        }
        let later = start + WINDOW + Duration::from_secs(10);
        for i in 0..4 {
            assert!(t.begin(ip(1), later + Duration::from_secs(i)).is_ok());
        }
        assert!(t.begin(ip(1), later + Duration::from_secs(5)).is_ok());
        assert!(t.begin(ip(1), later + Duration::from_secs(6)).is_err());
    }

    #[test]
    fn a_right_password_is_refunded_and_concurrent_attempts_never_pass_the_limit() {
        let t = std::sync::Arc::new(LoginThrottle::default());
        let now = Instant::now();
        let ok = t.begin(ip(1), now).unwrap();
        t.succeeded(ok);
        assert!(t.lock().is_empty(), "a good login leaves nothing behind");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || (0..10).filter(|_| t.begin(ip(3), now).is_ok()).count())
            })
            .collect();
        let passed: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(passed, MAX_FAILURES);
    }
}
