//! The customer portal (docs/portal.md): public pages on the main listener, under
//! `{basePath}/portal/`, where a customer releases a licence with a deactivation code, sees
//! the licence through a mailed single-use link, and downloads a licence file for an
//! air-gapped computer, without writing to support. QLM's Self Help deep link
//! `QlmReleaseLicense.aspx` lands on the release form prefilled.
//!
//! Off unless `[portal] enabled = true`: then [`route`] claims nothing and those URLs are
//! the router's 404 as before. Every page goes through the guard, rules and store the HTTP
//! methods use; this module only reads forms and draws pages.

mod fields;
mod frame;
mod licence_link;
pub mod links;
pub mod my_licence;
mod offline_activation;
mod release;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use maud::html;

use crate::config::Config;
use crate::http::client_addr::client_address;
use crate::state::AppState;
use crate::web::form::{self, Form};
use crate::web::page::notice;
use crate::web::reply;
use frame::Visit;

/// A page of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `…/portal/`: what the portal offers.
    Home,
    /// `…/portal/licd.css`.
    Stylesheet,
    /// `…/portal/release`: the release form, and its POST.
    Release,
    /// QLM's `…/QlmReleaseLicense.aspx` (also under `qlmservice.asmx/`): the release
    /// form prefilled from `is_avkey`, `is_pcid` and `is_deactcode`; GET only.
    DeepLink,
    /// `…/portal/my-licence`: asking for a link, and its POST.
    MyLicence,
    /// `…/portal/licence?t=…`: the page a mailed link opens.
    Licence,
    /// `…/portal/licence/release`: a release button of that page (POST).
    LicenceRelease,
    /// `…/portal/offline-activation`: the licence-file form, and its POST.
    OfflineActivation,
    /// Any other path under `…/portal/`.
    NotFound,
}

/// The page `path` names when the portal is on; `None` otherwise (the path is the method
/// router's). Paths compare ignoring case, as the methods' URLs do (QLM served them on IIS).
pub fn route(path: &str, config: &Config) -> Option<Route> {
    if !config.portal.enabled {
        return None;
    }
    let base = &config.server.base_path;
    let rest = match path.get(..base.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(base) => &path[base.len()..],
        _ => return None,
    };
    // Every method call passes here when the portal is on: compare in place, no lower-cased
    // copy of the path per request.
    const PAGES: [(&str, Route); 10] = [
        ("/qlmreleaselicense.aspx", Route::DeepLink),
        ("/qlmservice.asmx/qlmreleaselicense.aspx", Route::DeepLink),
        ("/portal", Route::Home),
        ("/portal/", Route::Home),
        ("/portal/licd.css", Route::Stylesheet),
        ("/portal/release", Route::Release),
        ("/portal/my-licence", Route::MyLicence),
        ("/portal/licence", Route::Licence),
        ("/portal/licence/release", Route::LicenceRelease),
        ("/portal/offline-activation", Route::OfflineActivation),
    ];
    if let Some((_, page)) = PAGES.iter().find(|(p, _)| rest.eq_ignore_ascii_case(p)) {
        return Some(*page);
    }
    let page = match rest.get(.."/portal/".len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case("/portal/") => Route::NotFound,
        _ => return None,
    };
    Some(page)
}

