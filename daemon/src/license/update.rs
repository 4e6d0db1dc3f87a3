//! UpdateLicenseHttp and UpgradeLicense as pure rules: the licence as stored and a parsed
//! request in, the changed licence (or the refusal) out (methods.md).
//!
//! Decisions the spec leaves open, fixed here (docs/licence-editing.md repeats them):
//! - A licence replaced by UpgradeLicense cannot be edited any more (200): the change would
//!   land on a key no client can use, which is almost always a store updating the wrong key.
//! - `is_expduration=0` removes the duration.
//! - When the fixed expiry was derived from the duration at first activation
//!   (`useDurationToSetExpiryDateWhenActivating`), a new duration moves that expiry with it,
//!   so "extend the trial to 60 days" works on an activated licence too. An explicit
//!   `is_expdate` in the same request wins.
//! - An upgrade keeps the first-activation time, so a duration-based term is not restarted by
//!   handing out a new key.

use crate::license::License;
use crate::license::dates::SECONDS_PER_DAY;
use crate::license::features::Features;
use crate::license::model::BaseModel;
use crate::license::properties::{self, PropertyChange, PropertyDef};
use crate::license::refusal::{Reason, Refusal};

/// What a request does to the fixed expiry date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpiryChange {
    /// `is_expdate` absent: the date stays as it is.
    #[default]
    Keep,
    /// `is_expdate=` (empty): the licence no longer has a fixed expiry.
    Remove,
    /// A new fixed expiry, UTC Unix seconds.
    Set(i64),
}

/// A parsed UpdateLicenseHttp (or UpgradeLicense) request; every field left at its default
/// leaves that part of the licence alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateRequest {
    /// `is_productid`: must be the licence's own product (220).
    pub product_id: Option<u32>,
    /// `is_majorversion`.
    pub major: Option<u32>,
    /// `is_minorversion`.
    pub minor: Option<u32>,
    /// `is_features`: the sets named change, the others keep their value.
    pub features: Vec<(u8, u8)>,
    /// `is_expdate`.
    pub expiry: ExpiryChange,
    /// `is_expduration`: `Some(0)` removes the duration.
    pub duration_days: Option<u32>,
    /// `is_licensemodel`: the base model; the deployment (`_cloud`, `_floating`) is kept.
    pub base_model: Option<BaseModel>,
    /// `is_pp`, checked for syntax; checked against the product when applied.
    pub properties: Vec<PropertyChange>,
    /// `is_quantity`: activations allowed.
    pub quantity: Option<u32>,
    /// `is_userdata1`.
    pub user_data: Option<String>,
    /// `is_affiliateid`.
    pub affiliate_id: Option<String>,
    /// `is_revoke`: `true` revokes, `false` restores.
    pub revoke: Option<bool>,
    /// `is_maxreleasecount`: -1 unlimited, -2 the server's value.
    pub max_release_count: Option<i64>,
    /// `is_maxreleaseperiod`: days, -1 since creation, -2 the server's value.
    pub max_release_period: Option<i64>,
    /// `is_qlmversion`.
    pub qlm_version: Option<String>,
}

impl UpdateRequest {
    /// Whether the request asks for any change. `is_productid` alone is none: the product
    /// never changes, it is only checked.
    pub fn changes_something(&self) -> bool {
        self.major.is_some()
            || self.minor.is_some()
            || !self.features.is_empty()
            || self.expiry != ExpiryChange::Keep
            || self.duration_days.is_some()
            || self.base_model.is_some()
            || !self.properties.is_empty()
            || self.quantity.is_some()
            || self.user_data.is_some()
            || self.affiliate_id.is_some()
            || self.revoke.is_some()
            || self.max_release_count.is_some()
            || self.max_release_period.is_some()
            || self.qlm_version.is_some()
    }
}

/// Refuses any change to a licence that UpgradeLicense replaced (200); the message does not
/// name the new key (methods.md, UpgradeLicense).
pub fn check_editable(license: &License) -> Result<(), Refusal> {
    if license.upgraded_to.is_some() {
        return Err(Refusal::rule(
            "This activation key was replaced by a new key when the licence was upgraded; change the new key instead.",
        ));
    }
    Ok(())
}

/// The licence after an UpdateLicenseHttp request, or the refusal, in the order of
/// methods.md: upgraded (200), product (220), version (218), product properties (2201, 2200),
/// activations allowed below those in use (200). `product_properties(id, major, minor)`
/// answers the declared properties of a configured product version, `None` when that version
/// is not configured. The revision moves on, so computer keys change.
pub fn apply_update<'a>(
    license: &License,
    request: &UpdateRequest,
    product_properties: impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]>,
    now: i64,
) -> Result<License, Refusal> {
    check_editable(license)?;
    let defs = check_product_and_version(license, request, &product_properties)?;
    let mut updated = license.clone();
    if !request.properties.is_empty() {
        updated.properties = properties::apply_changes(
            &license.properties,
            defs.unwrap_or(&[]),
            &request.properties,
        )?;
    }
    if let Some(quantity) = request.quantity
        && quantity < license.activations_used
    {
        return Err(Refusal::rule(format!(
            "The licence has {} activations in use; the number of activations allowed cannot be lowered to {quantity}. Release activations first.",
            license.activations_used
        )));
    }
    apply_common(&mut updated, request);
    if let Some(base) = request.base_model {
        updated.model.base = base;
    }
    if let Some(quantity) = request.quantity {
        updated.activations_allowed = quantity;
    }
    if let Some(v) = &request.user_data {
        updated.user_data = Some(v.clone());
    }
    if let Some(v) = &request.affiliate_id {
        updated.affiliate_id = Some(v.clone());
    }
    if let Some(revoke) = request.revoke {
        updated.revoked = revoke;
    }
    if let Some(count) = request.max_release_count {
        // -2 means "the server's value", which is what no value means.
        updated.max_release_count = (count != -2).then_some(count);
    }
    if let Some(period) = request.max_release_period {
        updated.max_release_period = (period != -2).then_some(period);
    }
    updated.revision = updated.revision.wrapping_add(1);
    updated.last_accessed = Some(now);
    Ok(updated)
}

