//! Webhooks stores push (`QlmWebHookHandler`, docs/webhooks.md): the host's rules, proved
//! with the test plugin's webhook mode (a token header, the body already in the ABI's event
//! lines), so that every rule is seen apart from any store's signature scheme; the store
//! plugins' own tests are in stores.rs.

mod stores;

use crate::plugins::build::plugins;
use crate::util::{HttpReply, TestConfig, TestDaemon, cli_ok};

/// The test plugin in webhook mode as vendor `Hook`, token `t0ken`.
fn hook_vendor() -> String {
    format!(
        "[[plugin]]\nname = \"hook\"\npath = \"{}\"\ntimeoutMs = 1000\n  [plugin.config]\n  mode = \"webhook\"\n  token = \"t0ken\"\n  sleepMs = 3000\n\n[[vendor]]\nname = \"Hook\"\nplugin = \"hook\"\n",
        plugins().test_plugin.display()
    )
}

fn hook_daemon(config: TestConfig) -> TestDaemon {
    TestDaemon::start(&config.append(&hook_vendor()))
}

/// POSTs `body` to `path` with `headers` (each `Name: value`).
pub(crate) fn post(d: &TestDaemon, path: &str, headers: &[String], body: &[u8]) -> HttpReply {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        d.addr,
        body.len()
    )
    .into_bytes();
    for h in headers {
        request.extend_from_slice(h.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    crate::util::send_raw(d.addr, &request)
}

const HOOK: &str = "/qlmservice.asmx/QlmWebHookHandler?is_vendor=Hook";

fn hook(d: &TestDaemon, token: &str, body: &str) -> HttpReply {
    post(
        d,
        HOOK,
        &[format!("X-Test-Token: {token}")],
        body.as_bytes(),
    )
}

/// A purchase event in the ABI's lines: a customer, then a key of product 1 for two
/// computers (one key, `is_quantity` seats), mailed to `email`.
fn purchase(id: &str, email: &str, order: &str) -> String {
    format!(
        "event_id={id}&event_type=purchase\nmethod=UpdateUserInformation&is_email={email}&is_fullname=Ada+Lovelace\nmethod=GetActivationKey&is_productid=1&is_majorversion=1&is_minorversion=0&is_quantity=2&is_email={email}&is_orderid={order}&is_subscriptionid=sub_{order}"
    )
}

/// Every stored licence key, from `licd export`.
fn stored_keys(d: &TestDaemon) -> Vec<String> {
    let out = cli_ok(d.cli(&["export"]));
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|row| row["table"] == "licenses_v1")
        .filter_map(|row| row["key"].as_str().map(str::to_string))
        .collect()
}

/// The outbox, from `licd mail list --json`.
fn outbox(d: &TestDaemon) -> Vec<serde_json::Value> {
    cli_ok(d.cli(&["mail", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn a_purchase_event_creates_the_keys_for_the_buyer_queues_their_mail_and_a_repeat_changes_nothing()
{
    let d = hook_daemon(TestConfig::demo());
    let r = hook(&d, "t0ken", &purchase("evt_1", "ada@example.com", "o1"));
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.all("activationKey");
    assert_eq!(keys.len(), 1, "{}", r.body);
    assert_eq!(r.get("repeated").as_deref(), Some("false"), "{}", r.body);
    assert_eq!(stored_keys(&d).len(), 1);
    let info = d.licence_info(&keys[0]);
    assert!(
        info.body.contains("ada@example.com"),
        "the buyer is the licence's customer: {}",
        info.body
    );
    let mails = outbox(&d);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "ada@example.com");
    assert_eq!(mails[0]["template"], "LicenseKeys");

    let again = hook(&d, "t0ken", &purchase("evt_1", "ada@example.com", "o1"));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.get("repeated").as_deref(), Some("true"));
    assert_eq!(again.all("activationKey"), keys, "the first outcome");
    assert_eq!(stored_keys(&d).len(), 1, "no second effect");
    assert_eq!(outbox(&d).len(), 1, "no second mail");
    assert!(d.wait_for_log("webhook event repeated"), "{}", d.logs());
}

#[test]
fn a_refused_signature_is_401_and_records_nothing_so_the_genuine_event_still_applies() {
    let d = hook_daemon(TestConfig::demo());
    let body = purchase("evt_2", "bob@example.com", "o2");
    let r = hook(&d, "guess", &body);
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.error_code(), Some(8));
    assert!(
        !r.body.contains("X-Test-Token"),
        "the reason stays in the log: {}",
        r.body
    );
    assert!(
        d.wait_for_log("missing or wrong X-Test-Token"),
        "{}",
        d.logs()
    );
    let r = post(&d, HOOK, &[], body.as_bytes());
    assert_eq!(r.status, 401);
    assert!(stored_keys(&d).is_empty());
    assert!(outbox(&d).is_empty());
    let r = hook(&d, "t0ken", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.get("repeated").as_deref(), Some("false"), "{}", r.body);
}

#[test]
fn a_returning_buyer_gets_the_new_order_and_the_stored_customer_stays_as_it_is() {
    let d = hook_daemon(TestConfig::demo().options("updateExistingUserInformation = false"));
    let first = hook(&d, "t0ken", &purchase("evt_b1", "back@example.com", "ob1"));
    assert_eq!(first.status, 200, "{}", first.body);
    let second = purchase("evt_b2", "back@example.com", "ob2").replace("Ada+Lovelace", "Eve");
    let r = hook(&d, "t0ken", &second);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("customer back@example.com updated"),
        "{}",
        r.body
    );
    assert_eq!(stored_keys(&d).len(), 2);
    let info = d.licence_info(&r.all("activationKey")[0]);
    assert!(info.body.contains("Ada Lovelace"), "{}", info.body);
}