/// Serves one request for `page`. Never fails: every refusal is a page.
pub async fn serve(
    page: Route,
    req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    config: Arc<Config>,
    started: Instant,
) -> Response<Full<Bytes>> {
    if page == Route::Stylesheet {
        return reply::stylesheet();
    }
    let (parts, body) = req.into_parts();
    let client = client_address(peer.ip(), &parts.headers, &config.server.trusted_proxies);
    let Ok(visit) = Visit::new(state, config, client, &parts.headers, started) else {
        tracing::error!("the OS random generator failed; the portal cannot set its cookie");
        return plain_failure();
    };
    let post = parts.method == Method::POST;
    if !post && parts.method != Method::GET {
        return not_allowed(&visit, page);
    }
    if post {
        if matches!(
            page,
            Route::Home | Route::DeepLink | Route::Licence | Route::NotFound
        ) {
            return not_allowed(&visit, page);
        }
        let posted = match form::read_body(body).await.map(|b| Form::parse(&b)) {
            Ok(Ok(f)) => f,
            Ok(Err(e)) | Err(e) => {
                return visit.bad_form(
                    "Form refused",
                    &format!("The form was refused: {e}."),
                    html! {},
                );
            }
        };
        return match page {
            Route::Release => release::post(&visit, &posted).await,
            Route::MyLicence => my_licence::post(&visit, &posted).await,
            Route::LicenceRelease => licence_link::release(&visit, &posted).await,
            Route::OfflineActivation => offline_activation::post(&visit, &posted).await,
            _ => not_allowed(&visit, page),
        };
    }
    let query = Form::parse(parts.uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    match page {
        Route::Home => home(&visit),
        Route::Release | Route::DeepLink => release::form_page(&visit, &query),
        Route::MyLicence => my_licence::form_page(&visit, &query),
        Route::Licence => licence_link::page(&visit, &query).await,
        Route::OfflineActivation => offline_activation::form_page(&visit, &query),
        Route::LicenceRelease => not_allowed(&visit, page),
        Route::Stylesheet | Route::NotFound => not_found(&visit),
    }
}

/// The portal's front page.
fn home(visit: &Visit) -> Response<Full<Bytes>> {
    let root = visit.root();
    visit.reply(
        StatusCode::OK,
        "Home",
        html! {
            h1 { "Customer portal" }
            p class="lead" {
                "Look after your licence yourself: move it to another computer, see where it is \
                 activated, or activate a computer that has no internet access."
            }
            div class="cards" {
                section class="card" {
                    h2 { a href={ (root) "/release" } { "Release a licence" } }
                    p { "Free your licence on a computer with the deactivation code the \
                         application showed, so you can activate it on another." }
                }
                section class="card" {
                    h2 { a href={ (root) "/my-licence" } { "My licence" } }
                    p { "Get a link by e-mail that shows your licence and the computers it is \
                         activated on, and releases one of them." }
                }
                section class="card" {
                    h2 { a href={ (root) "/offline-activation" } { "Offline activation" } }
                    p { "Activate a computer without internet access and download its licence \
                         file." }
                }
            }
        },
    )
}

/// 405 for a verb the page does not take.
fn not_allowed(visit: &Visit, page: Route) -> Response<Full<Bytes>> {
    let allow = match page {
        Route::Home | Route::DeepLink | Route::Licence => "GET",
        Route::LicenceRelease => "POST",
        _ => "GET, POST",
    };
    let mut r = visit.reply(
        StatusCode::METHOD_NOT_ALLOWED,
        "Not allowed",
        html! {
            h1 { "Not allowed" }
            (notice("error", "Nothing was changed", html! {
                p { "This page takes " (allow) " only." }
            }))
        },
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// 404 for a path under `…/portal/` that names no page.
fn not_found(visit: &Visit) -> Response<Full<Bytes>> {
    visit.reply(
        StatusCode::NOT_FOUND,
        "Not found",
        html! {
            h1 { "Page not found" }
            p { a href={ (visit.root()) "/" } { "Go to the customer portal" } }
        },
    )
}

/// A 500 without a page frame, for when even the visit cannot be made.
fn plain_failure() -> Response<Full<Bytes>> {
    reply::html(
        StatusCode::INTERNAL_SERVER_ERROR,
        html! { p { "The server cannot answer now; try again in a minute." } },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(enabled: bool, base: &str) -> Config {
        let mut c = Config::embedded().expect("the embedded default");
        c.portal.enabled = enabled;
        c.server.base_path = base.into();
        c
    }

    #[test]
    fn a_disabled_portal_claims_no_path() {
        let c = config(false, "");
        for path in ["/portal/", "/portal/release", "/QlmReleaseLicense.aspx"] {
            assert_eq!(route(path, &c), None, "{path}");
        }
    }

    #[test]
    fn pages_live_under_the_base_path_and_the_deep_link_under_both_folders() {
        let c = config(true, "/qlmLicenseServer");
        let at = |p| route(p, &c);
        assert_eq!(at("/qlmLicenseServer/portal/"), Some(Route::Home));
        assert_eq!(at("/qlmlicenseserver/Portal/Release"), Some(Route::Release));
        assert_eq!(
            at("/qlmLicenseServer/QlmReleaseLicense.aspx"),
            Some(Route::DeepLink)
        );
        assert_eq!(
            at("/qlmLicenseServer/qlmservice.asmx/QlmReleaseLicense.aspx"),
            Some(Route::DeepLink)
        );
        assert_eq!(
            at("/qlmLicenseServer/portal/nothing"),
            Some(Route::NotFound)
        );
        assert_eq!(at("/portal/release"), None);
        assert_eq!(at("/qlmLicenseServer/qlmservice.asmx/PingHttp"), None);
        assert_eq!(at("/qlmLicenseServerX/portal/"), None);
    }
}
