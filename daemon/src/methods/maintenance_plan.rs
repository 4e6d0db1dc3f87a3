//! EnableMaintenancePlan and RenewMaintenancePlan: turn a licence's maintenance plan on and
//! set its renewal date. One file because the two differ only in where a duration counts
//! from (`crate::license::renewal::set_maintenance`). An order or subscription id in place of
//! the key sets the plan of every key the calling vendor created for it, in one transaction
//! (`super::selection`).

use crate::auth::guard;
use crate::config::{OptionsConfig, Vendor};
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::License;
use crate::license::dates::format_datetime;
use crate::license::renewal::{MaintenanceAction, MaintenanceTerm, set_maintenance};
use crate::method_decl::{AuthNeed, Declaration, Effect, MethodCall};
use crate::methods::Ctx;
use crate::methods::selection::{Selection, dashed, reply_for};
use crate::methods::update_license::{edit, log_changes};
use crate::response::{Field, Reply};

/// What EnableMaintenancePlan declares to the guard (the spec names no gate for the
/// maintenance-plan methods).
pub const ENABLE_DECLARATION: Declaration =
    Declaration::new("EnableMaintenancePlan", AuthNeed::Always).causing(&[Effect::Maintenance]);

/// What RenewMaintenancePlan declares to the guard.
pub const RENEW_DECLARATION: Declaration =
    Declaration::new("RenewMaintenancePlan", AuthNeed::Always).causing(&[Effect::Maintenance]);

/// EnableMaintenancePlan: [`run`] counting from now.
pub async fn enable(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    run(MaintenanceAction::Enable, call, args, ctx).await
}

/// RenewMaintenancePlan: [`run`] counting from the current renewal date.
pub async fn renew(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    run(MaintenanceAction::Renew, call, args, ctx).await
}

/// Parses every argument, authenticates the vendor, then applies `action`.
async fn run(
    action: MaintenanceAction,
    call: MethodCall,
    args: &Args,
    ctx: &Ctx,
) -> Result<Reply, MethodError> {
    let m = MaintenancePlan::parse(args, action)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed EnableMaintenancePlan or RenewMaintenancePlan request.
pub struct MaintenancePlan {
    action: MaintenanceAction,
    which: Selection,
    date: Option<i64>,
    days: Option<u32>,
}

impl MaintenancePlan {
    /// `is_avkey`, `is_orderid` or `is_subscriptionid` (exactly one), `is_maintdate` (a date
    /// alone is the end of that day), `is_maintduration` (alias `is_mainduration`, 1 to 36500
    /// days).
    pub fn parse(args: &Args, action: MaintenanceAction) -> Result<Self, MethodError> {
        Ok(MaintenancePlan {
            action,
            which: Selection::parse(args)?,
            date: args.expiry("is_maintdate")?,
            days: args.duration("is_maintduration", 1, 36_500)?,
        })
    }

    /// Sets the renewal date in one transaction, with a history entry for each licence.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let target = self.which.target(vendor)?;
        let options = &ctx.config.options;
        let term = match (self.date, self.days) {
            (Some(date), _) => MaintenanceTerm::Until(date),
            (None, Some(days)) => MaintenanceTerm::Days(i64::from(days)),
            (None, None) => default_term(options),
        };
        let (action, grace, now) = (self.action, options.maintenance_plan_grace_period, ctx.now);
        let (method, event, verb) = match action {
            MaintenanceAction::Enable => {
                ("EnableMaintenancePlan", "maintenance_enabled", "enabled")
            }
            MaintenanceAction::Renew => ("RenewMaintenancePlan", "maintenance_renewed", "renewed"),
        };
        let rule =
            Box::new(move |license: &License| set_maintenance(license, action, term, grace, now));
        let licenses = edit(ctx, vendor, target, event, true, rule).await?;
        log_changes(method, ctx, vendor, &licenses, "maintenance plan set");
        Ok(reply(&licenses, &self.which, verb))
    }
}

/// The term when neither `is_maintdate` nor `is_maintduration` is given:
/// `maintenancePlanPeriodInDays` (RenewSubscriptionHttp's `is_maintenance_plan=1` renews by
/// it too).
pub(crate) fn default_term(options: &OptionsConfig) -> MaintenanceTerm {
    MaintenanceTerm::Days(options.maintenance_plan_period_in_days)
}

/// A licence's maintenance renewal date as replies write it.
pub(crate) fn renewal_date(license: &License) -> String {
    license
        .maintenance_renewal
        .map(format_datetime)
        .unwrap_or_default()
}

/// The reply naming the key and its date, as for one key; for an order or subscription, the
/// count and the `<licenses>` list too.
fn reply(licenses: &[License], which: &Selection, verb: &str) -> Reply {
    reply_for(
        licenses,
        which,
        |one| {
            format!(
                "The maintenance plan of ActivationKey={} was {verb} until {}.",
                dashed(one),
                renewal_date(one)
            )
        },
        |many| format!("The maintenance plan of {many} was {verb}."),
        |l| vec![Field::text("maintenanceRenewalDate", renewal_date(l))],
    )
}
