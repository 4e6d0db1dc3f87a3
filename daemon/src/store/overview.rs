//! What the console's dashboard shows of all licences at once (docs/console.md): licences
//! by product and model, seats in use and free, licences expiring soon, and releases per
//! day. Built the same way on every backend: the backend hands each licence and each
//! logged release time in the window to [`Overview`], so the counting (an expiry counted
//! from the first activation, say) is written once.

use std::collections::BTreeMap;

use crate::license::License;
use crate::license::dates::{SECONDS_PER_DAY, day_number};

/// Most licences listed as expiring soon (the count is exact either way).
pub const EXPIRING_LISTED: usize = 50;

/// Licences of one product version and model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCount {
    /// Licences.
    pub licences: u64,
    /// Seats they allow.
    pub seats: u64,
    /// Seats in use.
    pub used: u64,
}

/// A licence expiring soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiring {
    /// Canonical key.
    pub key: String,
    /// When it expires.
    pub at: i64,
    /// Product id, major and minor version.
    pub product: (u32, u32, u32),
}

/// The dashboard's numbers, at `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// Now (UTC Unix seconds).
    pub now: i64,
    /// How many days back the per-day series go.
    pub days: i64,
    /// By (product id, major, minor) and model name.
    pub groups: BTreeMap<((u32, u32, u32), &'static str), GroupCount>,
    /// Seats allowed by live licences (not revoked, not replaced, not expired).
    pub seats: u64,
    /// Seats in use on live licences.
    pub used: u64,
    /// Live licences expiring within 30 days, soonest first, at most [`EXPIRING_LISTED`].
    pub expiring: Vec<Expiring>,
    /// How many live licences expire within 30 days.
    pub expiring_count: u64,
    /// Logged releases per UTC day number, the last `days` days.
    pub releases: BTreeMap<i64, u64>,
    /// Counted activations per UTC day number, the last `days` days.
    pub activations: BTreeMap<i64, u64>,
}

/// How far ahead "expiring soon" looks.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

impl Overview {
    /// An empty overview at `now` whose series go `days` days back (today included).
    pub fn new(now: i64, days: i64) -> Overview {
        Overview {
            now,
            days,
            ..Overview::default()
        }
    }

    /// The UTC day numbers of the series, oldest first.
    pub fn day_range(&self) -> std::ops::RangeInclusive<i64> {
        let today = day_number(self.now);
        (today - self.days + 1)..=today
    }

    /// The first second the series count.
    pub fn since(&self) -> i64 {
        day_number(self.now).saturating_sub(self.days - 1) * SECONDS_PER_DAY
    }

    /// Counts one licence.
    pub fn add_license(&mut self, l: &License) {
        let group = self
            .groups
            .entry((
                (l.product_id, l.major_version, l.minor_version),
                l.model.as_str(),
            ))
            .or_default();
        group.licences += 1;
        group.seats += u64::from(l.activations_allowed);
        group.used += u64::from(l.activations_used);
        let expiry = l.effective_expiry();
        let live = !l.revoked && l.upgraded_to.is_none() && expiry.is_none_or(|e| e >= self.now);
        if !live {
            return;
        }
        self.seats += u64::from(l.activations_allowed);
        self.used += u64::from(l.activations_used);
        if let Some(at) = expiry.filter(|e| *e <= self.now + EXPIRING_WITHIN_DAYS * SECONDS_PER_DAY)
        {
            self.expiring_count += 1;
            self.expiring.push(Expiring {
                key: l.key.clone(),
                at,
                product: (l.product_id, l.major_version, l.minor_version),
            });
            self.expiring
                .sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
            self.expiring.truncate(EXPIRING_LISTED);
        }
    }

    /// Counts one logged release at `time` (ignored outside the window).
    pub fn add_release(&mut self, time: i64) {
        self.add_releases(day_number(time), 1);
    }

    /// Counts `n` logged releases on UTC day `day` (ignored outside the window).
    pub fn add_releases(&mut self, day: i64, n: u64) {
        if self.day_range().contains(&day) {
            *self.releases.entry(day).or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn fields(key: &str, expiry: Option<i64>, used: u32) -> License {
        let mut l = License::for_tests("permanent", 3, NOW - 1000);
        l.key = key.into();
        l.expiry = expiry;
        l.activations_used = used;
        l
    }

    #[test]
    fn live_seats_and_licences_expiring_within_30_days_are_counted() {
        let mut o = Overview::new(NOW, 90);
        o.add_license(&fields("A", None, 1));
        o.add_license(&fields("B", Some(NOW + 10 * SECONDS_PER_DAY), 2));
        o.add_license(&fields("C", Some(NOW + 40 * SECONDS_PER_DAY), 0));
        o.add_license(&fields("D", Some(NOW - 1), 3));
        let mut revoked = fields("E", Some(NOW + 1), 1);
        revoked.revoked = true;
        o.add_license(&revoked);
        let mut by_duration = fields("F", None, 1);
        (by_duration.first_activation, by_duration.duration_days) = (Some(NOW), Some(5));
        o.add_license(&by_duration);
        assert_eq!((o.seats, o.used), (12, 4));
        assert_eq!(o.expiring_count, 2);
        assert_eq!(
            o.expiring
                .iter()
                .map(|e| e.key.as_str())
                .collect::<Vec<_>>(),
            ["F", "B"]
        );
        let all = o.groups[&((1, 1, 0), "permanent")];
        assert_eq!((all.licences, all.seats, all.used), (6, 18, 8));
    }

    #[test]
    fn releases_outside_the_window_are_left_out() {
        let mut o = Overview::new(NOW, 90);
        o.add_release(NOW);
        o.add_release(NOW - 89 * SECONDS_PER_DAY);
        o.add_release(NOW - 91 * SECONDS_PER_DAY);
        assert_eq!(o.releases.values().sum::<u64>(), 2);
        assert!(o.since() <= NOW - 89 * SECONDS_PER_DAY);
    }
}
