//! `licd import-qlm`: a QLM shop's licences and activations from QLM's CSV exports
//! (docs/moving-from-qlm.md). Like `licd import`, it goes through the running daemon's admin
//! socket when licd runs, and opens the stopped database (created if missing) otherwise;
//! either way the licences are written in one store transaction.

use std::path::{Path, PathBuf};

use anyhow::Context;
use http::Method;
use licd::admin::client::{Connection, Open, json_request};

use super::{Location, block_on, read_json};

/// `licd import-qlm`.
#[derive(clap::Args)]
pub struct ImportQlmArgs {
    /// The licences: CSV with a header of QLM's LicenseKeys column names.
    #[arg(long)]
    from: PathBuf,
    /// The activations: CSV with a header of QLM's ActivationLog column names.
    #[arg(long)]
    activations: Option<PathBuf>,
    /// Import the rows that can be imported and report the others (default: a bad row
    /// stops the import and nothing is imported).
    #[arg(long)]
    skip_bad: bool,
    /// The vendor the licences are created for (default: `defaultCommerceProvider`, else
    /// the only vendor).
    #[arg(long)]
    vendor: Option<String>,
    #[command(flatten)]
    location: Location,
}

/// `licd import-qlm`: exit 1, with every bad row, when nothing was imported.
pub fn import_qlm(a: ImportQlmArgs) -> anyhow::Result<()> {
    block_on(async move {
        let licenses = read_file(&a.from)?;
        let activations = a.activations.as_deref().map(read_file).transpose()?;
        let mut conn = Connection::open(&a.location.load()?, Open::CreateIfMissing).await?;
        let through = if conn.is_daemon() {
            "into the running daemon"
        } else {
            "into the stopped database"
        };
        let request = serde_json::json!({
            "licences": licenses,
            "activations": activations,
            "skipBad": a.skip_bad,
            "vendor": a.vendor,
        });
        let reply = conn
            .call(json_request(Method::POST, "/v1/import-qlm", &request))
            .await;
        let result = match reply {
            Ok(r) => read_json(r.into_body()).await,
            Err(e) => Err(e.into()),
        };
        conn.close().await?;
        let result = result?;
        println!(
            "Imported {} licences ({} activations) {through}.",
            result["licences"], result["activations"]
        );
        let skipped = result["skipped"].as_array().map_or(&[][..], Vec::as_slice);
        if !skipped.is_empty() {
            eprintln!("Skipped {} rows:", skipped.len());
            for row in skipped {
                eprintln!(
                    "  {} line {}: {}",
                    if row["file"] == "activations" {
                        "activations file"
                    } else {
                        "licences file"
                    },
                    row["line"],
                    row["reason"].as_str().unwrap_or("?")
                );
            }
        }
        Ok(())
    })
}

/// A CSV file as text (QLM exports UTF-8; a byte-order mark is dropped by the reader).
fn read_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| {
        format!(
            "{} is not UTF-8 text; export it from QLM as UTF-8 CSV",
            path.display()
        )
    })
}
