//! Decoded licences and activations of the last committed state, so that the hottest read,
//! a validation, does not decode the same JSON rows again and again (the decoding was about
//! 14 % of a validation's CPU, docs/benchmarks.md).
//!
//! Correctness rests on a generation number the writer moves around every commit: to an odd
//! number (and an empty cache) just before `commit()`, to the next even number (and an empty
//! cache again) just after it, whether the commit succeeded or not. A reader reads the
//! generation before and after beginning its read transaction; when both are the same even
//! number, no commit was under way meanwhile, so its snapshot holds exactly the state every
//! entry of that generation was read from, and it may use and fill the cache. Any other
//! reader reads rows as before. A cached value is therefore always the value the reader's
//! own transaction would decode; licence and activation stay one consistent state.
//!
//! Bounded: at most [`MAX_LICENCES`] licences and [`MAX_ACTIVATIONS`] activations (beyond
//! that, reads decode as before), and emptied at every commit.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::license::{Activation, License};

/// Licences kept at most: with a typical licence of a few hundred bytes decoded, a few MiB.
pub(crate) const MAX_LICENCES: usize = 8192;
/// Activations kept at most, over all licences.
pub(crate) const MAX_ACTIVATIONS: usize = 8192;

/// The cache shared by the store's readers and its writer.
#[derive(Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Even: the committed state is stable; odd: a commit is under way.
    generation: u64,
    licences: HashMap<String, License>,
    /// By licence key, then computer id, so that a look-up needs no owned key.
    activations: HashMap<String, HashMap<String, Activation>>,
    activations_kept: usize,
}

impl Inner {
    /// Moves to the next generation and forgets everything read in the one before.
    fn advance(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.licences.clear();
        self.activations.clear();
        self.activations_kept = 0;
    }
}

/// What a reader may do with the cache: its generation, when its snapshot matches one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

impl ReadCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The cache holds only copies of committed rows: a panic while it was held leaves
        // at worst fewer entries, never wrong ones (every write is a single insert).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The generation now (read before and after beginning a read transaction).
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The generation a snapshot may use, from the generations read before and after it
    /// began; `None` when a commit was under way meanwhile.
    pub(crate) fn stable(before: u64, after: u64) -> Option<Generation> {
        (before == after && before.is_multiple_of(2)).then_some(Generation(before))
    }

    /// The licence `key` as read in generation `at`, if it was kept.
    pub(crate) fn license(&self, at: Generation, key: &str) -> Option<License> {
        let inner = self.lock();
        if inner.generation != at.0 {
            return None;
        }
        inner.licences.get(key).cloned()
    }

    /// Keeps `license`, read in generation `at` (nothing when the generation has moved on
    /// or the cache is full).
    pub(crate) fn keep_license(&self, at: Generation, license: &License) {
        let mut inner = self.lock();
        if inner.generation != at.0 || inner.licences.len() >= MAX_LICENCES {
            return;
        }
        inner.licences.insert(license.key.clone(), license.clone());
    }

    /// The activation of `key` on `computer_id` as read in generation `at`, if it was kept.
    pub(crate) fn activation(
        &self,
        at: Generation,
        key: &str,
        computer_id: &str,
    ) -> Option<Activation> {
        let inner = self.lock();
        if inner.generation != at.0 {
            return None;
        }
        inner.activations.get(key)?.get(computer_id).cloned()
    }

    /// Keeps the activation of `key`, read in generation `at`.
    pub(crate) fn keep_activation(&self, at: Generation, key: &str, activation: &Activation) {
        let mut inner = self.lock();
        if inner.generation != at.0 || inner.activations_kept >= MAX_ACTIVATIONS {
            return;
        }
        let seats = inner.activations.entry(key.to_string()).or_default();
        if seats
            .insert(activation.computer_id.clone(), activation.clone())
            .is_none()
        {
            inner.activations_kept += 1;
        }
    }

    /// Marks a commit as under way until the returned guard is dropped: call just before
    /// `commit()` and drop just after it returns, whatever it returned.
    pub(crate) fn commit_under_way(&self) -> CommitUnderWay<'_> {
        self.lock().advance();
        CommitUnderWay { cache: self }
    }

    /// Forgets everything, for a database handle replaced under the readers (a reopen).
    pub(crate) fn forget_all(&self) {
        let mut inner = self.lock();
        inner.advance();
        inner.advance();
    }
}

/// See [`ReadCache::commit_under_way`].
pub(crate) struct CommitUnderWay<'a> {
    cache: &'a ReadCache,
}

