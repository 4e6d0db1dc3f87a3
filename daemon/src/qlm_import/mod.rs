//! `licd import-qlm`: a QLM shop's licences and activations, read from QLM's CSV exports
//! (docs/moving-from-qlm.md), as licences with legacy keys (`license::legacy_key`).
//!
//! Reading is pure: the files' bytes and the server's settings in, the licences to store
//! and the rows that cannot be imported out. The store then writes the licences in one
//! transaction (`store::commands::ImportLegacy`).

pub mod columns;
pub mod rows;

use std::collections::HashMap;
use std::fmt;

use csv::StringRecord;
use serde::Serialize;

use columns::Header;
pub use rows::Settings;

use crate::license::keys::ActivationKey;
use crate::license::{Activation, License};

/// Which of the two files a row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum File {
    /// The licences file (QLM's LicenseKeys table).
    #[serde(rename = "licences")]
    Licenses,
    /// The activations file (QLM's ActivationLog table).
    Activations,
}

impl fmt::Display for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            File::Licenses => "licences file",
            File::Activations => "activations file",
        })
    }
}

/// A row that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// The file it is in.
    pub file: File,
    /// Its line in that file (1 is the header; a quoted field may span lines, and the
    /// row's first line is given).
    pub line: u64,
    /// Why, naming the column.
    pub reason: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.reason)
    }
}

/// A licence to import, with its activations.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Its line in the licences file.
    pub line: u64,
    /// The licence (`activations_used` counts `activations`).
    pub license: License,
    /// Its activations, in file order.
    pub activations: Vec<Activation>,
}

/// What the files hold: the licences that can be imported and the rows that cannot.
#[derive(Debug, Default)]
pub struct Plan {
    /// The licences, in file order.
    pub licenses: Vec<Planned>,
    /// The rows that cannot be imported, in file order (licences file first).
    pub bad: Vec<BadRow>,
}

/// Why a file cannot be read at all (not one bad row: its header, say).
#[derive(Debug, thiserror::Error)]
#[error("the {file}: {reason}")]
pub struct FileError {
    /// The file.
    pub file: File,
    /// Why.
    pub reason: String,
}

/// Reads the licences file and, if given, the activations file.
pub fn read(
    licenses_csv: &[u8],
    activations_csv: Option<&[u8]>,
    settings: &Settings<'_>,
) -> Result<Plan, FileError> {
    let mut plan = Plan::default();
    // Stored key → index in `plan.licenses`, or the line of a bad licence row.
    let mut by_key: HashMap<String, Result<usize, u64>> = HashMap::new();
    let licenses = &mut plan.licenses;
    for_each_row(
        licenses_csv,
        File::Licenses,
        |r: &StringRecord| Header::licenses(r),
        |h, line, record| {
            let license = match rows::license(h, record, settings) {
                Ok(license) => license,
                Err(reason) => {
                    // A bad licence row still claims its key, so that its activations are
                    // reported against it rather than as keys of no licence.
                    if let Some(key) = h
                        .get(record, columns::LicenseColumn::ActivationKey)
                        .and_then(|k| ActivationKey::legacy(k).ok())
                    {
                        by_key.entry(key.as_str().to_string()).or_insert(Err(line));
                    }
                    return Err(reason);
                }
            };
            let first = match by_key.get(&license.key) {
                Some(Ok(i)) => licenses[*i].line,
                Some(Err(first)) => *first,
                None => {
                    by_key.insert(license.key.clone(), Ok(licenses.len()));
                    licenses.push(Planned {
                        line,
                        license,
                        activations: Vec::new(),
                    });
                    return Ok(());
                }
            };
            Err(format!("the key is already on line {first}"))
        },
        &mut plan.bad,
    )?;
    let Some(activations_csv) = activations_csv else {
        return Ok(plan);
    };
    let mut bad = Vec::new();
    let licenses = &mut plan.licenses;
    let mut computers: HashMap<(String, String), u64> = HashMap::new();
    for_each_row(
        activations_csv,
        File::Activations,
        |r: &StringRecord| Header::activations(r),
        |h, line, record| {
            let (key, activation) = rows::activation(h, record, settings.now)?;
            let planned = match by_key.get(key.as_str()) {
                Some(Ok(i)) => &mut licenses[*i],
                Some(Err(first)) => {
                    return Err(format!(
                        "its licence (licences file line {first}) cannot be imported"
                    ));
                }
                None => return Err("no licence of the licences file has this key".into()),
            };
            let computer = (key.as_str().to_string(), activation.computer_id.clone());
            if let Some(first) = computers.get(&computer) {
                return Err(format!(
                    "computer {:?} is already activated with this key on line {first}",
                    activation.computer_id
                ));
            }
            let allowed = planned.license.activations_allowed;
            if planned.activations.len() >= allowed as usize {
                return Err(format!(
                    "the licence (licences file line {}) allows {allowed} activations, and this is one more",
                    planned.line
                ));
            }
            computers.insert(computer, line);
            let l = &mut planned.license;
            l.activations_used += 1;
            l.first_activation = Some(
                l.first_activation
                    .map_or(activation.activated_at, |t| t.min(activation.activated_at)),
            );
            planned.activations.push(activation);
            Ok(())
        },
        &mut bad,
    )?;
    plan.bad.extend(bad);
    Ok(plan)
}

/// Reads a CSV file: its header with `header`, then each row with `row`; a row that fails
/// (a CSV error, or `row`'s reason) goes into `bad` with its line.
fn for_each_row<H>(
    csv_bytes: &[u8],
    file: File,
    header: impl Fn(&StringRecord) -> Result<H, String>,
    mut row: impl FnMut(&H, u64, &StringRecord) -> Result<(), String>,
    bad: &mut Vec<BadRow>,
) -> Result<(), FileError> {
    let file_error = |reason: String| FileError { file, reason };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(csv_bytes);
    let names = reader
        .headers()
        .map_err(|e| file_error(format!("its header cannot be read: {e}")))?
        .clone();
    if names.iter().all(str::is_empty) {
        return Err(file_error(
            "it is empty; a header of QLM's column names is expected".into(),
        ));
    }
    let h = header(&names).map_err(file_error)?;
    let mut lines = LineCounter::new(csv_bytes);
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = lines.line_at(record.position());
                if let Err(reason) = row(&h, line, &record) {
                    bad.push(BadRow { file, line, reason });
                }
            }
            Err(e) => {
                let line = lines.line_at(e.position());
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    return Err(file_error(format!("line {line}: {e}")));
                }
                bad.push(BadRow {
                    file,
                    line,
                    reason: csv_reason(&e),
                });
            }
        }
    }
}

/// The line a record starts on, counted from its byte offset: the csv reader's own line
/// count lags by one after a CRLF line end (Windows exports end lines so), since it reads
/// the LF as the start of the next record.
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Bytes counted so far, and the line at that offset.
    counted: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            counted: 0,
            line: 1,
        }
    }

    /// The line of a record at `position` (records come in file order, so counting goes
    /// on from the last record: linear in the file). An LF at the offset itself belongs to
    /// the line before, so it is counted.
    fn line_at(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return self.line;
        };
        let end = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(self.bytes.len());
        if end > self.counted {
            let newlines = self.bytes[self.counted..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.counted = end;
        }
        self.line
    }
}

/// A CSV error in words, without the position (the line is reported beside it).
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields; the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => {
            "the row is not UTF-8 text (export the file as UTF-8)".into()
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
