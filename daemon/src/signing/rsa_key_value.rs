//! QLM's form of an RSA key: the `<RSAKeyValue>` XML of .NET's `RSA.ToXmlString`, each part a
//! big-endian unsigned integer in base64. QLM applications embed the public key in this form
//! (`<Modulus>`, `<Exponent>`), and a shop moving from QLM holds its private key in it (also
//! `P`, `Q`, `DP`, `DQ`, `InverseQ`, `D`). licd writes the public form
//! (`licd signing-key export --format rsakeyvalue`) and reads the private form
//! (`licd signing-key import --format rsakeyvalue`) strictly: every part once, valid base64,
//! and parts that form one consistent RSA key of a size licd will sign with, or nothing.

use openssl::bn::{BigNum, BigNumRef};
use openssl::pkey::{HasPublic, Private};
use openssl::rsa::{Rsa, RsaRef};
use quick_xml::events::Event;

/// The smallest key licd imports: QLM's own keys are 1024-bit (the modulus of its
/// documentation's sample public key is 128 bytes), so a shop's key in the field has that
/// size; licd makes 3072-bit keys itself.
pub const MIN_IMPORT_BITS: u32 = 1024;

/// The largest key licd imports: past it a signature costs far more than a reply should.
pub const MAX_IMPORT_BITS: u32 = 16384;

/// The document element.
const ROOT: &str = "RSAKeyValue";

/// The parts of a private key, in the order `ToXmlString(true)` writes them.
const PRIVATE_PARTS: [&str; 8] = ["Modulus", "Exponent", "P", "Q", "DP", "DQ", "InverseQ", "D"];

/// Why an `<RSAKeyValue>` document was not accepted as a private key. Each message says what
/// to fix; none quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum RsaKeyValueError {
    /// Not well-formed XML.
    #[error("the file is not well-formed XML ({0})")]
    NotXml(String),
    /// Another document element, or text or elements outside it.
    #[error("expected one <RSAKeyValue> element holding the key's parts; {0}")]
    NotRsaKeyValue(String),
    /// A child that is not one of the eight parts.
    #[error(
        "<RSAKeyValue> holds <{0}>, which is not a part of an RSA key (expected Modulus, Exponent, P, Q, DP, DQ, InverseQ, D)"
    )]
    UnknownPart(String),
    /// A part given twice.
    #[error("<RSAKeyValue> holds <{0}> twice")]
    DuplicatePart(&'static str),
    /// A part missing: most often the file is the public key.
    #[error(
        "<RSAKeyValue> has no <{0}>: a private key needs Modulus, Exponent, P, Q, DP, DQ, InverseQ and D (export QLM's key with its private parts, not the public key)"
    )]
    MissingPart(&'static str),
    /// A part whose text is not base64, or is empty.
    #[error("<{0}> is not base64 of a big-endian number")]
    BadBase64(&'static str),
    /// The parts do not make one RSA key.
    #[error(
        "the parts do not form one consistent RSA key ({0}); check that they all come from the same key"
    )]
    Inconsistent(String),
    /// Outside [`MIN_IMPORT_BITS`]..=[`MAX_IMPORT_BITS`].
    #[error(
        "the key has {0} bits; licd signs with keys of {MIN_IMPORT_BITS} to {MAX_IMPORT_BITS} bits"
    )]
    Size(u32),
}

/// The public key as `<RSAKeyValue><Modulus>…</Modulus><Exponent>…</Exponent></RSAKeyValue>`,
/// on one line, what a QLM application embeds.
pub fn public_xml<T: HasPublic>(rsa: &RsaRef<T>) -> String {
    format!(
        "<{ROOT}><Modulus>{}</Modulus><Exponent>{}</Exponent></{ROOT}>",
        base64(rsa.n()),
        base64(rsa.e())
    )
}

/// Reads a private key in `<RSAKeyValue>` form and checks it (module doc).
pub fn parse_private(xml: &str) -> Result<Rsa<Private>, RsaKeyValueError> {
    let parts = read_parts(xml.trim_start_matches('\u{feff}'))?;
    let mut numbers = Vec::with_capacity(PRIVATE_PARTS.len());
    for name in PRIVATE_PARTS {
        let text = parts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
            .ok_or(RsaKeyValueError::MissingPart(name))?;
        numbers.push(number(name, text)?);
    }
    let [n, e, p, q, dp, dq, iqmp, d]: [BigNum; 8] = numbers
        .try_into()
        .map_err(|_| RsaKeyValueError::Inconsistent("a part is missing".into()))?;
    let bits = u32::try_from(n.num_bits()).unwrap_or(0);
    if !(MIN_IMPORT_BITS..=MAX_IMPORT_BITS).contains(&bits) {
        return Err(RsaKeyValueError::Size(bits));
    }
    let inconsistent =
        |e: openssl::error::ErrorStack| RsaKeyValueError::Inconsistent(e.to_string());
    let rsa = Rsa::from_private_components(n, e, d, p, q, dp, dq, iqmp).map_err(inconsistent)?;
    // OpenSSL checks that P and Q are prime, N = P·Q, D inverts E, and the CRT parts.
    match rsa.check_key() {
        Ok(true) => Ok(rsa),
        Ok(false) => Err(RsaKeyValueError::Inconsistent(
            "OpenSSL's key check failed".into(),
        )),
        Err(e) => Err(inconsistent(e)),
    }
}

