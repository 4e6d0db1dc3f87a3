//! The pieces of a store's signature check: HMAC-SHA256 over the signed bytes, the digest as
//! the store writes it (hex or base64), and the age of a signed timestamp.
//!
//! The digest is compared with `hmac`'s own `verify_slice`, in constant time, so a forger
//! cannot learn the expected digest byte by byte from response times.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use licd_plugin_api::WebhookRefusal;
use sha2::Sha256;

/// HMAC-SHA256, the MAC of all four stores.
type HmacSha256 = Hmac<Sha256>;

/// The length of an HMAC-SHA256 digest in bytes.
pub const DIGEST_BYTES: usize = 32;

/// The MAC of `parts`, concatenated, keyed with `secret`, ready to verify or finalize.
/// Stripe and Paddle sign "timestamp, separator, body"; feeding the parts in turn spares a
/// copy of a body that may be a megabyte.
fn mac_over(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length (a long key is hashed first), so this cannot fail; the
    // empty-key fallback exists only to avoid a panic path, and the configuration refuses an
    // empty secret anyway.
    let mut mac = HmacSha256::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The HMAC-SHA256 of `parts`, concatenated, keyed with `secret`.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_BYTES] {
    mac_over(secret, parts).finalize().into_bytes().into()
}

/// Whether one of `candidates` is the HMAC-SHA256 of `parts` keyed with `secret`, each
/// compared in constant time. Stores send several digests while a secret is being rolled
/// (Stripe's `v1`, Paddle's `h1`): any one matching is enough.
pub fn any_matches(secret: &[u8], parts: &[&[u8]], candidates: &[Vec<u8>]) -> bool {
    let mac = mac_over(secret, parts);
    candidates
        .iter()
        .any(|digest| mac.clone().verify_slice(digest).is_ok())
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of hex text (either case), or `None` when it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?))
        .collect()
}

/// The value of one hex digit.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Standard base64 (with padding) of `bytes`, as Shopify and WooCommerce write digests.
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of standard base64 text, or `None` when it is not base64.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// Refuses a signed timestamp more than `tolerance` seconds from `now`, either way: an old
/// one may be a captured event replayed after the host forgot its id, and one from the future
/// means a clock is wrong, which would stretch the window for replays.
///
/// # Errors
/// [`WebhookRefusal::BadSignature`] naming both times.
pub fn check_timestamp(signed_at: i64, now: i64, tolerance: u64) -> Result<(), WebhookRefusal> {
    if signed_at.abs_diff(now) > tolerance {
        return Err(WebhookRefusal::BadSignature(format!(
            "the signature is stale: signed at {signed_at}, now is {now}, more than toleranceSeconds = {tolerance} apart (a replayed event or a wrong clock)"
        )));
    }
    Ok(())
}

/// A signed timestamp as the stores write it: decimal Unix seconds.
///
/// # Errors
/// [`WebhookRefusal::BadSignature`] when it is not.
pub fn parse_timestamp(text: &str, header: &str) -> Result<i64, WebhookRefusal> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookRefusal::BadSignature(format!(
            "the {header} header's timestamp {text:?} is not Unix seconds"
        )));
    }
    text.parse().map_err(|_| {
        WebhookRefusal::BadSignature(format!(
            "the {header} header's timestamp {text:?} is out of range"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2.
        let digest = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            to_hex(&digest),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn any_matching_digest_passes_and_others_fail() {
        let good = hmac_sha256(b"k", &[b"body"]).to_vec();
        let bad = vec![0u8; DIGEST_BYTES];
        assert!(any_matches(b"k", &[b"body"], &[bad.clone(), good.clone()]));
        assert!(!any_matches(b"k", &[b"body"], &[bad]));
        assert!(!any_matches(b"k", &[b"body"], &[]));
        assert!(!any_matches(b"k", &[b"body"], &[good[..16].to_vec()]));
    }

    #[test]
    fn hex_and_base64_round_trip_and_refuse_garbage() {
        let bytes = [0u8, 0xab, 0xff, 0x10];
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes.to_vec()));
        assert_eq!(from_hex("ABff"), Some(vec![0xab, 0xff]));
        for bad in ["a", "zz", "0g"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
        assert_eq!(from_base64(&to_base64(&bytes)), Some(bytes.to_vec()));
        assert_eq!(from_base64("not base64!"), None);
    }

    #[test]
    fn a_timestamp_outside_the_tolerance_either_way_is_stale() {
        assert!(check_timestamp(1000, 1300, 300).is_ok());
        assert!(check_timestamp(1300, 1000, 300).is_ok());
        for signed_at in [699, 1301 + 300] {
            match check_timestamp(signed_at, 1000, 300) {
                Err(WebhookRefusal::BadSignature(why)) => assert!(why.contains("stale"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(parse_timestamp("17000", "Stripe-Signature").is_ok());
        for bad in ["", "-1", "1e3", "99999999999999999999"] {
            assert!(parse_timestamp(bad, "Stripe-Signature").is_err(), "{bad}");
        }
    }
}
