//! `licd backup`, `restore`, `export`, `import`, `check`, `compact`: the whole database.
//!
//! Each tries the running daemon's admin socket first and works on the stopped database
//! otherwise. The command, never the daemon, writes output files: the service's sandbox may
//! not reach the admin's paths.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use http::Method;
use licd::admin::body;
use licd::admin::client::{Connection, Open, daemon, request};
use licd::admin::data::{LICENSES_HEADER, ROWS_HEADER};
use licd::config::{Backend, Config, DATABASE_FILE};
use licd::store::PostgresSettings;
use licd::store::maintenance::{
    CheckReport, check_postgres, export_postgres, import_into_postgres,
};
use licd::store::postgres_tools;

use super::{Location, OutputFile, block_on, read_json};

/// `licd backup`.
#[derive(clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (a redb database, mode 0600: it holds the server secret).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    location: Location,
}

/// `licd restore`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file written by `licd backup`.
    #[arg(long)]
    from: PathBuf,
    /// Replace a database that holds licences.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    location: Location,
}

/// `licd export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// The file to write (default: standard output). Mode 0600 unless --no-secrets.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave out the server secret and the licence-signing keys.
    #[arg(long)]
    no_secrets: bool,
    #[command(flatten)]
    location: Location,
}

/// `licd import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The export to read (default: standard input).
    #[arg(long)]
    from: Option<PathBuf>,
    #[command(flatten)]
    location: Location,
}

/// `licd backup`: a consistent snapshot, from the running daemon or the stopped database.
pub fn backup(a: BackupArgs) -> anyhow::Result<()> {
    block_on(async move {
        let started = Instant::now();
        let config = a.location.load()?;
        refuse_on_postgres(&config, postgres_tools::BACKUP)?;
        let mut out = OutputFile::create(&a.out, true)?;
        let mut conn = Connection::open(&config, Open::Existing).await?;
        let through = through(&conn);
        let reply = conn
            .call(request(Method::GET, "/v1/backup", body::empty()))
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                conn.close().await?;
                return Err(e.into());
            }
        };
        let header = |name| {
            reply
                .headers()
                .get(name)
                .and_then(|v: &http::HeaderValue| v.to_str().ok())
                .unwrap_or("?")
                .to_string()
        };
        let (rows, licenses) = (header(ROWS_HEADER), header(LICENSES_HEADER));
        let bytes = out.write_body(reply.into_body()).await;
        conn.close().await?;
        let bytes = bytes?;
        out.finish()?;
        println!(
            "Backed up {licenses} licences ({rows} rows, {bytes} bytes) {through} to {} in {} ms.",
            a.out.display(),
            started.elapsed().as_millis()
        );
        Ok(())
    })
}

/// How a command reached the database, for its report.
fn through(conn: &Connection) -> &'static str {
    if conn.is_daemon() {
        "from the running daemon"
    } else {
        "from the stopped database"
    }
}

/// `licd restore`: the daemon must be stopped.
pub fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    block_on(async move {
        let config = a.location.load()?;
        refuse_on_postgres(&config, postgres_tools::RESTORE)?;
        let data_dir = config.server.data_dir.clone();
        refuse_if_running(&data_dir, "restore").await?;
        licd::store::data_dir::create(&data_dir)?;
        let db = data_dir.join(DATABASE_FILE);
        let (from, force) = (a.from.clone(), a.force);
        let target = db.clone();
        let copied = tokio::task::spawn_blocking(move || {
            licd::store::maintenance::restore(&from, &target, force)
        })
        .await??;
        println!(
            "Restored {} licences ({} rows) from {} into {}.",
            copied.licenses,
            copied.rows,
            a.from.display(),
            db.display()
        );
        Ok(())
    })
}

/// `licd export`.
pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    block_on(async move {
        let secrets = !a.no_secrets;
        let config = a.location.load()?;
        if config.store.backend == Backend::Postgres {
            return export_postgres_database(&config, a.out.as_deref(), secrets).await;
        }
        let mut conn = Connection::open(&config, Open::Existing).await?;
        let path = if secrets {
            "/v1/export"
        } else {
            "/v1/export?secrets=false"
        };
        let reply = conn.call(request(Method::GET, path, body::empty())).await;
        let result = match (reply, &a.out) {
            (Err(e), _) => Err(e.into()),
            (Ok(reply), Some(path)) => {
                let mut out = OutputFile::create(path, secrets)?;
                let written = out.write_body(reply.into_body()).await;
                written.and_then(|_| out.finish())
            }
            (Ok(reply), None) => to_stdout(reply.into_body()).await,
        };
        conn.close().await?;
        result
    })
}

