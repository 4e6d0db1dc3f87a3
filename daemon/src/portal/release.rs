//! "Release a licence": the activation key, the computer ID and the deactivation code the
//! application showed (QLM's `QlmReleaseLicense.aspx`, whose deep link lands here
//! prefilled) free the activation, under ReleaseLicenseHttp's own rules and codes.
//!
//! The code is the proof here, so it is required whatever
//! `releaseLicenseRequiresVerificationCode` says, and `releaseLicenseRequiresAuthentication`
//! does not apply. Everything else is ReleaseLicenseHttp's road: the guard's address rules
//! and gate (`blockIPAddresses`, `httpAdminMethods`, `enableReleaseKeyHttp`), then
//! `release_command` and the store's Release command (which key, the code, offline
//! check-out, `preventDeactivationPeriod`, the release limit), with the same codes.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::fields::{self, field};
use super::frame::{Visit, next_step};
use crate::errors::{ErrorCode, MethodError};
use crate::http::args::Args;
use crate::methods::release_license::{self, ReleaseInput, release_command};
use crate::methods::{lookup_key, masked};
use crate::store::commands::Released;
use crate::web::form::Form;
use crate::web::page::notice;

/// The form's CSRF purpose.
const PURPOSE: &str = "portal-release";

/// The fields of the form, QLM's names.
const FIELDS: [&str; 3] = ["is_avkey", "is_pcid", "is_deactcode"];

/// The form, prefilled from `values` (the deep link's query, or what was posted).
pub fn form_page(visit: &Visit, values: &Form) -> Response<Full<Bytes>> {
    visit.reply(
        StatusCode::OK,
        "Release a licence",
        html! {
            h1 { "Release a licence" }
            (intro(visit))
            (the_form(visit, values))
        },
    )
}

fn intro(visit: &Visit) -> Markup {
    html! {
        p class="lead" {
            "Free your licence on a computer, so that you can activate it on another one. When \
             the application removes its licence it shows a deactivation code: enter it here \
             within a day."
        }
        p {
            "The computer is gone or shows no code? Ask for "
            a href={ (visit.root()) "/my-licence" } { "a link to your licence" }
            " by e-mail instead."
        }
    }
}

fn the_form(visit: &Visit, values: &Form) -> Markup {
    fields::form(
        &format!("{}/release", visit.root()),
        &visit.token(PURPOSE),
        html! {
            (field("is_avkey", "Activation key", "The key you received with your purchase, e.g. A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1PG.", values.value("is_avkey"), "text", true))
            (field("is_pcid", "Computer ID", "As the application shows it on the computer to release.", values.value("is_pcid"), "text", true))
            (field("is_deactcode", "Deactivation code", "The code the application showed when it removed its licence.", values.value("is_deactcode"), "text", true))
        },
        "Release licence",
    )
}

/// The posted form: releases, or says why not (403, nothing changed).
pub async fn post(visit: &Visit, form: &Form) -> Response<Full<Bytes>> {
    if let Err(refused) = visit.admit_form(PURPOSE, form) {
        return *refused;
    }
    let args = match fields::arguments(form, &FIELDS, &visit.config) {
        Ok(a) => a,
        Err(e) => return visit.bad_form("Release a licence", &e.message, the_form(visit, form)),
    };
    let input = match Input::read(&args) {
        Ok(i) => i,
        Err(e) => return visit.bad_form("Release a licence", &e.message, the_form(visit, form)),
    };
    let Some(code) = input.code.clone() else {
        // No proof at all: refused like a wrong code, whatever the server property says.
        let e = MethodError::new(
            ErrorCode::MissingArgument,
            "A deactivation code is required to release a licence here (is_deactcode).",
        );
        return visit.refusal(
            "The licence was not released",
            &e,
            html! { p { "The application shows the code when it removes its licence. Without                          one, ask for a link to your licence by e-mail (My licence)." } },
            the_form(visit, form),
        );
    };
    match release(visit, input, code).await {
        Ok(released) => done(visit, &released),
        Err(e) => {
            if e.code == ErrorCode::WrongDeactivationCode {
                visit.count_failure();
            }
            visit.refusal(
                "The licence was not released",
                &e,
                html! { p { (next_step(e.code)) } },
                the_form(visit, form),
            )
        }
    }
}

/// What the form asks for, read under ReleaseLicenseHttp's argument rules.
struct Input {
    key: String,
    computer_id: String,
    code: Option<String>,
}

impl Input {
    fn read(args: &Args) -> Result<Input, MethodError> {
        let key = args.required("is_avkey")?.to_string();
        let computer_id = args
            .computer_id("is_pcid")?
            .ok_or_else(|| MethodError::missing("is_pcid"))?;
        let code = args.text_max("is_deactcode", 128)?.map(str::to_string);
        Ok(Input {
            key,
            computer_id,
            code,
        })
    }
}

/// ReleaseLicenseHttp's road with the code required.
async fn release(visit: &Visit, input: Input, code: String) -> Result<Released, MethodError> {
    visit.admit_as(release_license::DECLARATION.name)?;
    let key = lookup_key(&input.key)?;
    let mut command = release_command(
        &visit.config,
        &key,
        ReleaseInput {
            computer_id: Some(input.computer_id),
            code: Some(code),
            log_release: true,
            vendor: None,
            client: visit.client.to_string(),
            now: visit.now,
        },
        Box::new(|_| Ok(())),
    );
    // The code is this page's proof (issue 18): required whatever the server property says.
    command.code_required = true;
    let released = visit.state.store.run(command, visit.deadline).await?;
    tracing::info!(
        page = "portal release",
        key = %masked(&key),
        computer = %crate::logging::untrusted(&released.activation.computer_id),
        client = %visit.client,
        "activation released with a deactivation code"
    );
    Ok(released)
}

/// The page of a release: what happened and what to do next.
pub fn done(visit: &Visit, released: &Released) -> Response<Full<Bytes>> {
    visit.reply(
        StatusCode::OK,
        "Licence released",
        html! {
            h1 { "Licence released" }
            (released_notice(released))
            p { a href={ (visit.root()) "/release" } { "Release another licence" } }
        },
    )
}

/// What a release did, in words.
pub fn released_notice(released: &Released) -> Markup {
    let key =
        crate::license::keys::ActivationKey::from_canonical_unchecked(released.license.key.clone());
    let free = released.license.available();
    html! {
        (notice("ok", "Done", html! {
            p {
                "The activation key " code { (key.dashed()) } " is no longer activated on computer "
                code { (released.activation.computer_id) } "."
            }
            p {
                (free) " of " (released.license.activations_allowed)
                @if released.license.activations_allowed == 1 { " activation is" } @else { " activations are" }
                " free now: you can activate the key on another computer."
            }
        }))
    }
}
