//! The FastSpring plugin in the real daemon, and the defences around a plugin that signs the
//! request body only (methods.md "Auth", plugins.md; docs/plugins.md §6).
//!
//! FastSpring's `security_request_hash` covers the body's values and nothing else. A security
//! review replayed a captured genuine callback with `is_numberofactivationsperkey=10000` added
//! to its URL (a key with 10,000 seats), renamed a body field to escape the order-id memory,
//! and used a FastSpring vendor without a `methods` list to revoke another vendor's licence
//! through UpdateLicenseHttp. Each attack is reproduced here and refused, next to the genuine
//! callback that still works.

use md5::{Digest, Md5};

use super::build::plugins;
use super::{PRODUCT, plugin_vendor};
use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR, cli_ok};

const FS_KEY: &str = "fs-private-key";

/// What a store's fulfilment URL carries in its query string.
const FULFILMENT: &str = "is_vendor=FastSpring&is_productid=1&is_majorversion=1&is_minorversion=0";

/// The message of every authentication failure.
const FAILED: &str = "Authentication failed: check the vendor name, user and password.";

/// A demo configuration with the FastSpring plugin and its vendor (no `methods` list, as in
/// the review); `vendor_extra` is appended to the `[[vendor]]`.
fn fastspring_config(vendor_extra: &str) -> TestConfig {
    let tables = plugin_vendor(
        "fastspring",
        &plugins().fastspring,
        2000,
        &format!("privateKey = \"{FS_KEY}\""),
        "FastSpring",
    ) + vendor_extra;
    TestConfig::demo().append(&tables)
}

fn fastspring_daemon() -> TestDaemon {
    TestDaemon::start(&fastspring_config(""))
}

/// A FastSpring remote-license body: the fields, then `security_request_hash` computed as
/// FastSpring does (values ordered by name, then the private key, MD5 in lowercase hex).
fn fastspring_body(fields: &[(&str, &str)], key: &str) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut md5 = Md5::new();
    for (_, v) in &sorted {
        md5.update(v.as_bytes());
    }
    md5.update(key.as_bytes());
    let hash: String = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let mut body: Vec<String> = fields
        .iter()
        .map(|(n, v)| format!("{n}={}", v.replace('@', "%40").replace(' ', "+")))
        .collect();
    body.push(format!("security_request_hash={hash}"));
    body.join("&")
}

/// A genuine order callback for `reference` (3 seats), plus `extra` body fields, signed.
fn order(reference: &str, extra: &[(&str, &str)]) -> String {
    order_with("reference", reference, extra)
}

/// [`order`] with the order reference under the field name `name`.
fn order_with(name: &str, reference: &str, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        (name, reference),
        ("quantity", "3"),
        ("email", "buyer@example.com"),
        ("name", "Ada Buyer"),
        ("product", "demo-app"),
    ];
    fields.extend_from_slice(extra);
    fastspring_body(&fields, FS_KEY)
}

/// The `security_request_hash` of a body.
fn hash_of(body: &str) -> &str {
    body.rsplit("security_request_hash=")
        .next()
        .unwrap_or_default()
}

/// POSTs a callback to `method` with `query`.
fn post(d: &TestDaemon, method: &str, query: &str, body: &str) -> HttpReply {
    d.post_form(&format!("/qlmservice.asmx/{method}?{query}"), body)
}

