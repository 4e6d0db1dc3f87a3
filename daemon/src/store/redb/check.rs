//! `licd check` and `licd compact`.
//!
//! The check has two parts. redb's own integrity check (every page checksum) needs the file
//! to itself, so it runs only on a stopped database. licd's consistency checks read one read
//! transaction and so also run inside a serving daemon: every value decodes, every
//! activation, history entry, release, order and subscription names a licence that exists,
//! each licence's seat count matches its activation rows, the licence counter matches the
//! licences stored, and every replay row has its age-order entry and the reverse.

use std::collections::HashMap;
use std::path::Path;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::RedbStore;
use super::columns::unknown_tables;
use super::tables::*;
use crate::license::{Activation, License};
use crate::store::StoreError;

/// Most problems listed in one report; a badly damaged file would otherwise list millions.
const MAX_PROBLEMS: usize = 100;

/// What a check found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// Whether redb's page checksums were verified (only on a stopped database).
    pub pages_checked: bool,
    /// Whether redb had to repair the file to open or check it.
    pub repaired: bool,
    /// Licences stored.
    #[serde(rename = "licences")]
    pub licenses: u64,
    /// Activations stored.
    pub activations: u64,
    /// One sentence per problem (at most 100); empty when the database is sound.
    pub problems: Vec<String>,
}

impl CheckReport {
    fn problem(&mut self, text: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(text);
        }
    }
}

impl RedbStore {
    /// licd's consistency checks on one read transaction (the daemon may be serving).
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let reader = self.reader()?;
        let mut report = CheckReport::default();
        check_consistency(&reader.txn, &mut report)?;
        Ok(report)
    }
}

/// Checks the stopped database at `path`: redb's integrity check, then licd's consistency
/// checks. Fails if the file is missing or held by a running daemon.
pub fn check_file(path: &Path) -> Result<CheckReport, StoreError> {
    let mut db = open_existing(path)?;
    let mut report = CheckReport {
        pages_checked: true,
        ..CheckReport::default()
    };
    match db.check_integrity() {
        Ok(true) => {}
        Ok(false) => {
            report.repaired = true;
            report.problem("redb found damaged pages and repaired the file".into());
        }
        Err(e) => report.problem(format!("redb's integrity check failed: {e}")),
    }
    let txn = db.begin_read()?;
    check_consistency(&txn, &mut report)?;
    drop(txn);
    db.close().map_err(|e| StoreError::Close(e.to_string()))?;
    Ok(report)
}

/// File sizes before and after a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Bytes before.
    pub before: u64,
    /// Bytes after.
    pub after: u64,
}

/// Compacts the stopped database at `path`, giving free pages back to the file system.
pub fn compact_file(path: &Path) -> Result<Compacted, StoreError> {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = size(path);
    let mut db = open_existing(path)?;
    // Each pass moves what it can; redb advises repeating until nothing moves.
    while db
        .compact()
        .map_err(|e| StoreError::Backend(e.to_string()))?
    {}
    db.close().map_err(|e| StoreError::Close(e.to_string()))?;
    Ok(Compacted {
        before,
        after: size(path),
    })
}

fn open_existing(path: &Path) -> Result<Database, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Missing(path.to_path_buf()));
    }
    super::open_database(path, super::StoreOptions::default().cache_bytes, None)
}

/// Each licence stored, by key: (seats in use, subscription id), what the other rules check
/// against.
type LicenseIndex = HashMap<String, (u32, Option<String>)>;

