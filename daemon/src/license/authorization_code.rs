//! Activation by an e-mailed authorization code (RequestAuthorizationCodeForActivationHttp,
//! ActivateKeyByAuthorizationCodeHttp), as pure rules: which key a code is for, how a code is
//! made, stored, spent, counted and voided. The store's commands apply them
//! (`store::commands::authorization_code`), and the two methods in `crate::methods` serve
//! them (docs/authorization-codes.md).
//!
//! A code is six decimal digits, short enough to type from an e-mail; so little entropy is
//! safe only because every guess costs: a wrong code counts against the pending codes of the
//! e-mail it names (voided after the attempt limit), or, when it names none, against the
//! client address's authentication throttle (the method's part), and a code lives minutes. The store keeps only
//! a keyed hash of the code (HMAC-SHA256 with the server secret): a copy of the database does
//! not give out working codes, and the hash is the code's index key.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::License;

/// Digits of an authorization code.
pub const CODE_DIGITS: usize = 6;

/// Codes mailed to one e-mail address per hour at most; past that a request is answered the
/// same way and nothing is mailed.
pub const MAX_CODES_PER_EMAIL_PER_HOUR: usize = 3;

/// Codes mailed on behalf of one client address (IPv4 address or IPv6 /64) per hour at most.
pub const MAX_CODES_PER_ADDRESS_PER_HOUR: u32 = 10;

/// How long a spent or expired code is kept before a later request for the same e-mail
/// removes it: long enough to answer "request a new one" instead of "unknown" for a day.
pub const KEEP_SPENT_CODES_SECONDS: i64 = 86_400;

/// Where a code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeState {
    /// Mailed, not used yet.
    Pending,
    /// An activation was made with it.
    Used,
    /// Too many wrong codes were tried for its e-mail address.
    Void,
}

/// A stored authorization code: its hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// [`code_hash`] of the code, lower-case hex: the index key.
    pub hash: String,
    /// The customer's e-mail address, lower case.
    pub email: String,
    /// The canonical activation key the code activates.
    pub key: String,
    /// The computer the code was requested for; only it can be activated with the code.
    pub computer_id: String,
    /// When the code was made (UTC Unix seconds).
    pub created: i64,
    /// When it stops working.
    pub expires: i64,
    /// Wrong codes counted against it.
    pub attempts: u32,
    /// Pending, used or void.
    pub state: CodeState,
}

impl AuthorizationCode {
    /// Whether the code can still activate at `now`.
    pub fn is_pending(&self, now: i64) -> bool {
        self.state == CodeState::Pending && now < self.expires
    }
}

/// A code, in the form the customer sees: `CODE_DIGITS` digits, drawn uniformly from
/// `random` (rejection sampling, so no code is likelier than another).
pub fn code_from_random(random: impl IntoIterator<Item = u32>) -> Option<String> {
    const SPACE: u32 = 1_000_000;
    // The largest multiple of SPACE that fits in a u32: values at or above it are redrawn.
    const LIMIT: u32 = u32::MAX - (u32::MAX % SPACE);
    random
        .into_iter()
        .find(|r| *r < LIMIT)
        .map(|r| format!("{:0width$}", r % SPACE, width = CODE_DIGITS))
}

