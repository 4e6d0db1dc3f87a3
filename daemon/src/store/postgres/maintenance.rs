//! Maintenance on PostgreSQL: the database's own tools do backups, restores and compaction
//! better than licd could, so those are refused with the tool to use instead.

use std::io::{BufRead, Write};
use std::path::Path;

use super::PgStore;
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
        // Called off the runtime's threads (the admin API runs maintenance on a blocking
        // thread), so waiting here for the async check blocks no request.
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Setup(format!("no async runtime for the check: {e}")))?;
        runtime.block_on(async {
            let mut client = self.client().await?;
            super::check::check(&mut client).await
        })
    }

    fn export_to(&self, _out: &mut dyn Write, _secrets: bool) -> Result<u64, StoreError> {
        Err(StoreError::Unsupported(EXPORT.into()))
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
        _f: &mut dyn FnMut(License) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported(
            "listing licences from a PostgreSQL database is not built yet (docs/scale-out.md)"
                .into(),
        ))
    }
}
