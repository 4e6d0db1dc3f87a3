//! Unit tests of the subscription-renewal and maintenance-plan rules, without a database.

use super::*;
use crate::license::features::Features;
use crate::license::model::LicenseModel;
use crate::license::properties::{PropertyType, parse_changes};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = SECONDS_PER_DAY;

fn subscription() -> License {
    License {
        key: "F0000000000000000000000000".into(),
        product_id: 1,
        major_version: 1,
        minor_version: 0,
        model: LicenseModel::parse("subscription").unwrap(),
        activations_allowed: 1,
        activations_used: 0,
        features: Features::default(),
        expiry: Some(NOW + 10 * DAY),
        duration_days: None,
        first_activation: None,
        maintenance_plan: false,
        maintenance_renewal: None,
        properties: vec![],
        order_id: None,
        subscription_id: Some("sub-1".into()),
        user_data: None,
        affiliate_id: None,
        email: None,
        customer: None,
        qlm_version: "6.0.00".into(),
        vendor: "v".into(),
        created: NOW - 300 * DAY,
        last_accessed: None,
        revoked: false,
        revision: 2,
        upgraded_to: None,
        max_release_count: None,
        max_release_period: None,
    }
}

fn defs() -> Vec<PropertyDef> {
    vec![PropertyDef {
        category: "quality".into(),
        name: "credits".into(),
        ty: PropertyType::Int,
        default: "0".into(),
    }]
}

fn renew_with(l: &License, term: RenewalTerm, grace_days: i64) -> Result<License, Refusal> {
    let d = defs();
    let request = RenewalRequest {
        term,
        properties: vec![],
        grace_days,
    };
    renew(l, &request, |_, _, _| Some(d.as_slice()), NOW)
}

#[test]
fn a_duration_adds_to_the_old_expiry_when_it_is_in_the_future() {
    let after = renew_with(&subscription(), RenewalTerm::Extend(30), 0).unwrap();
    assert_eq!(after.expiry, Some(NOW + 40 * DAY));
    assert_eq!(after.revision, 3);
    assert_eq!(after.last_accessed, Some(NOW));
}

#[test]
fn a_duration_counts_from_now_when_the_old_expiry_has_passed_within_the_grace() {
    let mut l = subscription();
    l.expiry = Some(NOW - 2 * DAY);
    let after = renew_with(&l, RenewalTerm::Extend(30), 5).unwrap();
    assert_eq!(after.expiry, Some(NOW + 30 * DAY));
}

#[test]
fn an_expiry_further_in_the_past_than_the_grace_period_is_209() {
    let mut l = subscription();
    l.expiry = Some(NOW - 6 * DAY);
    let e = renew_with(&l, RenewalTerm::Extend(30), 5).unwrap_err();
    assert_eq!(e.reason, Reason::Expired);
    let e = renew_with(&l, RenewalTerm::Until(NOW + DAY), 5).unwrap_err();
    assert_eq!(e.reason, Reason::Expired);
    l.expiry = Some(NOW - 1);
    assert_eq!(
        renew_with(&l, RenewalTerm::Extend(1), 0)
            .unwrap_err()
            .reason,
        Reason::Expired
    );
}

#[test]
fn an_expiry_exactly_at_the_end_of_the_grace_is_still_renewed() {
    let mut l = subscription();
    l.expiry = Some(NOW - 5 * DAY);
    assert!(renew_with(&l, RenewalTerm::Extend(1), 5).is_ok());
}

#[test]
fn a_date_sets_the_new_expiry() {
    let after = renew_with(&subscription(), RenewalTerm::Until(NOW + 99 * DAY), 0).unwrap();
    assert_eq!(after.expiry, Some(NOW + 99 * DAY));
}

#[test]
fn an_expiry_derived_from_the_first_activation_is_extended_as_a_fixed_date() {
    let mut l = subscription();
    l.expiry = None;
    l.duration_days = Some(30);
    l.first_activation = Some(NOW - 10 * DAY);
    let after = renew_with(&l, RenewalTerm::Extend(30), 0).unwrap();
    assert_eq!(after.expiry, Some(NOW + 50 * DAY));
    assert_eq!(after.effective_expiry(), Some(NOW + 50 * DAY));
}

#[test]
fn a_duration_not_started_yet_is_lengthened() {
    let mut l = subscription();
    l.expiry = None;
    l.duration_days = Some(30);
    let after = renew_with(&l, RenewalTerm::Extend(10), 0).unwrap();
    assert_eq!((after.expiry, after.duration_days), (None, Some(40)));
}

#[test]
fn a_license_without_any_expiry_gets_one_from_now() {
    let mut l = subscription();
    l.expiry = None;
    let after = renew_with(&l, RenewalTerm::Extend(10), 0).unwrap();
    assert_eq!(after.expiry, Some(NOW + 10 * DAY));
}

