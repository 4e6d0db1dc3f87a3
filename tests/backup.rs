//! Backup and restore, export and import (operations.md, Command line): consistent snapshots
//! taken while the daemon writes, restores that refuse to destroy data, lossless round trips.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::util::{
    TestConfig, TestDaemon, VENDOR, cli_fails as fails, cli_ok as ok, file_mode as mode, licd_cmd,
    path_str,
};

#[test]
fn backup_under_concurrent_writes_restores_every_license_acknowledged_before_it_began() {
    if crate::util::redb_only_test() {
        return;
    }
    let d = TestDaemon::start(&TestConfig::demo());
    let addr = d.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = crate::util::send_raw(
                        addr,
                        format!(
                            "GET /qlmservice.asmx/GetActivationKey?is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}&is_orderid=W{w}-{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    if let Some(key) = r.get("activationKey") {
                        acknowledged.lock().expect("lock").push(key);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    // Wait for writes by count, not by time: a loaded CI machine may take seconds for ten.
    let count = || acknowledged.lock().expect("lock").len();
    let waited = std::time::Instant::now();
    while count() < 10 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before: Vec<String> = acknowledged.lock().expect("lock").clone();
    let backup = d.dir().join("snapshot.redb");
    let out = ok(d.cli(&["backup", "--out", path_str(&backup)]));
    let waited = std::time::Instant::now();
    while count() <= before.len() + 3 && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    assert!(out.contains("from the running daemon"), "{out}");
    assert!(
        before.len() >= 10,
        "too few writes before the backup: {}",
        before.len()
    );
    let after = acknowledged.lock().expect("lock").len();
    assert!(after > before.len(), "writes went on during the backup");
    assert_eq!(mode(&backup), 0o600, "a backup holds the server secret");

    let restored = tempfile::tempdir().expect("dir");
    let data = restored.path().join("data");
    let config = d.config_path().expect("config");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", path_str(&config), "--data-dir", path_str(&data)]);
        licd_cmd(&all, None, restored.path())
    };
    ok(run(&["restore", "--from", path_str(&backup)]));
    let checked = ok(run(&["check"]));
    assert!(checked.contains("page checksums verified"), "{checked}");
    let listed = ok(run(&["keys", "list"]));
    for key in &before {
        assert!(
            listed.contains(key.as_str()),
            "{key} acknowledged before the backup is missing"
        );
    }
}

#[test]
fn restore_refuses_a_running_daemon_and_a_database_with_licenses_unless_forced() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut d = TestDaemon::start(&TestConfig::demo());
    let kept = d.create_key("");
    let backup = d.dir().join("b.redb");
    ok(d.cli(&["backup", "--out", path_str(&backup)]));
    let err = fails(d.cli(&["restore", "--from", path_str(&backup)]));
    assert!(
        err.contains("licd is running") && err.contains("pid"),
        "{err}"
    );
    let later = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    // Offline backup of the stopped database works too.
    let offline = d.dir().join("offline.redb");
    let out = ok(d.cli(&["backup", "--out", path_str(&offline)]));
    assert!(out.contains("from the stopped database"), "{out}");
    let err = fails(d.cli(&["restore", "--from", path_str(&backup)]));
    assert!(err.contains("--force"), "{err}");
    ok(d.cli(&["restore", "--from", path_str(&backup), "--force"]));
    let listed = ok(d.cli(&["keys", "list"]));
    assert!(
        listed.contains(&kept) && !listed.contains(&later),
        "{listed}"
    );
    let not_a_backup = d.dir().join("licd.toml");
    let err = fails(d.cli(&["restore", "--from", path_str(&not_a_backup), "--force"]));
    assert!(err.contains("not a licd database"), "{err}");
    assert!(
        ok(d.cli(&["keys", "list"])).contains(&kept),
        "a bad file replaced nothing"
    );
}

#[test]
fn export_then_import_is_lossless() {
    if crate::util::redb_only_test() {
        return;
    }
    let d = TestDaemon::start(&TestConfig::demo());
    let three = d.create_key("is_numberofactivationsperkey=3&is_orderid=ORD-7");
    let sub = d.create_key("is_subscriptionid=SUB-1&is_expduration=30");
    let pc1 = d.activate(&three, "pc-1").get("pckey").expect("pckey");
    d.activate(&three, "pc-2").expect_ok();
    d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={three}&is_pcid=pc-2&{VENDOR}"),
    )
    .expect_ok();
    ok(d.cli(&["keys", "revoke", &sub]));
    let snapshots = [d.license_snapshot(&three)];

    let first = d.dir().join("first.jsonl");
    ok(d.cli(&["export", "--out", path_str(&first)]));
    assert_eq!(mode(&first), 0o600, "an export with secrets is private");

    let target = tempfile::tempdir().expect("dir");
    let data = target.path().join("data");
    let config = d.config_path().expect("config");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", path_str(&config), "--data-dir", path_str(&data)]);
        licd_cmd(&all, None, target.path())
    };
    let imported = ok(run(&["import", "--from", path_str(&first)]));
    assert!(imported.contains("into the stopped database"), "{imported}");
    let second = target.path().join("second.jsonl");
    ok(run(&["export", "--out", path_str(&second)]));
    assert_eq!(
        std::fs::read_to_string(&first).expect("first"),
        std::fs::read_to_string(&second).expect("second"),
        "export → import → export changed something"
    );
    ok(run(&["check"]));
    let err = fails(run(&["import", "--from", path_str(&first)]));
    assert!(err.contains("already holds data"), "{err}");

    // The imported database serves the same licences with the same computer keys.
    let mut d = d;
    assert_eq!(d.stop(), Some(0));
    std::fs::remove_dir_all(d.data_dir()).expect("remove");
    std::fs::rename(&data, d.data_dir()).expect("move");
    let d = d.restart_stopped();
    assert_eq!(d.license_snapshot(&three), snapshots[0]);
    assert_eq!(d.activate(&three, "pc-1").get("pckey"), Some(pc1));
    d.activate(&sub, "pc-9").expect_error(201);
}

#[test]
fn export_without_secrets_leaves_out_the_server_secret_and_the_running_daemon_imports_it() {
    if crate::util::redb_only_test() {
        return;
    }
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let plain = d.dir().join("plain.jsonl");
    ok(d.cli(&["export", "--no-secrets", "--out", path_str(&plain)]));
    let text = std::fs::read_to_string(&plain).expect("read");
    assert!(!text.contains("server_secret"), "{text}");
    assert!(text.contains(&key.replace('-', "")), "{text}");
    assert_ne!(mode(&plain), 0o600);
    let full = d.dir().join("full.jsonl");
    ok(d.cli(&["export", "--out", path_str(&full)]));

    // Another daemon with an empty database takes the file without secrets through its
    // socket, and refuses one carrying another server secret.
    let other = TestDaemon::start(&TestConfig::demo());
    let err = fails(other.cli(&["import", "--from", path_str(&full)]));
    assert!(err.contains("stop licd"), "{err}");
    let (code, out, err) = other.cli(&["import", "--from", path_str(&plain)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("into the running daemon"), "{out}");
    assert!(err.contains("computer keys differ"), "{err}");
    other.activate(&key, "pc-1").expect_ok();
}
