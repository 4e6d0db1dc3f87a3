//! Vendor authentication (methods.md, "Auth"): one code and one message for every failure,
//! the method allow-list, argon2 hashes and their timing, the failure throttle, the default
//! commerce provider, credentials on methods that need none, and passwords never echoed.

use std::time::{Duration, Instant};

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR, licd_cmd};

const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

const MORE_VENDORS: &str = r#"
[[vendor]]
name = "Disabled"
enabled = false
user = "dis"
password = "dispw"

[[vendor]]
name = "ReleaseOnly"
user = "rel"
password = "relpw"
methods = ["ReleaseLicenseHttp"]
"#;

fn create(d: &TestDaemon, credentials: &str) -> HttpReply {
    d.call("GetActivationKey", &format!("{PRODUCT}&{credentials}"))
}

/// An argon2 hash of `password` made by `licd hash-password`.
pub fn hash(password: &str) -> String {
    let (code, out, err) = licd_cmd(
        &["hash-password"],
        Some(&format!("{password}\n")),
        &std::env::temp_dir(),
    );
    assert_eq!(code, 0, "hash-password failed: {err}");
    let hash = out.trim().to_string();
    assert!(hash.starts_with("$argon2"), "{hash:?}");
    hash
}

pub fn hashed_vendor(password: &str) -> String {
    format!(
        "[[vendor]]\nname = \"Hashed\"\nuser = \"hu\"\npasswordHash = \"{}\"\n",
        hash(password)
    )
}

#[test]
fn every_credential_failure_is_code_8_with_one_message() {
    let d = TestDaemon::start(&TestConfig::demo().append(MORE_VENDORS));
    let mut messages = Vec::new();
    for credentials in [
        "",
        "is_vendor=QlmAuthenticationProvider",
        "is_vendor=QlmAuthenticationProvider&is_user=demo",
        "is_vendor=QlmAuthenticationProvider&is_pwd=demo",
        "is_vendor=QlmAuthenticationProvider&is_user=nobody&is_pwd=demo",
        "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong",
        "is_vendor=NoSuchVendor&is_user=demo&is_pwd=demo",
        "is_vendor=Disabled&is_user=dis&is_pwd=dispw",
    ] {
        let msg = create(&d, credentials).expect_error(8);
        assert!(!msg.is_empty(), "{credentials}");
        messages.push((credentials, msg));
    }
    for (credentials, msg) in &messages {
        assert_eq!(msg, &messages[0].1, "message for {credentials:?} differs");
    }
    create(&d, VENDOR).expect_ok();
    create(
        &d,
        "is_vendor=qlmauthenticationPROVIDER&is_user=demo&is_pwd=demo",
    )
    .expect_ok();
}

#[test]
fn vendor_whose_methods_exclude_the_method_is_code_8() {
    let d = TestDaemon::start(&TestConfig::demo().append(MORE_VENDORS));
    let release_only = "is_vendor=ReleaseOnly&is_user=rel&is_pwd=relpw";
    create(&d, release_only).expect_error(8);
    // The same credentials do open the method the list names.
    let key = d.create_key("");
    let seat = format!("is_avkey={key}&is_pcid=PC-A");
    d.call("ValidateLicenseHttp", &seat).expect_ok();
    d.call("ReleaseLicenseHttp", &format!("{seat}&{release_only}"))
        .expect_ok();
}

#[test]
fn password_hash_vendor_authenticates_with_its_password_only() {
    let d = TestDaemon::start(&TestConfig::demo().append(&hashed_vendor("s3cret pass")));
    create(&d, "is_vendor=Hashed&is_user=hu&is_pwd=s3cret%20pass").expect_ok();
    create(&d, "is_vendor=Hashed&is_user=hu&is_pwd=s3cret%20pass").expect_ok();
    create(&d, "is_vendor=Hashed&is_user=hu&is_pwd=s3cret").expect_error(8);
    create(&d, "is_vendor=Hashed&is_user=other&is_pwd=s3cret%20pass").expect_error(8);
}

