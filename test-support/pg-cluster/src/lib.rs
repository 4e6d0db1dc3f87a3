//! A private PostgreSQL cluster for one test run, and a fresh database for each test.
//!
//! The PostgreSQL tests of licd (the store suite in the daemon's unit tests, the black-box
//! tests of `tests/`) run against a real server, never a mock. This crate starts one
//! cluster per test binary, lazily, on first use: `initdb` and `pg_ctl` from Debian's
//! `postgresql` package (in `/usr/lib/postgresql/<version>/bin`, not on `PATH`), on a
//! temporary directory and a free port, trust authentication, listening on 127.0.0.1 only.
//! Each test gets a database of its own, owned by a role of its own that is no superuser
//! (licd needs nothing more). The cluster is stopped (`pg_ctl stop -m immediate`) and its
//! directory removed when the test binary exits.
//!
//! PostgreSQL refuses to run as root, which CI is: as root the binaries run through
//! `runuser -u licd-pg-test`, a system user that `.ci/run` creates, and the directory is
//! given to that user.
//!
//! A test that stops the server (an outage) takes a cluster of its own instead,
//! [`private_cluster`], which it may [`PgCluster::stop_fast`] and [`PgCluster::start`] again
//! on the same port, and which is stopped and removed when dropped.
//!
//! Tests of TLS to PostgreSQL share a second cluster, [`tls_cluster`], that serves TLS only
//! (`ssl = on`, a certificate the caller's test CA signed, `hostssl` lines alone for the
//! test roles) and asks members of [`CERT_AUTH_GROUP`] for a client certificate (`cert`
//! authentication: the certificate's common name is the role).
//!
//! Without the binaries, [`cluster`] prints one line saying how to install them and returns
//! `None` (the test skips), except under `CI=true`, where it panics: CI must run them.
//!
//! It is a crate of its own (a dev-dependency of `licd`) rather than a module both test
//! targets include with `#[path]`: it is compiled once for both, has one place for its
//! process-wide state, and the daemon's library cannot reach it outside tests.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The system user the server runs as when the tests run as root (`.ci/run` creates it).
pub const TEST_USER: &str = "licd-pg-test";

/// Where Debian installs the server binaries, one folder per major version.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";

/// The superuser `initdb` makes; only the harness connects as it.
const SUPERUSER: &str = "postgres";

/// On a [`tls_cluster`], the role whose members log in with a client certificate alone.
pub const CERT_AUTH_GROUP: &str = "licd_cert_auth";

/// What a [`tls_cluster`] serves TLS with, as PEM (made by the caller's test CA).
pub struct ServerTls {
    /// The server's certificate chain, its own certificate first.
    pub cert_chain_pem: String,
    /// The server's private key.
    pub key_pem: String,
    /// The CA client certificates must chain to (`ssl_ca_file`).
    pub client_ca_pem: String,
}

/// The access rules of a [`tls_cluster`]: the harness's superuser either way, every other
/// role over TLS only, the members of [`CERT_AUTH_GROUP`] with a client certificate.
const TLS_HBA: &str = "\
# The harness itself (psql as the superuser), with or without TLS.
host     all  postgres          127.0.0.1/32  trust
# Members of licd_cert_auth: TLS and a client certificate naming the role.
hostssl  all  +licd_cert_auth   127.0.0.1/32  cert
# Everyone else: TLS, any client. No hostnossl line: plain connections are refused.
hostssl  all  all               127.0.0.1/32  trust
";

/// The running cluster of this test binary.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    databases: AtomicU32,
    /// Whether the server serves TLS (the files are in its data directory).
    tls: bool,
}

/// The cluster of this test run, started on first call; `None` when the PostgreSQL binaries
/// are not installed (one line says so), outside CI.
///
/// # Panics
/// Under `CI=true` without the binaries, or when the cluster cannot start.
pub fn cluster() -> Option<&'static PgCluster> {
    CLUSTER.get_or_init(start).as_ref()
}

/// A cluster for the caller alone, started now: a test may stop and restart it without
/// disturbing the tests sharing [`cluster`]. Stopped and removed when dropped; `None` as for
/// [`cluster`].
///
/// # Panics
/// As [`cluster`].
pub fn private_cluster() -> Option<PgCluster> {
    launch(None)
}

