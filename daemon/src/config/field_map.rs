//! A vendor's field map (`preset` and `[vendor.fields]`): the store's own field names read as
//! licd's `is_*` arguments, so that a store that sends `OrderId` or `orderNumber` needs no
//! plugin for renaming (docs/field-maps.md).
//!
//! `preset` loads a known mapping; `fields` adds to it or overrides it, entry by entry.
//! Source names, like `is_*` names, match in any case. The map is applied to a request in
//! `crate::auth::field_map`; here are the presets and the rules a loaded map must keep.

use std::collections::BTreeMap;

use super::Vendor;

/// The presets, by name: (store field, `is_*` argument). Where each name comes from is in
/// docs/field-maps.md; a preset is added only with a captured request of that store in the
/// tests.
pub const PRESETS: [(&str, &[(&str, &str)]); 3] = [
    (
        "qlm",
        &[
            ("orderNumber", "is_orderid"),
            ("subscriptionid", "is_subscriptionid"),
        ],
    ),
    (
        "woocommerce",
        &[
            ("OrderId", "is_orderid"),
            ("SubscriptionId", "is_subscriptionid"),
            ("Customer_Email", "is_email"),
        ],
    ),
    (
        "regnow",
        &[
            ("order_id", "is_orderid"),
            ("quantity", "is_quantity"),
            ("email", "is_email"),
        ],
    ),
];

/// The `is_*` arguments licd's methods read (canonical names; `docs/protocol.md` documents
/// each, and a test holds this list to it), less the three that say who is authenticated:
/// the map is chosen by `is_vendor`, so it cannot rename credentials.
pub const TARGETS: [&str; 64] = [
    "is_activate",
    "is_additionalactivations",
    "is_affiliateid",
    "is_alog_userdata1",
    "is_avkey",
    "is_computer_name",
    "is_deactivation_code",
    "is_email",
    "is_expdate",
    "is_expduration",
    "is_features",
    "is_floating",
    "is_format",
    "is_licensemodel",
    "is_logrelease",
    "is_maintdate",
    "is_maintduration",
    "is_maintenance_plan",
    "is_majorversion",
    "is_maxreleasecount",
    "is_maxreleaseperiod",
    "is_minorversion",
    "is_numberofactivationsperkey",
    "is_orderid",
    "is_pcid",
    "is_pckey",
    "is_pp",
    "is_productid",
    "is_qlmversion",
    "is_quantity",
    "is_revoke",
    "is_sign",
    "is_subscriptionid",
    "is_usemultipleactivationskey",
    "is_userdata1",
    "is_writebom",
    // The customer methods (UpdateUserInformation, UpdatePrivacyConsentHttp,
    // SubscribeToMailListHttp): a store's own customer field names map to these.
    "is_address1",
    "is_address2",
    "is_city",
    "is_company",
    "is_consent",
    "is_country",
    "is_externaluserid",
    "is_fullname",
    "is_html",
    "is_include",
    "is_notes",
    "is_phone",
    "is_previousemail",
    "is_state",
    "is_zip",
    // The analytics methods' own (docs/analytics.md).
    "is_computerid",
    "is_customdata1",
    "is_customdata2",
    "is_customdata3",
    "is_installid",
    // Activation by authorization code (docs/authorization-codes.md).
    "is_authcode",
    "is_osversion",
    "is_productname",
    "is_swversion",
    "is_trial",
    // Aliases QLM clients send (README §2); folded into the names they spell when mapped.
    "is_deacivation_code",
    "is_mainduration",
    "is_minorverson",
];

/// The arguments that say who is authenticated; a map may not write them.
const CREDENTIALS: [&str; 3] = ["is_vendor", "is_user", "is_pwd"];

/// A vendor's field map, resolved: each entry (store field in lower case, `is_*` argument
/// in lower case), the preset's first, then `fields` over them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    entries: Vec<(String, String)>,
}

