//! Step 3 of loading: the rules no type can express (ranges, names that must refer to
//! something, duplicates), all checked so that every problem is listed at once.
//!
//! Each problem names the table and key and says what to write instead.

use std::collections::HashSet;
use std::fmt::Display;

use super::credentials::{self, from_file};
use super::{Config, KNOWN_METHODS, OptionsConfig, Product, canonical_method_name, same_name};
use crate::license::properties::{self, MAX_STRING_CHARS, PropertyType};

/// Every rule broken by `config`, one sentence each, without the origin prefix.
pub(super) fn problems(config: &Config) -> Vec<String> {
    let mut p = Problems(Vec::new());
    server(config, &mut p);
    security(config, &mut p);
    options(config, &mut p);
    analytics(&config.analytics, &mut p);
    activation(&config.activation, &mut p);
    products(config, &mut p);
    vendors(config, &mut p);
    plugins(config, &mut p);
    p.0.extend(super::store::problems(&config.store));
    p.0.extend(super::mail::problems(&config.mail));
    p.0.extend(super::webhooks::problems(&config.webhooks));
    p.0.extend(super::console::problems(&config.console));
    p.0.extend(super::portal::problems(&config.portal));
    p.0.extend(credentials::demo_password_problems(config));
    p.0
}

/// The problems found so far, with helpers for the common range rules.
struct Problems(Vec<String>);

impl Problems {
    /// Records one problem.
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// `value` must be at least `min`.
    fn at_least<T: PartialOrd + Display>(&mut self, place: &str, key: &str, value: T, min: T) {
        if value < min {
            self.push(format!(
                "{place}: `{key}` is {value}; it must be at least {min}"
            ));
        }
    }

    /// `value` must lie in `min..=max`.
    fn between<T: PartialOrd + Display>(
        &mut self,
        place: &str,
        key: &str,
        value: T,
        min: T,
        max: T,
    ) {
        if value < min || value > max {
            self.push(format!(
                "{place}: `{key}` is {value}; it must be between {min} and {max}"
            ));
        }
    }

    /// Each entry of a list of method names must be a method licd has.
    fn methods(&mut self, place: &str, key: &str, methods: &[String]) {
        for m in methods {
            if canonical_method_name(m).is_none() {
                self.push(format!(
                    "{place}: `{key}` names `{m}`, which is not a method; known methods: {}",
                    KNOWN_METHODS.join(", ")
                ));
            }
        }
    }
}

/// `[server]`: limits, timeouts and the base path.
fn server(config: &Config, p: &mut Problems) {
    let s = &config.server;
    let place = "[server]";
    let base = &s.base_path;
    if !base.is_empty() && (!base.starts_with('/') || base.ends_with('/')) {
        p.push(format!(
            "{place}: `basePath` is \"{base}\"; it must be empty or start with `/` and not end \
             with `/`, e.g. \"/qlmLicenseServer\""
        ));
    } else if base.contains("//")
        || base
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '%'))
    {
        p.push(format!(
            "{place}: `basePath` is \"{}\"; it must be a plain URL path without empty \
             segments, spaces, `?`, `#` or `%`",
            base.escape_debug()
        ));
    }
    if s.data_dir.as_os_str().is_empty() {
        p.push(format!("{place}: `dataDir` is empty; name a directory"));
    }
    p.at_least(place, "maxConnections", s.max_connections, 1);
    p.at_least(place, "headerReadTimeoutMs", s.header_read_timeout_ms, 1);
    p.at_least(place, "requestTimeoutMs", s.request_timeout_ms, 1);
    p.at_least(place, "maxHeaderBytes", s.max_header_bytes, 1024);
    p.at_least(place, "maxBodyBytes", s.max_body_bytes, 1);
    p.between(
        place,
        "maxWebhookBodyBytes",
        s.max_webhook_body_bytes,
        1024,
        64 * 1024 * 1024,
    );
    p.between(place, "maxArgs", s.max_args, 1, 1024);
    p.at_least(place, "maxValueBytes", s.max_value_bytes, 16);
    p.at_least(place, "cacheSizeMiB", s.cache_size_mib, 1);
    match (&s.tls_cert_file, &s.tls_key_file) {
        (Some(_), None) => p.push(format!(
            "{place}: `tlsCertFile` is set but `tlsKeyFile` is not; set both to serve HTTPS, \
             or neither for plain HTTP"
        )),
        (None, Some(_)) => p.push(format!(
            "{place}: `tlsKeyFile` is set but `tlsCertFile` is not; set both to serve HTTPS, \
             or neither for plain HTTP"
        )),
        _ => {}
    }
}

