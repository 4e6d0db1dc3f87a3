//! Native TLS (spec config.md `tlsCertFile` / `tlsKeyFile`): licd serves HTTPS on `listen`
//! with TLS 1.2 and 1.3, every path included; SIGHUP puts a renewed certificate in force for
//! new connections and refuses a bad pair, keeping the old one; `check-config` names a bad
//! pair; a handshake that never ends is cut like a slow request.
//!
//! Certificates are made at test time with rcgen (a CA and server certificates it signs);
//! the client is rustls, trusting that CA alone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{
    ServerCert, TestCa, TestConfig, TestDaemon, cli_fails, cli_ok, licd_cmd, path_str, send_tls,
    tls_get,
};

/// A demo daemon serving `cert` from files in its own directory, with extra `[server]` lines.
fn tls_daemon(cert: &ServerCert, files: &Path, server: &[&str]) -> TestDaemon {
    let (cert_path, key_path) = cert.write(files);
    let mut config = TestConfig::demo()
        .server(&format!("tlsCertFile = \"{}\"", path_str(&cert_path)))
        .server(&format!("tlsKeyFile = \"{}\"", path_str(&key_path)));
    for line in server {
        config = config.server(line);
    }
    TestDaemon::start(&config)
}

#[test]
fn https_serves_methods_healthz_and_metrics_with_the_configured_certificate() {
    let ca = TestCa::new();
    let cert = ca.server_cert(1, "licd test server");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&cert, files.path(), &[]);
    assert!(d.logs().contains("listening on https://"), "{}", d.logs());

    let ping = tls_get(d.addr, &ca.cert, "/qlmservice.asmx/PingHttp").unwrap();
    ping.reply.expect_ok();
    assert_eq!(
        ping.peer_cert, cert.der,
        "the configured certificate is served"
    );

    let health = tls_get(d.addr, &ca.cert, "/healthz").unwrap();
    assert_eq!(health.reply.status, 200, "{}", health.reply.body);
    assert_eq!(health.reply.body, "ok\n");
    let metrics = tls_get(d.addr, &ca.cert, "/metrics").unwrap();
    assert_eq!(metrics.reply.status, 200, "{}", metrics.reply.body);
    assert!(
        metrics.reply.body.contains("licd_"),
        "{}",
        metrics.reply.body
    );

    // A licence made and activated over TLS: form bodies travel as over plain HTTP.
    let body = format!(
        "is_productid=1&is_majorversion=1&is_minorversion=0&{}",
        crate::util::VENDOR
    );
    let request = format!(
        "POST /qlmservice.asmx/GetActivationKey HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let created = send_tls(d.addr, &ca.cert, rustls::ALL_VERSIONS, request.as_bytes()).unwrap();
    created.reply.expect_ok();
    assert!(
        created.reply.get("activationKey").is_some(),
        "{}",
        created.reply.body
    );
}

#[test]
fn tls_1_2_and_tls_1_3_both_negotiate() {
    let ca = TestCa::new();
    let cert = ca.server_cert(2, "licd test server");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&cert, files.path(), &[]);
    let ping =
        b"GET /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    for (offered, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let r = send_tls(d.addr, &ca.cert, &[offered], ping).unwrap();
        assert_eq!(r.version, expected);
        r.reply.expect_ok();
    }
    // Both offered: the newest wins.
    let r = send_tls(d.addr, &ca.cert, rustls::ALL_VERSIONS, ping).unwrap();
    assert_eq!(r.version, rustls::ProtocolVersion::TLSv1_3);
}

#[test]
fn plain_http_to_the_tls_port_is_told_to_use_https_and_closed() {
    let ca = TestCa::new();
    let cert = ca.server_cert(3, "licd test server");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&cert, files.path(), &[]);
    let started = Instant::now();
    let r = d.call("PingHttp", "");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("HTTPS"), "{}", r.body);
    assert!(r.error_code().is_none(), "no licence reply in clear text");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once"
    );
    // The port still serves TLS clients.
    tls_get(d.addr, &ca.cert, "/qlmservice.asmx/PingHttp")
        .unwrap()
        .reply
        .expect_ok();
}

