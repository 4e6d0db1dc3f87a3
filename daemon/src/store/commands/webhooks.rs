//! The webhook outbox's commands (`crate::store::webhook_outbox`): what `licd webhooks …`
//! and the sender task change, and [`DeleteLicense`] (`licd keys delete`). A change that
//! makes an event does not use these: the store's event watch queues it in the change's own
//! transaction (`crate::store::events`).

use super::{Command, stored_license};
use crate::license::history::HistoryEntry;
use crate::store::tx::{Group, OrderRef, Tx, TxResult};
use crate::store::webhook_outbox::{QueuedWebhook, WebhookChange};

/// Claims the events due for one sender ([`Tx::claim_due_webhooks`]).
pub struct ClaimWebhooks {
    /// Now (UTC Unix seconds).
    pub now: i64,
    /// The end of the claim: an event not reported by then is due again.
    pub lease_until: i64,
    /// Most events (endpoints) claimed.
    pub limit: usize,
}

/// What a claim took, and when the sender should look again.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedWebhooks {
    /// The events claimed, by id, at most one per endpoint.
    pub events: Vec<QueuedWebhook>,
    /// The earliest next try of the events that are not dead, if any.
    pub next_due: Option<i64>,
}

impl Command for ClaimWebhooks {
    type Done = ClaimedWebhooks;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<ClaimedWebhooks> {
        let events = tx
            .claim_due_webhooks(self.now, self.lease_until, self.limit)
            .await?;
        let next_due = tx.next_webhook_due().await?;
        Ok(ClaimedWebhooks { events, next_due })
    }
}

/// Lists the webhook outbox (`licd webhooks list`), dead events included.
pub struct ListWebhooks;

impl Command for ListWebhooks {
    type Done = Vec<QueuedWebhook>;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Vec<QueuedWebhook>> {
        Ok(tx.queued_webhooks().await?)
    }
}

impl Command for WebhookChange {
    /// Whether the event was queued.
    type Done = bool;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<bool> {
        Ok(match self {
            WebhookChange::Delivered(id) | WebhookChange::Drop(id) => {
                tx.remove_webhook(*id).await?
            }
            WebhookChange::Failed {
                id,
                next_try_at,
                dead,
                error,
            } => tx.webhook_failed(*id, *next_try_at, *dead, error).await?,
            WebhookChange::Retry { id, at } => tx.retry_webhook(*id, *at).await?,
        })
    }
}

/// Makes every live event whose next try is after `later_than` due at `at`: what a starting
/// sender does, so that events that waited out an outage while licd was down are not held
/// back by the rest of their backoff (see `RetryPendingMail` for `later_than`).
pub struct RetryPendingWebhooks {
    /// Now (UTC Unix seconds).
    pub at: i64,
    /// Only events whose next try is after this move.
    pub later_than: i64,
}

impl Command for RetryPendingWebhooks {
    type Done = usize;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<usize> {
        let mut moved = 0;
        for queued in tx.queued_webhooks().await? {
            if !queued.dead && queued.next_try_at > self.later_than {
                tx.retry_webhook(queued.id, self.at).await?;
                moved += 1;
            }
        }
        Ok(moved)
    }
}

/// `licd keys delete`: removes a licence, its activations and every index entry that names
/// it (order, subscription, vendor groups, customer); its history and release log stay, with
/// a last history line saying who deleted it.
pub struct DeleteLicense {
    /// The canonical key.
    pub key: String,
    /// Now (UTC Unix seconds).
    pub now: i64,
    /// Who asked, for the history.
    pub by: String,
    /// Their client address, for the history (`None` on the command line).
    pub client: Option<String>,
}

impl Command for DeleteLicense {
    /// The licence as it was.
    type Done = crate::license::License;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<crate::license::License> {
        let license = stored_license(tx, &self.key).await?;
        if let Some(order_id) = &license.order_id {
            let order = OrderRef {
                vendor: &license.vendor,
                product_id: license.product_id,
                order_id,
            };
            if let Some(keys) = tx.by_order(&order).await? {
                let rest: Vec<&str> = keys
                    .iter()
                    .map(String::as_str)
                    .filter(|k| *k != license.key)
                    .collect();
                // An order is recorded once (a backend may refuse to record it again):
                // forgotten, then recorded with the keys it keeps, if any.
                tx.forget_order(&order).await?;
                if !rest.is_empty() {
                    tx.record_order(&order, &rest).await?;
                }
            }
        }
        if let Some(id) = &license.subscription_id {
            tx.leave_subscription(id, &license.key).await?;
        }
        if Group::of(&license).next().is_some() {
            tx.leave_vendor_groups(&license).await?;
        }
        if let Some(customer) = &license.customer {
            tx.leave_customer(customer, &license.key).await?;
        }
        for activation in tx.activations(&license.key).await? {
            tx.remove_activation(&license.key, &activation.computer_id)
                .await?;
        }
        let entry = HistoryEntry {
            time: self.now,
            event: "deleted".to_string(),
            computer_id: None,
            computer_name: None,
            computer_key: None,
            activated_at: None,
            vendor: Some(self.by.clone()),
            client: self.client.clone(),
            license_before: None,
        };
        tx.append_history(&license.key, &entry).await?;
        tx.remove_license(&license.key).await?;
        Ok(license)
    }
}
