//! `licd serve`: open the store, bind, serve until shutdown, close cleanly.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::password::{AuthError, PasswordChecker};
use crate::config::Config;
use crate::methods::ping::VERSION;
use crate::state::AppState;
use crate::store::{Store, StoreError, StoreOptions};

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The database could not be opened or closed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The authentication state could not be set up.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A configuration feature this build does not provide yet.
    #[error("{0}")]
    Unsupported(String),
}

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "licd.redb";

/// Runs the server on `config` until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    if let Some(p) = config.plugins.first() {
        return Err(ServeError::Unsupported(format!(
            "[[plugin]] {} is configured, but this build of licd cannot load vendor plugins yet; remove the [[plugin]] tables and vendor `plugin` keys",
            p.name
        )));
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    raise_open_file_limit(config.server.max_connections);
    let data_dir = config.server.data_dir.clone();
    create_data_dir(&data_dir)?;
    let options = StoreOptions {
        cache_bytes: usize::try_from(config.server.cache_size_mib)
            .unwrap_or(usize::MAX / (1 << 20))
            .saturating_mul(1 << 20),
        ..StoreOptions::default()
    };
    let store = Store::open(&data_dir.join(DATABASE_FILE), options)?;
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let state = Arc::new(AppState::new(config, store, PasswordChecker::new(cores)?));
    tracing::info!("licd {VERSION} listening on http://{local}");
    crate::http::serve(listener, state.clone(), shutdown).await;
    // Connections still open past the grace period hold clones; the store closes when the
    // last one is gone, and redb recovers on open if the process exits first.
    match Arc::try_unwrap(state) {
        Ok(state) => state.into_store().close()?,
        Err(_) => tracing::warn!(
            "requests still running at exit; the database will be checked on next open"
        ),
    }
    tracing::info!("licd stopped");
    Ok(())
}

fn create_data_dir(dir: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ServeError::DataDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Raises the soft open-file limit to the hard limit: each connection is a descriptor, and
/// the common soft default (1024) is far below `maxConnections`.
fn raise_open_file_limit(max_connections: u32) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if !ok {
        tracing::warn!("cannot read the open-file limit");
        return;
    }
    let soft_before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            limit.rlim_cur = soft_before;
        }
    }
    tracing::info!(
        soft_before,
        soft = limit.rlim_cur,
        hard = limit.rlim_max,
        "open-file limit"
    );
    // Keep room for the database, the log and plugin files.
    if (u64::from(max_connections) + 64) > limit.rlim_cur {
        tracing::warn!(
            max_connections,
            limit = limit.rlim_cur,
            "server.maxConnections is above what the open-file limit allows; raise LimitNOFILE"
        );
    }
}
