//! Property tests of the two licence-editing syntaxes (`is_features`, `is_pp`): what licd
//! writes parses back to the same value, and no input, however odd, makes a parser panic.

use proptest::prelude::*;

use super::dates::format_datetime;
use super::features::Features;
use super::properties::{self, PropertyDef, PropertyType};

/// `9999-12-31 23:59:59`, the last time the wire form can express.
const MAX_TIME: i64 = 253_402_300_799;

/// A feature-set entry list with distinct sets, in any order.
fn feature_changes() -> impl Strategy<Value = Vec<(u8, u8)>> {
    proptest::sample::subsequence(vec![0u8, 1, 2, 3], 0..=4)
        .prop_flat_map(|sets| {
            let n = sets.len();
            (
                Just(sets).prop_shuffle(),
                proptest::collection::vec(any::<u8>(), n),
            )
        })
        .prop_map(|(sets, values)| sets.into_iter().zip(values).collect())
}

/// A category: no `.`, no separator, no surrounding whitespace.
fn category() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,10}"
}

/// A name: may hold dots (the name is split at the first one only).
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}"
}

/// A value as a client may send it: no `:` or `|`, and not a space followed by digits (the
/// decoded form of `+5`, which is refused on purpose).
fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 +._-]{0,20}".prop_filter("space then digits is refused", |v| {
        !(v.starts_with(' ') && v.trim_start().starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// Up to five `category.name::value[::expiry]` entries with distinct names.
fn property_entries() -> impl Strategy<Value = Vec<(String, String, String, Option<i64>)>> {
    proptest::collection::vec(
        (
            category(),
            name(),
            value(),
            proptest::option::of(0..=MAX_TIME),
        ),
        0..5,
    )
    .prop_map(|mut entries| {
        let mut seen = std::collections::HashSet::new();
        entries.retain(|(c, n, _, _)| seen.insert((c.clone(), n.clone())));
        entries
    })
}

fn render_entry(category: &str, name: &str, value: &str, expiry: Option<i64>) -> String {
    match expiry {
        Some(t) => format!("{category}.{name}::{value}::{}", format_datetime(t)),
        None => format!("{category}.{name}::{value}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_features_parse_back_to_the_same_sets(sets in any::<[u8; 4]>()) {
        let features = Features(sets);
        let changes = Features::parse_changes(&features.render()).unwrap();
        prop_assert_eq!(Features::default().with_changes(&changes), features);
    }

    #[test]
    fn features_written_with_any_separators_and_spacing_parse_to_the_same_changes(
        changes in feature_changes(),
        separators in proptest::collection::vec(prop_oneof![Just(";"), Just(","), Just(" ; "), Just(", ")], 4),
        trailing in any::<bool>(),
    ) {
        let mut text = String::new();
        for (i, (set, value)) in changes.iter().enumerate() {
            if i > 0 {
                text.push_str(separators[i]);
            }
            text.push_str(&format!("{set}:{value}"));
        }
        if trailing && !changes.is_empty() {
            text.push_str(separators[0]);
        }
        prop_assert_eq!(Features::parse_changes(&text).unwrap(), changes);
    }

    #[test]
    fn any_features_input_is_answered_without_a_panic(input in any::<String>()) {
        let _ = Features::parse_changes(&input);
    }

    #[test]
    fn feature_like_input_is_answered_without_a_panic(input in "[0-9:;, \t+-]{0,40}") {
        if let Ok(changes) = Features::parse_changes(&input) {
            prop_assert!(changes.iter().all(|&(set, _)| set < 4));
        }
    }

    #[test]
    fn rendered_property_entries_parse_back(entries in property_entries()) {
        let text = entries
            .iter()
            .map(|(c, n, v, e)| render_entry(c, n, v, *e))
            .collect::<Vec<_>>()
            .join("||");
        let parsed = properties::parse_changes(&text).unwrap();
        prop_assert_eq!(parsed.len(), entries.len());
        for (change, (c, n, v, e)) in parsed.iter().zip(&entries) {
            prop_assert_eq!(&change.category, c);
            prop_assert_eq!(&change.name, n);
            prop_assert_eq!(&change.value, v);
            prop_assert_eq!(change.expiry, *e);
        }
    }

    #[test]
    fn stored_values_rendered_as_entries_set_the_same_values_again(
        int in any::<i64>(),
        flag in any::<bool>(),
        text in value(),
        expiry in proptest::option::of(0..=MAX_TIME),
    ) {
        let defs = typed_defs();
        let first = format!(
            "{}||{}||{}",
            render_entry("n", "count", &int.to_string(), expiry),
            render_entry("b", "flag", &flag.to_string(), None),
            render_entry("s", "title", &text, expiry),
        );
        let stored = properties::apply_changes(&[], &defs, &properties::parse_changes(&first).unwrap()).unwrap();
        let again = stored
            .iter()
            .map(|p| render_entry(&p.category, &p.name, &p.value, p.expiry))
            .collect::<Vec<_>>()
            .join("||");
        let restored = properties::apply_changes(&[], &defs, &properties::parse_changes(&again).unwrap()).unwrap();
        prop_assert_eq!(restored, stored);
    }

    #[test]
    fn any_properties_input_is_answered_without_a_panic(input in any::<String>()) {
        if let Ok(changes) = properties::parse_changes(&input) {
            let _ = properties::apply_changes(&[], &typed_defs(), &changes);
        }
    }

    #[test]
    fn property_like_input_is_answered_without_a_panic(input in "[nbs.:|+ 0-9a-z-]{0,60}") {
        if let Ok(changes) = properties::parse_changes(&input) {
            let _ = properties::apply_changes(&[], &typed_defs(), &changes);
        }
    }
}

/// One property of each type, with defaults of 0 so that a leading `-` (a decrement) from no
/// value gives the same number as setting it.
fn typed_defs() -> Vec<PropertyDef> {
    [
        ("n", "count", PropertyType::Int, "0"),
        ("b", "flag", PropertyType::Bool, "false"),
        ("s", "title", PropertyType::String, ""),
    ]
    .into_iter()
    .map(|(category, name, ty, default)| PropertyDef {
        category: category.into(),
        name: name.into(),
        ty,
        default: default.into(),
    })
    .collect()
}
