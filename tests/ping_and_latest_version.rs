//! PingHttp and GetLatestVersionHttp.

use crate::util::{TestConfig, TestDaemon};

#[test]
fn ping_reports_version_and_iso_server_date() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = d.call("PingHttp", "");
    r.expect_ok();
    let version = env!("CARGO_PKG_VERSION");
    let result = r.get("result").unwrap();
    assert!(
        result.starts_with("Successfully connected to License Server at "),
        "{result}"
    );
    assert!(
        result.ends_with(&format!("UTC. licd Version: {version}")),
        "{result}"
    );
    assert_eq!(r.get("serverVersion").as_deref(), Some(version));
    let date = r.get("serverDate").unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&date).is_ok(),
        "{date}"
    );
    assert!(
        r.body
            .contains(&format!("<serverDate date=\"{date}\"></serverDate>"))
    );
    let j = d.call("PingHttp", "is_format=json").json();
    assert_eq!(j["serverVersion"], version);
    assert!(j["serverDate"].is_string());
}
