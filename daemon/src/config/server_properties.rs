//! `[security]`, `[options]` and `[activation]`: QLM's server properties, under QLM's own
//! names so that an admin coming from QLM finds every setting they know.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::{IpList, redacted};

/// `[security]`: QLM's security server properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SecurityConfig {
    /// GetActivationKey and GetActivationKeyWithExpiryDate may be called.
    pub enable_get_activation_key: bool,
    /// ReleaseLicenseHttp may be called.
    pub enable_release_key_http: bool,
    /// UpdateLicenseHttp and UpgradeLicense may be called.
    pub enable_upgrade_license: bool,
    /// RevokeLicenseHttp may be called.
    pub enable_revoke_license: bool,
    /// RenewSubscriptionHttp may be called.
    pub enable_renew_subscription_http: bool,
    /// RetrieveActivationKeyHttp may be called (off by default: it reveals keys).
    pub enable_retrieve_activation_key_http: bool,
    /// GetLatestVersionHttp may be called.
    pub enable_get_latest_version_http: bool,
    /// UpdateUserInformation may be called (licd's own property; QLM names none).
    pub enable_update_user_information: bool,
    /// UpdatePrivacyConsentHttp may be called (licd's own property).
    pub enable_privacy_consent_http: bool,
    /// SubscribeToMailListHttp may be called (licd's own property).
    pub enable_subscribe_to_mail_list_http: bool,
    /// The analytics methods (AnalyticsAddInstallHttp …) may be called (off by default: they
    /// store what unauthenticated clients send).
    pub enable_publish_analytics_api: bool,
    /// RequestAuthorizationCodeForActivationHttp and ActivateKeyByAuthorizationCodeHttp may
    /// be called (licd's own property; off by default: they mail codes to whoever asks for
    /// an address that owns a licence).
    pub enable_activation_by_authorization_code: bool,
    /// Methods only `httpAdminMethodsAllowedIPAddresses` may call.
    pub http_admin_methods: Vec<String>,
    /// Client networks allowed to call `httpAdminMethods`.
    #[serde(rename = "httpAdminMethodsAllowedIPAddresses")]
    pub http_admin_methods_allowed_ip_addresses: IpList,
    /// Methods that need the strict (HMAC) authentication headers.
    pub strict_authentication_http_methods: Vec<String>,
    /// Seconds of clock skew allowed in strict authentication.
    pub strict_authentication_timestamp_tolerance: u64,
    /// Lowest `X-Qlm-Authentication-Version` accepted.
    pub strict_authentication_minimum_version: u32,
    /// Failed vendor authentications one client address may make in a minute.
    pub auth_failures_per_minute: u32,
    /// Sign every ValidateLicenseHttp / ActivateKey reply.
    pub sign_license_replies: bool,
    /// Signature algorithm of signed replies and licence files.
    pub signature_algorithm: SignatureAlgorithm,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            enable_get_activation_key: true,
            enable_release_key_http: true,
            enable_upgrade_license: true,
            enable_revoke_license: true,
            enable_renew_subscription_http: true,
            enable_retrieve_activation_key_http: false,
            enable_get_latest_version_http: true,
            enable_update_user_information: true,
            enable_privacy_consent_http: true,
            enable_subscribe_to_mail_list_http: true,
            enable_publish_analytics_api: false,
            enable_activation_by_authorization_code: false,
            http_admin_methods: Vec::new(),
            http_admin_methods_allowed_ip_addresses: IpList::loopback(),
            strict_authentication_http_methods: vec!["RetrieveActivationKeyHttp".to_owned()],
            strict_authentication_timestamp_tolerance: 300,
            strict_authentication_minimum_version: 2,
            auth_failures_per_minute: 20,
            sign_license_replies: false,
            signature_algorithm: SignatureAlgorithm::RsaSha256,
        }
    }
}

