//! Refusing clients that keep failing to authenticate (spec/methods.md, "Auth":
//! `security.authFailuresPerMinute`), so that guessing passwords costs the guesser a minute per
//! `limit` tries and costs the server no argon2 work while an address is blocked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::http::client_addr::ClientAddr;

/// How long a window lasts from an address's first failure (the authentication throttle's;
/// [`FailureThrottle::with_window`] makes others).
const WINDOW: Duration = Duration::from_secs(60);

/// How many addresses are tracked at most. A window is ~40 bytes plus the map's overhead, so
/// this keeps the table to a few MiB however many addresses an attacker sends from.
const MAX_TRACKED_ADDRESSES: usize = 65_536;

/// What failures are counted against: one IPv4 address, one IPv6 /64 (a single host is
/// routinely given a whole /64, so counting per /128 would give an attacker 2^64 fresh
/// allowances; spec methods.md, Auth), or the one bucket of all clients a trusted proxy could
/// not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6Prefix(u64),
    /// Every [`ClientAddr::Unknown`] client.
    Unknown,
}

/// The bucket as text, for what counts per client address elsewhere (the analytics caps):
/// `192.0.2.7`, `2001:db8:1:2::/64`, or `unknown`.
impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bucket::V4(v4) => write!(f, "{v4}"),
            Bucket::V6Prefix(prefix) => write!(
                f,
                "{}/64",
                std::net::Ipv6Addr::from_bits(u128::from(*prefix) << 64)
            ),
            Bucket::Unknown => f.write_str("unknown"),
        }
    }
}

impl From<ClientAddr> for Bucket {
    fn from(client: ClientAddr) -> Self {
        match client {
            ClientAddr::Ip(ip) => Bucket::from(ip),
            ClientAddr::Unknown => Bucket::Unknown,
        }
    }
}

impl From<IpAddr> for Bucket {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Bucket::V4(v4),
            IpAddr::V6(v6) => Bucket::V6Prefix((v6.to_bits() >> 64) as u64),
        }
    }
}

/// A failure counted by [`FailureThrottle::try_count`], to refund if the attempt succeeds.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    bucket: Bucket,
    /// The window the failure went into: a refund after that window closed changes nothing.
    window: Instant,
}

/// One address's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The first failure of the window; the window closes `length` later.
    opened: Instant,
    /// The throttle's window length.
    length: Duration,
    /// Failures counted since `opened`.
    failures: u32,
}

impl Window {
    fn is_open(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.opened) < self.length
    }
}

/// Per-client-address failure counting: more than `limit` failed authentications from one
/// address within a minute get refused without any check until that minute has passed.
///
/// A fixed window per address: it opens at the address's first failure and lasts 60 s; once
/// `limit` failures are counted in it the address is blocked until it closes, and the next
/// failure after that opens a new one. Only failures are tracked, so clients that authenticate
/// correctly never take room in the table.
///
/// Memory is bounded: at most 65 536 addresses are tracked. When the table is full, expired windows are
/// dropped first; if it is still full the oldest windows are dropped. The trade-off: an attacker
/// who fails from more addresses than that within a minute can push the oldest addresses out
/// early and give them a fresh allowance. The alternatives are worse: refusing to track new
/// addresses would leave exactly those unthrottled, and blocking untracked addresses would let
/// an attacker lock every client out. Making the guesser rotate through tens of thousands of
/// addresses per minute still bounds the guessing rate per address.
#[derive(Debug)]
pub struct FailureThrottle {
    windows: Mutex<HashMap<Bucket, Window>>,
    max_tracked: usize,
    window: Duration,
}

