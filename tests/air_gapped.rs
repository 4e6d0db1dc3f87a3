//! Air-gapped customers (spec offline.md): signed replies checked by an independent verifier
//! (xmlsec1), the signing keys and their rotation, offline activation with
//! `licd license-file`, and offline deactivation with a code computed by `md5sum`.
//!
//! The signing-key and license-file commands work on a stopped database, so these tests
//! stop the daemon around them and start it again on the same data directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{Days, Utc};

use crate::util::{HttpReply, TestConfig, TestDaemon, VENDOR, licd_cmd};

const COMM_KEY: &str = "shared-with-clients";

fn config() -> TestConfig {
    TestConfig::demo().options(&format!("communicationEncryptionKey = \"{COMM_KEY}\""))
}

/// Runs `licd ARGS --config … --data-dir …` on the daemon's files; (exit code, stdout, stderr).
fn cli(d: &TestDaemon, args: &[&str]) -> (i32, String, String) {
    let config = d.config_path().expect("config file");
    let data = d.data_dir();
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    licd_cmd(&all, None, d.dir())
}

/// `licd signing-key export` (the daemon stopped) into a file of the test directory.
fn export_key(d: &TestDaemon, file: &str, all: bool) -> PathBuf {
    let out = d.dir().join(file);
    let mut args = vec!["signing-key", "export", "--out", out.to_str().unwrap()];
    if all {
        args.push("--all");
    }
    let (code, _, err) = cli(d, &args);
    assert_eq!(code, 0, "{err}");
    out
}

fn save(d: &TestDaemon, file: &str, reply: &HttpReply) -> PathBuf {
    let path = d.dir().join(file);
    std::fs::write(&path, &reply.bytes).unwrap();
    path
}

/// xmlsec1's verdict on `file` with the public key `pem`, named as the file's `KeyName`
/// (newer xmlsec1 releases match keys by name; 1.2 accepts the name too).
pub(crate) fn xmlsec1_verifies(pem: &Path, file: &Path) -> bool {
    let text = std::fs::read_to_string(file).unwrap();
    let name = key_name(&text);
    let out = Command::new("xmlsec1")
        .arg("--verify")
        .arg(format!("--pubkey-pem:{name}"))
        .arg(pem)
        .arg(file)
        .output()
        .expect("xmlsec1 is installed (.ci/run installs it)");
    out.status.success()
}

fn key_name(document: &str) -> String {
    let start = document.find("<KeyName>").expect("a KeyName") + "<KeyName>".len();
    let end = start + document[start..].find("</KeyName>").unwrap();
    document[start..end].to_string()
}

/// The deactivation code as an air-gapped client computes it, with `md5sum`, not licd.
fn md5sum_code(key: &str, pc: &str, days_ago: u64) -> String {
    let day = Utc::now().date_naive() - Days::new(days_ago);
    let input = format!(
        "{}|{pc}|{COMM_KEY}|{}",
        key.replace('-', "").to_uppercase(),
        day.format("%Y-%m-%d")
    );
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_string()
}

fn signed(d: &TestDaemon, method: &str, key: &str, pc: &str) -> HttpReply {
    let r = d.call(method, &format!("is_avkey={key}&is_pcid={pc}&is_sign=true"));
    r.expect_ok();
    assert!(r.body.contains("<Signature xmlns="), "{}", r.body);
    r
}

/// `licd license-file` for `pc` into `file`; (exit code, stdout, stderr).
fn license_file(d: &TestDaemon, key: &str, pc: &str, file: &Path) -> (i32, String, String) {
    cli(
        d,
        &[
            "license-file",
            "--key",
            key,
            "--computer-id",
            pc,
            "--computer-name",
            "Lab bench 3",
            "--out",
            file.to_str().unwrap(),
        ],
    )
}

#[test]
fn signed_replies_of_both_methods_verify_with_xmlsec1_under_the_listed_key() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("is_numberofactivationsperkey=2");
    let validate = save(
        &d,
        "validate.xml",
        &signed(&d, "ValidateLicenseHttp", &key, "PC-1"),
    );
    let activate = save(&d, "activate.xml", &signed(&d, "ActivateKey", &key, "PC-2"));
    assert_eq!(d.stop(), Some(0));
    let pem = export_key(&d, "licd.pub.pem", false);
    for file in [&validate, &activate] {
        assert!(xmlsec1_verifies(&pem, file), "{}", file.display());
    }
    // The plain form of the spec works with this xmlsec1 too.
    let plain = Command::new("xmlsec1")
        .args(["--verify", "--pubkey-pem"])
        .arg(&pem)
        .arg(&validate)
        .output()
        .unwrap();
    assert!(plain.status.success());
    let (code, list, err) = cli(&d, &["signing-key", "list"]);
    assert_eq!(code, 0, "{err}");
    let name = key_name(&std::fs::read_to_string(&validate).unwrap());
    assert!(
        list.contains(&format!("{name}  ")) && list.contains("current"),
        "{list}"
    );
    assert_eq!(
        list.lines().count(),
        1,
        "one key, made when first needed: {list}"
    );
}

