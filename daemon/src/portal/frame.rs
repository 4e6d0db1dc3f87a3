//! What every portal page shares: the visit (state, configuration, client, clock and the
//! browser's cookie), the page frame with its navigation, CSRF tokens bound to the browser,
//! the guard and the per-address throttle, and the pages of refusals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use crate::auth::guard;
use crate::config::Config;
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::http::client_addr::ClientAddr;
use crate::license::dates;
use crate::state::AppState;
use crate::web::cookie::{self, CookieOptions};
use crate::web::csrf::{self, CsrfError};
use crate::web::form::Form;
use crate::web::page::{Page, notice};
use crate::web::{random, reply};

/// The cookie a form's CSRF token is bound to: random, `HttpOnly`, `SameSite=Strict`, so
/// another site can neither read nor send it.
pub const BINDING_COOKIE: &str = "licd_portal";

/// How long the browser keeps the binding cookie: a day, longer than any form stays open.
const BINDING_MAX_AGE_SECS: i64 = 24 * 60 * 60;

/// The site name every page's header shows.
const SITE: &str = "Customer portal";

/// One request to the portal.
pub struct Visit {
    /// Shared server state.
    pub state: Arc<AppState>,
    /// The configuration snapshot of this request.
    pub config: Arc<Config>,
    /// The client address (README §2), the one the guard and the throttle see.
    pub client: ClientAddr,
    /// The request's time, UTC Unix seconds.
    pub now: i64,
    /// When the request arrived.
    pub started: Instant,
    /// `server.requestTimeoutMs` after it arrived.
    pub deadline: Instant,
    /// The value CSRF tokens are bound to: the browser's cookie, or a new one.
    binding: String,
    /// Whether the browser sent the binding cookie (a POST without it is refused).
    binding_sent: bool,
    /// `Set-Cookie` for a binding the browser does not have yet.
    set_cookie: Option<String>,
}

impl Visit {
    /// The visit of a request with `headers`; fails only when no random cookie value can
    /// be made (the OS generator failed).
    pub fn new(
        state: Arc<AppState>,
        config: Arc<Config>,
        client: ClientAddr,
        headers: &HeaderMap,
        started: Instant,
    ) -> Result<Visit, getrandom::Error> {
        let sent = cookie::get(headers, BINDING_COOKIE).filter(|v| is_binding(v));
        let (binding, binding_sent, set_cookie) = match sent {
            Some(value) => (value, true, None),
            None => {
                let value = random::token()?;
                let path = format!("{}/portal", config.server.base_path);
                let set = cookie::set(
                    BINDING_COOKIE,
                    &value,
                    CookieOptions {
                        path: &path,
                        max_age_secs: Some(BINDING_MAX_AGE_SECS),
                        secure: config.portal.secure_cookies(),
                    },
                );
                (value, false, Some(set))
            }
        };
        let deadline = started + Duration::from_millis(config.server.request_timeout_ms);
        Ok(Visit {
            state,
            config,
            client,
            now: dates::now(),
            started,
            deadline,
            binding,
            binding_sent,
            set_cookie,
        })
    }

    /// The portal's root path, `{basePath}/portal`.
    pub fn root(&self) -> String {
        format!("{}/portal", self.config.server.base_path)
    }

    /// A CSRF token for the form `purpose`, bound to this browser.
    pub fn token(&self, purpose: &str) -> String {
        csrf::issue(
            self.state.store.secret(),
            purpose,
            self.binding.as_bytes(),
            self.now,
        )
    }

    /// Checks the CSRF token of a posted `form` for `purpose`; the refusal is the 403 page.
    pub fn check_token(
        &self,
        purpose: &str,
        form: &Form,
    ) -> Result<(), Box<Response<Full<Bytes>>>> {
        let why = if !self.binding_sent {
            Some(
                "your browser did not send this site's cookie with the form; allow cookies \
                 for this site, reload the page and send it again"
                    .to_string(),
            )
        } else {
            csrf::verify(
                self.state.store.secret(),
                purpose,
                self.binding.as_bytes(),
                form.get(csrf::FIELD),
                self.now,
            )
            .err()
            .map(|e: CsrfError| e.to_string())
        };
        match why {
            None => Ok(()),
            Some(why) => {
                tracing::info!(client = %self.client, form = purpose, "portal form refused: {why}");
                Err(Box::new(self.reply(
                    StatusCode::FORBIDDEN,
                    "Refused",
                    html! {
                        h1 { "The form was refused" }
                        (notice("error", "Nothing was changed", html! {
                            p { "The server refused the form: " (why) "." }
                        }))
                        p { a href=(self.root()) { "Back to the customer portal" } }
                    },
                )))
            }
        }
    }

    /// What every posted form passes first: the client address not throttled (429), then
    /// its CSRF token for `purpose` (403). The refusal is the page to answer.
    pub fn admit_form(&self, purpose: &str, form: &Form) -> Result<(), Box<Response<Full<Bytes>>>> {
        if self.is_blocked() {
            return Err(Box::new(self.too_many()));
        }
        self.check_token(purpose, form)
    }

    /// The guard's first step (`auth::guard::admit`) as the HTTP method `method` takes it:
    /// the address lists (code 3), then the method's gate (code 7).
    pub fn admit_as(&self, method: &str) -> Result<(), MethodError> {
        let table = self.state.methods;
        let call = table
            .find(method)
            .ok_or_else(|| MethodError::internal(format!("{method} is not served")))?;
        guard::admit(&self.config, table, call, &Args::default(), self.client)
    }

