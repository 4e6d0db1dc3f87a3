//! The store's errors, the same for every backend: callers learn what happened and what to
//! do, never which engine said it.

use std::path::PathBuf;

use super::{access, data_dir, lock, permissions};
use crate::license::refusal::Refusal;

/// A storage failure. The `Display` text says what happened and, where it can, what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the database {path}: {reason}")]
    Open {
        /// The database (a file, or a server's address).
        path: PathBuf,
        /// The backend's reason (for example another process holding the lock).
        reason: String,
    },
    /// A command other than `serve` found no database to work on.
    #[error(
        "no database at {0}; `licd serve` creates it on first start (check --data-dir / server.dataDir)"
    )]
    Missing(PathBuf),
    /// The database could not be closed cleanly (it will be checked on next open).
    #[error("cannot close the database cleanly: {0}")]
    Close(String),
    /// The database was written by a newer licd.
    #[error(
        "the database has schema version {found}, newer than this licd supports ({supported}); run a newer licd or restore a backup"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: u64,
        /// The newest version this licd reads.
        supported: u64,
    },
    /// A read or write failed inside the backend.
    #[error("storage error: {0}")]
    Backend(String),
    /// A stored value did not decode.
    #[error("a stored value is corrupt: {0}")]
    Corrupt(String),
    /// The operating system refused a resource the store needs (a thread) or the backend
    /// refused a setting; not a problem with the stored data.
    #[error("the store could not start: {0}")]
    Setup(String),
    /// The database is out of reach for now (reopening after a failed commit); nothing was
    /// changed.
    #[error("the database is being reopened after a failed commit")]
    Unavailable,
    /// The database server does not answer (a networked backend); nothing was changed.
    #[error("the database server does not answer: {0}")]
    Unreachable(String),
    /// The answer to a commit was lost, and the database stayed out of reach until the
    /// request's deadline: the change may or may not be stored. Repeating the same request
    /// is safe (the command id, or the method's own idempotency, keeps a repeat from
    /// changing anything twice).
    #[error("outcome unknown; repeating the same request is safe")]
    OutcomeUnknown,
    /// Too many changes are waiting; nothing was changed.
    #[error("too many changes are waiting to be written")]
    Busy,
    /// The change was not stored: the commit of its transaction failed.
    #[error("the change could not be stored")]
    NotStored,
    /// The change was not applied: its deadline passed before the store reached it.
    #[error("the change was not applied before its deadline")]
    TooLate,
    /// The store has been stopped.
    #[error("the writer thread has stopped")]
    Stopped,
    /// The operating system's random generator failed (server secret, keys).
    #[error("the random number generator failed: {0}")]
    Random(String),
    /// A file for backup, restore, export or import could not be read or written.
    #[error("{what} {path}: {source}")]
    File {
        /// What was being done (`cannot write the backup`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The data directory or the database is open to others and licd cannot close it.
    #[error(transparent)]
    Permissions(#[from] permissions::PermissionError),
    /// The data directory cannot be made (a file is in the way, or licd may not).
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    /// licd's user may not create, read or write the database (boxed: large, and in every
    /// `Result` of the store).
    #[error(transparent)]
    Denied(Box<access::AccessDenied>),
    /// Another process holds the database; the text names the licd holding it when it can.
    #[error(transparent)]
    Held(#[from] lock::Held),
    /// Another licd serves the data directory of a PostgreSQL node.
    #[error(transparent)]
    DirectoryHeld(#[from] lock::DirectoryHeld),
    /// A backup or export file is not one this licd can use; the text says why.
    #[error("{0}")]
    Unusable(String),
    /// Restore or import would overwrite licence data.
    #[error("{0}")]
    NotEmpty(String),
    /// The backend does not offer this maintenance operation; the text says what to use
    /// instead.
    #[error("{0}")]
    Unsupported(String),
}

/// Why a command was not applied: a rule refused it, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A rule refused the change; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed; nothing of the change was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}
