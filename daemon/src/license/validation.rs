//! The rules of validating a licence on a computer (ValidateLicenseHttp, ActivateKey,
//! `licd license-file`): whether this client may use the licence now, and how an existing
//! activation is validated under the server's policy.
//!
//! The handler asks [`check_in_use`] on the licence it read, and the store asks it again
//! inside its transaction just before an activation, so a licence revoked a moment earlier is
//! refused either way.

use super::refusal::Refusal;
use super::rules::{self, ProductQuery, Revalidation};
use super::{Activation, License};

/// Refuses a licence this client may not use at `now`: another product or version (codes 220
/// and 211), or a licence upgraded, revoked or expired (200, 201, 209).
///
/// `release_date_of(product, major, minor)` answers `None` when that version is not a
/// configured product, else its release date (if any): a newer version is allowed when the
/// maintenance plan covers its release.
pub fn check_in_use(
    license: &License,
    asked: &ProductQuery,
    allow_older: bool,
    release_date_of: impl Fn(u32, u32, u32) -> Option<Option<i64>>,
    now: i64,
) -> Result<(), Refusal> {
    rules::check_product(license, asked, allow_older, release_date_of)?;
    rules::check_usable(license, now)?;
    Ok(())
}

/// The configuration a validation of an existing activation is decided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevalidationPolicy {
    /// `activation.updateComputerNameWhenReactivating`: a name sent replaces the stored one.
    pub update_name: bool,
    /// `options.requireComputerKeyMatchWhenValidatingOnServer`: an unknown computer key is
    /// refused (225) rather than replaced.
    pub require_key_match: bool,
}

/// Validates an existing activation: the current computer key, the activation as it should
/// now be stored, or a refusal when the server requires the key sent to match.
pub fn revalidation(
    license: &License,
    activation: Activation,
    presented_key: Option<&str>,
    name_sent: Option<&str>,
    policy: RevalidationPolicy,
    now: i64,
    secret: &[u8; 32],
) -> Result<Revalidation, Refusal> {
    let new_name = name_sent.filter(|_| policy.update_name);
    let revalidated = rules::revalidate(
        license,
        activation,
        presented_key,
        new_name,
        policy.require_key_match,
        now,
        secret,
    )?;
    Ok(revalidated)
}

/// Whether a validation of this licence's activation must be written durably before the
/// reply: a cloud or floating seat's last validation decides whether it may be reclaimed, so
/// it is; for other models it is bookkeeping no decision reads, written lazily (README §6).
pub fn validation_is_durable(license: &License) -> bool {
    license.model.is_seat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::refusal::Reason;

    const NOW: i64 = 1_800_000_000;
    const SECRET: [u8; 32] = [3; 32];

    fn license(model: &str) -> License {
        let mut l = License::for_tests(model, 2, NOW - 1000);
        l.key = "A7K2MQ9XWD3T8RBHN4CZE6V1PG".into();
        l
    }

    fn any_version(_: u32, _: u32, _: u32) -> Option<Option<i64>> {
        None
    }

    fn activation(name: &str) -> Activation {
        Activation {
            computer_id: "PC1".into(),
            computer_name: Some(name.into()),
            activated_at: NOW - 500,
            last_seen: NOW - 500,
            computer_key: "OLDKEY".into(),
            client_ip: None,
            user_data: None,
            offline_until: None,
            imported_computer_key: None,
        }
    }

    const LENIENT: RevalidationPolicy = RevalidationPolicy {
        update_name: true,
        require_key_match: false,
    };

    #[test]
    fn a_usable_license_of_the_product_asked_is_in_use() {
        let asked = ProductQuery {
            product_id: Some(1),
            major: Some(1),
            minor: Some(0),
        };
        assert_eq!(
            check_in_use(&license("permanent"), &asked, false, any_version, NOW),
            Ok(())
        );
    }

    #[test]
    fn a_license_of_another_product_is_refused_before_its_state_is_looked_at() {
        let mut l = license("permanent");
        l.revoked = true;
        let asked = ProductQuery {
            product_id: Some(2),
            ..ProductQuery::default()
        };
        let e = check_in_use(&l, &asked, false, any_version, NOW).unwrap_err();
        assert_eq!(e.reason, Reason::WrongProduct);
    }

    #[test]
    fn a_newer_version_without_a_covering_maintenance_plan_is_refused() {
        let asked = ProductQuery {
            major: Some(2),
            ..ProductQuery::default()
        };
        let e = check_in_use(&license("permanent"), &asked, false, any_version, NOW).unwrap_err();
        assert_eq!(e.reason, Reason::WrongVersion);
    }

    #[test]
    fn a_revoked_license_is_refused_with_its_revoked_status() {
        let mut l = license("permanent");
        l.revoked = true;
        let e = check_in_use(&l, &ProductQuery::default(), false, any_version, NOW).unwrap_err();
        assert_eq!(e.reason, Reason::Revoked);
        assert!(e.status_flags.is_some());
    }

    #[test]
    fn an_expired_license_is_refused() {
        let mut l = license("subscription");
        l.expiry = Some(NOW - 1);
        let e = check_in_use(&l, &ProductQuery::default(), false, any_version, NOW).unwrap_err();
        assert_eq!(e.reason, Reason::Expired);
    }

    #[test]
    fn the_name_sent_replaces_the_stored_one_only_when_the_server_says_so() {
        let l = license("permanent");
        let a = activation("old name");
        let kept = RevalidationPolicy {
            update_name: false,
            ..LENIENT
        };
        let r = revalidation(&l, a.clone(), None, Some("new name"), kept, NOW, &SECRET).unwrap();
        assert_eq!(r.activation.computer_name.as_deref(), Some("old name"));
        let r = revalidation(&l, a.clone(), None, Some("new name"), LENIENT, NOW, &SECRET).unwrap();
        assert_eq!(r.activation.computer_name.as_deref(), Some("new name"));
        assert_eq!(r.activation.last_seen, NOW);
    }

    #[test]
    fn an_unknown_computer_key_is_refused_only_when_the_server_requires_a_match() {
        let l = license("permanent");
        let a = activation("pc");
        assert!(revalidation(&l, a.clone(), Some("WRONG"), None, LENIENT, NOW, &SECRET).is_ok());
        let strict = RevalidationPolicy {
            require_key_match: true,
            ..LENIENT
        };
        let e = revalidation(&l, a.clone(), Some("WRONG"), None, strict, NOW, &SECRET).unwrap_err();
        assert_eq!(e.reason, Reason::ComputerKeyMismatch);
    }

    #[test]
    fn only_a_cloud_or_floating_seats_validation_is_written_durably() {
        assert!(validation_is_durable(&license("permanent_cloud")));
        assert!(validation_is_durable(&license("subscription_floating")));
        assert!(!validation_is_durable(&license("permanent")));
    }
}
