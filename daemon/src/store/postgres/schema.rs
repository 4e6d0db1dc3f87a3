//! The schema: versioned migrations, applied at open under an advisory lock so that N nodes
//! starting at once migrate once, and the server secret, made once and shared by every node.
//!
//! `schema_version` holds one row. A node that finds a version newer than it knows refuses
//! to start, naming both, rather than write rows an older layout does not describe.
//!
//! Tables hold the values as JSON (`jsonb`), as the embedded backend does: the format is
//! self-describing, so a field added with `#[serde(default)]` needs no migration. Counters
//! are sharded rows (`counters`), summed on read, so nodes counting at once rarely meet on
//! one row; history and the release log take their order from identity columns.

use deadpool_postgres::Object;

use crate::store::StoreError;

use super::db_error;

/// An application-wide advisory lock id for migrations ("licd" in ASCII, then 1).
const MIGRATION_LOCK: i64 = 0x6c69_6364_0000_0001;

/// Each migration with the version it brings the schema to, in order. Versions are assigned
/// to features ahead of time (V3 customers, V4 the mail outbox, V5 analytics), so the list
/// may have a gap while a feature is on its way; a database is brought to each version
/// newer than its own.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, V1),
    (2, V2),
    (3, V3),
    (4, V4),
    (5, V5),
    (6, V6),
    (7, V7),
    (8, V8),
];

/// The newest schema this licd knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The first layout: every table of the embedded backend, by intent.
const V1: &str = "
CREATE TABLE meta (
    name text PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE licenses (
    key text PRIMARY KEY,
    value jsonb NOT NULL
);
CREATE TABLE activations (
    key text NOT NULL REFERENCES licenses (key),
    computer_id text NOT NULL,
    value jsonb NOT NULL,
    PRIMARY KEY (key, computer_id)
);
CREATE TABLE history (
    key text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    value jsonb NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE TABLE releases (
    key text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    released_at bigint NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE TABLE counters (
    counter text NOT NULL,
    day bigint NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (counter, day, shard)
);
CREATE TABLE orders (
    vendor text NOT NULL,
    product_id bigint NOT NULL,
    order_id text NOT NULL,
    keys jsonb NOT NULL,
    PRIMARY KEY (vendor, product_id, order_id)
);
CREATE TABLE subscriptions (
    subscription_id text NOT NULL,
    key text NOT NULL,
    PRIMARY KEY (subscription_id, key)
);
CREATE TABLE vendor_groups (
    vendor text NOT NULL,
    kind text NOT NULL,
    group_id text NOT NULL,
    key text NOT NULL,
    PRIMARY KEY (vendor, kind, group_id, key)
);
CREATE TABLE signing_keys (
    name text PRIMARY KEY,
    created_at bigint NOT NULL,
    value jsonb NOT NULL
);
CREATE TABLE replays (
    vendor text NOT NULL,
    id text NOT NULL,
    at bigint NOT NULL,
    method text NOT NULL,
    outcome jsonb NOT NULL,
    PRIMARY KEY (vendor, id)
);
CREATE INDEX replays_by_age ON replays (at);
";

/// The ids of committed changes (`outcome.rs`): a node that lost COMMIT's answer looks its
/// id up to learn whether the change is stored. Rows are kept an hour, pruned by age.
const V2: &str = "
CREATE TABLE command_ids (
    id bigint PRIMARY KEY,
    at bigint NOT NULL
);
CREATE INDEX command_ids_by_age ON command_ids (at);
CREATE TABLE strict_signatures (
    signature text PRIMARY KEY,
    forget_after bigint NOT NULL
);
CREATE INDEX strict_signatures_by_age ON strict_signatures (forget_after);
";

/// Gives every licence holding an e-mail (written by a licd older than customers, or loaded
/// from such an export) the customer of that e-mail, made when none has it, and moves the
/// e-mail out of the licence: run by migration V3 and after a load (`load.rs`). A new
/// customer is created at the time of its oldest licence.
macro_rules! link_stored_emails {
    () => {
        "
INSERT INTO customers (id, email_key, value)
SELECT n.id, n.email_key, jsonb_build_object('id', n.id, 'email', n.email,
        'created', n.created, 'modified', n.created)
FROM (
    SELECT replace(gen_random_uuid()::text, '-', '') AS id, e.email_key, e.email, e.created
    FROM (
        SELECT DISTINCT ON (lower(btrim(value->>'email')))
            lower(btrim(value->>'email')) AS email_key,
            btrim(value->>'email') AS email,
            coalesce((value->>'created')::bigint, 0) AS created
        FROM licenses
        WHERE btrim(coalesce(value->>'email', '')) <> '' AND value->>'customer' IS NULL
        ORDER BY lower(btrim(value->>'email')), (value->>'created')::bigint
    ) e
    WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.email_key = e.email_key)
) n;
UPDATE licenses l SET value = (l.value - 'email') || jsonb_build_object('customer', c.id)
FROM customers c
WHERE l.value->>'customer' IS NULL AND c.email_key = lower(btrim(l.value->>'email'));
UPDATE licenses SET value = value - 'email' WHERE value ? 'email';
INSERT INTO customer_licenses (customer_id, key)
SELECT value->>'customer', key FROM licenses WHERE value->>'customer' IS NOT NULL
ON CONFLICT DO NOTHING;
"
    };
}

/// Customers (`crate::customers`): the record a licence names by id, with the e-mail unique
/// ignoring case (`email_key` is `customers::email_key`: trimmed, lower case), the keys of
/// each customer, and the licences stored with an e-mail before customers existed linked to
/// theirs ([`LINK_STORED_EMAILS`]).
const V3: &str = concat!(
    "
CREATE TABLE customers (
    id text PRIMARY KEY,
    email_key text NOT NULL UNIQUE,
    value jsonb NOT NULL
);
CREATE TABLE customer_licenses (
    customer_id text NOT NULL,
    key text NOT NULL,
    PRIMARY KEY (customer_id, key)
);
",
    link_stored_emails!()
);

/// [`link_stored_emails!`] as a statement batch, for the load.
pub const LINK_STORED_EMAILS: &str = link_stored_emails!();
/// Analytics installs (AnalyticsAddInstallHttp …) and the counts the `[analytics]` caps read,
/// under the embedded backend's names (`store/redb/tables.rs`: `installs`, and a UTC day and
/// scope): caps are decided under an advisory lock per count (`tx.rs`), so one row each is
/// enough.
const V5: &str = "
CREATE TABLE analytics_installs (
    id text PRIMARY KEY,
    value jsonb NOT NULL
);
CREATE TABLE analytics_counts (
    name text PRIMARY KEY,
    n bigint NOT NULL
);
";

/// The authorization codes of activation by e-mailed code, by keyed hash (never the code),
/// with the customer's e-mail address for the hourly limit and the wrong-code count.
const V6: &str = "
CREATE TABLE authorization_codes (
    hash text PRIMARY KEY,
    email text NOT NULL,
    created bigint NOT NULL,
    value jsonb NOT NULL
);
CREATE INDEX authorization_codes_by_email ON authorization_codes (email, created);
";

/// The mail outbox (`crate::store::outbox`): undelivered mail, claimed by the senders of
/// every node with `FOR UPDATE SKIP LOCKED` in next-try order.
const V4: &str = "
CREATE TABLE mail_outbox (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    queued_at bigint NOT NULL,
    next_try_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    message jsonb NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_try_at, id);
";

/// The webhook outbox (`crate::store::webhook_outbox`): events waiting for their endpoint,
/// claimed per endpoint (`url`), oldest first, by the senders of every node.
const V7: &str = "
CREATE TABLE webhook_outbox (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    url text NOT NULL,
    next_try_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    dead boolean NOT NULL DEFAULT false,
    last_error text,
    event jsonb NOT NULL
);
CREATE INDEX webhook_outbox_heads ON webhook_outbox (url, id) WHERE NOT dead;
";

/// The staff console's sessions (`crate::store::console_sessions`), shared by every node: the
/// SHA-256 digest of a session id (never the id), with the two times the sweep of expired
/// sessions compares.
const V8: &str = "
CREATE TABLE console_sessions (
    digest text PRIMARY KEY,
    created_at bigint NOT NULL,
    last_seen bigint NOT NULL,
    value jsonb NOT NULL
);
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen);
CREATE INDEX console_sessions_by_created_at ON console_sessions (created_at);
";

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version bigint NOT NULL
)";
const READ_VERSION: &str = "SELECT version FROM schema_version";
const WRITE_VERSION: &str = "INSERT INTO schema_version (version) VALUES ($1)
    ON CONFLICT (only_row) DO UPDATE SET version = excluded.version";

