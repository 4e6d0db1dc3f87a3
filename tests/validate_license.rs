//! ValidateLicenseHttp (methods.md): the flow steps 1 to 5, the computer-ID and key rules
//! (README §4), the reply elements and their order, and what a validation stores.

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

fn validate(d: &TestDaemon, query: &str) -> HttpReply {
    d.call("ValidateLicenseHttp", query)
}

/// ValidateLicenseHttp with `is_activate=false`.
fn report(d: &TestDaemon, key: &str, extra: &str) -> HttpReply {
    validate(d, &format!("is_avkey={key}&is_activate=false&{extra}"))
}

/// Asserts two `yyyy-MM-dd HH:mm:ss` times (or Unix seconds) within 5 s of each other.
#[track_caller]
fn assert_near(a: i64, b: i64, r: &HttpReply) {
    assert!((a - b).abs() <= 5, "{a} vs {b}: {}", r.body);
}

/// `yyyy-MM-dd HH:mm:ss` as Unix seconds.
fn secs(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{s:?} is not yyyy-MM-dd HH:mm:ss: {e}"))
        .and_utc()
        .timestamp()
}

/// `<result>` of a success reply.
#[track_caller]
fn result(r: &HttpReply) -> String {
    r.expect_ok().get("result").expect("result")
}

fn status(r: &HttpReply) -> u32 {
    r.get("status")
        .and_then(|s| s.parse().ok())
        .expect("status")
}

/// A base32 character other than `c`.
fn other(c: char) -> char {
    if c == 'Z' { 'Y' } else { 'Z' }
}

#[test]
fn missing_key_is_code_208_and_unknown_key_is_code_203() {
    let d = TestDaemon::start(&TestConfig::demo());
    validate(&d, "is_pcid=PC-A").expect_error(208);
    let elsewhere = TestDaemon::start(&TestConfig::demo());
    let foreign = elsewhere.create_key("");
    d.activate(&foreign, "PC-A").expect_error(203);
    report(&d, &foreign, "").expect_error(203);
    d.activate("not-a-key", "PC-A").expect_error(203);
}

#[test]
fn key_with_a_wrong_character_or_swapped_neighbours_is_code_203() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let compact: Vec<char> = key.replace('-', "").chars().collect();
    assert_eq!(compact.len(), 26, "{key}");
    let mut variants = Vec::new();
    for i in [1, 7, 13, 24, 25] {
        let mut v = compact.clone();
        v[i] = other(v[i]);
        variants.push(v);
    }
    let i = (1..24).find(|&i| compact[i] != compact[i + 1]).unwrap();
    let mut swapped = compact.clone();
    swapped.swap(i, i + 1);
    variants.push(swapped);
    for v in variants {
        let v: String = v.into_iter().collect();
        d.activate(&v, "PC-A").expect_error(203);
    }
    d.activate(&key, "PC-A").expect_ok();
}

#[test]
fn key_is_accepted_in_lower_case_without_dashes_with_spaces_and_with_i_l_o_for_1_and_0() {
    let d = TestDaemon::start(&TestConfig::demo());
    let ten = "is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity=10";
    let ten = format!("{ten}&is_usemultipleactivationskey=0&{VENDOR}");
    let keys = d.call("GetActivationKey", &ten).all("activationKey");
    let key = keys
        .iter()
        .find(|k| k[1..].contains(['0', '1']))
        .expect("a key holding 0 or 1");
    let (head, tail) = key.split_at(1);
    let confused = format!("{head}{}", tail.replace('1', "I").replace('0', "O"));
    let confused_lower = format!("{head}{}", tail.replace('1', "l").replace('0', "o"));
    for form in [
        key.to_lowercase(),
        key.replace('-', ""),
        key.replace('-', "%20"),
        confused,
        confused_lower.to_lowercase(),
    ] {
        let r = report(&d, &form, "");
        assert_eq!(
            r.expect_ok().get("activationKey").as_ref(),
            Some(key),
            "{form}"
        );
    }
}

