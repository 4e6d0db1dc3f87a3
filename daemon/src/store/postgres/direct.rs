//! What the commands that reach PostgreSQL themselves (`check`, `export`, `import`,
//! `migrate`) share: one connection with licd's session settings, and a read-only snapshot.

use deadpool_postgres::Object;
use tokio_postgres::{Client, IsolationLevel, Transaction};

use super::{PostgresSettings, db_error, pool_error};
use crate::store::StoreError;

/// One connection to the database of `settings` (a pool of one, for its TLS and session
/// settings); the schema is not migrated.
pub(super) async fn connection(settings: &PostgresSettings) -> Result<Object, StoreError> {
    let pool = super::connect::pool(&PostgresSettings {
        pool_size: 1,
        ..settings.clone()
    })?;
    pool.get().await.map_err(pool_error)
}

/// A REPEATABLE READ, READ ONLY transaction: one consistent state, no lock a command waits
/// for.
pub(super) async fn snapshot(client: &mut Client) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error)
}
