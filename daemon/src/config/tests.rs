//! Tests of the whole loading path, each named for the rule of spec/config.md it proves,
//! and the helpers the other modules' tests build files with.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

/// A vendor that passes every rule, to build test files from.
pub(super) const GOOD_VENDOR: &str = r#"
[[vendor]]
name = "Shop"
user = "sales"
passwordHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2nDqM6hyfFi5Yt1+Pz8i2GVbF7ry1CPRXHzVWo9pCBQ"
"#;

pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "test.toml", None)
}

/// The problems of a file that must be refused.
pub(super) fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected the configuration to be refused:\n{text}"),
        Err(e) => e.problems,
    }
}

/// Asserts that some problem contains every one of `needles`.
pub(super) fn assert_problem(problems: &[String], needles: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|p| needles.iter().all(|n| p.contains(n))),
        "no problem contains all of {needles:?}; problems:\n{}",
        problems.join("\n")
    );
}

pub(super) fn hash_of(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

pub(super) fn write_file(dir: &Path, name: &str, contents: &str, mode: u32) {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn embedded_default_is_valid() {
    let config = Config::embedded().unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.data_dir, Path::new("./licd-data"));
    let demo = config.product(1, 1, 0).unwrap();
    assert_eq!(demo.name, "Demo");
    assert_eq!(demo.latest_version.as_deref(), Some("1.0.0"));
    assert_eq!(demo.properties.len(), 2);
    let vendor = config.vendor("qlmauthenticationprovider").unwrap();
    assert_eq!(vendor.user.as_deref(), Some("demo"));
    assert_eq!(
        config.options.default_commerce_provider,
        "QlmAuthenticationProvider"
    );
}

#[test]
fn embedded_default_writes_every_setting_at_its_default() {
    // conf/licd.toml documents each default; this keeps its values and the code's in step.
    let embedded = Config::embedded().unwrap();
    let empty = parse("").unwrap();
    assert_eq!(
        format!("{:?}", embedded.server),
        format!("{:?}", empty.server)
    );
    assert_eq!(
        format!("{:?}", embedded.security),
        format!("{:?}", empty.security)
    );
    assert_eq!(
        format!("{:?}", embedded.activation),
        format!("{:?}", empty.activation)
    );
    assert_eq!(
        format!("{:?}", embedded.store),
        format!("{:?}", empty.store)
    );
    assert_eq!(embedded.analytics, empty.analytics);
    assert_eq!(embedded.portal, empty.portal);
    let mut options = embedded.options.clone();
    options.default_commerce_provider = String::new();
    assert_eq!(format!("{options:?}"), format!("{:?}", empty.options));
}

#[test]
fn embedded_default_documents_every_key() {
    // Every key appears, set or commented out, so conf/licd.toml stays the reference.
    let keys = [
        document::field_names::<ServerConfig>(),
        document::field_names::<SecurityConfig>(),
        document::field_names::<OptionsConfig>(),
        document::field_names::<ActivationConfig>(),
        document::field_names::<super::StoreConfig>(),
        document::field_names::<super::AnalyticsConfig>(),
        document::field_names::<super::PortalConfig>(),
        document::field_names::<Product>(),
        document::field_names::<crate::license::properties::PropertyDef>(),
        document::field_names::<Vendor>(),
        document::field_names::<PluginConfig>(),
        document::field_names::<super::ConsoleConfig>(),
        document::field_names::<super::ConsoleUser>(),
    ];
    let lines: Vec<&str> = Config::EMBEDDED_DEFAULT
        .lines()
        .map(|l| l.trim_start_matches([' ', '#']))
        .collect();
    for key in keys.iter().flat_map(|k| k.iter()) {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{key} = ")) || l.contains(&format!(".{key}]"))),
            "conf/licd.toml does not mention `{key}`"
        );
    }
}

