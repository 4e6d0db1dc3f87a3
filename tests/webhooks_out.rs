//! Outbound events (issue 17, "Events licd sends"): a real HTTP receiver on loopback that
//! checks both signatures of every POST gets an event for each change, once, in order; a
//! receiver down for a while gets everything when it is back; a kill -9 between the change
//! and its delivery loses nothing; a failing endpoint is backed off, goes dead after
//! 1 + webHookMaxRetries attempts, stays listed, and holds up no other endpoint;
//! `licd webhooks list|retry|drop`; off means nothing is sent; a bad `[webhooks]` is a
//! check-config error.

use std::collections::HashSet;
use std::time::Duration;

use crate::util::{
    TestConfig, TestDaemon, VENDOR, WEBHOOK_SECRET, WebhookReceiver, cli_fails, cli_ok, licd_cmd,
};

/// Every event licd sends.
const ALL: &[&str] = &[
    "license_created",
    "license_activated",
    "license_released",
    "license_modified",
    "license_deleted",
    "customer_created",
    "customer_modified",
    "customer_deleted",
];

/// `[webhooks]` on, retrying after 1 s (then 2 s, 4 s …), dead after 1 + `max_retries`
/// failures, with one endpoint per `(url, events)`.
fn webhooks_section(endpoints: &[(String, &[&str])], max_retries: u32) -> String {
    let mut s = format!(
        "\n[webhooks]\nwebHooksEnabled = true\nwebHookSecretKey = \"{WEBHOOK_SECRET}\"\n\
         webHookRetryInterval = 1\nwebHookMaxRetries = {max_retries}\n"
    );
    for (url, events) in endpoints {
        let names: Vec<String> = events.iter().map(|e| format!("\"{e}\"")).collect();
        s.push_str(&format!(
            "\n[[webhooks.endpoint]]\nurl = \"{url}\"\nevents = [{}]\n",
            names.join(", ")
        ));
    }
    s
}

/// The demo configuration sending every event to `receiver`.
fn config_for(receiver: &WebhookReceiver) -> TestConfig {
    TestConfig::demo()
        .options("updateExistingUserInformation = true")
        .append(&webhooks_section(&[(receiver.url(), ALL)], 5))
}

