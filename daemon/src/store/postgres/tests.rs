//! What only a shared database has to get right: N nodes starting at once migrate once and
//! share one server secret; a schema newer than this licd knows is refused by name; a
//! transaction PostgreSQL refuses as a deadlock is run again inside the node.

use std::time::{Duration, Instant};

use super::{PgStore, PostgresSettings};
use crate::license::License;
use crate::store::commands::{Command, CreateKeys};
use crate::store::tx::{RememberedChange, Tx, TxResult};
use crate::store::{StoreError, StoreOptions};

fn settings(url: String) -> PostgresSettings {
    PostgresSettings {
        url,
        pool_size: 4,
        statement_timeout_ms: 5_000,
        files_dir: None,
    }
}

/// A fresh database of the test cluster, or `None` where PostgreSQL is not installed.
async fn fresh() -> Option<(&'static licd_pg_cluster::PgCluster, String)> {
    tokio::task::spawn_blocking(|| {
        let pg = licd_pg_cluster::cluster()?;
        Some((pg, pg.fresh_database()))
    })
    .await
    .expect("the cluster starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once_and_share_one_secret() {
    let Some((pg, url)) = fresh().await else {
        return;
    };
    let opens = (0..4).map(|_| {
        let s = settings(url.clone());
        tokio::spawn(async move { PgStore::open(&s, &StoreOptions::default()).await })
    });
    let mut secrets = Vec::new();
    for open in opens {
        let store = open.await.expect("task").expect("open");
        secrets.push(*store.secret());
        store.close().expect("close");
    }
    assert!(secrets.windows(2).all(|w| w[0] == w[1]), "secrets differ");
    let db = url_database(&url);
    assert_eq!(
        pg.psql(&db, "SELECT version FROM schema_version"),
        super::schema::SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM meta WHERE name = 'server_secret'"
        ),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_this_licd_is_refused_naming_both_versions() {
    let Some((pg, url)) = fresh().await else {
        return;
    };
    let store = PgStore::open(&settings(url.clone()), &StoreOptions::default())
        .await
        .expect("open");
    store.close().expect("close");
    // One past this licd's newest migration, whatever that is.
    let newer = super::schema::SCHEMA_VERSION + 1;
    pg.psql(
        &url_database(&url),
        &format!("UPDATE schema_version SET version = {newer}"),
    );
    let refused = PgStore::open(&settings(url), &StoreOptions::default()).await;
    let supported = super::schema::SCHEMA_VERSION as u64;
    let Err(e @ StoreError::SchemaTooNew { found, .. }) = refused else {
        panic!("a newer schema was not refused as such");
    };
    assert_eq!(i64::try_from(found).ok(), Some(newer));
    assert!(matches!(e, StoreError::SchemaTooNew { supported: s, .. } if s == supported));
    let text = e.to_string();
    assert!(
        text.contains(&newer.to_string()) && text.contains(&supported.to_string()),
        "{text}"
    );
}

/// Locks two licences in order and says how many times it ran.
struct LockBoth {
    first: String,
    second: String,
    runs: u32,
}

impl Command for LockBoth {
    type Done = u32;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<u32> {
        self.runs += 1;
        tx.license_for_update(&self.first).await?;
        tx.license_for_update(&self.second).await?;
        Ok(self.runs)
    }
}

/// A plain client of database `db` as the cluster's superuser (which may set
/// `deadlock_timeout`), its connection driven by a task of its own.
async fn superuser(pg: &licd_pg_cluster::PgCluster, db: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&pg.url("postgres", db), tokio_postgres::NoTls)
            .await
            .expect("connect as the superuser");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlocked_command_is_run_again_and_succeeds() {
    let Some((pg, url)) = fresh().await else {
        return;
    };
    let db = url_database(&url);
    // The node's sessions find a deadlock 3 s into a wait, the other transaction's only
    // after a minute: PostgreSQL aborts the transaction whose check finds the cycle, so the
    // node's is the one refused, whatever the load on the machine.
    let role = db.clone();
    pg.psql(
        "postgres",
        &format!("ALTER ROLE {role} SET deadlock_timeout = '3s'"),
    );
    let mut s = settings(url.clone());
    s.statement_timeout_ms = 60_000;
    let store = PgStore::open(&s, &StoreOptions::default())
        .await
        .expect("open");
    let mut template = License::for_tests("permanent", 1, 1_800_000_000);
    template.key = String::new();
    let created = store
        .run(
            CreateKeys {
                template,
                count: 2,
                order_id: None,
                max_per_day: -1,
                max_stored: -1,
            },
            Instant::now() + Duration::from_secs(30),
        )
        .await
        .expect("two licences");
    let (a, b) = (
        created.licenses[0].key.clone(),
        created.licenses[1].key.clone(),
    );

    let other = superuser(pg, &db).await;
    let watch = superuser(pg, &db).await;
    other
        .batch_execute("SET deadlock_timeout = '60s'; BEGIN")
        .await
        .expect("begin");
    let lock = "SELECT 1 FROM licenses WHERE key = $1 FOR UPDATE";
    other.execute(lock, &[&b]).await.expect("lock b");
    let store = std::sync::Arc::new(store);
    let node = {
        let (store, a, b) = (store.clone(), a.clone(), b.clone());
        tokio::spawn(async move {
            let command = LockBoth {
                first: a,
                second: b,
                runs: 0,
            };
            store
                .run(command, Instant::now() + Duration::from_secs(120))
                .await
        })
    };
    // The node holds `a` and waits for `b`; then the other transaction asks for `a`.
    let waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted";
    let began = Instant::now();
    loop {
        let n: i64 = watch
            .query_one(waiting, &[])
            .await
            .expect("pg_locks")
            .get(0);
        if n > 0 {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the node never waited for b"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other
        .execute(lock, &[&a])
        .await
        .expect("the other transaction gets a");
    other.batch_execute("COMMIT").await.expect("commit");
    let runs = node
        .await
        .expect("task")
        .expect("the command succeeds after the deadlock");
    assert_eq!(
        runs, 2,
        "the command ran once, was refused as a deadlock, then ran again"
    );
    let store = std::sync::Arc::try_unwrap(store).ok().expect("one owner");
    store.close().expect("close");
}

/// The database name at the end of a test URL.
fn url_database(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap_or("");
    path.split('?').next().unwrap_or("").to_string()
}

/// Remembers one change for replay id `id` at `at`.
struct Remember {
    id: String,
    at: i64,
}

impl Command for Remember {
    type Done = ();

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<()> {
        let change = RememberedChange {
            method: "GetActivationKey".into(),
            outcome: serde_json::json!({}),
        };
        tx.remember_change("v", &self.id, self.at, &change).await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_memory_keeps_at_most_its_row_bound_dropping_the_oldest() {
    let Some((pg, url)) = fresh().await else {
        return;
    };
    let store = PgStore::open(&settings(url.clone()), &StoreOptions::default())
        .await
        .expect("open");
    let db = url_database(&url);
    let max = crate::store::replays::MAX_REPLAYS;
    let t0 = 1_800_000_000_i64;
    // Ten rows over the bound, all within the memory's 30 days; one more remembered makes
    // eleven to drop: old-1 to old-11.
    pg.psql(
        &db,
        &format!(
            "INSERT INTO replays (vendor, id, at, method, outcome) \
             SELECT 'v', 'old-' || g, {t0} + g, 'GetActivationKey', '{{}}'::jsonb \
             FROM generate_series(1, {}) AS g; ANALYZE replays",
            max + 10
        ),
    );
    store
        .run(
            Remember {
                id: "new".into(),
                at: t0 + 1_000_000,
            },
            Instant::now() + Duration::from_secs(30),
        )
        .await
        .expect("remembered");
    assert_eq!(
        pg.psql(&db, "SELECT count(*) FROM replays"),
        max.to_string()
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM replays WHERE id IN ('new', 'old-12')"
        ),
        "2",
        "the newest rows stay"
    );
    assert_eq!(
        pg.psql(
            &db,
            "SELECT count(*) FROM replays WHERE id IN ('old-1', 'old-11')"
        ),
        "0",
        "the oldest rows go first"
    );
}

/// Two nodes' senders never claim one message: a row another transaction has locked is
/// skipped, not waited for (without `SKIP LOCKED` this claim would wait for the lock and
/// fail at the statement timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_claimed_by_another_node_is_skipped_not_waited_for() {
    use crate::store::commands::{ClaimMail, EnqueueMail};
    use crate::store::outbox::OutgoingMail;
    let Some((_pg, url)) = fresh().await else {
        return;
    };
    let store = PgStore::open(&settings(url.clone()), &StoreOptions::default())
        .await
        .expect("open");
    let deadline = || Instant::now() + Duration::from_secs(30);
    let mut ids = Vec::new();
    for to in ["a@example.com", "b@example.com"] {
        let mail = OutgoingMail {
            to: to.into(),
            subject: "s".into(),
            body: "b".into(),
            template: "Test".into(),
        };
        ids.push(
            store
                .run(EnqueueMail { mail, at: 100 }, deadline())
                .await
                .expect("enqueue"),
        );
    }
    // Another node in the middle of its claim of the first message.
    let mut other = super::direct::connection(&settings(url))
        .await
        .expect("connect");
    let txn = other.transaction().await.expect("begin");
    txn.execute(
        "SELECT id FROM mail_outbox WHERE id = $1 FOR UPDATE",
        &[&ids[0]],
    )
    .await
    .expect("lock");
    let started = Instant::now();
    let claim = ClaimMail {
        now: 100,
        lease_until: 160,
        limit: 10,
    };
    let claimed = store.run(claim, deadline()).await.expect("claim");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the claim waited"
    );
    let got: Vec<i64> = claimed.mail.iter().map(|m| m.id).collect();
    assert_eq!(got, vec![ids[1]]);
    txn.rollback().await.expect("rollback");
    store.close().expect("close");
}
