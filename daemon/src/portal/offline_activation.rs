//! "Offline activation": the activation key and the computer ID (and name) of a computer
//! without internet access give its signed licence file, exactly as `licd license-file`
//! makes it (`crate::offline::license_file_for`, ValidateLicenseHttp's own activation: one
//! seat, the same rules and codes), to carry over on a USB stick. QLM's
//! `QlmWebActivation.aspx` with `is_file=1`.
//!
//! ValidateLicenseHttp needs no proof but the key, and neither does this page; the guard's
//! address rules apply (`blockIPAddresses`, code 3), and an unknown key counts against the
//! client address's throttle, so guessing keys here costs what it costs on the method.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::fields::{self, field};
use super::frame::{Visit, next_step};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::methods::validate_license;
use crate::offline::{LicenseFileRequest, OfflineError, license_file_for};
use crate::web::form::Form;

/// The form's CSRF purpose.
const PURPOSE: &str = "portal-offline-activation";

/// The fields of the form, QLM's names.
const FIELDS: [&str; 3] = ["is_avkey", "is_pcid", "is_computer_name"];

/// The form, prefilled from the query.
pub fn form_page(visit: &Visit, values: &Form) -> Response<Full<Bytes>> {
    visit.reply(
        StatusCode::OK,
        "Offline activation",
        html! {
            h1 { "Offline activation" }
            p class="lead" {
                "Activate a computer that has no internet access: enter its computer ID, which \
                 the application shows on its offline activation screen, and download the \
                 licence file. Copy the file to that computer and open it in the application."
            }
            p {
                "This takes one activation of your licence, as an online activation does; \
                 downloading again for the same computer takes no further one."
            }
            (the_form(visit, values))
        },
    )
}

fn the_form(visit: &Visit, values: &Form) -> Markup {
    fields::form(
        &format!("{}/offline-activation", visit.root()),
        &visit.token(PURPOSE),
        html! {
            (field("is_avkey", "Activation key", "The key you received with your purchase.", values.value("is_avkey"), "text", true))
            (field("is_pcid", "Computer ID", "As the application shows it on the offline computer.", values.value("is_pcid"), "text", true))
            (field("is_computer_name", "Computer name", "A name that helps you recognise the computer later.", values.value("is_computer_name"), "text", false))
        },
        "Download licence file",
    )
}

/// The posted form: the licence file as a download, or why not (403, nothing changed).
pub async fn post(visit: &Visit, form: &Form) -> Response<Full<Bytes>> {
    if let Err(refused) = visit.admit_form(PURPOSE, form) {
        return *refused;
    }
    let heading = "Offline activation";
    let request = match fields::arguments(form, &FIELDS, &visit.config).and_then(|a| read(&a)) {
        Ok(r) => r,
        Err(e) => return visit.bad_form(heading, &e.message, the_form(visit, form)),
    };
    let refused = |e: MethodError| {
        if e.code == ErrorCode::LicenseNotFound {
            visit.count_failure();
        }
        visit.refusal(
            "No licence file",
            &e,
            html! { p { (next_step(e.code)) } },
            the_form(visit, form),
        )
    };
    // ValidateLicenseHttp's address rules; it has no gate.
    if let Err(e) = visit.admit_as(validate_license::DECLARATION.name) {
        return refused(e);
    }
    let state = &visit.state;
    let made = license_file_for(
        &state.store,
        &state.signer,
        visit.config.clone(),
        &request,
        visit.client.to_string(),
        "portal offline activation",
    )
    .await;
    match made {
        Ok(file) => {
            tracing::info!(
                page = "portal offline activation",
                computer = %crate::logging::untrusted(&request.computer_id),
                client = %visit.client,
                key_name = %file.key_name,
                "licence file downloaded"
            );
            let name = format!("{}.xml", request.computer_id);
            visit.download(
                &name,
                "application/xml; charset=utf-8",
                file.document.into_bytes(),
            )
        }
        Err(OfflineError::Refused(e)) => refused(e),
        Err(OfflineError::Signing(e)) => refused(e.into()),
        Err(OfflineError::Store(e)) => refused(e.into()),
        Err(OfflineError::Usage(why)) => visit.bad_form(heading, &why, the_form(visit, form)),
        Err(e @ OfflineError::Output { .. }) => {
            tracing::error!(error = %e, "portal licence file failed");
            visit.failed("make the licence file")
        }
    }
}

/// The request, under ValidateLicenseHttp's argument rules.
fn read(args: &Args) -> Result<LicenseFileRequest, MethodError> {
    Ok(LicenseFileRequest {
        key: args.required("is_avkey")?.to_string(),
        computer_id: args
            .computer_id("is_pcid")?
            .ok_or_else(|| MethodError::missing("is_pcid"))?,
        computer_name: args.text_max("is_computer_name", 255)?.map(str::to_string),
    })
}
