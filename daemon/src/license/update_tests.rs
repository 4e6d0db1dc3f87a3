//! Unit tests of the UpdateLicenseHttp and UpgradeLicense rules, without a database.

use super::*;
use crate::license::keys::ActivationKey;
use crate::license::model::{Deployment, LicenseModel};
use crate::license::properties::{PropertyType, parse_changes};

const NOW: i64 = 1_800_000_000;
const DAY: i64 = SECONDS_PER_DAY;

fn license() -> License {
    let model = LicenseModel::PERMANENT;
    License {
        key: ActivationKey::generate(model).unwrap().as_str().to_string(),
        product_id: 1,
        major_version: 1,
        minor_version: 0,
        model,
        activations_allowed: 3,
        activations_used: 2,
        features: Features([1, 2, 0, 0]),
        expiry: None,
        duration_days: None,
        first_activation: None,
        maintenance_plan: false,
        maintenance_renewal: None,
        properties: vec![],
        order_id: Some("order-1".into()),
        subscription_id: None,
        user_data: Some("old data".into()),
        affiliate_id: None,
        email: None,
        customer: None,
        qlm_version: "6.0.00".into(),
        vendor: "v".into(),
        created: NOW - 100 * DAY,
        last_accessed: None,
        revoked: false,
        revision: 4,
        upgraded_to: None,
        max_release_count: None,
        max_release_period: None,
    }
}

fn defs() -> Vec<PropertyDef> {
    vec![PropertyDef {
        category: "quality".into(),
        name: "module_validation".into(),
        ty: PropertyType::Int,
        default: "10".into(),
    }]
}

/// Product 1 versions 1.0 (with one int property) and 2.0 (none) are configured.
fn catalogue<'a>(defs: &'a [PropertyDef]) -> impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]> {
    move |id, major, minor| match (id, major, minor) {
        (1, 1, 0) => Some(defs),
        (1, 2, 0) => Some(&[]),
        _ => None,
    }
}

fn update(l: &License, r: &UpdateRequest) -> Result<License, Refusal> {
    let d = defs();
    apply_update(l, r, catalogue(&d), NOW)
}

fn reason(r: Result<License, Refusal>) -> Reason {
    r.unwrap_err().reason
}

#[test]
fn product_id_alone_is_not_a_change_but_any_field_is() {
    let only_product = UpdateRequest {
        product_id: Some(1),
        ..Default::default()
    };
    assert!(!only_product.changes_something());
    assert!(!UpdateRequest::default().changes_something());
    let expiry_removed = UpdateRequest {
        expiry: ExpiryChange::Remove,
        ..Default::default()
    };
    assert!(expiry_removed.changes_something());
}

#[test]
fn update_moves_the_revision_and_the_last_accessed_time() {
    let l = license();
    let r = UpdateRequest {
        qlm_version: Some("7.0".into()),
        ..Default::default()
    };
    let after = update(&l, &r).unwrap();
    assert_eq!(after.revision, l.revision + 1);
    assert_eq!(after.last_accessed, Some(NOW));
    assert_eq!(after.qlm_version, "7.0");
    assert_eq!(after.key, l.key);
}

#[test]
fn another_product_id_is_220_and_the_same_one_is_accepted() {
    let l = license();
    let other = UpdateRequest {
        product_id: Some(2),
        quantity: Some(5),
        ..Default::default()
    };
    assert_eq!(reason(update(&l, &other)), Reason::WrongProduct);
    let same = UpdateRequest {
        product_id: Some(1),
        quantity: Some(5),
        ..Default::default()
    };
    assert_eq!(update(&l, &same).unwrap().activations_allowed, 5);
}

#[test]
fn new_version_must_be_a_configured_product_218() {
    let l = license();
    let unknown = UpdateRequest {
        major: Some(3),
        ..Default::default()
    };
    assert_eq!(reason(update(&l, &unknown)), Reason::ProductNotFound);
    let known = UpdateRequest {
        major: Some(2),
        ..Default::default()
    };
    let after = update(&l, &known).unwrap();
    assert_eq!((after.major_version, after.minor_version), (2, 0));
}

#[test]
fn features_named_change_and_the_others_keep_their_value() {
    let r = UpdateRequest {
        features: vec![(1, 0), (3, 255)],
        ..Default::default()
    };
    assert_eq!(
        update(&license(), &r).unwrap().features,
        Features([1, 0, 0, 255])
    );
}

