//! ValidateLicenseHttp: the client call that activates when needed and validates.
//! ActivateKey runs the same road ([`check_or_activate`]) with a shorter reply.

use std::sync::Arc;

use crate::config::Config;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates::format_datetime;
use crate::license::keys::ActivationKey;
use crate::license::rules::{self, ActivationRequest, ProductQuery};
use crate::license::{Activation, License, dates};
use crate::methods::licence_info::licence_info;
use crate::methods::{Ctx, computer_id_arg, lookup_key, masked, not_found, u32_arg};
use crate::response::{Field, Reply};
use crate::store::Outcome;
use crate::store::commands::{Activate, Command, RecordSeat};

/// What a client sends to validate or activate.
#[derive(Debug, Clone)]
pub struct Check {
    /// `is_avkey` as sent.
    pub key: String,
    /// `is_pcid`.
    pub computer_id: Option<String>,
    /// `is_pckey`.
    pub computer_key: Option<String>,
    /// `is_activate`.
    pub activate: bool,
    /// `is_computer_name`.
    pub computer_name: Option<String>,
    /// `is_productid`, `is_majorversion`, `is_minorversion`.
    pub product: ProductQuery,
    /// `is_email`.
    pub email: Option<String>,
    /// `is_userdata1`.
    pub user_data: Option<String>,
    /// `is_affiliateid`.
    pub affiliate_id: Option<String>,
    /// `is_alog_userdata1`.
    pub activation_user_data: Option<String>,
}

impl Check {
    /// Parses the arguments ValidateLicenseHttp and ActivateKey share.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        if args.boolean("is_sign")?.unwrap_or(false) {
            return Err(MethodError::invalid(
                "Signed replies (is_sign=true) are not available on this server yet.",
            ));
        }
        let text = |name, max| -> Result<Option<String>, MethodError> {
            Ok(args.text_max(name, max)?.map(str::to_string))
        };
        Ok(Check {
            key: args.required("is_avkey")?.to_string(),
            computer_id: computer_id_arg(args, "is_pcid")?,
            // Compared, never rejected for its form (README §4): only maxValueBytes bounds it.
            computer_key: args.text("is_pckey").map(str::to_string),
            activate: args.boolean("is_activate")?.unwrap_or(true),
            computer_name: text("is_computer_name", 255)?,
            product: ProductQuery {
                product_id: u32_arg(args, "is_productid")?,
                major: u32_arg(args, "is_majorversion")?,
                minor: u32_arg(args, "is_minorversion")?,
            },
            email: text("is_email", 255)?,
            user_data: text("is_userdata1", 1024)?,
            affiliate_id: text("is_affiliateid", 255)?,
            activation_user_data: text("is_alog_userdata1", 1024)?,
        })
    }
}

/// The result of the validation road.
pub enum Checked {
    /// The computer holds an activation (new or existing).
    Active {
        /// The licence after any change.
        license: License,
        /// The computer's activation as now stored.
        activation: Activation,
        /// The current computer key.
        computer_key: String,
        /// True when this request made the activation.
        new: bool,
    },
    /// No activation and `is_activate=false`: report only.
    NotActivated {
        /// The licence as stored.
        license: License,
    },
}

/// The checks of methods.md "ValidateLicenseHttp", flow steps 1 to 5.
pub async fn check_or_activate(
    check: &Check,
    ctx: &Ctx,
    scope: Option<&crate::config::Vendor>,
) -> Result<Checked, MethodError> {
    let key = lookup_key(&check.key)?;
    let store = &ctx.state.store;
    let reader = store.reader()?;
    let license = reader.license(key.as_str())?.ok_or_else(not_found)?;
    if let Some(vendor) = scope {
        crate::auth::vendor::check_scope(vendor, &license)?;
    }
    let licence_check = licence_check(ctx.config.clone(), check.product, ctx.now);
    licence_check(&license)?;
    if let Some(pc) = &check.computer_id {
        rules::check_computer_allowed(pc, &ctx.config.options.block_computer_ids)?;
        if let Some(stored) = reader.activation(key.as_str(), pc)? {
            drop(reader);
            // A validation moments ago may have changed the name or key last given; its
            // lazy write may not be flushed yet, so read our own writes.
            let activation = store.pending(key.as_str(), &stored).unwrap_or(stored);
            if let Some(done) = revalidate(check, ctx, &key, license.clone(), &activation).await? {
                return Ok(done);
            }
            // The seat was reclaimed or released meanwhile: check out a new one below.
        } else {
            drop(reader);
        }
    } else {
        drop(reader);
    }
    if !check.activate {
        return Ok(Checked::NotActivated { license });
    }
    let computer_id = check
        .computer_id
        .clone()
        .ok_or_else(|| MethodError::missing("is_pcid"))?;
    let config = &ctx.config;
    let request = ActivationRequest {
        computer_id,
        computer_name: check.computer_name.clone(),
        client_ip: config
            .activation
            .capture_ip_address
            .then(|| ctx.client.to_string()),
        activation_user_data: check.activation_user_data.clone(),
        email: check.email.clone(),
        user_data: check.user_data.clone(),
        affiliate_id: check.affiliate_id.clone(),
    };
    let command = Command::Activate(Activate {
        key: key.as_str().to_string(),
        request,
        now: ctx.now,
        max_per_day: config.options.max_activations_per_day,
        fix_duration_at_activation: config
            .options
            .use_duration_to_set_expiry_date_when_activating,
        check: Box::new(licence_check),
        reclaim_after_minutes: config.activation.cloud_inactivity_threshold_minutes,
    });
    match store.execute(command, ctx.deadline).await? {
        Outcome::Activated {
            license,
            activation,
        } => {
            tracing::info!(
                method = "ValidateLicenseHttp",
                key = %masked(&key),
                computer = %activation.computer_id,
                client = %ctx.client,
                "licence activated"
            );
            Ok(Checked::Active {
                computer_key: activation.computer_key.clone(),
                license,
                activation,
                new: true,
            })
        }
        Outcome::AlreadyActive {
            license,
            activation,
        } => revalidate(check, ctx, &key, license, &activation)
            .await?
            .ok_or_else(|| {
                MethodError::internal(
                    "The seat was released while it was being checked out; retry.",
                )
            }),
        _ => Err(MethodError::internal(
            "The store answered an activation with another outcome.",
        )),
    }
}

