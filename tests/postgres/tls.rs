//! TLS to PostgreSQL with libpq's URL parameters (docs/scale-out.md, "TLS to PostgreSQL"):
//! `sslmode=verify-full` with `sslrootcert` trusts that file's CA alone and checks the host
//! name, `verify-ca` checks the chain only, and `sslcert`/`sslkey` log in where the server
//! asks for a client certificate. The server is the TLS cluster of the test run
//! (test-support/pg-cluster): TLS only, its certificate signed by the test CA below and
//! naming 127.0.0.1 alone. The files sit next to the configuration file and are named by
//! relative paths, which licd resolves against that file's directory.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use licd_pg_cluster::{CERT_AUTH_GROUP, PgCluster, ServerTls};

use super::on_postgres;
use crate::util::{LICD, TestCa, TestConfig, TestDaemon, licd_cmd};

/// The CA that signed the TLS cluster's certificate and the client certificates.
fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(TestCa::new)
}

/// The TLS cluster, or `None` (the test skips) without PostgreSQL.
fn cluster() -> Option<&'static PgCluster> {
    licd_pg_cluster::tls_cluster(|| {
        let cert = ca().cert_for(1, "127.0.0.1", &[], &[IpAddr::from([127, 0, 0, 1])]);
        ServerTls {
            cert_chain_pem: cert.chain_pem,
            key_pem: cert.key_pem,
            client_ca_pem: ca().cert_pem().to_string(),
        }
    })
}

/// A fresh database and its role on the TLS cluster, and a node directory whose `ca.pem`
/// is the test CA; `None` (the test skips) without PostgreSQL.
fn a_role_and_a_node_trusting_the_test_ca() -> Option<(&'static PgCluster, String, NodeDir)> {
    let pg = cluster()?;
    let role = pg.fresh_role_and_database();
    let node = NodeDir::new();
    node.trust_the_test_ca();
    Some((pg, role, node))
}

/// A node's directory: the configuration and its files go in `etc/`, the working
/// directory is the directory itself (so that a path read from the working directory
/// would not be found).
struct NodeDir {
    dir: tempfile::TempDir,
}

impl NodeDir {
    fn new() -> NodeDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("etc")).expect("etc");
        NodeDir { dir }
    }

    /// Writes `etc/<name>` with `mode`; its path.
    fn file(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join("etc").join(name);
        std::fs::write(&path, contents).expect("write a file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// `etc/ca.pem`: the test CA, the root the nodes trust.
    fn trust_the_test_ca(&self) {
        self.file("ca.pem", ca().cert_pem(), 0o644);
    }

    /// `etc/client.pem` and `etc/client.key` (mode `key_mode`): a client certificate for
    /// `role` signed by the test CA.
    fn client_certificate(&self, role: &str, key_mode: u32) -> PathBuf {
        let cert = ca().cert_for(2, role, &[], &[]);
        self.file("client.pem", &cert.chain_pem, 0o644);
        self.file("client.key", &cert.key_pem, key_mode)
    }

    /// Writes the configuration to `etc/licd.toml`; its path.
    fn config(&self, config: &TestConfig) -> PathBuf {
        self.file("licd.toml", &config.to_toml(), 0o644)
    }

    /// `licd serve` on `config`, stderr piped.
    fn serve(&self, config: &TestConfig) -> Child {
        let path = self.config(config);
        Command::new(LICD)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn licd")
    }

    /// `licd check-config` on `config`: its exit code and stderr.
    fn check_config(&self, config: &TestConfig) -> (i32, String) {
        let path = self.config(config);
        let path = path.to_str().expect("a UTF-8 path");
        let (code, _, err) = licd_cmd(&["check-config", "--config", path], None, self.dir.path());
        (code, err)
    }
}

/// The URL of `role`'s database on `pg` at `host`, with these query parameters.
fn url(pg: &PgCluster, host: &str, role: &str, params: &str) -> String {
    format!("postgres://{role}@{host}:{}/{role}?{params}", pg.port())
}

/// Whether `role` has a session over TLS, as the server itself reports it.
fn has_tls_session(pg: &PgCluster, role: &str) -> bool {
    pg.psql(
        "postgres",
        &format!(
            "SELECT count(*) > 0 FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE usename = '{role}' AND ssl"
        ),
    ) == "t"
}

/// Runs a node that cannot reach its database until it has logged two retries (or 15 s
/// passed); every line it logged. Fails if it ever says it listens.
fn lines_of_a_waiting_node(node: &NodeDir, config: &TestConfig) -> Vec<String> {
    let mut child = node.serve(config);
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let began = Instant::now();
    let mut lines = Vec::new();
    while began.elapsed() < Duration::from_secs(15)
        && lines
            .iter()
            .filter(|l: &&String| l.contains("retrying"))
            .count()
            < 2
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
    }
    let exited = child.try_wait().expect("try_wait");
    let _ = child.kill();
    let _ = child.wait();
    assert!(exited.is_none(), "the node gave up: {exited:?}\n{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.contains("listening on")),
        "listening without a database: {lines:#?}"
    );
    lines
}

/// Asserts that the node retried, each time saying that the server's certificate was
/// refused (for the verdict `why`, when given).
#[track_caller]
fn assert_certificate_refused(lines: &[String], server: &str, why: Option<&str>) {
    let retries: Vec<_> = lines.iter().filter(|l| l.contains("retrying")).collect();
    assert!(retries.len() >= 2, "no two retries: {lines:#?}");
    assert!(
        retries.iter().all(|l| l.contains(server)
            && l.contains("the TLS handshake failed")
            && l.contains("certificate verify failed")
            && why.is_none_or(|why| l.contains(why))),
        "the retry lines do not say the certificate was refused ({why:?}): {lines:#?}"
    );
}