#[test]
fn renewal_applies_product_properties_and_refuses_undeclared_ones() {
    let d = defs();
    let mut request = RenewalRequest {
        term: RenewalTerm::Extend(1),
        properties: parse_changes("quality.credits::+5").unwrap(),
        grace_days: 0,
    };
    let l = subscription();
    let after = renew(&l, &request, |_, _, _| Some(d.as_slice()), NOW).unwrap();
    assert_eq!(after.properties[0].value, "5");
    request.properties = parse_changes("quality.nope::1").unwrap();
    let e = renew(&l, &request, |_, _, _| Some(d.as_slice()), NOW).unwrap_err();
    assert_eq!(e.reason, Reason::UnknownProperty);
}

#[test]
fn an_upgraded_license_is_not_renewed() {
    let mut l = subscription();
    l.upgraded_to = Some("X".into());
    let e = renew_with(&l, RenewalTerm::Extend(1), 0).unwrap_err();
    assert_eq!(e.reason, Reason::Rule);
}

#[test]
fn enable_counts_a_duration_from_now_and_turns_the_plan_on() {
    let mut l = subscription();
    l.maintenance_plan = true;
    l.maintenance_renewal = Some(NOW + 100 * DAY);
    let after = set_maintenance(
        &l,
        MaintenanceAction::Enable,
        MaintenanceTerm::Days(30),
        0,
        NOW,
    )
    .unwrap();
    assert!(after.maintenance_plan);
    assert_eq!(after.maintenance_renewal, Some(NOW + 30 * DAY));
    assert_eq!(after.revision, l.revision + 1);
}

#[test]
fn renew_counts_from_a_renewal_date_in_the_future() {
    let mut l = subscription();
    l.maintenance_plan = true;
    l.maintenance_renewal = Some(NOW + 100 * DAY);
    let after = set_maintenance(
        &l,
        MaintenanceAction::Renew,
        MaintenanceTerm::Days(30),
        0,
        NOW,
    )
    .unwrap();
    assert_eq!(after.maintenance_renewal, Some(NOW + 130 * DAY));
}

#[test]
fn renew_counts_from_a_past_renewal_date_within_the_grace_and_from_now_beyond_it() {
    let mut l = subscription();
    l.maintenance_plan = true;
    l.maintenance_renewal = Some(NOW - 3 * DAY);
    let within = set_maintenance(
        &l,
        MaintenanceAction::Renew,
        MaintenanceTerm::Days(30),
        5,
        NOW,
    )
    .unwrap();
    assert_eq!(within.maintenance_renewal, Some(NOW + 27 * DAY));
    let beyond = set_maintenance(
        &l,
        MaintenanceAction::Renew,
        MaintenanceTerm::Days(30),
        2,
        NOW,
    )
    .unwrap();
    assert_eq!(beyond.maintenance_renewal, Some(NOW + 30 * DAY));
}

#[test]
fn renew_of_a_license_without_a_plan_counts_from_now() {
    let mut l = subscription();
    l.maintenance_renewal = Some(NOW + 100 * DAY);
    let after = set_maintenance(
        &l,
        MaintenanceAction::Renew,
        MaintenanceTerm::Days(10),
        0,
        NOW,
    )
    .unwrap();
    assert_eq!(after.maintenance_renewal, Some(NOW + 10 * DAY));
}

#[test]
fn a_maintenance_date_wins_for_both_methods() {
    let mut l = subscription();
    l.maintenance_plan = true;
    l.maintenance_renewal = Some(NOW + 100 * DAY);
    for action in [MaintenanceAction::Enable, MaintenanceAction::Renew] {
        let after =
            set_maintenance(&l, action, MaintenanceTerm::Until(NOW + 7 * DAY), 0, NOW).unwrap();
        assert_eq!(after.maintenance_renewal, Some(NOW + 7 * DAY));
    }
}

#[test]
fn a_renewal_with_the_maintenance_plan_renews_both_as_one_change() {
    let mut l = subscription();
    l.expiry = Some(NOW + 5 * DAY);
    l.maintenance_plan = true;
    l.maintenance_renewal = Some(NOW + 3 * DAY);
    let request = RenewalRequest {
        term: RenewalTerm::Extend(30),
        properties: Vec::new(),
        grace_days: 0,
    };
    let after = renew_with_maintenance(
        &l,
        &request,
        |_, _, _| None,
        MaintenanceTerm::Days(365),
        0,
        NOW,
    )
    .unwrap();
    assert_eq!(after.expiry, Some(NOW + 35 * DAY));
    // As RenewMaintenancePlan: from the current renewal date, which is in the future.
    assert_eq!(after.maintenance_renewal, Some(NOW + 368 * DAY));
    assert_eq!(after.revision, l.revision + 1);
    let mut expired = l.clone();
    expired.expiry = Some(NOW - 10 * DAY);
    let e = renew_with_maintenance(
        &expired,
        &request,
        |_, _, _| None,
        MaintenanceTerm::Days(365),
        0,
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.reason, crate::license::refusal::Reason::Expired);
}