#[test]
fn key_name_is_licd_and_16_hex_digits_of_the_sha256_of_the_public_key_der() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("");
    let reply = signed(&d, "ValidateLicenseHttp", &key, "PC-1");
    assert_eq!(d.stop(), Some(0));
    let pem = std::fs::read(export_key(&d, "licd.pub.pem", false)).unwrap();
    let public = openssl::pkey::PKey::public_key_from_pem(&pem).unwrap();
    assert_eq!(public.rsa().unwrap().size() * 8, 3072);
    let digest = openssl::sha::sha256(&public.public_key_to_der().unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(key_name(&reply.body), format!("licd-{}", &hex[..16]));
}

#[test]
fn changing_the_text_of_any_license_element_makes_verification_fail() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("is_email=a@example.com&is_userdata1=note");
    let reply = signed(&d, "ValidateLicenseHttp", &key, "PC-1");
    let original = save(&d, "licence.xml", &reply);
    assert_eq!(d.stop(), Some(0));
    let pem = export_key(&d, "licd.pub.pem", false);
    assert!(xmlsec1_verifies(&pem, &original));
    let body = std::fs::read_to_string(&original).unwrap();
    let mut changed = 0;
    for line in body
        .lines()
        .filter(|l| l.starts_with('<') && l.contains("</"))
    {
        if line.starts_with("<Signature") || line.starts_with("</") {
            continue;
        }
        // The first character of the element's text, changed to another one.
        let at = line.find('>').unwrap() + 1;
        let Some(c) = line[at..].chars().next().filter(|c| *c != '<') else {
            continue;
        };
        let other = if c == 'Z' { 'Y' } else { 'Z' };
        let tampered_line = format!("{}{other}{}", &line[..at], &line[at + c.len_utf8()..]);
        let tampered = d.dir().join("tampered.xml");
        std::fs::write(&tampered, body.replacen(line, &tampered_line, 1)).unwrap();
        assert!(
            !xmlsec1_verifies(&pem, &tampered),
            "still verifies: {tampered_line}"
        );
        changed += 1;
    }
    assert!(changed >= 15, "only {changed} elements tried");
}

#[test]
fn rsa_sha1_mode_signs_with_sha1_and_verifies() {
    let mut d = TestDaemon::start(&config().security("signatureAlgorithm = \"rsa-sha1\""));
    let key = d.create_key("");
    let reply = signed(&d, "ValidateLicenseHttp", &key, "PC-1");
    assert!(
        reply
            .body
            .contains("Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"")
    );
    assert!(
        reply
            .body
            .contains("Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"")
    );
    let file = save(&d, "licence.xml", &reply);
    assert_eq!(d.stop(), Some(0));
    assert!(xmlsec1_verifies(
        &export_key(&d, "licd.pub.pem", false),
        &file
    ));
}

#[test]
fn after_rotate_old_files_verify_with_the_old_key_and_new_replies_name_the_new_key() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("is_numberofactivationsperkey=2");
    let old_file = save(
        &d,
        "old.xml",
        &signed(&d, "ValidateLicenseHttp", &key, "PC-1"),
    );
    assert_eq!(d.stop(), Some(0));
    let old_pem = export_key(&d, "old.pub.pem", false);
    let (code, out, err) = cli(&d, &["signing-key", "rotate"]);
    assert_eq!(code, 0, "{err}");
    let mut d = d.respawn();
    let new_reply = signed(&d, "ValidateLicenseHttp", &key, "PC-1");
    let new_file = save(&d, "new.xml", &new_reply);
    assert_eq!(d.stop(), Some(0));
    let new_pem = export_key(&d, "new.pub.pem", false);
    let old_name = key_name(&std::fs::read_to_string(&old_file).unwrap());
    let new_name = key_name(&new_reply.body);
    assert_ne!(old_name, new_name);
    assert!(out.contains(&new_name), "{out}");
    assert!(xmlsec1_verifies(&old_pem, &old_file));
    assert!(xmlsec1_verifies(&new_pem, &new_file));
    assert!(!xmlsec1_verifies(&new_pem, &old_file));
    let (_, list, _) = cli(&d, &["signing-key", "list"]);
    assert!(list.contains(&format!("{old_name}  ")) && list.contains(&format!("{new_name}  ")));
    assert_eq!(list.matches("current").count(), 1, "{list}");
    let all = std::fs::read_to_string(export_key(&d, "all.pem", true)).unwrap();
    assert_eq!(
        all.matches("-----BEGIN PUBLIC KEY-----").count(),
        2,
        "{all}"
    );
    assert!(all.contains(&old_name) && all.contains(&new_name));
}

#[test]
fn license_file_takes_a_slot_exactly_like_an_online_activation() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    let file = d.dir().join("PC-AIR.xml");
    let (code, out, err) = license_file(&d, &key, "PC-AIR", &file);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("The license was activated on computer PC-AIR."),
        "{out}"
    );
    let d = d.respawn();
    let msg = d.activate(&key, "PC-ONLINE").expect_error(210);
    assert_eq!(
        msg,
        "All the available licenses have already been activated."
    );
    // The file is the reply ValidateLicenseHttp gives that computer, signed.
    let online = d.activate(&key, "PC-AIR");
    online.expect_ok();
    let body = std::fs::read_to_string(&file).unwrap();
    assert!(body.contains(&format!("<pckey>{}</pckey>", online.get("pckey").unwrap())));
    assert!(body.contains("<computerName>Lab bench 3</computerName>"));
    assert!(body.contains("<availableLicenses>0</availableLicenses>"));
}

