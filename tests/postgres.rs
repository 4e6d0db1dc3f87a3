//! licd on PostgreSQL (docs/scale-out.md): the real daemon with `[store] backend =
//! "postgres"` on a fresh database of the test run's private cluster
//! (test-support/pg-cluster), called over HTTP. Skipped, with one line saying how to install
//! PostgreSQL, where its binaries are missing (outside CI).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::util::{LICD, TestConfig, TestDaemon, cli_ok, send_raw};

mod commit_cutter;
mod load;
mod nodes;
mod outage;
mod tls;
mod whole_suite;

use commit_cutter::{CommitCutter, Cut};

/// The demo configuration on the PostgreSQL database at `url`.
pub(crate) fn on_postgres(url: &str) -> TestConfig {
    TestConfig::demo().append(&format!(
        "[store]\nbackend = \"postgres\"\npostgresUrl = \"{url}\"\npoolSize = 8\n"
    ))
}

/// A fresh database of the test cluster, or `None` (the test skips) without PostgreSQL.
pub(crate) fn fresh_database() -> Option<String> {
    Some(licd_pg_cluster::cluster()?.fresh_database())
}

#[test]
fn a_node_on_postgresql_activates_and_validates_and_keeps_only_its_admin_socket_on_disk() {
    let Some(url) = fresh_database() else {
        return;
    };
    let d = TestDaemon::start(&on_postgres(&url));
    let key = d.create_key("is_numberofactivationsperkey=1");
    let first = d.activate(&key, "pc-1");
    first.expect_ok();
    let pckey = first.get("pckey").expect("a computer key");
    let again = d.activate(&key, "pc-1");
    again.expect_ok();
    assert_eq!(
        again.get("pckey"),
        Some(pckey),
        "the same computer keeps its key"
    );
    d.activate(&key, "pc-2").expect_error(210);
    let entries = data_dir_entries(&d);
    assert_eq!(entries, ["admin.sock"]);
}

#[test]
fn admin_commands_with_no_node_running_work_on_the_shared_database_not_a_redb_file() {
    let Some(url) = fresh_database() else {
        return;
    };
    let mut d = TestDaemon::start(&on_postgres(&url));
    let key = d.create_key("is_numberofactivationsperkey=2&is_orderid=NO-NODE-1");
    d.activate(&key, "pc-1").expect_ok();
    assert_eq!(d.stop(), Some(0));
    // No node runs: the commands reach PostgreSQL themselves.
    let listed = cli_ok(d.cli(&["keys", "list"]));
    assert!(listed.contains(&key), "{listed}");
    let shown = cli_ok(d.cli(&["keys", "show", &key]));
    assert!(
        shown.contains("pc-1") && shown.contains("NO-NODE-1"),
        "{shown}"
    );
    cli_ok(d.cli(&["keys", "revoke", &key]));
    let entries = data_dir_entries(&d);
    assert!(
        !entries.iter().any(|e| e.ends_with(".redb")),
        "no redb file was made: {entries:?}"
    );
    // The revocation is in the shared database: a node started afterwards refuses the key.
    let d = TestDaemon::start(&on_postgres(&url));
    d.activate(&key, "pc-2").expect_error(201);
}

