//! `licd import`: an export (JSON lines, `super::export`) into a database that holds no
//! licence data yet.
//!
//! The whole file is read and checked before anything is written: its header, every line,
//! the tables it names and the row count of its `end` line (a truncated file is refused).
//! The rows are then written in one write transaction, so a failure writes nothing. That
//! transaction waits for the writer's batch in progress and holds the writer off until the
//! import is in: redb runs one write transaction at a time.

use std::collections::HashMap;
use std::io::BufRead;

use redb::{ReadableTableMetadata, TableDefinition};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::RedbStore;
use super::columns::{Cell, Column, Encoding, TableSpec, TableVisitor, visit_all};
use super::export::{FORMAT, LAYOUT_VERSION, key_json};
use super::tables::{SCHEMA_VERSION, SECRET_KEY};
use crate::store::StoreError;

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Rows written.
    pub rows: u64,
    /// Whether the file carried the server secret (and signing keys).
    pub secrets: bool,
}

impl RedbStore {
    /// Imports an export into this database, which must hold no licence data.
    ///
    /// `running`: the store serves requests and keeps its server secret in memory, so a file
    /// carrying another secret is refused (stop licd and import into the stopped database).
    pub fn import_from(
        &self,
        input: &mut dyn BufRead,
        running: bool,
    ) -> Result<Imported, StoreError> {
        let rows = parse(input)?;
        let secrets = rows.secrets;
        if running
            && let Some(secret) = rows.secret()
            && secret != self.secret().as_slice()
        {
            return Err(StoreError::Unusable(
                "the file carries another server secret than the running licd's, which it keeps in memory; stop licd and import into the stopped database".into(),
            ));
        }
        let db = self.shared.db()?;
        let txn = db.begin_write()?;
        let mut writer = RowWriter {
            txn: &txn,
            rows: rows.by_table,
            written: 0,
        };
        visit_all(&mut writer)?;
        if let Some(table) = writer.rows.keys().next() {
            // Dropping the transaction aborts it: nothing is written.
            return Err(StoreError::Unusable(format!(
                "the file has rows of a table this licd does not know ({table})"
            )));
        }
        let written = writer.written;
        super::vendor_groups::fill_vendor_groups(&txn)?;
        super::customers::fill_customers(&txn)?;
        {
            let _under_way = self.shared.cache.commit_under_way();
            txn.commit()?;
        }
        Ok(Imported {
            rows: written,
            secrets,
        })
    }
}

pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Rows of an export by table name: each key, and its value as written in the file.
type RowsByTable = HashMap<String, Vec<(Cell, Box<RawValue>)>>;

/// The rows of a parsed export.
struct ParsedExport {
    by_table: RowsByTable,
    secrets: bool,
}

impl ParsedExport {
    /// The server secret the file carries, if any.
    fn secret(&self) -> Option<Vec<u8>> {
        self.by_table.get("meta_v1")?.iter().find_map(|(k, v)| {
            (k == &Cell::Str(SECRET_KEY.into()))
                .then(|| serde_json::from_str::<String>(v.get()).ok())
                .flatten()
                .and_then(|h| unhex(&h))
        })
    }
}

/// The header line of an export (also read by the PostgreSQL backend's load).
#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) format: String,
    pub(crate) version: u64,
    pub(crate) schema: u64,
    pub(crate) secrets: bool,
}

/// A row line or the end line of an export.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Line {
    pub(crate) table: Option<String>,
    pub(crate) key: Option<serde_json::Value>,
    // Present-but-null is a value (`()` rows), not a missing one.
    #[serde(default, deserialize_with = "present")]
    pub(crate) value: Option<Box<RawValue>>,
    pub(crate) end: Option<End>,
}

/// Any value that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// The end line's count of the rows before it.
#[derive(Deserialize)]
pub(crate) struct End {
    pub(crate) rows: u64,
}

/// Reads a whole export, checking its header, every line and its `end` line, before
/// anything is written.
fn parse(input: &mut dyn BufRead) -> Result<ParsedExport, StoreError> {
    let bad =
        |n: usize, why: String| StoreError::Unusable(format!("line {n} of the import: {why}"));
    let mut lines = input.lines().enumerate();
    let header: Header = match lines.next() {
        Some((_, Ok(text))) => serde_json::from_str(&text)
            .map_err(|e| bad(1, format!("not a licd export header ({e})")))?,
        Some((_, Err(e))) => return Err(bad(1, e.to_string())),
        None => return Err(StoreError::Unusable("the import is empty".into())),
    };
    if header.format != FORMAT || header.version != LAYOUT_VERSION {
        return Err(bad(
            1,
            format!(
                "format {} version {} is not {FORMAT} version {LAYOUT_VERSION}",
                header.format, header.version
            ),
        ));
    }
    if header.schema > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: header.schema,
            supported: SCHEMA_VERSION,
        });
    }
    let mut by_table = RowsByTable::new();
    for (i, text) in lines {
        let n = i + 1;
        let text = text.map_err(|e| bad(n, e.to_string()))?;
        let line: Line = serde_json::from_str(&text).map_err(|e| bad(n, e.to_string()))?;
        if let Some(end) = line.end {
            let count: u64 = by_table.values().map(|rows| rows.len() as u64).sum();
            if end.rows != count {
                return Err(bad(
                    n,
                    format!("the file says {} rows but holds {count}", end.rows),
                ));
            }
            return Ok(ParsedExport {
                by_table,
                secrets: header.secrets,
            });
        }
        let (Some(table), Some(key), Some(value)) = (line.table, line.key, line.value) else {
            return Err(bad(n, "a row needs table, key and value".into()));
        };
        let key = key_cell(&key).ok_or_else(|| bad(n, format!("key {key} has no known type")))?;
        by_table.entry(table).or_default().push((key, value));
    }
    Err(StoreError::Unusable(
        "the import ends without its end line: the file is truncated".into(),
    ))
}