    /// Whether the client address is blocked by the authentication throttle it shares with
    /// the HTTP methods (`security.authFailuresPerMinute`).
    pub fn is_blocked(&self) -> bool {
        self.state
            .attempts
            .is_blocked(self.client, self.config.security.auth_failures_per_minute)
    }

    /// Counts a failed proof (a wrong code, a forged link, an unknown key) against the
    /// client address, as a failed vendor authentication is counted; false when the
    /// address is blocked now.
    pub fn count_failure(&self) -> bool {
        let limit = self.config.security.auth_failures_per_minute;
        // Dropped without a refund: it stays counted.
        self.state.attempts.count(self.client, limit).is_ok()
    }

    /// The 429 page of a blocked address: nothing is checked, nothing changes.
    pub fn too_many(&self) -> Response<Full<Bytes>> {
        tracing::warn!(client = %self.client, "portal request refused: too many failures from this address");
        let mut r = self.reply(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            html! {
                h1 { "Too many attempts" }
                (notice("error", "Please wait a minute", html! {
                    p { "Too many attempts came from your address. Nothing was checked or changed. \
                         Wait a minute, then try again." }
                }))
            },
        );
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
        r
    }

    /// A whole page titled `title` with `main`, with the binding cookie when it is new.
    pub fn reply(&self, status: StatusCode, title: &str, main: Markup) -> Response<Full<Bytes>> {
        let root = self.root();
        let stylesheet = format!("{root}/licd.css");
        let doc = Page {
            title,
            site: SITE,
            stylesheet_href: &stylesheet,
            nav: html! {
                a href={ (root) "/" } { "Home" }
                a href={ (root) "/release" } { "Release a licence" }
                a href={ (root) "/my-licence" } { "My licence" }
                a href={ (root) "/offline-activation" } { "Offline activation" }
            },
        }
        .render(main);
        let r = reply::html(status, doc);
        match &self.set_cookie {
            Some(c) => reply::with_cookie(r, c),
            None => r,
        }
    }

    /// A file download, with the binding cookie when it is new.
    pub fn download(&self, name: &str, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
        let r = reply::download(name, content_type, body);
        match &self.set_cookie {
            Some(c) => reply::with_cookie(r, c),
            None => r,
        }
    }

    /// The page of a refusal `e` (a rule, a gate, an address, a missing field): what
    /// happened, that nothing changed, its code, and `next`, what the customer can do. 403
    /// for a refusal, the error's own status for a failure of the server.
    pub fn refusal(
        &self,
        heading: &str,
        e: &MethodError,
        next: Markup,
        form: Markup,
    ) -> Response<Full<Bytes>> {
        let status = if e.status.is_server_error() {
            e.status
        } else {
            StatusCode::FORBIDDEN
        };
        let mut r = self.reply(
            status,
            heading,
            html! {
                h1 { (heading) }
                (notice("error", "Nothing was changed", html! {
                    p { (e.message) }
                    p class="hint" { "Code " (e.code.number()) }
                    (next)
                }))
                (form)
            },
        );
        if let Some(secs) = e.retry_after {
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, secs.into());
        }
        r
    }

    /// The 400 page of a form that cannot be read or lacks a field: `problem` above the form.
    pub fn bad_form(&self, heading: &str, problem: &str, form: Markup) -> Response<Full<Bytes>> {
        self.reply(
            StatusCode::BAD_REQUEST,
            heading,
            html! {
                h1 { (heading) }
                (notice("error", "Please check the form", html! { p { (problem) } }))
                (form)
            },
        )
    }

    /// The 500 page of a failure that is no one's fault but the server's.
    pub fn failed(&self, what: &str) -> Response<Full<Bytes>> {
        self.reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Server error",
            html! {
                h1 { "Something went wrong" }
                (notice("error", "Nothing was changed", html! {
                    p { "The server could not " (what) " now. Try again in a minute; if it keeps \
                         failing, write to the vendor's support." }
                }))
            },
        )
    }
}

/// Whether a cookie value can be a binding this server made (base64url, 43 characters),
/// so that no odd value is signed or echoed.
fn is_binding(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The "what next" sentence of a refusal's code, for a customer rather than a developer.
pub fn next_step(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::LicenseNotFound => {
            "Check the activation key: it is the key you received with your purchase. Dashes \
             and letter case do not matter."
        }
        ErrorCode::WrongDeactivationCode => {
            "Check the deactivation code for typing errors. A code lives about a day: if it \
             is older, open the application's deactivation screen again for a fresh one."
        }
        ErrorCode::ReleaseNotActivated | ErrorCode::ReleaseActivatedOnAnotherSystem => {
            "There is nothing to release on that computer. Check the computer ID the \
             application shows."
        }
        ErrorCode::ExceededMaxReleases => {
            "The licence cannot be released again for now. Write to the vendor's support."
        }
        ErrorCode::LicenseError | ErrorCode::ReleaseFailedOfflineUsage => {
            "Try again later, or write to the vendor's support."
        }
        ErrorCode::IpRestriction => {
            "Requests from your network are not accepted. Write to the vendor's support."
        }
        ErrorCode::OperationDisabled => {
            "This is turned off on this server. Write to the vendor's support."
        }
        ErrorCode::NoMoreActivations => {
            "Every activation of the licence is in use: release one first (on this portal, or \
             in the application on that computer)."
        }
        ErrorCode::LicenseRevoked | ErrorCode::LicenseExpired => {
            "Renew the licence, or write to the vendor's support."
        }
        _ => {
            "Check what you entered and try again; if it keeps failing, write to the vendor's support."
        }
    }
}
