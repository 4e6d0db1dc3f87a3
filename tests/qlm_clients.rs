//! What real QLM clients and store integrations send (issue 14): Soraco's WooCommerce plugin's
//! form POSTs with `is_expduration=-1` and empty fields, a subscription renewal with `-1`
//! beside a date, UpdateLicenseHttp's empty `is_expdate`, single-line replies for
//! `responseFormat = "text"` stores, and ASMX's test-form URL `qlmservice.asmx?op=Method`.
//! Each request that must be refused is checked to change nothing.

use chrono::{NaiveDateTime, Utc};

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR};

/// The WooCommerce vendor, as QLM's WooCommerce provider is configured, and a store that
/// wants the key alone.
const STORES: &str = "[[vendor]]\nname = \"WooCommerce\"\nuser = \"wc\"\npassword = \"wcpw\"\n\n[[vendor]]\nname = \"TextStore\"\nuser = \"t\"\npassword = \"tpw\"\nresponseFormat = \"text\"\n";
const WOO: &str = "is_vendor=WooCommerce&is_user=wc&is_pwd=wcpw";
const TEXT: &str = "is_vendor=TextStore&is_user=t&is_pwd=tpw";
const PRODUCT: &str = "is_productid=1&is_majorversion=1&is_minorversion=0";
/// `maintenancePlanPeriodInDays` of [`daemon`]: a plan of this length is the default one.
const PLAN_DAYS: i64 = 100;

fn daemon() -> TestDaemon {
    TestDaemon::start(
        &TestConfig::demo()
            .options(&format!("maintenancePlanPeriodInDays = {PLAN_DAYS}"))
            .security("enableRetrieveActivationKeyHttp = true")
            .security("strictAuthenticationHttpMethods = []")
            .append(STORES),
    )
}

/// The body Soraco's WooCommerce plugin posts for an order that is not a subscription: the
/// product's custom fields, `-1` for the durations it was not given, an empty `is_expdate`,
/// its own flags, and the store's order fields beside the `is_*` arguments.
fn woocommerce_order(order: &str, extra: &str) -> String {
    format!(
        "{PRODUCT}&is_licensemodel=permanent&is_features=0:1&is_expduration=-1&is_expdate=&is_maintduration=-1&is_send_mail=false&is_qlmversion=5.0.00&{WOO}&OrderId={order}&SubscriptionId=&Customer_Email=buyer%40example.com{extra}"
    )
}

/// `method` on licence `key` as the demo vendor, with `extra` arguments, by GET.
fn on_key(d: &TestDaemon, method: &str, key: &str, extra: &str) -> HttpReply {
    d.call(method, &format!("is_avkey={key}&{extra}&{VENDOR}"))
}

/// `licd_licences_stored` from `/metrics`.
fn licences_stored(d: &TestDaemon) -> u64 {
    let r = d.get("/metrics");
    r.body
        .lines()
        .find_map(|l| l.strip_prefix("licd_licences_stored "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no licd_licences_stored in {}", r.body))
}

/// Asserts that `date` (`yyyy-MM-dd HH:mm:ss`) lies `days` days from now, within a day.
#[track_caller]
fn assert_days_away(date: &str, days: i64, what: &str) {
    let t = NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{what}: {date:?}: {e}"))
        .and_utc();
    let away = (t - Utc::now()).num_seconds() as f64 / 86_400.0;
    assert!(
        (away - days as f64).abs() < 1.0,
        "{what}: {date} is {away} days away, not {days}"
    );
}

/// Asserts a `text/plain` reply and returns its lines.
#[track_caller]
fn text_lines(r: &HttpReply) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.header("content-type").unwrap_or_default();
    assert_eq!(ct, "text/plain; charset=utf-8", "{}", r.body);
    r.body.lines().map(str::to_owned).collect()
}

/// Asserts an XML refusal with `code`.
#[track_caller]
fn xml_error(r: &HttpReply, code: u32) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/xml"), "{ct}: {}", r.body);
    r.expect_error(code);
}

fn created_key(r: &HttpReply) -> String {
    r.expect_ok();
    r.get("activationKey").expect("an activationKey")
}

#[test]
fn woocommerce_order_post_with_minus_one_durations_creates_a_key_without_expiry() {
    let d = daemon();
    let r = d.post_form(
        "/qlmservice.asmx/GetActivationKey",
        &woocommerce_order("1001", ""),
    );
    let key = created_key(&r);
    let i = d.licence_info(&key);
    assert_eq!(i.get("licenseModel").as_deref(), Some("permanent"));
    assert_eq!(i.get("expiryDate"), None, "{}", i.body);
    assert_eq!(i.get("duration").as_deref(), Some("-1"));
    assert_eq!(i.get("maintenanceRenewalDate"), None);
    assert_eq!(i.get("features").as_deref(), Some("0:1;"));
    d.activate(&key, "PC-1").expect_ok();
}

