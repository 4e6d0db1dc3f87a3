//! ReleaseLicenseHttp: which activation, verification codes, release limits, history, cloud
//! seats, and the `licd deactivation-code` / `licd release` commands.

use chrono::{Days, Utc};

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR, licd_cmd};

const COMM_KEY: &str = "shared-with-clients";

fn with_code(config: TestConfig) -> TestConfig {
    config.options(&format!("communicationEncryptionKey = \"{COMM_KEY}\""))
}

fn release(d: &TestDaemon, key: &str, extra: &str) -> HttpReply {
    d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={key}&{VENDOR}&{extra}"),
    )
}

/// The history of a key, read through the store after the daemon stopped.
fn history(d: &TestDaemon, key: &str) -> Vec<licd::license::history::HistoryEntry> {
    let store = d.open_store();
    let snapshot = crate::util::block_on(store.read()).unwrap();
    let h = crate::util::block_on(snapshot.history(&key.replace('-', ""))).unwrap();
    drop(snapshot);
    store.close().unwrap();
    h
}

fn code_for(key: &str, pc: &str, days_from_today: i64) -> String {
    let today = Utc::now().date_naive();
    let day = if days_from_today >= 0 {
        today.checked_add_days(Days::new(days_from_today as u64))
    } else {
        today.checked_sub_days(Days::new((-days_from_today) as u64))
    }
    .unwrap();
    licd::license::deactivation_code::code_for(key, pc, COMM_KEY, day)
}

#[test]
fn release_frees_a_slot_that_another_computer_then_takes() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    d.activate(&key, "PC-B").expect_error(210);
    let r = release(&d, &key, "is_pcid=PC-A");
    r.expect_ok();
    assert_eq!(
        r.get("result").unwrap(),
        format!("Activation Key {key} has been released from computer PC-A.")
    );
    assert_eq!(r.get("activationKey").as_deref(), Some(key.as_str()));
    assert_eq!(r.get("computerID").as_deref(), Some("PC-A"));
    assert_eq!(r.get("availableLicenses").as_deref(), Some("1"));
    d.activate(&key, "PC-B").expect_ok();
}

#[test]
fn releasing_again_answers_216_or_217_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "PC-A").expect_ok();
    release(&d, &key, "is_pcid=PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    release(&d, &key, "is_pcid=PC-A").expect_error(216);
    d.activate(&key, "PC-B").expect_ok();
    let before_b = d.license_snapshot(&key);
    release(&d, &key, "is_pcid=PC-A").expect_error(217);
    assert_eq!(d.license_snapshot(&key), before_b);
    assert_ne!(before, before_b);
}

#[test]
fn computer_may_be_left_out_only_when_the_key_has_exactly_one_activation() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=3");
    release(&d, &key, "").expect_error(216);
    d.activate(&key, "PC-A").expect_ok();
    d.activate(&key, "PC-B").expect_ok();
    let before = d.license_snapshot(&key);
    let msg = release(&d, &key, "").expect_error(208);
    assert!(msg.contains("is_pcid"), "{msg}");
    assert_eq!(d.license_snapshot(&key), before);
    release(&d, &key, "is_pcid=PC-B").expect_ok();
    let r = release(&d, &key, "");
    r.expect_ok();
    assert_eq!(r.get("computerID").as_deref(), Some("PC-A"));
}

#[test]
fn gate_off_is_code_7_and_changes_nothing() {
    let d = TestDaemon::start(&TestConfig::demo().security("enableReleaseKeyHttp = false"));
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    let msg = release(&d, &key, "is_pcid=PC-A").expect_error(7);
    assert!(msg.contains("enableReleaseKeyHttp"), "{msg}");
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn missing_or_wrong_credentials_leave_the_activation_in_place() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    let q = format!("is_avkey={key}&is_pcid=PC-A");
    d.call("ReleaseLicenseHttp", &q).expect_error(8);
    d.call(
        "ReleaseLicenseHttp",
        &format!("{q}&is_user=demo&is_pwd=nope"),
    )
    .expect_error(8);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn without_required_authentication_no_credentials_are_needed_but_wrong_ones_are_refused() {
    let d = TestDaemon::start(
        &TestConfig::demo().options("releaseLicenseRequiresAuthentication = false"),
    );
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "PC-A").expect_ok();
    d.activate(&key, "PC-B").expect_ok();
    d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-A&is_user=demo&is_pwd=nope"),
    )
    .expect_error(8);
    d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-A"),
    )
    .expect_ok();
    release(&d, &key, "is_pcid=PC-B").expect_ok();
}

