//! GetActivationKey / GetActivationKeyWithExpiryDate (methods.md): argument syntax, the order
//! of checks, activation arithmetic, model defaults, the licence as ValidateLicenseHttp then
//! reports it, daily and total caps, retried orders, the text reply format and the gate.

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

/// Product 1 version 1.0.
const DEMO_1_0: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";
/// The demo vendor with a wrong password.
const WRONG: &str = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong";

/// GetActivationKey for product 1 version 1.0 by the demo vendor, plus `extra`.
fn create(d: &TestDaemon, extra: &str) -> HttpReply {
    d.call("GetActivationKey", &format!("{DEMO_1_0}&{VENDOR}&{extra}"))
}

/// The first key of a successful reply.
#[track_caller]
fn first_key(r: HttpReply) -> String {
    r.expect_ok()
        .get("activationKey")
        .expect("an activationKey")
}

/// The licence as a computer that is not activated sees it.
fn info(d: &TestDaemon, key: &str) -> HttpReply {
    let r = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    r.expect_ok();
    r
}

/// `yyyy-MM-dd HH:mm:ss` as Unix seconds.
fn secs(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{s:?} is not yyyy-MM-dd HH:mm:ss: {e}"))
        .and_utc()
        .timestamp()
}

/// Asserts that the reply's body holds `needle`.
#[track_caller]
fn assert_has(r: &HttpReply, needle: &str) {
    assert!(r.body.contains(needle), "{needle} missing from {}", r.body);
}

/// Asserts that `extra` is refused with `code` and that the message names `needle`.
#[track_caller]
fn refused(d: &TestDaemon, extra: &str, code: u32, needle: &str) {
    let msg = create(d, extra).expect_error(code);
    assert!(
        msg.contains(needle),
        "{extra}: message {msg:?} should name {needle:?}"
    );
}

#[test]
fn missing_product_id_or_version_is_code_208_naming_the_argument() {
    let d = TestDaemon::start(&TestConfig::demo());
    for (query, missing) in [
        ("is_majorversion=1&is_minorversion=0", "is_productid"),
        ("is_productid=1&is_minorversion=0", "is_majorversion"),
        ("is_productid=1&is_majorversion=1", "is_minorversion"),
    ] {
        let msg = d
            .call("GetActivationKey", &format!("{query}&{VENDOR}"))
            .expect_error(208);
        assert!(msg.contains(missing), "{msg:?} should name {missing}");
    }
}

#[test]
fn counts_outside_their_ranges_are_code_5_naming_the_argument() {
    let d = TestDaemon::start(&TestConfig::demo());
    let table: [(&str, &[&str]); 5] = [
        ("is_quantity", &["0", "10001", "-1", "abc", "1.5", "%2B5"]),
        ("is_numberofactivationsperkey", &["0", "10001"]),
        ("is_additionalactivations", &["-1", "10001"]),
        ("is_expduration", &["0", "36501"]),
        ("is_usemultipleactivationskey", &["maybe"]),
    ];
    for (arg, values) in table {
        for v in values {
            refused(&d, &format!("{arg}={v}"), 5, arg);
        }
    }
    let r = create(&d, "is_quantity=10000&is_additionalactivations=0");
    r.expect_ok();
    assert_eq!(r.get("numActivationsAllowed").as_deref(), Some("10000"));
}

#[test]
fn unknown_license_model_is_code_5() {
    let d = TestDaemon::start(&TestConfig::demo());
    for m in ["bogus", "permanent_bogus", "cloud"] {
        refused(&d, &format!("is_licensemodel={m}"), 5, "is_licensemodel");
    }
}

#[test]
fn malformed_features_are_code_5_naming_the_bad_entry() {
    let d = TestDaemon::start(&TestConfig::demo());
    refused(&d, "is_features=abc", 5, "abc");
    refused(&d, "is_features=4:1", 5, "4:1");
    refused(&d, "is_features=0:256", 5, "0:256");
    create(&d, "is_features=0:1%3B0:2").expect_error(5);
    create(&d, "is_features=3:255%3B").expect_ok();
}

#[test]
fn malformed_expiry_date_is_code_5_naming_argument_and_value() {
    let d = TestDaemon::start(&TestConfig::demo());
    for v in ["2027-13-01", "2027-02-30", "01/02/2027", "tomorrow"] {
        let msg = create(&d, &format!("is_expdate={v}")).expect_error(5);
        assert!(msg.contains("is_expdate") && msg.contains(v), "{msg:?}");
    }
}

