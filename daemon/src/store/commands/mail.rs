//! The mail outbox's commands (`crate::store::outbox`): what `licd mail …` and the sender
//! task change. A change that causes a mail does not use these: it calls
//! [`Tx::enqueue_mail`] inside its own command, so the mail is written in its transaction.

use super::Command;
use crate::store::outbox::{MailChange, OutgoingMail, QueuedMail};
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
