//! Strict authentication and RetrieveActivationKeyHttp (methods.md): the HMAC headers over
//! the URL, their aliases, the timestamp window, replays, query-only arguments, and finding
//! keys by order id and user data in XML and JSON.

use chrono::{TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::util::{HttpReply, TestConfig, TestDaemon};

const API_KEY: &str = "store-api-key";
const STORE: &str = "is_vendor=Store&is_user=s&is_pwd=spw";
const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

/// The demo configuration with the strictly authenticated vendor `Store` and
/// RetrieveActivationKeyHttp on.
pub(crate) fn config() -> TestConfig {
    TestConfig::demo()
        .security("enableRetrieveActivationKeyHttp = true")
        .append(&format!(
            "[[vendor]]\nname = \"Store\"\nuser = \"s\"\npassword = \"spw\"\napiKey = \"{API_KEY}\"\n\n[[vendor]]\nname = \"NoKey\"\nuser = \"n\"\npassword = \"npw\"\n"
        ))
}

/// A daemon with three keys for order O-1 (two with user data U-1, one of product 2 with
/// U-2) and one for order O-2 (U-1). An order id names one order per product, so the third
/// key is of another product: the same order again for product 1 would return the first keys.
pub(crate) fn daemon_with_orders(config: &TestConfig) -> TestDaemon {
    let d = TestDaemon::start(config);
    for extra in [
        "is_orderid=O-1&is_userdata1=U-1&is_usemultipleactivationskey=false&is_quantity=2",
        "is_orderid=O-2&is_userdata1=U-1",
    ] {
        d.call("GetActivationKey", &format!("{PRODUCT}&{STORE}&{extra}"))
            .expect_ok();
    }
    let other = "is_productid=2&is_majorversion=1&is_minorversion=0";
    d.call(
        "GetActivationKey",
        &format!("{other}&{STORE}&is_orderid=O-1&is_userdata1=U-2&is_numberofactivationsperkey=4"),
    )
    .expect_ok();
    d
}

fn hmac_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ts(offset_seconds: i64) -> String {
    (Utc::now() + TimeDelta::seconds(offset_seconds))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Headers of a strictly authenticated request.
pub(crate) struct Signing<'a> {
    /// What is signed: `Some(prefix)` signs `prefix + target`; `None` sends no signature.
    pub(crate) url_prefix: Option<&'a str>,
    pub(crate) key: &'a str,
    pub(crate) timestamp: String,
    pub(crate) version: &'a str,
    pub(crate) signature_header: &'a str,
    pub(crate) timestamp_header: &'a str,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            url_prefix: Some("http://HOST"),
            key: API_KEY,
            timestamp: now_ts(0),
            version: "2",
            signature_header: "X-Qlm-Authentication",
            timestamp_header: "X-Qlm-Timestamp",
        }
    }
}

/// GET `/qlmservice.asmx/RetrieveActivationKeyHttp?{query}` signed as `s` says, with `body`
/// as a form when given.
pub(crate) fn signed(
    d: &TestDaemon,
    query: &str,
    s: &Signing<'_>,
    body: Option<&str>,
) -> HttpReply {
    signed_method(d, "RetrieveActivationKeyHttp", query, s, body)
}

fn signed_method(
    d: &TestDaemon,
    method: &str,
    query: &str,
    s: &Signing<'_>,
    body: Option<&str>,
) -> HttpReply {
    let host = d.addr.to_string();
    let target = format!("/qlmservice.asmx/{method}?{query}");
    let mut headers = format!(
        "{}: {}\r\nX-Qlm-Authentication-Version: {}\r\n",
        s.timestamp_header, s.timestamp, s.version
    );
    if let Some(prefix) = s.url_prefix {
        let url = format!("{}{target}", prefix.replace("HOST", &host));
        let message = format!(
            "{url}&X-Qlm-Timestamp:{}&X-Qlm-Authentication-Version:{}",
            s.timestamp, s.version
        );
        headers.push_str(&format!(
            "{}: {}\r\n",
            s.signature_header,
            hmac_hex(s.key, &message)
        ));
    }
    let (verb, tail) = match body {
        Some(b) => (
            "POST",
            format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ),
        ),
        None => ("GET", "\r\n".to_string()),
    };
    d.raw(&format!(
        "{verb} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n{tail}"
    ))
}

#[test]
fn correctly_signed_request_finds_every_key_of_the_order() {
    let d = daemon_with_orders(&config());
    let r = signed(
        &d,
        &format!("{STORE}&is_orderid=O-1"),
        &Signing::default(),
        None,
    );
    r.expect_ok();
    assert_eq!(r.get("result").as_deref(), Some("Found 3 activation keys."));
    assert_eq!(r.all("activationKey").len(), 3);
    let mut seats = r.all("numActivationsAllowed");
    seats.sort();
    assert_eq!(seats, ["1", "1", "4"]);
}

#[test]
fn user_data_alone_or_both_must_match_and_none_found_is_203() {
    let d = daemon_with_orders(&config());
    let find = |q: &str| signed(&d, &format!("{STORE}&{q}"), &Signing::default(), None);
    assert_eq!(find("is_userdata1=U-1").all("activationKey").len(), 3);
    let both = find("is_orderid=O-1&is_userdata1=U-2");
    assert_eq!(
        both.get("result").as_deref(),
        Some("Found 1 activation key.")
    );
    assert_eq!(both.get("numActivationsAllowed").as_deref(), Some("4"));
    find("is_orderid=O-2&is_userdata1=U-2").expect_error(203);
    find("is_orderid=NO-SUCH").expect_error(203);
    find("is_format=xml").expect_error(208);
}

