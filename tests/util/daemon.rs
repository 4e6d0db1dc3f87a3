//! The real daemon as a child process: start, signal, stop and restart it on its own temp
//! directory and data directory, read its log, and run admin commands of the same binary.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::TestConfig;
use super::backend::StoreSection;

/// The licd binary cargo built for this test run.
pub const LICD: &str = env!("CARGO_BIN_EXE_licd");

/// A running licd with its own temp directory; killed on drop.
pub struct TestDaemon {
    child: Option<Child>,
    /// Where licd listens.
    pub addr: SocketAddr,
    dir: Arc<tempfile::TempDir>,
    config: Option<PathBuf>,
    /// The `[store]` table the harness added to the configuration (backend.rs), kept for
    /// [`TestDaemon::rewrite_config`].
    store: Option<StoreSection>,
    logs: Arc<Mutex<String>>,
}

/// Writes `config` to `path` with the `[store]` table of this run's backend; that table.
fn write_config(path: &Path, config: &TestConfig) -> Option<StoreSection> {
    let toml = config.to_toml();
    let store = super::backend::store_section(config, &toml);
    let text = format!("{toml}{}", store.as_ref().map_or("", |s| s.toml.as_str()));
    std::fs::write(path, text).expect("write config");
    store
}

impl TestDaemon {
    /// Starts licd on `config`.
    pub fn start(config: &TestConfig) -> TestDaemon {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let path = dir.path().join("licd.toml");
        let store = write_config(&path, config);
        Self::spawn(dir, Some(path), store)
    }

    /// Starts licd in `dir`, its working directory, with files the configuration names by a
    /// relative path put there before the start. The configuration itself is written to
    /// `dir/etc/licd.toml`, so that a path read from the working directory is told apart from
    /// one read from the configuration file's directory.
    pub fn start_in(dir: tempfile::TempDir, config: &TestConfig) -> TestDaemon {
        let dir = Arc::new(dir);
        std::fs::create_dir_all(dir.path().join("etc")).expect("etc dir");
        let path = dir.path().join("etc").join("licd.toml");
        let store = write_config(&path, config);
        Self::spawn(dir, Some(path), store)
    }

    /// Starts licd on the embedded default configuration (no `--config`).
    pub fn start_embedded() -> TestDaemon {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::spawn(dir, None, None)
    }

    /// Starts licd on `config` with extra environment variables (`NOTIFY_SOCKET`, …).
    pub fn start_with_env(config: &TestConfig, env: &[(&str, &str)]) -> TestDaemon {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let path = dir.path().join("licd.toml");
        let store = write_config(&path, config);
        Self::spawn_with_env(dir, Some(path), store, env)
    }

    fn spawn(
        dir: Arc<tempfile::TempDir>,
        config: Option<PathBuf>,
        store: Option<StoreSection>,
    ) -> TestDaemon {
        Self::spawn_with_env(dir, config, store, &[])
    }

    fn spawn_with_env(
        dir: Arc<tempfile::TempDir>,
        config: Option<PathBuf>,
        store: Option<StoreSection>,
        env: &[(&str, &str)],
    ) -> TestDaemon {
        let mut cmd = Command::new(LICD);
        cmd.envs(env.iter().copied());
        cmd.arg("serve");
        if let Some(c) = &config {
            cmd.arg("--config").arg(c);
        }
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn licd");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                {
                    // Logged before the address is reported, so logs() after start() has it.
                    let mut l = sink.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                let address = line
                    .split("listening on http://")
                    .nth(1)
                    .or_else(|| line.split("listening on https://").nth(1));
                if let Some(rest) = address
                    && let Some(t) = tx.take()
                {
                    let _ = t.send(rest.trim().to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("address in start-up line"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("licd did not start; log:\n{}", logs.lock().unwrap());
            }
        };
        TestDaemon {
            child: Some(child),
            addr,
            dir,
            config,
            store,
            logs,
        }
    }

    /// The configuration file, when started with one.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config.clone()
    }

    /// The temp directory holding the configuration and the data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Opens this (stopped) daemon's database the way licd does: its redb file, or the
    /// PostgreSQL database the harness gave it (backend.rs).
    pub fn open_store(&self) -> licd::store::Store {
        match &self.store {
            None => licd::store::Store::open_existing(
                &self.data_dir().join("licd.redb"),
                licd::store::StoreOptions::default(),
            )
            .expect("open the redb database"),
            Some(section) => {
                let settings = licd::store::PostgresSettings {
                    url: section.url.clone(),
                    pool_size: 2,
                    statement_timeout_ms: 5_000,
                    files_dir: None,
                };
                block_on(licd::store::Store::open_postgres(
                    &settings,
                    licd::store::StoreOptions::default(),
                ))
                .expect("open the PostgreSQL database")
            }
        }
    }