#[test]
fn undeclared_product_property_is_code_2201() {
    let d = TestDaemon::start(&TestConfig::demo());
    create(&d, "is_pp=quality.nonexistent::1").expect_error(2201);
    create(&d, "is_pp=edition.module_validation::1").expect_error(2201);
}

#[test]
fn product_property_value_of_the_wrong_type_is_code_2200() {
    let d = TestDaemon::start(&TestConfig::demo());
    create(&d, "is_pp=quality.module_validation::abc").expect_error(2200);
    create(&d, "is_pp=quality.module_validation::99999999999999999999").expect_error(2200);
    let long = "x".repeat(1025);
    create(&d, &format!("is_pp=edition.tier::{long}")).expect_error(2200);
    create(
        &d,
        "is_pp=quality.module_validation::1%7C%7Cquality.module_validation::2",
    )
    .expect_error(2200);
}

#[test]
fn plus_sent_unencoded_in_a_property_is_code_2200_with_a_hint_to_send_2b() {
    let d = TestDaemon::start(&TestConfig::demo());
    let msg = create(&d, "is_pp=quality.module_validation::+5").expect_error(2200);
    assert!(msg.contains("%2B"), "{msg:?}");
    let key = d.create_key("is_pp=quality.module_validation::%2B5");
    assert_has(
        &info(&d, &key),
        r#"name="module_validation" type="int" value="5""#,
    );
}

#[test]
fn stored_text_over_its_length_limit_is_code_5() {
    let d = TestDaemon::start(&TestConfig::demo());
    for (arg, max) in [
        ("is_userdata1", 1024),
        ("is_orderid", 255),
        ("is_email", 255),
    ] {
        refused(&d, &format!("{arg}={}", "x".repeat(max + 1)), 5, arg);
    }
    let key = d.create_key(&format!(
        "is_userdata1={}&is_orderid={}",
        "u".repeat(1024),
        "o".repeat(255)
    ));
    let r = info(&d, &key);
    assert_eq!(r.get("userData"), Some("u".repeat(1024)));
    assert_eq!(r.get("orderID"), Some("o".repeat(255)));
    // Limits count characters, not bytes.
    let key = d.create_key(&format!(
        "is_userdata1={}&is_orderid={}",
        "%C3%A9".repeat(1024),
        "%C3%A9".repeat(255)
    ));
    let r = info(&d, &key);
    assert_eq!(r.get("userData"), Some("\u{e9}".repeat(1024)));
    assert_eq!(r.get("orderID"), Some("\u{e9}".repeat(255)));
}

#[test]
fn stored_fields_are_kept_on_every_key_of_the_request() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = create(
        &d,
        "is_quantity=2&is_usemultipleactivationskey=false&is_orderid=ORD-1&is_userdata1=hello%20world&is_affiliateid=aff7&is_email=a%40example.com",
    );
    for key in r.expect_ok().all("activationKey") {
        let i = info(&d, &key);
        assert_eq!(i.get("orderID").as_deref(), Some("ORD-1"));
        assert_eq!(i.get("userData").as_deref(), Some("hello world"));
        assert_eq!(i.get("affiliateID").as_deref(), Some("aff7"));
        assert_eq!(i.get("userEmail").as_deref(), Some("a@example.com"));
    }
}

#[test]
fn undefined_product_is_code_218_but_only_after_authentication() {
    let d = TestDaemon::start(&TestConfig::demo());
    let call = |q: &str| d.call("GetActivationKey", q);
    call(&format!(
        "is_productid=9&is_majorversion=1&is_minorversion=0&{VENDOR}"
    ))
    .expect_error(218);
    call(&format!(
        "is_productid=9&is_majorversion=1&is_minorversion=0&{WRONG}"
    ))
    .expect_error(8);
    call(&format!(
        "is_productid=1&is_majorversion=3&is_minorversion=0&{VENDOR}"
    ))
    .expect_error(218);
}

#[test]
fn syntax_errors_answer_before_authentication_and_property_errors_after() {
    let d = TestDaemon::start(&TestConfig::demo());
    let call = |q: &str| d.call("GetActivationKey", &format!("{q}&{WRONG}"));
    call("is_majorversion=1&is_minorversion=0").expect_error(208);
    call(&format!("{DEMO_1_0}&is_quantity=0")).expect_error(5);
    call(&format!("{DEMO_1_0}&is_pp=quality.nonexistent::1")).expect_error(8);
}

