//! `licd import-qlm` (docs/moving-from-qlm.md): a QLM shop's export, written as QLM's
//! documented LicenseKeys and ActivationLog columns, is imported with its keys kept; the
//! legacy keys then validate (with the computer key QLM gave), release and activate again
//! over HTTP like any licence, revoked ones are refused, and an import with a bad row or an
//! already stored key writes nothing unless `--skip-bad` says to import the rest.

use std::path::PathBuf;

use crate::util::{TestConfig, TestDaemon, VENDOR, cli_fails, cli_ok, path_str};

/// Licences in the sample export.
const LICENCES: usize = 200;

/// QLM's alphabet as its keys show it (its example key has a `U`, which licd's lacks).
const QLM_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A QLM-style key for licence `i`: 31 characters in groups of 5-5-5-5-5-6, as QLM writes
/// them (`FGGH0-S0K00-71B18-S868R-1F1J2-UQKPUN`). Deterministic, distinct per `i`.
fn qlm_key(i: usize, salt: u64) -> String {
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    let mut chars = String::new();
    for n in 0..31 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if n > 0 && n % 5 == 0 && n < 30 {
            chars.push('-');
        }
        chars.push(char::from(QLM_ALPHABET[(state % 34) as usize]));
    }
    chars
}

/// A QLM computer key for licence `i`'s computer.
fn qlm_computer_key(i: usize) -> String {
    format!("U{}", &qlm_key(i, 0xC0FFEE)[1..])
}

/// One licence of the sample, as the test expects it to behave.
struct Sample {
    key: String,
    model: &'static str,
    revoked: bool,
    expired: bool,
    /// The computer it is activated on in QLM, with QLM's computer key.
    activation: Option<(String, String)>,
    order: Option<String>,
}

/// The sample export: `LICENCES` licences of products 1 and 2, the three QLM models, feature
/// sets, expiry dates in QLM's forms, disabled ones, orders of two keys, subscriptions, and
/// an ActivationLog row for every third licence.
fn sample() -> (Vec<Sample>, String, String) {
    let mut licences = String::from(
        "ActivationKey,ProductID,MajorVersion,MinorVersion,NumLicenses,LicenseModel,Features,ExpiryDate,MaintenanceRenewalDate,OrderID,SubscriptionID,Email,UserData1,Disabled,Comment\r\n",
    );
    let mut activations =
        String::from("activationkey,computerid,computerkey,computername,activationdate\r\n");
    let mut samples = Vec::new();
    for i in 0..LICENCES {
        let key = qlm_key(i, 0);
        let model = ["permanent", "trial", "subscription"][i % 3];
        let product = if i % 4 == 3 { 2 } else { 1 };
        let expired = i % 17 == 5;
        let expiry = match (model, expired) {
            (_, true) => "2020-01-31 00:00:00.000",
            ("trial", _) => "12/31/2099",
            ("subscription", _) => "2099-06-30T12:00:00",
            _ => "",
        };
        let revoked = i % 10 == 7;
        let order = (i % 5 < 2).then(|| format!("ORD-{}", i / 5));
        let subscription = (model == "subscription").then(|| format!("SUB-{i}"));
        licences.push_str(&format!(
            "{key},{product},1,0,{seats},{Model},\"{features}\",{expiry},{maint},{order},{sub},c{i}@example.com,user {i},{disabled},\"QLM comment, {i}\"\r\n",
            seats = 1 + i % 3,
            Model = capitalised(model),
            features = if i % 2 == 0 { "0:3;1:128" } else { "" },
            maint = if i % 6 == 0 { "2099-01-01" } else { "" },
            order = order.clone().unwrap_or_default(),
            sub = subscription.unwrap_or_default(),
            disabled = if revoked { "1" } else { "0" },
        ));
        let activation = (i % 3 == 0).then(|| (format!("PC-{i}"), qlm_computer_key(i)));
        if let Some((pc, computer_key)) = &activation {
            // ActivationLog keys in another case and without dashes: QLM's look-up ignores both.
            activations.push_str(&format!(
                "{},{pc},{computer_key},Desk {i},2025-03-0{} 10:00:00\r\n",
                key.replace('-', "").to_lowercase(),
                1 + i % 9
            ));
        }
        samples.push(Sample {
            key,
            model,
            revoked,
            expired,
            activation,
            order,
        });
    }
    (samples, licences, activations)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Writes `text` to `name` in the daemon's directory.
fn write(d: &TestDaemon, name: &str, text: &str) -> PathBuf {
    let path = d.dir().join(name);
    std::fs::write(&path, text).expect("write the export");
    path
}

/// A daemon that requires the computer key sent to match, so that only the key QLM gave
/// (or licd's) keeps a client in good standing.
fn daemon() -> TestDaemon {
    TestDaemon::start(
        &TestConfig::demo()
            .options("requireComputerKeyMatchWhenValidatingOnServer = true")
            .security("enableRetrieveActivationKeyHttp = true")
            .security("strictAuthenticationHttpMethods = []"),
    )
}

/// `licd import-qlm --from FROM --activations LOG` on the daemon's data directory.
fn import(d: &TestDaemon, from: &std::path::Path, log: &std::path::Path) -> (i32, String, String) {
    d.cli(&[
        "import-qlm",
        "--from",
        path_str(from),
        "--activations",
        path_str(log),
    ])
}

fn validate(d: &TestDaemon, key: &str, pc: &str, pckey: &str) -> crate::util::HttpReply {
    d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid={pc}&is_pckey={pckey}"),
    )
}

