//! `licd backup` and `licd restore`.
//!
//! A backup is itself a licd database: every table copied, row by row, out of **one** read
//! transaction into a new redb file. The read transaction is a consistent snapshot that never
//! blocks the writer, so a backup taken while licd serves holds exactly the changes committed
//! before it began; copying the live file instead could catch a commit half-written (redb
//! #634). The copy is also compact (no free pages), and `licd restore` only has to check it
//! and move it into place.

use std::path::Path;

use redb::backends::FileBackend;
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle,
};

use super::RedbStore;
use super::columns::{Column, TableSpec, TableVisitor, unknown_tables, visit_all};
use super::tables::{LICENSES, META, SCHEMA_KEY, SCHEMA_VERSION, SECRET_KEY};
use crate::output_file::{OutputFile, OutputFileError, Readers, create_new};
use crate::store::StoreError;

/// What a backup or restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Rows, every table counted.
    pub rows: u64,
    /// Licences among them.
    pub licenses: u64,
}

impl RedbStore {
    /// Writes a consistent snapshot of the database to a new database file at `out`, which
    /// must not exist yet (it is created 0600 and never through a link: it holds the server
    /// secret). Writers are not blocked while it runs.
    pub fn backup_to(&self, out: &Path) -> Result<Copied, StoreError> {
        let reader = self.reader()?;
        copy_snapshot(&reader.txn, out)
    }
}

/// Copies every table as `txn` sees it into a new database at `out`.
fn copy_snapshot(txn: &ReadTransaction, out: &Path) -> Result<Copied, StoreError> {
    let unknown = unknown_tables(txn)?;
    if !unknown.is_empty() {
        return Err(StoreError::Unusable(format!(
            "the database has tables this licd does not know ({}); use the licd that wrote them",
            unknown.join(", ")
        )));
    }
    // Created fresh and private, never through a link: the copy holds the server secret.
    let file = create_new(out, Readers::Owner).map_err(|source| StoreError::File {
        what: "cannot create the backup",
        path: out.to_path_buf(),
        source,
    })?;
    let open = |source: redb::DatabaseError| StoreError::Open {
        path: out.to_path_buf(),
        reason: source.to_string(),
    };
    let db = Database::builder()
        .create_with_backend(FileBackend::new(file).map_err(open)?)
        .map_err(open)?;
    let write = db.begin_write()?;
    let mut copier = Copier {
        from: txn,
        to: &write,
        copied: Copied {
            rows: 0,
            licenses: 0,
        },
    };
    visit_all(&mut copier)?;
    let copied = copier.copied;
    write.commit()?;
    db.close().map_err(|e| StoreError::Close(e.to_string()))?;
    Ok(copied)
}

struct Copier<'a> {
    from: &'a ReadTransaction,
    to: &'a redb::WriteTransaction,
    copied: Copied,
}

impl TableVisitor for Copier<'_> {
    fn visit<K: Column, V: Column>(
        &mut self,
        def: redb::TableDefinition<'static, K, V>,
        spec: TableSpec,
    ) -> Result<(), StoreError> {
        let from = match self.from.open_table(def) {
            Ok(t) => t,
            // A table made on first use (none yet in an older file) copies as empty.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut to = self.to.open_table(def)?;
        for row in from.iter()? {
            let (k, v) = row?;
            to.insert(k.value(), v.value())?;
            self.copied.rows += 1;
        }
        if spec.name == LICENSES.name() {
            self.copied.licenses = from.len()?;
        }
        Ok(())
    }
}

/// Installs the backup `backup` as the database `db` of a stopped licd.
///
/// The backup is copied to a fresh private file next to `db` first (`crate::output_file`:
/// mode 0600 whatever the backup file's own mode) and checked there (redb's page checksums,
/// the schema version, the server secret, no unknown tables), so a bad file never replaces
/// anything. A `db` holding licence data is only replaced with `force`. The final step is
/// a rename, so `db` is either the old database or the whole backup. The data directory and
/// an existing `db` are made private first, as for every open ([`super::permissions`]).
pub fn restore(backup: &Path, db: &Path, force: bool) -> Result<Copied, StoreError> {
    super::permissions::secure(db)?;
    let mut staging = OutputFile::create(db, Readers::Owner).map_err(file_error)?;
    let mut source = std::fs::File::open(backup).map_err(|source| StoreError::File {
        what: "cannot read the backup",
        path: backup.to_path_buf(),
        source,
    })?;
    std::io::copy(&mut source, &mut staging).map_err(|source| StoreError::File {
        what: "cannot copy the backup",
        path: backup.to_path_buf(),
        source,
    })?;
    // On any error below, dropping `staging` removes it.
    let copied = verify(staging.temp_path(), backup)?;
    if db.exists() {
        refuse_overwrite(db, force)?;
    }
    give_to_directory_owner(staging.temp_path());
    staging.persist().map_err(file_error)?;
    Ok(copied)
}

fn file_error(e: OutputFileError) -> StoreError {
    StoreError::File {
        what: e.action,
        path: e.path,
        source: e.source,
    }
}

