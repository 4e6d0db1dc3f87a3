//! RenewSubscriptionHttp and EnableMaintenancePlan / RenewMaintenancePlan as pure rules
//! (methods.md).
//!
//! Decisions the spec leaves open, fixed here (docs/licence-editing.md repeats them):
//! - An incremental renewal of a licence that has no expiry yet, only a duration not started
//!   (never activated), lengthens the duration; one with neither gets an expiry N days from now.
//! - A subscription's grace period is checked against the expiry in force (the fixed date, or
//!   first activation plus the duration), for absolute and incremental renewals alike.
//! - RenewMaintenancePlan counts from the current renewal date only while the plan is on.

use crate::license::License;
use crate::license::dates::{SECONDS_PER_DAY, format_datetime};
use crate::license::properties::{self, PropertyChange, PropertyDef};
use crate::license::refusal::{Reason, Refusal};
use crate::license::update::check_editable;

/// How a subscription is renewed: exactly one of `is_expdate` and `is_expduration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalTerm {
    /// `is_expdate`: the new expiry, UTC Unix seconds.
    Until(i64),
    /// `is_expduration`: days added to the old expiry (to now when it has passed).
    Extend(u32),
}

/// A parsed RenewSubscriptionHttp request, for one licence.
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalRequest {
    /// The new term.
    pub term: RenewalTerm,
    /// `is_pp`, as in UpdateLicenseHttp.
    pub properties: Vec<PropertyChange>,
    /// `options.subscriptionGracePeriod`, days.
    pub grace_days: i64,
}

/// The licence after a subscription renewal, or the refusal: upgraded (200), expired for
/// longer than the grace period (209), product properties (2201, 2200).
pub fn renew<'a>(
    license: &License,
    request: &RenewalRequest,
    product_properties: impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]>,
    now: i64,
) -> Result<License, Refusal> {
    check_editable(license)?;
    let expiry = license.effective_expiry();
    if let Some(e) = expiry
        && e < now.saturating_sub(request.grace_days.saturating_mul(SECONDS_PER_DAY))
    {
        return Err(Refusal::new(
            Reason::Expired,
            format!(
                "This subscription expired on {} and the server's grace period is {} days (subscriptionGracePeriod); it can no longer be renewed, create a new licence.",
                format_datetime(e),
                request.grace_days
            ),
        ));
    }
    let mut renewed = license.clone();
    if !request.properties.is_empty() {
        let defs = product_properties(
            license.product_id,
            license.major_version,
            license.minor_version,
        );
        renewed.properties = properties::apply_changes(
            &license.properties,
            defs.unwrap_or(&[]),
            &request.properties,
        )?;
    }
    match request.term {
        RenewalTerm::Until(t) => renewed.expiry = Some(t),
        RenewalTerm::Extend(days) => {
            let added = i64::from(days) * SECONDS_PER_DAY;
            match (expiry, license.duration_days) {
                (Some(e), _) => renewed.expiry = Some(e.max(now) + added),
                // A duration that has not started yet: the term starts at activation.
                (None, Some(d)) => renewed.duration_days = Some(d.saturating_add(days)),
                (None, None) => renewed.expiry = Some(now + added),
            }
        }
    }
    renewed.revision = renewed.revision.wrapping_add(1);
    renewed.last_accessed = Some(now);
    Ok(renewed)
}

/// Which maintenance method is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceAction {
    /// EnableMaintenancePlan: a duration counts from now.
    Enable,
    /// RenewMaintenancePlan: a duration counts from the current renewal date while that date
    /// is in the future or within the grace period, else from now.
    Renew,
}

/// The new maintenance renewal date: `is_maintdate` given, or a number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceTerm {
    /// `is_maintdate`, UTC Unix seconds; wins over a duration.
    Until(i64),
    /// `is_maintduration`, or `maintenancePlanPeriodInDays` when not given.
    Days(i64),
}

/// The licence with its maintenance plan on and its renewal date set; refuses an upgraded
/// licence (200). `grace_days` is `options.maintenancePlanGracePeriod`.
pub fn set_maintenance(
    license: &License,
    action: MaintenanceAction,
    term: MaintenanceTerm,
    grace_days: i64,
    now: i64,
) -> Result<License, Refusal> {
    check_editable(license)?;
    let date = match term {
        MaintenanceTerm::Until(t) => t,
        MaintenanceTerm::Days(days) => {
            let current = license
                .maintenance_renewal
                .filter(|_| license.maintenance_plan && action == MaintenanceAction::Renew);
            let cutoff = now.saturating_sub(grace_days.saturating_mul(SECONDS_PER_DAY));
            let start = current.filter(|&r| r > cutoff).unwrap_or(now);
            start.saturating_add(days.saturating_mul(SECONDS_PER_DAY))
        }
    };
    let mut changed = license.clone();
    changed.maintenance_plan = true;
    changed.maintenance_renewal = Some(date);
    changed.revision = changed.revision.wrapping_add(1);
    changed.last_accessed = Some(now);
    Ok(changed)
}

/// RenewSubscriptionHttp with `is_maintenance_plan=1`: the subscription renewed as [`renew`]
/// does, and the maintenance plan renewed as RenewMaintenancePlan renews it (`term` counted
/// from the current renewal date within `grace_days`, else from now), as one change of the
/// licence (one revision). Either refusal refuses both.
pub fn renew_with_maintenance<'a>(
    license: &License,
    request: &RenewalRequest,
    product_properties: impl Fn(u32, u32, u32) -> Option<&'a [PropertyDef]>,
    term: MaintenanceTerm,
    grace_days: i64,
    now: i64,
) -> Result<License, Refusal> {
    let renewed = renew(license, request, product_properties, now)?;
    let mut both = set_maintenance(&renewed, MaintenanceAction::Renew, term, grace_days, now)?;
    both.revision = renewed.revision;
    Ok(both)
}

#[cfg(test)]
#[path = "renewal_tests.rs"]
mod tests;
