//! The single-use links of "My licence" (docs/portal.md): what the mail carries, how a
//! link is checked, and how its one use is recorded.
//!
//! A link is `KEY.EXPIRES.NONCE.MAC`, where `MAC` is an HMAC-SHA256 under the store's server
//! secret (equal on every PostgreSQL node) over the key, the customer's e-mail, the expiry
//! and the nonce. No table holds it: a link is checked by recomputing its MAC with the
//! e-mail the licence's customer has now, so a link stops working when the customer's
//! e-mail changes, and nothing for a key alone ever verifies. The e-mail is not in the link
//! (it travels through mail scanners and proxy logs); the key is, so that the page knows
//! which licence to show.
//!
//! One use: the release a link confirms runs through the store's replay memory
//! (`crate::store::replays`) with the link's nonce as replay id, in the release's own
//! transaction, so a second use, on any node, changes nothing; a refused release writes no
//! row and leaves the link usable. The memory keeps a row 30 days, far past a link's 15
//! minutes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::license::keys::ActivationKey;
use crate::store::replays::ReplayKey;

/// How long a mailed link opens the licence page.
pub const LINK_MINUTES: i64 = 15;

/// Random bytes of a link's nonce (its replay id): 128 bits.
const NONCE_BYTES: usize = 16;

/// Bytes of the MAC a link carries: 128 bits, checked online only.
const MAC_BYTES: usize = 16;

/// The replay memory's "vendor" of link uses: no configured vendor's plugin writes ids of
/// this form, and a nonce is 128 random bits besides.
const REPLAY_NAMESPACE: &str = "(portal link)";

/// The method name a link's use is remembered under.
pub const REPLAY_METHOD: &str = "PortalLinkRelease";

/// Why a link does not open the page. Each is shown in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not a link this server made for this licence's customer (mistyped, cut by the mail
    /// program, or the customer's e-mail changed since).
    Invalid,
    /// Older than [`LINK_MINUTES`].
    Expired,
}

/// A link as read from its URL, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The licence it names.
    pub key: ActivationKey,
    /// When it stops working, UTC Unix seconds.
    pub expires: i64,
    /// Its replay id, base64url.
    pub nonce: String,
    mac: Vec<u8>,
    /// The token as read, for the forms of the page it opens.
    token: String,
}

impl Link {
    /// Reads a link's token; `None` when it cannot be one (the caller answers
    /// [`LinkError::Invalid`]).
    pub fn parse(token: &str) -> Option<Link> {
        let mut parts = token.trim().split('.');
        let (key, expires, nonce, mac) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let key = ActivationKey::parse_for_lookup(key).ok()?;
        let expires = expires.parse().ok()?;
        let decoded = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if decoded.len() != NONCE_BYTES {
            return None;
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        Some(Link {
            key,
            expires,
            nonce: nonce.to_string(),
            mac,
            token: token.trim().to_string(),
        })
    }

    /// Checks the link against `email`, the e-mail of the licence's customer now (`""` when
    /// it has none: nothing verifies then), at `now`. The MAC is checked first and in
    /// constant time, so an expired link is only told apart from a forged one when it is
    /// genuine.
    pub fn verify(&self, secret: &[u8; 32], email: &str, now: i64) -> Result<(), LinkError> {
        let expected = mac(secret, &self.key, email, self.expires, &self.nonce);
        if !bool::from(self.mac.as_slice().ct_eq(&expected)) || email.is_empty() {
            return Err(LinkError::Invalid);
        }
        if now >= self.expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// The token, as the link's URL carries it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The replay id of this link's one use.
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey::new(REPLAY_NAMESPACE, &self.nonce, REPLAY_METHOD)
    }
}

/// The replay memory's (vendor, id) of a link's use, for the read that tells whether it
/// was used.
pub fn used_row(link: &Link) -> (String, String) {
    let key = link.replay_key();
    (key.vendor, key.id)
}

/// A new link token for `key` and its customer's `email`, valid [`LINK_MINUTES`] from
/// `now`. Fails only when the OS random generator does.
pub fn issue(
    secret: &[u8; 32],
    key: &ActivationKey,
    email: &str,
    now: i64,
) -> Result<String, getrandom::Error> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce)?;
    let nonce = URL_SAFE_NO_PAD.encode(nonce);
    let expires = now + LINK_MINUTES * 60;
    let tag = URL_SAFE_NO_PAD.encode(mac(secret, key, email, expires, &nonce));
    Ok(format!("{}.{expires}.{nonce}.{tag}", key.dashed()))
}

