//! Legacy keys: activation keys and computer keys a shop's QLM server gave out, imported by
//! `licd import-qlm` (docs/moving-from-qlm.md) and kept as QLM wrote them, since they are
//! already in customers' hands.
//!
//! QLM's keys have their own alphabet and no check character that licd can verify (the
//! example in QLM's documents, `FGGH0-S0K00-71B18-S868R-1F1J2-UQKPUN`, has a `U`, which
//! Crockford base 32 leaves out). They are therefore found by exact match after the
//! normalisation QLM itself applies to a key typed in: case and dashes (and spaces) do not
//! count. Nothing else is folded: `O` and `0` are different characters in a QLM key.
//!
//! A legacy key is stored as [`MARKER`] followed by that normal form. The marker is no
//! character of licd's alphabet, so a legacy key can never equal a licd key whatever its
//! length, and nothing reads a licence model from its first letter.

/// The first character of a stored legacy key.
pub const MARKER: char = '~';

/// The fewest characters a legacy key has, dashes and spaces aside: shorter input is a
/// typing slip, not a key, and is answered "not found" without a look-up.
pub const MIN_LENGTH: usize = 8;

/// The most characters a legacy key has, dashes and spaces aside (QLM's are about 30).
pub const MAX_LENGTH: usize = 64;

/// Why a string cannot be a legacy key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegacyKeyError {
    /// Too short or too long once dashes and spaces are removed.
    #[error(
        "a QLM key has {MIN_LENGTH} to {MAX_LENGTH} letters and digits (dashes and spaces aside); this one has {found}"
    )]
    Length {
        /// Characters found, dashes and spaces aside.
        found: usize,
    },
    /// A character that is neither an ASCII letter nor a digit.
    #[error("a QLM key holds only letters, digits and dashes, not {found:?}")]
    Character {
        /// The character.
        found: char,
    },
}

/// QLM's normal form of a key: dashes and whitespace dropped, ASCII letters uppercased.
/// Refuses what no QLM key looks like.
pub fn normal_form(input: &str) -> Result<String, LegacyKeyError> {
    let mut out = String::with_capacity(input.len());
    for c in input.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
        if !c.is_ascii_alphanumeric() {
            return Err(LegacyKeyError::Character { found: c });
        }
        out.push(c.to_ascii_uppercase());
    }
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&out.len()) {
        return Err(LegacyKeyError::Length { found: out.len() });
    }
    Ok(out)
}

/// The stored form of a legacy key: [`MARKER`] and the normal form.
pub fn stored_form(input: &str) -> Result<String, LegacyKeyError> {
    normal_form(input).map(|normal| format!("{MARKER}{normal}"))
}

/// Whether a stored key is a legacy one.
pub fn is_legacy(stored: &str) -> bool {
    stored.starts_with(MARKER)
}

/// A stored legacy key as QLM shows it: groups of five joined by dashes, a last lone
/// character joining the group before (`FGGH0-S0K00-71B18-S868R-1F1J2-UQKPUN`, 31
/// characters, is QLM's own example).
pub fn shown_form(stored: &str) -> String {
    let normal: Vec<char> = stored.trim_start_matches(MARKER).chars().collect();
    let mut groups: Vec<String> = normal.chunks(5).map(|g| g.iter().collect()).collect();
    if groups.len() > 1 && groups.last().is_some_and(|g| g.len() == 1) {
        let last = groups.pop().unwrap_or_default();
        if let Some(before) = groups.last_mut() {
            before.push_str(&last);
        }
    }
    groups.join("-")
}

/// Whether a computer key a client presents is the one QLM gave (`imported`, as QLM wrote
/// it), compared in QLM's normal form.
pub fn same_computer_key(presented: &str, imported: &str) -> bool {
    match (normal_form(presented), normal_form(imported)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QLM_EXAMPLE: &str = "FGGH0-S0K00-71B18-S868R-1F1J2-UQKPUN";

    #[test]
    fn case_dashes_and_spaces_do_not_count_and_nothing_else_is_folded() {
        let stored = stored_form(QLM_EXAMPLE).unwrap();
        assert_eq!(stored, "~FGGH0S0K0071B18S868R1F1J2UQKPUN");
        assert_eq!(
            stored_form("fggh0s0k00 71b18-s868r1f1j2uqkpun").unwrap(),
            stored
        );
        // O is not 0 and I is not 1 in a QLM key.
        assert_ne!(
            stored_form(&QLM_EXAMPLE.replace('0', "O")).unwrap(),
            stored,
            "look-alikes must stay apart"
        );
    }

    #[test]
    fn a_legacy_key_can_never_equal_a_licd_key() {
        let stored = stored_form(QLM_EXAMPLE).unwrap();
        assert!(is_legacy(&stored));
        assert!(crate::license::keys::ActivationKey::parse(&stored).is_err());
        let licd = crate::license::keys::ActivationKey::generate(
            crate::license::model::LicenseModel::PERMANENT,
        )
        .unwrap();
        assert!(!is_legacy(licd.as_str()));
        // A licd key read as a legacy one is stored under the marker: another row.
        assert_ne!(stored_form(licd.as_str()).unwrap(), licd.as_str());
    }

    #[test]
    fn what_no_qlm_key_looks_like_is_refused() {
        assert_eq!(
            normal_form("AB-12"),
            Err(LegacyKeyError::Length { found: 4 })
        );
        assert_eq!(
            normal_form(&"A".repeat(MAX_LENGTH + 1)),
            Err(LegacyKeyError::Length {
                found: MAX_LENGTH + 1
            })
        );
        assert_eq!(
            normal_form("FGGH0-S0K00-71B18_S868R"),
            Err(LegacyKeyError::Character { found: '_' })
        );
        assert!(normal_form("ÄGGH0S0K0071B18").is_err());
    }

    #[test]
    fn only_input_not_of_licd_keys_length_is_looked_up_as_a_legacy_key() {
        use crate::license::keys::{ActivationKey, KeyError};
        let legacy = ActivationKey::parse_for_lookup(QLM_EXAMPLE).unwrap();
        assert!(legacy.is_legacy());
        // A licd key with one character mistyped stays a licd refusal: no look-up.
        let licd = ActivationKey::generate(crate::license::model::LicenseModel::PERMANENT)
            .unwrap()
            .as_str()
            .to_string();
        let last = if licd.ends_with('0') { "1" } else { "0" };
        let typo = format!("{}{last}", &licd[..25]);
        assert!(matches!(
            ActivationKey::parse_for_lookup(&typo),
            Err(KeyError::Check)
        ));
        assert!(matches!(
            ActivationKey::parse_for_lookup("AB"),
            Err(KeyError::Length { found: 2 })
        ));
    }

    #[test]
    fn a_legacy_key_is_shown_in_qlms_groups() {
        let stored = stored_form(&QLM_EXAMPLE.to_lowercase()).unwrap();
        assert_eq!(shown_form(&stored), QLM_EXAMPLE);
        let thirty = stored_form("AZKZ0R0F00GHJ4B7832D1C1SPXAAA9").unwrap();
        assert_eq!(shown_form(&thirty), "AZKZ0-R0F00-GHJ4B-7832D-1C1SP-XAAA9");
    }

    #[test]
    fn an_imported_computer_key_matches_in_any_case_and_grouping_only() {
        assert!(same_computer_key("ugh00-s0k00-71b18", "UGH00S0K0071B18"));
        assert!(!same_computer_key("UGH00-S0K00-71B19", "UGH00S0K0071B18"));
        assert!(!same_computer_key("", "UGH00S0K0071B18"));
    }
}
