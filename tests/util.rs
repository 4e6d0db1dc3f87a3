//! Test harness: runs the real `licd` binary on `127.0.0.1:0` with a temp data directory and
//! talks to it over real HTTP on loopback.

#![allow(dead_code)] // Each test module uses a different part of the harness.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quick_xml::events::Event;

/// The licd binary cargo built for this test run.
pub const LICD: &str = env!("CARGO_BIN_EXE_licd");

/// The demo vendor of [`TestConfig::demo`].
pub const VENDOR: &str = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=demo";

/// A configuration file built from sections; tables not named keep their defaults.
#[derive(Clone, Debug, Default)]
pub struct TestConfig {
    server: Vec<String>,
    security: Vec<String>,
    options: Vec<String>,
    activation: Vec<String>,
    tail: Vec<String>,
}

impl TestConfig {
    /// Products 1 "Demo" 1.0 (two properties) and 1.1 and 2.0, product 2 "Other" 1.0, and the
    /// demo vendor (user demo, password demo), as the embedded default has.
    pub fn demo() -> Self {
        let mut c = TestConfig::default();
        c.options
            .push("defaultCommerceProvider = \"QlmAuthenticationProvider\"".into());
        c.tail.push(
            r#"
[[product]]
id = 1
name = "Demo"
majorVersion = 1
minorVersion = 0
latestVersion = "1.4.2"
latestVersionUrl = "https://example.com/demo-1.4.2.msi"
latestVersionNotes = "Bug fixes & <more>."
  [[product.property]]
  category = "quality"
  name = "module_validation"
  type = "int"
  default = "0"
  [[product.property]]
  category = "edition"
  name = "tier"
  type = "string"
  default = "standard"

[[product]]
id = 1
name = "Demo"
majorVersion = 1
minorVersion = 1

[[product]]
id = 1
name = "Demo"
majorVersion = 2
minorVersion = 0
releaseDate = "2026-06-01"

[[product]]
id = 2
name = "Other"
majorVersion = 1
minorVersion = 0

[[vendor]]
name = "QlmAuthenticationProvider"
user = "demo"
password = "demo"
"#
            .into(),
        );
        c
    }

    /// Adds a line to `[server]`.
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.into());
        self
    }
    /// Adds a line to `[security]`.
    pub fn security(mut self, line: &str) -> Self {
        self.security.push(line.into());
        self
    }
    /// Adds a line to `[options]`.
    pub fn options(mut self, line: &str) -> Self {
        self.options.push(line.into());
        self
    }
    /// Adds a line to `[activation]`.
    pub fn activation(mut self, line: &str) -> Self {
        self.activation.push(line.into());
        self
    }
    /// Appends raw TOML at the end (more `[[product]]` or `[[vendor]]` tables).
    pub fn append(mut self, toml: &str) -> Self {
        self.tail.push(toml.into());
        self
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for (name, lines) in [
            ("server", &self.server),
            ("security", &self.security),
            ("options", &self.options),
            ("activation", &self.activation),
        ] {
            s.push_str(&format!("[{name}]\n"));
            for l in lines {
                s.push_str(l);
                s.push('\n');
            }
            s.push('\n');
        }
        for t in &self.tail {
            s.push_str(t);
            s.push('\n');
        }
        s
    }
}

/// A running licd with its own temp directory; killed on drop.
pub struct TestDaemon {
    child: Option<Child>,
    /// Where licd listens.
    pub addr: SocketAddr,
    dir: Arc<tempfile::TempDir>,
    config: Option<PathBuf>,
    logs: Arc<Mutex<String>>,
}

impl TestDaemon {
    /// Starts licd on `config`.
    pub fn start(config: &TestConfig) -> TestDaemon {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let path = dir.path().join("licd.toml");
        std::fs::write(&path, config.to_toml()).expect("write config");
        Self::spawn(dir, Some(path))
    }

    /// Starts licd in `dir`, its working directory, with files the configuration names by a
    /// relative path put there before the start. The configuration itself is written to
    /// `dir/etc/licd.toml`, so that a path read from the working directory is told apart from
    /// one read from the configuration file's directory.
    pub fn start_in(dir: tempfile::TempDir, config: &TestConfig) -> TestDaemon {
        let dir = Arc::new(dir);
        std::fs::create_dir_all(dir.path().join("etc")).expect("etc dir");
        let path = dir.path().join("etc").join("licd.toml");
        std::fs::write(&path, config.to_toml()).expect("write config");
        Self::spawn(dir, Some(path))
    }

    /// Starts licd on the embedded default configuration (no `--config`).
    pub fn start_embedded() -> TestDaemon {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::spawn(dir, None)
    }

