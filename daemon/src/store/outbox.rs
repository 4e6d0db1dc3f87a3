//! The mail outbox's rows, the same for every backend (docs/mail.md).
//!
//! A message is written to the outbox in the transaction of the change that causes it, so
//! it is durable exactly when that change is; the sender task (`crate::mail::sender`)
//! claims due messages, hands them to SMTP and deletes each once the server accepted it.
//! A failed attempt stays in the outbox with the time of its next try.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A message as it is queued: already rendered from its template, so that a template
/// changed later (or a placeholder value gone from the store, such as a used code) does not
/// change a mail that is waiting.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body. May hold a secret (an authorization code): never logged, never
    /// listed by `licd mail list`.
    pub body: String,
    /// The template it was rendered from (`AuthorizationCode`, `Test`), for the operator.
    pub template: String,
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is left out: it may carry an authorization code.
        f.debug_struct("OutgoingMail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// A message in the outbox, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    /// The outbox id (`licd mail retry ID`); unique in one database, renumbered by
    /// `licd migrate`/`import` on PostgreSQL.
    pub id: i64,
    /// The message.
    pub mail: OutgoingMail,
    /// When it was queued (UTC Unix seconds).
    pub queued_at: i64,
    /// Delivery attempts that failed so far.
    pub attempts: u32,
    /// When it is tried next (UTC Unix seconds); while a sender holds it, the end of that
    /// sender's claim.
    pub next_try_at: i64,
    /// What the SMTP server or the connection said at the last failed attempt.
    pub last_error: Option<String>,
}

/// The state of a queued message, stored as the value of its row (the id is the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailState {
    /// The message.
    pub mail: OutgoingMail,
    /// See [`QueuedMail::queued_at`].
    pub queued_at: i64,
    /// See [`QueuedMail::attempts`].
    #[serde(default)]
    pub attempts: u32,
    /// See [`QueuedMail::next_try_at`].
    pub next_try_at: i64,
    /// See [`QueuedMail::last_error`].
    #[serde(default)]
    pub last_error: Option<String>,
}

impl MailState {
    /// The queued message with id `id`.
    pub fn with_id(self, id: i64) -> QueuedMail {
        QueuedMail {
            id,
            mail: self.mail,
            queued_at: self.queued_at,
            attempts: self.attempts,
            next_try_at: self.next_try_at,
            last_error: self.last_error,
        }
    }
}

/// What the sender task does with a message it claimed, or what an operator asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailChange {
    /// The SMTP server accepted it: it leaves the outbox.
    Sent(i64),
    /// The attempt failed: counted, and tried again at `next_try_at`.
    Failed {
        /// The message.
        id: i64,
        /// When it is tried next.
        next_try_at: i64,
        /// What went wrong, without any secret.
        error: String,
    },
    /// `licd mail retry`: due at `at`.
    Retry {
        /// The message.
        id: i64,
        /// Now.
        at: i64,
    },
    /// `licd mail drop`: removed unsent.
    Drop(i64),
}

/// The next try of an item that failed now and must wait `wait_seconds`: the first whole
/// second by which at least that long has passed. Outbox times are whole seconds and an item
/// is due once `next_try_at <= now`, so `now + wait` would let a try made late in a second
/// come back almost at once (a 1 s backoff of 10 ms); one more second keeps every wait at
/// least as long as the backoff says, and at most a second longer.
pub fn retry_at(now: i64, wait_seconds: u64) -> i64 {
    now.saturating_add(i64::try_from(wait_seconds).unwrap_or(i64::MAX))
        .saturating_add(1)
}

/// Longest `last_error` kept: an SMTP reply can be long, the operator needs its start.
pub const MAX_ERROR_CHARS: usize = 500;

/// `error` cut to [`MAX_ERROR_CHARS`] characters.
pub fn short_error(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// `next_try_at` of a message that was refused for good (an SMTP 5xx reply, an address that
/// is not one): 9999-12-31, so it waits for `licd mail retry` or `licd mail drop` and is
/// still a date every tool can print.
pub const PARKED_AT: i64 = 253_402_300_799;

/// Whether a message with this next try is parked (see [`PARKED_AT`]).
pub fn is_parked(next_try_at: i64) -> bool {
    next_try_at >= PARKED_AT
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn a_retry_is_never_due_before_its_whole_backoff_has_passed() {
        // A failure at 10.999 s reads now = 10; with a 1 s backoff the item must not be due
        // at 11 (1 ms later) but at 12, the first whole second at least 1 s after 10.999.
        assert_eq!(retry_at(10, 1), 12);
        assert_eq!(retry_at(10, 0), 11);
        assert_eq!(retry_at(i64::MAX - 1, 5), i64::MAX);
    }
}
