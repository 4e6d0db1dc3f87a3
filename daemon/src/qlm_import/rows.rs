//! One row of a QLM export as a licd licence or activation (the mapping is documented in
//! docs/moving-from-qlm.md). Each function answers the row's value or the reason it cannot
//! be imported, in one sentence that names the column.

use csv::StringRecord;

use super::columns::{ActivationColumn as A, Header, LicenseColumn as L};
use crate::license::dates;
use crate::license::features::Features;
use crate::license::keys::{ActivationKey, KeyError};
use crate::license::model::LicenseModel;
use crate::license::{Activation, License};

/// The longest order or subscription id, as `is_orderid` allows.
const MAX_ID_CHARS: usize = 255;

/// What a licence takes from the server rather than from the row.
pub struct Settings<'a> {
    /// The vendor the licences are created for (`scope = "own"` compares against it).
    pub vendor: &'a str,
    /// `options.defaultQlmVersion`.
    pub qlm_version: &'a str,
    /// The import's time: creation time of every licence.
    pub now: i64,
    /// Whether a product id and version is a configured `[[product]]`.
    pub product_defined: &'a dyn Fn(u32, u32, u32) -> bool,
}

/// A licences-file row as a licence, stored under its legacy key.
pub fn license(h: &Header<L>, row: &StringRecord, s: &Settings<'_>) -> Result<License, String> {
    let key = legacy_key(h.get(row, L::ActivationKey))?;
    let product_id = number(h, row, L::ProductId, "ProductID")?;
    let major = number(h, row, L::MajorVersion, "MajorVersion")?;
    let minor = number(h, row, L::MinorVersion, "MinorVersion")?;
    if !(s.product_defined)(product_id, major, minor) {
        return Err(format!(
            "product {product_id} version {major}.{minor} is not a [[product]] of the configuration; declare it first"
        ));
    }
    let seats = match h.get(row, L::NumLicenses) {
        None => 1,
        Some(_) => number(h, row, L::NumLicenses, "NumLicenses")?,
    };
    if seats == 0 {
        return Err("NumLicenses is 0; a licence allows at least one activation".into());
    }
    let maintenance_renewal = date(
        h.get(row, L::MaintenanceRenewalDate),
        "MaintenanceRenewalDate",
    )?;
    Ok(License {
        key: key.as_str().to_string(),
        product_id,
        major_version: major,
        minor_version: minor,
        model: model(h.get(row, L::LicenseModel))?,
        activations_allowed: seats,
        activations_used: 0,
        features: features(h.get(row, L::Features))?,
        expiry: date(h.get(row, L::ExpiryDate), "ExpiryDate")?,
        duration_days: None,
        first_activation: None,
        maintenance_plan: maintenance_renewal.is_some(),
        maintenance_renewal,
        properties: Vec::new(),
        order_id: id(h.get(row, L::OrderId), "OrderID")?,
        subscription_id: id(h.get(row, L::SubscriptionId), "SubscriptionID")?,
        user_data: h.get(row, L::UserData).map(str::to_string),
        affiliate_id: None,
        email: h.get(row, L::Email).map(str::to_string),
        customer: None,
        qlm_version: s.qlm_version.to_string(),
        vendor: s.vendor.to_string(),
        created: s.now,
        last_accessed: None,
        revoked: flag(h.get(row, L::Disabled))?,
        revision: 0,
        upgraded_to: None,
        max_release_count: None,
        max_release_period: None,
    })
}

/// An activations-file row: the stored key it belongs to and the activation. The computer
/// key QLM gave is kept as QLM wrote it (`Activation::imported_computer_key`).
pub fn activation(
    h: &Header<A>,
    row: &StringRecord,
    now: i64,
) -> Result<(ActivationKey, Activation), String> {
    let key = legacy_key(h.get(row, A::ActivationKey))?;
    let computer_id = h
        .get(row, A::ComputerId)
        .ok_or("ComputerID is empty")?
        .to_string();
    let activated_at = date(h.get(row, A::ActivationDate), "ActivationDate")?.unwrap_or(now);
    let imported_key = h.get(row, A::ComputerKey).map(str::to_string);
    let activation = Activation {
        computer_id,
        computer_name: h.get(row, A::ComputerName).map(str::to_string),
        activated_at,
        last_seen: activated_at,
        computer_key: imported_key.clone().unwrap_or_default(),
        client_ip: None,
        user_data: None,
        offline_until: None,
        imported_computer_key: imported_key.map(String::into_boxed_str),
    };
    Ok((key, activation))
}

