//! The admin socket and the commands that use it (operations.md, Command line and Admin
//! socket): keys, release, license-file and signing-key, check and compact, each through a
//! running daemon and on a stopped database. Backups and exports: `backup.rs`.

use std::time::Duration;

use crate::util::{
    TestConfig, TestDaemon, cli_fails as fails, cli_ok as ok, file_mode as mode, licd_cmd, path_str,
};

#[test]
fn admin_socket_is_mode_0600_and_removed_at_a_clean_stop() {
    let mut d = TestDaemon::start(&TestConfig::demo());
    let socket = d.data_dir().join("admin.sock");
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(d.stop(), Some(0));
    assert!(!socket.exists(), "socket left behind after a clean stop");
}

#[test]
fn keys_create_list_show_and_revoke_go_through_the_running_daemon() {
    let d = TestDaemon::start(&TestConfig::demo());
    let out = ok(d.cli(&[
        "keys",
        "create",
        "--product",
        "1",
        "--version",
        "1.0",
        "--seats",
        "3",
        "--order",
        "ORD-1",
    ]));
    let key = out.trim().to_string();
    assert_eq!(key.len(), 30, "one dashed key: {out}");
    // The daemon itself created it: it is served at once.
    let seen = d.license_snapshot(&key);
    assert!(
        seen.contains("<availableLicenses>3</availableLicenses>"),
        "{seen}"
    );
    let two = ok(d.cli(&[
        "keys",
        "create",
        "--product",
        "1",
        "--version",
        "1.0",
        "--count",
        "2",
    ]));
    assert_eq!(two.lines().count(), 2, "{two}");

    let all = ok(d.cli(&["keys", "list"]));
    assert_eq!(all.lines().count(), 4, "header and three keys: {all}");
    assert!(all.contains(&key) && all.contains("ORD-1"), "{all}");
    let by_order = ok(d.cli(&["keys", "list", "--order", "ORD-1", "--json"]));
    assert_eq!(by_order.lines().count(), 1, "{by_order}");
    assert!(
        ok(d.cli(&["keys", "list", "--product", "2"]))
            .lines()
            .count()
            == 1
    );

    d.activate(&key, "pc-1").expect_ok();
    let shown: serde_json::Value =
        serde_json::from_str(&ok(d.cli(&["keys", "show", &key]))).expect("json");
    assert_eq!(shown["licence"]["activations_used"], 1);
    assert_eq!(shown["activations"][0]["computer_id"], "pc-1");

    ok(d.cli(&["keys", "revoke", &key]));
    d.activate(&key, "pc-1").expect_error(201);
    ok(d.cli(&["keys", "revoke", "--restore", &key]));
    d.activate(&key, "pc-1").expect_ok();
    assert!(d.logs().contains("licence revoked"), "{}", d.logs());
}

#[test]
fn keys_commands_work_on_a_stopped_database_and_refuse_to_create_one() {
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    let listed = ok(d.cli(&["keys", "list"]));
    assert!(listed.contains(&key), "{listed}");
    let made = ok(d.cli(&["keys", "create", "--product", "1", "--version", "1.0"]));
    assert_eq!(made.trim().len(), 30, "{made}");

    let empty = tempfile::tempdir().expect("dir");
    let nowhere = empty.path().join("nothing-here");
    for args in [
        &["keys", "list"][..],
        &["backup", "--out", "x.redb"],
        &["export", "--out", "x.jsonl"],
        &["check"],
        &["compact"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--data-dir", path_str(&nowhere)]);
        let err = fails(licd_cmd(&all, None, empty.path()));
        assert!(err.contains("no database"), "{args:?}: {err}");
        assert!(!nowhere.exists(), "{args:?} created the data directory");
    }
}

#[test]
fn release_goes_through_the_socket_while_the_daemon_runs() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=1");
    d.activate(&key, "pc-1").expect_ok();
    let out = ok(d.cli(&["release", "--key", &key, "--computer-id", "pc-1"]));
    assert!(out.contains("released from computer pc-1"), "{out}");
    assert!(d.wait_for_log("activation released"), "{}", d.logs());
    let logs = d.logs();
    assert!(
        !logs.contains(&key) && !logs.contains(&key.replace('-', "")),
        "a full key in the log: {logs}"
    );
    d.activate(&key, "pc-2").expect_ok();
    let err = fails(d.cli(&["release", "--key", &key, "--computer-id", "pc-1"]));
    assert!(err.contains("216") || err.contains("217"), "{err}");
}

#[test]
fn a_stale_socket_left_by_a_crash_does_not_fool_the_cli_and_is_replaced_at_start() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let socket = d.data_dir().join("admin.sock");
    // SIGKILL leaves the socket file; the CLI must see that nobody listens on it.
    let dir = d.data_dir();
    let config = d.config_path().expect("config");
    let d = d.crash_and_restart();
    assert_eq!(mode(&socket), 0o600);
    ok(d.cli(&["keys", "show", &key]));
    // Now kill it again and use the stopped database through the stale socket.
    let mut d = d;
    d.signal(libc::SIGKILL);
    d.wait_exit(Duration::from_secs(10));
    assert!(socket.exists(), "the crash left the socket behind");
    let listed = ok(licd_cmd(
        &[
            "keys",
            "list",
            "--config",
            path_str(&config),
            "--data-dir",
            path_str(&dir),
        ],
        None,
        d.dir(),
    ));
    assert!(listed.contains(&key), "{listed}");
}

#[test]
fn check_passes_through_the_daemon_and_compact_waits_for_a_stopped_one() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "pc-1").expect_ok();
    let out = ok(d.cli(&["check"]));
    assert!(out.contains("ok: 1 licences, 1 activations"), "{out}");
    assert!(out.contains("not verified"), "{out}");
    let err = fails(d.cli(&["compact"]));
    assert!(err.contains("licd is running"), "{err}");
    assert_eq!(d.stop(), Some(0));
    let out = ok(d.cli(&["compact"]));
    assert!(out.contains("Compacted"), "{out}");
    let out = ok(d.cli(&["check"]));
    assert!(out.contains("page checksums verified"), "{out}");
}

#[test]
fn license_file_and_signing_keys_go_through_the_running_daemon() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=1");
    let file = d.dir().join("licence.xml");
    let out = ok(d.cli(&[
        "license-file",
        "--key",
        &key,
        "--computer-id",
        "PC-AIR",
        "--out",
        path_str(&file),
    ]));
    assert!(out.contains("written to"), "{out}");
    let document = std::fs::read_to_string(&file).expect("licence file");
    assert!(document.contains("<Signature"), "{document}");
    // The running daemon made the activation itself: the only seat is taken.
    d.activate(&key, "PC-OTHER").expect_error(210);
    let listed = ok(d.cli(&["signing-key", "list"]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    ok(d.cli(&["signing-key", "rotate"]));
    let listed = ok(d.cli(&["signing-key", "list"]));
    assert_eq!(
        listed.lines().filter(|l| l.ends_with("current")).count(),
        1,
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let pem = d.dir().join("keys.pem");
    ok(d.cli(&["signing-key", "export", "--all", "--out", path_str(&pem)]));
    let text = std::fs::read_to_string(&pem).expect("pem");
    assert_eq!(text.matches("BEGIN PUBLIC KEY").count(), 2, "{text}");
}
