//! The licence-editing family besides UpdateLicenseHttp (methods.md): UpgradeLicense,
//! RevokeLicenseHttp, RenewSubscriptionHttp, EnableMaintenancePlan and RenewMaintenancePlan.
//! Gates, authentication, argument checks that change nothing, the effect as a client sees it
//! through ValidateLicenseHttp, and the computer key that changes with every change.

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

const WRONG: &str = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=nope";

fn call(d: &TestDaemon, method: &str, key: &str, extra: &str) -> HttpReply {
    d.call(method, &format!("is_avkey={key}&{VENDOR}&{extra}"))
}

fn report(d: &TestDaemon, key: &str) -> HttpReply {
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    )
}

/// Asserts that each request is refused with `code` and changes nothing.
#[track_caller]
fn refused_unchanged(d: &TestDaemon, method: &str, key: &str, code: u32, bad: &[&str]) {
    let before = d.license_snapshot(key);
    for extra in bad {
        let r = call(d, method, key, extra);
        assert_eq!(r.error_code(), Some(code), "{extra}: {}", r.body);
        assert_eq!(
            d.license_snapshot(key),
            before,
            "{extra} changed the licence"
        );
    }
}

/// `yyyy-MM-dd HH:mm:ss` as Unix seconds.
fn secs(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{s:?} is not yyyy-MM-dd HH:mm:ss: {e}"))
        .and_utc()
        .timestamp()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Asserts a date-time within a minute of `expected` (the server's clock ran meanwhile).
#[track_caller]
fn assert_near(date: &str, expected: i64) {
    let got = secs(date);
    assert!((got - expected).abs() < 60, "{date} is not near {expected}");
}

const DAY: i64 = 86_400;

// UpgradeLicense

#[test]
fn upgrade_gate_auth_and_key_checks() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableUpgradeLicense = false"));
    let key = d.create_key("");
    let m = call(&d, "UpgradeLicense", &key, "").expect_error(7);
    assert!(m.contains("enableUpgradeLicense"), "{m}");
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.call("UpgradeLicense", &format!("is_avkey={key}&{WRONG}"))
        .expect_error(8);
    d.call("UpgradeLicense", VENDOR).expect_error(208);
    call(&d, "UpgradeLicense", "not-a-key", "").expect_error(203);
    d.activate(&key, "PC-1").expect_ok();
}

#[test]
fn upgrade_leaves_the_old_key_dead_and_the_new_key_activates() {
    let d = TestDaemon::start(&TestConfig::demo());
    let old = d.create_key("is_quantity=2&is_licensemodel=trial&is_features=0:1");
    d.activate(&old, "PC-1").expect_ok();
    let r = call(&d, "UpgradeLicense", &old, "");
    r.expect_ok();
    assert_eq!(
        r.get("result").as_deref(),
        Some("The license was upgraded.")
    );
    assert_eq!(r.get("activationKey"), Some(old.clone()));
    let new = r.get("newActivationKey").expect("newActivationKey");
    assert_ne!(new, old);
    assert!(new.starts_with('B'), "trial keys start with B: {new}");
    for refused in [d.activate(&old, "PC-1"), d.activate(&old, "PC-2")] {
        let message = refused.expect_error(200);
        assert!(!message.contains(&new), "{message}");
    }
    let first = d.activate(&new, "PC-1");
    first.expect_ok();
    assert_eq!(first.get("numActivationsAllowed").as_deref(), Some("2"));
    assert_eq!(first.get("availableLicenses").as_deref(), Some("1"));
    assert_eq!(first.get("features").as_deref(), Some("0:1;"));
    assert_eq!(first.get("licenseModel").as_deref(), Some("trial"));
    d.activate(&new, "PC-2").expect_ok();
}

#[test]
fn upgrade_applies_version_features_and_expiry_changes() {
    let d = TestDaemon::start(&TestConfig::demo());
    let old = d.create_key("is_features=0:1");
    let r = call(
        &d,
        "UpgradeLicense",
        &old,
        "is_productid=1&is_majorversion=2&is_minorversion=0&is_features=1:4&is_expdate=2031-05-05&is_expduration=20&is_qlmversion=7",
    );
    let new = r.expect_ok().get("newActivationKey").unwrap();
    let info = report(&d, &new);
    assert_eq!(info.get("majorVersion").as_deref(), Some("2"));
    assert_eq!(info.get("features").as_deref(), Some("0:1;1:4;"));
    assert_eq!(
        info.get("expiryDate").as_deref(),
        Some("2031-05-05 23:59:59")
    );
    assert_eq!(info.get("duration").as_deref(), Some("20"));
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={new}&is_pcid=PC-1&is_majorversion=2&is_minorversion=0"),
    )
    .expect_ok();
}

