//! GetActivationKey / GetActivationKeyWithExpiryDate: create licence keys (eCommerce
//! fulfilment). Both names run this code; both accept the expiry arguments.

use crate::auth::guard;
use crate::config::{OptionsConfig, Vendor};
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::License;
use crate::license::creation::{self, CreationDefaults, KeyRequest, NewKeys};
use crate::license::features::Features;
use crate::license::keys::ActivationKey;
use crate::license::model::LicenseModel;
use crate::license::properties;
use crate::method_decl::{AuthNeed, Declaration, Effect, Gate, MethodCall};
use crate::methods::{Ctx, key_lines, masked, product_not_found};
use crate::response::{Field, Reply, Value};
use crate::store::commands::{CreateKeys, Created};

/// What GetActivationKey declares to the guard (GetActivationKeyWithExpiryDate is the same method).
pub const DECLARATION: Declaration = Declaration::new("GetActivationKey", AuthNeed::Always)
    .also_named(&["GetActivationKeyWithExpiryDate"])
    .gated_by(Gate::new("security.enableGetActivationKey", |s| {
        s.enable_get_activation_key
    }))
    .causing(&[Effect::Create]);

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = GetActivationKey::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// A parsed key-creation request.
pub struct GetActivationKey {
    request: KeyRequest,
}

fn bounded(args: &Args, name: &str, min: i64, max: i64) -> Result<Option<u32>, MethodError> {
    Ok(args
        .integer(name, min, max)?
        .and_then(|n| u32::try_from(n).ok()))
}

fn text(args: &Args, name: &str, max: usize) -> Result<Option<String>, MethodError> {
    Ok(args.text_max(name, max)?.map(str::to_string))
}

impl GetActivationKey {
    /// Checks the syntax of every argument (methods.md table).
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let required = |name| {
            args.unsigned(name)?
                .ok_or_else(|| MethodError::missing(name))
        };
        let model = match args.text("is_licensemodel") {
            Some(m) => Some(LicenseModel::parse(m).ok_or_else(|| {
                MethodError::invalid(format!(
                    "The argument is_licensemodel has the value '{}'; expected permanent, trial or subscription, optionally with _cloud or _floating.",
                    crate::http::args::quote(m)
                ))
            })?),
            None => None,
        };
        let request = KeyRequest {
            product_id: required("is_productid")?,
            major: required("is_majorversion")?,
            minor: required("is_minorversion")?,
            quantity: bounded(args, "is_quantity", 1, 10_000)?.unwrap_or(1),
            multiple: args
                .boolean("is_usemultipleactivationskey")?
                .unwrap_or(true),
            per_key: bounded(args, "is_numberofactivationsperkey", 1, 10_000)?.unwrap_or(1),
            additional: bounded(args, "is_additionalactivations", 0, 10_000)?.unwrap_or(0),
            model,
            floating: args.boolean("is_floating")?.unwrap_or(false),
            features: Features::parse_changes(args.text("is_features").unwrap_or(""))?,
            expiry: args.expiry("is_expdate")?,
            duration: args.duration("is_expduration", 1, 36_500)?,
            maintenance: args.boolean("is_maintenance_plan")?.unwrap_or(false),
            maintenance_days: args.duration("is_maintduration", 1, 36_500)?,
            properties: properties::parse_changes(args.text("is_pp").unwrap_or(""))?,
            order_id: text(args, "is_orderid", 255)?,
            subscription_id: text(args, "is_subscriptionid", 255)?,
            user_data: text(args, "is_userdata1", 1024)?,
            affiliate_id: text(args, "is_affiliateid", 255)?,
            email: text(args, "is_email", 255)?,
            qlm_version: text(args, "is_qlmversion", 255)?,
        };
        Ok(GetActivationKey { request })
    }

    /// Creates the keys in one transaction (or returns the keys of a retried order).
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let command = self.command(ctx, vendor)?;
        let Created { licenses, reused } = ctx.execute(command).await?;
        log_created(ctx, vendor, &licenses, reused);
        Ok(created_reply(&licenses, vendor))
    }

    /// The store's command for these keys under the configuration in force (a store's
    /// webhook runs it among the other actions of its event).
    ///
    /// # Errors
    /// Code 201 for a product the configuration does not have, and the creation rules'
    /// refusals.
    pub fn command(self, ctx: &Ctx, vendor: &Vendor) -> Result<CreateKeys, MethodError> {
        let config = &ctx.config;
        let r = &self.request;
        let product = config
            .product(r.product_id, r.major, r.minor)
            .ok_or_else(|| product_not_found(r.product_id, r.major, r.minor))?;
        let options = &config.options;
        let defaults = creation_defaults(options)?;
        let NewKeys { template, count } = creation::new_keys(
            self.request,
            &product.properties,
            &vendor.name,
            ctx.now,
            &defaults,
        )?;
        Ok(CreateKeys {
            order_id: template.order_id.clone(),
            template,
            count,
            max_per_day: options.max_new_keys_per_day,
            max_stored: options.db_max_records,
        })
    }
}

/// The server's creation defaults, with the default model names read as models.
fn creation_defaults(options: &OptionsConfig) -> Result<CreationDefaults<'_>, MethodError> {
    // Config validation guarantees these names parse.
    let model = |name: &str| {
        LicenseModel::parse(name).ok_or_else(|| {
            MethodError::internal(format!("The configured default model {name} is not valid."))
        })
    };
    Ok(CreationDefaults {
        model_when_duration_set: model(&options.default_license_model_when_duration_set)?,
        model_when_expiry_date_set: model(&options.default_license_model_when_expiry_date_set)?,
        use_duration_to_set_expiry_date: options.use_duration_to_set_expiry_date,
        maintenance_plan_period_in_days: options.maintenance_plan_period_in_days,
        qlm_version: &options.default_qlm_version,
    })
}

/// One log line per licence created (or found again for a retried order); keys are masked.
fn log_created(ctx: &Ctx, vendor: &Vendor, licenses: &[License], reused: bool) {
    for l in licenses {
        let key = ActivationKey::from_canonical_unchecked(l.key.clone());
        tracing::info!(
            method = "GetActivationKey",
            key = %masked(&key),
            vendor = %vendor.name,
            client = %ctx.client,
            reused,
            "licence created"
        );
    }
}

/// The reply: how many keys, and each key with its seats; a text-format vendor also gets the
/// keys one per line.
fn created_reply(licenses: &[License], vendor: &Vendor) -> Reply {
    let keys: Vec<String> = licenses
        .iter()
        .map(|l| ActivationKey::from_canonical_unchecked(l.key.clone()).dashed())
        .collect();
    let n = licenses.len();
    let mut reply = Reply::new(if n == 1 {
        "Created 1 activation key.".to_string()
    } else {
        format!("Created {n} activation keys.")
    });
    let records = licenses
        .iter()
        .zip(&keys)
        .map(|(l, k)| {
            vec![
                Field::text("activationKey", k.clone()),
                Field::int("numActivationsAllowed", i64::from(l.activations_allowed)),
            ]
        })
        .collect();
    reply.push(Field {
        name: "licenses",
        value: Value::List {
            item: "license",
            records,
        },
    });
    reply.text_lines = key_lines(vendor, keys);
    reply
}
