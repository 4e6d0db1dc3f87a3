//! The analytics methods (docs/analytics.md): AnalyticsAddInstallHttp,
//! AnalyticsUpdateInstallHttp, AnalyticsRemoveInstallHttp and
//! AnalyticsUpdateLastAccessedDateHttp, over HTTP against the real daemon, on redb and on
//! PostgreSQL. What is stored is read back through `licd export` (the admin socket of the
//! running daemon), the read path an operator has.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{HttpReply, TestConfig, TestDaemon, cli_ok, path_str};

const ADD: &str = "AnalyticsAddInstallHttp";
const UPDATE: &str = "AnalyticsUpdateInstallHttp";
const REMOVE: &str = "AnalyticsRemoveInstallHttp";
const ACCESS: &str = "AnalyticsUpdateLastAccessedDateHttp";

/// Every field AnalyticsAddInstallHttp reads, with a value (QLM's spelling of
/// `is_computerID`).
const ALL_FIELDS: &str = "is_swversion=1.0&is_osversion=Windows+11&is_computer_name=DESK-1\
    &is_computerID=PC-7&is_avkey=AAAA-BBBB&is_pckey=PCK-1&is_trial=true&is_productname=Demo\
    &is_majorversion=2&is_minorversion=3&is_customdata1=c1&is_customdata2=c2&is_customdata3=c3";

/// The demo configuration with the analytics methods on.
fn analytics_on() -> TestConfig {
    TestConfig::demo().security("enablePublishAnalyticsApi = true")
}

/// The installs stored, by id, read through `licd export`.
fn stored(d: &TestDaemon) -> BTreeMap<String, Value> {
    let out = d.dir().join(format!(
        "export-{}.jsonl",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos()
    ));
    cli_ok(d.cli(&["export", "--out", path_str(&out)]));
    let text = std::fs::read_to_string(&out).expect("the export");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|row| row["table"] == "analytics_installs_v1")
        .map(|row| {
            let id = row["key"].as_str().expect("an id").to_string();
            (id, row["value"].clone())
        })
        .collect()
}

/// Adds an install with `query`; returns its id.
fn add(d: &TestDaemon, query: &str) -> String {
    let r = d.call(ADD, query);
    r.expect_ok();
    r.get("installID").expect("an installID")
}

/// `GET` of `method` sent through the trusted proxy on behalf of `client`.
fn call_from(d: &TestDaemon, client: &str, method: &str, query: &str) -> HttpReply {
    d.raw(&format!(
        "GET /qlmservice.asmx/{method}?{query} HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n",
        d.addr
    ))
}

#[test]
fn every_analytics_method_is_refused_with_code_7_while_the_gate_is_off() {
    let d = TestDaemon::start(&TestConfig::demo());
    let id = "0".repeat(32);
    for (method, query) in [
        (ADD, ALL_FIELDS.to_string()),
        (UPDATE, format!("is_installid={id}&is_swversion=2")),
        (REMOVE, format!("is_installid={id}")),
        (ACCESS, format!("is_installid={id}")),
    ] {
        let message = d.call(method, &query).expect_error(7);
        assert!(
            message.contains("security.enablePublishAnalyticsApi"),
            "{method}: {message}"
        );
    }
    assert!(stored(&d).is_empty());
}

#[test]
fn an_added_install_stores_every_field_and_replies_a_fresh_128_bit_id() {
    let d = TestDaemon::start(&analytics_on());
    let r = d.call(ADD, ALL_FIELDS);
    r.expect_ok();
    assert_eq!(r.element_names(), ["result", "installID"]);
    assert_eq!(
        r.get("result").as_deref(),
        Some("The installation has been registered.")
    );
    let id = r.get("installID").expect("an installID");
    assert_eq!(id.len(), 32, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id}"
    );
    let installs = stored(&d);
    let install = &installs[&id];
    let fields = &install["fields"];
    for (field, value) in [
        ("software_version", "1.0"),
        ("os_version", "Windows 11"),
        ("computer_name", "DESK-1"),
        ("computer_id", "PC-7"),
        ("activation_key", "AAAA-BBBB"),
        ("computer_key", "PCK-1"),
        ("product_name", "Demo"),
        ("custom_data1", "c1"),
        ("custom_data2", "c2"),
        ("custom_data3", "c3"),
    ] {
        assert_eq!(fields[field], value, "{field}: {install}");
    }
    assert_eq!(fields["trial"], true);
    assert_eq!(
        (
            fields["major_version"].clone(),
            fields["minor_version"].clone()
        ),
        (2.into(), 3.into())
    );
    assert!(install["uninstalled_at"].is_null(), "{install}");
    // No field is required; every install gets an id of its own.
    let ids: std::collections::BTreeSet<String> = (0..20).map(|_| add(&d, "")).collect();
    assert_eq!(ids.len(), 20);
    assert!(!ids.contains(&id));
    assert_eq!(stored(&d).len(), 21);
    let j = d.call(ADD, "is_format=json").json();
    assert_eq!(j["installID"].as_str().map(str::len), Some(32), "{j}");
}