/// Signature algorithm for signed replies and licence files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256, the default.
    #[serde(rename = "rsa-sha256")]
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-1, for older QLM clients only.
    #[serde(rename = "rsa-sha1")]
    RsaSha1,
}

/// `[options]`: QLM's options server properties.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct OptionsConfig {
    /// ReleaseLicenseHttp needs vendor credentials.
    pub release_license_requires_authentication: bool,
    /// ReleaseLicenseHttp needs a deactivation verification code.
    pub release_license_requires_verification_code: bool,
    /// Key shared with client applications, needed for verification codes; after loading it
    /// holds the value, whether written inline or read from `communicationEncryptionKeyFile`.
    pub communication_encryption_key: Option<String>,
    /// File `communicationEncryptionKey` was read from, kept so messages can name it.
    pub communication_encryption_key_file: Option<PathBuf>,
    /// Releases allowed per key in `maxReleasePeriodInDays`; -1 unlimited.
    pub max_release_count: i64,
    /// The period `maxReleaseCount` counts over, in days.
    pub max_release_period_in_days: i64,
    /// Minutes after an activation during which it cannot be released.
    pub prevent_deactivation_period: i64,
    /// Record releases in the history.
    pub history_table_log_release: bool,
    /// Record upgrades in the history.
    pub history_table_log_upgrade: bool,
    /// Vendor used when `is_vendor` is absent; empty for none.
    pub default_commerce_provider: String,
    /// Stored when `is_qlmversion` is absent.
    pub default_qlm_version: String,
    /// Client networks refused on every method.
    #[serde(rename = "blockIPAddresses")]
    pub block_ip_addresses: IpList,
    /// Computer IDs refused for activation and validation.
    #[serde(rename = "blockComputerIDs")]
    pub block_computer_ids: Vec<String>,
    /// Server-wide cap on new activations per UTC day; -1 unlimited.
    pub max_activations_per_day: i64,
    /// Server-wide cap on keys created per UTC day; -1 unlimited.
    pub max_new_keys_per_day: i64,
    /// Cap on licences stored; -1 unlimited.
    pub db_max_records: i64,
    /// A duration becomes a fixed expiry date when the key is created.
    pub use_duration_to_set_expiry_date: bool,
    /// A duration becomes a fixed expiry date at first activation.
    pub use_duration_to_set_expiry_date_when_activating: bool,
    /// Licence model when a duration is given and no model.
    pub default_license_model_when_duration_set: String,
    /// Licence model when an expiry date is given and no model.
    pub default_license_model_when_expiry_date_set: String,
    /// Days after expiry during which RenewSubscriptionHttp still renews.
    pub subscription_grace_period: i64,
    /// Default maintenance-plan extension, in days.
    pub maintenance_plan_period_in_days: i64,
    /// Days after maintenance expiry during which a renewal still counts.
    pub maintenance_plan_grace_period: i64,
    /// Refuse validation (code 225) when the client's computer key differs.
    pub require_computer_key_match_when_validating_on_server: bool,
    /// A key may activate an older version of its product.
    pub allow_activating_older_version: bool,
    /// UpdateUserInformation updates an existing customer (and may change its e-mail);
    /// when off, an existing customer is refused (1901).
    pub update_existing_user_information: bool,
}

impl Default for OptionsConfig {
    fn default() -> Self {
        OptionsConfig {
            release_license_requires_authentication: true,
            release_license_requires_verification_code: false,
            communication_encryption_key: None,
            communication_encryption_key_file: None,
            max_release_count: -1,
            max_release_period_in_days: 365,
            prevent_deactivation_period: 0,
            history_table_log_release: true,
            history_table_log_upgrade: true,
            default_commerce_provider: String::new(),
            default_qlm_version: "6.0.00".to_owned(),
            block_ip_addresses: IpList::default(),
            block_computer_ids: Vec::new(),
            max_activations_per_day: -1,
            max_new_keys_per_day: -1,
            db_max_records: -1,
            use_duration_to_set_expiry_date: false,
            use_duration_to_set_expiry_date_when_activating: true,
            default_license_model_when_duration_set: "trial".to_owned(),
            default_license_model_when_expiry_date_set: "subscription".to_owned(),
            subscription_grace_period: 0,
            maintenance_plan_period_in_days: 365,
            maintenance_plan_grace_period: 0,
            require_computer_key_match_when_validating_on_server: false,
            allow_activating_older_version: false,
            update_existing_user_information: false,
        }
    }
}

