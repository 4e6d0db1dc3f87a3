//! Reaching PostgreSQL: the URL, TLS as its `sslmode` says, the session settings, the pool.
//!
//! TLS goes through `postgres-native-tls`, that is the system OpenSSL that licence signing
//! links already, with the system's CA store (`/etc/ssl/certs`), as libpq does: no second TLS
//! stack nor a bundled root list to keep current. `sslmode` follows libpq: `disable` never
//! uses TLS; `prefer` (also when the URL names no mode) tries TLS and falls back to plain;
//! `require` insists on TLS without checking the certificate; `verify-ca` checks the chain;
//! `verify-full` checks the chain and the host name. tokio-postgres itself knows only the
//! first three, so the two `verify-` modes are read here and handed to it as `require` with
//! a verifying connector.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use postgres_native_tls::MakeTlsConnector;

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
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .finish()
    }
}

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// Nothing (`disable`, `prefer`, `require`, as libpq).
    Nothing,
    /// The chain up to a trusted root (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The URL with a `verify-` sslmode replaced by `require`, and what to verify.
fn split_verification(url: &str) -> (String, Verify) {
    for (mode, verify) in [
        ("sslmode=verify-full", Verify::Full),
        ("sslmode=verify-ca", Verify::Chain),
    ] {
        if url.contains(mode) {
            return (url.replace(mode, "sslmode=require"), verify);
        }
    }
    (url.to_string(), Verify::Nothing)
}

/// Why `url` is not a connection string licd can use, in words that never quote it.
pub fn url_problem(url: &str) -> Result<(), String> {
    let (url, _) = split_verification(url);
    let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
        // The parser's cause names the option or says what is missing, never the value.
        match std::error::Error::source(&e) {
            Some(cause) => cause.to_string(),
            None => e.to_string(),
        }
    })?;
    if config.get_hosts().is_empty() {
        return Err("it names no host".into());
    }
    Ok(())
}

/// The host (and port) the URL names, for log lines: never the user or password.
pub fn server_name(url: &str) -> String {
    let (url, _) = split_verification(url);
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
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
    let (url, verify) = split_verification(&settings.url);
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Setup(format!("postgresUrl: {e}")))?;
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
        tls(verify)?,
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

fn tls(verify: Verify) -> Result<MakeTlsConnector, StoreError> {
    let mut builder = native_tls::TlsConnector::builder();
    builder
        .danger_accept_invalid_certs(verify == Verify::Nothing)
        .danger_accept_invalid_hostnames(verify != Verify::Full);
    let connector = builder
        .build()
        .map_err(|e| StoreError::Setup(format!("TLS for PostgreSQL: {e}")))?;
    Ok(MakeTlsConnector::new(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verify_mode_is_handed_on_as_require_and_remembered() {
        let (url, verify) = split_verification("postgres://db/licd?sslmode=verify-full");
        assert_eq!(url, "postgres://db/licd?sslmode=require");
        assert_eq!(verify, Verify::Full);
        let (_, verify) = split_verification("host=db dbname=licd sslmode=verify-ca");
        assert_eq!(verify, Verify::Chain);
        let (url, verify) = split_verification("postgres://db/licd");
        assert_eq!(
            (url.as_str(), verify),
            ("postgres://db/licd", Verify::Nothing)
        );
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