#[test]
fn upgrade_with_a_bad_argument_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    refused_unchanged(
        &d,
        "UpgradeLicense",
        &key,
        5,
        &[
            "is_majorversion=2&is_features=9:1",
            "is_expdate=2031-02-30",
            "is_expduration=36501",
            "is_majorversion=x",
        ],
    );
    refused_unchanged(&d, "UpgradeLicense", &key, 218, &["is_majorversion=7"]);
    refused_unchanged(&d, "UpgradeLicense", &key, 220, &["is_productid=2"]);
    d.activate(&key, "PC-1").expect_ok();
}

#[test]
fn an_upgraded_key_cannot_be_upgraded_or_updated_again() {
    let d = TestDaemon::start(&TestConfig::demo());
    let old = d.create_key("");
    call(&d, "UpgradeLicense", &old, "").expect_ok();
    call(&d, "UpgradeLicense", &old, "").expect_error(200);
    call(&d, "UpdateLicenseHttp", &old, "is_quantity=3").expect_error(200);
}

#[test]
fn upgrade_with_text_response_format_answers_the_new_key_alone() {
    let d = TestDaemon::start(&TestConfig::demo().append(
        "[[vendor]]\nname = \"shop\"\nuser = \"shop\"\npassword = \"shop\"\nresponseFormat = \"text\"\n",
    ));
    let key = d.create_key("");
    let r = d.call(
        "UpgradeLicense",
        &format!("is_avkey={key}&is_vendor=shop&is_user=shop&is_pwd=shop"),
    );
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    let new = r.body.trim();
    assert_eq!(new.len(), 30, "{}", r.body);
    d.activate(new, "PC-1").expect_ok();
}

#[test]
fn upgrade_counts_against_db_max_records() {
    let d = TestDaemon::start(&TestConfig::demo().options("dbMaxRecords = 1"));
    let key = d.create_key("");
    call(&d, "UpgradeLicense", &key, "").expect_error(200);
    d.activate(&key, "PC-1").expect_ok();
}

#[test]
fn upgrade_moves_the_subscription_to_the_new_key() {
    let d = TestDaemon::start(&TestConfig::demo());
    let old = d.create_key("is_subscriptionid=SUB-U&is_expdate=2031-01-01");
    let new = call(&d, "UpgradeLicense", &old, "")
        .expect_ok()
        .get("newActivationKey")
        .unwrap();
    let r = d.call(
        "RenewSubscriptionHttp",
        &format!("is_subscriptionid=SUB-U&is_expduration=10&{VENDOR}"),
    );
    r.expect_ok();
    assert_eq!(r.all("activationKey"), vec![new.clone(), new]);
}

// RevokeLicenseHttp

#[test]
fn revoke_gate_auth_and_key_checks() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableRevokeLicense = false"));
    let key = d.create_key("");
    let m = call(&d, "RevokeLicenseHttp", &key, "").expect_error(7);
    assert!(m.contains("enableRevokeLicense"), "{m}");
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.call("RevokeLicenseHttp", &format!("is_avkey={key}&{WRONG}"))
        .expect_error(8);
    d.call("RevokeLicenseHttp", VENDOR).expect_error(208);
    call(&d, "RevokeLicenseHttp", "not-a-key", "").expect_error(203);
    refused_unchanged(&d, "RevokeLicenseHttp", &key, 5, &["is_revoke=perhaps"]);
    d.activate(&key, "PC-1").expect_ok();
}

