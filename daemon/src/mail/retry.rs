//! When a message whose delivery failed is tried again: the rule of the outbox's backoff.

/// The wait before the first retry (seconds).
pub const FIRST_RETRY_SECONDS: u64 = 5;

pub use crate::store::outbox::{PARKED_AT, is_parked};

/// The wait after the `failures`-th failed attempt (1 for the first): 5 s, then doubling,
/// never more than `cap` seconds.
pub fn delay_after(failures: u32, cap: u64) -> u64 {
    let doublings = failures.saturating_sub(1).min(32);
    FIRST_RETRY_SECONDS
        .saturating_mul(1u64 << doublings)
        .min(cap)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_comes_five_seconds_after_the_failure_then_the_wait_doubles() {
        let waits: Vec<u64> = (1..=6).map(|n| delay_after(n, 600)).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160]);
    }

    #[test]
    fn the_wait_never_passes_the_configured_cap_however_many_failures() {
        assert_eq!(delay_after(8, 600), 600);
        assert_eq!(delay_after(1_000, 600), 600);
        assert_eq!(delay_after(u32::MAX, 86_400), 86_400);
        assert_eq!(delay_after(3, 7), 7);
    }

    #[test]
    fn a_parked_message_is_recognised_by_its_next_try() {
        assert!(is_parked(PARKED_AT));
        assert!(!is_parked(4_102_444_800));
    }
}
