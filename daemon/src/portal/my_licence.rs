//! "My licence", first step: the activation key and the e-mail of its customer ask for a
//! single-use link (`super::links`), mailed through the outbox to the licence's customer.
//!
//! A key alone proves nothing (replies and licence files carry the e-mail too, but nothing
//! is shown here for either), and an order id is never proof: the page only ever says "if
//! they match, we sent a link". It is the same page, after the same time, whether or not
//! they match: the look-up and the mail happen after the answer, in a task of their own,
//! and the answer waits until [`ANSWER_AFTER`] from the request's arrival. Every request
//! counts against the client address's throttle (`security.authFailuresPerMinute`), match
//! or not, so the throttle tells nothing either; and one address has at most
//! [`MAX_LINKS_PER_ADDRESS_PER_HOUR`] links mailed an hour, which changes what is mailed,
//! never the page.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::fields::{self, field};
use super::frame::Visit;
use super::links::{self, LINK_MINUTES};
use crate::config::Config;
use crate::customers::same_email;
use crate::errors::MethodError;
use crate::http::args::Args;
use crate::license::License;
use crate::license::keys::ActivationKey;
use crate::mail::template::PORTAL_LINK;
use crate::methods::masked;
use crate::state::AppState;
use crate::store::commands::EnqueueMail;
use crate::store::outbox::OutgoingMail;
use crate::web::form::Form;
use crate::web::page::notice;

/// The form's CSRF purpose.
const PURPOSE: &str = "portal-my-licence";

/// The fields of the form, QLM's names.
const FIELDS: [&str; 2] = ["is_avkey", "is_email"];

/// How long after its arrival a request is answered, match or not: longer than the form's
/// own checks ever take, so the answer's time says nothing.
pub const ANSWER_AFTER: Duration = Duration::from_millis(400);

/// Links mailed at most per client address (IPv6: /64) and hour.
pub const MAX_LINKS_PER_ADDRESS_PER_HOUR: u32 = 10;

/// The form, prefilled from the query.
pub fn form_page(visit: &Visit, values: &Form) -> Response<Full<Bytes>> {
    visit.reply(
        StatusCode::OK,
        "My licence",
        html! {
            h1 { "My licence" }
            p class="lead" {
                "See your licence, the computers it is activated on, and release one of them. \
                 Enter the activation key and the e-mail address the licence was sold to: we \
                 e-mail a link to that address, which opens the licence's page for "
                (LINK_MINUTES) " minutes."
            }
            (the_form(visit, values))
        },
    )
}

fn the_form(visit: &Visit, values: &Form) -> Markup {
    fields::form(
        &format!("{}/my-licence", visit.root()),
        &visit.token(PURPOSE),
        html! {
            (field("is_avkey", "Activation key", "The key you received with your purchase.", values.value("is_avkey"), "text", true))
            (field("is_email", "E-mail address", "The address the licence was sold to.", values.value("is_email"), "email", true))
        },
        "E-mail me a link",
    )
}

/// The posted form: the same answer whatever the key and e-mail are; the link is mailed
/// when they match.
pub async fn post(visit: &Visit, form: &Form) -> Response<Full<Bytes>> {
    if let Err(refused) = visit.admit_form(PURPOSE, form) {
        return *refused;
    }
    let heading = "My licence";
    let (key, email) = match fields::arguments(form, &FIELDS, &visit.config).and_then(|a| read(&a))
    {
        Ok(r) => r,
        Err(e) => return visit.bad_form(heading, &e.message, the_form(visit, form)),
    };
    if !visit.count_failure() {
        return visit.too_many();
    }
    let (state, config, client, now) = (
        visit.state.clone(),
        visit.config.clone(),
        visit.client,
        visit.now,
    );
    let (task_key, task_email) = (key.clone(), email.clone());
    tokio::spawn(async move {
        let outcome = mail_link(&state, &config, &task_key, &task_email, now, client).await;
        // Neither the key nor the e-mail is logged: a log line tells no reader whose
        // licence was asked for.
        tracing::info!(page = "portal my licence", %client, "{outcome}");
    });
    tokio::time::sleep_until((visit.started + ANSWER_AFTER).into()).await;
    visit.reply(
        StatusCode::OK,
        heading,
        html! {
            h1 { "Check your mail" }
            (notice("ok", "If they match, a link is on its way", html! {
                p {
                    "If " code { (key) } " is a licence sold to " strong { (email) }
                    ", we have e-mailed a link to that address. It opens the licence's page for "
                    (LINK_MINUTES) " minutes and works for one release."
                }
            }))
            p {
                "Nothing arrived after a few minutes? Look in the spam folder, check the key and \
                 the address, and "
                a href={ (visit.root()) "/my-licence" } { "ask again" } "."
            }
        },
    )
}

/// The key and e-mail, under the HTTP methods' argument rules.
fn read(args: &Args) -> Result<(String, String), MethodError> {
    let key = args.text_max("is_avkey", 64)?;
    let email = args.text_max("is_email", 255)?;
    Ok((
        key.ok_or_else(|| MethodError::missing("is_avkey"))?
            .to_string(),
        email
            .ok_or_else(|| MethodError::missing("is_email"))?
            .to_string(),
    ))
}

/// Looks the licence up and mails the link when `email` is its customer's; the sentence
/// returned is for the log.
async fn mail_link(
    state: &Arc<AppState>,
    config: &Config,
    key: &str,
    email: &str,
    now: i64,
    client: crate::http::client_addr::ClientAddr,
) -> &'static str {
    let Ok(key) = ActivationKey::parse_for_lookup(key) else {
        return "no link mailed: no such key";
    };
    let Ok(read) = state.store.read().await else {
        return "no link mailed: the store could not be read";
    };
    let Ok(Some(license)) = read.license(key.as_str()).await else {
        return "no link mailed: no such key";
    };
    let Ok(Some(customer)) = read.customer_of(&license).await else {
        return "no link mailed: the key and e-mail do not match";
    };
    drop(read);
    if !same_email(&customer.email, email) {
        return "no link mailed: the key and e-mail do not match";
    }
    let Some(counted) =
        state
            .link_mails
            .try_count(client, MAX_LINKS_PER_ADDRESS_PER_HOUR, Instant::now())
    else {
        return "no link mailed: the client address reached its hourly limit";
    };
    let Ok(token) = links::issue(state.store.secret(), &key, &customer.email, now) else {
        state.link_mails.refund(counted);
        return "no link mailed: no random nonce could be made";
    };
    let link = format!("{}/portal/licence?t={token}", config.portal.public_base());
    let name = customer
        .details
        .full_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| customer.email.clone());
    let (subject, body) = config.mail.template(PORTAL_LINK).render(&[
        ("link", &link),
        ("expiryMinutes", &LINK_MINUTES.to_string()),
        ("activationKey", &key.dashed()),
        ("productName", &product_name(config, &license)),
        ("customerName", &name),
        ("email", &customer.email),
    ]);
    let command = EnqueueMail {
        mail: OutgoingMail {
            to: customer.email.clone(),
            subject,
            body,
            template: PORTAL_LINK.to_string(),
        },
        at: now,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    if state.store.run(command, deadline).await.is_err() {
        state.link_mails.refund(counted);
        return "no link mailed: the outbox could not be written";
    }
    state.mail_wake.notify_one();
    tracing::debug!(key = %masked(&key), "portal link queued");
    "a link was queued for the licence's customer"
}

/// The configured name of the licence's product, else its id.
pub fn product_name(config: &Config, license: &License) -> String {
    config.product_name(
        license.product_id,
        license.major_version,
        license.minor_version,
    )
}
