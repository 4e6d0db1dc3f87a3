//! UpdateUserInformation: creates or updates a customer from the POST fields a store sends,
//! and links a key to it (`is_avkey`). The fields come under the vendor's own names through
//! its field map (read as the `is_*` arguments below), or under QLM's documented names
//! (`FullName`, `Email`, …). docs/customers.md has the rules and the reply.

use crate::auth::guard;
use crate::auth::vendor::check_scope;
use crate::config::Vendor;
use crate::customers::Details;
use crate::customers::rules::UserUpdate;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::license::keys::ActivationKey;
use crate::method_decl::{AuthNeed, Declaration, Gate, MethodCall};
use crate::methods::{Ctx, lookup_key};
use crate::response::{Field, Reply};
use crate::store::commands::{CustomerUpdated, UpdateCustomer};

/// What UpdateUserInformation declares to the guard.
pub const DECLARATION: Declaration = Declaration::new("UpdateUserInformation", AuthNeed::Always)
    .gated_by(Gate::new("security.enableUpdateUserInformation", |s| {
        s.enable_update_user_information
    }));

/// Parses every argument, authenticates as [`DECLARATION`] says, then applies.
pub async fn run(call: MethodCall, args: &Args, ctx: &Ctx) -> Result<Reply, MethodError> {
    let m = UpdateUserInformation::parse(args)?;
    let vendor = guard::vendor(ctx, call, args).await?;
    m.apply(ctx, &vendor).await
}

/// Most characters of a field; notes may be longer.
const FIELD_CHARS: usize = 255;
const NOTES_CHARS: usize = 4000;

/// A parsed UpdateUserInformation request.
pub struct UpdateUserInformation {
    update: UserUpdate,
    key: Option<String>,
}

/// A customer field: licd's `is_*` name (what a field map reads a store's field as) or, when
/// that is absent, QLM's documented POST field name, in any case.
fn field(args: &Args, name: &str, qlm: &str, max: usize) -> Result<Option<String>, MethodError> {
    if let Some(v) = args.text_max(name, max)? {
        return Ok(Some(v.to_string()));
    }
    let Some((_, value)) = args
        .others()
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case(qlm) && !v.is_empty())
    else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(MethodError::invalid(format!(
            "The argument {qlm} is too long: at most {max} characters."
        )));
    }
    Ok(Some(value.clone()))
}

impl UpdateUserInformation {
    /// The customer fields (`is_email`/`Email` required, 208), `is_previousemail`,
    /// `is_externaluserid`, `is_userdata1` and `is_avkey`.
    pub fn parse(args: &Args) -> Result<Self, MethodError> {
        let f = |name, qlm| field(args, name, qlm, FIELD_CHARS);
        let email = f("is_email", "Email")?.ok_or_else(|| {
            MethodError::new(
                ErrorCode::MissingArgument,
                "The argument is_email (the customer's Email field) is required.",
            )
        })?;
        let details = Details {
            full_name: f("is_fullname", "FullName")?,
            company: f("is_company", "Company")?,
            phone: f("is_phone", "Phone")?,
            address1: f("is_address1", "Address1")?,
            address2: f("is_address2", "Address2")?,
            city: f("is_city", "City")?,
            state: f("is_state", "State")?,
            zip: f("is_zip", "Zip")?,
            country: f("is_country", "Country")?,
            notes: field(args, "is_notes", "Notes", NOTES_CHARS)?,
            affiliate_id: f("is_affiliateid", "AffiliateID")?,
            external_user_id: args
                .text_max("is_externaluserid", FIELD_CHARS)?
                .map(str::to_string),
            user_data: args.text_max("is_userdata1", 1024)?.map(str::to_string),
        };
        Ok(UpdateUserInformation {
            update: UserUpdate {
                email,
                previous_email: args
                    .text_max("is_previousemail", FIELD_CHARS)?
                    .map(str::to_string),
                details,
            },
            key: args.text("is_avkey").map(str::to_string),
        })
    }

    /// Creates or updates the customer, and links the key, in one transaction.
    pub async fn apply(self, ctx: &Ctx, vendor: &Vendor) -> Result<Reply, MethodError> {
        let command = self.command(ctx, vendor)?;
        let CustomerUpdated {
            customer,
            created,
            linked,
        } = ctx.execute(command).await?;
        tracing::info!(
            method = "UpdateUserInformation",
            customer = %customer.id,
            vendor = %vendor.name,
            client = %ctx.client,
            created,
            "customer {}",
            if created { "created" } else { "updated" }
        );
        let what = if created { "created" } else { "updated" };
        let mut r = Reply::new(format!(
            "Customer {} was {what} successfully.",
            customer.email
        ));
        r.push(Field::text("userEmail", customer.email));
        if let Some(key) = linked {
            let key = ActivationKey::from_canonical_unchecked(key);
            r.push(Field::text("activationKey", key.dashed()));
        }
        Ok(r)
    }

    /// The store's command for this update (a store's webhook runs it among the other
    /// actions of its event).
    ///
    /// # Errors
    /// A malformed `is_avkey`.
    pub fn command(self, ctx: &Ctx, vendor: &Vendor) -> Result<UpdateCustomer, MethodError> {
        let key = match &self.key {
            Some(k) => Some(lookup_key(k)?),
            None => None,
        };
        let scope = vendor.clone();
        Ok(UpdateCustomer {
            request: self.update,
            key: key.as_ref().map(|k| k.as_str().to_string()),
            update_existing: ctx.config.options.update_existing_user_information,
            check: Box::new(move |license| check_scope(&scope, license)),
            now: ctx.now,
            vendor: Some(vendor.name.clone()),
            client: Some(ctx.client.to_string()),
        })
    }
}
