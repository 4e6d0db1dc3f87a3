//! The HTTP server: hyper http1 with its limits and timeouts, a connection cap, and graceful
//! shutdown driven by an injected future (so tests need no signals).

pub mod args;
pub mod client_addr;
pub mod router;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::state::AppState;

/// Back-off after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `listener` until `shutdown` completes, then stops accepting and gives in-flight
/// requests `server.shutdownGraceSeconds` to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    let config = state.config();
    let server = &config.server;
    let mut http = hyper::server::conn::http1::Builder::new();
    // Without a timer hyper silently disables the header-read timeout.
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(server.header_read_timeout_ms))
        .max_header_size(server.max_header_bytes)
        .keep_alive(true);
    // Past maxConnections new connections wait in the kernel's backlog until one closes.
    let permits = Arc::new(Semaphore::new(server.max_connections as usize));
    let graceful = GracefulShutdown::new();
    let grace = Duration::from_secs(server.shutdown_grace_seconds);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = service_fn(move |req| router::handle(req, peer, state.clone()));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(seconds = grace.as_secs(), "grace period over; closing remaining connections"),
    }
}
