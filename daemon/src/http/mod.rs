//! The HTTP server: hyper http1 with its limits and timeouts, optional TLS, a connection cap,
//! and graceful shutdown driven by an injected future (so tests need no signals). It serves
//! a [`Site`]: the QLM methods ([`Methods`]) on `server.listen`, and the staff console
//! (`crate::console`) on its own listener, with the same loop.
//!
//! Limits and the TLS certificate are read from the configuration in force for each new
//! connection, so a reload changes them for connections accepted after it;
//! `maxConnections` resizes the cap.
//!
//! Time limits (spec operations.md, Limits of load), all `server.headerReadTimeoutMs`: a TLS
//! handshake must end that long after the connection was accepted; a request's headers
//! must arrive that long after hyper starts reading it (hyper's own timer, which is also the
//! idle keep-alive limit); its body must have arrived that long after the request's first
//! byte ([`clock`], enforced by the router with a 408). A slow client therefore holds a
//! connection slot for at most about twice that time with TLS, once without.

pub mod args;
pub mod client_addr;
pub mod clock;
pub mod ops;
pub mod plain;
pub mod router;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::config::{Config, ServerConfig, TlsIdentity};
use crate::state::AppState;
use clock::{Clocked, RequestClock};

/// Back-off after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What one listener serves: the QLM methods on `server.listen`, or the staff console on
/// its own address (`crate::console`). The accept loop, the connection cap, the TLS
/// handshake, the deadlines and the graceful shutdown are the same for both; each site says
/// which certificate and cap the configuration in force gives it, and answers requests.
pub trait Site: Send + Sync + 'static {
    /// The certificate new connections get under `config`; `None`: plain HTTP.
    fn tls(&self, config: &Config) -> Option<TlsIdentity>;

    /// Connections served at once under `config`.
    fn max_connections(&self, config: &Config) -> usize;

    /// Answers one request. Never fails: every refusal is a reply.
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        state: Arc<AppState>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;
}

/// The main listener: the QLM methods, `/healthz` and `/metrics` ([`router`]).
pub struct Methods;

impl Site for Methods {
    fn tls(&self, config: &Config) -> Option<TlsIdentity> {
        config.server.tls.clone()
    }

    fn max_connections(&self, config: &Config) -> usize {
        config.server.max_connections as usize
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        state: Arc<AppState>,
    ) -> Response<Full<Bytes>> {
        match router::handle(req, peer, state).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}

/// Serves the QLM methods on `listener` until `shutdown` completes (see [`serve_site`]).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    serve_site(listener, state, Arc::new(Methods), shutdown).await;
}

/// Serves `site` on `listener` until `shutdown` completes, then stops accepting (new
/// connections are refused) and gives in-flight requests `server.shutdownGraceSeconds` to
/// finish.
pub async fn serve_site<S: Site>(
    listener: TcpListener,
    state: Arc<AppState>,
    site: Arc<S>,
    shutdown: impl Future<Output = ()>,
) {
    // Past maxConnections new connections wait in the kernel's backlog until one closes.
    let limit = ConnectionLimit::new(site.max_connections(&state.config()));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let config = state.config();
        limit.resize(site.max_connections(&config));
        let permit = tokio::select! {
            p = limit.permits.clone().acquire_owned() => match p {
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
        let open = state.metrics.connection_opened();
        // The configuration in force when the connection arrived sets its limits and its
        // certificate: a reload changes them for connections accepted after it.
        let config = state.config();
        let http = builder(&config.server);
        let tls = site.tls(&config);
        let deadline = Instant::now() + Duration::from_millis(config.server.header_read_timeout_ms);
        // Subscribed now, so that a shutdown during the TLS handshake still waits for it.
        let watcher = graceful.watcher();
        let (st, site) = (state.clone(), site.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, peer, st, site, http, watcher).await,
                Some(identity) => match tls::handshake(stream, &identity, deadline).await {
                    Ok(stream) => serve_connection(stream, peer, st, site, http, watcher).await,
                    Err(e) => tracing::debug!(error = %e, %peer, "TLS connection refused"),
                },
            }
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    // Read now, not at start: a reload may have changed it.
    let grace = Duration::from_secs(state.config().server.shutdown_grace_seconds);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(seconds = grace.as_secs(), "grace period over; closing remaining connections"),
    }
}

/// Serves HTTP/1.1 on one accepted (and, with TLS, handshaken) connection until it closes.
async fn serve_connection<S, T>(
    stream: T,
    peer: SocketAddr,
    state: Arc<AppState>,
    site: Arc<S>,
    http: hyper::server::conn::http1::Builder,
    watcher: Watcher,
) where
    S: Site,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let clock = RequestClock::new();
    let io = TokioIo::new(Clocked::new(stream, clock.clone()));
    let service = service_fn(move |mut req| {
        req.extensions_mut().insert(clock.claim());
        let (clock, state, site) = (clock.clone(), state.clone(), site.clone());
        // Boxed: hyper keeps room for the request's future in every connection for as long
        // as it is open, and a method call's future is many KiB; boxed, an idle keep-alive
        // connection holds a pointer and the room exists only while a request runs.
        Box::pin(async move {
            let reply = site.handle(req, peer, state).await;
            clock.request_done();
            Ok::<_, std::convert::Infallible>(reply)
        })
    });
    if let Err(e) = watcher.watch(http.serve_connection(io, service)).await {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}

/// The http1 settings of one connection.
fn builder(server: &ServerConfig) -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    // Without a timer hyper silently disables the header-read timeout.
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(server.header_read_timeout_ms))
        .max_header_size(server.max_header_bytes)
        .keep_alive(true);
    http
}

/// The connection cap: a semaphore whose size follows `maxConnections` across reloads.
struct ConnectionLimit {
    permits: Arc<Semaphore>,
    size: AtomicUsize,
}

impl ConnectionLimit {
    fn new(size: usize) -> Self {
        ConnectionLimit {
            permits: Arc::new(Semaphore::new(size)),
            size: AtomicUsize::new(size),
        }
    }

    /// Grows or shrinks the cap. Shrinking takes permits back as connections close, so
    /// open connections are never cut.
    fn resize(&self, size: usize) {
        let old = self.size.swap(size, Ordering::Relaxed);
        if size > old {
            self.permits.add_permits(size - old);
        } else if size < old {
            let owed = u32::try_from(old - size).unwrap_or(u32::MAX);
            let permits = self.permits.clone();
            tokio::spawn(async move {
                if let Ok(p) = permits.acquire_many_owned(owed).await {
                    p.forget();
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_limit_follows_max_connections_both_ways() {
        let limit = ConnectionLimit::new(2);
        limit.resize(5);
        assert_eq!(limit.permits.available_permits(), 5);
        let held = limit
            .permits
            .clone()
            .acquire_many_owned(4)
            .await
            .expect("permits");
        limit.resize(3);
        // Two of the four held must come back to the cap before anything is available.
        tokio::task::yield_now().await;
        drop(held);
        for _ in 0..100 {
            if limit.permits.available_permits() == 3 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(limit.permits.available_permits(), 3);
    }
}
