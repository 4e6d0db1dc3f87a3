//! Maintenance: backup, check, export, import, and the stopped-database mode.
//!
//! Kept apart from the request road: a backend offers what it can and refuses the rest with
//! [`StoreError::Unsupported`], naming what to use instead (a server database is backed up
//! with its own tools, for example). The embedded backend offers everything.

use std::io::{BufRead, Write};
use std::path::Path;

use super::{Store, StoreError};
use crate::license::License;

pub use super::embedded::backup::Copied;
pub use super::embedded::check::{CheckReport, Compacted};
pub use super::embedded::import::Imported;

/// What a running store offers for maintenance.
pub trait Maintenance {
    /// Writes a consistent copy of the database to `out` (a new file) while serving.
    fn backup_to(&self, out: &Path) -> Result<Copied, StoreError>;

    /// The consistency checks, on one consistent read (the daemon may be serving).
    fn check(&self) -> Result<CheckReport, StoreError>;

    /// Writes every table as JSON lines; `secrets` false leaves secret values out. Returns
    /// the rows written.
    fn export_to(&self, out: &mut dyn Write, secrets: bool) -> Result<u64, StoreError>;

    /// Imports an export into this database, which must hold no licence data; `running`:
    /// the store serves requests (see the embedded backend for what that refuses).
    fn import_from(&self, input: &mut dyn BufRead, running: bool) -> Result<Imported, StoreError>;

    /// Calls `f` with every licence, in key order, stopping at the first error (listings).
    fn for_each_license(
        &self,
        f: &mut dyn FnMut(License) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl Store {
    /// The maintenance interface of this store's backend.
    pub fn maintenance(&self) -> Result<&dyn Maintenance, StoreError> {
        match self {
            Store::Redb(s) => Ok(s),
            Store::Postgres(s) => Ok(s),
        }
    }
}

/// Checks the stopped embedded database at `path`: the engine's integrity check, then
/// licd's consistency checks. Fails if the file is missing or held by a running daemon.
pub fn check_file(path: &Path) -> Result<CheckReport, StoreError> {
    super::embedded::check::check_file(path)
}

/// Compacts the stopped embedded database at `path`.
pub fn compact_file(path: &Path) -> Result<Compacted, StoreError> {
    super::embedded::check::compact_file(path)
}

/// Replaces the stopped embedded database `db` by the backup `backup`, which is verified
/// first; refuses to overwrite licence data unless `force`.
pub fn restore(backup: &Path, db: &Path, force: bool) -> Result<Copied, StoreError> {
    super::embedded::backup::restore(backup, db, force)
}

/// Gives a file written by root (a backup, a restored database) to the owner of its
/// directory, so the service user can read it.
pub fn give_to_directory_owner(file: &Path) {
    super::embedded::backup::give_to_directory_owner(file)
}

/// Checks licd's invariants on the PostgreSQL database of `settings` from one read-only
/// snapshot, while nodes may serve; migrates nothing and writes nothing.
pub async fn check_postgres(settings: &super::PostgresSettings) -> Result<CheckReport, StoreError> {
    super::postgres::check::check_database(settings).await
}

pub use super::postgres::load::Loaded;

/// Copies the stopped embedded database at `db` into the empty PostgreSQL database of
/// `settings`, in one PostgreSQL transaction, secrets included (computer keys stay equal);
/// fails, writing nothing, if a daemon holds the file or the target holds anything.
pub async fn migrate_to_postgres(
    db: &Path,
    settings: &super::PostgresSettings,
) -> Result<Loaded, StoreError> {
    // Opened first: redb's lock refuses a file a running daemon holds.
    let store = Store::open_existing(db, super::StoreOptions::default())?;
    let (mut out, lines) = super::postgres::load::line_channel();
    let export = tokio::task::spawn_blocking(move || {
        let written = store
            .maintenance()
            .and_then(|m| m.export_to(&mut out, true));
        out.finish(written.err());
        store.close()
    });
    let loaded = super::postgres::load::load_export(settings, lines).await;
    let closed = export.await.map_err(|e| StoreError::Close(e.to_string()))?;
    let loaded = loaded?;
    closed?;
    Ok(loaded)
}

/// Loads an export read from `input` into the empty PostgreSQL database of `settings`, in
/// one transaction (`licd import` with `backend = "postgres"`).
pub async fn import_into_postgres(
    mut input: Box<dyn std::io::Read + Send>,
    settings: &super::PostgresSettings,
) -> Result<Loaded, StoreError> {
    let (mut out, lines) = super::postgres::load::line_channel();
    let reader = tokio::task::spawn_blocking(move || {
        let copied = std::io::copy(&mut input, &mut out).map_err(|source| StoreError::File {
            what: "cannot read the export",
            path: "-".into(),
            source,
        });
        out.finish(copied.err());
    });
    let loaded = super::postgres::load::load_export(settings, lines).await;
    // The reader ends once the load has taken its last line or dropped the receiver.
    let _ = reader.await;
    loaded
}

/// Writes the PostgreSQL database of `settings` as an export (the embedded layout, so
/// `licd import` loads it into either backend) from one read-only snapshot, while nodes
/// may serve; without `secrets`, leaves out the server secret and the signing keys.
pub async fn export_postgres(
    settings: &super::PostgresSettings,
    out: &mut dyn Write,
    secrets: bool,
) -> Result<u64, StoreError> {
    super::postgres::dump::export_database(settings, out, secrets).await
}
