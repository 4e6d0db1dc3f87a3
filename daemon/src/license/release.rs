//! The rules of ReleaseLicenseHttp, in the order methods.md numbers them, as pure functions.
//!
//! The store loads the licence, its activations and its release log, calls [`check_release`]
//! inside the write transaction, and applies [`released`] when it passes, so a release racing
//! an activation of the same key is decided on one consistent state.

use crate::license::dates::SECONDS_PER_DAY;
use crate::license::refusal::{Reason, Refusal};
use crate::license::{Activation, License, deactivation_code};

/// The configuration values a release depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasePolicy<'a> {
    /// `options.releaseLicenseRequiresVerificationCode`.
    pub code_required: bool,
    /// `options.communicationEncryptionKey`.
    pub communication_key: Option<&'a str>,
    /// `options.preventDeactivationPeriod`, minutes.
    pub prevent_minutes: i64,
    /// `options.maxReleaseCount` (-1 unlimited).
    pub max_release_count: i64,
    /// `options.maxReleasePeriodInDays`.
    pub max_release_period_days: i64,
}

/// What the client asked to release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRequest<'a> {
    /// `is_pcid`.
    pub computer_id: Option<&'a str>,
    /// `is_deactivation_code`.
    pub code: Option<&'a str>,
}

/// Rule 1: which activation. `is_pcid` not among the activations is 217 (216 when there are
/// none); without `is_pcid` the key's only activation, 216 if none, 208 if several.
pub fn choose_activation<'a>(
    activations: &'a [Activation],
    computer_id: Option<&str>,
) -> Result<&'a Activation, Refusal> {
    let not_activated = || {
        Refusal::new(
            Reason::NotActivated,
            "This activation key is not activated on any computer.",
        )
    };
    match computer_id {
        Some(pc) => activations
            .iter()
            .find(|a| a.computer_id == pc)
            .ok_or_else(|| {
                if activations.is_empty() {
                    not_activated()
                } else {
                    Refusal::new(
                        Reason::ActivatedElsewhere,
                        format!("This activation key is not activated on computer {pc}."),
                    )
                }
            }),
        None => match activations {
            [] => Err(not_activated()),
            [only] => Ok(only),
            _ => Err(Refusal::new(
                Reason::Missing,
                format!(
                    "The argument is_pcid is required: this key is activated on {} computers; name the one to release.",
                    activations.len()
                ),
            )),
        },
    }
}

/// Rules 2 to 5 for the chosen activation: verification code (208, 224), offline check-out
/// (228), `preventDeactivationPeriod` (200), release limit (212). `release_times` are the
/// times of this licence's earlier releases, from the release log. Cloud and floating
/// check-ins are neither counted nor limited.
pub fn check_release(
    license: &License,
    activation: &Activation,
    request: &ReleaseRequest<'_>,
    policy: &ReleasePolicy<'_>,
    release_times: &[i64],
    now: i64,
) -> Result<(), Refusal> {
    match (request.code, policy.code_required) {
        (None, true) => return Err(Refusal::missing("is_deactivation_code")),
        (None, false) => {}
        (Some(code), _) => {
            let valid = policy.communication_key.is_some_and(|secret| {
                deactivation_code::is_valid(
                    code,
                    &license.key,
                    &activation.computer_id,
                    secret,
                    now,
                )
            });
            if !valid {
                return Err(Refusal::new(
                    Reason::WrongDeactivationCode,
                    "The deactivation verification code is not valid for this key and computer; it may be older than a day. Compute it again on the client.",
                ));
            }
        }
    }
    if activation.offline_until.is_some_and(|until| until > now) {
        return Err(Refusal::new(
            Reason::CheckedOutOffline,
            "This activation is checked out for offline use until a later date.",
        ));
    }
    if policy.prevent_minutes > 0
        && now
            < activation
                .activated_at
                .saturating_add(policy.prevent_minutes.saturating_mul(60))
    {
        return Err(Refusal::rule(format!(
            "This activation is younger than {} minutes and cannot be released yet (options.preventDeactivationPeriod).",
            policy.prevent_minutes
        )));
    }
    if license.model.is_seat() {
        return Ok(());
    }
    let limit = match license.max_release_count {
        None | Some(-2) => policy.max_release_count,
        Some(n) => n,
    };
    if limit < 0 {
        return Ok(());
    }
    let period_days = match license.max_release_period {
        None | Some(-2) => policy.max_release_period_days,
        Some(n) => n,
    };
    let since = if period_days < 0 {
        i64::MIN
    } else {
        now.saturating_sub(period_days.saturating_mul(SECONDS_PER_DAY))
    };
    let used = release_times.iter().filter(|t| **t >= since).count();
    if i64::try_from(used).unwrap_or(i64::MAX) >= limit {
        let period = if period_days < 0 {
            "since the licence was created".to_string()
        } else {
            format!("in {period_days} days")
        };
        return Err(Refusal::new(
            Reason::TooManyReleases,
            format!("This licence has reached its limit of {limit} releases {period}."),
        ));
    }
    Ok(())
}

