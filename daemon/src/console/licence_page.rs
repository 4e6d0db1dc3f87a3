//! `GET /licence/{key}`: everything stored of one licence (its terms, features, properties,
//! customer, activations, history and release log) and, by role, the forms that change it:
//! release a seat (support), revoke or restore, update, renew and delete (admin).

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::search::{off_the_request_threads, product_name, state_of};
use super::{Visit, key_of, licence_href};
use crate::config::Role;
use crate::customers::Customer;
use crate::license::dates::format_datetime;
use crate::license::history::HistoryEntry;
use crate::license::keys::ActivationKey;
use crate::license::{Activation, License};
use crate::store::StoreError;
use crate::web::form::Form;
use crate::web::page::{csrf_field, notice};

/// What the page shows, read from one snapshot.
struct Stored {
    license: License,
    customer: Option<Customer>,
    activations: Vec<Activation>,
    history: Vec<HistoryEntry>,
    releases: Vec<i64>,
}

async fn read(visit: &Visit, key: &ActivationKey) -> Result<Option<Stored>, StoreError> {
    off_the_request_threads(async {
        let read = visit.state.store.read().await?;
        let Some(license) = read.license(key.as_str()).await? else {
            return Ok(None);
        };
        let activations = read
            .activations(key.as_str())
            .await?
            .into_iter()
            // Last-seen times are written lazily: show the newest known.
            .map(|a| visit.state.store.pending(key.as_str(), &a).unwrap_or(a))
            .collect();
        Ok(Some(Stored {
            customer: read.customer_of(&license).await?,
            activations,
            history: read.history(key.as_str()).await?,
            releases: read.release_times(key.as_str()).await?,
            license,
        }))
    })
    .await
}

/// `GET /licence/{key}`; `done` in the query names the change just made.
pub async fn page(visit: &Visit, key_text: &str, query: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let stored = match read(visit, &key).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return visit.refused(
                StatusCode::NOT_FOUND,
                "No such licence",
                &format!("No licence has the key {}.", key.dashed()),
            );
        }
        Err(e) => return visit.store_failed(&e),
    };
    let title = format!("Licence {}", key.dashed());
    let done = done_notice(query.value("done"));
    visit.page(
        StatusCode::OK,
        &title,
        html! {
            h1 { "Licence " span class="mono" { (key.dashed()) } }
            (done)
            (summary(visit, &stored))
            (activations(visit, &key, &stored))
            (terms(&stored.license))
            (properties(&stored.license))
            @if visit.staff.role >= Role::Admin {
                (admin_forms(visit, &key, &stored.license))
            }
            (history(&stored.history))
            (release_log(&stored.releases))
        },
    )
}

fn done_notice(done: &str) -> Markup {
    let text = match done {
        "released" => "The seat was released.",
        "revoked" => "The licence was revoked.",
        "restored" => "The licence was restored.",
        "updated" => "The licence was updated.",
        "renewed" => "The licence was renewed.",
        "created" => "The licence was created.",
        _ => return html! {},
    };
    notice("ok", "Done", html! { p { (text) } })
}

fn date(t: Option<i64>) -> String {
    t.map(format_datetime).unwrap_or_else(|| "—".into())
}

/// What support asks first: state, product, seats, customer, order, expiry.
fn summary(visit: &Visit, s: &Stored) -> Markup {
    let l = &s.license;
    html! {
        dl class="facts" {
            dt { "State" } dd { (state_of(l, visit.now)) }
            dt { "Product" } dd { (product_name(&visit.config, l)) ", " (l.model.as_str()) }
            dt { "Seats" } dd { (l.activations_used) " used of " (l.activations_allowed) ", " (l.available()) " free" }
            dt { "Customer" } dd { (s.customer.as_ref().map_or("—", |c| c.email.as_str())) }
            dt { "Order id" } dd { (l.order_id.as_deref().unwrap_or("—")) }
            dt { "Expiry" } dd { (date(l.effective_expiry())) }
        }
    }
}

/// Everything else the licence record holds.
fn terms(l: &License) -> Markup {
    let features = l.features.render();
    html! {
        h2 { "Terms" }
        dl class="facts" {
            dt { "Features" } dd class="mono" { @if features.is_empty() { "none" } @else { (features) } }
            dt { "Duration" } dd { (l.duration_days.map_or("—".to_string(), |d| format!("{d} days from the first activation"))) }
            dt { "First activation" } dd { (date(l.first_activation)) }
            dt { "Maintenance plan" } dd {
                @if l.maintenance_plan { "on, renewal " (date(l.maintenance_renewal)) } @else { "off" }
            }
            dt { "Subscription id" } dd { (l.subscription_id.as_deref().unwrap_or("—")) }
            dt { "User data" } dd { (l.user_data.as_deref().unwrap_or("—")) }
            dt { "Affiliate id" } dd { (l.affiliate_id.as_deref().unwrap_or("—")) }
            dt { "Vendor" } dd { (l.vendor) }
            dt { "Created" } dd { (format_datetime(l.created)) }
            dt { "Last change" } dd { (date(l.last_accessed)) }
            dt { "Release limit" } dd { (limit(l.max_release_count, "releases")) }
            dt { "Release period" } dd { (limit(l.max_release_period, "days")) }
            dt { "QLM version" } dd { (l.qlm_version) }
            dt { "Revision" } dd { (l.revision) }
        }
    }
}

