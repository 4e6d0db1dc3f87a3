//! A real browser for the page tests: Debian's headless Chromium driven through WebDriver
//! (`chromedriver`, the W3C protocol over HTTP on loopback).
//!
//! The protocol is a handful of JSON calls, so the harness speaks it itself over the same
//! blocking loopback HTTP the rest of the tests use, instead of pulling an async WebDriver
//! client and its runtime into every test. Each [`Browser`] starts its own chromedriver on
//! a free port with a fresh profile in a temp directory, and kills both when dropped.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver`, [`Browser::start`] prints one
//! line saying how to install them and returns `None` (the test skips), except under
//! `CI=true`, where that is a failure. Chromium refuses to run as root without
//! `--no-sandbox`, which is passed when the uid is 0 (CI).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver (package chromium-driver).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver replies.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long [`Browser::find`] looks for an element that a page is still building.
const FIND_PATIENCE: Duration = Duration::from_secs(5);

/// One headless Chromium session.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    /// The profile and download directory.
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or `None` (one line printed)
    /// where they are not installed, outside CI.
    ///
    /// # Panics
    /// Under `CI=true` without them, or when they do not start.
    pub fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            let how = "browser tests need Chromium and its driver: apt-get install chromium chromium-driver";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{how} (CI=true: not skipping)");
            }
            eprintln!("skipped: {how}");
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        browser.wait_ready();
        browser.session = browser.new_session();
        Some(browser)
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "url", json!({ "url": url }));
    }

    /// The URL the browser shows now.
    pub fn current_url(&self) -> String {
        string(self.command("GET", "url", Value::Null))
    }

    /// The page's HTML as the browser holds it now.
    pub fn source(&self) -> String {
        string(self.command("GET", "source", Value::Null))
    }

    /// The page's title.
    pub fn title(&self) -> String {
        string(self.command("GET", "title", Value::Null))
    }

    /// Types `text` into the field `css` selects, after clearing it.
    pub fn fill(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command("POST", &format!("element/{element}/clear"), json!({}));
        self.command(
            "POST",
            &format!("element/{element}/value"),
            json!({ "text": text }),
        );
    }

    /// Clicks the element `css` selects (a button submits its form and the page loads).
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.command("POST", &format!("element/{element}/click"), json!({}));
    }

    /// The visible text of the element `css` selects.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        string(self.command("GET", &format!("element/{element}/text"), Value::Null))
    }

    /// The value of attribute or property `name` of the element `css` selects.
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css);
        match self.command(
            "GET",
            &format!("element/{element}/attribute/{name}"),
            Value::Null,
        ) {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether an element matches `css` on the page now (no waiting).
    pub fn exists(&self, css: &str) -> bool {
        let r = self.call(
            "POST",
            "elements",
            json!({ "using": "css selector", "value": css }),
        );
        r.get("value")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    }

    /// Runs `script` in the page (a function body; `arguments` holds `args`) and returns
    /// what it returned: for a test that must do what a hand-made request would (remove a
    /// form's CSRF field, say).
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "execute/sync",
            json!({ "script": script, "args": args }),
        )
    }

    /// The browser's cookies for the current page, as WebDriver describes them.
    pub fn cookies(&self) -> Vec<Value> {
        match self.command("GET", "cookie", Value::Null) {
            Value::Array(a) => a,
            other => panic!("cookies: {other}"),
        }
    }

    /// Deletes every cookie of the current page's site.
    pub fn delete_cookies(&self) {
        self.command("DELETE", "cookie", Value::Null);
    }

    /// Resizes the window to `width` × `height` CSS pixels (a phone's, say).
    pub fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "window/rect",
            json!({ "width": width, "height": height }),
        );
    }

    /// Saves a PNG of the window as `target/screenshots/{name}.png`; its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let data = string(self.command("GET", "screenshot", Value::Null));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("a base64 screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Where Chromium saves downloads (empty until one finished).
    pub fn download_dir(&self) -> PathBuf {
        self.profile.path().join("downloads")
    }

    /// Waits up to 10 s for a finished download and returns its path.
    pub fn wait_for_download(&self) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(entries) = std::fs::read_dir(self.download_dir()) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let partial = path
                        .extension()
                        .is_some_and(|e| e == "crdownload" || e == "tmp");
                    if !partial {
                        return path;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no download finished within 10 s");
    }

    /// The reference of the first element `css` selects, waiting up to 5 s for it.
    ///
    /// # Panics
    /// When none appears; the message holds the page's source.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + FIND_PATIENCE;
        loop {
            let r = self.call(
                "POST",
                "element",
                json!({ "using": "css selector", "value": css }),
            );
            if let Some(id) = r
                .get("value")
                .and_then(|v| v.get(ELEMENT))
                .and_then(Value::as_str)
            {
                return id.to_string();
            }
            if Instant::now() > deadline {
                panic!(
                    "no element matches {css:?} on {}:\n{}",
                    self.current_url(),
                    self.source()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A session command whose reply must be a success; its `value`.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let r = self.call(method, path, body);
        if let Some(error) = r.get("value").and_then(|v| v.get("error")) {
            panic!(
                "WebDriver {method} {path}: {error}: {}",
                r["value"]["message"]
            );
        }
        r.get("value").cloned().unwrap_or(Value::Null)
    }

    /// A session command; the whole JSON reply.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        request(
            self.addr,
            method,
            &format!("/session/{}/{path}", self.session),
            &body,
        )
    }

    /// Waits up to 20 s for chromedriver to answer `/status` ready.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.addr).is_ok() {
                let status = request(self.addr, "GET", "/status", &Value::Null);
                if status["value"]["ready"] == json!(true) {
                    return;
                }
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("chromedriver exited at start: {exit}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not answer within 20 s");
    }

    /// Opens a headless Chromium session; its id.
    fn new_session(&self) -> String {
        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            // This machine's network is closed: Chromium's own connections only fail, many
            // at a time, and slow every start down.
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1200,900".into(),
            format!(
                "--user-data-dir={}",
                self.profile.path().join("profile").display()
            ),
        ];
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Chromium refuses to run as root with its sandbox on.
            args.push("--no-sandbox".into());
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": args,
                    "prefs": {
                        "download.default_directory": self.download_dir(),
                        "download.prompt_for_download": false,
                    },
                },
            }}
        });
        let r = request(self.addr, "POST", "/session", &capabilities);
        match r["value"]["sessionId"].as_str() {
            Some(id) => id.to_string(),
            None => panic!("no WebDriver session: {r}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            // Ends Chromium; chromedriver is killed next whatever this answers.
            let addr = self.addr;
            let _ = std::panic::catch_unwind(move || request(addr, "DELETE", &path, &Value::Null));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver HTTP request; the JSON reply (an error reply is JSON too). The reply is
/// read up to its `Content-Length`: chromedriver keeps the connection open whatever the
/// request's `Connection: close` says.
fn request(addr: SocketAddr, method: &str, path: &str, body: &Value) -> Value {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).expect("connect to chromedriver");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .expect("send to chromedriver");
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("a reply head line");
        let line = line.trim_end();
        if n == 0 || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().expect("a Content-Length");
        }
    }
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes).expect("the reply body");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "WebDriver {method} {path}: {e}: {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// The text of a string `value`.
fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("expected a string, got {other}"),
    }
}

/// A free loopback port for chromedriver (which cannot report one it picked itself).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