/// licd's own consistency rules over one snapshot, in the order their problems are listed.
fn check_consistency(txn: &ReadTransaction, report: &mut CheckReport) -> Result<(), StoreError> {
    check_tables_and_meta(txn, report)?;
    let licenses = check_licenses(txn, report)?;
    let seats = check_activations(txn, report, &licenses)?;
    check_seat_counts(report, &licenses, &seats);
    check_history(txn, report, &licenses)?;
    check_releases(txn, report, &licenses)?;
    check_orders(txn, report, &licenses)?;
    check_subscriptions(txn, report, &licenses)?;
    check_license_counter(txn, report)?;
    check_installs(txn, report)?;
    for problem in super::replays::problems(txn)? {
        report.problem(problem);
    }
    for problem in super::customers::problems(txn)? {
        report.problem(problem);
    }
    for problem in super::vendor_groups::problems(txn)? {
        report.problem(problem);
    }
    for problem in super::outbox::problems(txn)? {
        report.problem(problem);
    }
    for problem in super::webhook_outbox::problems(txn)? {
        report.problem(problem);
    }
    check_signing_keys(txn, report)
}

/// Every table is one this licd knows, and meta holds a schema version and a server secret.
fn check_tables_and_meta(
    txn: &ReadTransaction,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    for table in unknown_tables(txn)? {
        report.problem(format!("table {table} is not one this licd knows"));
    }
    let meta = txn.open_table(META)?;
    match meta.get(SCHEMA_KEY)?.map(|v| v.value().len()) {
        Some(8) => {}
        _ => report.problem("meta_v1 has no valid schema version".into()),
    }
    if meta.get(SECRET_KEY)?.map(|v| v.value().len()) != Some(32) {
        report.problem("meta_v1 has no valid 32-byte server secret".into());
    }
    Ok(())
}

/// Every licence decodes and is stored under its own key; returns the licences that decode.
fn check_licenses(
    txn: &ReadTransaction,
    report: &mut CheckReport,
) -> Result<LicenseIndex, StoreError> {
    let mut licenses = LicenseIndex::new();
    let table = txn.open_table(LICENSES)?;
    report.licenses = table.len()?;
    for row in table.iter()? {
        let (k, v) = row?;
        let key = k.value().to_string();
        match decode::<License>(v.value()) {
            Ok(l) => {
                if l.key != key {
                    report.problem(format!("licence {key} is stored with key {}", l.key));
                }
                licenses.insert(key, (l.activations_used, l.subscription_id));
            }
            Err(e) => report.problem(format!("licence {key} does not decode: {e}")),
        }
    }
    Ok(licenses)
}

/// Every activation decodes and names a licence that exists; returns the activation rows
/// per licence key.
fn check_activations(
    txn: &ReadTransaction,
    report: &mut CheckReport,
    licenses: &LicenseIndex,
) -> Result<HashMap<String, u32>, StoreError> {
    let mut seats: HashMap<String, u32> = HashMap::new();
    let table = txn.open_table(ACTIVATIONS)?;
    report.activations = table.len()?;
    for row in table.iter()? {
        let (k, v) = row?;
        let (key, pc) = k.value();
        if let Err(e) = decode::<Activation>(v.value()) {
            report.problem(format!("activation of {key} on {pc} does not decode: {e}"));
        }
        if !licenses.contains_key(key) {
            report.problem(format!("activation on {pc} names a missing licence {key}"));
        }
        *seats.entry(key.to_string()).or_default() += 1;
    }
    Ok(seats)
}

/// Each licence's seat count matches its activation rows.
fn check_seat_counts(
    report: &mut CheckReport,
    licenses: &LicenseIndex,
    seats: &HashMap<String, u32>,
) {
    for (key, (used, _)) in licenses {
        let rows = seats.get(key).copied().unwrap_or(0);
        if *used != rows {
            report.problem(format!(
                "licence {key} counts {used} activations but {rows} are stored"
            ));
        }
    }
}

/// The keys whose history ends with `licd keys delete`'s `deleted` line: their history and
/// release log stay, naming no licence, and rightly.
fn deleted_keys(txn: &ReadTransaction) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut deleted = std::collections::HashSet::new();
    for row in txn.open_table(HISTORY)?.iter()? {
        let (k, v) = row?;
        if let Ok(entry) = decode::<crate::license::history::HistoryEntry>(v.value())
            && entry.event == "deleted"
        {
            deleted.insert(k.value().0.to_string());
        }
    }
    Ok(deleted)
}

