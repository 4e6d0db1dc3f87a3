//! [`Watch`]: a [`Tx`] around the backend's transaction that passes every operation through
//! and notes the writes that may be events ([`super::changes`]).
//!
//! It looks up what a write replaces only when the command did not read it first, so a
//! command that reads before it writes (all of them do) costs no extra read; a new
//! activation or a release is checked against the stored activation.

use super::changes::{Seen, Step};
use crate::customers::Customer;
use crate::license::authorization_code::AuthorizationCode;
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;
use crate::store::StoreError;
use crate::store::outbox::{OutgoingMail, QueuedMail};
use crate::store::tx::{Group, InstallScope, OrderRef, RememberedChange, Tx};
use crate::store::webhook_outbox::{QueuedWebhook, WebhookEvent};

/// The backend's transaction `inner`, watched for one command.
pub(super) struct Watch<'a, T> {
    /// The backend's transaction.
    pub(super) inner: &'a mut T,
    /// What the command read and wrote so far.
    pub(super) seen: Seen,
}

impl<'a, T: Tx> Watch<'a, T> {
    /// Watches `inner` for one command.
    pub(super) fn new(inner: &'a mut T) -> Self {
        Watch {
            inner,
            seen: Seen::default(),
        }
    }

    /// Notes the licence `key` as it is before the command, unless noted already.
    async fn note_license(&mut self, key: &str) -> Result<(), StoreError> {
        if !self.seen.licenses_before.contains_key(key) {
            let stored = self.inner.license_for_update(key).await?;
            self.seen.licenses_before.insert(key.to_string(), stored);
        }
        Ok(())
    }

    /// Notes the customer `id` as it is before the command, unless noted already.
    async fn note_customer(&mut self, id: &str) -> Result<(), StoreError> {
        if !self.seen.customers_before.contains_key(id) {
            let stored = self.inner.customer(id).await?;
            self.seen.customers_before.insert(id.to_string(), stored);
        }
        Ok(())
    }
}

