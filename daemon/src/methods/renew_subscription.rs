//! RenewSubscriptionHttp: extends a subscription, found by its key or by the subscription id
//! stored at creation. A subscription id may cover several keys; all are renewed in one
//! transaction.

use crate::auth::guard;
use crate::config::Vendor;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::License;
use crate::license::dates::format_datetime;
use crate::license::keys::ActivationKey;
use crate::license::properties::{self, PropertyChange};
use crate::license::renewal::{RenewalRequest, RenewalTerm, renew};
use crate::method_decl::{ArgumentEffect, AuthNeed, Declaration, Effect, Gate, MethodCall};
use crate::methods::update_license::{declared_properties, edit, text};
use crate::methods::{Ctx, lookup_key, masked};
use crate::response::{Field, Reply, Value};
use crate::store::commands::{LicenseEdit, Target};

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

/// Which licences a renewal names.
enum Renewed {
    /// `is_avkey`.
    Key(String),
    /// `is_subscriptionid`.
    Subscription(String),
}

/// A parsed RenewSubscriptionHttp request.
pub struct RenewSubscription {
    which: Renewed,
    term: RenewalTerm,
    properties: Vec<PropertyChange>,
    log_history: bool,
}

impl RenewSubscription {
    /// `is_avkey` or `is_subscriptionid` (one of them, 208 when neither, 5 when both); exactly
    /// one of `is_expdate` and `is_expduration` (1 to 36500 days), else 5; `is_pp`;
    /// `is_logRelease` (default `true`).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let key = args.text("is_avkey");
        let subscription = text(args, "is_subscriptionid", 255)?;
        let which = match (key, subscription) {
            (Some(k), None) => Renewed::Key(k.to_string()),
            (None, Some(s)) => Renewed::Subscription(s),
            (Some(_), Some(_)) => {
                return Err(MethodError::invalid(
                    "Give either is_avkey or is_subscriptionid, not both.",
                ));
            }
            (None, None) => {
                return Err(MethodError::new(
                    ErrorCode::MissingArgument,
                    "The argument is_avkey (or is_subscriptionid) is required.",
                ));
            }
        };
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
            log_history: args.boolean("is_logrelease")?.unwrap_or(true),
        })
    }

    /// Renews every licence named in one transaction.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let (target, by_subscription) = match self.which {
            Renewed::Key(k) => (Target::Key(lookup_key(&k)?.as_str().to_string()), None),
            Renewed::Subscription(s) => (Target::Subscription(s.clone()), Some(s)),
        };
        let config = ctx.config.clone();
        let now = ctx.now;
        let request = RenewalRequest {
            term: self.term,
            properties: self.properties,
            grace_days: ctx.config.options.subscription_grace_period,
        };
        let rule: LicenseEdit =
            Box::new(move |license| renew(license, &request, declared_properties(&config), now));
        let licenses = edit(ctx, vendor, target, "renewed", self.log_history, rule).await?;
        for l in &licenses {
            tracing::info!(
                method = "RenewSubscriptionHttp",
                key = %masked(&ActivationKey::from_canonical_unchecked(l.key.clone())),
                vendor = %vendor.name,
                client = %ctx.client,
                "subscription renewed"
            );
        }
        Ok(reply(&licenses, by_subscription.as_deref()))
    }
}

/// `<result>`, then `<activationKey>` and `<expiryDate>` when one licence was renewed, and
/// the `<licenses>` list when the request named a subscription id.
fn reply(licenses: &[License], subscription: Option<&str>) -> Reply {
    let dashed = |l: &License| ActivationKey::from_canonical_unchecked(l.key.clone()).dashed();
    let expiry = |l: &License| l.effective_expiry().map(format_datetime);
    let mut r = match (licenses, subscription) {
        ([one], None) => Reply::new(format!(
            "The subscription of ActivationKey={} was renewed.",
            dashed(one)
        )),
        (_, Some(id)) => Reply::new(format!(
            "Renewed {} licence{} of subscription {id}.",
            licenses.len(),
            if licenses.len() == 1 { "" } else { "s" }
        )),
        _ => Reply::new(format!("Renewed {} licences.", licenses.len())),
    };
    if let [one] = licenses {
        r.push(Field::text("activationKey", dashed(one)));
        r.push_opt("expiryDate", expiry(one));
    }
    if subscription.is_some() {
        let records = licenses
            .iter()
            .map(|l| {
                let mut record = vec![Field::text("activationKey", dashed(l))];
                if let Some(e) = expiry(l) {
                    record.push(Field::text("expiryDate", e));
                }
                record
            })
            .collect();
        r.push(Field {
            name: "licenses",
            value: Value::List {
                item: "license",
                records,
            },
        });
    }
    r
}
