//! Customers: UpdateUserInformation, UpdatePrivacyConsentHttp and SubscribeToMailListHttp
//! over HTTP (gate, auth, effect, reply, bad input changing nothing), the customer fields of
//! the licence info, `licd customers`, and licences stored with an e-mail before customers
//! existed getting theirs when the database is opened.

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR, cli_fails, cli_ok};

fn update_user(d: &TestDaemon, query: &str, form: &str) -> HttpReply {
    d.post_form(
        &format!("/qlmservice.asmx/UpdateUserInformation?{VENDOR}&{query}"),
        form,
    )
}

/// The customer as `licd customers show` prints it, or `None` when there is none.
fn shown(d: &TestDaemon, email: &str) -> Option<serde_json::Value> {
    let (code, out, _) = d.cli(&["customers", "show", email]);
    (code == 0).then(|| serde_json::from_str(&out).expect("show prints JSON"))
}

/// Every customer, as `licd customers list --json` prints them.
fn listed(d: &TestDaemon) -> Vec<serde_json::Value> {
    cli_ok(d.cli(&["customers", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn update_user_information_creates_the_customer_links_the_key_and_licence_info_shows_it() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let r = update_user(
        &d,
        &format!("is_avkey={key}"),
        "Email=ann%40example.com&FullName=Ann+Smith&Company=Acme&City=Oslo&Notes=VIP",
    );
    r.expect_ok();
    assert_eq!(
        r.get("result").as_deref(),
        Some("Customer ann@example.com was created successfully.")
    );
    assert_eq!(r.get("userEmail").as_deref(), Some("ann@example.com"));
    assert_eq!(r.get("activationKey").as_deref(), Some(key.as_str()));
    let info = d.licence_info(&key);
    assert_eq!(info.get("userCompany").as_deref(), Some("Acme"));
    assert_eq!(info.get("userFullName").as_deref(), Some("Ann Smith"));
    assert_eq!(info.get("userEmail").as_deref(), Some("ann@example.com"));
    let names = info.element_names();
    let at = |n: &str| names.iter().position(|e| e == n).expect(n);
    assert!(at("userCompany") < at("userFullName") && at("userFullName") < at("userEmail"));
    let c = shown(&d, "ANN@example.com").expect("a customer");
    assert_eq!(c["customer"]["city"], "Oslo");
    assert_eq!(c["customer"]["notes"], "VIP");
    assert_eq!(c["licences"], serde_json::json!([key]));
}

#[test]
fn keys_made_with_an_email_share_its_customer_whose_email_changes_in_one_place() {
    let config = TestConfig::demo().options("updateExistingUserInformation = true");
    let d = TestDaemon::start(&config);
    let first = d.create_key("is_email=Bob@Example.com");
    let second = d.create_key("is_email=bob@example.COM");
    assert_eq!(
        listed(&d).len(),
        1,
        "one customer for one e-mail in any case"
    );
    update_user(
        &d,
        "is_previousemail=bob@example.com",
        "Email=robert%40example.com",
    )
    .expect_ok();
    for key in [&first, &second] {
        assert_eq!(
            d.licence_info(key).get("userEmail").as_deref(),
            Some("robert@example.com"),
            "{key}"
        );
    }
    assert!(shown(&d, "bob@example.com").is_none());
}

#[test]
fn update_user_information_switched_off_is_7_and_creates_nothing() {
    let config = TestConfig::demo().security("enableUpdateUserInformation = false");
    let d = TestDaemon::start(&config);
    update_user(&d, "", "Email=ann%40example.com").expect_error(7);
    assert!(listed(&d).is_empty());
}

#[test]
fn update_user_information_without_or_with_wrong_credentials_is_8_and_creates_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let form = "Email=ann%40example.com";
    let wrong = "/qlmservice.asmx/UpdateUserInformation?is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=nope";
    d.post_form(wrong, form).expect_error(8);
    let bare = "/qlmservice.asmx/UpdateUserInformation?is_vendor=QlmAuthenticationProvider";
    d.post_form(bare, form).expect_error(8);
    assert!(listed(&d).is_empty());
}

#[test]
fn an_existing_customer_is_1901_when_updates_are_off_and_its_email_cannot_change() {
    let d = TestDaemon::start(&TestConfig::demo());
    update_user(&d, "", "Email=ann%40example.com&FullName=Ann").expect_ok();
    let before = listed(&d);
    update_user(&d, "", "Email=ANN%40example.com&FullName=Other").expect_error(1901);
    update_user(
        &d,
        "is_previousemail=ann@example.com",
        "Email=new%40example.com",
    )
    .expect_error(1901);
    assert_eq!(listed(&d), before, "a refusal changes nothing");
}

#[test]
fn with_updates_on_fields_sent_change_others_stay_and_a_previous_email_naming_nobody_is_1904() {
    let d = TestDaemon::start(&TestConfig::demo().options("updateExistingUserInformation = true"));
    update_user(&d, "", "Email=ann%40example.com&FullName=Ann&City=Oslo").expect_ok();
    let r = update_user(&d, "", "Email=ann%40example.com&City=Bergen");
    r.expect_ok();
    assert!(r.get("result").unwrap_or_default().contains("updated"));
    let c = &shown(&d, "ann@example.com").expect("Ann")["customer"];
    assert_eq!(
        (c["fullName"].as_str(), c["city"].as_str()),
        (Some("Ann"), Some("Bergen"))
    );
    let before = listed(&d);
    update_user(
        &d,
        "is_previousemail=nobody@example.com",
        "Email=x%40example.com",
    )
    .expect_error(1904);
    assert_eq!(listed(&d), before);
}

#[test]
fn update_user_information_bad_input_is_refused_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    assert!(
        update_user(&d, "", "FullName=Ann")
            .expect_error(208)
            .contains("is_email")
    );
    let long = "a".repeat(256);
    update_user(&d, "", &format!("Email=ann%40example.com&FullName={long}")).expect_error(5);
    update_user(
        &d,
        "is_avkey=A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1P8",
        "Email=ann%40example.com",
    )
    .expect_error(203);
    assert!(listed(&d).is_empty());
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn a_vendors_field_map_reads_the_stores_own_customer_field_names() {
    let config = TestConfig::demo().append(
        r#"
[[vendor]]
name = "Shop"
user = "shop"
password = "shop"
[vendor.fields]
Customer_Email = "is_email"
Customer_Name = "is_fullname"
Customer_Company = "is_company"
"#,
    );
    let d = TestDaemon::start(&config);
    d.post_form(
        "/qlmservice.asmx/UpdateUserInformation?is_vendor=Shop&is_user=shop&is_pwd=shop",
        "Customer_Email=cy%40example.com&Customer_Name=Cy&Customer_Company=CoCo",
    )
    .expect_ok();
    let c = &shown(&d, "cy@example.com").expect("Cy")["customer"];
    assert_eq!(
        (c["fullName"].as_str(), c["company"].as_str()),
        (Some("Cy"), Some("CoCo"))
    );
}

fn consent(d: &TestDaemon, query: &str) -> HttpReply {
    d.call("UpdatePrivacyConsentHttp", query)
}

#[test]
fn privacy_consent_is_recorded_with_its_date_for_the_keys_own_customer() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_email=ann@example.com");
    let r = consent(
        &d,
        &format!("is_avkey={key}&is_email=ANN@example.com&is_consent=1"),
    );
    r.expect_ok();
    assert_eq!(r.get("privacyConsent").as_deref(), Some("true"));
    let date = r.get("privacyConsentDate").expect("a date");
    assert_eq!(date.len(), "2026-01-01 00:00:00".len(), "{date}");
    let c = &shown(&d, "ann@example.com").expect("Ann")["customer"];
    assert_eq!(c["privacyConsent"], true);
    assert!(c["privacyConsentDate"].is_i64());
    let r = consent(
        &d,
        &format!("is_avkey={key}&is_email=ann@example.com&is_consent=false"),
    );
    assert_eq!(r.get("privacyConsent").as_deref(), Some("false"));
}

#[test]
fn privacy_consent_refusals_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_email=ann@example.com");
    d.create_key("is_email=bob@example.com");
    let bare = d.create_key("");
    let before = listed(&d);
    // Another customer's e-mail, or a key without a customer: 203 alike.
    consent(
        &d,
        &format!("is_avkey={key}&is_email=bob@example.com&is_consent=1"),
    )
    .expect_error(203);
    consent(
        &d,
        &format!("is_avkey={bare}&is_email=ann@example.com&is_consent=1"),
    )
    .expect_error(203);
    consent(&d, &format!("is_avkey={key}&is_email=ann@example.com")).expect_error(208);
    consent(
        &d,
        &format!("is_avkey={key}&is_email=ann@example.com&is_consent=yes"),
    )
    .expect_error(5);
    consent(
        &d,
        &format!("is_avkey={key}&is_email=ann@example.com&is_consent=1&is_user=demo&is_pwd=bad"),
    )
    .expect_error(8);
    assert_eq!(listed(&d), before);
    let off = TestDaemon::start(&TestConfig::demo().security("enablePrivacyConsentHttp = false"));
    let key = off.create_key("is_email=ann@example.com");
    consent(
        &off,
        &format!("is_avkey={key}&is_email=ann@example.com&is_consent=1"),
    )
    .expect_error(7);
    assert_eq!(listed(&off)[0]["privacyConsent"], serde_json::Value::Null);
}

