//! The mail outbox's commands (`crate::store::outbox`): what `licd mail …` and the sender
//! task change. A change that causes a mail does not use these: it calls
//! [`Tx::enqueue_mail`] inside its own command, so the mail is written in its transaction.

use super::Command;
use crate::store::outbox::{MailChange, OutgoingMail, QueuedMail, is_parked};
use crate::store::tx::{Tx, TxResult};

/// Queues one message on its own (`licd mail test`); returns its outbox id.
pub struct EnqueueMail {
    /// The message.
    pub mail: OutgoingMail,
    /// Now (UTC Unix seconds).
    pub at: i64,
}

impl Command for EnqueueMail {
    type Done = i64;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<i64> {
        Ok(tx.enqueue_mail(&self.mail, self.at).await?)
    }
}

/// Claims the messages due for one sender ([`Tx::claim_due_mail`]).
pub struct ClaimMail {
    /// Now (UTC Unix seconds).
    pub now: i64,
    /// The end of the claim: a message not reported by then is due again.
    pub lease_until: i64,
    /// Most messages claimed.
    pub limit: usize,
}

/// What a claim took, and when the sender should look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The messages claimed, by id.
    pub mail: Vec<QueuedMail>,
    /// The earliest next try of every queued message after the claim (claimed ones at
    /// their lease end), if any is queued.
    pub next_due: Option<i64>,
}

impl Command for ClaimMail {
    type Done = Claimed;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Claimed> {
        let mail = tx
            .claim_due_mail(self.now, self.lease_until, self.limit)
            .await?;
        let next_due = tx.next_mail_due().await?;
        Ok(Claimed { mail, next_due })
    }
}

/// Lists the outbox (`licd mail list`). A read, run as a command: the outbox is small, and
/// the listing then reads through the same operations on every backend.
pub struct ListMail;

impl Command for ListMail {
    type Done = Vec<QueuedMail>;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<Vec<QueuedMail>> {
        Ok(tx.queued_mail().await?)
    }
}

impl Command for MailChange {
    /// Whether the message was queued.
    type Done = bool;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<bool> {
        Ok(match self {
            MailChange::Sent(id) | MailChange::Drop(id) => tx.remove_mail(*id).await?,
            MailChange::Failed {
                id,
                next_try_at,
                error,
            } => tx.mail_failed(*id, *next_try_at, error).await?,
            MailChange::Retry { id, at } => tx.retry_mail(*id, *at).await?,
        })
    }
}

/// Makes every waiting message that is not parked ([`crate::store::outbox::PARKED_AT`]) and
/// whose next try is after `later_than` due at `at`: what a starting sender does, so that mail
/// that waited out an outage while licd was down is not held back by the rest of its
/// backoff. Returns how many it moved.
///
/// `later_than` is `at` for a database one daemon owns (redb): a claim held at a crash is
/// void then. On a shared database another node may hold a claim right now, so the caller
/// passes `at` plus the claim length, and only backoffs longer than any claim are cut short.
pub struct RetryPendingMail {
    /// Now (UTC Unix seconds).
    pub at: i64,
    /// Only messages whose next try is after this move.
    pub later_than: i64,
}

impl Command for RetryPendingMail {
    type Done = usize;

    async fn apply<T: Tx>(&mut self, tx: &mut T) -> TxResult<usize> {
        let mut moved = 0;
        for queued in tx.queued_mail().await? {
            if queued.next_try_at > self.later_than && !is_parked(queued.next_try_at) {
                tx.retry_mail(queued.id, self.at).await?;
                moved += 1;
            }
        }
        Ok(moved)
    }
}