#[test]
fn a_second_node_on_the_data_directory_of_a_first_is_refused_naming_it_and_leaves_its_admin_socket()
{
    let Some(url) = fresh_database() else {
        return;
    };
    let first = TestDaemon::start(&on_postgres(&url));
    let config = first.config_path().expect("a configuration file");
    let out = Command::new(LICD)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(first.data_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run a second licd");
    assert_eq!(out.status.code(), Some(1), "the second node must refuse");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "another licd (pid {}) serves this data directory, {}",
            first.pid(),
            first.data_dir().display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    // The first node's admin socket is still there and still its own (a second node that
    // took it over would have removed it on its way out).
    assert_eq!(data_dir_entries(&first), ["admin.sock"]);
    std::os::unix::net::UnixStream::connect(first.data_dir().join("admin.sock"))
        .expect("the first node still answers on its admin socket");
    let key = first.create_key("");
    assert!(cli_ok(first.cli(&["keys", "list"])).contains(&key));
}

/// The names in the daemon's data directory, sorted.
fn data_dir_entries(d: &TestDaemon) -> Vec<String> {
    let mut entries: Vec<String> = std::fs::read_dir(d.data_dir())
        .expect("the data directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    entries.sort();
    entries
}

/// `n` activations of `key` on computers `pc-0`… released at once, spread over `nodes` in
/// turn; the winners with their computer keys. Any answer but an activation or code 210 is
/// a failure.
fn race_for_seats(nodes: &[SocketAddr], key: &str, n: usize) -> Vec<(usize, String)> {
    let start = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let addr = nodes[i % nodes.len()];
            let start = start.clone();
            let request = format!(
                "GET /qlmservice.asmx/ValidateLicenseHttp?is_avkey={key}&is_pcid=pc-{i} \
                 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            );
            std::thread::spawn(move || {
                start.wait();
                send_raw(addr, request.as_bytes())
            })
        })
        .collect();
    let mut won = Vec::new();
    for (i, t) in threads.into_iter().enumerate() {
        let r = t.join().expect("request thread");
        assert_eq!(r.status, 200, "pc-{i}: {}", r.body);
        match r.error_code() {
            None => won.push((i, r.get("pckey").expect("pckey"))),
            Some(210) => {}
            Some(other) => panic!("pc-{i}: code {other}: {}", r.body),
        }
    }
    won
}

#[test]
fn two_nodes_on_one_database_give_exactly_the_seats_of_a_key_and_equal_computer_keys() {
    let Some(url) = fresh_database() else {
        return;
    };
    let config = on_postgres(&url);
    let nodes = [TestDaemon::start(&config), TestDaemon::start(&config)];
    let key = nodes[0].create_key("is_numberofactivationsperkey=5");
    let won = race_for_seats(&[nodes[0].addr, nodes[1].addr], &key, 40);
    assert_eq!(won.len(), 5, "activations that succeeded: {won:?}");
    for (i, pckey) in &won {
        // Each winner, asked on the other node than the one that activated it, gets the
        // same computer key: one server secret for both.
        let other = &nodes[(i + 1) % 2];
        let again = other.activate(&key, &format!("pc-{i}"));
        assert_eq!(again.get("pckey").as_ref(), Some(pckey), "pc-{i}");
    }
    let after = nodes[1].call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(
        after.get("availableLicenses").as_deref(),
        Some("0"),
        "{}",
        after.body
    );
}

#[test]
fn a_node_whose_database_does_not_answer_waits_naming_it_and_does_not_listen() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("licd.toml");
    let url = format!("postgres://licd@127.0.0.1:{port}/licd?sslmode=disable");
    std::fs::write(&config, on_postgres(&url).to_toml()).expect("write config");
    let mut child = Command::new(LICD)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn licd");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let server = format!("127.0.0.1:{port}/licd");
    let began = Instant::now();
    let mut retries = Vec::new();
    while began.elapsed() < Duration::from_secs(8) {
        let Ok(line) = seen.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        assert!(
            !line.contains("listening on"),
            "listening without a database: {line}"
        );
        if line.contains(&server) && line.contains("does not answer") {
            retries.push(began.elapsed());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        retries.len() >= 2,
        "retry lines naming {server}: {retries:?}"
    );
    for gap in retries.windows(2) {
        assert!(gap[1] - gap[0] <= Duration::from_secs(5), "{retries:?}");
    }
    assert!(!dir.path().join("data").join("admin.sock").exists());
}

#[test]
fn maintenance_commands_name_postgresqls_own_tools_and_exit_1() {
    // No database is needed: the refusal comes from the configuration alone.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("licd.toml");
    let toml = on_postgres("postgres://licd@127.0.0.1:1/licd").to_toml();
    std::fs::write(&config, toml).expect("write config");
    let config = config.to_str().expect("a UTF-8 path");
    let out = dir.path().join("backup.out");
    let out = out.to_str().expect("a UTF-8 path");
    for (args, tool) in [
        (vec!["backup", "--config", config, "--out", out], "pg_dump"),
        (
            vec!["restore", "--config", config, "--from", out],
            "pg_restore",
        ),
        (vec!["compact", "--config", config], "VACUUM"),
    ] {
        let (code, _, err) = crate::util::licd_cmd(&args, None, dir.path());
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(tool), "{args:?} does not name {tool}: {err}");
    }
    assert!(
        !std::path::Path::new(out).exists(),
        "no backup file is left"
    );
}

