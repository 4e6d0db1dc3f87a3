//! Configuration mistakes as `licd check-config` reports them (issue 20, point 8): each bad
//! value names its key, its line, the value as written and the form expected in the admin's
//! words, never a Rust type; an unknown key gets the nearest known one; every problem is on
//! a line of its own. One test per kind of message, each through the real binary.

use std::path::Path;

use crate::util::licd_cmd;

/// Runs `licd check-config` on `toml`; asserts exit 1 and returns the problem lines (stderr
/// without the final one-line summary).
pub(crate) fn problems(toml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("licd.toml");
    std::fs::write(&path, toml).unwrap();
    let path = path.to_str().unwrap();
    let (code, out, err) = licd_cmd(&["check-config", "--config", path], None, Path::new("/"));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    let mut lines: Vec<String> = err.lines().map(str::to_owned).collect();
    let summary = lines.pop().unwrap_or_default();
    assert!(
        summary.starts_with("licd: ") && summary.ends_with("the configuration is not valid"),
        "last line is the summary: {err}"
    );
    for line in &lines {
        assert!(line.starts_with(path), "each problem names the file: {err}");
        for rust in [
            "u32",
            "u64",
            "usize",
            "i64",
            "invalid type",
            "a sequence",
            "a map",
        ] {
            assert!(!line.contains(rust), "Rust words ({rust}) in: {line}");
        }
    }
    lines
}

/// Asserts that one problem line contains every one of `needles`.
#[track_caller]
fn assert_line(lines: &[String], needles: &[&str]) {
    assert!(
        lines.iter().any(|l| needles.iter().all(|n| l.contains(n))),
        "no problem line holds all of {needles:?}:\n{}",
        lines.join("\n")
    );
}

const PRODUCT: &str = "[[product]]\nname = \"Demo\"\nmajorVersion = 1\nminorVersion = 0\n";

