//! Dates on the wire and in the store (spec README §2, §3).
//!
//! Inside licd a time is UTC Unix seconds in an `i64`: cheap to store, compare and add days
//! to. chrono is used only here, at the edges, to read and write the two text forms. Parsing
//! is strict (exact length, zero-padded fields, years 1970 to 9999) because a lenient parser
//! silently turns a typo into a different expiry.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Seconds in a UTC day (licd ignores leap seconds, like Unix time).
pub const SECONDS_PER_DAY: i64 = 86_400;

/// The earliest year accepted: Unix time starts here, and nothing licd stores is older.
const MIN_YEAR: i32 = 1970;

/// The latest year accepted: four digits is what the wire form has room for.
const MAX_YEAR: i32 = 9999;

/// `9999-12-31 23:59:59`, the latest time the text forms can express.
const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// Reads `yyyy-MM-dd HH:mm:ss`, or `yyyy-MM-dd` meaning the start of that day, as UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    parse(s, NaiveTime::MIN)
}

/// Reads an expiry: like [`parse_datetime`], but a date alone means the last second of that
/// day (`23:59:59`), so a licence "valid until 2027-12-31" is valid all of that day.
pub fn parse_expiry(s: &str) -> Option<i64> {
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59)?;
    parse(s, end_of_day)
}

/// The date-time forms a QLM export writes besides licd's own: SQL Server's
/// (`2027-12-31 23:59:59.000`), ISO 8601 (`2027-12-31T23:59:59`, optionally `Z`), and the
/// QLM console's US form (`12/31/2027 11:59:59 PM`, `12/31/2027 23:59`).
const EXPORT_DATETIME_FORMATS: [&str; 7] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
];

/// Reads a date of a QLM export (`licd import-qlm`, docs/moving-from-qlm.md) as UTC: licd's
/// own forms as [`parse_expiry`] reads them (a date alone is the last second of that day),
/// the forms of `EXPORT_DATETIME_FORMATS`, and a US date alone (`12/31/2027`, month first).
pub fn parse_export_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_expiry(s) {
        return Some(t);
    }
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59)?;
    let parsed = EXPORT_DATETIME_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%m/%d/%Y")
                .ok()
                .map(|d| NaiveDateTime::new(d, end_of_day))
        })?;
    (MIN_YEAR..=MAX_YEAR)
        .contains(&chrono::Datelike::year(&parsed))
        .then(|| parsed.and_utc().timestamp())
}

/// Reads `yyyy-MM-dd` alone (no time part).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let bytes = s.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&bytes[0..4])?).ok()?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Writes `yyyy-MM-dd HH:mm:ss` in UTC, the form of every date-time in replies. A value
/// outside 1970..=9999 (never produced by parsing) is clamped so that formatting cannot fail.
pub fn format_datetime(t: i64) -> String {
    write_datetime(t, b' ', "")
}

/// Writes ISO 8601 with `Z` (`2026-11-23T10:00:00Z`), the form PingHttp uses; clamped like
/// [`format_datetime`].
pub fn format_iso(t: i64) -> String {
    write_datetime(t, b'T', "Z")
}

/// `yyyy-MM-dd{between}HH:mm:ss{after}`, written digit by digit: every validation reply
/// carries several dates, and chrono's `strftime` parses its pattern again for each one
/// (about 2 % of a validation's CPU, docs/benchmarks.md).
fn write_datetime(t: i64, between: u8, after: &str) -> String {
    use chrono::{Datelike, Timelike};
    let d = to_utc(t);
    // The clamp keeps the year within 1970..=9999: four digits.
    let year = u32::try_from(d.year()).unwrap_or(0);
    let mut b = *b"0000-00-00 00:00:00";
    put_digits(&mut b[0..4], year);
    put_digits(&mut b[5..7], d.month());
    put_digits(&mut b[8..10], d.day());
    b[10] = between;
    put_digits(&mut b[11..13], d.hour());
    put_digits(&mut b[14..16], d.minute());
    put_digits(&mut b[17..19], d.second());
    let mut out = String::with_capacity(b.len() + after.len());
    // Only ASCII digits, separators and `between` (an ASCII byte) were written.
    out.extend(b.iter().map(|&c| char::from(c)));
    out.push_str(after);
    out
}

/// `n` in decimal, right-aligned and zero-padded to the width of `out`.
fn put_digits(out: &mut [u8], mut n: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// The current time, UTC Unix seconds.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// Days since 1970-01-01 (UTC) for per-day counters; rounds towards the past, so a day runs
/// from 00:00:00 to 23:59:59 UTC even for times before the epoch.
pub fn day_number(t: i64) -> i64 {
    t.div_euclid(SECONDS_PER_DAY)
}

/// The UTC calendar date of a time (`None` only outside chrono's range).
pub fn utc_date(t: i64) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.date_naive())
}

/// Parses a date with the given time of day, or a full date-time.
fn parse(s: &str, time_for_date_alone: NaiveTime) -> Option<i64> {
    let bytes = s.as_bytes();
    let (date, time) = match bytes.len() {
        10 => (parse_date(s)?, time_for_date_alone),
        19 => {
            if bytes[10] != b' ' || bytes[13] != b':' || bytes[16] != b':' {
                return None;
            }
            let date = parse_date(s.get(..10)?)?;
            let hour = digits(&bytes[11..13])?;
            let minute = digits(&bytes[14..16])?;
            let second = digits(&bytes[17..19])?;
            (date, NaiveTime::from_hms_opt(hour, minute, second)?)
        }
        _ => return None,
    };
    Some(NaiveDateTime::new(date, time).and_utc().timestamp())
}

