//! The customer portal (docs/portal.md) over HTTP against the real daemon: the portal off by
//! default, QLM's deep link, the release page under ReleaseLicenseHttp's rules and codes,
//! CSRF refusals, the throttle shared with the HTTP methods, and offline activation. Every
//! refusal is checked to change nothing. `my_licence` covers the mailed links, `browser`
//! drives the pages in Chromium; both use the helpers here.

mod browser;
mod my_licence;

use std::cell::RefCell;
use std::time::Duration;

use chrono::Utc;

use crate::util::{
    HttpReply, SmtpServer, TestConfig, TestDaemon, VENDOR, decoded_mail_body, send_raw,
};

/// What the tests' configuration names as the address customers reach the server at; the
/// tests map it to the daemon's own address, as a proxy would.
pub const PUBLIC_URL: &str = "http://licences.example.test/shop";

/// The shared secret of the deactivation codes.
pub const COMM_KEY: &str = "shared-with-clients";

/// The demo configuration with the portal on and deactivation codes possible; `smtp` set,
/// mail is sent to it.
pub fn portal_config(smtp: Option<&SmtpServer>) -> TestConfig {
    let c = TestConfig::demo()
        .options(&format!("communicationEncryptionKey = \"{COMM_KEY}\""))
        .append(&format!(
            "[portal]\nenabled = true\npublicUrl = \"{PUBLIC_URL}/\"\n"
        ));
    match smtp {
        Some(s) => c.append(&s.mail_section()),
        None => c,
    }
}

/// Today's deactivation code of `key` on `pc`, as the client computes it.
pub fn code_for(key: &str, pc: &str) -> String {
    licd::license::deactivation_code::code_for(key, pc, COMM_KEY, Utc::now().date_naive())
}

/// A browser without a browser: keeps the portal's cookie and reads the forms' CSRF tokens.
pub struct Visitor<'a> {
    d: &'a TestDaemon,
    cookie: RefCell<Option<String>>,
    /// An `X-Forwarded-For` address (the daemon trusts loopback proxies in those tests).
    forwarded: Option<&'a str>,
}

impl<'a> Visitor<'a> {
    pub fn new(d: &'a TestDaemon) -> Self {
        Visitor {
            d,
            cookie: RefCell::new(None),
            forwarded: None,
        }
    }

    /// A visitor whose requests come through a trusted proxy on behalf of `client`.
    pub fn from(d: &'a TestDaemon, client: &'a str) -> Self {
        Visitor {
            forwarded: Some(client),
            ..Visitor::new(d)
        }
    }

    fn head(&self) -> String {
        let mut h = format!("Host: {}\r\nConnection: close\r\n", self.d.addr);
        if let Some(c) = self.cookie.borrow().as_deref() {
            h.push_str(&format!("Cookie: licd_portal={c}\r\n"));
        }
        if let Some(f) = self.forwarded {
            h.push_str(&format!("X-Forwarded-For: {f}\r\n"));
        }
        h
    }

    fn keep_cookie(&self, r: &HttpReply) {
        if let Some(set) = r.header("set-cookie")
            && let Some(value) = set
                .strip_prefix("licd_portal=")
                .and_then(|v| v.split(';').next())
        {
            *self.cookie.borrow_mut() = Some(value.to_string());
        }
    }

    pub fn get(&self, path: &str) -> HttpReply {
        let r = send_raw(
            self.d.addr,
            format!("GET {path} HTTP/1.1\r\n{}\r\n", self.head()).as_bytes(),
        );
        self.keep_cookie(&r);
        r
    }