#[test]
fn required_verification_code_missing_is_208_wrong_is_224_and_changes_nothing() {
    let d = TestDaemon::start(
        &with_code(TestConfig::demo()).options("releaseLicenseRequiresVerificationCode = true"),
    );
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    let msg = release(&d, &key, "is_pcid=PC-A").expect_error(208);
    assert!(msg.contains("is_deactivation_code"), "{msg}");
    release(
        &d,
        &key,
        "is_pcid=PC-A&is_deactivation_code=0123456789abcdef0123456789abcdef",
    )
    .expect_error(224);
    let two_days_old = code_for(&key, "PC-A", -2);
    release(
        &d,
        &key,
        &format!("is_pcid=PC-A&is_deactivation_code={two_days_old}"),
    )
    .expect_error(224);
    let for_other_pc = code_for(&key, "PC-B", 0);
    release(
        &d,
        &key,
        &format!("is_pcid=PC-A&is_deactivation_code={for_other_pc}"),
    )
    .expect_error(224);
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn todays_yesterdays_and_tomorrows_codes_are_accepted_in_upper_case_and_under_the_alias() {
    let d = TestDaemon::start(
        &with_code(TestConfig::demo()).options("releaseLicenseRequiresVerificationCode = true"),
    );
    let key = d.create_key("is_numberofactivationsperkey=4");
    for (pc, days, name) in [
        ("PC-A", 0, "is_deactivation_code"),
        ("PC-B", -1, "is_deacivation_code"),
        ("PC-C", 1, "IS_DEACTIVATION_CODE"),
    ] {
        d.activate(&key, pc).expect_ok();
        let code = code_for(&key, pc, days).to_uppercase();
        release(&d, &key, &format!("is_pcid={pc}&{name}={code}")).expect_ok();
    }
}

#[test]
fn a_code_given_while_codes_are_not_required_is_still_checked() {
    let d = TestDaemon::start(&with_code(TestConfig::demo()));
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    release(&d, &key, "is_pcid=PC-A&is_deactivation_code=deadbeef").expect_error(224);
    let code = code_for(&key, "PC-A", 0);
    release(
        &d,
        &key,
        &format!("is_pcid=PC-A&is_deactivation_code={code}"),
    )
    .expect_ok();
}

#[test]
fn prevent_deactivation_period_refuses_a_young_activation_with_200() {
    let d = TestDaemon::start(&TestConfig::demo().options("preventDeactivationPeriod = 5"));
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let before = d.license_snapshot(&key);
    let msg = release(&d, &key, "is_pcid=PC-A").expect_error(200);
    assert!(msg.contains("preventDeactivationPeriod"), "{msg}");
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn release_limit_is_enforced_even_with_history_logging_off() {
    for history in ["true", "false"] {
        let d = TestDaemon::start(
            &TestConfig::demo()
                .options("maxReleaseCount = 2")
                .options(&format!("historyTableLogRelease = {history}")),
        );
        let key = d.create_key("");
        for pc in ["PC-A", "PC-B"] {
            d.activate(&key, pc).expect_ok();
            release(&d, &key, &format!("is_pcid={pc}&is_logRelease=false")).expect_ok();
        }
        d.activate(&key, "PC-C").expect_ok();
        let before = d.license_snapshot(&key);
        let msg = release(&d, &key, "is_pcid=PC-C").expect_error(212);
        assert!(msg.contains("limit of 2 releases"), "{msg}");
        assert_eq!(d.license_snapshot(&key), before, "history={history}");
    }
}

#[test]
fn history_records_each_release_unless_switched_off() {
    let mut d = TestDaemon::start(&TestConfig::demo().options("maxReleaseCount = -1"));
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    release(&d, &key, "is_pcid=PC-A").expect_ok();
    d.activate(&key, "PC-B").expect_ok();
    release(&d, &key, "is_pcid=PC-B&is_logRelease=false").expect_ok();
    assert_eq!(d.stop(), Some(0));
    let h = history(&d, &key);
    let released: Vec<_> = h.iter().filter(|e| e.event == "released").collect();
    assert_eq!(released.len(), 1, "{h:?}");
    let e = released[0];
    assert_eq!(e.computer_id.as_deref(), Some("PC-A"));
    assert_eq!(e.vendor.as_deref(), Some("QlmAuthenticationProvider"));
    assert_eq!(e.client.as_deref(), Some("127.0.0.1"));
    assert!(e.computer_key.is_some() && e.activated_at.is_some());
    assert!(h.iter().all(|e| e.event == "released"), "{h:?}");
}

#[test]
fn cloud_seats_check_out_and_in_without_counting_toward_the_release_limit() {
    let d = TestDaemon::start(&TestConfig::demo().options("maxReleaseCount = 0"));
    let key = d.create_key("is_licensemodel=permanent_cloud");
    assert!(key.starts_with('R'), "{key}");
    for _ in 0..3 {
        d.activate(&key, "PC-A").expect_ok();
        d.activate(&key, "PC-B").expect_error(210);
        release(&d, &key, "is_pcid=PC-A&is_logRelease=false").expect_ok();
        d.activate(&key, "PC-B").expect_ok();
        release(&d, &key, "is_pcid=PC-B&is_logRelease=false").expect_ok();
    }
    // An ordinary key is limited by the same setting.
    let plain = d.create_key("");
    d.activate(&plain, "PC-A").expect_ok();
    release(&d, &plain, "is_pcid=PC-A").expect_error(212);
}

#[test]
fn concurrent_releases_and_activations_never_over_issue() {
    let d = TestDaemon::start(&TestConfig::demo());
    let key = d.create_key("is_numberofactivationsperkey=2");
    d.activate(&key, "PC-0").expect_ok();
    d.activate(&key, "PC-1").expect_ok();
    let outcomes: Vec<(String, bool)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for i in 0..2 {
            let (d, key) = (&d, &key);
            handles.push(s.spawn(move || {
                let pc = format!("PC-{i}");
                let ok = release(d, key, &format!("is_pcid={pc}"))
                    .error_code()
                    .is_none();
                (format!("release {pc}"), ok)
            }));
        }
        for i in 10..20 {
            let (d, key) = (&d, &key);
            handles.push(s.spawn(move || {
                let pc = format!("PC-{i}");
                let r = d.activate(key, &pc);
                assert!(matches!(r.error_code(), None | Some(210)), "{}", r.body);
                (pc, r.error_code().is_none())
            }));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let released = outcomes
        .iter()
        .filter(|(n, ok)| n.starts_with("release") && *ok)
        .count();
    let activated: Vec<&String> = outcomes
        .iter()
        .filter(|(n, ok)| !n.starts_with("release") && *ok)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(released, 2);
    assert!(activated.len() <= 2, "{activated:?}");
    let r = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=X&is_activate=false"),
    );
    let available: usize = r.get("availableLicenses").unwrap().parse().unwrap();
    assert_eq!(available, 2 - activated.len());
}

#[test]
fn deactivation_code_command_prints_the_code_the_server_accepts() {
    let mut d = TestDaemon::start(
        &with_code(TestConfig::demo()).options("releaseLicenseRequiresVerificationCode = true"),
    );
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let config = d.config_path().unwrap();
    let config = config.to_str().unwrap();
    let (code, out, err) = licd_cmd(
        &[
            "deactivation-code",
            "--key",
            &key.to_lowercase(),
            "--computer-id",
            "PC-A",
            "--config",
            config,
        ],
        None,
        d.dir(),
    );
    assert_eq!(code, 0, "{err}");
    let printed = out.trim();
    assert_eq!(printed, code_for(&key, "PC-A", 0));
    let yesterday = (Utc::now().date_naive() - Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let (_, out_y, _) = licd_cmd(
        &[
            "deactivation-code",
            "--key",
            &key,
            "--computer-id",
            "PC-A",
            "--date",
            &yesterday,
            "--config",
            config,
        ],
        None,
        d.dir(),
    );
    assert_eq!(out_y.trim(), code_for(&key, "PC-A", -1));
    release(
        &d,
        &key,
        &format!("is_pcid=PC-A&is_deactivation_code={printed}"),
    )
    .expect_ok();
    d.stop();
}

#[test]
fn release_command_works_on_a_stopped_database_with_the_customers_code() {
    let mut d = TestDaemon::start(
        &with_code(TestConfig::demo()).options("releaseLicenseRequiresVerificationCode = true"),
    );
    let key = d.create_key("");
    d.activate(&key, "PC-A").expect_ok();
    let config = d.config_path().unwrap();
    let config = config.to_str().unwrap().to_string();
    let data = d.data_dir();
    let data = data.to_str().unwrap().to_string();
    let args = |code: &str| -> Vec<String> {
        [
            "release",
            "--key",
            &key,
            "--computer-id",
            "PC-A",
            "--code",
            code,
            "--config",
            &config,
            "--data-dir",
            &data,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cwd = d.dir().to_path_buf();
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        licd_cmd(&refs, None, &cwd)
    };
    // While the daemon runs the command goes through its admin socket, with the same rules.
    let (code, _, err) = run(args("0123456789abcdef0123456789abcdef"));
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("licd: ") && err.contains("224"), "{err}");
    assert_eq!(d.stop(), Some(0));
    let (code, _, err) = run(args("0123456789abcdef0123456789abcdef"));
    assert_eq!(code, 1);
    assert!(err.contains("224"), "{err}");
    let (code, out, err) = run(args(&code_for(&key, "PC-A", 0)));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("has been released from computer PC-A"),
        "{out}"
    );
    let h = history(&d, &key);
    assert!(
        h.iter()
            .any(|e| e.event == "released" && e.client.as_deref() == Some("local"))
    );
}

#[test]
fn release_command_refuses_to_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let model = licd::license::model::LicenseModel::PERMANENT;
    let key = licd::license::keys::ActivationKey::generate(model)
        .unwrap()
        .dashed();
    let (code, _, err) = licd_cmd(
        &[
            "release",
            "--key",
            &key,
            "--computer-id",
            "PC",
            "--data-dir",
            "nothing-here",
        ],
        None,
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("no database"), "{err}");
    assert!(!dir.path().join("nothing-here").exists());
}