/// The licence after one of its activations is released: the slot is free again.
pub fn released(license: &License, now: i64) -> License {
    let mut updated = license.clone();
    updated.activations_used = updated.activations_used.saturating_sub(1);
    updated.last_accessed = Some(now);
    updated
}

/// The seat to reclaim when a cloud or floating licence is full: the one idle longest,
/// provided its last validation is older than `threshold_minutes` (0 = never reclaim).
pub fn reclaimable_seat(
    license: &License,
    seats: &[Activation],
    threshold_minutes: u64,
    now: i64,
) -> Option<Activation> {
    if !license.model.is_seat() || threshold_minutes == 0 {
        return None;
    }
    let threshold = i64::try_from(threshold_minutes)
        .unwrap_or(i64::MAX / 60)
        .saturating_mul(60);
    seats
        .iter()
        .filter(|s| now.saturating_sub(s.last_seen) > threshold)
        .min_by_key(|s| s.last_seen)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn license(model: &str) -> License {
        let mut l = License::for_tests(model, 3, NOW - 400 * SECONDS_PER_DAY);
        l.key = "A7K2MQ9XWD3T8RBHN4CZE6V1PG".into();
        l.activations_used = 2;
        l.first_activation = Some(NOW - 1000);
        l
    }

    fn seat(pc: &str, activated_at: i64, last_seen: i64) -> Activation {
        Activation {
            computer_id: pc.into(),
            computer_name: None,
            activated_at,
            last_seen,
            computer_key: String::new(),
            client_ip: None,
            user_data: None,
            offline_until: None,
            imported_computer_key: None,
        }
    }

    const POLICY: ReleasePolicy<'static> = ReleasePolicy {
        code_required: false,
        communication_key: Some("s3cret"),
        prevent_minutes: 0,
        max_release_count: -1,
        max_release_period_days: 365,
    };

    fn req<'a>(pc: Option<&'a str>, code: Option<&'a str>) -> ReleaseRequest<'a> {
        ReleaseRequest {
            computer_id: pc,
            code,
        }
    }

    #[test]
    fn which_activation_follows_rule_one() {
        let none: Vec<Activation> = vec![];
        let one = vec![seat("PC-1", 0, 0)];
        let two = vec![seat("PC-1", 0, 0), seat("PC-2", 0, 0)];
        assert_eq!(
            choose_activation(&none, Some("PC-1")).unwrap_err().reason,
            Reason::NotActivated
        );
        assert_eq!(
            choose_activation(&one, Some("PC-9")).unwrap_err().reason,
            Reason::ActivatedElsewhere
        );
        assert_eq!(
            choose_activation(&none, None).unwrap_err().reason,
            Reason::NotActivated
        );
        assert_eq!(choose_activation(&one, None).unwrap().computer_id, "PC-1");
        let e = choose_activation(&two, None).unwrap_err();
        assert_eq!(e.reason, Reason::Missing);
        assert!(e.message.contains("is_pcid"));
        assert_eq!(
            choose_activation(&two, Some("PC-2")).unwrap().computer_id,
            "PC-2"
        );
    }

    #[test]
    fn verification_code_required_missing_is_208_wrong_is_224_and_given_code_is_checked_when_not_required()
     {
        let l = license("permanent");
        let a = seat("PC-1", 0, 0);
        let required = ReleasePolicy {
            code_required: true,
            ..POLICY
        };
        let e = check_release(&l, &a, &req(None, None), &required, &[], NOW).unwrap_err();
        assert_eq!(e.reason, Reason::Missing);
        assert!(e.message.contains("is_deactivation_code"));
        let e = check_release(&l, &a, &req(None, Some("00")), &POLICY, &[], NOW).unwrap_err();
        assert_eq!(e.reason, Reason::WrongDeactivationCode);
        let today = crate::license::dates::utc_date(NOW).unwrap();
        let code = deactivation_code::code_for(&l.key, "PC-1", "s3cret", today);
        assert!(check_release(&l, &a, &req(None, Some(&code)), &required, &[], NOW).is_ok());
        let no_key = ReleasePolicy {
            communication_key: None,
            ..POLICY
        };
        assert_eq!(
            check_release(&l, &a, &req(None, Some(&code)), &no_key, &[], NOW)
                .unwrap_err()
                .reason,
            Reason::WrongDeactivationCode
        );
    }

    #[test]
    fn offline_checkout_is_228_then_prevent_period_is_200() {
        let l = license("permanent");
        let mut a = seat("PC-1", NOW - 60, NOW);
        a.offline_until = Some(NOW + 10);
        assert_eq!(
            check_release(&l, &a, &req(None, None), &POLICY, &[], NOW)
                .unwrap_err()
                .reason,
            Reason::CheckedOutOffline
        );
        a.offline_until = Some(NOW - 10);
        let prevent = ReleasePolicy {
            prevent_minutes: 5,
            ..POLICY
        };
        assert_eq!(
            check_release(&l, &a, &req(None, None), &prevent, &[], NOW)
                .unwrap_err()
                .reason,
            Reason::Rule
        );
        a.activated_at = NOW - 5 * 60;
        assert!(check_release(&l, &a, &req(None, None), &prevent, &[], NOW).is_ok());
    }

    #[test]
    fn release_limit_counts_the_period_with_license_overrides() {
        let mut l = license("permanent");
        let a = seat("PC-1", 0, 0);
        let two = ReleasePolicy {
            max_release_count: 2,
            max_release_period_days: 30,
            ..POLICY
        };
        let old = NOW - 40 * SECONDS_PER_DAY;
        let recent = NOW - SECONDS_PER_DAY;
        assert!(check_release(&l, &a, &req(None, None), &two, &[old, old, recent], NOW).is_ok());
        let e = check_release(&l, &a, &req(None, None), &two, &[recent, recent], NOW).unwrap_err();
        assert_eq!(e.reason, Reason::TooManyReleases);
        l.max_release_period = Some(-1);
        assert_eq!(
            check_release(&l, &a, &req(None, None), &two, &[old, recent], NOW)
                .unwrap_err()
                .reason,
            Reason::TooManyReleases
        );
        l.max_release_count = Some(-1);
        assert!(check_release(&l, &a, &req(None, None), &two, &[old, recent, recent], NOW).is_ok());
        l.max_release_count = Some(-2);
        l.max_release_period = Some(-2);
        assert!(check_release(&l, &a, &req(None, None), &two, &[old, recent], NOW).is_ok());
        l.max_release_count = Some(0);
        assert!(check_release(&l, &a, &req(None, None), &POLICY, &[], NOW).is_err());
    }

    #[test]
    fn seat_check_ins_are_not_limited() {
        let l = license("permanent_cloud");
        let a = seat("PC-1", 0, 0);
        let zero = ReleasePolicy {
            max_release_count: 0,
            ..POLICY
        };
        assert!(check_release(&l, &a, &req(None, None), &zero, &[NOW, NOW], NOW).is_ok());
    }

    #[test]
    fn idle_seat_is_reclaimed_only_past_the_threshold() {
        let l = license("permanent_floating");
        let seats = vec![
            seat("A", 0, NOW - 30 * 60),
            seat("B", 0, NOW - 11 * 60),
            seat("C", 0, NOW),
        ];
        assert_eq!(
            reclaimable_seat(&l, &seats, 10, NOW).unwrap().computer_id,
            "A"
        );
        assert!(reclaimable_seat(&l, &seats, 60, NOW).is_none());
        assert!(reclaimable_seat(&l, &seats, 0, NOW).is_none());
        assert!(reclaimable_seat(&license("permanent"), &seats, 10, NOW).is_none());
    }

    #[test]
    fn release_frees_a_slot() {
        let l = released(&license("permanent"), NOW);
        assert_eq!(l.activations_used, 1);
        assert_eq!(l.last_accessed, Some(NOW));
    }
}
