//! Feature sets (`is_features`, `<features>`; methods.md, UpdateLicenseHttp).
//!
//! QLM licences carry four feature sets, each a byte whose bits are feature ids 1, 2, 4, …
//! 128. Requests name only the sets they change, so parsing yields a list of changes and
//! applying them leaves the other sets alone.

use serde::{Deserialize, Serialize};

use crate::license::refusal::Refusal;

/// The argument every message names, so a client knows which field to fix.
const ARGUMENT: &str = "is_features";

/// How much of a bad entry a message quotes: enough to find it, not enough to echo a page.
const MAX_QUOTED_CHARS: usize = 40;

/// The number of feature sets a licence has.
pub const FEATURE_SETS: usize = 4;

/// A licence's four feature sets; set `i` is `self.0[i]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features(pub [u8; FEATURE_SETS]);

impl Features {
    /// Reads `set:value` entries separated by `;` or `,` (an optional trailing separator,
    /// whitespace around tokens ignored): `0:3;1:1`. Empty or blank input is no change.
    /// A set named twice, a set outside 0–3, a value outside 0–255 or anything else is code 5
    /// naming the entry and `is_features`.
    pub fn parse_changes(input: &str) -> Result<Vec<(u8, u8)>, Refusal> {
        let mut changes: Vec<(u8, u8)> = Vec::new();
        if input.trim().is_empty() {
            return Ok(changes);
        }
        let entries: Vec<&str> = input.split([';', ',']).collect();
        let last = entries.len() - 1;
        for (index, raw) in entries.iter().enumerate() {
            let entry = raw.trim();
            if entry.is_empty() {
                if index == last {
                    // The trailing separator QLM itself writes (`0:7;2:1;`).
                    break;
                }
                return Err(invalid(format!(
                    "{ARGUMENT} has an empty entry; write set:value pairs separated by ';', \
                     e.g. 0:3;1:1."
                )));
            }
            let (set, value) = parse_entry(entry)?;
            if changes.iter().any(|&(seen, _)| seen == set) {
                return Err(invalid(format!(
                    "{ARGUMENT} names feature set {set} twice ('{}'); name each set once.",
                    quote(entry)
                )));
            }
            changes.push((set, value));
        }
        Ok(changes)
    }

    /// These sets with the changes applied; sets not named keep their value.
    pub fn with_changes(self, changes: &[(u8, u8)]) -> Features {
        let mut sets = self.0;
        for &(set, value) in changes {
            if let Some(slot) = sets.get_mut(usize::from(set)) {
                *slot = value;
            }
        }
        Features(sets)
    }

    /// The reply form: `set:value;` for each set that is not 0 (`0:7;2:1;`), `""` for none.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (set, &value) in self.0.iter().enumerate() {
            if value != 0 {
                out.push_str(&format!("{set}:{value};"));
            }
        }
        out
    }
}

/// One `set:value` entry, already trimmed and not empty.
fn parse_entry(entry: &str) -> Result<(u8, u8), Refusal> {
    let syntax = || {
        invalid(format!(
            "{ARGUMENT} entry '{}' is not set:value; write e.g. 0:3;1:1 (sets 0 to 3, values \
             0 to 255).",
            quote(entry)
        ))
    };
    let (set_text, value_text) = entry.split_once(':').ok_or_else(syntax)?;
    let set = number(set_text.trim()).ok_or_else(syntax)?;
    let value = number(value_text.trim()).ok_or_else(syntax)?;
    let set = u8::try_from(set)
        .ok()
        .filter(|&s| usize::from(s) < FEATURE_SETS)
        .ok_or_else(|| {
            invalid(format!(
                "{ARGUMENT} entry '{}' names feature set {set}; sets are 0 to 3.",
                quote(entry)
            ))
        })?;
    let value = u8::try_from(value).map_err(|_| {
        invalid(format!(
            "{ARGUMENT} entry '{}' has value {value}; a feature set's value is 0 to 255.",
            quote(entry)
        ))
    })?;
    Ok((set, value))
}

