//! Every table of the database in one list, with what backup, export and import need to
//! know of each: its key and value types, how its values read as JSON, and which rows are
//! secrets.
//!
//! A table added to `tables.rs` must be added to [`visit_all`] too, or `licd export` refuses
//! the database (it names the table) rather than silently leaving it out; a unit test checks
//! the list against a fresh database.

use redb::{Key, TableDefinition, Value};

use super::tables::*;
use crate::store::StoreError;

/// A key or value as owned data, read from one table and written to another (or to JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    /// `&str`.
    Str(String),
    /// `(&str, &str)`.
    StrStr(String, String),
    /// `(&str, u64)`.
    StrU64(String, u64),
    /// `&[u8]`.
    Bytes(Vec<u8>),
    /// `i64`.
    I64(i64),
    /// `()`.
    Unit,
}

/// A column type licd's tables use: convertible to and from a [`Cell`].
pub(crate) trait Column: Key + Value + 'static {
    /// The cell holding `v`.
    fn cell(v: Self::SelfType<'_>) -> Cell;
    /// `v` borrowed from `cell`, or `None` when the cell is of another type.
    fn from_cell(cell: &Cell) -> Option<Self::SelfType<'_>>;
}

impl Column for &'static str {
    fn cell(v: &str) -> Cell {
        Cell::Str(v.to_string())
    }
    fn from_cell(cell: &Cell) -> Option<&str> {
        match cell {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl Column for (&'static str, &'static str) {
    fn cell(v: (&str, &str)) -> Cell {
        Cell::StrStr(v.0.to_string(), v.1.to_string())
    }
    fn from_cell(cell: &Cell) -> Option<(&str, &str)> {
        match cell {
            Cell::StrStr(a, b) => Some((a, b)),
            _ => None,
        }
    }
}

impl Column for (&'static str, u64) {
    fn cell(v: (&str, u64)) -> Cell {
        Cell::StrU64(v.0.to_string(), v.1)
    }
    fn from_cell(cell: &Cell) -> Option<(&str, u64)> {
        match cell {
            Cell::StrU64(a, b) => Some((a, *b)),
            _ => None,
        }
    }
}

impl Column for &'static [u8] {
    fn cell(v: &[u8]) -> Cell {
        Cell::Bytes(v.to_vec())
    }
    fn from_cell(cell: &Cell) -> Option<&[u8]> {
        match cell {
            Cell::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl Column for i64 {
    fn cell(v: i64) -> Cell {
        Cell::I64(v)
    }
    fn from_cell(cell: &Cell) -> Option<i64> {
        match cell {
            Cell::I64(n) => Some(*n),
            _ => None,
        }
    }
}

impl Column for () {
    fn cell(_: ()) -> Cell {
        Cell::Unit
    }
    fn from_cell(cell: &Cell) -> Option<()> {
        matches!(cell, Cell::Unit).then_some(())
    }
}

/// How a table's values read in an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// The bytes are JSON and are embedded as they are.
    Json,
    /// Binary bytes, written as lower-case hex.
    Hex,
    /// Integers or nothing, written as JSON numbers or `null`.
    Plain,
}

/// What backup, export and import need to know of one table besides its types.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableSpec {
    /// The table's name in the file (`licenses_v1`).
    pub name: &'static str,
    /// How its values read in an export.
    pub encoding: Encoding,
    /// Keys of the rows that are secrets (left out by `--no-secrets`); `None`: every row is.
    pub secret_rows: Option<&'static [&'static str]>,
    /// Whether licence data lives here (import refuses a database where such a table has rows).
    pub data: bool,
    /// Whether `licd export` carries the table. Short-lived rows (authorization codes, valid
    /// minutes) are not carried: an export moves a database, and a code mailed before the
    /// move can be requested again after it. Backups copy every table.
    pub exported: bool,
}

impl TableSpec {
    /// Whether the row with key `key` is a secret.
    pub fn is_secret(&self, key: &Cell) -> bool {
        match (self.secret_rows, key) {
            (None, _) => true,
            (Some(rows), Cell::Str(k)) => rows.contains(&k.as_str()),
            (Some(_), _) => false,
        }
    }
}

/// Called once per table by [`visit_all`].
pub(crate) trait TableVisitor {
    /// Visits the table `def` described by `spec`.
    fn visit<K: Column, V: Column>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        spec: TableSpec,
    ) -> Result<(), StoreError>;
}

const fn spec(name: &'static str, encoding: Encoding, data: bool) -> TableSpec {
    TableSpec {
        name,
        encoding,
        secret_rows: Some(&[]),
        data,
        exported: true,
    }
}