/// A licence's own release limit in words.
fn limit(value: Option<i64>, unit: &str) -> String {
    match value {
        None | Some(-2) => "the server's".into(),
        Some(-1) => "none".into(),
        Some(n) => format!("{n} {unit}"),
    }
}

fn properties(l: &License) -> Markup {
    html! {
        h2 id="properties" { "Product properties" }
        @if l.properties.is_empty() {
            p { "None set on this licence (the product's defaults apply)." }
        } @else {
            div class="table-scroll" { table aria-labelledby="properties" {
                thead { tr { th scope="col" { "Property" } th scope="col" { "Type" } th scope="col" { "Value" } th scope="col" { "Expires" } } }
                tbody { @for p in &l.properties {
                    tr { td class="mono" { (p.category) "." (p.name) } td { (p.ty.as_str()) } td { (p.value) } td { (date(p.expiry)) } }
                } }
            } }
        }
    }
}

fn activations(visit: &Visit, key: &ActivationKey, s: &Stored) -> Markup {
    let may_release = visit.staff.role >= Role::Support;
    let code_required = visit
        .config
        .options
        .release_license_requires_verification_code;
    let token = visit.token("release");
    let action = format!("{}/release", licence_href(key));
    html! {
        h2 id="activations" { "Activations" }
        @if s.activations.is_empty() {
            p { "No computer holds a seat." }
        } @else {
            div class="table-scroll" { table aria-labelledby="activations" {
                thead { tr {
                    th scope="col" { "Computer name" }
                    th scope="col" { "Computer ID" }
                    th scope="col" { "Activated" }
                    th scope="col" { "Last seen" }
                    th scope="col" { "Address" }
                    @if may_release { th scope="col" { "Action" } }
                } }
                tbody { @for a in &s.activations {
                    @let label = a.computer_name.clone().unwrap_or_else(|| a.computer_id.clone());
                    tr {
                        td { (a.computer_name.as_deref().unwrap_or("—")) }
                        td class="mono" { (a.computer_id) }
                        td { (format_datetime(a.activated_at)) }
                        td { (format_datetime(a.last_seen)) }
                        td { (a.client_ip.as_deref().unwrap_or("—")) }
                        @if may_release {
                            td {
                                form class="inline" method="post" action=(action) {
                                    (csrf_field(&token))
                                    input type="hidden" name="computer_id" value=(a.computer_id);
                                    @if code_required {
                                        label { "Deactivation code" input type="text" name="code" required; }
                                    }
                                    button type="submit" class="danger" aria-label={ "Release the seat of " (label) } { "Release" }
                                }
                            }
                        }
                    }
                } }
            } }
        }
    }
}

fn admin_forms(visit: &Visit, key: &ActivationKey, l: &License) -> Markup {
    let base = licence_href(key);
    html! {
        h2 { "Change this licence" }
        form class="inline" method="post" action={ (base) "/revoke" } {
            (csrf_field(&visit.token("revoke")))
            @if l.revoked {
                input type="hidden" name="restore" value="true";
                button type="submit" aria-label={ "Restore licence " (key.dashed()) } { "Restore" }
            } @else {
                button type="submit" class="danger" aria-label={ "Revoke licence " (key.dashed()) } { "Revoke" }
            }
        }
        details {
            summary { "Update features, expiry, seats, properties…" }
            (super::update::form(visit, key))
        }
        details {
            summary { "Renew the subscription" }
            (super::renew::form(visit, key))
        }
        details {
            summary { "Delete this licence" }
            form class="stack" method="post" action={ (base) "/delete" } {
                (csrf_field(&visit.token("delete")))
                p { "The licence and its activations go; its history and release log stay. This cannot be undone." }
                label { input type="checkbox" name="confirm" value="yes" required; " Yes, delete " (key.dashed()) }
                div { button type="submit" class="danger" aria-label={ "Delete licence " (key.dashed()) } { "Delete" } }
            }
        }
    }
}

fn history(entries: &[HistoryEntry]) -> Markup {
    html! {
        h2 id="history" { "History" }
        @if entries.is_empty() {
            p { "Nothing recorded yet." }
        } @else {
            div class="table-scroll" { table aria-labelledby="history" {
                thead { tr {
                    th scope="col" { "Time" } th scope="col" { "Event" } th scope="col" { "Computer" }
                    th scope="col" { "By" } th scope="col" { "Address" }
                } }
                tbody { @for h in entries.iter().rev() {
                    tr {
                        td { (format_datetime(h.time)) }
                        td { (h.event) }
                        td { (h.computer_name.as_deref().or(h.computer_id.as_deref()).unwrap_or("—")) }
                        td { (h.vendor.as_deref().unwrap_or("—")) }
                        td { (h.client.as_deref().unwrap_or("—")) }
                    }
                } }
            } }
        }
    }
}

fn release_log(times: &[i64]) -> Markup {
    html! {
        h2 { "Release log" }
        @if times.is_empty() {
            p { "No release counted." }
        } @else {
            p { (times.len()) " releases counted against the release limits:" }
            ul { @for t in times.iter().rev() { li { (format_datetime(*t)) } } }
        }
    }
}
