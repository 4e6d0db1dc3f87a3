//! `docs/protocol.md` held to the code, so that the wire reference cannot drift.
//!
//! The method table ([`DECLARATIONS`]: names and gates) and the parsers themselves are the
//! source: every parser runs on the example of its section, and on each documented argument
//! at the edges of its documented range, while [`reads`] notes every argument name it reads
//! (all typed accessors go through `Args::get`). A method without a section, a wrong gate,
//! an argument read but not documented (or documented but never read), a range that is not
//! the one enforced, or a required argument that is not required fails a test here.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::{ArgLimits, Args, reads};
use crate::license::renewal::MaintenanceAction;

/// The page under test.
const DOC: &str = include_str!("../../../docs/protocol.md");

/// Generous limits: the probes send values up to 1024 characters.
const LIMITS: ArgLimits = ArgLimits {
    max_args: 64,
    max_value_bytes: 1 << 16,
};

/// One `### Method` section of §9.
#[derive(Debug, Default)]
struct Section {
    /// The method names of the heading (`GetActivationKey / GetActivationKeyWithExpiryDate`).
    names: Vec<String>,
    /// The text after `**Gate:**`.
    gate: String,
    /// Each documented argument and its type cell.
    args: BTreeMap<String, String>,
    /// The query string of the example.
    example: String,
    /// The codes after `**Errors:**`.
    errors: Vec<u32>,
}