/// The code as typed, normalised: spaces and dashes dropped. `None` when what is left is not
/// `CODE_DIGITS` ASCII digits (such an input can match no code).
pub fn normalise(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The keyed hash a code is stored and found under: HMAC-SHA256 of the code with the server
/// secret, lower-case hex.
pub fn code_hash(secret: &[u8; 32], code: &str) -> String {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(secret);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(b"licd authorization code\0");
    mac.update(code.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `stored` is the record of the code whose hash is `hash`, compared in constant time
/// (the look-up found the record by this hash; the comparison guards against a backend whose
/// index compares loosely, e.g. by case).
pub fn hash_matches(stored: &AuthorizationCode, hash: &str) -> bool {
    stored.hash.as_bytes().ct_eq(hash.as_bytes()).into()
}

/// When a code made at `now` expires: `minutes` may be a decimal (`0.1` is six seconds).
pub fn expiry(now: i64, minutes: f64) -> i64 {
    let seconds = (minutes * 60.0).round();
    now.saturating_add(if seconds.is_finite() && seconds > 0.0 {
        seconds as i64
    } else {
        0
    })
}

/// Which of a customer's licences a code is for: the first (in the order given) that this
/// client may use (`in_use`: the product, version and usability rule activation applies,
/// `super::validation::check_in_use`) and that either has a free activation or is already
/// activated on the requesting computer (`activated_here`; the code then re-validates it).
pub fn pick_license(
    licenses: &[License],
    in_use: impl Fn(&License) -> bool,
    activated_here: impl Fn(&License) -> bool,
) -> Option<&License> {
    licenses
        .iter()
        .find(|license| in_use(license) && (license.available() > 0 || activated_here(license)))
}

/// Whether another code may be mailed to the owner of `codes` (all stored codes of one e-mail
/// address) at `now`: fewer than [`MAX_CODES_PER_EMAIL_PER_HOUR`] made in the last hour.
pub fn may_mail_again(codes: &[AuthorizationCode], now: i64) -> bool {
    codes.iter().filter(|c| now - c.created < 3600).count() < MAX_CODES_PER_EMAIL_PER_HOUR
}

/// The stored codes of one e-mail address a request may remove: spent or expired for longer
/// than [`KEEP_SPENT_CODES_SECONDS`].
pub fn is_stale(code: &AuthorizationCode, now: i64) -> bool {
    let spent_since = match code.state {
        CodeState::Pending => code.expires,
        // A used or voided code has no better time on record than its expiry or creation.
        CodeState::Used | CodeState::Void => code.created.min(code.expires),
    };
    now - spent_since > KEEP_SPENT_CODES_SECONDS
}

/// What a code presented for activation allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Activate this key on the requesting computer.
    Activate {
        /// The canonical activation key.
        key: String,
    },
    /// The code was used, voided or has expired: the customer must request a new one.
    Spent,
    /// Not a code for this computer or e-mail address: a wrong code.
    Wrong,
}

/// Decides what `stored` (the record found under the presented code's hash, if any) allows
/// `computer_id` at `now`; `email`, when given, must be the code's.
pub fn redeem(
    stored: Option<&AuthorizationCode>,
    hash: &str,
    computer_id: &str,
    email: Option<&str>,
    now: i64,
) -> Redemption {
    let Some(code) = stored.filter(|c| hash_matches(c, hash)) else {
        return Redemption::Wrong;
    };
    let email_matches = email.is_none_or(|e| e.trim().eq_ignore_ascii_case(&code.email));
    if code.computer_id != computer_id || !email_matches {
        return Redemption::Wrong;
    }
    if code.is_pending(now) {
        Redemption::Activate {
            key: code.key.clone(),
        }
    } else {
        Redemption::Spent
    }
}

/// Counts a wrong code against the pending codes of its e-mail address: each gains an
/// attempt, and a code with `max_attempts` attempts is void. Returns the codes that changed.
pub fn count_wrong_attempt(
    codes: &[AuthorizationCode],
    max_attempts: u32,
    now: i64,
) -> Vec<AuthorizationCode> {
    codes
        .iter()
        .filter(|c| c.is_pending(now))
        .map(|c| {
            let mut c = c.clone();
            c.attempts = c.attempts.saturating_add(1);
            if c.attempts >= max_attempts {
                c.state = CodeState::Void;
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(state: CodeState, created: i64, expires: i64) -> AuthorizationCode {
        AuthorizationCode {
            hash: code_hash(&[7; 32], "123456"),
            email: "ann@example.com".into(),
            key: "KEY".into(),
            computer_id: "pc-1".into(),
            created,
            expires,
            attempts: 0,
            state,
        }
    }

    #[test]
    fn a_code_is_six_digits_and_values_past_the_last_whole_million_are_redrawn() {
        assert_eq!(code_from_random([42]).as_deref(), Some("000042"));
        assert_eq!(
            code_from_random([u32::MAX, 1_000_001]).as_deref(),
            Some("000001")
        );
        assert_eq!(code_from_random([u32::MAX]), None);
    }

    #[test]
    fn typed_codes_lose_spaces_and_dashes_and_anything_else_matches_nothing() {
        assert_eq!(normalise(" 123-456 ").as_deref(), Some("123456"));
        assert_eq!(normalise("12345"), None);
        assert_eq!(normalise("12345a"), None);
        assert_eq!(normalise("１２３４５６"), None);
    }

    #[test]
    fn the_hash_depends_on_the_secret_and_the_code() {
        let h = code_hash(&[1; 32], "123456");
        assert_eq!(h.len(), 64);
        assert_ne!(h, code_hash(&[2; 32], "123456"));
        assert_ne!(h, code_hash(&[1; 32], "123457"));
    }

    #[test]
    fn expiry_takes_decimal_minutes() {
        assert_eq!(expiry(100, 0.1), 106);
        assert_eq!(expiry(100, 10.0), 700);
        assert_eq!(expiry(100, f64::NAN), 100);
    }

    #[test]
    fn a_pending_code_activates_only_its_computer_and_e_mail() {
        let c = code(CodeState::Pending, 0, 600);
        let hash = c.hash.clone();
        let activate = Redemption::Activate { key: "KEY".into() };
        assert_eq!(redeem(Some(&c), &hash, "pc-1", None, 10), activate);
        assert_eq!(
            redeem(Some(&c), &hash, "pc-1", Some("ANN@example.com"), 10),
            activate
        );
        assert_eq!(redeem(Some(&c), &hash, "pc-2", None, 10), Redemption::Wrong);
        assert_eq!(
            redeem(Some(&c), &hash, "pc-1", Some("bob@example.com"), 10),
            Redemption::Wrong
        );
        assert_eq!(redeem(None, &hash, "pc-1", None, 10), Redemption::Wrong);
        assert_eq!(
            redeem(Some(&c), "other", "pc-1", None, 10),
            Redemption::Wrong
        );
    }

    #[test]
    fn used_void_and_expired_codes_are_spent() {
        for c in [
            code(CodeState::Used, 0, 600),
            code(CodeState::Void, 0, 600),
            code(CodeState::Pending, 0, 600),
        ] {
            let now = if c.state == CodeState::Pending {
                600
            } else {
                10
            };
            assert_eq!(
                redeem(Some(&c), &c.hash.clone(), "pc-1", None, now),
                Redemption::Spent
            );
        }
    }

    #[test]
    fn wrong_attempts_void_pending_codes_at_the_limit_and_skip_spent_ones() {
        let codes = [
            code(CodeState::Pending, 0, 600),
            code(CodeState::Used, 0, 600),
        ];
        let once = count_wrong_attempt(&codes, 2, 10);
        assert_eq!(once.len(), 1);
        assert_eq!((once[0].attempts, once[0].state), (1, CodeState::Pending));
        let twice = count_wrong_attempt(&once, 2, 10);
        assert_eq!((twice[0].attempts, twice[0].state), (2, CodeState::Void));
        assert!(count_wrong_attempt(&twice, 2, 10).is_empty());
    }

    #[test]
    fn three_codes_an_hour_per_e_mail() {
        let mut codes = vec![code(CodeState::Pending, 0, 600); 2];
        assert!(may_mail_again(&codes, 100));
        codes.push(code(CodeState::Used, 50, 650));
        assert!(!may_mail_again(&codes, 100));
        assert!(may_mail_again(&codes, 3600));
    }

    #[test]
    fn spent_codes_are_kept_a_day() {
        let c = code(CodeState::Pending, 0, 600);
        assert!(!is_stale(&c, 600 + KEEP_SPENT_CODES_SECONDS));
        assert!(is_stale(&c, 601 + KEEP_SPENT_CODES_SECONDS));
    }
}
