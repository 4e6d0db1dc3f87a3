//! Client input inside a message: replies and errors quote what the client sent so that it
//! can find its mistake, but never echo a page of it back.

/// How many characters of an argument value a reply's message quotes, unless the rule that
/// quotes it says otherwise.
pub const QUOTED_CHARS: usize = 64;

/// `text` cut to at most [`QUOTED_CHARS`] characters, with `…` when it was cut.
pub fn quote(text: &str) -> String {
    quote_at_most(text, QUOTED_CHARS)
}

/// `text` cut to at most `max_chars` characters (not bytes, so a cut never splits a
/// character), with `…` when it was cut; unchanged when it fits.
pub fn quote_at_most(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_quoted_whole() {
        assert_eq!(quote(""), "");
        assert_eq!(quote_at_most("abc", 3), "abc");
        let exactly = "x".repeat(QUOTED_CHARS);
        assert_eq!(quote(&exactly), exactly);
    }

    #[test]
    fn longer_text_is_cut_and_marked_with_an_ellipsis() {
        assert_eq!(quote_at_most("abcd", 3), "abc…");
        let long = "y".repeat(QUOTED_CHARS + 1);
        assert_eq!(quote(&long), format!("{}…", "y".repeat(QUOTED_CHARS)));
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        assert_eq!(quote_at_most("ééé", 3), "ééé");
        assert_eq!(quote_at_most("éééé", 3), "ééé…");
    }
}