/// `[security]`: method lists and authentication limits.
fn security(config: &Config, p: &mut Problems) {
    let s = &config.security;
    let place = "[security]";
    p.methods(place, "httpAdminMethods", &s.http_admin_methods);
    p.methods(
        place,
        "strictAuthenticationHttpMethods",
        &s.strict_authentication_http_methods,
    );
    p.at_least(
        place,
        "strictAuthenticationTimestampTolerance",
        s.strict_authentication_timestamp_tolerance,
        1,
    );
    p.at_least(
        place,
        "strictAuthenticationMinimumVersion",
        s.strict_authentication_minimum_version,
        1,
    );
    p.at_least(
        place,
        "authFailuresPerMinute",
        s.auth_failures_per_minute,
        1,
    );
}

/// Where `[options]` problems are.
const OPTIONS: &str = "[options]";

/// `[analytics]`: each cap -1 (none) or a count.
fn analytics(a: &super::AnalyticsConfig, p: &mut Problems) {
    let place = "[analytics]";
    p.at_least(
        place,
        "maxInstallsPerKeyPerDay",
        a.max_installs_per_key_per_day,
        -1,
    );
    p.at_least(
        place,
        "maxInstallsPerAddressPerDay",
        a.max_installs_per_address_per_day,
        -1,
    );
    p.at_least(place, "maxInstalls", a.max_installs, -1);
}

/// `[activation]`: the authorization codes' lifetime and attempts.
fn activation(a: &super::ActivationConfig, p: &mut Problems) {
    let place = "[activation]";
    let key = "activationByAuthorizationCodeExpiryDuration";
    let minutes = a.activation_by_authorization_code_expiry_duration;
    if minutes.is_finite() {
        p.between(place, key, minutes, 0.05, 1440.0);
    } else {
        p.push(format!(
            "{place}: `{key}` must be a number of minutes between 0.05 and 1440"
        ));
    }
    p.between(
        place,
        "activationByAuthorizationCodeMaxAttempts",
        a.activation_by_authorization_code_max_attempts,
        1,
        100,
    );
}

/// `[options]`: ranges, licence models, the names that must refer to something, the
/// verification-code key and the blocked computer IDs, in that order.
fn options(config: &Config, p: &mut Problems) {
    option_ranges(&config.options, p);
    option_names(config, p);
    verification_key(&config.options, p);
    blocked_computer_ids(&config.options, p);
}

/// The numeric `[options]` within their ranges.
fn option_ranges(o: &OptionsConfig, p: &mut Problems) {
    let place = OPTIONS;
    p.at_least(place, "maxReleaseCount", o.max_release_count, -1);
    p.at_least(
        place,
        "maxReleasePeriodInDays",
        o.max_release_period_in_days,
        1,
    );
    p.at_least(
        place,
        "preventDeactivationPeriod",
        o.prevent_deactivation_period,
        0,
    );
    p.at_least(place, "maxActivationsPerDay", o.max_activations_per_day, -1);
    p.at_least(place, "maxNewKeysPerDay", o.max_new_keys_per_day, -1);
    p.at_least(place, "dbMaxRecords", o.db_max_records, -1);
    p.at_least(
        place,
        "subscriptionGracePeriod",
        o.subscription_grace_period,
        0,
    );
    p.between(
        place,
        "maintenancePlanPeriodInDays",
        o.maintenance_plan_period_in_days,
        1,
        36_500,
    );
    p.at_least(
        place,
        "maintenancePlanGracePeriod",
        o.maintenance_plan_grace_period,
        0,
    );
}

