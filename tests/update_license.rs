//! UpdateLicenseHttp (methods.md): every argument valid and invalid, the gate and
//! authentication, "all arguments checked before anything changes", the reply after the
//! change, and the computer key that changes with the licence revision (README §4).

use std::collections::BTreeMap;

use quick_xml::events::Event;

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

fn update(d: &TestDaemon, key: &str, extra: &str) -> HttpReply {
    d.call(
        "UpdateLicenseHttp",
        &format!("is_avkey={key}&{VENDOR}&{extra}"),
    )
}

/// The attributes of every `<Property>` of the document that is the text of
/// `productProperties` (QLM's form), in document order.
fn properties(r: &HttpReply) -> Vec<BTreeMap<String, String>> {
    let text = r.get("productProperties").unwrap_or_default();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().0 == "Property" => {
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        (
                            a.key.0.to_string(),
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .expect("value")
                                .to_string(),
                        )
                    })
                    .collect();
                out.push(attrs);
            }
            Ok(Event::Eof) => return out,
            Err(e) => panic!("not XML ({e}): {text}"),
            _ => {}
        }
    }
}

/// The value of property `name` in a reply.
fn property(r: &HttpReply, name: &str) -> Option<String> {
    properties(r)
        .into_iter()
        .find(|p| p.get("name").map(String::as_str) == Some(name))
        .and_then(|p| p.get("value").cloned())
}

/// Asserts that each bad request is refused with `code` and changes nothing.
#[track_caller]
fn refused_unchanged(d: &TestDaemon, key: &str, code: u32, bad: &[&str]) {
    let before = d.license_snapshot(key);
    for extra in bad {
        let r = update(d, key, extra);
        assert_eq!(r.error_code(), Some(code), "{extra}: {}", r.body);
        assert_eq!(
            d.license_snapshot(key),
            before,
            "{extra} changed the licence"
        );
    }
}

#[test]
fn gate_off_is_code_7_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableUpgradeLicense = false"));
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let message = update(&d, &key, "is_quantity=5").expect_error(7);
    assert!(message.contains("enableUpgradeLicense"), "{message}");
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn wrong_or_missing_credentials_are_code_8_and_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let wrong = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=nope";
    d.call(
        "UpdateLicenseHttp",
        &format!("is_avkey={key}&{wrong}&is_quantity=5"),
    )
    .expect_error(8);
    d.call(
        "UpdateLicenseHttp",
        &format!("is_avkey={key}&is_quantity=5"),
    )
    .expect_error(8);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn vendor_with_scope_own_cannot_update_another_vendors_license() {
    let d = TestDaemon::start(&TestConfig::demo().append(
        "[[vendor]]\nname = \"shop\"\nuser = \"shop\"\npassword = \"shop\"\nscope = \"own\"\n",
    ));
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    d.call(
        "UpdateLicenseHttp",
        &format!("is_avkey={key}&is_vendor=shop&is_user=shop&is_pwd=shop&is_quantity=5"),
    )
    .expect_error(8);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn missing_key_is_208_and_unknown_key_is_203() {
    let d = TestDaemon::start(&TestConfig::demo());
    d.call("UpdateLicenseHttp", &format!("{VENDOR}&is_quantity=5"))
        .expect_error(208);
    let elsewhere = TestDaemon::start(&TestConfig::demo());
    let foreign = elsewhere.create_key("");
    update(&d, &foreign, "is_quantity=5").expect_error(203);
    update(&d, "not-a-key", "is_quantity=5").expect_error(203);
}

#[test]
fn a_request_with_nothing_to_update_is_208() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    for extra in ["", "is_productid=1", "is_features=", "is_userdata1="] {
        let message = update(&d, &key, extra).expect_error(208);
        assert!(message.contains("nothing to update"), "{message}");
    }
}

#[test]
fn reply_names_the_key_and_shows_the_license_after_the_change() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_features=0:3");
    let r = update(&d, &key, "is_quantity=4&is_features=1:2");
    r.expect_ok();
    assert_eq!(
        r.get("result").as_deref(),
        Some(format!("Successfully updated license information for ActivationKey={key}.").as_str())
    );
    assert_eq!(r.get("activationKey"), Some(key.clone()));
    assert_eq!(r.get("numActivationsAllowed").as_deref(), Some("4"));
    assert_eq!(r.get("features").as_deref(), Some("0:3;1:2;"));
    assert_eq!(r.get("revoked").as_deref(), Some("false"));
}

#[test]
fn features_named_change_and_sets_not_named_keep_their_value() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_features=0:3;1:1");
    let r = update(&d, &key, "is_features=1:0,2:5,");
    r.expect_ok();
    assert_eq!(r.get("features").as_deref(), Some("0:3;2:5;"));
    let check = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(check.get("features").as_deref(), Some("0:3;2:5;"));
}

