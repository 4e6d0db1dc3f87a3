//! Reliability: what licd promises under crashes, contention and abuse.
//!
//! - A `kill -9` at any moment loses no acknowledged activation and never leaves a key with
//!   more activations than it allows (spec README §6).
//! - A thousand concurrent attempts on a 10-seat key give exactly 10 activations.
//! - Slow or idle clients are cut at `headerReadTimeoutMs`; past `maxConnections` new clients
//!   wait; neither stops normal clients from being served.
//! - The whole request, body included, must arrive within `headerReadTimeoutMs` of its first
//!   byte: a trickled body or a `Content-Length` with no body gets 408 and the connection
//!   closes; a slow body that makes it in time is served (spec operations.md, Limits of load).
//! - Random queries, bodies and header sizes never crash the daemon, always get an error
//!   envelope or a 4xx, and change nothing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use crate::util::{TestConfig, TestDaemon, send_raw};

/// A small xorshift generator seeded from the clock: the crash moment must differ between
/// runs, and the seed is printed so a failing round can be replayed.
struct Rng(u64);

impl Rng {
    fn from_clock() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(nanos | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Keys the crash rounds share; each round acknowledges a few hundred activations.
const KEYS: usize = 10;

/// Seats per key so that no round runs out (at most 10,000, GetActivationKey's limit).
fn seats_for(rounds: usize) -> u32 {
    u32::try_from(rounds * 100)
        .unwrap_or(u32::MAX)
        .clamp(1_000, 10_000)
}

/// One crash round: 8 threads activate until the daemon is killed; returns the daemon
/// (restarted) and the acknowledged activations of the round.
fn crash_round(d: TestDaemon, keys: &[String], round: usize, rng: &mut Rng) -> TestDaemon {
    let mut d = d;
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let addr = d.addr;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (stop, acknowledged, keys) = (stop.clone(), acknowledged.clone(), keys.to_vec());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let k = (t + i) % keys.len();
                    let pc = format!("R{round}-T{t}-{i}");
                    let request = format!(
                        "GET /qlmservice.asmx/ValidateLicenseHttp?is_avkey={}&is_pcid={pc} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        keys[k]
                    );
                    let Some(reply) = try_send(addr, request.as_bytes()) else {
                        break; // the daemon is gone
                    };
                    if reply.contains("was activated") && !reply.contains("<error>") {
                        acknowledged.lock().unwrap().push((k, pc));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
    d.kill_hard();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let d = d.respawn();
    let acknowledged = acknowledged.lock().unwrap();
    eprintln!(
        "round {round}: {} activations acknowledged before the kill",
        acknowledged.len()
    );
    for (k, pc) in acknowledged.iter() {
        let r = d.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={}&is_pcid={pc}&is_activate=false", keys[*k]),
        );
        assert!(
            r.get("pckey").is_some(),
            "round {round}: acknowledged activation {pc} of key {k} is missing after the crash: {}",
            r.body
        );
    }
    d
}

/// A request that may meet a dead server: `None` instead of a panic.
fn try_send(addr: std::net::SocketAddr, request: &[u8]) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request).ok()?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).to_string();
    text.starts_with("HTTP/1.1 ").then_some(text)
}

/// After the last round, on the stopped database: each key's count of used activations
/// equals its activation rows and never exceeds what it allows.
fn check_counts(mut d: TestDaemon, keys: &[String]) {
    assert_eq!(d.stop(), Some(0));
    let store = d.open_store();
    let reader = crate::util::block_on(store.read()).unwrap();
    for key in keys {
        let canonical = key.replace('-', "");
        let license = crate::util::block_on(reader.license(&canonical))
            .unwrap()
            .unwrap();
        let rows = crate::util::block_on(reader.activations(&canonical))
            .unwrap()
            .len() as u32;
        assert_eq!(
            license.activations_used, rows,
            "{key}: counter and rows disagree"
        );
        assert!(rows <= license.activations_allowed, "{key}: over-issued");
    }
    drop(reader);
    store.close().unwrap();
}