/// Default licence models that are models, a default vendor that is declared, and a default
/// QLM version that is not empty.
fn option_names(config: &Config, p: &mut Problems) {
    let o = &config.options;
    let place = OPTIONS;
    for (key, model) in [
        (
            "defaultLicenseModelWhenDurationSet",
            &o.default_license_model_when_duration_set,
        ),
        (
            "defaultLicenseModelWhenExpiryDateSet",
            &o.default_license_model_when_expiry_date_set,
        ),
    ] {
        if !is_license_model(model) {
            p.push(format!(
                "{place}: `{key}` is \"{model}\"; it must be permanent, trial or subscription, \
                 optionally followed by _cloud or _floating (e.g. \"trial_cloud\")"
            ));
        }
    }

    let provider = &o.default_commerce_provider;
    if !provider.is_empty() && config.vendor(provider).is_none() {
        p.push(format!(
            "{place}: `defaultCommerceProvider` is \"{provider}\" but no [[vendor]] has that \
             name; add the vendor or set defaultCommerceProvider = \"\""
        ));
    }
    if o.default_qlm_version.trim().is_empty() {
        p.push(format!(
            "{place}: `defaultQlmVersion` is empty; the default is \"6.0.00\""
        ));
    }
}

/// A `communicationEncryptionKey` that is not empty, and present when releases need a
/// verification code derived from it.
fn verification_key(o: &OptionsConfig, p: &mut Problems) {
    let place = OPTIONS;
    match &o.communication_encryption_key {
        Some(key) if key.is_empty() => p.push(format!(
            "{place}: `communicationEncryptionKey` is empty{}",
            from_file(o.communication_encryption_key_file.as_deref())
        )),
        None if o.release_license_requires_verification_code
            && o.communication_encryption_key_file.is_none() =>
        {
            p.push(format!(
                "{place}: `releaseLicenseRequiresVerificationCode` is true but \
                 `communicationEncryptionKey` is not set; verification codes are derived from \
                 it, so set it (or communicationEncryptionKeyFile) to the key your client \
                 applications use"
            ))
        }
        _ => {}
    }
}

/// `blockComputerIDs` that are computer IDs.
fn blocked_computer_ids(o: &OptionsConfig, p: &mut Problems) {
    let place = OPTIONS;
    for id in &o.block_computer_ids {
        if !is_computer_id(id) {
            p.push(format!(
                "{place}: `blockComputerIDs` holds \"{}\", which is not a computer ID \
                 (1 to 255 characters, no spaces or control characters)",
                id.escape_debug()
            ));
        }
    }
}

/// `permanent`, `trial` or `subscription`, optionally with `_cloud` or `_floating`.
fn is_license_model(model: &str) -> bool {
    let base = model
        .strip_suffix("_cloud")
        .or_else(|| model.strip_suffix("_floating"))
        .unwrap_or(model);
    matches!(base, "permanent" | "trial" | "subscription")
}

/// A computer ID as `is_pcid` accepts it (spec README §4).
fn is_computer_id(id: &str) -> bool {
    let len = id.chars().count();
    (1..=255).contains(&len) && !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `[[product]]`: unique versions, names, release dates.
fn products(config: &Config, p: &mut Problems) {
    let mut seen = HashSet::new();
    for product in &config.products {
        let place = product_place(product);
        if !seen.insert((product.id, product.major_version, product.minor_version)) {
            p.push(format!(
                "{place}: defined more than once; (id, majorVersion, minorVersion) must be unique"
            ));
        }
        if product.name.trim().is_empty() {
            p.push(format!("{place}: `name` is empty"));
        }
        if let Some(date) = &product.release_date
            && !is_date(date)
        {
            p.push(format!(
                "{place}: `releaseDate` is \"{}\"; write a date as yyyy-MM-dd, e.g. \"2026-01-15\"",
                date.escape_debug()
            ));
        }
        properties(product, &place, p);
    }
}

/// `[[product]] id 1 version 1.0`: products are known by id and version, not by position.
fn product_place(product: &Product) -> String {
    format!(
        "[[product]] id {} version {}.{}",
        product.id, product.major_version, product.minor_version
    )
}

/// A real calendar date written exactly `yyyy-MM-dd`.
fn is_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == text)
}

