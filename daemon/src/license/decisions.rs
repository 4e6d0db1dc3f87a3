//! What a change does, decided from the licence as stored: the rules the store's commands
//! used to hold, as pure functions.
//!
//! Each function takes the licence as stored (and what else the command read), the request,
//! the time and the policy, and returns a decision the store applies as it is: the licence
//! after, the activation to add or remove, whether the change counts toward a daily limit or
//! the release log, and the history line to append. No decision reads or writes storage.

use super::history::HistoryEntry;
use super::refusal::Refusal;
use super::release::{self, ReleasePolicy, ReleaseRequest};
use super::rules::{self, ActivationPolicy, ActivationRequest};
use super::{Activation, License};

/// The configuration an activation is decided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationLimits {
    /// `options.maxActivationsPerDay` (-1 unlimited).
    pub max_per_day: i64,
    /// `options.useDurationToSetExpiryDateWhenActivating`.
    pub fix_duration_at_activation: bool,
    /// `activation.cloudInactivityThresholdMinutes`: a full cloud or floating licence gives
    /// the seat idle longer than this to the new computer (0 = never).
    pub reclaim_after_minutes: u64,
}

/// A new activation, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationDecision {
    /// The licence after the change.
    pub license: License,
    /// The activation to store.
    pub activation: Activation,
    /// An idle seat to remove first, given to the new computer (cloud and floating only),
    /// with its history line.
    pub reclaimed: Option<(Activation, HistoryEntry)>,
    /// Whether the activation counts toward `maxActivationsPerDay` (seat check-outs do not).
    pub counts_today: bool,
}

/// Whether deciding an activation of `stored` needs its activations: only a full cloud or
/// floating licence may reclaim an idle seat, and only then are the seats read.
pub fn activation_needs_seats(stored: &License, limits: &ActivationLimits) -> bool {
    stored.available() == 0 && limits.reclaim_after_minutes > 0 && stored.model.is_seat()
}

/// Whether activations of `licence` count toward the daily limit: cloud and floating seats
/// are checked out and in all day, and neither is a new activation.
pub fn counts_toward_daily_limit(license: &License) -> bool {
    !license.model.is_seat()
}

/// Decides a new activation of `stored` on the computer of `request`.
///
/// `seats` are the licence's activations when [`activation_needs_seats`] said so (otherwise
/// empty), `made_today` the activations counted today. A full cloud or floating licence first
/// gives its longest-idle seat, idle past the threshold, to the new computer; the decision
/// rests on each seat's durably recorded last validation (README §6).
pub fn decide_activation(
    stored: &License,
    seats: &[Activation],
    request: &ActivationRequest,
    now: i64,
    limits: &ActivationLimits,
    made_today: i64,
    secret: &[u8; 32],
) -> Result<ActivationDecision, Refusal> {
    let mut license = stored.clone();
    let mut reclaimed = None;
    if activation_needs_seats(stored, limits)
        && let Some(idle) =
            release::reclaimable_seat(stored, seats, limits.reclaim_after_minutes, now)
    {
        license = release::released(&license, now);
        let mut entry = HistoryEntry::for_activation("reclaimed", now, &idle);
        entry.client = request.client_ip.clone();
        reclaimed = Some((idle, entry));
    }
    let policy = ActivationPolicy {
        max_per_day: limits.max_per_day,
        made_today,
        fix_duration_at_activation: limits.fix_duration_at_activation,
    };
    let (license, activation) = rules::activate(&license, request, now, policy, secret)?;
    let counts_today = counts_toward_daily_limit(&license);
    Ok(ActivationDecision {
        license,
        activation,
        reclaimed,
        counts_today,
    })
}

/// Who asked for a change, for its history line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The vendor that asked, if any.
    pub vendor: Option<String>,
    /// The client address.
    pub client: Option<String>,
}

/// A release, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseDecision {
    /// The licence after the release.
    pub license: License,
    /// The activation to remove.
    pub activation: Activation,
    /// Whether the release goes into the release log that the release limits count (cloud
    /// and floating check-ins are neither counted nor limited). Kept whatever the history
    /// settings say.
    pub logged: bool,
    /// The history line to append, when history logging is on.
    pub history: Option<HistoryEntry>,
}

/// Decides the release of one of `seats` of `stored`, against its earlier releases
/// (`release_times`, oldest first) and the policy (methods.md, ReleaseLicenseHttp rules 1–5).
#[allow(clippy::too_many_arguments)] // Each is one input of the rule, named at the call.
pub fn decide_release(
    stored: &License,
    seats: &[Activation],
    request: &ReleaseRequest<'_>,
    policy: &ReleasePolicy<'_>,
    release_times: &[i64],
    now: i64,
    log_history: bool,
    actor: Actor,
) -> Result<ReleaseDecision, Refusal> {
    let activation = release::choose_activation(seats, request.computer_id)?.clone();
    release::check_release(stored, &activation, request, policy, release_times, now)?;
    let license = release::released(stored, now);
    let history = log_history.then(|| {
        let mut entry = HistoryEntry::for_activation("released", now, &activation);
        entry.vendor = actor.vendor;
        entry.client = actor.client;
        entry
    });
    Ok(ReleaseDecision {
        logged: counts_toward_daily_limit(&license),
        license,
        activation,
        history,
    })
}