/// The backticked spans of `line`.
fn backticked(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The `is_*` names of a table row's first cell, with its second cell (the type).
fn argument_row(line: &str) -> Option<(Vec<String>, String)> {
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    let (first, ty) = (cells.get(1)?, cells.get(2)?);
    let names: Vec<String> = backticked(first)
        .into_iter()
        .filter(|n| n.starts_with("is_"))
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then(|| (names, ty.to_string()))
}

/// The method sections of §9.
fn sections() -> Vec<Section> {
    let methods = DOC
        .split_once("\n## 9. The methods")
        .expect("docs/protocol.md has a section 9. The methods")
        .1;
    let mut out: Vec<Section> = Vec::new();
    for line in methods.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            out.push(Section {
                names: heading.split(" / ").map(|n| n.trim().to_owned()).collect(),
                ..Section::default()
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if let Some((_, rest)) = line.split_once("**Gate:**") {
            section.gate = rest
                .split("**Auth:**")
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
        } else if let Some(rest) = line.strip_prefix("**Example:**") {
            let call = backticked(rest).first().copied().unwrap_or("");
            section.example = call.split_once('?').map_or("", |(_, q)| q).to_owned();
        } else if let Some(rest) = line.strip_prefix("**Errors:**") {
            section.errors = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
        } else if let Some((names, ty)) = argument_row(line) {
            for name in names {
                let twice = section.args.insert(name.clone(), ty.clone()).is_some();
                assert!(!twice, "{:?} documents {name} twice", section.names);
            }
        }
    }
    out
}

/// The arguments documented for every method (§2) and for vendor authentication (§6).
fn common_arguments() -> BTreeSet<String> {
    let before = DOC
        .split_once("\n## 9. The methods")
        .map_or(DOC, |(b, _)| b);
    before
        .lines()
        .filter_map(argument_row)
        .flat_map(|(names, _)| names)
        .collect()
}

fn section_of(method: Method) -> Section {
    sections()
        .into_iter()
        .find(|s| s.names.iter().any(|n| n == method.name()))
        .unwrap_or_else(|| panic!("docs/protocol.md has no section for {}", method.name()))
}

/// Every method served, under each of its names.
fn all() -> Vec<Method> {
    DECLARATIONS
        .names()
        .map(|name| Method::find(name).expect("the table finds its own names"))
        .collect()
}

/// Runs the parser of `method`, the one its `run` runs. A method of the table without an arm
/// here fails every test, so a new method cannot be left out of them.
fn parse(method: Method, args: &Args) -> Result<(), MethodError> {
    match method.name() {
        "PingHttp" => ping::PingHttp::parse(args).map(drop),
        "GetActivationKey" | "GetActivationKeyWithExpiryDate" => {
            get_activation_key::GetActivationKey::parse(args).map(drop)
        }
        "ValidateLicenseHttp" => validate_license::ValidateLicense::parse(args).map(drop),
        "ActivateKey" => activate_key::ActivateKey::parse(args).map(drop),
        "GetLatestVersionHttp" => get_latest_version::GetLatestVersion::parse(args).map(drop),
        "ReleaseLicenseHttp" => release_license::ReleaseLicense::parse(args).map(drop),
        "UpdateLicenseHttp" => update_license::UpdateLicense::parse(args).map(drop),
        "UpgradeLicense" => upgrade_license::UpgradeLicense::parse(args).map(drop),
        "RevokeLicenseHttp" => revoke_license::RevokeLicense::parse(args).map(drop),
        "RenewSubscriptionHttp" => renew_subscription::RenewSubscription::parse(args).map(drop),
        "EnableMaintenancePlan" => {
            maintenance_plan::MaintenancePlan::parse(args, MaintenanceAction::Enable).map(drop)
        }
        "RenewMaintenancePlan" => {
            maintenance_plan::MaintenancePlan::parse(args, MaintenanceAction::Renew).map(drop)
        }
        "RetrieveActivationKeyHttp" => {
            retrieve_activation_key::RetrieveActivationKey::parse(args).map(drop)
        }
        "UpdateUserInformation" => {
            update_user_information::UpdateUserInformation::parse(args).map(drop)
        }
        "UpdatePrivacyConsentHttp" => {
            update_privacy_consent::UpdatePrivacyConsent::parse(args).map(drop)
        }
        "SubscribeToMailListHttp" => {
            subscribe_to_mail_list::SubscribeToMailList::parse(args).map(drop)
        }
        "AnalyticsAddInstallHttp" => analytics_add_install::parse(args).map(drop),
        "AnalyticsUpdateInstallHttp" => analytics_update_install::parse(args).map(drop),
        "AnalyticsRemoveInstallHttp" => analytics_remove_install::parse(args).map(drop),
        "AnalyticsUpdateLastAccessedDateHttp" => {
            analytics_update_last_accessed_date::parse(args).map(drop)
        }
        "RequestAuthorizationCodeForActivationHttp" => {
            request_authorization_code::RequestAuthorizationCode::parse(args).map(drop)
        }
        "ActivateKeyByAuthorizationCodeHttp" => {
            activate_key_by_authorization_code::ActivateByAuthorizationCode::parse(args).map(drop)
        }
        other => panic!("no parser arm for {other} in protocol_doc_tests::parse"),
    }
}

/// The example's arguments as (name, value) pairs, percent-decoding left to [`Args::parse`].
fn example_pairs(section: &Section) -> Vec<(String, String)> {
    section
        .example
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

/// The example with `name` set to `value` (or left out when `value` is `None`).
fn with(base: &[(String, String)], name: &str, value: Option<&str>) -> Args {
    let mut query: Vec<String> = base
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    if let Some(v) = value {
        query.push(format!("{name}={}", v.replace(' ', "+")));
    }
    Args::parse(Some(&query.join("&")), None, LIMITS).expect("probe arguments parse")
}

/// A documented type, as far as a probe can check it.
enum Kind {
    Integer(i64, i64),
    /// Days from A to B, where `-1` and an empty value are not given (`Args::duration`).
    Duration(i64, i64),
    Boolean,
    Date,
    Text(usize),
    ComputerId,
    /// Keys, free text, models and the feature and property syntaxes: not probed here
    /// (their own parsers have their own tests).
    Other,
}

fn kind(ty: &str) -> Kind {
    let ty = ty.to_lowercase();
    let range = || {
        let words: Vec<&str> = ty.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let at = words.iter().position(|w| *w == "to").expect("A to B");
        let number = |w: &str| w.parse::<i64>().expect("a number");
        (number(words[at - 1]), number(words[at + 1]))
    };
    if ty.starts_with("integer") {
        let (min, max) = range();
        return Kind::Integer(min, max);
    }
    if ty.starts_with("duration") {
        let (min, max) = range();
        return Kind::Duration(min, max);
    }
    if ty.starts_with("boolean") {
        return Kind::Boolean;
    }
    if ty.starts_with("date") {
        return Kind::Date;
    }
    if let Some(rest) = ty.strip_prefix("text ≤ ") {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return Kind::Text(digits.parse().expect("text ≤ N"));
    }
    if ty.starts_with("computer id") {
        return Kind::ComputerId;
    }
    Kind::Other
}

/// Values the documented type accepts, and values it refuses.
fn probes(kind: &Kind) -> (Vec<String>, Vec<String>) {
    match kind {
        Kind::Integer(min, max) => (
            vec![min.to_string(), max.to_string()],
            vec![(min - 1).to_string(), (max + 1).to_string(), "1.5".into()],
        ),
        Kind::Duration(min, max) => {
            // Below the range, -1 is "not given"; the first value refused is the next one.
            let below = if min - 1 == -1 { -2 } else { min - 1 };
            (
                vec![min.to_string(), max.to_string(), "-1".into(), String::new()],
                vec![below.to_string(), (max + 1).to_string(), "1.5".into()],
            )
        }
        Kind::Boolean => (
            vec!["true".into(), "FALSE".into(), "1".into(), "0".into()],
            vec!["yes".into()],
        ),
        Kind::Date => (
            vec!["2030-01-31".into(), "2030-01-31 12:00:00".into()],
            vec!["2030-13-01".into(), "31.01.2030".into()],
        ),
        Kind::Text(n) => (vec!["a".repeat(*n)], vec!["a".repeat(n + 1)]),
        Kind::ComputerId => (
            vec!["PC-7".into(), "p".repeat(255)],
            vec!["PC 7".into(), "p".repeat(256)],
        ),
        Kind::Other => (Vec::new(), Vec::new()),
    }
}

/// Whether `e` refuses the value of argument `name` (rather than something else).
fn refuses_value_of(e: &MethodError, name: &str) -> bool {
    e.code == ErrorCode::InvalidFormat
        && [
            format!("argument {name} has the value"),
            format!("argument {name} is too long"),
            format!("argument {name} must be"),
        ]
        .iter()
        .any(|m| e.message.contains(m.as_str()))
}

/// Every name `method`'s parser reads on its example and on every probe of its arguments.
fn names_read(method: Method, section: &Section) -> BTreeSet<String> {
    let base = example_pairs(section);
    let mut seen = BTreeSet::new();
    let mut run = |args: Args| {
        let (_, names) = reads::recorded(|| parse(method, &args));
        seen.extend(names);
    };
    run(with(&base, "", None));
    for (name, ty) in &section.args {
        let (good, bad) = probes(&kind(ty));
        for value in good.iter().chain(&bad) {
            run(with(&base, name, Some(value)));
        }
        run(with(&base, name, None));
    }
    seen
}

#[test]
fn every_method_has_a_section_naming_its_gate() {
    for method in all() {
        let section = section_of(method);
        match method.call.declaration.gate.map(|g| g.property) {
            Some(property) => assert!(
                section.gate.starts_with(&format!("`{property}`")),
                "{}: the gate is {property}, the doc says {:?}",
                method.name(),
                section.gate
            ),
            None => assert!(
                section.gate.starts_with("none"),
                "{} has no gate, the doc says {:?}",
                method.name(),
                section.gate
            ),
        }
    }
}

#[test]
fn every_section_is_a_method_licd_serves() {
    for section in sections() {
        for name in &section.names {
            assert!(
                Method::find(name).is_some_and(|m| m.name() == name),
                "docs/protocol.md documents {name}, which licd does not serve"
            );
        }
    }
}

#[test]
fn every_example_parses() {
    for method in all() {
        let section = section_of(method);
        let args = with(&example_pairs(&section), "", None);
        if let Err(e) = parse(method, &args) {
            panic!(
                "{}: the example {:?} is refused: {}",
                method.name(),
                section.example,
                e.message
            );
        }
    }
}

#[test]
fn every_argument_a_parser_reads_is_documented_for_its_method() {
    let common = common_arguments();
    for name in ["is_format", "is_writebom", "is_vendor", "is_user", "is_pwd"] {
        assert!(common.contains(name), "§2 or §6 must document {name}");
    }
    for method in all() {
        let section = section_of(method);
        for name in names_read(method, &section) {
            assert!(
                section.args.contains_key(&name) || common.contains(&name),
                "{} reads {name}, which its section of docs/protocol.md does not document",
                method.name()
            );
        }
    }
}

#[test]
fn every_documented_argument_is_read_by_its_parser() {
    for method in all() {
        let section = section_of(method);
        let read = names_read(method, &section);
        for name in section.args.keys() {
            assert!(
                read.contains(name),
                "docs/protocol.md documents {name} for {}, whose parser never reads it",
                method.name()
            );
        }
    }
}

#[test]
fn documented_types_and_ranges_are_the_ones_enforced() {
    for method in all() {
        let section = section_of(method);
        let base = example_pairs(&section);
        for (name, ty) in &section.args {
            let kind = kind(ty);
            let (good, bad) = probes(&kind);
            for value in &good {
                if let Err(e) = parse(method, &with(&base, name, Some(value))) {
                    assert!(
                        !refuses_value_of(&e, name),
                        "{}: {name}={value:?} is refused though the doc says {ty:?}: {}",
                        method.name(),
                        e.message
                    );
                }
            }
            for value in &bad {
                let e = parse(method, &with(&base, name, Some(value))).err();
                let e = e.unwrap_or_else(|| {
                    panic!(
                        "{}: {name}={value:?} is accepted though the doc says {ty:?}",
                        method.name()
                    )
                });
                assert!(
                    e.code == ErrorCode::InvalidFormat && e.message.contains(name.as_str()),
                    "{}: {name}={value:?} is refused for another reason: {}",
                    method.name(),
                    e.message
                );
                if let (Kind::Integer(min, max) | Kind::Duration(min, max), Some(range)) =
                    (&kind, e.message.split_once("an integer from "))
                {
                    assert!(
                        range.1.starts_with(&format!("{min} to {max}.")),
                        "{}: {name} is documented {min} to {max}: {}",
                        method.name(),
                        e.message
                    );
                }
            }
        }
    }
}

#[test]
fn documented_required_arguments_are_required() {
    for method in all() {
        let section = section_of(method);
        let base = example_pairs(&section);
        for (name, ty) in &section.args {
            if !ty.contains("required") {
                continue;
            }
            let e = parse(method, &with(&base, name, None)).err();
            assert!(
                e.as_ref()
                    .is_some_and(|e| e.code == ErrorCode::MissingArgument
                        && e.message.contains(name.as_str())),
                "{}: without {name} the parser answers {:?}",
                method.name(),
                e.map(|e| e.message)
            );
        }
    }
}

#[test]
fn error_codes_are_codes_licd_has_and_all_are_listed() {
    let numbers: Vec<u32> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
    for section in sections() {
        assert!(
            !section.errors.is_empty(),
            "{:?} lists no errors",
            section.names
        );
        for code in &section.errors {
            assert!(
                numbers.contains(code),
                "{:?} lists code {code}",
                section.names
            );
        }
    }
    for code in ErrorCode::ALL {
        let row = format!("| {} | {} |", code.number(), code.name());
        assert!(DOC.contains(&row), "§8 of docs/protocol.md lacks {row}");
    }
}

/// The element names of the first cells of §7's table, in order.
fn licence_info_table() -> Vec<String> {
    let table = DOC
        .split_once("## 7. Licence info elements")
        .and_then(|(_, rest)| rest.split_once("## 8."))
        .expect("§7 of docs/protocol.md")
        .0;
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split('|').next())
        .flat_map(|cell| backticked(cell).into_iter().map(str::to_owned))
        .collect()
}

#[test]
fn licence_info_table_lists_every_element_written_in_the_order_written() {
    use crate::license::dates::parse_expiry;
    use crate::license::{Activation, License};
    let config = crate::config::Config::embedded().expect("the embedded configuration");
    // A licence with every element that can be left out set, on a named activation.
    let mut license = License::for_tests("subscription", 3, 1_800_000_000);
    license.features = crate::license::features::Features([1, 0, 0, 0]);
    license.expiry = parse_expiry("2030-01-01");
    license.maintenance_plan = true;
    license.maintenance_renewal = parse_expiry("2029-01-01");
    license.user_data = Some("u".into());
    license.affiliate_id = Some("a".into());
    license.order_id = Some("o".into());
    let mut customer = crate::customers::Customer::new("c".into(), "e@x.com", 1_800_000_000);
    customer.details.company = Some("Co".into());
    customer.details.full_name = Some("Ann".into());
    let activation = Activation {
        computer_id: "PC-7".into(),
        computer_name: Some("Seven".into()),
        activated_at: 1_800_000_100,
        last_seen: 1_800_000_100,
        computer_key: String::new(),
        client_ip: None,
        user_data: None,
        offline_until: None,
        imported_computer_key: None,
    };
    let fields = license_info::license_info(
        &license,
        Some(&customer),
        &config,
        1_800_000_200,
        false,
        Some(&activation),
    );
    let written: Vec<String> = fields.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(
        written,
        licence_info_table(),
        "§7 of docs/protocol.md lists the licence info elements in the order written"
    );
}

#[test]
fn a_field_map_may_target_exactly_the_documented_arguments_but_credentials() {
    use crate::config::field_map::TARGETS;
    use crate::http::args::canonical_name;
    let mut documented = common_arguments();
    for section in sections() {
        documented.extend(section.args.into_keys());
    }
    for credential in ["is_vendor", "is_user", "is_pwd"] {
        assert!(documented.remove(credential), "{credential} is documented");
        assert!(!TARGETS.contains(&credential), "{credential} is a target");
    }
    let targets: BTreeSet<String> = TARGETS
        .iter()
        .filter(|t| canonical_name(t) == **t)
        .map(|t| (*t).to_string())
        .collect();
    assert_eq!(targets, documented);
}
