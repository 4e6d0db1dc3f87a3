//! Which store backend the black-box tests run on: the harness's one parameter.
//!
//! `LICD_TEST_BACKEND=postgres` puts every daemon whose configuration names no `[store]`
//! table on a fresh database of the test run's private PostgreSQL cluster
//! (test-support/pg-cluster); unset or `redb`, the default, keeps them on a redb file in
//! their temp directory. Tests about the redb file itself (backup, file modes, compaction)
//! mark their configuration [`TestConfig::redb_only`] or return early through
//! [`redb_only_test`]. `cargo test --workspace` runs the suite both ways
//! (`postgres::the_black_box_suite_passes_on_postgresql`).

use super::TestConfig;

/// The environment variable that chooses the backend.
pub const BACKEND_VAR: &str = "LICD_TEST_BACKEND";

/// The store the daemons of this test run use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A redb file in the daemon's data directory (the default).
    Redb,
    /// A fresh database of the test run's PostgreSQL cluster per daemon.
    Postgres,
}

/// The backend `LICD_TEST_BACKEND` names.
///
/// # Panics
/// On a value that is neither `redb` nor `postgres`: a typo must not quietly test redb.
pub fn backend() -> Backend {
    match std::env::var(BACKEND_VAR).as_deref() {
        Err(_) | Ok("") | Ok("redb") => Backend::Redb,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("{BACKEND_VAR}={other}: expected redb or postgres"),
    }
}

/// Whether this run is on PostgreSQL.
pub fn on_postgres() -> bool {
    backend() == Backend::Postgres
}

/// For a test about redb itself: `true` (the test returns at once) when this run is on
/// PostgreSQL, where the test's subject does not exist.
pub fn redb_only_test() -> bool {
    let skip = on_postgres();
    if skip {
        eprintln!("redb-only: this test's subject is the redb file; skipped on PostgreSQL");
    }
    skip
}

/// The `[store]` table a daemon started on `config` gets from the harness, when any: a
/// fresh database under `LICD_TEST_BACKEND=postgres`, unless the configuration has its own
/// `[store]` table or is redb-only.
///
/// # Panics
/// Under `postgres` without PostgreSQL's binaries: the run asked for them.
pub(crate) fn store_section(config: &TestConfig, toml: &str) -> Option<StoreSection> {
    if !on_postgres() || config.is_redb_only() || toml.contains("[store]") {
        return None;
    }
    let cluster = licd_pg_cluster::cluster()
        .unwrap_or_else(|| panic!("{BACKEND_VAR}=postgres needs PostgreSQL's binaries"));
    let url = cluster.fresh_database();
    Some(StoreSection {
        toml: format!("\n[store]\nbackend = \"postgres\"\npostgresUrl = \"{url}\"\npoolSize = 4\n"),
        url,
    })
}

/// The `[store]` table the harness adds to a daemon's configuration.
#[derive(Debug, Clone)]
pub(crate) struct StoreSection {
    /// The TOML text appended to the configuration.
    pub toml: String,
    /// The PostgreSQL database it names.
    pub url: String,
}