#[test]
fn a_qlm_export_imports_and_its_legacy_keys_validate_release_and_activate_again() {
    let d = daemon();
    let (samples, licences, activations) = sample();
    let from = write(&d, "LicenseKeys.csv", &licences);
    let log = write(&d, "ActivationLog.csv", &activations);
    let activated = samples.iter().filter(|s| s.activation.is_some()).count();
    let started = std::time::Instant::now();
    let out = cli_ok(import(&d, &from, &log));
    let elapsed = started.elapsed();
    assert_eq!(
        out.trim(),
        format!("Imported {LICENCES} licences ({activated} activations) into the running daemon.")
    );
    eprintln!(
        "import-qlm of {LICENCES} licences took {} ms",
        elapsed.as_millis()
    );

    for (i, s) in samples.iter().enumerate() {
        let usable = !s.revoked && !s.expired;
        if let Some((pc, computer_key)) = &s.activation {
            // The client presents the computer key QLM gave, in its own case and grouping.
            let r = validate(&d, &s.key.to_lowercase(), pc, &computer_key.to_lowercase());
            if !usable {
                let expected = if s.revoked { 201 } else { 209 };
                r.expect_error(expected);
                continue;
            }
            r.expect_ok();
            assert_eq!(
                r.get("pckey").as_deref(),
                Some(computer_key.as_str()),
                "{i}"
            );
            assert_eq!(
                r.get("activationKey").as_deref(),
                Some(s.key.as_str()),
                "{i}"
            );
            assert_eq!(r.get("licenseModel").as_deref(), Some(s.model), "{i}");
            assert_eq!(r.get("computerName"), Some(format!("Desk {i}")));
            assert_eq!(r.get("userData"), Some(format!("user {i}")));
            if i % 2 == 0 {
                assert_eq!(r.get("features").as_deref(), Some("0:3;1:128;"), "{i}");
            }
        } else {
            let r = d.activate(&s.key.replace('-', ""), &format!("NEW-{i}"));
            if !usable {
                r.expect_error(if s.revoked { 201 } else { 209 });
                continue;
            }
            r.expect_ok();
            let pckey = r.get("pckey").expect("a computer key");
            assert_eq!(
                pckey.replace('-', "").len(),
                26,
                "a new activation has a licd key"
            );
        }
    }

    // QLM's computer key is good for its own activation only.
    let (a, b) = (&samples[0], &samples[3]);
    let (pc_a, key_a) = a.activation.clone().expect("licence 0 is activated");
    let (pc_b, _) = b.activation.clone().expect("licence 3 is activated");
    validate(&d, &a.key, &pc_a, "U0000-00000-00000").expect_error(225);
    validate(&d, &b.key, &pc_b, &key_a).expect_error(225);

    // Release the imported activation, then activate again: a licd computer key now.
    let r = d.call(
        "ReleaseLicenseHttp",
        &format!("is_avkey={}&is_pcid={pc_a}&{VENDOR}", a.key),
    );
    r.expect_ok();
    let again = d.activate(&a.key, &pc_a);
    again.expect_ok();
    let fresh = again.get("pckey").expect("pckey");
    assert_ne!(fresh, key_a);
    validate(&d, &a.key, &pc_a, &fresh).expect_ok();

    // Update and renew work on legacy keys; the subscription id joined the index.
    let sub = &samples[2];
    assert_eq!(sub.model, "subscription");
    d.call(
        "UpdateLicenseHttp",
        &format!("is_avkey={}&{VENDOR}&is_features=2:1", sub.key),
    )
    .expect_ok();
    d.call(
        "RenewSubscriptionHttp",
        &format!("is_subscriptionid=SUB-2&is_expdate=2100-01-01&{VENDOR}"),
    )
    .expect_ok();
    let r = d.activate(&sub.key, "NEW-2");
    r.expect_ok();
    assert_eq!(r.get("features").as_deref(), Some("0:3;1:128;2:1;"));
    assert_eq!(r.get("expiryDate").as_deref(), Some("2100-01-01 23:59:59"));
    let other = &samples[8];
    assert!(other.model == "subscription" && !other.expired && !other.revoked);
    d.call(
        "RenewSubscriptionHttp",
        &format!("is_avkey={}&is_expdate=2100-01-01&{VENDOR}", other.key),
    )
    .expect_ok();
    let r = d.activate(&other.key, "NEW-8");
    assert_eq!(r.get("expiryDate").as_deref(), Some("2100-01-01 23:59:59"));

    // The order id was recorded: RetrieveActivationKeyHttp finds both keys of an order.
    let ordered: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.order.as_deref() == Some("ORD-10"))
        .collect();
    assert_eq!(ordered.len(), 2);
    let r = d.call(
        "RetrieveActivationKeyHttp",
        &format!("is_orderid=ORD-10&{VENDOR}"),
    );
    r.expect_ok();
    let mut found = r.all("activationKey");
    found.sort();
    let mut expected: Vec<String> = ordered.iter().map(|s| s.key.clone()).collect();
    expected.sort();
    assert_eq!(found, expected);

    // The admin sees a legacy licence by its QLM key.
    let shown: serde_json::Value = serde_json::from_str(&cli_ok(d.cli(&[
        "keys",
        "show",
        &samples[6].key.to_lowercase(),
    ])))
    .expect("json");
    assert_eq!(shown["licence"]["order_id"], "ORD-1");
    assert_eq!(shown["licence"]["activations_used"], 1);
    assert_eq!(shown["history"][0]["event"], "imported from QLM");
}

