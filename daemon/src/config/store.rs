//! `[store]`: which backend holds the licences, and how licd reaches it.
//!
//! `redb` (the default) is the embedded file under `server.dataDir`; `postgres` is a
//! PostgreSQL database that several licd nodes share (docs/scale-out.md). The connection
//! URL is a secret (it may hold a password): it is never logged, never quoted in a problem,
//! and may be read from `postgresUrlFile`, as the other `<name>File` secrets.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::redacted;

/// `[store]`: the backend and its settings.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct StoreConfig {
    /// Which backend holds the data.
    pub backend: Backend,
    /// The PostgreSQL connection URL (or libpq key/value string); with `backend = "postgres"`.
    pub postgres_url: Option<String>,
    /// A file holding `postgresUrl`.
    pub postgres_url_file: Option<PathBuf>,
    /// Connections each node keeps to PostgreSQL at most.
    pub pool_size: u32,
    /// PostgreSQL's `statement_timeout` for licd's sessions, in milliseconds.
    pub statement_timeout_ms: u64,
    /// The configuration file's directory, against which relative `sslrootcert`, `sslcert`
    /// and `sslkey` paths in the URL are resolved (`None`: the current directory).
    #[serde(skip)]
    pub files_dir: Option<PathBuf>,
}

/// The backends licd is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The embedded redb file in `server.dataDir`.
    Redb,
    /// A PostgreSQL database, shared by every node.
    Postgres,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Redb,
            postgres_url: None,
            postgres_url_file: None,
            pool_size: 16,
            statement_timeout_ms: 5_000,
            files_dir: None,
        }
    }
}

impl StoreConfig {
    /// How to reach the PostgreSQL database these settings name (serve, the data commands
    /// and the admin commands run with no node all connect the same way).
    pub fn postgres_settings(&self) -> crate::store::PostgresSettings {
        crate::store::PostgresSettings {
            url: self.postgres_url.clone().unwrap_or_default(),
            pool_size: self.pool_size,
            statement_timeout_ms: self.statement_timeout_ms,
            files_dir: self.files_dir.clone(),
        }
    }
}

impl PartialEq for StoreConfig {
    fn eq(&self, other: &Self) -> bool {
        self.backend == other.backend
            && self.postgres_url == other.postgres_url
            && self.pool_size == other.pool_size
            && self.statement_timeout_ms == other.statement_timeout_ms
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &self.backend)
            .field("postgres_url", &redacted(&self.postgres_url))
            .field("postgres_url_file", &self.postgres_url_file)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("files_dir", &self.files_dir)
            .finish()
    }
}

/// The problems of `[store]` (after its secret was read), never quoting the URL.
pub(super) fn problems(store: &StoreConfig) -> Vec<String> {
    let place = "[store]";
    let mut out = Vec::new();
    if store.backend != Backend::Postgres {
        return out;
    }
    match &store.postgres_url {
        None if store.postgres_url_file.is_none() => out.push(format!(
            "{place}: `backend` is \"postgres\" but neither `postgresUrl` nor `postgresUrlFile` \
             is set; give the database's URL, e.g. \"postgres://licd@db.example/licd\""
        )),
        // The file could not be read: its own problem says why.
        None => {}
        Some(url) => {
            if let Err(why) = crate::store::postgres_url_problem(url) {
                out.push(format!(
                    "{place}: `postgresUrl` is not a PostgreSQL connection URL ({why}); write it \
                     as postgres://user@host:port/database?sslmode=prefer"
                ));
            } else if let Err(why) =
                crate::store::postgres_tls_problem(url, store.files_dir.as_deref())
            {
                out.push(format!("{place}: `postgresUrl`: {why}"));
            }
        }
    }
    if store.pool_size == 0 || store.pool_size > 1_000 {
        out.push(format!(
            "{place}: `poolSize` is {}; it must lie between 1 and 1000",
            store.pool_size
        ));
    }
    if store.statement_timeout_ms == 0 {
        out.push(format!(
            "{place}: `statementTimeoutMs` is 0; it must be at least 1 (PostgreSQL reads 0 as \
             no limit, which would let a stuck statement hold a licence's lock for ever)"
        ));
    }
    out
}

