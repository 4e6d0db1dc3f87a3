//! Analytics installs (QLM's Analytics/Installs table): what one installation of a client
//! application reported, and the caps that bound what the public, unauthenticated analytics
//! methods may store.
//!
//! Pure: the store loads the counts, [`check_install_caps`] decides, the store writes.

use serde::{Deserialize, Serialize};

use super::refusal::Refusal;

/// Random bytes in an install id: 128 bits, so ids cannot be guessed (the methods that name
/// one need no authentication) and never collide in practice.
pub const INSTALL_ID_BYTES: usize = 16;

/// Characters of an install id: [`INSTALL_ID_BYTES`] as lower-case hex.
pub const INSTALL_ID_CHARS: usize = INSTALL_ID_BYTES * 2;

/// What a client reports about one installation (AnalyticsAddInstallHttp and
/// AnalyticsUpdateInstallHttp); every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstallFields {
    /// `is_swversion`: the application's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `is_osversion`: the operating system's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// `is_computer_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    /// `is_computerID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_id: Option<String>,
    /// `is_avkey`, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_key: Option<String>,
    /// `is_pckey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_key: Option<String>,
    /// `is_trial`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<bool>,
    /// `is_productname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// `is_majorversion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major_version: Option<u32>,
    /// `is_minorversion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor_version: Option<u32>,
    /// `is_customdata1`..`is_customdata3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data1: Option<String>,
    /// See [`InstallFields::custom_data1`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data2: Option<String>,
    /// See [`InstallFields::custom_data1`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data3: Option<String>,
}

impl InstallFields {
    /// The activation key the per-key cap counts under: upper case, without dashes or
    /// spaces, so that one key written two ways is one key; `None` when none was sent.
    pub fn key_for_cap(&self) -> Option<String> {
        let key = self.activation_key.as_deref()?;
        let canonical: String = key
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        (!canonical.is_empty()).then_some(canonical)
    }
}

/// One stored installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Install {
    /// The install id handed to the client ([`INSTALL_ID_CHARS`] lower-case hex).
    pub id: String,
    /// What the client reported, last (AnalyticsUpdateInstallHttp replaces it).
    pub fields: InstallFields,
    /// When it was added (UTC Unix seconds).
    pub created_at: i64,
    /// When the fields were last replaced.
    pub updated_at: i64,
    /// When the client last said it runs (AnalyticsUpdateLastAccessedDateHttp); the add
    /// counts as an access.
    pub last_accessed_at: i64,
    /// When it was uninstalled (AnalyticsRemoveInstallHttp), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstalled_at: Option<i64>,
}

impl Install {
    /// A new installation `id` reported at `now`.
    pub fn new(id: String, fields: InstallFields, now: i64) -> Self {
        Install {
            id,
            fields,
            created_at: now,
            updated_at: now,
            last_accessed_at: now,
            uninstalled_at: None,
        }
    }
}

/// A change to a stored installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallChange {
    /// AnalyticsUpdateInstallHttp: the fields sent replace the stored ones.
    Update(Box<InstallFields>),
    /// AnalyticsRemoveInstallHttp: uninstalled now (the first removal's date is kept).
    Remove,
    /// AnalyticsUpdateLastAccessedDateHttp: the client runs now.
    Access,
}

impl Install {
    /// `self` after `change` made at `now`.
    pub fn changed(mut self, change: InstallChange, now: i64) -> Install {
        match change {
            InstallChange::Update(fields) => {
                self.fields = *fields;
                self.updated_at = now;
            }
            InstallChange::Remove => {
                self.uninstalled_at.get_or_insert(now);
            }
            // A clock step back never moves the date back.
            InstallChange::Access => self.last_accessed_at = self.last_accessed_at.max(now),
        }
        self
    }
}

/// No stored installation has the install id given (code 203).
pub fn install_not_found() -> Refusal {
    Refusal::new(
        super::refusal::Reason::NotFound,
        "No installation has this install id; register it with AnalyticsAddInstallHttp.",
    )
}

/// Whether `id` has the form of an install id (lower-case hex of the right length, any case
/// accepted); an id of another form names no install, so it is not looked up.
pub fn normalize_install_id(id: &str) -> Option<String> {
    (id.len() == INSTALL_ID_CHARS && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.to_ascii_lowercase())
}

