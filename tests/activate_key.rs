//! ActivateKey (methods.md): ValidateLicenseHttp's activation with a short reply, and vendor
//! authentication and scope when `is_vendor` is given.

use crate::util::{TestConfig, TestDaemon, VENDOR};

/// A vendor that may only touch licences it created.
const OWN_VENDOR: &str = r#"
[[vendor]]
name = "OwnStore"
user = "own"
password = "ownpw"
scope = "own"
"#;
const OWN_CREDENTIALS: &str = "is_vendor=OwnStore&is_user=own&is_pwd=ownpw";

#[test]
fn activate_key_reply_is_short() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_email=buyer%40example.com&is_orderid=O-1");
    let r = d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=PC-A"));
    r.expect_ok();
    assert_eq!(
        r.element_names(),
        [
            "result",
            "pckey",
            "activationKey",
            "computerID",
            "userEmail"
        ],
        "{}",
        r.body
    );
    assert_eq!(r.get("productID"), None);
    assert_eq!(r.get("activationKey").as_ref(), Some(&key));
    assert_eq!(r.get("computerID").as_deref(), Some("PC-A"));
    assert_eq!(r.get("userEmail").as_deref(), Some("buyer@example.com"));
    assert!(
        d.license_snapshot(&key)
            .contains("<availableLicenses>0</availableLicenses>")
    );
}

#[test]
fn activate_key_gives_the_same_computer_key_as_validate_license() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_quantity=2");
    let by_activate = d
        .call("ActivateKey", &format!("is_avkey={key}&is_pcid=PC-A"))
        .get("pckey")
        .expect("pckey");
    let by_validate = d
        .call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid=PC-A"),
        )
        .get("pckey");
    assert_eq!(by_validate.as_ref(), Some(&by_activate));
    let first = d
        .call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid=PC-B"),
        )
        .get("pckey")
        .expect("pckey");
    let again = d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=PC-B"));
    assert_eq!(again.get("pckey"), Some(first));
    assert_ne!(by_activate, again.get("pckey").unwrap());
}

#[test]
fn activate_key_without_computer_id_is_code_208() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    let msg = d
        .call("ActivateKey", &format!("is_avkey={key}"))
        .expect_error(208);
    assert!(msg.contains("is_pcid"), "{msg:?}");
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn activate_key_beyond_allowed_seats_is_code_210_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=PC-A"))
        .expect_ok();
    let before = d.license_snapshot(&key);
    d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=PC-B"))
        .expect_error(210);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn activate_key_with_a_vendor_and_wrong_or_missing_password_is_code_8_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    for creds in [
        "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong",
        "is_vendor=QlmAuthenticationProvider",
        "is_vendor=NoSuchVendor&is_user=demo&is_pwd=demo",
    ] {
        d.call(
            "ActivateKey",
            &format!("is_avkey={key}&is_pcid=PC-A&{creds}"),
        )
        .expect_error(8);
    }
    assert_eq!(d.license_snapshot(&key), before);
    d.call(
        "ActivateKey",
        &format!("is_avkey={key}&is_pcid=PC-A&{VENDOR}"),
    )
    .expect_ok();
}

#[test]
fn activate_key_by_an_own_scope_vendor_is_refused_on_licenses_it_did_not_create() {
    let d = TestDaemon::start(&TestConfig::demo().append(OWN_VENDOR));
    let theirs = d.create_key("");
    let mine = d
        .call(
            "GetActivationKey",
            &format!(
                "is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity=2&{OWN_CREDENTIALS}"
            ),
        )
        .expect_ok()
        .get("activationKey")
        .unwrap();
    let before = d.license_snapshot(&theirs);
    d.call(
        "ActivateKey",
        &format!("is_avkey={theirs}&is_pcid=PC-A&{OWN_CREDENTIALS}"),
    )
    .expect_error(8);
    assert_eq!(d.license_snapshot(&theirs), before);
    d.call(
        "ActivateKey",
        &format!("is_avkey={mine}&is_pcid=PC-A&{OWN_CREDENTIALS}"),
    )
    .expect_ok();
    // A vendor of scope "all" may touch licences another vendor created.
    d.call(
        "ActivateKey",
        &format!("is_avkey={mine}&is_pcid=PC-B&{VENDOR}"),
    )
    .expect_ok();
}

#[test]
fn activate_key_activates_even_when_is_activate_is_false() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = d.call(
        "ActivateKey",
        &format!("is_avkey={key}&is_pcid=PC-A&is_activate=false"),
    );
    assert!(r.expect_ok().get("pckey").is_some(), "{}", r.body);
    assert!(
        d.license_snapshot(&key)
            .contains("<availableLicenses>0</availableLicenses>")
    );
}

#[test]
fn activate_key_authenticates_the_vendor_before_looking_up_the_key() {
    let d = TestDaemon::start(&TestConfig::demo());
    let wrong = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong";
    d.call(
        "ActivateKey",
        &format!("is_avkey=NOPE&is_pcid=PC-A&{wrong}"),
    )
    .expect_error(8);
    d.call(
        "ActivateKey",
        &format!("is_avkey=NOPE&is_pcid=PC-A&{VENDOR}"),
    )
    .expect_error(203);
}
