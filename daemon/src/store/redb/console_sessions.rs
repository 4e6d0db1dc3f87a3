//! The staff console's sessions in `console_sessions_v1` (`crate::store::console_sessions`):
//! the digest of a session id → the session, JSON.
//!
//! One writer holds the table for its batch. The table holds the sessions of a handful of
//! staff users, so the sweep of expired sessions scans it rather than keeping an index by
//! age that every click would have to maintain.

use redb::{ReadableTable, Table};

use super::tables::{decode, encode};
use crate::store::StoreError;
use crate::store::console_sessions::ConsoleSession;

type Sessions<'t> = Table<'t, &'static str, &'static [u8]>;

/// The session stored under `digest`.
pub(super) fn get(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    digest: &str,
) -> Result<Option<ConsoleSession>, StoreError> {
    table.get(digest)?.map(|v| decode(v.value())).transpose()
}

/// Stores `session` under `digest`.
pub(super) fn put(
    table: &mut Sessions<'_>,
    digest: &str,
    session: &ConsoleSession,
) -> Result<(), StoreError> {
    table.insert(digest, encode(session)?.as_slice())?;
    Ok(())
}

/// Removes every session last used before `seen_before` or made before `created_before`.
pub(super) fn remove_expired(
    table: &mut Sessions<'_>,
    seen_before: i64,
    created_before: i64,
) -> Result<u64, StoreError> {
    let mut expired = Vec::new();
    for row in table.iter()? {
        let (digest, value) = row?;
        let session: ConsoleSession = decode(value.value())?;
        if session.last_seen < seen_before || session.created_at < created_before {
            expired.push(digest.value().to_string());
        }
    }
    for digest in &expired {
        table.remove(digest.as_str())?;
    }
    Ok(expired.len() as u64)
}

impl super::RedbReader {
    /// The session stored under `digest`; none in a file made before the console existed.
    pub fn console_session(&self, digest: &str) -> Result<Option<ConsoleSession>, StoreError> {
        match self.txn.open_table(super::tables::CONSOLE_SESSIONS) {
            Ok(table) => get(&table, digest),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
