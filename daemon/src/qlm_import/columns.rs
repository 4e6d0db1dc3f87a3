//! The header of a QLM export: which column holds what, found by QLM's column names.
//!
//! QLM's tables have many more columns than licd reads (the console exports what its grid
//! shows); the others are ignored. Names match in any case, and spaces and underscores in a
//! header do not count, so `ActivationKey`, `activationkey` and `Activation Key` are one.

use std::collections::HashMap;
use std::hash::Hash;

use csv::StringRecord;

/// What a column of the licences file (QLM's LicenseKeys table) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenseColumn {
    /// The activation key as QLM gave it.
    ActivationKey,
    /// `[[product]] id`.
    ProductId,
    /// Product major version.
    MajorVersion,
    /// Product minor version.
    MinorVersion,
    /// Activations allowed (seats).
    NumLicenses,
    /// permanent, trial or subscription.
    LicenseModel,
    /// Feature sets, `set:value;…`.
    Features,
    /// Expiry date.
    ExpiryDate,
    /// End of the maintenance plan.
    MaintenanceRenewalDate,
    /// The store's order id.
    OrderId,
    /// The store's subscription id.
    SubscriptionId,
    /// The customer's e-mail.
    Email,
    /// `is_userdata1`.
    UserData,
    /// Revoked when 1.
    Disabled,
}

/// QLM's names of the licences file's columns (ILicenseInfo and the LicenseKeys table).
/// `UserData` is how ILicenseInfo names `UserData1`.
const LICENSE_NAMES: [(&str, LicenseColumn); 15] = [
    ("ActivationKey", LicenseColumn::ActivationKey),
    ("ProductID", LicenseColumn::ProductId),
    ("MajorVersion", LicenseColumn::MajorVersion),
    ("MinorVersion", LicenseColumn::MinorVersion),
    ("NumLicenses", LicenseColumn::NumLicenses),
    ("LicenseModel", LicenseColumn::LicenseModel),
    ("Features", LicenseColumn::Features),
    ("ExpiryDate", LicenseColumn::ExpiryDate),
    (
        "MaintenanceRenewalDate",
        LicenseColumn::MaintenanceRenewalDate,
    ),
    ("OrderID", LicenseColumn::OrderId),
    ("SubscriptionID", LicenseColumn::SubscriptionId),
    ("Email", LicenseColumn::Email),
    ("UserData1", LicenseColumn::UserData),
    ("UserData", LicenseColumn::UserData),
    ("Disabled", LicenseColumn::Disabled),
];

/// Columns every licences file has.
const LICENSE_REQUIRED: [LicenseColumn; 4] = [
    LicenseColumn::ActivationKey,
    LicenseColumn::ProductId,
    LicenseColumn::MajorVersion,
    LicenseColumn::MinorVersion,
];

/// What a column of the activations file (QLM's ActivationLog table) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivationColumn {
    /// The activation key the computer activated.
    ActivationKey,
    /// `is_pcid`.
    ComputerId,
    /// The computer key QLM gave.
    ComputerKey,
    /// `is_computer_name`.
    ComputerName,
    /// When it was activated.
    ActivationDate,
}

/// QLM's names of the activations file's columns.
const ACTIVATION_NAMES: [(&str, ActivationColumn); 5] = [
    ("ActivationKey", ActivationColumn::ActivationKey),
    ("ComputerID", ActivationColumn::ComputerId),
    ("ComputerKey", ActivationColumn::ComputerKey),
    ("ComputerName", ActivationColumn::ComputerName),
    ("ActivationDate", ActivationColumn::ActivationDate),
];

/// Columns every activations file has.
const ACTIVATION_REQUIRED: [ActivationColumn; 2] = [
    ActivationColumn::ActivationKey,
    ActivationColumn::ComputerId,
];

/// Where each known column is in a file's records.
#[derive(Debug)]
pub struct Header<C> {
    positions: HashMap<C, usize>,
}

impl Header<LicenseColumn> {
    /// The licences file's header.
    pub fn licenses(record: &StringRecord) -> Result<Self, String> {
        Header::read(record, &LICENSE_NAMES, &LICENSE_REQUIRED)
    }
}

impl Header<ActivationColumn> {
    /// The activations file's header.
    pub fn activations(record: &StringRecord) -> Result<Self, String> {
        Header::read(record, &ACTIVATION_NAMES, &ACTIVATION_REQUIRED)
    }
}

