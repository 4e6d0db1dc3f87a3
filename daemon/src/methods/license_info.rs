//! The licence info elements several replies share (methods.md, top), in the spec's order,
//! with the elements of QLM's ValidateLicenseHttp sample that licd knows (docs/protocol.md
//! §7): each placed beside its neighbour in that sample.

use crate::config::Config;
use crate::customers::Customer;
use crate::errors::MethodError;
use crate::license::dates::format_datetime;
use crate::license::keys::ActivationKey;
use crate::license::properties::declared_values;
use crate::license::{Activation, License};
use crate::response::{Field, Value};
use crate::store::Store;

/// The licence info elements for `license`, as seen by a computer that is (`false`) or is not
/// yet (`true`) activated; `activation` is the activation the request names, when it has
/// one, and `customer` the licence's customer ([`customer_of`]), when it has one. Elements
/// without a value are left out.
pub fn license_info(
    license: &License,
    customer: Option<&Customer>,
    config: &Config,
    now: i64,
    needs_activation: bool,
    activation: Option<&Activation>,
) -> Vec<Field> {
    let mut f = Vec::with_capacity(26);
    // QLM's sample has them right after `pckey`, before the product.
    if let Some(a) = activation {
        push_opt(&mut f, "computerName", &a.computer_name);
        f.push(Field::text("computerID", a.computer_id.clone()));
    }
    push_product(&mut f, license, config);
    f.push(Field::int(
        "status",
        i64::from(license.status(now, needs_activation)),
    ));
    let features = license.features.render();
    if !features.is_empty() {
        f.push(Field::text("features", features));
    }
    push_seats_and_term(&mut f, license);
    push_opt(&mut f, "userData", &license.user_data);
    push_opt(&mut f, "affiliateID", &license.affiliate_id);
    // QLM's sample has `userCompany`, `userFullName`, `userEmail` in this order; the
    // e-mail is the customer's, the one place it is kept.
    if let Some(c) = customer {
        push_opt(&mut f, "userCompany", &c.details.company);
        push_opt(&mut f, "userFullName", &c.details.full_name);
        push_opt(&mut f, "userEmail", &Some(c.email.clone()));
    }
    push_opt(&mut f, "orderID", &license.order_id);
    if let Some(properties) = product_properties(license, config) {
        f.push(properties);
    }
    // QLM's sample has it right after `productProperties`.
    if let Some(a) = activation {
        f.push(Field::text(
            "activationDate",
            format_datetime(a.activated_at),
        ));
    }
    f.push(Field::bool("revoked", license.revoked));
    f.push(Field::text(
        "creationDateUtc",
        format_datetime(license.created),
    ));
    f.push(Field::text("serverDate", format_datetime(now)));
    f
}

/// The customer of `license`, read from its own snapshot; `None` for a licence without one.
pub async fn customer_of(
    store: &Store,
    license: &License,
) -> Result<Option<Customer>, MethodError> {
    if license.customer.is_none() {
        return Ok(None);
    }
    Ok(store.read().await?.customer_of(license).await?)
}

/// What the licence is for: its key, the product (with its configured name, if any), the
/// version and the licence model.
fn push_product(f: &mut Vec<Field>, license: &License, config: &Config) {
    let key = ActivationKey::from_canonical_unchecked(license.key.clone());
    f.push(Field::text("activationKey", key.dashed()));
    f.push(Field::int("productID", i64::from(license.product_id)));
    if let Some(p) = config.product(
        license.product_id,
        license.major_version,
        license.minor_version,
    ) {
        f.push(Field::text("productName", p.name.clone()));
    }
    f.push(Field::int("majorVersion", i64::from(license.major_version)));
    f.push(Field::int("minorVersion", i64::from(license.minor_version)));
    f.push(Field::text("licenseModel", license.model.as_str()));
}

/// How many seats the licence has and how long it runs: floating seats (QLM's sample puts
/// them before the seats), seats allowed and free, expiry, duration (-1 when it has none)
/// and, under a maintenance plan, its renewal date.
fn push_seats_and_term(f: &mut Vec<Field>, license: &License) {
    f.push(Field::int(
        "floatingSeats",
        i64::from(license.floating_seats()),
    ));
    f.push(Field::int(
        "numActivationsAllowed",
        i64::from(license.activations_allowed),
    ));
    f.push(Field::int(
        "availableLicenses",
        i64::from(license.available()),
    ));
    if let Some(e) = license.effective_expiry() {
        f.push(Field::text("expiryDate", format_datetime(e)));
    }
    f.push(Field::int(
        "duration",
        license.duration_days.map_or(-1, i64::from),
    ));
    if license.maintenance_plan
        && let Some(m) = license.maintenance_renewal
    {
        f.push(Field::text("maintenanceRenewalDate", format_datetime(m)));
    }
}

/// `productProperties`: one `Property` per property the product declares, with the
/// licence's value or the default (`license::properties::declared_values`); `None` when the
/// product declares none (or is no longer configured). XML writes it as QLM's embedded
/// `<ProductProperties>` document; JSON as an array.
fn product_properties(license: &License, config: &Config) -> Option<Field> {
    let product = config.product(
        license.product_id,
        license.major_version,
        license.minor_version,
    )?;
    let values = declared_values(&product.properties, &license.properties);
    if values.is_empty() {
        return None;
    }
    let entries = values
        .into_iter()
        .map(|p| {
            let mut attrs = vec![
                ("category", p.category),
                ("name", p.name),
                ("type", p.ty.as_str().to_string()),
                ("value", p.value),
            ];
            if let Some(e) = p.expiry {
                attrs.push(("expiryDate", format_datetime(e)));
            }
            attrs
        })
        .collect();
    Some(Field {
        name: "productProperties",
        value: Value::EmbeddedDocument {
            root: "ProductProperties",
            item: "Property",
            entries,
        },
    })
}

fn push_opt(f: &mut Vec<Field>, name: &'static str, value: &Option<String>) {
    if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
        f.push(Field::text(name, v));
    }
}
