//! The staff console (issue 18, docs/console.md) over HTTP: its own listener, logins and
//! their throttle, sessions that end when idle, when old and at logout, roles enforced on
//! the server, CSRF tokens on every form, every action in the history with the staff user
//! and their address, the search and its CSV export, and the start-up refusals. Browser
//! tests are in `console/browser.rs`, two nodes on one PostgreSQL in `console/nodes.rs`.

mod browser;
mod client;
mod nodes;

use std::time::Duration;

use crate::util::{TestCa, TestConfig, TestDaemon, cli_ok, licd_cmd, tls_get};
use client::Client;

/// Staff of the tests: name, password, role.
pub const ANN: (&str, &str, &str) = ("ann", "ann's long password", "admin");
/// A support user.
pub const SAM: (&str, &str, &str) = ("sam", "sam's long password", "support");
/// A viewer.
pub const VIC: (&str, &str, &str) = ("vic", "vic's long password", "viewer");

/// `[console]` on a free loopback port with `extra` lines, and `users`.
pub fn console_section(users: &[(&str, &str, &str)], extra: &str) -> String {
    let mut s = format!("\n[console]\nlisten = \"127.0.0.1:0\"\n{extra}\n");
    for (name, password, role) in users {
        let hash = licd::auth::password::hash_password(password).expect("hash");
        s.push_str(&format!(
            "[[console.user]]\nname = \"{name}\"\npasswordHash = \"{hash}\"\nrole = \"{role}\"\n"
        ));
    }
    s
}

/// The demo configuration with the three test users and `extra` lines in `[console]`.
pub fn staff_config(extra: &str) -> TestConfig {
    TestConfig::demo().append(&console_section(&[ANN, SAM, VIC], extra))
}

/// The history of `key` as `licd keys show` prints it.
pub fn history(d: &TestDaemon, key: &str) -> Vec<serde_json::Value> {
    let shown: serde_json::Value =
        serde_json::from_str(&cli_ok(d.cli(&["keys", "show", key]))).expect("json");
    shown["history"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_console_listens_only_with_users_and_logs_its_own_line_after_the_main_one() {
    let d =
        TestDaemon::start(&TestConfig::demo().append("\n[console]\nlisten = \"127.0.0.1:0\"\n"));
    d.call("PingHttp", "").expect_ok();
    assert!(!d.logs().contains("console listening"), "{}", d.logs());

    let d = TestDaemon::start(&staff_config(""));
    let c = Client::of(&d);
    let logs = d.logs();
    let main = logs
        .find(&format!("listening on http://{}", d.addr))
        .expect("the main line");
    let console = logs
        .find("licd console listening on http://127.0.0.1:")
        .expect("the console line");
    assert!(main < console, "{logs}");
    assert_ne!(c.addr, d.addr);
    // The methods are not on the console's port, nor the console on the methods'.
    assert_eq!(
        c.get("/qlmservice.asmx/PingHttp").status,
        303,
        "to the login"
    );
    assert_eq!(d.get("/login").status, 404);
}

#[test]
fn every_console_page_carries_the_content_security_policy_without_inline_script() {
    let d = TestDaemon::start(&staff_config(""));
    let c = Client::of(&d);
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'";
    let login = c.get("/login");
    assert_eq!(login.status, 200);
    c.logged_in(ANN.0, ANN.1);
    for page in [
        login,
        c.get("/"),
        c.get("/search?q=x"),
        c.get("/dashboard"),
        c.get("/nowhere"),
    ] {
        let header = page
            .header("content-security-policy")
            .expect("a CSP header");
        assert!(header.starts_with(csp), "{header}");
        assert!(!page.body.contains("<script"), "{}", page.body);
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
    }
}

#[test]
fn login_sets_a_strict_http_only_session_cookie_and_logout_ends_the_session_for_good() {
    let d = TestDaemon::start(&staff_config(""));
    let c = Client::of(&d);
    assert_eq!(
        c.get("/").header("location"),
        Some("/login"),
        "no session yet"
    );
    let r = c.login(SAM.0, SAM.1);
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.set_cookie("licd_console").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let id = c.cookie("licd_console").expect("in the jar");
    assert!(id.len() >= 22, "at least 128 bits: {id}");
    let home = c.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("sam (support)"), "{}", home.body);
    assert!(d.wait_for_log("console: logged in console_user=sam"));

    let out = c.post("/logout", &[("csrf_token", &home.token("/logout"))]);
    assert_eq!(out.status, 303);
    assert!(
        out.set_cookie("licd_console")
            .is_some_and(|v| v.contains("Max-Age=0"))
    );
    // The old id logs nobody in any more.
    c.set_cookie("licd_console", &id);
    let again = c.get("/");
    assert_eq!(again.header("location"), Some("/login?ended=1"));
    let login = c.get("/login?ended=1");
    assert!(
        login.body.contains("Your session has ended"),
        "{}",
        login.body
    );
}

#[test]
fn a_wrong_password_or_an_unknown_name_is_refused_alike_and_logs_nobody_in() {
    let d = TestDaemon::start(&staff_config(""));
    let c = Client::of(&d);
    let wrong = c.login(ANN.0, "not it");
    let unknown = c.login("nobody", ANN.1);
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401);
        assert!(
            r.body.contains("The name or the password is wrong."),
            "{}",
            r.body
        );
        assert!(r.set_cookie("licd_console").is_none());
    }
    assert_eq!(c.get("/").header("location"), Some("/login"));
}