/// Every history entry decodes and names a licence that exists (or was deleted).
fn check_history(
    txn: &ReadTransaction,
    report: &mut CheckReport,
    licenses: &LicenseIndex,
) -> Result<(), StoreError> {
    let deleted = deleted_keys(txn)?;
    let history = txn.open_table(HISTORY)?;
    for row in history.iter()? {
        let (k, v) = row?;
        let (key, seq) = k.value();
        if let Err(e) = decode::<crate::license::history::HistoryEntry>(v.value()) {
            report.problem(format!("history entry {seq} of {key} does not decode: {e}"));
        }
        if !licenses.contains_key(key) && !deleted.contains(key) {
            report.problem(format!("history entry {seq} names a missing licence {key}"));
        }
    }
    Ok(())
}

/// Every release names a licence that exists (or was deleted).
fn check_releases(
    txn: &ReadTransaction,
    report: &mut CheckReport,
    licenses: &LicenseIndex,
) -> Result<(), StoreError> {
    let deleted = deleted_keys(txn)?;
    let releases = txn.open_table(RELEASES)?;
    for row in releases.iter()? {
        let (k, _) = row?;
        let (key, seq) = k.value();
        if !licenses.contains_key(key) && !deleted.contains(key) {
            report.problem(format!("release {seq} names a missing licence {key}"));
        }
    }
    Ok(())
}

/// Every order decodes and names only licences that exist.
fn check_orders(
    txn: &ReadTransaction,
    report: &mut CheckReport,
    licenses: &LicenseIndex,
) -> Result<(), StoreError> {
    let orders = txn.open_table(ORDERS)?;
    for row in orders.iter()? {
        let (k, v) = row?;
        let order = k.value().replace('\u{1f}', "/");
        match decode::<Vec<String>>(v.value()) {
            Ok(keys) => {
                for key in keys.iter().filter(|k| !licenses.contains_key(*k)) {
                    report.problem(format!("order {order} names a missing licence {key}"));
                }
            }
            Err(e) => report.problem(format!("order {order} does not decode: {e}")),
        }
    }
    Ok(())
}

/// Every subscription index row names a licence that exists and carries that subscription.
fn check_subscriptions(
    txn: &ReadTransaction,
    report: &mut CheckReport,
    licenses: &LicenseIndex,
) -> Result<(), StoreError> {
    let subscriptions = txn.open_table(SUBSCRIPTIONS)?;
    for row in subscriptions.iter()? {
        let (k, _) = row?;
        let (id, key) = k.value();
        match licenses.get(key) {
            None => report.problem(format!("subscription {id} names a missing licence {key}")),
            Some((_, Some(sub))) if sub == id => {}
            Some(_) => report.problem(format!(
                "subscription index lists {key} under {id}, but the licence has another subscription"
            )),
        }
    }
    Ok(())
}

/// The licence counter matches the licences stored (`report.licenses`, already read).
fn check_license_counter(
    txn: &ReadTransaction,
    report: &mut CheckReport,
) -> Result<(), StoreError> {
    let counters = txn.open_table(COUNTERS)?;
    let counted = counters.get(LICENSE_COUNT)?.map_or(0, |v| v.value());
    if u64::try_from(counted).ok() != Some(report.licenses) {
        report.problem(format!(
            "the licence counter says {counted} but {} licences are stored",
            report.licenses
        ));
    }
    Ok(())
}

/// Every analytics install decodes under its own id, and the install counter counts them.
fn check_installs(txn: &ReadTransaction, report: &mut CheckReport) -> Result<(), StoreError> {
    let mut check = crate::store::install_check::InstallCheck::default();
    let counted = match (
        txn.open_table(ANALYTICS_INSTALLS),
        txn.open_table(ANALYTICS_COUNTS),
    ) {
        (Ok(installs), Ok(counts)) => {
            for row in installs.iter()? {
                let (k, v) = row?;
                check.row(k.value(), v.value());
            }
            counts.get(INSTALL_COUNT)?.map_or(0, |v| v.value())
        }
        // A file from before analytics: nothing to check.
        (Err(redb::TableError::TableDoesNotExist(_)), _)
        | (_, Err(redb::TableError::TableDoesNotExist(_))) => return Ok(()),
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
    };
    for problem in check.finish(counted) {
        report.problem(problem);
    }
    Ok(())
}

