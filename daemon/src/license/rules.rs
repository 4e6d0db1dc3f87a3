//! The licence rules of key creation, activation and validation, as pure functions.
//!
//! Each takes the licence as stored, the request, the time and the policy (values from the
//! configuration) and returns the new state or the refusal. The store calls them inside its
//! write transaction, so the same rule decides whether a request is handled alone or in a
//! batch with a hundred others.

use crate::license::keys::{ActivationKey, ComputerKey};
use crate::license::legacy_key;
use crate::license::refusal::{Reason, Refusal};
use crate::license::{Activation, License, STATUS_REVOKED};

/// The product and version a client says it runs (`is_productid`, `is_majorversion`,
/// `is_minorversion`); each is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProductQuery {
    /// `is_productid`.
    pub product_id: Option<u32>,
    /// `is_majorversion`.
    pub major: Option<u32>,
    /// `is_minorversion`.
    pub minor: Option<u32>,
}

/// Checks the client's product and version against the licence (codes 220 and 211).
///
/// `release_date_of(product, major, minor)` answers `None` when that version is not a
/// configured product, else its `releaseDate` (if any): a newer version is allowed when it is
/// configured and released no later than the licence's maintenance renewal date.
pub fn check_product(
    license: &License,
    asked: &ProductQuery,
    allow_older: bool,
    release_date_of: impl Fn(u32, u32, u32) -> Option<Option<i64>>,
) -> Result<(), Refusal> {
    if asked.product_id.is_some_and(|p| p != license.product_id) {
        return Err(Refusal::new(
            Reason::WrongProduct,
            "This activation key is for another product.",
        ));
    }
    if asked.major.is_none() && asked.minor.is_none() {
        return Ok(());
    }
    let licensed = (license.major_version, license.minor_version);
    let wanted = (
        asked.major.unwrap_or(license.major_version),
        asked.minor.unwrap_or(license.minor_version),
    );
    if wanted == licensed || (wanted < licensed && allow_older) {
        return Ok(());
    }
    if wanted > licensed {
        let covered = match (
            release_date_of(license.product_id, wanted.0, wanted.1),
            license
                .maintenance_renewal
                .filter(|_| license.maintenance_plan),
        ) {
            (Some(Some(released)), Some(renewal)) => released <= renewal,
            _ => false,
        };
        if covered {
            return Ok(());
        }
    }
    Err(Refusal::new(
        Reason::WrongVersion,
        format!(
            "This activation key is for version {}.{}, not {}.{}.",
            licensed.0, licensed.1, wanted.0, wanted.1
        ),
    ))
}

/// Refuses a licence that can no longer be used: upgraded (200), revoked (201, with the
/// revoked status flag), expired (209).
pub fn check_usable(license: &License, now: i64) -> Result<(), Refusal> {
    if license.upgraded_to.is_some() {
        return Err(Refusal::rule(
            "This activation key was replaced by a new key when the licence was upgraded; use the new key.",
        ));
    }
    if license.revoked {
        return Err(
            Refusal::new(Reason::Revoked, "This licence has been revoked.")
                .with_status_flags(license.status(now, false) | STATUS_REVOKED),
        );
    }
    if license.is_expired(now) {
        return Err(Refusal::new(Reason::Expired, "This licence has expired."));
    }
    Ok(())
}

/// Refuses a computer ID listed in `options.blockComputerIDs` (200).
pub fn check_computer_allowed(computer_id: &str, blocked: &[String]) -> Result<(), Refusal> {
    if blocked.iter().any(|b| b == computer_id) {
        return Err(Refusal::rule(
            "This computer is not allowed to activate or validate licences on this server.",
        ));
    }
    Ok(())
}

/// What a client sends when it activates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationRequest {
    /// `is_pcid`.
    pub computer_id: String,
    /// `is_computer_name`.
    pub computer_name: Option<String>,
    /// The client address, when `activation.captureIPAddress` is on.
    pub client_ip: Option<String>,
    /// `is_alog_userdata1`, stored on the activation.
    pub activation_user_data: Option<String>,
    /// `is_email`, stored on the licence when it has none.
    pub email: Option<String>,
    /// `is_userdata1`, stored on the licence when it has none.
    pub user_data: Option<String>,
    /// `is_affiliateid`, stored on the licence when it has none.
    pub affiliate_id: Option<String>,
}

