//! The console's page frame and its refusal pages: every page has the same header (the
//! navigation for the user's role, who is logged in, a log-out button) and goes out with
//! the security headers of `web::reply::html`.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::session::Staff;
use crate::config::Role;
use crate::web::page::{Page, csrf_field, notice};
use crate::web::reply;

/// The site's name in every header and title.
pub const SITE: &str = "licd console";
/// Where the stylesheet is served.
pub const STYLESHEET: &str = "/licd.css";

/// A page for a logged-in member of staff; `logout_token` is the CSRF token of the header's
/// log-out form.
pub fn page(
    status: StatusCode,
    staff: &Staff,
    logout_token: &str,
    title: &str,
    main: Markup,
) -> Response<Full<Bytes>> {
    let nav = html! {
        a href="/" { "Home" }
        a href="/search" { "Search" }
        a href="/dashboard" { "Dashboard" }
        @if staff.role >= Role::Admin {
            a href="/create" { "New licence" }
        }
        span { (staff.name) " (" (staff.role.name()) ")" }
        form class="inline" method="post" action="/logout" {
            (csrf_field(logout_token))
            button type="submit" aria-label={ "Log out " (staff.name) } { "Log out" }
        }
    };
    frame(status, title, nav, main)
}

/// A page for someone not logged in (the login page, its refusals).
pub fn public_page(status: StatusCode, title: &str, main: Markup) -> Response<Full<Bytes>> {
    frame(status, title, html! {}, main)
}

fn frame(status: StatusCode, title: &str, nav: Markup, main: Markup) -> Response<Full<Bytes>> {
    let doc = Page {
        title,
        site: SITE,
        stylesheet_href: STYLESHEET,
        nav,
    }
    .render(main);
    reply::html(status, doc)
}

/// A refusal page body: a heading, why, and that nothing changed.
pub fn refusal(heading: &str, why: &str, back: Option<&str>) -> Markup {
    html! {
        h1 { (heading) }
        (notice("error", "Nothing was changed", html! { p { (why) } }))
        @if let Some(back) = back {
            p { a href=(back) { "Back" } }
        }
    }
}

/// A refusal for someone not logged in.
pub fn public_refusal(status: StatusCode, heading: &str, why: &str) -> Response<Full<Bytes>> {
    public_page(status, heading, refusal(heading, why, Some("/login")))
}

/// What each role may do, in words, for a refusal.
pub fn role_rights(role: Role) -> &'static str {
    match role {
        Role::Viewer => "search, view licences and export CSV",
        Role::Support => "search, view, export CSV and release seats",
        Role::Admin => "do everything",
    }
}

/// The sentence refusing `action` (e.g. "releasing a seat") to `staff`.
pub fn not_allowed(staff: &Staff, action: &str, needed: Role) -> String {
    let roles = match needed {
        Role::Viewer => "any role",
        Role::Support => "the support or admin role",
        Role::Admin => "the admin role",
    };
    format!(
        "You are logged in as {} with the {} role, which may {}; {action} needs {roles}.",
        staff.name,
        staff.role.name(),
        role_rights(staff.role)
    )
}
