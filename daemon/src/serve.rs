//! `licd serve`: open the store, bind, serve until shutdown, close cleanly.
//!
//! Start-up order matters to systemd and to the admin CLI: the database is opened (and
//! repaired if needed, with progress on the status line) before the port is bound, the admin
//! socket appears only once the database is held, and `READY=1` is sent last.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::VERSION;
use crate::admin::{self, api::AdminCtx, socket::AdminSocket};
use crate::auth::password::{AuthError, PasswordChecker};
use crate::config::{Backend, Config, DATABASE_FILE};
use crate::logging::LogControl;
use crate::notify;
use crate::plugins::{PluginHost, PluginLoadError};
use crate::reload::{self, ConfigSource};
use crate::state::AppState;
use crate::store::data_dir::{self, DataDirError};
use crate::store::lock::{DaemonLock, DirectoryLock};
use crate::store::{Store, StoreError, StoreOptions, permissions};

/// Why the server could not start or stop cleanly. Each message says what to do; none
/// repeats its cause (an OS reason is part of the text, not also an error source).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be created.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database could not be opened or closed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {}", bind_advice(*addr, reason))]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS reason.
        reason: std::io::Error,
    },
    /// The authentication state could not be set up.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The admin socket could not be made.
    #[error("cannot create the admin socket {path}: {source}")]
    AdminSocket {
        /// The socket's path.
        path: std::path::PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// A vendor plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginLoadError),
    /// The staff console's address could not be bound.
    #[error(transparent)]
    ConsoleBind(#[from] crate::console::listener::BindError),
}

/// Why `addr` could not be bound, in the admin's words, with the setting that changes it.
fn bind_advice(addr: std::net::SocketAddr, reason: &std::io::Error) -> String {
    let port = addr.port();
    let ip = match addr {
        std::net::SocketAddr::V4(a) => a.ip().to_string(),
        std::net::SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let elsewhere = "--listen ADDRESS:PORT or server.listen";
    match reason.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {port} is already in use on {ip} (another licd, or another server); stop \
             that one, or give this licd another port with --listen {ip}:PORT or server.listen \
             (port 0 picks a free one)"
        ),
        std::io::ErrorKind::PermissionDenied if port < 1024 => format!(
            "ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port from 1024 up with \
             {elsewhere} (behind a reverse proxy for {port})"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{ip} is not an address of this machine; use one it has, or 0.0.0.0 for all, \
             with {elsewhere}"
        ),
        _ => reason.to_string(),
    }
}

/// How a running server is told to stop and to reload: signals in production, plain
/// channels and futures in tests (no signals needed).
pub struct Control {
    /// Completes when the server should stop accepting and let in-flight requests finish.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Each message asks for a configuration reload (SIGHUP); `None`: never reload.
    pub reloads: Option<mpsc::UnboundedReceiver<()>>,
    /// Where a reload reads the configuration from.
    pub source: ConfigSource,
    /// The process's logging, whose level and format a reload changes.
    pub logs: Option<Arc<LogControl>>,
}

impl Control {
    /// Stops when `shutdown` completes and never reloads.
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        Control {
            shutdown: Box::pin(shutdown),
            reloads: None,
            source: ConfigSource::default(),
            logs: None,
        }
    }
}

