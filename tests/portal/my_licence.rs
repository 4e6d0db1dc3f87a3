//! "My licence" over HTTP: the same answer in the same time for any key and e-mail, the
//! link mailed through a real SMTP server to the licence's customer, a link that a GET never
//! uses and a release button uses once, a refused release that leaves it usable, and
//! expired and forged links. Every refusal is checked to change nothing.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::{
    Visitor, activated, attribute_after, csrf_token, mailed_link, portal_config, with_activations,
};
use crate::util::{SmtpServer, decoded_mail_body, mail_header};

/// The "my licence" answer with the echoed key and e-mail and the tokens taken out.
fn neutral(body: &str, key: &str, email: &str) -> String {
    let mut out = body.replace(key, "KEY").replace(email, "EMAIL");
    while let Some(at) = out.find(r#"value=""#) {
        let end = at + 7 + out[at + 7..].find('"').expect("a quote");
        out.replace_range(at..=end, "VALUE");
    }
    out
}

#[test]
fn my_licence_answers_the_same_page_in_the_same_time_whether_or_not_key_and_email_match() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(Some(&smtp)), "Ann@Example.com", 1, &["PC-1"]);
    let other_key = d.create_key("is_email=bob@example.com");
    let unknown = "A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1PG";
    let v = Visitor::new(&d);
    let ask = |key: &str, email: &str| {
        let page = v.get("/portal/my-licence");
        let token = csrf_token(&page.body);
        let started = Instant::now();
        let r = v.post(
            "/portal/my-licence",
            &[
                ("is_avkey", key),
                ("is_email", email),
                ("csrf_token", &token),
            ],
        );
        (r, started.elapsed())
    };
    let cases = [
        (key.as_str(), "ann@example.com"),
        (key.as_str(), "bob@example.com"),
        (other_key.as_str(), "ann@example.com"),
        (unknown, "ann@example.com"),
        ("not a key", "nobody@example.com"),
    ];
    let mut answers = Vec::new();
    for (k, e) in cases {
        let (r, took) = ask(k, e);
        assert_eq!(r.status, 200, "{k} {e}: {}", r.body);
        assert!(r.body.contains("Check your mail"));
        answers.push((neutral(&r.body, k, e), took));
    }
    let (first, first_took) = &answers[0];
    for (i, (page, took)) in answers.iter().enumerate() {
        assert_eq!(page, first, "answer {i} differs");
        assert!(
            *took >= Duration::from_millis(400),
            "answer {i} took {took:?}"
        );
        let gap = if took > first_took {
            *took - *first_took
        } else {
            *first_took - *took
        };
        assert!(
            gap < Duration::from_millis(250),
            "answer {i} took {took:?}, the first {first_took:?}"
        );
    }
    // One mail, for the one match, to the address as the customer record holds it.
    let messages = smtp.wait_for(1, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(smtp.messages().len(), 1, "{messages:?}");
    assert_eq!(
        mail_header(&messages[0], "X-Envelope-To").as_deref(),
        Some("Ann@Example.com")
    );
    // No log line names the key or the e-mail.
    assert!(!d.logs().contains("ann@example.com") && !d.logs().contains("bob@example.com"));
}

