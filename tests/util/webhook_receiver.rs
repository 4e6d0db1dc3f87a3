//! A webhook receiver on loopback for the outbound-event tests: a plain `std` HTTP/1.1
//! server on a thread that checks both signatures of every POST with the test secret
//! (`X-QLM-Signature` and `X-Licd-Signature`, computed here independently of licd), records
//! the verified events, and answers the status the test sets. It can also go down (its
//! port refuses connections) and come back up on the same port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The secret every test configuration signs with.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789";

/// One request the receiver took.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// The body, parsed.
    pub body: serde_json::Value,
    /// Whether both signatures matched (only then is it answered with the set status).
    pub verified: bool,
    /// The status answered.
    pub status: u16,
}

struct Shared {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    stop: AtomicBool,
}

/// The receiver.
pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookReceiver {
    /// Starts answering 200 on a free port.
    pub fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            status: AtomicU16::new(200),
            stop: AtomicBool::new(false),
        });
        let mut r = WebhookReceiver {
            addr,
            shared,
            thread: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking");
        self.shared.stop.store(false, Ordering::SeqCst);
        let shared = self.shared.clone();
        self.thread = Some(std::thread::spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => handle(stream, &shared),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
    }

    /// The URL to configure, with a path.
    pub fn url(&self) -> String {
        format!("http://{}/hooks/licd", self.addr)
    }

    /// Answers `status` to every verified request from now on.
    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Stops listening: connections to its port are refused until [`WebhookReceiver::up`].
    pub fn down(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Listens again on the same port.
    pub fn up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    /// Every request taken so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The bodies of the requests answered 2xx (delivered events), in arrival order.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| r.verified && (200..300).contains(&r.status))
            .map(|r| r.body)
            .collect()
    }

    /// The event names delivered, in arrival order.
    pub fn delivered_names(&self) -> Vec<String> {
        self.delivered()
            .iter()
            .map(|b| b["event"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    /// Waits until `n` events were delivered (at most `limit`); returns them.
    pub fn wait_delivered(&self, n: usize, limit: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.delivered();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `n` requests arrived, delivered or not (at most `limit`).
    pub fn wait_requests(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.down();
    }
}

/// The expected `X-QLM-Signature`.
pub fn qlm_signature(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(body);
    h.update(WEBHOOK_SECRET.as_bytes());
    hex(&h.finalize())
}

/// The expected `v1` of `X-Licd-Signature` for time `t`.
pub fn licd_v1(body: &[u8], t: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("HMAC key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `header` (`t=…,v1=…`) signs `body` with a time within five minutes of now.
fn licd_signature_ok(header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(seconds) = t.parse::<i64>() else {
        return false;
    };
    let now = chrono::Utc::now().timestamp();
    (now - seconds).abs() <= 300 && licd_v1(body, t) == v1
}

/// Reads one request, checks it, answers, records.
fn handle(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let verified = request_line.starts_with("POST /hooks/licd ")
        && header("content-type").as_deref() == Some("application/json")
        && header("x-qlm-signature").as_deref() == Some(qlm_signature(&body).as_str())
        && header("x-licd-signature").is_some_and(|h| licd_signature_ok(&h, &body));
    let status = if verified {
        shared.status.load(Ordering::SeqCst)
    } else {
        401
    };
    let reason = if status == 200 { "OK" } else { "Refused" };
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno"
    );
    let _ = out.flush();
    let parsed = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    shared
        .received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Received {
            at: Instant::now(),
            body: parsed,
            verified,
            status,
        });
}