#[test]
fn an_event_type_the_plugin_ignores_is_200_and_changes_nothing() {
    let d = hook_daemon(TestConfig::demo());
    let r = hook(&d, "t0ken", "event_id=evt_3&event_type=customer.created");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("ignored"), "{}", r.body);
    assert!(stored_keys(&d).is_empty());
}

#[test]
fn a_webhook_body_may_pass_the_form_limit_up_to_max_webhook_body_bytes_and_past_it_is_413() {
    let d = hook_daemon(TestConfig::demo().server("maxWebhookBodyBytes = 200000"));
    // A large order: 100 KB of line-item detail the plugin reads past.
    let notes = "x".repeat(100_000);
    let body = format!(
        "{}\nmethod=UpdateUserInformation&is_email=big%40example.com&is_notes={}",
        purchase("evt_4", "big@example.com", "o4"),
        &notes[..3000]
    );
    let padded = format!("{body}\n{}", " ".repeat(100_000).replace(' ', "\n"));
    let r = hook(&d, "t0ken", &padded);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = hook(&d, "t0ken", &format!("{body}\n{}", "\n".repeat(200_001)));
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("server.maxWebhookBodyBytes"), "{}", r.body);
    assert_eq!(stored_keys(&d).len(), 1, "only the event under the limit");
}

#[test]
fn a_vendor_without_a_webhook_plugin_is_404_and_a_get_is_405() {
    let d = hook_daemon(TestConfig::demo());
    let body = purchase("evt_5", "c@example.com", "o5");
    for vendor in ["Nobody", crate::util::VENDOR] {
        let path = format!("/qlmservice.asmx/QlmWebHookHandler?is_vendor={vendor}");
        let r = post(
            &d,
            &path,
            &["X-Test-Token: t0ken".to_string()],
            body.as_bytes(),
        );
        assert_eq!(r.status, 404, "{vendor}: {}", r.body);
    }
    let r = post(
        &d,
        "/qlmservice.asmx/QlmWebHookHandler",
        &[],
        body.as_bytes(),
    );
    assert_eq!(
        r.error_code(),
        Some(208),
        "is_vendor is required: {}",
        r.body
    );
    let r = d.get(HOOK);
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.header("allow"), Some("POST"));
    // The other URL forms reach the same handler.
    let r = post(
        &d,
        "/api/v1/qlmapi/QlmWebHookHandler?is_vendor=Hook",
        &["X-Test-Token: t0ken".to_string()],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stored_keys(&d).len(), 1);
}

#[test]
fn a_rule_refusing_the_first_action_is_422_nothing_is_recorded_and_the_retry_applies() {
    let d = hook_daemon(TestConfig::demo());
    // The renewal arrives before the purchase that creates the subscription's keys.
    let renewal = "event_id=evt_r&event_type=renewal\nmethod=RenewSubscriptionHttp&is_subscriptionid=sub_o6&is_expdate=2031-01-31";
    let r = hook(&d, "t0ken", renewal);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        d.wait_for_log("webhook event refused; nothing changed"),
        "{}",
        d.logs()
    );
    let created = hook(&d, "t0ken", &purchase("evt_p", "d@example.com", "o6"));
    assert_eq!(created.status, 200, "{}", created.body);
    let r = hook(&d, "t0ken", renewal);
    assert_eq!(r.status, 200, "the store's retry: {}", r.body);
    let key = &created.all("activationKey")[0];
    assert_eq!(r.all("activationKey"), vec![key.clone()], "{}", r.body);
    let info = d.licence_info(key);
    assert!(info.body.contains("2031-01-31"), "{}", info.body);
}