#[test]
fn bad_features_are_code_5_and_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_features=0:3");
    refused_unchanged(
        &d,
        &key,
        5,
        &[
            "is_quantity=5&is_features=4:1",
            "is_quantity=5&is_features=0:256",
            "is_quantity=5&is_features=0:1;0:2",
            "is_quantity=5&is_features=zero",
            "is_quantity=5&is_features=0:1;;1:1",
        ],
    );
}

#[test]
fn expiry_date_is_set_and_an_empty_value_removes_it() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2031-01-01");
    let r = update(&d, &key, "is_expdate=2032-02-29");
    assert_eq!(
        r.expect_ok().get("expiryDate").as_deref(),
        Some("2032-02-29 23:59:59")
    );
    let r = update(&d, &key, "is_expdate=2032-03-01%2010:30:00");
    assert_eq!(
        r.expect_ok().get("expiryDate").as_deref(),
        Some("2032-03-01 10:30:00")
    );
    let r = update(&d, &key, "is_expdate=");
    assert_eq!(r.expect_ok().get("expiryDate"), None);
    let check = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(check.get("expiryDate"), None);
}

#[test]
fn bad_expiry_dates_are_code_5_and_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2031-01-01");
    refused_unchanged(
        &d,
        &key,
        5,
        &[
            "is_quantity=5&is_expdate=2031-13-01",
            "is_quantity=5&is_expdate=tomorrow",
            "is_quantity=5&is_expdate=2031-02-29",
            "is_quantity=5&is_expdate=2031-01-01T00:00:00",
        ],
    );
}

#[test]
fn expiry_in_the_past_makes_validation_209() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    update(&d, &key, "is_expdate=2020-01-01").expect_ok();
    d.activate(&key, "PC-1").expect_error(209);
}

#[test]
fn duration_is_0_to_36500_days_and_0_removes_it() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = update(&d, &key, "is_expduration=36500");
    assert_eq!(r.expect_ok().get("duration").as_deref(), Some("36500"));
    let r = update(&d, &key, "is_expduration=0");
    assert_eq!(r.expect_ok().get("duration").as_deref(), Some("-1"));
    refused_unchanged(
        &d,
        &key,
        5,
        &[
            "is_expduration=36501",
            // -1 is QLM's "no duration", not given (issue 14); below it is refused.
            "is_expduration=-2",
            "is_expduration=ten",
        ],
    );
}

#[test]
fn a_new_duration_moves_an_expiry_that_activation_derived_from_the_old_one() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expduration=30");
    let first = d.activate(&key, "PC-1");
    let activated = secs(&first.expect_ok().get("activationDate").unwrap());
    let r = update(&d, &key, "is_expduration=60");
    let expiry = secs(&r.expect_ok().get("expiryDate").unwrap());
    assert_eq!(expiry, activated + 60 * 86_400, "{}", r.body);
}

#[test]
fn license_model_changes_and_the_cloud_part_is_kept() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = update(&d, &key, "is_licensemodel=Trial");
    assert_eq!(r.expect_ok().get("licenseModel").as_deref(), Some("trial"));
    let cloud = d.create_key("is_licensemodel=permanent_cloud");
    let r = update(&d, &cloud, "is_licensemodel=subscription");
    assert_eq!(
        r.expect_ok().get("licenseModel").as_deref(),
        Some("subscription_cloud")
    );
    refused_unchanged(
        &d,
        &cloud,
        5,
        &["is_licensemodel=trial_cloud", "is_licensemodel=perpetual"],
    );
}

#[test]
fn quantity_is_1_to_100000_and_not_below_the_activations_in_use() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=3");
    d.activate(&key, "PC-1").expect_ok();
    d.activate(&key, "PC-2").expect_ok();
    refused_unchanged(
        &d,
        &key,
        5,
        &["is_quantity=0", "is_quantity=100001", "is_quantity=two"],
    );
    let before = d.license_snapshot(&key);
    let message = update(&d, &key, "is_quantity=1").expect_error(200);
    assert!(message.contains('2') && message.contains('1'), "{message}");
    assert_eq!(d.license_snapshot(&key), before);
    let r = update(&d, &key, "is_quantity=2");
    assert_eq!(
        r.expect_ok().get("numActivationsAllowed").as_deref(),
        Some("2")
    );
    assert_eq!(r.get("availableLicenses").as_deref(), Some("0"));
    d.activate(&key, "PC-3").expect_error(210);
    let r = update(&d, &key, "is_quantity=100000");
    assert_eq!(
        r.expect_ok().get("numActivationsAllowed").as_deref(),
        Some("100000")
    );
    d.activate(&key, "PC-3").expect_ok();
}

