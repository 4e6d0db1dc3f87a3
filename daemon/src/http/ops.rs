//! The operator's endpoints beside the QLM methods: `GET /healthz` and `GET /metrics`
//! (spec operations.md, Health and metrics).

use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::config::DATABASE_FILE;
use crate::http::client_addr::ClientAddr;
use crate::http::plain::plain_text;
use crate::state::AppState;
use crate::store::StoreError;

/// The content type of the Prometheus text format, version 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long `/healthz` waits for the writer thread to answer.
const WRITER_PATIENCE: Duration = Duration::from_secs(2);

/// How long `/healthz` waits for its read: a database server that stops answering (a network
/// partition, not a refused connection) makes the check fail after this rather than hang,
/// well within the 15 s in which a load balancer must see the node unhealthy.
const READ_PATIENCE: Duration = Duration::from_secs(5);

/// `/healthz`: 200 `ok` while the database answers a read and the writer thread answers a
/// round trip; 503 with the reason otherwise.
pub async fn healthz(state: &AppState) -> Response<Full<Bytes>> {
    match tokio::time::timeout(READ_PATIENCE, stored_counts(state)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the database does not answer a read");
            return plain_text(StatusCode::SERVICE_UNAVAILABLE, "database read failed\n");
        }
        Err(_) => {
            tracing::warn!("health check: the database did not answer a read in time");
            return plain_text(StatusCode::SERVICE_UNAVAILABLE, "database read timed out\n");
        }
    }
    if !state.store.writer_alive(WRITER_PATIENCE).await {
        return plain_text(
            StatusCode::SERVICE_UNAVAILABLE,
            "database writer not answering\n",
        );
    }
    plain_text(StatusCode::OK, "ok\n")
}

/// `/metrics` in the Prometheus text format, only for `server.metricsAllowedIPs`.
pub async fn metrics(state: &AppState, client: ClientAddr) -> Response<Full<Bytes>> {
    if !client.is_in(&state.config().server.metrics_allowed_ips) {
        tracing::debug!(%client, "metrics refused to an address not in server.metricsAllowedIPs");
        return plain_text(
            StatusCode::FORBIDDEN,
            "Your address may not read metrics (server.metricsAllowedIPs).\n",
        );
    }
    let counts = stored_counts(state).await;
    let database = state.config().server.data_dir.join(DATABASE_FILE);
    let database_size = state.store.database_size(&database).await;
    let text = state
        .metrics
        .render(state.store.stats(), counts, database_size);
    let mut r = plain_text(StatusCode::OK, text);
    // Plain text still, with the format version Prometheus reads from the content type.
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
    r
}

/// Licences and activations stored, from one snapshot: what `/healthz` proves the database
/// answers and `/metrics` reports.
async fn stored_counts(state: &AppState) -> Result<(u64, u64), StoreError> {
    let snapshot = state.store.read().await?;
    Ok((
        snapshot.licenses_stored().await?,
        snapshot.activations_stored().await?,
    ))
}
