//! WooCommerce's ping: when a webhook is saved active (or its URL changes), WooCommerce POSTs
//! `webhook_id=<N>` as a form, **unsigned**, and disables the webhook after repeated non-2xx
//! answers. So licd answers it as an ignored event (200, no action) — but only a body that is
//! exactly that one field with a number, and only without a signature header (a signed request
//! is checked as an order, always).
//!
//! Why this is safe: the ping carries nothing but a number, and an event without actions
//! changes no licence, customer or mail (licd does not even record its id); the worst a
//! forger gets is a 200.
//! A vendor who wants every unsigned request refused sets `acceptPing = false` once the
//! webhook is saved (WooCommerce pings only then).

/// The `[plugin.config]` key that turns the ping answer off.
pub const ACCEPT_PING_KEY: &str = "acceptPing";

/// The longest webhook id accepted (WordPress post ids are 64-bit).
const MAX_ID_DIGITS: usize = 19;

/// The webhook id of a ping body, or `None` when the body is anything else.
pub fn webhook_id(body: &[u8]) -> Option<&str> {
    let id = std::str::from_utf8(body.strip_prefix(b"webhook_id=")?).ok()?;
    let digits =
        !id.is_empty() && id.len() <= MAX_ID_DIGITS && id.bytes().all(|b| b.is_ascii_digit());
    digits.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_ping_body_is_a_ping() {
        assert_eq!(webhook_id(b"webhook_id=12"), Some("12"));
        for other in [
            &b"webhook_id="[..],
            b"webhook_id=12&x=1",
            b"webhook_id=1a",
            b"webhook_id=12345678901234567890",
            b"{\"webhook_id\":12}",
            b"x=1&webhook_id=12",
        ] {
            assert_eq!(webhook_id(other), None, "{other:?}");
        }
    }
}