#[test]
fn license_past_its_expiry_date_is_code_209() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expdate=2020-01-01");
    d.activate(&key, "PC-A").expect_error(209);
    report(&d, &key, "").expect_error(209);
    // A date alone runs to the end of that day (UTC).
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    d.activate(&d.create_key(&format!("is_expdate={today}")), "PC-A")
        .expect_ok();
    let midnight = d.create_key(&format!("is_expdate={today}%2000:00:00"));
    d.activate(&midnight, "PC-A").expect_error(209);
}

#[test]
fn duration_based_expiry_starts_at_first_activation() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_expduration=30&is_quantity=2");
    let r = report(&d, &key, "");
    r.expect_ok();
    assert_eq!(r.get("expiryDate"), None, "{}", r.body);
    assert_eq!(r.get("duration").as_deref(), Some("30"));
    assert_eq!(status(&r) & (512 | 4), 512 | 4, "{}", r.body);
    let r = report(&d, &key, "is_pcid=PC-A");
    assert_eq!(r.get("expiryDate"), None, "report only starts nothing");
    let r = d.activate(&key, "PC-A");
    r.expect_ok();
    let expiry = r.get("expiryDate").expect("expiry after activation");
    let now = secs(&r.get("serverDate").unwrap());
    assert_near(secs(&expiry), now + 30 * 86_400, &r);
    assert_eq!(status(&r) & 512, 0, "{}", r.body);
    // A second computer does not restart the duration.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = d.activate(&key, "PC-B");
    assert_eq!(r.expect_ok().get("expiryDate"), Some(expiry));
}

#[test]
fn blocked_computer_id_is_code_200_for_activation_and_report_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo().options("blockComputerIDs = [\"PC-BAD\"]"));
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    d.activate(&key, "PC-BAD").expect_error(200);
    report(&d, &key, "is_pcid=PC-BAD").expect_error(200);
    assert_eq!(d.license_snapshot(&key), before);
    d.activate(&key, "PC-GOOD").expect_ok();
}

#[test]
fn blocked_computer_id_is_code_200_for_an_existing_activation() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    d.activate(&key, "PC-A").expect_ok();
    // Block PC-A in the configuration file, then restart on it.
    let blocking = TestConfig::demo().options("blockComputerIDs = [\"PC-A\"]");
    d.rewrite_config(&blocking.to_toml());
    let d = d.restart();
    d.activate(&key, "PC-A").expect_error(200);
    d.activate(&key, "PC-B").expect_ok();
}

#[test]
fn existing_activation_validates_with_the_same_computer_key() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let first = d.activate(&key, "PC-7");
    assert_eq!(
        result(&first),
        "The license was activated on computer PC-7."
    );
    let again = d.activate(&key, "PC-7");
    assert_eq!(result(&again), "Your license is valid.");
    assert_eq!(again.get("pckey"), first.get("pckey"));
    assert_eq!(again.get("activationDate"), first.get("activationDate"));
    assert_eq!(again.get("availableLicenses").as_deref(), Some("0"));
}

#[test]
fn report_only_validation_of_a_new_computer_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    let before = d.license_snapshot(&key);
    let r = report(&d, &key, "is_pcid=PC-A");
    r.expect_ok();
    assert_eq!(r.get("pckey"), None, "{}", r.body);
    assert_eq!(status(&r), 2 | 512, "{}", r.body);
    assert_eq!(r.get("availableLicenses").as_deref(), Some("2"));
    for flag in ["0", "FALSE", "False", "maybe"] {
        let r = d.activate(&key, &format!("PC-A&is_activate={flag}"));
        assert_eq!(r.error_code(), (flag == "maybe").then_some(5), "{flag}");
    }
    assert_eq!(d.license_snapshot(&key), before);
    let r = d.activate(&key, "PC-A");
    assert!(result(&r).contains("activated"), "{}", r.body);
    assert_eq!(r.get("availableLicenses").as_deref(), Some("1"));
    assert_eq!(status(&r), 2);
}

