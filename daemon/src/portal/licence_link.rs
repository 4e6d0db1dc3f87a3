//! "My licence", second step: the page a mailed link opens (product, expiry, maintenance,
//! seats, each activation with a release button), and the release it confirms.
//!
//! Opening the page (GET) never uses the link: mail scanners fetch links before their
//! reader does. A release button (a POST with the form's CSRF token) uses it: the release
//! runs through the store's replay memory under the link's nonce (`super::links`), so the
//! link releases once, on any node, and a second press answers "already used" and changes
//! nothing. The link stands in for the deactivation code: ReleaseLicenseHttp's rules apply
//! otherwise (the guard's address rules and `enableReleaseKeyHttp`, the release limit,
//! `preventDeactivationPeriod`), with the same codes.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::fields;
use super::frame::{Visit, next_step};
use super::links::{Link, LinkError, used_row};
use super::my_licence::product_name;
use super::release::released_notice;
use crate::customers::Customer;
use crate::errors::MethodError;
use crate::license::dates::format_datetime;
use crate::license::keys::ActivationKey;
use crate::license::{Activation, License};
use crate::methods::masked;
use crate::methods::release_license::{self, ReleaseInput, release_command};
use crate::store::Replayable;
use crate::web::form::Form;
use crate::web::page::{csrf_field, notice};

/// The release buttons' CSRF purpose.
const PURPOSE: &str = "portal-link-release";

/// The field (and query argument) carrying the link's token.
pub const TOKEN_FIELD: &str = "t";

/// A link checked against the store: the licence it opens, as one snapshot saw it.
struct Opened {
    link: Link,
    license: License,
    activations: Vec<Activation>,
}

/// Why a link opens nothing, in words.
enum Closed {
    Invalid,
    Expired,
    Used,
    /// The store could not be read.
    Failed,
}

/// `GET …/portal/licence?t=…`: the licence's page, or why the link opens nothing.
pub async fn page(visit: &Visit, query: &Form) -> Response<Full<Bytes>> {
    if visit.is_blocked() {
        return visit.too_many();
    }
    match open(visit, query.get(TOKEN_FIELD)).await {
        Ok(opened) => licence_page(visit, &opened),
        Err(closed) => closed_page(visit, closed),
    }
}

/// `POST …/portal/licence/release`: releases the activation the button names, using the
/// link.
pub async fn release(visit: &Visit, form: &Form) -> Response<Full<Bytes>> {
    if let Err(refused) = visit.admit_form(PURPOSE, form) {
        return *refused;
    }
    let opened = match open(visit, form.get(TOKEN_FIELD)).await {
        Ok(o) => o,
        Err(closed) => return closed_page(visit, closed),
    };
    let computer_id = match fields::arguments(form, &["is_pcid"], &visit.config)
        .and_then(|a| a.computer_id("is_pcid"))
        .and_then(|pc| pc.ok_or_else(|| MethodError::missing("is_pcid")))
    {
        Ok(pc) => pc,
        Err(e) => return visit.bad_form("Release", &e.message, html! {}),
    };
    let refused = |e: MethodError| {
        visit.refusal(
            "The licence was not released",
            &e,
            html! {
                p { (next_step(e.code)) }
                p { "Your link was not used: it still works until " (format_datetime(opened.link.expires)) " UTC." }
            },
            html! {},
        )
    };
    if let Err(e) = visit.admit_as(release_license::DECLARATION.name) {
        return refused(e);
    }
    let key = ActivationKey::from_canonical_unchecked(opened.license.key.clone());
    let command = release_command(
        &visit.config,
        &key,
        ReleaseInput {
            computer_id: Some(computer_id),
            code: None,
            log_release: true,
            vendor: None,
            client: visit.client.to_string(),
            now: visit.now,
        },
        Box::new(|_| Ok(())),
    );
    // The link is this release's proof (issue 18), in place of the code.
    let command = crate::store::commands::Release {
        code_required: false,
        ..command
    };
    let done = visit
        .state
        .store
        .run_remembered(command, visit.deadline, opened.link.replay_key(), visit.now)
        .await;
    match done {
        Ok(Replayable::Fresh(released)) => {
            tracing::info!(
                page = "portal licence link",
                key = %masked(&key),
                computer = %crate::logging::untrusted(&released.activation.computer_id),
                client = %visit.client,
                "activation released with a mailed link"
            );
            visit.reply(
                StatusCode::OK,
                "Licence released",
                html! {
                    h1 { "Licence released" }
                    (released_notice(&released))
                    p {
                        "This link is now used. To release another activation, "
                        a href={ (visit.root()) "/my-licence" } { "ask for a new link" } "."
                    }
                },
            )
        }
        Ok(Replayable::Repeat { .. }) => closed_page(visit, Closed::Used),
        Err(e) => refused(e.into()),
    }
}