#[test]
fn one_key_holds_quantity_times_activations_per_key_plus_additional() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = create(
        &d,
        "is_quantity=3&is_numberofactivationsperkey=2&is_additionalactivations=1",
    );
    let keys = r.expect_ok().all("activationKey");
    assert_eq!(keys.len(), 1, "{}", r.body);
    assert_eq!(r.all("numActivationsAllowed"), ["7"]);
    let i = info(&d, &keys[0]);
    assert_eq!(i.get("numActivationsAllowed").as_deref(), Some("7"));
    assert_eq!(i.get("availableLicenses").as_deref(), Some("7"));
    let most =
        "is_quantity=10000&is_numberofactivationsperkey=10000&is_additionalactivations=10000";
    assert_eq!(
        create(&d, most).get("numActivationsAllowed").as_deref(),
        Some("100010000")
    );
}

#[test]
fn separate_keys_each_hold_activations_per_key_plus_additional() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = create(
        &d,
        "is_quantity=3&is_numberofactivationsperkey=2&is_additionalactivations=1&is_usemultipleactivationskey=false",
    );
    assert_eq!(
        r.expect_ok().get("result").as_deref(),
        Some("Created 3 activation keys.")
    );
    let mut keys = r.all("activationKey");
    assert_eq!(r.all("numActivationsAllowed"), ["3", "3", "3"]);
    for k in &keys {
        let n = "<numActivationsAllowed>3</numActivationsAllowed>";
        assert_has(
            &r,
            &format!("<license><activationKey>{k}</activationKey>{n}</license>"),
        );
        assert_has(&info(&d, k), n);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "keys must differ: {}", r.body);
}

#[test]
fn license_model_defaults_follow_the_expiry_arguments_and_set_the_key_letter() {
    let d = TestDaemon::start(&TestConfig::demo());
    for (extra, letter, model) in [
        ("", 'A', "permanent"),
        ("is_expduration=30", 'B', "trial"),
        ("is_expdate=2030-01-01", 'F', "subscription"),
        ("is_expdate=2030-01-01&is_expduration=30", 'B', "trial"),
        ("is_floating=true", 'K', "permanent_floating"),
        ("is_licensemodel=trial&is_floating=1", 'L', "trial_floating"),
        ("is_licensemodel=trial_cloud", 'S', "trial_cloud"),
        (
            "is_licensemodel=subscription_floating",
            'M',
            "subscription_floating",
        ),
        ("is_licensemodel=permanent_cloud", 'R', "permanent_cloud"),
    ] {
        let key = d.create_key(extra);
        assert!(
            key.starts_with(letter),
            "{extra}: {key} should start with {letter}"
        );
        assert_eq!(
            info(&d, &key).get("licenseModel").as_deref(),
            Some(model),
            "{extra}"
        );
    }
}

#[test]
fn configured_default_models_apply_when_no_model_is_given() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .options("defaultLicenseModelWhenDurationSet = \"subscription\"")
            .options("defaultLicenseModelWhenExpiryDateSet = \"trial\""),
    );
    let by_duration = d.create_key("is_expduration=10");
    assert!(by_duration.starts_with('F'), "{by_duration}");
    let by_date = d.create_key("is_expdate=2030-01-01");
    assert!(by_date.starts_with('B'), "{by_date}");
}