#[test]
fn json_reply_lists_the_keys_as_an_array() {
    let d = daemon_with_orders(&config());
    let r = signed(
        &d,
        &format!("{STORE}&is_orderid=O-2&is_format=json"),
        &Signing::default(),
        None,
    );
    let v = r.json();
    assert_eq!(v["result"], "Found 1 activation key.");
    let list = v["licenses"].as_array().expect("an array");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["numActivationsAllowed"], 1);
    assert!(
        list[0]["activationKey"]
            .as_str()
            .is_some_and(|k| k.len() == 30)
    );
}

#[test]
fn header_aliases_and_the_path_only_or_https_url_are_accepted() {
    let d = daemon_with_orders(&config());
    for (prefix, sig_header, ts_header) in [
        ("", "X-Qlm-Authentication-Token", "Qlm-Timestamp"),
        (
            "https://HOST",
            "Qlm-Authentication-Token",
            "X-Qlm-Timestamp",
        ),
    ] {
        let s = Signing {
            url_prefix: Some(prefix),
            signature_header: sig_header,
            timestamp_header: ts_header,
            ..Signing::default()
        };
        signed(&d, &format!("{STORE}&is_orderid=O-2"), &s, None).expect_ok();
    }
}

#[test]
fn wrong_signature_stale_timestamp_old_version_or_missing_headers_are_code_8() {
    let d = daemon_with_orders(&config());
    let query = format!("{STORE}&is_orderid=O-1");
    let cases = [
        (
            Signing {
                key: "wrong-key",
                ..Signing::default()
            },
            "does not match",
        ),
        (
            Signing {
                timestamp: now_ts(-400),
                ..Signing::default()
            },
            "away from the server clock",
        ),
        (
            Signing {
                timestamp: now_ts(400),
                ..Signing::default()
            },
            "away from the server clock",
        ),
        (
            Signing {
                version: "1",
                ..Signing::default()
            },
            // Reasons are logged quoted and escaped (docs/security.md, forged log lines).
            "version \\\"1\\\"",
        ),
        (
            Signing {
                url_prefix: None,
                ..Signing::default()
            },
            "x-qlm-authentication header is missing",
        ),
        (
            Signing {
                timestamp_header: "X-Other",
                ..Signing::default()
            },
            "x-qlm-timestamp header is missing",
        ),
    ];
    for (s, reason) in cases {
        signed(&d, &query, &s, None).expect_error(8);
        assert!(
            d.wait_for_log(reason),
            "{reason:?} not logged:\n{}",
            d.logs()
        );
    }
    // Credentials alone are not enough either.
    d.call("RetrieveActivationKeyHttp", &query).expect_error(8);
}

#[test]
fn a_signature_is_accepted_once() {
    let d = daemon_with_orders(&config());
    let query = format!("{STORE}&is_orderid=O-1");
    let s = Signing::default();
    signed(&d, &query, &s, None).expect_ok();
    signed(&d, &query, &s, None).expect_error(8);
    assert!(d.wait_for_log("already used"), "{}", d.logs());
}

#[test]
fn vendor_without_api_key_or_with_wrong_password_is_code_8() {
    let d = daemon_with_orders(&config());
    let no_key = "is_vendor=NoKey&is_user=n&is_pwd=npw&is_orderid=O-1";
    signed(&d, no_key, &Signing::default(), None).expect_error(8);
    assert!(d.wait_for_log("has no apiKey"), "{}", d.logs());
    let wrong_pw = "is_vendor=Store&is_user=s&is_pwd=bad&is_orderid=O-1";
    signed(&d, wrong_pw, &Signing::default(), None).expect_error(8);
}

#[test]
fn form_body_arguments_are_refused_with_code_5_for_a_strict_method() {
    let d = daemon_with_orders(&config());
    let r = signed(&d, STORE, &Signing::default(), Some("is_orderid=O-1"));
    let msg = r.expect_error(5);
    assert!(msg.contains("query string"), "{msg}");
}

#[test]
fn retrieval_is_code_7_while_its_gate_is_off() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = signed(&d, "is_orderid=O-1", &Signing::default(), None);
    let msg = r.expect_error(7);
    assert!(
        msg.contains("security.enableRetrieveActivationKeyHttp"),
        "{msg}"
    );
}

#[test]
fn any_listed_method_needs_strict_authentication() {
    let c = config().security(
        "strictAuthenticationHttpMethods = [\"RetrieveActivationKeyHttp\", \"GetActivationKey\"]",
    );
    let d = TestDaemon::start(&c);
    d.call("GetActivationKey", &format!("{PRODUCT}&{STORE}"))
        .expect_error(8);
    signed_method(
        &d,
        "GetActivationKey",
        &format!("{PRODUCT}&{STORE}"),
        &Signing::default(),
        None,
    )
    .expect_ok();
    // Other methods are unaffected.
    d.call(
        "UpdateLicenseHttp",
        &format!("{STORE}&is_avkey=A0000-00000-00000-00000-000000&is_userdata1=x"),
    )
    .expect_error(203);
}
