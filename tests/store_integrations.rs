//! What store integrations send (issue 14, deviations 2 and 3), as they send it: WooCommerce's
//! form POST with its own field names, the QLM provider's `orderNumber` round trip, revocation
//! and renewal by order or subscription id with no `is_avkey`, FastSpring's rebill in text
//! form, the maintenance plan renewed with a subscription, and the field-map refusals of
//! `licd check-config`. An order or subscription id reaches only the calling vendor's keys.

use std::path::Path;

use crate::config_errors::problems;
use crate::util::{HttpReply, TestConfig, TestDaemon, licd_cmd};

/// Product 1 1.0, and four vendors: the QLM provider and WooCommerce with their presets,
/// FastSpring with plain-text replies, and another shop using the same order numbers.
const STORES: &str = r#"
[[product]]
id = 1
name = "Demo"
majorVersion = 1
minorVersion = 0

[[vendor]]
name = "QlmAuthenticationProvider"
user = "demo"
password = "demo"
preset = "qlm"

[[vendor]]
name = "WooCommerce"
user = "woo"
password = "woo"
preset = "woocommerce"

[[vendor]]
name = "FastSpring"
user = "fs"
password = "fs"
responseFormat = "text"

[[vendor]]
name = "OtherShop"
user = "other"
password = "other"
[vendor.fields]
OrderId = "is_orderid"
"#;

const QLM: &str = "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=demo";
const WOO: &str = "is_vendor=WooCommerce&is_user=woo&is_pwd=woo";
const FASTSPRING: &str = "is_vendor=FastSpring&is_user=fs&is_pwd=fs";
const OTHER: &str = "is_vendor=OtherShop&is_user=other&is_pwd=other";
const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";

fn stores() -> TestDaemon {
    TestDaemon::start(
        &TestConfig::default()
            .security("enableRetrieveActivationKeyHttp = true")
            .security("strictAuthenticationHttpMethods = []")
            .append(STORES),
    )
}

/// `/qlmservice.asmx/{method}` with a form body, as WooCommerce's plugin POSTs.
fn post(d: &TestDaemon, method: &str, body: &str) -> HttpReply {
    d.post_form(&format!("/qlmservice.asmx/{method}"), body)
}

/// The keys of a creation reply.
fn keys(r: &HttpReply) -> Vec<String> {
    r.expect_ok();
    r.all("activationKey")
}

fn is_revoked(d: &TestDaemon, key: &str) -> bool {
    let r = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    // A revoked licence fails validation with 201 (and status bit 2048).
    r.error_code() == Some(201)
}

#[test]
fn woocommerce_posts_its_own_field_names_and_renews_by_subscription_id_without_a_key() {
    let d = stores();
    // The plugin's order callback: OrderId, SubscriptionId, Customer_Email in the form body.
    let body = format!(
        "{WOO}&{PRODUCT}&is_licensemodel=subscription&is_expdate=2031-01-01&OrderId=5001&SubscriptionId=WC-77&Customer_Email=ann%40example.com&is_usemultipleactivationskey=false&is_quantity=2"
    );
    let created = keys(&post(&d, "GetActivationKey", &body));
    assert_eq!(created.len(), 2);
    let before: Vec<String> = created.iter().map(|k| d.license_snapshot(k)).collect();
    assert!(
        before[0].contains("<orderID>5001</orderID>"),
        "{}",
        before[0]
    );
    assert!(
        before[0].contains("<userEmail>ann@example.com</userEmail>"),
        "{}",
        before[0]
    );
    let r = post(
        &d,
        "RenewSubscriptionHttp",
        &format!("{WOO}&SubscriptionId=WC-77&is_expduration=365"),
    );
    r.expect_ok();
    let mut renewed = r.all("activationKey");
    renewed.dedup();
    let mut expected = created.clone();
    expected.sort();
    renewed.sort();
    assert_eq!(renewed, expected, "{}", r.body);
    assert_eq!(r.all("expiryDate").len(), 2, "{}", r.body);
    for (key, old) in created.iter().zip(&before) {
        assert_ne!(&d.license_snapshot(key), old, "{key} was not renewed");
    }
}

