//! The declarations of the real methods held to the behaviour they replaced: the names, the
//! gates, the auth rule that the `Method` enum's `call` and `authenticates` wrote out by hand
//! before there were declarations, and the rows of the method lists. The guard's rules themselves are proved on a
//! table of their own in `auth::guard`.

use super::*;
use crate::auth::{effects, strict};
use crate::config::Config;
use crate::http::args::ArgLimits;

const LIMITS: ArgLimits = ArgLimits {
    max_args: 64,
    max_value_bytes: 4096,
};

fn args(query: &str) -> Args {
    Args::parse(Some(query), None, LIMITS).expect("valid arguments")
}

fn call(name: &str) -> MethodCall {
    Method::find(name).expect("a served method").call
}

fn config() -> Config {
    Config::embedded().expect("the embedded default is valid")
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_string()).collect()
}

#[test]
fn the_table_serves_exactly_the_names_the_configuration_knows_in_any_case() {
    let mut served: Vec<_> = DECLARATIONS.names().collect();
    served.sort_unstable();
    let mut known = crate::config::KNOWN_METHODS.to_vec();
    known.sort_unstable();
    assert_eq!(served, known);
    for name in DECLARATIONS.names() {
        let lower = name.to_ascii_lowercase();
        assert_eq!(Method::find(&lower).map(Method::name), Some(name));
    }
    assert!(Method::find("Ping").is_none());
}

#[test]
fn each_method_has_the_gate_it_had() {
    let gates = [
        ("PingHttp", None),
        ("GetActivationKey", Some("security.enableGetActivationKey")),
        (
            "GetActivationKeyWithExpiryDate",
            Some("security.enableGetActivationKey"),
        ),
        ("ValidateLicenseHttp", None),
        ("ActivateKey", None),
        (
            "GetLatestVersionHttp",
            Some("security.enableGetLatestVersionHttp"),
        ),
        ("ReleaseLicenseHttp", Some("security.enableReleaseKeyHttp")),
        ("UpdateLicenseHttp", Some("security.enableUpgradeLicense")),
        ("UpgradeLicense", Some("security.enableUpgradeLicense")),
        ("RevokeLicenseHttp", Some("security.enableRevokeLicense")),
        (
            "RenewSubscriptionHttp",
            Some("security.enableRenewSubscriptionHttp"),
        ),
        ("EnableMaintenancePlan", None),
        ("RenewMaintenancePlan", None),
        (
            "RetrieveActivationKeyHttp",
            Some("security.enableRetrieveActivationKeyHttp"),
        ),
        (
            "UpdateUserInformation",
            Some("security.enableUpdateUserInformation"),
        ),
        (
            "UpdatePrivacyConsentHttp",
            Some("security.enablePrivacyConsentHttp"),
        ),
        (
            "SubscribeToMailListHttp",
            Some("security.enableSubscribeToMailListHttp"),
        ),
        (
            "AnalyticsAddInstallHttp",
            Some("security.enablePublishAnalyticsApi"),
        ),
        (
            "AnalyticsUpdateInstallHttp",
            Some("security.enablePublishAnalyticsApi"),
        ),
        (
            "AnalyticsRemoveInstallHttp",
            Some("security.enablePublishAnalyticsApi"),
        ),
        (
            "AnalyticsUpdateLastAccessedDateHttp",
            Some("security.enablePublishAnalyticsApi"),
        ),
        (
            "RequestAuthorizationCodeForActivationHttp",
            Some("security.enableActivationByAuthorizationCode"),
        ),
        (
            "ActivateKeyByAuthorizationCodeHttp",
            Some("security.enableActivationByAuthorizationCode"),
        ),
    ];
    let mut off = config().security;
    off.enable_get_activation_key = false;
    off.enable_get_latest_version_http = false;
    off.enable_release_key_http = false;
    off.enable_upgrade_license = false;
    off.enable_revoke_license = false;
    off.enable_renew_subscription_http = false;
    off.enable_retrieve_activation_key_http = false;
    off.enable_update_user_information = false;
    off.enable_privacy_consent_http = false;
    off.enable_subscribe_to_mail_list_http = false;
    off.enable_publish_analytics_api = false;
    off.enable_activation_by_authorization_code = false;
    for (name, property) in gates {
        let declaration = call(name).declaration;
        assert_eq!(declaration.gate.map(|g| g.property), property, "{name}");
        assert_eq!(declaration.is_enabled(&off), property.is_none(), "{name}");
    }
}

