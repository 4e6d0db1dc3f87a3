//! Key creation (GetActivationKey): the licence a request creates, decided from what it asks,
//! the product it names, the time and the server's defaults.
//!
//! The store copies the template decided here once per key; the creation limits (keys per
//! day, licences stored) depend on what is stored and are checked inside the store's
//! transaction (`rules::check_creation_limits`).

use super::License;
use super::dates::SECONDS_PER_DAY;
use super::features::Features;
use super::model::{Deployment, LicenseModel};
use super::properties::{self, PropertyChange, PropertyDef};
use super::refusal::Refusal;

/// What a key-creation request asks for, as parsed from its arguments (methods.md,
/// GetActivationKey).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// `is_productid`.
    pub product_id: u32,
    /// `is_majorversion`.
    pub major: u32,
    /// `is_minorversion`.
    pub minor: u32,
    /// `is_quantity`: how many customers (or keys) the order is for.
    pub quantity: u32,
    /// `is_usemultipleactivationskey`: one key with every seat, rather than one key per
    /// customer.
    pub multiple: bool,
    /// `is_numberofactivationsperkey`.
    pub per_key: u32,
    /// `is_additionalactivations`: seats added to every key.
    pub additional: u32,
    /// `is_licensemodel`, when given.
    pub model: Option<LicenseModel>,
    /// `is_floating`: the model's deployment becomes floating.
    pub floating: bool,
    /// `is_features`: (feature set, value) pairs.
    pub features: Vec<(u8, u8)>,
    /// `is_expdate`.
    pub expiry: Option<i64>,
    /// `is_expduration`, in days.
    pub duration: Option<u32>,
    /// `is_maintenance_plan`.
    pub maintenance: bool,
    /// `is_maintduration`, in days.
    pub maintenance_days: Option<u32>,
    /// `is_pp`, checked for syntax only.
    pub properties: Vec<PropertyChange>,
    /// `is_orderid`.
    pub order_id: Option<String>,
    /// `is_subscriptionid`.
    pub subscription_id: Option<String>,
    /// `is_userdata1`.
    pub user_data: Option<String>,
    /// `is_affiliateid`.
    pub affiliate_id: Option<String>,
    /// `is_email`.
    pub email: Option<String>,
    /// `is_qlmversion`.
    pub qlm_version: Option<String>,
}

/// The server's defaults that key creation is decided with (`[options]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationDefaults<'a> {
    /// `defaultLicenseModelWhenDurationSet`.
    pub model_when_duration_set: LicenseModel,
    /// `defaultLicenseModelWhenExpiryDateSet`.
    pub model_when_expiry_date_set: LicenseModel,
    /// `useDurationToSetExpiryDate`: a duration fixes the expiry at creation.
    pub use_duration_to_set_expiry_date: bool,
    /// `maintenancePlanPeriodInDays`: the plan's length when `is_maintduration` is not given.
    pub maintenance_plan_period_in_days: i64,
    /// `defaultQlmVersion`.
    pub qlm_version: &'a str,
}

/// The licences to create: `count` copies of `template`, each with a fresh key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKeys {
    /// Every field but `key` is copied to each new licence.
    pub template: License,
    /// How many licences.
    pub count: u32,
}

/// Decides the licences a request creates for `vendor` at `now`: the model, the expiry, the
/// seats, the maintenance plan, the features and the product properties (checked against
/// `property_defs`, the product's `[[product.property]]` list).
pub fn new_keys(
    request: KeyRequest,
    property_defs: &[PropertyDef],
    vendor: &str,
    now: i64,
    defaults: &CreationDefaults<'_>,
) -> Result<NewKeys, Refusal> {
    let properties = properties::apply_changes(&[], property_defs, &request.properties)?;
    let model = license_model(
        request.model,
        request.floating,
        request.duration,
        request.expiry,
        defaults,
    );
    let (count, seats) = keys_and_seats(
        request.quantity,
        request.multiple,
        request.per_key,
        request.additional,
    )?;
    let template = License {
        key: String::new(),
        product_id: request.product_id,
        major_version: request.major,
        minor_version: request.minor,
        model,
        activations_allowed: seats,
        activations_used: 0,
        features: Features::default().with_changes(&request.features),
        expiry: fixed_expiry(request.expiry, request.duration, defaults, now),
        duration_days: request.duration,
        first_activation: None,
        maintenance_plan: request.maintenance,
        maintenance_renewal: maintenance_renewal(
            request.maintenance,
            request.maintenance_days,
            defaults,
            now,
        ),
        properties,
        order_id: request.order_id,
        subscription_id: request.subscription_id,
        user_data: request.user_data,
        affiliate_id: request.affiliate_id,
        email: request.email,
        customer: None,
        qlm_version: request
            .qlm_version
            .unwrap_or_else(|| defaults.qlm_version.to_string()),
        vendor: vendor.to_string(),
        created: now,
        last_accessed: None,
        revoked: false,
        revision: 0,
        upgraded_to: None,
        max_release_count: None,
        max_release_period: None,
    };
    Ok(NewKeys { template, count })
}

