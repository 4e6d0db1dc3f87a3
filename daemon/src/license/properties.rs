//! Product properties (`is_pp`, `<productProperties>`; methods.md, UpdateLicenseHttp).
//!
//! A product declares typed properties in the configuration (`[[product.property]]`); a
//! licence stores values for some of them, each with an optional expiry. Parsing an `is_pp`
//! argument is split from applying it because the order of checks (methods.md) puts syntax
//! before the licence look-up, and the declared types are only known once the licence (and so
//! its product) is found.
//!
//! Decisions the spec leaves open, fixed here:
//! - An entry states a property's whole new state: one without `::expiry` leaves the property
//!   with no expiry, also when it adds to an int.
//! - Categories and names are matched exactly (case-sensitive), as declared in the
//!   configuration; whitespace around them is ignored. The value is taken as sent.
//! - Because `+N` and `-N` add and subtract, an int property cannot be set to a negative
//!   number directly: `-5` is a decrement by 5. Set it to 0, then send `-5` in a later request.

use serde::{Deserialize, Serialize};

use super::dates;
use crate::license::refusal::{Reason, Refusal};

/// The argument every message names.
const ARGUMENT: &str = "is_pp";

/// Separates entries.
const ENTRY_SEPARATOR: &str = "||";

/// Separates name, value and expiry within an entry.
const FIELD_SEPARATOR: &str = "::";

/// The longest string value, in characters.
pub const MAX_STRING_CHARS: usize = 1024;

/// How much client input a message quotes, so that a reply never echoes a page of it.
const MAX_QUOTED_CHARS: usize = 120;

/// A property's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// A signed 64-bit integer; `+N`/`-N` add and subtract.
    Int,
    /// `true` or `false`, stored lowercase.
    Bool,
    /// Text of at most [`MAX_STRING_CHARS`] characters.
    String,
}

impl PropertyType {
    /// The name used in the configuration and in the `type` attribute of `<property>`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PropertyType::Int => "int",
            PropertyType::Bool => "bool",
            PropertyType::String => "string",
        }
    }
}

/// A property a product accepts, as declared in `[[product.property]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyDef {
    /// The part before the first `.` in `is_pp`.
    pub category: String,
    /// The part after the first `.`.
    pub name: String,
    /// What values are accepted.
    #[serde(rename = "type")]
    pub ty: PropertyType,
    /// The value an int starts from when a licence has none yet (empty means 0 for an int).
    #[serde(default)]
    pub default: String,
}

/// A property value stored on a licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyValue {
    /// The property's category.
    pub category: String,
    /// The property's name within its category.
    pub name: String,
    /// The type declared when the value was set (sent in the `type` attribute).
    pub ty: PropertyType,
    /// The value in canonical form (an int in decimal, a bool lowercase).
    pub value: String,
    /// When the value stops applying, UTC Unix seconds.
    pub expiry: Option<i64>,
}

/// One `is_pp` entry, checked for syntax but not yet against the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChange {
    /// The part before the first `.`, trimmed.
    pub category: String,
    /// The part after the first `.`, trimmed.
    pub name: String,
    /// The value as sent; its meaning depends on the declared type.
    pub value: String,
    /// The new expiry; `None` when the entry has none.
    pub expiry: Option<i64>,
    /// The entry as sent, shortened, for messages.
    entry: String,
}

/// Reads `category.name::value` and `category.name::value::expiry` entries separated by
/// `||`. Checks syntax only (code 2200): the shape, the expiry, a value that starts with a
/// space and digits (a `+` the URL decoding turned into a space), and a property named twice.
/// Empty input is no change.
pub fn parse_changes(input: &str) -> Result<Vec<PropertyChange>, Refusal> {
    let mut changes: Vec<PropertyChange> = Vec::new();
    if input.trim().is_empty() {
        return Ok(changes);
    }
    for entry in input.split(ENTRY_SEPARATOR) {
        let change = parse_entry(entry)?;
        refuse_if_named_before(&changes, &change)?;
        changes.push(change);
    }
    Ok(changes)
}

