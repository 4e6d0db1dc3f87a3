//! Finding licences by what a store knows of an order (RetrieveActivationKeyHttp).
//!
//! This is a scan of `licenses_v1`, decoding only the two fields compared. Deliberate: the
//! method is off by default and called rarely (a store recovering keys it lost), while an
//! index would have to follow every change of user data (UpdateLicenseHttp) and upgrade.
//! On a million licences the scan reads every record once (seconds, not milliseconds), so
//! the caller runs it on the blocking pool.

use redb::ReadableTable;
use serde::Deserialize;

use super::RedbReader;
use super::tables::{LICENSES, decode};
use crate::license::License;
use crate::store::StoreError;

/// The fields a search compares; serde skips the rest of each record.
#[derive(Deserialize)]
struct SearchFields {
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    user_data: Option<String>,
}

impl RedbReader {
    /// Licences whose order id equals `order_id` and whose user data equals `user_data`, for
    /// each of the two that is given (both `None` finds nothing), ordered by key.
    pub fn licenses_by_order(
        &self,
        order_id: Option<&str>,
        user_data: Option<&str>,
    ) -> Result<Vec<License>, StoreError> {
        if order_id.is_none() && user_data.is_none() {
            return Ok(Vec::new());
        }
        let table = self.txn.open_table(LICENSES)?;
        let mut found = Vec::new();
        for row in table.iter()? {
            let (_, value) = row?;
            let fields: SearchFields = decode(value.value())?;
            let matches = |wanted: Option<&str>, stored: &Option<String>| {
                wanted.is_none_or(|w| stored.as_deref() == Some(w))
            };
            if matches(order_id, &fields.order_id) && matches(user_data, &fields.user_data) {
                found.push(decode(value.value())?);
            }
        }
        Ok(found)
    }
}
