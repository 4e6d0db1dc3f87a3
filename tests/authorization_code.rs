//! Activation by e-mailed authorization code over HTTP against the real daemon:
//! RequestAuthorizationCodeForActivationHttp and ActivateKeyByAuthorizationCodeHttp, the
//! round trip through a real SMTP server (aiosmtpd), their gate, what a wrong, spent or
//! expired code gets, the limits, and bad input changing nothing.

use std::time::Duration;

use crate::util::{
    HttpReply, SmtpServer, TestConfig, TestDaemon, cli_ok, code_in, mail_body, queued_code,
};

const REQUEST: &str = "RequestAuthorizationCodeForActivationHttp";
const ACTIVATE: &str = "ActivateKeyByAuthorizationCodeHttp";

/// The demo configuration with the methods on, mailing to `smtp` when given (else mail waits
/// in the outbox), and `extra` lines in `[activation]`.
fn config(smtp: Option<&SmtpServer>, activation: &[&str]) -> TestConfig {
    let mut c = TestConfig::demo().security("enableActivationByAuthorizationCode = true");
    for line in activation {
        c = c.activation(line);
    }
    match smtp {
        Some(smtp) => c.append(&smtp.mail_section()),
        None => c,
    }
}

/// The outbox as `licd mail list --json` prints it.
fn outbox(d: &TestDaemon) -> Vec<serde_json::Value> {
    cli_ok(d.cli(&["mail", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn request_code(d: &TestDaemon, email: &str, pc: &str) -> HttpReply {
    d.call(REQUEST, &format!("is_email={email}&is_pcid={pc}"))
}

/// A daemon with a key of product 1 owned by `email`, `seats` activations.
fn with_key(config: &TestConfig, email: &str, seats: u32) -> (TestDaemon, String) {
    let d = TestDaemon::start(config);
    let key = d.create_key(&format!(
        "is_email={email}&is_quantity=1&is_numberofactivationsperkey={seats}"
    ));
    (d, key)
}

#[test]
fn an_emailed_code_activates_the_customers_key_on_that_computer_once() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let (d, key) = with_key(&config(Some(&smtp), &[]), "Ann@Example.com", 2);
    let r = request_code(&d, "ann@example.com", "PC-7");
    r.expect_ok();
    assert!(
        r.get("result")
            .is_some_and(|t| t.contains("valid for 10 minutes")),
        "{}",
        r.body
    );
    let messages = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(messages.len(), 1, "one mail; log:\n{}", d.logs());
    let mail = &messages[0];
    assert!(mail.starts_with("X-Envelope-To: Ann@Example.com"), "{mail}");
    let code = code_in(&mail_body(mail));
    assert!(
        !d.logs().contains(&code),
        "the code is never logged:\n{}",
        d.logs()
    );

    let r = d.call(
        ACTIVATE,
        &format!("is_authcode={code}&is_pcid=PC-7&is_computer_name=office"),
    );
    r.expect_ok();
    assert_eq!(
        r.get("result").as_deref(),
        Some("The license was activated on computer PC-7.")
    );
    assert!(r.get("pckey").is_some(), "{}", r.body);
    assert_eq!(r.get("activationKey").as_deref(), Some(key.as_str()));
    assert_eq!(r.get("computerName").as_deref(), Some("office"));
    assert_eq!(r.get("userEmail").as_deref(), Some("Ann@Example.com"));
    // The activation is the one ValidateLicenseHttp sees.
    d.activate(&key, "PC-7").expect_ok();
    let info = d.licence_info(&key);
    assert_eq!(
        info.get("availableLicenses").as_deref(),
        Some("1"),
        "{}",
        info.body
    );

    // A code activates once.
    let r = d.call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-7"));
    let message = r.expect_error(200);
    assert!(message.contains("request a new one"), "{message}");
}

#[test]
fn a_code_for_one_computer_is_a_wrong_code_on_another_and_changes_nothing() {
    let (d, key) = with_key(&config(None, &[]), "bo@example.com", 2);
    request_code(&d, "bo@example.com", "PC-1").expect_ok();
    let mail = outbox(&d);
    assert_eq!(mail.len(), 1, "the code's mail is queued");
    assert!(mail[0].get("body").is_none());
    let code = queued_code(&d);
    let before = d.license_snapshot(&key);
    let r = d.call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-2"));
    r.expect_error(203);
    assert_eq!(d.license_snapshot(&key), before);
    // Still good on its own computer.
    d.call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-1"))
        .expect_ok();
}

#[test]
fn the_reply_is_the_same_whether_or_not_the_address_owns_a_licence() {
    let (d, _key) = with_key(&config(None, &[]), "cy@example.com", 1);
    let known = request_code(&d, "cy@example.com", "PC-1");
    known.expect_ok();
    let unknown = request_code(&d, "nobody@example.com", "PC-1");
    unknown.expect_ok();
    let text = |r: &HttpReply, email: &str| r.get("result").map(|t| t.replace(email, "…"));
    assert_eq!(
        text(&known, "cy@example.com"),
        text(&unknown, "nobody@example.com")
    );
    assert_eq!(outbox(&d).len(), 1, "only the owner is mailed");
}

#[test]
fn three_codes_an_hour_per_address_then_the_same_reply_and_no_mail() {
    let (d, _key) = with_key(&config(None, &[]), "dee@example.com", 1);
    let mut replies = Vec::new();
    for _ in 0..4 {
        let r = request_code(&d, "dee@example.com", "PC-1");
        r.expect_ok();
        replies.push(r.get("result"));
    }
    assert!(replies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(outbox(&d).len(), 3);
}

#[test]
fn ten_code_mails_an_hour_per_client_address() {
    let d = TestDaemon::start(&config(None, &[]));
    for n in 0..4 {
        d.create_key(&format!("is_email=c{n}@example.com"));
    }
    for n in 0..4 {
        for _ in 0..3 {
            request_code(&d, &format!("c{n}@example.com"), "PC-1").expect_ok();
        }
    }
    assert_eq!(outbox(&d).len(), 10, "12 asked from one address, 10 mailed");
}

#[test]
fn wrong_codes_for_an_address_void_its_pending_code_after_the_attempt_limit() {
    let config = config(None, &["activationByAuthorizationCodeMaxAttempts = 3"]);
    let (d, key) = with_key(&config, "eve@example.com", 1);
    request_code(&d, "eve@example.com", "PC-1").expect_ok();
    let code = queued_code(&d);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..3 {
        d.call(
            ACTIVATE,
            &format!("is_authcode={wrong}&is_pcid=PC-1&is_email=eve@example.com"),
        )
        .expect_error(203);
    }
    let message = d
        .call(
            ACTIVATE,
            &format!("is_authcode={code}&is_pcid=PC-1&is_email=eve@example.com"),
        )
        .expect_error(200);
    assert!(message.contains("request a new one"), "{message}");
    assert_eq!(
        d.licence_info(&key).get("availableLicenses").as_deref(),
        Some("1"),
        "nothing activated"
    );
}

#[test]
fn wrong_codes_without_an_address_count_as_failed_authentications_of_the_client() {
    let config = config(None, &[]).security("authFailuresPerMinute = 3");
    let (d, key) = with_key(&config, "fay@example.com", 1);
    request_code(&d, "fay@example.com", "PC-1").expect_ok();
    let code = queued_code(&d);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..3 {
        d.call(ACTIVATE, &format!("is_authcode={wrong}&is_pcid=PC-1"))
            .expect_error(203);
    }
    // Blocked now: even the right code is refused before it is looked at.
    d.call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-1"))
        .expect_error(8);
    // A text that cannot be a code counts the same way.
    d.call(ACTIVATE, "is_authcode=hello&is_pcid=PC-1")
        .expect_error(8);
    assert_eq!(
        d.licence_info(&key).get("availableLicenses").as_deref(),
        Some("1"),
        "nothing activated"
    );
}

#[test]
fn an_expired_code_asks_for_a_new_one() {
    // 0.05 minutes: three seconds.
    let config = config(
        None,
        &["activationByAuthorizationCodeExpiryDuration = 0.05"],
    );
    let (d, key) = with_key(&config, "gus@example.com", 1);
    let r = request_code(&d, "gus@example.com", "PC-1");
    assert!(
        r.get("result")
            .is_some_and(|t| t.contains("valid for 0.05 minutes")),
        "{}",
        r.body
    );
    let code = queued_code(&d);
    std::thread::sleep(Duration::from_millis(3500));
    let message = d
        .call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-1"))
        .expect_error(200);
    assert!(message.contains("request a new one"), "{message}");
    assert_eq!(
        d.licence_info(&key).get("availableLicenses").as_deref(),
        Some("1"),
        "nothing activated"
    );
}

#[test]
fn a_report_only_call_leaves_the_code_unused() {
    let (d, _key) = with_key(&config(None, &[]), "hal@example.com", 1);
    request_code(&d, "hal@example.com", "PC-1").expect_ok();
    let code = queued_code(&d);
    let r = d.call(
        ACTIVATE,
        &format!("is_authcode={code}&is_pcid=PC-1&is_activate=false"),
    );
    r.expect_ok();
    assert!(r.get("pckey").is_none());
    d.call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-1"))
        .expect_ok();
}

#[test]
fn a_key_with_no_free_activation_gets_no_code() {
    let (d, key) = with_key(&config(None, &[]), "ivy@example.com", 1);
    d.activate(&key, "PC-OTHER").expect_ok();
    request_code(&d, "ivy@example.com", "PC-1").expect_ok();
    assert!(
        outbox(&d).is_empty(),
        "no licence this computer may activate"
    );
}

#[test]
fn both_methods_are_off_unless_enabled_and_a_refused_request_queues_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    d.create_key("is_email=jo@example.com");
    request_code(&d, "jo@example.com", "PC-1").expect_error(7);
    d.call(ACTIVATE, "is_authcode=123456&is_pcid=PC-1")
        .expect_error(7);
    assert!(outbox(&d).is_empty());
}

#[test]
fn missing_or_malformed_arguments_are_refused_and_nothing_is_queued() {
    let d = TestDaemon::start(&config(None, &[]));
    d.create_key("is_email=kim@example.com");
    let long = "x".repeat(300);
    for (method, query, code) in [
        (REQUEST, "is_pcid=PC-1", 208),
        (REQUEST, "is_email=kim@example.com", 208),
        (REQUEST, "is_email=&is_pcid=PC-1", 208),
        (REQUEST, "is_email=kim@example.com&is_pcid=PC%0A1", 5),
        (REQUEST, &format!("is_email={long}&is_pcid=PC-1"), 5),
        (
            REQUEST,
            "is_email=kim@example.com&is_pcid=PC-1&is_productid=abc",
            5,
        ),
        (ACTIVATE, "is_pcid=PC-1", 208),
        (ACTIVATE, "is_authcode=123456", 208),
        (ACTIVATE, &format!("is_authcode={long}&is_pcid=PC-1"), 5),
        (
            ACTIVATE,
            "is_authcode=123456&is_pcid=PC-1&is_activate=maybe",
            5,
        ),
    ] {
        d.call(method, query).expect_error(code);
    }
    assert!(outbox(&d).is_empty());
}

#[test]
fn a_configured_template_shapes_the_mail_and_an_unknown_placeholder_is_refused() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let config = config(Some(&smtp), &[]).append(
        "[mail.template.AuthorizationCode]\nsubject = \"Code for {productName}\"\n\
         body = \"Hi {customerName}:\\n{authorizationCode}\\n({expiryMinutes} min)\\n\"\n",
    );
    let (d, _key) = with_key(&config, "lu@example.com", 1);
    request_code(&d, "lu@example.com", "PC-1").expect_ok();
    let messages = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(messages.len(), 1, "{}", d.logs());
    assert_eq!(
        crate::util::mail_header(&messages[0], "Subject").as_deref(),
        Some("Code for Demo")
    );
    let body = mail_body(&messages[0]);
    assert!(body.starts_with("Hi lu@example.com:\n"), "{body}");
    assert!(body.contains("(10 min)"), "{body}");
    code_in(&body);

    let bad = TestConfig::demo().append(
        "[mail.template.AuthorizationCode]\nsubject = \"{authorisationCode}\"\nbody = \"x\"\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("licd.toml");
    std::fs::write(&path, bad.to_toml()).expect("write");
    let err = crate::util::cli_fails(crate::util::licd_cmd(
        &["check-config", "--config", path.to_str().expect("utf-8")],
        None,
        dir.path(),
    ));
    assert!(err.contains("authorisationCode"), "{err}");
}

#[test]
fn erasing_a_customer_drops_its_codes_and_the_mail_waiting_for_it() {
    let (d, key) = with_key(&config(None, &[]), "max@example.com", 1);
    request_code(&d, "max@example.com", "PC-1").expect_ok();
    let code = queued_code(&d);
    cli_ok(d.cli(&["mail", "test", "--to", "other@example.com"]));
    assert_eq!(outbox(&d).len(), 2);
    cli_ok(d.cli(&["customers", "delete", "MAX@example.com"]));
    let left = outbox(&d);
    assert_eq!(
        left.len(),
        1,
        "only the other address's mail stays: {left:?}"
    );
    assert_eq!(left[0]["to"], "other@example.com");
    d.call(ACTIVATE, &format!("is_authcode={code}&is_pcid=PC-1"))
        .expect_error(203);
    assert_eq!(
        d.licence_info(&key).get("availableLicenses").as_deref(),
        Some("1")
    );
}