#[test]
fn update_replaces_the_fields_and_remove_and_last_access_record_their_dates() {
    let d = TestDaemon::start(&analytics_on());
    let id = add(&d, ALL_FIELDS);
    let r = d.call(
        UPDATE,
        &format!("is_installid={}&is_swversion=1.1", id.to_uppercase()),
    );
    r.expect_ok();
    assert_eq!(r.get("installID").as_deref(), Some(id.as_str()));
    let fields = stored(&d)[&id]["fields"].clone();
    assert_eq!(fields, serde_json::json!({ "software_version": "1.1" }));

    let r = d.call(ACCESS, &format!("is_installid={id}"));
    r.expect_ok();
    assert_eq!(
        r.element_names(),
        ["result", "installID", "lastAccessedDate"]
    );
    let accessed = r.get("lastAccessedDate").expect("a date");
    assert_eq!(accessed.len(), "yyyy-MM-dd HH:mm:ss".len(), "{accessed}");

    let r = d.call(REMOVE, &format!("is_installid={id}"));
    r.expect_ok();
    assert_eq!(r.element_names(), ["result", "installID", "uninstallDate"]);
    let removed = r.get("uninstallDate").expect("a date");
    let install = stored(&d)[&id].clone();
    let at = install["uninstalled_at"].as_i64().expect("uninstalled");
    assert!(at >= install["last_accessed_at"].as_i64().expect("accessed"));
    // Removing again keeps the first date.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = d.call(REMOVE, &format!("is_installid={id}"));
    assert_eq!(again.get("uninstallDate"), Some(removed));
    assert_eq!(stored(&d)[&id]["uninstalled_at"], at);
}

#[test]
fn an_unknown_or_malformed_install_id_is_203_and_a_missing_one_208_changing_nothing() {
    let d = TestDaemon::start(&analytics_on());
    let id = add(&d, "is_swversion=1.0");
    let before = stored(&d);
    let unknown = "f".repeat(32);
    for method in [UPDATE, REMOVE, ACCESS] {
        for bad in [unknown.as_str(), "not-an-id", &"a".repeat(33)] {
            d.call(method, &format!("is_installid={bad}&is_swversion=9"))
                .expect_error(203);
        }
        let message = d.call(method, "is_swversion=9").expect_error(208);
        assert!(message.contains("is_installid"), "{method}: {message}");
    }
    assert_eq!(stored(&d), before);
    assert!(before.contains_key(&id));
}

#[test]
fn malformed_or_oversized_values_and_wrong_credentials_are_refused_and_store_nothing() {
    let d = TestDaemon::start(&analytics_on());
    let id = add(&d, "is_swversion=1.0");
    let before = stored(&d);
    let long = |n: usize| "a".repeat(n);
    for (query, code, named) in [
        ("is_trial=maybe".to_string(), 5, "is_trial"),
        ("is_majorversion=-1".to_string(), 5, "is_majorversion"),
        ("is_minorversion=x".to_string(), 5, "is_minorversion"),
        ("is_computerID=PC+7".to_string(), 5, "is_computerid"),
        (format!("is_swversion={}", long(256)), 5, "is_swversion"),
        (format!("is_avkey={}", long(256)), 5, "is_avkey"),
        (
            format!("is_customdata3={}", long(1025)),
            5,
            "is_customdata3",
        ),
        (
            "is_vendor=QlmAuthenticationProvider&is_user=demo&is_pwd=wrong".to_string(),
            8,
            "",
        ),
    ] {
        for (method, query) in [
            (ADD, query.clone()),
            (UPDATE, format!("is_installid={id}&{query}")),
        ] {
            let message = d.call(method, &query).expect_error(code);
            assert!(message.contains(named), "{method} {query}: {message}");
        }
    }
    // The longest values allowed are stored.
    add(
        &d,
        &format!("is_swversion={}&is_customdata1={}", long(255), long(1024)),
    );
    assert_eq!(stored(&d).len(), before.len() + 1);
    assert_eq!(stored(&d)[&id], before[&id]);
}