/// The row's key as a legacy key. A QLM key of licd's 26 characters is refused: look-ups
/// read such input as a licd key only (`ActivationKey::parse_for_lookup`), so the legacy
/// licence could never be found.
fn legacy_key(value: Option<&str>) -> Result<ActivationKey, String> {
    let text = value.ok_or("ActivationKey is empty")?;
    if !matches!(ActivationKey::parse(text), Err(KeyError::Length { .. })) {
        return Err(format!(
            "ActivationKey {text:?} has 26 characters, as licd's keys do, and could not be told apart from one"
        ));
    }
    ActivationKey::legacy(text).map_err(|e| format!("ActivationKey {text:?}: {e}"))
}

/// A required whole number.
fn number<C: Copy + Eq + std::hash::Hash>(
    h: &Header<C>,
    row: &StringRecord,
    column: C,
    name: &str,
) -> Result<u32, String> {
    let value = h
        .get(row, column)
        .ok_or_else(|| format!("{name} is empty"))?;
    value
        .parse()
        .map_err(|_| format!("{name} {value:?} is not a whole number"))
}

/// QLM's LicenseModel (permanent, trial, subscription), or a licd model name such as
/// `permanent_cloud`; empty is permanent, QLM's default.
fn model(value: Option<&str>) -> Result<LicenseModel, String> {
    let Some(value) = value else {
        return Ok(LicenseModel::PERMANENT);
    };
    LicenseModel::parse(value).ok_or_else(|| {
        format!("LicenseModel {value:?} is not permanent, trial or subscription (or a licd model such as permanent_cloud)")
    })
}

/// QLM's feature sets in the form `is_features` takes (`0:5;1:2`); empty is none.
fn features(value: Option<&str>) -> Result<Features, String> {
    let Some(value) = value else {
        return Ok(Features::default());
    };
    let changes = Features::parse_changes(value).map_err(|r| format!("Features: {}", r.message))?;
    Ok(Features::default().with_changes(&changes))
}

/// An optional date in one of the forms a QLM export writes.
fn date(value: Option<&str>, name: &str) -> Result<Option<i64>, String> {
    value
        .map(|v| {
            dates::parse_export_date(v).ok_or_else(|| {
                format!("{name} {v:?} is not a date (yyyy-MM-dd [HH:mm:ss], or MM/dd/yyyy [hh:mm:ss AM])")
            })
        })
        .transpose()
}

/// An optional order or subscription id of at most [`MAX_ID_CHARS`] characters.
fn id(value: Option<&str>, name: &str) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.chars().count() > MAX_ID_CHARS => {
            Err(format!("{name} is longer than {MAX_ID_CHARS} characters"))
        }
        other => Ok(other.map(str::to_string)),
    }
}