#[test]
fn user_data_and_affiliate_id_are_stored_within_their_limits() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let data = "d".repeat(1024);
    let affiliate = "a".repeat(255);
    let r = update(
        &d,
        &key,
        &format!("is_userdata1={data}&is_affiliateid={affiliate}"),
    );
    assert_eq!(r.expect_ok().get("userData"), Some(data.clone()));
    assert_eq!(r.get("affiliateID"), Some(affiliate));
    refused_unchanged(
        &d,
        &key,
        5,
        &[
            &format!("is_userdata1={}", "d".repeat(1025)),
            &format!("is_affiliateid={}", "a".repeat(256)),
        ],
    );
}

#[test]
fn qlm_version_is_accepted_up_to_255_characters() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    update(&d, &key, "is_qlmversion=7.0.1").expect_ok();
    refused_unchanged(
        &d,
        &key,
        5,
        &[&format!("is_qlmversion={}", "9".repeat(256))],
    );
}

#[test]
fn another_product_id_is_220_and_the_same_one_is_accepted() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    refused_unchanged(&d, &key, 220, &["is_productid=2&is_quantity=5"]);
    refused_unchanged(&d, &key, 5, &["is_productid=one&is_quantity=5"]);
    update(&d, &key, "is_productid=1&is_quantity=5").expect_ok();
}

#[test]
fn new_version_must_be_configured_for_the_product_218() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    refused_unchanged(
        &d,
        &key,
        218,
        &["is_majorversion=3", "is_majorversion=2&is_minorversion=1"],
    );
    let r = update(&d, &key, "is_majorversion=2&is_minorversion=0");
    assert_eq!(r.expect_ok().get("majorVersion").as_deref(), Some("2"));
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-1&is_majorversion=2&is_minorversion=0"),
    )
    .expect_ok();
    let r = update(&d, &key, "is_minorversion=1&is_majorversion=1");
    assert_eq!(r.expect_ok().get("minorVersion").as_deref(), Some("1"));
}

#[test]
fn revoke_and_restore_through_update() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    refused_unchanged(&d, &key, 5, &["is_revoke=maybe"]);
    let r = update(&d, &key, "is_revoke=true");
    assert_eq!(r.expect_ok().get("revoked").as_deref(), Some("true"));
    let refused = d.activate(&key, "PC-1");
    refused.expect_error(201);
    let status: u32 = refused.get("status").unwrap().parse().unwrap();
    assert_eq!(status & 2048, 2048, "{}", refused.body);
    let r = update(&d, &key, "is_revoke=0");
    assert_eq!(r.expect_ok().get("revoked").as_deref(), Some("false"));
    d.activate(&key, "PC-1").expect_ok();
}

#[test]
fn revoke_through_update_also_needs_enable_revoke_license() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableRevokeLicense = false"));
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let message = update(&d, &key, "is_revoke=true&is_quantity=5").expect_error(7);
    assert!(message.contains("enableRevokeLicense"), "{message}");
    assert_eq!(d.license_snapshot(&key), before);
    update(&d, &key, "is_quantity=5").expect_ok();
}

#[test]
fn release_limits_take_their_ranges_and_the_license_limit_applies() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    for ok in [
        "is_maxreleasecount=-2",
        "is_maxreleasecount=-1",
        "is_maxreleasecount=100000",
        "is_maxreleaseperiod=1",
        "is_maxreleaseperiod=36500",
        "is_maxreleaseperiod=-1",
        "is_maxreleaseperiod=-2",
    ] {
        update(&d, &key, ok).expect_ok();
    }
    refused_unchanged(
        &d,
        &key,
        5,
        &[
            "is_maxreleasecount=-3",
            "is_maxreleasecount=100001",
            "is_maxreleaseperiod=0",
            "is_maxreleaseperiod=-3",
            "is_maxreleaseperiod=36501",
        ],
    );
    update(&d, &key, "is_maxreleasecount=0").expect_ok();
    d.activate(&key, "PC-1").expect_ok();
    d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-1&{VENDOR}"),
    )
    .expect_error(212);
}

#[test]
fn product_properties_are_set_with_expiry_and_shown_in_the_reply() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = update(
        &d,
        &key,
        "is_pp=quality.module_validation::76||edition.tier::gold::2030-06-30",
    );
    r.expect_ok();
    let props = properties(&r);
    assert_eq!(props.len(), 2, "{}", r.body);
    let tier = &props[0];
    assert_eq!(tier["category"], "edition");
    assert_eq!(tier["name"], "tier");
    assert_eq!(tier["type"], "string");
    assert_eq!(tier["value"], "gold");
    assert_eq!(tier["expiryDate"], "2030-06-30 23:59:59");
    assert_eq!(props[1]["value"], "76");
    assert!(!props[1].contains_key("expiryDate"));
    assert!(
        r.get("productProperties").unwrap_or_default().contains(r#"<Property category="quality" name="module_validation" type="int" value="76"></Property>"#),
        "{}",
        r.body
    );
}

