//! The whole database through the admin API: backup, export, import, check.

use std::io::BufReader;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderValue, StatusCode};
use serde::Serialize;

use super::api::{AdminCtx, Refusal, Reply};
use super::body::{self, Body};
use super::keys::query_value;

/// Header of a backup reply: rows copied.
pub const ROWS_HEADER: &str = "x-licd-rows";
/// Header of a backup reply: licences copied.
pub const LICENSES_HEADER: &str = "x-licd-licences";

/// Distinguishes the staging files of backups running at once.
static BACKUP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The prefix of backup staging files in the data directory; a daemon removes leftovers of
/// an interrupted backup at start.
pub const STAGING_PREFIX: &str = "backup-";
/// The suffix of backup staging files.
pub const STAGING_SUFFIX: &str = ".redb.tmp";

/// `GET /v1/backup`: a consistent snapshot as a redb database file.
///
/// The snapshot is written to a staging file in the data directory (the only place the
/// service may write), which is unlinked as soon as it is open: it vanishes once sent, and
/// with the process if licd dies mid-way.
pub async fn backup(ctx: &AdminCtx) -> Reply {
    let state = ctx.state.clone();
    let staging = state.config().server.data_dir.join(format!(
        "{STAGING_PREFIX}{}-{}{STAGING_SUFFIX}",
        std::process::id(),
        BACKUP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let started = std::time::Instant::now();
    let made = tokio::task::spawn_blocking(move || {
        let copied = state.store.maintenance()?.backup_to(&staging);
        let opened = copied.and_then(|c| {
            std::fs::File::open(&staging)
                .map(|f| (c, f))
                .map_err(|source| crate::store::StoreError::File {
                    what: "cannot read the backup",
                    path: staging.clone(),
                    source,
                })
        });
        let _ = std::fs::remove_file(&staging);
        opened
    })
    .await
    .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (copied, mut file) = made?;
    tracing::info!(
        licenses = copied.licenses,
        rows = copied.rows,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "backup written"
    );
    let mut reply = body::stream("application/vnd.redb", move |out| {
        std::io::copy(&mut file, out).map(|_| ())
    });
    let headers = reply.headers_mut();
    headers.insert(ROWS_HEADER, HeaderValue::from(copied.rows));
    headers.insert(LICENSES_HEADER, HeaderValue::from(copied.licenses));
    Ok(reply)
}

/// `GET /v1/export?secrets=false`: every table as JSON lines (store::export).
pub fn export(ctx: &AdminCtx, query: &str) -> Reply {
    let secrets = query_value(query, "secrets").is_none_or(|v| v != "false");
    let state = ctx.state.clone();
    Ok(body::stream("application/x-ndjson", move |out| {
        state
            .store
            .maintenance()?
            .export_to(out, secrets)
            .map(|_| ())
    }))
}

/// `POST /v1/import` reply.
#[derive(Serialize)]
struct ImportReply {
    rows: u64,
    secrets: bool,
}

/// `POST /v1/import`: an export into a database that holds no licence data yet.
pub async fn import(ctx: &AdminCtx, body: Body) -> Reply {
    let state = ctx.state.clone();
    let running = ctx.running;
    let input = body::blocking_reader(body);
    let imported = tokio::task::spawn_blocking(move || {
        state
            .store
            .maintenance()?
            .import_from(&mut BufReader::new(input), running)
    })
    .await
    .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    tracing::info!(
        rows = imported.rows,
        secrets = imported.secrets,
        "import written"
    );
    Ok(body::json(
        StatusCode::OK,
        &ImportReply {
            rows: imported.rows,
            secrets: imported.secrets,
        },
    ))
}

/// `POST /v1/check`: licd's consistency checks on one snapshot.
pub async fn check(ctx: &AdminCtx) -> Reply {
    let state = ctx.state.clone();
    let report = tokio::task::spawn_blocking(move || state.store.maintenance()?.check())
        .await
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(body::json(StatusCode::OK, &report))
}