/// The configuration values activation depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationPolicy {
    /// `options.maxActivationsPerDay` (-1 = no cap).
    pub max_per_day: i64,
    /// New activations already made today (UTC).
    pub made_today: i64,
    /// `options.useDurationToSetExpiryDateWhenActivating`.
    pub fix_duration_at_activation: bool,
}

/// Activates a licence on a computer that has no activation yet.
///
/// Refuses when every activation is in use (210) or the server-wide daily cap is reached
/// (200; cloud and floating check-outs do not count). Returns the licence with the slot
/// taken and a started duration, and the new activation with its computer key.
pub fn activate(
    license: &License,
    request: &ActivationRequest,
    now: i64,
    policy: ActivationPolicy,
    secret: &[u8; 32],
) -> Result<(License, Activation), Refusal> {
    if license.available() == 0 {
        return Err(Refusal::new(
            Reason::NoSeatsLeft,
            "All the available licenses have already been activated.",
        ));
    }
    if !license.model.is_seat()
        && policy.max_per_day >= 0
        && policy.made_today >= policy.max_per_day
    {
        return Err(Refusal::rule(format!(
            "The server's limit of {} new activations per day has been reached; try again tomorrow.",
            policy.max_per_day
        )));
    }
    let mut updated = license.clone();
    updated.activations_used += 1;
    if updated.first_activation.is_none() {
        updated.first_activation = Some(now);
        if policy.fix_duration_at_activation
            && updated.expiry.is_none()
            && let Some(days) = updated.duration_days
        {
            updated.expiry = Some(now + i64::from(days) * crate::license::dates::SECONDS_PER_DAY);
        }
    }
    updated.last_accessed = Some(now);
    // A licence with a customer has its e-mail there; one without gets the e-mail given,
    // which the store turns into its customer (`store::commands::customers::link_email`).
    if updated.customer.is_none() {
        fill_if_empty(&mut updated.email, &request.email);
    }
    fill_if_empty(&mut updated.user_data, &request.user_data);
    fill_if_empty(&mut updated.affiliate_id, &request.affiliate_id);
    let computer_key = current_computer_key(&updated, &request.computer_id, secret);
    let activation = Activation {
        computer_id: request.computer_id.clone(),
        computer_name: request.computer_name.clone(),
        activated_at: now,
        last_seen: now,
        computer_key: computer_key.as_str().to_string(),
        client_ip: request.client_ip.clone(),
        user_data: request.activation_user_data.clone(),
        offline_until: None,
        imported_computer_key: None,
    };
    Ok((updated, activation))
}

fn fill_if_empty(slot: &mut Option<String>, value: &Option<String>) {
    if slot.is_none() {
        slot.clone_from(value);
    }
}

/// The computer key a computer holds for the licence as it is now.
pub fn current_computer_key(
    license: &License,
    computer_id: &str,
    secret: &[u8; 32],
) -> ComputerKey {
    let key = ActivationKey::from_canonical_unchecked(license.key.clone());
    ComputerKey::derive(secret, &key, computer_id, license.revision, license.model)
}

/// The outcome of validating a computer that is already activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revalidation {
    /// The current computer key, sent in the reply.
    pub computer_key: ComputerKey,
    /// The activation as it should now be stored (last seen, name, key last given).
    pub activation: Activation,
    /// Whether anything besides the last-seen time changed.
    pub changed: bool,
}