fn crash_rounds(rounds: usize) {
    let mut rng = Rng::from_clock();
    eprintln!("crash test seed {}", rng.0);
    let mut d = TestDaemon::start(&TestConfig::demo());
    let keys: Vec<String> = (0..KEYS)
        .map(|_| {
            d.create_key(&format!(
                "is_numberofactivationsperkey={}",
                seats_for(rounds)
            ))
        })
        .collect();
    for round in 0..rounds {
        d = crash_round(d, &keys, round, &mut rng);
    }
    check_counts(d, &keys);
}

#[test]
fn kill_9_at_a_random_moment_loses_no_acknowledged_activation_and_never_over_issues() {
    crash_rounds(10);
}

/// The soak version: `cargo test -p licd --test tests crash_soak -- --ignored`.
#[test]
#[ignore = "soak test: 100 crash rounds, a few minutes; run with --ignored"]
fn crash_soak_100_rounds() {
    crash_rounds(100);
}

#[test]
fn thousand_concurrent_activation_attempts_on_a_ten_seat_key_give_exactly_ten() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=10");
    let codes: Vec<Option<u32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|t| {
                let (d, key) = (&d, &key);
                s.spawn(move || {
                    (0..20)
                        .map(|i| d.activate(key, &format!("PC-{t}-{i}")).error_code())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(codes.len(), 1000);
    assert_eq!(codes.iter().filter(|c| c.is_none()).count(), 10);
    assert!(
        codes.iter().all(|c| matches!(c, None | Some(210))),
        "{codes:?}"
    );
}

/// Whether the server closed `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 or similar before closing
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn half_sent_headers_and_idle_connections_are_cut_while_normal_clients_are_served() {
    let d = TestDaemon::start(&TestConfig::demo().server("headerReadTimeoutMs = 700"));
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|i| {
            let mut s = TcpStream::connect(d.addr).unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .unwrap();
            }
            s
        })
        .collect();
    let started = Instant::now();
    for _ in 0..5 {
        d.call("PingHttp", "").expect_ok();
    }
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "normal clients were not served at once"
    );
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(5)),
            "a slow connection was not cut"
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "cut too early: {waited:?}"
    );
    d.call("PingHttp", "").expect_ok();
}

#[test]
fn past_the_connection_cap_new_clients_wait_and_are_served_when_a_slot_frees() {
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("maxConnections = 4")
            .server("headerReadTimeoutMs = 1000"),
    );
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(d.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let r = send_raw(
        d.addr,
        b"GET /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let waited = started.elapsed();
    assert_eq!(r.status, 200);
    assert!(
        waited >= Duration::from_millis(500),
        "the fifth client was served before a slot freed ({waited:?})"
    );
    drop(idle);
    d.call("PingHttp", "").expect_ok();
}

/// The head of a POST of `declared` form bytes to PingHttp, kept open (no `Connection: close`).
fn slow_body_head(declared: usize) -> String {
    format!(
        "POST /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {declared}\r\n\r\n"
    )
}

/// Reads one reply head from `stream` (the status) and then until the server closes, or
/// `None` if it neither answers nor closes within `within`.
fn status_then_close(stream: &mut TcpStream, within: Duration) -> Option<(Option<u16>, Duration)> {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let left = within.checked_sub(started.elapsed())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return None;
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok());
    Some((status, started.elapsed()))
}

/// Writes one byte to each stream every `every` until `stop`, ignoring streams the server
/// has closed: the attack of hole 2.
fn trickle(
    streams: Vec<TcpStream>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut streams = streams;
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(every);
            for s in &mut streams {
                let _ = s.write_all(b"a");
            }
        }
    })
}

