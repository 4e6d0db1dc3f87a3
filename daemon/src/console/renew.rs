//! `POST /licence/{key}/renew` (admin): extends the subscription with RenewSubscriptionHttp's
//! command and rules (a new expiry date or days to add, optionally the maintenance plan too);
//! the history line names the staff user and their address.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use maud::{Markup, html};

use super::{Visit, actions, key_of, licence_href};
use crate::license::keys::ActivationKey;
use crate::methods::renew_subscription::RenewSubscription;
use crate::web::form::Form;
use crate::web::page::csrf_field;

/// The arguments the form may carry.
const FIELDS: &[&str] = &[
    "is_expdate",
    "is_expduration",
    "is_pp",
    "is_maintenance_plan",
];

/// The renewal form of the licence page.
pub fn form(visit: &Visit, key: &ActivationKey) -> Markup {
    html! {
        form class="stack" method="post" action={ (licence_href(key)) "/renew" } {
            (csrf_field(&visit.token("renew")))
            p class="hint" { "Give a new expiry date or days to add, not both." }
            div {
                label for="r-date" { "New expiry date" span class="hint" { "yyyy-MM-dd" } }
                input type="text" id="r-date" name="is_expdate";
            }
            div {
                label for="r-days" { "Days to add" span class="hint" { "1 to 36500" } }
                input type="number" id="r-days" name="is_expduration" min="1" max="36500";
            }
            div {
                label for="r-pp" { "Product properties" span class="hint" { "category.name::value entries separated by ||" } }
                input type="text" id="r-pp" name="is_pp";
            }
            div { label { input type="checkbox" name="is_maintenance_plan" value="true"; " Renew the maintenance plan too" } }
            div { button type="submit" aria-label={ "Renew licence " (key.dashed()) } { "Renew" } }
        }
    }
}

/// `POST /licence/{key}/renew`.
pub async fn submit(visit: &Visit, key_text: &str, form: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let words = actions::EditWords {
        doing: "Renewing the licence",
        logged: "licence renewed",
        done: "renewed",
    };
    actions::edit_licence(visit, &key, words, |ctx, vendor| {
        let extra = [("is_avkey", key.as_str())];
        let args = actions::method_args(form, FIELDS, &extra, &visit.config)?;
        RenewSubscription::parse(&args)?.command(ctx, vendor)
    })
    .await
}