#[test]
fn five_failed_logins_in_15_minutes_lock_the_address_out_even_for_the_right_password() {
    let d = TestDaemon::start(&staff_config("").server("trustedProxies = [\"127.0.0.1/32\"]"));
    let base = Client::of(&d);
    let guesser = base.seen_from("198.51.100.7");
    for _ in 0..5 {
        assert_eq!(guesser.login(ANN.0, "guess").status, 401);
    }
    let locked = guesser.login(ANN.0, ANN.1);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("15 minutes"), "{}", locked.body);
    assert!(locked.set_cookie("licd_console").is_none(), "no session");
    assert_eq!(guesser.get("/").header("location"), Some("/login"));
    // Another address logs in.
    let other = base.seen_from("198.51.100.8");
    other.logged_in(ANN.0, ANN.1);
    assert_eq!(other.get("/").status, 200);
}

#[test]
fn an_idle_session_ends_after_session_idle_minutes() {
    // 0.05 minutes: three seconds.
    let d = TestDaemon::start(&staff_config("sessionIdleMinutes = 0.05"));
    let c = Client::of(&d);
    c.logged_in(VIC.0, VIC.1);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            c.get("/").status,
            200,
            "used within its idle time, it lives on"
        );
    }
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(c.get("/").header("location"), Some("/login?ended=1"));
}

#[test]
fn a_busy_session_still_ends_after_session_max_hours() {
    // 0.0012 hours: four seconds (rounded).
    let d = TestDaemon::start(&staff_config("sessionMaxHours = 0.0012"));
    let c = Client::of(&d);
    c.logged_in(VIC.0, VIC.1);
    assert_eq!(c.get("/").status, 200);
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(c.get("/").status, 200);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(c.get("/").header("location"), Some("/login?ended=1"));
}

#[test]
fn a_form_without_its_csrf_token_is_refused_with_403_and_changes_nothing() {
    let d = TestDaemon::start(&staff_config(""));
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "PC-1").expect_ok();
    let before = d.license_snapshot(&key);
    let c = Client::of(&d);
    c.logged_in(ANN.0, ANN.1);
    let page = format!("/licence/{key}");
    let revoke = format!("/licence/{key}/revoke");
    let release = format!("/licence/{key}/release");
    let no_token = c.post(&revoke, &[]);
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    assert!(
        no_token.body.contains("no security token"),
        "{}",
        no_token.body
    );
    assert!(no_token.body.contains("Nothing was changed"));
    // A token of another form, or another session's, is no better.
    let release_token = c.get(&page).token(&release);
    let wrong_form = c.post(&revoke, &[("csrf_token", &release_token)]);
    assert_eq!(wrong_form.status, 403);
    let other = Client::of(&d);
    other.logged_in(SAM.0, SAM.1);
    let others = other.get(&page).token(&release);
    let stolen = c.post(
        &release,
        &[("csrf_token", &others), ("computer_id", "PC-1")],
    );
    assert_eq!(stolen.status, 403);
    let login_token = c.post("/login", &[("user", ANN.0), ("password", ANN.1)]);
    assert_eq!(login_token.status, 403, "the login form has one too");
    assert_eq!(d.license_snapshot(&key), before);
    assert!(history(&d, &key).is_empty(), "nothing written");
}