    /// POSTs `fields` (form-encoded) to `path`.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> HttpReply {
        let body = licd_plugin_api::form::encode(fields);
        let r = send_raw(
            self.d.addr,
            format!(
                "POST {path} HTTP/1.1\r\n{}Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                self.head(),
                body.len()
            )
            .as_bytes(),
        );
        self.keep_cookie(&r);
        r
    }

    /// Opens the form at `page`, then posts `fields` with the form's CSRF token to `action`.
    pub fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> HttpReply {
        let form = self.get(page);
        assert_eq!(form.status, 200, "{}", form.body);
        let token = csrf_token(&form.body);
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post(action, &all)
    }
}

/// The value of the first `csrf_token` field of a page.
pub fn csrf_token(html: &str) -> String {
    attribute_after(html, r#"name="csrf_token" value=""#)
}

/// The text after `marker` up to the next `"`.
pub fn attribute_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in:\n{html}"))
        + marker.len();
    let end = start + html[start..].find('"').expect("a closing quote");
    html[start..end].to_string()
}

/// The licence's activations by computer ID, from a report-only validation of each.
pub fn activated(d: &TestDaemon, key: &str, pc: &str) -> bool {
    let r = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid={pc}&is_activate=false"),
    );
    r.get("pckey").is_some()
}

/// A daemon with one key of `seats` seats sold to `email`, activated on each of `pcs`.
pub fn with_activations(
    config: &TestConfig,
    email: &str,
    seats: u32,
    pcs: &[&str],
) -> (TestDaemon, String) {
    let d = TestDaemon::start(config);
    let key = d.create_key(&format!(
        "is_email={email}&is_numberofactivationsperkey={seats}"
    ));
    for pc in pcs {
        d.activate(&key, pc).expect_ok();
    }
    (d, key)
}

fn release_fields<'a>(key: &'a str, pc: &'a str, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("is_avkey", key), ("is_pcid", pc), ("is_deactcode", code)]
}

/// The link of the newest `PortalLink` mail, mapped from the public URL to the daemon.
pub fn mailed_link(smtp: &SmtpServer, n: usize, d: &TestDaemon) -> (String, String) {
    let messages = smtp.wait_for(n, Duration::from_secs(20));
    assert_eq!(messages.len(), n, "mails; log:\n{}", d.logs());
    let mail = messages.last().expect("a mail").clone();
    let body = decoded_mail_body(&mail);
    let link = body
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(PUBLIC_URL))
        .unwrap_or_else(|| panic!("no link under {PUBLIC_URL} in:\n{body}"))
        .to_string();
    let path = link[PUBLIC_URL.len()..].to_string();
    (mail, path)
}

#[test]
fn the_portal_is_off_by_default_and_its_urls_are_404() {
    let d = TestDaemon::start(&TestConfig::demo());
    for path in [
        "/portal/",
        "/portal/release",
        "/portal/my-licence",
        "/portal/offline-activation",
        "/QlmReleaseLicense.aspx?is_avkey=A",
        "/qlmservice.asmx/QlmReleaseLicense.aspx?is_avkey=A",
    ] {
        assert_eq!(d.get(path).status, 404, "{path}");
    }
    assert_eq!(
        d.post_form("/portal/release", "is_avkey=A").status,
        404,
        "a POST too"
    );
}

#[test]
fn check_config_refuses_an_enabled_portal_without_a_public_url_and_a_public_url_that_is_no_http_url()
 {
    let missing = crate::config_errors::problems("[portal]\nenabled = true\n");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0].contains("[portal]: `enabled = true` needs `publicUrl`"),
        "{missing:?}"
    );
    let bad = crate::config_errors::problems(
        "[portal]\nenabled = false\npublicUrl = \"licences.example.com\"\n",
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].contains("`publicUrl` \"licences.example.com\" must start with http:// or https://"),
        "{bad:?}"
    );
    let typo = crate::config_errors::problems("[portal]\nenable = true\n");
    assert!(typo[0].contains("did you mean `enabled`?"), "{typo:?}");
}

