//! Activation: a slot taken (or a cloud seat checked out) inside the transaction, so
//! concurrent activations of one key never over-issue.

use serde::{Deserialize, Serialize};

use super::customers::link_email;
use super::{Command, LicenseCheck, refused};
use crate::license::decisions::{self, ActivationLimits};
use crate::license::refusal::{Reason, Refusal};
use crate::license::rules::ActivationRequest;
use crate::license::{Activation, License, dates};
use crate::store::tx::{Tx, TxResult};

/// Activates `key` on the computer of `request`.
pub struct Activate {
    /// Canonical activation key.
    pub key: String,
    /// What the client sent.
    pub request: ActivationRequest,
    /// The request's time.
    pub now: i64,
    /// The configuration the activation is decided with.
    pub limits: ActivationLimits,
    /// Product, usability and computer checks, re-run inside the transaction.
    pub check: LicenseCheck,
    /// The server secret computer keys are derived with.
    pub secret: [u8; 32],
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Activated {
    /// A new activation was made.
    New {
        /// The licence after the change.
        license: License,
        /// The new activation.
        activation: Activation,
    },
    /// The computer was already activated when the store reached the command (two requests
    /// raced); nothing was changed.
    Existing {
        /// The licence as stored.
        license: License,
        /// The existing activation.
        activation: Activation,
    },
}

impl Command for Activate {
    type Done = Activated;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Activated> {
        let Some(license) = tx.license_for_update(&self.key).await? else {
            return refused(Refusal::new(
                Reason::NotFound,
                "No licence has this activation key.",
            ));
        };
        (self.check)(&license).or_else(refused)?;
        let pc = self.request.computer_id.as_str();
        if let Some(activation) = tx.activation(&self.key, pc).await? {
            return Ok(Activated::Existing {
                license,
                activation,
            });
        }
        let seats = if decisions::activation_needs_seats(&license, &self.limits) {
            tx.activations(&self.key).await?
        } else {
            Vec::new()
        };
        let day = dates::day_number(self.now);
        // Read only when a cap is set: a backend of several nodes makes the read exact by
        // serialising the transactions that decide a cap, which costs nothing to count.
        let made_today = if self.limits.max_per_day >= 0 {
            tx.activations_on(day).await?
        } else {
            0
        };
        let mut decision = decisions::decide_activation(
            &license,
            &seats,
            &self.request,
            self.now,
            &self.limits,
            made_today,
            &self.secret,
        )
        .or_else(refused)?;
        if let Some((idle, entry)) = &decision.reclaimed {
            tx.remove_activation(&self.key, &idle.computer_id).await?;
            tx.append_history(&self.key, entry).await?;
        }
        // The e-mail of a first activation (`is_email`) goes to the licence's customer.
        link_email(tx, &mut decision.license, self.now).await?;
        tx.put_license(&decision.license).await?;
        tx.put_activation(&self.key, &decision.activation).await?;
        if decision.counts_today {
            tx.count_activation(day).await?;
        }
        // No history line for an activation: the activation row holds its time, computer
        // and address, and a release or reclaim writes the removed activation to the
        // history. A line here would cost three more writes on the hottest write path.
        Ok(Activated::New {
            license: decision.license,
            activation: decision.activation,
        })
    }
}
