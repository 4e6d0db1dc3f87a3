//! The Paddle plugin against Paddle Billing-shaped events (`tests/fixtures/*.json`, trimmed
//! from Paddle's documented examples), signed as Paddle signs them.

use licd_plugin_api::{VendorPlugin, Verdict, WebhookAction, WebhookEvent, WebhookRefusal};
use licd_webhook_kit::testing::{sign_paddle, with_request, with_webhook_request};

use super::Paddle;

const SECRET: &str = "pdl_ntfset_01test_secret";
const NOW: i64 = 1_745_000_000;

const SALE: &[u8] = include_bytes!("../tests/fixtures/transaction_completed.json");
const RENEWAL: &[u8] = include_bytes!("../tests/fixtures/transaction_completed_renewal.json");
const CANCELED: &[u8] = include_bytes!("../tests/fixtures/subscription_canceled.json");

fn plugin(extra: &str) -> Paddle {
    Paddle::create(&format!(r#"{{"webhookSecret":"{SECRET}"{extra}}}"#))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn receive(p: &Paddle, body: &[u8]) -> Result<WebhookEvent, WebhookRefusal> {
    p.receive(Some(&sign_paddle(SECRET, NOW, body)), body, NOW)
}

fn edited(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_completed_sale_records_the_buyer_and_creates_keys_from_its_custom_data() {
    let event = receive(&plugin(""), SALE).unwrap();
    assert_eq!(event.id, "evt_01hv8x2acma2gz4m1mwd1x8v2b");
    assert_eq!(event.kind, "transaction.completed");
    assert_eq!(
        event.actions,
        vec![
            WebhookAction::new(
                "UpdateUserInformation",
                [("is_email", "ann.buyer@example.com")]
            ),
            WebhookAction {
                method: "GetActivationKey".into(),
                args: args(&[
                    ("is_email", "ann.buyer@example.com"),
                    ("is_majorversion", "1"),
                    ("is_minorversion", "0"),
                    ("is_productid", "1"),
                    ("is_quantity", "2"),
                    ("is_orderid", "txn_01hv8wptq8987qeep44cyrewp9"),
                    ("is_subscriptionid", "sub_01hv8x29kz0t586xy6zn1a62ny"),
                ]),
            },
        ]
    );
}

#[test]
fn without_is_quantity_the_items_quantities_count_and_without_e_mail_keys_are_still_made() {
    let body = edited(SALE, "\"is_quantity\": \"2\",", "");
    let body = edited(&body, "\"is_email\"", "\"campaign\"");
    let event = receive(&plugin(""), &body).unwrap();
    assert_eq!(event.actions.len(), 1);
    assert_eq!(event.actions[0].method, "GetActivationKey");
    assert_eq!(event.actions[0].arg("is_quantity"), Some("2"));
    assert_eq!(event.actions[0].arg("is_email"), None);
}

#[test]
fn a_sale_without_licd_custom_data_or_a_plan_change_is_ignored() {
    let p = plugin("");
    let foreign = edited(SALE, "\"is_productid\": \"1\",", "");
    assert!(receive(&p, &foreign).unwrap().actions.is_empty());
    let change = edited(
        SALE,
        "\"origin\": \"web\"",
        "\"origin\": \"subscription_update\"",
    );
    assert!(receive(&p, &change).unwrap().actions.is_empty());
}

#[test]
fn with_a_product_table_the_items_decide_the_product_and_quantity() {
    let p = plugin(
        r#","products":{"pri_01gsz8x8sawmvhz1pv30nge1ke":{"is_productid":9,"is_majorversion":2}}"#,
    );
    // The buyer's customData asks for product 1 × 50: the table and the items win.
    let body = edited(SALE, "\"is_quantity\": \"2\"", "\"is_quantity\": \"50\"");
    let event = receive(&p, &body).unwrap();
    let keys = &event.actions[1];
    assert_eq!(keys.arg("is_productid"), Some("9"));
    assert_eq!(keys.arg("is_majorversion"), Some("2"));
    assert_eq!(keys.arg("is_quantity"), Some("2"));
    assert_eq!(keys.arg("is_email"), Some("ann.buyer@example.com"));
    assert_eq!(
        keys.arg("is_subscriptionid"),
        Some("sub_01hv8x29kz0t586xy6zn1a62ny")
    );
}

#[test]
fn a_renewal_moves_the_expiry_to_the_billing_period_end() {
    let event = receive(&plugin(""), RENEWAL).unwrap();
    assert_eq!(event.kind, "transaction.completed");
    assert_eq!(
        event.actions,
        vec![WebhookAction::new(
            "RenewSubscriptionHttp",
            [
                ("is_subscriptionid", "sub_01hv8x29kz0t586xy6zn1a62ny"),
                ("is_expdate", "2025-05-18 10:18:47"),
            ]
        )]
    );
}

#[test]
fn a_canceled_subscription_is_revoked() {
    let event = receive(&plugin(""), CANCELED).unwrap();
    assert_eq!(event.kind, "subscription.canceled");
    assert_eq!(
        event.actions,
        vec![WebhookAction::new(
            "RevokeLicenseHttp",
            [("is_subscriptionid", "sub_01hv8x29kz0t586xy6zn1a62ny")]
        )]
    );
}

#[test]
fn overrides_switch_renewals_and_sales_off_apart() {
    let p = plugin(r#","events":{"transaction.completed.subscription_recurring":"ignore"}"#);
    assert!(receive(&p, RENEWAL).unwrap().actions.is_empty());
    assert_eq!(receive(&p, SALE).unwrap().actions.len(), 2);
    let p =
        plugin(r#","events":{"transaction.completed":"ignore","subscription.canceled":"ignore"}"#);
    assert!(receive(&p, SALE).unwrap().actions.is_empty());
    assert!(receive(&p, CANCELED).unwrap().actions.is_empty());
    assert_eq!(receive(&p, RENEWAL).unwrap().actions.len(), 1);
}

#[test]
fn other_event_types_are_ignored_with_their_id() {
    let body = br#"{"event_id":"evt_x","event_type":"customer.created","data":{"id":"ctm_1"}}"#;
    let event = receive(&plugin(""), body).unwrap();
    assert_eq!((event.id.as_str(), event.actions.len()), ("evt_x", 0));
}

#[test]
fn a_bad_missing_or_stale_signature_is_refused() {
    let p = plugin("");
    let sig_refusal = |r: Result<WebhookEvent, WebhookRefusal>| match r {
        Err(WebhookRefusal::BadSignature(why)) => why,
        other => panic!("{other:?}"),
    };
    assert!(sig_refusal(p.receive(None, SALE, NOW)).contains("missing"));
    let header = sign_paddle(SECRET, NOW, SALE);
    let tampered = edited(SALE, "\"is_productid\": \"1\"", "\"is_productid\": \"2\"");
    assert!(
        sig_refusal(p.receive(Some(&header), &tampered, NOW)).contains("no h1 signature matches")
    );
    let stale = sign_paddle(SECRET, NOW - 400, SALE);
    assert!(sig_refusal(p.receive(Some(&stale), SALE, NOW)).contains("stale"));
    assert!(
        sig_refusal(p.receive(Some(&sign_paddle("pdl_other", NOW, SALE)), SALE, NOW))
            .contains("no h1")
    );
}

#[test]
fn a_renewal_without_its_period_or_a_body_that_is_no_event_is_a_bad_event() {
    let p = plugin("");
    let no_period = edited(RENEWAL, "\"ends_at\"", "\"ended\"");
    assert!(matches!(
        receive(&p, &no_period),
        Err(WebhookRefusal::BadEvent(_))
    ));
    for body in [&b"[]"[..], br#"{"event_type":"x"}"#, b"\xff"] {
        assert!(
            matches!(receive(&p, body), Err(WebhookRefusal::BadEvent(_))),
            "{body:?}"
        );
    }
}

#[test]
fn through_the_host_s_request_with_the_current_time() {
    let p = plugin("");
    let header = sign_paddle(SECRET, licd_webhook_kit::unix_now(), CANCELED);
    let event = with_webhook_request(&[("paddle-signature", &header)], CANCELED, |r| p.webhook(r));
    assert_eq!(event.map(|e| e.actions.len()), Ok(1));
}

#[test]
fn method_calls_and_bad_configurations_are_refused() {
    let p = plugin("");
    assert!(matches!(
        with_request("GetActivationKey", &[], b"", |r| p.authenticate(r)),
        Verdict::Deny(_)
    ));
    for (json, needle) in [
        ("{}", "pdl_ntfset_"),
        (
            r#"{"webhookSecret":"a","webhookSecretFile":"/x"}"#,
            "not both",
        ),
        (
            r#"{"webhookSecret":"a","events":{"subscription.canceled":"renew"}}"#,
            "\"revoke\" or \"ignore\"",
        ),
        (
            r#"{"webhookSecret":"a","events":{"subscription.cancelled":"ignore"}}"#,
            "subscription.canceled",
        ),
        (
            r#"{"webhookSecret":"a","toleranceSeconds":0}"#,
            "toleranceSeconds",
        ),
    ] {
        let e = Paddle::create(json).err().unwrap_or_default();
        assert!(e.contains(needle), "{json}: {e}");
    }
}

#[test]
fn through_licd_s_abi_the_event_comes_out_as_lines_the_host_parses() {
    let config = format!(r#"{{"webhookSecret":"{SECRET}"}}"#);
    let header = sign_paddle(SECRET, licd_webhook_kit::unix_now(), RENEWAL);
    let (code, event) = licd_webhook_kit::testing::call_through_abi(
        crate::licd_plugin_entry_v1,
        &config,
        &[("paddle-signature", &header)],
        RENEWAL,
    );
    assert_eq!(code, 0);
    let event = event.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        event.actions[0].arg("is_expdate"),
        Some("2025-05-18 10:18:47")
    );
}