impl<C: Copy + Eq + Hash> Header<C> {
    /// Maps the header's names to columns. Refuses a header missing a required column, and
    /// one with two columns of the same meaning (which one would hold the truth?).
    fn read(record: &StringRecord, names: &[(&str, C)], required: &[C]) -> Result<Self, String> {
        let mut positions = HashMap::new();
        let mut seen: HashMap<C, &str> = HashMap::new();
        for (position, field) in record.iter().enumerate() {
            let Some(&(_, column)) = names.iter().find(|(name, _)| same_name(name, field)) else {
                continue;
            };
            if let Some(before) = seen.insert(column, field) {
                return Err(format!(
                    "the header has two columns for one field: {before:?} and {field:?}"
                ));
            }
            positions.insert(column, position);
        }
        let missing: Vec<&str> = required
            .iter()
            .filter(|c| !positions.contains_key(c))
            .filter_map(|c| names.iter().find(|(_, n)| n == c).map(|(name, _)| *name))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the header has no {} column (QLM's column names, in any case, are expected)",
                missing.join(", no ")
            ));
        }
        Ok(Header { positions })
    }

    /// The trimmed value of `column` in `record`; `None` when the file has no such column or
    /// the value is empty (QLM writes no value as an empty field, or `NULL` from SQL).
    pub fn get<'r>(&self, record: &'r StringRecord, column: C) -> Option<&'r str> {
        let value = record.get(*self.positions.get(&column)?)?.trim();
        (!value.is_empty() && !value.eq_ignore_ascii_case("null")).then_some(value)
    }
}

/// Whether a header field names `name`: case, spaces and underscores aside.
fn same_name(name: &str, field: &str) -> bool {
    let mut field = field
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| *c != ' ' && *c != '_');
    name.chars()
        .all(|n| field.next().is_some_and(|f| f.eq_ignore_ascii_case(&n)))
        && field.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> StringRecord {
        StringRecord::from(fields.to_vec())
    }

    #[test]
    fn columns_are_found_by_qlms_names_in_any_order_and_case() {
        let header = record(&[
            "Comment",
            "minorversion",
            "PRODUCTID",
            "Activation Key",
            "MajorVersion",
            "user_data1",
        ]);
        let h = Header::licenses(&header).unwrap();
        let row = record(&["x", "2", "7", "ABC", "1", " data "]);
        assert_eq!(h.get(&row, LicenseColumn::ActivationKey), Some("ABC"));
        assert_eq!(h.get(&row, LicenseColumn::ProductId), Some("7"));
        assert_eq!(h.get(&row, LicenseColumn::MinorVersion), Some("2"));
        assert_eq!(h.get(&row, LicenseColumn::UserData), Some("data"));
        assert_eq!(h.get(&row, LicenseColumn::Features), None, "no such column");
    }

    #[test]
    fn an_empty_or_null_value_is_no_value() {
        let h =
            Header::activations(&record(&["ActivationKey", "ComputerID", "ComputerName"])).unwrap();
        let row = record(&["K", "  ", "NULL"]);
        assert_eq!(h.get(&row, ActivationColumn::ComputerId), None);
        assert_eq!(h.get(&row, ActivationColumn::ComputerName), None);
    }

    #[test]
    fn a_header_without_a_required_column_is_refused_with_its_name() {
        let e = Header::licenses(&record(&["ActivationKey", "MajorVersion"])).unwrap_err();
        assert!(e.contains("ProductID") && e.contains("MinorVersion"), "{e}");
        let e = Header::activations(&record(&["ActivationKey"])).unwrap_err();
        assert!(e.contains("ComputerID"), "{e}");
    }

    #[test]
    fn two_columns_of_one_meaning_are_refused() {
        let e = Header::licenses(&record(&[
            "ActivationKey",
            "ProductID",
            "MajorVersion",
            "MinorVersion",
            "UserData",
            "UserData1",
        ]))
        .unwrap_err();
        assert!(e.contains("UserData1"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_column() {
        assert!(same_name("ActivationKey", "\u{feff}ActivationKey"));
        assert!(!same_name("ActivationKey", "ActivationKeys"));
        assert!(!same_name("ActivationKey", "Activation"));
    }
}
