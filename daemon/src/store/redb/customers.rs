//! The customer tables (`customers_v1`, `customer_emails_v1`, `customer_licenses_v1`) behind
//! the customer operations of [`Tx`](crate::store::tx::Tx), the one-time link of licences
//! written with an e-mail before customers existed, and what `licd check` reports of them.

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::*;
use crate::customers::{Customer, email_key, new_id};
use crate::license::License;
use crate::store::StoreError;

/// `meta_v1` key set once every licence stored with an e-mail has its customer, so the
/// one-time link runs on the first start after an upgrade of licd only.
const CUSTOMERS_LINKED: &str = "customers_linked";

type Bytes<'t, K> = Table<'t, K, &'static [u8]>;

/// The customer with this id.
pub(super) fn by_id(
    customers: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<Customer>, StoreError> {
    customers.get(id)?.map(|v| decode(v.value())).transpose()
}

/// The customer with this e-mail (any case).
pub(super) fn by_email(
    emails: &impl ReadableTable<&'static str, &'static [u8]>,
    customers: &impl ReadableTable<&'static str, &'static [u8]>,
    email: &str,
) -> Result<Option<Customer>, StoreError> {
    let Some(id) = emails.get(email_key(email).as_str())? else {
        return Ok(None);
    };
    let id: String = decode(id.value())?;
    match by_id(customers, &id)? {
        Some(c) => Ok(Some(c)),
        None => Err(StoreError::Corrupt(format!(
            "the e-mail index names a missing customer {id}"
        ))),
    }
}

/// Stores `customer` and files it under its e-mail, freeing the e-mail it had before.
pub(super) fn put(
    customers: &mut Bytes<'_, &'static str>,
    emails: &mut Bytes<'_, &'static str>,
    customer: &Customer,
) -> Result<(), StoreError> {
    if let Some(old) = by_id(customers, &customer.id)? {
        let old_key = email_key(&old.email);
        if old_key != email_key(&customer.email) {
            emails.remove(old_key.as_str())?;
        }
    }
    customers.insert(customer.id.as_str(), encode(customer)?.as_slice())?;
    emails.insert(
        email_key(&customer.email).as_str(),
        encode(&customer.id)?.as_slice(),
    )?;
    Ok(())
}

/// Removes a customer and its e-mail.
pub(super) fn remove(
    customers: &mut Bytes<'_, &'static str>,
    emails: &mut Bytes<'_, &'static str>,
    id: &str,
) -> Result<(), StoreError> {
    if let Some(old) = by_id(customers, id)? {
        emails.remove(email_key(&old.email).as_str())?;
    }
    customers.remove(id)?;
    Ok(())
}

/// The keys filed under customer `id`, in key order.
pub(super) fn keys(
    links: &impl ReadableTable<(&'static str, &'static str), ()>,
    id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    for row in links.range((id, "")..)? {
        let (k, _) = row?;
        let (found, key) = k.value();
        if found != id {
            break;
        }
        keys.push(key.to_string());
    }
    Ok(keys)
}

impl super::RedbReader {
    /// The customer with this id.
    pub fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        by_id(&self.txn.open_table(CUSTOMERS)?, id)
    }

    /// The customer with this e-mail (any case).
    pub fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, StoreError> {
        by_email(
            &self.txn.open_table(CUSTOMER_EMAILS)?,
            &self.txn.open_table(CUSTOMERS)?,
            email,
        )
    }

    /// Every customer, in the order of their e-mails (ignoring case).
    pub fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        let emails = self.txn.open_table(CUSTOMER_EMAILS)?;
        let customers = self.txn.open_table(CUSTOMERS)?;
        let mut out = Vec::new();
        for row in emails.iter()? {
            let (_, id) = row?;
            let id: String = decode(id.value())?;
            if let Some(c) = by_id(&customers, &id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The licence keys of the customer with this e-mail, in key order.
    pub fn license_keys_of_customer(&self, email: &str) -> Result<Vec<String>, StoreError> {
        match self.customer_by_email(email)? {
            Some(c) => keys(&self.txn.open_table(CUSTOMER_LICENSES)?, &c.id),
            None => Ok(Vec::new()),
        }
    }
}

/// Gives every licence stored with an e-mail (by a licd older than customers) its customer,
/// once: called when the store opens.
pub(crate) fn link_stored_emails(txn: &WriteTransaction) -> Result<(), StoreError> {
    {
        let meta = txn.open_table(META)?;
        if meta.get(CUSTOMERS_LINKED)?.is_some() {
            return Ok(());
        }
    }
    fill_customers(txn)
}

/// Links every licence of the database that holds an e-mail to the customer of that e-mail
/// (made when none has it), whatever the marker says, and sets the marker. `licd import`
/// runs it after writing an export's rows: an export of an older licd carries e-mails on its
/// licences and no customers.
pub(crate) fn fill_customers(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let mut licenses = txn.open_table(LICENSES)?;
    let mut customers = txn.open_table(CUSTOMERS)?;
    let mut emails = txn.open_table(CUSTOMER_EMAILS)?;
    let mut links = txn.open_table(CUSTOMER_LICENSES)?;
    let mut unlinked: Vec<License> = Vec::new();
    for row in licenses.iter()? {
        let (_, value) = row?;
        let license: License = decode(value.value())?;
        if license.email.is_some() {
            unlinked.push(license);
        }
    }
    for mut license in unlinked {
        let email = license.email.take().unwrap_or_default();
        if license.customer.is_none() && !email.trim().is_empty() {
            let customer = match by_email(&emails, &customers, &email)? {
                Some(c) => c,
                None => {
                    let id = new_id().map_err(|e| StoreError::Random(e.to_string()))?;
                    let c = Customer::new(id, &email, license.created);
                    put(&mut customers, &mut emails, &c)?;
                    c
                }
            };
            links.insert((customer.id.as_str(), license.key.as_str()), ())?;
            license.customer = Some(customer.id);
        }
        licenses.insert(license.key.as_str(), encode(&license)?.as_slice())?;
    }
    meta.insert(CUSTOMERS_LINKED, [1u8].as_slice())?;
    Ok(())
}

/// The problems `licd check` reports about the customer tables: an e-mail index row that
/// names a missing customer or one with another e-mail, a customer missing from the index,
/// and links that disagree with the licences.
pub(super) fn problems(txn: &redb::ReadTransaction) -> Result<Vec<String>, StoreError> {
    let customers = txn.open_table(CUSTOMERS)?;
    let emails = txn.open_table(CUSTOMER_EMAILS)?;
    let links = txn.open_table(CUSTOMER_LICENSES)?;
    let licenses = txn.open_table(LICENSES)?;
    let mut problems = Vec::new();
    for row in emails.iter()? {
        let (k, v) = row?;
        let id: String = decode(v.value())?;
        match by_id(&customers, &id)? {
            None => problems.push(format!(
                "customer e-mail index names a missing customer {id}"
            )),
            Some(c) if email_key(&c.email) != k.value() => problems.push(format!(
                "customer e-mail index files customer {id} under another e-mail than its own"
            )),
            Some(_) => {}
        }
    }
    for row in customers.iter()? {
        let (k, v) = row?;
        let c: Customer = decode(v.value())?;
        let filed: Option<String> = emails
            .get(email_key(&c.email).as_str())?
            .map(|v| decode(v.value()))
            .transpose()?;
        if filed.as_deref() != Some(k.value()) {
            problems.push(format!(
                "customer {} is not filed under its e-mail",
                k.value()
            ));
        }
    }
    for row in links.iter()? {
        let (k, _) = row?;
        let (id, key) = k.value();
        let Some(value) = licenses.get(key)? else {
            problems.push(format!("customer {id} lists a missing licence {key}"));
            continue;
        };
        let license: License = decode(value.value())?;
        if license.customer.as_deref() != Some(id) {
            problems.push(format!(
                "customer {id} lists {key}, but the licence names another customer"
            ));
        }
    }
    for row in licenses.iter()? {
        let (_, value) = row?;
        let license: License = decode(value.value())?;
        if let Some(id) = &license.customer {
            if customers.get(id.as_str())?.is_none() {
                problems.push(format!(
                    "licence {} names a missing customer {id}",
                    license.key
                ));
            } else if links.get((id.as_str(), license.key.as_str()))?.is_none() {
                problems.push(format!(
                    "licence {} is not listed under its customer {id}",
                    license.key
                ));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use redb::{Database, ReadableDatabase};

    use super::*;

    #[test]
    fn licences_written_with_an_email_before_customers_get_one_customer_per_email_when_opened() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("licd.redb");
        // What an older licd wrote: licences holding e-mails, and no customer tables.
        {
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("write");
            {
                let mut licenses = txn.open_table(LICENSES).expect("licences");
                for (key, email) in [
                    ("K1", Some("Ann@Example.com")),
                    ("K2", Some("ann@example.com ")),
                    ("K3", Some("bob@example.com")),
                    ("K4", None),
                ] {
                    let mut l = License::for_tests("permanent", 1, 100);
                    l.key = key.into();
                    l.email = email.map(str::to_string);
                    licenses
                        .insert(key, encode(&l).expect("encode").as_slice())
                        .expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        let db = super::super::open_database(&path, 1 << 20, None).expect("open");
        super::super::prepare(&db).expect("prepare");
        let txn = db.begin_read().expect("read");
        let licenses = txn.open_table(LICENSES).expect("licences");
        let customers = txn.open_table(CUSTOMERS).expect("customers");
        let emails = txn.open_table(CUSTOMER_EMAILS).expect("emails");
        let links = txn.open_table(CUSTOMER_LICENSES).expect("links");
        let ann = by_email(&emails, &customers, "ANN@example.com")
            .expect("read")
            .expect("Ann is a customer");
        assert_eq!(ann.email, "Ann@Example.com");
        assert_eq!(keys(&links, &ann.id).expect("keys"), ["K1", "K2"]);
        for key in ["K1", "K2", "K3", "K4"] {
            let l: License =
                decode(licenses.get(key).expect("get").expect("there").value()).expect("decode");
            assert_eq!(
                l.email, None,
                "{key}: the e-mail lives in the customer only"
            );
            assert_eq!(l.customer.is_some(), key != "K4", "{key}");
        }
        assert_eq!(customers.iter().expect("iter").count(), 2);
        assert!(problems(&txn).expect("checked").is_empty());
    }
}
