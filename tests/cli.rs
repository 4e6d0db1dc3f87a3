//! The command line (operations.md): check-config, hash-password, the demo-password refusal,
//! usage errors, and the embedded default configuration.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{LICD, TestConfig, TestDaemon, VENDOR, licd_cmd};

/// Writes `toml` as `licd.toml` in `dir` and returns its path as a string.
fn write_config(dir: &Path, toml: &str) -> String {
    let path = dir.join("licd.toml");
    std::fs::write(&path, toml).expect("write config");
    path.to_str().expect("utf-8 path").to_string()
}

/// Runs licd and kills it after `limit` (a serve that should have refused would run forever);
/// returns the exit code (`None` when it had to be killed) and stderr.
fn run_bounded(args: &[&str], cwd: &Path, limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(LICD)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn licd");
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("stderr");
    (code, String::from_utf8_lossy(&out.stderr).to_string())
}

fn hash_password(input: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = licd_cmd(&["hash-password"], Some(input), dir.path());
    assert_eq!(code, 0, "stderr: {err}");
    let hash = out.trim_end_matches('\n');
    assert!(hash.starts_with("$argon2id$"), "{out}");
    assert!(!hash.contains('\n'), "one line: {out:?}");
    hash.to_string()
}

#[test]
fn check_config_accepts_a_valid_file_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &TestConfig::demo().to_toml());
    let (code, _, err) = licd_cmd(&["check-config", "--config", &path], None, dir.path());
    assert_eq!(code, 0, "stderr: {err}");
    let (code, _, err) = licd_cmd(&["check-config"], None, dir.path());
    assert_eq!(code, 0, "embedded default: {err}");
}

#[test]
fn check_config_lists_every_problem_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let toml = TestConfig::demo()
        .server("maxArgs = 0")
        .append("[[vendor]]\nname = \"Store\"\nuser = \"u\"\npassword = \"p\"\nplugin = \"nope\"\n")
        .to_toml();
    let path = write_config(dir.path(), &toml);
    let (code, out, err) = licd_cmd(&["check-config", "--config", &path], None, dir.path());
    assert_eq!(code, 1, "stdout: {out} stderr: {err}");
    let text = format!("{out}{err}");
    assert!(text.contains("maxArgs"), "first problem missing: {text}");
    assert!(text.contains("nope"), "second problem missing: {text}");
}

#[test]
fn check_config_lists_syntax_problems_together_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let toml = TestConfig::demo()
        .server("maxArgs = 0")
        .server("trustedProxies = [\"10.0.0.0/33\"]")
        .options("bogusOption = 1")
        .to_toml();
    let path = write_config(dir.path(), &toml);
    let (code, out, err) = licd_cmd(&["check-config", "--config", &path], None, dir.path());
    assert_eq!(code, 1, "stdout: {out} stderr: {err}");
    let text = format!("{out}{err}");
    for problem in ["maxArgs", "10.0.0.0/33", "bogusOption"] {
        assert!(text.contains(problem), "{problem} not listed: {text}");
    }
}

#[test]
fn check_config_names_an_unknown_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[server]\nlisten = \"127.0.0.1:0\"\n\n[options]\nmaxActivationsPerDay = 5\ncolourScheme = \"blue\"\n";
    let path = write_config(dir.path(), toml);
    let (code, out, err) = licd_cmd(&["check-config", "--config", &path], None, dir.path());
    assert_eq!(code, 1, "stdout: {out} stderr: {err}");
    assert!(err.contains("colourScheme"), "key not named: {err}");
    let names_line_6 = err.split(|c: char| !c.is_ascii_digit()).any(|n| n == "6");
    assert!(names_line_6, "line 6 not named: {err}");
}

#[test]
fn hash_password_output_authenticates_the_password_without_its_trailing_newline() {
    let hash = hash_password("s3cret pw\n");
    assert_ne!(hash_password("s3cret pw\n"), hash, "a fresh salt each time");
    let config = TestConfig::demo().append(&format!(
        "[[vendor]]\nname = \"Store\"\nuser = \"shop\"\npasswordHash = \"{hash}\"\n"
    ));
    let d = TestDaemon::start(&config);
    let product = "is_productid=1&is_majorversion=1&is_minorversion=0";
    d.call(
        "GetActivationKey",
        &format!("{product}&is_vendor=Store&is_user=shop&is_pwd=s3cret%20pw"),
    )
    .expect_ok();
    for wrong in ["s3cret", "s3cret%20pw%20", "S3cret%20pw"] {
        d.call(
            "GetActivationKey",
            &format!("{product}&is_vendor=Store&is_user=shop&is_pwd={wrong}"),
        )
        .expect_error(8);
    }
}

#[test]
fn serve_refuses_the_demo_password_on_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let demo = write_config(dir.path(), &TestConfig::demo().to_toml());
    let hashed_dir = tempfile::tempdir().unwrap();
    let hashed = write_config(
        hashed_dir.path(),
        &TestConfig::demo().to_toml().replace(
            "password = \"demo\"",
            &format!("passwordHash = \"{}\"", hash_password("demo")),
        ),
    );
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    for config in [Some(demo.as_str()), Some(hashed.as_str()), None] {
        let mut args = vec!["serve", "--listen", "0.0.0.0:0", "--data-dir", data];
        if let Some(c) = config {
            args.extend(["--config", c]);
        }
        let (code, err) = run_bounded(&args, dir.path(), Duration::from_secs(10));
        assert_eq!(
            code,
            Some(1),
            "{config:?} must refuse to start; stderr: {err}"
        );
        assert!(!err.contains("listening on"), "{err}");
        let says_what_to_change = err.lines().any(|l| {
            l.contains("demo")
                && (l.contains("passwordHash") || l.contains("loopback") || l.contains("127.0.0.1"))
        });
        assert!(
            says_what_to_change,
            "one line naming the demo vendor and the fix: {err}"
        );
    }
    let d = TestDaemon::start(&TestConfig::demo());
    d.call("PingHttp", "").expect_ok();
}

#[test]
fn help_exits_0_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = licd_cmd(&["--help"], None, dir.path());
    assert_eq!(code, 0);
    for command in ["serve", "check-config", "hash-password"] {
        assert!(out.contains(command), "--help lacks {command}: {out}");
    }
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["serve", "--no-such-flag"][..],
        &["serve", "--listen", "not-an-address"][..],
        &["check-config", "--config"][..],
    ] {
        let (code, _, err) = licd_cmd(args, None, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?}: usage error says why");
    }
}

#[test]
fn embedded_default_serves_the_readme_tour() {
    let d = TestDaemon::start_embedded();
    let created = d.call(
        "GetActivationKey",
        &format!("is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}"),
    );
    created.expect_ok();
    let key = created.get("activationKey").expect("activationKey");
    let activated = d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=PC-7"));
    activated.expect_ok();
    let pckey = activated.get("pckey").expect("pckey");
    let valid = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-7&is_pckey={pckey}"),
    );
    valid.expect_ok();
    assert_eq!(valid.get("pckey"), Some(pckey));
    assert_eq!(valid.get("productName").as_deref(), Some("Demo"));
    assert_eq!(valid.get("availableLicenses").as_deref(), Some("0"));
    let wrong_pw = d.call(
        "GetActivationKey",
        "is_productid=1&is_majorversion=1&is_minorversion=0&is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=nope",
    );
    wrong_pw.expect_error(8);
}