/// The product and usability checks, as a closure the writer re-runs inside its
/// transaction.
fn licence_check(
    config: Arc<Config>,
    asked: ProductQuery,
    now: i64,
) -> impl Fn(&License) -> Result<(), MethodError> + Send + 'static {
    move |license: &License| {
        rules::check_product(
            license,
            &asked,
            config.options.allow_activating_older_version,
            |id, major, minor| {
                config
                    .product(id, major, minor)
                    .map(|p| p.release_date.as_deref().and_then(dates::parse_expiry))
            },
        )?;
        rules::check_usable(license, now)
    }
}

/// Validates an existing activation. Ordinary activations record the bookkeeping lazily;
/// a cloud or floating seat's validation is a durable write (reclamation decides on it), and
/// `None` means the seat vanished meanwhile.
async fn revalidate(
    check: &Check,
    ctx: &Ctx,
    key: &ActivationKey,
    license: License,
    activation: &Activation,
) -> Result<Option<Checked>, MethodError> {
    let config = &ctx.config;
    let name = check
        .computer_name
        .as_deref()
        .filter(|_| config.activation.update_computer_name_when_reactivating);
    let r = rules::revalidate(
        &license,
        activation,
        check.computer_key.as_deref(),
        name,
        config
            .options
            .require_computer_key_match_when_validating_on_server,
        ctx.now,
        ctx.state.store.secret(),
    )?;
    if license.model.is_seat() {
        let command = Command::RecordSeat(RecordSeat {
            key: key.as_str().to_string(),
            activation: r.activation.clone(),
        });
        if let Outcome::SeatRecorded { still_there: false } =
            ctx.state.store.execute(command, ctx.deadline).await?
        {
            return Ok(None);
        }
    } else {
        // Last-seen time, name and key last given are bookkeeping no decision reads for
        // ordinary models: written lazily (README §6).
        ctx.state
            .store
            .record_lazily(key.as_str(), r.activation.clone());
    }
    Ok(Some(Checked::Active {
        license,
        activation: r.activation,
        computer_key: r.computer_key.dashed(),
        new: false,
    }))
}

/// A parsed ValidateLicenseHttp request.
pub struct ValidateLicense {
    check: Check,
}

impl ValidateLicense {
    /// Checks the syntax of every argument.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        Ok(ValidateLicense {
            check: Check::parse(args)?,
        })
    }

    /// Validates, activating when needed; the reply carries the computer key and the licence
    /// info elements.
    pub async fn apply(self, ctx: &Ctx) -> Result<Reply, MethodError> {
        match check_or_activate(&self.check, ctx, None).await? {
            Checked::Active {
                license,
                activation,
                computer_key,
                new,
            } => {
                let mut r = Reply::new(if new {
                    format!(
                        "The license was activated on computer {}.",
                        activation.computer_id
                    )
                } else {
                    "Your license is valid.".to_string()
                });
                r.push(Field::text("pckey", display_key(&computer_key)));
                r.push(Field::text("computerID", activation.computer_id.clone()));
                r.push_opt("computerName", activation.computer_name.clone());
                r.push(Field::text(
                    "activationDate",
                    format_datetime(activation.activated_at),
                ));
                r.fields
                    .extend(licence_info(&license, &ctx.config, ctx.now, false));
                Ok(r)
            }
            Checked::NotActivated { license } => {
                let mut r = Reply::new("The license is valid but not activated on this computer.");
                r.fields
                    .extend(licence_info(&license, &ctx.config, ctx.now, true));
                Ok(r)
            }
        }
    }
}

/// A computer key in its dashed form, whatever form it was stored in.
pub fn display_key(key: &str) -> String {
    crate::license::keys::ComputerKey::from_canonical_unchecked(key.replace('-', "")).dashed()
}
