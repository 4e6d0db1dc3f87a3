//! The transaction a command runs in: domain operations every backend provides.
//!
//! A command (`super::commands`) loads what it names, asks the rule in `crate::license`, and
//! applies the decision through these operations, all inside one transaction of the backend.
//! The operations say what is meant ("count an activation made today", "log a release"),
//! not which row holds it: redb keeps day counters in one table and a global history
//! sequence, another backend may count rows or use its own sequences, and none of that
//! reaches the commands.
//!
//! Every operation is `async` so that a backend that talks to a server over the network fits
//! the same commands; the embedded backend answers each at once.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::console_sessions::ConsoleSession;
use super::outbox::{OutgoingMail, QueuedMail};
use super::webhook_outbox::{QueuedWebhook, WebhookEvent};
use crate::customers::Customer;
use crate::license::authorization_code::AuthorizationCode;
use crate::license::history::HistoryEntry;
use crate::license::install::Install;
use crate::license::refusal::Refusal;
use crate::license::{Activation, License};
use crate::signing::stored::StoredSigningKey;

/// Why a command ended without its change: a rule refused it, or the backend failed.
///
/// As in garage's `TxError`: the command's own refusal is kept apart from a storage
/// failure, so the backend knows whether to abandon only this command or the whole
/// transaction.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    /// The command refused; nothing of it was written.
    #[error(transparent)]
    Abort(E),
    /// The backend failed; the transaction is abandoned.
    #[error(transparent)]
    Db(#[from] StoreError),
}

/// A command's result inside its transaction.
pub type TxResult<T> = Result<T, TxError<Refusal>>;

/// The keys a store's order was fulfilled with: vendor, product and order id (RetrieveActivationKey
/// and a store's retried callback find them again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef<'a> {
    /// The vendor, in any case (vendor names are compared ignoring case).
    pub vendor: &'a str,
    /// The product the keys are for.
    pub product_id: u32,
    /// The store's order id.
    pub order_id: &'a str,
}

/// What a store names a group of licences by, given when the keys were created: an order id
/// (`is_orderid`) or a subscription id (`is_subscriptionid`). RevokeLicenseHttp,
/// RenewSubscriptionHttp and RenewMaintenancePlan act on every key of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Group {
    /// The store's order id.
    Order(String),
    /// The store's subscription id.
    Subscription(String),
}

impl Group {
    /// The groups `license` belongs to: its order, then its subscription, each when it has one.
    pub fn of(license: &License) -> impl Iterator<Item = Group> + use<> {
        let order = license.order_id.clone().map(Group::Order);
        let subscription = license.subscription_id.clone().map(Group::Subscription);
        order.into_iter().chain(subscription)
    }
}

/// What a per-day install cap counts under (`[analytics]`): one activation key (canonical,
/// `InstallFields::key_for_cap`) or one client address (an IPv6 client's /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallScope<'a> {
    /// Installs added with this activation key.
    Key(&'a str),
    /// Installs added from this client address.
    Address(&'a str),
}

impl InstallScope<'_> {
    /// The counter name the backends store it under: a kind, then the value after a unit
    /// separator, which arguments cannot contain (control characters are refused).
    pub fn counter_name(&self) -> String {
        match self {
            InstallScope::Key(key) => format!("key\u{1f}{key}"),
            InstallScope::Address(address) => format!("address\u{1f}{address}"),
        }
    }
}

/// A change remembered for a replay id (`super::replays`): the method it was made for and
/// its result, as the backend stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RememberedChange {
    /// The method the first change was made for.
    pub method: String,
    /// The result, tagged with the kind of command (`{"Created": {...}}`).
    pub outcome: serde_json::Value,
}

