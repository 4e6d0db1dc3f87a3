//! The store plugins (Stripe, Shopify, WooCommerce, Paddle) loaded by the real daemon, fed
//! their stores' documented payloads (`plugins/<store>/tests/fixtures/`) signed with a test
//! secret as each store signs them: purchase → key created for the buyer and mailed;
//! renewal → expiry moved to the paid period's end; cancellation → revoked; a repeat → one
//! effect; a bad or stale signature → 401 and nothing stored.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use licd_webhook_kit::testing::{sign_base64, sign_paddle, sign_stripe};
use serde_json::Value;

use super::{outbox, post, stored_keys};
use crate::plugins::build::plugins;
use crate::util::{HttpReply, TestConfig, TestDaemon};

const SECRET: &str = "whsec_licd_test_secret";

/// 2030-01-01 00:00:00 UTC: a paid period's end in the future of any test run.
const PERIOD_END: i64 = 1_893_456_000;
const PERIOD_END_DATE: &str = "2030-01-01";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn fixture(store: &str, name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(store)
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("a JSON fixture")
}

/// A daemon with vendor `Store` on the store plugin `plugin` at `path`; `extra` is added to
/// its `[plugin.config]`.
fn store_daemon(plugin: &str, path: &Path, extra: &str) -> TestDaemon {
    let tables = format!(
        "[[plugin]]\nname = \"{plugin}\"\npath = \"{}\"\ntimeoutMs = 2000\n  [plugin.config]\n  webhookSecret = \"{SECRET}\"\n{extra}\n\n[[vendor]]\nname = \"Store\"\nplugin = \"{plugin}\"\nmethods = []\n",
        path.display()
    );
    TestDaemon::start(&TestConfig::demo().append(&tables))
}

const HOOK: &str = "/qlmservice.asmx/QlmWebHookHandler?is_vendor=Store";

fn expiry_of(d: &TestDaemon, key: &str) -> String {
    d.licence_info(key).get("expiryDate").unwrap_or_default()
}

// --- Stripe -----------------------------------------------------------------------------

fn stripe(d: &TestDaemon, event: &Value, t: i64, secret: &str) -> HttpReply {
    let body = serde_json::to_vec(event).expect("JSON");
    let signature = sign_stripe(secret, t, &body);
    post(d, HOOK, &[format!("Stripe-Signature: {signature}")], &body)
}

#[test]
fn stripe_checkout_creates_the_key_from_its_metadata_for_the_buyer_mails_it_and_a_retry_changes_nothing()
 {
    let d = store_daemon("stripe", &plugins().stripe, "");
    let checkout = fixture("stripe", "checkout_session_completed");
    let r = stripe(&d, &checkout, now(), SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.all("activationKey");
    assert_eq!(keys.len(), 1, "{}", r.body);
    let info = d.licence_info(&keys[0]);
    assert!(info.body.contains("ann.buyer@example.com"), "{}", info.body);
    assert_eq!(
        info.get("numActivationsAllowed").as_deref(),
        Some("2"),
        "{}",
        info.body
    );
    let mails = outbox(&d);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], "ann.buyer@example.com");
    // Stripe retries with a fresh signature over the same event.
    let again = stripe(&d, &checkout, now(), SECRET);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.get("repeated").as_deref(),
        Some("true"),
        "{}",
        again.body
    );
    assert_eq!(again.all("activationKey"), keys);
    assert_eq!(stored_keys(&d).len(), 1);
    assert_eq!(outbox(&d).len(), 1);
}

