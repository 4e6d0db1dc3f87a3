//! The console in a real browser (headless Chromium through WebDriver,
//! tests/util/browser.rs): a support user logs in, finds a licence by computer name and
//! releases a seat; a session ends while the page is open; a form stripped of its CSRF
//! token and a viewer's forged form are refused; the dashboard draws its charts. Each test
//! saves screenshots under target/screenshots/ (docs/img/console-*.png are chosen ones).

use std::time::{Duration, Instant};

use serde_json::json;

use super::client::console_addr;
use super::{ANN, SAM, VIC, history, staff_config};
use crate::util::{Browser, TestDaemon, VENDOR};

/// Waits up to 5 s for the page to hold `needle`: a click that submits a form returns
/// before the next page has loaded. The page's source then.
#[track_caller]
fn wait_for(browser: &Browser, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let source = browser.source();
        if source.contains(needle) {
            return source;
        }
        if Instant::now() > deadline {
            panic!("no {needle:?} on {}:\n{source}", browser.current_url());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Logs `user` in through the page's form.
fn log_in(browser: &Browser, base: &str, user: (&str, &str, &str)) {
    browser.goto(&format!("{base}/login"));
    browser.fill("#user", user.0);
    browser.fill("#password", user.1);
    browser.click("button[type=submit]");
    wait_for(browser, &format!("{} ({})", user.0, user.2));
    assert_eq!(browser.current_url(), format!("{base}/"));
}

#[test]
fn a_support_user_finds_a_licence_by_computer_name_in_a_browser_and_releases_its_seat() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let d = TestDaemon::start(&staff_config(""));
    let key = d.create_key(
        "is_numberofactivationsperkey=3&is_orderid=ORD-2211&is_email=lena%40example.com",
    );
    for (pc, name) in [("PC-17", "Reception"), ("PC-LAB-3", "Lab bench 3")] {
        d.call(
            "ValidateLicenseHttp",
            &format!(
                "is_avkey={key}&is_pcid={pc}&is_computer_name={}",
                name.replace(' ', "%20")
            ),
        )
        .expect_ok();
    }
    let base = format!("http://{}", console_addr(&d));
    browser.goto(&format!("{base}/login"));
    browser.screenshot("console-login");
    log_in(&browser, &base, SAM);
    browser.screenshot("console-home");
    browser.fill("#q", "lab bench");
    browser.click("button[aria-label='Search licences']");
    wait_for(&browser, "1 licence found");
    browser.screenshot("console-search");
    browser.click(&format!("a[href='/licence/{key}']"));
    wait_for(&browser, "<h2 id=\"activations\">");
    browser.screenshot("console-licence");
    browser.click("button[aria-label='Release the seat of Lab bench 3']");
    let source = wait_for(&browser, "The seat was released.");
    assert!(
        !source.contains("PC-LAB-3</td>"),
        "the seat is gone from the table"
    );
    assert_eq!(
        d.licence_info(&key).get("availableLicenses").as_deref(),
        Some("2")
    );
    let released = history(&d, &key)
        .into_iter()
        .find(|h| h["event"] == "released")
        .expect("a released line");
    assert_eq!(released["vendor"], "console user sam");
    assert_eq!(released["client"], "127.0.0.1");
}

#[test]
fn a_session_ends_in_the_browser_and_the_next_click_asks_to_log_in_again() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let d = TestDaemon::start(&staff_config("sessionIdleMinutes = 0.05"));
    let base = format!("http://{}", console_addr(&d));
    log_in(&browser, &base, VIC);
    let cookies = browser.cookies();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "licd_console")
        .expect("a session cookie");
    assert_eq!(session["httpOnly"], json!(true));
    assert_eq!(session["sameSite"], json!("Strict"));
    std::thread::sleep(Duration::from_millis(3500));
    browser.click("a[href='/dashboard']");
    wait_for(&browser, "Your session has ended");
    assert!(
        browser.current_url().ends_with("/login?ended=1"),
        "{}",
        browser.current_url()
    );
    browser.screenshot("console-session-ended");
}

#[test]
fn a_form_without_its_token_and_a_viewers_forged_form_are_refused_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let d = TestDaemon::start(&staff_config(""));
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "PC-1").expect_ok();
    let before = d.license_snapshot(&key);
    let base = format!("http://{}", console_addr(&d));
    log_in(&browser, &base, ANN);
    browser.goto(&format!("{base}/licence/{key}"));
    // What a hand-made request would send: the revoke form without its token.
    browser.execute(
        "document.querySelector(\"form[action$='/revoke'] input[name=csrf_token]\").remove();",
        json!([]),
    );
    browser.click(&format!("button[aria-label='Revoke licence {key}']"));
    let source = wait_for(&browser, "no security token");
    assert!(source.contains("Nothing was changed"));
    browser.screenshot("console-csrf-refused");
    assert_eq!(d.license_snapshot(&key), before);

    browser.click("button[aria-label='Log out ann']");
    wait_for(&browser, "You are logged out.");
    log_in(&browser, &base, VIC);
    browser.goto(&format!("{base}/licence/{key}"));
    assert!(
        !browser.exists("button[aria-label^='Release']"),
        "a viewer is offered no release"
    );
    // A form the viewer was never shown, built in the page, with a token it does hold.
    browser.execute(
        "const f = document.createElement('form');
         f.method = 'post'; f.action = arguments[0];
         const t = document.querySelector(\"form[action='/logout'] input[name=csrf_token]\").cloneNode();
         f.appendChild(t);
         const b = document.createElement('button'); b.id = 'forged'; b.textContent = 'Revoke';
         f.appendChild(b); document.querySelector('main').appendChild(f);",
        json!([format!("/licence/{key}/revoke")]),
    );
    browser.click("#forged");
    wait_for(&browser, "viewer role");
    assert_eq!(d.license_snapshot(&key), before);
    assert!(history(&d, &key).is_empty());
}

#[test]
fn the_dashboard_draws_its_charts_with_text_alternatives_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let d = TestDaemon::start(&staff_config(""));
    for i in 0..6 {
        let key = d.create_key(&format!("is_numberofactivationsperkey={}", i % 3 + 1));
        d.activate(&key, "PC-1").expect_ok();
        if i % 2 == 0 {
            d.call(
                "ReleaseLicenseHttp",
                &format!("is_avkey={key}&is_pcid=PC-1&{VENDOR}"),
            )
            .expect_ok();
        }
    }
    let soon = d.create_key("is_licensemodel=subscription&is_expdate=2099-01-01");
    assert!(!soon.is_empty());
    d.call(
        "GetActivationKey",
        &format!(
            "is_productid=2&is_majorversion=1&is_minorversion=0&is_numberofactivationsperkey=5&{VENDOR}"
        ),
    )
    .expect_ok();
    let base = format!("http://{}", console_addr(&d));
    log_in(&browser, &base, VIC);
    browser.goto(&format!("{base}/dashboard"));
    let source = wait_for(&browser, "<h1>Dashboard</h1>");
    for id in [
        "activations-chart",
        "releases-chart",
        "products-chart",
        "seats-chart",
    ] {
        let css = format!("svg[aria-labelledby='{id}-title {id}-desc']");
        assert!(browser.exists(&css), "{id}: {source}");
    }
    assert!(
        source.contains("seats in use ("),
        "the chart's description: {source}"
    );
    assert!(
        source.contains("<summary>The numbers per day</summary>"),
        "its numbers: {source}"
    );
    assert!(source.contains("Demo 1.0, permanent") && source.contains("Other 1.0, permanent"));
    browser.screenshot("console-dashboard");
}