/// The model of a new licence: the one asked, else the server's default for a licence with a
/// duration, else for one with an expiry date, else permanent; `is_floating` makes it
/// floating whatever it is.
pub fn license_model(
    asked: Option<LicenseModel>,
    floating: bool,
    duration: Option<u32>,
    expiry: Option<i64>,
    defaults: &CreationDefaults<'_>,
) -> LicenseModel {
    let mut model = asked.unwrap_or(if duration.is_some() {
        defaults.model_when_duration_set
    } else if expiry.is_some() {
        defaults.model_when_expiry_date_set
    } else {
        LicenseModel::PERMANENT
    });
    if floating {
        model.deployment = Deployment::Floating;
    }
    model
}

/// The fixed expiry of a new licence: the date asked, else, when the server sets expiry from
/// the duration at creation, `now` plus the duration. Otherwise a duration starts at the
/// first activation.
pub fn fixed_expiry(
    expiry: Option<i64>,
    duration: Option<u32>,
    defaults: &CreationDefaults<'_>,
    now: i64,
) -> Option<i64> {
    expiry.or_else(|| {
        duration
            .filter(|_| defaults.use_duration_to_set_expiry_date)
            .map(|days| now + i64::from(days) * SECONDS_PER_DAY)
    })
}

/// How many keys an order makes and how many seats each has: one key with every customer's
/// seats (`multiple`), or one key per customer with its own; the additional seats go to
/// every key. Refuses a total no licence can hold (the argument bounds keep it far below).
pub fn keys_and_seats(
    quantity: u32,
    multiple: bool,
    per_key: u32,
    additional: u32,
) -> Result<(u32, u32), Refusal> {
    let (count, seats) = if multiple {
        (
            1,
            quantity
                .checked_mul(per_key)
                .and_then(|s| s.checked_add(additional)),
        )
    } else {
        (quantity, per_key.checked_add(additional))
    };
    let seats = seats.ok_or_else(|| {
        Refusal::invalid(format!(
            "is_quantity, is_numberofactivationsperkey and is_additionalactivations add up to more than the {} activations a licence can hold; ask for fewer.",
            u32::MAX
        ))
    })?;
    Ok((count, seats))
}

