//! Strict authentication (methods.md, "Strict authentication"): for the methods listed in
//! `security.strictAuthenticationHttpMethods`, on top of the vendor's credentials, an
//! HMAC-SHA256 of the request URL keyed with the vendor's `apiKey`, a timestamp within the
//! tolerance, a minimum version, and each signature accepted once.
//!
//! The signature covers the URL only, so such a method takes its arguments from the query
//! string alone ([`check_query_only`]). The memory of seen signatures lives in this process:
//! it is lost on restart, so a request signed just before a restart can be replayed once
//! after it, within its timestamp window (docs/plugins.md says so).

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::auth::effects;
use crate::config::SecurityConfig;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::dates;
use crate::method_decl::{MethodCall, MethodTable};

/// The only version methods.md defines.
pub const VERSION: u32 = 2;

/// Header names, each with the aliases QLM clients send.
const TIMESTAMP: [&str; 2] = ["x-qlm-timestamp", "qlm-timestamp"];
const AUTH_VERSION: [&str; 2] = ["x-qlm-authentication-version", "qlm-authentication-version"];
const SIGNATURE: [&str; 3] = [
    "x-qlm-authentication",
    "x-qlm-authentication-token",
    "qlm-authentication-token",
];

/// Most signatures remembered at once. Only correctly signed requests are remembered, and
/// each is forgotten once its timestamp leaves the window, so reaching this takes one vendor
/// sending this many signed requests within one tolerance window; past it, strict requests
/// are refused rather than letting replays through.
const MAX_REMEMBERED: usize = 100_000;

/// Whether this request needs strict authentication: `strictAuthenticationHttpMethods` names
/// its method or its effect ([`crate::auth::effects`]), so listing `GetActivationKey` also
/// covers `GetActivationKeyWithExpiryDate`.
pub fn is_strict(
    security: &SecurityConfig,
    table: MethodTable,
    call: MethodCall,
    args: &Args,
) -> bool {
    effects::names(
        &security.strict_authentication_http_methods,
        table,
        call,
        args,
    )
}

/// Code 5 when a strictly authenticated request carries arguments in a form body, which the
/// signature does not cover.
pub fn check_query_only(method: &str, form_body: bool) -> Result<(), MethodError> {
    if form_body {
        return Err(MethodError::invalid(format!(
            "{method} is strictly authenticated: its signature covers the URL only, so send every argument in the query string, not in a form body."
        )));
    }
    Ok(())
}

/// Why strict authentication failed: for the log only; the client gets one code-8 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictFailure {
    /// The vendor has no `apiKey`.
    #[error("the vendor has no apiKey, so it cannot call strictly authenticated methods")]
    NoApiKey,
    /// A required header is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// The version is not a number, below the minimum, or not defined.
    #[error(
        "authentication version {given:?} is not accepted (minimum {minimum}, defined: {VERSION})"
    )]
    Version {
        /// As sent.
        given: String,
        /// `strictAuthenticationMinimumVersion`.
        minimum: u32,
    },
    /// The timestamp is not `yyyy-MM-dd HH:mm:ss`.
    #[error("the timestamp {0:?} is not yyyy-MM-dd HH:mm:ss")]
    BadTimestamp(String),
    /// The timestamp is outside the tolerance.
    #[error("the timestamp is {skew} s away from the server clock (tolerance {tolerance} s)")]
    Stale {
        /// Seconds between the timestamp and now.
        skew: i64,
        /// `strictAuthenticationTimestampTolerance`.
        tolerance: u64,
    },
    /// No accepted form of the URL gives this signature.
    #[error("the signature does not match the URL")]
    BadSignature,
    /// This signature was accepted before.
    #[error("the signature was already used (replay)")]
    Replayed,
    /// Too many signatures to remember.
    #[error("too many signatures in the window to remember; refusing")]
    MemoryFull,
}

/// Signatures accepted recently, each with the time after which its timestamp is stale anyway.
#[derive(Debug, Default)]
pub struct ReplayMemory {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayMemory {
    /// An empty memory.
    pub fn new() -> Self {
        ReplayMemory::default()
    }

    /// Records `signature` until `forget_after`; false when it is already there.
    fn first_use(&self, signature: &str, forget_after: i64, now: i64) -> Result<(), StrictFailure> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(signature).is_some_and(|until| *until >= now) {
            return Err(StrictFailure::Replayed);
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= MAX_REMEMBERED {
                return Err(StrictFailure::MemoryFull);
            }
        }
        seen.insert(signature.to_string(), forget_after);
        Ok(())
    }
}