#[test]
fn license_info_shows_features_expiry_duration_and_properties() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_features=0:3%3B1:1%3B2:0&is_expdate=2030-06-15&is_pp=quality.module_validation::76::2027-12-31%7C%7Cedition.tier::gold");
    let r = info(&d, &key);
    assert_eq!(r.get("features").as_deref(), Some("0:3;1:1;"));
    assert_eq!(r.get("expiryDate").as_deref(), Some("2030-06-15 23:59:59"));
    assert_eq!(r.get("duration").as_deref(), Some("-1"));
    assert_eq!(
        r.get("productProperties").as_deref(),
        Some(concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><ProductProperties>"#,
            r#"<Property category="edition" name="tier" type="string" value="gold"></Property>"#,
            r#"<Property category="quality" expiryDate="2027-12-31 23:59:59" name="module_validation" type="int" value="76"></Property>"#,
            "</ProductProperties>"
        )),
        "{}",
        r.body
    );

    let key = d.create_key("is_features=1:4,3:128&is_expdate=2030-06-15%2010:20:30");
    let r = info(&d, &key);
    assert_eq!(r.get("features").as_deref(), Some("1:4;3:128;"));
    assert_eq!(r.get("expiryDate").as_deref(), Some("2030-06-15 10:20:30"));

    let plain = d.create_key("is_expduration=45");
    let r = info(&d, &plain);
    assert_eq!(r.get("duration").as_deref(), Some("45"));
    assert_eq!(r.get("expiryDate"), None, "a duration starts at activation");
    assert_eq!(r.get("features"), None, "no feature set is on: {}", r.body);
    let defaults = r.get("productProperties").expect("declared properties");
    assert!(
        defaults.contains(r#"name="tier" type="string" value="standard""#)
            && defaults.contains(r#"name="module_validation" type="int" value="0""#),
        "none set, so the declared defaults: {}",
        r.body
    );
}

#[test]
fn use_duration_to_set_expiry_date_fixes_the_expiry_at_creation() {
    let d = TestDaemon::start(&TestConfig::demo().options("useDurationToSetExpiryDate = true"));
    let key = d.create_key("is_expduration=30");
    let r = info(&d, &key);
    let expiry = secs(&r.get("expiryDate").expect("a fixed expiry"));
    let now = secs(&r.get("serverDate").unwrap());
    assert!((expiry - (now + 30 * 86_400)).abs() <= 5, "{}", r.body);
}

#[test]
fn maintenance_plan_sets_a_renewal_date_from_its_duration() {
    let d = TestDaemon::start(&TestConfig::demo());
    for (extra, days) in [
        ("is_maintenance_plan=1&is_maintduration=10", 10),
        ("is_maintenance_plan=1", 365),
    ] {
        let key = d.create_key(extra);
        let r = info(&d, &key);
        let renewal = secs(&r.get("maintenanceRenewalDate").expect("renewal date"));
        let now = secs(&r.get("serverDate").unwrap());
        assert!(
            (renewal - (now + days * 86_400)).abs() <= 5,
            "{extra}: {}",
            r.body
        );
    }
    let key = d.create_key("");
    assert_eq!(info(&d, &key).get("maintenanceRenewalDate"), None);
}

#[test]
fn keys_beyond_max_new_keys_per_day_are_code_200_and_nothing_is_created() {
    let d = TestDaemon::start(&TestConfig::demo().options("maxNewKeysPerDay = 2"));
    create(&d, "").expect_ok();
    // Two more keys in one request would pass the cap: the whole request is refused...
    create(&d, "is_quantity=2&is_usemultipleactivationskey=false").expect_error(200);
    // ...and created none of them, so one more key still fits.
    create(&d, "").expect_ok();
    let r = create(&d, "");
    r.expect_error(200);
    assert!(r.get("activationKey").is_none());
}

#[test]
fn licenses_beyond_db_max_records_are_code_200() {
    let d = TestDaemon::start(&TestConfig::demo().options("dbMaxRecords = 2"));
    create(&d, "is_quantity=3&is_usemultipleactivationskey=false").expect_error(200);
    create(&d, "is_quantity=2&is_usemultipleactivationskey=false").expect_ok();
    create(&d, "").expect_error(200);
}

#[test]
fn retried_order_returns_the_same_keys_and_creates_nothing() {
    let d = TestDaemon::start(&TestConfig::demo().options("maxNewKeysPerDay = 3"));
    let order = "is_orderid=ORDER-42&is_quantity=2&is_usemultipleactivationskey=false";
    let first = create(&d, order);
    first.expect_ok();
    let again = create(&d, order);
    assert_eq!(again.body, first.body);
    // Had the retry created keys, the cap of 3 would already be reached.
    create(&d, "is_orderid=ORDER-43").expect_ok();
    create(&d, "is_orderid=ORDER-44").expect_error(200);
    // The cap is reached, yet a retry creates nothing and gets the first reply again.
    assert_eq!(create(&d, order).body, first.body);
    // The order id alone identifies the order.
    assert_eq!(create(&d, "is_orderid=ORDER-42").body, first.body);
}

#[test]
fn same_order_id_from_another_vendor_or_for_another_product_gets_new_keys() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .append("[[vendor]]\nname = \"Store2\"\nuser = \"s2\"\npassword = \"pw2\"\n"),
    );
    let first = d.create_key("is_orderid=SAME");
    let other_vendor = first_key(d.call(
        "GetActivationKey",
        &format!("{DEMO_1_0}&is_orderid=SAME&is_vendor=Store2&is_user=s2&is_pwd=pw2"),
    ));
    let other_product = first_key(d.call(
        "GetActivationKey",
        &format!("is_productid=2&is_majorversion=1&is_minorversion=0&is_orderid=SAME&{VENDOR}"),
    ));
    assert_ne!(first, other_vendor);
    assert_ne!(first, other_product);
    assert_ne!(other_vendor, other_product);
    assert_eq!(
        create(&d, "is_orderid=SAME").get("activationKey"),
        Some(first)
    );
}

