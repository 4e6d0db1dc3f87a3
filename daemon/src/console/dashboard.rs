//! `GET /dashboard`: activations and releases per day over the last 90 days, licences by
//! product and model, seats in use against seats available, and the licences expiring in
//! the next 30 days (`crate::store::overview`), each chart with its numbers as a table.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use maud::{Markup, html};

use super::search::off_the_request_threads;
use super::{Visit, charts, licence_href};
use crate::license::dates::{SECONDS_PER_DAY, format_datetime};
use crate::license::keys::ActivationKey;
use crate::store::overview::{EXPIRING_WITHIN_DAYS, Overview};

/// How many days the per-day charts show.
pub const DAYS: i64 = 90;

/// `GET /dashboard`.
pub async fn page(visit: &Visit) -> Response<Full<Bytes>> {
    let overview = off_the_request_threads(async {
        let read = visit.state.store.read().await?;
        read.overview(visit.now, DAYS).await
    })
    .await;
    let o = match overview {
        Ok(o) => o,
        Err(e) => return visit.store_failed(&e),
    };
    let licences: u64 = o.groups.values().map(|g| g.licences).sum();
    visit.page(
        StatusCode::OK,
        "Dashboard",
        html! {
            h1 { "Dashboard" }
            div class="cards" {
                section class="card" { h2 { "Licences" } p class="lead" { (licences) " stored" } }
                section class="card" { h2 { "Seats" } p class="lead" { (o.used) " of " (o.seats) " in use" } }
                section class="card" { h2 { "Expiring" } p class="lead" { (o.expiring_count) " in the next " (EXPIRING_WITHIN_DAYS) " days" } }
            }
            (per_day(&o, "activations", "Activations per day", charts::BLUE, |day| o.activations.get(&day).copied()))
            (per_day(&o, "releases", "Releases per day", charts::AMBER, |day| o.releases.get(&day).copied()))
            (by_product(visit, &o))
            h2 id="seats" { "Seats in use and available" }
            p { "Seats of live licences (not revoked, replaced or expired)." }
            (charts::seats("seats-chart", o.used, o.seats))
            (expiring(&o))
        },
    )
}

/// `mm-dd` of a UTC day number.
fn short_date(day: i64) -> String {
    format_datetime(day * SECONDS_PER_DAY)
        .get(5..10)
        .unwrap_or("")
        .to_string()
}

fn per_day(
    o: &Overview,
    id: &str,
    title: &str,
    colour: &str,
    value: impl Fn(i64) -> Option<u64>,
) -> Markup {
    let values: Vec<(String, u64)> = o
        .day_range()
        .map(|day| (short_date(day), value(day).unwrap_or(0)))
        .collect();
    let total: u64 = values.iter().map(|(_, v)| v).sum();
    let busiest = values
        .iter()
        .max_by_key(|(_, v)| *v)
        .filter(|(_, v)| *v > 0);
    let desc = match busiest {
        Some((day, v)) => format!("{total} in the last {DAYS} days; the most on {day}: {v}."),
        None => format!("None in the last {DAYS} days."),
    };
    let heading = format!("{title} (last {DAYS} days, UTC)");
    html! {
        h2 id=(id) { (heading) }
        p { (desc) }
        (charts::per_day(&format!("{id}-chart"), &heading, &desc, colour, &values))
        details {
            summary { "The numbers per day" }
            div class="table-scroll" { table aria-labelledby=(id) {
                thead { tr { th scope="col" { "Day" } th scope="col" class="num" { (title) } } }
                tbody { @for (day, v) in values.iter().filter(|(_, v)| *v > 0) {
                    tr { td { (day) } td class="num" { (v) } }
                } }
            } }
        }
    }
}

fn by_product(visit: &Visit, o: &Overview) -> Markup {
    let rows: Vec<(String, u64, u64, u64)> = o
        .groups
        .iter()
        .map(|(((id, major, minor), model), g)| {
            let name = visit.config.product_name(*id, *major, *minor);
            (
                format!("{name} {major}.{minor}, {model}"),
                g.licences,
                g.seats,
                g.used,
            )
        })
        .collect();
    let bars: Vec<(String, u64)> = rows.iter().map(|(l, n, _, _)| (l.clone(), *n)).collect();
    let desc = format!("{} product versions and models.", rows.len());
    html! {
        h2 id="products" { "Licences by product and model" }
        @if rows.is_empty() {
            p { "No licence yet." }
        } @else {
            (charts::rows("products-chart", "Licences by product and model", &desc, charts::BLUE, &bars))
            div class="table-scroll" { table aria-labelledby="products" {
                thead { tr {
                    th scope="col" { "Product and model" } th scope="col" class="num" { "Licences" }
                    th scope="col" class="num" { "Seats" } th scope="col" class="num" { "In use" }
                } }
                tbody { @for (label, n, seats, used) in &rows {
                    tr { td { (label) } td class="num" { (n) } td class="num" { (seats) } td class="num" { (used) } }
                } }
            } }
        }
    }
}

fn expiring(o: &Overview) -> Markup {
    html! {
        h2 id="expiring" { "Expiring in the next " (EXPIRING_WITHIN_DAYS) " days" }
        @if o.expiring.is_empty() {
            p { "No licence expires in the next " (EXPIRING_WITHIN_DAYS) " days." }
        } @else {
            @if o.expiring_count as usize > o.expiring.len() {
                p class="hint" { "The " (o.expiring.len()) " soonest of " (o.expiring_count) ":" }
            }
            div class="table-scroll" { table aria-labelledby="expiring" {
                thead { tr { th scope="col" { "Activation key" } th scope="col" { "Product" } th scope="col" { "Expires" } } }
                tbody { @for e in &o.expiring {
                    @let key = ActivationKey::from_canonical_unchecked(e.key.clone());
                    tr {
                        td { a class="mono" href=(licence_href(&key)) { (key.dashed()) } }
                        td { (e.product.0) " " (e.product.1) "." (e.product.2) }
                        td { (format_datetime(e.at)) }
                    }
                } }
            } }
        }
    }
}
