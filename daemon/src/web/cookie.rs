//! Reading and writing cookies. Every cookie licd sets is `HttpOnly` and `SameSite=Strict`:
//! no script reads it, and no other site's form or link carries it.

use http::HeaderMap;
use http::header::COOKIE;

/// How a cookie is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieOptions<'a> {
    /// The path the browser sends it for.
    pub path: &'a str,
    /// Seconds until it expires; `None` for a cookie that ends with the browser session.
    pub max_age_secs: Option<i64>,
    /// Whether to add `Secure` (served over TLS).
    pub secure: bool,
}

/// The value of cookie `name` in the request's `Cookie` headers, if sent.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// The `Set-Cookie` value for `name=value` with `options`. `value` must be a token of
/// cookie-safe characters (the callers pass base64url).
pub fn set(name: &str, value: &str, options: CookieOptions<'_>) -> String {
    let mut c = format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Strict",
        options.path
    );
    if let Some(age) = options.max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if options.secure {
        c.push_str("; Secure");
    }
    c
}

/// The `Set-Cookie` value that removes cookie `name` at `path`.
pub fn clear(name: &str, path: &str, secure: bool) -> String {
    set(
        name,
        "",
        CookieOptions {
            path,
            max_age_secs: Some(0),
            secure,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn a_cookie_is_found_among_several_headers_and_pairs() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; licd_session=xyz"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&h, "licd_session").as_deref(), Some("xyz"));
        assert_eq!(get(&h, "b").as_deref(), Some("2"));
        assert_eq!(get(&h, "licd"), None);
    }

    #[test]
    fn every_cookie_is_http_only_and_same_site_strict() {
        let c = set(
            "s",
            "v",
            CookieOptions {
                path: "/",
                max_age_secs: Some(60),
                secure: true,
            },
        );
        assert_eq!(
            c,
            "s=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(clear("s", "/", false).contains("Max-Age=0"));
    }
}