/// QLM's Disabled (a SQL bit: 1 or 0; the console writes True or False); empty is 0.
fn flag(value: Option<&str>) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => Err(format!("Disabled {other:?} is not 1 or 0 (True or False)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn settings(defined: &dyn Fn(u32, u32, u32) -> bool) -> Settings<'_> {
        Settings {
            vendor: "shop",
            qlm_version: "6.0.00",
            now: NOW,
            product_defined: defined,
        }
    }

    fn licences_header() -> Header<L> {
        Header::licenses(&StringRecord::from(vec![
            "ActivationKey",
            "ProductID",
            "MajorVersion",
            "MinorVersion",
            "NumLicenses",
            "LicenseModel",
            "Features",
            "ExpiryDate",
            "MaintenanceRenewalDate",
            "OrderID",
            "SubscriptionID",
            "Email",
            "UserData1",
            "Disabled",
        ]))
        .unwrap()
    }

    fn row(fields: &[&str]) -> StringRecord {
        StringRecord::from(fields.to_vec())
    }

    fn any_product(_: u32, _: u32, _: u32) -> bool {
        true
    }

    #[test]
    fn every_column_of_a_qlm_row_lands_in_the_licence() {
        let l = license(
            &licences_header(),
            &row(&[
                "FGGH0-S0K00-71B18-S868R-1F1J2-UQKPUN",
                "7",
                "2",
                "1",
                "5",
                "Subscription",
                "0:3;1:128",
                "12/31/2027",
                "2027-06-30",
                "ORD-1",
                "SUB-1",
                "a@example.com",
                "data",
                "True",
            ]),
            &settings(&any_product),
        )
        .unwrap();
        assert_eq!(l.key, "~FGGH0S0K0071B18S868R1F1J2UQKPUN");
        assert_eq!((l.product_id, l.major_version, l.minor_version), (7, 2, 1));
        assert_eq!(l.activations_allowed, 5);
        assert_eq!(l.model, LicenseModel::parse("subscription").unwrap());
        assert_eq!(l.features.render(), Features([3, 128, 0, 0]).render());
        assert_eq!(l.expiry, dates::parse_expiry("2027-12-31"));
        assert!(l.maintenance_plan);
        assert_eq!(l.maintenance_renewal, dates::parse_expiry("2027-06-30"));
        assert_eq!(l.order_id.as_deref(), Some("ORD-1"));
        assert_eq!(l.subscription_id.as_deref(), Some("SUB-1"));
        assert_eq!(l.email.as_deref(), Some("a@example.com"));
        assert_eq!(l.user_data.as_deref(), Some("data"));
        assert!(l.revoked);
        assert_eq!((l.vendor.as_str(), l.created), ("shop", NOW));
    }

    /// A row with the required columns only: product 7 version 1.0.
    fn required_only() -> [&'static str; 14] {
        let mut fields = [""; 14];
        fields[..4].copy_from_slice(&["AZKZ0R0F00GHJ4B7832D1C1SPXAAA9", "7", "1", "0"]);
        fields
    }

    #[test]
    fn empty_optional_columns_take_qlms_defaults() {
        let l = license(
            &licences_header(),
            &row(&required_only()),
            &settings(&any_product),
        )
        .unwrap();
        assert_eq!(l.activations_allowed, 1);
        assert_eq!(l.model, LicenseModel::PERMANENT);
        assert!(!l.revoked && !l.maintenance_plan);
        assert_eq!((l.expiry, l.order_id), (None, None));
    }

    #[test]
    fn a_bad_value_is_refused_with_its_column() {
        let h = licences_header();
        let base = required_only();
        for (column, value, expected) in [
            (1, "seven", "ProductID"),
            (4, "0", "NumLicenses"),
            (5, "lease", "LicenseModel"),
            (6, "9:1", "Features"),
            (7, "31/12/2027", "ExpiryDate"),
            (13, "maybe", "Disabled"),
            (0, "AB", "ActivationKey"),
        ] {
            let mut fields = base;
            fields[column] = value;
            let e = license(&h, &row(&fields), &settings(&any_product)).unwrap_err();
            assert!(e.contains(expected), "{value}: {e}");
        }
        let none = |_: u32, _: u32, _: u32| false;
        let e = license(&h, &row(&base), &settings(&none)).unwrap_err();
        assert!(e.contains("product 7 version 1.0"), "{e}");
    }

    #[test]
    fn a_qlm_key_of_licd_keys_length_is_refused() {
        let licd = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        let e = legacy_key(Some(&licd.dashed())).unwrap_err();
        assert!(e.contains("26 characters"), "{e}");
        let e = legacy_key(Some("ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZZ")).unwrap_err();
        assert!(e.contains("26 characters"), "{e}");
    }

    #[test]
    fn an_activation_keeps_the_computer_key_qlm_gave() {
        let h = Header::activations(&StringRecord::from(vec![
            "ActivationKey",
            "ComputerID",
            "ComputerKey",
            "ComputerName",
            "ActivationDate",
        ]))
        .unwrap();
        let (key, a) = activation(
            &h,
            &row(&[
                "azkz0-r0f00",
                "PC-1",
                "DGGH0-S0K00-71B18",
                "Desk",
                "2025-01-02 03:04:05",
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(key.as_str(), "~AZKZ0R0F00");
        assert_eq!(a.computer_id, "PC-1");
        assert_eq!(
            a.imported_computer_key.as_deref(),
            Some("DGGH0-S0K00-71B18")
        );
        assert_eq!(
            a.activated_at,
            dates::parse_datetime("2025-01-02 03:04:05").unwrap()
        );
        let e = activation(&h, &row(&["azkz0-r0f00", "", "", "", ""]), NOW).unwrap_err();
        assert!(e.contains("ComputerID"), "{e}");
    }
}