/// What strict authentication reads of a request.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The request target as sent: path and query.
    pub target: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
}

/// A signature this process accepted for the first time: what the nodes of a shared database
/// must also record before the request goes on (`crate::store::Store::first_signature_use`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The signature, lower-case hex.
    pub signature: String,
    /// When its timestamp turns stale, after which it need not be remembered.
    pub forget_after: i64,
}

/// Checks the headers and signature of `request` for a vendor whose key is `api_key`.
///
/// # Errors
/// The first rule that fails, for the log.
pub fn verify(
    security: &SecurityConfig,
    api_key: Option<&str>,
    request: Signed<'_>,
    now: i64,
    replay: &ReplayMemory,
) -> Result<Accepted, StrictFailure> {
    let key = api_key
        .filter(|k| !k.is_empty())
        .ok_or(StrictFailure::NoApiKey)?;
    let timestamp = header(request.headers, &TIMESTAMP)?;
    let version = header(request.headers, &AUTH_VERSION)?;
    let signature = header(request.headers, &SIGNATURE)?;
    let minimum = security.strict_authentication_minimum_version;
    match version.trim().parse::<u32>() {
        Ok(v) if v >= minimum && v == VERSION => {}
        _ => {
            return Err(StrictFailure::Version {
                given: version.to_string(),
                minimum,
            });
        }
    }
    // The date-only form parse_datetime also accepts is not a timestamp.
    let signed_at = Some(timestamp)
        .filter(|t| t.len() == "yyyy-MM-dd HH:mm:ss".len())
        .and_then(dates::parse_datetime)
        .ok_or_else(|| StrictFailure::BadTimestamp(timestamp.to_string()))?;
    let tolerance = security.strict_authentication_timestamp_tolerance;
    let skew = now.saturating_sub(signed_at).saturating_abs();
    if u64::try_from(skew).map_or(true, |s| s > tolerance) {
        return Err(StrictFailure::Stale { skew, tolerance });
    }
    let given = signature.trim().to_ascii_lowercase();
    let suffix = format!("&X-Qlm-Timestamp:{timestamp}&X-Qlm-Authentication-Version:{version}");
    let host = request
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let mut urls = vec![request.target.to_string()];
    if let Some(host) = host {
        urls.push(format!("http://{host}{}", request.target));
        urls.push(format!("https://{host}{}", request.target));
    }
    // Every form is computed and compared, so the time taken does not say which came close.
    let matched = urls.iter().fold(subtle::Choice::from(0), |any, url| {
        let expected = hmac_hex(key, &format!("{url}{suffix}"));
        any | expected.as_bytes().ct_eq(given.as_bytes())
    });
    if !bool::from(matched) {
        return Err(StrictFailure::BadSignature);
    }
    let forget_after = signed_at.saturating_add(i64::try_from(tolerance).unwrap_or(i64::MAX));
    replay.first_use(&given, forget_after, now)?;
    Ok(Accepted {
        signature: given,
        forget_after,
    })
}