#[test]
fn revoked_license_fails_validation_with_201_and_2048_and_restore_works() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    let pckey = d.activate(&key, "PC-1").expect_ok().get("pckey").unwrap();
    let r = call(&d, "RevokeLicenseHttp", &key, "");
    r.expect_ok();
    assert_eq!(
        r.get("result").as_deref(),
        Some(format!("Successfully updated license information for ActivationKey={key}.").as_str())
    );
    assert_eq!(r.get("activationKey"), Some(key.clone()));
    assert_eq!(r.get("revoked").as_deref(), Some("true"));
    for refused in [d.activate(&key, "PC-1"), d.activate(&key, "PC-2")] {
        refused.expect_error(201);
        let status: u32 = refused.get("status").unwrap().parse().unwrap();
        assert_eq!(status & 2048, 2048, "{}", refused.body);
    }
    let r = call(&d, "RevokeLicenseHttp", &key, "is_revoke=false");
    assert_eq!(r.expect_ok().get("revoked").as_deref(), Some("false"));
    let again = d.activate(&key, "PC-1").expect_ok().get("pckey").unwrap();
    assert_ne!(again, pckey, "the computer key changes with the revision");
    d.activate(&key, "PC-2").expect_ok();
}

#[test]
fn a_revoked_licenses_activations_can_still_be_released() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.activate(&key, "PC-1").expect_ok();
    call(&d, "RevokeLicenseHttp", &key, "is_revoke=1").expect_ok();
    call(&d, "ReleaseLicenseHttp", &key, "is_pcid=PC-1").expect_ok();
}

// RenewSubscriptionHttp

fn renew(d: &TestDaemon, query: &str) -> HttpReply {
    d.call("RenewSubscriptionHttp", &format!("{VENDOR}&{query}"))
}

#[test]
fn renew_gate_and_auth() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableRenewSubscriptionHttp = false"));
    let key = d.create_key("is_expdate=2031-01-01");
    let m = renew(&d, &format!("is_avkey={key}&is_expduration=5")).expect_error(7);
    assert!(m.contains("enableRenewSubscriptionHttp"), "{m}");
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2031-01-01");
    d.call(
        "RenewSubscriptionHttp",
        &format!("is_avkey={key}&is_expduration=5&{WRONG}"),
    )
    .expect_error(8);
    renew(&d, "is_avkey=not-a-key&is_expduration=5").expect_error(203);
    renew(&d, "is_subscriptionid=nobody&is_expduration=5").expect_error(203);
}

#[test]
fn renew_arguments_are_checked_and_bad_ones_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2031-01-01&is_subscriptionid=S");
    renew(&d, "is_expduration=5").expect_error(208);
    let before = d.license_snapshot(&key);
    for bad in [
        format!("is_avkey={key}"),
        format!("is_avkey={key}&is_expduration=5&is_expdate=2032-01-01"),
        format!("is_avkey={key}&is_subscriptionid=S&is_expduration=5"),
        format!("is_avkey={key}&is_expduration=0"),
        format!("is_avkey={key}&is_expduration=36501"),
        format!("is_avkey={key}&is_expdate=2032-02-30"),
        format!("is_avkey={key}&is_expduration=5&is_logRelease=maybe"),
        format!("is_avkey={key}&is_expduration=5&is_pp=broken"),
    ] {
        renew(&d, &bad).expect_error(if bad.contains("is_pp") { 2200 } else { 5 });
        assert_eq!(d.license_snapshot(&key), before, "{bad}");
    }
    renew(
        &d,
        &format!("is_avkey={key}&is_expduration=5&is_pp=quality.nope::1"),
    )
    .expect_error(2201);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn renewal_by_duration_adds_to_the_old_expiry_and_by_date_sets_it() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_licensemodel=subscription&is_expdate=2031-01-01");
    let r = renew(&d, &format!("is_avkey={key}&is_expduration=31"));
    r.expect_ok();
    assert_eq!(r.get("activationKey"), Some(key.clone()));
    assert_eq!(r.get("expiryDate").as_deref(), Some("2031-02-01 23:59:59"));
    assert_eq!(
        report(&d, &key).get("expiryDate").as_deref(),
        Some("2031-02-01 23:59:59")
    );
    let r = renew(
        &d,
        &format!("is_avkey={key}&is_expdate=2035-06-30%2012:00:00"),
    );
    assert_eq!(
        r.expect_ok().get("expiryDate").as_deref(),
        Some("2035-06-30 12:00:00")
    );
}

