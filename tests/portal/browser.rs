//! The portal in a real browser (headless Chromium through WebDriver, tests/util/browser.rs):
//! a customer releases with an offline deactivation code, downloads a licence file that
//! xmlsec1 verifies, and goes through "My licence" with the link a real SMTP server
//! received; a form stripped of its CSRF token is refused. Each main page is saved as a
//! screenshot under target/screenshots/ (the docs show chosen ones, docs/img/portal-*.png).

use std::time::{Duration, Instant};

use super::{PUBLIC_URL, activated, code_for, mailed_link, portal_config, with_activations};
use crate::util::{Browser, SmtpServer, TestDaemon};

/// Waits up to 10 s for the page's `<h1>` to read `text` (a click's page may still load).
fn wait_for_heading(browser: &Browser, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // One script rather than find-then-read: an element found on the page being left
        // would be stale by the time it is read.
        let heading = browser.execute(
            "var h = document.querySelector('h1'); return h ? h.textContent : null;",
            serde_json::json!([]),
        );
        if heading.as_str() == Some(text) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "the heading is not {text:?} on {}:\n{}",
                browser.current_url(),
                browser.source()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn url(d: &TestDaemon, path: &str) -> String {
    format!("http://{}{path}", d.addr)
}

#[test]
fn a_customer_releases_a_licence_with_an_offline_deactivation_code_in_a_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &["PC-AIR-7"]);
    browser.goto(&url(&d, "/portal/"));
    wait_for_heading(&browser, "Customer portal");
    browser.screenshot("portal-home");

    // QLM's deep link, as an application opens it: key and computer filled in.
    browser.goto(&url(
        &d,
        &format!("/QlmReleaseLicense.aspx?is_avkey={key}&is_pcid=PC-AIR-7"),
    ));
    wait_for_heading(&browser, "Release a licence");
    assert_eq!(
        browser.attribute("#is_avkey", "value").as_deref(),
        Some(key.as_str())
    );
    assert_eq!(
        browser.attribute("#is_pcid", "value").as_deref(),
        Some("PC-AIR-7")
    );
    // Every field has its label.
    for id in ["is_avkey", "is_pcid", "is_deactcode"] {
        assert!(
            browser.exists(&format!("label[for={id}]")),
            "{id} has no label"
        );
    }
    browser.fill("#is_deactcode", &code_for(&key, "PC-AIR-7"));
    browser.screenshot("portal-release");
    browser.click("main button[type=submit]");
    wait_for_heading(&browser, "Licence released");
    assert!(
        browser
            .text("main")
            .contains("is no longer activated on computer PC-AIR-7")
    );
    browser.screenshot("portal-released");
    assert!(!activated(&d, &key, "PC-AIR-7"));
}

#[test]
fn a_form_stripped_of_its_csrf_token_is_refused_in_a_browser_and_changes_nothing() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &["PC-1"]);
    let before = d.license_snapshot(&key);
    browser.goto(&url(&d, "/portal/release"));
    wait_for_heading(&browser, "Release a licence");
    browser.fill("#is_avkey", &key);
    browser.fill("#is_pcid", "PC-1");
    browser.fill("#is_deactcode", &code_for(&key, "PC-1"));
    browser.execute(
        "document.querySelector('input[name=csrf_token]').remove();",
        serde_json::json!([]),
    );
    browser.click("main button[type=submit]");
    wait_for_heading(&browser, "The form was refused");
    assert!(browser.text("main").contains("no security token"));
    assert_eq!(d.license_snapshot(&key), before);
    assert!(activated(&d, &key, "PC-1"));
}

#[test]
fn a_customer_downloads_a_licence_file_that_xmlsec1_verifies() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(None), "ann@example.com", 1, &[]);
    browser.goto(&url(&d, "/portal/offline-activation"));
    wait_for_heading(&browser, "Offline activation");
    browser.fill("#is_avkey", &key);
    browser.fill("#is_pcid", "PC-AIR-7");
    browser.fill("#is_computer_name", "Lab bench 3");
    browser.screenshot("portal-offline-activation");
    browser.click("main button[type=submit]");
    let file = browser.wait_for_download();
    assert_eq!(
        file.file_name().and_then(|n| n.to_str()),
        Some("PC-AIR-7.xml")
    );
    let pem = d.dir().join("licd.pub.pem");
    let (code, _, err) = d.cli(&["signing-key", "export", "--out", pem.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(crate::air_gapped::xmlsec1_verifies(&pem, &file));
    let text = std::fs::read_to_string(&file).expect("the file");
    assert!(text.contains("<computerID>PC-AIR-7</computerID>"), "{text}");
    assert!(activated(&d, &key, "PC-AIR-7"));
}

#[test]
fn a_customer_sees_the_licence_through_the_mailed_link_and_releases_an_activation() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let (d, key) = with_activations(&portal_config(Some(&smtp)), "ann@example.com", 3, &["PC-2"]);
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-1&is_computer_name=Office%20PC"),
    )
    .expect_ok();
    browser.goto(&url(&d, "/portal/my-licence"));
    wait_for_heading(&browser, "My licence");
    browser.fill("#is_avkey", &key);
    browser.fill("#is_email", "ann@example.com");
    browser.screenshot("portal-my-licence");
    browser.click("main button[type=submit]");
    wait_for_heading(&browser, "Check your mail");
    browser.screenshot("portal-check-mail");

    let (_, path) = mailed_link(&smtp, 1, &d);
    assert!(!path.is_empty() && PUBLIC_URL.starts_with("http://"));
    browser.goto(&url(&d, &path));
    wait_for_heading(&browser, "Your licence");
    let main = browser.text("main");
    assert!(main.contains("2 of 3 in use, 1 free"), "{main}");
    assert!(
        main.contains("Office PC") && main.contains("PC-2"),
        "{main}"
    );
    browser.screenshot("portal-licence");
    // Readable on a phone: the table scrolls inside its box, the page does not.
    browser.resize(390, 844);
    let overflow = browser.execute(
        "return document.documentElement.scrollWidth > window.innerWidth;",
        serde_json::json!([]),
    );
    assert_eq!(
        overflow,
        serde_json::json!(false),
        "the page is wider than a phone"
    );
    browser.screenshot("portal-licence-phone");
    browser.resize(1200, 900);
    browser.click(r#"button[aria-label="Release the licence from computer Office PC (PC-1)"]"#);
    wait_for_heading(&browser, "Licence released");
    browser.screenshot("portal-licence-released");
    assert!(!activated(&d, &key, "PC-1"));
    assert!(activated(&d, &key, "PC-2"));
    // The link is used now.
    browser.goto(&url(&d, &path));
    wait_for_heading(&browser, "This link was already used");
}