#[test]
fn a_bad_row_is_refused_with_its_line_and_nothing_is_imported() {
    let d = daemon();
    let (samples, licences, activations) = sample();
    // Line 1 is the header: the licence of index 41 is on line 43.
    let bad = licences.replacen(
        &format!("{},1,1,0", samples[41].key),
        &format!("{},1,9,0", samples[41].key),
        1,
    );
    assert_ne!(bad, licences);
    let from = write(&d, "LicenseKeys.csv", &bad);
    let log = write(&d, "ActivationLog.csv", &activations);
    let err = cli_fails(import(&d, &from, &log));
    assert!(
        err.contains("1 row cannot be imported, so nothing was imported"),
        "{err}"
    );
    assert!(
        err.contains("licences file line 43: product 1 version 9.0 is not a [[product]]"),
        "{err}"
    );
    for s in [&samples[0], &samples[42]] {
        d.activate(&s.key, "PC-X").expect_error(203);
    }
    assert_eq!(cli_ok(d.cli(&["keys", "list", "--json"])).trim(), "");
}

#[test]
fn skip_bad_imports_the_good_rows_and_reports_the_bad_ones() {
    let d = daemon();
    let (samples, licences, activations) = sample();
    let bad = licences.replacen(
        &format!("{},1,1,0", samples[41].key),
        &format!("{},one,1,0", samples[41].key),
        1,
    );
    let bad_log = format!(
        "{activations}{},PC-GHOST,UQ,Ghost,2025-01-01\r\n",
        qlm_key(9999, 0)
    );
    let from = write(&d, "LicenseKeys.csv", &bad);
    let log = write(&d, "ActivationLog.csv", &bad_log);
    let (code, out, err) = d.cli(&[
        "import-qlm",
        "--from",
        path_str(&from),
        "--activations",
        path_str(&log),
        "--skip-bad",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let activated = samples.iter().filter(|s| s.activation.is_some()).count();
    assert!(
        out.contains(&format!(
            "Imported {} licences ({activated} activations)",
            LICENCES - 1
        )),
        "{out}"
    );
    assert!(err.contains("Skipped 2 rows:"), "{err}");
    assert!(
        err.contains("licences file line 43: ProductID \"one\""),
        "{err}"
    );
    let ghost_line = activated + 2;
    assert!(
        err.contains(&format!(
            "activations file line {ghost_line}: no licence of the licences file has this key"
        )),
        "{err}"
    );
    d.activate(&samples[41].key, "PC-X").expect_error(203);
    d.activate(&samples[40].key, "PC-X").expect_ok();
}

#[test]
fn reimporting_an_existing_key_is_refused_and_changes_nothing() {
    let d = daemon();
    let header = "ActivationKey,ProductID,MajorVersion,MinorVersion,NumLicenses\n";
    let first = format!("{header}{},1,1,0,1\n", qlm_key(1, 7));
    let from = write(&d, "first.csv", &first);
    cli_ok(d.cli(&["import-qlm", "--from", path_str(&from)]));
    let before = d.license_snapshot(&qlm_key(1, 7));
    // The same key again (in another case, with 5 seats) beside a new one.
    let second = format!(
        "{header}{},1,1,0,1\n{},1,1,0,5\n",
        qlm_key(2, 7),
        qlm_key(1, 7).to_lowercase()
    );
    let again = write(&d, "second.csv", &second);
    let err = cli_fails(d.cli(&["import-qlm", "--from", path_str(&again)]));
    assert!(
        err.contains(
            "licences file line 3: a licence with this key is already stored; it is not overwritten"
        ),
        "{err}"
    );
    assert_eq!(d.license_snapshot(&qlm_key(1, 7)), before);
    d.activate(&qlm_key(2, 7), "PC-1").expect_error(203);
}

#[test]
fn import_qlm_on_a_stopped_database_is_there_when_licd_starts() {
    let mut d = daemon();
    let (samples, licences, activations) = sample();
    let from = write(&d, "LicenseKeys.csv", &licences);
    let log = write(&d, "ActivationLog.csv", &activations);
    assert_eq!(d.stop(), Some(0));
    let out = cli_ok(import(&d, &from, &log));
    assert!(out.contains("into the stopped database"), "{out}");
    let d = d.restart_stopped();
    let s = &samples[3];
    let (pc, computer_key) = s.activation.clone().expect("licence 3 is activated");
    let r = validate(&d, &s.key, &pc, &computer_key);
    r.expect_ok();
    assert_eq!(r.get("pckey"), Some(computer_key));
}
