//! The CLI's side of the admin API: the running daemon through its socket, or, when no
//! daemon answers there, the database opened in this process with the same router.
//!
//! "No daemon answers" means no socket file, or a socket nobody listens on (a stale one left
//! by a crash: connecting is refused). Any other failure to connect (permissions, say) is
//! reported, not taken for a stopped daemon. Opening the file afterwards is still guarded by
//! redb's lock, so a daemon whose socket vanished cannot be written under.

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use http::{Request, Response, header};
use http_body_util::BodyExt as _;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use super::AdminError;
use super::api::{self, AdminCtx};
use super::body::{self, Body};
use super::socket::socket_path;
use crate::auth::password::PasswordChecker;
use crate::config::Backend;
use crate::config::Config;
use crate::config::DATABASE_FILE;
use crate::state::AppState;
use crate::store::{Store, StoreOptions};

/// Whether a stopped database may be created (only `restore` and `import` may).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// The database must exist.
    Existing,
    /// Create the data directory and an empty database if there is none.
    CreateIfMissing,
}

/// Where admin requests go.
pub enum Connection {
    /// A running daemon, through its admin socket.
    Daemon(SendRequest<Body>),
    /// A stopped database, opened by this process.
    Local(Arc<AdminCtx>),
}

/// Connects to the daemon serving `data_dir`, or `None` when none answers there.
pub async fn daemon(data_dir: &Path) -> Result<Option<SendRequest<Body>>, AdminError> {
    let path = socket_path(data_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(None);
        }
        Err(source) => return Err(AdminError::Socket { path, source }),
    };
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| AdminError::Protocol(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "admin connection ended with an error");
        }
    });
    Ok(Some(sender))
}

impl Connection {
    /// The daemon serving `config`'s data directory if one runs, else its database opened
    /// here: the redb file (created first only with [`Open::CreateIfMissing`]), or, with
    /// `backend = "postgres"`, the PostgreSQL database the nodes share, so that the admin
    /// commands work on a machine where no node runs.
    pub async fn open(config: &Config, mode: Open) -> Result<Connection, AdminError> {
        let data_dir = &config.server.data_dir;
        if let Some(sender) = daemon(data_dir).await? {
            return Ok(Connection::Daemon(sender));
        }
        let path = data_dir.join(DATABASE_FILE);
        let store = match mode {
            _ if config.store.backend == Backend::Postgres => {
                Store::open_postgres(&config.store.postgres_settings(), StoreOptions::default())
                    .await?
            }
            Open::Existing => Store::open_existing(&path, StoreOptions::default())?,
            Open::CreateIfMissing => {
                crate::store::data_dir::create(data_dir)
                    .map_err(|e| AdminError::Store(e.into()))?;
                let created = !path.exists();
                let store = Store::open(&path, StoreOptions::default())?;
                if created {
                    crate::store::maintenance::give_to_directory_owner(&path);
                }
                store
            }
        };
        let passwords = PasswordChecker::new(1).map_err(|e| AdminError::Setup(e.to_string()))?;
        let state = Arc::new(AppState::new(
            config.clone(),
            store,
            passwords,
            crate::methods::DECLARATIONS,
        ));
        Ok(Connection::Local(Arc::new(AdminCtx {
            state,
            running: false,
        })))
    }

    /// Whether requests go to a running daemon.
    pub fn is_daemon(&self) -> bool {
        matches!(self, Connection::Daemon(_))
    }

    /// Sends one request and returns the reply; a reply with an error status becomes
    /// [`AdminError::Refused`] with the endpoint's message.
    pub async fn call(&mut self, mut req: Request<Body>) -> Result<Response<Body>, AdminError> {
        let reply = match self {
            Connection::Daemon(sender) => {
                req.headers_mut()
                    .insert(header::HOST, http::HeaderValue::from_static("licd"));
                sender
                    .ready()
                    .await
                    .map_err(|e| AdminError::Protocol(e.to_string()))?;
                sender
                    .send_request(req)
                    .await
                    .map_err(|e| AdminError::Protocol(e.to_string()))?
                    .map(|b| b.map_err(std::io::Error::other).boxed_unsync())
            }
            Connection::Local(ctx) => api::handle(ctx.clone(), req).await,
        };
        if reply.status().is_success() {
            return Ok(reply);
        }
        let status = reply.status();
        let bytes = reply
            .into_body()
            .collect()
            .await
            .map_err(|e| AdminError::Protocol(e.to_string()))?
            .to_bytes();
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| format!("the admin API answered {status}"));
        Err(AdminError::Refused(message))
    }

    /// Closes a locally opened database cleanly; nothing to do for a daemon.
    pub async fn close(self) -> Result<(), AdminError> {
        let Connection::Local(ctx) = self else {
            return Ok(());
        };
        // A stream's producer lets go of the state just after its last bytes; wait for it.
        let mut state = ctx.state.clone();
        drop(ctx);
        for _ in 0..100 {
            match Arc::try_unwrap(state) {
                Ok(state) => {
                    let store = state.into_store();
                    tokio::task::spawn_blocking(move || store.close())
                        .await
                        .map_err(|e| AdminError::Setup(e.to_string()))??;
                    return Ok(());
                }
                Err(shared) => state = shared,
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err(AdminError::Setup(
            "the database is still in use; it will be checked on next open".into(),
        ))
    }
}

/// A request to an admin endpoint.
pub fn request(method: http::Method, path_and_query: &str, body: Body) -> Request<Body> {
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = path_and_query
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    req
}

/// A JSON request to an admin endpoint.
pub fn json_request(method: http::Method, path: &str, value: &serde_json::Value) -> Request<Body> {
    let mut req = request(method, path, body::full(value.to_string()));
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    req
}