/// Written by hand so that `{:?}` of a configuration never prints the encryption key.
impl fmt::Debug for OptionsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptionsConfig")
            .field(
                "release_license_requires_authentication",
                &self.release_license_requires_authentication,
            )
            .field(
                "release_license_requires_verification_code",
                &self.release_license_requires_verification_code,
            )
            .field(
                "communication_encryption_key",
                &redacted(&self.communication_encryption_key),
            )
            .field(
                "communication_encryption_key_file",
                &self.communication_encryption_key_file,
            )
            .field("max_release_count", &self.max_release_count)
            .field(
                "max_release_period_in_days",
                &self.max_release_period_in_days,
            )
            .field(
                "prevent_deactivation_period",
                &self.prevent_deactivation_period,
            )
            .field("history_table_log_release", &self.history_table_log_release)
            .field("history_table_log_upgrade", &self.history_table_log_upgrade)
            .field("default_commerce_provider", &self.default_commerce_provider)
            .field("default_qlm_version", &self.default_qlm_version)
            .field("block_ip_addresses", &self.block_ip_addresses)
            .field("block_computer_ids", &self.block_computer_ids)
            .field("max_activations_per_day", &self.max_activations_per_day)
            .field("max_new_keys_per_day", &self.max_new_keys_per_day)
            .field("db_max_records", &self.db_max_records)
            .field(
                "use_duration_to_set_expiry_date",
                &self.use_duration_to_set_expiry_date,
            )
            .field(
                "use_duration_to_set_expiry_date_when_activating",
                &self.use_duration_to_set_expiry_date_when_activating,
            )
            .field(
                "default_license_model_when_duration_set",
                &self.default_license_model_when_duration_set,
            )
            .field(
                "default_license_model_when_expiry_date_set",
                &self.default_license_model_when_expiry_date_set,
            )
            .field("subscription_grace_period", &self.subscription_grace_period)
            .field(
                "maintenance_plan_period_in_days",
                &self.maintenance_plan_period_in_days,
            )
            .field(
                "maintenance_plan_grace_period",
                &self.maintenance_plan_grace_period,
            )
            .field(
                "require_computer_key_match_when_validating_on_server",
                &self.require_computer_key_match_when_validating_on_server,
            )
            .field(
                "allow_activating_older_version",
                &self.allow_activating_older_version,
            )
            .field(
                "update_existing_user_information",
                &self.update_existing_user_information,
            )
            .finish()
    }
}

/// `[activation]`: QLM's activation server properties.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ActivationConfig {
    /// Store the client address with each activation.
    #[serde(rename = "captureIPAddress")]
    pub capture_ip_address: bool,
    /// Refresh the stored computer name when a computer activates again.
    pub update_computer_name_when_reactivating: bool,
    /// Cloud (floating) seats idle longer than this are reclaimed; 0 = never.
    pub cloud_inactivity_threshold_minutes: u64,
    /// Minutes an e-mailed authorization code stays valid (a decimal: `0.1` is 6 s).
    pub activation_by_authorization_code_expiry_duration: f64,
    /// Wrong codes tried against an e-mail address's pending codes before they are void.
    pub activation_by_authorization_code_max_attempts: u32,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        ActivationConfig {
            capture_ip_address: false,
            update_computer_name_when_reactivating: true,
            cloud_inactivity_threshold_minutes: 0,
            activation_by_authorization_code_expiry_duration: 10.0,
            activation_by_authorization_code_max_attempts: 5,
        }
    }
}