#[test]
fn a_node_with_verify_full_and_the_test_ca_as_sslrootcert_connects_over_tls_and_serves() {
    let Some((pg, role, node)) = a_role_and_a_node_trusting_the_test_ca() else {
        return;
    };
    let url = url(
        pg,
        "127.0.0.1",
        &role,
        "sslmode=verify-full&sslrootcert=ca.pem",
    );
    let d = TestDaemon::start_in(node.dir, &on_postgres(&url));
    let key = d.create_key("is_numberofactivationsperkey=1");
    d.activate(&key, "pc-1").expect_ok();
    d.activate(&key, "pc-2").expect_error(210);
    assert!(
        has_tls_session(pg, &role),
        "the node's sessions are not TLS"
    );
}

#[test]
fn verify_full_refuses_a_certificate_naming_another_host_and_the_node_waits_without_serving() {
    let Some((pg, role, node)) = a_role_and_a_node_trusting_the_test_ca() else {
        return;
    };
    // The certificate names 127.0.0.1; the URL names localhost (at that address).
    let url = url(
        pg,
        "localhost",
        &role,
        "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=ca.pem",
    );
    let lines = lines_of_a_waiting_node(&node, &on_postgres(&url));
    let server = format!("localhost:{}/{role}", pg.port());
    assert_certificate_refused(&lines, &server, Some("hostname mismatch"));
    assert!(!has_tls_session(pg, &role));
}

#[test]
fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let Some((pg, role, node)) = a_role_and_a_node_trusting_the_test_ca() else {
        return;
    };
    let url = url(
        pg,
        "localhost",
        &role,
        "hostaddr=127.0.0.1&sslmode=verify-ca&sslrootcert=ca.pem",
    );
    let d = TestDaemon::start_in(node.dir, &on_postgres(&url));
    let key = d.create_key("");
    d.activate(&key, "pc-1").expect_ok();
    assert!(
        has_tls_session(pg, &role),
        "the node's sessions are not TLS"
    );
}

#[test]
fn a_server_certificate_of_another_ca_than_sslrootcert_is_refused_and_the_node_waits() {
    let Some(pg) = cluster() else {
        return;
    };
    let role = pg.fresh_role_and_database();
    let node = NodeDir::new();
    node.file("other-ca.pem", TestCa::new().cert_pem(), 0o644);
    let url = url(
        pg,
        "127.0.0.1",
        &role,
        "sslmode=verify-ca&sslrootcert=other-ca.pem",
    );
    let lines = lines_of_a_waiting_node(&node, &on_postgres(&url));
    let server = format!("127.0.0.1:{}/{role}", pg.port());
    // OpenSSL's verdict depends on the other CA's name (the same as the real one's here:
    // "certificate signature failure"); that the chain was refused is what counts.
    assert_certificate_refused(&lines, &server, None);
}

#[test]
fn a_role_the_server_asks_for_a_client_certificate_logs_in_with_sslcert_and_sslkey() {
    let Some((pg, role, node)) = a_role_and_a_node_trusting_the_test_ca() else {
        return;
    };
    pg.psql("postgres", &format!("GRANT {CERT_AUTH_GROUP} TO {role}"));
    node.client_certificate(&role, 0o600);
    let url = url(
        pg,
        "127.0.0.1",
        &role,
        "sslmode=verify-full&sslrootcert=ca.pem&sslcert=client.pem&sslkey=client.key",
    );
    let d = TestDaemon::start_in(node.dir, &on_postgres(&url));
    let key = d.create_key("");
    d.activate(&key, "pc-1").expect_ok();
    assert!(has_tls_session(pg, &role));
}

#[test]
fn a_role_the_server_asks_for_a_client_certificate_is_refused_without_one_and_the_start_ends() {
    let Some((pg, role, node)) = a_role_and_a_node_trusting_the_test_ca() else {
        return;
    };
    pg.psql("postgres", &format!("GRANT {CERT_AUTH_GROUP} TO {role}"));
    let url = url(
        pg,
        "127.0.0.1",
        &role,
        "sslmode=verify-full&sslrootcert=ca.pem",
    );
    let mut child = node.serve(&on_postgres(&url));
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if began.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("licd's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{stderr}");
    // The server's own words (pg_hba `cert`).
    assert!(
        stderr.contains("requires a valid client certificate"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn check_config_refuses_a_client_key_others_may_read_naming_the_file() {
    // No server is needed: check-config reads the files, it does not connect.
    let node = NodeDir::new();
    node.trust_the_test_ca();
    let key = node.client_certificate("licd", 0o644);
    let url = "postgres://licd@db.example/licd?sslmode=verify-full&sslrootcert=ca.pem\
               &sslcert=client.pem&sslkey=client.key";
    let (code, err) = node.check_config(&on_postgres(url));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "sslkey: private key file {} has group or world access",
            key.display()
        )) && err.contains("0600"),
        "{err}"
    );
    // Tightened to 0600, the same configuration is valid.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (code, err) = node.check_config(&on_postgres(url));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn check_config_names_a_missing_sslrootcert_file_resolved_next_to_the_configuration() {
    let node = NodeDir::new();
    let url = "postgres://licd:hunter2@db.example/licd?sslmode=verify-full&sslrootcert=ca.pem";
    let (code, err) = node.check_config(&on_postgres(url));
    assert_eq!(code, 1, "{err}");
    let missing: &Path = &node.dir.path().join("etc").join("ca.pem");
    assert!(
        err.contains(&format!("sslrootcert: cannot read {}", missing.display())),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}
