//! EnableMaintenancePlan and RenewMaintenancePlan: turn a licence's maintenance plan on and
//! set its renewal date. One file because the two differ only in where a duration counts
//! from (`crate::license::renewal::set_maintenance`).

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates::format_datetime;
use crate::license::renewal::{MaintenanceAction, MaintenanceTerm, set_maintenance};
use crate::method_decl::{AuthNeed, Declaration, Effect, MethodCall};
use crate::methods::update_license::{edit_one, log_change};
use crate::methods::{Ctx, lookup_key};
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
    key: String,
    date: Option<i64>,
    days: Option<u32>,
}

impl MaintenancePlan {
    /// `is_avkey` (required), `is_maintdate` (a date alone is the end of that day),
    /// `is_maintduration` (alias `is_mainduration`, 1 to 36500 days).
    pub fn parse(args: &Args, action: MaintenanceAction) -> Result<Self, MethodError> {
        Ok(MaintenancePlan {
            action,
            key: args.required("is_avkey")?.to_string(),
            date: args.expiry("is_maintdate")?,
            days: args.duration("is_maintduration", 1, 36_500)?,
        })
    }

    /// Sets the renewal date in one transaction, with a history entry.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let key = lookup_key(&self.key)?;
        let options = &ctx.config.options;
        let term = match (self.date, self.days) {
            (Some(date), _) => MaintenanceTerm::Until(date),
            (None, Some(days)) => MaintenanceTerm::Days(i64::from(days)),
            (None, None) => MaintenanceTerm::Days(options.maintenance_plan_period_in_days),
        };
        let (action, grace, now) = (self.action, options.maintenance_plan_grace_period, ctx.now);
        let (method, event, verb) = match action {
            MaintenanceAction::Enable => {
                ("EnableMaintenancePlan", "maintenance_enabled", "enabled")
            }
            MaintenanceAction::Renew => ("RenewMaintenancePlan", "maintenance_renewed", "renewed"),
        };
        let license = edit_one(
            ctx,
            vendor,
            &key,
            event,
            Box::new(move |license| set_maintenance(license, action, term, grace, now)),
        )
        .await?;
        log_change(method, ctx, vendor, &key, "maintenance plan set");
        let dashed = key.dashed();
        let date = license
            .maintenance_renewal
            .map(format_datetime)
            .unwrap_or_default();
        let mut reply = Reply::new(format!(
            "The maintenance plan of ActivationKey={dashed} was {verb} until {date}."
        ));
        reply.push(Field::text("activationKey", dashed));
        reply.push(Field::text("maintenanceRenewalDate", date));
        Ok(reply)
    }
}