#[test]
fn load_without_path_is_the_embedded_default() {
    let config = Config::load(None).unwrap();
    assert_eq!(config.vendors.len(), 1);
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let err = Config::load(Some(&path)).unwrap_err();
    assert_problem(&err.problems, &[&path.display().to_string()]);
}

#[test]
fn empty_file_gives_spec_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.max_header_bytes, 8192);
    assert_eq!(c.server.max_body_bytes, 65536);
    assert_eq!(c.server.max_args, 64);
    assert_eq!(c.server.max_value_bytes, 4096);
    assert!(
        c.server
            .metrics_allowed_ips
            .contains("::1".parse().unwrap())
    );
    assert!(!c.security.enable_retrieve_activation_key_http);
    assert_eq!(
        c.security.strict_authentication_http_methods,
        ["RetrieveActivationKeyHttp"]
    );
    assert_eq!(
        c.security.signature_algorithm,
        SignatureAlgorithm::RsaSha256
    );
    assert_eq!(c.options.default_qlm_version, "6.0.00");
    assert_eq!(c.options.max_release_count, -1);
    assert!(c.activation.update_computer_name_when_reactivating);
    assert_eq!(c.server.log_level, LogLevel::Info);
}

#[test]
fn vendor_and_plugin_defaults_apply() {
    let c = parse(&format!(
        "{GOOD_VENDOR}\n[[plugin]]\nname = \"p\"\npath = \"/x.so\"\n"
    ))
    .unwrap();
    let v = &c.vendors[0];
    assert!(v.enabled);
    assert_eq!(v.response_format, ResponseFormat::Xml);
    assert_eq!(v.scope, Scope::All);
    assert!(v.methods.is_none());
    assert_eq!(c.plugins[0].timeout_ms, 2000);
    assert!(c.plugins[0].config.is_empty());
}