/// Every signing key stored decodes as JSON; a database without the signing-key table is
/// sound.
fn check_signing_keys(txn: &ReadTransaction, report: &mut CheckReport) -> Result<(), StoreError> {
    match txn.open_table(SIGNING_KEYS) {
        Ok(keys) => {
            for row in keys.iter()? {
                let (k, v) = row?;
                if serde_json::from_slice::<serde_json::Value>(v.value()).is_err() {
                    report.problem(format!("signing key {} does not decode", k.value()));
                }
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[test]
    fn a_fresh_database_passes_both_checks() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        let store = RedbStore::open(&path, StoreOptions::default()).expect("open");
        let online = store.check().expect("check");
        assert!(online.problems.is_empty(), "{:?}", online.problems);
        assert!(!online.pages_checked);
        store.close().expect("close");
        let offline = check_file(&path).expect("check");
        assert!(offline.pages_checked);
        assert!(offline.problems.is_empty(), "{:?}", offline.problems);
    }

    #[test]
    fn an_activation_without_its_license_and_a_wrong_counter_are_reported() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        let store = RedbStore::open(&path, StoreOptions::default()).expect("open");
        store.close().expect("close");
        let db = Database::builder().open(&path).expect("open");
        let txn = db.begin_write().expect("write");
        {
            let mut a = txn.open_table(ACTIVATIONS).expect("table");
            let act =
                serde_json::json!({"computer_id": "pc", "computer_key": "k", "activated_at": 1});
            a.insert(("NOKEY", "pc"), act.to_string().as_bytes())
                .expect("insert");
            let mut c = txn.open_table(COUNTERS).expect("table");
            c.insert(LICENSE_COUNT, 5).expect("insert");
        }
        txn.commit().expect("commit");
        drop(db);
        let report = check_file(&path).expect("check");
        let text = report.problems.join("\n");
        assert!(text.contains("names a missing licence NOKEY"), "{text}");
        assert!(text.contains("licence counter says 5 but 0"), "{text}");
    }

    #[test]
    fn an_install_under_another_id_one_that_does_not_decode_and_a_wrong_count_are_reported() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        let store = RedbStore::open(&path, StoreOptions::default()).expect("open");
        store.close().expect("close");
        let db = Database::builder().open(&path).expect("open");
        let txn = db.begin_write().expect("write");
        {
            let mut installs = txn.open_table(ANALYTICS_INSTALLS).expect("table");
            let install =
                crate::license::install::Install::new("b".repeat(32), Default::default(), 1);
            let json = serde_json::to_vec(&install).expect("json");
            installs
                .insert("a".repeat(32).as_str(), json.as_slice())
                .expect("insert");
            installs
                .insert("c".repeat(32).as_str(), b"{}".as_slice())
                .expect("insert");
            let mut counts = txn.open_table(ANALYTICS_COUNTS).expect("table");
            counts.insert(INSTALL_COUNT, 1).expect("insert");
        }
        txn.commit().expect("commit");
        drop(db);
        let text = check_file(&path).expect("check").problems.join("\n");
        assert!(text.contains("is stored under another id"), "{text}");
        assert!(text.contains("does not decode"), "{text}");
        assert!(text.contains("install counter says 1 but 2"), "{text}");
    }

    #[test]
    fn compaction_of_a_stopped_database_keeps_it_usable() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        RedbStore::open(&path, StoreOptions::default())
            .expect("open")
            .close()
            .expect("close");
        let sizes = compact_file(&path).expect("compact");
        assert!(sizes.after <= sizes.before, "{sizes:?}");
        assert!(check_file(&path).expect("check").problems.is_empty());
    }
}
