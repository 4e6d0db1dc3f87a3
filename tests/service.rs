//! licd as a system service (operations.md, Signals and systemd; config.md, Reload): real
//! signals to the real daemon, systemd notifications on a fake `NOTIFY_SOCKET`, `/healthz`
//! and `/metrics`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::util::{TestConfig, TestDaemon, VENDOR, send_raw};

fn create_key(d: &TestDaemon) -> crate::util::HttpReply {
    d.call(
        "GetActivationKey",
        &format!("is_productid=1&is_majorversion=1&is_minorversion=0&{VENDOR}"),
    )
}

#[test]
fn reload_puts_a_flipped_property_in_force_without_restart() {
    let config = TestConfig::demo().security("enableGetActivationKey = true");
    let d = TestDaemon::start(&config);
    create_key(&d).expect_ok();
    d.rewrite_config(
        &TestConfig::demo()
            .security("enableGetActivationKey = false")
            .to_toml(),
    );
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("configuration reloaded"), "{}", d.logs());
    create_key(&d).expect_error(7);
    assert_eq!(
        d.logs().matches("listening on http://").count(),
        1,
        "no restart: {}",
        d.logs()
    );
}

#[test]
fn reload_of_a_broken_file_keeps_the_running_configuration_and_the_server_answers() {
    let d = TestDaemon::start(&TestConfig::demo());
    d.rewrite_config("[server\nlisten = 1\n");
    d.signal(libc::SIGHUP);
    assert!(
        d.wait_for_log("configuration reload refused; the running configuration stays"),
        "{}",
        d.logs()
    );
    assert!(
        d.logs().contains("licd.toml:1"),
        "the reason names the file and line: {}",
        d.logs()
    );
    d.call("PingHttp", "").expect_ok();
    create_key(&d).expect_ok();
    // A file that parses but breaks a rule is refused the same way.
    d.rewrite_config(&TestConfig::demo().server("maxArgs = 0").to_toml());
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("maxArgs"), "{}", d.logs());
    assert!(!d.logs().contains("configuration reloaded"), "{}", d.logs());
    create_key(&d).expect_ok();
}

#[test]
fn reload_warns_about_settings_that_need_a_restart_and_applies_the_rest() {
    let d = TestDaemon::start(&TestConfig::demo().server("cacheSizeMiB = 16"));
    d.rewrite_config(
        &TestConfig::demo()
            .server("cacheSizeMiB = 32")
            .security("enableGetActivationKey = false")
            .to_toml(),
    );
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("configuration reloaded"), "{}", d.logs());
    let logs = d.logs();
    let warning = logs
        .lines()
        .find(|l| l.contains("need a restart"))
        .unwrap_or_else(|| panic!("no restart warning: {logs}"));
    assert!(warning.contains("server.cacheSizeMiB"), "{warning}");
    assert!(
        !warning.contains("server.listen"),
        "--listen still wins: {warning}"
    );
    create_key(&d).expect_error(7);
}

#[test]
fn reload_changes_the_log_level_and_format() {
    let d = TestDaemon::start(&TestConfig::demo());
    d.call("PingHttp", "").expect_ok();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !d.logs().contains("DEBUG"),
        "info level at start: {}",
        d.logs()
    );
    d.rewrite_config(
        &TestConfig::demo()
            .server("logLevel = \"debug\"")
            .server("logFormat = \"json\"")
            .to_toml(),
    );
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("configuration reloaded"), "{}", d.logs());
    d.call("PingHttp", "").expect_ok();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = d.logs();
        let debug_json = logs
            .lines()
            .any(|l| l.starts_with('{') && l.contains("\"DEBUG\"") && l.contains("PingHttp"));
        if debug_json {
            break;
        }
        assert!(Instant::now() < deadline, "no JSON debug line: {logs}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends the head and the first bytes of a POST whose body is `body`, leaving the rest
/// unsent: a request the server has begun and cannot finish until the client goes on.
fn begin_slow_request(d: &TestDaemon, body: &str, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(d.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        d.addr,
        body.len(),
        &body[..sent]
    );
    s.write_all(head.as_bytes()).expect("write");
    // Let hyper read the head and hand the request to the router.
    std::thread::sleep(Duration::from_millis(300));
    s
}

#[test]
fn sigterm_lets_a_slow_request_finish_refuses_new_connections_and_exits_0() {
    let mut d = TestDaemon::start(&TestConfig::demo().server("shutdownGraceSeconds = 10"));
    let body = "is_format=xml";
    let mut slow = begin_slow_request(&d, body, 4);
    d.signal(libc::SIGTERM);
    assert!(d.wait_for_log("shutting down"), "{}", d.logs());
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(d.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    slow.write_all(&body.as_bytes()[4..]).expect("rest of body");
    let mut reply = String::new();
    slow.read_to_string(&mut reply).expect("reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("</QuickLicenseManager>"), "{reply}");
    assert_eq!(
        d.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        d.logs()
    );
    assert!(d.logs().contains("licd stopped"), "{}", d.logs());
}

#[test]
fn a_second_stop_signal_exits_at_once() {
    let mut d = TestDaemon::start(&TestConfig::demo().server("shutdownGraceSeconds = 60"));
    let _slow = begin_slow_request(&d, "is_format=xml", 4);
    d.signal(libc::SIGTERM);
    assert!(d.wait_for_log("shutting down"), "{}", d.logs());
    let sent = Instant::now();
    d.signal(libc::SIGINT);
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(1));
    assert!(sent.elapsed() < Duration::from_secs(5));
}

/// Reads datagrams from `socket` until one contains `needle` (or panics after 10 s);
/// returns every message read, in order.
fn read_until(socket: &UnixDatagram, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} notification; got {seen:?}"
        );
        if let Ok(n) = socket.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            seen.push(msg.clone());
            if msg.contains(needle) {
                return msg;
            }
        }
    }
}

