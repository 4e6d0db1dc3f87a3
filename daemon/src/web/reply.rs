//! Replies of the HTML pages. Every one carries the same security headers: a
//! Content-Security-Policy without inline script or outside sources, no framing, no
//! sniffing, no referrer (links carry tokens), and no caching (pages show licence data).

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use maud::Markup;

use crate::web::style::STYLESHEET;

/// The Content-Security-Policy of every page (issue 18's header, with `form-action` and
/// `base-uri` added: forms post only here, and no `<base>` can redirect relative links).
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// The content type of pages.
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

fn secure_headers(r: &mut Response<Full<Bytes>>) {
    let h = r.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A page: `doc` (a whole document from [`crate::web::page::Page::render`]) with `status`.
pub fn html(status: StatusCode, doc: Markup) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(doc.into_string())));
    *r.status_mut() = status;
    secure_headers(&mut r);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(HTML_TYPE));
    r
}

/// `303 See Other` to `location` (after a POST, so that a reload does not post again).
pub fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    secure_headers(&mut r);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// `resp` with one more `Set-Cookie` header (`cookie` from [`crate::web::cookie::set`]).
pub fn with_cookie(mut resp: Response<Full<Bytes>>, cookie: &str) -> Response<Full<Bytes>> {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

/// A file to save: `body` as `content_type`, named `filename` (reduced to letters, digits,
/// `.`, `-` and `_`, so that no header can be injected and no path given).
pub fn download(filename: &str, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    let safe = if safe.is_empty() { "download" } else { safe };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    secure_headers(&mut r);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    r
}

/// The stylesheet, cached for a day (it changes only with the binary).
pub fn stylesheet() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(STYLESHEET.as_bytes())));
    secure_headers(&mut r);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_carries_the_csp_and_is_never_cached() {
        let r = html(StatusCode::FORBIDDEN, maud::html! { p { "x" } });
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with(
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
        ));
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[CONTENT_TYPE], HTML_TYPE);
    }

    #[test]
    fn a_download_name_cannot_inject_a_header_or_a_path() {
        let r = download("../a\"b\r\nX: y.xml", "application/xml", vec![]);
        assert_eq!(
            r.headers()[CONTENT_DISPOSITION],
            "attachment; filename=\"_a_b__X__y.xml\""
        );
    }
}
