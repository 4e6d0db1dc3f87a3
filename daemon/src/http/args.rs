//! Request arguments: query string and form body, decoded strictly (spec README §2).
//!
//! `form_urlencoded` decodes invalid UTF-8 lossily; licd must refuse it with a message naming
//! the argument, so it decodes with [`licd_plugin_api::form`], the strict decoder that
//! plugins read bodies with too, and adds its own refusal of control characters.

use licd_plugin_api::form::{self, FormError};

use crate::errors::MethodError;
use crate::license::dates;

/// Messages about an argument quote its value with this; re-exported here, next to [`Args`],
/// for the handlers that name it by this path.
pub use crate::text::quote;

/// Limits on the arguments of one request (`server.maxArgs`, `server.maxValueBytes`).
#[derive(Debug, Clone, Copy)]
pub struct ArgLimits {
    /// Most arguments one request may carry (query and body together).
    pub max_args: usize,
    /// Longest decoded value, in bytes.
    pub max_value_bytes: usize,
}

/// Argument names that are another spelling of a canonical name (README §2).
const ALIASES: [(&str, &str); 3] = [
    ("is_deacivation_code", "is_deactivation_code"),
    ("is_mainduration", "is_maintduration"),
    ("is_minorverson", "is_minorversion"),
];

/// The value of a duration argument that means "no duration" in QLM ([`Args::duration`]).
pub const NO_DURATION: &str = "-1";

/// The decoded arguments of one request.
///
/// `is_*` names are stored lower-case with aliases folded, so look-ups match
/// case-insensitively; other arguments keep their spelling for vendor plugins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    licd: Vec<(String, String)>,
    other: Vec<(String, String)>,
}

impl Args {
    /// Parses a query string and, when given, a form body (`application/x-www-form-urlencoded`).
    ///
    /// Refuses (code 5) a bad `%` escape, invalid UTF-8, a control character other than tab,
    /// an argument given twice (also through an alias, or in query and body), more than
    /// `max_args` arguments, or a value longer than `max_value_bytes`.
    pub fn parse(
        query: Option<&str>,
        body: Option<&[u8]>,
        limits: ArgLimits,
    ) -> Result<Args, MethodError> {
        let mut args = Args::default();
        let mut count = 0usize;
        let sources = [query.map(str::as_bytes), body];
        for source in sources.into_iter().flatten() {
            for (raw_name, raw_value) in form::pairs(source) {
                count += 1;
                if count > limits.max_args {
                    return Err(MethodError::invalid(format!(
                        "Too many arguments: at most {} are accepted (server.maxArgs).",
                        limits.max_args
                    )));
                }
                let name = decode(raw_name).map_err(|why| {
                    MethodError::invalid(format!("An argument name is not valid: {why}."))
                })?;
                let value = decode(raw_value).map_err(|why| {
                    MethodError::invalid(format!(
                        "The argument {} is not valid: {why}.",
                        quote(&name)
                    ))
                })?;
                if value.len() > limits.max_value_bytes {
                    return Err(MethodError::invalid(format!(
                        "The argument {} is too long: values are limited to {} bytes (server.maxValueBytes).",
                        quote(&name),
                        limits.max_value_bytes
                    )));
                }
                args.insert(name, value)?;
            }
        }
        Ok(args)
    }