    /// Starts licd on `config` with extra environment variables (`NOTIFY_SOCKET`, …).
    pub fn start_with_env(config: &TestConfig, env: &[(&str, &str)]) -> TestDaemon {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let path = dir.path().join("licd.toml");
        std::fs::write(&path, config.to_toml()).expect("write config");
        Self::spawn_with_env(dir, Some(path), env)
    }

    fn spawn(dir: Arc<tempfile::TempDir>, config: Option<PathBuf>) -> TestDaemon {
        Self::spawn_with_env(dir, config, &[])
    }

    fn spawn_with_env(
        dir: Arc<tempfile::TempDir>,
        config: Option<PathBuf>,
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
        std::fs::write(path, toml).expect("rewrite config");
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
        drop(self);
        Self::spawn(dir, config)
    }

    /// Stops licd and starts it again on the same configuration and data directory.
    pub fn restart(mut self) -> TestDaemon {
        assert_eq!(self.stop(), Some(0), "clean exit; log:\n{}", self.logs());
        let dir = self.dir.clone();
        let config = self.config.clone();
        drop(self);
        Self::spawn(dir, config)
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
        drop(self);
        Self::spawn_with_env(dir, config, env)
    }

    /// Starts licd again after [`TestDaemon::stop`], on the same configuration and data
    /// directory.
    pub fn restart_stopped(self) -> TestDaemon {
        assert!(self.child.is_none(), "licd still running");
        let dir = self.dir.clone();
        let config = self.config.clone();
        drop(self);
        Self::spawn(dir, config)
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

    /// GET `path` (with its query string).
    pub fn get(&self, path_and_query: &str) -> HttpReply {
        self.raw(&format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        ))
    }

    /// POST a form body to `path`.
    pub fn post_form(&self, path_and_query: &str, body: &str) -> HttpReply {
        self.raw(&format!(
            "POST {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        ))
    }

    /// Calls `/qlmservice.asmx/{method}?{query}` with GET.
    pub fn call(&self, method: &str, query: &str) -> HttpReply {
        self.get(&format!("/qlmservice.asmx/{method}?{query}"))
    }

    /// Sends raw bytes and reads the reply until the server closes the connection.
    pub fn raw(&self, request: &str) -> HttpReply {
        send_raw(self.addr, request.as_bytes())
    }

    /// ValidateLicenseHttp for `key` on computer `pc`: activates, or validates an existing
    /// activation.
    pub fn activate(&self, key: &str, pc: &str) -> HttpReply {
        self.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_pcid={pc}"),
        )
    }

    /// The licence as stored, seen through a report-only validation, without the server
    /// date: equal before and after a request that must change nothing.
    pub fn licence_snapshot(&self, key: &str) -> String {
        let r = self.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_activate=false"),
        );
        r.expect_ok();
        r.body
            .lines()
            .filter(|l| !l.starts_with("<serverDate>"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Creates one demo key (product 1, version 1.0) with extra arguments; returns it dashed.
    pub fn create_key(&self, extra: &str) -> String {
        let r = self.call(
            "GetActivationKey",
            &format!("is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}&{extra}"),
        );
        assert!(r.error_code().is_none(), "key creation failed: {}", r.body);
        r.all("activationKey")
            .into_iter()
            .next()
            .expect("an activationKey")
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

/// Sends raw bytes to `addr` and reads the HTTP reply until the connection closes.
pub fn send_raw(addr: SocketAddr, request: &[u8]) -> HttpReply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(request).expect("write request");
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    HttpReply::parse(&bytes)
}

/// An HTTP reply with the XML (or JSON) body parsed on demand.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// HTTP status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// The body bytes.
    pub bytes: Vec<u8>,
    /// The body as text (lossy).
    pub body: String,
}

impl HttpReply {
    fn parse(raw: &[u8]) -> HttpReply {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect::<HashMap<_, _>>();
        let mut bytes = raw[split + 4..].to_vec();
        if headers
            .get("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            bytes = dechunk(&bytes);
        }
        let body = String::from_utf8_lossy(&bytes).to_string();
        HttpReply {
            status,
            headers,
            bytes,
            body,
        }
    }

    /// The header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Text of every element named `name`, at any depth, in document order.
    pub fn all(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut reader = quick_xml::Reader::from_str(self.body.trim_start_matches('\u{feff}'));
        let mut inside: Option<String> = None;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.name().0 == name => {
                    inside = Some(String::new());
                }
                Ok(Event::Text(t)) => {
                    if let Some(s) = inside.as_mut() {
                        s.push_str(&t[..]);
                    }
                }
                Ok(Event::GeneralRef(r)) => {
                    if let Some(s) = inside.as_mut() {
                        let name = r[..].to_string();
                        let resolved = match name.as_str() {
                            "amp" => "&".to_string(),
                            "lt" => "<".to_string(),
                            "gt" => ">".to_string(),
                            "quot" => "\"".to_string(),
                            "apos" => "'".to_string(),
                            "#xD" => "\r".to_string(),
                            other => panic!("unexpected entity {other}"),
                        };
                        s.push_str(&resolved);
                    }
                }
                Ok(Event::End(e)) if e.name().0 == name => {
                    if let Some(s) = inside.take() {
                        out.push(s);
                    }
                }
                Ok(Event::Eof) => break,
                Err(e) => panic!("reply is not well-formed XML ({e}): {}", self.body),
                _ => {}
            }
        }
        out
    }

    /// Names of the children of `<QuickLicenseManager>`, in order.
    pub fn element_names(&self) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(self.body.trim_start_matches('\u{feff}'));
        let (mut depth, mut names) = (0, Vec::new());
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    depth += 1;
                    if depth == 2 {
                        names.push(e.name().0.to_string());
                    }
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Eof) => return names,
                Err(e) => panic!("not XML ({e}): {}", self.body),
                _ => {}
            }
        }
    }

    /// Text of the first element named `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }

    /// `<errorCode>` of an error reply (XML), or `errorCode` of a JSON one.
    pub fn error_code(&self) -> Option<u32> {
        if self.body.trim_start().starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(&self.body).expect("json");
            return v
                .get("errorCode")
                .and_then(|c| c.as_u64())
                .map(|c| c as u32);
        }
        if !self.body.contains("<QuickLicenseManager>") {
            return None;
        }
        self.get("errorCode")
            .map(|c| c.parse().expect("numeric errorCode"))
    }

    /// The `<error>` sentence.
    pub fn error(&self) -> Option<String> {
        self.get("error")
    }

    /// The JSON body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes).expect("json body")
    }

    /// Asserts an error reply with this code and returns its message.
    #[track_caller]
    pub fn expect_error(&self, code: u32) -> String {
        assert_eq!(self.error_code(), Some(code), "reply: {}", self.body);
        self.error().unwrap_or_default()
    }

    /// Asserts a success reply.
    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        assert_eq!(self.status, 200, "reply: {}", self.body);
        assert!(
            self.error_code().is_none(),
            "unexpected error: {}",
            self.body
        );
        self
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
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