/// Validates an existing activation: a client presenting the current computer key or the one
/// it was last given is in good standing, and so is one presenting the key QLM gave an
/// activation imported from QLM; another key is a mismatch (225) only when the server
/// requires a match. An imported activation keeps QLM's key as its current one: the
/// application in the field holds it, and licd cannot derive QLM's keys.
pub fn revalidate(
    license: &License,
    activation: Activation,
    presented_key: Option<&str>,
    new_name: Option<&str>,
    require_match: bool,
    now: i64,
    secret: &[u8; 32],
) -> Result<Revalidation, Refusal> {
    let derived = current_computer_key(license, &activation.computer_id, secret);
    let imported = activation.imported_computer_key.as_deref();
    if let Some(presented) = presented_key {
        let normal = ComputerKey::normalise(presented);
        let known = normal == derived.as_str()
            || normal == activation.computer_key
            || imported.is_some_and(|q| legacy_key::same_computer_key(presented, q));
        if !known && require_match {
            return Err(Refusal::new(
                Reason::ComputerKeyMismatch,
                "The computer key does not match the one issued for this computer; activate again.",
            ));
        }
    }
    let current = imported.map_or(derived, ComputerKey::imported);
    // Taken by value: a validation's hot path would otherwise clone every string of it.
    let mut updated = activation;
    updated.last_seen = now;
    let mut changed = false;
    if updated.computer_key != current.as_str() {
        updated.computer_key = current.as_str().to_string();
        changed = true;
    }
    if let Some(name) = new_name
        && updated.computer_name.as_deref() != Some(name)
    {
        updated.computer_name = Some(name.to_string());
        changed = true;
    }
    Ok(Revalidation {
        computer_key: current,
        activation: updated,
        changed,
    })
}