fn key_cell(key: &serde_json::Value) -> Option<Cell> {
    use serde_json::Value as J;
    match key {
        J::String(s) => Some(Cell::Str(s.clone())),
        J::Array(parts) => match parts.as_slice() {
            [J::String(a), J::String(b)] => Some(Cell::StrStr(a.clone(), b.clone())),
            [J::String(a), J::Number(n)] => Some(Cell::StrU64(a.clone(), n.as_u64()?)),
            _ => None,
        },
        _ => None,
    }
}

/// A value read from an export, as the cell its table stores.
fn value_cell(value: &RawValue, spec: TableSpec) -> Option<Cell> {
    use serde_json::Value as J;
    match spec.encoding {
        // The text as written, not re-serialised: a round trip keeps every byte.
        Encoding::Json => Some(Cell::Bytes(value.get().as_bytes().to_vec())),
        Encoding::Hex => unhex(&serde_json::from_str::<String>(value.get()).ok()?).map(Cell::Bytes),
        Encoding::Plain => match serde_json::from_str::<J>(value.get()).ok()? {
            J::Number(n) => n.as_i64().map(Cell::I64),
            J::Null => Some(Cell::Unit),
            _ => None,
        },
    }
}

struct RowWriter<'a> {
    txn: &'a redb::WriteTransaction,
    rows: RowsByTable,
    written: u64,
}

impl TableVisitor for RowWriter<'_> {
    fn visit<K: Column, V: Column>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        spec: TableSpec,
    ) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(def)?;
        if spec.data && table.len()? > 0 {
            return Err(StoreError::NotEmpty(format!(
                "the database already holds data ({} is not empty); import only into a new data directory or an empty database",
                spec.name
            )));
        }
        let Some(rows) = self.rows.remove(spec.name) else {
            return Ok(());
        };
        for (key, value) in rows {
            let value_cell = value_cell(&value, spec);
            let value = value.get();
            let (Some(k), Some(v)) = (
                K::from_cell(&key),
                value_cell.as_ref().and_then(|c| V::from_cell(c)),
            ) else {
                return Err(StoreError::Unusable(format!(
                    "a row of {} has a key or value of the wrong type: {} = {value}",
                    spec.name,
                    key_json(&key)
                )));
            };
            table.insert(k, v)?;
            self.written += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn exported(store: &RedbStore) -> String {
        let mut out = Vec::new();
        store.export_to(&mut out, true).expect("export");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_truncated_or_miscounted_export_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("dir");
        let source = RedbStore::open(&dir.path().join("a"), StoreOptions::default()).expect("open");
        let text = exported(&source);
        let target = RedbStore::open(&dir.path().join("b"), StoreOptions::default()).expect("open");
        let before = exported(&target);
        let truncated: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        let e = target
            .import_from(&mut truncated.as_bytes(), false)
            .expect_err("truncated");
        assert!(e.to_string().contains("truncated"), "{e}");
        let miscounted = text.replace("{\"end\":{\"rows\":", "{\"end\":{\"rows\":9");
        let e = target
            .import_from(&mut miscounted.as_bytes(), false)
            .expect_err("miscounted");
        assert!(e.to_string().contains("rows but holds"), "{e}");
        assert_eq!(
            exported(&target),
            before,
            "a refused import wrote something"
        );
    }

    #[test]
    fn rows_of_an_unknown_table_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("a"), StoreOptions::default()).expect("open");
        let text = "{\"format\":\"licd-export\",\"version\":1,\"schema\":1,\"secrets\":false}\n\
                    {\"table\":\"future_v9\",\"key\":\"k\",\"value\":1}\n{\"end\":{\"rows\":1}}\n";
        let e = store
            .import_from(&mut text.as_bytes(), false)
            .expect_err("unknown table");
        assert!(e.to_string().contains("future_v9"), "{e}");
    }

    #[test]
    fn hex_survives_a_round_trip() {
        use crate::store::embedded::export::hex;
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