#[test]
fn a_viewers_forged_post_to_an_admin_or_support_action_is_refused_with_403_and_changes_nothing() {
    let d = TestDaemon::start(&staff_config(""));
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "PC-1").expect_ok();
    let before = d.license_snapshot(&key);
    let c = Client::of(&d);
    c.logged_in(VIC.0, VIC.1);
    let page = c.get(&format!("/licence/{key}"));
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("/release\""),
        "a viewer is offered no release button"
    );
    assert!(!page.body.contains("/revoke\""), "nor a revoke button");
    // A token the viewer does hold, on forms it was never shown.
    let token = page.token("/logout");
    for (action, fields) in [
        ("revoke", vec![]),
        ("release", vec![("computer_id", "PC-1")]),
        ("update", vec![("is_quantity", "50")]),
        ("delete", vec![("confirm", "yes")]),
    ] {
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend(fields);
        let r = c.post(&format!("/licence/{key}/{action}"), &all);
        assert_eq!(r.status, 403, "{action}: {}", r.body);
        assert!(r.body.contains("viewer role"), "{}", r.body);
        assert!(r.body.contains("Nothing was changed"));
    }
    let create = c.post("/create", &[("csrf_token", &token), ("product", "1:1:0")]);
    assert_eq!(create.status, 403);
    assert!(create.body.contains("the admin role"), "{}", create.body);
    assert_eq!(c.get("/create").status, 403);
    assert_eq!(d.license_snapshot(&key), before);
    assert!(history(&d, &key).is_empty());
}

#[test]
fn a_support_user_finds_a_licence_by_computer_name_and_releases_it_with_their_name_in_the_history()
{
    let d = TestDaemon::start(&staff_config(""));
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-77&is_computer_name=Lab%20bench%203"),
    )
    .expect_ok();
    let c = Client::of(&d);
    c.logged_in(SAM.0, SAM.1);
    let found = c.get("/search?q=lab+bench&by=computer");
    assert!(found.body.contains("1 licence found"), "{}", found.body);
    assert!(found.body.contains(&format!("href=\"/licence/{key}\"")));
    let page = format!("/licence/{key}");
    let shown = c.get(&page);
    assert!(
        shown
            .body
            .contains("aria-label=\"Release the seat of Lab bench 3\"")
    );
    assert!(!shown.body.contains("/revoke\""), "support may not revoke");
    let r = c.submit(
        &page,
        &format!("{page}/release"),
        &[("computer_id", "PC-77")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{page}?done=released").as_str())
    );
    assert_eq!(
        d.licence_info(&key).get("availableLicenses").as_deref(),
        Some("2")
    );
    let lines = history(&d, &key);
    let released = lines
        .iter()
        .find(|h| h["event"] == "released")
        .expect("a released line");
    assert_eq!(released["vendor"], "console user sam");
    assert_eq!(released["client"], "127.0.0.1");
    assert_eq!(released["computer_id"], "PC-77");
    assert!(
        c.get(&format!("{page}?done=released"))
            .body
            .contains("The seat was released.")
    );
    // Releasing a computer that holds no seat is the rule's refusal, shown as such.
    let again = c.post(
        &format!("{page}/release"),
        &[
            ("csrf_token", &shown.token(&format!("{page}/release"))),
            ("computer_id", "PC-77"),
        ],
    );
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("code "), "{}", again.body);
}