#[test]
fn the_mailing_list_answers_in_xml_or_as_a_small_html_page() {
    let d = TestDaemon::start(&TestConfig::demo());
    d.create_key("is_email=ann@example.com");
    let r = d.call(
        "SubscribeToMailListHttp",
        "is_email=ann@example.com&is_include=1",
    );
    r.expect_ok();
    assert_eq!(r.get("includeInMailList").as_deref(), Some("true"));
    assert_eq!(
        shown(&d, "ann@example.com").expect("Ann")["customer"]["mailList"],
        true
    );
    let r = d.call(
        "SubscribeToMailListHttp",
        "is_email=ann@example.com&is_include=0&is_html=true",
    );
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<p>ann@example.com is unsubscribed from the mailing list.</p>")
    );
    assert_eq!(
        shown(&d, "ann@example.com").expect("Ann")["customer"]["mailList"],
        false
    );
}

#[test]
fn mailing_list_refusals_change_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    d.create_key("is_email=ann@example.com");
    let before = listed(&d);
    d.call("SubscribeToMailListHttp", "is_email=ann@example.com")
        .expect_error(208);
    d.call("SubscribeToMailListHttp", "is_include=1")
        .expect_error(208);
    d.call(
        "SubscribeToMailListHttp",
        "is_email=zed@example.com&is_include=1",
    )
    .expect_error(203);
    d.call(
        "SubscribeToMailListHttp",
        "is_email=ann@example.com&is_include=2",
    )
    .expect_error(5);
    assert_eq!(listed(&d), before);
    let off =
        TestDaemon::start(&TestConfig::demo().security("enableSubscribeToMailListHttp = false"));
    off.create_key("is_email=ann@example.com");
    off.call(
        "SubscribeToMailListHttp",
        "is_email=ann@example.com&is_include=1",
    )
    .expect_error(7);
    assert_eq!(listed(&off)[0]["mailList"], false);
}