#[test]
fn activation_without_computer_id_is_code_208() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let msg = validate(&d, &format!("is_avkey={key}")).expect_error(208);
    assert!(msg.contains("is_pcid"), "{msg:?}");
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn computer_id_with_whitespace_or_over_255_chars_is_code_5() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    let before = d.license_snapshot(&key);
    for pc in ["PC%20A".to_string(), "PC%09A".to_string(), "P".repeat(256)] {
        d.activate(&key, &pc).expect_error(5);
    }
    let empty = d.activate(&key, "");
    assert!(
        matches!(empty.error_code(), Some(5 | 208)),
        "{}",
        empty.body
    );
    let name = "n".repeat(256);
    report(&d, &key, &format!("is_pcid=x&is_computer_name={name}")).expect_error(5);
    assert_eq!(d.license_snapshot(&key), before);
    d.activate(&key, &"P".repeat(255)).expect_ok();
    // 255 characters, not bytes.
    d.activate(&key, &"%C3%A9".repeat(255)).expect_ok();
}

#[test]
fn activation_beyond_allowed_seats_is_code_210_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    d.activate(&key, "PC-A").expect_ok();
    d.activate(&key, "PC-B").expect_ok();
    let before = d.license_snapshot(&key);
    let msg = d.activate(&key, "PC-C").expect_error(210);
    let expected = "All the available licenses have already been activated.";
    assert_eq!(msg, expected);
    assert_eq!(d.license_snapshot(&key), before);
    // Report only is step 4, before the seat count of step 5.
    let r = report(&d, &key, "is_pcid=PC-C");
    assert_eq!(status(r.expect_ok()) & 512, 512, "{}", r.body);
    d.activate(&key, "PC-A").expect_ok();
}

#[test]
fn new_activations_beyond_max_activations_per_day_are_code_200() {
    let d = TestDaemon::start(&TestConfig::demo().options("maxActivationsPerDay = 1"));
    let key = d.create_key("is_quantity=3");
    let other_key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    d.activate(&key, "PC-B").expect_error(200);
    d.activate(&other_key, "PC-C").expect_error(200);
    assert_eq!(d.license_snapshot(&key), before);
    d.activate(&key, "PC-A").expect_ok();
}

#[test]
fn key_for_another_product_is_code_220_and_for_another_version_211() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let q = |p: &str| format!("is_avkey={key}&is_pcid=PC-A&{p}");
    validate(&d, &q("is_productid=2&is_majorversion=1&is_minorversion=0")).expect_error(220);
    validate(&d, &q("is_productid=1&is_majorversion=2&is_minorversion=0")).expect_error(211);
    validate(&d, &q("is_productid=1&is_majorversion=1&is_minorversion=1")).expect_error(211);
    assert_eq!(d.license_snapshot(&key), before);
    validate(&d, &q("is_productid=1&is_majorversion=1&is_minorversion=0")).expect_ok();
}

#[test]
fn older_version_is_accepted_only_with_allow_activating_older_version() {
    let newer = "is_productid=1&is_majorversion=1&is_minorversion=1";
    let older = "is_productid=1&is_majorversion=1&is_minorversion=0";
    for (allow, expected) in [(false, Some(211)), (true, None)] {
        let d = TestDaemon::start(
            &TestConfig::demo().options(&format!("allowActivatingOlderVersion = {allow}")),
        );
        let key = d
            .call("GetActivationKey", &format!("{newer}&{VENDOR}"))
            .get("activationKey")
            .unwrap();
        let r = validate(&d, &format!("is_avkey={key}&is_pcid=PC-A&{older}"));
        assert_eq!(r.error_code(), expected, "allow={allow}: {}", r.body);
    }
}

#[test]
fn newer_version_released_within_the_maintenance_plan_is_accepted() {
    let d = TestDaemon::start(&TestConfig::demo());
    let v2 = "is_productid=1&is_majorversion=2&is_minorversion=0";
    let covered = d.create_key("is_maintenance_plan=1");
    validate(&d, &format!("is_avkey={covered}&is_pcid=PC-A&{v2}")).expect_ok();
    let uncovered = d.create_key("");
    validate(&d, &format!("is_avkey={uncovered}&is_pcid=PC-A&{v2}")).expect_error(211);
}