/// The fastest of 7 calls: load from other tests only ever adds time, so the minimum shows
/// the work the server really does for these credentials.
fn fastest_call_time(d: &TestDaemon, credentials: &str) -> Duration {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            create(d, credentials).expect_error(8);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[test]
fn unknown_vendor_takes_as_long_as_a_wrong_password() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .security("authFailuresPerMinute = 100")
            .append(&hashed_vendor("right")),
    );
    let unknown = fastest_call_time(&d, "is_vendor=NoSuchVendor&is_user=hu&is_pwd=wrong");
    let wrong = fastest_call_time(&d, "is_vendor=Hashed&is_user=hu&is_pwd=wrong");
    let (fast, slow) = if unknown < wrong {
        (unknown, wrong)
    } else {
        (wrong, unknown)
    };
    assert!(
        slow <= fast * 3,
        "unknown vendor {unknown:?} vs wrong password {wrong:?}: timing tells them apart"
    );
}

#[test]
fn repeated_failures_refuse_even_correct_credentials_for_the_rest_of_the_minute() {
    let d = TestDaemon::start(&TestConfig::demo().security("authFailuresPerMinute = 3"));
    let key = d.create_key("");
    let wrong = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong";
    let ordinary = create(&d, wrong).expect_error(8);
    for _ in 0..2 {
        assert_eq!(create(&d, wrong).expect_error(8), ordinary);
    }
    let msg = create(&d, VENDOR).expect_error(8);
    assert!(msg.to_lowercase().contains("too many"), "{msg:?}");
    assert!(
        d.wait_for_log("too many failures"),
        "the log should say why: {}",
        d.logs()
    );
    // Methods that need no authentication are not locked out.
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-A"),
    )
    .expect_ok();
}

#[test]
fn correct_credentials_are_accepted_where_auth_is_not_required() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-A&{VENDOR}"),
    )
    .expect_ok();
    d.call("PingHttp", VENDOR).expect_ok();
}

#[test]
fn wrong_credentials_are_refused_even_where_auth_is_not_required() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let info = |d: &TestDaemon| {
        d.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_activate=false"),
        )
        .get("availableLicenses")
    };
    let wrong = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong";
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-A&{wrong}"),
    )
    .expect_error(8);
    assert_eq!(info(&d).as_deref(), Some("1"), "the refused call activated");
    d.call("PingHttp", wrong).expect_error(8);
    d.call("GetLatestVersionHttp", &format!("{PRODUCT}&{wrong}"))
        .expect_error(8);
}

fn products_only() -> TestConfig {
    TestConfig::default().append(
        r#"
[[product]]
id = 1
name = "Demo"
majorVersion = 1
minorVersion = 0

[[vendor]]
name = "QlmAuthenticationProvider"
user = "demo"
password = "demo"

[[vendor]]
name = "Store2"
user = "s2"
password = "pw2"
"#,
    )
}

#[test]
fn default_commerce_provider_is_the_vendor_when_is_vendor_is_absent() {
    let d = TestDaemon::start(&products_only().options("defaultCommerceProvider = \"Store2\""));
    create(&d, "is_user=s2&is_pwd=pw2").expect_ok();
    create(&d, "is_user=demo&is_pwd=demo").expect_error(8);
    create(&d, VENDOR).expect_ok();

    let without_default = TestDaemon::start(&products_only());
    create(&without_default, VENDOR).expect_ok();
}

