//! The Stripe plugin against Stripe-shaped events (`tests/fixtures/*.json`, trimmed from
//! Stripe's documented examples), signed as Stripe signs them.

use licd_plugin_api::{VendorPlugin, Verdict, WebhookAction, WebhookEvent, WebhookRefusal};
use licd_webhook_kit::testing::{sign_stripe, with_request, with_webhook_request};

use super::Stripe;

const SECRET: &str = "whsec_test_secret";
const NOW: i64 = 1_745_000_000;

const CHECKOUT: &[u8] = include_bytes!("../tests/fixtures/checkout_session_completed.json");
const INVOICE: &[u8] = include_bytes!("../tests/fixtures/invoice_payment_succeeded.json");
const DELETED: &[u8] = include_bytes!("../tests/fixtures/customer_subscription_deleted.json");

fn plugin(extra: &str) -> Stripe {
    Stripe::create(&format!(r#"{{"webhookSecret":"{SECRET}"{extra}}}"#))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn receive(p: &Stripe, body: &[u8]) -> Result<WebhookEvent, WebhookRefusal> {
    p.receive(Some(&sign_stripe(SECRET, NOW, body)), body, NOW)
}

fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The fixture with `from` replaced by `to` (the fixtures hold each text once).
fn edited(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn a_completed_checkout_records_the_buyer_and_creates_keys_from_its_metadata() {
    let event = receive(&plugin(""), CHECKOUT).unwrap();
    assert_eq!(event.id, "evt_1QsrCU2NivGZCNxWcheckout");
    assert_eq!(event.kind, "checkout.session.completed");
    assert_eq!(
        event.actions,
        vec![
            WebhookAction::new(
                "UpdateUserInformation",
                [
                    ("is_email", "ann.buyer@example.com"),
                    ("is_fullname", "Ann Buyer")
                ]
            ),
            WebhookAction {
                method: "GetActivationKey".into(),
                args: args(&[
                    ("is_majorversion", "1"),
                    ("is_minorversion", "0"),
                    ("is_productid", "1"),
                    ("is_quantity", "2"),
                    ("is_email", "ann.buyer@example.com"),
                    (
                        "is_orderid",
                        "cs_test_a1ZETwrCoc0wk2QGJfY09FWMu9i7lWa1xxc53phwLtpgTkR7DP3MCLxMfZ"
                    ),
                    ("is_subscriptionid", "sub_1QsrCT2NivGZCNxWmonthly"),
                ]),
            },
        ]
    );
}

#[test]
fn a_checkout_without_licd_metadata_or_not_yet_paid_is_ignored() {
    let p = plugin("");
    let foreign = edited(CHECKOUT, "\"is_productid\": \"1\",", "");
    let event = receive(&p, &foreign).unwrap();
    assert_eq!(event.kind, "checkout.session.completed");
    assert!(event.actions.is_empty());
    let unpaid = edited(
        CHECKOUT,
        "\"payment_status\": \"paid\"",
        "\"payment_status\": \"unpaid\"",
    );
    assert!(receive(&p, &unpaid).unwrap().actions.is_empty());
    // The delayed payment's success creates the keys instead.
    let settled = edited(
        CHECKOUT,
        "\"type\": \"checkout.session.completed\"",
        "\"type\": \"checkout.session.async_payment_succeeded\"",
    );
    assert_eq!(receive(&p, &settled).unwrap().actions.len(), 2);
}

#[test]
fn a_one_time_checkout_with_customer_email_only_has_no_subscription() {
    let body = edited(
        CHECKOUT,
        "\"subscription\": \"sub_1QsrCT2NivGZCNxWmonthly\"",
        "\"subscription\": null",
    );
    let body = edited(
        &body,
        "\"email\": \"ann.buyer@example.com\"",
        "\"email\": null",
    );
    let body = edited(
        &body,
        "\"customer_email\": null",
        "\"customer_email\": \"c@example.com\"",
    );
    let event = receive(&plugin(""), &body).unwrap();
    let keys = &event.actions[1];
    assert_eq!(keys.arg("is_email"), Some("c@example.com"));
    assert_eq!(keys.arg("is_subscriptionid"), None);
}

#[test]
fn a_paid_invoice_renews_the_subscription_to_the_period_end() {
    let event = receive(&plugin(""), INVOICE).unwrap();
    assert_eq!(event.id, "evt_1R3nVw2NivGZCNxWrenewal");
    assert_eq!(
        event.actions,
        vec![WebhookAction::new(
            "RenewSubscriptionHttp",
            [
                ("is_subscriptionid", "sub_1QsrCT2NivGZCNxWmonthly"),
                ("is_expdate", "2025-04-18 19:33:20"),
            ]
        )]
    );
}

#[test]
fn the_first_invoice_is_left_to_the_checkout_and_older_api_versions_name_the_subscription_at_the_top()
 {
    let p = plugin("");
    let first = edited(INVOICE, "\"subscription_cycle\"", "\"subscription_create\"");
    assert!(receive(&p, &first).unwrap().actions.is_empty());
    let old = edited(
        INVOICE,
        "\"parent\": {\n        \"quote_details\"",
        "\"subscription\": \"sub_old\",\n      \"parent_\": {\n        \"quote_details\"",
    );
    let event = receive(&p, &old).unwrap();
    assert_eq!(event.actions[0].arg("is_subscriptionid"), Some("sub_old"));
}

#[test]
fn a_deleted_subscription_is_revoked() {
    let event = receive(&plugin(""), DELETED).unwrap();
    assert_eq!(event.kind, "customer.subscription.deleted");
    assert_eq!(
        event.actions,
        vec![WebhookAction::new(
            "RevokeLicenseHttp",
            [("is_subscriptionid", "sub_1QsrCT2NivGZCNxWmonthly")]
        )]
    );
}

#[test]
fn other_event_types_are_ignored_with_their_id() {
    let body = br#"{"id":"evt_x","type":"customer.created","data":{"object":{"id":"cus_1"}}}"#;
    let event = receive(&plugin(""), body).unwrap();
    assert_eq!(
        (event.id.as_str(), event.kind.as_str()),
        ("evt_x", "customer.created")
    );
    assert!(event.actions.is_empty());
}

#[test]
fn overrides_switch_events_off() {
    let p = plugin(
        r#","events":{"checkout.session.completed":"ignore","customer.subscription.deleted":"ignore"}"#,
    );
    assert!(receive(&p, CHECKOUT).unwrap().actions.is_empty());
    assert!(receive(&p, DELETED).unwrap().actions.is_empty());
    assert_eq!(receive(&p, INVOICE).unwrap().actions.len(), 1);
}

#[test]
fn a_bad_missing_or_stale_signature_is_refused_before_the_body_is_read() {
    let p = plugin("");
    let bad = |r: Result<WebhookEvent, WebhookRefusal>| match r {
        Err(WebhookRefusal::BadSignature(why)) => why,
        other => panic!("{other:?}"),
    };
    let tampered = edited(
        CHECKOUT,
        "\"is_quantity\": \"2\"",
        "\"is_quantity\": \"20\"",
    );
    let header = sign_stripe(SECRET, NOW, CHECKOUT);
    assert!(bad(p.receive(Some(&header), &tampered, NOW)).contains("no v1 signature matches"));
    assert!(bad(p.receive(None, CHECKOUT, NOW)).contains("missing"));
    let stale = sign_stripe(SECRET, NOW - 301, CHECKOUT);
    assert!(bad(p.receive(Some(&stale), CHECKOUT, NOW)).contains("stale"));
    // Not JSON, but unsigned: still a signature refusal, never a parse error.
    assert!(bad(p.receive(Some("t=1,v1=00"), b"\xff not json", NOW)).contains("Stripe-Signature"));
    let tight = plugin(r#","toleranceSeconds":10"#);
    let eleven = sign_stripe(SECRET, NOW - 11, CHECKOUT);
    assert!(bad(tight.receive(Some(&eleven), CHECKOUT, NOW)).contains("stale"));
}

#[test]
fn a_signed_body_that_is_no_event_is_a_bad_event() {
    let p = plugin("");
    for body in [
        &b"not json"[..],
        br#"{"type":"x"}"#,
        br#"{"id":"evt_1","type":"checkout.session.completed"}"#,
    ] {
        assert!(
            matches!(receive(&p, body), Err(WebhookRefusal::BadEvent(_))),
            "{body:?}"
        );
    }
}

#[test]
fn through_the_host_s_request_the_header_is_read_in_any_case() {
    let p = plugin("");
    let now = licd_webhook_kit::unix_now();
    let header = sign_stripe(SECRET, now, CHECKOUT);
    let event = with_webhook_request(&[("stripe-signature", &header)], CHECKOUT, |r| p.webhook(r));
    assert_eq!(event.map(|e| e.actions.len()), Ok(2));
}

#[test]
fn method_calls_are_refused() {
    let p = plugin("");
    match with_request("GetActivationKey", &[], b"", |r| p.authenticate(r)) {
        Verdict::Deny(why) => assert!(
            why.contains("webhooks only") && why.contains("GetActivationKey"),
            "{why}"
        ),
        Verdict::Allow => panic!("allowed"),
    }
}

#[test]
fn config_errors_are_refused() {
    for (json, needle) in [
        ("{}", "whsec_"),
        (
            r#"{"webhookSecret":"a","webhookSecretFile":"/x"}"#,
            "not both",
        ),
        (
            r#"{"webhookSecret":"a","events":{"checkout.session.completed":"revoke"}}"#,
            "\"create\" or \"ignore\"",
        ),
        (
            r#"{"webhookSecret":"a","events":{"invoice.paid":"renew"}}"#,
            "invoice.payment_succeeded",
        ),
        (r#"{"webhookSecret":"a","products":{}}"#, "metadata"),
    ] {
        let e = Stripe::create(json).err().unwrap_or_default();
        assert!(e.contains(needle), "{json}: {e}");
    }
}

#[test]
fn through_licd_s_abi_the_event_comes_out_as_lines_the_host_parses() {
    use licd_webhook_kit::testing::call_through_abi;
    let config = format!(r#"{{"webhookSecret":"{SECRET}"}}"#);
    let header = sign_stripe(SECRET, licd_webhook_kit::unix_now(), CHECKOUT);
    let (code, event) = call_through_abi(
        crate::licd_plugin_entry_v1,
        &config,
        &[("stripe-signature", &header)],
        CHECKOUT,
    );
    assert_eq!(code, 0);
    let event = event.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.id, "evt_1QsrCU2NivGZCNxWcheckout");
    assert_eq!(event.actions[1].arg("is_quantity"), Some("2"));
    let (code, why) = call_through_abi(crate::licd_plugin_entry_v1, &config, &[], CHECKOUT);
    assert_eq!(code, 1, "LICD_DENY");
    assert!(why.unwrap_err().contains("missing"));
}