/// Runs the server on `config` until `control.shutdown` completes.
pub async fn run(config: Config, mut control: Control) -> Result<(), ServeError> {
    // First: a server that cannot authenticate a configured vendor must not run. Blocking
    // (dlopen, create), but nothing is served yet.
    let plugins = PluginHost::load(&config.plugins)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    raise_open_file_limit(config.server.max_connections);
    let data_dir = config.server.data_dir.clone();
    // Held until `run` returns, so that a second licd is told this one's pid even while this
    // one is still repairing the database.
    let opened = match config.store.backend {
        Backend::Redb => open_database(&config)?,
        Backend::Postgres => {
            data_dir::create(&data_dir)?;
            let lock = DirectoryLock::acquire(&data_dir).map_err(StoreError::from)?;
            // A stop asked for while the database is out of reach ends the wait.
            tokio::select! {
                store = open_postgres(&config) => (store?, Some(DaemonLocks::Directory(lock))),
                () = &mut control.shutdown => {
                    tracing::info!("licd stopped before the database answered");
                    return Ok(());
                }
            }
        }
    };
    let (store, _daemon_lock) = opened;
    let (listener, local) = bind(config.server.listen).await?;
    let console = crate::console::listener::bind(&config).await?;
    let scheme = scheme(&config);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let passwords = PasswordChecker::new(cores)?;
    let state = AppState::new(config, store, passwords, crate::methods::DECLARATIONS);
    let state = Arc::new(state.with_plugins(plugins));
    remove_backup_leftovers(&data_dir);
    let admin = serve_admin(&state, &data_dir)?;
    let admin_stop = admin.stopper();
    let stop_began = Arc::new(OnceLock::new());
    let stop_began_at = stop_began.clone();
    let serving = format!("serving on {scheme}://{local}");
    let background = spawn_background(
        &state,
        control.reloads,
        control.source,
        control.logs,
        &serving,
    );
    let (mail_stop, mail_stopped) = tokio::sync::watch::channel(false);
    let mail_sender = tokio::spawn(crate::mail::sender::run(state.clone(), mail_stopped));
    let (webhook_stop, webhook_stopped) = tokio::sync::watch::channel(false);
    let webhook_sender = tokio::spawn(crate::webhooks::sender::run(state.clone(), webhook_stopped));
    tracing::info!("licd {VERSION} listening on {scheme}://{local}");
    // After the main line, which tools (and the test harness) read the address from.
    let (console_stop, console_stopped) = tokio::sync::watch::channel(false);
    let console_task = console.map(|(listener, console_local)| {
        crate::console::listener::announce(&state.config(), console_local);
        let mut stopped = console_stopped;
        tokio::spawn(crate::console::listener::serve(
            listener,
            state.clone(),
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ))
    });
    notify::ready(&serving);
    let shutdown = async move {
        control.shutdown.await;
        notify::stopping();
        admin_stop.stop();
        let _ = console_stop.send(true);
        let _ = stop_began.set(Instant::now());
        tracing::info!("shutting down: finishing in-flight requests");
    };
    crate::http::serve(listener, state.clone(), shutdown).await;
    if let Some(task) = console_task {
        // It got the same grace as the main listener, from the same moment.
        let _ = task.await;
    }
    // Admin requests (a backup being sent, say) get what is left of the same grace.
    let grace = Duration::from_secs(state.config().server.shutdown_grace_seconds);
    let spent = stop_began_at.get().map_or(grace, Instant::elapsed);
    admin.finish(grace.saturating_sub(spent)).await;
    stop_mail_sender(mail_stop, mail_sender, grace).await;
    stop_webhook_sender(webhook_stop, webhook_sender, grace).await;
    close(state, background).await?;
    tracing::info!("licd stopped");
    Ok(())
}

/// How long one attempt to reach PostgreSQL may take, so that a retry line is logged at
/// least every [`POSTGRES_RETRY`] plus this.
const POSTGRES_ATTEMPT: Duration = Duration::from_secs(4);
/// The pause between attempts to reach PostgreSQL.
const POSTGRES_RETRY: Duration = Duration::from_secs(1);

/// Connects to PostgreSQL, waiting while it does not answer: a log line and the systemd
/// status name the server at each retry, and nothing is bound or announced meanwhile, so
/// licd never starts half-ready. A refusal the server did answer (a wrong password, no such
/// database, a newer schema) ends the start.
async fn open_postgres(config: &Config) -> Result<Store, ServeError> {
    let settings = config.store.postgres_settings();
    let server = crate::store::postgres_server_name(&settings.url);
    loop {
        notify::status(&format!("connecting to PostgreSQL at {server}"));
        let attempt = Store::open_postgres(&settings, StoreOptions::default());
        let why = match tokio::time::timeout(POSTGRES_ATTEMPT, attempt).await {
            Ok(Ok(store)) => {
                tracing::info!(server = %server, "connected to PostgreSQL");
                return Ok(store);
            }
            Ok(Err(StoreError::Unreachable(why))) => why,
            Ok(Err(other)) => return Err(other.into()),
            Err(_) => format!("no answer within {} s", POSTGRES_ATTEMPT.as_secs()),
        };
        tracing::warn!(
            server = %server,
            "PostgreSQL at {server} does not answer ({why}); retrying in {} s, not serving until it does",
            POSTGRES_RETRY.as_secs()
        );
        notify::status(&format!(
            "waiting for PostgreSQL at {server}: {why}; not serving yet"
        ));
        tokio::time::sleep(POSTGRES_RETRY).await;
    }
}

/// Makes the data directory, takes its lock and opens (repairing if needed) the database.
fn open_database(config: &Config) -> Result<(Store, Option<DaemonLocks>), ServeError> {
    let data_dir = &config.server.data_dir;
    data_dir::create(data_dir)?;
    let database = data_dir.join(DATABASE_FILE);
    // Before the lock file is made in it: a directory open to others is tightened (or
    // refused) first.
    permissions::secure(&database).map_err(StoreError::from)?;
    let lock = DaemonLock::acquire(data_dir, &database).map_err(StoreError::from)?;
    let options = StoreOptions {
        cache_bytes: usize::try_from(config.server.cache_size_mib)
            .unwrap_or(usize::MAX / (1 << 20))
            .saturating_mul(1 << 20),
        repair_progress: Some(notify::repair_progress),
        ..StoreOptions::default()
    };
    notify::status("opening the database");
    let store = Store::open(&database, options)?;
    Ok((store, Some(DaemonLocks::Database(lock))))
}

/// What a serving licd holds so that a second one on its data directory is refused.
#[expect(
    dead_code,
    reason = "held, never read: the lock lasts until it is dropped"
)]
enum DaemonLocks {
    /// The redb database's lock file.
    Database(DaemonLock),
    /// The PostgreSQL node's data directory itself.
    Directory(DirectoryLock),
}

