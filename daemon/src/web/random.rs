//! Random tokens for session ids and single-use links, and the digests the store keeps of
//! them: a copy of the database never holds a token that still opens a session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Bytes of randomness in a token: 256 bits, well above the 128 the console asks for.
pub const TOKEN_BYTES: usize = 32;

/// A fresh token: [`TOKEN_BYTES`] from the OS CSPRNG, base64url without padding (43
/// characters, safe in cookies, URLs and form fields).
///
/// Fails only when the OS generator does; the caller answers 500 then, since no secret
/// can be made.
pub fn token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The hex SHA-256 of `token`: what the store keeps instead of the token itself.
pub fn digest(token: &str) -> String {
    crate::signing::hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let a = token().unwrap();
        let b = token().unwrap();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_digest_is_hex_sha256_and_not_the_token() {
        let d = digest("abc");
        assert_eq!(
            d,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
