//! `POST /licence/{key}/update` (admin): changes the licence in place with
//! UpdateLicenseHttp's command and rules; the form's fields are the method's arguments, and
//! a field left empty is not changed. The history line keeps the licence as it was and
//! names the staff user and their address.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use maud::{Markup, html};

use super::{Visit, actions, key_of, licence_href};
use crate::license::keys::ActivationKey;
use crate::methods::update_license::UpdateLicense;
use crate::web::form::Form;
use crate::web::page::csrf_field;

/// The arguments the form may carry (UpdateLicenseHttp's, docs/licence-editing.md).
const FIELDS: &[&str] = &[
    "is_features",
    "is_expdate",
    "is_expduration",
    "is_quantity",
    "is_licensemodel",
    "is_productid",
    "is_majorversion",
    "is_minorversion",
    "is_pp",
    "is_userdata1",
    "is_affiliateid",
    "is_maxreleasecount",
    "is_maxreleaseperiod",
    "is_qlmversion",
];

/// The update form of the licence page.
pub fn form(visit: &Visit, key: &ActivationKey) -> Markup {
    let field = |name: &str, label: &str, hint: &str| {
        html! {
            div {
                label for={ "u-" (name) } { (label) span class="hint" { (hint) } }
                input type="text" id={ "u-" (name) } name=(name);
            }
        }
    };
    html! {
        form class="stack" method="post" action={ (licence_href(key)) "/update" } {
            (csrf_field(&visit.token("update")))
            p class="hint" { "Fill in only what changes; an empty field keeps its value." }
            (field("is_features", "Features", "set:value entries, e.g. 0:3;1:1"))
            (field("is_expdate", "Expiry date", "yyyy-MM-dd or yyyy-MM-dd HH:mm:ss"))
            div { label { input type="checkbox" name="remove_expiry" value="yes"; " Remove the fixed expiry" } }
            (field("is_expduration", "Duration in days", "counted from the first activation; 0 to 36500"))
            (field("is_quantity", "Seats", "1 to 100000"))
            (field("is_licensemodel", "Model", "permanent, trial or subscription"))
            (field("is_productid", "Product id", "with the versions below"))
            (field("is_majorversion", "Major version", ""))
            (field("is_minorversion", "Minor version", ""))
            (field("is_pp", "Product properties", "category.name::value entries separated by ||"))
            (field("is_userdata1", "User data", ""))
            (field("is_affiliateid", "Affiliate id", ""))
            (field("is_maxreleasecount", "Release limit", "releases; -1 none, -2 the server's"))
            (field("is_maxreleaseperiod", "Release period", "days; -1 since creation, -2 the server's"))
            (field("is_qlmversion", "QLM version", ""))
            div { button type="submit" aria-label={ "Update licence " (key.dashed()) } { "Update" } }
        }
    }
}

/// `POST /licence/{key}/update`.
pub async fn submit(visit: &Visit, key_text: &str, form: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let words = actions::EditWords {
        doing: "Updating the licence",
        logged: "licence updated",
        done: "updated",
    };
    actions::edit_licence(visit, &key, words, |ctx, vendor| {
        let mut extra = vec![("is_avkey", key.as_str())];
        // Only here does an empty is_expdate say something: it removes the fixed expiry.
        if form.get("remove_expiry") == Some("yes") {
            extra.push(("is_expdate", ""));
        }
        let args = actions::method_args(form, FIELDS, &extra, &visit.config)?;
        UpdateLicense::parse(&args)?.command(ctx, vendor)
    })
    .await
}