#[test]
fn trickled_bodies_and_missing_bodies_get_408_at_the_deadline_while_pings_are_answered_at_once() {
    let timeout = Duration::from_millis(1500);
    let d = TestDaemon::start(&TestConfig::demo().server("headerReadTimeoutMs = 1500"));
    let opened = Instant::now();
    // 50 connections trickle one byte of a 1000-byte body every 100 ms; 10 more declare a
    // body and send none.
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for i in 0..60 {
        let mut s = TcpStream::connect(d.addr).unwrap();
        s.write_all(slow_body_head(1000).as_bytes()).unwrap();
        if i < 50 {
            s.write_all(b"a").unwrap();
            writers.push(s.try_clone().unwrap());
        }
        readers.push(s);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = trickle(writers, Duration::from_millis(100), stop.clone());

    // A new client is answered at once while the 60 are open.
    std::thread::sleep(Duration::from_millis(200));
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        d.call("PingHttp", "").expect_ok();
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "PingHttp took {took:?} while slow bodies were open"
        );
        slowest = slowest.max(took);
    }
    eprintln!("slowest of 5 PingHttp calls with 60 slow bodies open: {slowest:?}");
    for (i, s) in readers.iter_mut().enumerate() {
        let (status, _) = status_then_close(s, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("slow connection {i} was never cut"));
        assert_eq!(status, Some(408), "connection {i}");
    }
    let all_cut = opened.elapsed();
    eprintln!("all 60 slow connections got 408 and were closed {all_cut:?} after opening");
    stop.store(true, Ordering::SeqCst);
    trickler.join().unwrap();
    assert!(
        all_cut >= timeout - Duration::from_millis(100) && all_cut < timeout * 3,
        "cut at {all_cut:?}, deadline {timeout:?}"
    );
    assert!(
        d.wait_for_log("request body not received within server.headerReadTimeoutMs"),
        "{}",
        d.logs()
    );
    d.call("PingHttp", "").expect_ok();
}

#[test]
fn slow_bodies_filling_the_connection_cap_free_their_slots_at_the_deadline() {
    // Before the body deadline, 40 trickling connections held all 40 slots for as long as
    // they kept trickling, and a new client was never served.
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("maxConnections = 40")
            .server("headerReadTimeoutMs = 1000"),
    );
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(d.addr).unwrap();
        s.write_all(slow_body_head(1000).as_bytes()).unwrap();
        s.write_all(b"a").unwrap();
        writers.push(s.try_clone().unwrap());
        readers.push(s);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = trickle(writers, Duration::from_millis(100), stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = try_send(
        d.addr,
        b"GET /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let waited = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    trickler.join().unwrap();
    eprintln!("the client past a cap held by 40 slow bodies was answered after {waited:?}");
    let r = r.expect("the client past the cap was served");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(
        waited < Duration::from_secs(3),
        "the client past the cap waited {waited:?}, beyond the 1 s deadline of the slots' holders"
    );
    for s in &mut readers {
        assert_eq!(
            status_then_close(s, Duration::from_secs(5)).map(|r| r.0),
            Some(Some(408))
        );
    }
}

#[test]
fn a_slow_body_that_arrives_within_the_deadline_is_served() {
    let d = TestDaemon::start(&TestConfig::demo().server("headerReadTimeoutMs = 3000"));
    let key = d.create_key("is_numberofactivationsperkey=2");
    let body = format!("is_avkey={key}&is_pcid=SLOW-BUT-LEGAL&is_format=json");
    let mut s = TcpStream::connect(d.addr).unwrap();
    let head = format!(
        "POST /qlmservice.asmx/ValidateLicenseHttp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // Ten pieces, 100 ms apart: about a third of the allowance.
    for piece in body.as_bytes().chunks(body.len().div_ceil(10)) {
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(piece).unwrap();
    }
    let mut reply = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let json: serde_json::Value =
        serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap()).expect("a JSON reply");
    assert!(json.get("errorCode").is_none(), "{json}");
    assert_eq!(
        json["computerID"], "SLOW-BUT-LEGAL",
        "the body's arguments were read: {json}"
    );
    assert_eq!(
        json["availableLicenses"], 1,
        "the activation was made: {json}"
    );
}

#[test]
fn the_deadline_counts_from_each_requests_first_byte_and_covers_headers_and_body_together() {
    let d = TestDaemon::start(&TestConfig::demo().server("headerReadTimeoutMs = 1500"));
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read_reply = |s: &mut TcpStream| {
        // One keep-alive reply: head, then the Content-Length it declares.
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1];
        while !bytes.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut buf).unwrap(), 1, "closed mid-reply");
            bytes.push(buf[0]);
        }
        let head = String::from_utf8_lossy(&bytes).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_string)
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        s.read_exact(&mut body).unwrap();
        head
    };
    // A first request, then the connection idles 1 s: the next request's clock must not
    // start at the accept.
    s.write_all(b"GET /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_reply(&mut s).starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(1000));
    // The second request's body comes over 1 s: 2 s after the accept, 1 s after its first byte.
    let body = b"is_format=json";
    s.write_all(slow_body_head(body.len()).as_bytes()).unwrap();
    for piece in body.chunks(2) {
        std::thread::sleep(Duration::from_millis(1000 / 7));
        s.write_all(piece).unwrap();
    }
    let head = read_reply(&mut s);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "within its own allowance: {head}"
    );

    // Headers over 0.9 s, then the body over 0.9 s: each part alone is within 1.5 s, the
    // request as a whole is not.
    let mut s = TcpStream::connect(d.addr).unwrap();
    let started = Instant::now();
    for piece in slow_body_head(body.len()).as_bytes().chunks(20) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(900 / 7));
    }
    for piece in body.chunks(2) {
        let _ = s.write_all(piece);
        std::thread::sleep(Duration::from_millis(900 / 7));
    }
    let (status, _) = status_then_close(&mut s, Duration::from_secs(10)).expect("cut");
    assert_eq!(status, Some(408));
    let waited = started.elapsed();
    assert!(waited < Duration::from_millis(2500), "{waited:?}");
}