/// The MAC of a link: over the canonical key, the e-mail as the customer record compares it
/// (trimmed, lower case), the expiry and the nonce, each length-prefixed so that no two
/// inputs run together.
fn mac(
    secret: &[u8; 32],
    key: &ActivationKey,
    email: &str,
    expires: i64,
    nonce: &str,
) -> [u8; MAC_BYTES] {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; a 32-byte key is never refused.
        return [0; MAC_BYTES];
    };
    m.update(b"licd-portal-link\0");
    let email = crate::customers::email_key(email);
    for part in [key.as_str().as_bytes(), email.as_bytes(), nonce.as_bytes()] {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m.update(&expires.to_be_bytes());
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::model::LicenseModel;

    const SECRET: [u8; 32] = [9; 32];
    const NOW: i64 = 1_800_000_000;

    fn key() -> ActivationKey {
        ActivationKey::generate(LicenseModel::parse("permanent").expect("a model")).expect("a key")
    }

    #[test]
    fn a_link_opens_for_its_key_and_customer_until_it_expires() {
        let k = key();
        let token = issue(&SECRET, &k, "Ann@Example.com", NOW).unwrap();
        let link = Link::parse(&token).expect("a link");
        assert_eq!(link.key, k);
        assert_eq!(link.verify(&SECRET, " ann@example.com", NOW), Ok(()));
        assert_eq!(
            link.verify(&SECRET, "ann@example.com", NOW + LINK_MINUTES * 60 - 1),
            Ok(())
        );
        assert_eq!(
            link.verify(&SECRET, "ann@example.com", NOW + LINK_MINUTES * 60),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn another_customer_secret_key_or_expiry_does_not_verify() {
        let k = key();
        let token = issue(&SECRET, &k, "ann@example.com", NOW).unwrap();
        let link = Link::parse(&token).unwrap();
        assert_eq!(
            link.verify(&SECRET, "bob@example.com", NOW),
            Err(LinkError::Invalid)
        );
        assert_eq!(link.verify(&SECRET, "", NOW), Err(LinkError::Invalid));
        assert_eq!(
            link.verify(&[1; 32], "ann@example.com", NOW),
            Err(LinkError::Invalid)
        );
        let other = token.replacen(&k.dashed(), &key().dashed(), 1);
        assert_eq!(
            Link::parse(&other)
                .unwrap()
                .verify(&SECRET, "ann@example.com", NOW),
            Err(LinkError::Invalid)
        );
        let expires = (NOW + LINK_MINUTES * 60).to_string();
        let longer = token.replacen(&expires, &(NOW + 86_400).to_string(), 1);
        assert_eq!(
            Link::parse(&longer)
                .unwrap()
                .verify(&SECRET, "ann@example.com", NOW),
            Err(LinkError::Invalid)
        );
    }

    #[test]
    fn malformed_tokens_are_no_links_and_each_link_has_its_own_replay_id() {
        for bad in ["", "a.b.c", "x.1.AAAA.AAAA", "A.B.C.D.E"] {
            assert_eq!(Link::parse(bad), None, "{bad}");
        }
        let k = key();
        let a = Link::parse(&issue(&SECRET, &k, "a@x.org", NOW).unwrap()).unwrap();
        let b = Link::parse(&issue(&SECRET, &k, "a@x.org", NOW).unwrap()).unwrap();
        assert_ne!(a.replay_key(), b.replay_key());
        assert_eq!(a.replay_key().method, REPLAY_METHOD);
    }
}
