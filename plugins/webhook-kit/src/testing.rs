//! Test helpers: the signature headers the stores would send, and a host request to hand a
//! plugin. Used by the plugins' own tests and by licd's integration tests, which sign the
//! same fixtures (`plugins/<store>/tests/fixtures/*.json`) the same way. Nothing here is
//! used by a plugin at run time.

use std::ffi::c_void;

use licd_plugin_api::ffi::{LicdBytes, LicdPair, LicdPluginV1, LicdRequest, LicdStr};
use licd_plugin_api::{Request, WebhookEvent, webhook};

use crate::signature::{hmac_sha256, to_base64, to_hex};

/// `Stripe-Signature` for `body` signed at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign_stripe(secret: &str, t: i64, body: &[u8]) -> String {
    let t = t.to_string();
    let digest = hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", to_hex(&digest))
}

/// `Paddle-Signature` for `body` signed at `ts` (Unix seconds):
/// `ts=<ts>;h1=<hex HMAC-SHA256(secret, "<ts>:<body>")>`.
pub fn sign_paddle(secret: &str, ts: i64, body: &[u8]) -> String {
    let ts = ts.to_string();
    let digest = hmac_sha256(secret.as_bytes(), &[ts.as_bytes(), b":", body]);
    format!("ts={ts};h1={}", to_hex(&digest))
}

/// `X-Shopify-Hmac-Sha256` and `X-WC-Webhook-Signature`: base64 HMAC-SHA256(secret, body).
pub fn sign_base64(secret: &str, body: &[u8]) -> String {
    to_base64(&hmac_sha256(secret.as_bytes(), &[body]))
}

/// Runs `f` on a `QlmWebHookHandler` request with `headers` (names as given; the host sends
/// them in lower case, and plugins look them up in any case) and `body`, as the host builds
/// it.
pub fn with_webhook_request<T>(
    headers: &[(&str, &str)],
    body: &[u8],
    f: impl FnOnce(&Request<'_>) -> T,
) -> T {
    with_request("QlmWebHookHandler", headers, body, f)
}

/// Runs `f` on a request for `method` with `headers` and `body`.
pub fn with_request<T>(
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    f: impl FnOnce(&Request<'_>) -> T,
) -> T {
    let pairs: Vec<LicdPair> = headers
        .iter()
        .map(|(n, v)| LicdPair {
            name: LicdStr::new(n),
            value: LicdStr::new(v),
        })
        .collect();
    let raw = LicdRequest {
        // The struct is a few words long; the cast cannot truncate.
        struct_size: size_of::<LicdRequest>() as u32,
        method: LicdStr::new(method),
        vendor: LicdStr::new("Store"),
        client_addr: LicdStr::new("192.0.2.1"),
        url: LicdStr::new("/qlmservice.asmx/QlmWebHookHandler?is_vendor=Store"),
        args: std::ptr::null(),
        args_len: 0,
        headers: pairs.as_ptr(),
        headers_len: pairs.len(),
        body: LicdBytes::new(body),
    };
    // SAFETY: every pointer of `raw` points into `method`, `headers`, `pairs` or `body`,
    // which all outlive `f`.
    f(&unsafe { Request::from_raw(&raw) })
}

/// Calls a plugin the way licd does, through the table its `licd_plugin_entry_v1` returns:
/// `create` with `config_json`, `webhook` with `headers` and `body`, `destroy`. Returns the
/// webhook's return code and, on `LICD_ALLOW`, the event its lines describe (else the reason
/// it wrote). Proves the export macro filled the table's `webhook` slot and that the lines
/// parse as the host parses them.
///
/// # Panics
/// When the table is unusable or `create` refuses the configuration: a test failure.
pub fn call_through_abi(
    entry: extern "C" fn() -> *const LicdPluginV1,
    config_json: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (i32, Result<WebhookEvent, String>) {
    // SAFETY: the entry returns a pointer to the plugin's static table.
    let table = unsafe { &*entry() };
    let (Some(create), Some(destroy), Some(hook)) = (table.create, table.destroy, table.webhook)
    else {
        panic!("the table lacks create, destroy or webhook");
    };
    let mut instance: *mut c_void = std::ptr::null_mut();
    let mut err = vec![0u8; 1024];
    let mut err_len = 0usize;
    // SAFETY: the arguments follow `licd_create_fn`: the config and error buffers are valid
    // for their lengths, the out-pointers writable.
    let code = unsafe {
        create(
            config_json.as_ptr(),
            config_json.len(),
            &mut instance,
            err.as_mut_ptr(),
            err.len(),
            &mut err_len,
        )
    };
    assert_eq!(
        code,
        0,
        "create: {}",
        String::from_utf8_lossy(&err[..err_len])
    );
    let pairs: Vec<LicdPair> = headers
        .iter()
        .map(|(n, v)| LicdPair {
            name: LicdStr::new(n),
            value: LicdStr::new(v),
        })
        .collect();
    let raw = LicdRequest {
        // The struct is a few words long; the cast cannot truncate.
        struct_size: size_of::<LicdRequest>() as u32,
        method: LicdStr::new("QlmWebHookHandler"),
        vendor: LicdStr::new("Store"),
        client_addr: LicdStr::new("192.0.2.1"),
        url: LicdStr::new("/qlmservice.asmx/QlmWebHookHandler?is_vendor=Store"),
        args: std::ptr::null(),
        args_len: 0,
        headers: pairs.as_ptr(),
        headers_len: pairs.len(),
        body: LicdBytes::new(body),
    };
    let mut out = vec![0u8; 65_536];
    let mut out_len = 0usize;
    // SAFETY: `instance` came from `create`; the request's pointers and the output buffer are
    // valid during the call; `destroy` runs once, after it.
    let code = unsafe { hook(instance, &raw, out.as_mut_ptr(), out.len(), &mut out_len) };
    unsafe { destroy(instance) };
    let text = String::from_utf8_lossy(&out[..out_len.min(out.len())]).into_owned();
    let answer = if code == 0 {
        webhook::parse(&text)
    } else {
        Err(text)
    };
    (code, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_s_documented_scheme_signs_t_dot_body() {
        let header = sign_stripe("whsec_test", 1_700_000_000, b"{}");
        let expected = to_hex(&hmac_sha256(b"whsec_test", &[b"1700000000.{}"]));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn paddle_s_documented_scheme_signs_ts_colon_body() {
        let header = sign_paddle("pdl_ntfset_test", 1_700_000_000, b"{}");
        let expected = to_hex(&hmac_sha256(b"pdl_ntfset_test", &[b"1700000000:{}"]));
        assert_eq!(header, format!("ts=1700000000;h1={expected}"));
    }

    #[test]
    fn the_request_carries_headers_and_body() {
        with_webhook_request(&[("X-Test", "1")], b"body", |r| {
            assert_eq!(r.method(), "QlmWebHookHandler");
            assert_eq!(r.header("x-test"), Some("1"));
            assert_eq!(r.body(), b"body");
        });
    }
}
