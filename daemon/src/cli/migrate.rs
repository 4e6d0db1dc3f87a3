//! `licd migrate --to postgres`: a stopped redb database copied into an empty PostgreSQL one
//! (docs/scale-out.md, "Moving from redb"), in one PostgreSQL transaction, then checked.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use licd::config::{Config, DATABASE_FILE};
use licd::store::maintenance::{check_postgres, migrate_to_postgres};

use super::data::{postgres_settings, refuse_if_running};
use super::{Location, block_on};

/// The backend a database is moved to.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    /// A PostgreSQL database shared by licd nodes.
    Postgres,
}

/// `licd migrate`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The backend to copy the database into.
    #[arg(long, value_enum)]
    to: Target,
    /// The empty target database's connection URL (a secret: prefer --postgres-url-file).
    #[arg(
        long,
        conflicts_with = "postgres_url_file",
        required_unless_present = "postgres_url_file"
    )]
    postgres_url: Option<String>,
    /// A file holding the URL, checked as `postgresUrlFile` is (not writable by others).
    #[arg(long)]
    postgres_url_file: Option<PathBuf>,
    /// The redb side: its configuration and data directory, as the other data commands.
    #[command(flatten)]
    location: Location,
}

/// `licd migrate --to postgres`.
pub fn migrate(a: MigrateArgs) -> anyhow::Result<()> {
    let Target::Postgres = a.to;
    block_on(async move {
        let started = Instant::now();
        let config = a.location.load()?;
        let target = target_config(&a)?;
        let url = target.store.postgres_url.clone().unwrap_or_default();
        if let Err(why) = licd::store::postgres_url_problem(&url) {
            bail!("the PostgreSQL URL cannot be used: {why}");
        }
        let server = licd::store::postgres_server_name(&url);
        let data_dir = &config.server.data_dir;
        refuse_if_running(data_dir, "migrating it").await?;
        let db = data_dir.join(DATABASE_FILE);
        let settings = postgres_settings(&target);
        let loaded = migrate_to_postgres(&db, &settings).await?;
        println!(
            "Migrated {} into PostgreSQL at {server} in {} ms:",
            db.display(),
            started.elapsed().as_millis()
        );
        for (table, rows) in &loaded.rows {
            println!("  {table:<14} {rows:>10}");
        }
        let report = check_postgres(&settings)
            .await
            .context("the copy is committed, but could not be checked")?;
        for problem in &report.problems {
            println!("problem: {problem}");
        }
        if !report.problems.is_empty() {
            bail!(
                "the copy is committed, but `licd check` finds {} problems in it",
                report.problems.len()
            );
        }
        println!(
            "check: ok, {} licences and {} activations, as in {}.",
            report.licenses,
            report.activations,
            db.display()
        );
        Ok(())
    })
}

/// A configuration naming only the target, so that `--postgres-url-file` gets every check of
/// `postgresUrlFile` (owner-only writes, one line, a warning if everyone may read it).
fn target_config(a: &MigrateArgs) -> anyhow::Result<Config> {
    let setting = match (&a.postgres_url, &a.postgres_url_file) {
        (Some(url), _) => format!("postgresUrl = {}", toml_string(url)),
        (None, Some(file)) => {
            let file = file.to_str().context("the URL file's path is not UTF-8")?;
            format!("postgresUrlFile = {}", toml_string(file))
        }
        (None, None) => bail!("give --postgres-url or --postgres-url-file"),
    };
    let text = format!("[store]\nbackend = \"postgres\"\n{setting}\n");
    let config = Config::parse(&text, "--postgres-url", None)?;
    for warning in config.warnings() {
        eprintln!("licd: warning: {warning}");
    }
    Ok(config)
}

/// `s` as a TOML basic string (JSON's escapes are TOML's).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}