/// `[[product.property]]`: names usable in `is_pp`, unique, defaults of the declared type.
fn properties(product: &Product, place: &str, p: &mut Problems) {
    let mut seen = HashSet::new();
    for def in &product.properties {
        let what = format!("{place}: property {}.{}", def.category, def.name);
        for (key, part) in [("category", &def.category), ("name", &def.name)] {
            if part.is_empty() || part.contains(['.', ':', '|']) {
                p.push(format!(
                    "{what}: `{key}` \"{part}\" must be non-empty and hold none of `.` `:` `|` \
                     (they separate categories, names and values in licence data)"
                ));
            }
        }
        if !seen.insert((def.category.as_str(), def.name.as_str())) {
            p.push(format!("{what}: defined more than once for this product"));
        }
        // An empty default means "none" (an int then starts from 0); anything else must be a
        // value the licence code would itself accept for the type.
        let fits = def.default.is_empty() || properties::check_value(def.ty, &def.default);
        if !fits {
            let expected = match def.ty {
                PropertyType::Int => "a whole number written as a string, e.g. \"0\"".to_owned(),
                PropertyType::Bool => "\"true\" or \"false\"".to_owned(),
                PropertyType::String => format!("at most {MAX_STRING_CHARS} characters"),
            };
            let shown: String = def.default.chars().take(40).collect();
            p.push(format!(
                "{what}: `default` \"{}\" does not fit its type; it must be {expected}",
                shown.escape_debug()
            ));
        }
    }
}

/// `[[vendor]]`: unique names, credentials, plugins and method lists.
fn vendors(config: &Config, p: &mut Problems) {
    for (index, vendor) in config.vendors.iter().enumerate() {
        let place = format!("[[vendor]] \"{}\"", vendor.name);
        if vendor.name.trim().is_empty() {
            p.push(format!("[[vendor]] #{}: `name` is empty", index + 1));
        }
        if config.vendors[..index]
            .iter()
            .any(|earlier| same_name(&earlier.name, &vendor.name))
        {
            p.push(format!(
                "{place}: another vendor has the same name (names are compared ignoring case)"
            ));
        }
        p.0.extend(credentials::vendor_problems(vendor, &place));
        if let Some(plugin) = &vendor.plugin
            && config.plugin(plugin).is_none()
        {
            p.push(format!(
                "{place}: `plugin` is \"{plugin}\" but no [[plugin]] has that name"
            ));
        }
        if let Some(methods) = &vendor.methods {
            p.methods(&place, "methods", methods);
        }
        p.0.extend(super::vendors::unsigned_args_problems(vendor, &place));
        p.0.extend(super::field_map::problems(vendor, &place));
    }
}

/// `[[plugin]]`: unique names, a path, a usable timeout.
fn plugins(config: &Config, p: &mut Problems) {
    for (index, plugin) in config.plugins.iter().enumerate() {
        let place = format!("[[plugin]] \"{}\"", plugin.name);
        if plugin.name.trim().is_empty() {
            p.push(format!("[[plugin]] #{}: `name` is empty", index + 1));
        }
        if config.plugins[..index]
            .iter()
            .any(|earlier| earlier.name == plugin.name)
        {
            p.push(format!("{place}: another plugin has the same name"));
        }
        if plugin.path.as_os_str().is_empty() {
            p.push(format!(
                "{place}: `path` is empty; name the plugin's .so file"
            ));
        }
        p.at_least(&place, "timeoutMs", plugin.timeout_ms, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_models_accept_cloud_and_floating_suffixes_only() {
        for ok in [
            "permanent",
            "trial",
            "subscription",
            "trial_cloud",
            "permanent_floating",
        ] {
            assert!(is_license_model(ok), "{ok}");
        }
        for bad in [
            "",
            "Trial",
            "trial_",
            "cloud",
            "trial_cloud_floating",
            "lease",
        ] {
            assert!(!is_license_model(bad), "{bad}");
        }
    }

    #[test]
    fn release_date_must_be_exactly_yyyy_mm_dd() {
        assert!(is_date("2026-01-15"));
        assert!(is_date("2024-02-29"));
        for bad in [
            "2026-1-15",
            "2026-02-30",
            "15.01.2026",
            "2026-01-15 00:00:00",
            "",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