/// Warnings about `[store]` that do not stop licd: settings the chosen backend ignores.
pub(super) fn warnings(
    store: &StoreConfig,
    cache_size_mib: u64,
    default_cache: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    match store.backend {
        Backend::Postgres if cache_size_mib != default_cache => out.push(
            "[server]: `cacheSizeMiB` is ignored with [store] backend = \"postgres\" (PostgreSQL \
             keeps its own cache, `shared_buffers`)"
                .to_string(),
        ),
        Backend::Redb if store.postgres_url.is_some() || store.postgres_url_file.is_some() => out
            .push(
                "[store]: `postgresUrl` is ignored with backend = \"redb\"; set backend = \
                 \"postgres\" to use it"
                    .to_string(),
            ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{assert_problem, parse, problems, write_file};

    #[test]
    fn the_default_backend_is_redb_with_no_warning() {
        let config = parse("").expect("an empty file is valid");
        assert_eq!(config.store.backend, super::Backend::Redb);
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    }

    #[test]
    fn an_unknown_backend_is_refused_naming_the_two_known() {
        let found = problems("[store]\nbackend = \"mysql\"\n");
        assert_problem(&found, &["backend", "mysql", "redb", "postgres"]);
    }

    #[test]
    fn a_malformed_url_is_refused_without_quoting_it() {
        let found = problems(
            "[store]\nbackend = \"postgres\"\npostgresUrl = \"postgres://licd:hunter2@db/licd?sslmode=maybe\"\n",
        );
        assert_problem(
            &found,
            &["[store]", "postgresUrl", "not a PostgreSQL connection URL"],
        );
        assert!(found.iter().all(|p| !p.contains("hunter2")), "{found:?}");
    }

    #[test]
    fn postgres_needs_a_url() {
        let found = problems("[store]\nbackend = \"postgres\"\n");
        assert_problem(&found, &["postgresUrl", "postgresUrlFile"]);
    }

    #[test]
    fn the_url_is_read_from_its_file_and_never_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_file(
            dir.path(),
            "pg",
            "postgres://licd:hunter2@db.example/licd\n",
            0o600,
        );
        let text = format!(
            "[store]\nbackend = \"postgres\"\npostgresUrlFile = \"{}\"\n",
            dir.path().join("pg").display()
        );
        let config = parse(&text).expect("valid");
        assert_eq!(
            config.store.postgres_url.as_deref(),
            Some("postgres://licd:hunter2@db.example/licd")
        );
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn the_urls_tls_files_are_read_relative_to_the_configuration_file_and_named_when_unusable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "[store]\nbackend = \"postgres\"\npostgresUrl = \
                    \"postgres://licd:hunter2@db/licd?sslmode=verify-full&sslrootcert=ca.pem\"\n";
        let found = match crate::config::Config::parse(text, "licd.toml", Some(dir.path())) {
            Ok(_) => panic!("a missing sslrootcert file must be refused"),
            Err(e) => e.problems,
        };
        let missing = dir.path().join("ca.pem").display().to_string();
        assert_problem(&found, &["[store]", "postgresUrl", "sslrootcert", &missing]);
        assert!(found.iter().all(|p| !p.contains("hunter2")), "{found:?}");
        write_file(dir.path(), "ca.pem", "not a certificate\n", 0o644);
        let found = match crate::config::Config::parse(text, "licd.toml", Some(dir.path())) {
            Ok(_) => panic!("a file with no certificate must be refused"),
            Err(e) => e.problems,
        };
        assert_problem(&found, &["sslrootcert", &missing, "no PEM certificate"]);
    }

    #[test]
    fn cache_size_is_ignored_with_postgres_with_a_warning() {
        let config = parse(
            "[server]\ncacheSizeMiB = 512\n[store]\nbackend = \"postgres\"\npostgresUrl = \"postgres://db/licd\"\n",
        )
        .expect("valid");
        assert!(
            config
                .warnings()
                .iter()
                .any(|w| w.contains("cacheSizeMiB") && w.contains("ignored")),
            "{:?}",
            config.warnings()
        );
    }

    #[test]
    fn pool_size_and_statement_timeout_are_checked() {
        let found = problems(
            "[store]\nbackend = \"postgres\"\npostgresUrl = \"postgres://db/licd\"\npoolSize = 0\nstatementTimeoutMs = 0\n",
        );
        assert_problem(&found, &["poolSize", "0"]);
        assert_problem(&found, &["statementTimeoutMs"]);
    }
}
