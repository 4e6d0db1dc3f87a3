//! A real SMTP server on loopback (Python's aiosmtpd, `smtp_server.py`): start, stop and
//! restart it on one port, and read the messages it accepted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/util/smtp_server.py");

/// Whether aiosmtpd can run here. Without it the test skips with one line saying how to
/// install it, except under `CI=true`, where that is a failure.
pub fn smtp_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("the mail tests need aiosmtpd under CI=true: python3 -m pip install aiosmtpd");
        }
        eprintln!("skipped: the mail tests need aiosmtpd (python3 -m pip install aiosmtpd)");
    }
    found
}

/// An SMTP server on a fixed loopback port, delivering into a temp directory.
pub struct SmtpServer {
    /// Its port, the same across restarts.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpServer {
    /// A server on a free port, not started yet (mail sent now finds no server), or `None`
    /// when aiosmtpd is missing outside CI.
    pub fn stopped() -> Option<SmtpServer> {
        if !smtp_available() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        Some(SmtpServer {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        })
    }

    /// A server running on a free port.
    pub fn running() -> Option<SmtpServer> {
        let mut server = Self::stopped()?;
        server.start();
        Some(server)
    }

    /// Starts (or restarts) the server on its port.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the SMTP server runs already");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = Command::new("python3")
                .arg(SCRIPT)
                .arg(self.port.to_string())
                .arg(self.dir.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn python3");
            let stdout = child.stdout.take().expect("stdout");
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            if line.trim() == "ready" {
                self.child = Some(child);
                return;
            }
            // The port may still be in TIME_WAIT from the last run of the server.
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "the SMTP server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server (killed: no goodbye to connected clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The messages accepted so far, oldest first, each as received (with an
    /// `X-Envelope-To` line first).
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            // `.NNNNNN.eml` is a message the server is still writing (renamed when done).
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("read message"))
            .collect()
    }

    /// Waits until at least `n` messages arrived (at most `limit`), then returns them all.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The delivery directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `[mail]` section sending to this server.
    pub fn mail_section(&self) -> String {
        format!(
            "[mail]\nsmtpServer = \"127.0.0.1\"\nsmtpPort = {}\nsmtpSecurity = \"none\"\n\
             from = \"Licences <licences@vendor.example>\"\n",
            self.port
        )
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A header's value in a received message (first occurrence, unfolded).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or(message);
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            let mut value = v.trim().to_string();
            while let Some(next) = lines.peek() {
                if next.starts_with([' ', '\t']) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value);
        }
    }
    None
}

/// A received message's body (after the blank line), with CRLF as LF.
pub fn body(message: &str) -> String {
    message
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .replace("\r\n", "\n")
}

/// The six-digit code standing alone on a line of a mail body.
pub fn code_in(body: &str) -> String {
    body.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no standalone 6-digit code in:\n{body}"))
        .to_string()
}

/// The authorization code of the newest queued `AuthorizationCode` mail of a daemon, read
/// from `licd export` (which carries pending mail as a secret row; `licd mail list` never
/// shows a body).
pub fn queued_code(d: &super::TestDaemon) -> String {
    let out = super::cli_ok(d.cli(&["export"]));
    let body = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|row| code_mail_body(&row))
        .next_back()
        .unwrap_or_else(|| panic!("no queued code mail in the export:\n{out}"));
    code_in(&body)
}

/// The body of an `AuthorizationCode` mail anywhere in an export row.
fn code_mail_body(row: &serde_json::Value) -> Option<String> {
    match row {
        serde_json::Value::Object(map) => {
            if let (Some(body), Some(t)) = (map.get("body"), map.get("template"))
                && t == "AuthorizationCode"
            {
                return body.as_str().map(str::to_string);
            }
            map.values().find_map(code_mail_body)
        }
        serde_json::Value::Array(items) => items.iter().find_map(code_mail_body),
        _ => None,
    }
}

/// A received message's body as its reader sees it: quoted-printable or base64 undone
/// (lettre picks one for a line longer than 76 characters, such as a link), CRLF as LF.
pub fn decoded_body(message: &str) -> String {
    let raw = body(message);
    let encoding = header(message, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => {
            use base64::Engine as _;
            let joined: String = raw.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(joined)
                .expect("a base64 body");
            String::from_utf8(bytes).expect("a UTF-8 body")
        }
        "quoted-printable" => {
            let unfolded = raw.replace("=\n", "");
            let mut out = Vec::with_capacity(unfolded.len());
            let bytes = unfolded.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'=' && i + 2 < bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
                    let byte = u8::from_str_radix(hex, 16).expect("a =XX escape");
                    out.push(byte);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).expect("a UTF-8 body")
        }
        _ => raw,
    }
}