/// The first of `names` present, as text.
fn header<'a>(headers: &'a HeaderMap, names: &[&'static str]) -> Result<&'a str, StrictFailure> {
    names
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
        .ok_or(StrictFailure::MissingHeader(names[0]))
}

/// Lowercase hex HMAC-SHA256 of `message` keyed with `key`.
fn hmac_hex(key: &str, message: &str) -> String {
    // HMAC takes keys of any length (longer ones are hashed), so this cannot fail; an empty
    // string would still never match a signature.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const KEY: &str = "api-key-1";
    const TARGET: &str = "/qlmservice.asmx/RetrieveActivationKeyHttp?is_orderid=O1";
    const NOW: i64 = 1_790_000_000;

    fn signed_headers(ts: &str, version: &str, url: &str, sig_header: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("licd.example:8080"));
        let sig = hmac_hex(
            KEY,
            &format!("{url}&X-Qlm-Timestamp:{ts}&X-Qlm-Authentication-Version:{version}"),
        );
        h.insert("x-qlm-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert(
            "x-qlm-authentication-version",
            HeaderValue::from_str(version).unwrap(),
        );
        h.insert(
            http::HeaderName::from_bytes(sig_header.as_bytes()).unwrap(),
            HeaderValue::from_str(&sig).unwrap(),
        );
        h
    }

    fn check(h: &HeaderMap, now: i64, memory: &ReplayMemory) -> Result<(), StrictFailure> {
        let request = Signed {
            target: TARGET,
            headers: h,
        };
        verify(&SecurityConfig::default(), Some(KEY), request, now, memory).map(drop)
    }

    fn ts(t: i64) -> String {
        dates::format_datetime(t)
    }

    #[test]
    fn a_signature_over_any_accepted_url_form_passes_once() {
        for (url, header) in [
            (TARGET.to_string(), "x-qlm-authentication"),
            (
                format!("http://licd.example:8080{TARGET}"),
                "x-qlm-authentication-token",
            ),
            (
                format!("https://licd.example:8080{TARGET}"),
                "qlm-authentication-token",
            ),
        ] {
            let memory = ReplayMemory::new();
            let h = signed_headers(&ts(NOW), "2", &url, header);
            assert_eq!(check(&h, NOW, &memory), Ok(()), "{url}");
            assert_eq!(check(&h, NOW + 1, &memory), Err(StrictFailure::Replayed));
        }
    }

    #[test]
    fn wrong_key_url_version_or_stale_timestamp_fails() {
        let memory = ReplayMemory::new();
        let h = signed_headers(&ts(NOW), "2", "/other", "x-qlm-authentication");
        assert_eq!(check(&h, NOW, &memory), Err(StrictFailure::BadSignature));
        let h = signed_headers(&ts(NOW - 301), "2", TARGET, "x-qlm-authentication");
        assert!(matches!(
            check(&h, NOW, &memory),
            Err(StrictFailure::Stale { skew: 301, .. })
        ));
        let h = signed_headers(&ts(NOW + 300), "2", TARGET, "x-qlm-authentication");
        assert_eq!(check(&h, NOW, &memory), Ok(()));
        for version in ["1", "3", "two"] {
            let h = signed_headers(&ts(NOW), version, TARGET, "x-qlm-authentication");
            assert!(
                matches!(check(&h, NOW, &memory), Err(StrictFailure::Version { .. })),
                "{version}"
            );
        }
        let h = signed_headers("2026-01-01", "2", TARGET, "x-qlm-authentication");
        assert!(matches!(
            check(&h, NOW, &memory),
            Err(StrictFailure::BadTimestamp(_))
        ));
        let h = signed_headers(&ts(NOW), "2", TARGET, "x-qlm-authentication");
        let request = Signed {
            target: TARGET,
            headers: &h,
        };
        let security = SecurityConfig::default();
        assert_eq!(
            verify(&security, Some("other"), request, NOW, &memory),
            Err(StrictFailure::BadSignature)
        );
        assert_eq!(
            verify(&security, None, request, NOW, &memory),
            Err(StrictFailure::NoApiKey)
        );
    }

    #[test]
    fn each_missing_header_is_named_and_qlm_timestamp_is_an_alias() {
        let memory = ReplayMemory::new();
        let full = signed_headers(&ts(NOW), "2", TARGET, "x-qlm-authentication");
        for (name, named) in [
            ("x-qlm-timestamp", "x-qlm-timestamp"),
            (
                "x-qlm-authentication-version",
                "x-qlm-authentication-version",
            ),
            ("x-qlm-authentication", "x-qlm-authentication"),
        ] {
            let mut h = full.clone();
            h.remove(name);
            assert_eq!(
                check(&h, NOW, &memory),
                Err(StrictFailure::MissingHeader(named))
            );
        }
        let mut h = full.clone();
        let value = h.remove("x-qlm-timestamp").unwrap();
        h.insert("qlm-timestamp", value);
        assert_eq!(check(&h, NOW, &memory), Ok(()));
    }

    #[test]
    fn a_remembered_signature_is_forgotten_only_after_its_window() {
        let memory = ReplayMemory::new();
        assert_eq!(memory.first_use("s", NOW + 10, NOW), Ok(()));
        assert_eq!(
            memory.first_use("s", NOW + 10, NOW + 10),
            Err(StrictFailure::Replayed)
        );
        assert_eq!(memory.first_use("s", NOW + 30, NOW + 11), Ok(()));
    }

    #[test]
    fn form_body_arguments_are_code_5_for_a_strict_method() {
        assert!(check_query_only("RetrieveActivationKeyHttp", false).is_ok());
        let e = check_query_only("RetrieveActivationKeyHttp", true).unwrap_err();
        assert_eq!(e.code, crate::errors::ErrorCode::InvalidFormat);
    }
}