/// Binds the listen address; the listener and the address it got (port 0 picks one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|reason| ServeError::Bind { addr, reason })?;
    let local = listener
        .local_addr()
        .map_err(|reason| ServeError::Bind { addr, reason })?;
    Ok((listener, local))
}

/// `https` when TLS is configured (logging the certificate served), else `http`.
fn scheme(config: &Config) -> &'static str {
    match &config.server.tls {
        Some(tls) => {
            tracing::info!(
                certificate = %tls.cert_path.display(),
                sha256 = %tls.fingerprint,
                "serving HTTPS (TLS 1.2 and 1.3)"
            );
            "https"
        }
        None => "http",
    }
}

/// Binds the admin socket in `data_dir` and serves it on `state`.
fn serve_admin(state: &Arc<AppState>, data_dir: &Path) -> Result<AdminSocket, ServeError> {
    let (admin_listener, admin_path) =
        admin::socket::bind(data_dir).map_err(|source| ServeError::AdminSocket {
            path: admin::socket::socket_path(data_dir),
            source,
        })?;
    Ok(AdminSocket::serve(
        admin_listener,
        admin_path,
        Arc::new(AdminCtx {
            state: state.clone(),
            running: true,
        }),
    ))
}

/// Starts the tasks that live as long as the server: configuration reloads (when `reloads`
/// is given) and the systemd watchdog (when systemd asks for one). `serving` is the status
/// line systemd shows again after each reload.
fn spawn_background(
    state: &Arc<AppState>,
    reloads: Option<mpsc::UnboundedReceiver<()>>,
    source: ConfigSource,
    logs: Option<Arc<LogControl>>,
    serving: &str,
) -> Vec<JoinHandle<()>> {
    let mut background = Vec::new();
    if let Some(reloads) = reloads {
        background.push(tokio::spawn(reload_on_request(
            reloads,
            state.clone(),
            source,
            logs,
            serving.to_owned(),
        )));
    }
    if let Some(interval) = notify::watchdog_interval() {
        background.push(tokio::spawn(notify::watchdog(state.clone(), interval)));
    }
    background
}

/// Lets the mail sender finish the message it is sending (at most `grace`), so that a
/// stopping daemon does not leave a delivered mail queued to be sent again.
async fn stop_mail_sender(
    stop: tokio::sync::watch::Sender<bool>,
    sender: JoinHandle<()>,
    grace: Duration,
) {
    let _ = stop.send(true);
    let abort = sender.abort_handle();
    if tokio::time::timeout(grace, sender).await.is_err() {
        // Its message is sent again when its claim ends (at-least-once).
        abort.abort();
        tracing::warn!("the mail sender did not stop within the grace period");
    }
}

/// Lets the webhook sender finish the deliveries in flight (at most `grace`), so that a
/// stopping daemon does not leave a delivered event queued to be sent again.
async fn stop_webhook_sender(
    stop: tokio::sync::watch::Sender<bool>,
    sender: JoinHandle<()>,
    grace: Duration,
) {
    let _ = stop.send(true);
    let abort = sender.abort_handle();
    if tokio::time::timeout(grace, sender).await.is_err() {
        // Its events are sent again when their claims end (at-least-once).
        abort.abort();
        tracing::warn!("the webhook sender did not stop within the grace period");
    }
}

/// Once serving has ended: stops the background tasks and the plugins, then closes the
/// database if no request holds it any more.
async fn close(state: Arc<AppState>, background: Vec<JoinHandle<()>>) -> Result<(), ServeError> {
    for task in background {
        task.abort();
        // A task that ended by abort or panic holds nothing any more either way.
        let _ = task.await;
    }
    state.plugins.shutdown().await;
    // Connections still open past the grace period hold clones; the store closes when the
    // last one is gone, and redb recovers on open if the process exits first.
    match Arc::try_unwrap(state) {
        Ok(state) => state.into_store().close()?,
        Err(_) => tracing::warn!(
            "requests still running at exit; the database will be checked on next open"
        ),
    }
    Ok(())
}

/// Reloads the configuration at each request, telling systemd around each reload.
async fn reload_on_request(
    mut reloads: mpsc::UnboundedReceiver<()>,
    state: Arc<AppState>,
    source: ConfigSource,
    logs: Option<Arc<LogControl>>,
    status: String,
) {
    while reloads.recv().await.is_some() {
        notify::reloading();
        let (st, src, lg) = (state.clone(), source.clone(), logs.clone());
        // Reading the file and its secret files is blocking I/O.
        let done = tokio::task::spawn_blocking(move || {
            reload::reload(&st, &src, lg.as_deref());
        })
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "configuration reload failed");
        }
        notify::ready(&status);
    }
}

/// Removes staging files of backups a crashed daemon was writing.
fn remove_backup_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(admin::data::STAGING_PREFIX)
            && name.ends_with(admin::data::STAGING_SUFFIX)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
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
