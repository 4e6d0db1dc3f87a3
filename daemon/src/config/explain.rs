//! serde's and toml's wording of a bad value, rewritten in the admin's words.
//!
//! serde says `invalid type: string "1", expected u32`: true, but it names a Rust type and
//! not the key. [`document`](super::document) finds the key, its line and the value as
//! written; this module says what was expected, the way `conf/licd.toml` would
//! (`expected a whole number such as 1`).

/// What serde means by a type name, in the admin's words.
fn form(expected: &str) -> String {
    let expected = expected.trim();
    let words = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number such as 1",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number such as 1 or -1",
        "f32" | "f64" => "a number such as 1.5",
        "a boolean" => "true or false, without quotes",
        "a string" | "a borrowed string" | "path string" | "a character" => {
            "text in double quotes, such as \"text\""
        }
        "a sequence" => "a list in square brackets, such as [\"a\", \"b\"]",
        "a map" => "a table, such as { key = \"value\" }",
        // Our own deserializers already say what they want (`an array of IP addresses …`).
        other => other,
    };
    words.to_owned()
}

/// The whole numbers a Rust integer type holds, for a value outside them.
fn range(expected: &str) -> Option<&'static str> {
    Some(match expected.trim() {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" => "a whole number from -128 to 127",
        "i16" => "a whole number from -32768 to 32767",
        "i32" => "a whole number from -2147483648 to 2147483647",
        _ => return None,
    })
}

/// serde's list of choices (`` `text` or `json` ``, `` one of `a`, `b` ``) with the
/// admin's quotes: TOML strings are written in double quotes.
fn choices(list: &str) -> String {
    list.trim().replace('`', "\"")
}

/// Why a value was refused, in the admin's words: `expected …`, or the sentence of one of
/// licd's own deserializers as it is. `message` is the deserializer's.
pub(super) fn explain(message: &str) -> String {
    let message = message.trim_end();
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((_, expected)) = rest.rsplit_once(", expected ")
    {
        return format!("expected {}", form(expected));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((_, expected)) = rest.rsplit_once(", expected ")
    {
        return match range(expected) {
            Some(range) => format!("expected {range}"),
            None => format!("expected {}", form(expected)),
        };
    }
    if message.starts_with("unknown variant ")
        && let Some((_, expected)) = message.split_once(", expected ")
    {
        return format!("expected {}", choices(expected));
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("the key {rest} is required");
    }
    message.to_owned()
}

/// The choices serde lists for an enum, from its message for an unknown word (`unknown
/// variant ``, expected `a` or `b``), or `None` for any other message.
pub(super) fn variants(message: &str) -> Option<String> {
    message
        .strip_prefix("unknown variant ")
        .and_then(|rest| rest.split_once(", expected "))
        .map(|(_, expected)| format!("expected {}", choices(expected.trim_end())))
}

/// toml's message for a value of an enum that is not a string at all; it names no choices.
pub(super) const NOT_A_WORD: &str = "wanted string or table";

/// A value as the admin wrote it, on one line and at most 60 characters, for a message.
pub(super) fn as_written(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= 60 {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(59).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_types_become_the_admins_words() {
        assert_eq!(
            explain("invalid type: string \"1\", expected u32"),
            "expected a whole number such as 1"
        );
        assert_eq!(
            explain("invalid type: string \"yes\", expected a boolean\n"),
            "expected true or false, without quotes"
        );
        assert_eq!(
            explain("invalid type: integer `6`, expected a string"),
            "expected text in double quotes, such as \"text\""
        );
        assert_eq!(
            explain("invalid type: string \"x\", expected a sequence"),
            "expected a list in square brackets, such as [\"a\", \"b\"]"
        );
        assert_eq!(
            explain("invalid type: floating point `1.5`, expected i64"),
            "expected a whole number such as 1 or -1"
        );
    }

    #[test]
    fn out_of_range_numbers_name_the_range() {
        assert_eq!(
            explain("invalid value: integer `-1`, expected u32"),
            "expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            explain("invalid value: integer `-1`, expected usize"),
            "expected a whole number, 0 or more"
        );
    }

    #[test]
    fn choices_are_quoted_as_toml_strings() {
        assert_eq!(
            explain("unknown variant `yaml`, expected `text` or `json`"),
            "expected \"text\" or \"json\""
        );
        assert_eq!(
            variants("unknown variant ``, expected one of `int`, `bool`, `string`"),
            Some("expected one of \"int\", \"bool\", \"string\"".to_owned())
        );
        assert_eq!(variants("invalid type: string"), None);
    }

    #[test]
    fn licds_own_sentences_are_kept() {
        let own = "`nope` is not an IP address or CIDR network";
        assert_eq!(explain(own), own);
    }

    #[test]
    fn long_values_are_cut_and_kept_on_one_line() {
        assert_eq!(as_written("[\"a\",\n  \"b\"]"), "[\"a\", \"b\"]");
        let long = "x".repeat(100);
        assert_eq!(as_written(&long).chars().count(), 60);
    }
}