/// The database name at the end of a test URL.
fn database_of(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap_or("");
    path.split('?').next().unwrap_or("").to_string()
}

/// Activations stored for computer `pc`, as PostgreSQL itself counts them.
fn stored_activations(pg: &licd_pg_cluster::PgCluster, db: &str, pc: &str) -> String {
    pg.psql(
        db,
        &format!("SELECT count(*) FROM activations WHERE computer_id = '{pc}'"),
    )
}

/// A node on a fresh database, reaching PostgreSQL through a [`CommitCutter`], its
/// configuration adjusted by `adjust`; and the database's name.
fn behind_a_proxy(
    pg: &licd_pg_cluster::PgCluster,
    adjust: impl FnOnce(TestConfig) -> TestConfig,
) -> (CommitCutter, TestDaemon, String) {
    let url = pg.fresh_database();
    let proxy = CommitCutter::start(pg.port());
    let via_proxy = url.replace(&format!(":{}/", pg.port()), &format!(":{}/", proxy.port()));
    let d = TestDaemon::start(&adjust(on_postgres(&via_proxy)));
    (proxy, d, database_of(&url))
}

#[test]
fn a_lost_commit_answer_is_answered_with_what_the_database_holds() {
    let Some(pg) = licd_pg_cluster::cluster() else {
        return;
    };
    let (proxy, d, db) = behind_a_proxy(pg, |c| c);
    let key = d.create_key("is_numberofactivationsperkey=5");

    // The server commits; the answer is lost. The node looks the change up and reports it.
    proxy.arm(Cut::AfterForwarding);
    let applied = d.activate(&key, "pc-committed");
    assert_eq!(proxy.cuts(), 1, "the COMMIT was not cut");
    applied.expect_ok();
    assert!(applied.get("pckey").is_some(), "{}", applied.body);
    assert_eq!(stored_activations(pg, &db, "pc-committed"), "1");

    // The server never sees the COMMIT and rolls back: the node says nothing was changed.
    proxy.arm(Cut::BeforeForwarding);
    let lost = d.activate(&key, "pc-rolled-back");
    assert_eq!(proxy.cuts(), 2, "the COMMIT was not cut");
    let said = lost.expect_error(3000);
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(stored_activations(pg, &db, "pc-rolled-back"), "0");

    // Repeating the same request is safe, and the node serves on.
    d.activate(&key, "pc-committed").expect_ok();
    d.activate(&key, "pc-rolled-back").expect_ok();
    let info = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(
        info.get("availableLicenses").as_deref(),
        Some("3"),
        "{}",
        info.body
    );
}

#[test]
fn a_lost_commit_answer_with_the_database_out_of_reach_is_code_3000_and_a_repeat_is_safe() {
    let Some(pg) = licd_pg_cluster::cluster() else {
        return;
    };
    let (proxy, d, db) = behind_a_proxy(pg, |c| c.server("requestTimeoutMs = 3000"));
    let key = d.create_key("is_numberofactivationsperkey=5");
    proxy.arm(Cut::AfterForwarding);
    proxy.refuse_after_the_cut();
    let began = Instant::now();
    let unknown = d.activate(&key, "pc-unknown");
    let took = began.elapsed();
    proxy.stop_refusing();
    assert_eq!(proxy.cuts(), 1, "the COMMIT was not cut");
    unknown.expect_error(3000);
    // The bound for an answer during an outage: requestTimeoutMs + 5 s.
    assert!(took <= Duration::from_secs(8), "answered after {took:?}");
    assert_eq!(stored_activations(pg, &db, "pc-unknown"), "1");
    // The same request again changes nothing more and reports the activation.
    let again = d.activate(&key, "pc-unknown");
    again.expect_ok();
    assert_eq!(stored_activations(pg, &db, "pc-unknown"), "1");
    assert_eq!(
        pg.psql(&db, "SELECT value->>'activations_used' FROM licenses"),
        "1"
    );
}
