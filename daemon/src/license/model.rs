//! Licence models: QLM's base models crossed with how activations are counted.
//!
//! A model is two independent choices, so it is two enums rather than nine variants: the
//! `_cloud`/`_floating` part survives an `is_licensemodel` change (methods.md,
//! UpdateLicenseHttp), and keeping it separate makes that rule a field assignment.

use serde::{Deserialize, Serialize};

/// How long a licence lasts: QLM's base licence models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BaseModel {
    /// Never expires unless given an expiry.
    Permanent,
    /// An evaluation licence, usually with an expiry or duration.
    Trial,
    /// Paid for a period and renewed (RenewSubscriptionHttp).
    Subscription,
}

/// How activations are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Deployment {
    /// One activation per computer, kept until released.
    Standard,
    /// A seat checked out by validation and reclaimed after inactivity (`_cloud`).
    Cloud,
    /// A floating seat, counted like a cloud seat (`_floating`).
    Floating,
}

/// A licence model as named on the wire (`is_licensemodel`, `<licenseModel>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LicenseModel {
    /// Permanent, trial or subscription.
    pub base: BaseModel,
    /// Standard, cloud or floating.
    pub deployment: Deployment,
}

/// The nine models with their wire name, activation-key letter and computer-key letter
/// (spec README §4). One table keeps the three mappings from drifting apart.
const TABLE: [(LicenseModel, &str, char, char); 9] = [
    (
        m(BaseModel::Permanent, Deployment::Standard),
        "permanent",
        'A',
        'U',
    ),
    (m(BaseModel::Trial, Deployment::Standard), "trial", 'B', 'V'),
    (
        m(BaseModel::Subscription, Deployment::Standard),
        "subscription",
        'F',
        'J',
    ),
    (
        m(BaseModel::Permanent, Deployment::Cloud),
        "permanent_cloud",
        'R',
        'W',
    ),
    (
        m(BaseModel::Trial, Deployment::Cloud),
        "trial_cloud",
        'S',
        'X',
    ),
    (
        m(BaseModel::Subscription, Deployment::Cloud),
        "subscription_cloud",
        'T',
        'Y',
    ),
    (
        m(BaseModel::Permanent, Deployment::Floating),
        "permanent_floating",
        'K',
        'N',
    ),
    (
        m(BaseModel::Trial, Deployment::Floating),
        "trial_floating",
        'L',
        'P',
    ),
    (
        m(BaseModel::Subscription, Deployment::Floating),
        "subscription_floating",
        'M',
        'Q',
    ),
];

/// `const` shorthand for the table above.
const fn m(base: BaseModel, deployment: Deployment) -> LicenseModel {
    LicenseModel { base, deployment }
}

impl LicenseModel {
    /// Every model, in QLM's order (permanent, trial, subscription; standard, cloud, floating).
    pub const ALL: [LicenseModel; 9] = [
        TABLE[0].0, TABLE[1].0, TABLE[2].0, TABLE[3].0, TABLE[4].0, TABLE[5].0, TABLE[6].0,
        TABLE[7].0, TABLE[8].0,
    ];

    /// The permanent standard model, the default when a request names none.
    pub const PERMANENT: LicenseModel = m(BaseModel::Permanent, Deployment::Standard);

    /// Reads a wire name (`permanent`, `trial_cloud`, `subscription_floating`, …) in any case;
    /// `None` for anything else, so the caller can answer code 5 naming its argument.
    pub fn parse(s: &str) -> Option<Self> {
        TABLE
            .iter()
            .find(|row| row.1.eq_ignore_ascii_case(s))
            .map(|row| row.0)
    }

