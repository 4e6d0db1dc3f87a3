//! CSRF tokens: stateless HMAC-SHA256 tokens under the store's server secret, so that every
//! node of a PostgreSQL deployment accepts the tokens of the others.
//!
//! A token is `ISSUED.MAC` where `MAC = HMAC(secret, "licd-csrf" | purpose | binding |
//! ISSUED)`, base64url. `binding` ties it to one browser: the console passes the session id,
//! the portal the value of its own random cookie (a double-submit cookie whose value another
//! site can neither read nor set, since it is `HttpOnly` and `SameSite=Strict`). A token
//! from another form (`purpose`), another browser or older than [`VALID_SECONDS`] is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The hidden form field that carries the token.
pub const FIELD: &str = "csrf_token";

/// How long a token is accepted: a form left open over lunch still submits.
pub const VALID_SECONDS: i64 = 2 * 60 * 60;

/// Why a token was refused. The page shown says so in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    /// The form carried no token.
    #[error("the form carried no security token; reload the page and send it again")]
    Missing,
    /// The token is not one this server issued for this form and browser.
    #[error("the form's security token is not valid; reload the page and send it again")]
    Invalid,
    /// The token is older than [`VALID_SECONDS`].
    #[error("the form was open too long; reload the page and send it again")]
    Expired,
}

/// The MAC of a token; `None` only if HMAC refused the key, which it never does for 32
/// bytes (a fixed fallback value would be a MAC anyone could forge, so there is none).
fn mac(secret: &[u8; 32], purpose: &str, binding: &[u8], issued: i64) -> Option<[u8; 32]> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(b"licd-csrf\0");
    m.update(purpose.as_bytes());
    m.update(b"\0");
    m.update(&(binding.len() as u64).to_be_bytes());
    m.update(binding);
    m.update(&issued.to_be_bytes());
    Some(m.finalize().into_bytes().into())
}

/// A token for the form `purpose`, bound to `binding`, issued at `now` (Unix seconds).
pub fn issue(secret: &[u8; 32], purpose: &str, binding: &[u8], now: i64) -> String {
    // Without a MAC the token is one `verify` refuses, and the form asks for a reload.
    let tag =
        mac(secret, purpose, binding, now).map_or(String::new(), |m| URL_SAFE_NO_PAD.encode(m));
    format!("{now}.{tag}")
}

/// Whether `token` (the form field's value, `None` when absent) was issued by [`issue`] for
/// `purpose` and `binding` less than [`VALID_SECONDS`] before `now`.
pub fn verify(
    secret: &[u8; 32],
    purpose: &str,
    binding: &[u8],
    token: Option<&str>,
    now: i64,
) -> Result<(), CsrfError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(CsrfError::Missing)?;
    let (issued, tag) = token.split_once('.').ok_or(CsrfError::Invalid)?;
    let issued: i64 = issued.parse().map_err(|_| CsrfError::Invalid)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| CsrfError::Invalid)?;
    let expected = mac(secret, purpose, binding, issued).ok_or(CsrfError::Invalid)?;
    if !bool::from(tag.as_slice().ct_eq(&expected)) {
        return Err(CsrfError::Invalid);
    }
    // A token from the future (clock step on another node) is accepted within a minute.
    if now - issued > VALID_SECONDS || issued - now > 60 {
        return Err(CsrfError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn a_token_verifies_for_its_form_and_browser_only() {
        let t = issue(&SECRET, "release", b"browser-1", 1_000);
        assert_eq!(
            verify(&SECRET, "release", b"browser-1", Some(&t), 1_010),
            Ok(())
        );
        assert_eq!(
            verify(&SECRET, "release", b"browser-2", Some(&t), 1_010),
            Err(CsrfError::Invalid)
        );
        assert_eq!(
            verify(&SECRET, "login", b"browser-1", Some(&t), 1_010),
            Err(CsrfError::Invalid)
        );
        assert_eq!(
            verify(&[8; 32], "release", b"browser-1", Some(&t), 1_010),
            Err(CsrfError::Invalid)
        );
    }

    #[test]
    fn a_missing_forged_or_old_token_is_refused() {
        assert_eq!(verify(&SECRET, "f", b"b", None, 0), Err(CsrfError::Missing));
        assert_eq!(
            verify(&SECRET, "f", b"b", Some(""), 0),
            Err(CsrfError::Missing)
        );
        assert_eq!(
            verify(&SECRET, "f", b"b", Some("garbage"), 0),
            Err(CsrfError::Invalid)
        );
        let t = issue(&SECRET, "f", b"b", 0);
        let forged = t.replacen("0.", "1.", 1);
        assert_eq!(
            verify(&SECRET, "f", b"b", Some(&forged), 1),
            Err(CsrfError::Invalid)
        );
        assert_eq!(
            verify(&SECRET, "f", b"b", Some(&t), VALID_SECONDS + 1),
            Err(CsrfError::Expired)
        );
    }
}