/// A run of ASCII decimal digits (no sign: `u8::from_str` would take `+7`). Values too long
/// for a `u32` saturate, which is still out of range and reported as such.
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

/// An invalid-value refusal (code 5 on the wire) with the given sentence.
fn invalid(message: String) -> Refusal {
    Refusal::invalid(message)
}

/// At most [`MAX_QUOTED_CHARS`] characters of client input for a message.
fn quote(text: &str) -> String {
    crate::text::quote_at_most(text, MAX_QUOTED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::refusal::Reason;

    fn refused(input: &str) -> Refusal {
        let err = Features::parse_changes(input).unwrap_err();
        assert_eq!(err.reason, Reason::Invalid, "{input:?}");
        assert!(err.message.contains("is_features"), "{}", err.message);
        err
    }

    #[test]
    fn pairs_parse_in_order() {
        assert_eq!(
            Features::parse_changes("0:3;1:1").unwrap(),
            vec![(0, 3), (1, 1)]
        );
    }

    #[test]
    fn commas_trailing_separator_and_whitespace_are_accepted() {
        assert_eq!(
            Features::parse_changes(" 0 : 3 , 1:1; 2:0 ;").unwrap(),
            vec![(0, 3), (1, 1), (2, 0)]
        );
        assert_eq!(Features::parse_changes("3:255,").unwrap(), vec![(3, 255)]);
    }

    #[test]
    fn empty_input_is_no_change() {
        assert!(Features::parse_changes("").unwrap().is_empty());
        assert!(Features::parse_changes("  ").unwrap().is_empty());
    }

    #[test]
    fn edge_values_set_3_and_value_255_are_accepted() {
        assert_eq!(
            Features::parse_changes("3:255;0:0").unwrap(),
            vec![(3, 255), (0, 0)]
        );
        assert_eq!(Features::parse_changes("003:0255").unwrap(), vec![(3, 255)]);
    }

    #[test]
    fn set_4_is_refused_naming_the_entry() {
        let err = refused("0:1;4:1");
        assert!(err.message.contains("'4:1'"), "{}", err.message);
        assert!(err.message.contains("0 to 3"), "{}", err.message);
    }

    #[test]
    fn value_256_is_refused_naming_the_entry() {
        let err = refused("1:256");
        assert!(err.message.contains("'1:256'"), "{}", err.message);
        assert!(err.message.contains("0 to 255"), "{}", err.message);
        refused("1:99999999999999999999999");
    }

    #[test]
    fn a_set_named_twice_is_refused() {
        let err = refused("1:1;0:2;1:3");
        assert!(err.message.contains("twice"), "{}", err.message);
        assert!(err.message.contains("'1:3'"), "{}", err.message);
    }

    #[test]
    fn bad_syntax_is_refused() {
        for bad in [
            "0", "0:", ":3", "0:3:1", "a:1", "0:x", "-1:1", "0:-1", "+0:1", "0:+1", "0;;1:1", ";",
            "0:1;;", "0=1", "0 1:1", "٣:1",
        ] {
            refused(bad);
        }
    }

    #[test]
    fn long_bad_entries_are_quoted_short() {
        let long = format!("0:{}", "x".repeat(5000));
        let err = refused(&long);
        assert!(err.message.len() < 200, "{}", err.message);
    }

    #[test]
    fn sets_not_named_keep_their_value() {
        let before = Features([1, 2, 3, 4]);
        assert_eq!(
            before.with_changes(&[(1, 0), (3, 255)]),
            Features([1, 0, 3, 255])
        );
        assert_eq!(before.with_changes(&[]), before);
    }

    #[test]
    fn render_lists_non_zero_sets_with_trailing_separators() {
        assert_eq!(Features([7, 0, 1, 0]).render(), "0:7;2:1;");
        assert_eq!(Features([0, 0, 0, 255]).render(), "3:255;");
        assert_eq!(Features::default().render(), "");
    }

    #[test]
    fn rendered_form_parses_back() {
        let features = Features([7, 0, 1, 200]);
        let changes = Features::parse_changes(&features.render()).unwrap();
        assert_eq!(Features::default().with_changes(&changes), features);
    }
}
