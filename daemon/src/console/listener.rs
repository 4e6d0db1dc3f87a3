//! The console's own listener: bound at start when at least one `[[console.user]]` exists,
//! served by the same accept loop, connection cap, TLS handshake, deadlines and graceful
//! shutdown as the methods (`crate::http::serve_site`), with the console's certificate.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::Console;
use crate::config::Config;
use crate::state::AppState;

/// Why the console's address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {addr} for the staff console: {reason}; choose another address with \
     [console] listen (port 0 picks a free one)"
)]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// The OS reason.
    pub reason: std::io::Error,
}

/// The bound listener and its address, or `None` when the console is off (no users).
pub async fn bind(config: &Config) -> Result<Option<(TcpListener, SocketAddr)>, BindError> {
    if !config.console.enabled() {
        return Ok(None);
    }
    let addr = config.console.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|reason| BindError { addr, reason })?;
    let local = listener
        .local_addr()
        .map_err(|reason| BindError { addr, reason })?;
    Ok(Some((listener, local)))
}

/// Logs the console's start-up lines: the certificate served (with TLS), then
/// `licd console listening on http(s)://ADDR` (after the main listener's own line).
pub fn announce(config: &Config, local: SocketAddr) {
    if let Some(tls) = &config.console.tls {
        tracing::info!(
            certificate = %tls.cert_path.display(),
            sha256 = %tls.fingerprint,
            "staff console serving HTTPS (TLS 1.2 and 1.3)"
        );
    }
    // Nothing after the address: tools read it up to the end of the line, as the main one.
    tracing::info!(
        "licd console listening on {}://{local}",
        config.console.scheme()
    );
}

/// Serves the console on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    crate::http::serve_site(listener, state, Arc::new(Console::default()), shutdown).await;
}