#[test]
fn customers_delete_erases_the_data_keeps_the_licences_and_writes_history_without_it() {
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    update_user(
        &d,
        &format!("is_avkey={key}"),
        "Email=ann%40example.com&FullName=Ann+Secret",
    )
    .expect_ok();
    let out = cli_ok(d.cli(&["customers", "list"]));
    assert!(out.contains("ann@example.com\tAnn Secret"), "{out}");
    cli_ok(d.cli(&["customers", "delete", "ANN@example.com"]));
    assert!(shown(&d, "ann@example.com").is_none());
    let info = d.licence_info(&key);
    assert_eq!(info.get("userEmail"), None);
    assert_eq!(info.get("userFullName"), None);
    cli_fails(d.cli(&["customers", "delete", "ann@example.com"]));
    d.stop();
    // On the stopped database as well.
    assert!(cli_ok(d.cli(&["customers", "list"])).trim().is_empty());
    let shown_key = cli_ok(d.cli(&["keys", "show", &key]));
    assert!(!shown_key.contains("ann@example.com") && !shown_key.contains("Ann Secret"));
    let history: serde_json::Value = serde_json::from_str(&shown_key).expect("JSON");
    let events: Vec<&str> = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert_eq!(events.last(), Some(&"customer_erased"), "{events:?}");
}

/// Rewrites the stopped daemon's database as a licd older than customers wrote it: the
/// licence holds its e-mail, and there are no customer rows nor the marker of the link.
fn as_written_before_customers(d: &TestDaemon, key: &str, email: &str) {
    use redb::{ReadableTable, TableDefinition};
    let licenses: TableDefinition<&str, &[u8]> = TableDefinition::new("licenses_v1");
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");
    let customers: TableDefinition<&str, &[u8]> = TableDefinition::new("customers_v1");
    let emails: TableDefinition<&str, &[u8]> = TableDefinition::new("customer_emails_v1");
    let links: TableDefinition<(&str, &str), ()> = TableDefinition::new("customer_licenses_v1");
    let db = redb::Database::open(d.data_dir().join("licd.redb")).expect("open the file");
    let txn = db.begin_write().expect("write");
    {
        let canonical = key.replace('-', "");
        let mut table = txn.open_table(licenses).expect("licences");
        let bytes = table
            .get(canonical.as_str())
            .expect("get")
            .expect("there")
            .value()
            .to_vec();
        let mut l: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        l.as_object_mut().expect("object").remove("customer");
        l["email"] = email.into();
        table
            .insert(
                canonical.as_str(),
                serde_json::to_vec(&l).expect("JSON").as_slice(),
            )
            .expect("insert");
        txn.open_table(meta)
            .expect("meta")
            .remove("customers_linked")
            .expect("remove");
        txn.open_table(customers)
            .expect("t")
            .retain(|_, _| false)
            .expect("clear");
        txn.open_table(emails)
            .expect("t")
            .retain(|_, _| false)
            .expect("clear");
        txn.open_table(links)
            .expect("t")
            .retain(|_, _| false)
            .expect("clear");
    }
    txn.commit().expect("commit");
}

#[test]
fn licences_stored_with_an_email_before_customers_get_their_customer_when_the_database_opens() {
    if crate::util::redb_only_test() {
        return;
    }
    let mut d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_email=old@example.com");
    d.stop();
    as_written_before_customers(&d, &key, "Old@Example.com");
    let d = d.restart_stopped();
    assert_eq!(
        d.licence_info(&key).get("userEmail").as_deref(),
        Some("Old@Example.com")
    );
    let c = shown(&d, "old@example.com").expect("a customer made on open");
    assert_eq!(c["licences"], serde_json::json!([key]));
    cli_ok(d.cli(&["check"]));
}