#[test]
fn int_properties_add_with_percent_2b_and_subtract_with_minus() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = update(&d, &key, "is_pp=quality.module_validation::%2B5");
    assert_eq!(
        property(r.expect_ok(), "module_validation").as_deref(),
        Some("5")
    );
    let r = update(&d, &key, "is_pp=quality.module_validation::%2B5");
    assert_eq!(
        property(r.expect_ok(), "module_validation").as_deref(),
        Some("10")
    );
    let r = update(&d, &key, "is_pp=quality.module_validation::-3");
    assert_eq!(
        property(r.expect_ok(), "module_validation").as_deref(),
        Some("7")
    );
}

#[test]
fn a_plus_sent_unencoded_is_2200_with_the_percent_2b_hint() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    update(&d, &key, "is_pp=quality.module_validation::3").expect_ok();
    let before = d.license_snapshot(&key);
    let message = update(&d, &key, "is_pp=quality.module_validation::+5").expect_error(2200);
    assert!(message.contains("%2B"), "{message}");
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn bad_product_properties_are_2200_or_2201_and_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    refused_unchanged(
        &d,
        &key,
        2201,
        &[
            "is_quantity=5&is_pp=quality.unknown::1",
            "is_pp=Quality.module_validation::1",
        ],
    );
    refused_unchanged(
        &d,
        &key,
        2200,
        &[
            "is_quantity=5&is_pp=quality.module_validation::abc",
            "is_pp=quality.module_validation::1||quality.module_validation::2",
            "is_pp=quality.module_validation::99999999999999999999",
            "is_pp=quality.module_validation",
            "is_pp=quality.module_validation::1::2030-02-30",
        ],
    );
    let v11 = d.create_key("");
    update(&d, &v11, "is_majorversion=1&is_minorversion=1").expect_ok();
    refused_unchanged(&d, &v11, 2201, &["is_pp=quality.module_validation::1"]);
}

#[test]
fn one_bad_argument_among_good_ones_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    d.activate(&key, "PC-1").expect_ok();
    d.activate(&key, "PC-2").expect_ok();
    let good = [
        ("is_features", "0:7"),
        ("is_expdate", "2031-01-01"),
        ("is_userdata1", "x"),
        ("is_affiliateid", "y"),
        ("is_pp", "quality.module_validation::%2B1"),
        ("is_maxreleasecount", "3"),
        ("is_quantity", "2"),
    ];
    let before = d.license_snapshot(&key);
    for ((name, value), code) in [
        (("is_quantity", "1"), 200),
        (("is_expduration", "99999"), 5),
        (("is_majorversion", "9"), 218),
        (("is_productid", "2"), 220),
        (("is_pp", "quality.nope::1"), 2201),
        (("is_licensemodel", "x"), 5),
    ] {
        // The bad value replaces the good one of the same name (an argument given twice
        // would be refused for that alone).
        let mut query: Vec<String> = good
            .iter()
            .filter(|(n, _)| *n != name)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        query.push(format!("{name}={value}"));
        let bad = query.join("&");
        let r = update(&d, &key, &bad);
        assert_eq!(r.error_code(), Some(code), "{bad}: {}", r.body);
        assert_eq!(
            d.license_snapshot(&key),
            before,
            "{bad} changed the licence"
        );
    }
}

#[test]
fn the_computer_key_changes_after_an_update_and_the_old_one_stays_in_good_standing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let first = d.activate(&key, "PC-1").expect_ok().get("pckey").unwrap();
    assert_eq!(d.activate(&key, "PC-1").get("pckey"), Some(first.clone()));
    update(&d, &key, "is_features=0:1").expect_ok();
    let second = d.activate(&key, "PC-1").expect_ok().get("pckey").unwrap();
    assert_ne!(first, second);
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-1&is_pckey={first}"),
    )
    .expect_ok();
}

#[test]
fn json_reply_carries_typed_values() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = update(&d, &key, "is_quantity=7&is_format=json");
    let v = r.json();
    assert_eq!(v["numActivationsAllowed"], 7, "{}", r.body);
    assert_eq!(v["revoked"], false, "{}", r.body);
    assert_eq!(v["activationKey"], key.as_str());
}

/// `yyyy-MM-dd HH:mm:ss` as Unix seconds.
fn secs(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{s:?} is not yyyy-MM-dd HH:mm:ss: {e}"))
        .and_utc()
        .timestamp()
}
