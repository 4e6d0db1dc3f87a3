//! `GET /search.csv?q=…&by=…`: the search result as a CSV file (RFC 4180, UTF-8), one row a
//! licence, for a spreadsheet. A cell that a spreadsheet would read as a formula (it starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`:
//! order ids and e-mails come from customers and stores, and must not run in a staff
//! member's spreadsheet.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;

use super::Visit;
use super::search::{product_name, run, search_of, state_of};
use crate::license::dates::format_datetime;
use crate::license::keys::ActivationKey;
use crate::web::form::Form;
use crate::web::reply;

/// Most licences one export holds.
pub const EXPORT_LIMIT: usize = 100_000;

/// The header row.
const HEADER: [&str; 14] = [
    "activation_key",
    "product_id",
    "product",
    "version",
    "model",
    "seats_allowed",
    "seats_used",
    "expiry",
    "order_id",
    "subscription_id",
    "customer_email",
    "state",
    "created",
    "vendor",
];

/// `GET /search.csv`.
pub async fn export(visit: &Visit, query: &Form) -> Response<Full<Bytes>> {
    let search = search_of(query, EXPORT_LIMIT);
    if search.is_empty() {
        return visit.refused(
            StatusCode::BAD_REQUEST,
            "Nothing to export",
            "Search for something first; the export holds the licences the search finds.",
        );
    }
    let found = match run(visit, &search).await {
        Ok(f) => f,
        Err(e) => return visit.store_failed(&e),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![HEADER.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for (l, customer) in &found {
        rows.push(vec![
            ActivationKey::from_canonical_unchecked(l.key.clone()).dashed(),
            l.product_id.to_string(),
            product_name(&visit.config, l),
            format!("{}.{}", l.major_version, l.minor_version),
            l.model.as_str().to_string(),
            l.activations_allowed.to_string(),
            l.activations_used.to_string(),
            l.effective_expiry()
                .map(format_datetime)
                .unwrap_or_default(),
            l.order_id.clone().unwrap_or_default(),
            l.subscription_id.clone().unwrap_or_default(),
            customer
                .as_ref()
                .map(|c| c.email.clone())
                .unwrap_or_default(),
            state_of(l, visit.now),
            format_datetime(l.created),
            l.vendor.clone(),
        ]);
    }
    for row in rows {
        if let Err(e) = out.write_record(row.iter().map(|cell| inert(cell))) {
            tracing::error!(error = %e, "console: the CSV export could not be written");
        }
    }
    let body = match out.into_inner() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "console: the CSV export could not be written");
            Vec::new()
        }
    };
    tracing::info!(
        console_user = %visit.staff.name,
        client = %visit.staff.client,
        licences = found.len(),
        "console: search exported as CSV"
    );
    reply::download("licences.csv", "text/csv; charset=utf-8", body)
}

/// `cell`, with a leading `'` when a spreadsheet would take it for a formula.
fn inert(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_written_as_text() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert("ORD-1"), "ORD-1");
        assert_eq!(inert(""), "");
    }
}