/// Visits every table of the database, in a fixed order.
pub(crate) fn visit_all(v: &mut impl TableVisitor) -> Result<(), StoreError> {
    v.visit(
        META,
        TableSpec {
            secret_rows: Some(&[SECRET_KEY]),
            ..spec("meta_v1", Encoding::Hex, false)
        },
    )?;
    v.visit(LICENSES, spec("licenses_v1", Encoding::Json, true))?;
    v.visit(ACTIVATIONS, spec("activations_v1", Encoding::Json, true))?;
    v.visit(HISTORY, spec("history_v1", Encoding::Json, true))?;
    v.visit(RELEASES, spec("releases_v1", Encoding::Plain, true))?;
    v.visit(COUNTERS, spec("counters_v1", Encoding::Plain, false))?;
    v.visit(ORDERS, spec("orders_v1", Encoding::Json, true))?;
    v.visit(
        SUBSCRIPTIONS,
        spec("subscriptions_v1", Encoding::Plain, true),
    )?;
    v.visit(
        VENDOR_GROUPS,
        spec("vendor_groups_v1", Encoding::Plain, true),
    )?;
    v.visit(CUSTOMERS, spec("customers_v1", Encoding::Json, true))?;
    v.visit(
        CUSTOMER_EMAILS,
        spec("customer_emails_v1", Encoding::Json, true),
    )?;
    v.visit(
        CUSTOMER_LICENSES,
        spec("customer_licenses_v1", Encoding::Plain, true),
    )?;
    v.visit(REPLAYS, spec("replays_v1", Encoding::Json, true))?;
    v.visit(REPLAY_ORDER, spec("replay_order_v1", Encoding::Json, true))?;
    // Every row is a secret: a queued body may hold an authorization code, so
    // `--no-secrets` leaves pending mail out.
    v.visit(
        MAIL_OUTBOX,
        TableSpec {
            secret_rows: None,
            ..spec("mail_outbox_v1", Encoding::Json, true)
        },
    )?;
    // Events waiting for their endpoint are not carried by an export: they belong to the
    // daemon that made them (a backup, a copy of the file, keeps them).
    v.visit(
        WEBHOOK_OUTBOX,
        TableSpec {
            exported: false,
            ..spec("webhook_outbox_v1", Encoding::Json, false)
        },
    )?;
    v.visit(
        ANALYTICS_INSTALLS,
        spec("analytics_installs_v1", Encoding::Json, true),
    )?;
    v.visit(
        ANALYTICS_COUNTS,
        spec("analytics_counts_v1", Encoding::Plain, true),
    )?;
    v.visit(
        SIGNING_KEYS,
        TableSpec {
            secret_rows: None,
            ..spec("signing_keys_v1", Encoding::Json, true)
        },
    )?;
    v.visit(
        AUTH_CODES,
        TableSpec {
            exported: false,
            ..spec("auth_codes_v1", Encoding::Json, false)
        },
    )?;
    // Staff sessions belong to the daemon that made them, like authorization codes: an
    // export logs nobody in elsewhere.
    v.visit(
        CONSOLE_SESSIONS,
        TableSpec {
            exported: false,
            ..spec("console_sessions_v1", Encoding::Json, false)
        },
    )?;
    v.visit(
        AUTH_CODES_BY_EMAIL,
        TableSpec {
            exported: false,
            ..spec("auth_codes_by_email_v1", Encoding::Plain, false)
        },
    )?;
    Ok(())
}

/// The names of every table [`visit_all`] visits.
pub(crate) fn known_table_names() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl TableVisitor for Names {
        fn visit<K: Column, V: Column>(
            &mut self,
            _: TableDefinition<'static, K, V>,
            spec: TableSpec,
        ) -> Result<(), StoreError> {
            self.0.push(spec.name);
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    // Collecting names cannot fail.
    let _ = visit_all(&mut names);
    names.0
}

/// Tables in the file that [`visit_all`] does not know: a newer licd's, or one added to
/// `tables.rs` and forgotten here.
pub(crate) fn unknown_tables(txn: &redb::ReadTransaction) -> Result<Vec<String>, StoreError> {
    use redb::{MultimapTableHandle, TableHandle};
    let known = known_table_names();
    let mut unknown: Vec<String> = txn
        .list_tables()?
        .map(|t| t.name().to_string())
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    unknown.extend(txn.list_multimap_tables()?.map(|t| t.name().to_string()));
    Ok(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;
    use crate::store::embedded::RedbStore;

    #[test]
    fn every_table_of_a_fresh_database_is_in_the_list() {
        let dir = tempfile::tempdir().expect("dir");
        let store = RedbStore::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        let reader = store.reader().expect("reader");
        assert_eq!(
            unknown_tables(&reader.txn).expect("list"),
            Vec::<String>::new()
        );
        let names = known_table_names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a table listed twice: {names:?}");
    }

    #[test]
    fn cells_convert_back_to_the_column_types() {
        let c = <(&str, u64)>::cell(("k", 7));
        assert_eq!(<(&str, u64)>::from_cell(&c), Some(("k", 7)));
        assert_eq!(<&str>::from_cell(&c), None);
        assert_eq!(<()>::from_cell(&Cell::Unit), Some(()));
        assert_eq!(i64::from_cell(&Cell::I64(-3)), Some(-3));
    }
}