/// The licence's properties after `changes`: each change checked against its declaration in
/// `defs` (2201 when undeclared, 2200 when the value does not fit the type or an int
/// overflows); values not named are kept. Sorted by category, then name, so the stored and
/// replied order does not depend on the order of requests.
pub fn apply_changes(
    current: &[PropertyValue],
    defs: &[PropertyDef],
    changes: &[PropertyChange],
) -> Result<Vec<PropertyValue>, Refusal> {
    let mut result = current.to_vec();
    for (index, change) in changes.iter().enumerate() {
        refuse_if_named_before(&changes[..index], change)?;
        let def = defs
            .iter()
            .find(|def| def.category == change.category && def.name == change.name)
            .ok_or_else(|| {
                Refusal::new(
                    Reason::UnknownProperty,
                    format!(
                        "{ARGUMENT} entry '{}': the product has no property {}.{}; check the \
                         product's [[product.property]] list.",
                        change.entry,
                        quote(&change.category),
                        quote(&change.name)
                    ),
                )
            })?;
        let existing = result
            .iter()
            .position(|v| v.category == change.category && v.name == change.name);
        let value = match def.ty {
            PropertyType::Int => {
                int_value(change, def, existing.and_then(|i| result.get(i)))?.to_string()
            }
            PropertyType::Bool => bool_value(&change.value)
                .ok_or_else(|| {
                    property_error(
                        change,
                        "is a bool; the value must be true or false.".to_owned(),
                    )
                })?
                .to_owned(),
            PropertyType::String => {
                let length = change.value.chars().count();
                if length > MAX_STRING_CHARS {
                    return Err(property_error(
                        change,
                        format!(
                            "is a string of at most {MAX_STRING_CHARS} characters; this value \
                             has {length}."
                        ),
                    ));
                }
                change.value.clone()
            }
        };
        let updated = PropertyValue {
            category: change.category.clone(),
            name: change.name.clone(),
            ty: def.ty,
            value,
            expiry: change.expiry,
        };
        match existing.and_then(|i| result.get_mut(i)) {
            Some(slot) => *slot = updated,
            None => result.push(updated),
        }
    }
    result.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
    Ok(result)
}

/// What a licence holds for each property its product declares, as replies show it: the
/// licence's own value (and expiry) where it has one, else the declared default in stored
/// form, with no expiry. An empty default reads as `0` for an int (the value `+N` starts
/// from), `false` for a bool and the empty string for a string. Values the licence holds for
/// properties the product no longer declares are left out: a client can only use what the
/// product defines. The type is the declared one. Sorted by category, then name, the order
/// values are stored in, so the reply does not depend on the order of the configuration.
pub fn declared_values(defs: &[PropertyDef], stored: &[PropertyValue]) -> Vec<PropertyValue> {
    let mut values: Vec<PropertyValue> = defs
        .iter()
        .map(|def| {
            let own = stored
                .iter()
                .find(|v| v.category == def.category && v.name == def.name);
            PropertyValue {
                category: def.category.clone(),
                name: def.name.clone(),
                ty: def.ty,
                value: own.map_or_else(|| default_value(def), |v| v.value.clone()),
                expiry: own.and_then(|v| v.expiry),
            }
        })
        .collect();
    values.sort_by(|a, b| (&a.category, &a.name).cmp(&(&b.category, &b.name)));
    values
}

/// A declared default in stored form (`+5` → `5`, `TRUE` → `true`); an empty (or, for a
/// configuration that predates the check, unreadable) default as [`declared_values`] says.
fn default_value(def: &PropertyDef) -> String {
    match def.ty {
        PropertyType::Int => parse_int(def.default.trim()).unwrap_or(0).to_string(),
        PropertyType::Bool => bool_value(def.default.trim()).unwrap_or("false").to_owned(),
        PropertyType::String => def.default.clone(),
    }
}

