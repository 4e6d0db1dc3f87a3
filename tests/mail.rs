//! Mail delivery through a real SMTP server on loopback (aiosmtpd): the outbox, the sender
//! task's retries and backoff, what survives a restart or a kill -9, the metrics, and
//! `licd mail list|retry|drop|test`.

use std::time::{Duration, Instant};

use crate::util::{SmtpServer, TestConfig, TestDaemon, cli_fails, cli_ok, mail_body, mail_header};

/// A demo configuration sending to `smtp`.
fn config_for(smtp: &SmtpServer) -> TestConfig {
    TestConfig::demo().append(&smtp.mail_section())
}

/// The outbox as `licd mail list --json` prints it.
fn outbox(d: &TestDaemon) -> Vec<serde_json::Value> {
    cli_ok(d.cli(&["mail", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Waits until the outbox satisfies `done` (at most `limit`); returns the last listing.
fn wait_outbox(
    d: &TestDaemon,
    limit: Duration,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + limit;
    loop {
        let listed = outbox(d);
        if done(&listed) || Instant::now() > deadline {
            return listed;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A counter's value in `/metrics`.
fn counter(d: &TestDaemon, name: &str) -> u64 {
    let r = d.get("/metrics");
    r.body
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{}", r.body))
        .trim()
        .parse()
        .expect("a number")
}

/// Queues the test mail to `to`; returns its outbox id.
fn queue_test_mail(d: &TestDaemon, to: &str) -> i64 {
    let out = cli_ok(d.cli(&["mail", "test", "--to", to]));
    out.split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no id in {out:?}"))
}

#[test]
fn a_test_mail_is_delivered_through_a_real_smtp_server_and_leaves_the_outbox() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let d = TestDaemon::start(&config_for(&smtp));
    let id = queue_test_mail(&d, "ann@example.com");
    let messages = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(
        messages.len(),
        1,
        "one delivered message; log:\n{}",
        d.logs()
    );
    let m = &messages[0];
    assert_eq!(
        mail_header(m, "X-Envelope-To").as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(mail_header(m, "To").as_deref(), Some("ann@example.com"));
    assert_eq!(
        mail_header(m, "From").as_deref(),
        Some("Licences <licences@vendor.example>")
    );
    let subject = mail_header(m, "Subject").expect("a subject");
    assert!(subject.starts_with("licd test mail from "), "{subject}");
    assert!(
        mail_body(m).contains("sent by `licd mail test` to ann@example.com"),
        "{m}"
    );
    let message_id = mail_header(m, "Message-ID").expect("a Message-ID");
    assert!(
        message_id.ends_with(&format!(".{id}@vendor.example>")),
        "the Message-ID names the outbox row: {message_id}"
    );
    assert!(
        wait_outbox(&d, Duration::from_secs(5), <[_]>::is_empty).is_empty(),
        "a delivered mail leaves the outbox"
    );
    assert_eq!(counter(&d, "licd_mail_sent_total"), 1);
    assert_eq!(counter(&d, "licd_mail_failed_total"), 0);
    assert!(
        !d.logs().contains("ann@example.com"),
        "the recipient is not logged:\n{}",
        d.logs()
    );
}

#[test]
fn mail_queued_while_smtp_is_down_arrives_exactly_once_after_licd_and_smtp_restart() {
    let Some(mut smtp) = SmtpServer::stopped() else {
        return;
    };
    let d = TestDaemon::start(&config_for(&smtp));
    let id = queue_test_mail(&d, "bob@example.com");
    let listed = wait_outbox(&d, Duration::from_secs(10), |l| {
        l.first().is_some_and(|m| m["attempts"].as_u64() >= Some(1))
    });
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"].as_i64(), Some(id));
    assert_eq!(listed[0]["to"], "bob@example.com");
    assert_eq!(listed[0]["template"], "Test");
    assert!(listed[0]["lastError"].is_string(), "{listed:?}");
    assert!(listed[0].get("body").is_none(), "bodies are never listed");
    assert!(counter(&d, "licd_mail_failed_total") >= 1);
    assert_eq!(counter(&d, "licd_mail_sent_total"), 0);

    // licd stops while the server is down, then both come back.
    let mut d = d;
    assert_eq!(d.stop(), Some(0));
    smtp.start();
    let d = d.restart_stopped();
    let messages = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(
        messages.len(),
        1,
        "delivered after the restart; log:\n{}",
        d.logs()
    );
    assert!(wait_outbox(&d, Duration::from_secs(5), <[_]>::is_empty).is_empty());
    // Nothing comes a second time.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(smtp.messages().len(), 1, "exactly once");
    assert_eq!(counter(&d, "licd_mail_sent_total"), 1);
    assert_eq!(counter(&d, "licd_mail_retried_total"), 1);
}

#[test]
fn the_first_retry_after_an_smtp_outage_comes_within_five_seconds_without_a_restart() {
    let Some(mut smtp) = SmtpServer::stopped() else {
        return;
    };
    let d = TestDaemon::start(&config_for(&smtp));
    queue_test_mail(&d, "cy@example.com");
    let listed = wait_outbox(&d, Duration::from_secs(10), |l| {
        l.first().is_some_and(|m| m["attempts"].as_u64() >= Some(1))
    });
    assert_eq!(listed[0]["state"], "waiting", "{listed:?}");
    let started = Instant::now();
    smtp.start();
    let messages = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(messages.len(), 1, "log:\n{}", d.logs());
    // The first retry comes ≤ 5 s after the failure; the server came up after it.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "delivered {:?} after the server came back",
        started.elapsed()
    );
}

#[test]
fn mail_queued_before_a_kill_9_is_delivered_once_when_licd_comes_back() {
    // On PostgreSQL a claim of the killed node waits out its 120 s lease (docs/mail.md),
    // since another node may hold it; tests/postgres.rs covers the shared outbox.
    if crate::util::redb_only_test() {
        return;
    }
    let Some(mut smtp) = SmtpServer::stopped() else {
        return;
    };
    let d = TestDaemon::start(&config_for(&smtp));
    queue_test_mail(&d, "dee@example.com");
    queue_test_mail(&d, "eve@example.com");
    // Killed at once: a mail may be held by the sender's claim at that moment.
    let d = d.crash_and_restart();
    assert_eq!(outbox(&d).len(), 2, "nothing queued is lost to a kill -9");
    smtp.start();
    let messages = smtp.wait_for(2, Duration::from_secs(20));
    assert_eq!(messages.len(), 2, "log:\n{}", d.logs());
    let mut to: Vec<String> = messages
        .iter()
        .filter_map(|m| mail_header(m, "To"))
        .collect();
    to.sort();
    assert_eq!(to, ["dee@example.com", "eve@example.com"]);
    assert!(wait_outbox(&d, Duration::from_secs(5), <[_]>::is_empty).is_empty());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(smtp.messages().len(), 2, "each exactly once");
}

#[test]
fn a_mail_refused_for_good_is_parked_until_licd_mail_retry_or_drop() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let d = TestDaemon::start(&config_for(&smtp));
    let id = queue_test_mail(&d, "nobody@refused.example");
    let listed = wait_outbox(&d, Duration::from_secs(10), |l| {
        l.first().is_some_and(|m| m["state"] == "parked")
    });
    assert_eq!(listed[0]["state"], "parked", "{listed:?}");
    assert_eq!(listed[0]["attempts"], 1);
    assert!(
        listed[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("550")),
        "{listed:?}"
    );
    assert!(listed[0]["nextTryAt"].is_null());
    // Parked: not tried again on its own.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(outbox(&d)[0]["attempts"], 1);

    let out = cli_ok(d.cli(&["mail", "retry", &id.to_string()]));
    assert!(out.contains("due now"), "{out}");
    let listed = wait_outbox(&d, Duration::from_secs(10), |l| {
        l.first().is_some_and(|m| m["attempts"] == 2)
    });
    assert_eq!(
        listed[0]["state"], "parked",
        "tried once more, refused again"
    );
    assert_eq!(counter(&d, "licd_mail_failed_total"), 2);
    assert_eq!(counter(&d, "licd_mail_retried_total"), 1);

    let out = cli_ok(d.cli(&["mail", "drop", &id.to_string()]));
    assert!(out.contains("dropped"), "{out}");
    assert!(outbox(&d).is_empty());
    assert!(smtp.messages().is_empty());
}

#[test]
fn a_transient_smtp_refusal_is_retried_with_backoff_not_parked() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let d = TestDaemon::start(&config_for(&smtp));
    queue_test_mail(&d, "later@later.example");
    let listed = wait_outbox(&d, Duration::from_secs(20), |l| {
        l.first().is_some_and(|m| m["attempts"].as_u64() >= Some(2))
    });
    assert_eq!(listed[0]["state"], "waiting", "{listed:?}");
    assert!(
        listed[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("451")),
        "{listed:?}"
    );
    assert!(counter(&d, "licd_mail_retried_total") >= 1);
}

#[test]
fn licd_mail_retry_and_drop_refuse_an_unknown_or_malformed_id_and_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let id = queue_test_mail(&d, "fay@example.com");
    let before = outbox(&d);
    let err = cli_fails(d.cli(&["mail", "retry", "999"]));
    assert!(err.contains("no mail 999"), "{err}");
    let err = cli_fails(d.cli(&["mail", "drop", "999"]));
    assert!(err.contains("no mail 999"), "{err}");
    let err = cli_fails(d.cli(&["mail", "retry", "abc"]));
    assert!(err.contains("not a mail id"), "{err}");
    let err = cli_fails(d.cli(&["mail", "test", "--to", "not an address"]));
    assert!(err.contains("not a mail address"), "{err}");
    let after = outbox(&d);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"].as_i64(), Some(id));
    assert_eq!(before[0]["attempts"], after[0]["attempts"]);
}

#[test]
fn without_an_smtp_server_mail_waits_in_the_outbox_and_says_so() {
    let d = TestDaemon::start(&TestConfig::demo());
    let out = cli_ok(d.cli(&["mail", "test", "--to", "gus@example.com"]));
    assert!(out.contains("smtpServer is not set"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    let listed = outbox(&d);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["attempts"], 0, "never tried");
    assert_eq!(listed[0]["state"], "due");
    assert!(d.wait_for_log("mail waits in the outbox"), "{}", d.logs());
}

#[test]
fn licd_mail_works_on_a_stopped_database_and_the_mail_goes_out_at_start() {
    let Some(smtp) = SmtpServer::running() else {
        return;
    };
    let mut d = TestDaemon::start(&config_for(&smtp));
    assert_eq!(d.stop(), Some(0));
    let out = cli_ok(d.cli(&["mail", "test", "--to", "hal@example.com"]));
    assert!(out.contains("sent when licd starts"), "{out}");
    assert_eq!(outbox(&d).len(), 1);
    let d = d.restart_stopped();
    assert_eq!(
        smtp.wait_for(1, Duration::from_secs(20)).len(),
        1,
        "{}",
        d.logs()
    );
}

#[test]
fn mail_settings_that_cannot_work_are_refused_at_start_with_the_reason() {
    let config = TestConfig::demo().append(
        "[mail]\nsmtpServer = \"smtp.example.com\"\nsmtpSecurity = \"none\"\n\
         from = \"licences@vendor.example\"\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("licd.toml");
    std::fs::write(&path, config.to_toml()).expect("write");
    let err = cli_fails(crate::util::licd_cmd(
        &["check-config", "--config", path.to_str().expect("utf-8")],
        None,
        dir.path(),
    ));
    assert!(err.contains("only to a server on this machine"), "{err}");
}
