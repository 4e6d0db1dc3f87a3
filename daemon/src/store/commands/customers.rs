//! The customer commands (UpdateUserInformation, UpdatePrivacyConsentHttp,
//! SubscribeToMailListHttp, `licd customers delete`) and [`link_email`], which every command
//! that writes a licence given an e-mail runs, so that the e-mail lives in its customer only.

use serde::{Deserialize, Serialize};

use super::{Command, LicenseCheck, Remembered, refused, stored_license};
use crate::customers::rules::{
    UserDecision, UserUpdate, decide_user_update, record_consent, set_mail_list,
};
use crate::customers::{Customer, email_key, new_id, same_email};
use crate::license::License;
use crate::license::history::HistoryEntry;
use crate::license::refusal::{Reason, Refusal};
use crate::store::StoreError;
use crate::store::tx::{Tx, TxResult};

/// A fresh customer id, or the store error of a failing OS generator.
fn fresh_id() -> Result<String, StoreError> {
    new_id().map_err(|e| StoreError::Random(e.to_string()))
}

/// Moves the e-mail `license` was given (`is_email`, or a store field mapped to it) to its
/// customer: the customer of that e-mail (made at `now` when none has it) becomes the
/// licence's, and the licence keeps no e-mail of its own. A licence that has a customer keeps
/// it; the e-mail given is then dropped (it is the customer's, changed by
/// UpdateUserInformation). Runs before the licence is written.
pub(crate) async fn link_email<T: Tx>(tx: &mut T, license: &mut License, now: i64) -> TxResult<()> {
    let Some(email) = license.email.take() else {
        return Ok(());
    };
    if license.customer.is_some() || email.trim().is_empty() {
        return Ok(());
    }
    let customer = match tx.customer_by_email(&email).await? {
        Some(c) => c,
        None => {
            let c = Customer::new(fresh_id()?, &email, now);
            tx.put_customer(&c).await?;
            c
        }
    };
    tx.join_customer(&customer.id, &license.key).await?;
    license.customer = Some(customer.id);
    Ok(())
}

/// A history line about the licence's customer; it never holds the customer's data.
fn customer_entry(
    event: &str,
    now: i64,
    vendor: Option<String>,
    client: Option<String>,
) -> HistoryEntry {
    HistoryEntry {
        time: now,
        event: event.to_string(),
        computer_id: None,
        computer_name: None,
        computer_key: None,
        activated_at: None,
        vendor,
        client,
        license_before: None,
    }
}

/// UpdateUserInformation: creates or updates a customer, and links a key to it.
pub struct UpdateCustomer {
    /// What the request gives.
    pub request: UserUpdate,
    /// `is_avkey`, canonical: the key to link to the customer.
    pub key: Option<String>,
    /// `options.updateExistingUserInformation`.
    pub update_existing: bool,
    /// Checks the key may be linked by the caller (its vendor's scope).
    pub check: LicenseCheck,
    /// The request's time.
    pub now: i64,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address, for the history.
    pub client: Option<String>,
}

/// What UpdateUserInformation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerUpdated {
    /// The customer as stored.
    pub customer: Customer,
    /// Whether the customer is new.
    pub created: bool,
    /// The key linked to it, when `is_avkey` was given.
    pub linked: Option<String>,
}

impl Command for UpdateCustomer {
    type Done = CustomerUpdated;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<CustomerUpdated> {
        let license = match &self.key {
            Some(key) => {
                let license = stored_license(tx, key).await?;
                (self.check)(&license).or_else(refused)?;
                Some(license)
            }
            None => None,
        };
        let at_email = tx.customer_by_email(&self.request.email).await?;
        let at_previous = match self.request.changed_from() {
            Some(previous) => tx.customer_by_email(previous).await?,
            None => None,
        };
        let decision = decide_user_update(
            at_email.as_ref(),
            at_previous.as_ref(),
            &self.request,
            self.update_existing,
            self.now,
            fresh_id()?,
        )
        .or_else(refused)?;
        let customer = decision.customer().clone();
        tx.put_customer(&customer).await?;
        let mut linked = None;
        if let Some(mut license) = license {
            if license.customer.as_deref() != Some(customer.id.as_str()) {
                if let Some(old) = &license.customer {
                    tx.leave_customer(old, &license.key).await?;
                }
                license.customer = Some(customer.id.clone());
                license.email = None;
                tx.put_license(&license).await?;
                tx.join_customer(&customer.id, &license.key).await?;
                let entry = customer_entry(
                    "customer_linked",
                    self.now,
                    self.vendor.clone(),
                    self.client.clone(),
                );
                tx.append_history(&license.key, &entry).await?;
            }
            linked = Some(license.key);
        }
        Ok(CustomerUpdated {
            created: matches!(decision, UserDecision::Create(_)),
            customer,
            linked,
        })
    }
}