#[test]
fn systemd_hears_ready_reloading_watchdog_and_stopping_on_notify_socket() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let notify = path.to_str().expect("utf-8");
    // A watchdog every 0.5 s: pings at half of it.
    let mut d = TestDaemon::start_with_env(
        &TestConfig::demo(),
        &[("NOTIFY_SOCKET", notify), ("WATCHDOG_USEC", "500000")],
    );
    let mut seen = Vec::new();
    let ready = read_until(&socket, "READY=1", &mut seen);
    assert!(
        ready.contains(&format!("STATUS=serving on http://{}", d.addr)),
        "{ready}"
    );
    // What the start waits on: the redb file, or the PostgreSQL server the harness named.
    let opening = if crate::util::on_postgres() {
        "STATUS=connecting to PostgreSQL at 127.0.0.1:"
    } else {
        "STATUS=opening the database"
    };
    assert!(seen.iter().any(|m| m.contains(opening)), "{seen:?}");
    read_until(&socket, "WATCHDOG=1", &mut seen);
    read_until(&socket, "WATCHDOG=1", &mut seen);

    d.signal(libc::SIGHUP);
    let reloading = read_until(&socket, "RELOADING=1", &mut seen);
    let usec: u64 = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC: {reloading}"))
        .parse()
        .expect("number");
    assert!(usec > 0);
    read_until(&socket, "READY=1", &mut seen);

    d.signal(libc::SIGTERM);
    read_until(&socket, "STOPPING=1", &mut seen);
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_repair_after_a_crash_is_shown_on_the_status_line() {
    if crate::util::redb_only_test() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let d = d.crash_and_restart_with_env(&[("NOTIFY_SOCKET", path.to_str().expect("utf-8"))]);
    let mut seen = Vec::new();
    read_until(&socket, "READY=1", &mut seen);
    assert!(
        seen.iter()
            .any(|m| m.contains("STATUS=repairing the database after an unclean stop")),
        "{seen:?}"
    );
    assert!(d.logs().contains("do not interrupt"), "{}", d.logs());
    d.license_snapshot(&key);
}

#[test]
fn healthz_answers_ok_while_the_database_and_writer_answer() {
    let d = TestDaemon::start(&TestConfig::demo());
    let r = d.get("/healthz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "ok\n");
}

#[test]
fn metrics_from_loopback_are_prometheus_text_with_the_listed_metrics() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.activate(&key, "pc-1").expect_ok();
    d.call("NoSuchMethod", "").expect_error(5);
    let r = d.get("/metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.headers
    );
    for name in [
        "licd_requests_total",
        "licd_request_duration_seconds",
        "licd_commit_batch_size",
        "licd_commit_duration_seconds",
        "licd_licences_stored",
        "licd_activations_stored",
        "licd_database_size_bytes",
        "licd_plugin_calls_total",
        "licd_open_connections",
    ] {
        assert!(
            r.body.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{}",
            r.body
        );
    }
    for line in [
        "licd_requests_total{method=\"GetActivationKey\",code=\"0\"} 1",
        "licd_requests_total{method=\"ValidateLicenseHttp\",code=\"0\"} 1",
        "licd_requests_total{method=\"unknown\",code=\"5\"} 1",
        "licd_licences_stored 1",
        "licd_activations_stored 1",
    ] {
        assert!(
            r.body.lines().any(|l| l == line),
            "{line} missing:\n{}",
            r.body
        );
    }
    let commits = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("licd_commit_batch_size_count "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("commit count");
    assert!(commits >= 2, "{}", r.body);
}

#[test]
fn metrics_from_an_address_not_allowed_are_refused_with_403() {
    let d = TestDaemon::start(&TestConfig::demo().server("metricsAllowedIPs = [\"10.9.0.0/16\"]"));
    let r = d.get("/metrics");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.body.contains("# TYPE"), "{}", r.body);
    // The same request from a trusted proxy on behalf of an allowed client is served.
    let d = TestDaemon::start(
        &TestConfig::demo()
            .server("metricsAllowedIPs = [\"10.9.0.0/16\"]")
            .server("trustedProxies = [\"127.0.0.1/32\"]"),
    );
    let r = send_raw(
        d.addr,
        format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: 10.9.1.2\r\nConnection: close\r\n\r\n",
            d.addr
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