#[test]
fn an_admin_creates_updates_renews_revokes_restores_and_deletes_with_history_for_each() {
    let d = TestDaemon::start(&staff_config(""));
    let c = Client::of(&d);
    c.logged_in(ANN.0, ANN.1);
    let made = c.submit(
        "/create",
        "/create",
        &[
            ("product", "1:1:0"),
            ("is_numberofactivationsperkey", "3"),
            ("is_licensemodel", "subscription"),
            ("is_expduration", "30"),
            ("is_features", "0:5"),
            ("is_orderid", "ORD-C1"),
            ("is_email", "carla@example.com"),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.body);
    let location = made.header("location").expect("to the licence").to_string();
    let key = location
        .trim_start_matches("/licence/")
        .split('?')
        .next()
        .expect("a key")
        .to_string();
    let info = d.licence_info(&key);
    assert_eq!(
        info.get("numActivationsAllowed").as_deref(),
        Some("3"),
        "{}",
        info.body
    );
    let page = format!("/licence/{key}");
    let shown = c.get(&page);
    assert!(shown.body.contains("carla@example.com") && shown.body.contains("ORD-C1"));
    assert!(shown.body.contains("0:5;"), "{}", shown.body);

    let updated = c.submit(&page, &format!("{page}/update"), &[("is_quantity", "5")]);
    assert_eq!(updated.status, 303, "{}", updated.body);
    assert_eq!(
        d.licence_info(&key).get("numActivationsAllowed").as_deref(),
        Some("5")
    );
    let renewed = c.submit(
        &page,
        &format!("{page}/renew"),
        &[("is_expdate", "2099-01-31")],
    );
    assert_eq!(renewed.status, 303, "{}", renewed.body);
    let revoked = c.submit(&page, &format!("{page}/revoke"), &[]);
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    d.activate(&key, "PC-1").expect_error(201);
    let restored = c.submit(&page, &format!("{page}/revoke"), &[("restore", "true")]);
    assert_eq!(restored.status, 303);
    d.activate(&key, "PC-1").expect_ok();
    let refused = c.submit(&page, &format!("{page}/update"), &[("is_features", "9:9")]);
    assert_eq!(refused.status, 422, "{}", refused.body);

    let events: Vec<String> = history(&d, &key)
        .iter()
        .map(|h| {
            assert_eq!(h["vendor"], "console user ann", "{h}");
            assert_eq!(h["client"], "127.0.0.1", "{h}");
            h["event"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(
        events,
        ["created", "updated", "renewed", "revoked", "restored"]
    );

    let deleted = c.submit(&page, &format!("{page}/delete"), &[("confirm", "yes")]);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    d.activate(&key, "PC-2").expect_error(203);
    // The history outlives the licence; it is read from the stopped daemon's store.
    let mut d = d;
    assert_eq!(d.stop(), Some(0));
    let store = d.open_store();
    let canonical: String = key.chars().filter(|c| *c != '-').collect();
    let lines = crate::util::block_on(async {
        let read = store.read().await.expect("read");
        read.history(&canonical).await.expect("history")
    });
    let last = lines.last().expect("a last line");
    assert_eq!(last.event, "deleted");
    assert_eq!(last.vendor.as_deref(), Some("console user ann"));
    assert_eq!(last.client.as_deref(), Some("127.0.0.1"));
}

#[test]
fn the_search_finds_by_key_email_and_order_and_exports_as_csv_with_formulas_made_inert() {
    let d = TestDaemon::start(&staff_config(""));
    let a = d.create_key("is_orderid=%3DHYPERLINK(1)&is_email=dora%40example.com");
    let b = d.create_key("is_orderid=ORD-B");
    let c = Client::of(&d);
    c.logged_in(VIC.0, VIC.1);
    let part = a[6..11].to_lowercase();
    assert!(c.get(&format!("/search?q={part}&by=key")).body.contains(&a));
    let by_email = c.get("/search?q=DORA%40example&by=email");
    assert!(by_email.body.contains(&a) && !by_email.body.contains(&b));
    let by_order = c.get("/search?q=ord-b&by=order");
    assert!(by_order.body.contains(&b) && !by_order.body.contains(&a));
    assert!(
        by_order
            .body
            .contains("href=\"/search.csv?q=ord%2Db&amp;by=order\""),
        "{}",
        by_order.body
    );

    let csv = c.get("/search.csv?q=example.com&by=email");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.header("content-disposition"),
        Some("attachment; filename=\"licences.csv\"")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(
        lines[0].starts_with("activation_key,product_id,product,"),
        "{}",
        csv.body
    );
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(lines[1].starts_with(&a), "{}", csv.body);
    assert!(lines[1].contains("'=HYPERLINK(1)"), "{}", csv.body);
    assert!(lines[1].contains("dora@example.com"));
}

/// `licd args…` in a temp directory holding `config` as licd.toml.
fn licd_on(config: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("licd.toml"), config).expect("write");
    let mut all = args.to_vec();
    all.extend(["--config", "licd.toml"]);
    licd_cmd(&all, None, dir.path())
}

#[test]
fn off_loopback_without_tls_files_licd_refuses_to_start_naming_the_setting() {
    let config = format!(
        "{}{}",
        TestConfig::demo().to_toml(),
        console_section(&[SAM], "").replace("127.0.0.1:0", "0.0.0.0:0")
    );
    for command in [
        &["check-config"][..],
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"][..],
    ] {
        let (code, out, err) = licd_on(&config, command);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains("[console]") && err.contains("0.0.0.0:0"),
            "{err}"
        );
        assert!(
            err.contains("tlsCertFile") && err.contains("clear text"),
            "{err}"
        );
        assert!(!err.contains("listening on"), "{err}");
    }
}

#[test]
fn a_console_user_demo_with_password_demo_is_refused_off_loopback_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = TestCa::new().server_cert(1, "console").write(dir.path());
    let tls = format!(
        "listen = \"0.0.0.0:0\"\ntlsCertFile = \"{}\"\ntlsKeyFile = \"{}\"",
        cert.display(),
        key.display()
    );
    let section = console_section(&[("demo", "demo", "admin")], &tls)
        .replace("listen = \"127.0.0.1:0\"\n", "");
    let config = format!("{}{section}", TestConfig::demo().to_toml());
    for command in [
        &["check-config"][..],
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"][..],
    ] {
        let (code, out, err) = licd_on(&config, command);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("[[console.user]] \"demo\""), "{err}");
        assert!(err.contains("loopback"), "{err}");
    }
    // On loopback the demo user may try the console.
    let on_loopback = TestConfig::demo().append(&console_section(&[("demo", "demo", "admin")], ""));
    let d = TestDaemon::start(&on_loopback);
    Client::of(&d).logged_in("demo", "demo");
}