/// Gives `file` the owner of its directory. An admin restoring or importing as root into
/// the service's data directory would otherwise leave a database the service's own user
/// cannot open. Best effort: without the right to chown, nothing changes.
pub fn give_to_directory_owner(file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Some(dir) = file.parent() else { return };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let (Ok(d), Ok(f)) = (std::fs::metadata(dir), std::fs::metadata(file))
        && (d.uid(), d.gid()) != (f.uid(), f.gid())
        && let Err(e) = std::os::unix::fs::chown(file, Some(d.uid()), Some(d.gid()))
    {
        tracing::warn!(error = %e, file = %file.display(), "cannot give the file to its directory's owner");
    }
}

/// Checks that `file`, a copy of `shown`, is a sound licd database this licd can use;
/// refusals name `shown`, the file the admin gave.
fn verify(file: &Path, shown: &Path) -> Result<Copied, StoreError> {
    let unusable = |why: String| StoreError::Unusable(format!("{}: {why}", shown.display()));
    let mut db = Database::builder()
        .open(file)
        .map_err(|e| unusable(format!("not a licd database ({e})")))?;
    match db.check_integrity() {
        Ok(true) => {}
        Ok(false) => return Err(unusable("it failed redb's integrity check".into())),
        Err(e) => return Err(unusable(format!("it failed redb's integrity check ({e})"))),
    }
    let txn = db.begin_read()?;
    let meta = txn
        .open_table(META)
        .map_err(|_| unusable("it has no meta_v1 table".into()))?;
    let schema = meta
        .get(SCHEMA_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| unusable("it has no schema version".into()))?;
    if schema > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    if meta.get(SECRET_KEY)?.is_none_or(|v| v.value().len() != 32) {
        return Err(unusable("it has no server secret".into()));
    }
    let unknown = unknown_tables(&txn)?;
    if !unknown.is_empty() {
        return Err(unusable(format!(
            "it has tables this licd does not know ({})",
            unknown.join(", ")
        )));
    }
    let mut counter = RowCounter(Copied {
        rows: 0,
        licenses: 0,
    });
    counter.count(&txn)?;
    drop(meta);
    drop(txn);
    db.close().map_err(|e| StoreError::Close(e.to_string()))?;
    Ok(counter.0)
}

/// Refuses to replace a database that holds licence data, unless `force`.
fn refuse_overwrite(db: &Path, force: bool) -> Result<(), StoreError> {
    let existing = super::open_database(db, super::StoreOptions::default().cache_bytes, None)?;
    let txn = existing.begin_read()?;
    let mut counter = RowCounter(Copied {
        rows: 0,
        licenses: 0,
    });
    counter.count_data(&txn)?;
    drop(txn);
    existing
        .close()
        .map_err(|e| StoreError::Close(e.to_string()))?;
    if counter.0.rows > 0 && !force {
        return Err(StoreError::NotEmpty(format!(
            "{} holds {} licences and other data; pass --force to replace it with the backup",
            db.display(),
            counter.0.licenses
        )));
    }
    Ok(())
}

/// Counts rows of every table, or of the licence-data tables only.
struct RowCounter(Copied);

impl RowCounter {
    fn count(&mut self, txn: &ReadTransaction) -> Result<(), StoreError> {
        visit_all(&mut CountVisitor {
            txn,
            counter: self,
            data_only: false,
        })
    }

    fn count_data(&mut self, txn: &ReadTransaction) -> Result<(), StoreError> {
        visit_all(&mut CountVisitor {
            txn,
            counter: self,
            data_only: true,
        })
    }
}

struct CountVisitor<'a> {
    txn: &'a ReadTransaction,
    counter: &'a mut RowCounter,
    data_only: bool,
}

impl TableVisitor for CountVisitor<'_> {
    fn visit<K: Column, V: Column>(
        &mut self,
        def: redb::TableDefinition<'static, K, V>,
        spec: TableSpec,
    ) -> Result<(), StoreError> {
        if self.data_only && !spec.data {
            return Ok(());
        }
        let table = match self.txn.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let n = table.len()?;
        self.counter.0.rows += n;
        if spec.name == LICENSES.name() {
            self.counter.0.licenses = n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[test]
    fn a_restored_file_belongs_to_the_owner_of_the_data_directory() {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: ownership cannot be changed, nothing to check");
            return;
        }
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        std::os::unix::fs::chown(&data, Some(4321), Some(4321)).expect("chown");
        let source = dir.path().join("source.redb");
        let store = RedbStore::open(&source, StoreOptions::default()).expect("open");
        let backup = dir.path().join("backup.redb");
        store.backup_to(&backup).expect("backup");
        store.close().expect("close");
        let db = data.join("licd.redb");
        restore(&backup, &db, false).expect("restore");
        let meta = std::fs::metadata(&db).expect("metadata");
        assert_eq!((meta.uid(), meta.gid()), (4321, 4321));
    }

    #[test]
    fn a_backup_file_is_never_overwritten_by_the_next_backup() {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            RedbStore::open(&dir.path().join("a.redb"), StoreOptions::default()).expect("open");
        let out = dir.path().join("b.redb");
        store.backup_to(&out).expect("first");
        assert!(
            store.backup_to(&out).is_err(),
            "second backup replaced the first"
        );
    }
}
