//! Vendor plugins loaded by the real daemon (spec plugins.md): the FastSpring plugin and the
//! defences around a body-signing plugin (fastspring.rs), the C example, plugins that
//! misbehave at run time (denied, logged, the daemon keeps serving) and at load time (licd
//! refuses to start, naming plugin and path: start_refusals.rs), and what a plugin is shown.

pub mod build;
mod fastspring;
mod start_refusals;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};
use build::plugins;

const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

/// A `[[plugin]]` table and a `[[vendor]]` that uses it.
fn plugin_vendor(plugin: &str, path: &Path, timeout_ms: u64, config: &str, vendor: &str) -> String {
    format!(
        "[[plugin]]\nname = \"{plugin}\"\npath = \"{}\"\ntimeoutMs = {timeout_ms}\n  [plugin.config]\n{config}\n\n[[vendor]]\nname = \"{vendor}\"\nplugin = \"{plugin}\"\n",
        path.display()
    )
}

/// A spy plugin vendor's daemon (the plugin allows, maps `customer` to `is_userdata1` and
/// records what it sees in a temporary file); `extra` is appended to its `[[vendor]]`.
fn spy_daemon(vendor: &str, extra: &str) -> (TestDaemon, tempfile::TempDir) {
    let spy_dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        "mode = \"spy\"\ndumpFile = \"{}\"",
        spy_dir.path().join("seen.jsonl").display()
    );
    let tables = plugin_vendor("spy", &plugins().test_plugin, 2000, &config, vendor) + extra;
    (
        TestDaemon::start(&TestConfig::demo().append(&tables)),
        spy_dir,
    )
}

#[test]
fn a_mapped_argument_the_request_also_carries_is_code_5_naming_it() {
    let (d, _spy) = spy_daemon("Spy", "");
    let path = format!("/qlmservice.asmx/GetActivationKey?is_vendor=Spy&{PRODUCT}");
    d.post_form(&path, "customer=Ada").expect_ok();
    let r = d.post_form(&format!("{path}&is_userdata1=Eve"), "customer=Ada");
    let msg = r.expect_error(5);
    assert!(msg.contains("is_userdata1"), "{msg}");
}

#[test]
fn check_config_warns_about_a_plugin_vendor_without_a_methods_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("licd.toml");
    let write = |vendor_extra: &str| {
        let tables = plugin_vendor("spy", Path::new("/nonexistent/spy.so"), 2000, "", "Store")
            + vendor_extra;
        std::fs::write(&path, TestConfig::demo().append(&tables).to_toml()).expect("write");
        crate::util::licd_cmd(
            &["check-config", "--config", path.to_str().expect("utf-8")],
            None,
            dir.path(),
        )
    };
    let (code, out, err) = write("");
    assert_eq!(code, 0, "a warning, not an error: {out}{err}");
    let warning = err
        .lines()
        .find(|l| l.contains("[[vendor]] \"Store\""))
        .unwrap_or_else(|| panic!("no warning about Store: {err}"));
    assert!(
        warning.starts_with("warning: ") && warning.contains("no `methods` list"),
        "{warning}"
    );
    let (code, out, err) = write("methods = [\"GetActivationKey\"]\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("Store"), "{err}");
}

/// GET with one extra header.
fn get_with_header(d: &TestDaemon, path: &str, header: Option<&str>) -> HttpReply {
    let extra = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    d.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{extra}Connection: close\r\n\r\n",
        d.addr
    ))
}

#[test]
fn c_example_plugin_allows_the_right_token_and_denies_a_wrong_or_missing_one() {
    let p = plugins();
    let d = TestDaemon::start(&TestConfig::demo().append(&plugin_vendor(
        "shop-token",
        &p.example_c,
        1000,
        "token = \"s3cret\"",
        "Shop",
    )));
    let path = format!("/qlmservice.asmx/GetActivationKey?is_vendor=Shop&{PRODUCT}");
    get_with_header(&d, &path, Some("X-Shop-Token: s3cret")).expect_ok();
    get_with_header(&d, &path, Some("X-Shop-Token: guess")).expect_error(8);
    assert!(d.wait_for_log("header is wrong"), "{}", d.logs());
    get_with_header(&d, &path, None).expect_error(8);
    assert!(d.wait_for_log("header is missing"), "{}", d.logs());
}

