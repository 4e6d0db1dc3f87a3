//! The domain operations of [`Tx`] over one redb write transaction.
//!
//! Every table is opened once per batch (redb allows a table open only once per
//! transaction, and opening costs a look-up), and the commands of the batch share them.
//! Counters that the operations name by intent (activations today, keys created today,
//! licences stored) are rows of `counters_v1`; history and the release log take their
//! sequence numbers from counters too, which is fine with one writer.

use redb::{ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::tables::*;
use crate::customers::Customer;
use crate::license::authorization_code::AuthorizationCode;
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;
use crate::store::StoreError;
use crate::store::console_sessions::ConsoleSession;
use crate::store::outbox::{OutgoingMail, QueuedMail, short_error};
use crate::store::tx::{Group, InstallScope, OrderRef, RememberedChange, Tx};
use crate::store::webhook_outbox::{QueuedWebhook, WebhookEvent};

/// A `replays_v1` value: the change remembered, with its time.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReplayRow {
    pub(super) at: i64,
    pub(super) method: String,
    pub(super) outcome: serde_json::Value,
}

/// A `replay_order_v1` value: which row its key stands for.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct OrderEntry {
    pub(super) at: i64,
    pub(super) vendor: String,
    pub(super) id: String,
}

type Bytes<'t, K> = Table<'t, K, &'static [u8]>;

/// The tables of one write transaction, open for the commands of a batch.
pub(crate) struct RedbTx<'t> {
    licenses: Bytes<'t, &'static str>,
    activations: Bytes<'t, (&'static str, &'static str)>,
    history: Bytes<'t, (&'static str, u64)>,
    releases: Table<'t, (&'static str, u64), i64>,
    counters: Table<'t, &'static str, i64>,
    orders: Bytes<'t, &'static str>,
    subscriptions: Table<'t, (&'static str, &'static str), ()>,
    vendor_groups: Table<'t, (&'static str, &'static str), ()>,
    meta: Bytes<'t, &'static str>,
    signing_keys: Bytes<'t, &'static str>,
    replays: Bytes<'t, (&'static str, &'static str)>,
    replay_order: Bytes<'t, &'static str>,
    auth_codes: Bytes<'t, &'static str>,
    auth_codes_by_email: Table<'t, (&'static str, &'static str), ()>,
    customers: Bytes<'t, &'static str>,
    customer_emails: Bytes<'t, &'static str>,
    customer_licenses: Table<'t, (&'static str, &'static str), ()>,
    installs: Bytes<'t, &'static str>,
    analytics_counts: Table<'t, &'static str, i64>,
    mail_outbox: Bytes<'t, i64>,
    webhook_outbox: Bytes<'t, i64>,
    console_sessions: Bytes<'t, &'static str>,
}

impl<'t> RedbTx<'t> {
    /// Opens every table a command may use in `txn`.
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<RedbTx<'t>, StoreError> {
        Ok(RedbTx {
            licenses: txn.open_table(LICENSES)?,
            activations: txn.open_table(ACTIVATIONS)?,
            history: txn.open_table(HISTORY)?,
            releases: txn.open_table(RELEASES)?,
            counters: txn.open_table(COUNTERS)?,
            orders: txn.open_table(ORDERS)?,
            subscriptions: txn.open_table(SUBSCRIPTIONS)?,
            vendor_groups: txn.open_table(VENDOR_GROUPS)?,
            meta: txn.open_table(META)?,
            signing_keys: txn.open_table(SIGNING_KEYS)?,
            replays: txn.open_table(REPLAYS)?,
            replay_order: txn.open_table(REPLAY_ORDER)?,
            auth_codes: txn.open_table(AUTH_CODES)?,
            auth_codes_by_email: txn.open_table(AUTH_CODES_BY_EMAIL)?,
            customers: txn.open_table(CUSTOMERS)?,
            customer_emails: txn.open_table(CUSTOMER_EMAILS)?,
            customer_licenses: txn.open_table(CUSTOMER_LICENSES)?,
            installs: txn.open_table(ANALYTICS_INSTALLS)?,
            analytics_counts: txn.open_table(ANALYTICS_COUNTS)?,
            mail_outbox: txn.open_table(MAIL_OUTBOX)?,
            webhook_outbox: txn.open_table(WEBHOOK_OUTBOX)?,
            console_sessions: txn.open_table(CONSOLE_SESSIONS)?,
        })
    }

    fn counter(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.counters.get(name)?.map_or(0, |v| v.value()))
    }

    fn add(&mut self, name: &str, n: i64) -> Result<(), StoreError> {
        let value = self.counter(name)? + n;
        self.counters.insert(name, value)?;
        Ok(())
    }

    fn analytics_count(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.analytics_counts.get(name)?.map_or(0, |v| v.value()))
    }

    fn analytics_add(&mut self, name: &str) -> Result<(), StoreError> {
        let value = self.analytics_count(name)? + 1;
        self.analytics_counts.insert(name, value)?;
        Ok(())
    }

    /// The next number of a sequence counter.
    fn next(&mut self, name: &str) -> Result<u64, StoreError> {
        let seq = self.counter(name)?;
        self.counters.insert(name, seq + 1)?;
        u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("sequence {name}")))
    }
}