impl FieldMap {
    /// The map of `preset` (when known) with `fields` added over it.
    pub fn new(preset: Option<&str>, fields: &BTreeMap<String, String>) -> FieldMap {
        let mut map = FieldMap::default();
        let preset_entries = preset.and_then(preset_entries).unwrap_or(&[]);
        let preset_pairs = preset_entries.iter().map(|(s, t)| (*s, *t));
        let field_pairs = fields.iter().map(|(s, t)| (s.as_str(), t.as_str()));
        for (source, target) in preset_pairs.chain(field_pairs) {
            let source = source.to_ascii_lowercase();
            let target = target.to_ascii_lowercase();
            match map.entries.iter_mut().find(|(s, _)| *s == source) {
                Some(entry) => entry.1 = target,
                None => map.entries.push((source, target)),
            }
        }
        map
    }

    /// The `is_*` argument the store field `name` (any case) is read as, if the map names it.
    pub fn target(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(name))
            .map(|(_, t)| t.as_str())
    }

    /// True when the map renames nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The entries of the preset `name` (exact, lower case as documented), if licd knows it.
fn preset_entries(name: &str) -> Option<&'static [(&'static str, &'static str)]> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

/// The rules of a vendor's `preset` and `fields` (step 3 of loading): not beside a plugin
/// (the plugin maps), a known preset, targets licd reads and that are no credentials, source
/// names that are no `is_*` names, and no source named twice in different cases.
pub(super) fn problems(vendor: &Vendor, place: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let has_map = vendor.preset.is_some() || !vendor.fields.is_empty();
    if has_map && vendor.plugin.is_some() {
        problems.push(format!(
            "{place}: `preset` and `fields` rename a store's fields, and this vendor has a \
             `plugin`, which maps them itself (its `map_args`); remove one of the two"
        ));
    }
    if let Some(preset) = &vendor.preset
        && preset_entries(preset).is_none()
    {
        let known: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        problems.push(format!(
            "{place}: `preset` is \"{preset}\", which licd does not know; known presets: {}",
            known.join(", ")
        ));
    }
    let mut seen: Vec<String> = Vec::new();
    for (source, target) in &vendor.fields {
        let lower = source.to_ascii_lowercase();
        if lower.is_empty() {
            problems.push(format!("{place}: `fields` has an empty field name"));
        } else if lower.starts_with("is_") {
            problems.push(format!(
                "{place}: `fields` maps `{source}`, which is already an is_* argument; map \
                 the store's own field names only"
            ));
        }
        if seen.contains(&lower) {
            problems.push(format!(
                "{place}: `fields` names `{source}` twice (field names match in any case)"
            ));
        }
        seen.push(lower);
        let target_lower = target.to_ascii_lowercase();
        if CREDENTIALS.contains(&target_lower.as_str()) {
            problems.push(format!(
                "{place}: `fields` maps `{source}` to `{target}`; a field map may not change \
                 who is authenticated"
            ));
        } else if !TARGETS.contains(&target_lower.as_str()) {
            problems.push(format!(
                "{place}: `fields` maps `{source}` to `{target}`, which is not an is_* \
                 argument licd knows (e.g. \"is_orderid\", \"is_subscriptionid\", \"is_email\")"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(s, t)| ((*s).to_string(), (*t).to_string()))
            .collect()
    }

    #[test]
    fn a_preset_loads_its_names_and_fields_add_to_and_override_it() {
        let map = FieldMap::new(
            Some("woocommerce"),
            &fields(&[("customer_email", "is_userdata1"), ("Sku", "is_productid")]),
        );
        assert_eq!(map.target("ORDERID"), Some("is_orderid"));
        assert_eq!(map.target("subscriptionId"), Some("is_subscriptionid"));
        assert_eq!(map.target("Customer_Email"), Some("is_userdata1"));
        assert_eq!(map.target("sku"), Some("is_productid"));
        assert_eq!(map.target("email"), None);
        assert!(FieldMap::new(None, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn every_preset_maps_only_to_targets_licd_knows_from_store_names() {
        for (name, entries) in PRESETS {
            for (source, target) in entries {
                assert!(TARGETS.contains(target), "{name}: {target}");
                assert!(
                    !source.to_ascii_lowercase().starts_with("is_"),
                    "{name}: {source}"
                );
            }
        }
    }
}