#[test]
fn a_plugin_built_against_the_first_v1_header_loads_and_its_table_is_read_no_further() {
    let p = plugins();
    let d = TestDaemon::start(&TestConfig::demo().append(&plugin_vendor(
        "shop-token",
        &p.example_c_first_v1,
        1000,
        "token = \"s3cret\"",
        "Shop",
    )));
    let path = format!("/qlmservice.asmx/GetActivationKey?is_vendor=Shop&{PRODUCT}");
    get_with_header(&d, &path, Some("X-Shop-Token: s3cret")).expect_ok();
    get_with_header(&d, &path, Some("X-Shop-Token: guess")).expect_error(8);
    // The slot past its table aborts if called: a webhook for its vendor must be 404.
    let hook = d.raw(&format!(
        "POST /qlmservice.asmx/QlmWebHookHandler?is_vendor=Shop HTTP/1.1\r\nHost: {}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
        d.addr
    ));
    assert_eq!(hook.status, 404, "{}", hook.body);
    get_with_header(&d, &path, Some("X-Shop-Token: s3cret")).expect_ok();
}

#[test]
fn several_plugin_libraries_in_one_daemon_each_run_their_own_code() {
    // Regression: each library was loaded as "/proc/self/fd/N" and its descriptor closed, so
    // the next plugin's file got the same N and the dynamic loader handed back the first
    // library: the second vendor silently ran the first vendor's plugin.
    let p = plugins();
    let tables = plugin_vendor(
        "fastspring",
        &p.fastspring,
        1000,
        "privateKey = \"k\"",
        "Fs",
    ) + &plugin_vendor(
        "shop-token",
        &p.example_c,
        1000,
        "token = \"s3cret\"",
        "Shop",
    ) + &plugin_vendor("panics", &p.test_plugin, 1000, "mode = \"panic\"", "Bad");
    let d = TestDaemon::start(&TestConfig::demo().append(&tables));
    let path = format!("/qlmservice.asmx/GetActivationKey?is_vendor=Shop&{PRODUCT}");
    get_with_header(&d, &path, Some("X-Shop-Token: s3cret")).expect_ok();
    d.call("GetActivationKey", &format!("is_vendor=Bad&{PRODUCT}"))
        .expect_error(8);
    assert!(
        d.wait_for_log("test plugin panics on purpose"),
        "{}",
        d.logs()
    );
    d.call("GetActivationKey", &format!("is_vendor=Fs&{PRODUCT}"))
        .expect_error(8);
    assert!(d.wait_for_log("no security_request_hash"), "{}", d.logs());
    for name in [
        "table_name=fastspring",
        "table_name=example-c",
        "table_name=licd-test-plugin",
    ] {
        assert!(d.logs().contains(name), "{name}: {}", d.logs());
    }
}

/// Starts a daemon whose vendor "Bad" uses `plugin`; a key request of that vendor must be
/// refused with code 8 and a log line naming the plugin and `reason`, while the daemon keeps
/// answering other vendors.
fn denied_and_still_serving(
    plugin: &str,
    path: &Path,
    timeout_ms: u64,
    config: &str,
    reason: &str,
) {
    let d = TestDaemon::start(
        &TestConfig::demo().append(&plugin_vendor(plugin, path, timeout_ms, config, "Bad")),
    );
    let started = Instant::now();
    d.call("GetActivationKey", &format!("is_vendor=Bad&{PRODUCT}"))
        .expect_error(8);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the refusal waited {:?}",
        started.elapsed()
    );
    assert!(d.wait_for_log(reason), "no {reason:?} in:\n{}", d.logs());
    let line = d
        .logs()
        .lines()
        .find(|l| l.contains(reason))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains(&format!("plugin={plugin}")) && line.contains("vendor=Bad"),
        "{line}"
    );
    d.call("GetActivationKey", &format!("{PRODUCT}&{VENDOR}"))
        .expect_ok();
    d.call("PingHttp", "").expect_ok();
    // And the plugin keeps being asked (and refused) rather than taking the daemon down.
    d.call("GetActivationKey", &format!("is_vendor=Bad&{PRODUCT}"))
        .expect_error(8);
}

#[test]
fn a_panicking_plugin_is_denied_logged_and_the_daemon_keeps_serving() {
    denied_and_still_serving(
        "panics",
        &plugins().test_plugin,
        2000,
        "mode = \"panic\"",
        "LICD_E_PANIC: the plugin panicked: test plugin panics on purpose",
    );
}

