//! Finding licences by what a store knows of an order (RetrieveActivationKeyHttp), and by
//! what a member of staff knows (the console's search, `crate::store::license_search`).
//!
//! This is a scan of `licenses_v1`, decoding only the two fields compared. Deliberate: the
//! method is off by default and called rarely (a store recovering keys it lost), while an
//! index would have to follow every change of user data (UpdateLicenseHttp) and upgrade.
//! On a million licences the scan reads every record once (seconds, not milliseconds), so
//! the caller runs it on the blocking pool.

use std::collections::BTreeSet;

use redb::ReadableTable;
use serde::Deserialize;

use super::RedbReader;
use super::tables::{ACTIVATIONS, CUSTOMERS, LICENSES, decode};
use crate::license::License;
use crate::store::StoreError;
use crate::store::license_search::{LicenseSearch, SearchField};

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

/// The fields of a licence the console's search compares.
#[derive(Deserialize)]
struct StaffSearchFields {
    key: String,
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    customer: Option<String>,
}

/// The field of an activation the console's search compares besides its computer ID.
#[derive(Deserialize)]
struct ComputerName {
    #[serde(default)]
    computer_name: Option<String>,
}

/// The field of a customer the console's search compares, and its id.
#[derive(Deserialize)]
struct CustomerEmail {
    id: String,
    email: String,
}

impl RedbReader {
    /// The licences `search` finds, in key order, at most `search.limit` of them. A scan
    /// of the licences, their activations and the customers, decoding only the fields
    /// compared: the console searches rarely, and an index on parts of words would have to
    /// follow every activation. The caller runs it off the request threads.
    pub fn search_licenses(&self, search: &LicenseSearch) -> Result<Vec<License>, StoreError> {
        if search.is_empty() || search.limit == 0 {
            return Ok(Vec::new());
        }
        let mut customers = BTreeSet::new();
        if search.field.covers(SearchField::Email) {
            for row in self.txn.open_table(CUSTOMERS)?.iter()? {
                let (_, value) = row?;
                let c: CustomerEmail = decode(value.value())?;
                if search.email_matches(&c.email) {
                    customers.insert(c.id);
                }
            }
        }
        let mut found = BTreeSet::new();
        for row in self.txn.open_table(LICENSES)?.iter()? {
            let (_, value) = row?;
            let l: StaffSearchFields = decode(value.value())?;
            let by_customer = l.customer.as_ref().is_some_and(|c| customers.contains(c));
            if by_customer
                || search.key_matches(&l.key)
                || search.order_matches(l.order_id.as_deref())
            {
                found.insert(l.key);
            }
        }
        if search.field.covers(SearchField::Computer) {
            for row in self.txn.open_table(ACTIVATIONS)?.iter()? {
                let (k, value) = row?;
                let (key, computer_id) = k.value();
                if found.contains(key) {
                    continue;
                }
                let a: ComputerName = decode(value.value())?;
                if search.computer_matches(computer_id, a.computer_name.as_deref()) {
                    found.insert(key.to_string());
                }
            }
        }
        let table = self.txn.open_table(LICENSES)?;
        let mut out = Vec::new();
        for key in found.into_iter().take(search.limit) {
            if let Some(v) = table.get(key.as_str())? {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }
}