/// The outbox as `licd webhooks list --json` prints it.
fn outbox(d: &TestDaemon) -> Vec<serde_json::Value> {
    cli_ok(d.cli(&["webhooks", "list", "--json"]))
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
    let deadline = std::time::Instant::now() + limit;
    loop {
        let listed = outbox(d);
        if done(&listed) || std::time::Instant::now() > deadline {
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

/// A key made for `email` (creates its customer).
fn key_for(d: &TestDaemon, email: &str) -> String {
    d.create_key(&format!("is_email={}", email.replace('@', "%40")))
}

/// The changes of one licence's life: create (with a new customer), activate, release,
/// revoke, a customer update, delete the key, erase the customer; returns the key.
fn one_life(d: &TestDaemon, email: &str) -> String {
    let key = key_for(d, email);
    d.activate(&key, "PC-A").expect_ok();
    d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={key}&{VENDOR}&is_pcid=PC-A"),
    )
    .expect_ok();
    d.call(
        "RevokeLicenseHttp",
        &format!("is_avkey={key}&{VENDOR}&is_revoke=true"),
    )
    .expect_ok();
    d.post_form(
        &format!("/qlmservice.asmx/UpdateUserInformation?{VENDOR}&is_avkey={key}"),
        &format!("Email={}&FullName=Ann+Smith", email.replace('@', "%40")),
    )
    .expect_ok();
    cli_ok(d.cli(&["keys", "delete", &key]));
    cli_ok(d.cli(&["customers", "delete", email]));
    key
}

/// The event sequence of [`one_life`].
const LIFE: &[&str] = &[
    "customer_created",
    "license_created",
    "license_activated",
    "license_released",
    "license_modified",
    "customer_modified",
    "license_deleted",
    "customer_deleted",
];

fn names(bodies: &[serde_json::Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn every_change_sends_its_event_signed_with_both_signatures_in_order_with_the_licence_or_customer()
{
    let receiver = WebhookReceiver::start();
    let d = TestDaemon::start(&config_for(&receiver));
    let key = one_life(&d, "ann@example.com");
    let got = receiver.wait_delivered(LIFE.len(), Duration::from_secs(20));
    assert_eq!(names(&got), LIFE, "log:\n{}", d.logs());
    // Only verified requests count as delivered: none was refused for a bad signature.
    assert!(
        receiver.received().iter().all(|r| r.verified),
        "{:?}",
        receiver.received()
    );
    let ids: HashSet<&str> = got.iter().filter_map(|b| b["id"].as_str()).collect();
    assert_eq!(ids.len(), LIFE.len(), "each event has its own id: {got:?}");
    for b in &got {
        let time = b["time"].as_str().expect("a time");
        assert_eq!(time.len(), 19, "{time}");
        assert_eq!(&time[4..5], "-");
        assert_eq!(&time[10..11], " ");
        assert!(chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").is_ok());
    }
    let licence = |i: usize| &got[i]["license"];
    assert_eq!(licence(1)["activationKey"], key.as_str());
    assert_eq!(licence(1)["userEmail"], "ann@example.com");
    assert_eq!(licence(1)["productID"], 1);
    assert_eq!(
        licence(4)["revoked"],
        true,
        "license_modified: the revocation"
    );
    assert_eq!(licence(6)["activationKey"], key.as_str());
    assert_eq!(got[0]["customer"]["email"], "ann@example.com");
    assert_eq!(got[5]["customer"]["fullName"], "Ann Smith");
    assert_eq!(got[7]["customer"]["email"], "ann@example.com");
    assert!(got[0].get("license").is_none());
    // Delivered events leave the outbox, and /metrics counts them.
    assert_eq!(
        wait_outbox(&d, Duration::from_secs(5), |o| o.is_empty()),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        counter(&d, "licd_webhook_delivered_total"),
        LIFE.len() as u64
    );
    assert_eq!(counter(&d, "licd_webhook_dead_total"), 0);
}

#[test]
fn an_endpoint_receives_only_the_events_it_subscribes_to() {
    let all = WebhookReceiver::start();
    let some = WebhookReceiver::start();
    let config = TestConfig::demo().append(&webhooks_section(
        &[
            (all.url(), ALL),
            (some.url(), &["license_activated", "customer_deleted"]),
        ],
        5,
    ));
    let d = TestDaemon::start(&config);
    let key = key_for(&d, "bo@example.com");
    d.activate(&key, "PC-A").expect_ok();
    cli_ok(d.cli(&["customers", "delete", "bo@example.com"]));
    let got = all.wait_delivered(5, Duration::from_secs(20));
    // The erasure takes the customer off the licence: a modification of it.
    assert_eq!(
        names(&got),
        [
            "customer_created",
            "license_created",
            "license_activated",
            "license_modified",
            "customer_deleted"
        ]
    );
    assert_eq!(got[3]["license"].get("userEmail"), None);
    let picked = some.wait_delivered(2, Duration::from_secs(10));
    assert_eq!(names(&picked), ["license_activated", "customer_deleted"]);
    // The same event has the same id at every endpoint.
    assert_eq!(picked[0]["id"], got[2]["id"]);
    assert_eq!(picked[1]["id"], got[4]["id"]);
}

#[test]
fn a_receiver_down_for_a_while_gets_every_event_once_and_in_order_when_it_is_back() {
    let mut receiver = WebhookReceiver::start();
    receiver.down();
    let d = TestDaemon::start(&config_for(&receiver));
    one_life(&d, "cy@example.com");
    // Attempts fail while it is down; the events wait in the outbox.
    let waiting = wait_outbox(&d, Duration::from_secs(10), |o| {
        o.first().is_some_and(|e| e["attempts"].as_u64() >= Some(1))
    });
    assert_eq!(waiting.len(), LIFE.len(), "{waiting:?}");
    assert!(
        waiting[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("connect")),
        "{waiting:?}"
    );
    receiver.up();
    let got = receiver.wait_delivered(LIFE.len(), Duration::from_secs(30));
    assert_eq!(names(&got), LIFE, "log:\n{}", d.logs());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.delivered().len(), LIFE.len(), "each event once");
    assert_eq!(outbox(&d), Vec::<serde_json::Value>::new());
    assert!(counter(&d, "licd_webhook_retried_total") >= 1);
}

#[test]
fn a_kill_9_between_the_change_and_its_delivery_loses_no_event() {
    let mut receiver = WebhookReceiver::start();
    receiver.down();
    let d = TestDaemon::start(&config_for(&receiver));
    let key = key_for(&d, "di@example.com");
    d.activate(&key, "PC-A").expect_ok();
    // Acknowledged changes; the events are queued, none delivered.
    assert_eq!(outbox(&d).len(), 3);
    let d = d.crash_and_restart();
    receiver.up();
    let got = receiver.wait_delivered(3, Duration::from_secs(30));
    assert_eq!(
        names(&got),
        ["customer_created", "license_created", "license_activated"],
        "log:\n{}",
        d.logs()
    );
    assert_eq!(got[1]["license"]["activationKey"], key.as_str());
    assert_eq!(
        wait_outbox(&d, Duration::from_secs(5), |o| o.is_empty()),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn a_failing_endpoint_backs_off_goes_dead_after_one_plus_max_retries_attempts_and_holds_up_no_other()
 {
    let failing = WebhookReceiver::start();
    failing.set_status(500);
    let working = WebhookReceiver::start();
    let config = TestConfig::demo().append(&webhooks_section(
        &[(failing.url(), ALL), (working.url(), ALL)],
        2,
    ));
    let d = TestDaemon::start(&config);
    let key = d.create_key("");
    // The working endpoint gets its event while the failing one is retried.
    assert_eq!(
        names(&working.wait_delivered(1, Duration::from_secs(10))),
        ["license_created"]
    );
    // 1 + 2 attempts, after waits of 1 s and 2 s, then dead.
    let attempts = failing.wait_requests(3, Duration::from_secs(20));
    assert_eq!(attempts.len(), 3, "log:\n{}", d.logs());
    let gap = |i: usize| attempts[i].at.duration_since(attempts[i - 1].at);
    assert!(gap(1) >= Duration::from_millis(900), "{:?}", gap(1));
    assert!(gap(2) >= Duration::from_millis(1900), "{:?}", gap(2));
    let listed = wait_outbox(&d, Duration::from_secs(10), |o| {
        o.iter().any(|e| e["state"] == "dead")
    });
    assert_eq!(listed.len(), 1, "{listed:?}");
    let dead = &listed[0];
    assert_eq!(dead["state"], "dead");
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["event"], "license_created");
    assert_eq!(dead["url"], failing.url());
    assert!(
        dead["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{dead:?}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(failing.received().len(), 3, "no attempt after it is dead");
    assert_eq!(counter(&d, "licd_webhook_dead_total"), 1);
    assert_eq!(counter(&d, "licd_webhook_retried_total"), 2);
    // The text listing: id, event, url, attempts, last error on one line.
    let text = cli_ok(d.cli(&["webhooks", "list"]));
    let line = text.lines().next().expect("a line");
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[0], dead["id"].to_string());
    assert_eq!(&fields[1..4], ["license_created", &failing.url(), "3"]);
    assert!(fields[4].contains("500"), "{line}");

    // A dead event holds up none of the endpoint's later events.
    d.activate(&key, "PC-A").expect_ok();
    assert_eq!(
        names(&working.wait_delivered(2, Duration::from_secs(10))),
        ["license_created", "license_activated"]
    );
    failing.set_status(200);
    assert_eq!(
        names(&failing.wait_delivered(1, Duration::from_secs(10))),
        ["license_activated"]
    );
    // Retry sends the dead one once more.
    cli_ok(d.cli(&["webhooks", "retry", "--all"]));
    let got = failing.wait_delivered(2, Duration::from_secs(10));
    assert_eq!(names(&got), ["license_activated", "license_created"]);
    assert_eq!(
        wait_outbox(&d, Duration::from_secs(5), |o| o.is_empty()),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn drop_removes_an_event_unsent_and_retry_or_drop_of_an_unknown_id_fails() {
    let failing = WebhookReceiver::start();
    failing.set_status(503);
    let config = TestConfig::demo().append(&webhooks_section(&[(failing.url(), ALL)], 0));
    let d = TestDaemon::start(&config);
    d.create_key("");
    let listed = wait_outbox(&d, Duration::from_secs(10), |o| {
        o.iter().any(|e| e["state"] == "dead")
    });
    assert_eq!(listed.len(), 1, "dead after one attempt: {listed:?}");
    let id = listed[0]["id"].to_string();
    cli_ok(d.cli(&["webhooks", "drop", &id]));
    assert_eq!(outbox(&d), Vec::<serde_json::Value>::new());
    let err = cli_fails(d.cli(&["webhooks", "retry", &id]));
    assert!(err.contains(&format!("no event {id}")), "{err}");
    cli_fails(d.cli(&["webhooks", "drop", &id]));
    assert_eq!(failing.received().len(), 1);
}

#[test]
fn with_webhooks_off_no_event_is_queued_or_sent() {
    let receiver = WebhookReceiver::start();
    let section = webhooks_section(&[(receiver.url(), ALL)], 5)
        .replace("webHooksEnabled = true", "webHooksEnabled = false");
    let d = TestDaemon::start(
        &TestConfig::demo()
            .options("updateExistingUserInformation = true")
            .append(&section),
    );
    one_life(&d, "ed@example.com");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(outbox(&d), Vec::<serde_json::Value>::new());
    assert!(receiver.received().is_empty());
}

#[test]
fn keys_delete_removes_the_licence_keeps_its_history_and_frees_its_order() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_orderid=ORD-9");
    d.activate(&key, "PC-A").expect_ok();
    cli_ok(d.cli(&["keys", "delete", &key]));
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-A"),
    )
    .expect_error(203);
    let err = cli_fails(d.cli(&["keys", "delete", &key]));
    assert!(err.contains("no licence"), "{err}");
    // The history it leaves behind is no inconsistency.
    let checked = cli_ok(d.cli(&["check"]));
    assert!(!checked.contains("missing licence"), "{checked}");
    // The order can be fulfilled afresh, with a new key.
    let again = d.create_key("is_orderid=ORD-9");
    assert_ne!(again, key);
}

#[test]
fn check_config_names_an_unknown_event_a_bad_url_and_a_missing_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("licd.toml");
    let bad = TestConfig::demo().append(
        "\n[webhooks]\nwebHooksEnabled = true\n\n[[webhooks.endpoint]]\nurl = \"ftp://crm\"\n\
         events = [\"license_created\", \"licence_changed\"]\n",
    );
    std::fs::write(&path, bad.to_toml()).expect("write");
    let err = cli_fails(licd_cmd(
        &["check-config", "--config", path.to_str().expect("utf-8")],
        None,
        dir.path(),
    ));
    assert!(err.contains("`licence_changed`"), "{err}");
    assert!(err.contains("ftp://crm"), "{err}");
    assert!(err.contains("webHookSecretKey"), "{err}");
    // A good section passes, and its secret is never printed.
    let good = TestConfig::demo().append(&webhooks_section(
        &[("https://crm.example.com/licd".into(), ALL)],
        5,
    ));
    std::fs::write(&path, good.to_toml()).expect("write");
    let (code, out, err) = licd_cmd(
        &["check-config", "--config", path.to_str().expect("utf-8")],
        None,
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(WEBHOOK_SECRET) && !err.contains(WEBHOOK_SECRET));
}

#[test]
fn two_nodes_on_postgresql_send_each_event_once_and_in_order() {
    let Some(url) = crate::postgres::fresh_database() else {
        return;
    };
    let mut receiver = WebhookReceiver::start();
    receiver.down();
    let config = crate::postgres::on_postgres(&url)
        .options("updateExistingUserInformation = true")
        .append(&webhooks_section(&[(receiver.url(), ALL)], 5));
    let a = TestDaemon::start(&config);
    let b = TestDaemon::start(&config);
    // Changes made on both nodes while the receiver is down: both senders find them.
    let key = key_for(&a, "fi@example.com");
    b.activate(&key, "PC-A").expect_ok();
    a.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={key}&{VENDOR}&is_pcid=PC-A"),
    )
    .expect_ok();
    b.activate(&key, "PC-B").expect_ok();
    b.call(
        "RevokeLicenseHttp",
        &format!("is_avkey={key}&{VENDOR}&is_revoke=true"),
    )
    .expect_ok();
    cli_ok(a.cli(&["keys", "delete", &key]));
    let expected = [
        "customer_created",
        "license_created",
        "license_activated",
        "license_released",
        "license_activated",
        "license_modified",
        "license_deleted",
    ];
    receiver.up();
    let got = receiver.wait_delivered(expected.len(), Duration::from_secs(40));
    assert_eq!(names(&got), expected, "logs:\n{}\n{}", a.logs(), b.logs());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        receiver.delivered().len(),
        expected.len(),
        "each event once"
    );
    assert_eq!(
        wait_outbox(&a, Duration::from_secs(5), |o| o.is_empty()),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn a_reload_that_turns_webhooks_on_sends_the_events_of_the_changes_made_from_then_on() {
    let receiver = WebhookReceiver::start();
    let d = TestDaemon::start(&TestConfig::demo());
    let before = d.create_key("");
    d.rewrite_config(&config_for(&receiver).to_toml());
    d.signal(libc::SIGHUP);
    assert!(d.wait_for_log("configuration reloaded"), "{}", d.logs());
    d.activate(&before, "PC-A").expect_ok();
    let got = receiver.wait_delivered(1, Duration::from_secs(10));
    assert_eq!(names(&got), ["license_activated"], "log:\n{}", d.logs());
    assert_eq!(got[0]["license"]["activationKey"], before.as_str());
}

#[test]
fn a_change_made_on_the_stopped_database_is_sent_when_licd_starts() {
    let receiver = WebhookReceiver::start();
    let mut d = TestDaemon::start(&config_for(&receiver));
    let key = d.create_key("");
    receiver.wait_delivered(1, Duration::from_secs(10));
    assert_eq!(d.stop(), Some(0));
    // No daemon: the command opens the database itself, and queues the event there.
    cli_ok(d.cli(&["keys", "delete", &key]));
    assert_eq!(receiver.delivered().len(), 1);
    let d = d.restart_stopped();
    let got = receiver.wait_delivered(2, Duration::from_secs(10));
    assert_eq!(
        names(&got),
        ["license_created", "license_deleted"],
        "log:\n{}",
        d.logs()
    );
}
