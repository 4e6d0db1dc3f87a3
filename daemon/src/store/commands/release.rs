//! Release: an activation removed and its slot freed, the release log and the history
//! written, all in one transaction; and the durable record of a cloud seat's validation.

use redb::{ReadableTable, WriteTransaction};

use super::{
    ApplyError, HistoryEntry, LicenceCheck, Outcome, activations_of, append_history, refused,
};
use crate::license::release::{self, ReleasePolicy, ReleaseRequest};
use crate::license::{Activation, License};
use crate::store::StoreError;
use crate::store::tables::*;

/// Releases an activation of `key` (ReleaseLicenseHttp, `licd release`).
pub struct Release {
    /// Canonical activation key.
    pub key: String,
    /// `is_pcid`, when given.
    pub computer_id: Option<String>,
    /// `is_deactivation_code`, when given.
    pub code: Option<String>,
    /// The request's time.
    pub now: i64,
    /// `options.releaseLicenseRequiresVerificationCode`.
    pub code_required: bool,
    /// `options.communicationEncryptionKey`.
    pub communication_key: Option<String>,
    /// `options.preventDeactivationPeriod`.
    pub prevent_minutes: i64,
    /// `options.maxReleaseCount`.
    pub max_release_count: i64,
    /// `options.maxReleasePeriodInDays`.
    pub max_release_period_days: i64,
    /// False when `is_logRelease=false` or `historyTableLogRelease=false`.
    pub log_history: bool,
    /// The vendor that asked, for the history.
    pub vendor: Option<String>,
    /// The client address, for the history.
    pub client: Option<String>,
    /// Checks on the licence (vendor scope), run inside the transaction.
    pub check: LicenceCheck,
}

/// Durably records a cloud or floating seat's validation (last-seen time, name, key last
/// given): reclamation decides on it, so it must survive a crash (README §6).
pub struct RecordSeat {
    /// Canonical activation key.
    pub key: String,
    /// The activation as it should be stored.
    pub activation: Activation,
}

pub(super) fn release(txn: &WriteTransaction, c: Release) -> Result<Outcome, ApplyError> {
    let mut licenses = txn.open_table(LICENSES)?;
    let mut activations = txn.open_table(ACTIVATIONS)?;
    let mut counters = txn.open_table(COUNTERS)?;
    let mut releases = txn.open_table(RELEASES)?;
    let license: License = match licenses.get(c.key.as_str())? {
        Some(v) => decode(v.value())?,
        None => return Err(refused(crate::methods::not_found())),
    };
    (c.check)(&license).map_err(refused)?;
    let seats = activations_of(&activations, &c.key)?;
    let activation = release::choose_activation(&seats, c.computer_id.as_deref())
        .map_err(refused)?
        .clone();
    let mut times = Vec::new();
    for row in releases.range((c.key.as_str(), 0u64)..)? {
        let (k, v) = row?;
        if k.value().0 != c.key {
            break;
        }
        times.push(v.value());
    }
    let policy = ReleasePolicy {
        code_required: c.code_required,
        communication_key: c.communication_key.as_deref(),
        prevent_minutes: c.prevent_minutes,
        max_release_count: c.max_release_count,
        max_release_period_days: c.max_release_period_days,
    };
    let request = ReleaseRequest {
        computer_id: c.computer_id.as_deref(),
        code: c.code.as_deref(),
    };
    release::check_release(&license, &activation, &request, &policy, &times, c.now)
        .map_err(refused)?;
    let license = release::released(&license, c.now);
    licenses.insert(c.key.as_str(), encode(&license)?.as_slice())?;
    activations.remove((c.key.as_str(), activation.computer_id.as_str()))?;
    if !license.model.is_seat() {
        // The log limits count is kept whatever the history settings say.
        let seq = counters.get(RELEASE_SEQ)?.map_or(0, |v| v.value());
        counters.insert(RELEASE_SEQ, seq + 1)?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt("release sequence".into()))?;
        releases.insert((c.key.as_str(), seq), c.now)?;
    }
    if c.log_history {
        let mut entry = HistoryEntry::for_activation("released", c.now, &activation);
        entry.vendor = c.vendor;
        entry.client = c.client;
        let mut history = txn.open_table(HISTORY)?;
        append_history(&mut counters, &mut history, &c.key, &entry)?;
    }
    Ok(Outcome::Released {
        license,
        activation,
    })
}

pub(super) fn record_seat(txn: &WriteTransaction, c: RecordSeat) -> Result<Outcome, ApplyError> {
    let mut activations = txn.open_table(ACTIVATIONS)?;
    let pc = c.activation.computer_id.as_str();
    let current: Option<Activation> = activations
        .get((c.key.as_str(), pc))?
        .map(|v| decode(v.value()))
        .transpose()?;
    // A seat released or reclaimed since it was read is not brought back.
    let still_there = current.is_some_and(|a| a.activated_at == c.activation.activated_at);
    if still_there {
        activations.insert((c.key.as_str(), pc), encode(&c.activation)?.as_slice())?;
    }
    Ok(Outcome::SeatRecorded { still_there })
}