impl Remembered for UpdateCustomer {
    const KIND: &'static str = "CustomerUpdated";
}

/// UpdatePrivacyConsentHttp: records the consent of the customer of a key.
pub struct RecordConsent {
    /// Canonical activation key.
    pub key: String,
    /// The e-mail the caller gives, which must be the key's customer's.
    pub email: String,
    /// Consent given (`true`) or denied.
    pub consent: bool,
    /// The request's time.
    pub now: i64,
}

impl Command for RecordConsent {
    type Done = Customer;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Customer> {
        let license = stored_license(tx, &self.key).await?;
        let customer = match &license.customer {
            Some(id) => tx.customer(id).await?,
            None => None,
        };
        // One answer whether the key has no customer or another one: the reply must not
        // tell a caller without the e-mail whose key it is.
        let Some(customer) = customer.filter(|c| same_email(&c.email, &self.email)) else {
            return refused(Refusal::new(
                Reason::NotFound,
                "No customer with this e-mail has this activation key; check both.",
            ));
        };
        let updated = record_consent(&customer, self.consent, self.now);
        tx.put_customer(&updated).await?;
        Ok(updated)
    }
}

/// SubscribeToMailListHttp: puts a customer on the mailing list or takes it off.
pub struct SetMailList {
    /// The customer's e-mail (any case).
    pub email: String,
    /// On (`true`) or off.
    pub include: bool,
    /// The request's time.
    pub now: i64,
}

impl Command for SetMailList {
    type Done = Customer;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Customer> {
        let Some(customer) = tx.customer_by_email(&self.email).await? else {
            return refused(no_customer());
        };
        let updated = set_mail_list(&customer, self.include, self.now);
        tx.put_customer(&updated).await?;
        Ok(updated)
    }
}

/// Code 203 for an e-mail no customer has.
fn no_customer() -> Refusal {
    Refusal::new(Reason::NotFound, "No customer has this e-mail; check it.")
}

/// `licd customers delete`: erases a customer's personal data (the GDPR right to erasure).
/// Its licences stay, with no customer, and each gets a history line saying so, without the
/// data.
pub struct EraseCustomer {
    /// The customer's e-mail (any case).
    pub email: String,
    /// The request's time.
    pub now: i64,
    /// Who asked, for the history.
    pub vendor: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Erased {
    /// The id the customer had (names no data).
    pub id: String,
    /// The keys that were the customer's, now without one.
    pub keys: Vec<String>,
}

impl Command for EraseCustomer {
    type Done = Erased;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Erased> {
        let Some(customer) = tx.customer_by_email(&self.email).await? else {
            return refused(no_customer());
        };
        let keys = tx.license_keys_of_customer(&self.email).await?;
        for key in &keys {
            if let Some(mut license) = tx.license_for_update(key).await?
                && license.customer.as_deref() == Some(customer.id.as_str())
            {
                license.customer = None;
                license.email = None;
                tx.put_license(&license).await?;
                let entry = customer_entry("customer_erased", self.now, self.vendor.clone(), None);
                tx.append_history(key, &entry).await?;
            }
            tx.leave_customer(&customer.id, key).await?;
        }
        tx.remove_customer(&customer.id).await?;
        // The address lives on in its authorization codes and in mail waiting for it: both
        // are personal data, and both go with the customer.
        for code in tx
            .authorization_codes_of(&email_key(&customer.email))
            .await?
        {
            tx.remove_authorization_code(&code).await?;
        }
        for queued in tx.queued_mail().await? {
            if same_email(&queued.mail.to, &customer.email) {
                tx.remove_mail(queued.id).await?;
            }
        }
        Ok(Erased {
            id: customer.id,
            keys,
        })
    }
}