/// Whether `value` is a valid stored value of type `ty`: an int is an optional sign and
/// decimal digits within 64 bits, a bool `true`/`false` in any case, a string at most
/// [`MAX_STRING_CHARS`] characters. The configuration checks declared defaults with it.
pub fn check_value(ty: PropertyType, value: &str) -> bool {
    match ty {
        PropertyType::Int => parse_int(value).is_some(),
        PropertyType::Bool => bool_value(value).is_some(),
        PropertyType::String => value.chars().count() <= MAX_STRING_CHARS,
    }
}

/// One entry: splits name, value and optional expiry, and the name at its first `.`.
fn parse_entry(entry: &str) -> Result<PropertyChange, Refusal> {
    let shown = quote(entry);
    let malformed = || {
        Refusal::new(
            Reason::BadProperty,
            format!(
                "{ARGUMENT} entry '{shown}' is not category.name::value or \
                 category.name::value::expiry; separate entries with ||."
            ),
        )
    };
    let fields: Vec<&str> = entry.split(FIELD_SEPARATOR).collect();
    let (full_name, value, expiry_text) = match fields.as_slice() {
        [full_name, value] => (*full_name, *value, None),
        [full_name, value, expiry] => (*full_name, *value, Some(expiry.trim())),
        _ => return Err(malformed()),
    };
    let (category, name) = full_name.split_once('.').ok_or_else(malformed)?;
    let (category, name) = (category.trim(), name.trim());
    if category.is_empty() || name.is_empty() {
        return Err(malformed());
    }
    let expiry = match expiry_text {
        None => None,
        Some(text) => Some(dates::parse_expiry(text).ok_or_else(|| {
            Refusal::new(
                Reason::BadProperty,
                format!(
                    "{ARGUMENT} entry '{shown}' has expiry '{}'; write yyyy-MM-dd or \
                     yyyy-MM-dd HH:mm:ss (UTC).",
                    quote(text)
                ),
            )
        })?),
    };
    if value.starts_with(' ') && value.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Refusal::new(
            Reason::BadProperty,
            format!(
                "{ARGUMENT} entry '{shown}' has a value starting with a space; a '+' in a URL \
                 or form decodes to a space, so send +5 as %2B5."
            ),
        ));
    }
    Ok(PropertyChange {
        category: category.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
        expiry,
        entry: shown,
    })
}

/// A bad-property refusal (code 2200) when `change` names a property already named in
/// `earlier`.
fn refuse_if_named_before(
    earlier: &[PropertyChange],
    change: &PropertyChange,
) -> Result<(), Refusal> {
    if earlier
        .iter()
        .any(|c| c.category == change.category && c.name == change.name)
    {
        return Err(Refusal::new(
            Reason::BadProperty,
            format!(
                "{ARGUMENT} names property {}.{} twice; name each property once.",
                quote(&change.category),
                quote(&change.name)
            ),
        ));
    }
    Ok(())
}

/// The new value of an int property: an absolute number, or the current value (the declared
/// default when unset) plus or minus the number when the value starts with `+` or `-`.
fn int_value(
    change: &PropertyChange,
    def: &PropertyDef,
    current: Option<&PropertyValue>,
) -> Result<i64, Refusal> {
    let text = change.value.as_str();
    let not_an_int = || {
        property_error(
            change,
            "is an int; the value must be a whole number, or +N / -N to add or subtract \
             (send + as %2B)."
                .to_owned(),
        )
    };
    let relative = text.starts_with(['+', '-']);
    let digits = if relative { &text[1..] } else { text };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_an_int());
    }
    let out_of_range = || {
        property_error(
            change,
            "is a 64-bit int; this value is out of range.".to_owned(),
        )
    };
    // `i64::from_str` takes the sign itself, which keeps i64::MIN (`-9223372036854775808`)
    // a valid decrement.
    let number: i64 = text.parse().map_err(|_| out_of_range())?;
    if !relative {
        return Ok(number);
    }
    let (base_text, base_origin) = match current {
        Some(value) => (value.value.as_str(), "current value"),
        None => (def.default.as_str(), "declared default"),
    };
    let base = if base_text.trim().is_empty() {
        0
    } else {
        parse_int(base_text).ok_or_else(|| {
            property_error(
                change,
                format!(
                    "has the {base_origin} '{}', which is not an int, so {text} cannot be added \
                     to it; send a whole number instead.",
                    quote(base_text)
                ),
            )
        })?
    };
    base.checked_add(number).ok_or_else(|| {
        property_error(
            change,
            format!("is a 64-bit int; {base} {text} overflows it."),
        )
    })
}