#[test]
fn a_mapped_field_beside_its_is_argument_is_given_twice_and_creates_nothing() {
    let d = stores();
    let body = format!("{WOO}&{PRODUCT}&OrderId=5002&is_orderid=5002");
    let m = post(&d, "GetActivationKey", &body).expect_error(5);
    assert!(
        m.contains("is_orderid") && m.contains("more than once"),
        "{m}"
    );
    let r = d.call(
        "RetrieveActivationKeyHttp",
        &format!("{WOO}&is_orderid=5002"),
    );
    r.expect_error(203);
}

#[test]
fn the_qlm_providers_order_number_round_trip_finds_the_key_again() {
    let d = stores();
    let created = keys(&d.call(
        "GetActivationKeyWithExpiryDate",
        &format!(
            "{PRODUCT}&{QLM}&is_expduration=10&orderNumber=1234&subscriptionid=5678&is_licensemodel=subscription"
        ),
    ));
    let found = d.call(
        "RetrieveActivationKeyHttp",
        &format!("is_orderid=1234&{QLM}"),
    );
    assert_eq!(keys(&found), created);
}

#[test]
fn revoke_by_order_id_revokes_every_key_of_that_order_in_one_call() {
    let d = stores();
    let body =
        format!("{WOO}&{PRODUCT}&OrderId=6001&is_usemultipleactivationskey=false&is_quantity=3");
    let created = keys(&post(&d, "GetActivationKey", &body));
    let other = keys(&post(
        &d,
        "GetActivationKey",
        &format!("{WOO}&{PRODUCT}&OrderId=6002"),
    ));
    let r = post(&d, "RevokeLicenseHttp", &format!("{WOO}&OrderId=6001"));
    r.expect_ok();
    assert!(
        r.get("result")
            .unwrap_or_default()
            .contains("3 licences of order 6001"),
        "{}",
        r.body
    );
    for key in &created {
        assert!(is_revoked(&d, key), "{key} is not revoked");
    }
    assert!(
        !is_revoked(&d, &other[0]),
        "another order's key was revoked"
    );
    // Restoring by order id works the same way.
    post(
        &d,
        "RevokeLicenseHttp",
        &format!("{WOO}&OrderId=6001&is_revoke=false"),
    )
    .expect_ok();
    assert!(created.iter().all(|k| !is_revoked(&d, k)));
}

#[test]
fn another_vendors_order_id_is_203_and_changes_nothing() {
    let d = stores();
    let created = keys(&post(
        &d,
        "GetActivationKey",
        &format!("{WOO}&{PRODUCT}&OrderId=7001&SubscriptionId=S-7"),
    ));
    let before = d.license_snapshot(&created[0]);
    // OtherShop has scope "all", and uses the same order number: its id still reaches only
    // its own licences.
    for (method, query) in [
        ("RevokeLicenseHttp", format!("{OTHER}&OrderId=7001")),
        (
            "RenewSubscriptionHttp",
            format!("{OTHER}&is_subscriptionid=S-7&is_expduration=5"),
        ),
        ("RenewMaintenancePlan", format!("{OTHER}&is_orderid=7001")),
    ] {
        d.call(method, &query).expect_error(203);
    }
    assert_eq!(d.license_snapshot(&created[0]), before);
    // With its own key of that order, OtherShop's revocation touches that key alone.
    let own = keys(&d.call(
        "GetActivationKey",
        &format!("{OTHER}&{PRODUCT}&OrderId=7001"),
    ));
    d.call("RevokeLicenseHttp", &format!("{OTHER}&OrderId=7001"))
        .expect_ok();
    assert!(is_revoked(&d, &own[0]));
    assert_eq!(d.license_snapshot(&created[0]), before);
}