/// Writes random bytes as an install id.
pub fn install_id_from(bytes: [u8; INSTALL_ID_BYTES]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `[analytics]` caps, each `-1` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallCaps {
    /// `maxInstallsPerKeyPerDay`.
    pub per_key_per_day: i64,
    /// `maxInstallsPerAddressPerDay`.
    pub per_address_per_day: i64,
    /// `maxInstalls`.
    pub stored: i64,
}

/// The counts the caps are decided on; a count whose cap is off is not read (0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallCounts {
    /// Installs added today with the same activation key.
    pub key_today: i64,
    /// Installs added today from the same client address (IPv6: the same /64).
    pub address_today: i64,
    /// Installs stored.
    pub stored: i64,
}

/// Whether one more install may be stored; the refusal (code 200) names the cap reached.
pub fn check_install_caps(counts: InstallCounts, caps: InstallCaps) -> Result<(), Refusal> {
    if caps.per_key_per_day >= 0 && counts.key_today >= caps.per_key_per_day {
        return Err(Refusal::rule(format!(
            "The server's limit analytics.maxInstallsPerKeyPerDay ({}) is reached for this activation key; try again tomorrow.",
            caps.per_key_per_day
        )));
    }
    if caps.per_address_per_day >= 0 && counts.address_today >= caps.per_address_per_day {
        return Err(Refusal::rule(format!(
            "The server's limit analytics.maxInstallsPerAddressPerDay ({}) is reached for this client address; try again tomorrow.",
            caps.per_address_per_day
        )));
    }
    if caps.stored >= 0 && counts.stored >= caps.stored {
        return Err(Refusal::rule(format!(
            "The server's limit analytics.maxInstalls ({}) is reached; no more installations are recorded.",
            caps.stored
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: InstallCaps = InstallCaps {
        per_key_per_day: 2,
        per_address_per_day: 3,
        stored: 4,
    };

    #[test]
    fn each_cap_refuses_at_its_value_and_names_itself() {
        let ok = InstallCounts {
            key_today: 1,
            address_today: 2,
            stored: 3,
        };
        assert!(check_install_caps(ok, CAPS).is_ok());
        for (counts, name) in [
            (
                InstallCounts { key_today: 2, ..ok },
                "maxInstallsPerKeyPerDay",
            ),
            (
                InstallCounts {
                    address_today: 3,
                    ..ok
                },
                "maxInstallsPerAddressPerDay",
            ),
            (InstallCounts { stored: 4, ..ok }, "maxInstalls ("),
        ] {
            let refusal = check_install_caps(counts, CAPS).unwrap_err();
            assert!(refusal.message.contains(name), "{}", refusal.message);
        }
    }

    #[test]
    fn a_cap_of_minus_one_is_no_cap() {
        let none = InstallCaps {
            per_key_per_day: -1,
            per_address_per_day: -1,
            stored: -1,
        };
        let big = InstallCounts {
            key_today: i64::MAX,
            address_today: i64::MAX,
            stored: i64::MAX,
        };
        assert!(check_install_caps(big, none).is_ok());
    }

    #[test]
    fn one_key_written_two_ways_counts_as_one() {
        let a = InstallFields {
            activation_key: Some("ab-cd 12".into()),
            ..Default::default()
        };
        assert_eq!(a.key_for_cap().as_deref(), Some("ABCD12"));
        assert_eq!(InstallFields::default().key_for_cap(), None);
    }

    #[test]
    fn a_second_removal_keeps_the_first_date_and_access_never_goes_back() {
        let install = Install::new("i".into(), InstallFields::default(), 100);
        let removed = install.changed(InstallChange::Remove, 200);
        let again = removed.clone().changed(InstallChange::Remove, 300);
        assert_eq!(again.uninstalled_at, Some(200));
        let seen = again.changed(InstallChange::Access, 50);
        assert_eq!(seen.last_accessed_at, 100);
        assert_eq!(
            seen.changed(InstallChange::Access, 400).last_accessed_at,
            400
        );
    }

    #[test]
    fn install_ids_are_32_hex_and_other_forms_name_nothing() {
        let id = install_id_from([0xab; INSTALL_ID_BYTES]);
        assert_eq!(id.len(), 32);
        assert_eq!(normalize_install_id(&id.to_uppercase()), Some(id));
        assert_eq!(normalize_install_id("abc"), None);
        assert_eq!(normalize_install_id(&"g".repeat(32)), None);
    }
}