impl<T: Tx> Tx for Watch<'_, T> {
    async fn license_for_update(&mut self, key: &str) -> Result<Option<License>, StoreError> {
        let found = self.inner.license_for_update(key).await?;
        self.seen
            .licenses_before
            .entry(key.to_string())
            .or_insert_with(|| found.clone());
        Ok(found)
    }

    async fn license_exists(&mut self, key: &str) -> Result<bool, StoreError> {
        let exists = self.inner.license_exists(key).await?;
        if !exists {
            self.seen
                .licenses_before
                .entry(key.to_string())
                .or_insert(None);
        }
        Ok(exists)
    }

    async fn put_license(&mut self, license: &License) -> Result<(), StoreError> {
        self.note_license(&license.key).await?;
        self.inner.put_license(license).await?;
        let first = self
            .seen
            .licenses_after
            .insert(license.key.clone(), license.clone())
            .is_none();
        if first {
            self.seen.steps.push(Step::License(license.key.clone()));
        }
        Ok(())
    }

    async fn put_activation(
        &mut self,
        key: &str,
        activation: &Activation,
    ) -> Result<(), StoreError> {
        let new = self
            .inner
            .activation(key, &activation.computer_id)
            .await?
            .is_none();
        self.inner.put_activation(key, activation).await?;
        if new {
            self.seen.steps.push(Step::Activated(key.to_string()));
        }
        Ok(())
    }

    async fn remove_activation(&mut self, key: &str, computer_id: &str) -> Result<(), StoreError> {
        let existed = self.inner.activation(key, computer_id).await?.is_some();
        self.inner.remove_activation(key, computer_id).await?;
        if existed {
            self.seen.steps.push(Step::Released(key.to_string()));
        }
        Ok(())
    }

    async fn customer(&mut self, id: &str) -> Result<Option<Customer>, StoreError> {
        let found = self.inner.customer(id).await?;
        self.seen
            .customers_before
            .entry(id.to_string())
            .or_insert_with(|| found.clone());
        Ok(found)
    }

    async fn customer_by_email(&mut self, email: &str) -> Result<Option<Customer>, StoreError> {
        let found = self.inner.customer_by_email(email).await?;
        if let Some(c) = &found {
            self.seen
                .customers_before
                .entry(c.id.clone())
                .or_insert_with(|| Some(c.clone()));
        }
        Ok(found)
    }

    async fn put_customer(&mut self, customer: &Customer) -> Result<(), StoreError> {
        self.note_customer(&customer.id).await?;
        self.inner.put_customer(customer).await?;
        let first = self
            .seen
            .customers_after
            .insert(customer.id.clone(), customer.clone())
            .is_none();
        if first {
            self.seen.steps.push(Step::Customer(customer.id.clone()));
        }
        Ok(())
    }

    async fn remove_customer(&mut self, id: &str) -> Result<(), StoreError> {
        self.note_customer(id).await?;
        self.inner.remove_customer(id).await?;
        self.seen.steps.push(Step::CustomerRemoved(id.to_string()));
        Ok(())
    }

    async fn remove_license(&mut self, key: &str) -> Result<(), StoreError> {
        self.note_license(key).await?;
        self.inner.remove_license(key).await?;
        self.seen.steps.push(Step::LicenseRemoved(key.to_string()));
        Ok(())
    }

    async fn licenses_stored(&mut self) -> Result<i64, StoreError> {
        self.inner.licenses_stored().await
    }

    async fn keys_created_on(&mut self, day: i64) -> Result<i64, StoreError> {
        self.inner.keys_created_on(day).await
    }

    async fn count_new_licenses(&mut self, day: i64, n: i64) -> Result<(), StoreError> {
        self.inner.count_new_licenses(day, n).await
    }

    async fn count_stored_license(&mut self) -> Result<(), StoreError> {
        self.inner.count_stored_license().await
    }

    async fn activation(
        &mut self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        self.inner.activation(key, computer_id).await
    }

    async fn activations(&mut self, key: &str) -> Result<Vec<Activation>, StoreError> {
        self.inner.activations(key).await
    }

    async fn activations_on(&mut self, day: i64) -> Result<i64, StoreError> {
        self.inner.activations_on(day).await
    }

    async fn count_activation(&mut self, day: i64) -> Result<(), StoreError> {
        self.inner.count_activation(day).await
    }

    async fn release_times(&mut self, key: &str) -> Result<Vec<i64>, StoreError> {
        self.inner.release_times(key).await
    }

    async fn log_release(&mut self, key: &str, time: i64) -> Result<(), StoreError> {
        self.inner.log_release(key, time).await
    }

    async fn append_history(&mut self, key: &str, entry: &HistoryEntry) -> Result<(), StoreError> {
        self.inner.append_history(key, entry).await
    }

    async fn by_order(&mut self, order: &OrderRef<'_>) -> Result<Option<Vec<String>>, StoreError> {
        self.inner.by_order(order).await
    }

    async fn record_order(
        &mut self,
        order: &OrderRef<'_>,
        keys: &[&str],
    ) -> Result<(), StoreError> {
        self.inner.record_order(order, keys).await
    }

    async fn by_subscription(&mut self, subscription_id: &str) -> Result<Vec<String>, StoreError> {
        self.inner.by_subscription(subscription_id).await
    }

    async fn join_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.inner.join_subscription(subscription_id, key).await
    }

    async fn leave_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.inner.leave_subscription(subscription_id, key).await
    }

    async fn vendor_group_keys(
        &mut self,
        vendor: &str,
        group: &Group,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.vendor_group_keys(vendor, group).await
    }

    async fn join_vendor_groups(&mut self, license: &License) -> Result<(), StoreError> {
        self.inner.join_vendor_groups(license).await
    }

    async fn leave_vendor_groups(&mut self, license: &License) -> Result<(), StoreError> {
        self.inner.leave_vendor_groups(license).await
    }

    async fn current_signing_key(&mut self) -> Result<Option<StoredSigningKey>, StoreError> {
        self.inner.current_signing_key().await
    }

    async fn make_signing_key_current(&mut self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.inner.make_signing_key_current(key).await
    }

    async fn license_keys_of_customer(&mut self, email: &str) -> Result<Vec<String>, StoreError> {
        self.inner.license_keys_of_customer(email).await
    }

    async fn join_customer(&mut self, customer_id: &str, key: &str) -> Result<(), StoreError> {
        self.inner.join_customer(customer_id, key).await
    }

    async fn leave_customer(&mut self, customer_id: &str, key: &str) -> Result<(), StoreError> {
        self.inner.leave_customer(customer_id, key).await
    }

    async fn recall_change(
        &mut self,
        vendor: &str,
        id: &str,
    ) -> Result<Option<RememberedChange>, StoreError> {
        self.inner.recall_change(vendor, id).await
    }

    async fn remember_change(
        &mut self,
        vendor: &str,
        id: &str,
        at: i64,
        change: &RememberedChange,
    ) -> Result<(), StoreError> {
        self.inner.remember_change(vendor, id, at, change).await
    }

    async fn authorization_code(
        &mut self,
        hash: &str,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        self.inner.authorization_code(hash).await
    }

    async fn authorization_codes_of(
        &mut self,
        email: &str,
    ) -> Result<Vec<AuthorizationCode>, StoreError> {
        self.inner.authorization_codes_of(email).await
    }

    async fn put_authorization_code(&mut self, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.inner.put_authorization_code(code).await
    }

    async fn remove_authorization_code(
        &mut self,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        self.inner.remove_authorization_code(code).await
    }

    async fn install_for_update(&mut self, id: &str) -> Result<Option<Install>, StoreError> {
        self.inner.install_for_update(id).await
    }

    async fn put_install(&mut self, install: &Install) -> Result<(), StoreError> {
        self.inner.put_install(install).await
    }

    async fn installs_stored(&mut self) -> Result<i64, StoreError> {
        self.inner.installs_stored().await
    }

    async fn installs_added_on(
        &mut self,
        day: i64,
        scope: InstallScope<'_>,
    ) -> Result<i64, StoreError> {
        self.inner.installs_added_on(day, scope).await
    }

    async fn count_new_install(
        &mut self,
        day: i64,
        scopes: &[InstallScope<'_>],
    ) -> Result<(), StoreError> {
        self.inner.count_new_install(day, scopes).await
    }

    async fn enqueue_mail(&mut self, mail: &OutgoingMail, at: i64) -> Result<i64, StoreError> {
        self.inner.enqueue_mail(mail, at).await
    }

    async fn claim_due_mail(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        self.inner.claim_due_mail(now, lease_until, limit).await
    }

    async fn next_mail_due(&mut self) -> Result<Option<i64>, StoreError> {
        self.inner.next_mail_due().await
    }

    async fn queued_mail(&mut self) -> Result<Vec<QueuedMail>, StoreError> {
        self.inner.queued_mail().await
    }

    async fn remove_mail(&mut self, id: i64) -> Result<bool, StoreError> {
        self.inner.remove_mail(id).await
    }

    async fn mail_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.inner.mail_failed(id, next_try_at, error).await
    }

    async fn retry_mail(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        self.inner.retry_mail(id, at).await
    }

    async fn forget_order(&mut self, order: &OrderRef<'_>) -> Result<(), StoreError> {
        self.inner.forget_order(order).await
    }

    async fn enqueue_webhook(&mut self, event: &WebhookEvent) -> Result<i64, StoreError> {
        self.inner.enqueue_webhook(event).await
    }

    async fn claim_due_webhooks(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedWebhook>, StoreError> {
        self.inner.claim_due_webhooks(now, lease_until, limit).await
    }

    async fn next_webhook_due(&mut self) -> Result<Option<i64>, StoreError> {
        self.inner.next_webhook_due().await
    }

    async fn queued_webhooks(&mut self) -> Result<Vec<QueuedWebhook>, StoreError> {
        self.inner.queued_webhooks().await
    }

    async fn remove_webhook(&mut self, id: i64) -> Result<bool, StoreError> {
        self.inner.remove_webhook(id).await
    }

    async fn webhook_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        dead: bool,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.inner
            .webhook_failed(id, next_try_at, dead, error)
            .await
    }

    async fn retry_webhook(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        self.inner.retry_webhook(id, at).await
    }

    // Console sessions make no events.
    async fn console_session(
        &mut self,
        digest: &str,
    ) -> Result<Option<crate::store::console_sessions::ConsoleSession>, StoreError> {
        self.inner.console_session(digest).await
    }

    async fn put_console_session(
        &mut self,
        digest: &str,
        session: &crate::store::console_sessions::ConsoleSession,
    ) -> Result<(), StoreError> {
        self.inner.put_console_session(digest, session).await
    }

    async fn remove_console_session(&mut self, digest: &str) -> Result<bool, StoreError> {
        self.inner.remove_console_session(digest).await
    }

    async fn remove_expired_console_sessions(
        &mut self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        self.inner
            .remove_expired_console_sessions(seen_before, created_before)
            .await
    }
}
