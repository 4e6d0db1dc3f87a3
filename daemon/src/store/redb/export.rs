//! `licd export`: every table as JSON lines, so that a round trip through `licd import`
//! (`super::import`) is lossless and the data can be read, diffed or moved by other tools.
//!
//! ```text
//! {"format":"licd-export","version":1,"licd":"0.1.0","schema":1,"secrets":true}
//! {"table":"licenses_v1","key":"A7K…","value":{…the licence as stored…}}
//! {"table":"activations_v1","key":["A7K…","PC-7"],"value":{…}}
//! {"table":"counters_v1","key":"licences","value":12}
//! {"end":{"rows":1234}}
//! ```
//!
//! Values stored as JSON are embedded byte for byte, binary values (`meta_v1`) are hex.
//! The export reads one read transaction, so it is a consistent snapshot. Without secrets
//! the server secret and the licence-signing keys are left out; a database imported from
//! such a file makes a new server secret, so computer keys change. The `end` line lets
//! import refuse a truncated file.

use std::io::Write;

use redb::{ReadTransaction, TableDefinition};
use serde_json::value::RawValue;

use super::RedbStore;
use super::columns::{Cell, Column, Encoding, TableSpec, TableVisitor, unknown_tables, visit_all};
use super::tables::SCHEMA_VERSION;
use crate::store::StoreError;

/// The `format` of the header line.
pub(crate) const FORMAT: &str = "licd-export";
/// The `version` of the line layout.
pub(crate) const LAYOUT_VERSION: u64 = 1;

impl RedbStore {
    /// Writes every table as JSON lines to `out` from one read transaction; without
    /// `secrets`, leaves out the server secret and the signing keys. Returns the row count.
    pub fn export_to(&self, out: &mut dyn Write, secrets: bool) -> Result<u64, StoreError> {
        let reader = self.reader()?;
        export(&reader.txn, out, secrets)
    }
}

/// Writes the export of `txn` to `out`.
fn export(txn: &ReadTransaction, out: &mut dyn Write, secrets: bool) -> Result<u64, StoreError> {
    let unknown = unknown_tables(txn)?;
    if !unknown.is_empty() {
        return Err(StoreError::Unusable(format!(
            "the database has tables this licd does not know ({}); export it with the licd that wrote them",
            unknown.join(", ")
        )));
    }
    let io = |source| StoreError::File {
        what: "cannot write the export",
        path: "-".into(),
        source,
    };
    let header = serde_json::json!({
        "format": FORMAT,
        "version": LAYOUT_VERSION,
        "licd": env!("CARGO_PKG_VERSION"),
        "schema": SCHEMA_VERSION,
        "secrets": secrets,
    });
    writeln!(out, "{header}").map_err(io)?;
    let mut exporter = Exporter {
        txn,
        out,
        secrets,
        rows: 0,
    };
    visit_all(&mut exporter)?;
    let rows = exporter.rows;
    writeln!(out, "{}", serde_json::json!({ "end": { "rows": rows } })).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(rows)
}

struct Exporter<'a> {
    txn: &'a ReadTransaction,
    out: &'a mut dyn Write,
    secrets: bool,
    rows: u64,
}

impl TableVisitor for Exporter<'_> {
    fn visit<K: Column, V: Column>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        spec: TableSpec,
    ) -> Result<(), StoreError> {
        if !spec.exported {
            return Ok(());
        }
        let table = match self.txn.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let name = serde_json::to_string(spec.name).map_err(corrupt)?;
        for row in redb::ReadableTable::iter(&table)? {
            let (k, v) = row?;
            let key = K::cell(k.value());
            if !self.secrets && spec.is_secret(&key) {
                continue;
            }
            let key = key_json(&key);
            let value = value_json(&V::cell(v.value()), spec)?;
            writeln!(
                self.out,
                "{{\"table\":{name},\"key\":{key},\"value\":{value}}}"
            )
            .map_err(|source| StoreError::File {
                what: "cannot write the export",
                path: "-".into(),
                source,
            })?;
            self.rows += 1;
        }
        Ok(())
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(super) fn key_json(key: &Cell) -> serde_json::Value {
    use serde_json::json;
    match key {
        Cell::Str(s) => json!(s),
        Cell::StrStr(a, b) => json!([a, b]),
        Cell::StrU64(a, n) => json!([a, n]),
        Cell::Bytes(b) => json!(hex(b)),
        Cell::I64(n) => json!(n),
        Cell::Unit => serde_json::Value::Null,
    }
}

/// A value as export text: JSON bytes as they are, binary as hex, numbers and unit plain.
fn value_json(value: &Cell, spec: TableSpec) -> Result<String, StoreError> {
    Ok(match (value, spec.encoding) {
        (Cell::Bytes(b), Encoding::Json) => {
            let raw: &RawValue = serde_json::from_slice(b).map_err(|e| {
                StoreError::Corrupt(format!("a value in {} is not JSON: {e}", spec.name))
            })?;
            raw.get().to_string()
        }
        (Cell::Bytes(b), _) => format!("\"{}\"", hex(b)),
        (Cell::I64(n), _) => n.to_string(),
        (Cell::Unit, _) => "null".to_string(),
        (other, _) => key_json(other).to_string(),
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl super::RedbReader {
    /// Calls `f` with every licence, in key order, stopping at the first error.
    pub fn for_each_license(
        &self,
        f: &mut dyn FnMut(crate::license::License) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let table = self.txn.open_table(super::tables::LICENSES)?;
        for row in redb::ReadableTable::iter(&table)? {
            let (_, v) = row?;
            f(super::tables::decode(v.value())?)?;
        }
        Ok(())
    }
}