#[test]
fn a_matching_key_and_email_mail_a_link_built_from_public_url_to_the_licences_customer() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(Some(&smtp)), "Ann@Example.com", 1, &[]);
    let v = Visitor::new(&d);
    let r = v.submit(
        "/portal/my-licence",
        "/portal/my-licence",
        &[
            ("is_avkey", &key.to_lowercase().replace('-', "")),
            ("is_email", " ANN@example.com "),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (mail, path) = mailed_link(&smtp, 1, &d);
    assert_eq!(
        mail_header(&mail, "Subject").as_deref(),
        Some("Your licence for Demo")
    );
    let body = decoded_mail_body(&mail);
    assert!(body.contains(&key), "the key, dashed:\n{body}");
    assert!(body.contains("15 minutes"), "{body}");
    assert!(path.starts_with("/portal/licence?t="), "{path}");
    // The link opens the licence's page.
    let page = Visitor::new(&d).get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Your licence"));
}

#[test]
fn opening_a_link_never_uses_it_and_a_release_button_uses_it_once() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let (d, key) = with_activations(
        &portal_config(Some(&smtp)),
        "ann@example.com",
        3,
        &["PC-1", "PC-2"],
    );
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-3&is_computer_name=Lab%20bench"),
    )
    .expect_ok();
    let v = Visitor::new(&d);
    v.submit(
        "/portal/my-licence",
        "/portal/my-licence",
        &[("is_avkey", &key), ("is_email", "ann@example.com")],
    );
    let (_, path) = mailed_link(&smtp, 1, &d);
    // A mail scanner's fetch, then the customer's: neither uses the link.
    let scanner = Visitor::new(&d).get(&path);
    assert_eq!(scanner.status, 200, "{}", scanner.body);
    let before = d.license_snapshot(&key);
    let page = v.get(&path);
    assert_eq!(page.status, 200);
    assert_eq!(d.license_snapshot(&key), before);
    for shown in [
        "Demo 1.0",
        key.as_str(),
        "3 of 3 in use, 0 free",
        "PC-1",
        "PC-2",
        "Lab bench",
        "No maintenance plan",
        "Never",
    ] {
        assert!(
            page.body.contains(shown),
            "{shown} not shown:\n{}",
            page.body
        );
    }
    assert!(
        page.body
            .contains(r#"aria-label="Release the licence from computer Lab bench (PC-3)""#),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches(">Release</button>").count(), 3);
    let token = csrf_token(&page.body);
    let link = attribute_after(&page.body, r#"name="t" value=""#);
    let confirm = |pc: &str| {
        v.post(
            "/portal/licence/release",
            &[("csrf_token", &token), ("t", &link), ("is_pcid", pc)],
        )
    };
    let r = confirm("PC-2");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("This link is now used"), "{}", r.body);
    assert!(!activated(&d, &key, "PC-2"));
    // Used: a second press, for any computer, changes nothing; the page says so.
    let before = d.license_snapshot(&key);
    for pc in ["PC-2", "PC-1"] {
        let again = confirm(pc);
        assert_eq!(again.status, 403, "{}", again.body);
        assert!(
            again.body.contains("This link was already used"),
            "{}",
            again.body
        );
    }
    let reopened = v.get(&path);
    assert_eq!(reopened.status, 403);
    assert!(reopened.body.contains("already used"));
    assert_eq!(d.license_snapshot(&key), before);
    assert!(activated(&d, &key, "PC-1"));
}

#[test]
fn a_refused_release_leaves_the_link_usable() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(Some(&smtp)), "ann@example.com", 2, &["PC-1"]);
    let v = Visitor::new(&d);
    v.submit(
        "/portal/my-licence",
        "/portal/my-licence",
        &[("is_avkey", &key), ("is_email", "ann@example.com")],
    );
    let (_, path) = mailed_link(&smtp, 1, &d);
    let page = v.get(&path);
    let token = csrf_token(&page.body);
    let link = attribute_after(&page.body, r#"name="t" value=""#);
    let before = d.license_snapshot(&key);
    let r = v.post(
        "/portal/licence/release",
        &[("csrf_token", &token), ("t", &link), ("is_pcid", "PC-9")],
    );
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("Code 217") && r.body.contains("Your link was not used"),
        "{}",
        r.body
    );
    assert_eq!(d.license_snapshot(&key), before);
    let r = v.post(
        "/portal/licence/release",
        &[("csrf_token", &token), ("t", &link), ("is_pcid", "PC-1")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn an_expired_or_forged_link_opens_nothing_and_releases_nothing() {
    let (mut d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &["PC-1"]);
    // A genuine link issued 16 minutes ago, with the server's own secret.
    d.stop();
    let store = d.open_store();
    let canonical = licd::license::keys::ActivationKey::parse(&key).expect("a key");
    let ago = Utc::now().timestamp() - 16 * 60;
    let expired = licd::portal::links::issue(store.secret(), &canonical, "ann@example.com", ago)
        .expect("a link");
    let fresh = licd::portal::links::issue(
        store.secret(),
        &canonical,
        "ann@example.com",
        Utc::now().timestamp(),
    )
    .expect("a link");
    let for_bob = licd::portal::links::issue(
        store.secret(),
        &canonical,
        "bob@example.com",
        Utc::now().timestamp(),
    )
    .expect("a link");
    store.close().expect("close");
    let d = d.restart_stopped();
    let before = d.license_snapshot(&key);
    let v = Visitor::new(&d);
    let r = v.get(&format!("/portal/licence?t={expired}"));
    assert_eq!(r.status, 403);
    assert!(r.body.contains("This link has expired"), "{}", r.body);
    // A forged expiry, another customer's e-mail, a cut link: not valid.
    let parts: Vec<&str> = fresh.split('.').collect();
    let later: i64 = parts[1].parse::<i64>().expect("an expiry") + 3600;
    let stretched = format!("{}.{later}.{}.{}", parts[0], parts[2], parts[3]);
    let cut = &fresh[..fresh.len() - 3];
    for bad in [stretched.as_str(), for_bob.as_str(), cut, ""] {
        let r = v.get(&format!("/portal/licence?t={bad}"));
        assert_eq!(r.status, 403, "{bad}");
        assert!(
            r.body.contains("This link is not valid"),
            "{bad}: {}",
            r.body
        );
    }
    // A release with the expired link, with a valid CSRF token, changes nothing.
    let page = v.get(&format!("/portal/licence?t={fresh}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf_token(&page.body);
    let r = v.post(
        "/portal/licence/release",
        &[("csrf_token", &token), ("t", &expired), ("is_pcid", "PC-1")],
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("expired"));
    assert_eq!(d.license_snapshot(&key), before);
}
