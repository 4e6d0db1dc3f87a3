//! `application/x-www-form-urlencoded`: reading a store's POST body and writing the output of
//! `map_args`, without pulling a dependency into every plugin.
//!
//! licd reads every request's query string and form body with [`pairs`] and [`decode`] too,
//! so a plugin and the server always agree on what a body says: `+` is a space, a `%`
//! escape needs two hex digits (either case), and text that is not UTF-8 once decoded is
//! refused instead of being replaced lossily.

use std::fmt;

/// Why a form body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A name or value that is not UTF-8 once decoded.
    NotUtf8,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormError::BadEscape => "a % escape is not followed by two hex digits",
            FormError::NotUtf8 => "a decoded name or value is not UTF-8",
        })
    }
}

impl std::error::Error for FormError {}

/// The name and value pairs of a form body, in order, decoded (`+` is a space).
///
/// # Errors
/// [`FormError`] on a bad `%` escape or text that is not UTF-8.
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    pairs(body)
        .map(|(name, value)| Ok((decode(name)?, decode(value)?)))
        .collect()
}

/// The name and value of each pair of a form body or query string, in order and not yet
/// decoded: pairs are split at `&` (empty ones skipped), a pair at its first `=` (none: the
/// value is empty). For a reader that checks each pair before decoding the next.
pub fn pairs(body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[..0]),
        })
}

/// Percent-decodes one name or value: `+` is a space, `%XX` (hex digits in either case) the
/// byte XX; the bytes must then be UTF-8. Any other byte stands for itself.
///
/// # Errors
/// [`FormError`] on a bad `%` escape or text that is not UTF-8.
pub fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = |at: usize| raw.get(at).and_then(|b| (*b as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                    return Err(FormError::BadEscape);
                };
                // Two hex digits make at most 255.
                bytes.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| FormError::NotUtf8)
}

/// Encodes pairs as a form body: every byte but `A-Z a-z 0-9 - . _ ~` is percent-encoded.
pub fn encode<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape_into(name.as_ref(), &mut out);
        out.push('=');
        escape_into(value.as_ref(), &mut out);
    }
    out
}

fn escape_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_parse_gives_the_pairs_back() {
        let pairs = [("is_email", "a+b@example.com"), ("is_userdata1", "é & = %")];
        let text = encode(&pairs);
        assert_eq!(
            text,
            "is_email=a%2Bb%40example.com&is_userdata1=%C3%A9%20%26%20%3D%20%25"
        );
        let back = parse(text.as_bytes()).unwrap();
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn decoding_turns_plus_into_a_space_and_escapes_into_bytes_in_either_case() {
        assert_eq!(decode(b"a+b%2Bc%2bd"), Ok("a b+c+d".to_string()));
        assert_eq!(decode(b"%C3%A9%c3%a9"), Ok("\u{e9}\u{e9}".to_string()));
        assert_eq!(decode(b"%2525"), Ok("%25".to_string()));
        assert_eq!(decode(b""), Ok(String::new()));
        assert_eq!(decode(b"%00%0A%7F"), Ok("\0\n\u{7f}".to_string()));
    }

    #[test]
    fn a_bad_escape_and_text_that_is_not_utf8_are_refused() {
        for raw in [
            &b"%"[..],
            b"%4",
            b"%zz",
            b"%4g",
            b"%g4",
            b"a%",
            b"% 41",
            b"%+41",
        ] {
            assert_eq!(decode(raw), Err(FormError::BadEscape), "{raw:?}");
        }
        for raw in [&b"%FF"[..], b"%C3%28", b"%C3", b"\xff", b"%ED%A0%80"] {
            assert_eq!(decode(raw), Err(FormError::NotUtf8), "{raw:?}");
        }
    }

    #[test]
    fn plus_is_a_space_and_bad_input_is_refused() {
        assert_eq!(
            parse(b"a=x+y&b&&c=").unwrap(),
            vec![
                ("a".into(), "x y".into()),
                ("b".into(), String::new()),
                ("c".into(), String::new())
            ]
        );
        assert_eq!(parse(b"a=%zz"), Err(FormError::BadEscape));
        assert_eq!(parse(b"a=%4"), Err(FormError::BadEscape));
        assert_eq!(parse(b"a=%FF"), Err(FormError::NotUtf8));
    }
}
