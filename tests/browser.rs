//! The browser harness itself (tests/util/browser.rs): headless Chromium through
//! chromedriver, against the real daemon on loopback.

use crate::util::{Browser, TestConfig, TestDaemon};

#[test]
fn headless_chromium_loads_a_daemon_page_and_takes_a_screenshot() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let d = TestDaemon::start(&TestConfig::demo());
    let url = format!("http://{}/healthz", d.addr);
    browser.goto(&url);
    assert_eq!(browser.current_url(), url);
    assert!(browser.source().contains("ok"), "{}", browser.source());
    assert_eq!(browser.text("body"), "ok");
    let png = browser.screenshot("harness-healthz");
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}