impl Default for FailureThrottle {
    /// Same as [`FailureThrottle::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl FailureThrottle {
    /// An empty throttle tracking at most 65 536 addresses.
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_tracked(MAX_TRACKED_ADDRESSES)
    }

    /// An empty throttle whose windows last `window` instead of a minute: the same fixed
    /// window and bounded table, for counting other things per client address (the codes
    /// mailed per hour of activation by authorization code).
    #[must_use]
    pub fn with_window(window: Duration) -> Self {
        Self {
            window,
            ..Self::new()
        }
    }

    fn with_max_tracked(max_tracked: usize) -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
            max_tracked: max_tracked.max(1),
            window: WINDOW,
        }
    }

    /// Whether `ip` has `limit` or more failures in its open window, and so must be refused
    /// without checking anything. `limit` is passed per call because a configuration reload can
    /// change it; a lower limit applies at once to the failures already counted. A `limit` of 0
    /// blocks an address for the rest of the window opened by its first failure.
    pub fn is_blocked(&self, bucket: impl Into<Bucket>, limit: u32, now: Instant) -> bool {
        self.lock()
            .get(&bucket.into())
            .is_some_and(|window| window.is_open(now) && window.failures >= limit)
    }

    /// Whether more than `limit` failures are counted in the bucket's open window: the check
    /// an attempt already counted makes again before it spends argon2 work (a reload may have
    /// lowered the limit meanwhile).
    pub fn is_over(&self, bucket: impl Into<Bucket>, limit: u32, now: Instant) -> bool {
        self.lock()
            .get(&bucket.into())
            .is_some_and(|window| window.is_open(now) && window.failures > limit)
    }

    /// Counts an attempt as a failure before it is checked, unless the bucket is blocked:
    /// checking and counting under one lock is what keeps concurrent attempts from all
    /// passing the check before any of them is counted (the race the security review found).
    /// `None`: blocked, refuse without checking.
    pub fn try_count(
        &self,
        bucket: impl Into<Bucket>,
        limit: u32,
        now: Instant,
    ) -> Option<Counted> {
        let bucket = bucket.into();
        let mut windows = self.lock();
        let blocked = match windows.get(&bucket) {
            Some(window) if window.is_open(now) => window.failures >= limit,
            _ => limit == 0,
        };
        if blocked {
            return None;
        }
        let window = self.add_failure(&mut windows, bucket, now);
        Some(Counted { bucket, window })
    }

    /// Takes back a failure counted by [`FailureThrottle::try_count`] for an attempt that
    /// succeeded (or failed through no fault of the client's). A window left empty is
    /// dropped, so clients that authenticate correctly take no room in the table.
    pub fn refund(&self, counted: Counted) {
        let mut windows = self.lock();
        if let Some(window) = windows.get_mut(&counted.bucket)
            && window.opened == counted.window
        {
            window.failures = window.failures.saturating_sub(1);
            if window.failures == 0 {
                windows.remove(&counted.bucket);
            }
        }
    }

    /// Counts one failure in the bucket's open window, or in a new one; returns when that
    /// window opened.
    fn add_failure(
        &self,
        windows: &mut HashMap<Bucket, Window>,
        bucket: Bucket,
        now: Instant,
    ) -> Instant {
        if let Some(window) = windows.get_mut(&bucket) {
            if window.is_open(now) {
                window.failures = window.failures.saturating_add(1);
            } else {
                *window = Window {
                    opened: now,
                    length: self.window,
                    failures: 1,
                };
            }
            return window.opened;
        }
        if windows.len() >= self.max_tracked {
            make_room(windows, self.max_tracked, now);
        }
        windows.insert(
            bucket,
            Window {
                opened: now,
                length: self.window,
                failures: 1,
            },
        );
        now
    }

    /// A poisoned lock only means another thread panicked mid-update; the counts are still
    /// usable, and refusing every login over it would be worse.
    fn lock(&self) -> MutexGuard<'_, HashMap<Bucket, Window>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Frees room in a full table: expired windows first; if none had expired, the oldest eighth,