/// Refuses creating `count` licences past `options.maxNewKeysPerDay` or `options.dbMaxRecords`
/// (200). `-1` means no cap.
pub fn check_creation_limits(
    count: u64,
    made_today: i64,
    max_per_day: i64,
    stored: i64,
    max_stored: i64,
) -> Result<(), Refusal> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if max_per_day >= 0 && made_today.saturating_add(count) > max_per_day {
        return Err(Refusal::rule(format!(
            "The server's limit of {max_per_day} new keys per day would be exceeded ({made_today} made today, {count} asked); try again tomorrow."
        )));
    }
    if max_stored >= 0 && stored.saturating_add(count) > max_stored {
        return Err(Refusal::rule(format!(
            "The server's limit of {max_stored} stored licences would be exceeded ({stored} stored, {count} asked)."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::model::LicenseModel;

    const SECRET: [u8; 32] = [7; 32];

    fn license(seats: u32) -> License {
        let mut l = License::for_tests("permanent", seats, 0);
        l.major_version = 2;
        l.minor_version = 1;
        l.email = Some("first@example.com".into());
        l
    }

    fn request(pc: &str) -> ActivationRequest {
        ActivationRequest {
            computer_id: pc.into(),
            email: Some("second@example.com".into()),
            user_data: Some("ud".into()),
            ..Default::default()
        }
    }

    const OPEN: ActivationPolicy = ActivationPolicy {
        max_per_day: -1,
        made_today: 0,
        fix_duration_at_activation: true,
    };

    #[test]
    fn activation_takes_a_slot_and_keeps_existing_license_data() {
        let (l, a) = activate(&license(2), &request("PC1"), 100, OPEN, &SECRET).unwrap();
        assert_eq!(l.activations_used, 1);
        assert_eq!(l.email.as_deref(), Some("first@example.com"));
        assert_eq!(l.user_data.as_deref(), Some("ud"));
        assert_eq!(
            a.computer_key,
            current_computer_key(&l, "PC1", &SECRET).as_str()
        );
    }

    #[test]
    fn activation_with_no_free_slot_is_code_210() {
        let mut l = license(1);
        l.activations_used = 1;
        let e = activate(&l, &request("PC1"), 0, OPEN, &SECRET).unwrap_err();
        assert_eq!(e.reason, Reason::NoSeatsLeft);
        assert_eq!(
            e.message,
            "All the available licenses have already been activated."
        );
    }

    #[test]
    fn daily_activation_cap_refuses_with_200_but_not_cloud_seats() {
        let policy = ActivationPolicy {
            max_per_day: 3,
            made_today: 3,
            fix_duration_at_activation: true,
        };
        let e = activate(&license(5), &request("PC1"), 0, policy, &SECRET).unwrap_err();
        assert_eq!(e.reason, Reason::Rule);
        let mut cloud = license(5);
        cloud.model = LicenseModel::parse("permanent_cloud").unwrap();
        assert!(activate(&cloud, &request("PC1"), 0, policy, &SECRET).is_ok());
    }

    #[test]
    fn duration_starts_at_first_activation() {
        let mut l = license(2);
        l.duration_days = Some(30);
        let (l, _) = activate(&l, &request("PC1"), 1000, OPEN, &SECRET).unwrap();
        assert_eq!(l.expiry, Some(1000 + 30 * 86_400));
        let (l2, _) = activate(&l, &request("PC2"), 5000, OPEN, &SECRET).unwrap();
        assert_eq!(l2.expiry, Some(1000 + 30 * 86_400));
        assert_eq!(l2.first_activation, Some(1000));
    }

    #[test]
    fn expired_revoked_and_upgraded_licenses_are_refused_in_that_order() {
        let mut l = license(1);
        l.expiry = Some(10);
        assert_eq!(check_usable(&l, 11).unwrap_err().reason, Reason::Expired);
        assert!(check_usable(&l, 10).is_ok());
        l.revoked = true;
        let e = check_usable(&l, 11).unwrap_err();
        assert_eq!(e.reason, Reason::Revoked);
        assert_eq!(
            e.status_flags.map(|s| s & STATUS_REVOKED),
            Some(STATUS_REVOKED)
        );
        l.upgraded_to = Some("X".into());
        assert_eq!(check_usable(&l, 0).unwrap_err().reason, Reason::Rule);
    }

    #[test]
    fn product_and_version_checks_follow_the_spec() {
        let mut l = license(1);
        let none = |_: u32, _: u32, _: u32| None;
        let ask = |p, ma, mi| ProductQuery {
            product_id: p,
            major: ma,
            minor: mi,
        };
        assert_eq!(
            check_product(&l, &ask(Some(2), None, None), false, none)
                .unwrap_err()
                .reason,
            Reason::WrongProduct
        );
        assert!(check_product(&l, &ask(Some(1), Some(2), Some(1)), false, none).is_ok());
        assert_eq!(
            check_product(&l, &ask(None, Some(1), Some(0)), false, none)
                .unwrap_err()
                .reason,
            Reason::WrongVersion
        );
        assert!(check_product(&l, &ask(None, Some(1), Some(0)), true, none).is_ok());
        let released = |_: u32, _: u32, _: u32| Some(Some(500));
        assert!(check_product(&l, &ask(None, Some(3), Some(0)), false, released).is_err());
        l.maintenance_plan = true;
        l.maintenance_renewal = Some(600);
        assert!(check_product(&l, &ask(None, Some(3), Some(0)), false, released).is_ok());
        l.maintenance_renewal = Some(400);
        assert!(check_product(&l, &ask(None, Some(3), Some(0)), false, released).is_err());
    }

    #[test]
    fn key_last_given_stays_in_good_standing_after_a_revision_change() {
        let (mut l, a) = activate(&license(1), &request("PC1"), 0, OPEN, &SECRET).unwrap();
        let old_key = a.computer_key.clone();
        l.revision += 1;
        let r = revalidate(&l, a.clone(), Some(&old_key), None, true, 5, &SECRET).unwrap();
        assert_ne!(r.computer_key.as_str(), old_key);
        assert!(r.changed);
        let e = revalidate(
            &l,
            a.clone(),
            Some("U0000-00000-00000-00000-000000"),
            None,
            true,
            5,
            &SECRET,
        )
        .unwrap_err();
        assert_eq!(e.reason, Reason::ComputerKeyMismatch);
        assert!(revalidate(&l, a, Some("garbage"), None, false, 5, &SECRET).is_ok());
    }

    #[test]
    fn creation_limits_count_what_is_asked() {
        assert!(check_creation_limits(2, 3, 5, 0, -1).is_ok());
        assert!(check_creation_limits(3, 3, 5, 0, -1).is_err());
        assert!(check_creation_limits(1, 0, -1, 10, 10).is_err());
        assert!(check_creation_limits(1, 0, -1, 9, 10).is_ok());
    }
}
