//! Durability across restarts (README §6, operations.md Signals): keys, activations and the
//! server secret survive a SIGTERM and a new start on the same data directory; SIGTERM with
//! requests in flight still exits 0 and loses no acknowledged change; the start-up line.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::util::{TestConfig, TestDaemon, VENDOR};

/// Activates (or revalidates) `pcid` on `key` and returns the computer key.
fn activate(d: &TestDaemon, key: &str, pcid: &str) -> String {
    let r = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid={pcid}"),
    );
    r.expect_ok();
    r.get("pckey").expect("pckey")
}

/// One GET that tolerates a daemon going away: `None` when the connection fails or closes
/// before a full reply.
fn try_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.contains("</QuickLicenseManager>").then_some(text)
}

#[test]
fn keys_and_activations_survive_a_restart() {
    let d = TestDaemon::start(&TestConfig::demo());
    let three = d.create_key("is_numberofactivationsperkey=3&is_userdata1=kept");
    let one = d.create_key("is_orderid=ORD-9");
    let idle = d.create_key("");
    let pc1 = activate(&d, &three, "pc-1");
    let pc2 = activate(&d, &three, "pc-2");
    let only = activate(&d, &one, "solo");
    let states: Vec<String> = [&three, &one, &idle]
        .iter()
        .map(|k| d.license_snapshot(k))
        .collect();
    assert!(
        states[0].contains("<availableLicenses>1</availableLicenses>"),
        "{}",
        states[0]
    );

    let d = d.restart();
    for (k, before) in [&three, &one, &idle].iter().zip(&states) {
        assert_eq!(
            &d.license_snapshot(k),
            before,
            "licence {k} changed across restart"
        );
    }
    assert_eq!(
        activate(&d, &three, "pc-1"),
        pc1,
        "same computer key after restart"
    );
    assert_eq!(activate(&d, &three, "pc-2"), pc2);
    assert_eq!(activate(&d, &one, "solo"), only);
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={one}&is_pcid=other"),
    )
    .expect_error(210);
    activate(&d, &three, "pc-3");
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={three}&is_pcid=pc-4"),
    )
    .expect_error(210);
    let again = d.call(
        "GetActivationKey",
        &format!("is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}&is_orderid=ORD-9"),
    );
    assert_eq!(
        again.get("activationKey").as_ref(),
        Some(&one),
        "order id remembered: {}",
        again.body
    );
}

#[test]
fn server_secret_survives_a_restart() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=2");
    let before = activate(&d, &key, "pc-1");
    let activated = d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=pc-2"));
    let before_short = activated.get("pckey").expect("pckey");
    let d = d.restart();
    assert_eq!(activate(&d, &key, "pc-1"), before);
    let after = d.call("ActivateKey", &format!("is_avkey={key}&is_pcid=pc-2"));
    assert_eq!(after.get("pckey"), Some(before_short));
    let d = d.restart();
    assert_eq!(activate(&d, &key, "pc-1"), before, "second restart");
}

#[test]
fn sigterm_with_requests_in_flight_exits_0_and_keeps_acknowledged_changes() {
    let d = TestDaemon::start(&TestConfig::demo());
    let addr = d.addr;
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(10);
                let mut stopped_under_us = false;
                for i in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let path = format!(
                        "/qlmservice.asmx/GetActivationKey?is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}&is_orderid=W{w}-{i}"
                    );
                    let Some(reply) = try_get(addr, &path) else {
                        stopped_under_us = true;
                        break;
                    };
                    if let Some(key) = reply
                        .split("<activationKey>")
                        .nth(1)
                        .and_then(|s| s.split('<').next())
                    {
                        acknowledged.push(key.to_string());
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                assert!(stopped_under_us, "worker {w} still sending after 10 s");
                acknowledged
            })
        })
        .collect();
    // Wait for answers by count, not by time (a loaded CI machine is slow), then a little more
    // so that requests are in flight when the signal comes.
    let waited = Instant::now();
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 4
        && waited.elapsed() < Duration::from_secs(8)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    // `restart` sends SIGTERM while the workers are sending, asserts exit code 0, and starts
    // a new daemon (on another port) on the same data directory.
    let d = d.restart();
    let keys: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    assert!(!keys.is_empty(), "no request was answered before SIGTERM");
    for key in &keys {
        d.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_activate=false"),
        )
        .expect_ok();
    }
}

/// Whether licd logged `licd <version> listening on http://<addr>`. The harness learns the
/// address from that line a moment before it appears in `logs()`, so wait briefly for it.
fn logged_startup_line(d: &TestDaemon) -> bool {
    let line = format!(
        "licd {} listening on http://{}",
        env!("CARGO_PKG_VERSION"),
        d.addr
    );
    for _ in 0..100 {
        if d.logs().lines().any(|l| l.trim_end().ends_with(&line)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn startup_line_names_version_and_bound_address() {
    let d = TestDaemon::start(&TestConfig::demo());
    assert!(logged_startup_line(&d), "{}", d.logs());
    assert!(
        d.addr.ip().is_loopback() && d.addr.port() != 0,
        "{}",
        d.addr
    );
    let d = d.restart();
    assert!(logged_startup_line(&d), "after restart: {}", d.logs());
    d.call("PingHttp", "").expect_ok();
}