/// The maintenance renewal date of a new licence with the plan on: `now` plus the days asked,
/// else plus the server's plan period. No plan, no date.
pub fn maintenance_renewal(
    plan: bool,
    days: Option<u32>,
    defaults: &CreationDefaults<'_>,
    now: i64,
) -> Option<i64> {
    let days = days.map_or(defaults.maintenance_plan_period_in_days, i64::from);
    plan.then(|| now + days * SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::model::BaseModel;
    use crate::license::properties::PropertyType;
    use crate::license::refusal::Reason;

    const NOW: i64 = 1_800_000_000;

    fn model(name: &str) -> LicenseModel {
        LicenseModel::parse(name).expect("a model name")
    }

    fn defaults() -> CreationDefaults<'static> {
        CreationDefaults {
            model_when_duration_set: model("trial"),
            model_when_expiry_date_set: model("subscription"),
            use_duration_to_set_expiry_date: false,
            maintenance_plan_period_in_days: 365,
            qlm_version: "6.0.00",
        }
    }

    fn request() -> KeyRequest {
        KeyRequest {
            product_id: 1,
            major: 2,
            minor: 3,
            quantity: 1,
            multiple: true,
            per_key: 1,
            additional: 0,
            model: None,
            floating: false,
            features: Vec::new(),
            expiry: None,
            duration: None,
            maintenance: false,
            maintenance_days: None,
            properties: Vec::new(),
            order_id: None,
            subscription_id: None,
            user_data: None,
            affiliate_id: None,
            email: None,
            qlm_version: None,
        }
    }

    fn credits() -> Vec<PropertyDef> {
        vec![PropertyDef {
            category: "quality".into(),
            name: "credits".into(),
            ty: PropertyType::Int,
            default: String::new(),
        }]
    }

    #[test]
    fn without_a_model_a_duration_takes_the_duration_default_before_an_expiry_date() {
        let d = defaults();
        let both = license_model(None, false, Some(30), Some(NOW), &d);
        assert_eq!(both, model("trial"));
        let expiry_only = license_model(None, false, None, Some(NOW), &d);
        assert_eq!(expiry_only, model("subscription"));
    }

    #[test]
    fn without_a_model_duration_or_expiry_the_license_is_permanent() {
        assert_eq!(
            license_model(None, false, None, None, &defaults()),
            LicenseModel::PERMANENT
        );
    }

    #[test]
    fn the_model_asked_wins_over_the_defaults_and_floating_keeps_its_base() {
        let asked = model("subscription_cloud");
        let m = license_model(Some(asked), true, Some(30), None, &defaults());
        assert_eq!(m.base, BaseModel::Subscription);
        assert_eq!(m.deployment, Deployment::Floating);
    }

    #[test]
    fn a_duration_fixes_the_expiry_at_creation_only_when_the_server_says_so() {
        let mut d = defaults();
        assert_eq!(fixed_expiry(None, Some(30), &d, NOW), None);
        d.use_duration_to_set_expiry_date = true;
        assert_eq!(
            fixed_expiry(None, Some(30), &d, NOW),
            Some(NOW + 30 * SECONDS_PER_DAY)
        );
    }

    #[test]
    fn an_expiry_date_asked_is_kept_even_with_a_duration() {
        let mut d = defaults();
        d.use_duration_to_set_expiry_date = true;
        assert_eq!(
            fixed_expiry(Some(NOW + 5), Some(30), &d, NOW),
            Some(NOW + 5)
        );
    }

    #[test]
    fn multiple_activations_make_one_key_with_every_customers_seats_plus_the_additional() {
        assert_eq!(keys_and_seats(5, true, 3, 2), Ok((1, 17)));
    }

    #[test]
    fn single_activation_keys_make_one_key_per_customer_each_with_the_additional_seats() {
        assert_eq!(keys_and_seats(5, false, 3, 2), Ok((5, 5)));
    }

    #[test]
    fn seats_beyond_what_a_license_holds_are_refused_as_invalid() {
        let e = keys_and_seats(u32::MAX, true, 2, 0).unwrap_err();
        assert_eq!(e.reason, Reason::Invalid);
        let e = keys_and_seats(1, false, u32::MAX, 1).unwrap_err();
        assert_eq!(e.reason, Reason::Invalid);
    }

    #[test]
    fn the_maintenance_plan_runs_for_the_days_asked_else_the_server_period() {
        let d = defaults();
        assert_eq!(
            maintenance_renewal(true, Some(10), &d, NOW),
            Some(NOW + 10 * SECONDS_PER_DAY)
        );
        assert_eq!(
            maintenance_renewal(true, None, &d, NOW),
            Some(NOW + 365 * SECONDS_PER_DAY)
        );
    }

    #[test]
    fn no_maintenance_plan_means_no_renewal_date() {
        assert_eq!(maintenance_renewal(false, Some(10), &defaults(), NOW), None);
    }

    #[test]
    fn the_template_carries_the_request_the_vendor_and_the_default_qlm_version() {
        let mut r = request();
        r.features = vec![(1, 4)];
        r.order_id = Some("order-1".into());
        r.email = Some("a@example.com".into());
        let NewKeys { template, count } = new_keys(r, &[], "acme", NOW, &defaults()).unwrap();
        assert_eq!(count, 1);
        assert_eq!(template.key, "");
        assert_eq!(
            (
                template.product_id,
                template.major_version,
                template.minor_version
            ),
            (1, 2, 3)
        );
        assert_eq!(
            template.features,
            Features::default().with_changes(&[(1, 4)])
        );
        assert_eq!(template.order_id.as_deref(), Some("order-1"));
        assert_eq!(template.email.as_deref(), Some("a@example.com"));
        assert_eq!(template.qlm_version, "6.0.00");
        assert_eq!(template.vendor, "acme");
        assert_eq!(template.created, NOW);
        assert_eq!(template.activations_used, 0);
    }

    #[test]
    fn the_qlm_version_asked_wins_over_the_default() {
        let mut r = request();
        r.qlm_version = Some("7.0".into());
        let keys = new_keys(r, &[], "acme", NOW, &defaults()).unwrap();
        assert_eq!(keys.template.qlm_version, "7.0");
    }

    #[test]
    fn product_properties_are_set_from_the_products_definitions() {
        let mut r = request();
        r.properties = properties::parse_changes("quality.credits::5").unwrap();
        let keys = new_keys(r, &credits(), "acme", NOW, &defaults()).unwrap();
        assert_eq!(keys.template.properties.len(), 1);
        assert_eq!(keys.template.properties[0].value, "5");
    }

    #[test]
    fn a_property_the_product_does_not_define_is_refused() {
        let mut r = request();
        r.properties = properties::parse_changes("quality.nope::5").unwrap();
        let e = new_keys(r, &credits(), "acme", NOW, &defaults()).unwrap_err();
        assert_eq!(e.reason, Reason::UnknownProperty);
        assert!(e.message.contains("quality.nope"), "{}", e.message);
    }
}
