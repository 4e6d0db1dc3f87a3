//! Write commands and how the writer applies each inside its transaction.
//!
//! A command loads what it names, asks the pure rule in `crate::license::rules`, and writes
//! the result. Every refusal is decided before the first write, because one command cannot be
//! rolled back alone inside a shared batch transaction.

use redb::{ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::tables::*;
use crate::errors::{ErrorCode, MethodError};
use crate::license::keys::ActivationKey;
use crate::license::rules::{self, ActivationPolicy, ActivationRequest};
use crate::license::{Activation, License, dates};

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
}

/// Creates `count` licences that copy `template` with fresh keys.
pub struct CreateKeys {
    /// Every field but `key` is copied to each new licence.
    pub template: License,
    /// How many licences.
    pub count: u32,
    /// The order id, when given: a retry with the same (vendor, product, order) returns the
    /// licences created the first time.
    pub order_id: Option<String>,
    /// `options.maxNewKeysPerDay`.
    pub max_per_day: i64,
    /// `options.dbMaxRecords`.
    pub max_stored: i64,
}

/// Activates `key` on the computer of `request`.
pub struct Activate {
    /// Canonical activation key.
    pub key: String,
    /// What the client sent.
    pub request: ActivationRequest,
    /// The request's time.
    pub now: i64,
    /// `options.maxActivationsPerDay`.
    pub max_per_day: i64,
    /// `options.useDurationToSetExpiryDateWhenActivating`.
    pub fix_duration_at_activation: bool,
    /// Product, usability and computer checks, re-run inside the transaction.
    pub check: LicenceCheck,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq)]
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
}

/// One line of a licence's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened.
    pub time: i64,
    /// What happened (`activated`, …).
    pub event: String,
    /// The computer concerned, if any.
    #[serde(default)]
    pub computer_id: Option<String>,
    /// The vendor that asked, if any.
    #[serde(default)]
    pub vendor: Option<String>,
    /// The client address.
    #[serde(default)]
    pub client: Option<String>,
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
        Command::CreateKeys(c) => create_keys(txn, c),
        Command::Activate(c) => activate(txn, c, secret),
    }
}

fn refused(e: MethodError) -> ApplyError {
    ApplyError::Refused(e)
}

fn create_keys(txn: &WriteTransaction, c: CreateKeys) -> Result<Outcome, ApplyError> {
    let mut licenses = txn.open_table(LICENSES)?;
    let mut orders = txn.open_table(ORDERS)?;
    let mut counters = txn.open_table(COUNTERS)?;
    let order = c
        .order_id
        .as_deref()
        .map(|o| order_key(&c.template.vendor, c.template.product_id, o));
    if let Some(order) = &order
        && let Some(keys) = orders.get(order.as_str())?
    {
        let keys: Vec<String> = decode(keys.value())?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(v) = licenses.get(key.as_str())? else {
                return Err(ApplyError::Storage(StoreError::Corrupt(format!(
                    "order names a missing licence {key}"
                ))));
            };
            found.push(decode(v.value())?);
        }
        return Ok(Outcome::Created {
            licenses: found,
            reused: true,
        });
    }
    let day_counter = keys_created_on(dates::day_number(c.template.created));
    let made_today = counters.get(day_counter.as_str())?.map_or(0, |v| v.value());
    let stored = counters.get(LICENCE_COUNT)?.map_or(0, |v| v.value());
    rules::check_creation_limits(
        u64::from(c.count),
        made_today,
        c.max_per_day,
        stored,
        c.max_stored,
    )
    .map_err(refused)?;
    let mut created = Vec::with_capacity(c.count as usize);
    for _ in 0..c.count {
        let key = loop {
            let k = ActivationKey::generate(c.template.model)
                .map_err(|e| ApplyError::Storage(StoreError::Random(e.to_string())))?;
            // 120 random bits make a collision unheard of; checking costs one look-up.
            if licenses.get(k.as_str())?.is_none() {
                break k;
            }
        };
        let mut license = c.template.clone();
        license.key = key.as_str().to_string();
        licenses.insert(key.as_str(), encode(&license)?.as_slice())?;
        created.push(license);
    }
    let n = i64::from(c.count);
    counters.insert(day_counter.as_str(), made_today + n)?;
    counters.insert(LICENCE_COUNT, stored + n)?;
    if let Some(order) = &order {
        let keys: Vec<&str> = created.iter().map(|l| l.key.as_str()).collect();
        orders.insert(order.as_str(), encode(&keys)?.as_slice())?;
    }
    Ok(Outcome::Created {
        licenses: created,
        reused: false,
    })
}

fn activate(txn: &WriteTransaction, c: Activate, secret: &[u8; 32]) -> Result<Outcome, ApplyError> {
    let mut licenses = txn.open_table(LICENSES)?;
    let mut activations = txn.open_table(ACTIVATIONS)?;
    let mut counters = txn.open_table(COUNTERS)?;
    let Some(stored) = licenses.get(c.key.as_str())? else {
        return Err(refused(MethodError::new(
            ErrorCode::LicenseNotFound,
            "No licence has this activation key.",
        )));
    };
    let license: License = decode(stored.value())?;
    drop(stored);
    (c.check)(&license).map_err(refused)?;
    let pc = c.request.computer_id.as_str();
    if let Some(existing) = activations.get((c.key.as_str(), pc))? {
        let activation = decode(existing.value())?;
        return Ok(Outcome::AlreadyActive {
            license,
            activation,
        });
    }
    let day_counter = activations_on(dates::day_number(c.now));
    let made_today = counters.get(day_counter.as_str())?.map_or(0, |v| v.value());
    let policy = ActivationPolicy {
        max_per_day: c.max_per_day,
        made_today,
        fix_duration_at_activation: c.fix_duration_at_activation,
    };
    let (license, activation) =
        rules::activate(&license, &c.request, c.now, policy, secret).map_err(refused)?;
    licenses.insert(c.key.as_str(), encode(&license)?.as_slice())?;
    activations.insert((c.key.as_str(), pc), encode(&activation)?.as_slice())?;
    if !license.model.is_seat() {
        counters.insert(day_counter.as_str(), made_today + 1)?;
    }
    let entry = HistoryEntry {
        time: c.now,
        event: "activated".into(),
        computer_id: Some(pc.to_string()),
        vendor: None,
        client: c.request.client_ip.clone(),
    };
    let mut history = txn.open_table(HISTORY)?;
    append_history(&mut counters, &mut history, &c.key, &entry)?;
    Ok(Outcome::Activated {
        license,
        activation,
    })
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
