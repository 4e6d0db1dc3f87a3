//! The admin socket of a running daemon: `<dataDir>/admin.sock`, HTTP/1.1 over a Unix
//! socket with mode 0600, never on TCP. Only the daemon's own user and root may talk to it:
//! the file mode keeps others out, and the peer's uid is checked again on each connection.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::api::{self, AdminCtx};
use http_body_util::BodyExt as _;

/// The socket's file name in the data directory.
pub const SOCKET_FILE: &str = "admin.sock";

/// The admin socket path of a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// A running admin socket server.
pub struct AdminSocket {
    path: PathBuf,
    stop: Stopper,
    task: JoinHandle<()>,
}

/// Tells an [`AdminSocket`] to stop accepting, from wherever shutdown begins.
#[derive(Clone)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Stopper {
    /// Stops accepting new admin connections; requests in flight go on.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

/// Binds `<data_dir>/admin.sock`, replacing a stale one left by a crash. Call only once the
/// database is held (its lock proves no other daemon owns the directory).
///
/// The socket is bound under a temporary name, given mode 0600, then renamed into place, so
/// it never exists with looser permissions and a client never sees a half-made one.
pub fn bind(data_dir: &Path) -> std::io::Result<(UnixListener, PathBuf)> {
    let path = socket_path(data_dir);
    let staging = data_dir.join(format!("{SOCKET_FILE}.{}", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staging, &path)?;
    Ok((listener, path))
}

impl AdminSocket {
    /// Serves `listener` with the admin API until [`AdminSocket::finish`].
    pub fn serve(listener: UnixListener, path: PathBuf, ctx: Arc<AdminCtx>) -> AdminSocket {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let graceful = GracefulShutdown::new();
            loop {
                let stream = tokio::select! {
                    r = listener.accept() => match r {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "admin socket accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = stopped.changed() => break,
                };
                if !peer_allowed(&stream) {
                    continue;
                }
                let ctx = ctx.clone();
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let ctx = ctx.clone();
                    async move {
                        let req = req.map(|b| b.map_err(std::io::Error::other).boxed_unsync());
                        Ok::<_, std::convert::Infallible>(api::handle(ctx, req).await)
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "admin connection ended with an error");
                    }
                });
            }
            drop(listener);
            graceful.shutdown().await;
        });
        AdminSocket {
            path,
            stop: Stopper(Arc::new(stop)),
            task,
        }
    }

    /// A handle that stops accepting.
    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// Stops accepting, waits up to `grace` more for admin requests in flight, and removes
    /// the socket file.
    pub async fn finish(self, grace: Duration) {
        self.stop.stop();
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            tracing::warn!("admin requests still running at exit; cutting them");
            task.abort();
            let _ = task.await;
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Root and the daemon's own user may use the socket; anyone else who got through the file
/// mode (a copied socket, a changed mode) is refused and logged.
fn peer_allowed(stream: &tokio::net::UnixStream) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let own = unsafe { libc::geteuid() };
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == 0 || cred.uid() == own => true,
        Ok(cred) => {
            tracing::warn!(
                uid = cred.uid(),
                "admin socket: refused a connection from another user"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "admin socket: cannot read the peer's credentials");
            false
        }
    }
}
