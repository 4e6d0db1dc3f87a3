//! Activation: a slot taken (or a cloud seat checked out) inside the write transaction, so
//! concurrent activations of one key never over-issue.

use redb::{ReadableTable, WriteTransaction};

use super::{
    ApplyError, HistoryEntry, LicenceCheck, Outcome, activations_of, append_history, refused,
};
use crate::errors::{ErrorCode, MethodError};
use crate::license::rules::{self, ActivationPolicy, ActivationRequest};
use crate::license::{License, dates, release};
use crate::store::tables::*;

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
    /// `activation.cloudInactivityThresholdMinutes`: a full cloud or floating licence gives
    /// the seat idle longer than this to the new computer (0 = never).
    pub reclaim_after_minutes: u64,
}

pub(super) fn activate(
    txn: &WriteTransaction,
    c: Activate,
    secret: &[u8; 32],
) -> Result<Outcome, ApplyError> {
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
    let mut license = license;
    if license.available() == 0 && c.reclaim_after_minutes > 0 && license.model.is_seat() {
        let seats = activations_of(&activations, &c.key)?;
        if let Some(idle) =
            release::reclaimable_seat(&license, &seats, c.reclaim_after_minutes, c.now)
        {
            // Decided on the durably recorded last validation of each seat (README §6).
            activations.remove((c.key.as_str(), idle.computer_id.as_str()))?;
            license = release::released(&license, c.now);
            let mut entry = HistoryEntry::for_activation("reclaimed", c.now, &idle);
            entry.client = c.request.client_ip.clone();
            let mut history = txn.open_table(HISTORY)?;
            append_history(&mut counters, &mut history, &c.key, &entry)?;
        }
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
    // No history row for an activation: the activation row holds its time, computer and
    // address, and a release or reclaim writes the removed activation to the history. A row
    // here would cost three more B-tree writes on the hottest write path.
    Ok(Outcome::Activated {
        license,
        activation,
    })
}