#[test]
fn a_plugin_past_its_timeout_is_denied_logged_and_the_daemon_keeps_serving() {
    let config = "mode = \"sleep\"\nsleepMs = 4000";
    denied_and_still_serving(
        "slow",
        &plugins().test_plugin,
        300,
        config,
        "did not answer within 300 ms",
    );
}

#[test]
fn a_plugin_writing_invalid_utf8_is_denied_logged_and_the_daemon_keeps_serving() {
    denied_and_still_serving("garbage", &plugins().bad_utf8, 1000, "", "not valid UTF-8");
}

#[test]
fn a_plugin_claiming_a_length_past_the_buffer_is_denied_logged_and_the_daemon_keeps_serving() {
    denied_and_still_serving("overflow", &plugins().overflow, 1000, "", "past the buffer");
}

/// What the spy plugin wrote: one JSON object a line, the configuration first.
fn spy_lines(path: &PathBuf) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("the spy's dump")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn a_plugin_sees_the_request_and_never_the_database_path_or_server_secret() {
    let spy_dir = tempfile::tempdir().expect("temp dir");
    let dump = spy_dir.path().join("seen.jsonl");
    let config = format!("mode = \"spy\"\ndumpFile = \"{}\"", dump.display());
    let mut d = TestDaemon::start(&TestConfig::demo().append(&plugin_vendor(
        "spy",
        &plugins().test_plugin,
        2000,
        &config,
        "Spy",
    )));
    let target = format!("/qlmservice.asmx/GetActivationKey?is_vendor=Spy&{PRODUCT}");
    let body = "customer=Ada+Lovelace&note=hello";
    let r = d.raw(&format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nX-Store-Signature: abc123\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        d.addr,
        body.len()
    ));
    r.expect_ok();
    // map_args turned the store's `customer` into is_userdata1.
    let key = r.get("activationKey").expect("a key");
    let info = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(info.get("userData").as_deref(), Some("Ada Lovelace"));

    let data_dir = d.data_dir();
    assert_eq!(d.stop(), Some(0));
    assert!(d.wait_for_log("vendor plugin destroyed"), "{}", d.logs());
    let store = d.open_store();
    let secret: String = store.secret().iter().map(|b| format!("{b:02x}")).collect();
    store.close().expect("close store");

    let lines = spy_lines(&dump);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let config_keys: Vec<&str> = lines[0]["config"]
        .as_object()
        .expect("config")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(config_keys, ["dumpFile", "mode"], "only [plugin.config]");
    let seen = &lines[1];
    assert_eq!(seen["method"], "GetActivationKey");
    assert_eq!(seen["vendor"], "Spy");
    assert_eq!(seen["client"], "127.0.0.1");
    assert_eq!(seen["url"], target.as_str());
    assert_eq!(seen["body"], body);
    let args = seen["args"].to_string();
    for arg in [
        r#"["is_vendor","Spy"]"#,
        r#"["is_productid","1"]"#,
        r#"["customer","Ada Lovelace"]"#,
        r#"["note","hello"]"#,
    ] {
        assert!(args.contains(arg), "{arg} in {args}");
    }
    assert!(
        seen["headers"]
            .to_string()
            .contains(r#"["x-store-signature","abc123"]"#),
        "{}",
        seen["headers"]
    );
    let everything = std::fs::read_to_string(&dump).expect("dump");
    assert!(
        !everything.contains(&data_dir.display().to_string()),
        "the data directory leaked: {everything}"
    );
    assert!(
        !everything.to_lowercase().contains(&secret),
        "the server secret leaked"
    );
}

#[test]
fn a_vendor_with_a_plugin_and_a_password_needs_both() {
    let spy_dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        "mode = \"spy\"\ndumpFile = \"{}\"",
        spy_dir.path().join("d").display()
    );
    let tables = plugin_vendor("spy", &plugins().test_plugin, 2000, &config, "Both")
        + "user = \"u\"\npassword = \"pw\"\n";
    let d = TestDaemon::start(&TestConfig::demo().append(&tables));
    d.call(
        "GetActivationKey",
        &format!("is_vendor=Both&is_user=u&is_pwd=pw&{PRODUCT}"),
    )
    .expect_ok();
    d.call(
        "GetActivationKey",
        &format!("is_vendor=Both&is_user=u&is_pwd=no&{PRODUCT}"),
    )
    .expect_error(8);
    d.call("GetActivationKey", &format!("is_vendor=Both&{PRODUCT}"))
        .expect_error(8);
}