/// The `(name, text)` of each child of the one `<RSAKeyValue>` element, in document order;
/// refuses anything else in the document but the declaration, comments and whitespace.
fn read_parts(xml: &str) -> Result<Vec<(&'static str, String)>, RsaKeyValueError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let not_xml = |e: &dyn std::fmt::Display| RsaKeyValueError::NotXml(e.to_string());
    let outside = |what: &str| RsaKeyValueError::NotRsaKeyValue(what.to_string());
    let mut parts: Vec<(&'static str, String)> = Vec::new();
    // Where the reader is: before the root, inside it, inside a part, after the root.
    let mut in_root = false;
    let mut root_seen = false;
    let mut part: Option<(&'static str, String)> = None;
    loop {
        match reader.read_event().map_err(|e| not_xml(&e))? {
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Start(e) if !in_root => {
                let name = e.local_name().as_ref().to_owned();
                if root_seen || name != ROOT {
                    return Err(outside(&format!("found <{name}>")));
                }
                in_root = true;
                root_seen = true;
            }
            Event::Start(e) if part.is_none() => {
                let name = e.local_name().as_ref().to_owned();
                let known = PRIVATE_PARTS
                    .into_iter()
                    .find(|p| *p == name)
                    .ok_or(RsaKeyValueError::UnknownPart(name))?;
                if parts.iter().any(|(n, _)| *n == known) {
                    return Err(RsaKeyValueError::DuplicatePart(known));
                }
                part = Some((known, String::new()));
            }
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                return Err(outside(&format!("a part holds <{name}>")));
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                return match PRIVATE_PARTS.into_iter().find(|p| *p == name) {
                    Some(known) if in_root && part.is_none() => {
                        Err(RsaKeyValueError::BadBase64(known))
                    }
                    _ => Err(outside(&format!("found <{name}/>"))),
                };
            }
            Event::Text(t) => {
                let text: &str = &t;
                match part.as_mut() {
                    Some((_, s)) => s.push_str(text),
                    None if text.trim().is_empty() => {}
                    None if in_root => return Err(outside("found text between the parts")),
                    None => return Err(outside("found text outside <RSAKeyValue>")),
                }
            }
            Event::End(_) => match part.take() {
                Some(done) => parts.push(done),
                None => in_root = false,
            },
            Event::CData(_) | Event::PI(_) | Event::DocType(_) | Event::GeneralRef(_) => {
                return Err(outside(
                    "found a CDATA section, entity, processing instruction or DOCTYPE",
                ));
            }
            Event::Eof if root_seen => return Ok(parts),
            Event::Eof => return Err(outside("the file holds no <RSAKeyValue>")),
        }
    }
}

/// One part's number: base64 (whitespace between the characters allowed, as .NET reads it)
/// of a big-endian unsigned integer, at least one byte.
fn number(name: &'static str, text: &str) -> Result<BigNum, RsaKeyValueError> {
    let bad = || RsaKeyValueError::BadBase64(name);
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = compact.trim_end_matches('=');
    let padding = compact.len() - body.len();
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    // `decode_block` is OpenSSL's lenient decoder: hold the text to RFC 4648 first.
    if compact.is_empty()
        || !compact.len().is_multiple_of(4)
        || padding > 2
        || !body.chars().all(alphabet)
    {
        return Err(bad());
    }
    let bytes = openssl::base64::decode_block(&compact).map_err(|_| bad())?;
    BigNum::from_slice(&bytes).map_err(|_| bad())
}

/// A number's minimal big-endian bytes in base64.
fn base64(n: &BigNumRef) -> String {
    openssl::base64::encode_block(&n.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small real key: tests of the format need not wait for a 3072-bit prime search.
    fn key_1024() -> &'static Rsa<Private> {
        static KEY: std::sync::OnceLock<Rsa<Private>> = std::sync::OnceLock::new();
        KEY.get_or_init(|| Rsa::generate(1024).expect("RSA key generation"))
    }

    /// `key` as `ToXmlString(true)` writes it, with the part `skip` left out and the part
    /// `replace.0` given the text `replace.1`.
    fn private_xml(key: &Rsa<Private>, skip: &str, replace: (&str, &str)) -> String {
        let parts: [(&str, &BigNumRef); 8] = [
            ("Modulus", key.n()),
            ("Exponent", key.e()),
            ("P", key.p().unwrap()),
            ("Q", key.q().unwrap()),
            ("DP", key.dmp1().unwrap()),
            ("DQ", key.dmq1().unwrap()),
            ("InverseQ", key.iqmp().unwrap()),
            ("D", key.d()),
        ];
        let mut xml = String::from("<RSAKeyValue>");
        for (name, n) in parts.iter().filter(|(name, _)| *name != skip) {
            let text = if *name == replace.0 {
                replace.1.to_string()
            } else {
                base64(n)
            };
            xml.push_str(&format!("<{name}>{text}</{name}>"));
        }
        xml.push_str("</RSAKeyValue>");
        xml
    }

    #[test]
    fn a_private_key_reads_back_as_the_same_key() {
        let key = key_1024();
        let xml = format!(
            "\u{feff}<?xml version=\"1.0\"?>\n<!-- QLM -->\n{}\n",
            private_xml(key, "", ("", ""))
        );
        let read = parse_private(&xml).unwrap();
        assert_eq!(read.n(), key.n());
        assert_eq!(read.d(), key.d());
        assert_eq!(public_xml(&read), public_xml(key));
    }

    #[test]
    fn the_public_form_is_modulus_and_exponent_in_base64() {
        let key = key_1024();
        let xml = public_xml(key);
        assert_eq!(
            xml,
            format!(
                "<RSAKeyValue><Modulus>{}</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>",
                openssl::base64::encode_block(&key.n().to_vec())
            )
        );
        assert_eq!(key.n().to_vec().len(), 128);
    }

    #[test]
    fn every_missing_part_is_named() {
        for part in PRIVATE_PARTS {
            let e = parse_private(&private_xml(key_1024(), part, ("", ""))).unwrap_err();
            assert!(
                matches!(e, RsaKeyValueError::MissingPart(p) if p == part),
                "{part}: {e}"
            );
        }
    }

    #[test]
    fn bad_base64_is_refused_naming_the_part() {
        for bad in ["", "!!!!", "AQA", "AQAB=", "A===", "AQ==AQ=="] {
            let e = parse_private(&private_xml(key_1024(), "", ("DP", bad))).unwrap_err();
            assert!(
                matches!(e, RsaKeyValueError::BadBase64("DP")),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn parts_of_two_keys_are_refused_as_inconsistent() {
        let other = Rsa::generate(1024).unwrap();
        let wrong_d = base64(other.d());
        let wrong_dp = base64(other.dmp1().unwrap());
        let wrong_q = base64(other.q().unwrap());
        for (part, text) in [("D", &wrong_d), ("DP", &wrong_dp), ("Q", &wrong_q)] {
            let e = parse_private(&private_xml(key_1024(), "", (part, text))).unwrap_err();
            assert!(
                matches!(e, RsaKeyValueError::Inconsistent(_)),
                "{part}: {e}"
            );
        }
    }

    #[test]
    fn a_key_smaller_than_1024_bits_is_refused() {
        let small = Rsa::generate(512).unwrap();
        let e = parse_private(&private_xml(&small, "", ("", ""))).unwrap_err();
        assert!(matches!(e, RsaKeyValueError::Size(512)), "{e}");
    }

    #[test]
    fn anything_but_one_rsakeyvalue_of_known_parts_is_refused() {
        let good = private_xml(key_1024(), "", ("", ""));
        let cases = [
            ("not xml", "found text outside"),
            ("<RSAKeyValue><D>AQAB</D", "not well-formed"),
            ("<RSAKeyValue></RSAKeyValu>", "not well-formed"),
            ("<KeyValue></KeyValue>", "found <KeyValue>"),
            ("", "holds no <RSAKeyValue>"),
        ];
        for (xml, said) in cases {
            let e = parse_private(xml).unwrap_err().to_string();
            assert!(e.contains(said), "{xml:?}: {e}");
        }
        let extra = good.replace("</RSAKeyValue>", "<Comment>x</Comment></RSAKeyValue>");
        assert!(matches!(
            parse_private(&extra),
            Err(RsaKeyValueError::UnknownPart(p)) if p == "Comment"
        ));
        let twice = good.replace("<D>", "<P>AQAB</P><D>");
        assert!(matches!(
            parse_private(&twice),
            Err(RsaKeyValueError::DuplicatePart("P"))
        ));
        let two_roots = format!("{good}{good}");
        assert!(parse_private(&two_roots).is_err());
        let text = good.replace("<D>", "stray<D>");
        assert!(parse_private(&text).is_err());
    }

    #[test]
    fn messages_never_quote_the_key() {
        let key = key_1024();
        let d = base64(key.d());
        let e = parse_private(&private_xml(key, "Modulus", ("", ""))).unwrap_err();
        assert!(!e.to_string().contains(&d[..20]));
    }
}
