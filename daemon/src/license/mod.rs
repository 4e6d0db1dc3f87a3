//! Licence domain types and the pure rules that decide on them.
//!
//! Nothing here does I/O: the store loads a [`License`], calls a rule with the request, the
//! time and the policy taken from the configuration, and writes what the rule returns. That
//! keeps every rule testable without a database and the store swappable.

pub mod authorization_code;
pub mod creation;
pub mod dates;
pub mod deactivation_code;
pub mod decisions;
pub mod features;
pub mod history;
pub mod install;
pub mod keys;
pub mod legacy_key;
pub mod model;
pub mod properties;
pub mod refusal;
pub mod release;
pub mod renewal;
pub mod rules;
pub mod update;
pub mod validation;

#[cfg(test)]
mod parser_proptests;

use serde::{Deserialize, Serialize};

use features::Features;
use model::LicenseModel;
use properties::PropertyValue;

/// Serde helper: false booleans are left out of the stored JSON (they read back as false).
fn is_false(b: &bool) -> bool {
    !*b
}

/// QLM `ELicenseStatus` flag: the licence has expired.
pub const STATUS_EXPIRED: u32 = 64;
/// QLM `ELicenseStatus` flag: the computer still needs to activate.
pub const STATUS_NEEDS_ACTIVATION: u32 = 512;
/// QLM `ELicenseStatus` flag: the licence is revoked.
pub const STATUS_REVOKED: u32 = 2048;

/// A licence as stored: one activation key and everything it allows.
///
/// Stored as JSON (self-describing, so fields can be added with `#[serde(default)]` without a
/// migration, and `licd export` can stream it as is). Fields with no value (`None`, empty,
/// `false`) are left out of the stored JSON and read back as their default: a million
/// licences are a few hundred megabytes smaller for it. Times are UTC Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct License {
    /// Canonical activation key (26 characters, no dashes).
    pub key: String,
    /// `[[product]] id`.
    pub product_id: u32,
    /// Product major version.
    pub major_version: u32,
    /// Product minor version.
    pub minor_version: u32,
    /// The licence model now in force (the key letter tells the model at creation).
    pub model: LicenseModel,
    /// Activations (seats) allowed.
    pub activations_allowed: u32,
    /// Activations in use; kept in the same transaction as the activation rows.
    pub activations_used: u32,
    /// Feature sets 0–3.
    #[serde(default)]
    pub features: Features,
    /// Fixed expiry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<i64>,
    /// Duration in days counted from the first activation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_days: Option<u32>,
    /// Time of the first activation (starts a duration-based expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_activation: Option<i64>,
    /// Whether the maintenance plan is on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub maintenance_plan: bool,
    /// Maintenance renewal date, when the plan is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_renewal: Option<i64>,
    /// Product properties set on this licence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertyValue>,
    /// `is_orderid` at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// `is_subscriptionid` at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// `is_userdata1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// `is_affiliateid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<String>,
    /// An e-mail given for the licence (`is_email`) that is not yet its customer's: the
    /// store turns it into [`License::customer`] before writing the licence
    /// (`store::commands::customers::link_email`), so a stored licence holds it only when
    /// written by a licd older than customers (and linked when the database is opened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The id of the licence's customer (`crate::customers::Customer`), who has its e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// `is_qlmversion` (or `options.defaultQlmVersion`).
    #[serde(default)]
    pub qlm_version: String,
    /// The vendor that created the licence (`scope = "own"` compares against it).
    pub vendor: String,
    /// Creation time.
    pub created: i64,
    /// Last time a change touched the licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accessed: Option<i64>,
    /// Revoked licences cannot activate or validate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub revoked: bool,
    /// Incremented on every change; part of the computer-key derivation.
    #[serde(default)]
    pub revision: u32,
    /// Set when UpgradeLicense replaced this licence by another key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgraded_to: Option<String>,
    /// This licence's own release limit (`is_maxreleasecount`): `None` or -2 = the server's
    /// `options.maxReleaseCount`, -1 = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_release_count: Option<i64>,
    /// This licence's own release period in days (`is_maxreleaseperiod`): `None` or -2 = the
    /// server's `options.maxReleasePeriodInDays`, -1 = since the licence was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_release_period: Option<i64>,
}