/// Each cap: past it the reply is 200 naming it, and nothing is stored.
#[test]
fn each_cap_reached_answers_200_naming_it_and_stores_nothing() {
    let config = analytics_on()
        .server("trustedProxies = [\"127.0.0.0/8\"]")
        .append(
            "[analytics]\nmaxInstallsPerKeyPerDay = 2\nmaxInstallsPerAddressPerDay = 3\nmaxInstalls = 8\n",
        );
    let d = TestDaemon::start(&config);
    let refused = |client: &str, query: &str, cap: &str| {
        let before = stored(&d).len();
        let r = call_from(&d, client, ADD, query);
        let message = r.expect_error(200);
        assert!(message.contains(&format!("analytics.{cap} (")), "{message}");
        assert_eq!(stored(&d).len(), before, "a refused install was stored");
    };
    let added = |client: &str, query: &str| {
        call_from(&d, client, ADD, query).expect_ok();
    };
    // One key, written two ways, from two addresses.
    added("192.0.2.1", "is_avkey=ab-cd");
    added("192.0.2.2", "is_avkey=ABCD");
    refused("192.0.2.3", "is_avkey=A-B-C-D", "maxInstallsPerKeyPerDay");
    // One IPv4 address.
    for _ in 0..3 {
        added("198.51.100.7", "");
    }
    refused(
        "198.51.100.7",
        "is_avkey=OTHER",
        "maxInstallsPerAddressPerDay",
    );
    // One IPv6 /64, from three addresses in it.
    added("2001:db8:1:2::1", "");
    added("2001:db8:1:2::2", "");
    added("2001:db8:1:2:ffff::3", "");
    refused("2001:db8:1:2::4", "", "maxInstallsPerAddressPerDay");
    // Eight stored: the total.
    refused("2001:db8:1:3::1", "", "maxInstalls");
    assert_eq!(stored(&d).len(), 8);
    let out = cli_ok(d.cli(&["check"]));
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn concurrent_adds_with_one_key_store_exactly_the_cap() {
    let config = analytics_on().append("[analytics]\nmaxInstallsPerKeyPerDay = 5\n");
    let d = TestDaemon::start(&config);
    let codes: Vec<Option<u32>> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..24)
            .map(|_| s.spawn(|| d.call(ADD, "is_avkey=SAME-KEY").error_code()))
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().expect("a call"))
            .collect()
    });
    assert_eq!(codes.iter().filter(|c| c.is_none()).count(), 5, "{codes:?}");
    assert!(
        codes.iter().all(|c| matches!(c, None | Some(200))),
        "{codes:?}"
    );
    assert_eq!(stored(&d).len(), 5);
}

#[test]
fn on_postgresql_installs_are_stored_capped_changed_and_exported() {
    let Some(url) = crate::postgres::fresh_database() else {
        return;
    };
    let config = crate::postgres::on_postgres(&url)
        .security("enablePublishAnalyticsApi = true")
        .append("[analytics]\nmaxInstallsPerKeyPerDay = 3\n");
    let d = TestDaemon::start(&config);
    let codes: Vec<Option<u32>> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..12)
            .map(|_| s.spawn(|| d.call(ADD, "is_avkey=PG-KEY").error_code()))
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().expect("a call"))
            .collect()
    });
    assert_eq!(codes.iter().filter(|c| c.is_none()).count(), 3, "{codes:?}");
    let id = add(&d, ALL_FIELDS);
    d.call(UPDATE, &format!("is_installid={id}&is_osversion=Linux"))
        .expect_ok();
    d.call(REMOVE, &format!("is_installid={id}")).expect_ok();
    d.call(ACCESS, &format!("is_installid={}", "e".repeat(32)))
        .expect_error(203);
    let installs = stored(&d);
    assert_eq!(installs.len(), 4);
    assert_eq!(
        installs[&id]["fields"],
        serde_json::json!({ "os_version": "Linux" })
    );
    assert!(installs[&id]["uninstalled_at"].is_i64());
    let out = cli_ok(d.cli(&["check"]));
    assert!(out.contains("ok"), "{out}");
    // A count SQL changed behind licd's back is found.
    let database = url.rsplit('/').next().and_then(|t| t.split('?').next());
    let pg = licd_pg_cluster::cluster().expect("the cluster");
    pg.psql(
        database.expect("a database name"),
        "UPDATE analytics_counts SET n = n + 5 WHERE name = 'installs'",
    );
    let (_, out, err) = d.cli(&["check"]);
    assert!(
        format!("{out}{err}").contains("install counter says 9 but 4"),
        "{out}{err}"
    );
}

#[test]
fn installs_and_the_counts_of_their_caps_move_to_postgresql_with_migrate() {
    let Some(url) = crate::postgres::fresh_database() else {
        return;
    };
    let caps = "[analytics]\nmaxInstallsPerKeyPerDay = 2\n";
    let mut redb = TestDaemon::start(&analytics_on().append(caps));
    add(&redb, "is_avkey=MOVED");
    let id = add(&redb, "is_avkey=MOVED&is_swversion=3.0");
    redb.call(REMOVE, &format!("is_installid={id}")).expect_ok();
    redb.call(ADD, "is_avkey=MOVED").expect_error(200);
    let before = stored(&redb);
    assert_eq!(redb.stop(), Some(0));
    let out = cli_ok(redb.cli(&["migrate", "--to", "postgres", "--postgres-url", &url]));
    assert!(out.contains("analytics_installs"), "{out}");

    let node = TestDaemon::start(
        &crate::postgres::on_postgres(&url)
            .security("enablePublishAnalyticsApi = true")
            .append(caps),
    );
    assert_eq!(stored(&node), before, "the export of PostgreSQL differs");
    // Today's count came along: the key's cap is still reached.
    node.call(ADD, "is_avkey=MOVED").expect_error(200);
    node.call(ACCESS, &format!("is_installid={id}")).expect_ok();
    add(&node, "is_avkey=NEW");
    let out = cli_ok(node.cli(&["check"]));
    assert!(out.contains("ok"), "{out}");
}