impl Tx for RedbTx<'_> {
    async fn license_for_update(&mut self, key: &str) -> Result<Option<License>, StoreError> {
        // One writer: every licence is locked for the whole batch.
        self.licenses
            .get(key)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn license_exists(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.licenses.get(key)?.is_some())
    }

    async fn put_license(&mut self, license: &License) -> Result<(), StoreError> {
        self.licenses
            .insert(license.key.as_str(), encode(license)?.as_slice())?;
        Ok(())
    }

    async fn licenses_stored(&mut self) -> Result<i64, StoreError> {
        self.counter(LICENSE_COUNT)
    }

    async fn keys_created_on(&mut self, day: i64) -> Result<i64, StoreError> {
        self.counter(&keys_created_on(day))
    }

    async fn count_new_licenses(&mut self, day: i64, n: i64) -> Result<(), StoreError> {
        self.add(&keys_created_on(day), n)?;
        self.add(LICENSE_COUNT, n)
    }

    async fn count_stored_license(&mut self) -> Result<(), StoreError> {
        self.add(LICENSE_COUNT, 1)
    }

    async fn activation(
        &mut self,
        key: &str,
        computer_id: &str,
    ) -> Result<Option<Activation>, StoreError> {
        self.activations
            .get((key, computer_id))?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn activations(&mut self, key: &str) -> Result<Vec<Activation>, StoreError> {
        activations_of(&self.activations, key)
    }

    async fn put_activation(
        &mut self,
        key: &str,
        activation: &Activation,
    ) -> Result<(), StoreError> {
        self.activations.insert(
            (key, activation.computer_id.as_str()),
            encode(activation)?.as_slice(),
        )?;
        Ok(())
    }

    async fn remove_activation(&mut self, key: &str, computer_id: &str) -> Result<(), StoreError> {
        self.activations.remove((key, computer_id))?;
        Ok(())
    }

    async fn activations_on(&mut self, day: i64) -> Result<i64, StoreError> {
        self.counter(&activations_on(day))
    }

    async fn count_activation(&mut self, day: i64) -> Result<(), StoreError> {
        self.add(&activations_on(day), 1)
    }

    async fn release_times(&mut self, key: &str) -> Result<Vec<i64>, StoreError> {
        release_times_of(&self.releases, key)
    }

    async fn log_release(&mut self, key: &str, time: i64) -> Result<(), StoreError> {
        let seq = self.next(RELEASE_SEQ)?;
        self.releases.insert((key, seq), time)?;
        Ok(())
    }

    async fn append_history(&mut self, key: &str, entry: &HistoryEntry) -> Result<(), StoreError> {
        let seq = self.next(HISTORY_SEQ)?;
        self.history.insert((key, seq), encode(entry)?.as_slice())?;
        Ok(())
    }

    async fn by_order(&mut self, order: &OrderRef<'_>) -> Result<Option<Vec<String>>, StoreError> {
        let key = order_key(order.vendor, order.product_id, order.order_id);
        self.orders
            .get(key.as_str())?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn record_order(
        &mut self,
        order: &OrderRef<'_>,
        keys: &[&str],
    ) -> Result<(), StoreError> {
        let key = order_key(order.vendor, order.product_id, order.order_id);
        self.orders
            .insert(key.as_str(), encode(&keys)?.as_slice())?;
        Ok(())
    }

    async fn by_subscription(&mut self, subscription_id: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        for row in self.subscriptions.range((subscription_id, "")..)? {
            let (k, _) = row?;
            let (found, key) = k.value();
            if found != subscription_id {
                break;
            }
            keys.push(key.to_string());
        }
        Ok(keys)
    }

    async fn join_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.subscriptions.insert((subscription_id, key), ())?;
        Ok(())
    }

    async fn leave_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.subscriptions.remove((subscription_id, key))?;
        Ok(())
    }

    async fn vendor_group_keys(
        &mut self,
        vendor: &str,
        group: &Group,
    ) -> Result<Vec<String>, StoreError> {
        super::vendor_groups::keys(&self.vendor_groups, vendor, group)
    }

    async fn join_vendor_groups(&mut self, license: &License) -> Result<(), StoreError> {
        super::vendor_groups::join(&mut self.vendor_groups, license)
    }

    async fn leave_vendor_groups(&mut self, license: &License) -> Result<(), StoreError> {
        super::vendor_groups::leave(&mut self.vendor_groups, license)
    }

    async fn current_signing_key(&mut self) -> Result<Option<StoredSigningKey>, StoreError> {
        let name = self
            .meta
            .get(CURRENT_SIGNING_KEY)?
            .map(|v| String::from_utf8(v.value().to_vec()))
            .transpose()
            .map_err(|_| StoreError::Corrupt("current signing key name".into()))?;
        let Some(name) = name else {
            return Ok(None);
        };
        self.signing_keys
            .get(name.as_str())?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn make_signing_key_current(&mut self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.signing_keys
            .insert(key.name.as_str(), encode(key)?.as_slice())?;
        self.meta.insert(CURRENT_SIGNING_KEY, key.name.as_bytes())?;
        Ok(())
    }

    async fn customer(&mut self, id: &str) -> Result<Option<Customer>, StoreError> {
        super::customers::by_id(&self.customers, id)
    }

    async fn customer_by_email(&mut self, email: &str) -> Result<Option<Customer>, StoreError> {
        // One writer: every e-mail is held for the whole batch.
        super::customers::by_email(&self.customer_emails, &self.customers, email)
    }

    async fn put_customer(&mut self, customer: &Customer) -> Result<(), StoreError> {
        super::customers::put(&mut self.customers, &mut self.customer_emails, customer)
    }

    async fn remove_customer(&mut self, id: &str) -> Result<(), StoreError> {
        super::customers::remove(&mut self.customers, &mut self.customer_emails, id)
    }

    async fn license_keys_of_customer(&mut self, email: &str) -> Result<Vec<String>, StoreError> {
        match super::customers::by_email(&self.customer_emails, &self.customers, email)? {
            Some(c) => super::customers::keys(&self.customer_licenses, &c.id),
            None => Ok(Vec::new()),
        }
    }

    async fn join_customer(&mut self, customer_id: &str, key: &str) -> Result<(), StoreError> {
        self.customer_licenses.insert((customer_id, key), ())?;
        Ok(())
    }

    async fn leave_customer(&mut self, customer_id: &str, key: &str) -> Result<(), StoreError> {
        self.customer_licenses.remove((customer_id, key))?;
        Ok(())
    }

    async fn recall_change(
        &mut self,
        vendor: &str,
        id: &str,
    ) -> Result<Option<RememberedChange>, StoreError> {
        let Some(value) = self.replays.get((vendor, id))? else {
            return Ok(None);
        };
        let row: ReplayRow = decode(value.value())?;
        Ok(Some(RememberedChange {
            method: row.method,
            outcome: row.outcome,
        }))
    }

    async fn remember_change(
        &mut self,
        vendor: &str,
        id: &str,
        at: i64,
        change: &RememberedChange,
    ) -> Result<(), StoreError> {
        let row = ReplayRow {
            at,
            method: change.method.clone(),
            outcome: change.outcome.clone(),
        };
        let entry = OrderEntry {
            at,
            vendor: vendor.to_string(),
            id: id.to_string(),
        };
        self.replays
            .insert((vendor, id), encode(&row)?.as_slice())?;
        self.replay_order.insert(
            replay_order_key(at, vendor, id).as_str(),
            encode(&entry)?.as_slice(),
        )?;
        Ok(())
    }

    async fn authorization_code(
        &mut self,
        hash: &str,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        match self.auth_codes.get(hash)? {
            Some(value) => Ok(Some(decode(value.value())?)),
            None => Ok(None),
        }
    }

    async fn authorization_codes_of(
        &mut self,
        email: &str,
    ) -> Result<Vec<AuthorizationCode>, StoreError> {
        let mut hashes = Vec::new();
        for entry in self.auth_codes_by_email.range((email, "")..)? {
            let (key, _) = entry?;
            let (of, hash) = key.value();
            if of != email {
                break;
            }
            hashes.push(hash.to_string());
        }
        let mut codes = Vec::with_capacity(hashes.len());
        for hash in hashes {
            if let Some(value) = self.auth_codes.get(hash.as_str())? {
                codes.push(decode::<AuthorizationCode>(value.value())?);
            }
        }
        codes.sort_by(|a, b| (a.created, &a.hash).cmp(&(b.created, &b.hash)));
        Ok(codes)
    }

    async fn put_authorization_code(&mut self, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.auth_codes
            .insert(code.hash.as_str(), encode(code)?.as_slice())?;
        self.auth_codes_by_email
            .insert((code.email.as_str(), code.hash.as_str()), ())?;
        Ok(())
    }

    async fn remove_authorization_code(
        &mut self,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        self.auth_codes.remove(code.hash.as_str())?;
        self.auth_codes_by_email
            .remove((code.email.as_str(), code.hash.as_str()))?;
        Ok(())
    }

    async fn install_for_update(&mut self, id: &str) -> Result<Option<Install>, StoreError> {
        // One writer: every install is locked for the whole batch.
        self.installs
            .get(id)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    async fn put_install(&mut self, install: &Install) -> Result<(), StoreError> {
        self.installs
            .insert(install.id.as_str(), encode(install)?.as_slice())?;
        Ok(())
    }

    async fn installs_stored(&mut self) -> Result<i64, StoreError> {
        self.analytics_count(INSTALL_COUNT)
    }

    async fn installs_added_on(
        &mut self,
        day: i64,
        scope: InstallScope<'_>,
    ) -> Result<i64, StoreError> {
        self.analytics_count(&analytics_day_key(day, &scope.counter_name()))
    }

    async fn count_new_install(
        &mut self,
        day: i64,
        scopes: &[InstallScope<'_>],
    ) -> Result<(), StoreError> {
        for scope in scopes {
            self.analytics_add(&analytics_day_key(day, &scope.counter_name()))?;
        }
        self.analytics_add(INSTALL_COUNT)
    }

    async fn enqueue_mail(&mut self, mail: &OutgoingMail, at: i64) -> Result<i64, StoreError> {
        let id = i64::try_from(self.next(MAIL_SEQ)?)
            .map_err(|_| StoreError::Corrupt("sequence mail_seq".into()))?
            + 1;
        super::outbox::enqueue(&mut self.mail_outbox, id, mail, at)?;
        Ok(id)
    }

    async fn claim_due_mail(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        super::outbox::claim_due(&mut self.mail_outbox, now, lease_until, limit)
    }

    async fn next_mail_due(&mut self) -> Result<Option<i64>, StoreError> {
        super::outbox::next_due(&self.mail_outbox)
    }

    async fn queued_mail(&mut self) -> Result<Vec<QueuedMail>, StoreError> {
        super::outbox::all(&self.mail_outbox)
    }

    async fn remove_mail(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.mail_outbox.remove(id)?.is_some())
    }

    async fn mail_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        super::outbox::update(&mut self.mail_outbox, id, |state| {
            state.attempts = state.attempts.saturating_add(1);
            state.next_try_at = next_try_at;
            state.last_error = Some(crate::store::outbox::short_error(error));
        })
    }

    async fn retry_mail(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        super::outbox::update(&mut self.mail_outbox, id, |state| state.next_try_at = at)
    }

    async fn remove_license(&mut self, key: &str) -> Result<(), StoreError> {
        if self.licenses.remove(key)?.is_none() {
            return Ok(());
        }
        let computers: Vec<String> = activations_of(&self.activations, key)?
            .into_iter()
            .map(|a| a.computer_id)
            .collect();
        for computer in computers {
            self.activations.remove((key, computer.as_str()))?;
        }
        self.add(LICENSE_COUNT, -1)
    }

    async fn forget_order(&mut self, order: &OrderRef<'_>) -> Result<(), StoreError> {
        let key = order_key(order.vendor, order.product_id, order.order_id);
        self.orders.remove(key.as_str())?;
        Ok(())
    }

    async fn enqueue_webhook(&mut self, event: &WebhookEvent) -> Result<i64, StoreError> {
        let id = i64::try_from(self.next(WEBHOOK_SEQ)?)
            .map_err(|_| StoreError::Corrupt("sequence webhook_seq".into()))?
            + 1;
        super::webhook_outbox::enqueue(&mut self.webhook_outbox, id, event)?;
        Ok(id)
    }

    async fn claim_due_webhooks(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedWebhook>, StoreError> {
        super::webhook_outbox::claim_due(&mut self.webhook_outbox, now, lease_until, limit)
    }

    async fn next_webhook_due(&mut self) -> Result<Option<i64>, StoreError> {
        super::webhook_outbox::next_due(&self.webhook_outbox)
    }

    async fn queued_webhooks(&mut self) -> Result<Vec<QueuedWebhook>, StoreError> {
        super::webhook_outbox::all(&self.webhook_outbox)
    }

    async fn remove_webhook(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.webhook_outbox.remove(id)?.is_some())
    }

    async fn webhook_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        dead: bool,
        error: &str,
    ) -> Result<bool, StoreError> {
        super::webhook_outbox::update(&mut self.webhook_outbox, id, |state| {
            state.attempts = state.attempts.saturating_add(1);
            state.next_try_at = next_try_at;
            state.dead = dead;
            state.last_error = Some(short_error(error));
        })
    }

    async fn retry_webhook(&mut self, id: i64, at: i64) -> Result<bool, StoreError> {
        super::webhook_outbox::update(&mut self.webhook_outbox, id, |state| {
            state.dead = false;
            state.next_try_at = at;
        })
    }

    async fn console_session(
        &mut self,
        digest: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        super::console_sessions::get(&self.console_sessions, digest)
    }

    async fn put_console_session(
        &mut self,
        digest: &str,
        session: &ConsoleSession,
    ) -> Result<(), StoreError> {
        super::console_sessions::put(&mut self.console_sessions, digest, session)
    }

    async fn remove_console_session(&mut self, digest: &str) -> Result<bool, StoreError> {
        Ok(self.console_sessions.remove(digest)?.is_some())
    }

    async fn remove_expired_console_sessions(
        &mut self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        super::console_sessions::remove_expired(
            &mut self.console_sessions,
            seen_before,
            created_before,
        )
    }
}

/// Every activation of `key` in an open activations table, ordered by computer id.
pub(crate) fn activations_of(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    key: &str,
) -> Result<Vec<Activation>, StoreError> {
    let mut out = Vec::new();
    for row in table.range((key, "")..)? {
        let (k, v) = row?;
        if k.value().0 != key {
            break;
        }
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// Times of the releases of `key` in an open release log, oldest first.
pub(crate) fn release_times_of(
    table: &impl ReadableTable<(&'static str, u64), i64>,
    key: &str,
) -> Result<Vec<i64>, StoreError> {
    let mut out = Vec::new();
    for row in table.range((key, 0u64)..)? {
        let (k, v) = row?;
        if k.value().0 != key {
            break;
        }
        out.push(v.value());
    }
    Ok(out)
}