#[test]
fn empty_expdate_removes_the_fixed_expiry_and_a_date_sets_it() {
    let mut l = license();
    l.expiry = Some(NOW + DAY);
    let removed = UpdateRequest {
        expiry: ExpiryChange::Remove,
        ..Default::default()
    };
    assert_eq!(update(&l, &removed).unwrap().expiry, None);
    let set = UpdateRequest {
        expiry: ExpiryChange::Set(NOW + 9 * DAY),
        ..Default::default()
    };
    assert_eq!(update(&l, &set).unwrap().expiry, Some(NOW + 9 * DAY));
}

#[test]
fn duration_zero_removes_the_duration() {
    let mut l = license();
    l.duration_days = Some(30);
    let r = UpdateRequest {
        duration_days: Some(0),
        ..Default::default()
    };
    assert_eq!(update(&l, &r).unwrap().duration_days, None);
}

#[test]
fn an_expiry_derived_from_the_duration_follows_a_new_duration() {
    let mut l = license();
    l.first_activation = Some(NOW - DAY);
    l.duration_days = Some(30);
    l.expiry = Some(NOW - DAY + 30 * DAY);
    let r = UpdateRequest {
        duration_days: Some(60),
        ..Default::default()
    };
    let after = update(&l, &r).unwrap();
    assert_eq!(after.expiry, Some(NOW - DAY + 60 * DAY));
    let explicit = UpdateRequest {
        duration_days: Some(60),
        expiry: ExpiryChange::Set(NOW + 5 * DAY),
        ..Default::default()
    };
    assert_eq!(update(&l, &explicit).unwrap().expiry, Some(NOW + 5 * DAY));
}

#[test]
fn an_expiry_set_by_the_vendor_does_not_follow_a_new_duration() {
    let mut l = license();
    l.first_activation = Some(NOW - DAY);
    l.duration_days = Some(30);
    l.expiry = Some(NOW + 400 * DAY);
    let r = UpdateRequest {
        duration_days: Some(60),
        ..Default::default()
    };
    assert_eq!(update(&l, &r).unwrap().expiry, Some(NOW + 400 * DAY));
}

#[test]
fn license_model_changes_the_base_and_keeps_the_deployment() {
    let mut l = license();
    l.model = LicenseModel::parse("permanent_cloud").unwrap();
    let r = UpdateRequest {
        base_model: Some(BaseModel::Subscription),
        ..Default::default()
    };
    let after = update(&l, &r).unwrap();
    assert_eq!(after.model.base, BaseModel::Subscription);
    assert_eq!(after.model.deployment, Deployment::Cloud);
}

#[test]
fn properties_are_checked_against_the_declarations_of_the_new_version() {
    let l = license();
    let r = UpdateRequest {
        properties: parse_changes("quality.module_validation::+5").unwrap(),
        ..Default::default()
    };
    let after = update(&l, &r).unwrap();
    assert_eq!(after.properties[0].value, "15");
    let on_version_2 = UpdateRequest {
        major: Some(2),
        ..r.clone()
    };
    assert_eq!(reason(update(&l, &on_version_2)), Reason::UnknownProperty);
}

#[test]
fn properties_on_an_unconfigured_version_are_2201() {
    let mut l = license();
    l.minor_version = 7;
    let r = UpdateRequest {
        properties: parse_changes("quality.module_validation::1").unwrap(),
        ..Default::default()
    };
    assert_eq!(reason(update(&l, &r)), Reason::UnknownProperty);
}

#[test]
fn quantity_below_the_activations_in_use_is_200_naming_both_numbers() {
    let l = license();
    let r = UpdateRequest {
        quantity: Some(1),
        ..Default::default()
    };
    let e = update(&l, &r).unwrap_err();
    assert_eq!(e.reason, Reason::Rule);
    assert!(
        e.message.contains(" 2 ") && e.message.contains(" 1."),
        "{}",
        e.message
    );
    let at_use = UpdateRequest {
        quantity: Some(2),
        ..Default::default()
    };
    assert_eq!(update(&l, &at_use).unwrap().activations_allowed, 2);
}

