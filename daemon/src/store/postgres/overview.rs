//! The console dashboard's numbers (`crate::store::overview`) from one snapshot: the
//! licences read through a cursor a thousand at a time (never all in memory), the releases
//! and activations counted per day by the database.

use super::db_error;
use super::snapshot::PgReader;
use super::tx::{COUNT_ACTIVATIONS, column, json};
use crate::store::StoreError;
use crate::store::overview::Overview;

const OPEN_CURSOR: &str = "DECLARE licd_overview NO SCROLL CURSOR FOR SELECT value FROM licenses";
const FETCH: &str = "FETCH 1000 FROM licd_overview";
const CLOSE_CURSOR: &str = "CLOSE licd_overview";
/// Day numbers as `day_number` makes them: the window starts after 1970, where integer
/// division rounds as Euclid's does.
const RELEASES_PER_DAY: &str = "SELECT released_at / 86400, count(*) FROM releases
    WHERE released_at >= $1 GROUP BY 1";
const ACTIVATIONS_PER_DAY: &str = "SELECT day, coalesce(sum(n), 0)::bigint FROM counters
    WHERE counter = $1 AND day >= $2 GROUP BY day";

impl PgReader {
    /// The overview at `now`, its series `days` days back.
    pub async fn overview(&self, now: i64, days: i64) -> Result<Overview, StoreError> {
        let mut o = Overview::new(now, days);
        let client = self.client.as_ref().ok_or(StoreError::Stopped)?;
        client.batch_execute(OPEN_CURSOR).await.map_err(db_error)?;
        loop {
            let rows = client.query(FETCH, &[]).await.map_err(db_error)?;
            for row in &rows {
                o.add_license(&json::<crate::license::License>(row, 0)?);
            }
            if rows.is_empty() {
                break;
            }
        }
        client.batch_execute(CLOSE_CURSOR).await.map_err(db_error)?;
        let since = o.since().max(0);
        for row in self.rows(RELEASES_PER_DAY, &[&since]).await? {
            let (day, n): (i64, i64) = (column(&row, 0)?, column(&row, 1)?);
            o.add_releases(day, n.unsigned_abs());
        }
        let first_day = *o.day_range().start();
        for row in self
            .rows(ACTIVATIONS_PER_DAY, &[&COUNT_ACTIVATIONS, &first_day])
            .await?
        {
            let (day, n): (i64, i64) = (column(&row, 0)?, column(&row, 1)?);
            if n > 0 {
                o.activations.insert(day, n.unsigned_abs());
            }
        }
        Ok(o)
    }
}
