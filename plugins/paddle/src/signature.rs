//! Paddle Billing's `Paddle-Signature` header: `ts=<Unix seconds>;h1=<hex>[;h1=<hex>…]`.
//!
//! Each `h1` is the hex HMAC-SHA256, keyed with the notification destination's secret key
//! (`pdl_ntfset_…`), of `"<ts>:<raw body>"`; Paddle sends more than one while a secret is
//! being rotated, and any one matching is enough. The timestamp is signed, and a `ts` more
//! than `toleranceSeconds` from now is refused as stale.

use licd_plugin_api::WebhookRefusal;
use licd_webhook_kit::signature::{any_matches, check_timestamp, from_hex, parse_timestamp};

/// The header's name.
pub const HEADER: &str = "Paddle-Signature";

/// Checks `header` (`None` when absent) over `body`.
///
/// # Errors
/// [`WebhookRefusal::BadSignature`]: no header, no `ts` or `h1`, no `h1` matching, or a `ts`
/// outside the tolerance.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), WebhookRefusal> {
    let bad = |why: &str| WebhookRefusal::BadSignature(format!("{HEADER}: {why}"));
    let header = header.ok_or_else(|| bad("the header is missing (not a Paddle delivery?)"))?;
    let mut timestamp = None;
    let mut digests = Vec::new();
    for element in header.split(';') {
        let (key, value) = element
            .trim()
            .split_once('=')
            .ok_or_else(|| bad("an element is not key=value"))?;
        match key {
            "ts" if timestamp.is_some() => return Err(bad("ts is given twice")),
            "ts" => timestamp = Some(value),
            "h1" => digests.extend(from_hex(value)),
            _ => {}
        }
    }
    let ts = timestamp.ok_or_else(|| bad("the header has no ts= timestamp"))?;
    if digests.is_empty() {
        return Err(bad("the header has no h1= signature"));
    }
    let signed_at = parse_timestamp(ts, HEADER)?;
    if !any_matches(secret, &[ts.as_bytes(), b":", body], &digests) {
        return Err(bad(
            "no h1 signature matches the body (tampered, or webhookSecret is not this destination's secret key)",
        ));
    }
    check_timestamp(signed_at, now, tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use licd_webhook_kit::testing::sign_paddle;

    const NOW: i64 = 1_700_000_000;

    fn refusal(header: Option<&str>) -> String {
        match verify(header, b"{}", b"pdl_k", NOW, 300) {
            Err(WebhookRefusal::BadSignature(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn any_h1_matching_passes() {
        let good = sign_paddle("pdl_k", NOW, b"{}");
        assert_eq!(verify(Some(&good), b"{}", b"pdl_k", NOW, 300), Ok(()));
        let (ts, h1) = good.split_once(";h1=").unwrap_or_default();
        let rotating = format!("{ts};h1={};h1={h1}", "ab".repeat(32));
        assert_eq!(verify(Some(&rotating), b"{}", b"pdl_k", NOW, 300), Ok(()));
    }

    #[test]
    fn missing_malformed_wrong_or_stale_signatures_are_refused() {
        assert!(refusal(None).contains("missing"));
        assert!(refusal(Some("nonsense")).contains("key=value"));
        assert!(refusal(Some(&format!("h1={}", "00".repeat(32)))).contains("no ts="));
        assert!(refusal(Some(&format!("ts={NOW}"))).contains("no h1="));
        assert!(
            refusal(Some(&sign_paddle("pdl_other", NOW, b"{}")))
                .contains("no h1 signature matches")
        );
        assert!(refusal(Some(&sign_paddle("pdl_k", NOW + 301, b"{}"))).contains("stale"));
    }
}
