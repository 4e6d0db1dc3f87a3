//! The deactivation verification code of ReleaseLicenseHttp (methods.md rule 2, offline.md §3).
//!
//! An air-gapped application that deletes its licence shows this code; whoever submits the
//! release proves with it that the licence was really removed from that computer. The code
//! is the lowercase hex MD5 of `KEY|COMPUTERID|COMMUNICATIONENCRYPTIONKEY|yyyy-MM-dd` (the
//! algorithm QLM clients implement, so it is kept as is despite MD5's age: it is a shared-
//! secret check, not a signature). KEY is the activation key in upper case without dashes,
//! COMPUTERID the computer ID of the activation released, and the date a UTC date.

use chrono::{Days, NaiveDate};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::license::dates;

/// The code for one UTC date, lowercase hex.
pub fn code_for(key: &str, computer_id: &str, secret: &str, date: NaiveDate) -> String {
    let input = format!(
        "{}|{computer_id}|{secret}|{}",
        key.replace('-', "").to_uppercase(),
        date.format("%Y-%m-%d")
    );
    hex(&Md5::digest(input.as_bytes()))
}

/// Whether `given` is the code of yesterday, today or tomorrow (UTC) at `now`: a code lives
/// about a day, and clients compute it in their own time zone. Hex is compared
/// case-insensitively and in constant time; all three candidates are always computed.
pub fn is_valid(given: &str, key: &str, computer_id: &str, secret: &str, now: i64) -> bool {
    let given = given.trim().to_ascii_lowercase();
    let Some(today) = dates::utc_date(now) else {
        return false;
    };
    let candidates = [
        today.checked_sub_days(Days::new(1)),
        Some(today),
        today.checked_add_days(Days::new(1)),
    ];
    let mut matched = subtle::Choice::from(0u8);
    for date in candidates.into_iter().flatten() {
        let expected = code_for(key, computer_id, secret, date);
        // Equal lengths (32) for a well-formed code; ct_eq on unequal lengths is false.
        matched |= expected.as_bytes().ct_eq(given.as_bytes());
    }
    matched.into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1PG";

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn code_is_lowercase_hex_md5_of_the_documented_string() {
        // python3 -c "import hashlib;print(hashlib.md5(b'A7K2MQ9XWD3T8RBHN4CZE6V1PG|PC-7|s3cret|2026-11-23').hexdigest())"
        assert_eq!(
            code_for(KEY, "PC-7", "s3cret", day("2026-11-23")),
            "fcfb06bbc2c385e8ac6262f9b7fc87b6"
        );
        assert_eq!(
            code_for(&KEY.to_lowercase(), "PC-7", "s3cret", day("2026-11-23")),
            code_for(KEY, "PC-7", "s3cret", day("2026-11-23"))
        );
    }

    #[test]
    fn yesterday_today_and_tomorrow_are_accepted_in_any_case_and_nothing_older() {
        let now = dates::parse_datetime("2026-11-23 12:00:00").unwrap();
        for d in ["2026-11-22", "2026-11-23", "2026-11-24"] {
            let code = code_for(KEY, "PC-7", "s3cret", day(d));
            assert!(is_valid(&code, KEY, "PC-7", "s3cret", now), "{d}");
            assert!(
                is_valid(&code.to_uppercase(), KEY, "PC-7", "s3cret", now),
                "{d}"
            );
        }
        for d in ["2026-11-21", "2026-11-25"] {
            let code = code_for(KEY, "PC-7", "s3cret", day(d));
            assert!(!is_valid(&code, KEY, "PC-7", "s3cret", now), "{d}");
        }
    }

    #[test]
    fn another_computer_or_secret_gives_another_code() {
        let now = dates::parse_datetime("2026-11-23 12:00:00").unwrap();
        let code = code_for(KEY, "PC-7", "s3cret", day("2026-11-23"));
        assert!(!is_valid(&code, KEY, "PC-8", "s3cret", now));
        assert!(!is_valid(&code, KEY, "PC-7", "other", now));
        assert!(!is_valid("", KEY, "PC-7", "s3cret", now));
        assert!(!is_valid(&code[..31], KEY, "PC-7", "s3cret", now));
    }
}