/// `licd export` with `backend = "postgres"`: straight from the database, one snapshot
/// while nodes serve.
async fn export_postgres_database(
    config: &Config,
    out: Option<&std::path::Path>,
    secrets: bool,
) -> anyhow::Result<()> {
    let settings = postgres_settings(config);
    match out {
        Some(path) => {
            let mut file = OutputFile::create(path, secrets)?;
            let mut buffered = std::io::BufWriter::new(file.writer());
            export_postgres(&settings, &mut buffered, secrets).await?;
            buffered.flush().context("cannot write the export")?;
            drop(buffered);
            file.finish()
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            match export_postgres(&settings, &mut stdout, secrets).await {
                Ok(_) => Ok(()),
                // A reader that went away (`licd export | head`) ends the export quietly.
                Err(licd::store::StoreError::File { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Copies a reply body to standard output as it arrives; a reader that went away
/// (`licd export | head`) ends the copy without an error.
async fn to_stdout(mut body: body::Body) -> anyhow::Result<()> {
    use http_body_util::BodyExt;
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the export broke off")?;
        if let Ok(data) = frame.into_data() {
            match out.write_all(&data) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e).context("cannot write to standard output"),
            }
        }
    }
    out.flush().context("cannot write to standard output")
}

/// `licd import`: into an empty database (a new data directory is created).
pub fn import(a: ImportArgs) -> anyhow::Result<()> {
    block_on(async move {
        let input: Box<dyn std::io::Read + Send> = match &a.from {
            Some(path) => Box::new(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
            None => Box::new(std::io::stdin()),
        };
        let config = a.location.load()?;
        if config.store.backend == Backend::Postgres {
            return import_into_postgres_database(input, &config).await;
        }
        let mut conn = Connection::open(&config, Open::CreateIfMissing).await?;
        let through = if conn.is_daemon() {
            "into the running daemon"
        } else {
            "into the stopped database"
        };
        let mut req = request(Method::POST, "/v1/import", body::from_reader(input));
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-ndjson"),
        );
        let reply = conn.call(req).await;
        let result = match reply {
            Ok(r) => read_json(r.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        let result = result?;
        println!("Imported {} rows {through}.", result["rows"]);
        if result["secrets"] == serde_json::Value::Bool(false) {
            warn_no_secret();
        }
        Ok(())
    })
}

fn warn_no_secret() {
    eprintln!(
        "warning: the file holds no server secret; this database made its own, so computer keys differ from the exporting server's"
    );
}

/// `licd import` with `backend = "postgres"`: straight into the empty database, in one
/// transaction (no node may have started on it: it would hold another server secret).
async fn import_into_postgres_database(
    input: Box<dyn std::io::Read + Send>,
    config: &Config,
) -> anyhow::Result<()> {
    let settings = postgres_settings(config);
    let loaded = import_into_postgres(input, &settings).await?;
    let rows: u64 = loaded.rows.iter().map(|(_, n)| n).sum();
    println!(
        "Imported {rows} rows into PostgreSQL at {}.",
        licd::store::postgres_server_name(&settings.url)
    );
    if !loaded.secrets {
        warn_no_secret();
    }
    Ok(())
}

/// `licd check`: licd's consistency checks through the daemon, or those and redb's page
/// checks on the stopped database. Exit 1 when a problem is found.
pub fn check(location: Location) -> anyhow::Result<()> {
    block_on(async move {
        let config = location.load()?;
        if config.store.backend == Backend::Postgres {
            let report = check_postgres(&postgres_settings(&config)).await?;
            return print_check(
                &report,
                "read from one snapshot while nodes serve; PostgreSQL's pages are pg_amcheck's to check",
            );
        }
        let report: CheckReport = match daemon(&config.server.data_dir).await? {
            Some(sender) => {
                let mut conn = Connection::Daemon(sender);
                let reply = conn
                    .call(request(Method::POST, "/v1/check", body::empty()))
                    .await?;
                serde_json::from_value(read_json(reply.into_body()).await?)
                    .context("the check report does not decode")?
            }
            None => {
                let db = config.server.data_dir.join(DATABASE_FILE);
                tokio::task::spawn_blocking(move || licd::store::maintenance::check_file(&db))
                    .await??
            }
        };
        let pages = if report.pages_checked {
            "page checksums verified"
        } else {
            "page checksums not verified: licd is running (stop it for the full check)"
        };
        print_check(&report, pages)
    })
}

/// Prints a check's problems and its summary with `scope` (what was and was not checked);
/// an error (exit 1) when a problem was found.
fn print_check(report: &CheckReport, scope: &str) -> anyhow::Result<()> {
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    if report.problems.is_empty() {
        println!(
            "ok: {} licences, {} activations; {scope}.",
            report.licenses, report.activations
        );
        Ok(())
    } else {
        bail!("{} problems found; {scope}", report.problems.len())
    }
}

/// How to reach the PostgreSQL database `config` names.
pub(super) fn postgres_settings(config: &Config) -> PostgresSettings {
    config.store.postgres_settings()
}

/// `licd compact`: the daemon must be stopped.
pub fn compact(location: Location) -> anyhow::Result<()> {
    block_on(async move {
        let config = location.load()?;
        refuse_on_postgres(&config, postgres_tools::COMPACT)?;
        refuse_if_running(&config.server.data_dir, "compact").await?;
        let db = config.server.data_dir.join(DATABASE_FILE);
        let sizes =
            tokio::task::spawn_blocking(move || licd::store::maintenance::compact_file(&db))
                .await??;
        println!(
            "Compacted: {} bytes before, {} after.",
            sizes.before, sizes.after
        );
        Ok(())
    })
}

/// Fails with `tool`'s advice when the licences live in PostgreSQL, whose own tools do this
/// (docs/scale-out.md).
fn refuse_on_postgres(config: &Config, tool: &str) -> anyhow::Result<()> {
    if config.store.backend == Backend::Postgres {
        bail!("{tool}");
    }
    Ok(())
}

/// Fails with the daemon's pid when a daemon serves `data_dir`.
pub(super) async fn refuse_if_running(
    data_dir: &std::path::Path,
    what: &str,
) -> anyhow::Result<()> {
    let Some(sender) = daemon(data_dir).await? else {
        return Ok(());
    };
    let mut conn = Connection::Daemon(sender);
    let status = conn
        .call(request(Method::GET, "/v1/status", body::empty()))
        .await?;
    let status = read_json(status.into_body()).await?;
    bail!(
        "licd is running on {} (pid {}); stop it before {what} (systemctl stop licd)",
        data_dir.display(),
        status["pid"]
    )
}
