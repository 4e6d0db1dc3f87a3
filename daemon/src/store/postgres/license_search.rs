//! The console's search (`crate::store::license_search`) in one statement: the same
//! "contains, ignoring ASCII case" comparisons as the embedded backend, written with
//! `strpos` on text lower-cased by `translate` (ASCII only, as Rust's
//! `to_ascii_lowercase`, whatever the database's locale).

use super::snapshot::PgReader;
use super::tx::json;
use crate::license::License;
use crate::store::StoreError;
use crate::store::license_search::{LicenseSearch, SearchField};

const SEARCH: &str = "SELECT l.value FROM licenses l WHERE
       ($2 AND $3 <> '' AND strpos(l.key, $3) > 0)
    OR ($4 AND strpos(translate(coalesce(l.value->>'order_id', ''),
            'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), $1) > 0)
    OR ($5 AND EXISTS (SELECT 1 FROM customers c WHERE c.id = l.value->>'customer'
            AND strpos(translate(c.value->>'email',
                'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), $1) > 0))
    OR ($6 AND EXISTS (SELECT 1 FROM activations a WHERE a.key = l.key
            AND (strpos(translate(a.computer_id,
                    'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), $1) > 0
              OR strpos(translate(coalesce(a.value->>'computer_name', ''),
                    'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), $1) > 0)))
    ORDER BY l.key COLLATE \"C\" LIMIT $7";

impl PgReader {
    /// The licences `search` finds, in key order, at most `search.limit`.
    pub async fn search_licenses(
        &self,
        search: &LicenseSearch,
    ) -> Result<Vec<License>, StoreError> {
        if search.is_empty() || search.limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(search.limit).unwrap_or(i64::MAX);
        let f = search.field;
        let rows = self
            .rows(
                SEARCH,
                &[
                    &search.text,
                    &f.covers(SearchField::Key),
                    &search.key_text,
                    &f.covers(SearchField::Order),
                    &f.covers(SearchField::Email),
                    &f.covers(SearchField::Computer),
                    &limit,
                ],
            )
            .await?;
        rows.iter().map(|r| json(r, 0)).collect()
    }
}