#[test]
fn woocommerce_order_with_an_expiry_date_and_minus_one_duration_expires_at_that_date() {
    let d = daemon();
    let body = woocommerce_order("1002", "").replace("is_expdate=", "is_expdate=2031-05-01");
    let r = d.post_form("/qlmservice.asmx/GetActivationKeyWithExpiryDate", &body);
    let key = created_key(&r);
    assert_eq!(
        d.licence_info(&key).get("expiryDate").as_deref(),
        Some("2031-05-01 23:59:59")
    );
}

#[test]
fn minus_one_or_empty_maintenance_duration_gives_the_default_plan() {
    let d = daemon();
    for (n, duration) in [
        "is_maintduration=-1",
        "is_maintduration=",
        "is_mainduration=-1",
    ]
    .into_iter()
    .enumerate()
    {
        let r = d.post_form(
            "/qlmservice.asmx/GetActivationKey",
            &format!("{PRODUCT}&{WOO}&is_orderid=M-{n}&is_maintenance_plan=1&{duration}"),
        );
        let key = created_key(&r);
        let date = d.licence_info(&key).get("maintenanceRenewalDate").unwrap();
        assert_days_away(&date, PLAN_DAYS, duration);
    }
}

#[test]
fn empty_durations_count_as_not_given() {
    let d = daemon();
    let r = d.call(
        "GetActivationKey",
        &format!("{PRODUCT}&{WOO}&is_expduration=&is_maintduration=&is_expdate="),
    );
    let i = d.licence_info(&created_key(&r));
    assert_eq!(i.get("expiryDate"), None);
    assert_eq!(i.get("duration").as_deref(), Some("-1"));
}

#[test]
fn durations_out_of_range_other_than_minus_one_are_still_refused_and_create_nothing() {
    let d = daemon();
    let before = licences_stored(&d);
    for bad in [
        "is_expduration=0",
        "is_expduration=-2",
        "is_expduration=36501",
        "is_maintduration=0",
        "is_maintduration=-1.0",
        "is_expduration=%2D1%20",
    ] {
        let r = d.post_form(
            "/qlmservice.asmx/GetActivationKey",
            &format!("{PRODUCT}&{WOO}&{bad}"),
        );
        let name = bad.split('=').next().unwrap_or_default();
        let m = r.expect_error(5);
        assert!(m.contains(name), "{bad}: {m}");
    }
    assert_eq!(licences_stored(&d), before);
}

#[test]
fn woocommerce_upgrade_with_minus_one_and_an_empty_expiry_date_keeps_the_expiry() {
    let d = daemon();
    let old = d.create_key("is_expdate=2031-01-01&is_expduration=30");
    let r = d.post_form(
        "/qlmservice.asmx/UpgradeLicense",
        &format!(
            "is_avkey={old}&is_majorversion=2&is_minorversion=0&is_expduration=-1&is_expdate=&{WOO}&OrderId=1003"
        ),
    );
    let new = r.expect_ok().get("newActivationKey").unwrap();
    let i = d.licence_info(&new);
    assert_eq!(i.get("majorVersion").as_deref(), Some("2"));
    assert_eq!(i.get("expiryDate").as_deref(), Some("2031-01-01 23:59:59"));
    assert_eq!(i.get("duration").as_deref(), Some("30"));
}

#[test]
fn renewal_with_minus_one_beside_an_expiry_date_renews_until_that_date() {
    let d = daemon();
    let key = d.create_key("is_licensemodel=subscription&is_expdate=2030-01-01");
    let r = d.post_form(
        "/qlmservice.asmx/RenewSubscriptionHttp",
        &format!("is_avkey={key}&is_expdate=2031-06-30&is_expduration=-1&{VENDOR}"),
    );
    assert_eq!(
        r.expect_ok().get("expiryDate").as_deref(),
        Some("2031-06-30 23:59:59")
    );
    // The other way round: an empty date beside a duration extends by the duration.
    let r = on_key(
        &d,
        "RenewSubscriptionHttp",
        &key,
        "is_expdate=&is_expduration=10",
    );
    assert_eq!(
        r.expect_ok().get("expiryDate").as_deref(),
        Some("2031-07-10 23:59:59")
    );
}