/// A stored value or declared default as an int: an optional sign and decimal digits within
/// 64 bits, nothing else (no spaces). A `+` is accepted because the configuration's check
/// accepts `default = "+5"`; a stored value is always written without one.
fn parse_int(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// `true`/`false` in any case, in the stored lowercase form.
fn bool_value(text: &str) -> Option<&'static str> {
    if text.eq_ignore_ascii_case("true") {
        Some("true")
    } else if text.eq_ignore_ascii_case("false") {
        Some("false")
    } else {
        None
    }
}

/// A bad-property refusal (code 2200) naming the entry and the property, followed by what is
/// wrong.
fn property_error(change: &PropertyChange, problem: String) -> Refusal {
    Refusal::new(
        Reason::BadProperty,
        format!(
            "{ARGUMENT} entry '{}': property {}.{} {problem}",
            change.entry,
            quote(&change.category),
            quote(&change.name)
        ),
    )
}

/// At most [`MAX_QUOTED_CHARS`] characters of client input.
fn quote(text: &str) -> String {
    crate::text::quote_at_most(text, MAX_QUOTED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(category: &str, name: &str, ty: PropertyType, default: &str) -> PropertyDef {
        PropertyDef {
            category: category.to_owned(),
            name: name.to_owned(),
            ty,
            default: default.to_owned(),
        }
    }

    fn defs() -> Vec<PropertyDef> {
        vec![
            def("quality", "module_validation", PropertyType::Int, "0"),
            def("quality", "credits", PropertyType::Int, "10"),
            def("quality", "unset", PropertyType::Int, ""),
            def("modules", "reports", PropertyType::Bool, "false"),
            def("branding", "title", PropertyType::String, ""),
            def("a", "b.c", PropertyType::String, ""),
        ]
    }

    fn stored(category: &str, name: &str, ty: PropertyType, value: &str) -> PropertyValue {
        PropertyValue {
            category: category.to_owned(),
            name: name.to_owned(),
            ty,
            value: value.to_owned(),
            expiry: None,
        }
    }

    fn apply(current: &[PropertyValue], input: &str) -> Result<Vec<PropertyValue>, Refusal> {
        apply_changes(current, &defs(), &parse_changes(input)?)
    }

    fn value_of(values: &[PropertyValue], category: &str, name: &str) -> String {
        values
            .iter()
            .find(|v| v.category == category && v.name == name)
            .map(|v| v.value.clone())
            .unwrap()
    }

    fn refused_with(result: Result<Vec<PropertyValue>, Refusal>, reason: Reason) -> String {
        let err = result.unwrap_err();
        assert_eq!(err.reason, reason, "{}", err.message);
        assert!(err.message.contains("is_pp"), "{}", err.message);
        err.message
    }

    #[test]
    fn entries_parse_with_and_without_expiry() {
        let changes =
            parse_changes("quality.module_validation::76::2027-12-31||modules.reports::TRUE")
                .unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].category, "quality");
        assert_eq!(changes[0].name, "module_validation");
        assert_eq!(changes[0].value, "76");
        assert_eq!(
            changes[0].expiry,
            dates::parse_expiry("2027-12-31 23:59:59")
        );
        assert_eq!(changes[1].expiry, None);
    }

    #[test]
    fn empty_input_is_no_change() {
        assert!(parse_changes("").unwrap().is_empty());
        assert!(parse_changes("   ").unwrap().is_empty());
    }

    #[test]
    fn name_is_split_at_the_first_dot() {
        let changes = parse_changes("a.b.c::x").unwrap();
        assert_eq!(
            (changes[0].category.as_str(), changes[0].name.as_str()),
            ("a", "b.c")
        );
        let values = apply(&[], "a.b.c::x").unwrap();
        assert_eq!(value_of(&values, "a", "b.c"), "x");
    }

    #[test]
    fn malformed_entries_are_2200() {
        for bad in [
            "quality.module_validation",
            "quality.module_validation:5",
            "module_validation::5",
            ".module_validation::5",
            "quality.::5",
            " . ::5",
            "quality.module_validation::5::2027-12-31::x",
            "quality.module_validation::5||",
            "||quality.module_validation::5",
            "quality.module_validation::5|modules.reports::true",
        ] {
            refused_with(parse_changes(bad).map(|_| Vec::new()), Reason::BadProperty);
        }
    }

    #[test]
    fn bad_expiry_is_2200() {
        for bad in [
            "quality.credits::5::2027-13-01",
            "quality.credits::5::tomorrow",
            "quality.credits::5::",
            "quality.credits::5::2027-12-31T00:00:00",
        ] {
            let message = refused_with(parse_changes(bad).map(|_| Vec::new()), Reason::BadProperty);
            assert!(message.contains("yyyy-MM-dd"), "{message}");
        }
    }

    #[test]
    fn expiry_with_time_is_kept_exactly() {
        let values = apply(&[], "quality.credits::5::2027-12-31 10:00:00").unwrap();
        assert_eq!(
            values[0].expiry,
            dates::parse_datetime("2027-12-31 10:00:00")
        );
    }

    #[test]
    fn value_starting_with_space_and_digits_is_2200_with_the_percent_2b_hint() {
        let message = refused_with(
            parse_changes("quality.credits:: 5").map(|_| Vec::new()),
            Reason::BadProperty,
        );
        assert!(message.contains("%2B"), "{message}");
    }

    #[test]
    fn property_named_twice_is_2200() {
        let message = refused_with(
            parse_changes("quality.credits::5||modules.reports::true||quality.credits::+1")
                .map(|_| Vec::new()),
            Reason::BadProperty,
        );
        assert!(message.contains("quality.credits twice"), "{message}");
    }

    #[test]
    fn undeclared_property_is_2201_naming_it() {
        let message = refused_with(apply(&[], "quality.nope::5"), Reason::UnknownProperty);
        assert!(message.contains("quality.nope"), "{message}");
        refused_with(apply(&[], "Quality.credits::5"), Reason::UnknownProperty);
    }

    #[test]
    fn int_is_set_absolutely_and_stored_canonically() {
        let values = apply(&[], "quality.credits::0076").unwrap();
        assert_eq!(value_of(&values, "quality", "credits"), "76");
        assert_eq!(values[0].ty, PropertyType::Int);
        let max = apply(&[], "quality.credits::9223372036854775807").unwrap();
        assert_eq!(value_of(&max, "quality", "credits"), i64::MAX.to_string());
    }

    #[test]
    fn int_that_is_not_a_number_is_2200() {
        for bad in [
            "quality.credits::",
            "quality.credits::5x",
            "quality.credits::5 ",
            "quality.credits::+",
            "quality.credits::--5",
            "quality.credits::+-5",
            "quality.credits::1.5",
            "quality.credits::abc",
        ] {
            refused_with(apply(&[], bad), Reason::BadProperty);
        }
    }

    #[test]
    fn int_beyond_64_bits_is_2200() {
        refused_with(
            apply(&[], "quality.credits::9223372036854775808"),
            Reason::BadProperty,
        );
    }

    #[test]
    fn plus_adds_to_the_current_value() {
        let current = [stored("quality", "credits", PropertyType::Int, "40")];
        let values = apply(&current, "quality.credits::+2").unwrap();
        assert_eq!(value_of(&values, "quality", "credits"), "42");
    }

    #[test]
    fn minus_subtracts_and_so_is_a_decrement_not_a_negative_value() {
        let current = [stored("quality", "credits", PropertyType::Int, "40")];
        let values = apply(&current, "quality.credits::-5").unwrap();
        assert_eq!(value_of(&values, "quality", "credits"), "35");
        let below_zero = apply(&current, "quality.credits::-50").unwrap();
        assert_eq!(value_of(&below_zero, "quality", "credits"), "-10");
    }

    #[test]
    fn relative_change_of_an_unset_int_starts_from_the_declared_default() {
        let values = apply(&[], "quality.credits::+5").unwrap();
        assert_eq!(value_of(&values, "quality", "credits"), "15");
        let from_empty_default = apply(&[], "quality.unset::-3").unwrap();
        assert_eq!(value_of(&from_empty_default, "quality", "unset"), "-3");
    }

    #[test]
    fn i64_max_plus_one_overflows_with_2200() {
        let current = [stored(
            "quality",
            "credits",
            PropertyType::Int,
            &i64::MAX.to_string(),
        )];
        let message = refused_with(apply(&current, "quality.credits::+1"), Reason::BadProperty);
        assert!(message.contains("overflows"), "{message}");
        let minimum = [stored("quality", "credits", PropertyType::Int, "0")];
        let at_min = apply(&minimum, "quality.credits::-9223372036854775808").unwrap();
        assert_eq!(
            value_of(&at_min, "quality", "credits"),
            i64::MIN.to_string()
        );
        let below = [stored("quality", "credits", PropertyType::Int, "-1")];
        refused_with(
            apply(&below, "quality.credits::-9223372036854775808"),
            Reason::BadProperty,
        );
    }

    #[test]
    fn relative_change_of_a_stored_non_int_is_2200() {
        let current = [stored("quality", "credits", PropertyType::String, "lots")];
        refused_with(apply(&current, "quality.credits::+1"), Reason::BadProperty);
        let replaced = apply(&current, "quality.credits::3").unwrap();
        assert_eq!(value_of(&replaced, "quality", "credits"), "3");
    }

    #[test]
    fn bool_is_true_or_false_in_any_case_stored_lowercase() {
        let values = apply(&[], "modules.reports::TrUe").unwrap();
        assert_eq!(value_of(&values, "modules", "reports"), "true");
        assert_eq!(values[0].ty, PropertyType::Bool);
        for bad in [
            "modules.reports::1",
            "modules.reports::yes",
            "modules.reports::",
        ] {
            refused_with(apply(&[], bad), Reason::BadProperty);
        }
    }

    #[test]
    fn string_is_at_most_1024_characters() {
        let ok = format!("branding.title::{}", "é".repeat(MAX_STRING_CHARS));
        let values = apply(&[], &ok).unwrap();
        assert_eq!(value_of(&values, "branding", "title").chars().count(), 1024);
        let too_long = format!("branding.title::{}", "x".repeat(MAX_STRING_CHARS + 1));
        let message = refused_with(apply(&[], &too_long), Reason::BadProperty);
        assert!(message.contains("1025"), "{message}");
    }

    #[test]
    fn string_value_is_kept_as_sent() {
        let values = apply(&[], "branding.title::  Acme +Pro  ").unwrap();
        assert_eq!(value_of(&values, "branding", "title"), "  Acme +Pro  ");
        let signed = apply(&[], "branding.title::+5").unwrap();
        assert_eq!(value_of(&signed, "branding", "title"), "+5");
    }

    #[test]
    fn values_not_named_are_kept_and_result_is_sorted() {
        let current = [
            stored("quality", "credits", PropertyType::Int, "1"),
            stored("branding", "title", PropertyType::String, "Acme"),
        ];
        let values = apply(&current, "modules.reports::true||a.b.c::x").unwrap();
        let names: Vec<(&str, &str)> = values
            .iter()
            .map(|v| (v.category.as_str(), v.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a", "b.c"),
                ("branding", "title"),
                ("modules", "reports"),
                ("quality", "credits")
            ]
        );
        assert_eq!(value_of(&values, "branding", "title"), "Acme");
    }

    #[test]
    fn an_entry_without_expiry_leaves_the_property_without_one() {
        let mut current = stored("quality", "credits", PropertyType::Int, "1");
        current.expiry = dates::parse_expiry("2027-12-31");
        let values = apply(&[current], "quality.credits::+1").unwrap();
        assert_eq!(values[0].expiry, None);
    }

    #[test]
    fn a_refused_entry_among_good_ones_refuses_the_whole_argument() {
        let current = [stored("quality", "credits", PropertyType::Int, "1")];
        refused_with(
            apply(&current, "quality.credits::5||modules.reports::maybe"),
            Reason::BadProperty,
        );
    }

    #[test]
    fn messages_quote_at_most_a_short_piece_of_the_input() {
        let long = format!("quality.{}::5", "n".repeat(5000));
        let err = apply(&[], &long).unwrap_err();
        assert!(err.message.chars().count() < 500, "{}", err.message.len());
        let malformed = "x".repeat(5000);
        let err = parse_changes(&malformed).unwrap_err();
        assert!(err.message.chars().count() < 300, "{}", err.message.len());
    }

    #[test]
    fn declared_values_take_the_licence_value_else_the_default_sorted_by_name() {
        let mut own = stored("quality", "credits", PropertyType::Int, "25");
        own.expiry = Some(1_900_000_000);
        let gone = stored("old", "removed", PropertyType::String, "x");
        let values = declared_values(&defs(), &[own.clone(), gone]);
        let shown: Vec<(String, String)> = values
            .iter()
            .map(|v| (format!("{}.{}", v.category, v.name), v.value.clone()))
            .collect();
        let expected = [
            ("a.b.c", ""),
            ("branding.title", ""),
            ("modules.reports", "false"),
            ("quality.credits", "25"),
            ("quality.module_validation", "0"),
            ("quality.unset", "0"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(shown, expected);
        let credits = values.iter().find(|v| v.name == "credits").unwrap();
        assert_eq!(credits, &own, "the licence's own value keeps its expiry");
        assert!(
            values
                .iter()
                .filter(|v| v.name != "credits")
                .all(|v| v.expiry.is_none())
        );
    }

    #[test]
    fn declared_defaults_are_shown_in_stored_form() {
        let defs = [
            def("q", "plus", PropertyType::Int, "+5"),
            def("q", "flag", PropertyType::Bool, "TRUE"),
            def("q", "empty_flag", PropertyType::Bool, ""),
        ];
        let values = declared_values(&defs, &[]);
        let value = |name: &str| {
            values
                .iter()
                .find(|v| v.name == name)
                .map(|v| v.value.as_str())
        };
        assert_eq!(value("plus"), Some("5"));
        assert_eq!(value("flag"), Some("true"));
        assert_eq!(value("empty_flag"), Some("false"));
        assert!(declared_values(&[], &[stored("q", "plus", PropertyType::Int, "1")]).is_empty());
    }

    #[test]
    fn check_value_validates_defaults_by_type() {
        assert!(check_value(PropertyType::Int, "0"));
        assert!(check_value(PropertyType::Int, "-5"));
        assert!(check_value(PropertyType::Int, "9223372036854775807"));
        assert!(!check_value(PropertyType::Int, "9223372036854775808"));
        assert!(check_value(PropertyType::Int, "+5"));
        assert!(!check_value(PropertyType::Int, " 5"));
        assert!(!check_value(PropertyType::Int, "--5"));
        assert!(!check_value(PropertyType::Int, ""));
        assert!(check_value(PropertyType::Bool, "False"));
        assert!(!check_value(PropertyType::Bool, "0"));
        assert!(check_value(PropertyType::String, ""));
        assert!(!check_value(PropertyType::String, &"x".repeat(1025)));
    }

    #[test]
    fn type_names_match_the_configuration() {
        assert_eq!(PropertyType::Int.as_str(), "int");
        assert_eq!(PropertyType::Bool.as_str(), "bool");
        assert_eq!(PropertyType::String.as_str(), "string");
    }
}