#[test]
fn text_for_a_whole_number_names_key_line_value_and_the_expected_form() {
    let toml = format!("\n\n\n{PRODUCT}id = \"1\"\n");
    let lines = problems(&toml);
    assert_line(
        &lines,
        &[
            ":8:",
            "[[product]] #1 \"Demo\"",
            "id = \"1\" on line 8: expected a whole number such as 1",
        ],
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
}

#[test]
fn negative_number_for_a_count_names_the_range() {
    let lines = problems("[server]\nmaxConnections = -1\n");
    assert_line(
        &lines,
        &["maxConnections = -1 on line 2: expected a whole number from 0 to 4294967295"],
    );
}

#[test]
fn text_for_true_or_false_says_so() {
    let lines = problems("[security]\nenableRevokeLicense = \"yes\"\n");
    assert_line(
        &lines,
        &["enableRevokeLicense = \"yes\" on line 2: expected true or false"],
    );
}

#[test]
fn number_for_text_asks_for_double_quotes() {
    let lines = problems("[options]\ndefaultQlmVersion = 6\n");
    assert_line(
        &lines,
        &["defaultQlmVersion = 6 on line 2: expected text in double quotes"],
    );
}

#[test]
fn one_word_for_a_list_asks_for_square_brackets() {
    let lines = problems("[security]\nhttpAdminMethods = \"UpdateLicenseHttp\"\n");
    assert_line(
        &lines,
        &[
            "httpAdminMethods = \"UpdateLicenseHttp\" on line 2",
            "expected a list in square brackets",
        ],
    );
}

#[test]
fn bad_entry_of_a_list_is_named() {
    let lines = problems("[options]\nblockComputerIDs = [\"PC-1\", 7]\n");
    assert_line(
        &lines,
        &[
            "blockComputerIDs = [\"PC-1\", 7] on line 2: the entry 7: expected text in double quotes",
        ],
    );
}

#[test]
fn unknown_word_lists_the_choices() {
    let lines = problems("[server]\nlogFormat = \"yaml\"\n");
    assert_line(
        &lines,
        &["logFormat = \"yaml\" on line 2: expected \"text\" or \"json\""],
    );
}

#[test]
fn number_for_a_word_also_lists_the_choices() {
    // toml itself only says "wanted string or table" here.
    let lines = problems("[server]\nlogLevel = 3\n");
    assert_line(
        &lines,
        &[
            "logLevel = 3 on line 2: expected one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"",
        ],
    );
    assert!(!lines.iter().any(|l| l.contains("wanted")), "{lines:#?}");
}

#[test]
fn bad_value_in_a_product_property_names_the_property_entry() {
    let toml = format!(
        "{PRODUCT}id = 1\n  [[product.property]]\n  category = \"a\"\n  name = \"b\"\n  type = \"float\"\n  default = 0\n"
    );
    let lines = problems(&toml);
    assert_line(
        &lines,
        &[
            "[[product.property]] #1",
            "type = \"float\" on line 9: expected one of \"int\", \"bool\", \"string\"",
        ],
    );
    assert_line(
        &lines,
        &["default = 0 on line 10: expected text in double quotes"],
    );
}

#[test]
fn a_secret_of_the_wrong_type_is_named_but_never_quoted() {
    let lines = problems("[[vendor]]\nname = \"Shop\"\nuser = \"u\"\npassword = 98765432\n");
    assert_line(
        &lines,
        &["`password` on line 4: expected text in double quotes"],
    );
    assert!(lines.iter().all(|l| !l.contains("98765432")), "{lines:#?}");
}

#[test]
fn a_missing_required_key_is_named() {
    let lines = problems("[[product]]\nid = 1\nname = \"Demo\"\nminorVersion = 0\n");
    assert_line(
        &lines,
        &[
            "[[product]] #1 \"Demo\"",
            "the key `majorVersion` is required",
        ],
    );
}

#[test]
fn license_spelled_the_british_way_suggests_qlms_license() {
    let lines = problems("[options]\nreleaseLicenceRequiresAuthentication = false\n");
    assert_line(
        &lines,
        &[
            ":2:1:",
            "unknown key `releaseLicenceRequiresAuthentication` in [options]",
            "did you mean `releaseLicenseRequiresAuthentication`?",
        ],
    );
    assert!(
        !lines.iter().any(|l| l.contains("known keys:")),
        "a suggestion replaces the long list: {lines:#?}"
    );
}

#[test]
fn a_slip_of_case_or_of_a_letter_suggests_the_key() {
    let lines = problems("[server]\nlisen = \"127.0.0.1:0\"\nLogLevel = \"info\"\n");
    assert_line(&lines, &["`lisen`", "did you mean `listen`?"]);
    assert_line(&lines, &["`LogLevel`", "did you mean `logLevel`?"]);
}

#[test]
fn a_key_in_the_wrong_table_names_its_table() {
    let lines = problems("[security]\nreleaseLicenseRequiresAuthentication = false\n");
    assert_line(
        &lines,
        &["`releaseLicenseRequiresAuthentication` belongs in [options]"],
    );
}

#[test]
fn an_unknown_table_suggests_the_nearest() {
    let lines = problems("[servr]\nlisten = \"127.0.0.1:0\"\n");
    assert_line(&lines, &["unknown key `servr`", "did you mean `server`?"]);
}

#[test]
fn an_unknown_key_with_nothing_near_lists_the_known_keys() {
    let lines = problems("[activation]\ncolour = \"blue\"\n");
    assert_line(
        &lines,
        &["unknown key `colour` in [activation]; known keys: captureIPAddress"],
    );
}

#[test]
fn several_problems_are_listed_one_a_line_in_file_order() {
    let lines = problems(
        "[server]\nmaxArgs = \"64\"\nlisen = \"x\"\n[options]\nmaxReleaseCount = 1.5\n\
         [[vendor]]\nname = \"V\"\nenabled = \"yes\"\npasswordHash = \"x\"\n",
    );
    let at: Vec<&str> = lines.iter().filter_map(|l| l.split(':').nth(1)).collect();
    assert_eq!(at[..4], ["2", "3", "5", "8"], "{lines:#?}");
    assert_line(&lines, &["maxArgs = \"64\" on line 2"]);
    assert_line(
        &lines,
        &["maxReleaseCount = 1.5 on line 5: expected a whole number"],
    );
}

#[test]
fn a_good_file_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("licd.toml");
    std::fs::write(&path, format!("[server]\nmaxArgs = 64\n{PRODUCT}id = 1\n")).unwrap();
    let (code, out, err) = licd_cmd(
        &["check-config", "--config", path.to_str().unwrap()],
        None,
        dir.path(),
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
}