#[test]
fn renewal_with_minus_one_and_no_date_gives_neither_and_changes_nothing() {
    let d = daemon();
    let key = d.create_key("is_licensemodel=subscription&is_expdate=2030-01-01");
    let before = d.license_snapshot(&key);
    for term in [
        "is_expduration=-1",
        "is_expduration=-1&is_expdate=",
        "is_expduration=",
    ] {
        let r = on_key(&d, "RenewSubscriptionHttp", &key, term);
        let m = r.expect_error(5);
        assert!(m.contains("exactly one"), "{term}: {m}");
    }
    let r = on_key(&d, "RenewSubscriptionHttp", &key, "is_expduration=0");
    assert!(r.expect_error(5).contains("is_expduration"));
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn update_with_an_empty_expiry_date_removes_the_date_and_minus_one_keeps_the_duration() {
    let d = daemon();
    let key = d.create_key("is_expdate=2031-01-01&is_expduration=30");
    let r = d.post_form(
        "/qlmservice.asmx/UpdateLicenseHttp",
        &format!("is_avkey={key}&is_expdate=&is_expduration=-1&{VENDOR}"),
    );
    r.expect_ok();
    let i = d.licence_info(&key);
    assert_eq!(i.get("expiryDate"), None, "{}", i.body);
    assert_eq!(i.get("duration").as_deref(), Some("30"));
}

#[test]
fn update_with_only_minus_one_durations_has_nothing_to_update_and_changes_nothing() {
    let d = daemon();
    let key = d.create_key("is_expduration=30");
    let before = d.license_snapshot(&key);
    let r = on_key(&d, "UpdateLicenseHttp", &key, "is_expduration=-1");
    r.expect_error(208);
    let r = on_key(&d, "UpdateLicenseHttp", &key, "is_expduration=-2");
    assert!(r.expect_error(5).contains("is_expduration"));
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn maintenance_plan_renewal_with_minus_one_uses_the_default_period() {
    let d = daemon();
    let key = d.create_key("");
    for method in ["EnableMaintenancePlan", "RenewMaintenancePlan"] {
        let r = on_key(&d, method, &key, "is_maintduration=-1");
        let date = r.expect_ok().get("maintenanceRenewalDate").unwrap();
        let expected = if method == "EnableMaintenancePlan" {
            PLAN_DAYS
        } else {
            2 * PLAN_DAYS
        };
        assert_days_away(&date, expected, method);
    }
}

#[test]
fn text_vendor_gets_the_keys_alone_from_both_key_creation_names() {
    let d = daemon();
    for method in ["GetActivationKey", "getactivationkeywithexpirydate"] {
        let r = d.post_form(
            &format!("/qlmservice.asmx/{method}"),
            &format!(
                "{PRODUCT}&{TEXT}&is_quantity=2&is_usemultipleactivationskey=false&is_expduration=-1"
            ),
        );
        let keys = text_lines(&r);
        assert_eq!(keys.len(), 2, "{method}: {}", r.body);
        for key in keys {
            d.licence_info(&key);
        }
    }
}

#[test]
fn text_vendor_gets_the_new_key_alone_from_an_upgrade() {
    let d = daemon();
    let r = d.call("GetActivationKey", &format!("{PRODUCT}&{TEXT}"));
    let old = text_lines(&r).remove(0);
    let r = d.call(
        "UpgradeLicense",
        &format!("is_avkey={old}&is_majorversion=2&is_minorversion=0&{TEXT}"),
    );
    let lines = text_lines(&r);
    assert_eq!(lines.len(), 1, "{}", r.body);
    assert_ne!(lines[0], old);
    assert_eq!(
        d.licence_info(&lines[0]).get("majorVersion").as_deref(),
        Some("2")
    );
    xml_error(
        &d.call("ValidateLicenseHttp", &format!("is_avkey={old}")),
        200,
    );
}

#[test]
fn text_vendor_gets_the_keys_of_an_order_one_a_line() {
    let d = daemon();
    let r = d.call(
        "GetActivationKey",
        &format!(
            "{PRODUCT}&{TEXT}&is_orderid=T-1&is_quantity=3&is_usemultipleactivationskey=false"
        ),
    );
    let mut created = text_lines(&r);
    let r = d.call(
        "RetrieveActivationKeyHttp",
        &format!("is_orderid=T-1&{TEXT}"),
    );
    let mut found = text_lines(&r);
    created.sort();
    found.sort();
    assert_eq!(found, created);
    // JSON still wins over the vendor's format.
    let r = d.call(
        "RetrieveActivationKeyHttp",
        &format!("is_orderid=T-1&{TEXT}&is_format=json"),
    );
    assert_eq!(r.json()["licenses"].as_array().map(Vec::len), Some(3));
}

#[test]
fn text_vendor_refusals_stay_xml_in_every_method_that_hands_out_keys() {
    let d = daemon();
    let before = licences_stored(&d);
    xml_error(
        &d.call(
            "GetActivationKey",
            &format!("is_productid=9&is_majorversion=1&is_minorversion=0&{TEXT}"),
        ),
        218,
    );
    xml_error(
        &d.call(
            "GetActivationKeyWithExpiryDate",
            &format!("{PRODUCT}&{TEXT}&is_expduration=0"),
        ),
        5,
    );
    xml_error(
        &d.call(
            "UpgradeLicense",
            &format!("is_avkey=A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1P8&{TEXT}"),
        ),
        203,
    );
    xml_error(
        &d.call(
            "RetrieveActivationKeyHttp",
            &format!("is_orderid=NONE&{TEXT}"),
        ),
        203,
    );
    assert_eq!(licences_stored(&d), before);
}

#[test]
fn xml_vendors_still_get_xml_from_the_same_methods() {
    let d = daemon();
    let r = d.call(
        "GetActivationKey",
        &format!("{PRODUCT}&{WOO}&is_orderid=X-1"),
    );
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/xml")
    );
    let key = created_key(&r);
    let r = d.call(
        "RetrieveActivationKeyHttp",
        &format!("is_orderid=X-1&{WOO}"),
    );
    assert_eq!(r.expect_ok().all("activationKey"), vec![key]);
}

#[test]
fn op_on_the_asmx_url_runs_the_method_with_get() {
    let d = daemon();
    let key = d.create_key("");
    let r = d.get(&format!(
        "/qlmservice.asmx?op=ValidateLicenseHttp&is_avkey={key}&is_pcid=PC-OP"
    ));
    assert!(r.expect_ok().get("pckey").is_some(), "{}", r.body);
    assert_eq!(r.get("computerID").as_deref(), Some("PC-OP"));
    // The activation is real: a release through the usual URL finds it.
    on_key(&d, "ReleaseLicenseHttp", &key, "is_pcid=PC-OP").expect_ok();
}

#[test]
fn op_on_the_asmx_url_runs_the_method_with_a_form_post_in_any_case() {
    let d = daemon();
    let key = d.create_key("is_numberofactivationsperkey=5");
    for (n, path) in [
        "/qlmservice.asmx?op=ValidateLicenseHttp",
        "/QlmService.asmx?op=validatelicensehttp",
        "/qlmservice.asmx/?OP=VALIDATELICENSEHTTP",
        "/api/v1/QlmApi?op=ValidateLicenseHttp",
        "/api/WebService?op=ValidateLicenseHttp",
    ]
    .into_iter()
    .enumerate()
    {
        let r = d.post_form(path, &format!("is_avkey={key}&is_pcid=PC-{n}"));
        assert_eq!(
            r.expect_ok().get("computerID").as_deref(),
            Some(format!("PC-{n}").as_str()),
            "{path}"
        );
    }
    let r = d.post_form(
        "/qlmservice.asmx?op=GetActivationKey",
        &woocommerce_order("1004", ""),
    );
    created_key(&r);
}

#[test]
fn op_follows_the_base_path() {
    let d = TestDaemon::start(&TestConfig::demo().server("basePath = \"/qlmLicenseServer\""));
    let r = d.get("/qlmLicenseServer/qlmservice.asmx?op=PingHttp");
    assert!(r.expect_ok().get("serverVersion").is_some(), "{}", r.body);
    assert_eq!(d.get("/qlmservice.asmx?op=PingHttp").status, 404);
}

#[test]
fn an_unknown_method_in_op_answers_as_an_unknown_method_path() {
    let d = daemon();
    let by_path = d.get("/qlmservice.asmx/NoSuchMethod");
    let by_op = d.get("/qlmservice.asmx?op=NoSuchMethod");
    assert_eq!(by_op.status, 404);
    assert_eq!(by_op.status, by_path.status);
    assert_eq!(by_op.header("content-type"), by_path.header("content-type"));
    assert_eq!(by_op.body, by_path.body);
    by_op.expect_error(5);
    let posted = d.post_form("/qlmservice.asmx?op=NoSuchMethod", "is_avkey=x");
    assert_eq!(posted.body, by_path.body);
}

#[test]
fn the_asmx_url_without_op_is_still_the_service_page() {
    let d = daemon();
    let page = d.get("/qlmservice.asmx");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ValidateLicenseHttp"), "{}", page.body);
    assert_eq!(d.get("/qlmservice.asmx?op=").body, page.body);
    assert_eq!(d.get("/qlmservice.asmx?wsdl").body, page.body);
}