#[test]
fn wrong_computer_key_is_code_225_when_a_match_is_required() {
    let d = TestDaemon::start(
        &TestConfig::demo().options("requireComputerKeyMatchWhenValidatingOnServer = true"),
    );
    let key = d.create_key("");
    let pckey = d.activate(&key, "PC-A").get("pckey").unwrap();
    let mut wrong: Vec<char> = pckey.chars().collect();
    wrong[8] = other(wrong[8]);
    let wrong: String = wrong.into_iter().collect();
    let before = d.license_snapshot(&key);
    let q = |k: &str| format!("is_avkey={key}&is_pcid=PC-A&is_pckey={k}");
    for bad in [wrong.as_str(), "xyz"] {
        validate(&d, &q(bad)).expect_error(225);
    }
    assert_eq!(d.license_snapshot(&key), before);
    let normalised = pckey.replace('-', "").to_lowercase();
    for good in [pckey.as_str(), normalised.as_str()] {
        let r = validate(&d, &q(good));
        assert_eq!(r.expect_ok().get("pckey").as_ref(), Some(&pckey));
    }
}

#[test]
fn activation_reply_lists_the_elements_in_spec_order_with_their_values() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key(
        "is_features=0:3&is_expdate=2030-06-15&is_maintenance_plan=1&is_userdata1=ud&is_affiliateid=aff&is_email=e%40x.com&is_orderid=O1&is_pp=quality.module_validation::7",
    );
    let r = d.activate(&key, "PC-7&is_computer_name=Seven");
    r.expect_ok();
    let expected = "result pckey computerName computerID activationKey productID \
        productName majorVersion minorVersion licenseModel status features floatingSeats \
        numActivationsAllowed availableLicenses expiryDate duration maintenanceRenewalDate \
        userData affiliateID userEmail orderID productProperties activationDate revoked \
        creationDateUtc serverDate";
    let expected: Vec<&str> = expected.split_whitespace().collect();
    assert_eq!(r.element_names(), expected, "{}", r.body);
    let pckey = r.get("pckey").unwrap();
    assert!(pckey.starts_with('J') && pckey.len() == 30, "{pckey}");
    let now = secs(&r.get("serverDate").unwrap());
    let values = "computerID=PC-7|computerName=Seven|productID=1|productName=Demo|\
        majorVersion=1|minorVersion=0|licenseModel=subscription|status=4|features=0:3;|\
        floatingSeats=0|numActivationsAllowed=1|availableLicenses=0|expiryDate=2030-06-15 23:59:59|duration=-1|\
        userData=ud|affiliateID=aff|userEmail=e@x.com|orderID=O1|revoked=false";
    for (name, value) in values.split('|').filter_map(|p| p.split_once('=')) {
        assert_eq!(r.get(name).as_deref(), Some(value), "{name}: {}", r.body);
    }
    assert_eq!(r.get("activationKey").as_ref(), Some(&key));
    for name in ["activationDate", "creationDateUtc"] {
        assert_near(secs(&r.get(name).unwrap()), now, &r);
    }
}

#[test]
fn permanent_activation_has_status_2_and_a_u_computer_key() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = d.activate(&key, "PC-A");
    assert_eq!(status(r.expect_ok()), 2);
    assert!(r.get("pckey").unwrap().starts_with('U'), "{}", r.body);
    assert_eq!(r.get("computerName"), None, "no name was sent: {}", r.body);
}

#[test]
fn computer_name_is_stored_and_updated_on_revalidation() {
    for (update, second) in [(true, "Beta"), (false, "Alpha")] {
        let d = TestDaemon::start(
            &TestConfig::demo()
                .activation(&format!("updateComputerNameWhenReactivating = {update}")),
        );
        let key = d.create_key("");
        let q = |n: &str| format!("is_avkey={key}&is_pcid=PC-A&is_computer_name={n}");
        let name = |r: HttpReply| r.get("computerName");
        assert_eq!(name(validate(&d, &q("Alpha"))).as_deref(), Some("Alpha"));
        assert_eq!(name(validate(&d, &q("Beta"))).as_deref(), Some(second));
        let stored = name(d.activate(&key, "PC-A"));
        assert_eq!(stored.as_deref(), Some(second), "update={update}");
    }
}

