//! Reaching PostgreSQL: the URL, TLS as its `ssl…` parameters say, the session settings,
//! the pool.
//!
//! The URL's TLS parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`)
//! follow libpq. tokio-postgres itself knows only `sslmode` `disable`, `prefer` and
//! `require`, so they are taken out of the string here (`conninfo`), read into a plan
//! (`tls`), and handed to it as one of its three modes with a connector that checks what the
//! plan says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::conninfo;
use super::tls::TlsPlan;
use crate::store::StoreError;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How licd reaches its database.
#[derive(Clone)]
pub struct PostgresSettings {
    /// The connection URL or key/value string (a secret: never logged).
    pub url: String,
    /// Connections kept at most.
    pub pool_size: u32,
    /// PostgreSQL's `statement_timeout`, in milliseconds.
    pub statement_timeout_ms: u64,
    /// The directory relative `sslrootcert`, `sslcert` and `sslkey` paths are resolved
    /// against: the configuration file's (`None`: the current directory).
    pub files_dir: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("files_dir", &self.files_dir)
            .finish()
    }
}

/// The connection string split, its TLS parameters read: the tokio-postgres settings and
/// the TLS plan. An error quotes no value.
fn read(url: &str, files_dir: Option<&Path>) -> Result<(tokio_postgres::Config, TlsPlan), String> {
    let info = conninfo::split(url)?;
    let plan = TlsPlan::new(&info.ssl, files_dir)?;
    let mut config: tokio_postgres::Config =
        info.rest.parse().map_err(|e: tokio_postgres::Error| {
            // The parser's cause names the option or says what is missing, never the value.
            match std::error::Error::source(&e) {
                Some(cause) => cause.to_string(),
                None => e.to_string(),
            }
        })?;
    config.ssl_mode(plan.mode);
    Ok((config, plan))
}

/// Why `url` is not a connection string licd can use, in words that never quote it. The
/// files its TLS parameters name are not read: [`tls_problem`] does.
pub fn url_problem(url: &str) -> Result<(), String> {
    let (config, _) = read(url, None)?;
    if config.get_hosts().is_empty() {
        return Err("it names no host".into());
    }
    Ok(())
}

/// Why the files the TLS parameters of `url` name (`sslrootcert`, `sslcert`, `sslkey`)
/// cannot be used, each problem naming its file; relative paths are resolved against
/// `files_dir`. A URL [`url_problem`] refuses has no file problem.
pub fn tls_problem(url: &str, files_dir: Option<&Path>) -> Result<(), String> {
    let Ok((_, plan)) = read(url, files_dir) else {
        return Ok(());
    };
    plan.connector().map(|_| ()).map_err(|e| e.to_string())
}

/// The host (and port) the URL names, for log lines: never the user or password.
pub fn server_name(url: &str) -> String {
    let Ok((config, _)) = read(url, None) else {
        return "the configured PostgreSQL server".into();
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("{host}:{port}/{db}")
}

/// A pool of connections to the database, each with licd's session settings. Makes no
/// connection yet.
pub fn pool(settings: &PostgresSettings) -> Result<Pool, StoreError> {
    let (mut config, plan) = read(&settings.url, settings.files_dir.as_deref())
        .map_err(|why| StoreError::Setup(format!("postgresUrl: {why}")))?;
    let tls = plan
        .connector()
        .map_err(|e| StoreError::Setup(format!("postgresUrl: {e}")))?;
    // Every change is acknowledged only after COMMIT returned, durable on the primary (and
    // on a synchronous standby where the server has one): `synchronous_commit` is forced on
    // whatever the server's default. READ COMMITTED plus a row lock per licence is what the
    // commands are written for (store/postgres/tx.rs).
    let mut options = config.get_options().unwrap_or("").to_string();
    options.push_str(&format!(
        " -c statement_timeout={} -c synchronous_commit=on \
         -c default_transaction_isolation=read\\ committed",
        settings.statement_timeout_ms
    ));
    config.options(options.trim());
    if config.get_application_name().is_none() {
        config.application_name("licd");
    }
    config.connect_timeout(CONNECT_TIMEOUT);
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            // A connection goes back to the pool only after its transaction ended (the
            // snapshot's rollback runs before it is released), so checking it out needs no
            // round trip.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let size = usize::try_from(settings.pool_size).unwrap_or(16);
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(CONNECT_TIMEOUT))
        .wait_timeout(Some(Duration::from_millis(
            settings.statement_timeout_ms.max(1_000),
        )))
        .build()
        .map_err(|e| StoreError::Setup(format!("the PostgreSQL pool: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::tls::{Roots, Verify};
    use tokio_postgres::config::SslMode;

    #[test]
    fn a_verify_mode_is_handed_on_as_require_with_a_checking_plan() {
        let (config, plan) = read("postgres://db/licd?sslmode=verify-full", None).unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(plan.verify, Verify::Full);
        let (config, plan) = read("host=db dbname=licd sslmode=verify-ca", None).unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(plan.verify, Verify::Chain);
        let (config, plan) = read("postgres://db/licd", None).unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(plan.verify, Verify::Nothing);
        let (config, _) = read("postgres://db/licd?sslmode=disable", None).unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn the_tls_parameters_never_reach_tokio_postgres_and_relative_files_follow_the_config() {
        let url = "postgres://licd:pw@db/licd?sslmode=verify-full&sslrootcert=ca.pem\
                   &sslcert=/etc/licd/client.pem&sslkey=client.key&application_name=node-1";
        let (config, plan) = read(url, Some(Path::new("/etc/licd"))).unwrap();
        assert_eq!(config.get_application_name(), Some("node-1"));
        assert_eq!(config.get_dbname(), Some("licd"));
        assert_eq!(plan.roots, Roots::File("/etc/licd/ca.pem".into()));
        let client = plan.client.expect("a client certificate");
        assert_eq!(client.cert, Path::new("/etc/licd/client.pem"));
        assert_eq!(client.key, Path::new("/etc/licd/client.key"));
        assert!(url_problem(url).is_ok());
        assert_eq!(server_name(url), "db:5432/licd");
    }

    #[test]
    fn a_malformed_url_is_described_without_its_password() {
        let bad = "postgres://licd:s3cret@db/licd?sslmode=sometimes";
        let why = url_problem(bad).unwrap_err();
        assert!(!why.contains("s3cret"), "{why}");
        assert!(why.contains("sslmode"), "{why}");
        assert!(url_problem("postgres://licd:s3cret@db.example:6432/licd").is_ok());
        assert!(url_problem("postgres:///licd").is_err());
        assert_eq!(
            server_name("postgres://licd:s3cret@db.example:6432/licd"),
            "db.example:6432/licd"
        );
    }
}
