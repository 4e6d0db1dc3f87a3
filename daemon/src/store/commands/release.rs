//! Release: an activation removed and its slot freed, the release log and the history
//! written, all in one transaction; and the durable record of a cloud seat's validation.

use serde::{Deserialize, Serialize};

use super::{Command, LicenseCheck, Remembered, refused, stored_license};
use crate::license::decisions::{self, Actor};
use crate::license::release::{ReleasePolicy, ReleaseRequest};
use crate::license::{Activation, License};
use crate::store::tx::{Tx, TxResult};

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
    pub check: LicenseCheck,
}

/// An activation released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Released {
    /// The licence after the release.
    pub license: License,
    /// The activation removed.
    pub activation: Activation,
}

impl Command for Release {
    type Done = Released;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Released> {
        let license = stored_license(tx, &self.key).await?;
        (self.check)(&license).or_else(refused)?;
        let seats = tx.activations(&self.key).await?;
        let times = tx.release_times(&self.key).await?;
        let policy = ReleasePolicy {
            code_required: self.code_required,
            communication_key: self.communication_key.as_deref(),
            prevent_minutes: self.prevent_minutes,
            max_release_count: self.max_release_count,
            max_release_period_days: self.max_release_period_days,
        };
        let request = ReleaseRequest {
            computer_id: self.computer_id.as_deref(),
            code: self.code.as_deref(),
        };
        let actor = Actor {
            vendor: self.vendor.clone(),
            client: self.client.clone(),
        };
        let decision = decisions::decide_release(
            &license,
            &seats,
            &request,
            &policy,
            &times,
            self.now,
            self.log_history,
            actor,
        )
        .or_else(refused)?;
        tx.put_license(&decision.license).await?;
        tx.remove_activation(&self.key, &decision.activation.computer_id)
            .await?;
        if decision.logged {
            tx.log_release(&self.key, self.now).await?;
        }
        if let Some(entry) = &decision.history {
            tx.append_history(&self.key, entry).await?;
        }
        Ok(Released {
            license: decision.license,
            activation: decision.activation,
        })
    }
}

impl Remembered for Release {
    const KIND: &'static str = "Released";
}

/// Durably records a cloud or floating seat's validation (last-seen time, name, key last
/// given): reclamation decides on it, so it must survive a crash (README §6).
pub struct RecordSeat {
    /// Canonical activation key.
    pub key: String,
    /// The activation as it should be stored.
    pub activation: Activation,
}

/// Whether a seat's validation was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatRecorded {
    /// False when the seat was released or reclaimed meanwhile (nothing was written).
    pub still_there: bool,
}

impl Command for RecordSeat {
    type Done = SeatRecorded;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<SeatRecorded> {
        let pc = self.activation.computer_id.as_str();
        let current = tx.activation(&self.key, pc).await?;
        // A seat released or reclaimed since it was read is not brought back.
        let still_there = current.is_some_and(|a| a.activated_at == self.activation.activated_at);
        if still_there {
            tx.put_activation(&self.key, &self.activation).await?;
        }
        Ok(SeatRecorded { still_there })
    }
}