/// The operations of one transaction. Reads see every write made earlier in the same
/// transaction.
#[allow(async_fn_in_trait)] // Commands are generic over the backend; none is boxed.
pub trait Tx {
    /// The licence with this canonical key, locked for this transaction's change (two
    /// transactions never change one licence at once).
    fn license_for_update(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<License>, StoreError>>;

    /// Whether a licence with this key exists (a new key must not collide).
    fn license_exists(&mut self, key: &str) -> impl Future<Output = Result<bool, StoreError>>;

    /// Stores a licence under its key, new or replacing the stored one.
    fn put_license(&mut self, license: &License) -> impl Future<Output = Result<(), StoreError>>;

    /// How many licences are stored (`dbMaxRecords`).
    ///
    /// This and the per-day counts are read to decide a cap, and only then: the answer holds
    /// until the transaction ends (a backend of several writers makes other transactions
    /// that read the same count wait), so a cap is never exceeded by changes decided at
    /// the same moment.
    fn licenses_stored(&mut self) -> impl Future<Output = Result<i64, StoreError>>;

    /// How many keys were created on UTC day `day` (`maxNewKeysPerDay`); read to decide the
    /// cap, as [`Tx::licenses_stored`].
    fn keys_created_on(&mut self, day: i64) -> impl Future<Output = Result<i64, StoreError>>;

    /// Counts `n` new licences, created on UTC day `day`.
    fn count_new_licenses(
        &mut self,
        day: i64,
        n: i64,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Counts one licence more stored that no day limit counts (an upgrade's new key).
    fn count_stored_license(&mut self) -> impl Future<Output = Result<(), StoreError>>;

    /// The activation of `key` on `computer_id`.
    fn activation(
        &mut self,
        key: &str,
        computer_id: &str,
    ) -> impl Future<Output = Result<Option<Activation>, StoreError>>;

    /// Every activation of `key`, ordered by computer id.
    fn activations(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Vec<Activation>, StoreError>>;

    /// Stores an activation of `key`, new or replacing the one on the same computer.
    fn put_activation(
        &mut self,
        key: &str,
        activation: &Activation,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Removes the activation of `key` on `computer_id`.
    fn remove_activation(
        &mut self,
        key: &str,
        computer_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// How many counted activations were made on UTC day `day` (`maxActivationsPerDay`); read
    /// to decide the cap, as [`Tx::licenses_stored`].
    fn activations_on(&mut self, day: i64) -> impl Future<Output = Result<i64, StoreError>>;

    /// Counts one activation made on UTC day `day`.
    fn count_activation(&mut self, day: i64) -> impl Future<Output = Result<(), StoreError>>;

    /// Times of the logged releases of `key`, oldest first (the release limits count them).
    fn release_times(&mut self, key: &str) -> impl Future<Output = Result<Vec<i64>, StoreError>>;

    /// Logs a release of `key` at `time`.
    fn log_release(&mut self, key: &str, time: i64)
    -> impl Future<Output = Result<(), StoreError>>;

    /// Appends a line to the history of `key`, after every line appended before.
    fn append_history(
        &mut self,
        key: &str,
        entry: &HistoryEntry,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The keys an order was fulfilled with, in creation order.
    fn by_order(
        &mut self,
        order: &OrderRef<'_>,
    ) -> impl Future<Output = Result<Option<Vec<String>>, StoreError>>;

    /// Records the keys an order was fulfilled with.
    fn record_order(
        &mut self,
        order: &OrderRef<'_>,
        keys: &[&str],
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The keys of a subscription, in key order (replaced keys are not among them).
    fn by_subscription(
        &mut self,
        subscription_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>>;

    /// Makes `key` one of the keys of a subscription.
    fn join_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Takes `key` out of a subscription (it was replaced by an upgrade).
    fn leave_subscription(
        &mut self,
        subscription_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The keys of the licences `vendor` (any case) created in `group`, in key order; keys
    /// replaced by an upgrade are not among them. Only the vendor's own licences, whatever
    /// its `scope`, so one store's order id never reaches another store's keys. Read
    /// through an index: the answer costs the same at a million licences as at ten.
    fn vendor_group_keys(
        &mut self,
        vendor: &str,
        group: &Group,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>>;

    /// Files `license` under its vendor's order and subscription ([`Group::of`]), so that
    /// [`Tx::vendor_group_keys`] finds it.
    fn join_vendor_groups(
        &mut self,
        license: &License,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Takes `license` out of its vendor's groups (it was replaced by an upgrade).
    fn leave_vendor_groups(
        &mut self,
        license: &License,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The current licence-signing key, if one was made.
    fn current_signing_key(
        &mut self,
    ) -> impl Future<Output = Result<Option<StoredSigningKey>, StoreError>>;

    /// Stores a signing key and makes it current; earlier keys stay stored.
    fn make_signing_key_current(
        &mut self,
        key: &StoredSigningKey,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The customer with this id.
    fn customer(&mut self, id: &str) -> impl Future<Output = Result<Option<Customer>, StoreError>>;

    /// The customer with this e-mail, compared ignoring case and surrounding space
    /// (`customers::email_key`). The e-mail is held for this transaction's change: two
    /// transactions that look up one e-mail to create its customer take turns, so an e-mail
    /// never gets two customers.
    fn customer_by_email(
        &mut self,
        email: &str,
    ) -> impl Future<Output = Result<Option<Customer>, StoreError>>;

    /// Stores a customer under its id, new or replacing the stored one, and files it under
    /// its e-mail (a changed e-mail leaves the old one free). The caller has checked that no
    /// other customer has the e-mail.
    fn put_customer(&mut self, customer: &Customer)
    -> impl Future<Output = Result<(), StoreError>>;

    /// Removes a customer and its e-mail, leaving the licences that name it to the caller
    /// (who unlinks them first: [`Tx::leave_customer`]).
    fn remove_customer(&mut self, id: &str) -> impl Future<Output = Result<(), StoreError>>;

    /// The licence keys of the customer with this e-mail (any case), in key order; empty
    /// when no customer has it. Read through an index, never a scan of the licences.
    ///
    /// This is "which keys does this customer own": a rule such as "the customer owns a key
    /// of product P" loads each key with [`Tx::license_for_update`] and looks at its product.
    /// Keys replaced by an upgrade stay among them (the upgrade's new key is listed too);
    /// look at `upgraded_to` to leave them out.
    fn license_keys_of_customer(
        &mut self,
        email: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>>;

    /// Files `key` under its customer `customer_id` ([`Tx::license_keys_of_customer`]).
    fn join_customer(
        &mut self,
        customer_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Takes `key` out of the keys of customer `customer_id`.
    fn leave_customer(
        &mut self,
        customer_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The change remembered for a replay id of `vendor` (lower case), if any.
    fn recall_change(
        &mut self,
        vendor: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<RememberedChange>, StoreError>>;

    /// Remembers a change for a replay id of `vendor` (lower case), made at `at`.
    fn remember_change(
        &mut self,
        vendor: &str,
        id: &str,
        at: i64,
        change: &RememberedChange,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The authorization code stored under `hash` (`license::authorization_code::code_hash`),
    /// if any.
    fn authorization_code(
        &mut self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<AuthorizationCode>, StoreError>>;

    /// Every stored authorization code of `email` (lower case), oldest first. The answer
    /// holds until the transaction ends (a backend of several writers makes other
    /// transactions that read the same e-mail's codes wait), so two requests for one address
    /// never both pass its hourly limit, and a wrong code counted on one node voids the codes
    /// another node is about to accept.
    fn authorization_codes_of(
        &mut self,
        email: &str,
    ) -> impl Future<Output = Result<Vec<AuthorizationCode>, StoreError>>;

    /// Stores an authorization code, new or replacing the one with the same hash.
    fn put_authorization_code(
        &mut self,
        code: &AuthorizationCode,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Removes an authorization code.
    fn remove_authorization_code(
        &mut self,
        code: &AuthorizationCode,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// The analytics install with this id, locked for this transaction's change.
    fn install_for_update(
        &mut self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Install>, StoreError>>;

    /// Stores an analytics install under its id, new or replacing the stored one.
    fn put_install(&mut self, install: &Install) -> impl Future<Output = Result<(), StoreError>>;

    /// How many installs are stored (`analytics.maxInstalls`); read to decide the cap, as
    /// [`Tx::licenses_stored`].
    fn installs_stored(&mut self) -> impl Future<Output = Result<i64, StoreError>>;

    /// How many installs were added on UTC day `day` under `scope`; read to decide the cap,
    /// as [`Tx::licenses_stored`].
    fn installs_added_on(
        &mut self,
        day: i64,
        scope: InstallScope<'_>,
    ) -> impl Future<Output = Result<i64, StoreError>>;

    /// Counts one install more stored, added on UTC day `day` under each of `scopes`.
    fn count_new_install(
        &mut self,
        day: i64,
        scopes: &[InstallScope<'_>],
    ) -> impl Future<Output = Result<(), StoreError>>;
    /// Puts `mail` in the outbox, due at once, queued at `at`; returns its id. Call it in
    /// the transaction of the change that causes the mail: the mail is then durable exactly
    /// when the change is, and a refused change sends nothing.
    fn enqueue_mail(
        &mut self,
        mail: &OutgoingMail,
        at: i64,
    ) -> impl Future<Output = Result<i64, StoreError>>;

    /// Claims up to `limit` messages due at `now` (oldest due first) for one sender: each
    /// is given `lease_until` as its next try, so no other sender takes it meanwhile and a
    /// sender that died holding it leaves it due again then. Two senders claiming at the
    /// same moment take different messages (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    fn claim_due_mail(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<QueuedMail>, StoreError>>;

    /// The earliest next try among the queued messages, if any is queued.
    fn next_mail_due(&mut self) -> impl Future<Output = Result<Option<i64>, StoreError>>;

    /// Every queued message, by id.
    fn queued_mail(&mut self) -> impl Future<Output = Result<Vec<QueuedMail>, StoreError>>;

    /// Removes message `id` from the outbox (it was delivered, or an operator dropped it);
    /// false when no such message is queued.
    fn remove_mail(&mut self, id: i64) -> impl Future<Output = Result<bool, StoreError>>;

    /// Records a failed attempt of message `id`: one attempt more, `error`, and its next try
    /// at `next_try_at`; false when no such message is queued.
    fn mail_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        error: &str,
    ) -> impl Future<Output = Result<bool, StoreError>>;

    /// Makes message `id` due at `at`; false when no such message is queued.
    fn retry_mail(&mut self, id: i64, at: i64) -> impl Future<Output = Result<bool, StoreError>>;

    /// Removes the licence `key` and its activations (`licd keys delete`); its history and
    /// release log stay. The caller takes it out of its order, subscription, vendor groups
    /// and customer first. One licence fewer is counted as stored.
    fn remove_license(&mut self, key: &str) -> impl Future<Output = Result<(), StoreError>>;

    /// Forgets the keys recorded for an order (its last key was deleted), so that the
    /// order can be fulfilled afresh.
    fn forget_order(
        &mut self,
        order: &OrderRef<'_>,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Puts `event` in the webhook outbox, due at once; returns its id. Call it in the
    /// transaction of the change that causes the event (`crate::store::events` does).
    fn enqueue_webhook(
        &mut self,
        event: &WebhookEvent,
    ) -> impl Future<Output = Result<i64, StoreError>>;

    /// Claims, for up to `limit` endpoints, the oldest event that is not dead when it is
    /// due at `now` (`webhook_outbox::heads_due`): each is given `lease_until` as its next
    /// try, so no sender takes it (or a later event of its endpoint) meanwhile, and a sender
    /// that died holding it leaves it due again then.
    fn claim_due_webhooks(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<QueuedWebhook>, StoreError>>;

    /// The earliest next try among the events that are not dead, if any is queued.
    fn next_webhook_due(&mut self) -> impl Future<Output = Result<Option<i64>, StoreError>>;

    /// Every queued event, dead ones included, by id.
    fn queued_webhooks(&mut self) -> impl Future<Output = Result<Vec<QueuedWebhook>, StoreError>>;

    /// Removes event `id` (delivered, or dropped); false when no such event is queued.
    fn remove_webhook(&mut self, id: i64) -> impl Future<Output = Result<bool, StoreError>>;

    /// Records a failed attempt of event `id`: one attempt more, `error`, and its next try
    /// at `next_try_at`, or dead; false when no such event is queued.
    fn webhook_failed(
        &mut self,
        id: i64,
        next_try_at: i64,
        dead: bool,
        error: &str,
    ) -> impl Future<Output = Result<bool, StoreError>>;

    /// Makes event `id` alive and due at `at`, keeping its count of failed attempts (a
    /// retried dead event that fails again is dead again: the retry asked for one more try);
    /// false when no such event is queued.
    fn retry_webhook(&mut self, id: i64, at: i64)
    -> impl Future<Output = Result<bool, StoreError>>;

    /// The staff console session stored under `digest` (`super::console_sessions`), held
    /// for this transaction's change.
    fn console_session(
        &mut self,
        digest: &str,
    ) -> impl Future<Output = Result<Option<ConsoleSession>, StoreError>>;

    /// Stores a console session under `digest`, new or replacing the stored one.
    fn put_console_session(
        &mut self,
        digest: &str,
        session: &ConsoleSession,
    ) -> impl Future<Output = Result<(), StoreError>>;

    /// Removes the console session under `digest`; false when there was none.
    fn remove_console_session(
        &mut self,
        digest: &str,
    ) -> impl Future<Output = Result<bool, StoreError>>;

    /// Removes every console session last used before `seen_before` or made before
    /// `created_before` (both UTC Unix seconds); how many went.
    fn remove_expired_console_sessions(
        &mut self,
        seen_before: i64,
        created_before: i64,
    ) -> impl Future<Output = Result<u64, StoreError>>;
}
