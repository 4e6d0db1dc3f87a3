//! The landing page `/`: who is logged in, what their role allows, the search box and the
//! ways on.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::html;

use super::{Visit, pages, search};
use crate::config::Role;
use crate::store::license_search::SearchField;

/// `GET /`.
pub fn page(visit: &Visit) -> Response<Full<Bytes>> {
    let staff = &visit.staff;
    visit.page(
        StatusCode::OK,
        "Home",
        html! {
            h1 { "licd console" }
            p class="lead" {
                "Logged in as " strong { (staff.name) } " with the " (staff.role.name())
                " role: you may " (pages::role_rights(staff.role)) "."
            }
            (search::form("", SearchField::Any))
            div class="cards" {
                section class="card" {
                    h2 { a href="/search" { "Find a licence" } }
                    p { "By key (or part of it), customer e-mail, order id, or a computer's ID or name." }
                }
                section class="card" {
                    h2 { a href="/dashboard" { "Dashboard" } }
                    p { "Activations and releases per day, licences by product, seats in use, licences expiring soon." }
                }
                @if staff.role >= Role::Admin {
                    section class="card" {
                        h2 { a href="/create" { "New licence" } }
                        p { "Create keys with every option of GetActivationKey." }
                    }
                }
            }
        },
    )
}