#[test]
fn with_its_own_certificate_the_console_serves_https_and_its_cookies_are_secure() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new();
    let (cert, key) = ca.server_cert(7, "console").write(dir.path());
    let tls = format!(
        "tlsCertFile = \"{}\"\ntlsKeyFile = \"{}\"",
        cert.display(),
        key.display()
    );
    let d = TestDaemon::start(&staff_config(&tls));
    assert!(
        d.wait_for_log("licd console listening on https://127.0.0.1:"),
        "{}",
        d.logs()
    );
    assert!(
        d.logs()
            .contains(&format!("listening on http://{}", d.addr)),
        "the methods stay plain"
    );
    let addr = client::console_addr(&d);
    let login = tls_get(addr, &ca.cert, "/login").expect("HTTPS");
    assert_eq!(login.reply.status, 200);
    let cookie = login.reply.header("set-cookie").expect("the login cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    // Plain HTTP to the console's TLS port reaches no page.
    let plain = crate::util::send_raw(addr, b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(plain.status, 400);
}

#[test]
fn every_console_action_is_in_the_log_with_the_user_and_address_and_keys_masked() {
    let d = TestDaemon::start(&staff_config(""));
    let key = d.create_key("");
    d.activate(&key, "PC-9").expect_ok();
    let c = Client::of(&d);
    c.logged_in(SAM.0, SAM.1);
    let page = format!("/licence/{key}");
    assert_eq!(
        c.submit(
            &page,
            &format!("{page}/release"),
            &[("computer_id", "PC-9")]
        )
        .status,
        303
    );
    assert!(
        d.wait_for_log("console: seat released console_user=sam client=127.0.0.1"),
        "{}",
        d.logs()
    );
    assert!(!d.logs().contains(&key), "keys are masked in the log");
}
