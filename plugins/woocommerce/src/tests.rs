//! The WooCommerce plugin against WooCommerce-shaped orders (`tests/fixtures/*.json`,
//! trimmed from the REST API's order example, which is what a webhook delivers), signed as
//! WooCommerce signs them.

use licd_plugin_api::{VendorPlugin, Verdict, WebhookAction, WebhookEvent, WebhookRefusal};
use licd_webhook_kit::testing::{sign_base64, with_request, with_webhook_request};

use super::WooCommerce;

const SECRET: &str = "wc webhook secret";
const PRODUCTS: &str =
    r#""products":{"LICD-PRO":{"is_productid":1,"is_majorversion":1,"is_minorversion":0}}"#;

const COMPLETED: &[u8] = include_bytes!("../tests/fixtures/order_completed.json");
const CANCELLED: &[u8] = include_bytes!("../tests/fixtures/order_cancelled.json");

fn plugin(extra: &str) -> WooCommerce {
    WooCommerce::create(&format!(
        r#"{{"webhookSecret":"{SECRET}",{PRODUCTS}{extra}}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A signed delivery of `body`.
fn deliver(p: &WooCommerce, body: &[u8]) -> Result<WebhookEvent, WebhookRefusal> {
    let sig = sign_base64(SECRET, body);
    with_webhook_request(
        &[
            ("x-wc-webhook-topic", "order.updated"),
            ("x-wc-webhook-resource", "order"),
            ("x-wc-webhook-signature", &sig),
        ],
        body,
        |r| p.webhook(r),
    )
}

/// `body` with its status replaced.
fn with_status(body: &[u8], status: &str) -> Vec<u8> {
    String::from_utf8_lossy(body)
        .replacen(
            "\"status\": \"completed\"",
            &format!("\"status\": \"{status}\""),
            1,
        )
        .into_bytes()
}

#[test]
fn a_completed_order_records_the_buyer_and_creates_keys_for_its_licd_line_items_only() {
    let event = deliver(&plugin(""), COMPLETED).unwrap();
    assert_eq!(event.id, "4750:completed");
    assert_eq!(event.kind, "completed");
    let args = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
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
                    ("is_orderid", "4750"),
                ]),
            },
        ]
    );
}

#[test]
fn an_item_without_sku_is_found_by_its_product_id() {
    let p = WooCommerce::create(&format!(
        r#"{{"webhookSecret":"{SECRET}","products":{{"22":{{"is_productid":5}}}}}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let event = deliver(&p, COMPLETED).unwrap();
    assert_eq!(event.actions[1].arg("is_productid"), Some("5"));
    assert_eq!(event.actions[1].arg("is_quantity"), Some("1"));
}

#[test]
fn a_cancelled_order_is_revoked_and_other_statuses_are_ignored() {
    let p = plugin("");
    let event = deliver(&p, CANCELLED).unwrap();
    assert_eq!(event.id, "4750:cancelled");
    assert_eq!(
        event.actions,
        vec![WebhookAction::new(
            "RevokeLicenseHttp",
            [("is_orderid", "4750")]
        )]
    );
    for status in ["processing", "on-hold", "pending", "refunded", "failed"] {
        let event = deliver(&p, &with_status(COMPLETED, status)).unwrap();
        assert_eq!(event.id, format!("4750:{status}"));
        assert!(event.actions.is_empty(), "{status}");
    }
}

#[test]
fn overrides_switch_cancellation_off_and_refunds_on() {
    let p = plugin(r#","events":{"cancelled":"ignore","refunded":"revoke"}"#);
    assert!(deliver(&p, CANCELLED).unwrap().actions.is_empty());
    let refunded = deliver(&p, &with_status(COMPLETED, "refunded")).unwrap();
    assert_eq!(
        refunded.actions,
        vec![WebhookAction::new(
            "RevokeLicenseHttp",
            [("is_orderid", "4750")]
        )]
    );
}

#[test]
fn a_bad_or_missing_signature_is_refused() {
    let p = plugin("");
    let wrong = sign_base64("other", COMPLETED);
    let r = with_webhook_request(&[("X-WC-Webhook-Signature", &wrong)], COMPLETED, |r| {
        p.webhook(r)
    });
    assert!(matches!(r, Err(WebhookRefusal::BadSignature(_))));
    let r = with_webhook_request(&[], COMPLETED, |r| p.webhook(r));
    assert!(matches!(r, Err(WebhookRefusal::BadSignature(why)) if why.contains("missing")));
    let sig = sign_base64(SECRET, COMPLETED);
    let tampered = with_status(COMPLETED, "cancelled");
    let r = with_webhook_request(&[("X-WC-Webhook-Signature", &sig)], &tampered, |r| {
        p.webhook(r)
    });
    assert!(matches!(r, Err(WebhookRefusal::BadSignature(_))));
}

#[test]
fn the_unsigned_ping_is_an_ignored_event_unless_turned_off() {
    let ping = with_webhook_request(&[], b"webhook_id=7", |r| plugin("").webhook(r)).unwrap();
    assert_eq!((ping.id.as_str(), ping.kind.as_str()), ("ping:7", "ping"));
    assert!(ping.actions.is_empty());
    let off = plugin(r#","acceptPing":false"#);
    let r = with_webhook_request(&[], b"webhook_id=7", |r| off.webhook(r));
    assert!(matches!(r, Err(WebhookRefusal::BadSignature(_))));
    // Anything more than the bare ping still needs the signature.
    let r = with_webhook_request(&[], b"webhook_id=7&status=completed", |r| {
        plugin("").webhook(r)
    });
    assert!(matches!(r, Err(WebhookRefusal::BadSignature(_))));
}

#[test]
fn a_signed_body_that_is_no_order_is_a_bad_event() {
    let p = plugin("");
    for body in [&b"webhook_id=7"[..], b"{}", br#"{"id":1}"#] {
        assert!(
            matches!(deliver(&p, body), Err(WebhookRefusal::BadEvent(_))),
            "{body:?}"
        );
    }
}

#[test]
fn method_calls_and_bad_configurations_are_refused() {
    let p = plugin("");
    assert!(matches!(
        with_request("GetActivationKey", &[], b"", |r| p.authenticate(r)),
        Verdict::Deny(_)
    ));
    for (json, needle) in [
        ("{}", "Settings > Advanced > Webhooks"),
        (
            r#"{"webhookSecret":"a","webhookSecretFile":"/x"}"#,
            "not both",
        ),
        (
            r#"{"webhookSecret":"a","events":{"completed":"renew"}}"#,
            "\"create\" or \"ignore\"",
        ),
        (
            r#"{"webhookSecret":"a","events":{"order.updated":"create"}}"#,
            "completed, cancelled, refunded",
        ),
        (r#"{"webhookSecret":"a","acceptPing":"no"}"#, "acceptPing"),
    ] {
        let e = WooCommerce::create(json).err().unwrap_or_default();
        assert!(e.contains(needle), "{json}: {e}");
    }
}

#[test]
fn through_licd_s_abi_the_event_comes_out_as_lines_the_host_parses() {
    let config = format!(r#"{{"webhookSecret":"{SECRET}",{PRODUCTS}}}"#);
    let sig = sign_base64(SECRET, CANCELLED);
    let (code, event) = licd_webhook_kit::testing::call_through_abi(
        crate::licd_plugin_entry_v1,
        &config,
        &[("x-wc-webhook-signature", &sig)],
        CANCELLED,
    );
    assert_eq!(code, 0);
    assert_eq!(event.map(|e| e.id), Ok("4750:cancelled".to_string()));
}