/// Checks `token` against the licence it names and its customer, in one snapshot.
async fn open(visit: &Visit, token: Option<&str>) -> Result<Opened, Closed> {
    let Some(link) = token.and_then(Link::parse) else {
        visit.count_failure();
        return Err(Closed::Invalid);
    };
    let read = visit.state.store.read().await.map_err(|_| Closed::Failed)?;
    let license = read
        .license(link.key.as_str())
        .await
        .map_err(|_| Closed::Failed)?;
    let customer: Option<Customer> = match &license {
        Some(l) => read.customer_of(l).await.map_err(|_| Closed::Failed)?,
        None => None,
    };
    let email = customer.as_ref().map_or("", |c| c.email.as_str());
    match link.verify(visit.state.store.secret(), email, visit.now) {
        Ok(()) => {}
        Err(LinkError::Invalid) => {
            visit.count_failure();
            return Err(Closed::Invalid);
        }
        Err(LinkError::Expired) => return Err(Closed::Expired),
    }
    // A verified link names a licence with a customer.
    let license = license.ok_or(Closed::Invalid)?;
    let (vendor, id) = used_row(&link);
    if read
        .remembers_change(&vendor, &id)
        .await
        .map_err(|_| Closed::Failed)?
    {
        return Err(Closed::Used);
    }
    let activations = read
        .activations(&license.key)
        .await
        .map_err(|_| Closed::Failed)?;
    Ok(Opened {
        link,
        license,
        activations,
    })
}

/// The 403 page of a link that opens nothing (a 500 page when the store failed).
fn closed_page(visit: &Visit, closed: Closed) -> Response<Full<Bytes>> {
    let (heading, why) = match closed {
        Closed::Invalid => (
            "This link is not valid",
            "The link is not one this server sent, or it was cut short by the mail program, or \
             the licence's e-mail address has changed since.",
        ),
        Closed::Expired => (
            "This link has expired",
            "A link opens the licence's page for 15 minutes after it was sent.",
        ),
        Closed::Used => (
            "This link was already used",
            "A link works for one release, and this one has released an activation already. \
             Nothing was changed now.",
        ),
        Closed::Failed => return visit.failed("open the licence"),
    };
    visit.reply(
        StatusCode::FORBIDDEN,
        heading,
        html! {
            h1 { (heading) }
            (notice("error", "Nothing was changed", html! {
                p { (why) }
                p {
                    "Ask for "
                    a href={ (visit.root()) "/my-licence" } { "a new link" }
                    "; it comes to the licence's e-mail address."
                }
            }))
        },
    )
}

/// The licence's page.
fn licence_page(visit: &Visit, opened: &Opened) -> Response<Full<Bytes>> {
    let license = &opened.license;
    let key = ActivationKey::from_canonical_unchecked(license.key.clone());
    let token = visit.token(PURPOSE);
    visit.reply(
        StatusCode::OK,
        "Your licence",
        html! {
            h1 { "Your licence" }
            @if license.revoked {
                (notice("warn", "This licence is revoked", html! {
                    p { "It can no longer be activated or validated. Write to the vendor's support." }
                }))
            }
            (facts(visit, license, &key))
            h2 id="activations" { "Activations" }
            @if opened.activations.is_empty() {
                p { "The licence is not activated on any computer." }
            } @else {
                (activations(visit, opened, &token))
                p class="hint" {
                    "Releasing frees that activation for another computer. The link works for \
                     one release, until " (format_datetime(opened.link.expires)) " UTC."
                }
            }
        },
    )
}

/// Product, key, expiry, maintenance and seats.
fn facts(visit: &Visit, license: &License, key: &ActivationKey) -> Markup {
    let product = product_name(&visit.config, license);
    html! {
        dl class="facts" {
            dt { "Product" }
            dd { (product) " " (license.major_version) "." (license.minor_version) }
            dt { "Activation key" }
            dd { code { (key.dashed()) } }
            dt { "Expires" }
            dd {
                @match license.effective_expiry() {
                    Some(t) if license.is_expired(visit.now) => { (format_datetime(t)) " UTC (expired)" }
                    Some(t) => { (format_datetime(t)) " UTC" }
                    None => { "Never" }
                }
            }
            dt { "Maintenance" }
            dd {
                @match (license.maintenance_plan, license.maintenance_renewal) {
                    (true, Some(t)) => { "Until " (format_datetime(t)) " UTC" }
                    (true, None) => { "Included" }
                    (false, _) => { "No maintenance plan" }
                }
            }
            dt { "Activations" }
            dd {
                (license.activations_used) " of " (license.activations_allowed) " in use, "
                (license.available()) " free"
            }
        }
    }
}

/// The table of activations, a release button on each row.
fn activations(visit: &Visit, opened: &Opened, token: &str) -> Markup {
    let action = format!("{}/licence/release", visit.root());
    let link_token = opened.link.token();
    html! {
        div class="table-scroll" {
            table aria-labelledby="activations" {
                thead { tr {
                    th scope="col" { "Computer name" }
                    th scope="col" { "Computer ID" }
                    th scope="col" { "Activated" }
                    th scope="col" { "Last seen" }
                    th scope="col" { span class="hint" { "Action" } }
                } }
                tbody {
                    @for a in &opened.activations {
                        @let name = a.computer_name.as_deref().filter(|n| !n.is_empty());
                        tr {
                            td { (name.unwrap_or("—")) }
                            td { code { (a.computer_id) } }
                            td { (format_datetime(a.activated_at)) " UTC" }
                            td { (format_datetime(a.last_seen)) " UTC" }
                            td {
                                form class="inline" method="post" action=(action) {
                                    (csrf_field(token))
                                    input type="hidden" name=(TOKEN_FIELD) value=(link_token);
                                    input type="hidden" name="is_pcid" value=(a.computer_id);
                                    button type="submit" class="danger"
                                        aria-label={ "Release the licence from computer "
                                            (name.map_or(a.computer_id.clone(), |n| format!("{n} ({})", a.computer_id))) } {
                                        "Release"
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