#[test]
fn email_and_user_data_are_stored_only_where_the_license_has_none() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=3&is_email=first%40x.com");
    let r = report(&d, &key, "is_userdata1=not-stored");
    assert_eq!(r.get("userData"), None, "report only stores nothing");
    let r = d.activate(
        &key,
        "PC-A&is_email=second%40x.com&is_userdata1=ud-A&is_affiliateid=aff-A",
    );
    assert_eq!(r.get("userEmail").as_deref(), Some("first@x.com"));
    assert_eq!(r.get("userData").as_deref(), Some("ud-A"));
    assert_eq!(r.get("affiliateID").as_deref(), Some("aff-A"));
    d.activate(&key, "PC-B&is_userdata1=ud-B").expect_ok();
    let s = d.license_snapshot(&key);
    assert!(s.contains("<userData>ud-A</userData>"), "{s}");
    assert!(s.contains("<userEmail>first@x.com</userEmail>"), "{s}");
}

#[test]
fn capture_ip_address_does_not_disturb_activation() {
    let d = TestDaemon::start(&TestConfig::demo().activation("captureIPAddress = true"));
    let key = d.create_key("");
    let first = d.activate(&key, "PC-A");
    let again = d.activate(&key, "PC-A");
    assert_eq!(
        again.expect_ok().get("pckey"),
        first.expect_ok().get("pckey")
    );
}

#[test]
fn json_reply_types_numbers_and_booleans() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    let r = d.activate(&key, "PC-A&is_format=json");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let j = r.json();
    assert_eq!(j["status"], 2);
    assert_eq!(j["revoked"], false);
    assert_eq!(j["numActivationsAllowed"], 2);
    assert_eq!(j["availableLicenses"], 1);
    assert_eq!(j["duration"], -1);
    assert_eq!(j["productID"], 1);
    assert_eq!(j["majorVersion"], 1);
    assert_eq!(j["minorVersion"], 0);
    assert_eq!(j["activationKey"], key.as_str());
    assert_eq!(j["computerID"], "PC-A");
    assert!(j["pckey"].is_string() && j["serverDate"].is_string(), "{j}");
    let e = validate(&d, "is_avkey=nope&is_pcid=PC-A&is_format=json").json();
    assert_eq!(e["errorCode"], 203);
    assert!(e["error"].is_string());
}

#[test]
fn report_only_call_from_an_activated_computer_is_a_validation() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let pckey = d.activate(&key, "PC-A").get("pckey");
    let r = report(&d, &key, "is_pcid=PC-A");
    assert_eq!(r.expect_ok().get("pckey"), pckey);
    assert_eq!(result(&r), "Your license is valid.");
    assert_eq!(status(&r), 2);
}

#[test]
fn computer_ids_are_compared_case_sensitively() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    let upper = d.activate(&key, "PC-A").get("pckey");
    let lower = d.activate(&key, "pc-a");
    assert_eq!(
        result(&lower),
        "The license was activated on computer pc-a."
    );
    assert_ne!(lower.get("pckey"), upper);
    assert_eq!(lower.get("availableLicenses").as_deref(), Some("0"));
}

#[test]
fn product_checks_come_before_expiry_and_expiry_before_the_computer_rules() {
    let d = TestDaemon::start(&TestConfig::demo().options("blockComputerIDs = [\"PC-BAD\"]"));
    let expired = d.create_key("is_expdate=2020-01-01");
    d.activate(&expired, "PC-A&is_productid=2")
        .expect_error(220);
    d.activate(&expired, "PC-BAD").expect_error(209);
    let full = d.create_key("");
    d.activate(&full, "PC-A").expect_ok();
    d.activate(&full, "PC-BAD").expect_error(200);
}

#[test]
fn computer_key_is_never_rejected_for_its_form() {
    let long = "U".repeat(300);
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let pckey = d.activate(&key, "PC-A").get("pckey");
    for form in ["xyz", "U0000%20-%2000000", long.as_str()] {
        let r = validate(&d, &format!("is_avkey={key}&is_pcid=PC-A&is_pckey={form}"));
        assert_eq!(r.expect_ok().get("pckey"), pckey, "{form}");
    }
    let strict = TestDaemon::start(
        &TestConfig::demo().options("requireComputerKeyMatchWhenValidatingOnServer = true"),
    );
    let key = strict.create_key("");
    strict.activate(&key, "PC-A").expect_ok();
    validate(
        &strict,
        &format!("is_avkey={key}&is_pcid=PC-A&is_pckey={long}"),
    )
    .expect_error(225);
}
