//! Customers: the record a licence refers to for its customer's e-mail and contact details,
//! and the pure rules that change it (`rules`).
//!
//! A licence holds its customer's id, never the e-mail itself: the e-mail lives in one place,
//! the customer record, so that changing it (UpdateUserInformation with `is_previousemail`)
//! or erasing it (`licd customers delete`) reaches every licence at once. E-mails are unique
//! ignoring case; [`email_key`] is the form the store indexes them by.
//!
//! Nothing here does I/O; the store applies what the rules return (`store::commands::customers`).

pub mod rules;

use serde::{Deserialize, Serialize};

/// The contact details of a customer, every one optional. UpdateUserInformation sets the
/// ones it is given and leaves the others as they were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    /// Full name (QLM's `FullName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// First address line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// Second address line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Zip or postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Free notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Affiliate id (QLM's `AffiliateID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<String>,
    /// The store's own id of the customer (`is_externaluserid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_user_id: Option<String>,
    /// User data (`is_userdata1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

impl Details {
    /// These details with every field `other` gives written over them.
    pub fn merged(&self, other: &Details) -> Details {
        let pick = |mine: &Option<String>, theirs: &Option<String>| {
            theirs.clone().or_else(|| mine.clone())
        };
        Details {
            full_name: pick(&self.full_name, &other.full_name),
            company: pick(&self.company, &other.company),
            phone: pick(&self.phone, &other.phone),
            address1: pick(&self.address1, &other.address1),
            address2: pick(&self.address2, &other.address2),
            city: pick(&self.city, &other.city),
            state: pick(&self.state, &other.state),
            zip: pick(&self.zip, &other.zip),
            country: pick(&self.country, &other.country),
            notes: pick(&self.notes, &other.notes),
            affiliate_id: pick(&self.affiliate_id, &other.affiliate_id),
            external_user_id: pick(&self.external_user_id, &other.external_user_id),
            user_data: pick(&self.user_data, &other.user_data),
        }
    }
}

/// A customer as stored (JSON, camelCase; `licd customers show` prints it as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// An opaque id (128 random bits, hex) that licences refer to; it never changes, so an
    /// e-mail can.
    pub id: String,
    /// The e-mail as last given (unique ignoring case: [`email_key`]).
    pub email: String,
    /// Contact details.
    #[serde(flatten)]
    pub details: Details,
    /// The privacy consent (UpdatePrivacyConsentHttp); `None` until one is recorded.
    #[serde(default)]
    pub privacy_consent: Option<bool>,
    /// When the consent was recorded (UTC Unix seconds).
    #[serde(default)]
    pub privacy_consent_date: Option<i64>,
    /// Whether the customer is on the mailing list (SubscribeToMailListHttp).
    #[serde(default)]
    pub mail_list: bool,
    /// Creation time.
    pub created: i64,
    /// Last change.
    pub modified: i64,
}

impl Customer {
    /// A new customer with only an e-mail, created at `now`.
    pub fn new(id: String, email: &str, now: i64) -> Customer {
        Customer {
            id,
            email: email.trim().to_string(),
            details: Details::default(),
            privacy_consent: None,
            privacy_consent_date: None,
            mail_list: false,
            created: now,
            modified: now,
        }
    }
}

/// The form e-mails are indexed and compared by: trimmed, lower case.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether two e-mails name the same customer.
pub fn same_email(a: &str, b: &str) -> bool {
    email_key(a) == email_key(b)
}

/// A fresh customer id: 128 bits from the OS generator, as 32 lowercase hex digits (the form
/// PostgreSQL's migration writes from `gen_random_uuid()` too).
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_keys_ignore_case_and_surrounding_space() {
        assert_eq!(email_key(" Ann@Example.COM "), "ann@example.com");
        assert!(same_email("ANN@example.com", "ann@EXAMPLE.com"));
        assert!(!same_email("ann@example.com", "anne@example.com"));
    }

    #[test]
    fn ids_are_32_hex_digits_and_differ() {
        let (a, b) = (new_id().expect("id"), new_id().expect("id"));
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn stored_json_reads_back_and_shows_consent_and_mail_list_always() {
        let mut c = Customer::new("00".repeat(16), "a@b.c", 5);
        c.details.full_name = Some("Ann".into());
        let json = serde_json::to_value(&c).expect("json");
        assert_eq!(json["fullName"], "Ann");
        assert!(json.get("privacyConsent").is_some());
        assert_eq!(json["mailList"], false);
        let back: Customer = serde_json::from_value(json).expect("back");
        assert_eq!(back, c);
    }

    #[test]
    fn merging_details_keeps_what_is_not_given() {
        let old = Details {
            full_name: Some("Ann".into()),
            city: Some("Oslo".into()),
            ..Details::default()
        };
        let new = Details {
            city: Some("Bergen".into()),
            ..Details::default()
        };
        let merged = old.merged(&new);
        assert_eq!(merged.full_name.as_deref(), Some("Ann"));
        assert_eq!(merged.city.as_deref(), Some("Bergen"));
    }
}