fn arbitrary_request() -> impl Strategy<Value = (String, String, Vec<u8>, usize)> {
    let methods = prop::sample::select(vec![
        "PingHttp",
        "ValidateLicenseHttp",
        "ActivateKey",
        "GetActivationKey",
        "ReleaseLicenseHttp",
        "UpdateLicenseHttp",
        "GetLatestVersionHttp",
        "NoSuchMethod",
    ]);
    let names = prop::sample::select(vec![
        "is_avkey",
        "is_pcid",
        "is_pckey",
        "is_vendor",
        "is_user",
        "is_pwd",
        "is_productid",
        "is_quantity",
        "is_features",
        "is_pp",
        "is_expdate",
        "is_format",
        "IS_AVKEY",
        "x",
        "",
    ]);
    let value = prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| {
        bytes
            .iter()
            .map(|b| match b % 4 {
                0 => format!("%{b:02X}"),
                1 => (b'a' + b % 26).to_string(),
                2 => ["&", "=", "+", "%", "%zz", ";", "::", "||"][(*b % 8) as usize].to_string(),
                _ => ((b % 10) + b'0').to_string(),
            })
            .collect::<String>()
    });
    let query = prop::collection::vec((names, value), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    let body = prop::collection::vec(any::<u8>(), 0..300);
    let header_pad = 0usize..12_000;
    (methods.prop_map(str::to_string), query, body, header_pad)
}

#[test]
fn random_queries_bodies_and_header_sizes_never_crash_and_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=3");
    d.activate(&key, "PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    let statuses: Mutex<HashMap<u16, usize>> = Mutex::default();
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((method, query, body, pad) in arbitrary_request())| {
        let request = [
            format!(
                "POST /qlmservice.asmx/{method}?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Pad: {}\r\nContent-Length: {}\r\n\r\n",
                "p".repeat(pad),
                body.len()
            )
            .into_bytes(),
            body,
        ]
        .concat();
        let reply = send_raw(d.addr, &request);
        *statuses.lock().unwrap().entry(reply.status).or_default() += 1;
        prop_assert!(reply.status < 500, "status {} for {method}?{query}", reply.status);
        if reply.status == 200 {
            // Only PingHttp and GetLatestVersionHttp can succeed without valid arguments.
            let harmless = method == "PingHttp" || method == "GetLatestVersionHttp" || method == "ValidateLicenseHttp";
            prop_assert!(reply.error_code().is_some() || harmless, "{method}?{query}: {}", reply.body);
        }
    });
    eprintln!("statuses: {:?}", statuses.lock().unwrap());
    assert_eq!(
        d.license_snapshot(&key),
        before,
        "random requests changed the licence"
    );
    d.call("PingHttp", "").expect_ok();
}