const TEXT_VENDOR: &str = "[[vendor]]\nname = \"TextStore\"\nuser = \"t\"\npassword = \"tpw\"\nresponseFormat = \"text\"\n";

fn create_as_text_vendor(d: &TestDaemon, extra: &str) -> HttpReply {
    d.call(
        "GetActivationKey",
        &format!(
            "is_vendor=TextStore&is_user=t&is_pwd=tpw&is_majorversion=1&is_minorversion=0&{extra}"
        ),
    )
}

#[test]
fn text_response_format_vendor_gets_plain_keys_one_a_line() {
    let d = TestDaemon::start(&TestConfig::demo().append(TEXT_VENDOR));
    let r = create_as_text_vendor(
        &d,
        "is_productid=1&is_quantity=2&is_usemultipleactivationskey=false",
    );
    assert_eq!(r.status, 200);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/plain"), "{ct}");
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines.len(), 2, "{:?}", r.body);
    for key in lines {
        assert_eq!(key.len(), 30, "{key:?}");
        info(&d, key);
    }
}

#[test]
fn json_format_wins_over_a_text_response_format_vendor() {
    let d = TestDaemon::start(&TestConfig::demo().append(TEXT_VENDOR));
    let r = create_as_text_vendor(&d, "is_productid=1&is_quantity=3&is_format=json");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let j = r.json();
    assert_eq!(j["licenses"][0]["numActivationsAllowed"], 3);
    let key = j["licenses"][0]["activationKey"].as_str().unwrap();
    info(&d, key);
}

#[test]
fn errors_stay_xml_for_a_text_response_format_vendor() {
    let d = TestDaemon::start(&TestConfig::demo().append(TEXT_VENDOR));
    let r = create_as_text_vendor(&d, "is_productid=9");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/xml"))
    );
    r.expect_error(218);
    create_as_text_vendor(&d, "is_productid=1&is_quantity=0").expect_error(5);
}

#[test]
fn get_activation_key_with_expiry_date_behaves_the_same() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = d.call(
        "GetActivationKeyWithExpiryDate",
        &format!("{DEMO_1_0}&{VENDOR}&is_expdate=2031-02-03&is_quantity=2&is_usemultipleactivationskey=false"),
    );
    assert_eq!(
        r.expect_ok().get("result").as_deref(),
        Some("Created 2 activation keys.")
    );
    for key in r.all("activationKey") {
        assert!(key.starts_with('F'), "{key}");
        assert_eq!(
            info(&d, &key).get("expiryDate").as_deref(),
            Some("2031-02-03 23:59:59")
        );
    }
    d.call(
        "GetActivationKeyWithExpiryDate",
        &format!("is_productid=1&{VENDOR}"),
    )
    .expect_error(208);
    d.call(
        "GetActivationKeyWithExpiryDate",
        &format!("{DEMO_1_0}&{WRONG}"),
    )
    .expect_error(8);
}

#[test]
fn disabled_get_activation_key_is_code_7_naming_the_property_before_any_other_check() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableGetActivationKey = false"));
    for method in ["GetActivationKey", "GetActivationKeyWithExpiryDate"] {
        let msg = d
            .call(method, &format!("{DEMO_1_0}&{VENDOR}"))
            .expect_error(7);
        assert!(msg.contains("enableGetActivationKey"), "{msg:?}");
        d.call(method, "is_quantity=0&is_pwd=wrong").expect_error(7);
    }
}