#[test]
fn unknown_key_is_an_error_naming_key_and_line() {
    let p = problems("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
    assert_problem(&p, &["test.toml:3:1", "`lisen`", "[server]"]);
}

#[test]
fn unknown_table_is_an_error_naming_it() {
    let p = problems("[serverr]\nlisten = \"127.0.0.1:1\"\n");
    assert_problem(&p, &["test.toml:1:", "`serverr`"]);
}

#[test]
fn unknown_keys_in_vendor_and_product_property_are_named() {
    let text = format!(
        "{GOOD_VENDOR}colour = \"red\"\n\n[[product]]\nid = 1\nname = \"A\"\nmajorVersion = 1\n\
         minorVersion = 0\n[[product.property]]\ncategory = \"a\"\nname = \"b\"\ntype = \"int\"\n\
         deflt = \"0\"\n"
    );
    let p = problems(&text);
    assert_problem(&p, &["test.toml:6:1", "`colour`", "[[vendor]] #1 \"Shop\""]);
    assert_problem(
        &p,
        &["test.toml:17:1", "`deflt`", "[[product.property]] #1"],
    );
}

#[test]
fn syntax_error_names_its_line() {
    let p = problems("[server]\nlisten = \n");
    assert_problem(&p, &["test.toml:2:"]);
}

#[test]
fn wrong_type_names_its_line_and_key() {
    let p = problems("[server]\n\nmaxConnections = \"many\"\n");
    assert_problem(&p, &["test.toml:3:", "[server]"]);
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    // Unknown keys and type errors in several tables are all reported in one run...
    let p = problems(
        "[server]\nlisen = 1\nlogFormat = \"yaml\"\n[security]\nenableGetActivationKey = 3\n\
         [[vendor]]\nname = \"A\"\npasword = \"x\"\n",
    );
    assert_problem(&p, &["`lisen`"]);
    assert_problem(&p, &["test.toml:3:", "yaml"]);
    assert_problem(&p, &["test.toml:5:", "[security]"]);
    assert_problem(&p, &["`pasword`"]);
    // ...and so are rule violations.
    let p = problems(
        "[server]\nmaxConnections = 0\nmaxArgs = 5000\n[options]\nmaxReleaseCount = -2\n\
         maintenancePlanPeriodInDays = 0\n",
    );
    assert_problem(&p, &["`maxConnections`"]);
    assert_problem(&p, &["`maxArgs`"]);
    assert_problem(&p, &["`maxReleaseCount`"]);
    assert_problem(&p, &["`maintenancePlanPeriodInDays`"]);
    assert_eq!(p.len(), 4, "{p:#?}");
}

#[test]
fn every_bad_value_in_one_table_is_listed() {
    let p = problems("[server]\nmaxArgs = \"x\"\nlogLevel = \"verbose\"\nmaxBodyBytes = true\n");
    assert_problem(&p, &["test.toml:2:", "[server]"]);
    assert_problem(&p, &["test.toml:3:", "verbose"]);
    assert_problem(&p, &["test.toml:4:", "[server]"]);
    assert_eq!(p.len(), 3, "{p:#?}");
}

#[test]
fn bad_required_value_is_not_also_reported_missing() {
    let p =
        problems("[[product]]\nid = \"one\"\nname = \"A\"\nmajorVersion = 1\nminorVersion = 0\n");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_problem(&p, &["test.toml:2:", "[[product]] #1 \"A\""]);
}

#[test]
fn problems_are_listed_in_file_order() {
    let p = problems("[server]\nlisen = 1\n[activation]\nfoo = 1\n[options]\nbar = 1\n");
    let lines: Vec<&str> = p.iter().map(|m| m.split(':').nth(1).unwrap()).collect();
    assert_eq!(lines, ["2", "4", "6"]);
}

#[test]
fn secret_of_wrong_type_is_not_quoted() {
    let p = problems("[[vendor]]\nname = \"V\"\nuser = \"u\"\npassword = 98765432\n");
    assert_problem(&p, &["test.toml:4:", "`password` on line 4: expected text"]);
    assert!(p.iter().all(|m| !m.contains("98765432")), "{p:#?}");
}

#[test]
fn duplicate_key_is_named() {
    let p = problems("[server]\nmaxArgs = 1\nmaxArgs = 2\n");
    assert_problem(&p, &["test.toml:3:", "duplicate key", "maxArgs"]);
}

#[test]
fn display_lists_one_problem_per_line() {
    let err = parse("[server]\nmaxConnections = 0\nmaxArgs = 0\n").unwrap_err();
    assert_eq!(err.to_string().lines().count(), 2);
}

#[test]
fn out_of_range_server_limits_are_refused() {
    let p = problems(
        "[server]\nheaderReadTimeoutMs = 0\nrequestTimeoutMs = 0\nmaxHeaderBytes = 1023\n\
         maxBodyBytes = 0\nmaxValueBytes = 15\ncacheSizeMiB = 0\n",
    );
    for key in [
        "headerReadTimeoutMs",
        "requestTimeoutMs",
        "maxHeaderBytes",
        "maxBodyBytes",
        "maxValueBytes",
        "cacheSizeMiB",
    ] {
        assert_problem(&p, &[&format!("`{key}`")]);
    }
}

#[test]
fn negative_value_for_unsigned_key_is_refused() {
    let p = problems("[server]\nmaxConnections = -1\n");
    assert_problem(&p, &["test.toml:2:"]);
}

#[test]
fn out_of_range_options_are_refused() {
    let p = problems(
        "[options]\nmaxReleasePeriodInDays = 0\npreventDeactivationPeriod = -1\n\
         maxActivationsPerDay = -2\nmaxNewKeysPerDay = -2\ndbMaxRecords = -2\n\
         subscriptionGracePeriod = -1\nmaintenancePlanGracePeriod = -1\n\
         maintenancePlanPeriodInDays = 36501\n[security]\nstrictAuthenticationMinimumVersion = 0\n",
    );
    assert_eq!(p.len(), 9, "{p:#?}");
}

#[test]
fn analytics_caps_below_minus_one_are_refused_and_a_misplaced_key_is_pointed_to_its_section() {
    let p = problems(
        "[analytics]\nmaxInstallsPerKeyPerDay = -2\nmaxInstallsPerAddressPerDay = -2\n\
         maxInstalls = -2\n",
    );
    assert_eq!(p.len(), 3, "{p:#?}");
    assert_problem(&p, &["[analytics]", "maxInstalls"]);
    let c = parse("[analytics]\nmaxInstalls = -1\n[security]\nenablePublishAnalyticsApi = true\n")
        .expect("valid");
    assert_eq!(c.analytics.max_installs, -1);
    assert!(c.security.enable_publish_analytics_api);
    let p = problems("[options]\nmaxInstalls = 5\n");
    assert_problem(&p, &["[analytics]"]);
}

#[test]
fn base_path_must_start_with_slash_and_not_end_with_one() {
    assert!(parse("[server]\nbasePath = \"/qlmLicenseServer\"\n").is_ok());
    assert!(parse("[server]\nbasePath = \"\"\n").is_ok());
    for bad in ["qlm", "/qlm/", "/", "/a//b", "/a b"] {
        let p = problems(&format!("[server]\nbasePath = \"{bad}\"\n"));
        assert_problem(&p, &["`basePath`"]);
    }
}

#[test]
fn listen_must_be_an_ip_address_and_port() {
    let p = problems("[server]\nlisten = \"localhost:8080\"\n");
    assert_problem(&p, &["test.toml:2:", "localhost:8080", "127.0.0.1:8080"]);
}

#[test]
fn bad_cidr_is_refused_naming_the_entry() {
    let p = problems("[options]\nblockIPAddresses = [\"10.0.0.0/8\", \"10.0.0/33\"]\n");
    assert_problem(&p, &["test.toml:2:", "`10.0.0/33`"]);
}

#[test]
fn default_license_models_must_be_known() {
    assert!(parse("[options]\ndefaultLicenseModelWhenDurationSet = \"trial_cloud\"\n").is_ok());
    let p = problems("[options]\ndefaultLicenseModelWhenExpiryDateSet = \"rental\"\n");
    assert_problem(&p, &["`defaultLicenseModelWhenExpiryDateSet`", "rental"]);
}

#[test]
fn duplicate_product_version_is_refused() {
    let product = "[[product]]\nid = 7\nname = \"A\"\nmajorVersion = 2\nminorVersion = 1\n";
    let p = problems(&format!("{product}{product}"));
    assert_problem(&p, &["id 7 version 2.1", "more than once"]);
    let other_minor = product.replace("minorVersion = 1", "minorVersion = 2");
    assert!(parse(&format!("{product}{other_minor}")).is_ok());
}

#[test]
fn product_release_date_must_be_yyyy_mm_dd() {
    let base = "[[product]]\nid = 1\nname = \"A\"\nmajorVersion = 1\nminorVersion = 0\n";
    let c = parse(&format!("{base}releaseDate = \"2026-01-15\"\n")).unwrap();
    assert_eq!(c.products[0].release_date.as_deref(), Some("2026-01-15"));
    let c = parse(&format!("{base}releaseDate = 2026-01-15\n")).unwrap();
    assert_eq!(c.products[0].release_date.as_deref(), Some("2026-01-15"));
    let p = problems(&format!("{base}releaseDate = \"15/01/2026\"\n"));
    assert_problem(&p, &["`releaseDate`", "yyyy-MM-dd"]);
}

#[test]
fn product_property_rules_are_enforced() {
    let text = r#"
[[product]]
id = 1
name = "A"
majorVersion = 1
minorVersion = 0
  [[product.property]]
  category = "q"
  name = "level"
  type = "int"
  default = "high"
  [[product.property]]
  category = "q"
  name = "level"
  type = "string"
  [[product.property]]
  category = "q.x"
  name = "on"
  type = "bool"
  default = "yes"
  [[product.property]]
  category = "q"
  name = "long"
  type = "string"
  default = "LONG"
"#
    .replace("LONG", &"x".repeat(1025));
    let p = problems(&text);
    assert_problem(&p, &["property q.level", "does not fit", "whole number"]);
    assert_problem(&p, &["property q.level", "more than once"]);
    assert_problem(&p, &["`category`", "q.x"]);
    assert_problem(&p, &["property q.x.on", "\"true\" or \"false\""]);
    assert_problem(&p, &["property q.long", "1024"]);
    assert_eq!(p.len(), 5, "{p:#?}");
}

#[test]
fn product_property_defaults_accept_what_licenses_accept() {
    let text = r#"
[[product]]
id = 1
name = "A"
majorVersion = 1
minorVersion = 0
  [[product.property]]
  category = "q"
  name = "count"
  type = "int"
  [[product.property]]
  category = "q"
  name = "delta"
  type = "int"
  default = "-5"
  [[product.property]]
  category = "q"
  name = "on"
  type = "bool"
  default = "TRUE"
"#;
    let c = parse(text).unwrap();
    assert_eq!(c.products[0].properties.len(), 3);
}

#[test]
fn duplicate_vendor_names_are_refused_ignoring_case() {
    let p = problems(&format!(
        "{GOOD_VENDOR}{}",
        GOOD_VENDOR.replace("Shop", "SHOP")
    ));
    assert_problem(&p, &["\"SHOP\"", "same name"]);
}

#[test]
fn vendor_lookup_ignores_case() {
    let c = parse(GOOD_VENDOR).unwrap();
    assert!(c.vendor("shop").is_some());
    assert!(c.vendor("SHOP").is_some());
    assert!(c.vendor("shops").is_none());
}

#[test]
fn vendor_naming_unknown_plugin_is_refused() {
    let p = problems("[[vendor]]\nname = \"V\"\nplugin = \"fastspring\"\n");
    assert_problem(&p, &["\"V\"", "fastspring", "no [[plugin]]"]);
    let ok =
        "[[vendor]]\nname = \"V\"\nplugin = \"fs\"\n[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n";
    assert!(parse(ok).is_ok());
}

#[test]
fn a_plugin_vendor_without_a_methods_list_is_a_warning_not_an_error() {
    let plugin = "[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n";
    let open = parse(&format!(
        "[[vendor]]\nname = \"V\"\nplugin = \"fs\"\n{plugin}"
    ))
    .unwrap();
    let w = open.warnings().join("\n");
    assert!(
        w.contains("test.toml: [[vendor]] \"V\"") && w.contains("no `methods` list"),
        "{w}"
    );
    let listed = parse(&format!(
        "[[vendor]]\nname = \"V\"\nplugin = \"fs\"\nmethods = [\"GetActivationKey\"]\n{plugin}"
    ))
    .unwrap();
    assert!(listed.warnings().is_empty(), "{:?}", listed.warnings());
    // A password vendor without a list is the ordinary case, not worth a warning.
    assert!(parse(GOOD_VENDOR).unwrap().warnings().is_empty());
}

#[test]
fn unsigned_args_must_be_is_names_and_never_the_replay_id() {
    let plugin = "plugin = \"fs\"\n";
    let tail = "[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n";
    let with = |list: &str| format!("{GOOD_VENDOR}{plugin}unsignedArgs = {list}\n{tail}");
    assert_problem(
        &problems(&format!("{GOOD_VENDOR}unsignedArgs = [\"is_vendor\"]\n")),
        &["\"Shop\"", "`unsignedArgs`", "no `plugin`"],
    );
    let c = parse(&with(r#"["is_vendor", "IS_ProductId"]"#)).unwrap();
    assert_eq!(
        c.vendors[0].unsigned_args.as_deref(),
        Some(&["is_vendor".to_string(), "IS_ProductId".to_string()][..])
    );
    assert!(
        parse(GOOD_VENDOR).unwrap().vendors[0]
            .unsigned_args
            .is_none()
    );
    assert_problem(
        &problems(&with(r#"["quantity"]"#)),
        &[
            "\"Shop\"",
            "`unsignedArgs`",
            "`quantity`",
            "not an is_* argument",
        ],
    );
    assert_problem(
        &problems(&with(r#"["is_vendor", "is_ReplayId"]"#)),
        &["`unsignedArgs`", "`is_ReplayId`", "plugin writes it"],
    );
    assert_problem(
        &problems(&with("\"is_vendor\"")),
        &["\"Shop\"", "expected a list in square brackets"],
    );
}

#[test]
fn duplicate_plugin_names_are_refused() {
    let plugin = "[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n";
    let p = problems(&format!("{plugin}{plugin}"));
    assert_problem(&p, &["[[plugin]] \"fs\"", "same name"]);
}

#[test]
fn plugin_timeout_must_be_positive() {
    let p = problems("[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\ntimeoutMs = 0\n");
    assert_problem(&p, &["`timeoutMs`"]);
}

#[test]
fn method_names_must_be_known_methods() {
    let p = problems(&format!(
        "[security]\nhttpAdminMethods = [\"revokelicensehttp\", \"RevokeLicence\"]\n\
         strictAuthenticationHttpMethods = [\"Retrieve\"]\n{GOOD_VENDOR}\
         methods = [\"ReleaseLicenseHttp\", \"Release\"]\n"
    ));
    assert_problem(&p, &["`httpAdminMethods`", "`RevokeLicence`"]);
    assert_problem(&p, &["`strictAuthenticationHttpMethods`", "`Retrieve`"]);
    assert_problem(&p, &["\"Shop\"", "`methods`", "`Release`"]);
    assert_eq!(p.len(), 3, "{p:#?}");
}

#[test]
fn vendor_methods_are_read_as_listed() {
    // What a list names (effects, not spellings) is auth/effects.rs's rule, tested there.
    let c = parse(&format!(
        "{GOOD_VENDOR}methods = [\"ReleaseLicenseHttp\"]\n"
    ))
    .unwrap();
    assert_eq!(
        c.vendors[0].methods.as_deref(),
        Some(&["ReleaseLicenseHttp".to_string()][..])
    );
}

#[test]
fn default_commerce_provider_must_name_a_vendor() {
    let p = problems("[options]\ndefaultCommerceProvider = \"Nobody\"\n");
    assert_problem(&p, &["`defaultCommerceProvider`", "Nobody"]);
    assert!(
        parse(&format!(
            "[options]\ndefaultCommerceProvider = \"shop\"\n{GOOD_VENDOR}"
        ))
        .is_ok()
    );
}

#[test]
fn verification_code_requirement_without_encryption_key_is_refused() {
    let p = problems("[options]\nreleaseLicenseRequiresVerificationCode = true\n");
    assert_problem(&p, &["`communicationEncryptionKey`"]);
    assert!(
        parse(
            "[options]\nreleaseLicenseRequiresVerificationCode = true\n\
             communicationEncryptionKey = \"k\"\n"
        )
        .is_ok()
    );
}

#[test]
fn blocked_computer_ids_must_be_valid_ids() {
    let p = problems("[options]\nblockComputerIDs = [\"PC-1\", \"\", \"a b\"]\n");
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_problem(&p, &["`blockComputerIDs`"]);
}

#[test]
fn debug_output_never_shows_secrets() {
    let c = parse(&format!(
        "[options]\ncommunicationEncryptionKey = \"enc-secret\"\n{GOOD_VENDOR}apiKey = \"api-secret\"\n"
    ))
    .unwrap();
    let shown = format!("{c:?}");
    for secret in ["enc-secret", "api-secret", "c29tZXNhbHRzb21lc2FsdA"] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
    assert!(shown.contains("<redacted>"));
}

#[test]
fn problems_are_prefixed_with_the_origin() {
    let err = Config::parse("[server]\nmaxArgs = 0\n", "/etc/licd/licd.toml", None).unwrap_err();
    assert!(
        err.problems[0].starts_with("/etc/licd/licd.toml: "),
        "{err}"
    );
}

#[test]
fn product_lookup_needs_id_and_both_versions() {
    let c = Config::embedded().unwrap();
    assert!(c.product(1, 1, 0).is_some());
    assert!(c.product(1, 1, 1).is_none());
    assert!(c.product(2, 1, 0).is_none());
}

#[test]
fn reload_reports_settings_that_need_a_restart() {
    let running = Config::embedded().unwrap();
    let mut newer = running.clone();
    assert!(running.settings_needing_restart(&newer).is_empty());
    newer.server.listen = "127.0.0.1:9090".parse().unwrap();
    newer.server.cache_size_mib = 128;
    newer.security.enable_revoke_license = false;
    assert_eq!(
        running.settings_needing_restart(&newer),
        ["server.listen", "server.cacheSizeMiB"]
    );
}

#[test]
fn method_names_canonicalise_ignoring_case() {
    assert_eq!(
        canonical_method_name("validatelicensehttp"),
        Some("ValidateLicenseHttp")
    );
    assert_eq!(canonical_method_name("ValidateLicense"), None);
}

#[test]
fn a_vendor_hash_weaker_than_the_strongest_is_warned_about_by_name() {
    use argon2::password_hash::PasswordHasher;
    let strong = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(2 * 19_456, 2, 1, None).unwrap(),
    )
    .hash_password(b"pw")
    .unwrap()
    .to_string();
    let c = parse(&format!(
        "{GOOD_VENDOR}\n[[vendor]]\nname = \"Strong\"\nuser = \"u\"\npasswordHash = \"{strong}\"\n"
    ))
    .unwrap();
    let warnings = c.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("vendor `Shop`") && warnings[0].contains("vendor `Strong`'s"),
        "{warnings:?}"
    );
    // One set of parameters everywhere: nothing to say.
    let c = parse(GOOD_VENDOR).unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn a_field_map_is_refused_beside_a_plugin_with_an_unknown_preset_or_bad_names() {
    let plugin = "plugin = \"fs\"\n[[plugin]]\nname = \"fs\"\npath = \"/x.so\"\n";
    assert_problem(
        &problems(&format!("{GOOD_VENDOR}preset = \"qlm\"\n{plugin}")),
        &["\"Shop\"", "`preset` and `fields`", "`plugin`"],
    );
    assert_problem(
        &problems(&format!("{GOOD_VENDOR}preset = \"shopify\"\n")),
        &["`preset` is \"shopify\"", "qlm, woocommerce, regnow"],
    );
    let with_fields = |entries: &str| format!("{GOOD_VENDOR}[vendor.fields]\n{entries}\n");
    for (entries, needles) in [
        (
            "OrderId = \"is_order\"",
            &["`OrderId`", "`is_order`", "not an is_* argument licd knows"][..],
        ),
        (
            "is_order = \"is_orderid\"",
            &["`is_order`", "already an is_* argument"],
        ),
        ("login = \"IS_USER\"", &["`login`", "who is authenticated"]),
        (
            "OrderId = \"is_orderid\"\norderid = \"is_orderid\"",
            &["twice"],
        ),
    ] {
        assert_problem(&problems(&with_fields(entries)), needles);
    }
    let c = parse(&format!(
        "{GOOD_VENDOR}preset = \"woocommerce\"\n[vendor.fields]\nCUSTOMER_email = \"is_userdata1\"\nRef = \"is_OrderId\"\n"
    ))
    .unwrap();
    let map = c.vendors[0].field_map();
    assert_eq!(map.target("orderid"), Some("is_orderid"));
    assert_eq!(map.target("ref"), Some("is_orderid"));
    assert_eq!(map.target("Customer_Email"), Some("is_userdata1"));
}
