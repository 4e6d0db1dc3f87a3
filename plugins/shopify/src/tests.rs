//! The Shopify plugin against Shopify-shaped orders (`tests/fixtures/*.json`, trimmed from
//! Shopify's documented `orders/paid` example), signed as Shopify signs them.

use licd_plugin_api::{VendorPlugin, Verdict, WebhookAction, WebhookEvent, WebhookRefusal};
use licd_webhook_kit::testing::{sign_base64, with_request, with_webhook_request};

use super::Shopify;

const SECRET: &str = "shpss_test_secret";
const PRODUCTS: &str =
    r#""products":{"LICD-PRO":{"is_productid":1,"is_majorversion":1,"is_minorversion":0}}"#;

const PAID: &[u8] = include_bytes!("../tests/fixtures/orders_paid.json");
const CANCELLED: &[u8] = include_bytes!("../tests/fixtures/orders_cancelled.json");

fn plugin(extra: &str) -> Shopify {
    Shopify::create(&format!(
        r#"{{"webhookSecret":"{SECRET}",{PRODUCTS}{extra}}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The delivery of `body` on `topic` with `signature` (the right one when `None`).
fn deliver(
    p: &Shopify,
    topic: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<WebhookEvent, WebhookRefusal> {
    let good = sign_base64(SECRET, body);
    let mut headers = vec![
        ("x-shopify-topic", topic),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("x-shopify-shop-domain", "licd-demo.myshopify.com"),
    ];
    if signature != Some("") {
        headers.push(("x-shopify-hmac-sha256", signature.unwrap_or(&good)));
    }
    with_webhook_request(&headers, body, |r| p.webhook(r))
}

#[test]
fn a_paid_order_records_the_buyer_and_creates_keys_for_its_licd_line_items_only() {
    let event = deliver(&plugin(""), "orders/paid", PAID, None).unwrap();
    assert_eq!(event.id, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    assert_eq!(event.kind, "orders/paid");
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
                [("is_email", "jon@example.com"), ("is_fullname", "Jon Snow")]
            ),
            WebhookAction {
                method: "GetActivationKey".into(),
                args: args(&[
                    ("is_majorversion", "1"),
                    ("is_minorversion", "0"),
                    ("is_productid", "1"),
                    ("is_quantity", "2"),
                    ("is_email", "jon@example.com"),
                    ("is_orderid", "820982911946154508"),
                ]),
            },
        ]
    );
}

#[test]
fn a_line_item_is_found_by_product_id_when_its_sku_is_unknown() {
    let p = Shopify::create(&format!(
        r#"{{"webhookSecret":"{SECRET}","products":{{"788032119674292922":{{"is_productid":7}}}}}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let event = deliver(&p, "orders/paid", PAID, None).unwrap();
    assert_eq!(event.actions.len(), 2);
    assert_eq!(event.actions[1].arg("is_productid"), Some("7"));
    assert_eq!(event.actions[1].arg("is_quantity"), Some("1"));
}

#[test]
fn an_order_without_licd_products_is_ignored() {
    let p = Shopify::create(&format!(r#"{{"webhookSecret":"{SECRET}"}}"#))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        deliver(&p, "orders/paid", PAID, None).unwrap().actions,
        vec![]
    );
}

#[test]
fn a_cancelled_order_is_revoked_but_not_a_paid_one_sent_as_cancelled() {
    let p = plugin("");
    let event = deliver(&p, "orders/cancelled", CANCELLED, None).unwrap();
    assert_eq!(
        event.actions,
        vec![WebhookAction::new(
            "RevokeLicenseHttp",
            [("is_orderid", "820982911946154508")]
        )]
    );
    assert!(matches!(
        deliver(&p, "orders/cancelled", PAID, None),
        Err(WebhookRefusal::BadEvent(_))
    ));
}

#[test]
fn other_topics_are_ignored_and_overrides_switch_topics_off() {
    let p = plugin("");
    assert!(
        deliver(&p, "orders/updated", PAID, None)
            .unwrap()
            .actions
            .is_empty()
    );
    let off = plugin(r#","events":{"orders/cancelled":"ignore"}"#);
    assert!(
        deliver(&off, "orders/cancelled", CANCELLED, None)
            .unwrap()
            .actions
            .is_empty()
    );
    assert_eq!(
        deliver(&off, "orders/paid", PAID, None)
            .unwrap()
            .actions
            .len(),
        2
    );
}

#[test]
fn a_bad_or_missing_signature_is_refused() {
    let p = plugin("");
    for sig in [
        "",
        "not base64!",
        "AAAA",
        &sign_base64("other secret", PAID),
    ] {
        assert!(
            matches!(
                deliver(&p, "orders/paid", PAID, Some(sig)),
                Err(WebhookRefusal::BadSignature(_))
            ),
            "{sig:?}"
        );
    }
    let tampered = String::from_utf8_lossy(PAID).replacen("\"quantity\": 2", "\"quantity\": 20", 1);
    let sig = sign_base64(SECRET, PAID);
    assert!(matches!(
        deliver(&p, "orders/paid", tampered.as_bytes(), Some(&sig)),
        Err(WebhookRefusal::BadSignature(_))
    ));
}

#[test]
fn a_delivery_without_webhook_id_or_with_a_body_that_is_no_order_is_a_bad_event() {
    let p = plugin("");
    let sig = sign_base64(SECRET, PAID);
    let no_id = with_webhook_request(
        &[
            ("X-Shopify-Topic", "orders/paid"),
            ("X-Shopify-Hmac-Sha256", &sig),
        ],
        PAID,
        |r| p.webhook(r),
    );
    assert!(
        matches!(no_id, Err(WebhookRefusal::BadEvent(why)) if why.contains("X-Shopify-Webhook-Id"))
    );
    assert!(matches!(
        deliver(&p, "orders/paid", b"[1]", None),
        Err(WebhookRefusal::BadEvent(_))
    ));
    assert!(matches!(
        deliver(&p, "orders/paid", b"nope", None),
        Err(WebhookRefusal::BadEvent(_))
    ));
}

#[test]
fn method_calls_and_bad_configurations_are_refused() {
    let p = plugin("");
    assert!(matches!(
        with_request("GetActivationKey", &[], b"", |r| p.authenticate(r)),
        Verdict::Deny(_)
    ));
    for (json, needle) in [
        ("{}", "Settings > Notifications"),
        (
            r#"{"webhookSecret":"a","webhookSecretFile":"/x"}"#,
            "not both",
        ),
        (
            r#"{"webhookSecret":"a","toleranceSeconds":60}"#,
            "signs no timestamp",
        ),
        (
            r#"{"webhookSecret":"a","events":{"orders/paid":"revoke"}}"#,
            "\"create\" or \"ignore\"",
        ),
        (
            r#"{"webhookSecret":"a","products":{"X":{"is_quantity":1}}}"#,
            "\"X\"",
        ),
    ] {
        let e = Shopify::create(json).err().unwrap_or_default();
        assert!(e.contains(needle), "{json}: {e}");
    }
}

#[test]
fn through_licd_s_abi_the_event_comes_out_as_lines_the_host_parses() {
    let config = format!(r#"{{"webhookSecret":"{SECRET}",{PRODUCTS}}}"#);
    let sig = sign_base64(SECRET, PAID);
    let headers = [
        ("x-shopify-topic", "orders/paid"),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("x-shopify-hmac-sha256", sig.as_str()),
    ];
    let (code, event) = licd_webhook_kit::testing::call_through_abi(
        crate::licd_plugin_entry_v1,
        &config,
        &headers,
        PAID,
    );
    assert_eq!(code, 0);
    let event = event.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        event.actions[1].arg("is_orderid"),
        Some("820982911946154508")
    );
}