#[test]
fn qlms_deep_link_shows_the_release_form_prefilled_under_both_folders_and_changes_nothing() {
    let config = portal_config(None).server("basePath = \"/qlmLicenseServer\"");
    let d = TestDaemon::start(&config);
    let method = |name: &str, query: &str| {
        d.get(&format!("/qlmLicenseServer/qlmservice.asmx/{name}?{query}"))
    };
    let key = method(
        "GetActivationKey",
        &format!("is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}"),
    )
    .get("activationKey")
    .expect("a key");
    method(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-7"),
    )
    .expect_ok();
    let snapshot = || {
        method(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid=PC-7&is_activate=false"),
        )
        .body
        .lines()
        .filter(|l| !l.starts_with("<serverDate>"))
        .collect::<Vec<_>>()
        .join("\n")
    };
    let code = code_for(&key, "PC-7");
    let before = snapshot();
    for folder in ["", "/qlmservice.asmx"] {
        let v = Visitor::new(&d);
        let r = v.get(&format!(
            "/qlmLicenseServer{folder}/QlmReleaseLicense.aspx?is_avkey={key}&is_pcid=PC-7&is_deactcode={code}"
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        for (name, value) in [
            ("is_avkey", key.as_str()),
            ("is_pcid", "PC-7"),
            ("is_deactcode", &code),
        ] {
            assert!(
                r.body
                    .contains(&format!(r#"name="{name}" value="{value}""#)),
                "{name} not prefilled:\n{}",
                r.body
            );
        }
        assert!(
            r.body
                .contains(r#"action="/qlmLicenseServer/portal/release""#),
            "{}",
            r.body
        );
        assert!(r.body.contains(r#"name="csrf_token""#));
        // A POST to the deep link does nothing: it only shows the form.
        let posted = v.post(
            &format!("/qlmLicenseServer{folder}/QlmReleaseLicense.aspx"),
            &release_fields(&key, "PC-7", &code),
        );
        assert_eq!(posted.status, 405);
        assert_eq!(posted.header("allow"), Some("GET"));
    }
    assert_eq!(snapshot(), before);
    assert!(before.contains("<pckey>"), "{before}");
}

#[test]
fn every_page_carries_the_content_security_policy_and_no_script_or_outside_asset() {
    let d = TestDaemon::start(&portal_config(None));
    let v = Visitor::new(&d);
    for path in [
        "/portal/",
        "/portal/release",
        "/portal/my-licence",
        "/portal/offline-activation",
        "/portal/licence?t=nothing",
        "/portal/nothing",
    ] {
        let r = v.get(path);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.starts_with(
                "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
            ),
            "{path}: {csp}"
        );
        assert!(!r.body.contains("<script"), "{path}");
        assert!(
            !r.body.contains("http://") && !r.body.contains("https://"),
            "{path}: an outside URL:\n{}",
            r.body
        );
        assert!(
            r.body.contains(r#"<html lang="en">"#) && r.body.contains("<h1>"),
            "{path}"
        );
    }
    let css = v.get("/portal/licd.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[test]
fn a_deactivation_code_releases_the_activation_without_vendor_credentials() {
    // releaseLicenseRequiresAuthentication is on (the default): the code is the proof here.
    let (d, key) = with_activations(
        &portal_config(None),
        "ann@example.com",
        2,
        &["PC-1", "PC-2"],
    );
    let v = Visitor::new(&d);
    let code = code_for(&key, "PC-1");
    let r = v.submit(
        "/portal/release",
        "/portal/release",
        &release_fields(&key, " PC-1 ", &code),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Licence released"), "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "<code>{key}</code> is no longer activated on computer <code>PC-1</code>"
        )),
        "{}",
        r.body
    );
    assert!(r.body.contains("1 of 2 activations are free"), "{}", r.body);
    assert!(!activated(&d, &key, "PC-1"));
    assert!(activated(&d, &key, "PC-2"));
    // The release is ReleaseLicenseHttp's: a second one answers 216/217 and changes nothing.
    let before = d.license_snapshot(&key);
    let again = v.submit(
        "/portal/release",
        "/portal/release",
        &release_fields(&key, "PC-1", &code),
    );
    assert_eq!(again.status, 403);
    assert!(again.body.contains("Code 217"), "{}", again.body);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn a_form_without_a_valid_csrf_token_or_cookie_is_refused_403_and_changes_nothing() {
    let (d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &["PC-1"]);
    let code = code_for(&key, "PC-1");
    let before = d.license_snapshot(&key);
    let v = Visitor::new(&d);
    let page = v.get("/portal/release");
    let token = csrf_token(&page.body);
    let fields = release_fields(&key, "PC-1", &code);
    // No token.
    let r = v.post("/portal/release", &fields);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("no security token"), "{}", r.body);
    assert!(r.body.contains("Nothing was changed"));
    // A token of another form.
    let other = csrf_token(&v.get("/portal/offline-activation").body);
    let mut with_other = fields.clone();
    with_other.push(("csrf_token", &other));
    assert_eq!(v.post("/portal/release", &with_other).status, 403);
    // The right token from another browser (no cookie, or another one).
    let mut with_token = fields.clone();
    with_token.push(("csrf_token", &token));
    let stranger = Visitor::new(&d);
    let r = stranger.post("/portal/release", &with_token);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("cookie"), "{}", r.body);
    stranger.get("/portal/");
    assert_eq!(stranger.post("/portal/release", &with_token).status, 403);
    // The same holds on every form.
    for path in [
        "/portal/my-licence",
        "/portal/offline-activation",
        "/portal/licence/release",
    ] {
        assert_eq!(v.post(path, &fields).status, 403, "{path}");
    }
    assert_eq!(d.license_snapshot(&key), before);
    assert!(activated(&d, &key, "PC-1"));
    // With the token, the same request releases.
    assert_eq!(v.post("/portal/release", &with_token).status, 200);
}

#[test]
fn a_wrong_stale_or_missing_code_is_refused_403_whatever_the_server_requires() {
    // releaseLicenseRequiresVerificationCode is off (the default): the portal wants a code.
    let (d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &["PC-1"]);
    let before = d.license_snapshot(&key);
    let v = Visitor::new(&d);
    let stale = licd::license::deactivation_code::code_for(
        &key,
        "PC-1",
        COMM_KEY,
        Utc::now().date_naive() - chrono::Days::new(3),
    );
    let other_pc = code_for(&key, "PC-2");
    for (code, expected) in [
        ("0123456789abcdef0123456789abcdef", "Code 224"),
        (stale.as_str(), "Code 224"),
        (other_pc.as_str(), "Code 224"),
        ("", "Code 208"),
    ] {
        let r = v.submit(
            "/portal/release",
            "/portal/release",
            &release_fields(&key, "PC-1", code),
        );
        assert_eq!(r.status, 403, "{code}: {}", r.body);
        assert!(r.body.contains(expected), "{code}: {}", r.body);
        assert!(r.body.contains("Nothing was changed"));
    }
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn the_release_rules_refuse_with_release_license_https_codes_and_change_nothing() {
    let cases: [(&str, TestConfig, &str); 4] = [
        (
            "release limit",
            portal_config(None).options("maxReleaseCount = 0"),
            "Code 212",
        ),
        (
            "gate",
            portal_config(None).security("enableReleaseKeyHttp = false"),
            "Code 7",
        ),
        (
            "young activation",
            portal_config(None).options("preventDeactivationPeriod = 60"),
            "Code 200",
        ),
        (
            "blocked address",
            portal_config(None)
                .server("trustedProxies = [\"127.0.0.0/8\"]")
                .options("blockIPAddresses = [\"198.51.100.7\"]"),
            "Code 3",
        ),
    ];
    for (what, config, expected) in cases {
        let (d, key) = with_activations(&config, "ann@example.com", 1, &["PC-1"]);
        let before = d.license_snapshot(&key);
        let v = Visitor::from(&d, "198.51.100.7");
        let code = code_for(&key, "PC-1");
        let r = v.submit(
            "/portal/release",
            "/portal/release",
            &release_fields(&key, "PC-1", &code),
        );
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        assert!(r.body.contains(expected), "{what}: {}", r.body);
        assert_eq!(d.license_snapshot(&key), before, "{what}");
        assert!(activated(&d, &key, "PC-1"), "{what}");
        if what == "gate" {
            assert!(
                r.body.contains("security.enableReleaseKeyHttp = false"),
                "{}",
                r.body
            );
        }
    }
}

#[test]
fn wrong_codes_count_against_the_address_in_the_throttle_the_http_methods_share() {
    let config = portal_config(None)
        .server("trustedProxies = [\"127.0.0.0/8\"]")
        .security("authFailuresPerMinute = 2");
    let (d, key) = with_activations(&config, "ann@example.com", 1, &["PC-1"]);
    let v = Visitor::from(&d, "203.0.113.9");
    for _ in 0..2 {
        let r = v.submit(
            "/portal/release",
            "/portal/release",
            &release_fields(&key, "PC-1", "00"),
        );
        assert_eq!(r.status, 403);
    }
    // Blocked now: even the right code is not checked.
    let code = code_for(&key, "PC-1");
    let r = v.submit(
        "/portal/release",
        "/portal/release",
        &release_fields(&key, "PC-1", &code),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(activated(&d, &key, "PC-1"));
    // The same address is refused by the vendor methods too: one throttle.
    let blocked = send_raw(
        d.addr,
        format!(
            "GET /qlmservice.asmx/GetActivationKey?is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR} HTTP/1.1\r\n\
             Host: {}\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n",
            d.addr
        )
        .as_bytes(),
    );
    assert_eq!(blocked.error_code(), Some(8), "{}", blocked.body);
    // Another address is not held up.
    let other = Visitor::from(&d, "203.0.113.10");
    let r = other.submit(
        "/portal/release",
        "/portal/release",
        &release_fields(&key, "PC-1", &code),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn offline_activation_downloads_the_file_license_file_makes_taking_one_seat() {
    let (d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &[]);
    let v = Visitor::new(&d);
    let fields = [
        ("is_avkey", key.as_str()),
        ("is_pcid", "PC-AIR-7"),
        ("is_computer_name", "Lab bench 3"),
    ];
    let r = v.submit(
        "/portal/offline-activation",
        "/portal/offline-activation",
        &fields,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"PC-AIR-7.xml\"")
    );
    assert!(
        r.body
            .contains("<result>The license was activated on computer PC-AIR-7.</result>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<computerName>Lab bench 3</computerName>"));
    assert!(
        r.body
            .contains("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">")
    );
    // One seat, as online: another computer is refused with 210 and nothing changes.
    let before = d.license_snapshot(&key);
    let other = v.submit(
        "/portal/offline-activation",
        "/portal/offline-activation",
        &[("is_avkey", &key), ("is_pcid", "PC-AIR-8")],
    );
    assert_eq!(other.status, 403);
    assert!(other.body.contains("Code 210"), "{}", other.body);
    assert_eq!(d.license_snapshot(&key), before);
    // The same computer again gets its file and uses no further seat.
    let again = v.submit(
        "/portal/offline-activation",
        "/portal/offline-activation",
        &fields,
    );
    assert_eq!(again.status, 200);
    assert_eq!(d.license_snapshot(&key), before);
    // An unknown key is 203.
    let unknown = v.submit(
        "/portal/offline-activation",
        "/portal/offline-activation",
        &[
            ("is_avkey", "A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1PG"),
            ("is_pcid", "PC-AIR-7"),
        ],
    );
    assert_eq!(unknown.status, 403);
    assert!(unknown.body.contains("Code 203"));
}