#[test]
fn fastspring_rebill_in_text_form_gets_the_key_alone_and_errors_stay_xml() {
    let d = stores();
    let created = d.call(
        "GetActivationKey",
        &format!("{FASTSPRING}&{PRODUCT}&is_licensemodel=subscription&is_expduration=30&is_subscriptionid=FS-SUB-1"),
    );
    let key = created.body.trim().to_string();
    assert!(!key.contains('<'), "{}", created.body);
    let r = d.call(
        "RenewSubscriptionHttp",
        &format!("{FASTSPRING}&is_subscriptionid=FS-SUB-1&is_expduration=30"),
    );
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.body, format!("{key}\n"));
    let e = d.call(
        "RenewSubscriptionHttp",
        &format!("{FASTSPRING}&is_subscriptionid=nobody&is_expduration=30"),
    );
    assert_eq!(e.error_code(), Some(203), "{}", e.body);
    assert!(e.body.contains("<QuickLicenseManager"), "{}", e.body);
}

#[test]
fn renew_subscription_with_is_maintenance_plan_renews_the_plan_as_renew_maintenance_plan_does() {
    let d = stores();
    let create = format!(
        "{QLM}&{PRODUCT}&is_licensemodel=subscription&is_expdate=2031-01-01&is_maintenance_plan=1&is_maintduration=10"
    );
    let a = keys(&d.call("GetActivationKey", &create))[0].clone();
    let b = keys(&d.call("GetActivationKey", &create))[0].clone();
    let plan = |key: &str| {
        let r = d.call(
            "ValidateLicenseHttp",
            &format!("is_avkey={key}&is_activate=false"),
        );
        r.get("maintenanceRenewalDate").expect("a maintenance date")
    };
    let (a_before, b_before) = (plan(&a), plan(&b));
    let renewed = d.call(
        "RenewSubscriptionHttp",
        &format!("{QLM}&is_avkey={a}&is_expduration=30&is_maintenance_plan=1"),
    );
    renewed.expect_ok();
    assert_eq!(
        renewed.get("expiryDate").as_deref(),
        Some("2031-01-31 23:59:59")
    );
    let maintained = d.call("RenewMaintenancePlan", &format!("{QLM}&is_avkey={b}"));
    maintained.expect_ok();
    // Both: maintenancePlanPeriodInDays (365) from the current renewal date, still ahead.
    let year_after = |date: &str| {
        let t =
            chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S").expect("a date-time");
        (t + chrono::Duration::days(365))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    assert_eq!(
        renewed.get("maintenanceRenewalDate"),
        Some(year_after(&a_before))
    );
    assert_eq!(
        maintained.get("maintenanceRenewalDate"),
        Some(year_after(&b_before))
    );
    assert_eq!(plan(&a), year_after(&a_before));
}

#[test]
fn check_config_refuses_field_maps_beside_plugins_unknown_presets_and_bad_names() {
    let vendor = "[[vendor]]\nname = \"Shop\"\nuser = \"u\"\npassword = \"p\"\n";
    let plugin = "plugin = \"fs\"\n[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n";
    for (toml, words) in [
        (
            format!("{vendor}preset = \"woocommerce\"\n{plugin}"),
            &["`preset` and `fields`", "`plugin`"][..],
        ),
        (
            format!("{vendor}preset = \"magento\"\n"),
            &["\"magento\"", "qlm, woocommerce, regnow"],
        ),
        (
            format!("{vendor}[vendor.fields]\nOrderId = \"is_ordernumber\"\n"),
            &["`is_ordernumber`", "licd knows"],
        ),
        (
            format!("{vendor}[vendor.fields]\nis_ref = \"is_orderid\"\n"),
            &["`is_ref`", "already an is_* argument"],
        ),
    ] {
        let lines = problems(&toml);
        assert!(
            lines.iter().any(|l| words.iter().all(|w| l.contains(w))),
            "{words:?}: {lines:?}"
        );
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("licd.toml");
    std::fs::write(&path, format!("{vendor}preset = \"regnow\"\n")).expect("written");
    let (code, _, err) = licd_cmd(
        &["check-config", "--config", path.to_str().expect("UTF-8")],
        None,
        Path::new("/"),
    );
    assert_eq!(code, 0, "{err}");
}
