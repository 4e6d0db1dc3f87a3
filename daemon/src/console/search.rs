//! `GET /search?q=…&by=…`: licences by key (or part of it), customer e-mail, order id, or a
//! computer's ID or name (`crate::store::license_search`), with a link to export the same
//! result as CSV.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::Visit;
use crate::config::Config;
use crate::customers::Customer;
use crate::license::License;
use crate::license::dates::format_datetime;
use crate::license::keys::ActivationKey;
use crate::store::license_search::{LicenseSearch, SearchField};
use crate::store::{Snapshot, StoreError};
use crate::web::form::Form;

/// Most licences a result page lists.
pub const PAGE_LIMIT: usize = 200;

/// The search box: the text and where to look, and a button that says what it does.
pub fn form(q: &str, by: SearchField) -> Markup {
    let choices = [
        (SearchField::Any, "Anything"),
        (SearchField::Key, "Activation key"),
        (SearchField::Email, "Customer e-mail"),
        (SearchField::Order, "Order id"),
        (SearchField::Computer, "Computer ID or name"),
    ];
    html! {
        form class="stack" role="search" method="get" action="/search" {
            div {
                label for="q" { "Find licences" span class="hint" { "A key or part of it, an e-mail, an order id, a computer's ID or name" } }
                input type="search" id="q" name="q" value=(q) required;
            }
            div {
                label for="by" { "Look in" }
                select id="by" name="by" {
                    @for (field, words) in choices {
                        option value=(field.name()) selected[field == by] { (words) }
                    }
                }
            }
            div { button type="submit" aria-label="Search licences" { "Search" } }
        }
    }
}

/// The search the query asks for, at most `limit` licences.
pub fn search_of(query: &Form, limit: usize) -> LicenseSearch {
    LicenseSearch::new(
        query.value("q"),
        SearchField::from_name(query.value("by")),
        limit,
    )
}

/// Runs `search` on one snapshot: the licences and each one's customer.
pub async fn run(
    visit: &Visit,
    search: &LicenseSearch,
) -> Result<Vec<(License, Option<Customer>)>, StoreError> {
    off_the_request_threads(async {
        let read = visit.state.store.read().await?;
        let licences = read.search_licenses(search).await?;
        with_customers(&read, licences).await
    })
    .await
}

async fn with_customers(
    read: &Snapshot,
    licences: Vec<License>,
) -> Result<Vec<(License, Option<Customer>)>, StoreError> {
    let mut out = Vec::with_capacity(licences.len());
    for l in licences {
        let c = read.customer_of(&l).await?;
        out.push((l, c));
    }
    Ok(out)
}

/// Runs a scan of the store (search, dashboard) without holding a request thread: on the
/// multi-threaded runtime the worker hands its other tasks on while the scan runs.
pub async fn off_the_request_threads<T>(work: impl std::future::Future<Output = T>) -> T {
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| handle.block_on(work))
    } else {
        work.await
    }
}

/// `GET /search`.
pub async fn page(visit: &Visit, query: &Form) -> Response<Full<Bytes>> {
    let q = query.value("q");
    let by = SearchField::from_name(query.value("by"));
    let search = search_of(query, PAGE_LIMIT + 1);
    let found = if search.is_empty() {
        Vec::new()
    } else {
        match run(visit, &search).await {
            Ok(f) => f,
            Err(e) => return visit.store_failed(&e),
        }
    };
    let more = found.len() > PAGE_LIMIT;
    let shown = &found[..found.len().min(PAGE_LIMIT)];
    let csv_href = format!(
        "/search.csv?q={}&by={}",
        utf8_percent_encode(q, NON_ALPHANUMERIC),
        by.name()
    );
    visit.page(
        StatusCode::OK,
        "Search",
        html! {
            h1 { "Search licences" }
            (form(q, by))
            @if !search.is_empty() {
                h2 id="results" {
                    @if shown.is_empty() { "No licence found" }
                    @else if shown.len() == 1 { "1 licence found" }
                    @else { (shown.len()) " licences found" }
                }
                @if more {
                    p class="hint" { "Only the first " (PAGE_LIMIT) " are listed; narrow the search, or export them all as CSV." }
                }
                @if !shown.is_empty() {
                    p { a class="button" href=(csv_href) download { "Export as CSV" } }
                    (table(&visit.config, shown, visit.now))
                }
            }
        },
    )
}

/// The results as a table, one row a licence.
fn table(config: &Config, found: &[(License, Option<Customer>)], now: i64) -> Markup {
    html! {
        div class="table-scroll" {
            table aria-labelledby="results" {
                thead { tr {
                    th scope="col" { "Activation key" }
                    th scope="col" { "Product" }
                    th scope="col" { "Model" }
                    th scope="col" class="num" { "Seats used" }
                    th scope="col" { "Customer" }
                    th scope="col" { "Order id" }
                    th scope="col" { "State" }
                } }
                tbody {
                    @for (l, customer) in found {
                        @let key = ActivationKey::from_canonical_unchecked(l.key.clone());
                        tr {
                            td { a class="mono" href=(super::licence_href(&key)) { (key.dashed()) } }
                            td { (product_name(config, l)) }
                            td { (l.model.as_str()) }
                            td class="num" { (l.activations_used) " of " (l.activations_allowed) }
                            td { (customer.as_ref().map_or("", |c| c.email.as_str())) }
                            td { (l.order_id.as_deref().unwrap_or("")) }
                            td { (state_of(l, now)) }
                        }
                    }
                }
            }
        }
    }
}

/// "Demo 1.0 (id 1)": the product's name (`Config::product_name`), version and id.
pub fn product_name(config: &Config, l: &License) -> String {
    let (id, major, minor) = (l.product_id, l.major_version, l.minor_version);
    format!(
        "{} {major}.{minor} (id {id})",
        config.product_name(id, major, minor)
    )
}

/// The licence's state in a word or two.
pub fn state_of(l: &License, now: i64) -> String {
    if l.revoked {
        "revoked".into()
    } else if let Some(new) = &l.upgraded_to {
        format!(
            "replaced by {}",
            ActivationKey::from_canonical_unchecked(new.clone()).dashed()
        )
    } else if l.is_expired(now) {
        match l.effective_expiry() {
            Some(at) => format!("expired {}", format_datetime(at)),
            None => "expired".into(),
        }
    } else {
        "active".into()
    }
}