#[test]
fn renewal_changes_the_computer_key_and_applies_product_properties() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2031-01-01");
    let first = d.activate(&key, "PC-1").expect_ok().get("pckey").unwrap();
    renew(
        &d,
        &format!("is_avkey={key}&is_expduration=1&is_pp=quality.module_validation::%2B5&is_logRelease=false"),
    )
    .expect_ok();
    let after = d.activate(&key, "PC-1");
    assert_ne!(after.expect_ok().get("pckey").unwrap(), first);
    assert!(
        after
            .body
            .contains(r#"name="module_validation" type="int" value="5""#),
        "{}",
        after.body
    );
}

#[test]
fn a_subscription_expired_beyond_the_grace_period_is_209() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2020-01-01");
    renew(&d, &format!("is_avkey={key}&is_expduration=30")).expect_error(209);
    renew(&d, &format!("is_avkey={key}&is_expdate=2031-01-01")).expect_error(209);
    let graceful =
        TestDaemon::start(&TestConfig::demo().options("subscriptionGracePeriod = 100000"));
    let key = graceful.create_key("is_expdate=2020-01-01");
    let r = renew(&graceful, &format!("is_avkey={key}&is_expduration=30"));
    assert_near(&r.expect_ok().get("expiryDate").unwrap(), now() + 30 * DAY);
    graceful.activate(&key, "PC-1").expect_ok();
}

#[test]
fn renewal_by_subscription_id_covers_all_its_keys() {
    let d = TestDaemon::start(&TestConfig::demo());
    let keys = d
        .call(
            "GetActivationKey",
            &format!("is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity=3&is_usemultipleactivationskey=false&is_subscriptionid=SUB-7&is_expdate=2031-01-01&{VENDOR}"),
        )
        .all("activationKey");
    assert_eq!(keys.len(), 3);
    let other = d.create_key("is_subscriptionid=SUB-8&is_expdate=2031-01-01");
    let r = renew(&d, "is_subscriptionid=SUB-7&is_expduration=10");
    r.expect_ok();
    let mut renewed = r.all("activationKey");
    renewed.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(renewed, expected, "{}", r.body);
    assert_eq!(r.all("expiryDate"), vec!["2031-01-11 23:59:59"; 3]);
    for key in &keys {
        assert_eq!(
            report(&d, key).get("expiryDate").as_deref(),
            Some("2031-01-11 23:59:59")
        );
    }
    assert_eq!(
        report(&d, &other).get("expiryDate").as_deref(),
        Some("2031-01-01 23:59:59")
    );
}

#[test]
fn renewal_by_subscription_id_is_all_or_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let keys = d
        .call(
            "GetActivationKey",
            &format!("is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity=2&is_usemultipleactivationskey=false&is_subscriptionid=SUB-9&is_expdate=2031-01-01&{VENDOR}"),
        )
        .all("activationKey");
    call(&d, "UpdateLicenseHttp", &keys[1], "is_expdate=2020-01-01").expect_ok();
    let before = d.license_snapshot(&keys[0]);
    renew(&d, "is_subscriptionid=SUB-9&is_expduration=10").expect_error(209);
    assert_eq!(d.license_snapshot(&keys[0]), before);
}

