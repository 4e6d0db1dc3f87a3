//! `POST /v1/import-qlm`: a QLM shop's licences and activations from QLM's CSV exports
//! (`crate::qlm_import`), written in one store transaction through the writer, like every
//! change, so it runs the same against the running daemon and a stopped database.

use std::time::Instant;

use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use serde::{Deserialize, Serialize};

use super::api::{AdminCtx, Refusal, Reply};
use super::body::{self, Body};
use super::keys::{COMMAND_DEADLINE, acting_vendor};
use crate::license::dates;
use crate::qlm_import::{self, BadRow, Settings};
use crate::store::commands::{ImportLegacy, LegacyImported, LegacyLicense};

/// Largest request: two CSV files of a large shop (a QLM row is a few hundred bytes).
const MAX_REQUEST_BYTES: usize = 256 << 20;

/// `POST /v1/import-qlm`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportRequest {
    /// The licences file (LicenseKeys columns).
    #[serde(rename = "licences")]
    licenses: String,
    /// The activations file (ActivationLog columns).
    #[serde(default)]
    activations: Option<String>,
    /// Import the good rows and report the bad ones, rather than nothing.
    #[serde(default)]
    skip_bad: bool,
    /// The vendor the licences are created for (as `licd keys create`).
    #[serde(default)]
    vendor: Option<String>,
}

/// `POST /v1/import-qlm` reply.
#[derive(Serialize)]
struct ImportReply {
    #[serde(rename = "licences")]
    licenses: usize,
    activations: usize,
    skipped: Vec<BadRow>,
}

/// Reads both files, then writes every licence in one transaction, or nothing when a row
/// is bad and `skipBad` is not set (422, every bad row in the message, one a line).
pub async fn import(ctx: &AdminCtx, body: Body) -> Reply {
    let request = read_request(body).await?;
    let now = dates::now();
    let plan = read_files(ctx, &request, now)?;
    if !plan.bad.is_empty() && !request.skip_bad {
        return Err(nothing_imported(&plan.bad));
    }
    let lines: Vec<u64> = plan.licenses.iter().map(|p| p.line).collect();
    let command = ImportLegacy {
        licenses: plan
            .licenses
            .into_iter()
            .map(|p| LegacyLicense {
                line: p.line,
                license: p.license,
                activations: p.activations,
            })
            .collect(),
        skip_existing: request.skip_bad,
        now,
    };
    let done: LegacyImported = ctx
        .state
        .store
        .run(command, Instant::now() + COMMAND_DEADLINE)
        .await
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut skipped = plan.bad;
    skipped.extend(done.existing.iter().map(|&line| BadRow {
        file: qlm_import::File::Licenses,
        line,
        reason: "a licence with this key is already stored; it is not overwritten".into(),
    }));
    skipped.sort_by_key(|b| (b.file == qlm_import::File::Activations, b.line));
    if !done.written {
        return Err(nothing_imported(&skipped));
    }
    tracing::info!(
        licenses = done.licenses,
        activations = done.activations,
        skipped = skipped.len(),
        rows = lines.len(),
        "QLM licences imported"
    );
    Ok(body::json(
        StatusCode::OK,
        &ImportReply {
            licenses: done.licenses,
            activations: done.activations,
            skipped,
        },
    ))
}

/// Reads both files against the configuration in force.
fn read_files(
    ctx: &AdminCtx,
    request: &ImportRequest,
    now: i64,
) -> Result<qlm_import::Plan, Refusal> {
    let config = ctx.state.config();
    let vendor = acting_vendor(&config, request.vendor.as_deref())?;
    let product_defined = |id, major, minor| config.product(id, major, minor).is_some();
    let settings = Settings {
        vendor: &vendor.name,
        qlm_version: &config.options.default_qlm_version,
        now,
        product_defined: &product_defined,
    };
    qlm_import::read(
        request.licenses.as_bytes(),
        request.activations.as_deref().map(str::as_bytes),
        &settings,
    )
    .map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// The request, read with a limit fit for a shop's export (the JSON limit of other
/// endpoints is 1 MiB).
async fn read_request(body: Body) -> Result<ImportRequest, Refusal> {
    let bytes = Limited::new(body, MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|e| Refusal::bad(format!("cannot read the request: {e}")))?
        .to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| Refusal::bad(format!("the request is not valid JSON: {e}")))
}

/// 422: the bad rows, one a line, and that nothing was imported.
fn nothing_imported(bad: &[BadRow]) -> Refusal {
    let mut message = format!(
        "{} {} cannot be imported, so nothing was imported (--skip-bad imports the others):",
        bad.len(),
        if bad.len() == 1 { "row" } else { "rows" }
    );
    for row in bad {
        message.push_str(&format!("\n  {row}"));
    }
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}
