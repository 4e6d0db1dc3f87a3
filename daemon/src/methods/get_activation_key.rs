//! GetActivationKey / GetActivationKeyWithExpiryDate: create licence keys (eCommerce
//! fulfilment). Both names run this code; both accept the expiry arguments.

use crate::config::{ResponseFormat, Vendor};
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::License;
use crate::license::dates::SECONDS_PER_DAY;
use crate::license::features::Features;
use crate::license::keys::ActivationKey;
use crate::license::model::{Deployment, LicenseModel};
use crate::license::properties::{self, PropertyChange};
use crate::methods::{Ctx, masked, product_not_found, u32_arg};
use crate::response::{Field, Reply, Value};
use crate::store::commands::{CreateKeys, Created};

/// A parsed key-creation request.
pub struct GetActivationKey {
    product_id: u32,
    major: u32,
    minor: u32,
    quantity: u32,
    multiple: bool,
    per_key: u32,
    additional: u32,
    model: Option<LicenseModel>,
    floating: bool,
    features: Vec<(u8, u8)>,
    expiry: Option<i64>,
    duration: Option<u32>,
    maintenance: bool,
    maintenance_days: Option<u32>,
    properties: Vec<PropertyChange>,
    order_id: Option<String>,
    subscription_id: Option<String>,
    user_data: Option<String>,
    affiliate_id: Option<String>,
    email: Option<String>,
    qlm_version: Option<String>,
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
        let required = |name| u32_arg(args, name)?.ok_or_else(|| MethodError::missing(name));
        let model = match args.text("is_licensemodel") {
            Some(m) => Some(LicenseModel::parse(m).ok_or_else(|| {
                MethodError::invalid(format!(
                    "The argument is_licensemodel has the value '{}'; expected permanent, trial or subscription, optionally with _cloud or _floating.",
                    crate::http::args::quote(m)
                ))
            })?),
            None => None,
        };
        Ok(GetActivationKey {
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
            duration: bounded(args, "is_expduration", 1, 36_500)?,
            maintenance: args.boolean("is_maintenance_plan")?.unwrap_or(false),
            maintenance_days: bounded(args, "is_maintduration", 1, 36_500)?,
            properties: properties::parse_changes(args.text("is_pp").unwrap_or(""))?,
            order_id: text(args, "is_orderid", 255)?,
            subscription_id: text(args, "is_subscriptionid", 255)?,
            user_data: text(args, "is_userdata1", 1024)?,
            affiliate_id: text(args, "is_affiliateid", 255)?,
            email: text(args, "is_email", 255)?,
            qlm_version: text(args, "is_qlmversion", 255)?,
        })
    }

    /// Creates the keys in one transaction (or returns the keys of a retried order).
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let config = &ctx.config;
        let product = config
            .product(self.product_id, self.major, self.minor)
            .ok_or_else(|| product_not_found(self.product_id, self.major, self.minor))?;
        let props = properties::apply_changes(&[], &product.properties, &self.properties)?;
        let options = &config.options;
        let mut model = match self.model {
            Some(m) => m,
            None => {
                let default = if self.duration.is_some() {
                    Some(options.default_license_model_when_duration_set.as_str())
                } else if self.expiry.is_some() {
                    Some(options.default_license_model_when_expiry_date_set.as_str())
                } else {
                    None
                };
                match default {
                    // Config validation guarantees these names parse.
                    Some(name) => LicenseModel::parse(name).ok_or_else(|| {
                        MethodError::internal(format!(
                            "The configured default model {name} is not valid."
                        ))
                    })?,
                    None => LicenseModel::parse("permanent").ok_or_else(|| {
                        MethodError::internal("The permanent model is not known.")
                    })?,
                }
            }
        };
        if self.floating {
            model.deployment = Deployment::Floating;
        }
        let now = ctx.now;
        let mut expiry = self.expiry;
        if options.use_duration_to_set_expiry_date
            && expiry.is_none()
            && let Some(days) = self.duration
        {
            expiry = Some(now + i64::from(days) * SECONDS_PER_DAY);
        }
        let (count, seats) = if self.multiple {
            (1, self.quantity * self.per_key + self.additional)
        } else {
            (self.quantity, self.per_key + self.additional)
        };
        let maintenance_days = self
            .maintenance_days
            .map_or(options.maintenance_plan_period_in_days, i64::from);
        let template = License {
            key: String::new(),
            product_id: self.product_id,
            major_version: self.major,
            minor_version: self.minor,
            model,
            activations_allowed: seats,
            activations_used: 0,
            features: Features::default().with_changes(&self.features),
            expiry,
            duration_days: self.duration,
            first_activation: None,
            maintenance_plan: self.maintenance,
            maintenance_renewal: self
                .maintenance
                .then(|| now + maintenance_days * SECONDS_PER_DAY),
            properties: props,
            order_id: self.order_id.clone(),
            subscription_id: self.subscription_id,
            user_data: self.user_data,
            affiliate_id: self.affiliate_id,
            email: self.email,
            qlm_version: self
                .qlm_version
                .unwrap_or_else(|| options.default_qlm_version.clone()),
            vendor: vendor.name.clone(),
            created: now,
            last_accessed: None,
            revoked: false,
            revision: 0,
            upgraded_to: None,
            max_release_count: None,
            max_release_period: None,
        };
        let command = CreateKeys {
            template,
            count,
            order_id: self.order_id,
            max_per_day: options.max_new_keys_per_day,
            max_stored: options.db_max_records,
        };
        let Created { licenses, reused } = ctx.execute(command).await?;
        let keys: Vec<String> = licenses
            .iter()
            .map(|l| ActivationKey::from_canonical_unchecked(l.key.clone()).dashed())
            .collect();
        for l in &licenses {
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
        if vendor.response_format == ResponseFormat::Text {
            reply.text_lines = Some(keys);
        }
        Ok(reply)
    }
}
