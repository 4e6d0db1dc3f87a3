//! Maintenance on PostgreSQL: the database's own tools do backups, restores and compaction
//! better than licd could, so those are refused with the tool to use instead.

use std::io::{BufRead, Write};
use std::path::Path;

use super::PgStore;
use super::tx::json;
use crate::license::License;
use crate::store::maintenance::{Imported, Maintenance};
use crate::store::{CheckReport, Copied, StoreError};

/// What `licd backup` says with this backend.
pub const BACKUP: &str = "licd does not back up a PostgreSQL database: use pg_dump (e.g. `pg_dump --format=custom --file=licd.dump <database>`), or the server's own continuous archiving";
/// What `licd restore` says with this backend.
pub const RESTORE: &str = "licd does not restore a PostgreSQL database: use pg_restore for a pg_dump archive, or psql for a plain SQL dump, with every licd node stopped";
/// What `licd compact` says with this backend.
pub const COMPACT: &str = "licd does not compact a PostgreSQL database: PostgreSQL's autovacuum does, and VACUUM (FULL) does it by hand";
/// What export and import through a node's admin socket say with this backend: the
/// commands reach the database themselves.
const EXPORT: &str = "on PostgreSQL, `licd export` and `licd import` read and write the database directly, not through a node's admin socket: run them with the configuration that names the database";

impl Maintenance for PgStore {
    fn backup_to(&self, _out: &Path) -> Result<Copied, StoreError> {
        Err(StoreError::Unsupported(BACKUP.into()))
    }

    fn check(&self) -> Result<CheckReport, StoreError> {
        blocking(async {
            let mut client = self.client().await?;
            super::check::check(&mut client).await
        })
    }

    fn export_to(&self, out: &mut dyn Write, secrets: bool) -> Result<u64, StoreError> {
        blocking(async {
            let mut client = self.client().await?;
            super::dump::export(&mut client, out, secrets).await
        })
    }

    fn import_from(
        &self,
        _input: &mut dyn BufRead,
        _running: bool,
    ) -> Result<Imported, StoreError> {
        Err(StoreError::Unsupported(EXPORT.into()))
    }

    fn for_each_license(
        &self,
        f: &mut dyn FnMut(License) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        blocking(async {
            let mut client = self.client().await?;
            let txn = super::direct::snapshot(&mut client).await?;
            super::check::each_row(&txn, LICENSES, |row| f(json(row, 0)?)).await?;
            txn.rollback().await.map_err(super::db_error)
        })
    }
}

/// Every licence, in key order (byte order, as the embedded backend lists them).
const LICENSES: &str = "SELECT value FROM licenses ORDER BY key COLLATE \"C\"";

/// Runs `work` to its end from a blocking thread, where the admin API runs maintenance
/// (`admin/data.rs`, `admin/body.rs`): waiting there holds up no request.
fn blocking<T>(work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| StoreError::Setup(format!("no async runtime for maintenance: {e}")))?;
    runtime.block_on(work)
}
