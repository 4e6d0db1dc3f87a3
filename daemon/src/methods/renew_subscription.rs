//! RenewSubscriptionHttp: extends a subscription, found by its key, or by the subscription id
//! or order id stored at creation (`super::selection`: the calling vendor's own keys). A
//! subscription or order may cover several keys; all are renewed in one transaction.
//! `is_maintenance_plan=1` renews the maintenance plan too, as RenewMaintenancePlan does with
//! no date or duration. A `responseFormat = "text"` vendor gets the keys alone, one a line
//! (FastSpring's rebill is set to "Single-Line License").

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::License;
use crate::license::dates::format_datetime;
use crate::license::properties::{self, PropertyChange};
use crate::license::renewal::{RenewalRequest, RenewalTerm, renew, renew_with_maintenance};
use crate::method_decl::{ArgumentEffect, AuthNeed, Declaration, Effect, Gate, MethodCall};
use crate::methods::maintenance_plan::{default_term, renewal_date};
use crate::methods::selection::{Selection, dashed, reply_for};
use crate::methods::update_license::{declared_properties, edit_command, log_changes, run_edit};
use crate::methods::{Ctx, key_lines};
use crate::response::{Field, Reply};
use crate::store::commands::{Edit, LicenseEdit};

/// What RenewSubscriptionHttp declares to the guard (`is_maintenance_plan` renews the
/// maintenance plan too).
pub const DECLARATION: Declaration = Declaration::new("RenewSubscriptionHttp", AuthNeed::Always)
    .gated_by(Gate::new("security.enableRenewSubscriptionHttp", |s| {
        s.enable_renew_subscription_http
    }))
    .causing(&[Effect::Renew])
    .causing_by_argument(&[ArgumentEffect {
        argument: "is_maintenance_plan",
        effect: Effect::Maintenance,
        gate: None,
    }]);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = RenewSubscription::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed RenewSubscriptionHttp request.
pub struct RenewSubscription {
    which: Selection,
    term: RenewalTerm,
    properties: Vec<PropertyChange>,
    maintenance_plan: bool,
    log_history: bool,
}

impl RenewSubscription {
    /// `is_avkey`, `is_subscriptionid` or `is_orderid` (exactly one: 208 when none, 5 when
    /// several); exactly one of `is_expdate` and `is_expduration` (1 to 36500 days), else 5;
    /// `is_pp`; `is_maintenance_plan` (default `false`); `is_logRelease` (default `true`).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let which = Selection::parse(args)?;
        let date = args.expiry("is_expdate")?;
        let days = args.duration("is_expduration", 1, 36_500)?;
        let term = match (date, days) {
            (Some(t), None) => RenewalTerm::Until(t),
            (None, Some(d)) => RenewalTerm::Extend(d),
            _ => {
                return Err(MethodError::invalid(
                    "Give exactly one of is_expdate (the new expiry date) and is_expduration (days to add).",
                ));
            }
        };
        Ok(RenewSubscription {
            which,
            term,
            properties: properties::parse_changes(args.text("is_pp").unwrap_or(""))?,
            maintenance_plan: args.boolean("is_maintenance_plan")?.unwrap_or(false),
            log_history: args.boolean("is_logrelease")?.unwrap_or(true),
        })
    }

    /// Renews every licence named in one transaction.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let (which, maintenance_plan) = (self.which.clone(), self.maintenance_plan);
        let command = self.command(ctx, vendor)?;
        let licenses = run_edit(ctx, command).await?;
        log_changes(
            "RenewSubscriptionHttp",
            ctx,
            vendor,
            &licenses,
            "subscription renewed",
        );
        let mut reply = reply(&licenses, &which, maintenance_plan);
        reply.text_lines = key_lines(vendor, licenses.iter().map(dashed).collect());
        Ok(reply)
    }

    /// The store's command for this renewal (a store's webhook runs it among the other
    /// actions of its event).
    ///
    /// # Errors
    /// A selection the vendor may not make.
    pub fn command(self, ctx: &Ctx, vendor: &Vendor) -> Result<Edit, MethodError> {
        let target = self.which.target(vendor)?;
        let config = ctx.config.clone();
        let now = ctx.now;
        let options = &ctx.config.options;
        let request = RenewalRequest {
            term: self.term,
            properties: self.properties,
            grace_days: options.subscription_grace_period,
        };
        let rule: LicenseEdit = if self.maintenance_plan {
            let (term, grace) = (default_term(options), options.maintenance_plan_grace_period);
            Box::new(move |license| {
                let declared = declared_properties(&config);
                renew_with_maintenance(license, &request, declared, term, grace, now)
            })
        } else {
            Box::new(move |license| renew(license, &request, declared_properties(&config), now))
        };
        Ok(edit_command(
            ctx,
            vendor,
            target,
            "renewed",
            self.log_history,
            rule,
        ))
    }
}

/// `<result>`, then `<activationKey>` and `<expiryDate>` (and `<maintenanceRenewalDate>` when
/// the plan was renewed) when one licence was renewed, and the `<licenses>` list with the same
/// of each when the request named a subscription or an order.
fn reply(licenses: &[License], which: &Selection, maintenance: bool) -> Reply {
    reply_for(
        licenses,
        which,
        |one| {
            format!(
                "The subscription of ActivationKey={} was renewed.",
                dashed(one)
            )
        },
        |many| format!("Renewed {many}."),
        |l| {
            let mut fields = Vec::new();
            if let Some(e) = l.effective_expiry() {
                fields.push(Field::text("expiryDate", format_datetime(e)));
            }
            if maintenance {
                fields.push(Field::text("maintenanceRenewalDate", renewal_date(l)));
            }
            fields
        },
    )
}
