//! A failed commit never leaves a caller told something untrue: when the batch did not reach
//! the file, every caller gets code 3000 and nothing of the batch is applied; when an fsync
//! error hit after the batch was written (so the reopened file holds it), the callers get
//! their real outcome once one more fsync has made it durable. Either way the store reopens
//! the database and carries on.
//!
//! The faults are real I/O errors from a redb storage backend over the real file: a failed
//! write (a full disk) and a failed `sync_data`.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redb::StorageBackend;
use redb::backends::FileBackend;

use super::{RedbReader, RedbStore, tables};
use crate::errors::{ErrorCode, MethodError};
use crate::store::commands::{CreateKeys, Created, Replayable};
use crate::store::suite::{create, deadline};
use crate::store::{StoreError, StoreOptions};

/// How many of the next writes and syncs fail.
#[derive(Debug, Default)]
struct Faults {
    writes: AtomicUsize,
    syncs: AtomicUsize,
    /// How many times the store opened the file (1 + reopens).
    opens: AtomicUsize,
}

/// True (and one fault used up) when the next operation must fail.
fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[derive(Debug)]
struct FlakyBackend {
    inner: FileBackend,
    faults: Arc<Faults>,
}

impl StorageBackend for FlakyBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        if take(&self.faults.syncs) {
            return Err(std::io::Error::other("injected fsync failure"));
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if take(&self.faults.writes) {
            return Err(std::io::Error::other("injected write failure (disk full)"));
        }
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }
}

fn flaky_store(path: &Path, faults: Arc<Faults>) -> RedbStore {
    let path = path.to_path_buf();
    let opener = Box::new(move || {
        faults.opens.fetch_add(1, Ordering::SeqCst);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inner = FileBackend::new(file).map_err(|source| StoreError::Open {
            path: path.clone(),
            reason: source.to_string(),
        })?;
        redb::Database::builder()
            .create_with_backend(FlakyBackend {
                inner,
                faults: faults.clone(),
            })
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                reason: source.to_string(),
            })
    });
    RedbStore::open_with(opener, StoreOptions::default()).unwrap()
}

fn create_one() -> CreateKeys {
    create("permanent", 1, 1, None)
}

fn created_key(created: Created) -> String {
    created.licenses[0].key.clone()
}

/// A reader once the writer has reopened the database (until then: `Unavailable`, a 503).
fn reader_after_reopen(store: &RedbStore) -> RedbReader {
    let started = Instant::now();
    loop {
        match store.reader() {
            Ok(r) => return r,
            Err(StoreError::Unavailable) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("store did not recover: {e}"),
        }
    }
}

#[tokio::test]
async fn commit_that_fails_before_reaching_the_file_answers_3000_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let store = flaky_store(&dir.path().join("licd.redb"), faults.clone());
    let first = created_key(store.run(create_one(), deadline()).await.unwrap());

    faults.writes.store(1, Ordering::SeqCst);
    let e = store
        .run(create_one(), deadline())
        .await
        .map_err(MethodError::from)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownError);
    assert!(e.message.contains("nothing was changed"), "{}", e.message);

    let reader = reader_after_reopen(&store);
    assert_eq!(
        faults.writes.load(Ordering::SeqCst),
        0,
        "the write fault was hit"
    );
    assert_eq!(
        faults.opens.load(Ordering::SeqCst),
        2,
        "the store reopened the file"
    );
    assert!(reader.license(&first).unwrap().is_some());
    assert_eq!(
        reader.counter(tables::LICENSE_COUNT).unwrap(),
        1,
        "the failed batch left nothing"
    );
    drop(reader);

    let third = created_key(store.run(create_one(), deadline()).await.unwrap());
    let reader = store.reader().unwrap();
    assert!(reader.license(&third).unwrap().is_some());
    assert_eq!(reader.counter(tables::LICENSE_COUNT).unwrap(), 2);
    drop(reader);
    store.close().unwrap();
}

#[tokio::test]
async fn fsync_failure_after_the_batch_reached_the_file_answers_the_real_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("licd.redb");
    let faults = Arc::new(Faults::default());
    let store = flaky_store(&path, faults.clone());
    created_key(store.run(create_one(), deadline()).await.unwrap());

    faults.syncs.store(1, Ordering::SeqCst);
    let second = created_key(store.run(create_one(), deadline()).await.unwrap());

    let reader = reader_after_reopen(&store);
    assert_eq!(
        faults.syncs.load(Ordering::SeqCst),
        0,
        "the fsync fault was hit"
    );
    assert_eq!(
        faults.opens.load(Ordering::SeqCst),
        2,
        "the store reopened the file"
    );
    assert!(reader.license(&second).unwrap().is_some());
    assert_eq!(reader.counter(tables::LICENSE_COUNT).unwrap(), 2);
    drop(reader);
    store.close().unwrap();

    // And it is on disk: a fresh open of the file (no fault) finds it.
    let store = RedbStore::open(&path, StoreOptions::default()).unwrap();
    assert!(store.reader().unwrap().license(&second).unwrap().is_some());
    store.close().unwrap();
}

#[tokio::test]
async fn a_failed_commit_leaves_neither_the_change_nor_its_replay_row_and_the_retry_runs() {
    use crate::store::replays::ReplayKey;
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let store = flaky_store(&dir.path().join("licd.redb"), faults.clone());
    let key = || ReplayKey::new("FastSpring", "hash-1", "GetActivationKey");
    // Now: a row older than 30 days would be pruned in its own batch.
    let at = crate::license::dates::now();

    faults.writes.store(1, Ordering::SeqCst);
    let e = store
        .run_remembered(create_one(), deadline(), key(), at)
        .await
        .map_err(MethodError::from)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownError);
    let reader = reader_after_reopen(&store);
    assert_eq!(reader.counter(tables::LICENSE_COUNT).unwrap(), 0);
    let rows = reader.txn.open_table(tables::REPLAYS).unwrap();
    assert_eq!(redb::ReadableTableMetadata::len(&rows).unwrap(), 0);
    drop((rows, reader));

    // The store's retry is then a first request: applied and remembered.
    let Replayable::Fresh(first) = store
        .run_remembered(create_one(), deadline(), key(), at)
        .await
        .unwrap()
    else {
        panic!("a new replay id was answered from the memory");
    };
    let first = created_key(first);
    match store
        .run_remembered(create_one(), deadline(), key(), at)
        .await
        .unwrap()
    {
        Replayable::Repeat {
            method,
            first: Some(o),
        } => {
            assert_eq!(method, "GetActivationKey");
            assert_eq!(created_key(o), first);
        }
        other => panic!("not answered from the memory: {other:?}"),
    }
    let reader = store.reader().unwrap();
    assert_eq!(reader.counter(tables::LICENSE_COUNT).unwrap(), 1);
    drop(reader);
    store.close().unwrap();
}
