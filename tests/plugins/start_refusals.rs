//! Plugins that cannot be loaded stop licd at start, with a message naming the plugin, its
//! path and the reason, before the database is opened.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::build::plugins;
use super::plugin_vendor;
use crate::util::{LICD, TestConfig};

/// Runs `licd serve` on `config`, which must fail at start; returns its stderr and whether a
/// database was created.
fn serve_must_fail(config: &TestConfig) -> (String, bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("licd.toml");
    std::fs::write(&path, config.to_toml()).expect("write config");
    let data = dir.path().join("data");
    let mut child = Command::new(LICD)
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn licd");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("licd started although a plugin cannot be loaded");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    (stderr, data.join("licd.redb").exists())
}

fn refuses_to_start(plugin: &str, path: &Path, config: &str, needles: &[&str]) {
    let (stderr, database) = serve_must_fail(
        &TestConfig::demo().append(&plugin_vendor(plugin, path, 1000, config, "V")),
    );
    let mut expected = vec![format!("plugin {plugin}"), path.display().to_string()];
    expected.extend(needles.iter().map(|n| n.to_string()));
    for needle in expected {
        assert!(stderr.contains(&needle), "{needle:?} not in: {stderr}");
    }
    assert!(
        !database,
        "the database was opened before the plugins were checked"
    );
}

#[test]
fn a_plugin_for_another_abi_version_stops_licd_naming_both_versions() {
    refuses_to_start(
        "future",
        &plugins().wrong_abi,
        "",
        &["ABI version 2", "ABI version 1"],
    );
}

#[test]
fn a_library_without_the_entry_symbol_stops_licd() {
    refuses_to_start(
        "v2only",
        &plugins().no_entry,
        "",
        &["does not export licd_plugin_entry_v1"],
    );
}

#[test]
fn a_plugin_whose_create_refuses_its_config_stops_licd_with_its_reason() {
    let config = "mode = \"refuse\"";
    refuses_to_start(
        "picky",
        &plugins().test_plugin,
        config,
        &["refused its configuration", "refused on purpose"],
    );
}

#[test]
fn a_plugin_file_its_group_may_write_stops_licd_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("liblicd_example.so");
    std::fs::copy(&plugins().example_c, &copy).expect("copy the plugin");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o775)).expect("chmod");
    refuses_to_start(
        "shared",
        &copy,
        "token = \"t\"",
        &["writable by its group", "chmod go-w"],
    );
}