/// so that a flood of new addresses pays this O(n) pass once per `max_tracked / 8` insertions
/// rather than on every one.
fn make_room(windows: &mut HashMap<Bucket, Window>, max_tracked: usize, now: Instant) {
    windows.retain(|_, window| window.is_open(now));
    if windows.len() < max_tracked {
        return;
    }
    let mut by_age: Vec<(Instant, Bucket)> = windows
        .iter()
        .map(|(ip, window)| (window.opened, *ip))
        .collect();
    let evict = (max_tracked / 8).clamp(1, by_age.len());
    // Exactly `evict` entries, even among equal times, so a burst of failures in one instant
    // does not wipe the whole table.
    by_age.select_nth_unstable(evict - 1);
    for (_, ip) in &by_age[..evict] {
        windows.remove(ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LIMIT: u32 = 3;

    /// One failure, counted whatever the limit.
    fn record(throttle: &FailureThrottle, bucket: impl Into<Bucket>, now: Instant) {
        throttle.try_count(bucket, u32::MAX, now);
    }

    fn address(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn a_throttle_with_an_hour_window_keeps_counting_past_the_minute() {
        let throttle = FailureThrottle::with_window(Duration::from_secs(3600));
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let start = Instant::now();
        for _ in 0..10 {
            assert!(throttle.try_count(ip, 10, start).is_some());
        }
        assert!(
            throttle
                .try_count(ip, 10, start + Duration::from_secs(61))
                .is_none()
        );
        assert!(
            throttle
                .try_count(ip, 10, start + Duration::from_secs(3601))
                .is_some()
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..LIMIT {
            record(&throttle, a, now);
        }
        assert!(throttle.is_blocked(same_64, LIMIT, now));
        assert!(!throttle.is_blocked(other_64, LIMIT, now));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_counted_with_its_ipv4_address() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        for _ in 0..LIMIT {
            record(&throttle, "::ffff:10.0.0.1".parse::<IpAddr>().unwrap(), now);
        }
        assert!(throttle.is_blocked(address(1), LIMIT, now));
        assert!(!throttle.is_blocked(address(2), LIMIT, now));
    }

    #[test]
    fn unknown_clients_share_one_bucket_apart_from_every_address() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        for _ in 0..LIMIT {
            record(&throttle, ClientAddr::Unknown, now);
        }
        assert!(throttle.is_blocked(ClientAddr::Unknown, LIMIT, now));
        assert!(!throttle.is_blocked(ClientAddr::Ip(address(1)), LIMIT, now));
    }

    #[test]
    fn try_count_counts_up_to_the_limit_and_no_further() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        let counted: Vec<_> = (0..LIMIT + 5)
            .filter_map(|_| throttle.try_count(address(1), LIMIT, now))
            .collect();
        assert_eq!(counted.len(), LIMIT as usize);
        assert!(throttle.is_blocked(address(1), LIMIT, now));
        assert!(!throttle.is_over(address(1), LIMIT, now));
        assert!(throttle.is_over(address(1), LIMIT - 1, now));
    }

    #[test]
    fn a_refunded_attempt_no_longer_counts_and_an_empty_window_is_dropped() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        let first = throttle.try_count(address(1), LIMIT, now).expect("counted");
        let second = throttle.try_count(address(1), LIMIT, now).expect("counted");
        throttle.refund(first);
        assert_eq!(tracked(&throttle), 1);
        throttle.refund(second);
        assert_eq!(tracked(&throttle), 0);
    }

    #[test]
    fn a_refund_after_its_window_closed_leaves_the_new_window_alone() {
        let throttle = FailureThrottle::new();
        let start = Instant::now();
        let old = throttle
            .try_count(address(1), LIMIT, start)
            .expect("counted");
        let later = start + Duration::from_secs(61);
        for _ in 0..LIMIT {
            throttle
                .try_count(address(1), LIMIT, later)
                .expect("counted");
        }
        throttle.refund(old);
        assert!(throttle.is_blocked(address(1), LIMIT, later));
    }

    #[test]
    fn concurrent_attempts_never_count_past_the_limit() {
        let throttle = std::sync::Arc::new(FailureThrottle::new());
        let now = Instant::now();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let throttle = throttle.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| throttle.try_count(address(1), 20, now).is_some())
                        .count()
                })
            })
            .collect();
        let passed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(passed, 20);
    }

    fn tracked(throttle: &FailureThrottle) -> usize {
        throttle.lock().len()
    }

    #[test]
    fn address_is_blocked_once_limit_failures_are_counted() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        for _ in 0..LIMIT {
            assert!(!throttle.is_blocked(address(1), LIMIT, now));
            record(&throttle, address(1), now);
        }
        assert!(throttle.is_blocked(address(1), LIMIT, now));
        assert!(throttle.is_blocked(address(1), LIMIT, now + Duration::from_secs(59)));
    }

    #[test]
    fn block_lifts_when_the_minute_from_the_first_failure_has_passed() {
        let throttle = FailureThrottle::new();
        let start = Instant::now();
        for second in 0..LIMIT {
            record(
                &throttle,
                address(1),
                start + Duration::from_secs(u64::from(second)),
            );
        }
        assert!(throttle.is_blocked(address(1), LIMIT, start + Duration::from_secs(59)));
        assert!(!throttle.is_blocked(address(1), LIMIT, start + Duration::from_secs(61)));
    }

    #[test]
    fn failure_after_the_window_starts_afresh() {
        let throttle = FailureThrottle::new();
        let start = Instant::now();
        for _ in 0..LIMIT {
            record(&throttle, address(1), start);
        }
        let later = start + Duration::from_secs(61);
        record(&throttle, address(1), later);
        assert!(!throttle.is_blocked(address(1), LIMIT, later));
        for _ in 1..LIMIT {
            record(&throttle, address(1), later);
        }
        assert!(throttle.is_blocked(address(1), LIMIT, later + Duration::from_secs(59)));
    }

    #[test]
    fn a_bucket_reads_as_its_address_or_its_v6_prefix() {
        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("address");
        assert_eq!(Bucket::from(v6).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(Bucket::from(mapped).to_string(), "192.0.2.7");
        assert_eq!(Bucket::Unknown.to_string(), "unknown");
    }

    #[test]
    fn other_addresses_are_unaffected() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        for _ in 0..LIMIT {
            record(&throttle, address(1), now);
        }
        record(&throttle, v6, now);
        assert!(throttle.is_blocked(address(1), LIMIT, now));
        assert!(!throttle.is_blocked(address(2), LIMIT, now));
        assert!(!throttle.is_blocked(v6, LIMIT, now));
    }

    #[test]
    fn limit_given_per_call_applies_to_failures_already_counted() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        record(&throttle, address(1), now);
        record(&throttle, address(1), now);
        assert!(!throttle.is_blocked(address(1), 20, now));
        assert!(throttle.is_blocked(address(1), 2, now));
    }

    #[test]
    fn tracked_addresses_never_exceed_the_bound() {
        let throttle = FailureThrottle::new();
        let now = Instant::now();
        for n in 0..MAX_TRACKED_ADDRESSES as u32 + 1000 {
            record(&throttle, address(n), now);
            if n % 4096 == 0 {
                assert!(tracked(&throttle) <= MAX_TRACKED_ADDRESSES);
            }
        }
        assert!(tracked(&throttle) <= MAX_TRACKED_ADDRESSES);
        // The newest address was kept.
        assert!(throttle.is_blocked(address(MAX_TRACKED_ADDRESSES as u32 + 999), 1, now));
    }

    #[test]
    fn full_table_drops_expired_windows_first() {
        let throttle = FailureThrottle::with_max_tracked(8);
        let start = Instant::now();
        let later = start + Duration::from_secs(30);
        for n in 0..4 {
            record(&throttle, address(n), start);
        }
        for n in 4..8 {
            for _ in 0..LIMIT {
                record(&throttle, address(n), later);
            }
        }
        let after_first_windows = start + Duration::from_secs(61);
        record(&throttle, address(100), after_first_windows);
        assert_eq!(tracked(&throttle), 5);
        for n in 4..8 {
            assert!(throttle.is_blocked(address(n), LIMIT, after_first_windows));
        }
    }

    #[test]
    fn full_table_without_expired_windows_drops_the_oldest() {
        let throttle = FailureThrottle::with_max_tracked(8);
        let start = Instant::now();
        for n in 0..8 {
            for _ in 0..LIMIT {
                record(
                    &throttle,
                    address(n),
                    start + Duration::from_secs(u64::from(n)),
                );
            }
        }
        let now = start + Duration::from_secs(10);
        record(&throttle, address(100), now);
        assert!(tracked(&throttle) <= 8);
        assert!(!throttle.is_blocked(address(0), LIMIT, now));
        for n in 1..8 {
            assert!(throttle.is_blocked(address(n), LIMIT, now));
        }
    }

    #[test]
    fn poisoned_lock_does_not_panic() {
        let throttle = std::sync::Arc::new(FailureThrottle::new());
        let now = Instant::now();
        let poisoner = std::sync::Arc::clone(&throttle);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.windows.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(throttle.windows.is_poisoned());
        record(&throttle, address(1), now);
        assert!(throttle.is_blocked(address(1), 1, now));
    }
}
