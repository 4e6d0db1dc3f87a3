//! Write commands and how the writer applies each inside its transaction.
//!
//! A command loads what it names, asks the pure rule in `crate::license::rules`, and writes
//! the result. Every refusal is decided before the first write, because one command cannot be
//! rolled back alone inside a shared batch transaction.

mod activate;
mod create_keys;
mod release;
mod signing_key;
mod update;

pub use activate::Activate;
pub use create_keys::CreateKeys;
pub use release::{RecordSeat, Release};
pub use signing_key::SigningKeyChange;
pub(crate) use update::index_subscriptions;
pub use update::{Edit, LicenceEdit, Target, Upgrade, UpgradeRule};

use redb::{ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::tables::*;
use crate::errors::MethodError;
use crate::license::{Activation, License};

/// A check run on the licence inside the write transaction, just before the change, so a
/// licence revoked or expired a moment earlier is refused. Built by the method handler from
/// the configuration; the store only calls it.
pub type LicenceCheck = Box<dyn Fn(&License) -> Result<(), MethodError> + Send>;

/// One change to apply.
pub enum Command {
    /// Create licences from a template (GetActivationKey).
    CreateKeys(CreateKeys),
    /// Activate a licence on a computer (ValidateLicenseHttp, ActivateKey).
    Activate(Activate),
    /// Release an activation (ReleaseLicenseHttp).
    Release(Release),
    /// Durably record a cloud or floating seat's validation.
    RecordSeat(RecordSeat),
    /// Change licences in place (UpdateLicenseHttp, RevokeLicenseHttp,
    /// RenewSubscriptionHttp, the maintenance-plan methods).
    Edit(Edit),
    /// Replace a licence by a new key (UpgradeLicense).
    Upgrade(Upgrade),
    /// Store a licence-signing key (first signed reply, `licd signing-key`).
    SigningKey(SigningKeyChange),
}

/// What a command did. Serialisable because the replay memory stores it (`super::replays`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Licences created, or found again for a retried order (`reused`).
    Created {
        /// The licences, in creation order.
        licenses: Vec<License>,
        /// True when the order had been fulfilled before and nothing new was created.
        reused: bool,
    },
    /// A new activation was made.
    Activated {
        /// The licence after the change.
        license: License,
        /// The new activation.
        activation: Activation,
    },
    /// The computer was already activated when the writer reached the command (two requests
    /// raced); nothing was changed.
    AlreadyActive {
        /// The licence as stored.
        license: License,
        /// The existing activation.
        activation: Activation,
    },
    /// An activation was released.
    Released {
        /// The licence after the release.
        license: License,
        /// The activation removed.
        activation: Activation,
    },
    /// A seat's validation was recorded (`still_there` false: it was released meanwhile).
    SeatRecorded {
        /// Whether the seat still existed.
        still_there: bool,
    },
    /// Licences changed in place.
    Edited {
        /// Each licence after the change, in key order.
        licenses: Vec<License>,
    },
    /// A licence was replaced by a new key.
    Upgraded {
        /// The old licence, now marked as replaced (boxed: two licences would make every
        /// outcome twice as large).
        old: Box<License>,
        /// The new licence.
        new: Box<License>,
    },
    /// The current licence-signing key after a [`SigningKeyChange`].
    SigningKey(crate::signing::keys::StoredSigningKey),
    /// Nothing was done: the change was made for a replay id the memory holds, and this is
    /// the outcome of the first change made for it (`Store::execute_remembered` only).
    Replayed {
        /// The method the first change was made for.
        method: String,
        /// Its outcome.
        first: Box<Outcome>,
    },
}

/// One line of a licence's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened.
    pub time: i64,
    /// What happened: `released`, `reclaimed` (an idle cloud seat given to another
    /// computer), `updated`, `upgraded`, …. Activations have no entry of their own: the
    /// activation row records them, and its release writes it here.
    pub event: String,
    /// The computer concerned, if any.
    #[serde(default)]
    pub computer_id: Option<String>,
    /// That computer's name, if known.
    #[serde(default)]
    pub computer_name: Option<String>,
    /// The computer key that activation was last given.
    #[serde(default)]
    pub computer_key: Option<String>,
    /// When that activation was made.
    #[serde(default)]
    pub activated_at: Option<i64>,
    /// The vendor that asked, if any.
    #[serde(default)]
    pub vendor: Option<String>,
    /// The client address.
    #[serde(default)]
    pub client: Option<String>,
    /// The licence as it was before the change (updates keep it).
    #[serde(default)]
    pub license_before: Option<Box<License>>,
}

impl HistoryEntry {
    /// An entry about one activation (released or reclaimed).
    pub fn for_activation(event: &str, time: i64, activation: &Activation) -> Self {
        HistoryEntry {
            time,
            event: event.to_string(),
            computer_id: Some(activation.computer_id.clone()),
            computer_name: activation.computer_name.clone(),
            computer_key: Some(activation.computer_key.clone()),
            activated_at: Some(activation.activated_at),
            vendor: None,
            client: None,
            license_before: None,
        }
    }
}

/// Why a command was not applied.
pub(crate) enum ApplyError {
    /// A rule refused it; nothing was written.
    Refused(MethodError),
    /// Storage failed; the whole batch must be abandoned.
    Storage(StoreError),
}

impl<E: Into<StoreError>> From<E> for ApplyError {
    fn from(e: E) -> Self {
        ApplyError::Storage(e.into())
    }
}

/// Applies one command inside the batch transaction.
pub(crate) fn apply(
    txn: &WriteTransaction,
    command: Command,
    secret: &[u8; 32],
) -> Result<Outcome, ApplyError> {
    match command {
        Command::CreateKeys(c) => create_keys::create_keys(txn, c),
        Command::Activate(c) => activate::activate(txn, c, secret),
        Command::Release(c) => release::release(txn, c),
        Command::RecordSeat(c) => release::record_seat(txn, c),
        Command::Edit(c) => update::edit(txn, c),
        Command::Upgrade(c) => update::upgrade(txn, c),
        Command::SigningKey(c) => signing_key::apply(txn, c),
    }
}

pub(super) fn refused(e: MethodError) -> ApplyError {
    ApplyError::Refused(e)
}

/// Appends a history entry under the next sequence number.
///
/// Takes the open tables because redb allows a table to be open only once per transaction.
pub(crate) fn append_history(
    counters: &mut Table<&str, i64>,
    history: &mut Table<(&str, u64), &[u8]>,
    key: &str,
    entry: &HistoryEntry,
) -> Result<(), StoreError> {
    let seq = counters.get(HISTORY_SEQ)?.map_or(0, |v| v.value());
    counters.insert(HISTORY_SEQ, seq + 1)?;
    let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt("history sequence".into()))?;
    history.insert((key, seq), encode(entry)?.as_slice())?;
    Ok(())
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

/// Writes lazily kept bookkeeping, only where the activation still exists as it was made
/// (a release or a new activation in between wins).
pub(crate) fn apply_lazy(
    txn: &WriteTransaction,
    updates: &std::collections::HashMap<(String, String), Activation>,
) -> Result<(), StoreError> {
    let mut activations = txn.open_table(ACTIVATIONS)?;
    for ((key, pc), update) in updates {
        let current: Option<Activation> = activations
            .get((key.as_str(), pc.as_str()))?
            .map(|v| decode(v.value()))
            .transpose()?;
        if current.is_some_and(|c| c.activated_at == update.activated_at) {
            activations.insert((key.as_str(), pc.as_str()), encode(update)?.as_slice())?;
        }
    }
    Ok(())
}