// EnableMaintenancePlan / RenewMaintenancePlan

#[test]
fn maintenance_auth_and_argument_checks() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    for method in ["EnableMaintenancePlan", "RenewMaintenancePlan"] {
        d.call(method, &format!("is_avkey={key}&{WRONG}"))
            .expect_error(8);
        d.call(method, VENDOR).expect_error(208);
        call(&d, method, "not-a-key", "").expect_error(203);
        refused_unchanged(
            &d,
            method,
            &key,
            5,
            &[
                "is_maintduration=0",
                "is_maintduration=36501",
                "is_maintduration=x",
                "is_maintdate=2031-02-30",
                "is_maintdate=soon",
            ],
        );
    }
}

#[test]
fn enable_counts_from_now_with_the_configured_or_given_duration() {
    let d = TestDaemon::start(&TestConfig::demo().options("maintenancePlanPeriodInDays = 100"));
    let key = d.create_key("");
    let r = call(&d, "EnableMaintenancePlan", &key, "");
    r.expect_ok();
    assert_eq!(r.get("activationKey"), Some(key.clone()));
    assert_near(&r.get("maintenanceRenewalDate").unwrap(), now() + 100 * DAY);
    let r = call(&d, "EnableMaintenancePlan", &key, "is_mainduration=10");
    assert_near(
        &r.expect_ok().get("maintenanceRenewalDate").unwrap(),
        now() + 10 * DAY,
    );
    let shown = report(&d, &key).get("maintenanceRenewalDate").unwrap();
    assert_near(&shown, now() + 10 * DAY);
}

#[test]
fn a_maintenance_date_wins_over_a_duration() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = call(
        &d,
        "EnableMaintenancePlan",
        &key,
        "is_maintdate=2031-05-01&is_maintduration=10",
    );
    assert_eq!(
        r.expect_ok().get("maintenanceRenewalDate").as_deref(),
        Some("2031-05-01 23:59:59")
    );
}

#[test]
fn renew_counts_from_a_future_renewal_date() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    call(&d, "EnableMaintenancePlan", &key, "is_maintdate=2031-05-01").expect_ok();
    let r = call(&d, "RenewMaintenancePlan", &key, "is_maintduration=30");
    assert_eq!(
        r.expect_ok().get("maintenanceRenewalDate").as_deref(),
        Some("2031-05-31 23:59:59")
    );
}

#[test]
fn renew_counts_from_a_past_date_only_within_the_grace_period() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    call(&d, "EnableMaintenancePlan", &key, "is_maintdate=2020-01-01").expect_ok();
    let r = call(&d, "RenewMaintenancePlan", &key, "is_maintduration=30");
    assert_near(
        &r.expect_ok().get("maintenanceRenewalDate").unwrap(),
        now() + 30 * DAY,
    );
    let graceful =
        TestDaemon::start(&TestConfig::demo().options("maintenancePlanGracePeriod = 100000"));
    let key = graceful.create_key("");
    call(
        &graceful,
        "EnableMaintenancePlan",
        &key,
        "is_maintdate=2020-01-01",
    )
    .expect_ok();
    let r = call(
        &graceful,
        "RenewMaintenancePlan",
        &key,
        "is_maintduration=30",
    );
    assert_eq!(
        r.expect_ok().get("maintenanceRenewalDate").as_deref(),
        Some("2020-01-31 23:59:59")
    );
}

#[test]
fn a_maintenance_plan_lets_a_key_activate_a_version_released_within_it() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let v2 = format!("is_avkey={key}&is_pcid=PC-1&is_majorversion=2&is_minorversion=0");
    d.call("ValidateLicenseHttp", &v2).expect_error(211);
    call(&d, "EnableMaintenancePlan", &key, "is_maintdate=2027-01-01").expect_ok();
    d.call("ValidateLicenseHttp", &v2).expect_ok();
}
