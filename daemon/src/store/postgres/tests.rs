//! What only a shared database has to get right: N nodes starting at once migrate once and
//! share one server secret; a schema newer than this licd knows is refused by name.

use super::{PgStore, PostgresSettings};
use crate::store::{StoreError, StoreOptions};

fn settings(url: String) -> PostgresSettings {
    PostgresSettings {
        url,
        pool_size: 4,
        statement_timeout_ms: 5_000,
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
    assert_eq!(pg.psql(&db, "SELECT version FROM schema_version"), "1");
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
    pg.psql(&url_database(&url), "UPDATE schema_version SET version = 7");
    let refused = PgStore::open(&settings(url), &StoreOptions::default()).await;
    let Err(
        e @ StoreError::SchemaTooNew {
            found: 7,
            supported: 1,
        },
    ) = refused
    else {
        panic!("a newer schema was not refused as such");
    };
    let text = e.to_string();
    assert!(text.contains('7') && text.contains('1'), "{text}");
}

/// The database name at the end of a test URL.
fn url_database(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap_or("");
    path.split('?').next().unwrap_or("").to_string()
}