/// The value of a run of ASCII digits; `None` if any byte is not a digit (so no sign, no
/// space, no padding other than zeros).
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// A Unix time as a chrono UTC date-time, clamped into 1970..=9999.
fn to_utc(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t.clamp(0, MAX_TIMESTAMP), 0).unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qlm_export_date_is_read_in_each_form_qlm_writes() {
        let end_2027 = parse_datetime("2027-12-31 23:59:59").unwrap();
        for form in [
            "2027-12-31",
            "2027-12-31 23:59:59",
            "2027-12-31 23:59:59.000",
            "2027-12-31T23:59:59",
            "2027-12-31T23:59:59Z",
            "12/31/2027",
            "12/31/2027 11:59:59 PM",
            " 12/31/2027 23:59:59 ",
        ] {
            assert_eq!(parse_export_date(form), Some(end_2027), "{form}");
        }
        assert_eq!(
            parse_export_date("1/2/2027 9:30 AM"),
            parse_datetime("2027-01-02 09:30:00")
        );
        // Day first is not QLM's form: a 13th month is refused, not guessed.
        assert_eq!(parse_export_date("31/12/2027"), None);
        assert_eq!(parse_export_date("1960-01-01"), None);
        assert_eq!(parse_export_date("soon"), None);
    }

    #[test]
    fn date_time_parses_as_utc() {
        assert_eq!(parse_datetime("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_datetime("2026-11-23 10:00:00"), Some(1_795_428_000));
        assert_eq!(parse_datetime("9999-12-31 23:59:59"), Some(MAX_TIMESTAMP));
    }

    #[test]
    fn date_alone_is_the_start_of_the_day_as_a_date_time() {
        assert_eq!(parse_datetime("2026-11-23"), Some(1_795_392_000));
    }

    #[test]
    fn date_alone_is_the_end_of_the_day_as_an_expiry() {
        assert_eq!(
            parse_expiry("2026-11-23"),
            Some(1_795_392_000 + SECONDS_PER_DAY - 1)
        );
        assert_eq!(parse_expiry("2026-11-23 10:00:00"), Some(1_795_428_000));
        assert_eq!(
            format_datetime(parse_expiry("2027-12-31").unwrap()),
            "2027-12-31 23:59:59"
        );
    }

    #[test]
    fn leap_day_is_accepted_only_in_leap_years() {
        assert!(parse_date("2028-02-29").is_some());
        assert!(parse_date("2000-02-29").is_some());
        assert!(parse_date("2027-02-29").is_none());
        assert!(parse_date("2100-02-29").is_none());
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in [
            "",
            "2026-1-23",
            "2026-11-3",
            "26-11-23",
            "2026/11/23",
            "2026-11-23T10:00:00",
            "2026-11-23 10:00:00Z",
            "2026-11-23 10:00",
            "2026-11-23 1:00:00",
            "2026-11-23  10:00:00",
            " 2026-11-23",
            "2026-11-23 ",
            "2026-11-23x",
            "+026-11-23",
            "2026-+1-23",
            "2026-11-23 10:00:0x",
            "２０２６-11-23",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
            assert_eq!(parse_expiry(bad), None, "{bad:?}");
        }
        assert_eq!(parse_date("2026-11-23 00:00:00"), None);
    }

    #[test]
    fn out_of_range_fields_are_refused() {
        for bad in [
            "2026-00-10",
            "2026-13-10",
            "2026-04-31",
            "2026-04-00",
            "2026-11-23 24:00:00",
            "2026-11-23 23:60:00",
            "2026-11-23 23:59:60",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn years_outside_1970_to_9999_are_refused() {
        assert_eq!(parse_datetime("1969-12-31 23:59:59"), None);
        assert_eq!(parse_date("0000-01-01"), None);
        assert_eq!(parse_datetime("10000-01-01"), None);
        assert!(parse_date("1970-01-01").is_some());
        assert!(parse_date("9999-12-31").is_some());
    }

    #[test]
    fn formats_round_trip() {
        let t = parse_datetime("2026-11-23 10:00:00").unwrap();
        assert_eq!(format_datetime(t), "2026-11-23 10:00:00");
        assert_eq!(format_iso(t), "2026-11-23T10:00:00Z");
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
    }

    #[test]
    fn hand_formatting_writes_what_strftime_writes() {
        // Leap days, year ends and every hour of a day, across the range the forms allow.
        let mut t = 0i64;
        while t < MAX_TIMESTAMP {
            let d = to_utc(t);
            assert_eq!(
                format_datetime(t),
                d.format("%Y-%m-%d %H:%M:%S").to_string()
            );
            assert_eq!(format_iso(t), d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            t += 7_919 * 3_607; // a step that drifts through hours, days and years
        }
        for s in [
            "2024-02-29 23:59:59",
            "2000-12-31 00:00:00",
            "9999-12-31 23:59:59",
        ] {
            assert_eq!(format_datetime(parse_datetime(s).unwrap()), s);
        }
    }

    #[test]
    fn formatting_clamps_instead_of_failing() {
        assert_eq!(format_datetime(-1), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(i64::MAX), "9999-12-31 23:59:59");
        assert_eq!(format_iso(i64::MIN), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn day_number_changes_at_midnight_utc() {
        let midnight = parse_datetime("2026-11-23").unwrap();
        assert_eq!(
            day_number(midnight),
            day_number(midnight + SECONDS_PER_DAY - 1)
        );
        assert_eq!(
            day_number(midnight) + 1,
            day_number(midnight + SECONDS_PER_DAY)
        );
        assert_eq!(day_number(0), 0);
        assert_eq!(day_number(-1), -1);
    }

    #[test]
    fn now_is_after_2025() {
        assert!(now() > parse_datetime("2025-01-01").unwrap());
    }
}
