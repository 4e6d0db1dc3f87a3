//! The one builder of plain-text replies (not found, the service page, `/healthz`,
//! `/metrics`): every such reply has the same content type and charset
//! ([`TEXT_TYPE`], which the `responseFormat = "text"` replies of methods use too).

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::response::TEXT_TYPE;

/// A `text/plain; charset=utf-8` reply with `status`.
pub fn plain_text(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(text.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_TYPE));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_text_reply_says_utf_8_and_keeps_its_status() {
        let r = plain_text(StatusCode::NOT_FOUND, "Not found.\n");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    }
}