const KEEP_SECRET: &str = "INSERT INTO meta (name, value) VALUES ('server_secret', $1)
    ON CONFLICT (name) DO NOTHING";
const READ_SECRET: &str = "SELECT value FROM meta WHERE name = 'server_secret'";

/// Brings the schema to [`SCHEMA_VERSION`], or refuses a newer one. Holds the advisory lock
/// throughout, so a second node starting at the same moment waits and then finds the work
/// done.
pub async fn migrate(client: &mut Object) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error)?;
    let result = migrate_locked(client).await;
    // Released also when the connection closes; unlocked here so that the pooled
    // connection goes back clean.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error);
    result.and(unlocked.map(|_| ()))
}

async fn migrate_locked(client: &mut Object) -> Result<(), StoreError> {
    client
        .batch_execute(CREATE_VERSION_TABLE)
        .await
        .map_err(db_error)?;
    let found: i64 = match client
        .query_opt(READ_VERSION, &[])
        .await
        .map_err(db_error)?
    {
        Some(row) => row.try_get(0).map_err(db_error)?,
        None => 0,
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: found as u64,
            supported: SCHEMA_VERSION as u64,
        });
    }
    for &(version, migration) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        let txn = client.transaction().await.map_err(db_error)?;
        txn.batch_execute(migration).await.map_err(db_error)?;
        txn.execute(WRITE_VERSION, &[&version])
            .await
            .map_err(db_error)?;
        txn.commit().await.map_err(db_error)?;
        tracing::info!(version, "migrated the PostgreSQL schema");
    }
    Ok(())
}

/// The server secret every node derives computer keys with: the first node to start
/// stores `candidate`; every node then reads the one stored.
pub async fn server_secret(client: &Object, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
    client
        .execute(KEEP_SECRET, &[&candidate.as_slice()])
        .await
        .map_err(db_error)?;
    let row = client.query_one(READ_SECRET, &[]).await.map_err(db_error)?;
    let value: Vec<u8> = row.try_get(0).map_err(db_error)?;
    value
        .try_into()
        .map_err(|_| StoreError::Corrupt("the server secret is not 32 bytes".into()))
}
