//! "Did you mean …?" for an unknown key: the nearest known key, if one is near enough.
//!
//! The slips seen in practice are a letter or two (`lisen`), the case of a letter
//! (`ReleaseLicenseRequiresAuthentication`) and British spelling: QLM's names say
//! `License`, and an admin who writes `licence` everywhere else types
//! `releaseLicenceRequiresAuthentication`. Distances are counted on lower-case text with
//! `licence` read as `license`, so each of those is distance 0 or 1.

/// The known key nearest to `unknown`, when it is close enough to be what was meant.
pub(super) fn nearest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let wanted = normalised(unknown);
    // Short keys allow one or two slips; long camelCase names a few more.
    let limit = (wanted.chars().count() / 4).max(2);
    known
        .iter()
        .map(|k| (distance(&wanted, &normalised(k)), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Lower case, British `licence` read as QLM's `license`.
fn normalised(key: &str) -> String {
    key.to_lowercase().replace("licence", "license")
}

/// Levenshtein distance (insertions, deletions, substitutions), by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "releaseLicenseRequiresAuthentication",
        "releaseLicenseRequiresVerificationCode",
        "listen",
        "logLevel",
    ];

    #[test]
    fn british_spelling_finds_qlms_name() {
        assert_eq!(
            nearest("releaseLicenceRequiresAuthentication", KNOWN),
            Some("releaseLicenseRequiresAuthentication")
        );
    }

    #[test]
    fn a_slip_of_case_or_a_letter_finds_the_key() {
        assert_eq!(nearest("lisen", KNOWN), Some("listen"));
        assert_eq!(nearest("LogLevel", KNOWN), Some("logLevel"));
        assert_eq!(
            nearest("releaseLicenseRequiresAuthentification", KNOWN),
            Some("releaseLicenseRequiresAuthentication")
        );
    }

    #[test]
    fn nothing_near_suggests_nothing() {
        assert_eq!(nearest("colour", KNOWN), None);
        assert_eq!(nearest("x", &[]), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
