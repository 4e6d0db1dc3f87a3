//! `POST /licence/{key}/delete` (admin, with the confirmation box ticked): deletes the
//! licence with the command `licd keys delete` runs; its history and release log stay, with
//! a last `deleted` line naming the staff user and their address.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::html;

use super::{Visit, actions, key_of};
use crate::store::commands::DeleteLicense;
use crate::web::form::Form;
use crate::web::page::notice;

/// `POST /licence/{key}/delete`.
pub async fn submit(visit: &Visit, key_text: &str, form: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    if form.get("confirm") != Some("yes") {
        return visit.refused(
            StatusCode::BAD_REQUEST,
            "Not deleted",
            "Tick the box that confirms the deletion.",
        );
    }
    let command = DeleteLicense {
        key: key.as_str().to_string(),
        now: visit.now,
        by: visit.history_name(),
        client: Some(super::client_text(visit.staff.client)),
    };
    let outcome = actions::run(visit, command).await;
    match outcome {
        Ok(_) => {
            actions::log_change(visit, &key, "licence deleted");
            visit.page(
                StatusCode::OK,
                "Licence deleted",
                html! {
                    h1 { "Licence deleted" }
                    (notice("ok", "Done", html! {
                        p { "The licence " span class="mono" { (key.dashed()) } " and its activations were deleted; its history stays." }
                    }))
                    p { a href="/search" { "Search licences" } }
                },
            )
        }
        Err(e) => actions::refused(visit, Some(&key), "Deleting the licence", &e),
    }
}