/// The auth rule as the `Method` enum's `authenticates` wrote it before the declarations.
fn authenticated_before(name: &str, args: &Args, config: &Config) -> bool {
    let credentials = args.get("is_user").is_some() || args.get("is_pwd").is_some();
    strict::is_strict(&config.security, DECLARATIONS, call(name), args)
        || match name {
            "PingHttp"
            | "ValidateLicenseHttp"
            | "GetLatestVersionHttp"
            | "UpdatePrivacyConsentHttp"
            | "SubscribeToMailListHttp" => credentials,
            // Added with the declarations: no credentials needed, wrong ones refused.
            "AnalyticsAddInstallHttp"
            | "AnalyticsUpdateInstallHttp"
            | "AnalyticsRemoveInstallHttp"
            | "AnalyticsUpdateLastAccessedDateHttp" => credentials,
            "RequestAuthorizationCodeForActivationHttp" | "ActivateKeyByAuthorizationCodeHttp" => {
                credentials
            }
            "ActivateKey" => credentials || args.get("is_vendor").is_some(),
            "ReleaseLicenseHttp" => {
                credentials || config.options.release_license_requires_authentication
            }
            _ => true,
        }
}

#[test]
fn each_declared_auth_need_authenticates_exactly_when_the_old_rule_did() {
    let queries = [
        "",
        "is_user=u",
        "is_pwd=p",
        "is_user=&is_pwd=",
        "is_vendor=V",
        "is_vendor=V&is_user=u&is_pwd=p",
        "is_revoke=true",
        "is_maintenance_plan=true",
    ];
    for strict_list in [
        vec![],
        list(&["RetrieveActivationKeyHttp"]),
        list(&["PingHttp"]),
    ] {
        for release_needs_auth in [false, true] {
            let mut c = config();
            c.security.strict_authentication_http_methods = strict_list.clone();
            c.options.release_license_requires_authentication = release_needs_auth;
            for name in DECLARATIONS.names() {
                for query in queries {
                    let a = args(query);
                    assert_eq!(
                        guard::authenticates(&c, DECLARATIONS, call(name), &a),
                        authenticated_before(name, &a, &c),
                        "{name}?{query} (strict {strict_list:?}, release needs auth {release_needs_auth})"
                    );
                }
            }
        }
    }
}

#[test]
fn by_default_only_key_retrieval_is_strictly_authenticated() {
    let security = config().security;
    let none = Args::default();
    for name in DECLARATIONS.names() {
        assert_eq!(
            strict::is_strict(&security, DECLARATIONS, call(name), &none),
            name == "RetrieveActivationKeyHttp",
            "{name}"
        );
    }
}

fn names(listed: &[&str], name: &str, query: &str) -> bool {
    effects::names(&list(listed), DECLARATIONS, call(name), &args(query))
}

#[test]
fn naming_one_creator_names_both() {
    for named in ["GetActivationKey", "getactivationkeywithexpirydate"] {
        assert!(names(&[named], "GetActivationKey", ""), "{named}");
        assert!(
            names(&[named], "GetActivationKeyWithExpiryDate", ""),
            "{named}"
        );
    }
}

#[test]
fn revoking_through_update_license_is_named_by_revoke_license() {
    let l = ["RevokeLicenseHttp"];
    assert!(names(&l, "UpdateLicenseHttp", "is_revoke=true"));
    assert!(names(&l, "UpdateLicenseHttp", "is_revoke=false"));
    assert!(!names(&l, "UpdateLicenseHttp", "is_features=0:1"));
    assert!(!names(&l, "UpdateLicenseHttp", "is_revoke="));
}

#[test]
fn renewing_the_maintenance_plan_through_renew_subscription_is_named_by_either_plan_method() {
    for named in ["EnableMaintenancePlan", "RenewMaintenancePlan"] {
        let l = [named];
        assert!(
            names(&l, "RenewSubscriptionHttp", "is_maintenance_plan=true"),
            "{named}"
        );
        assert!(!names(&l, "RenewSubscriptionHttp", ""), "{named}");
        assert!(names(&l, "EnableMaintenancePlan", ""), "{named}");
        assert!(names(&l, "RenewMaintenancePlan", ""), "{named}");
    }
    let l = ["RenewSubscriptionHttp"];
    assert!(names(
        &l,
        "RenewSubscriptionHttp",
        "is_maintenance_plan=true"
    ));
    assert!(!names(&l, "EnableMaintenancePlan", ""));
}

#[test]
fn activation_has_no_row() {
    assert!(names(&["ValidateLicenseHttp"], "ValidateLicenseHttp", ""));
    assert!(!names(&["ValidateLicenseHttp"], "ActivateKey", ""));
    assert!(!names(&["ActivateKey"], "ValidateLicenseHttp", ""));
}

#[test]
fn a_list_naming_nothing_of_the_row_does_not_name_it() {
    let l = ["UpdateLicenseHttp", "ReleaseLicenseHttp"];
    assert!(!names(&l, "RevokeLicenseHttp", ""));
    assert!(!names(&l, "GetActivationKey", ""));
    assert!(names(&l, "UpdateLicenseHttp", "is_revoke=true"));
    assert!(!names(&[], "PingHttp", ""));
}