/// The TLS cluster of this test run, started on first call with what `tls` makes (called
/// once); `None` as for [`cluster`]. Its databases' URLs from [`PgCluster::fresh_database`]
/// say `sslmode=disable`, which it refuses: a test writes its own TLS parameters.
///
/// # Panics
/// As [`cluster`].
pub fn tls_cluster(tls: impl FnOnce() -> ServerTls) -> Option<&'static PgCluster> {
    TLS_CLUSTER
        .get_or_init(|| {
            let cluster = launch(Some(tls()))?;
            register_stop();
            Some(cluster)
        })
        .as_ref()
}

/// The cluster of this process, once started (or known to be unavailable).
static CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();

/// The TLS cluster of this process, once started (or known to be unavailable).
static TLS_CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();

/// The folder holding `initdb`, `pg_ctl`, `psql` of the newest installed version.
fn find_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_PG_ROOT)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn skip_or_fail(why: &str) -> Option<PgCluster> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("PostgreSQL tests cannot run under CI=true: {why}");
    }
    static SAID: OnceLock<()> = OnceLock::new();
    // Straight to the stream: libtest captures `eprintln!` of a passing test, and this line
    // is the one sign that tests were skipped.
    SAID.get_or_init(|| {
        let line = format!("skipping the PostgreSQL tests: {why}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    });
    None
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn start() -> Option<PgCluster> {
    let cluster = launch(None)?;
    register_stop();
    Some(cluster)
}

/// A new cluster, initialised and running, serving TLS with `tls` if given.
fn launch(tls: Option<ServerTls>) -> Option<PgCluster> {
    let Some(bin) = find_binaries() else {
        return skip_or_fail(&format!(
            "no initdb under {DEBIAN_PG_ROOT}/*/bin; install them with `apt-get install postgresql`"
        ));
    };
    let run_as = if is_root() {
        if !user_exists(TEST_USER) {
            return skip_or_fail(&format!(
                "running as root, and PostgreSQL refuses root: create its user with `useradd --system --no-create-home {TEST_USER}`"
            ));
        }
        Some(TEST_USER)
    } else {
        None
    };
    let dir = make_dir(run_as);
    let mut cluster = PgCluster {
        bin,
        dir,
        port: 0,
        run_as,
        databases: AtomicU32::new(0),
        tls: tls.is_some(),
    };
    cluster.init();
    if let Some(tls) = &tls {
        cluster.serve_tls(tls);
    }
    // A free port can be taken by someone else between our probe and the server's bind:
    // try a few.
    let mut last = String::new();
    for _ in 0..5 {
        cluster.port = free_port();
        match cluster.start_server() {
            Ok(()) => {
                if cluster.tls {
                    cluster.psql(
                        "postgres",
                        &format!("CREATE ROLE {CERT_AUTH_GROUP} NOLOGIN"),
                    );
                }
                return Some(cluster);
            }
            Err(log) => last = log,
        }
    }
    cluster.remove_dir();
    panic!("the test PostgreSQL cluster did not start:\n{last}");
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .args(["-u", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A new temporary directory, owned by the user the server runs as.
fn make_dir(run_as: Option<&str>) -> PathBuf {
    let base = std::env::temp_dir();
    let dir = (0..100)
        .map(|n| base.join(format!("licd-pg-{}-{n}", std::process::id())))
        .find(|d| std::fs::create_dir(d).is_ok())
        .expect("a temporary directory for the test cluster");
    if let Some(user) = run_as {
        give_to(user, &dir);
    }
    dir
}

/// Makes `user` the owner of `path`.
fn give_to(user: &str, path: &Path) {
    let out = Command::new("chown")
        .arg(format!("{user}:"))
        .arg(path)
        .output()
        .expect("chown runs");
    assert!(out.status.success(), "chown {user} {}", path.display());
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl PgCluster {
    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new empty database owned by a new role (no superuser, password-less under trust
    /// authentication), as a connection URL for licd.
    pub fn fresh_database(&self) -> String {
        let name = self.fresh_role_and_database();
        self.url(&name, &name)
    }

    /// A new empty database owned by a new role of the same name, as for
    /// [`PgCluster::fresh_database`]; that name.
    pub fn fresh_role_and_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("licd_test_{n}");
        // Two calls: psql sends one -c as one transaction, and CREATE DATABASE runs in none.
        self.psql("postgres", &format!("CREATE ROLE {name} LOGIN"));
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {name}"));
        name
    }

    /// The URL of database `db` for role `user`, TLS off (the test server has none).
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Runs `sql` in database `db` as the superuser and returns what psql printed (tuples
    /// only, unaligned).
    ///
    /// # Panics
    /// When the statement fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.run(
            "psql",
            &[
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                db,
                "-c",
                sql,
            ],
        );
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn init(&self) {
        let data = self.data_dir();
        let out = self.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        if !out.status.success() {
            self.remove_dir();
            panic!(
                "initdb of the test cluster failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Puts the certificate, key and client CA in the data directory, owned by the user
    /// the server runs as (PostgreSQL refuses a key others may read), and replaces
    /// `pg_hba.conf` by [`TLS_HBA`].
    fn serve_tls(&self, tls: &ServerTls) {
        let data = self.data_dir();
        for (name, text) in [
            ("server.crt", &tls.cert_chain_pem),
            ("server.key", &tls.key_pem),
            ("client-ca.crt", &tls.client_ca_pem),
            ("pg_hba.conf", &TLS_HBA.to_string()),
        ] {
            let path = data.join(name);
            std::fs::write(&path, text).expect("write a TLS file of the test cluster");
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod a TLS file of the test cluster");
            if let Some(user) = self.run_as {
                give_to(user, &path);
            }
        }
    }

    /// Starts the server and waits until it accepts connections; `Err` carries its log.
    fn start_server(&self) -> Result<(), String> {
        // Loopback only, no Unix socket (Debian's default socket folder is not ours), and
        // no fsync: the tests stop the server, never the machine, so the page cache holds
        // every commit and the slow disk of a shared CI box stays out of the timings.
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='' \
             -c fsync=off -c full_page_writes=off -c max_connections=300",
            self.port
        );
        if self.tls {
            // Relative to the data directory, where serve_tls put them.
            options.push_str(
                " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key \
                 -c ssl_ca_file=client-ca.crt",
            );
        }
        let log = self.dir.join("server.log");
        let out = self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                path_str(&self.data_dir()),
                "-l",
                path_str(&log),
                "-o",
                &options,
            ],
        );
        if out.status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Err(format!("{}{text}", String::from_utf8_lossy(&out.stderr)))
    }

    /// Stops the server as an operator would for a restart (`pg_ctl stop -m fast`: open
    /// sessions are ended, open transactions rolled back), keeping its data.
    ///
    /// # Panics
    /// When `pg_ctl` fails.
    pub fn stop_fast(&self) {
        let out = self.run(
            "pg_ctl",
            &["stop", "-m", "fast", "-w", "-D", path_str(&self.data_dir())],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the stopped server again on the same port.
    ///
    /// # Panics
    /// When it does not start (its log is in the message).
    pub fn start(&self) {
        if let Err(log) = self.start_server() {
            panic!("the test PostgreSQL cluster did not start again:\n{log}");
        }
    }

    fn stop(&self) {
        // `immediate`: nothing of a test database is worth a clean shutdown.
        let _ = self.run(
            "pg_ctl",
            &[
                "stop",
                "-m",
                "immediate",
                "-w",
                "-D",
                path_str(&self.data_dir()),
            ],
        );
        self.remove_dir();
    }

    fn remove_dir(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs one of the server's binaries, as the test user when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        command
            .args(args)
            // The test user may not enter the caller's working directory.
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
    }
}

impl Drop for PgCluster {
    /// Only a [`private_cluster`] is ever dropped: the shared one is a static, stopped at
    /// exit.
    fn drop(&mut self) {
        self.stop();
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Stops the shared clusters when the test binary exits: statics are never dropped, but libtest
/// leaves through `exit`, which runs the `atexit` handlers.
fn register_stop() {
    extern "C" fn stop_at_exit() {
        for cluster in [&CLUSTER, &TLS_CLUSTER] {
            if let Some(Some(c)) = cluster.get() {
                c.stop();
            }
        }
    }
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        // SAFETY: `stop_at_exit` is a plain `extern "C" fn` that lives for the whole program.
        let registered = unsafe { libc::atexit(stop_at_exit) };
        assert_eq!(registered, 0, "atexit");
    });
}