#[test]
fn a_cancellation_revokes_the_subscriptions_keys() {
    let d = hook_daemon(TestConfig::demo());
    let created = hook(&d, "t0ken", &purchase("evt_c1", "e@example.com", "o7"));
    let key = created.all("activationKey")[0].clone();
    d.activate(&key, "PC1").expect_ok();
    let r = hook(
        &d,
        "t0ken",
        "event_id=evt_c2&event_type=cancel\nmethod=RevokeLicenseHttp&is_subscriptionid=sub_o7",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    d.activate(&key, "PC2").expect_error(201);
}

#[test]
fn a_malformed_action_is_400_naming_it_and_changes_nothing() {
    let d = hook_daemon(TestConfig::demo());
    let r = hook(
        &d,
        "t0ken",
        "event_id=evt_m&event_type=purchase\nmethod=UpdateUserInformation&is_email=f%40example.com\nmethod=GetActivationKey&is_productid=one&is_majorversion=1&is_minorversion=0",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error().unwrap_or_default();
    assert!(e.contains("Action 2") && e.contains("is_productid"), "{e}");
    assert!(stored_keys(&d).is_empty());
    let r = hook(
        &d,
        "t0ken",
        "event_id=evt_n&event_type=x\nmethod=GetActivationKey&is_productid=1&is_majorversion=1&is_minorversion=0&is_email=g%40example.com&is_emailtemplate=Nope",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("is_emailtemplate"), "{}", r.body);
    let r = hook(&d, "t0ken", "event_id=evt_o\nmethod=ActivateKey&is_avkey=x");
    assert_eq!(
        r.status, 400,
        "the plugin may call four methods only: {}",
        r.body
    );
    assert!(stored_keys(&d).is_empty());
}

#[test]
fn an_action_calling_a_disabled_method_is_403_and_changes_nothing() {
    let d = hook_daemon(TestConfig::demo().security("enableGetActivationKey = false"));
    let r = hook(&d, "t0ken", &purchase("evt_g", "h@example.com", "o8"));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_code(), Some(7));
    assert!(stored_keys(&d).is_empty());
}

#[test]
fn is_send_mail_false_creates_the_keys_without_mail_and_a_named_template_is_used() {
    let d = hook_daemon(TestConfig::demo().append(
        "[mail.template.LicenseKeysPro]\nsubject = \"Pro keys for {email}\"\nbody = \"{keys}\"\n",
    ));
    let r = hook(
        &d,
        "t0ken",
        "event_id=evt_s1\nmethod=GetActivationKey&is_productid=1&is_majorversion=1&is_minorversion=0&is_email=i%40example.com&is_send_mail=0",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(outbox(&d).is_empty());
    let r = hook(
        &d,
        "t0ken",
        "event_id=evt_s2\nmethod=GetActivationKey&is_productid=1&is_majorversion=1&is_minorversion=0&is_email=j%40example.com&is_emailtemplate=LicenseKeysPro",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mails = outbox(&d);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["template"], "LicenseKeysPro");
    assert_eq!(mails[0]["subject"], "Pro keys for j@example.com");
}

#[test]
fn a_panicking_or_hung_plugin_webhook_is_a_5xx_and_the_daemon_keeps_serving() {
    let d = hook_daemon(TestConfig::demo());
    let r = hook(&d, "t0ken", "panic");
    assert_eq!(r.status, 500, "{}", r.body);
    let r = hook(&d, "t0ken", "sleep");
    assert_eq!(r.status, 503, "{}", r.body);
    let r = hook(&d, "t0ken", &purchase("evt_k", "k@example.com", "o9"));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_key_mail_reaches_the_buyer_through_a_real_smtp_server() {
    let Some(smtp) = crate::util::SmtpServer::running() else {
        return;
    };
    let d = hook_daemon(TestConfig::demo().append(&smtp.mail_section()));
    let r = hook(&d, "t0ken", &purchase("evt_mail", "lin@example.com", "o10"));
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.all("activationKey");
    let mails = smtp.wait_for(1, std::time::Duration::from_secs(20));
    assert_eq!(mails.len(), 1, "{}", d.logs());
    for key in &keys {
        assert!(mails[0].contains(key.as_str()), "{key} in {}", mails[0]);
    }
    assert!(mails[0].contains("Ada Lovelace"), "{}", mails[0]);
}

#[test]
fn one_event_sent_to_two_nodes_on_postgresql_at_once_is_applied_once() {
    let Some(url) = crate::postgres::fresh_database() else {
        return;
    };
    let config = crate::postgres::on_postgres(&url).append(&hook_vendor());
    let nodes = [TestDaemon::start(&config), TestDaemon::start(&config)];
    let body = purchase("evt_pg", "pg@example.com", "opg");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let replies: Vec<HttpReply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (node, body, barrier) = (&nodes[i % 2], &body, barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    hook(node, "t0ken", body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a sender"))
            .collect()
    });
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let fresh = replies
        .iter()
        .filter(|r| r.get("repeated").as_deref() == Some("false"))
        .count();
    assert_eq!(fresh, 1, "one of the eight applied it");
    let keys: std::collections::BTreeSet<_> =
        replies.iter().map(|r| r.all("activationKey")).collect();
    assert_eq!(keys.len(), 1, "all answered with the same key: {keys:?}");
    assert_eq!(outbox(&nodes[0]).len(), 1, "one mail");
}