#[test]
fn a_client_that_does_not_trust_the_certificate_is_refused_by_its_own_check() {
    let ca = TestCa::new();
    let cert = ca.server_cert(4, "licd test server");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&cert, files.path(), &[]);
    let stranger = TestCa::new();
    let e = match tls_get(d.addr, &stranger.cert, "/healthz") {
        Ok(_) => panic!("a certificate from another CA was accepted"),
        Err(e) => e,
    };
    assert!(e.contains("certificate"), "{e}");
    // The daemon is unharmed by the aborted handshake.
    tls_get(d.addr, &ca.cert, "/healthz").unwrap();
}

#[test]
fn sighup_puts_a_renewed_certificate_in_force_for_new_connections() {
    let ca = TestCa::new();
    let old = ca.server_cert(10, "licd before renewal");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&old, files.path(), &[]);
    assert_eq!(
        tls_get(d.addr, &ca.cert, "/healthz").unwrap().peer_cert,
        old.der
    );

    let renewed = ca.server_cert(11, "licd after renewal");
    renewed.write(files.path());
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("configuration reloaded"), "{}", d.logs());
    assert!(d.logs().contains("changed=true"), "{}", d.logs());
    let seen = tls_get(d.addr, &ca.cert, "/qlmservice.asmx/PingHttp").unwrap();
    seen.reply.expect_ok();
    assert_eq!(
        seen.peer_cert, renewed.der,
        "new connections get the new certificate"
    );
    assert_ne!(renewed.der, old.der);
}

#[test]
fn a_bad_pair_on_reload_is_refused_and_the_old_certificate_keeps_serving() {
    let ca = TestCa::new();
    let good = ca.server_cert(20, "licd good");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&good, files.path(), &[]);
    let key_path = files.path().join("key.pem");

    // The new certificate with the key of yet another one.
    let new = ca.server_cert(21, "licd new");
    let other = ca.server_cert(22, "licd other");
    std::fs::write(files.path().join("cert.pem"), &new.chain_pem).unwrap();
    std::fs::write(&key_path, &other.key_pem).unwrap();
    d.signal(libc::SIGHUP);
    assert!(
        d.wait_for_log("running configuration stays"),
        "{}",
        d.logs()
    );
    let logs = d.logs();
    assert!(
        logs.contains("does not match the certificate") && logs.contains(path_str(&key_path)),
        "the refusal names the problem and the file: {logs}"
    );
    let seen = tls_get(d.addr, &ca.cert, "/qlmservice.asmx/PingHttp").unwrap();
    seen.reply.expect_ok();
    assert_eq!(
        seen.peer_cert, good.der,
        "the old certificate keeps serving"
    );

    // A key file that is not PEM at all: refused the same way.
    std::fs::write(&key_path, "garbage\n").unwrap();
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("holds no PEM private key"), "{}", d.logs());
    assert_eq!(
        tls_get(d.addr, &ca.cert, "/healthz").unwrap().peer_cert,
        good.der
    );

    // Mending the files mends the next reload.
    new.write(files.path());
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("configuration reloaded"), "{}", d.logs());
    assert_eq!(
        tls_get(d.addr, &ca.cert, "/healthz").unwrap().peer_cert,
        new.der
    );
}

