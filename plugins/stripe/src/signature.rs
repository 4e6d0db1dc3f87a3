//! Stripe's `Stripe-Signature` header: `t=<Unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`.
//!
//! Each `v1` is the lowercase hex HMAC-SHA256, keyed with the endpoint's signing secret
//! (`whsec_…`), of `"<t>.<raw body>"`. Stripe sends several `v1` while a rolled secret is
//! still valid, so any one matching is enough; `v0` is the test-mode legacy scheme and is
//! never trusted. The timestamp is signed too, and an event whose `t` is more than
//! `toleranceSeconds` from now is refused as stale: licd remembers event ids for a while, not
//! forever, and a captured event must not be replayable after that.

use licd_plugin_api::WebhookRefusal;
use licd_webhook_kit::signature::{any_matches, check_timestamp, from_hex, parse_timestamp};

/// The header's name.
pub const HEADER: &str = "Stripe-Signature";

/// Checks `header` (the `Stripe-Signature` value, `None` when absent) over `body`.
///
/// # Errors
/// [`WebhookRefusal::BadSignature`]: no header, no `t` or `v1`, no `v1` matching, or a `t`
/// outside the tolerance.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), WebhookRefusal> {
    let bad = |why: &str| WebhookRefusal::BadSignature(format!("{HEADER}: {why}"));
    let header = header.ok_or_else(|| bad("the header is missing (not a Stripe delivery?)"))?;
    let mut timestamp = None;
    let mut digests = Vec::new();
    for element in header.split(',') {
        let (key, value) = element
            .trim()
            .split_once('=')
            .ok_or_else(|| bad("an element is not key=value"))?;
        match key {
            // One timestamp only: with two, which one the digest covers would be a guess.
            "t" if timestamp.is_some() => return Err(bad("t is given twice")),
            "t" => timestamp = Some(value),
            // A v1 that is not hex cannot match; it is skipped rather than refused, as
            // Stripe's own libraries do, so that one odd element cannot hide a good one.
            "v1" => digests.extend(from_hex(value)),
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| bad("the header has no t= timestamp"))?;
    if digests.is_empty() {
        return Err(bad("the header has no v1= signature"));
    }
    let signed_at = parse_timestamp(t, HEADER)?;
    if !any_matches(secret, &[t.as_bytes(), b".", body], &digests) {
        return Err(bad(
            "no v1 signature matches the body (tampered, or webhookSecret is not this endpoint's signing secret)",
        ));
    }
    check_timestamp(signed_at, now, tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use licd_webhook_kit::testing::sign_stripe;

    const NOW: i64 = 1_700_000_000;

    fn refusal(header: Option<&str>, body: &[u8]) -> String {
        match verify(header, body, b"whsec_k", NOW, 300) {
            Err(WebhookRefusal::BadSignature(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn any_v1_matching_passes_and_v0_is_not_trusted() {
        let good = sign_stripe("whsec_k", NOW, b"{}");
        assert_eq!(verify(Some(&good), b"{}", b"whsec_k", NOW, 300), Ok(()));
        let v1 = good.split_once(",v1=").map(|(_, d)| d).unwrap_or_default();
        let rolled = format!(
            "t={NOW},v1={},v1={v1},v0={}",
            "00".repeat(32),
            "11".repeat(32)
        );
        assert_eq!(verify(Some(&rolled), b"{}", b"whsec_k", NOW, 300), Ok(()));
        let legacy_only = format!("t={NOW},v0={v1}");
        assert!(refusal(Some(&legacy_only), b"{}").contains("no v1"));
    }

    #[test]
    fn missing_malformed_wrong_or_stale_signatures_are_refused() {
        assert!(refusal(None, b"{}").contains("missing"));
        assert!(refusal(Some("garbage"), b"{}").contains("key=value"));
        assert!(refusal(Some(&format!("v1={}", "00".repeat(32))), b"{}").contains("no t="));
        let good = sign_stripe("whsec_k", NOW, b"{}");
        assert!(refusal(Some(&good), b"{ }").contains("no v1 signature matches"));
        assert!(refusal(Some(&format!("t=1,{good}")), b"{}").contains("twice"));
        let old = sign_stripe("whsec_k", NOW - 301, b"{}");
        assert!(refusal(Some(&old), b"{}").contains("stale"));
        let wrong_key = sign_stripe("whsec_other", NOW, b"{}");
        assert!(refusal(Some(&wrong_key), b"{}").contains("no v1 signature matches"));
    }
}