#[test]
fn text_fields_revoke_and_release_limits_are_stored() {
    let r = UpdateRequest {
        user_data: Some("new".into()),
        affiliate_id: Some("aff".into()),
        revoke: Some(true),
        max_release_count: Some(-1),
        max_release_period: Some(30),
        ..Default::default()
    };
    let after = update(&license(), &r).unwrap();
    assert_eq!(after.user_data.as_deref(), Some("new"));
    assert_eq!(after.affiliate_id.as_deref(), Some("aff"));
    assert!(after.revoked);
    assert_eq!(after.max_release_count, Some(-1));
    assert_eq!(after.max_release_period, Some(30));
    let restore = UpdateRequest {
        revoke: Some(false),
        max_release_count: Some(-2),
        max_release_period: Some(-2),
        ..Default::default()
    };
    let restored = update(&after, &restore).unwrap();
    assert!(!restored.revoked);
    assert_eq!(restored.max_release_count, None);
    assert_eq!(restored.max_release_period, None);
}

#[test]
fn an_upgraded_license_cannot_be_updated_200() {
    let mut l = license();
    l.upgraded_to = Some("NEWKEY".into());
    let r = UpdateRequest {
        quantity: Some(9),
        ..Default::default()
    };
    let e = update(&l, &r).unwrap_err();
    assert_eq!(e.reason, Reason::Rule);
    assert!(!e.message.contains("NEWKEY"), "{}", e.message);
}

#[test]
fn upgrade_copies_the_license_with_the_changes_and_no_activations() {
    let mut old = license();
    old.first_activation = Some(NOW - DAY);
    let d = defs();
    let r = UpdateRequest {
        major: Some(2),
        features: vec![(2, 4)],
        qlm_version: Some("7".into()),
        ..Default::default()
    };
    let (replaced, new) = apply_upgrade(&old, &r, catalogue(&d), NOW, "NEWKEY").unwrap();
    assert_eq!(replaced.upgraded_to.as_deref(), Some("NEWKEY"));
    assert_eq!(replaced.revision, old.revision + 1);
    assert_eq!(replaced.activations_used, old.activations_used);
    assert_eq!(new.key, "NEWKEY");
    assert_eq!(new.major_version, 2);
    assert_eq!(new.features, Features([1, 2, 4, 0]));
    assert_eq!(new.activations_used, 0);
    assert_eq!(new.activations_allowed, old.activations_allowed);
    assert_eq!(new.first_activation, old.first_activation);
    assert_eq!(new.order_id, old.order_id);
    assert_eq!(
        (new.created, new.revision, new.upgraded_to.clone()),
        (NOW, 0, None)
    );
}

#[test]
fn upgrade_refuses_upgraded_revoked_other_product_and_unknown_version() {
    let d = defs();
    let upgrade = |l: &License, r: &UpdateRequest| {
        apply_upgrade(l, r, catalogue(&d), NOW, "NEWKEY")
            .map(|_| ())
            .unwrap_err()
            .reason
    };
    let mut upgraded = license();
    upgraded.upgraded_to = Some("X".into());
    assert_eq!(upgrade(&upgraded, &UpdateRequest::default()), Reason::Rule);
    let mut revoked = license();
    revoked.revoked = true;
    assert_eq!(
        upgrade(&revoked, &UpdateRequest::default()),
        Reason::Revoked
    );
    let other = UpdateRequest {
        product_id: Some(2),
        ..Default::default()
    };
    assert_eq!(upgrade(&license(), &other), Reason::WrongProduct);
    let unknown = UpdateRequest {
        major: Some(9),
        ..Default::default()
    };
    assert_eq!(upgrade(&license(), &unknown), Reason::ProductNotFound);
}

#[test]
fn revoke_and_restore_move_the_revision_and_refuse_an_upgraded_license() {
    let l = license();
    let revoked = set_revoked(&l, true, NOW).unwrap();
    assert!(revoked.revoked);
    assert_eq!(revoked.revision, l.revision + 1);
    assert_eq!(revoked.activations_used, l.activations_used);
    let restored = set_revoked(&revoked, false, NOW).unwrap();
    assert!(!restored.revoked);
    assert_eq!(restored.revision, l.revision + 2);
    let mut upgraded = l;
    upgraded.upgraded_to = Some("X".into());
    assert_eq!(
        set_revoked(&upgraded, true, NOW).unwrap_err().reason,
        Reason::Rule
    );
}
