//! The console dashboard's numbers (`crate::store::overview`) from one read transaction: a
//! scan of the licences and of the release log, and the per-day activation counters.

use redb::ReadableTable;

use super::RedbReader;
use super::tables::{LICENSES, RELEASES, decode};
use crate::store::StoreError;
use crate::store::overview::Overview;

impl RedbReader {
    /// The overview at `now`, its series `days` days back. Reads every licence and the
    /// whole release log: the caller runs it off the request threads.
    pub fn overview(&self, now: i64, days: i64) -> Result<Overview, StoreError> {
        let mut o = Overview::new(now, days);
        for row in self.txn.open_table(LICENSES)?.iter()? {
            let (_, value) = row?;
            o.add_license(&decode::<crate::license::License>(value.value())?);
        }
        let since = o.since();
        for row in self.txn.open_table(RELEASES)?.iter()? {
            let (_, time) = row?;
            if time.value() >= since {
                o.add_release(time.value());
            }
        }
        for day in o.day_range() {
            let n = self.activations_on(day)?;
            if n > 0 {
                o.activations.insert(day, n.unsigned_abs());
            }
        }
        Ok(o)
    }
}