/// UpgradeLicense: the old licence marked as replaced by `new_key`, and the new licence that
/// copies it with the request's changes (version, features, expiry, duration, QLM version),
/// no activations, created now. Refuses an upgraded licence (200), a revoked one (201), another
/// product (220) and an unconfigured version (218).
pub fn apply_upgrade<'a>(
    old: &License,
    request: &UpdateRequest,
    product_properties: impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]>,
    now: i64,
    new_key: &str,
) -> Result<(License, License), Refusal> {
    check_editable(old)?;
    if old.revoked {
        return Err(Refusal::new(
            Reason::Revoked,
            "This licence has been revoked; restore it before upgrading it.",
        ));
    }
    check_product_and_version(old, request, &product_properties)?;
    let mut new = old.clone();
    apply_common(&mut new, request);
    new.key = new_key.to_string();
    new.activations_used = 0;
    new.created = now;
    new.last_accessed = Some(now);
    new.revision = 0;
    new.upgraded_to = None;
    let mut replaced = old.clone();
    replaced.upgraded_to = Some(new_key.to_string());
    replaced.revision = replaced.revision.wrapping_add(1);
    replaced.last_accessed = Some(now);
    Ok((replaced, new))
}

/// RevokeLicenseHttp: the licence revoked (`true`) or restored (`false`); refuses an upgraded
/// licence (200). Activations stay recorded so they can still be released.
pub fn set_revoked(license: &License, revoked: bool, now: i64) -> Result<License, Refusal> {
    check_editable(license)?;
    let mut changed = license.clone();
    changed.revoked = revoked;
    changed.revision = changed.revision.wrapping_add(1);
    changed.last_accessed = Some(now);
    Ok(changed)
}

/// Code 220 for another product; code 218 when a new version is asked and that version of
/// the licence's product is not configured. Returns the declared properties of the version
/// the licence will have (`None` when it is not configured).
fn check_product_and_version<'a>(
    license: &License,
    request: &UpdateRequest,
    product_properties: &impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]>,
) -> Result<Option<&'a [PropertyDef]>, Refusal> {
    if request.product_id.is_some_and(|p| p != license.product_id) {
        return Err(Refusal::new(
            Reason::WrongProduct,
            format!(
                "This activation key is for product {}; a licence's product never changes (issue a new key for another product).",
                license.product_id
            ),
        ));
    }
    let major = request.major.unwrap_or(license.major_version);
    let minor = request.minor.unwrap_or(license.minor_version);
    let defs = product_properties(license.product_id, major, minor);
    if (request.major.is_some() || request.minor.is_some()) && defs.is_none() {
        // The same sentence as methods::product_not_found; the rules do not reach up into
        // the HTTP layer for it.
        return Err(Refusal::new(
            Reason::ProductNotFound,
            format!(
                "Product {} version {major}.{minor} is not defined on this server.",
                license.product_id
            ),
        ));
    }
    Ok(defs)
}

/// The changes UpdateLicenseHttp and UpgradeLicense share.
fn apply_common(license: &mut License, request: &UpdateRequest) {
    if let Some(major) = request.major {
        license.major_version = major;
    }
    if let Some(minor) = request.minor {
        license.minor_version = minor;
    }
    license.features = Features::with_changes(license.features, &request.features);
    if let Some(days) = request.duration_days {
        set_duration(license, days, request.expiry != ExpiryChange::Keep);
    }
    match request.expiry {
        ExpiryChange::Keep => {}
        ExpiryChange::Remove => license.expiry = None,
        ExpiryChange::Set(t) => license.expiry = Some(t),
    }
    if let Some(v) = &request.qlm_version {
        license.qlm_version = v.clone();
    }
}

/// Sets the duration (0 removes it). An expiry that activation derived from the old
/// duration follows the new one unless the request sets the expiry itself.
fn set_duration(license: &mut License, days: u32, expiry_in_request: bool) {
    let derived_from = match (
        license.expiry,
        license.first_activation,
        license.duration_days,
    ) {
        (Some(expiry), Some(first), Some(old))
            if expiry == first + i64::from(old) * SECONDS_PER_DAY =>
        {
            Some(first)
        }
        _ => None,
    };
    license.duration_days = (days > 0).then_some(days);
    if let Some(first) = derived_from
        && !expiry_in_request
    {
        license.expiry = license
            .duration_days
            .map(|d| first + i64::from(d) * SECONDS_PER_DAY);
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