impl Drop for CommitUnderWay<'_> {
    fn drop(&mut self) {
        self.cache.lock().advance();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence(key: &str, used: u32) -> License {
        let mut l = License::for_tests("permanent", 5, 0);
        l.key = key.into();
        l.activations_used = used;
        l
    }

    #[test]
    fn a_snapshot_during_a_commit_may_neither_use_nor_fill_the_cache() {
        let cache = ReadCache::default();
        let before = cache.generation();
        let under_way = cache.commit_under_way();
        assert_eq!(ReadCache::stable(before, cache.generation()), None);
        let during = cache.generation();
        assert_eq!(ReadCache::stable(during, during), None, "odd: under way");
        drop(under_way);
        let after = cache.generation();
        assert!(ReadCache::stable(after, after).is_some());
    }

    #[test]
    fn a_value_read_before_a_commit_is_never_served_after_it() {
        let cache = ReadCache::default();
        let g = cache.generation();
        let old = ReadCache::stable(g, g).expect("stable");
        {
            let _commit = cache.commit_under_way();
        }
        // A reader of the old snapshot finishing after the commit keeps nothing...
        cache.keep_license(old, &licence("K", 1));
        let g = cache.generation();
        let new = ReadCache::stable(g, g).expect("stable");
        assert!(cache.license(new, "K").is_none());
        // ...and one of the new snapshot is served its own value.
        cache.keep_license(new, &licence("K", 2));
        assert_eq!(cache.license(new, "K").map(|l| l.activations_used), Some(2));
        assert!(cache.license(old, "K").is_none());
        {
            let _commit = cache.commit_under_way();
        }
        assert!(cache.license(new, "K").is_none(), "emptied by the commit");
    }

    /// The real store under a real writer: every snapshot's licence (cached or not) counts
    /// exactly the activation rows of the same snapshot (read uncached, by range), and every
    /// cached activation is the row itself, while activations commit one after another.
    #[test]
    fn cached_licences_and_activations_always_match_their_snapshot_under_commits() {
        use std::sync::atomic::{AtomicBool, Ordering};

        use crate::store::StoreOptions;
        use crate::store::suite::{T0, activate, create, deadline};

        let dir = tempfile::tempdir().expect("dir");
        let store =
            super::super::RedbStore::open(&dir.path().join("licd.redb"), StoreOptions::default())
                .expect("store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let created = rt
            .block_on(store.run(create("permanent", 1000, 1, None), deadline()))
            .expect("created");
        let key = created.licenses[0].key.clone();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut checked = 0u64;
                        while !done.load(Ordering::SeqCst) {
                            let reader = store.reader().expect("reader");
                            let license = reader.license(&key).expect("read").expect("there");
                            let rows = reader.activations(&key).expect("rows");
                            assert_eq!(license.activations_used as usize, rows.len());
                            for row in rows.iter().rev().take(3) {
                                let one = reader.activation(&key, &row.computer_id).expect("one");
                                assert_eq!(one.as_ref(), Some(row));
                            }
                            checked += 1;
                        }
                        checked
                    })
                })
                .collect();
            for i in 0..150 {
                rt.block_on(store.run(activate(&key, &format!("pc{i}"), T0 + 100), deadline()))
                    .expect("activated");
            }
            done.store(true, Ordering::SeqCst);
            for r in readers {
                assert!(r.join().expect("reader") > 0);
            }
        });
        let reader = store.reader().expect("reader");
        let license = reader.license(&key).expect("read").expect("there");
        assert_eq!(license.activations_used, 150);
        assert_eq!(
            license.activations_used,
            reader.license(&key).unwrap().unwrap().activations_used
        );
    }

    #[test]
    fn the_cache_stops_growing_at_its_bounds() {
        let cache = ReadCache::default();
        let g = cache.generation();
        let at = ReadCache::stable(g, g).expect("stable");
        for i in 0..MAX_LICENCES + 10 {
            cache.keep_license(at, &licence(&format!("K{i}"), 0));
        }
        assert_eq!(cache.lock().licences.len(), MAX_LICENCES);
        let a = Activation {
            computer_id: String::new(),
            computer_name: None,
            activated_at: 1,
            last_seen: 1,
            computer_key: "K".into(),
            client_ip: None,
            user_data: None,
            offline_until: None,
            imported_computer_key: None,
        };
        for i in 0..MAX_ACTIVATIONS + 10 {
            let mut a = a.clone();
            a.computer_id = format!("pc{i}");
            cache.keep_activation(at, "K", &a);
        }
        assert_eq!(cache.lock().activations_kept, MAX_ACTIVATIONS);
        assert_eq!(
            cache.activation(at, "K", "pc3").map(|a| a.computer_id),
            Some("pc3".to_string())
        );
        cache.forget_all();
        assert!(cache.activation(at, "K", "pc3").is_none());
    }
}