/// Whether a renewal of a subscription changes this licence of it: a key replaced by an
/// upgrade is renewed through its successor, never itself.
pub fn renewed_with_subscription(license: &License) -> bool {
    license.upgraded_to.is_none()
}

/// The history line of a change in place or an upgrade: the licence as it was before.
pub fn change_entry(event: &str, time: i64, actor: &Actor, before: &License) -> HistoryEntry {
    HistoryEntry {
        time,
        event: event.to_string(),
        computer_id: None,
        computer_name: None,
        computer_key: None,
        activated_at: None,
        vendor: actor.vendor.clone(),
        client: actor.client.clone(),
        license_before: Some(Box::new(before.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::refusal::Reason;

    const NOW: i64 = 1_800_000_000;
    const SECRET: [u8; 32] = [7; 32];

    fn license(model: &str, seats: u32, used: u32) -> License {
        let mut l = License::for_tests(model, seats, NOW - 1000);
        l.key = "A7K2MQ9XWD3T8RBHN4CZE6V1PG".into();
        l.activations_used = used;
        l
    }

    fn seat(pc: &str, last_seen: i64) -> Activation {
        Activation {
            computer_id: pc.into(),
            computer_name: None,
            activated_at: last_seen,
            last_seen,
            computer_key: "K".into(),
            client_ip: None,
            user_data: None,
            offline_until: None,
            imported_computer_key: None,
        }
    }

    fn request(pc: &str) -> ActivationRequest {
        ActivationRequest {
            computer_id: pc.into(),
            client_ip: Some("192.0.2.1".into()),
            ..ActivationRequest::default()
        }
    }

    fn limits(reclaim_after_minutes: u64) -> ActivationLimits {
        ActivationLimits {
            max_per_day: -1,
            fix_duration_at_activation: false,
            reclaim_after_minutes,
        }
    }

    #[test]
    fn a_full_cloud_license_gives_its_longest_idle_seat_to_a_new_computer() {
        let stored = license("permanent_cloud", 2, 2);
        let seats = [seat("old", NOW - 7200), seat("older", NOW - 9000)];
        assert!(activation_needs_seats(&stored, &limits(60)));
        let d = decide_activation(
            &stored,
            &seats,
            &request("new"),
            NOW,
            &limits(60),
            0,
            &SECRET,
        )
        .unwrap();
        let (gone, entry) = d.reclaimed.expect("a seat is reclaimed");
        assert_eq!(gone.computer_id, "older");
        assert_eq!(entry.event, "reclaimed");
        assert_eq!(entry.client.as_deref(), Some("192.0.2.1"));
        assert_eq!(d.license.activations_used, 2);
        assert!(!d.counts_today, "a seat check-out is not a new activation");
    }

    #[test]
    fn a_full_cloud_license_with_no_seat_idle_long_enough_refuses() {
        let stored = license("permanent_cloud", 1, 1);
        let seats = [seat("busy", NOW - 60)];
        let e = decide_activation(
            &stored,
            &seats,
            &request("new"),
            NOW,
            &limits(60),
            0,
            &SECRET,
        )
        .unwrap_err();
        assert_eq!(e.reason, Reason::NoSeatsLeft);
    }

    #[test]
    fn a_full_standard_license_never_reads_its_seats_and_an_activation_counts_today() {
        let full = license("permanent", 1, 1);
        assert!(!activation_needs_seats(&full, &limits(60)));
        let open = license("permanent", 2, 1);
        let d =
            decide_activation(&open, &[], &request("pc"), NOW, &limits(60), 0, &SECRET).unwrap();
        assert!(d.counts_today);
        assert!(d.reclaimed.is_none());
        assert_eq!(d.license.activations_used, 2);
    }

    #[test]
    fn a_release_of_a_cloud_seat_is_not_logged_for_the_limits_and_history_follows_the_setting() {
        let policy = ReleasePolicy {
            code_required: false,
            communication_key: None,
            prevent_minutes: 0,
            max_release_count: -1,
            max_release_period_days: 0,
        };
        let req = ReleaseRequest {
            computer_id: Some("pc"),
            code: None,
        };
        let actor = Actor {
            vendor: Some("v".into()),
            client: None,
        };
        let seats = [seat("pc", NOW - 100)];
        let cloud = license("permanent_cloud", 2, 1);
        let d = decide_release(
            &cloud,
            &seats,
            &req,
            &policy,
            &[],
            NOW,
            false,
            actor.clone(),
        )
        .unwrap();
        assert!(!d.logged);
        assert!(d.history.is_none());
        let standard = license("permanent", 2, 1);
        let d = decide_release(&standard, &seats, &req, &policy, &[], NOW, true, actor).unwrap();
        assert!(d.logged);
        assert_eq!(d.license.activations_used, 0);
        let entry = d.history.expect("history on");
        assert_eq!(entry.event, "released");
        assert_eq!(entry.vendor.as_deref(), Some("v"));
    }

    #[test]
    fn an_upgraded_key_is_not_renewed_with_its_subscription() {
        let mut l = license("subscription", 1, 0);
        assert!(renewed_with_subscription(&l));
        l.upgraded_to = Some("NEW".into());
        assert!(!renewed_with_subscription(&l));
    }
}