impl License {
    /// A fresh permanent-style licence for unit tests: product 1 version 1.0, `seats` slots,
    /// nothing used, created at `created`; tests change the fields they are about.
    #[cfg(test)]
    pub(crate) fn for_tests(model: &str, seats: u32, created: i64) -> License {
        let model = LicenseModel::parse(model).expect("a model name");
        License {
            key: keys::ActivationKey::generate(model)
                .expect("OS random generator")
                .as_str()
                .to_string(),
            product_id: 1,
            major_version: 1,
            minor_version: 0,
            model,
            activations_allowed: seats,
            activations_used: 0,
            features: Features::default(),
            expiry: None,
            duration_days: None,
            first_activation: None,
            maintenance_plan: false,
            maintenance_renewal: None,
            properties: Vec::new(),
            order_id: None,
            subscription_id: None,
            user_data: None,
            affiliate_id: None,
            email: None,
            customer: None,
            qlm_version: "6.0.00".into(),
            vendor: "v".into(),
            created,
            last_accessed: None,
            revoked: false,
            revision: 0,
            upgraded_to: None,
            max_release_count: None,
            max_release_period: None,
        }
    }

    /// When the licence expires: the fixed date, else first activation plus the duration.
    pub fn effective_expiry(&self) -> Option<i64> {
        self.expiry
            .or_else(|| match (self.first_activation, self.duration_days) {
                (Some(first), Some(days)) => Some(first + i64::from(days) * dates::SECONDS_PER_DAY),
                _ => None,
            })
    }

    /// Whether the licence has expired at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        self.effective_expiry().is_some_and(|e| e < now)
    }

    /// Activations still free.
    pub fn available(&self) -> u32 {
        self.activations_allowed
            .saturating_sub(self.activations_used)
    }

    /// QLM's `FloatingSeats`: the concurrent seats of a `_floating` licence, which are its
    /// seats; 0 for every other model. QLM keeps the number apart from the seats and leaves it
    /// 0 unless a key is made floating (its API samples and webhook `LicenseInfo` show 0 on
    /// other keys); licd has no separate number to carry, so a non-floating licence has none.
    pub fn floating_seats(&self) -> u32 {
        match self.model.deployment {
            model::Deployment::Floating => self.activations_allowed,
            model::Deployment::Standard | model::Deployment::Cloud => 0,
        }
    }

    /// QLM's `status` flags for this licence, as seen by a computer that is (or is not yet)
    /// activated.
    pub fn status(&self, now: i64, needs_activation: bool) -> u32 {
        let mut s = self.model.status_flag();
        if self.is_expired(now) {
            s |= STATUS_EXPIRED;
        }
        if needs_activation {
            s |= STATUS_NEEDS_ACTIVATION;
        }
        if self.revoked {
            s |= STATUS_REVOKED;
        }
        s
    }
}

/// One computer's activation of a licence (a seat for cloud and floating models).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// `is_pcid`, compared exactly.
    pub computer_id: String,
    /// `is_computer_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    /// When the activation was made.
    pub activated_at: i64,
    /// Last validation seen (written lazily for ordinary models).
    pub last_seen: i64,
    /// The computer key this activation was last given (canonical form).
    pub computer_key: String,
    /// Client address at activation, when `captureIPAddress` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `is_alog_userdata1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Checked out for offline use until then: a release before that time is refused (228).
    /// Nothing sets it yet; offline check-out is a later feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_until: Option<i64>,
    /// The computer key QLM gave this computer, as QLM wrote it, when the activation was
    /// imported from QLM (`licd import-qlm`): a client presenting it is in good standing,
    /// and it stays this activation's key (licd cannot derive QLM's keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_computer_key: Option<Box<str>>,
}

#[cfg(test)]
mod storage_tests {
    use super::*;

    #[test]
    fn floating_seats_are_the_seats_of_a_floating_licence_and_0_otherwise() {
        for (model, expected) in [
            ("permanent_floating", 7),
            ("subscription_floating", 7),
            ("trial_floating", 7),
            ("permanent", 0),
            ("subscription_cloud", 0),
        ] {
            let license = License::for_tests(model, 7, 1_800_000_000);
            assert_eq!(license.floating_seats(), expected, "{model}");
        }
    }

    #[test]
    fn stored_json_leaves_out_empty_fields_and_reads_back_equal() {
        let mut license = License::for_tests("permanent", 3, 1_800_000_000);
        let json = serde_json::to_string(&license).unwrap();
        assert!(!json.contains("null"), "{json}");
        assert!(!json.contains("revoked"), "{json}");
        assert_eq!(serde_json::from_str::<License>(&json).unwrap(), license);
        license.revoked = true;
        license.expiry = Some(5);
        let json = serde_json::to_string(&license).unwrap();
        assert_eq!(serde_json::from_str::<License>(&json).unwrap(), license);
    }
}