/// Every licence stored, through `licd keys list` on the running daemon.
fn licenses(d: &TestDaemon) -> Vec<serde_json::Value> {
    cli_ok(d.cli(&["keys", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn fastspring_signed_order_creates_a_key_with_the_mapped_quantity_order_and_email() {
    let d = fastspring_daemon();
    let r = post(
        &d,
        "GetActivationKey",
        FULFILMENT,
        &order("FS-ORDER-1", &[]),
    );
    r.expect_ok();
    let key = r.get("activationKey").expect("a key");
    assert_eq!(r.get("numActivationsAllowed").as_deref(), Some("3"));
    for pc in ["PC-1", "PC-2", "PC-3"] {
        d.activate(&key, pc).expect_ok();
    }
    d.activate(&key, "PC-4").expect_error(210);
    let info = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(info.get("orderID").as_deref(), Some("FS-ORDER-1"));
    assert_eq!(info.get("userEmail").as_deref(), Some("buyer@example.com"));
}

#[test]
fn fastspring_tampered_unsigned_or_wrongly_keyed_order_is_code_8_and_logged() {
    let d = fastspring_daemon();
    let tampered = order("FS-1", &[]).replace("quantity=3", "quantity=30");
    post(&d, "GetActivationKey", FULFILMENT, &tampered).expect_error(8);
    assert!(d.wait_for_log("does not match"), "{}", d.logs());
    assert!(d.logs().contains("plugin=fastspring") && d.logs().contains("vendor=FastSpring"));
    let unsigned = "reference=X&quantity=1";
    post(&d, "GetActivationKey", FULFILMENT, unsigned).expect_error(8);
    assert!(d.wait_for_log("no security_request_hash"), "{}", d.logs());
    let wrong_key = fastspring_body(&[("reference", "FS-1")], "another-key");
    post(&d, "GetActivationKey", FULFILMENT, &wrong_key).expect_error(8);
    // A GET has no signed body at all.
    d.call("GetActivationKey", FULFILMENT).expect_error(8);
    assert!(licenses(&d).is_empty());
    d.call("GetActivationKey", &format!("{PRODUCT}&{VENDOR}"))
        .expect_ok();
}

#[test]
fn a_replayed_callback_is_answered_with_its_first_reply_and_creates_nothing_even_after_a_restart() {
    let d = fastspring_daemon();
    let body = order("FS-ORDER-7", &[]);
    let first = post(&d, "GetActivationKey", FULFILMENT, &body);
    first.expect_ok();
    let key = first.get("activationKey").expect("a key");
    // The store's retry after a lost reply gets the same reply, byte for byte.
    let again = post(&d, "GetActivationKey", FULFILMENT, &body);
    assert_eq!(again.body, first.body);
    // In the format the retry asks for.
    let json = post(
        &d,
        "GetActivationKey",
        &format!("{FULFILMENT}&is_format=json"),
        &body,
    );
    assert_eq!(json.json()["licenses"][0]["activationKey"], key.as_str());
    // Another product in the (unsigned) URL escapes the order-id memory, not this one.
    let other_product = FULFILMENT.replace("is_productid=1", "is_productid=2");
    assert_eq!(
        post(&d, "GetActivationKey", &other_product, &body).get("activationKey"),
        Some(key.clone())
    );
    assert!(d.wait_for_log("replayed request answered with its first outcome"));
    assert_eq!(licenses(&d).len(), 1, "{:?}", licenses(&d));

    let d = d.restart();
    let after = post(&d, "GetActivationKey", FULFILMENT, &body);
    assert_eq!(after.body, first.body);
    assert_eq!(licenses(&d).len(), 1);
    // A new order is a new callback and creates its key.
    let next = post(
        &d,
        "GetActivationKey",
        FULFILMENT,
        &order("FS-ORDER-8", &[]),
    );
    assert_ne!(next.get("activationKey"), Some(key));
    assert_eq!(licenses(&d).len(), 2);
    let (code, report, err) = d.cli(&["check"]);
    assert_eq!(code, 0, "{report}{err}");
}

#[test]
fn unsigned_arguments_added_to_a_genuine_callback_are_code_8_and_create_nothing() {
    let d = fastspring_daemon();
    let attacks = [
        "is_numberofactivationsperkey=10000",
        "is_quantity=10000",
        "is_additionalactivations=10000",
        "is_usemultipleactivationskey=false",
        "is_orderid=OTHER",
        "is_subscriptionid=SUB-X",
        "is_revoke=true",
        "is_avkey=ABCDE",
        "IS_UserData1=x",
        "is_deacivation_code=1",
    ];
    for (i, attack) in attacks.iter().enumerate() {
        // A fresh genuine callback each time, so that no replay memory answers for it.
        let body = order(&format!("FS-A{i}"), &[]);
        let r = post(
            &d,
            "GetActivationKey",
            &format!("{FULFILMENT}&{attack}"),
            &body,
        );
        assert_eq!(r.expect_error(8), FAILED, "{attack}");
        let name = attack
            .split('=')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let name = name.replace("deacivation", "deactivation");
        assert!(
            d.wait_for_log(&format!("the request carries {name},")),
            "{attack}: {}",
            d.logs()
        );
    }
    // In the body, even under the signature, an is_* field is not something map_args wrote.
    let signed = order("FS-B", &[("is_numberofactivationsperkey", "10000")]);
    post(&d, "GetActivationKey", FULFILMENT, &signed).expect_error(8);
    assert!(licenses(&d).is_empty(), "{:?}", licenses(&d));

    // What a store's URLs carry is still accepted, an alias of an allowed name included.
    let allowed = format!(
        "{FULFILMENT}&is_format=json&is_expduration=365&is_maintenance_plan=true&is_mainduration=30"
    );
    let r = post(&d, "GetActivationKey", &allowed, &order("FS-C", &[]));
    assert_eq!(r.json()["licenses"][0]["numActivationsAllowed"], 3);
    assert_eq!(licenses(&d).len(), 1);
}

#[test]
fn unsigned_arguments_count_as_failed_authentications_from_the_sender() {
    let d = TestDaemon::start(&fastspring_config("").security("authFailuresPerMinute = 2"));
    let tampered = format!("{FULFILMENT}&is_numberofactivationsperkey=10000");
    for i in 0..2 {
        let body = order(&format!("FS-T{i}"), &[]);
        assert_eq!(
            post(&d, "GetActivationKey", &tampered, &body).expect_error(8),
            FAILED
        );
    }
    // The sender is now blocked, even for a genuine callback.
    let e = post(&d, "GetActivationKey", FULFILMENT, &order("FS-T9", &[])).expect_error(8);
    assert!(e.contains("Too many failed authentications"), "{e}");
    assert!(licenses(&d).is_empty());
}

#[test]
fn a_callback_whose_reference_was_renamed_is_refused_and_creates_nothing() {
    let d = fastspring_daemon();
    let genuine = order("FS-R1", &[]);
    post(&d, "GetActivationKey", FULFILMENT, &genuine).expect_ok();
    // The hash covers values only: a name that sorts where `reference` did keeps it valid,
    // and a body without an order id would escape the order-id memory.
    let renamed = order_with("reference_", "FS-R1", &[]);
    assert_eq!(hash_of(&renamed), hash_of(&genuine));
    for body in [renamed, order_with("reference_", "FS-R2", &[])] {
        assert_eq!(
            post(&d, "GetActivationKey", FULFILMENT, &body).expect_error(8),
            FAILED
        );
    }
    assert!(d.wait_for_log("no reference"), "{}", d.logs());
    assert_eq!(licenses(&d).len(), 1);
}

#[test]
fn fastspring_may_not_call_other_methods_nor_replay_a_callback_through_another() {
    let d = fastspring_daemon();
    let other_vendors = d.create_key("");
    let before = d.license_snapshot(&other_vendors);
    let revoke = [
        ("UpdateLicenseHttp", "is_revoke=true"),
        ("RevokeLicenseHttp", ""),
        ("ReleaseLicenseHttp", "is_pcid=PC-1"),
    ];
    for (i, (method, extra)) in revoke.iter().enumerate() {
        let query = format!("is_vendor=FastSpring&is_avkey={other_vendors}&{extra}");
        let body = order(&format!("FS-M{i}"), &[]);
        assert_eq!(post(&d, method, &query, &body).expect_error(8), FAILED);
        assert!(
            d.wait_for_log(&format!("this request calls {method}")),
            "{method}: {}",
            d.logs()
        );
    }
    assert_eq!(d.license_snapshot(&other_vendors), before);

    // The sound rebill: a subscription created by one callback, renewed by the next.
    let created = order("FS-S1", &[("subscription", "SUB-1")]);
    let query = format!("{FULFILMENT}&is_expdate=2031-01-01");
    let key = post(&d, "GetActivationKey", &query, &created)
        .get("activationKey")
        .expect("a key");
    let rebill = order("FS-S2", &[("subscription", "SUB-1")]);
    let renew = "is_vendor=FastSpring&is_expduration=30";
    let renewed = post(&d, "RenewSubscriptionHttp", renew, &rebill);
    assert_eq!(
        renewed.get("expiryDate").as_deref(),
        Some("2031-01-31 23:59:59")
    );
    // Sent twice, the rebill renews once.
    assert_eq!(
        post(&d, "RenewSubscriptionHttp", renew, &rebill).body,
        renewed.body
    );
    // The creation callback sent to the renewal URL is no rebill: refused, nothing renewed.
    post(&d, "RenewSubscriptionHttp", renew, &created).expect_error(8);
    assert!(
        d.wait_for_log("first used by another method"),
        "{}",
        d.logs()
    );
    let info = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(
        info.get("expiryDate").as_deref(),
        Some("2031-01-31 23:59:59")
    );
}

#[test]
fn a_client_sent_replay_id_neither_hits_nor_poisons_the_replay_memory() {
    let d = fastspring_daemon();
    let genuine = order("FS-P1", &[]);
    let hash = hash_of(&genuine).to_string();
    // A password vendor's is_replayid is no replay id: each request creates its key.
    let mine = |_| d.create_key(&format!("is_replayid={hash}"));
    let (a, b) = (mine(1), mine(2));
    assert_ne!(a, b);
    // A FastSpring request may not bring its own (code 8, whatever the body).
    let forged = format!("{FULFILMENT}&is_replayid={hash}");
    post(&d, "GetActivationKey", &forged, &genuine).expect_error(8);
    post(&d, "GetActivationKey", &forged, &order("FS-P2", &[])).expect_error(8);
    // The genuine callback is then a first callback: its own new key, remembered.
    let r = post(&d, "GetActivationKey", FULFILMENT, &genuine);
    let key = r.get("activationKey").expect("a key");
    assert!(key != a && key != b);
    assert_eq!(
        post(&d, "GetActivationKey", FULFILMENT, &genuine).get("activationKey"),
        Some(key)
    );
    assert_eq!(licenses(&d).len(), 3);
}

#[test]
fn an_explicit_unsigned_args_list_replaces_the_default_and_binds_other_plugins_too() {
    let spy_dir = tempfile::tempdir().expect("temp dir");
    let spy = format!(
        "mode = \"spy\"\ndumpFile = \"{}\"",
        spy_dir.path().join("seen.jsonl").display()
    );
    let product = "\"is_vendor\", \"is_productid\", \"is_majorversion\", \"is_minorversion\"";
    let config = fastspring_config(&format!("unsignedArgs = [{product}, \"is_userdata1\"]\n"))
        .append(&plugin_vendor(
            "spy",
            &plugins().test_plugin,
            2000,
            &spy,
            "Listed",
        ))
        .append(&format!("unsignedArgs = [{product}]\n"))
        .append(&plugin_vendor(
            "spy2",
            &plugins().test_plugin,
            2000,
            &spy,
            "Unlisted",
        ));
    let d = TestDaemon::start(&config);

    let r = post(
        &d,
        "GetActivationKey",
        &format!("{FULFILMENT}&is_userdata1=Campaign"),
        &order("FS-U1", &[]),
    );
    let key = r.get("activationKey").expect("a key");
    let info = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_activate=false"),
    );
    assert_eq!(info.get("userData").as_deref(), Some("Campaign"));
    // The default list no longer applies: is_expduration is not in this one.
    let r = post(
        &d,
        "GetActivationKey",
        &format!("{FULFILMENT}&is_expduration=30"),
        &order("FS-U2", &[]),
    );
    r.expect_error(8);

    // A plugin that does not sign the body only is bound by a list when one is set…
    let more = "is_quantity=2";
    let listed = format!("is_vendor=Listed&{PRODUCT}&{more}");
    d.call("GetActivationKey", &listed).expect_error(8);
    assert!(
        d.wait_for_log("the request carries is_quantity,"),
        "{}",
        d.logs()
    );
    // …and unaffected without one.
    let unlisted = d.call(
        "GetActivationKey",
        &format!("is_vendor=Unlisted&{PRODUCT}&{more}"),
    );
    assert_eq!(unlisted.get("numActivationsAllowed").as_deref(), Some("2"));
}

#[test]
fn the_replay_memory_survives_export_and_import_and_passes_check() {
    if crate::util::redb_only_test() {
        return;
    }
    let d = fastspring_daemon();
    let body = order("FS-E1", &[]);
    let first = post(&d, "GetActivationKey", FULFILMENT, &body);
    first.expect_ok();
    let exported = d.dir().join("all.jsonl");
    cli_ok(d.cli(&["export", "--out", exported.to_str().expect("utf-8")]));
    let text = std::fs::read_to_string(&exported).expect("export");
    let hash = hash_of(&body);
    for table in ["\"replays_v1\"", "\"replay_order_v1\""] {
        assert!(
            text.lines().any(|l| l.contains(table) && l.contains(hash)),
            "{table} not exported: {text}"
        );
    }

    let mut d = d;
    assert_eq!(d.stop(), Some(0));
    std::fs::remove_dir_all(d.data_dir()).expect("remove the data");
    cli_ok(d.cli(&["import", "--from", exported.to_str().expect("utf-8")]));
    cli_ok(d.cli(&["check"]));
    let d = d.restart_stopped();
    assert_eq!(
        post(&d, "GetActivationKey", FULFILMENT, &body).body,
        first.body
    );
    assert_eq!(licenses(&d).len(), 1);
}