    /// The wire name, lowercase, with no suffix for the standard deployment.
    pub fn as_str(&self) -> &'static str {
        self.row().1
    }

    /// The first character of an activation key of this model.
    pub fn activation_letter(&self) -> char {
        self.row().2
    }

    /// The first character of a computer key of this model.
    pub fn computer_letter(&self) -> char {
        self.row().3
    }

    /// The model an activation key's first character names; `None` when it names none, which
    /// makes the key malformed (exact uppercase letter: keys are normalised before this).
    pub fn from_activation_letter(c: char) -> Option<Self> {
        TABLE.iter().find(|row| row.2 == c).map(|row| row.0)
    }

    /// Whether an activation is a seat (cloud or floating): checked out by validation,
    /// reclaimed after inactivity, exempt from per-day and release limits.
    pub fn is_seat(&self) -> bool {
        self.deployment != Deployment::Standard
    }

    /// The model's bit of QLM's `ELicenseStatus` for `<status>`: 2 for permanent, 4 for trial
    /// and subscription (QLM has one "evaluation" flag for both time-limited models).
    pub fn status_flag(&self) -> u32 {
        match self.base {
            BaseModel::Permanent => 2,
            BaseModel::Trial | BaseModel::Subscription => 4,
        }
    }

    /// This model's row of the table; every model has exactly one.
    fn row(&self) -> &'static (LicenseModel, &'static str, char, char) {
        let index = match (self.base, self.deployment) {
            (BaseModel::Permanent, Deployment::Standard) => 0,
            (BaseModel::Trial, Deployment::Standard) => 1,
            (BaseModel::Subscription, Deployment::Standard) => 2,
            (BaseModel::Permanent, Deployment::Cloud) => 3,
            (BaseModel::Trial, Deployment::Cloud) => 4,
            (BaseModel::Subscription, Deployment::Cloud) => 5,
            (BaseModel::Permanent, Deployment::Floating) => 6,
            (BaseModel::Trial, Deployment::Floating) => 7,
            (BaseModel::Subscription, Deployment::Floating) => 8,
        };
        &TABLE[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_name_parses_in_any_case_and_round_trips() {
        for model in LicenseModel::ALL {
            assert_eq!(LicenseModel::parse(model.as_str()), Some(model));
            assert_eq!(
                LicenseModel::parse(&model.as_str().to_ascii_uppercase()),
                Some(model)
            );
        }
        assert_eq!(
            LicenseModel::parse("Trial_Cloud"),
            Some(m(BaseModel::Trial, Deployment::Cloud))
        );
    }

    #[test]
    fn unknown_or_padded_model_names_are_refused() {
        for bad in [
            "",
            "perm",
            "permanent ",
            "trial-cloud",
            "cloud",
            "permanent_standard",
        ] {
            assert_eq!(LicenseModel::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn letters_are_qlms_per_spec() {
        let expected = [
            ("permanent", 'A', 'U'),
            ("trial", 'B', 'V'),
            ("subscription", 'F', 'J'),
            ("permanent_cloud", 'R', 'W'),
            ("trial_cloud", 'S', 'X'),
            ("subscription_cloud", 'T', 'Y'),
            ("permanent_floating", 'K', 'N'),
            ("trial_floating", 'L', 'P'),
            ("subscription_floating", 'M', 'Q'),
        ];
        for (name, activation, computer) in expected {
            let model = LicenseModel::parse(name).unwrap();
            assert_eq!(model.activation_letter(), activation, "{name}");
            assert_eq!(model.computer_letter(), computer, "{name}");
            assert_eq!(
                LicenseModel::from_activation_letter(activation),
                Some(model)
            );
        }
    }

    #[test]
    fn computer_letters_and_lowercase_are_not_activation_letters() {
        for model in LicenseModel::ALL {
            assert_eq!(
                LicenseModel::from_activation_letter(model.computer_letter()),
                None
            );
            let lower = model.activation_letter().to_ascii_lowercase();
            assert_eq!(LicenseModel::from_activation_letter(lower), None);
        }
    }

    #[test]
    fn seats_are_cloud_and_floating_models() {
        for model in LicenseModel::ALL {
            assert_eq!(model.is_seat(), model.as_str().contains('_'), "{model:?}");
        }
    }

    #[test]
    fn status_flag_is_2_for_permanent_and_4_for_time_limited_models() {
        for model in LicenseModel::ALL {
            let expected = if model.base == BaseModel::Permanent {
                2
            } else {
                4
            };
            assert_eq!(model.status_flag(), expected, "{model:?}");
        }
    }
}