#[test]
fn stripe_renewal_moves_the_expiry_to_the_paid_periods_end_and_deletion_revokes() {
    let d = store_daemon("stripe", &plugins().stripe, "");
    let r = stripe(
        &d,
        &fixture("stripe", "checkout_session_completed"),
        now(),
        SECRET,
    );
    let key = r.all("activationKey").remove(0);
    let mut invoice = fixture("stripe", "invoice_payment_succeeded");
    for line in invoice["data"]["object"]["lines"]["data"]
        .as_array_mut()
        .expect("invoice lines")
    {
        line["period"]["end"] = PERIOD_END.into();
    }
    let r = stripe(&d, &invoice, now(), SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        expiry_of(&d, &key).starts_with(PERIOD_END_DATE),
        "{}",
        d.licence_info(&key).body
    );
    d.activate(&key, "PC1").expect_ok();
    let r = stripe(
        &d,
        &fixture("stripe", "customer_subscription_deleted"),
        now(),
        SECRET,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    d.activate(&key, "PC2").expect_error(201);
}

#[test]
fn stripe_wrong_missing_or_stale_signature_is_401_and_stores_nothing() {
    let d = store_daemon("stripe", &plugins().stripe, "");
    let checkout = fixture("stripe", "checkout_session_completed");
    assert_eq!(stripe(&d, &checkout, now(), "whsec_guess").status, 401);
    assert_eq!(
        stripe(&d, &checkout, now() - 400, SECRET).status,
        401,
        "stale"
    );
    assert_eq!(
        stripe(&d, &checkout, now() + 400, SECRET).status,
        401,
        "future"
    );
    let body = serde_json::to_vec(&checkout).expect("JSON");
    assert_eq!(post(&d, HOOK, &[], &body).status, 401);
    // The signature of another body.
    let signature = sign_stripe(SECRET, now(), b"{}");
    let r = post(&d, HOOK, &[format!("Stripe-Signature: {signature}")], &body);
    assert_eq!(r.status, 401);
    assert!(stored_keys(&d).is_empty());
    assert!(outbox(&d).is_empty());
    assert!(
        d.wait_for_log("webhook refused by the vendor's plugin"),
        "{}",
        d.logs()
    );
    assert!(
        !d.logs().contains(SECRET),
        "the secret never reaches the log"
    );
    assert_eq!(
        stripe(&d, &checkout, now(), SECRET).status,
        200,
        "nothing recorded"
    );
}

#[test]
fn a_stripe_vendor_refuses_query_string_methods() {
    let d = store_daemon("stripe", &plugins().stripe, "");
    d.call(
        "GetActivationKey",
        "is_vendor=Store&is_productid=1&is_majorversion=1&is_minorversion=0",
    )
    .expect_error(8);
}

// --- Paddle -----------------------------------------------------------------------------

fn paddle(d: &TestDaemon, event: &Value, ts: i64, secret: &str) -> HttpReply {
    let body = serde_json::to_vec(event).expect("JSON");
    let signature = sign_paddle(secret, ts, &body);
    post(d, HOOK, &[format!("Paddle-Signature: {signature}")], &body)
}

#[test]
fn paddle_sale_creates_renewal_extends_and_cancellation_revokes() {
    let d = store_daemon("paddle", &plugins().paddle, "");
    let sale = fixture("paddle", "transaction_completed");
    let r = paddle(&d, &sale, now(), SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.all("activationKey");
    assert_eq!(keys.len(), 1, "{}", r.body);
    assert_eq!(outbox(&d).len(), 1);
    let again = paddle(&d, &sale, now(), SECRET);
    assert_eq!(
        again.get("repeated").as_deref(),
        Some("true"),
        "{}",
        again.body
    );
    assert_eq!(stored_keys(&d).len(), 1);

    let mut renewal = fixture("paddle", "transaction_completed_renewal");
    renewal["data"]["billing_period"]["ends_at"] = "2030-01-01T00:00:00Z".into();
    let r = paddle(&d, &renewal, now(), SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        expiry_of(&d, &keys[0]).starts_with(PERIOD_END_DATE),
        "{}",
        d.licence_info(&keys[0]).body
    );
    assert_eq!(stored_keys(&d).len(), 1, "a renewal creates no key");

    d.activate(&keys[0], "PC1").expect_ok();
    let r = paddle(
        &d,
        &fixture("paddle", "subscription_canceled"),
        now(),
        SECRET,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    d.activate(&keys[0], "PC2").expect_error(201);
}

#[test]
fn paddle_bad_or_stale_signature_is_401_and_stores_nothing() {
    let d = store_daemon("paddle", &plugins().paddle, "");
    let sale = fixture("paddle", "transaction_completed");
    assert_eq!(paddle(&d, &sale, now(), "pdl_guess").status, 401);
    assert_eq!(paddle(&d, &sale, now() - 400, SECRET).status, 401);
    assert!(stored_keys(&d).is_empty());
}

// --- Shopify ----------------------------------------------------------------------------

const PRODUCTS: &str = "  [plugin.config.products]\n  \"LICD-PRO\" = { is_productid = 1, is_majorversion = 1, is_minorversion = 0 }\n";

fn shopify(d: &TestDaemon, topic: &str, id: &str, order: &Value, secret: &str) -> HttpReply {
    let body = serde_json::to_vec(order).expect("JSON");
    let hmac = sign_base64(secret, &body);
    post(
        d,
        HOOK,
        &[
            format!("X-Shopify-Hmac-Sha256: {hmac}"),
            format!("X-Shopify-Topic: {topic}"),
            format!("X-Shopify-Webhook-Id: {id}"),
            "X-Shopify-Shop-Domain: licd-test.myshopify.com".to_string(),
        ],
        &body,
    )
}

#[test]
fn shopify_paid_order_creates_keys_for_the_mapped_line_item_and_cancellation_revokes() {
    let d = store_daemon("shopify", &plugins().shopify, PRODUCTS);
    let paid = fixture("shopify", "orders_paid");
    let r = shopify(&d, "orders/paid", "wh-1", &paid, SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.all("activationKey");
    assert_eq!(keys.len(), 1, "only the LICD-PRO line item: {}", r.body);
    let info = d.licence_info(&keys[0]);
    assert_eq!(
        info.get("numActivationsAllowed").as_deref(),
        Some("2"),
        "{}",
        info.body
    );
    assert!(info.body.contains("jon@example.com"), "{}", info.body);
    assert_eq!(outbox(&d).len(), 1);
    let again = shopify(&d, "orders/paid", "wh-1", &paid, SECRET);
    assert_eq!(
        again.get("repeated").as_deref(),
        Some("true"),
        "{}",
        again.body
    );
    // The same order under another webhook id (the header is not signed) still makes no
    // second key: the order id is remembered with its keys.
    let other = shopify(&d, "orders/paid", "wh-forged", &paid, SECRET);
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(stored_keys(&d).len(), 1);

    d.activate(&keys[0], "PC1").expect_ok();
    let cancelled = fixture("shopify", "orders_cancelled");
    let r = shopify(&d, "orders/cancelled", "wh-2", &cancelled, SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    d.activate(&keys[0], "PC2").expect_error(201);
}

#[test]
fn shopify_bad_hmac_is_401_and_stores_nothing() {
    let d = store_daemon("shopify", &plugins().shopify, PRODUCTS);
    let paid = fixture("shopify", "orders_paid");
    assert_eq!(
        shopify(&d, "orders/paid", "wh-3", &paid, "shpss_guess").status,
        401
    );
    assert!(stored_keys(&d).is_empty());
}

// --- WooCommerce ------------------------------------------------------------------------

fn woo(d: &TestDaemon, order: &Value, secret: &str) -> HttpReply {
    let body = serde_json::to_vec(order).expect("JSON");
    let signature = sign_base64(secret, &body);
    post(
        d,
        HOOK,
        &[
            format!("X-WC-Webhook-Signature: {signature}"),
            "X-WC-Webhook-Topic: order.updated".to_string(),
            "X-WC-Webhook-Source: https://shop.example/".to_string(),
        ],
        &body,
    )
}

#[test]
fn woocommerce_completed_order_creates_keys_and_cancelled_revokes() {
    let d = store_daemon("woocommerce", &plugins().woocommerce, PRODUCTS);
    let completed = fixture("woocommerce", "order_completed");
    let r = woo(&d, &completed, SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.all("activationKey");
    assert_eq!(keys.len(), 1, "{}", r.body);
    assert!(
        d.licence_info(&keys[0])
            .body
            .contains("ann.buyer@example.com"),
        "the buyer"
    );
    let again = woo(&d, &completed, SECRET);
    assert_eq!(
        again.get("repeated").as_deref(),
        Some("true"),
        "{}",
        again.body
    );
    assert_eq!(stored_keys(&d).len(), 1);
    assert_eq!(outbox(&d).len(), 1);

    d.activate(&keys[0], "PC1").expect_ok();
    let r = woo(&d, &fixture("woocommerce", "order_cancelled"), SECRET);
    assert_eq!(r.status, 200, "{}", r.body);
    d.activate(&keys[0], "PC2").expect_error(201);
}

#[test]
fn woocommerce_bad_signature_is_401_and_stores_nothing() {
    let d = store_daemon("woocommerce", &plugins().woocommerce, PRODUCTS);
    let r = woo(&d, &fixture("woocommerce", "order_completed"), "wc_guess");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(stored_keys(&d).is_empty());
}

#[test]
fn is_arguments_added_to_the_webhook_url_change_nothing_of_the_signed_order() {
    let d = store_daemon("stripe", &plugins().stripe, "");
    let body = serde_json::to_vec(&fixture("stripe", "checkout_session_completed")).expect("JSON");
    let signature = sign_stripe(SECRET, now(), &body);
    let path = format!("{HOOK}&is_quantity=50&is_productid=2&is_email=eve%40example.com");
    let r = post(
        &d,
        &path,
        &[format!("Stripe-Signature: {signature}")],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let info = d.licence_info(&r.all("activationKey")[0]);
    assert_eq!(
        info.get("numActivationsAllowed").as_deref(),
        Some("2"),
        "{}",
        info.body
    );
    assert!(info.body.contains("ann.buyer@example.com"), "{}", info.body);
    assert!(!info.body.contains("eve@example.com"), "{}", info.body);
}