/// A certificate authority made at test time (rcgen), that signs server certificates for
/// `127.0.0.1` and `localhost`; clients of [`send_tls`] trust it alone.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA's own certificate.
    pub cert: rustls::pki_types::CertificateDer<'static>,
    /// The same as PEM, the end of every chain file.
    cert_pem: String,
}

/// A server certificate and its key, as PEM, and the certificate as DER (what a client sees).
pub struct ServerCert {
    /// The certificate chain file's contents: the server certificate, then the CA's.
    pub chain_pem: String,
    /// The private key file's contents (PKCS#8).
    pub key_pem: String,
    /// The server certificate as a TLS client receives it.
    pub der: Vec<u8>,
}

impl TestCa {
    /// A new CA with a fresh key.
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "licd test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost with this serial number and common
    /// name, signed by this CA.
    pub fn server_cert(&self, serial: u64, common_name: &str) -> ServerCert {
        use rcgen::{CertificateParams, DnType, KeyPair, SanType};
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.serial_number = Some(serial.into());
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        ServerCert {
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

impl ServerCert {
    /// Writes `cert.pem` (0644) and `key.pem` (0600) into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.chain_pem).expect("write certificate");
        std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(&key, &self.key_pem).expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        (cert, key)
    }
}

/// What a TLS client saw: the reply, the server's certificate and the protocol version.
pub struct TlsReply {
    /// The HTTP reply.
    pub reply: HttpReply,
    /// The server certificate presented (DER).
    pub peer_cert: Vec<u8>,
    /// The negotiated protocol version.
    pub version: rustls::ProtocolVersion,
}

/// Sends `request` over TLS to `addr` (server name 127.0.0.1), trusting only `ca` and
/// offering only `versions`; reads the reply until the server closes. `Err` says why the
/// TLS connection failed.
pub fn send_tls(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    request: &[u8],
) -> Result<TlsReply, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    let peer_cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no server certificate")?;
    let version = conn.protocol_version().ok_or("no protocol version")?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    stream.write_all(request).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    // A server that closes without close_notify ends the read with an error; the bytes
    // read before it are the reply all the same.
    let _ = stream.read_to_end(&mut bytes);
    Ok(TlsReply {
        reply: HttpReply::parse(&bytes),
        peer_cert,
        version,
    })
}

/// GET `path` over TLS with TLS 1.3 or 1.2, trusting only `ca`.
pub fn tls_get(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> Result<TlsReply, String> {
    send_tls(
        addr,
        ca,
        rustls::ALL_VERSIONS,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Runs a store read (`async`) to its end from a synchronous test.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime for the store read")
        .block_on(future)
}