    /// Everything licd wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits up to 5 s for a log line containing `needle` (stderr is read by another thread,
    /// so a line written just before a reply may arrive just after it).
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The daemon's process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("licd running").id() as i32
    }

    /// Sends `signal` (libc::SIGHUP, …) to the daemon.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(r, 0, "kill failed");
    }

    /// Replaces the configuration file (for a reload).
    pub fn rewrite_config(&self, toml: &str) {
        let path = self
            .config
            .as_ref()
            .expect("started with a configuration file");
        let store = self.store.as_ref().map_or("", |s| s.toml.as_str());
        std::fs::write(path, format!("{toml}{store}")).expect("rewrite config");
    }

    /// Waits up to `limit` for the daemon to exit; its exit code (`None`: killed by a
    /// signal), or a panic if it is still running then.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("licd running");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            if Instant::now() > deadline {
                panic!("licd still running after {limit:?}; log:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to 5 s until the log holds `n` lines containing `needle`.
    pub fn wait_for_log_count(&self, needle: &str, n: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.logs().matches(needle).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("licd did not stop within 30 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills licd with SIGKILL (a crash: no drain, no clean close) and waits for it.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts licd again on the same configuration and data directory after a crash.
    pub fn respawn(mut self) -> TestDaemon {
        self.kill_hard();
        let dir = self.dir.clone();
        let config = self.config.clone();
        let store = self.store.take();
        drop(self);
        Self::spawn(dir, config, store)
    }

    /// Stops licd and starts it again on the same configuration and data directory.
    pub fn restart(mut self) -> TestDaemon {
        assert_eq!(self.stop(), Some(0), "clean exit; log:\n{}", self.logs());
        let dir = self.dir.clone();
        let config = self.config.clone();
        let store = self.store.take();
        drop(self);
        Self::spawn(dir, config, store)
    }

    /// Kills licd with SIGKILL (a crash: no clean close, the admin socket left behind) and
    /// starts it again on the same configuration and data directory.
    pub fn crash_and_restart(self) -> TestDaemon {
        self.crash_and_restart_with_env(&[])
    }

    /// [`TestDaemon::crash_and_restart`] with extra environment variables for the new
    /// process.
    pub fn crash_and_restart_with_env(mut self, env: &[(&str, &str)]) -> TestDaemon {
        self.signal(libc::SIGKILL);
        let code = self.wait_exit(Duration::from_secs(10));
        assert_eq!(code, None, "killed by a signal");
        let dir = self.dir.clone();
        let config = self.config.clone();
        let store = self.store.take();
        drop(self);
        Self::spawn_with_env(dir, config, store, env)
    }

    /// Starts licd again after [`TestDaemon::stop`], on the same configuration and data
    /// directory.
    pub fn restart_stopped(mut self) -> TestDaemon {
        assert!(self.child.is_none(), "licd still running");
        let dir = self.dir.clone();
        let config = self.config.clone();
        let store = self.store.take();
        drop(self);
        Self::spawn(dir, config, store)
    }

    /// Runs `licd args… --config <its file> --data-dir <its data>` (an admin command on this
    /// daemon's database) in its directory; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let data = self.data_dir();
        let mut all: Vec<&str> = args.to_vec();
        let config = self.config.clone();
        if let Some(c) = &config {
            all.extend(["--config", c.to_str().expect("utf-8 path")]);
        }
        all.extend(["--data-dir", data.to_str().expect("utf-8 path")]);
        licd_cmd(&all, None, self.dir.path())
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the licd binary with `args` and optional stdin; returns (exit code, stdout, stderr).
pub fn licd_cmd(args: &[&str], stdin: Option<&str>, cwd: &Path) -> (i32, String, String) {
    let mut child = Command::new(LICD)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn licd");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("licd output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Asserts that a command exited 0 and returns its stdout.
#[track_caller]
pub fn cli_ok(result: (i32, String, String)) -> String {
    let (code, out, err) = result;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    out
}

/// Asserts that a command exited 1 and returns its stderr.
#[track_caller]
pub fn cli_fails(result: (i32, String, String)) -> String {
    let (code, out, err) = result;
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    err
}

/// The permission bits of a file.
pub fn file_mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A path as `&str` for a command line.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs a store read (`async`) to its end from a synchronous test, for a test that opens a
/// stopped daemon's database itself. One runtime for the whole test run: a PostgreSQL
/// store's connections are tasks on the runtime that opened it, and must outlive the call.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for store reads")
        })
        .block_on(future)
}