#[test]
fn license_file_refusal_writes_no_file_and_changes_nothing() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("");
    d.activate(&key, "PC-1").expect_ok();
    let before = d.license_snapshot(&key);
    // Refused while the daemon runs too: by the database lock, or by the seat rule when the
    // command goes through the admin socket.
    let file = d.dir().join("licence.xml");
    let (code, _, err) = license_file(&d, &key, "PC-2", &file);
    assert_eq!(code, 1, "{err}");
    assert!(!file.exists());
    assert_eq!(d.stop(), Some(0));
    let (code, _, err) = license_file(&d, &key, "PC-2", &file);
    assert_eq!(code, 1);
    assert!(err.contains("(code 210)"), "{err}");
    assert!(!file.exists());
    let d = d.respawn();
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn air_gapped_round_trip_license_file_verify_offline_deactivate_with_md5sum_code() {
    let mut d = TestDaemon::start(&config());
    let key = d.create_key("");
    assert_eq!(d.stop(), Some(0));
    // Offline activation on the server host, verified on the air-gapped side.
    let file = d.dir().join("licence.xml");
    let (code, _, err) = license_file(&d, &key, "PC-AIR", &file);
    assert_eq!(code, 0, "{err}");
    let pem = export_key(&d, "licd.pub.pem", false);
    assert!(xmlsec1_verifies(&pem, &file));
    let d = d.respawn();
    d.activate(&key, "PC-OTHER").expect_error(210);
    // The application deletes its licence and shows a code; a stale one changes nothing.
    let before = d.license_snapshot(&key);
    let stale = md5sum_code(&key, "PC-AIR", 2);
    let release = |code: &str| {
        d.call(
            "ReleaseLicenseHttp",
            &format!("is_avkey={key}&is_pcid=PC-AIR&is_deactivation_code={code}&{VENDOR}"),
        )
    };
    release(&stale).expect_error(224);
    assert_eq!(d.license_snapshot(&key), before);
    d.activate(&key, "PC-OTHER").expect_error(210);
    // Today's code releases the seat.
    let r = release(&md5sum_code(&key, "PC-AIR", 0));
    r.expect_ok();
    assert_eq!(r.get("availableLicenses").as_deref(), Some("1"));
    d.activate(&key, "PC-OTHER").expect_ok();
}

#[test]
fn is_sign_with_json_is_refused_with_code_5_and_changes_nothing() {
    let d = TestDaemon::start(&config());
    let key = d.create_key("");
    let before = d.license_snapshot(&key);
    for method in ["ValidateLicenseHttp", "ActivateKey"] {
        let r = d.call(
            method,
            &format!("is_avkey={key}&is_pcid=PC-1&is_sign=true&is_format=json"),
        );
        r.expect_error(5);
        let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains("is_sign"), "{msg}");
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
    }
    assert_eq!(d.license_snapshot(&key), before);
}

#[test]
fn errors_and_replies_without_a_computer_key_are_never_signed() {
    let d = TestDaemon::start(&config().security("signLicenseReplies = true"));
    let key = d.create_key("");
    let report = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-1&is_activate=false&is_sign=true"),
    );
    report.expect_ok();
    assert!(report.get("pckey").is_none());
    assert!(!report.body.contains("Signature"), "{}", report.body);
    d.activate(&key, "PC-1").expect_ok();
    let refused = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-2&is_sign=true"),
    );
    refused.expect_error(210);
    assert!(!refused.body.contains("Signature"), "{}", refused.body);
}

#[test]
fn sign_license_replies_signs_every_xml_reply_with_a_computer_key_but_not_json() {
    let d = TestDaemon::start(&config().security("signLicenseReplies = true"));
    let key = d.create_key("is_numberofactivationsperkey=2");
    let xml = d.activate(&key, "PC-1");
    xml.expect_ok();
    assert!(xml.body.contains("<Signature xmlns="), "{}", xml.body);
    assert!(xml.body.ends_with("</Signature></QuickLicenseManager>"));
    let short = d.call(
        "ActivateKey",
        &format!("is_avkey={key}&is_pcid=PC-2&is_writebom=true"),
    );
    short.expect_ok();
    assert!(short.bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert!(short.body.contains("<Signature xmlns="));
    let json = d.call(
        "ValidateLicenseHttp",
        &format!("is_avkey={key}&is_pcid=PC-1&is_format=json"),
    );
    assert!(json.json().get("pckey").is_some());
    assert!(!json.body.contains("Signature"));
}