#[test]
fn check_config_names_a_mismatched_or_unsafe_pair_and_passes_a_good_one() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let good = ca.server_cert(30, "licd");
    let (cert_path, key_path) = good.write(dir.path());
    let config_path = dir.path().join("licd.toml");
    let write_config = |cert: &str, key: &str| {
        let text = format!("[server]\ntlsCertFile = \"{cert}\"\ntlsKeyFile = \"{key}\"\n");
        std::fs::write(&config_path, text).unwrap();
    };
    let check = || {
        licd_cmd(
            &["check-config", "--config", path_str(&config_path)],
            None,
            dir.path(),
        )
    };

    // Relative paths resolve against the configuration file's directory.
    write_config("cert.pem", "key.pem");
    cli_ok(check());

    let stranger = ca.server_cert(31, "someone else");
    std::fs::write(dir.path().join("other.key"), &stranger.key_pem).unwrap();
    write_config(path_str(&cert_path), "other.key");
    let err = cli_fails(check());
    assert!(
        err.contains("tlsKeyFile")
            && err.contains("does not match the certificate")
            && err.contains("other.key")
            && err.contains(path_str(&cert_path)),
        "{err}"
    );

    write_config("missing.pem", "key.pem");
    let err = cli_fails(check());
    assert!(
        err.contains("tlsCertFile") && err.contains("missing.pem"),
        "{err}"
    );

    // A key others may change is refused, as secret files are; one all may read is a warning.
    use std::os::unix::fs::PermissionsExt;
    write_config("cert.pem", "key.pem");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o620)).unwrap();
    let err = cli_fails(check());
    assert!(
        err.contains("tlsKeyFile") && err.contains("writable"),
        "{err}"
    );
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = check();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning") && err.contains("readable by everyone"),
        "{err}"
    );

    // One without the other.
    std::fs::write(&config_path, "[server]\ntlsCertFile = \"cert.pem\"\n").unwrap();
    let err = cli_fails(check());
    assert!(err.contains("`tlsKeyFile` is not"), "{err}");
}

#[test]
fn tls_does_not_lift_the_demo_password_refusal_off_loopback() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    ca.server_cert(40, "licd").write(dir.path());
    let config_path = dir.path().join("licd.toml");
    let text = format!(
        "[server]\nlisten = \"0.0.0.0:8443\"\ntlsCertFile = \"cert.pem\"\ntlsKeyFile = \"key.pem\"\n\n{}",
        "[[vendor]]\nname = \"QlmAuthenticationProvider\"\nuser = \"demo\"\npassword = \"demo\"\n"
    );
    std::fs::write(&config_path, text).unwrap();
    let err = cli_fails(licd_cmd(
        &["check-config", "--config", path_str(&config_path)],
        None,
        dir.path(),
    ));
    assert!(err.contains("password \"demo\""), "{err}");
}

/// Whether the server closed `stream` within `within`, and when.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return None;
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}

#[test]
fn stalled_tls_handshakes_are_cut_at_header_read_timeout_and_do_not_hold_slots() {
    let ca = TestCa::new();
    let cert = ca.server_cert(50, "licd test server");
    let files = tempfile::tempdir().unwrap();
    // Every slot taken by a stalled handshake: without a handshake deadline the next client
    // would never be served.
    let d = tls_daemon(
        &cert,
        files.path(),
        &["headerReadTimeoutMs = 1000", "maxConnections = 4"],
    );
    let opened = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..4)
        .map(|i| {
            let mut s = TcpStream::connect(d.addr).unwrap();
            if i % 2 == 0 {
                // The start of a TLS record, then nothing.
                s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            }
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let r = tls_get(d.addr, &ca.cert, "/qlmservice.asmx/PingHttp").unwrap();
    r.reply.expect_ok();
    let waited = opened.elapsed();
    eprintln!("the TLS client past a cap held by stalled handshakes was answered after {waited:?}");
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
        "the client past the cap was served when a stalled handshake was cut ({waited:?})"
    );
    for s in &mut stalled {
        assert!(
            closed_within(s, Duration::from_secs(3)).is_some(),
            "a stalled handshake was not cut"
        );
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(800),
        "cut too early"
    );
}

#[test]
fn a_slow_request_body_over_tls_gets_408_at_the_deadline() {
    let ca = TestCa::new();
    let cert = ca.server_cert(60, "licd test server");
    let files = tempfile::tempdir().unwrap();
    let d = tls_daemon(&cert, files.path(), &["headerReadTimeoutMs = 1000"]);
    let started = Instant::now();
    // Content-Length promises 100 bytes; 10 are sent.
    let r = send_tls(
        d.addr,
        &ca.cert,
        rustls::ALL_VERSIONS,
        b"POST /qlmservice.asmx/PingHttp HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nis_format=",
    )
    .unwrap();
    let waited = started.elapsed();
    assert_eq!(r.reply.status, 408, "{}", r.reply.body);
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}
