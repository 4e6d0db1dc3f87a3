//! The two signatures of an event: QLM's `X-QLM-Signature` (a plain hash, what QLM's
//! receivers check) and licd's stronger `X-Licd-Signature` (an HMAC with a timestamp, so a
//! receiver can refuse a replayed event).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// `X-QLM-Signature`: lowercase hex SHA-256 of the body bytes followed by the key bytes.
pub fn qlm_signature(body: &[u8], key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(body);
    hash.update(key.as_bytes());
    hex(&hash.finalize())
}

/// `X-Licd-Signature`: `t=<unix seconds>,v1=<lowercase hex HMAC-SHA256 keyed with the key
/// over "<t>.<body>">`.
pub fn licd_signature(body: &[u8], key: &str, t: i64) -> String {
    // HMAC takes a key of any length; the error arm is never reached.
    let v1 = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("t={t},v1={v1}")
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qlm_signature_hashes_the_body_then_the_key() {
        // echo -n '{"a":1}secret' | sha256sum
        let expected = hex(&Sha256::digest(b"{\"a\":1}secret"));
        assert_eq!(qlm_signature(b"{\"a\":1}", "secret"), expected);
        assert_eq!(expected.len(), 64);
        assert_ne!(qlm_signature(b"{\"a\":2}", "secret"), expected);
    }

    #[test]
    fn the_licd_signature_is_an_hmac_over_the_time_and_the_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = licd_signature(b"ya want for nothing?", "Jefe", 0);
        assert_eq!(
            sig,
            format!("t=0,v1={}", {
                let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
                mac.update(b"0.ya want for nothing?");
                hex(&mac.finalize().into_bytes())
            })
        );
        let rfc = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
            mac.update(b"what do ya want for nothing?");
            hex(&mac.finalize().into_bytes())
        };
        assert_eq!(
            rfc,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(
            licd_signature(b"x", "Jefe", 1),
            licd_signature(b"x", "Jefe", 2)
        );
    }
}