#[test]
fn a_missing_is_vendor_without_a_default_commerce_provider_is_code_208_naming_it() {
    let d = TestDaemon::start(&products_only());
    let e = create(&d, "is_user=demo&is_pwd=demo").expect_error(208);
    assert!(e.contains("is_vendor"), "{e}");
    let e = d
        .call(
            "GetActivationKey",
            &format!("{PRODUCT}&is_vendor=&is_user=demo&is_pwd=demo"),
        )
        .expect_error(208);
    assert!(e.contains("is_vendor"), "{e}");
    // Nothing was created, and a call naming the vendor still works.
    let (code, out, _) = d.cli(&["keys", "list"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "keys were created:\n{out}");
    create(&d, VENDOR).expect_ok();
    // Where no vendor is needed, none is asked for.
    d.call("PingHttp", "").expect_ok();
}

#[test]
fn passwords_never_appear_in_replies_or_logs() {
    const SECRET: &str = "SuperSecret123";
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("logLevel = \"trace\"")
            .append(&format!(
                "[[vendor]]\nname = \"Secretive\"\nuser = \"sec\"\npassword = \"{SECRET}\"\n"
            )),
    );
    let demo_wrong = format!("is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd={SECRET}");
    let mut replies = vec![
        create(
            &d,
            &format!("is_vendor=Secretive&is_user=sec&is_pwd={SECRET}"),
        ),
        create(&d, &demo_wrong),
        create(&d, &format!("{demo_wrong}&is_format=json")),
        create(&d, &format!("{demo_wrong}&is_quantity=0")),
        create(
            &d,
            &format!("is_vendor=Secretive&is_user=sec&is_pwd={SECRET}%01"),
        ),
        create(&d, &format!("{demo_wrong}&IS_PWD={SECRET}")),
        d.call("ValidateLicenseHttp", &format!("is_avkey=x&{demo_wrong}")),
        d.call("PingHttp", &demo_wrong),
    ];
    replies[0].expect_ok();
    replies[1].expect_error(8);
    replies[3].expect_error(5);
    let msg = replies[4].expect_error(5);
    assert!(msg.contains("is_pwd"), "the bad argument is named: {msg:?}");
    replies[5].expect_error(5);
    replies.push(d.call("PingHttp", ""));
    for r in &replies {
        assert!(
            !r.body.contains(SECRET),
            "reply echoes the password: {}",
            r.body
        );
    }
    let logs = d.logs();
    assert!(
        logs.to_lowercase().contains("authentication"),
        "the failures are logged: {logs}"
    );
    assert!(
        !logs.contains(SECRET),
        "a log line holds the password:\n{logs}"
    );
}

/// GetActivationKey sent through a trusted proxy on behalf of `client`.
fn create_from(d: &TestDaemon, client: &str, credentials: &str) -> HttpReply {
    d.raw(&format!(
        "GET /qlmservice.asmx/GetActivationKey?{PRODUCT}&{credentials} HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n",
        d.addr
    ))
}

#[test]
fn failure_throttle_counts_each_client_address_apart() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("trustedProxies = [\"127.0.0.0/8\"]")
            .security("authFailuresPerMinute = 2"),
    );
    let wrong = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong";
    for _ in 0..2 {
        create_from(&d, "10.0.0.1", wrong).expect_error(8);
    }
    create_from(&d, "10.0.0.1", VENDOR).expect_error(8);
    create_from(&d, "10.0.0.2", VENDOR).expect_ok();
}

#[test]
fn verified_password_is_remembered_so_later_calls_skip_argon2() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .security("authFailuresPerMinute = 100")
            .append(&hashed_vendor("right")),
    );
    let wrong = fastest_call_time(&d, "is_vendor=Hashed&is_user=hu&is_pwd=wrong");
    let right = "is_vendor=Hashed&is_user=hu&is_pwd=right";
    create(&d, right).expect_ok();
    // The fastest of 5: load from other tests only adds time (and each call also commits
    // a new key durably).
    let remembered = (0..5)
        .map(|_| {
            let start = Instant::now();
            create(&d, right).expect_ok();
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    assert!(
        remembered * 3 < wrong,
        "a remembered password took {remembered:?}, an argon2 verification {wrong:?}"
    );
}