    fn insert(&mut self, name: String, value: String) -> Result<(), MethodError> {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("is_") {
            let canonical = canonical_name(&lower);
            if self.licd.iter().any(|(n, _)| *n == canonical) {
                return Err(MethodError::invalid(format!(
                    "The argument {canonical} was given more than once."
                )));
            }
            self.licd.push((canonical, value));
        } else {
            if self
                .other
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                return Err(MethodError::invalid(format!(
                    "The argument {} was given more than once.",
                    quote(&name)
                )));
            }
            self.other.push((name, value));
        }
        Ok(())
    }

    /// These arguments with each store field that `rename` names (a vendor's field map)
    /// read as the `is_*` argument it gives, under the rules of the request's own: names in
    /// any case, aliases folded, and an argument given twice (the field beside the argument
    /// itself, or two fields read as one argument) refused (code 5) naming both.
    pub fn with_fields<'m>(
        &self,
        rename: impl Fn(&str) -> Option<&'m str>,
    ) -> Result<Args, MethodError> {
        let mut out = Args {
            licd: self.licd.clone(),
            other: Vec::with_capacity(self.other.len()),
        };
        for (name, value) in &self.other {
            let Some(target) = rename(name) else {
                out.other.push((name.clone(), value.clone()));
                continue;
            };
            let canonical = canonical_name(target);
            if out.licd.iter().any(|(n, _)| *n == canonical) {
                return Err(MethodError::invalid(format!(
                    "The argument {canonical} was given more than once: the vendor's field map reads {} as {canonical}, and the request carries {canonical} already.",
                    quote(name)
                )));
            }
            out.licd.push((canonical, value.clone()));
        }
        Ok(out)
    }

    /// The raw value of an `is_*` argument (name in lower case), `Some("")` when sent empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        #[cfg(test)]
        reads::note(name);
        self.licd
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty value, or `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A required non-empty value; missing or empty is code 208 naming it.
    pub fn required(&self, name: &str) -> Result<&str, MethodError> {
        self.text(name).ok_or_else(|| MethodError::missing(name))
    }

    /// A text value of at most `max_chars` characters.
    pub fn text_max(&self, name: &str, max_chars: usize) -> Result<Option<&str>, MethodError> {
        match self.text(name) {
            Some(v) if v.chars().count() > max_chars => Err(MethodError::invalid(format!(
                "The argument {name} is too long: at most {max_chars} characters."
            ))),
            other => Ok(other),
        }
    }

    /// A boolean: `true`, `false`, `1`, `0`, any case.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, MethodError> {
        let Some(v) = self.text(name) else {
            return Ok(None);
        };
        if v.eq_ignore_ascii_case("true") || v == "1" {
            Ok(Some(true))
        } else if v.eq_ignore_ascii_case("false") || v == "0" {
            Ok(Some(false))
        } else {
            Err(MethodError::invalid(format!(
                "The argument {name} has the value '{}'; expected true, false, 1 or 0.",
                quote(v)
            )))
        }
    }

    /// An integer in `min..=max`: optional `-`, decimal digits.
    pub fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, MethodError> {
        let Some(v) = self.text(name) else {
            return Ok(None);
        };
        let digits = v.strip_prefix('-').unwrap_or(v);
        let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            v.parse::<i64>().ok()
        } else {
            None
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(MethodError::invalid(format!(
                "The argument {name} has the value '{}'; expected an integer from {min} to {max}.",
                quote(v)
            ))),
        }
    }

    /// A duration in days (`is_expduration`, `is_maintduration`) in `min..=max`.
    ///
    /// [`NO_DURATION`] (`-1`) and an empty value count as not given: QLM reads `-1` as "no
    /// duration", and its store plugins (WooCommerce's on every non-subscription order and on
    /// upgrades) send it. Any other value outside the range is refused as
    /// [`Args::integer`] refuses it.
    pub fn duration(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, MethodError> {
        if self.get(name) == Some(NO_DURATION) {
            return Ok(None);
        }
        Ok(self
            .integer(name, i64::from(min), i64::from(max))?
            .and_then(|n| u32::try_from(n).ok()))
    }

    /// A product id or version: 0 to `i32::MAX`, as QLM's integers.
    pub fn unsigned(&self, name: &str) -> Result<Option<u32>, MethodError> {
        Ok(self
            .integer(name, 0, i64::from(i32::MAX))?
            .and_then(|n| u32::try_from(n).ok()))
    }

    /// A computer ID: 1 to 255 characters, no whitespace or control characters (README §4).
    pub fn computer_id(&self, name: &str) -> Result<Option<String>, MethodError> {
        let Some(v) = self.text(name) else {
            return Ok(None);
        };
        if v.chars().count() > 255 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(MethodError::invalid(format!(
                "The argument {name} must be 1 to 255 characters without spaces or control characters."
            )));
        }
        Ok(Some(v.to_string()))
    }

    /// An expiry date: `yyyy-MM-dd` (end of that day) or `yyyy-MM-dd HH:mm:ss`, UTC, as Unix
    /// seconds.
    pub fn expiry(&self, name: &str) -> Result<Option<i64>, MethodError> {
        let Some(v) = self.text(name) else {
            return Ok(None);
        };
        dates::parse_expiry(v).map(Some).ok_or_else(|| {
            MethodError::invalid(format!(
                "The argument {name} has the value '{}'; expected a UTC date yyyy-MM-dd or yyyy-MM-dd HH:mm:ss.",
                quote(v)
            ))
        })
    }

    /// The names of the `is_*` arguments, in the order received: lower case, aliases folded
    /// ([`canonical_name`]).
    pub fn licd_names(&self) -> impl Iterator<Item = &str> {
        self.licd.iter().map(|(n, _)| n.as_str())
    }

    /// Arguments that do not start with `is_`, for vendor plugins.
    pub fn others(&self) -> &[(String, String)] {
        &self.other
    }

    /// The number of `is_*` arguments.
    pub fn len(&self) -> usize {
        self.licd.len()
    }

    /// True when no `is_*` argument was sent.
    pub fn is_empty(&self) -> bool {
        self.licd.is_empty()
    }
}

/// The name an `is_*` argument is stored under: lower case, and an alias (README §2) folded
/// into the name it spells, so that a rule naming one spelling covers the other.
pub fn canonical_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or(lower.clone(), |(_, c)| (*c).to_string())
}

/// Which argument names the parsers read, for the test that holds `docs/protocol.md` to
/// them (`methods/protocol_doc_tests.rs`). Every typed accessor goes through
/// [`Args::get`], so what a parser reads is exactly what is noted here.
#[cfg(test)]
pub(crate) mod reads {
    use std::cell::RefCell;

    thread_local! {
        static NOTED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }

    /// Notes `name` when this thread is recording.
    pub(super) fn note(name: &str) {
        NOTED.with(|n| {
            if let Some(names) = n.borrow_mut().as_mut() {
                names.push(name.to_owned());
            }
        });
    }

    /// Runs `f` and returns its result with the names of the arguments it read.
    pub(crate) fn recorded<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
        NOTED.with(|n| *n.borrow_mut() = Some(Vec::new()));
        let result = f();
        let names = NOTED.with(|n| n.borrow_mut().take()).unwrap_or_default();
        (result, names)
    }
}

/// Percent-decodes one name or value: `+` is a space, `%XX` a byte; the result must be UTF-8
/// without control characters (tab allowed) or code points illegal in XML 1.0.
fn decode(raw: &[u8]) -> Result<String, &'static str> {
    let s = form::decode(raw).map_err(|e| match e {
        FormError::BadEscape => "it holds a bad % escape (send %25 for a literal %)",
        FormError::NotUtf8 => "it is not valid UTF-8",
    })?;
    if s.chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err("it holds a control character");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    const LIMITS: ArgLimits = ArgLimits {
        max_args: 64,
        max_value_bytes: 4096,
    };

    fn q(s: &str) -> Result<Args, MethodError> {
        Args::parse(Some(s), None, LIMITS)
    }

    #[test]
    fn names_match_case_insensitively_and_values_are_decoded() {
        let a = q("IS_AVKEY=a%2Bb+c&is_userData1=%C3%A9").unwrap();
        assert_eq!(a.get("is_avkey"), Some("a+b c"));
        assert_eq!(a.get("is_userdata1"), Some("é"));
    }

    #[test]
    fn alias_and_canonical_name_together_are_a_duplicate() {
        let e = q("is_deacivation_code=1&is_deactivation_code=2").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidFormat);
        assert!(e.message.contains("is_deactivation_code"));
        assert_eq!(
            q("is_minorverson=3").unwrap().get("is_minorversion"),
            Some("3")
        );
    }

    #[test]
    fn same_argument_in_query_and_body_is_refused() {
        let e = Args::parse(Some("is_avkey=1"), Some(b"IS_AVKEY=2"), LIMITS).unwrap_err();
        assert!(e.message.contains("is_avkey"), "{}", e.message);
    }

    #[test]
    fn bad_escape_invalid_utf8_and_control_characters_are_refused_naming_the_argument() {
        for bad in [
            "is_pcid=%zz",
            "is_pcid=%",
            "is_pcid=%C3%28",
            "is_pcid=a%0Ab",
            "is_pcid=%00",
        ] {
            let e = q(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidFormat, "{bad}");
            assert!(e.message.contains("is_pcid"), "{bad}: {}", e.message);
        }
        assert_eq!(q("is_pcid=a%09b").unwrap().get("is_pcid"), Some("a\tb"));
    }

    #[test]
    fn decoding_refusals_say_why_in_the_message_the_client_sees() {
        // What the shared decoder refuses is pinned in licd_plugin_api::form; here, the words.
        assert_eq!(decode(b"a+b%2b"), Ok("a b+".to_string()));
        assert_eq!(decode(b"a%09b"), Ok("a\tb".to_string()));
        assert_eq!(
            decode(b"%4g"),
            Err("it holds a bad % escape (send %25 for a literal %)")
        );
        assert_eq!(decode(b"%C3%28"), Err("it is not valid UTF-8"));
        let control = Err("it holds a control character");
        for raw in [
            &b"%00"[..],
            b"a%0Ab",
            b"%0D",
            b"%7F",
            b"%C2%85",
            b"%EF%BF%BE",
            b"%EF%BF%BF",
        ] {
            assert_eq!(decode(raw), control, "{raw:?}");
        }
        let e = q("is_pcid=%zz").unwrap_err();
        assert_eq!(
            e.message,
            "The argument is_pcid is not valid: it holds a bad % escape (send %25 for a literal %)."
        );
        let e = q("%FF=1").unwrap_err();
        assert_eq!(
            e.message,
            "An argument name is not valid: it is not valid UTF-8."
        );
    }

    #[test]
    fn empty_pairs_are_skipped_and_a_pair_without_equals_is_an_empty_value() {
        let a = q("&&is_avkey&is_pcid=a=b&&").unwrap();
        assert_eq!(a.get("is_avkey"), Some(""));
        assert_eq!(a.get("is_pcid"), Some("a=b"));
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn argument_count_and_value_length_are_limited() {
        let many: Vec<String> = (0..65).map(|i| format!("x{i}=1")).collect();
        let e = q(&many.join("&")).unwrap_err();
        assert!(e.message.contains("maxArgs"));
        let long = format!("is_pcid={}", "a".repeat(4097));
        assert!(q(&long).unwrap_err().message.contains("maxValueBytes"));
        assert!(q(&format!("is_pcid={}", "a".repeat(4096))).is_ok());
    }

    #[test]
    fn typed_values_are_checked() {
        let a = q("is_activate=FALSE&is_quantity=7&is_bad=x&is_neg=-3&is_exp=2027-01-31").unwrap();
        assert_eq!(a.boolean("is_activate").unwrap(), Some(false));
        assert_eq!(a.integer("is_quantity", 1, 10).unwrap(), Some(7));
        assert!(a.integer("is_quantity", 1, 5).is_err());
        assert!(a.boolean("is_bad").is_err());
        assert!(a.integer("is_bad", 0, 5).is_err());
        assert_eq!(a.integer("is_neg", -5, 5).unwrap(), Some(-3));
        assert_eq!(
            a.expiry("is_exp").unwrap(),
            dates::parse_expiry("2027-01-31")
        );
        assert!(a.expiry("is_bad").is_err());
        assert_eq!(
            a.required("is_missing").unwrap_err().code,
            ErrorCode::MissingArgument
        );
    }

    #[test]
    fn a_duration_of_minus_one_or_empty_is_not_given_and_other_values_keep_their_range() {
        let a = q("is_expduration=-1&is_maintduration=&is_d=30&is_zero=0&is_neg=-2").unwrap();
        assert_eq!(a.duration("is_expduration", 1, 36_500).unwrap(), None);
        assert_eq!(a.duration("is_maintduration", 1, 36_500).unwrap(), None);
        assert_eq!(a.duration("is_missing", 1, 36_500).unwrap(), None);
        assert_eq!(a.duration("is_d", 1, 36_500).unwrap(), Some(30));
        assert_eq!(a.duration("is_zero", 0, 36_500).unwrap(), Some(0));
        for (name, min) in [("is_zero", 1), ("is_neg", 0), ("is_neg", 1)] {
            let e = a.duration(name, min, 36_500).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidFormat, "{name}");
            assert!(
                e.message
                    .contains(&format!("expected an integer from {min} to 36500.")),
                "{}",
                e.message
            );
        }
        let e = q("is_d=-1x").unwrap().duration("is_d", 1, 10).unwrap_err();
        assert!(e.message.contains("is_d"), "{}", e.message);
        // The alias QLM clients send is the same argument.
        let a = q("is_mainduration=-1").unwrap();
        assert_eq!(a.duration("is_maintduration", 1, 36_500).unwrap(), None);
    }

    #[test]
    fn ids_and_versions_are_0_to_i32_max_and_computer_ids_have_no_spaces() {
        let a = q("is_productid=2147483647&is_majorversion=2147483648&is_minorversion=-1").unwrap();
        assert_eq!(a.unsigned("is_productid").unwrap(), Some(2_147_483_647));
        assert!(a.unsigned("is_majorversion").is_err());
        assert!(a.unsigned("is_minorversion").is_err());
        assert_eq!(a.unsigned("is_missing").unwrap(), None);
        let a = q("is_pcid=PC-1&is_other=a%20b").unwrap();
        assert_eq!(a.computer_id("is_pcid").unwrap().as_deref(), Some("PC-1"));
        let e = a.computer_id("is_other").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidFormat);
        assert!(e.message.contains("is_other"), "{}", e.message);
        let long = q(&format!("is_pcid={}", "x".repeat(256))).unwrap();
        assert!(long.computer_id("is_pcid").is_err());
    }

    #[test]
    fn mapped_fields_become_is_arguments_under_the_same_duplicate_rules() {
        let map = |name: &str| match name.to_ascii_lowercase().as_str() {
            "orderid" => Some("is_orderid"),
            "ordernumber" => Some("is_orderid"),
            "minor" => Some("IS_MINORVERSON"),
            _ => None,
        };
        let a = q("OrderId=1234&minor=2&other=x&is_vendor=V").unwrap();
        let mapped = a.with_fields(map).unwrap();
        assert_eq!(mapped.get("is_orderid"), Some("1234"));
        assert_eq!(mapped.get("is_minorversion"), Some("2"));
        assert_eq!(mapped.get("is_vendor"), Some("V"));
        assert_eq!(mapped.others(), &[("other".to_string(), "x".to_string())]);
        for twice in [
            "OrderId=1&is_orderid=2",
            "orderNumber=1&OrderId=2",
            "minor=1&is_minorversion=1",
        ] {
            let e = q(twice).unwrap().with_fields(map).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidFormat, "{twice}");
            assert!(e.message.contains("more than once"), "{}", e.message);
        }
    }

    #[test]
    fn non_is_arguments_are_kept_for_plugins() {
        let a = q("security_request_hash=abc&is_avkey=k").unwrap();
        assert_eq!(
            a.others(),
            &[("security_request_hash".to_string(), "abc".to_string())]
        );
        assert_eq!(a.len(), 1);
    }
}
