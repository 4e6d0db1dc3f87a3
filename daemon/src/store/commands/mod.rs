//! Write commands: what each change reads, which rule decides it, and how the decision is
//! applied, written once over the domain operations of [`Tx`] so that every backend runs the
//! same commands.
//!
//! A command loads what it names, asks the pure rule in `crate::license`, and applies the
//! decision. Every refusal is decided before the first write: the embedded backend applies
//! many commands in one shared transaction, where one command cannot be rolled back alone.

mod activate;
mod analytics;
mod authorization_code;
mod create_keys;
mod customers;
mod import_legacy;
mod mail;
mod release;
mod signing_key;
mod store_webhook;
mod update;
mod webhooks;

pub use activate::{Activate, Activated};
pub use analytics::{AddInstall, ChangeInstall};
pub use authorization_code::{
    CheckAuthorizationCode, CodeChecked, CodeIssued, CodeMail, IssueAuthorizationCode,
    SpendAuthorizationCode,
};
pub use create_keys::{CreateKeys, CreateKeysWithHistory, Created};
pub use customers::{
    CustomerUpdated, EraseCustomer, Erased, RecordConsent, SetMailList, UpdateCustomer,
};
pub use import_legacy::{ImportLegacy, LegacyImported, LegacyLicense};
pub use mail::{ClaimMail, Claimed, EnqueueMail, ListMail, RetryPendingMail};
pub use release::{RecordSeat, Release, Released, SeatRecorded};
pub use signing_key::SigningKeyChange;
pub use store_webhook::{ApplyWebhookEvent, KeyMail, StepDone, WebhookApplied, WebhookStep};
pub use update::{Edit, Edited, LicenseEdit, Target, Upgrade, UpgradeRule, Upgraded};
pub use webhooks::{
    ClaimWebhooks, ClaimedWebhooks, DeleteLicense, ListWebhooks, RetryPendingWebhooks,
};

/// What a [`Target::Group`] names; defined on the seam, where the backends file licences by it.
pub use super::tx::Group;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::replays::ReplayKey;
use super::tx::{RememberedChange, Tx, TxError, TxResult};
use crate::license::License;
use crate::license::keys::ActivationKey;
use crate::license::model::LicenseModel;
use crate::license::refusal::Refusal;

/// A check run on the licence inside the transaction, just before the change, so a licence
/// revoked or expired a moment earlier is refused. Built by the method handler from the
/// configuration; the store only calls it.
pub type LicenseCheck = Box<dyn Fn(&License) -> Result<(), Refusal> + Send>;

/// One kind of change, with its typed result.
pub trait Command: Send + 'static {
    /// What the change did, sent to the caller once it is durable.
    type Done: Send + 'static;

    /// Decides and applies the change inside `tx`.
    ///
    /// Takes `&mut self`, not `self`, so that a backend can run the command again in a new
    /// transaction when the database refused the first one for a reason that says nothing
    /// about the command (a deadlock, a serialization failure). An implementation reads its
    /// fields and never changes them: a second run decides afresh on what is stored then.
    /// (`&mut` rather than `&`: the rule closures are `Send` but not `Sync`, and a future
    /// holding `&mut C` across an await stays `Send` where one holding `&C` would not.)
    #[allow(async_fn_in_trait)] // Generic over the backend's transaction; never boxed.
    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Self::Done>;
}

/// A command whose result the replay memory keeps (`super::replays`), so a repeat of the
/// same signed request is answered with it.
pub trait Remembered: Command<Done: Serialize + DeserializeOwned> {
    /// The tag the result is stored under (`Created`, `Edited`, …); stable, since rows
    /// stay in the memory across upgrades of licd.
    const KIND: &'static str;

    /// The first result as a repeat answers it.
    fn as_repeat(first: Self::Done) -> Self::Done {
        first
    }
}

/// The result of a command made for a replay id.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayable<D> {
    /// The id was new: the change was made and remembered.
    Fresh(D),
    /// The id was remembered: nothing was changed.
    Repeat {
        /// The method the first change was made for.
        method: String,
        /// Its result, as a repeat answers it; `None` when it was another kind of change
        /// (another method: the caller refuses the repeat).
        first: Option<D>,
    },
}

/// Applies `command` for the replay id `key` at `at`: a remembered id answers with the first
/// result and changes nothing; a new one is applied and remembered in the same transaction.
pub async fn apply_remembered<C: Remembered, T: Tx>(
    command: &mut C,
    tx: &mut T,
    key: &ReplayKey,
    at: i64,
) -> TxResult<Replayable<C::Done>> {
    if let Some(row) = tx.recall_change(&key.vendor, &key.id).await? {
        let first = match row.outcome.get(C::KIND) {
            Some(value) => Some(C::as_repeat(
                serde_json::from_value(value.clone())
                    .map_err(|e| StoreError::Corrupt(format!("a remembered change: {e}")))?,
            )),
            None => None,
        };
        return Ok(Replayable::Repeat {
            method: row.method,
            first,
        });
    }
    let done = command.apply(tx).await?;
    let mut outcome = serde_json::Map::new();
    outcome.insert(
        C::KIND.to_string(),
        serde_json::to_value(&done).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    );
    let change = RememberedChange {
        method: key.method.clone(),
        outcome: outcome.into(),
    };
    tx.remember_change(&key.vendor, &key.id, at, &change)
        .await?;
    Ok(Replayable::Fresh(done))
}

/// A refusal of the command.
pub(crate) fn refused<T>(r: impl Into<Refusal>) -> TxResult<T> {
    Err(TxError::Abort(r.into()))
}

/// The licence with `key`, locked for the change, or code 203.
pub(crate) async fn stored_license<T: Tx>(tx: &mut T, key: &str) -> TxResult<License> {
    match tx.license_for_update(key).await? {
        Some(license) => Ok(license),
        None => refused(Refusal::key_not_found()),
    }
}

/// A fresh activation key of `model` that no stored licence has: the one key generator of
/// every command that makes licences.
pub(crate) async fn fresh_key<T: Tx>(tx: &mut T, model: LicenseModel) -> TxResult<ActivationKey> {
    loop {
        let key = ActivationKey::generate(model).map_err(|e| StoreError::Random(e.to_string()))?;
        // 120 random bits make a collision unheard of; checking costs one look-up.
        if !tx.license_exists(key.as_str()).await? {
            return Ok(key);
        }
    }
}
